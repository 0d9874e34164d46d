//! A ledger recorded by the version-2 code of collectors and chains (storings at receivers,
//! onward manifests, portions followed to their final handling), before plans and declarations,
//! replays under later code to the same manifests, lots, chains, tickets and rate (ledgers are
//! forever).
//!
//! `tests/fixtures/v2-chains/` holds it (commit "Record a ledger of collectors and chains as a
//! fixture"); `common::replay` says what a fixture holds and how it is compared. Compliance is off
//! in it (`compliance_from` null), so that later rules of compliance kinds have nothing to ask of
//! it.
//!
//! `record` (ignored) is how the fixture was made. Never rerun it to make a failing comparison
//! pass: the point of the fixture is that it was recorded by the old code.

mod common;

use std::path::PathBuf;

use common::fixtures::*;
use common::harness::*;
use common::replay::{self, ago};
use serde_json::json;

fn dir() -> PathBuf {
    replay::fixture_dir("v2-chains")
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

/// Opens (at `d` days ago), picks up (an hour later) and, with `received`, receives (three
/// hours later) a one-line manifest of `OIL`; returns its id.
async fn leg(
    l: &TestLedger,
    from: &Actor,
    carrier: &Actor,
    to: &Actor,
    q: i64,
    received: Option<i64>,
    d: i64,
) -> String {
    let m = new_id();
    ok_at(
        l,
        from,
        "manifest.opened",
        open_body(&m, from, carrier, to, &[(OIL, q)]),
        &ago(d, 0),
    )
    .await;
    ok_at(
        l,
        carrier,
        "manifest.picked_up",
        pick_up_body(&m),
        &ago(d, 1),
    )
    .await;
    if let Some(r) = received {
        ok_at(
            l,
            to,
            "manifest.received",
            receive_body(&m, &[(OIL, r)]),
            &ago(d, 3),
        )
        .await;
    }
    m
}

fn stored(m: &str, q: i64) -> serde_json::Value {
    json!({"manifest": m, "lines": [{"code": OIL, "quantity_g": q}]})
}

/// Records the fixture with the code of this commit. Run with
/// `cargo test --test v2_chains_fixture -- --ignored record` only to make a new fixture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn record() {
    let mut l = TestLedger::start(Backend::Sqlite).await;
    let reg = l.regulator.clone();
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
    let g1 = l.register(51, &["generator"], ZHONGLOU).await;
    let g2 = l.register(52, &["generator"], GULOU_NJ).await;
    let carrier = l.register(53, &["carrier"], XINBEI).await;
    let k = l.register(54, &["receiver"], "320400").await;
    let d = l.register(55, &["receiver"], "320411").await;
    let valid = (cst_day(-400), cst_day(400));
    issue_licence_valid(
        &l,
        &k,
        "JS-31",
        1_000_000_000,
        &valid.0,
        &valid.1,
        json!([scope(&["HW08"], &["collect", "store"])]),
    )
    .await;
    issue_licence_valid(
        &l,
        &d,
        "JS-32",
        1_000_000_000,
        &valid.0,
        &valid.1,
        json!([scope(&["HW08"], &["utilize", "dispose"])]),
    )
    .await;
    declare(&l, &g1, OIL, 1_000_000, &cst_day(-12)).await;
    declare(&l, &g2, OIL, 700_000, &cst_day(-12)).await;

    // A: G1 to K, stored 10,000 short of the receipt (quantity_shortfall `:stored`).
    let a = leg(&l, &g1, &carrier, &k, 800_000, Some(800_000), 11).await;
    ok_at(&l, &k, "manifest.stored", stored(&a, 790_000), &ago(11, 4)).await;
    // B: G2 to K, 5,000 short (within 1 %), stored in full.
    let b = leg(&l, &g2, &carrier, &k, 600_000, Some(595_000), 10).await;
    ok_at(&l, &k, "manifest.stored", stored(&b, 595_000), &ago(10, 4)).await;
    // C: K ships A's 790,000 and 210,000 of B's on; D counts 990,000 (within 1 %), disposes.
    let c = leg(&l, &k, &carrier, &d, 1_000_000, Some(990_000), 9).await;
    ok_at(
        &l,
        &d,
        "manifest.disposed",
        dispose_body(&c, &[(OIL, 990_000, "R9")]),
        &ago(9, 5),
    )
    .await;
    // E: rejected, back to K's lot; F: on the road past the transit limit.
    let e = leg(&l, &k, &carrier, &d, 300_000, None, 8).await;
    ok_at(
        &l,
        &d,
        "manifest.rejected",
        json!({"manifest": e, "reason": "包装不符"}),
        &ago(8, 4),
    )
    .await;
    let f = leg(&l, &k, &carrier, &d, 100_000, None, 6).await;
    // H: G2 to D, which stores it without a licence to store (unlicensed_handling).
    let h = leg(&l, &g2, &carrier, &d, 100_000, Some(100_000), 7).await;
    ok_at(&l, &d, "manifest.stored", stored(&h, 100_000), &ago(7, 4)).await;
    // The sweep: F's transit, the lots at K and D past their storage limit, G1's remainder.
    let sequencer = l.service.as_ref().unwrap().state.sequencer.clone();
    let swept = sequencer.sweep().await.expect("a sweep");
    assert!(
        swept >= 3,
        "the sweep opened the deadline tickets ({swept})"
    );
    assert_eq!(sequencer.sweep().await.unwrap(), 0);

    let extra: Vec<String> = [&a, &b, &c, &e, &f, &h]
        .iter()
        .map(|m| format!("/v1/chains/{m}"))
        .collect();
    let holders = vec![g1.org.clone(), g2.org.clone(), k.org.clone(), d.org.clone()];
    replay::write_fixture(&mut l, &dir(), &holders, &extra).await;
}
