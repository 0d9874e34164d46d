//! A ledger recorded by the version-2 code of tiles, before the witness policy
//! (`ledger.witnesses_set`) existed, replays under later code to the same manifests, lots,
//! chains, containers, facilities, plans, reports, tickets, checkpoints and rate (ledgers are
//! forever). It holds every event type of that code in one ledger: orgs of several roles with a
//! key added and revoked, licences issued, amended, suspended, reinstated and revoked,
//! facilities registered, amended and closed, a management class, lots with and without
//! containers, on-site treatment, manifests proper, short, cancelled, rejected, stored at a
//! collector and shipped onward, a plan and a filed declaration, automatic and compliance
//! tickets, and manual tickets through their whole workflow.
//!
//! `tests/fixtures/v2-tlog/` holds it (commit "Record a ledger of every version-2 event type,
//! before witnesses, as a fixture"); `common::replay` says what a fixture holds and how it is
//! compared. It was recorded with the ledger's clock set from June to September 2026,
//! compliance on from 2026-01-01 and short limits, so that every deadline had passed and been
//! ticketed by its last entries; compliance is then switched off (`compliance_from` null), so
//! that no due moment after them asks anything of the fixture, whenever it is served. It has
//! no witness policy, so its checkpoints (`/v1/checkpoint`, `/v1/tlog/checkpoint`) carry the
//! ledger's signature only, and must go on doing so.
//!
//! `record` (ignored) is how the fixture was made. Never rerun it to make a failing comparison
//! pass: the point of the fixture is that it was recorded by the old code.

mod common;

use std::path::PathBuf;

use common::fixtures::*;
use common::harness::*;
use common::replay;
use hwledger::protocol::time;
use hwledger::sequencer::Clock;
use hwledger::service::LimitFlags;
use serde_json::{json, Value};

fn dir() -> PathBuf {
    replay::fixture_dir("v2-tlog")
}

#[test]
fn export_replays_to_the_recorded_rate() {
    replay::check_export(&dir());
}

storage_test!(
    recorded_ledger_serves_the_recorded_views,
    |backend| async move { replay::check_served(&dir(), backend).await }
);

// ----- how the fixture was recorded ---------------------------------------------------------

/// `hour`:00 UTC of day `day` of `month` 2026, as an event's `at`.
fn at(month: u32, day: u32, hour: u32) -> String {
    format!("2026-{month:02}-{day:02}T{hour:02}:00:00Z")
}

/// Sets the ledger's clock to `t` and appends an event dated then.
async fn on(l: &TestLedger, t: &str, actor: &Actor, kind: &str, body: Value) -> Value {
    l.clock.set(time::parse_timestamp(t).unwrap());
    l.ok(actor, kind, body).await
}

/// Opens a one-line manifest at 02:00 of `day` in June, picks it up at 03:00 and, with
/// `received`, receives it at 08:00; returns its id.
async fn leg(
    l: &TestLedger,
    day: u32,
    (from, carrier, to): (&Actor, &Actor, &Actor),
    (code, q): (&str, i64),
    received: Option<i64>,
) -> String {
    let m = new_id();
    let body = open_body(&m, from, carrier, to, &[(code, q)]);
    on(l, &at(6, day, 2), from, "manifest.opened", body).await;
    on(
        l,
        &at(6, day, 3),
        carrier,
        "manifest.picked_up",
        pick_up_body(&m),
    )
    .await;
    if let Some(r) = received {
        let body = receive_body(&m, &[(code, r)]);
        on(l, &at(6, day, 8), to, "manifest.received", body).await;
    }
    m
}

/// A licence move by the regulator at `t`.
async fn licence_at(l: &TestLedger, t: &str, kind: &str, number: &str) {
    l.clock.set(time::parse_timestamp(t).unwrap());
    let (status, v) = licence_move(l, kind, number).await;
    assert_eq!(status, axum::http::StatusCode::CREATED, "{kind}: {v}");
}

