//! A ledger recorded by the version-2 code of facilities, containers and on-site treatment,
//! before receivers could store and forward waste, replays under later code to the same
//! manifests, lots, containers, facilities, tickets and rate (ledgers are forever).
//!
//! `tests/fixtures/v2-facilities/` holds it (commit "Record a ledger of facilities, containers
//! and on-site treatment as a fixture"); `common::replay` says what a fixture holds and how it
//! is compared. Compliance is off in it (`compliance_from` null), as a bureau may run before
//! it enforces the duties of plans and declarations, so that later rules of compliance kinds
//! have nothing to ask of it.
//!
//! A facility's `treated_g` counts the current CST year, so the recorded year's figures were
//! taken out of the expected facility views (they would read 0 from 2027 on); the treatments
//! themselves are still compared, in the stock and the rate.
//!
//! `record` (ignored) is how the fixture was made. Never rerun it to make a failing comparison
//! pass: the point of the fixture is that it was recorded by the old code.

mod common;

use std::path::PathBuf;

use common::fixtures::*;
use common::harness::*;
use common::replay::{self, ago};
use serde_json::{json, Value};

fn dir() -> PathBuf {
    replay::fixture_dir("v2-facilities")
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

/// Declares a lot dated `date` in `facility`, in drums of the given weights; returns the seq
/// and the drums.
async fn declare_drums(
    l: &TestLedger,
    gen: &Actor,
    code: &str,
    date: &str,
    facility: &str,
    weights: &[i64],
    at: &str,
) -> (u64, Vec<String>) {
    let ids: Vec<String> = (1..=weights.len() as u32)
        .map(|n| container_id(gen, code, date, n))
        .collect();
    let containers: Vec<Value> = ids
        .iter()
        .zip(weights)
        .map(|(id, q)| json!({"id": id, "quantity_g": q}))
        .collect();
    let body = json!({"generator": gen.org, "code": code, "quantity_g": weights.iter().sum::<i64>(),
                      "date": date, "facility": facility, "containers": containers});
    (seq(&ok_at(l, gen, "waste.declared", body, at).await), ids)
}

fn open_drums(m: &str, gen: &Actor, carrier: &Actor, receiver: &Actor, lines: Value) -> Value {
    json!({"manifest": m, "generator": gen.org, "carrier": carrier.org,
           "receiver": receiver.org, "lines": lines})
}

fn scan(m: &str, ids: &[&String]) -> Value {
    json!({"manifest": m, "vehicle": "苏D·B5678", "containers": ids})
}

/// Records the fixture with the code of this commit. Run with
/// `cargo test --test v2_facilities_fixture -- --ignored record` only to make a new fixture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn record() {
    let mut l = TestLedger::start(Backend::Sqlite).await;
    let reg = l.regulator.clone();
    // Short limits, set before anything happens, so that every deadline passes while recording;
    // lots at generators have 5 days, at receivers 3; compliance off.
    ok_at(
        &l,
        &reg,
        "ledger.limits_set",
        json!({"limits": {"transit_s": 86_400, "disposal_s": 2 * 86_400, "storage_s": 3 * 86_400,
                          "generator_storage_s": 5 * 86_400,
                          "max_backdate_s": 14 * 86_400, "shortfall_bp": 100,
                          "compliance_from": null},
               "reason": "试点地区从严"}),
        &ago(13, 0),
    )
    .await;
    let gen_a = l.register(31, &["generator"], ZHONGLOU).await;
    let gen_b = l.register(32, &["generator"], GULOU_NJ).await;
    let carrier = l.register(33, &["carrier"], XINBEI).await;
    let r1 = l.register(34, &["receiver"], "320400").await;
    let valid = (cst_day(-400), cst_day(400));
    issue_licence_valid(
        &l,
        &r1,
        "JS-21",
        1_000_000_000,
        &valid.0,
        &valid.1,
        json!([scope(&["HW08", "HW49"], ALL_ACTIVITIES)]),
    )
    .await;

    // Facilities: storage at both generators, an incinerator at A; one amended, one closed.
    let facility = |org: &Actor, id: &str, extra: Value| {
        let mut body = json!({"org": org.org, "facility": id, "name": format!("设施{id}")});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for body in [
        facility(
            &gen_a,
            "S1",
            json!({"kind": "storage", "storage_type": "warehouse", "capacity_g": 20_000_000, "address": "厂区东侧"}),
        ),
        facility(
            &gen_a,
            "T1",
            json!({"kind": "dispose", "methods": ["D10"], "capacity_g": 5_000_000}),
        ),
        facility(
            &gen_b,
            "P1",
            json!({"kind": "storage", "storage_type": "point", "capacity_g": 3_000_000}),
        ),
        facility(
            &gen_b,
            "P2",
            json!({"kind": "storage", "storage_type": "point", "capacity_g": 1_000_000}),
        ),
    ] {
        l.ok(&reg, "facility.registered", body).await;
    }
    l.ok(
        &reg,
        "facility.amended",
        json!({"org": gen_a.org, "facility": "T1", "capacity_g": 8_000_000, "methods": ["D10", "D16"]}),
    )
    .await;
    l.ok(
        &reg,
        "facility.closed",
        json!({"org": gen_b.org, "facility": "P2", "reason": "贮存点撤销"}),
    )
    .await;

    // Lots: drums at A (oil and packaging), container-less oil at A, drums at B.
    let day = |n: i64| cst_day(-n);
    let (_, oil_a) = declare_drums(
        &l,
        &gen_a,
        OIL,
        &day(12),
        "S1",
        &[200_000, 200_000, 200_000, 200_000, 150_000, 150_000],
        &ago(12, 0),
    )
    .await;
    let (_, pack_a) = declare_drums(
        &l,
        &gen_a,
        PACKAGING,
        &day(12),
        "S1",
        &[50_000, 60_000],
        &ago(12, 0),
    )
    .await;
    ok_at(
        &l,
        &gen_a,
        "waste.declared",
        json!({"generator": gen_a.org, "code": OIL, "quantity_g": 900_000, "date": day(11), "facility": "S1"}),
        &ago(11, 0),
    )
    .await;
    declare(&l, &gen_a, OIL2, 400_000, &day(11)).await;
    let (_, oil_b) = declare_drums(
        &l,
        &gen_b,
        OIL,
        &day(10),
        "P1",
        &[300_000, 300_000, 250_000],
        &ago(10, 0),
    )
    .await;

    // On-site treatment: part of the container-less oil, then one drum by name.
    ok_at(
        &l,
        &gen_a,
        "waste.treated",
        json!({"generator": gen_a.org, "facility": "T1", "code": OIL, "quantity_g": 300_000,
               "method": "D10", "date": day(10)}),
        &ago(10, 2),
    )
    .await;
    ok_at(
        &l,
        &gen_a,
        "waste.treated",
        json!({"generator": gen_a.org, "facility": "T1", "code": OIL, "quantity_g": 150_000,
               "method": "D16", "date": day(10), "containers": [oil_a[5]]}),
        &ago(10, 3),
    )
    .await;

    // M1: two drums, scanned, weighed one by one, disposed: proper.
    let m1 = new_id();
    ok_at(
        &l,
        &gen_a,
        "manifest.opened",
        open_drums(
            &m1,
            &gen_a,
            &carrier,
            &r1,
            json!([{"code": OIL, "quantity_g": 400_000, "containers": [oil_a[0], oil_a[1]]}]),
        ),
        &ago(9, 0),
    )
    .await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        scan(&m1, &[&oil_a[0], &oil_a[1]]),
        &ago(9, 1),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.received",
        json!({"manifest": m1, "lines": [{"code": OIL, "quantity_g": 399_000, "containers": [
            {"id": oil_a[0], "quantity_g": 200_000}, {"id": oil_a[1], "quantity_g": 199_000}]}]}),
        &ago(9, 3),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.disposed",
        dispose_body(&m1, &[(OIL, 399_000, "R9")]),
        &ago(8, 0),
    )
    .await;

    // M2: two drums of oil and the packaging drums; one oil drum missing at the receipt
    // (quantity_shortfall naming it); disposed.
    let m2 = new_id();
    ok_at(
        &l,
        &gen_a,
        "manifest.opened",
        open_drums(
            &m2,
            &gen_a,
            &carrier,
            &r1,
            json!([{"code": OIL, "quantity_g": 400_000, "containers": [oil_a[2], oil_a[3]]},
                   {"code": PACKAGING, "quantity_g": 110_000, "containers": [pack_a[0], pack_a[1]]}]),
        ),
        &ago(8, 0),
    )
    .await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        scan(&m2, &[&oil_a[2], &oil_a[3], &pack_a[0], &pack_a[1]]),
        &ago(8, 1),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.received",
        json!({"manifest": m2, "lines": [
            {"code": OIL, "quantity_g": 200_000, "containers": [{"id": oil_a[2], "quantity_g": 200_000}]},
            {"code": PACKAGING, "quantity_g": 110_000}]}),
        &ago(8, 3),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.disposed",
        dispose_body(&m2, &[(OIL, 200_000, "D10"), (PACKAGING, 110_000, "D10")]),
        &ago(7, 0),
    )
    .await;

    // M3: B's drums, opened and cancelled (back in stock); M4: picked up and rejected (back
    // in stock, scanned again later by nobody: they stay past B's storage limit).
    let m3 = new_id();
    ok_at(
        &l,
        &gen_b,
        "manifest.opened",
        open_drums(
            &m3,
            &gen_b,
            &carrier,
            &r1,
            json!([{"code": OIL, "quantity_g": 300_000, "containers": [oil_b[0]]}]),
        ),
        &ago(9, 0),
    )
    .await;
    ok_at(
        &l,
        &gen_b,
        "manifest.cancelled",
        json!({"manifest": m3, "reason": "改期"}),
        &ago(9, 2),
    )
    .await;
    let m4 = new_id();
    ok_at(
        &l,
        &gen_b,
        "manifest.opened",
        open_drums(
            &m4,
            &gen_b,
            &carrier,
            &r1,
            json!([{"code": OIL, "quantity_g": 550_000, "containers": [oil_b[1], oil_b[2]]}]),
        ),
        &ago(8, 0),
    )
    .await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        scan(&m4, &[&oil_b[1], &oil_b[2]]),
        &ago(8, 1),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.rejected",
        json!({"manifest": m4, "reason": "标签与联单不符"}),
        &ago(8, 4),
    )
    .await;

    // M5: container-less oil, received, never disposed of (disposal_overdue by the sweep).
    let m5 = new_id();
    ok_at(
        &l,
        &gen_a,
        "manifest.opened",
        open_body(
            &m5,
            &gen_a,
            &carrier,
            &r1,
            &[(OIL, 500_000), (OIL2, 400_000)],
        ),
        &ago(6, 0),
    )
    .await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        pick_up_body(&m5),
        &ago(6, 1),
    )
    .await;
    ok_at(
        &l,
        &r1,
        "manifest.received",
        receive_body(&m5, &[(OIL, 500_000), (OIL2, 400_000)]),
        &ago(6, 3),
    )
    .await;
    // M6: the last drum at A on the road past the transit limit (transit_overdue).
    let m6 = new_id();
    ok_at(
        &l,
        &gen_a,
        "manifest.opened",
        open_drums(
            &m6,
            &gen_a,
            &carrier,
            &r1,
            json!([{"code": OIL, "quantity_g": 150_000, "containers": [oil_a[4]]}]),
        ),
        &ago(4, 0),
    )
    .await;
    ok_at(
        &l,
        &carrier,
        "manifest.picked_up",
        scan(&m6, &[&oil_a[4]]),
        &ago(4, 1),
    )
    .await;

    // The sweep opens the passed deadlines: transit, disposal, storage at B.
    let sequencer = l.service.as_ref().unwrap().state.sequencer.clone();
    let swept = sequencer.sweep().await.expect("a sweep");
    assert!(
        swept >= 3,
        "the sweep opened the deadline tickets ({swept})"
    );
    assert_eq!(sequencer.sweep().await.unwrap(), 0);

    // Record: the export, the database file, the views, and every facility and container.
    let mut extra = vec![
        "/v1/facilities".to_owned(),
        format!("/v1/facilities/{}/T1", gen_a.org),
        format!("/v1/facilities/{}/P2", gen_b.org),
    ];
    for id in oil_a.iter().chain(&pack_a).chain(&oil_b) {
        extra.push(format!("/v1/containers/{id}"));
    }
    let gens = vec![gen_a.org.clone(), gen_b.org.clone()];
    replay::write_fixture(&mut l, &dir(), &gens, &extra).await;
}
