//! Recorded ledgers (ledgers are forever): a fixture directory holds a ledger made by the code of
//! an earlier version, as its export (`ledger.jsonl`), its SQLite database file (`ledger.db`)
//! and the views that code served (`expected.json`). The checks here replay the export offline,
//! serve a copy of the recorded database, and load the export into PostgreSQL, and compare what
//! they read with the recorded views; [`write_fixture`] is how a fixture is recorded.
//!
//! The views are read at a fixed prefix and time, and every watched deadline of a fixture had
//! already passed and been ticketed when it was recorded, so nothing drifts with the clock.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::harness::*;
use hwledger::audit::Auditor;
use hwledger::domain::state::State;
use hwledger::protocol::event::{EntryView, Prepared};
use hwledger::protocol::merkle::{self, Frontier};
use hwledger::service::{GenesisRegulator, LimitFlags, Service, ServiceConfig};
use hwledger::store::{Batch, ContainerStep, DbUrl, Head, NewEntry, Store};

/// A moment `days` days and `hours` hours ago (`hours` may be negative), as an event's `at`;
/// fixtures date their events so that every deadline has passed by the time they are recorded.
pub fn ago(days: i64, hours: i64) -> String {
    super::fixtures::ts(
        chrono::Utc::now() - chrono::Duration::days(days) + chrono::Duration::hours(hours),
    )
}

