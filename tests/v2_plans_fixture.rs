//! A ledger recorded by the version-2 code of plans and declarations (classes, plans, filed
//! declarations over computed reports, and every compliance ticket) replays under later code
//! to the same manifests, lots, plans, reports, tickets and rate (ledgers are forever).
//!
//! `tests/fixtures/v2-plans/` holds it (commit "Record a ledger of plans and declarations as a
//! fixture"); `common::replay` says what a fixture holds and how it is compared. It was recorded
//! with the ledger's clock set from January to May 2026, compliance on from 2026-01-01 and short
//! storage limits, so that every deadline had passed and been ticketed by its last entry; that
//! entry switches compliance off (`compliance_from` null), so that no due moment after it asks
//! anything of the fixture, whenever it is served.
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
use serde_json::json;

fn dir() -> PathBuf {
    replay::fixture_dir("v2-plans")
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

/// Records the fixture with the code of this commit. Run with
/// `cargo test --test v2_plans_fixture -- --ignored record` only to make a new fixture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn record() {
    let at = |s: &str| time::parse_timestamp(s).unwrap();
    let clock = Clock::manual(at("2026-01-05T02:00:00Z"));
    let day = 86_400;
    let limits = LimitFlags {
        transit_s: Some(day),
        disposal_s: Some(2 * day),
        storage_s: Some(3 * day),
        generator_storage_s: Some(20 * day),
        compliance_from: Some(Some(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())),
        ..Default::default()
    };
    let mut l = TestLedger::start_at(Backend::Sqlite, limits, clock.clone()).await;
    let reg = l.regulator.clone();
    let g = l.register(61, &["generator"], ZHONGLOU).await;
    let g2 = l.register(62, &["generator"], GULOU_NJ).await;
    let carrier = l.register(63, &["carrier"], XINBEI).await;
    let r = l.register(64, &["receiver"], "320411").await;
    let r2 = l.register(65, &["receiver"], "320106").await;
    for (holder, number) in [(&r, "JS-41"), (&r2, "JS-42")] {
        issue_licence_valid(
            &l,
            holder,
            number,
            1_000_000_000,
            "2026-01-01",
            "2028-12-31",
            json!([scope(&["HW08"], &["store", "dispose"])]),
        )
        .await;
    }
    l.ok(
        &reg,
        "facility.registered",
        json!({"org": g.org, "facility": "LY01", "kind": "utilize", "capacity_g": 50_000_000,
               "methods": ["R9"], "name": "废油再生装置"}),
    )
    .await;
    l.ok(
        &reg,
        "org.class_set",
        json!({"org": g.org, "class": "key", "reason": "列入重点监管单位名录"}),
    )
    .await;

    // January: waste, a transfer without a plan, a short disposal, a treatment.
    clock.set(at("2026-01-10T02:00:00Z"));
    declare(&l, &g, OIL, 2_000_000, "2026-01-10").await;
    declare(&l, &g2, OIL, 300_000, "2026-01-10").await;
    clock.set(at("2026-01-12T02:00:00Z"));
    let m1 = new_id();
    l.ok(
        &g,
        "manifest.opened",
        open_body(&m1, &g, &carrier, &r, &[(OIL, 500_000)]),
    )
    .await;
    l.ok(&carrier, "manifest.picked_up", pick_up_body(&m1))
        .await;
    clock.set(at("2026-01-12T08:00:00Z"));
    l.ok(
        &r,
        "manifest.received",
        receive_body(&m1, &[(OIL, 500_000)]),
    )
    .await;
    l.ok(
        &r,
        "manifest.disposed",
        dispose_body(&m1, &[(OIL, 490_000, "D10")]),
    )
    .await;
    clock.set(at("2026-01-20T02:00:00Z"));
    l.ok(
        &g,
        "waste.treated",
        json!({"generator": g.org, "facility": "LY01", "code": OIL, "quantity_g": 200_000,
               "method": "R9", "date": "2026-01-20"}),
    )
    .await;

    // February: January declared, after a late entry made the first hash stale.
    clock.set(at("2026-02-10T02:00:00Z"));
    declare(&l, &g, OIL, 100_000, "2026-01-31").await;
    let (_, jan) = l
        .get(&format!(
            "/v1/reports/declaration?org={}&period=2026-01",
            g.org
        ))
        .await;
    l.ok(
        &g,
        "declaration.filed",
        json!({"org": g.org, "period": "2026-01", "report_sha256": jan["report_sha256"]}),
    )
    .await;

    // March: the plan, generation past it, a planned and an unplanned transfer.
    clock.set(at("2026-03-20T02:00:00Z"));
    l.ok(
        &g,
        "plan.filed",
        json!({"org": g.org, "year": 2026, "lines": [
            {"code": OIL, "generate_g": 2_500_000, "treat_onsite_g": 400_000,
             "transfers": [{"receiver": r.org, "quantity_g": 1_500_000}]}]}),
    )
    .await;
    declare(&l, &g, OIL, 1_000_000, "2026-03-20").await;
    for (to, q) in [(&r, 200_000), (&r2, 100_000)] {
        let m = new_id();
        l.ok(
            &g,
            "manifest.opened",
            open_body(&m, &g, &carrier, to, &[(OIL, q)]),
        )
        .await;
        l.ok(&carrier, "manifest.picked_up", pick_up_body(&m)).await;
        l.ok(to, "manifest.received", receive_body(&m, &[(OIL, q)]))
            .await;
        l.ok(
            to,
            "manifest.disposed",
            dispose_body(&m, &[(OIL, q, "D10")]),
        )
        .await;
    }

    // April: plan_missing for G2 at 1 April; March overdue for G on the 16th; G2 files late.
    clock.set(at("2026-04-20T02:00:00Z"));
    l.ok(
        &g2,
        "plan.filed",
        json!({"org": g2.org, "year": 2026, "lines": [
            {"code": OIL, "generate_g": 400_000, "transfers": [{"receiver": r.org, "quantity_g": 300_000}]}]}),
    )
    .await;

    // May: the pilot ends; then every deadline passed is ticketed by a sweep.
    clock.set(at("2026-05-20T02:00:00Z"));
    l.ok(
        &reg,
        "ledger.limits_set",
        json!({"limits": {"transit_s": day, "disposal_s": 2 * day, "storage_s": 3 * day,
                          "max_backdate_s": 14 * day, "shortfall_bp": 100, "compliance_from": null},
               "reason": "试点结束"}),
    )
    .await;
    l.sweep().await;
    assert_eq!(l.sweep().await, 0);
    let (_, kinds) = l.get("/v1/tickets?limit=1000").await;
    let kinds: std::collections::BTreeSet<String> = kinds["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap().to_owned())
        .collect();
    for k in [
        "disposal_short",
        "unplanned_transfer",
        "plan_exceeded",
        "plan_missing",
        "declaration_overdue",
        "storage_overdue",
    ] {
        assert!(kinds.contains(k), "the fixture has a {k} ticket: {kinds:?}");
    }

    let extra = vec![
        format!("/v1/plans/{}/2026", g.org),
        format!("/v1/plans/{}/2026", g2.org),
        format!("/v1/reports/declaration?org={}&period=2026-01", g.org),
        format!("/v1/reports/declaration?org={}&period=2026-Q1", g.org),
        format!("/v1/reports/declaration?org={}&period=2026-04", g.org),
        format!("/v1/reports/declaration?org={}&period=2026-Q1", g2.org),
        format!("/v1/reports/declaration.csv?org={}&period=2026-Q1", g.org),
    ];
    let holders = vec![g.org.clone(), g2.org.clone(), r.org.clone(), r2.org.clone()];
    replay::write_fixture(&mut l, &dir(), &holders, &extra).await;
    // An org's view shows its class for the current CST year, which moves with the calendar,
    // not with the ledger: it is not kept as a recorded view.
    let path = dir().join("expected.json");
    let mut expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (read, view) in expected["views"].as_object_mut().unwrap() {
        if read.starts_with("/v1/orgs/") {
            view.as_object_mut().unwrap().remove("class");
        }
    }
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&expected).unwrap() + "\n",
    )
    .unwrap();
}
