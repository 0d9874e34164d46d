//! A ledger recorded by protocol version 1 replays under later versions to the same manifests,
//! lots, tickets and rate (ledgers are forever).
//!
//! `tests/fixtures/v1/` holds a ledger made by the version-1 code (commit "Record a version-1
//! ledger as a fixture"): its export (`ledger.jsonl`), its SQLite database file (`ledger.db`) and
//! the views that code served (`expected.json`). The tests here replay the export offline, serve
//! a copy of the recorded database, and load the export into PostgreSQL, and compare what they
//! read with the recorded views. The views are read at a fixed prefix and time and every watched
//! deadline of the fixture had already passed and been ticketed when it was recorded, so nothing
//! drifts with the clock.
//!
//! `record` (ignored) is how the fixture was made. Never rerun it to make a failing comparison
//! pass: the point of the fixture is that it was recorded by the old code.

mod common;

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use common::fixtures::*;
use common::harness::*;
use serde_json::{json, Value};

use hwledger::audit::Auditor;
use hwledger::domain::state::State;
use hwledger::protocol::event::{EntryView, Prepared};
use hwledger::protocol::merkle::{self, Frontier};
use hwledger::service::{GenesisRegulator, LimitFlags, Service, ServiceConfig};
use hwledger::store::{Batch, DbUrl, Head, NewEntry, Store};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1")
}

/// The ledger key and regulator of the fixture (the harness's deterministic keys).
fn fixture_config(db_url: &str) -> ServiceConfig {
    ServiceConfig {
        db: DbUrl::new(db_url.to_owned()),
        origin: ORIGIN.into(),
        ledger_key: key(1_000_000),
        regulator: GenesisRegulator {
            org: REGULATOR_ORG.into(),
            name: "钟楼生态环境局".into(),
            region: "320404".into(),
            key: key(1_000_001).verifying_key(),
        },
        limits: LimitFlags::default(),
        sweep_interval: std::time::Duration::from_secs(3600),
    }
}

/// The reads whose answers the fixture records, given the ledger size and the reference time.
fn reads(size: u64, as_of: &str, generators: &[String]) -> Vec<String> {
    let mut out = vec![
        "/v1/manifests?limit=1000".to_owned(),
        "/v1/tickets?limit=1000".to_owned(),
        "/v1/licenses".to_owned(),
    ];
    for g in generators {
        out.push(format!("/v1/stock?generator={g}&all=true&limit=1000"));
        out.push(format!("/v1/orgs/{g}"));
    }
    let stats = format!("/v1/stats/disposal?size={size}&as_of={as_of}");
    out.push(stats.clone());
    for filter in [
        format!("&org={}", generators[0]),
        "&region=3201".into(),
        "&category=HW08".into(),
        "&category=HW49".into(),
    ] {
        out.push(format!("{stats}{filter}"));
    }
    out
}