/// `tests/fixtures/<name>`.
pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The ledger key and regulator of every fixture (the harness's deterministic keys).
pub fn fixture_config(db_url: &str) -> ServiceConfig {
    ServiceConfig {
        snapshot: None,
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
        clock: hwledger::sequencer::Clock::system(),
    }
}

/// The reads whose answers a fixture records, given the ledger size, the reference time, the
/// holders of stock and the fixture's own further reads.
pub fn reads(size: u64, as_of: &str, generators: &[String], extra: &[String]) -> Vec<String> {
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
    out.extend(extra.iter().cloned());
    out
}

/// Reads every recorded view from a service, and each manifest with its history.
pub async fn read_views(l: &TestLedger, paths: &[String]) -> Value {
    let mut views = serde_json::Map::new();
    for p in paths {
        let (s, v) = l.get(p).await;
        assert_eq!(s, StatusCode::OK, "GET {p}: {v}");
        views.insert(p.clone(), v);
    }
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
pub fn assert_shows(expected: &Value, actual: &Value, path: &str) {
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

pub fn expected(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json is JSON")
}

pub fn export_entries(dir: &Path) -> Vec<(hwledger::protocol::event::Entry, String)> {
    let text = std::fs::read_to_string(dir.join("ledger.jsonl")).expect("ledger.jsonl");
    text.lines()
        .filter(|l| !l.starts_with("{\"checkpoint\""))
        .map(|l| {
            let v: EntryView = serde_json::from_str(l).expect("an entry line");
            v.into_entry().expect("an entry")
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|g| g.as_str().expect("a string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The reads of a recorded fixture (fixtures of version 1 list no further reads).
pub fn recorded_reads(exp: &Value) -> Vec<String> {
    reads(
        exp["size"].as_u64().expect("size"),
        exp["as_of"].as_str().expect("as_of"),
        &strings(&exp["generators"]),
        &strings(&exp["extra_reads"]),
    )
}

/// Replays the export offline, as a regulator's verifier does: every entry checks, and the
/// state it derives has the recorded counts and figures.
pub fn check_export(dir: &Path) {
    let exp = expected(dir);
    let mut auditor = Auditor::new(key(1_000_000).verifying_key().to_bytes());
    let entries: Vec<_> = export_entries(dir)
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
        "treated_onsite_g",
        "improper_g",
        "pending_g",
        "stored_g",
        "rate",
        "improper_by_kind",
    ] {
        // Members a fixture's version did not serve are not compared.
        if let Some(recorded) = stats.get(k) {
            assert_eq!(&got[k], recorded, "{k}");
        }
    }
}

/// A fresh database holding the fixture (SQLite: a copy of the recorded database file;
/// PostgreSQL: the export, written as the writer writes), not yet served.
pub async fn fixture_db(dir: &Path, backend: Backend) -> TestDb {
    let db = TestDb::new(backend).await;
    match backend {
        Backend::Sqlite => {
            let path = db.url.trim_start_matches("sqlite://").to_owned();
            std::fs::copy(dir.join("ledger.db"), &path).expect("copy the recorded database");
        }
        Backend::Postgres => load_export(dir, &db.url).await,
    }
    db
}

/// The fixture served on `backend`.
pub async fn serve_fixture(dir: &Path, backend: Backend) -> TestLedger {
    serve(fixture_db(dir, backend).await).await
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
        clock: hwledger::sequencer::Clock::system(),
    }
}

/// Writes recorded entries into an empty database as the writer would have: entries, tree
/// nodes, the projections they touched and the head, in one transaction.
pub async fn load_export(dir: &Path, url: &str) {
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
    for (entry, _) in export_entries(dir) {
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
        batch
            .container_steps
            .extend(outcome.containers.into_iter().map(|(id, q)| ContainerStep {
                container: id,
                seq: entry.seq,
                kind: p.header.kind.clone(),
                at: p.header.at_text.clone(),
                manifest,
                quantity_g: q,
            }));
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

/// Serves the fixture on `backend` (SQLite: the recorded database file itself, later
/// migrations running on it; PostgreSQL: the export, written as the writer writes), compares
/// every recorded view, and checks the database with `verify --db`.
pub async fn check_served(dir: &Path, backend: Backend) {
    let mut l = serve_fixture(dir, backend).await;
    let exp = expected(dir);
    let size = exp["size"].as_u64().expect("size");
    assert_eq!(
        l.size().await,
        size,
        "the service holds the recorded entries only"
    );
    let views = read_views(&l, &recorded_reads(&exp)).await;
    assert_shows(&exp["views"], &views, "views");
    assert_eq!(
        l.size().await,
        size,
        "the service appended nothing (every deadline was ticketed when recorded)"
    );
    let (ok, out) = super::fixtures::verify_db(&l).await;
    assert!(ok, "verify --db: {out}");
    l.stop().await;
}

/// Records a fixture from a ledger on SQLite: the export with the checkpoint, the views, and
/// the database file (one self-contained file, no WAL beside it). Stops the ledger.
pub async fn write_fixture(l: &mut TestLedger, dir: &Path, holders: &[String], extra: &[String]) {
    std::fs::create_dir_all(dir).unwrap();
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
    std::fs::write(dir.join("ledger.jsonl"), lines).unwrap();
    let (_, ledger) = l.get("/v1/ledger").await;
    let last = store.entries(size - 1, 1).await.unwrap().pop().unwrap();
    let as_of = last.recorded_at.clone();
    let views = read_views(l, &reads(size, &as_of, holders, extra)).await;
    let count = |path: &str, member: &str| views[path][member].as_array().unwrap().len();
    let lots: usize = holders
        .iter()
        .map(|g| {
            count(
                &format!("/v1/stock?generator={g}&all=true&limit=1000"),
                "lots",
            )
        })
        .sum();
    let expected = json!({
        "size": size, "root": ledger["root"], "as_of": as_of, "generators": holders,
        "extra_reads": extra,
        "manifest_count": count("/v1/manifests?limit=1000", "manifests"),
        "lot_count": lots,
        "ticket_count": count("/v1/tickets?limit=1000", "tickets"),
        "views": views,
    });
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_string_pretty(&expected).unwrap() + "\n",
    )
    .unwrap();
    let db_file = dir.join("ledger.db");
    let _ = std::fs::remove_file(&db_file);
    l.stop().await;
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