/// Records the fixture with the code of this commit. Run with
/// `cargo test --test v2_tlog_fixture -- --ignored record` only to make a new fixture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn record() {
    let day = 86_400;
    let clock = Clock::manual(time::parse_timestamp(&at(6, 1, 2)).unwrap());
    let limits = LimitFlags {
        transit_s: Some(day),
        disposal_s: Some(2 * day),
        storage_s: Some(3 * day),
        generator_storage_s: Some(20 * day),
        compliance_from: Some(Some(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())),
        ..Default::default()
    };
    let mut l = TestLedger::start_at(Backend::Sqlite, limits, clock).await;
    let reg = l.regulator.clone();

    // 1 June: the registry. D both receives and generates; G adds a second key.
    let reg2 = l.register(80, &["regulator"], "320400").await;
    let g = l.register(81, &["generator"], ZHONGLOU).await;
    let g2 = l.register(82, &["generator"], GULOU_NJ).await;
    let carrier = l.register(83, &["carrier"], XINBEI).await;
    let k = l.register(84, &["receiver"], "320400").await;
    let d = l.register(85, &["receiver", "generator"], "320411").await;
    let spare = hex::encode(key(8100).verifying_key().to_bytes());
    l.ok(&g, "org.key_added", json!({"org": g.org, "key": spare}))
        .await;
    let d_scopes = json!([scope(&["HW08", "HW49"], &["utilize", "dispose"])]);
    for (holder, number, capacity, scopes) in [
        (
            &k,
            "JS-51",
            1_000_000_000,
            json!([scope(&["HW08"], &["collect", "store"])]),
        ),
        (&d, "JS-52", 500_000_000, d_scopes.clone()),
        (
            &d,
            "JS-53",
            100_000_000,
            json!([scope(&["HW18"], &["collect", "store"])]),
        ),
    ] {
        let valid = ("2026-01-01", "2028-12-31");
        issue_licence_valid(&l, holder, number, capacity, valid.0, valid.1, scopes).await;
    }
    l.ok(
        &reg2,
        "license.amended",
        json!({"license": "JS-52", "capacity_g": 800_000_000, "valid_until": "2028-12-31",
               "scopes": d_scopes}),
    )
    .await;
    let facility = |org: &Actor, id: &str, kind: &str, capacity_g: i64| {
        json!({"org": org.org, "facility": id, "kind": kind, "capacity_g": capacity_g,
               "name": format!("设施{id}")})
    };
    let mut t1 = facility(&g, "T1", "dispose", 5_000_000);
    t1["methods"] = json!(["D10"]);
    for mut body in [
        facility(&g, "S1", "storage", 20_000_000),
        facility(&g2, "P1", "storage", 500_000),
        facility(&g2, "P2", "storage", 500_000),
        facility(&k, "K1", "storage", 50_000_000),
    ] {
        let point = body["facility"].as_str().unwrap().starts_with('P');
        body["storage_type"] = json!(if point { "point" } else { "warehouse" });
        l.ok(&reg, "facility.registered", body).await;
    }
    l.ok(&reg, "facility.registered", t1).await;
    l.ok(
        &reg,
        "facility.amended",
        json!({"org": g.org, "facility": "T1", "capacity_g": 8_000_000, "methods": ["D10", "D16"]}),
    )
    .await;
    l.ok(
        &reg,
        "org.class_set",
        json!({"org": g.org, "class": "key", "reason": "列入重点监管单位名录"}),
    )
    .await;

    // 2–3 June: lots (drums at G, container-less oil and packaging, oil at G2's point past
    // its capacity), treatment on site (container-less, then a drum), G's plan (less oil than
    // declared: plan_exceeded). G2 files no plan: each of its transfers is unplanned.
    let date = "2026-06-02";
    let drums: Vec<String> = (1..=4).map(|n| container_id(&g, OIL, date, n)).collect();
    let packed: Vec<Value> = drums
        .iter()
        .zip([200_000, 200_000, 200_000, 150_000])
        .map(|(id, q)| json!({"id": id, "quantity_g": q}))
        .collect();
    let lot = |gen: &Actor, code: &str, q: i64, facility: &str| {
        json!({"generator": gen.org, "code": code, "quantity_g": q, "date": date,
               "facility": facility})
    };
    let mut drummed = lot(&g, OIL, 750_000, "S1");
    drummed["containers"] = json!(packed);
    on(&l, &at(6, 2, 2), &g, "waste.declared", drummed).await;
    l.ok(&g, "waste.declared", lot(&g, OIL, 1_000_000, "S1"))
        .await;
    l.ok(&g, "waste.declared", lot(&g, PACKAGING, 100_000, "S1"))
        .await;
    l.ok(&g2, "waste.declared", lot(&g2, OIL, 600_000, "P1"))
        .await;
    let treated = |q: i64, method: &str| {
        json!({"generator": g.org, "facility": "T1", "code": OIL, "quantity_g": q,
               "method": method, "date": "2026-06-03"})
    };
    on(
        &l,
        &at(6, 3, 2),
        &g,
        "waste.treated",
        treated(200_000, "D10"),
    )
    .await;
    let mut drum = treated(150_000, "D16");
    drum["containers"] = json!([drums[3]]);
    l.ok(&g, "waste.treated", drum).await;
    l.ok(
        &g,
        "plan.filed",
        json!({"org": g.org, "year": 2026, "lines": [
            {"code": OIL, "generate_g": 1_200_000, "treat_onsite_g": 400_000, "transfers": [
                {"receiver": k.org, "quantity_g": 500_000},
                {"receiver": d.org, "quantity_g": 300_000}]},
            {"code": PACKAGING, "generate_g": 100_000,
             "transfers": [{"receiver": d.org, "quantity_g": 100_000}]}]}),
    )
    .await;

    // M1: two drums to D, scanned, weighed one by one, disposed of.
    let m1 = new_id();
    let opened = |m: &str, to: &Actor, q: i64, ids: &[&String]| {
        json!({"manifest": m, "generator": g.org, "carrier": carrier.org, "receiver": to.org,
               "lines": [{"code": OIL, "quantity_g": q, "containers": ids}]})
    };
    let scan = |m: &str, ids: &[&String]| {
        json!({"manifest": m, "vehicle": "苏D·B5678",
               "containers": ids})
    };
    let two = [&drums[0], &drums[1]];
    on(
        &l,
        &at(6, 4, 2),
        &g,
        "manifest.opened",
        opened(&m1, &d, 400_000, &two),
    )
    .await;
    on(
        &l,
        &at(6, 4, 3),
        &carrier,
        "manifest.picked_up",
        scan(&m1, &two),
    )
    .await;
    let weighed = json!({"manifest": m1, "lines": [{"code": OIL, "quantity_g": 399_000,
        "containers": [{"id": drums[0], "quantity_g": 200_000},
                       {"id": drums[1], "quantity_g": 199_000}]}]});
    on(&l, &at(6, 4, 8), &d, "manifest.received", weighed).await;
    let body = dispose_body(&m1, &[(OIL, 399_000, "R9")]);
    on(&l, &at(6, 5, 2), &d, "manifest.disposed", body).await;

    // M2: G's oil to K, stored; M3: G2's to K, 10,000 short (quantity_shortfall),
    // stored; M4: K ships 600,000 of them on to D, which disposes of it; 90,000 stay at K.
    let stored = |m: &str, q: i64| {
        json!({"manifest": m, "facility": "K1",
               "lines": [{"code": OIL, "quantity_g": q}]})
    };
    let m2 = leg(&l, 5, (&g, &carrier, &k), (OIL, 400_000), Some(400_000)).await;
    on(
        &l,
        &at(6, 5, 9),
        &k,
        "manifest.stored",
        stored(&m2, 400_000),
    )
    .await;
    let m3 = leg(&l, 6, (&g2, &carrier, &k), (OIL, 300_000), Some(290_000)).await;
    on(
        &l,
        &at(6, 6, 9),
        &k,
        "manifest.stored",
        stored(&m3, 290_000),
    )
    .await;
    let m4 = leg(&l, 8, (&k, &carrier, &d), (OIL, 600_000), Some(600_000)).await;
    let body = dispose_body(&m4, &[(OIL, 600_000, "R9")]);
    on(&l, &at(6, 9, 2), &d, "manifest.disposed", body).await;

    // M5: G's oil to D, received while D's licence was suspended (unlicensed_receipt),
    // disposed of short (disposal_short).
    let m5 = leg(&l, 10, (&g, &carrier, &d), (OIL, 300_000), None).await;
    licence_at(&l, &at(6, 10, 4), "license.suspended", "JS-52").await;
    let body = receive_body(&m5, &[(OIL, 300_000)]);
    on(&l, &at(6, 10, 6), &d, "manifest.received", body).await;
    licence_at(&l, &at(6, 10, 7), "license.reinstated", "JS-52").await;
    let body = dispose_body(&m5, &[(OIL, 290_000, "D10")]);
    on(&l, &at(6, 11, 2), &d, "manifest.disposed", body).await;

    // M6: cancelled; M7: rejected, back to G2's lot; M8: received, never disposed of
    // (disposal_overdue); M9: the third drum, on the road past the transit limit.
    let m6 = new_id();
    let body = open_body(&m6, &g, &carrier, &d, &[(PACKAGING, 50_000)]);
    on(&l, &at(6, 12, 2), &g, "manifest.opened", body).await;
    let body = json!({"manifest": m6, "reason": "改期"});
    on(&l, &at(6, 12, 3), &g, "manifest.cancelled", body).await;
    let m7 = leg(&l, 13, (&g2, &carrier, &d), (OIL, 100_000), None).await;
    let body = json!({"manifest": m7, "reason": "包装破损"});
    on(&l, &at(6, 13, 9), &d, "manifest.rejected", body).await;
    leg(
        &l,
        14,
        (&g, &carrier, &d),
        (PACKAGING, 50_000),
        Some(50_000),
    )
    .await;
    let m9 = new_id();
    let third = [&drums[2]];
    on(
        &l,
        &at(6, 20, 2),
        &g,
        "manifest.opened",
        opened(&m9, &k, 200_000, &third),
    )
    .await;
    on(
        &l,
        &at(6, 20, 3),
        &carrier,
        "manifest.picked_up",
        scan(&m9, &third),
    )
    .await;

    // Late June: the spare key lost, a licence revoked, a storage point closed.
    let body = json!({"org": g.org, "key": spare, "reason": "密钥介质遗失"});
    on(&l, &at(6, 25, 2), &g, "org.key_revoked", body).await;
    licence_at(&l, &at(6, 25, 3), "license.revoked", "JS-53").await;
    let body = json!({"org": g2.org, "facility": "P2", "reason": "贮存点撤销"});
    on(&l, &at(6, 25, 4), &reg, "facility.closed", body).await;

    // July: G (key class: monthly) declares June; July it never declares (declaration_overdue
    // at 16 August, passed by the next entry).
    let report = format!("/v1/reports/declaration?org={}&period=2026-06", g.org);
    let (_, june) = l.get(&report).await;
    let body = json!({"org": g.org, "period": "2026-06", "report_sha256": june["report_sha256"]});
    on(&l, &at(7, 10, 2), &g, "declaration.filed", body).await;

    // August: manual tickets through the whole workflow.
    let t1 = new_id();
    on(
        &l,
        &at(8, 20, 2),
        &reg,
        "ticket.opened",
        json!({"ticket": t1, "kind": "reported_dumping",
        "subject": {"org": g.org, "code": OIL, "site": {"address": "钟楼区邹区镇某河道旁空地",
                    "lat": 31_782_345, "lon": 119_853_210}},
        "summary": "群众举报河道边倾倒桶装废油", "quantity_g": 400_000}),
    )
    .await;
    let body = json!({"ticket": t1, "lead": "钟楼生态环境局", "support": ["邹区镇人民政府"],
                      "responsible": g.org, "due": "2026-08-31"});
    l.ok(&reg, "ticket.assigned", body).await;
    let rectify = json!({"ticket": t1, "note": "已清运", "evidence": [{"name": "现场照片.jpg",
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]});
    on(&l, &at(8, 24, 2), &g, "ticket.rectified", rectify.clone()).await;
    let body = json!({"ticket": t1, "reason": "证据不足"});
    on(&l, &at(8, 25, 2), &reg, "ticket.returned", body).await;
    on(&l, &at(8, 27, 2), &reg2, "ticket.rectified", rectify).await;
    let body = json!({"ticket": t1, "note": "复核通过，予以销号"});
    on(&l, &at(8, 28, 2), &reg, "ticket.closed", body).await;
    let body = json!({"ticket": t1, "reason": "复查发现反弹"});
    on(&l, &at(8, 30, 2), &reg, "ticket.reopened", body).await;
    let t2 = new_id();
    l.ok(
        &reg2,
        "ticket.opened",
        json!({"ticket": t2, "kind": "suspected_illegal_transfer",
        "subject": {"manifest": m9}, "summary": "联单超期未接收"}),
    )
    .await;
    let body = json!({"ticket": t2, "lead": "新北生态环境局", "due": "2026-09-10"});
    l.ok(&reg2, "ticket.assigned", body).await;

    // September: compliance off; then every deadline passed is ticketed by a sweep, and an
    // automatic ticket is assigned like any other.
    on(
        &l,
        &at(9, 1, 2),
        &reg,
        "ledger.limits_set",
        json!({"limits": {"transit_s": day, "disposal_s": 2 * day, "storage_s": 3 * day,
                          "generator_storage_s": 20 * day, "max_backdate_s": 14 * day,
                          "shortfall_bp": 100, "compliance_from": null},
               "reason": "试点结束"}),
    )
    .await;
    assert!(
        l.sweep().await >= 4,
        "the sweep opened the deadline tickets"
    );
    assert_eq!(l.sweep().await, 0);
    let (_, transit) = l.get("/v1/tickets?kind=transit_overdue").await;
    let auto = transit["tickets"][0]["ticket"].as_str().unwrap().to_owned();
    let body = json!({"ticket": auto, "lead": "钟楼生态环境局", "responsible": g.org,
                      "due": "2026-09-15"});
    on(&l, &at(9, 2, 2), &reg, "ticket.assigned", body).await;
    assert_eq!(l.sweep().await, 0);
    let (_, all) = l.get("/v1/tickets?limit=1000").await;
    let kinds: std::collections::BTreeSet<&str> = all["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "quantity_shortfall",
        "unlicensed_receipt",
        "transit_overdue",
        "disposal_overdue",
        "storage_overdue",
        "disposal_short",
        "storage_over_capacity",
        "unplanned_transfer",
        "plan_exceeded",
        "declaration_overdue",
    ] {
        assert!(
            kinds.contains(kind),
            "the fixture has a {kind} ticket: {kinds:?}"
        );
    }

    // Record: the export, the database file, the views, with the ledger's own reads (its
    // identity and limits, the checkpoints of the head and of an earlier size), the
    // facilities, the chains through K and on the road, the drums, the plan, the declarations
    // and reports.
    let size = l.size().await;
    let mut extra = vec![
        "/v1/ledger".to_owned(),
        "/v1/checkpoint".to_owned(),
        "/v1/tlog/checkpoint".to_owned(),
        format!("/v1/tlog/checkpoints/{}", size / 2),
        "/v1/facilities".to_owned(),
        format!("/v1/plans/{}/2026", g.org),
        format!("/v1/declarations/{}", g.org),
        report,
        format!("/v1/reports/declaration?org={}&period=2026-07", g.org),
        format!("/v1/reports/declaration?org={}&period=2026-Q2", g2.org),
    ];
    for m in [&m2, &m3, &m9] {
        extra.push(format!("/v1/chains/{m}"));
    }
    for id in &drums {
        extra.push(format!("/v1/containers/{id}"));
    }
    let holders = vec![g.org.clone(), g2.org.clone(), k.org.clone(), d.org.clone()];
    replay::write_fixture(&mut l, &dir(), &holders, &extra).await;
    // An org's class is shown for the current CST year, and a facility's `treated_g` is of the
    // current CST year: both move with the calendar, not with the ledger, and are not kept.
    let path = dir().join("expected.json");
    let mut expected: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (read, view) in expected["views"].as_object_mut().unwrap() {
        if read.starts_with("/v1/orgs/") {
            view.as_object_mut().unwrap().remove("class");
        } else if read == "/v1/facilities" {
            for f in view["facilities"].as_array_mut().unwrap() {
                f.as_object_mut().unwrap().remove("treated_g");
            }
        }
    }
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&expected).unwrap() + "\n",
    )
    .unwrap();
}
