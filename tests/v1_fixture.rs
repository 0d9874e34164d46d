//! A ledger recorded by protocol version 1 replays under later versions to the same manifests,
//! lots, tickets and rate (ledgers are forever).
//!
//! `tests/fixtures/v1/` holds a ledger made by the version-1 code (commit "Record a version-1
//! ledger as a fixture"); `common::replay` says what a fixture holds and how it is compared.
//!
//! `record` (ignored) is how the fixture was made. Never rerun it to make a failing comparison
//! pass: the point of the fixture is that it was recorded by the old code.

mod common;

use std::path::PathBuf;

use axum::http::StatusCode;
use common::fixtures::*;
use common::harness::*;
use common::replay::{self, ago};
use serde_json::json;

fn dir() -> PathBuf {
    replay::fixture_dir("v1")
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
    let gens = vec![gen_a.org.clone(), gen_b.org.clone(), r2.org.clone()];
    replay::write_fixture(&mut l, &dir(), &gens, &[]).await;
}