/// Reads every recorded view from a service.
async fn read_views(l: &TestLedger, paths: &[String]) -> Value {
    let mut views = serde_json::Map::new();
    for p in paths {
        let (s, v) = l.get(p).await;
        assert_eq!(s, StatusCode::OK, "GET {p}: {v}");
        views.insert(p.clone(), v);
    }
    // Each manifest with its history.
    let ids: Vec<String> = views["/v1/manifests?limit=1000"]["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| m["manifest"].as_str().expect("an id").to_owned())
        .collect();
    for id in ids {
        let p = format!("/v1/manifests/{id}");
        let (s, v) = l.get(&p).await;
        assert_eq!(s, StatusCode::OK, "GET {p}: {v}");
        views.insert(p, v);
    }
    Value::Object(views)
}

/// `actual` shows everything `expected` shows: the same members with the same values (members a
/// later version adds are allowed), arrays of the same length element by element.
fn assert_shows(expected: &Value, actual: &Value, path: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let av = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}: member {k} is missing"));
                assert_shows(ev, av, &format!("{path}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(
                e.len(),
                a.len(),
                "{path}: {} items, expected {}",
                a.len(),
                e.len()
            );
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                assert_shows(ev, av, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(expected, actual, "{path}"),
    }
}

fn expected() -> Value {
    let text = std::fs::read_to_string(dir().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json is JSON")
}

fn export_entries() -> Vec<(hwledger::protocol::event::Entry, String)> {
    let text = std::fs::read_to_string(dir().join("ledger.jsonl")).expect("ledger.jsonl");
    text.lines()
        .filter(|l| !l.starts_with("{\"checkpoint\""))
        .map(|l| {
            let v: EntryView = serde_json::from_str(l).expect("an entry line");
            v.into_entry().expect("an entry")
        })
        .collect()
}

fn generators(exp: &Value) -> Vec<String> {
    exp["generators"]
        .as_array()
        .expect("generators")
        .iter()
        .map(|g| g.as_str().expect("an org").to_owned())
        .collect()
}

/// Compares the views a service serves with the recorded ones.
async fn compare_service(l: &TestLedger) {
    let exp = expected();
    let size = exp["size"].as_u64().expect("size");
    assert_eq!(
        l.size().await,
        size,
        "the service holds the recorded entries only"
    );
    let paths = reads(
        size,
        exp["as_of"].as_str().expect("as_of"),
        &generators(&exp),
    );
    let views = read_views(l, &paths).await;
    assert_shows(&exp["views"], &views, "views");
    assert_eq!(
        l.size().await,
        size,
        "the service appended nothing (every deadline was ticketed when recorded)"
    );
}

/// A TestLedger over a started service on `db`.
async fn serve(db: TestDb) -> TestLedger {
    let cfg = fixture_config(&db.url);
    let service = Service::start(cfg)
        .await
        .expect("the service starts on the fixture");
    let router = service.router();
    TestLedger {
        db,
        service: Some(service),
        router,
        ledger_key: key(1_000_000),
        regulator: Actor {
            org: REGULATOR_ORG.into(),
            key: key(1_000_001),
        },
        limits: LimitFlags::default(),
    }
}

/// Writes recorded entries into an empty database as the writer would have: entries, tree
/// nodes, the projections they touched and the head, in one transaction.
async fn load_export(url: &str) {
    let store = Store::connect(&DbUrl::new(url.to_owned()))
        .await
        .expect("connect");
    let mut state = State::new(key(1_000_000).verifying_key().to_bytes());
    let mut frontier = Frontier::new();
    let mut batch = Batch::default();
    let mut head = Head {
        size: 0,
        head: [0; 32],
        root: merkle::empty_root(),
        recorded_at: String::new(),
    };
    for (entry, _) in export_entries() {
        let outcome = state.apply_recorded(&entry).expect("the entry replays");
        batch.touched.extend(outcome.touched);
        let p = Prepared::from_entry(&entry).expect("a prepared entry");
        let hash = entry.hash();
        batch.nodes.extend(frontier.push(merkle::leaf_hash(&hash)));
        let manifest = p
            .header
            .kind
            .starts_with("manifest.")
            .then(|| p.body()["manifest"].as_str().and_then(|m| m.parse().ok()))
            .flatten();
        head = Head {
            size: entry.seq + 1,
            head: hash,
            root: [0; 32],
            recorded_at: entry.recorded_at.clone(),
        };
        batch.entries.push(NewEntry {
            entry,
            hash,
            header: p.header,
            manifest,
        });
    }
    head.root = frontier.root();
    let mut tx = store.begin_write().await.expect("a write transaction");
    tx.lock_head().await.expect("the head");
    tx.write(&batch, &state, &head).await.expect("write");
    tx.commit().await.expect("commit");
    store.close().await;
}

#[test]
fn export_replays_to_the_recorded_rate() {
    let exp = expected();
    let mut auditor = Auditor::new(key(1_000_000).verifying_key().to_bytes());
    let entries: Vec<_> = export_entries()
        .into_iter()
        .map(|(e, h)| {
            let stated = hwledger::protocol::event::parse_hex::<32>(&h);
            (e, stated)
        })
        .collect();
    auditor
        .check(&entries)
        .expect("every recorded entry replays");
    assert_eq!(auditor.size(), exp["size"].as_u64().unwrap());
    assert_eq!(hex::encode(auditor.root()), exp["root"].as_str().unwrap());
    let state = auditor.state();
    assert_eq!(
        state.manifests.len(),
        exp["manifest_count"].as_u64().unwrap() as usize
    );
    assert_eq!(
        state.lots.len(),
        exp["lot_count"].as_u64().unwrap() as usize
    );
    assert_eq!(
        state.tickets.len(),
        exp["ticket_count"].as_u64().unwrap() as usize
    );
    let t = hwledger::protocol::time::parse_timestamp(exp["as_of"].as_str().unwrap()).unwrap();
    let figures = state.disposal_figures(t, &Default::default());
    let stats = &exp["views"][format!(
        "/v1/stats/disposal?size={}&as_of={}",
        exp["size"],
        exp["as_of"].as_str().unwrap()
    )];
    let got = serde_json::to_value(&figures).unwrap();
    for k in [
        "proper_g",
        "improper_g",
        "pending_g",
        "stored_g",
        "rate",
        "improper_by_kind",
    ] {
        assert_eq!(got[k], stats[k], "{k}");
    }
}

storage_test!(
    recorded_ledger_serves_the_recorded_views,
    |backend| async move {
        let db = TestDb::new(backend).await;
        match backend {
            // The database file itself, as version 1 left it (later migrations run on it).
            Backend::Sqlite => {
                let path = db.url.trim_start_matches("sqlite://").to_owned();
                std::fs::copy(dir().join("ledger.db"), &path).expect("copy the recorded database");
            }
            // PostgreSQL: the export, written as the writer writes.
            Backend::Postgres => load_export(&db.url).await,
        }
        let mut l = serve(db).await;
        compare_service(&l).await;
        let (ok, out) = verify_db(&l).await;
        assert!(ok, "verify --db: {out}");
        l.stop().await;
    }
);

// ----- how the fixture was recorded ---------------------------------------------------------

fn ago(days: i64, hours: i64) -> String {
    ts(Utc::now() - Duration::days(days) + Duration::hours(hours))
}

fn day_ago(days: i64) -> String {
    cst_day(-days)
}

async fn manifest_at(
    l: &TestLedger,
    gen: &Actor,
    carrier: &Actor,
    receiver: &Actor,
    ls: &[(&str, i64)],
    at: &str,
) -> String {
    let id = new_id();
    ok_at(
        l,
        gen,
        "manifest.opened",
        open_body(&id, gen, carrier, receiver, ls),
        at,
    )
    .await;
    id
}

/// Records the fixture with the code of this commit. Run with
/// `cargo test --test v1_fixture -- --ignored record` only to make a new fixture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn record() {
    let mut l = TestLedger::start(Backend::Sqlite).await;
    let reg = l.regulator.clone();
    // Short limits, set before anything happens, so that every deadline passes while recording.
    ok_at(
        &l,
        &reg,
        "ledger.limits_set",
        json!({"limits": {"transit_s": 86_400, "disposal_s": 2 * 86_400, "storage_s": 3 * 86_400,
                          "max_backdate_s": 14 * 86_400, "shortfall_bp": 100},
               "reason": "试点地区从严"}),
        &ago(13, 0),
    )
    .await;
    let reg2 = l.register(20, &["regulator"], "320400").await;
    let gen_a = l.register(21, &["generator"], ZHONGLOU).await;
    let gen_b = l.register(22, &["generator"], GULOU_NJ).await;
    let carrier = l.register(23, &["carrier"], XINBEI).await;
    let r1 = l.register(24, &["receiver"], "320400").await;
    let r2 = l.register(25, &["receiver", "generator"], "320411").await;
    let r3 = l.register(26, &["receiver"], "320100").await;
    // Keys: an added key, then revoked by the org itself.
    let extra = key(2100);
    let extra_hex = hex::encode(extra.verifying_key().to_bytes());
    l.ok(
        &gen_a,
        "org.key_added",
        json!({"org": gen_a.org, "key": extra_hex}),
    )
    .await;
    l.ok(
        &gen_a,
        "org.key_revoked",
        json!({"org": gen_a.org, "key": extra_hex, "reason": "密钥介质遗失"}),
    )
    .await;
    // Licences.
    let valid = (cst_day(-400), cst_day(400));
    issue_licence_valid(
        &l,
        &r1,
        "JS-1",
        1_000_000_000,
        &valid.0,
        &valid.1,
        json!([scope(&["HW08", PACKAGING], ALL_ACTIVITIES)]),
    )
    .await;
    issue_licence_valid(
        &l,
        &r2,
        "JS-2",
        500_000_000,
        &valid.0,
        &valid.1,
        json!([scope(&["HW08"], &["store", "utilize"])]),
    )
    .await;
    l.ok(
        &reg2,
        "license.amended",
        json!({"license": "JS-2", "capacity_g": 800_000_000,
        "valid_until": valid.1, "scopes": [scope(&["HW08"], &["store", "utilize"])]}),
    )
    .await;
    issue_licence_valid(
        &l,
        &r1,
        "JS-3",
        100_000_000,
        &valid.0,
        &valid.1,
        json!([scope(&["HW49"], &["collect", "store"])]),
    )
    .await;
    assert_eq!(
        licence_move(&l, "license.revoked", "JS-3").await.0,
        StatusCode::CREATED
    );
    issue_licence_valid(
        &l,
        &r3,
        "JS-4",
        1_000_000_000,
        &valid.0,
        &valid.1,
        json!([scope(&["HW08"], ALL_ACTIVITIES)]),
    )
    .await;
    // Lots: a later-declared lot with an earlier date goes first.
    declare(&l, &gen_a, OIL, 10_000_000, &day_ago(12)).await;
    declare(&l, &gen_a, OIL, 500_000, &day_ago(13)).await;
    declare(&l, &gen_a, PACKAGING, 2_000_000, &day_ago(12)).await;
    declare(&l, &gen_b, OIL, 5_000_000, &day_ago(10)).await;
    declare(&l, &gen_b, OIL2, 700_000, &day_ago(10)).await;
    // M1: proper.
    let m1 = manifest_at(&l, &gen_a, &carrier, &r1, &[(OIL, 1_000_000)], &ago(11, 0)).await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        pick_up_body(&m1),
        &ago(11, 1),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.received",
        receive_body(&m1, &[(OIL, 1_000_000)]),
        &ago(11, 3),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.disposed",
        dispose_body(&m1, &[(OIL, 1_000_000, "R9")]),
        &ago(10, 0),
    )
    .await;
    // M2: short by 10% (quantity_shortfall), disposed.
    let m2 = manifest_at(&l, &gen_a, &carrier, &r1, &[(OIL, 1_000_000)], &ago(11, 0)).await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        pick_up_body(&m2),
        &ago(11, 1),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.received",
        receive_body(&m2, &[(OIL, 900_000)]),
        &ago(11, 3),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.disposed",
        dispose_body(&m2, &[(OIL, 900_000, "D10")]),
        &ago(10, 0),
    )
    .await;
    // M3: incinerated by a receiver licensed to store and utilise only (unlicensed_handling).
    let m3 = manifest_at(&l, &gen_a, &carrier, &r2, &[(OIL, 500_000)], &ago(11, 0)).await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        pick_up_body(&m3),
        &ago(11, 1),
    )
    .await;
    ok_at(
        &l,
        &r2,
        "manifest.received",
        receive_body(&m3, &[(OIL, 500_000)]),
        &ago(11, 3),
    )
    .await;
    ok_at(
        &l,
        &r2,
        "manifest.disposed",
        dispose_body(&m3, &[(OIL, 500_000, "D10")]),
        &ago(10, 0),
    )
    .await;
    // M4: still on the road (transit_overdue by the sweep).
    let m4 = manifest_at(
        &l,
        &gen_a,
        &carrier,
        &r1,
        &[(PACKAGING, 300_000)],
        &ago(5, 0),
    )
    .await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        pick_up_body(&m4),
        &ago(5, 1),
    )
    .await;
    // M5: received, never disposed of (disposal_overdue by the sweep).
    let m5 = manifest_at(&l, &gen_a, &carrier, &r1, &[(OIL, 400_000)], &ago(7, 0)).await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        pick_up_body(&m5),
        &ago(7, 1),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.received",
        receive_body(&m5, &[(OIL, 400_000)]),
        &ago(7, 3),
    )
    .await;
    // M6: received while the receiver's licence was suspended (unlicensed_receipt).
    let m6 = manifest_at(&l, &gen_b, &carrier, &r3, &[(OIL, 600_000)], &ago(9, 0)).await;
    assert_eq!(
        licence_move(&l, "license.suspended", "JS-4").await.0,
        StatusCode::CREATED
    );
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        pick_up_body(&m6),
        &ago(9, 1),
    )
    .await;
    ok_at(
        &l,
        &r3,
        "manifest.received",
        receive_body(&m6, &[(OIL, 600_000)]),
        &ago(9, 3),
    )
    .await;
    assert_eq!(
        licence_move(&l, "license.reinstated", "JS-4").await.0,
        StatusCode::CREATED
    );
    ok_at(
        &l,
        &r3,
        "manifest.disposed",
        dispose_body(&m6, &[(OIL, 600_000, "R9")]),
        &ago(8, 0),
    )
    .await;
    // M7: cancelled.
    let m7 = manifest_at(&l, &gen_a, &carrier, &r1, &[(OIL, 200_000)], &ago(6, 0)).await;
    ok_at(
        &l,
        &gen_a,
        "manifest.cancelled",
        json!({"manifest": m7, "reason": "改期"}),
        &ago(6, 2),
    )
    .await;
    // M8: rejected in time; the waste returns to its lots.
    let m8 = manifest_at(&l, &gen_a, &carrier, &r1, &[(OIL, 250_000)], &ago(6, 0)).await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        pick_up_body(&m8),
        &ago(6, 1),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.rejected",
        json!({"manifest": m8, "reason": "包装破损"}),
        &ago(6, 5),
    )
    .await;
    // M9: opened only; its reservation stays.
    manifest_at(&l, &gen_a, &carrier, &r1, &[(OIL, 100_000)], &ago(2, 0)).await;
    // M10: received late and disposed of late (both tickets at once).
    let m10 = manifest_at(
        &l,
        &gen_b,
        &carrier,
        &r1,
        &[(OIL, 300_000), (OIL2, 200_000)],
        &ago(5, 0),
    )
    .await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        pick_up_body(&m10),
        &ago(5, 1),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.received",
        receive_body(&m10, &[(OIL, 300_000), (OIL2, 199_000)]),
        &ago(3, 0),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.disposed",
        dispose_body(&m10, &[(OIL, 300_000, "R9"), (OIL2, 199_000, "R9")]),
        &ago(0, -1),
    )
    .await;
    // M11: two lines, rejected after the transit deadline.
    let m11 = manifest_at(
        &l,
        &gen_a,
        &carrier,
        &r1,
        &[(OIL, 100_000), (PACKAGING, 100_000)],
        &ago(4, 0),
    )
    .await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        pick_up_body(&m11),
        &ago(4, 1),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.rejected",
        json!({"manifest": m11, "reason": "超出约定"}),
        &ago(2, 0),
    )
    .await;
    // Manual tickets through the whole workflow.
    let t1 = new_id();
    l.ok(&reg, "ticket.opened", json!({"ticket": t1, "kind": "reported_dumping",
        "subject": {"org": gen_a.org, "code": OIL, "site": {"address": "钟楼区邹区镇某河道旁空地", "lat": 31_782_345, "lon": 119_853_210}},
        "summary": "群众举报河道边倾倒桶装废油", "quantity_g": 4_000_000})).await;
    l.ok(
        &reg,
        "ticket.assigned",
        json!({"ticket": t1, "lead": "钟楼生态环境局",
        "support": ["邹区镇人民政府"], "responsible": gen_a.org, "due": day_ago(1)}),
    )
    .await;
    let rectify = json!({"ticket": t1, "note": "已清运",
        "evidence": [{"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "name": "现场照片.jpg"}]});
    l.ok(&gen_a, "ticket.rectified", rectify.clone()).await;
    l.ok(
        &reg,
        "ticket.returned",
        json!({"ticket": t1, "reason": "证据不足"}),
    )
    .await;
    l.ok(&reg2, "ticket.rectified", rectify).await;
    l.ok(
        &reg,
        "ticket.closed",
        json!({"ticket": t1, "note": "复核通过，予以销号"}),
    )
    .await;
    l.ok(
        &reg,
        "ticket.reopened",
        json!({"ticket": t1, "reason": "复查发现反弹"}),
    )
    .await;
    let t2 = new_id();
    l.ok(
        &reg2,
        "ticket.opened",
        json!({"ticket": t2, "kind": "suspected_illegal_transfer",
        "subject": {"manifest": m4}, "summary": "联单超期未接收"}),
    )
    .await;
    l.ok(
        &reg2,
        "ticket.assigned",
        json!({"ticket": t2, "lead": "新北生态环境局", "due": day_ago(2)}),
    )
    .await;
    // The sweep opens the passed deadlines: transit, disposal, storage.
    let sequencer = l.service.as_ref().unwrap().state.sequencer.clone();
    let swept = sequencer.sweep().await.expect("a sweep");
    assert!(
        swept >= 3,
        "the sweep opened the deadline tickets ({swept})"
    );
    assert_eq!(sequencer.sweep().await.unwrap(), 0);
    // An automatic ticket moved like any other.
    let (_, tickets) = l.get("/v1/tickets?kind=transit_overdue").await;
    let auto = tickets["tickets"][0]["ticket"].as_str().unwrap().to_owned();
    l.ok(
        &reg,
        "ticket.assigned",
        json!({"ticket": auto, "lead": "钟楼生态环境局",
        "responsible": gen_a.org, "due": day_ago(1)}),
    )
    .await;

    // Record: the export, the database file, the views.
    let out = dir();
    std::fs::create_dir_all(&out).unwrap();
    let size = l.size().await;
    let store = l.service.as_ref().unwrap().state.store.clone();
    let mut lines = String::new();
    for e in store.entries(0, size).await.unwrap() {
        lines.push_str(&serde_json::to_string(&e.view()).unwrap());
        lines.push('\n');
    }
    let (_, checkpoint) = l.get("/v1/checkpoint").await;
    lines.push_str(&serde_json::to_string(&json!({"checkpoint": checkpoint})).unwrap());
    lines.push('\n');
    std::fs::write(out.join("ledger.jsonl"), lines).unwrap();
    let (_, ledger) = l.get("/v1/ledger").await;
    let last = store.entries(size - 1, 1).await.unwrap().pop().unwrap();
    let as_of = last.recorded_at.clone();
    let gens = vec![gen_a.org.clone(), gen_b.org.clone(), r2.org.clone()];
    let views = read_views(&l, &reads(size, &as_of, &gens)).await;
    let (counts_m, counts_t) = (
        views["/v1/manifests?limit=1000"]["manifests"]
            .as_array()
            .unwrap()
            .len(),
        views["/v1/tickets?limit=1000"]["tickets"]
            .as_array()
            .unwrap()
            .len(),
    );
    let lots: usize = gens
        .iter()
        .map(|g| {
            views[format!("/v1/stock?generator={g}&all=true&limit=1000")]["lots"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    let expected = json!({
        "size": size, "root": ledger["root"], "as_of": as_of, "generators": gens,
        "manifest_count": counts_m, "lot_count": lots, "ticket_count": counts_t,
        "views": views,
    });
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&expected).unwrap() + "\n",
    )
    .unwrap();
    let db_file = out.join("ledger.db");
    let _ = std::fs::remove_file(&db_file);
    l.stop().await;
    // One self-contained file (no WAL beside it).
    let src = l.db.url.trim_start_matches("sqlite://").to_owned();
    let mut conn =
        <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{src}"))
            .await
            .unwrap();
    sqlx::query(&format!("vacuum into '{}'", db_file.display()))
        .execute(&mut conn)
        .await
        .unwrap();
}
