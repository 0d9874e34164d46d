//! The proper-disposal rate and the automatic tickets on a history worked out by hand, on both
//! backends: every improper kind, the filters, a ledger prefix, sweeps that never open a
//! condition twice (also across a restart), and `verify` recomputing the service's figures.

mod common;

use chrono::{Duration, Utc};
use common::fixtures::*;
use common::harness::*;
use serde_json::{json, Value};

use hwledger::domain::oversight::ticket_id;
use hwledger::service::LimitFlags;

const DAY: i64 = 86_400;

/// The ledger-signed `ticket.opened` entries, as (kind, subject, quantity, at).
async fn automatic_tickets(l: &TestLedger) -> Vec<(String, Value, i64, String, String)> {
    let (_, page) = l.get("/v1/entries?limit=1000").await;
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == "ticket.opened" && e["event"]["actor"] == "ledger")
        .map(|e| {
            let b = &e["event"]["body"];
            (
                b["kind"].as_str().unwrap().to_owned(),
                b["subject"].clone(),
                b["quantity_g"].as_i64().unwrap(),
                e["event"]["at"].as_str().unwrap().to_owned(),
                b["ticket"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn stats(l: &TestLedger, query: &str) -> Value {
    let (s, v) = l.get(&format!("/v1/stats/disposal{query}")).await;
    assert_eq!(s.as_u16(), 200, "{v}");
    v
}

#[track_caller]
fn assert_figures(v: &Value, proper: i64, improper: i64, pending: i64, stored: i64) {
    assert_eq!(
        (
            v["proper_g"].as_i64(),
            v["improper_g"].as_i64(),
            v["pending_g"].as_i64(),
            v["stored_g"].as_i64()
        ),
        (Some(proper), Some(improper), Some(pending), Some(stored)),
        "{v}"
    );
    let total = proper + improper;
    if total == 0 {
        assert!(v["rate"].is_null(), "{v}");
    } else {
        let rate = v["rate"].as_f64().unwrap();
        assert!((rate - proper as f64 / total as f64).abs() < 1e-12, "{v}");
    }
}

storage_test!(rate_and_tickets_on_a_hand_worked_history, |b| async move {
    let limits = LimitFlags {
        transit_s: Some(DAY),
        disposal_s: Some(2 * DAY),
        storage_s: Some(10 * DAY),
        ..Default::default()
    };
    let mut l = TestLedger::start_with(b, limits).await;
    let g = l.register(1, &["generator"], "320404").await;
    let g2 = l.register(2, &["generator"], "320502").await;
    let c = l.register(3, &["carrier"], "320404").await;
    let v = l.register(4, &["receiver"], "320411").await;
    l.ok(
        &l.regulator,
        "license.issued",
        licence_body(
            "苏危废经营001",
            &v,
            1_000_000_000,
            &cst_day(-365),
            &cst_day(365),
            json!([
                scope(&["HW08"], &["store", "utilize", "dispose"]),
                scope(&["HW49"], &["store"])
            ]),
        ),
    )
    .await;
    let now = Utc::now();
    let at = |d: f64| ts(now + Duration::seconds((d * DAY as f64) as i64));

    // Lot A: 10 000 g of waste oil, declared 12 days ago; lot B: 5 000 g of packaging, 3 days ago.
    ok_at(
        &l,
        &g,
        "waste.declared",
        declare_body(&g, OIL, 10_000, &date(cst(now - Duration::days(12)))),
        &at(-12.0),
    )
    .await;
    ok_at(
        &l,
        &g,
        "waste.declared",
        declare_body(&g, PACKAGING, 5_000, &date(cst(now - Duration::days(3)))),
        &at(-3.0),
    )
    .await;
    ok_at(
        &l,
        &g2,
        "waste.declared",
        declare_body(&g2, OIL, 2_000, &date(cst(now - Duration::days(1)))),
        &at(-1.0),
    )
    .await;

    let run = |id: &str, gen: &Actor, code: &str, q: i64| open_body(id, gen, &c, &v, &[(code, q)]);
    // M1: proper, 1 000 g.
    let m1 = new_id();
    ok_at(
        &l,
        &g,
        "manifest.opened",
        run(&m1, &g, OIL, 1_000),
        &at(-11.0),
    )
    .await;
    ok_at(&l, &c, "manifest.picked_up", pick_up_body(&m1), &at(-10.95)).await;
    ok_at(
        &l,
        &v,
        "manifest.received",
        receive_body(&m1, &[(OIL, 1_000)]),
        &at(-10.9),
    )
    .await;
    ok_at(
        &l,
        &v,
        "manifest.disposed",
        dispose_body(&m1, &[(OIL, 1_000, "D10")]),
        &at(-10.0),
    )
    .await;
    // M2: 100 g short of 2 000 (5 % > 1 %), and the 1 900 g received are never disposed of.
    let m2 = new_id();
    ok_at(
        &l,
        &g,
        "manifest.opened",
        run(&m2, &g, OIL, 2_000),
        &at(-9.0),
    )
    .await;
    ok_at(&l, &c, "manifest.picked_up", pick_up_body(&m2), &at(-8.95)).await;
    let m2_receipt = at(-8.9);
    ok_at(
        &l,
        &v,
        "manifest.received",
        receive_body(&m2, &[(OIL, 1_900)]),
        &m2_receipt,
    )
    .await;
    // M3: picked up 5 days ago and never received.
    let m3 = new_id();
    ok_at(
        &l,
        &g,
        "manifest.opened",
        run(&m3, &g, OIL, 3_000),
        &at(-5.0),
    )
    .await;
    let m3_pickup = at(-4.95);
    ok_at(&l, &c, "manifest.picked_up", pick_up_body(&m3), &m3_pickup).await;
    // M8: picked up 4 days ago, received only now: late, so its transit ticket opens at once.
    let m8 = new_id();
    ok_at(
        &l,
        &g,
        "manifest.opened",
        run(&m8, &g, OIL, 1_000),
        &at(-4.0),
    )
    .await;
    let m8_pickup = at(-3.95);
    ok_at(&l, &c, "manifest.picked_up", pick_up_body(&m8), &m8_pickup).await;
    ok_at(
        &l,
        &v,
        "manifest.received",
        receive_body(&m8, &[(OIL, 1_000)]),
        &at(0.0),
    )
    .await;
    // M4: packaging received under a storage-only licence, then incinerated: unlicensed handling.
    let m4 = new_id();
    ok_at(
        &l,
        &g,
        "manifest.opened",
        run(&m4, &g, PACKAGING, 1_000),
        &at(-2.0),
    )
    .await;
    ok_at(&l, &c, "manifest.picked_up", pick_up_body(&m4), &at(-1.95)).await;
    ok_at(
        &l,
        &v,
        "manifest.received",
        receive_body(&m4, &[(PACKAGING, 1_000)]),
        &at(-1.9),
    )
    .await;
    let m4_disposal = at(-1.85);
    ok_at(
        &l,
        &v,
        "manifest.disposed",
        dispose_body(&m4, &[(PACKAGING, 1_000, "D10")]),
        &m4_disposal,
    )
    .await;
    // M7: the second generator's proper 2 000 g.
    let m7 = new_id();
    ok_at(
        &l,
        &g2,
        "manifest.opened",
        run(&m7, &g2, OIL, 2_000),
        &at(-0.9),
    )
    .await;
    ok_at(&l, &c, "manifest.picked_up", pick_up_body(&m7), &at(-0.85)).await;
    ok_at(
        &l,
        &v,
        "manifest.received",
        receive_body(&m7, &[(OIL, 2_000)]),
        &at(-0.8),
    )
    .await;
    ok_at(
        &l,
        &v,
        "manifest.disposed",
        dispose_body(&m7, &[(OIL, 2_000, "R9")]),
        &at(-0.7),
    )
    .await;
    // M6: on the road for an hour; M5: opened, its 500 g still reserved in lot A.
    let m6 = new_id();
    ok_at(
        &l,
        &g,
        "manifest.opened",
        run(&m6, &g, OIL, 1_000),
        &at(-0.1),
    )
    .await;
    ok_at(&l, &c, "manifest.picked_up", pick_up_body(&m6), &at(-0.05)).await;
    let m5 = new_id();
    ok_at(
        &l,
        &g,
        "manifest.opened",
        run(&m5, &g, OIL, 500),
        &at(-0.04),
    )
    .await;

    // Tickets opened together with their cause.
    let tickets = automatic_tickets(&l).await;
    let kinds: Vec<&str> = tickets.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "quantity_shortfall",
            "transit_overdue",
            "unlicensed_handling"
        ],
        "{tickets:?}"
    );
    assert_eq!(tickets[0].1, json!({"manifest": m2}));
    assert_eq!(
        (tickets[0].2, tickets[0].3.as_str()),
        (100, m2_receipt.as_str())
    );
    assert_eq!(
        tickets[0].4,
        ticket_id("quantity_shortfall", &m2).to_string()
    );
    let m8_deadline =
        ts(hwledger::protocol::time::parse_timestamp(&m8_pickup).unwrap() + Duration::days(1));
    assert_eq!(
        (&tickets[1].1, tickets[1].2, tickets[1].3.as_str()),
        (&json!({"manifest": m8}), 1_000, m8_deadline.as_str())
    );
    assert_eq!(
        (&tickets[2].1, tickets[2].2, tickets[2].3.as_str()),
        (&json!({"manifest": m4}), 1_000, m4_disposal.as_str())
    );

    // The sweep opens the three passed deadlines, once.
    let sequencer = l.service.as_ref().unwrap().state.sequencer.clone();
    assert_eq!(sequencer.sweep().await.unwrap(), 3);
    assert_eq!(
        sequencer.sweep().await.unwrap(),
        0,
        "a second sweep opens nothing"
    );
    let tickets = automatic_tickets(&l).await;
    let swept: Vec<(&str, &Value, i64)> = tickets[3..]
        .iter()
        .map(|t| (t.0.as_str(), &t.1, t.2))
        .collect();
    assert!(
        swept.contains(&("transit_overdue", &json!({"manifest": m3}), 3_000)),
        "{swept:?}"
    );
    assert!(
        swept.contains(&("disposal_overdue", &json!({"manifest": m2}), 1_900)),
        "{swept:?}"
    );
    let storage = swept
        .iter()
        .find(|t| t.0 == "storage_overdue")
        .expect("lot A is overdue");
    assert_eq!(
        (
            storage.1["org"].as_str(),
            storage.1["code"].as_str(),
            storage.2
        ),
        (Some(g.org.as_str()), Some(OIL), 2_000)
    );
    let m3_deadline =
        ts(hwledger::protocol::time::parse_timestamp(&m3_pickup).unwrap() + Duration::days(1));
    assert!(tickets
        .iter()
        .any(|t| t.0 == "transit_overdue" && t.3 == m3_deadline));

    // The figures (§8), worked by hand.
    let all = stats(&l, "").await;
    assert_figures(&all, 3_000, 8_000, 2_000, 4_000);
    assert_eq!(
        all["improper_by_kind"],
        json!({"quantity_shortfall": 100, "unlicensed_receipt": 0, "unlicensed_handling": 1_000,
               "transit_overdue": 3_000, "disposal_overdue": 1_900, "storage_overdue": 2_000})
    );
    assert_eq!(all["limits"]["transit_s"], DAY);
    assert_figures(&stats(&l, "?region=3205").await, 2_000, 0, 0, 0);
    assert_figures(
        &stats(&l, "?region=320404").await,
        1_000,
        8_000,
        2_000,
        4_000,
    );
    assert_figures(
        &stats(&l, &format!("?org={}", g2.org)).await,
        2_000,
        0,
        0,
        0,
    );
    assert_figures(&stats(&l, "?category=HW49").await, 0, 1_000, 0, 4_000);
    assert_figures(
        &stats(&l, &format!("?org={}", org_id(99))).await,
        0,
        0,
        0,
        0,
    );
    assert_figures(
        &stats(&l, &format!("?from={}", date(cst(now - Duration::days(6))))).await,
        2_000,
        4_000,
        2_000,
        4_000,
    );
    assert_figures(
        &stats(&l, &format!("?to={}", date(cst(now - Duration::days(7))))).await,
        1_000,
        4_000,
        0,
        0,
    );
    // In three days, M6 (picked up an hour ago) is overdue in transit too, and M8 awaits disposal past its deadline.
    let later = ts(now + Duration::days(3));
    let v3 = stats(&l, &format!("?as_of={later}")).await;
    assert_eq!(v3["improper_by_kind"]["transit_overdue"], 4_000, "{v3}");
    assert_eq!(v3["improper_by_kind"]["disposal_overdue"], 2_900, "{v3}");
    for bad in [
        "?category=HW8",
        "?from=2026-13-01",
        "?region=32a",
        "?size=0",
        "?colour=red",
        "?as_of=yesterday",
    ] {
        assert_problem(
            &l.get(&format!("/v1/stats/disposal{bad}")).await,
            400,
            "invalid_query",
        );
    }

    // A prefix: before M2's receipt nothing was improper but lot A's storage.
    let (_, page) = l.get("/v1/entries?limit=1000").await;
    let receipt_seq = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["event"]["type"] == "manifest.received" && e["event"]["body"]["manifest"] == json!(m2)
        })
        .unwrap()["seq"]
        .as_u64()
        .unwrap();
    let before = stats(&l, &format!("?size={receipt_seq}")).await;
    assert_eq!(before["size"], receipt_seq);
    assert_eq!(
        before["improper_by_kind"]["quantity_shortfall"], 0,
        "{before}"
    );
    assert_eq!(before["proper_g"], 1_000);

    // Restart: the state is rebuilt, and sweeps still open nothing twice.
    l.restart().await;
    let sequencer = l.service.as_ref().unwrap().state.sequencer.clone();
    assert_eq!(sequencer.sweep().await.unwrap(), 0);
    assert_eq!(automatic_tickets(&l).await.len(), 6);
    assert_figures(&stats(&l, "").await, 3_000, 8_000, 2_000, 4_000);

    // verify recomputes the same figures offline as the service shows for the whole prefix.
    let size = l.size().await;
    let service = stats(&l, &format!("?size={size}")).await;
    l.stop().await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hwledger"))
        .args([
            "verify",
            "--db",
            &l.db.url,
            "--ledger-key",
            &l.ledger_public(),
        ])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rate = service["rate"].as_f64().unwrap() * 100.0;
    assert!(
        text.contains(&format!(
            "rate as of the last entry ({}): {rate:.4}%",
            service["as_of"].as_str().unwrap()
        )),
        "{text}\n{service}"
    );
    assert!(
        text.contains(&format!(
            "proper {} g, improper {} g, pending {} g, stored {} g",
            service["proper_g"], service["improper_g"], service["pending_g"], service["stored_g"]
        )),
        "{text}\n{service}"
    );
    assert!(
        text.contains("conditions awaiting an automatic ticket now: 0"),
        "{text}"
    );
});

storage_test!(forged_automatic_tickets_are_refused, |b| async move {
    let l = TestLedger::start_with(
        b,
        LimitFlags {
            transit_s: Some(DAY),
            ..Default::default()
        },
    )
    .await;
    let s = Scene::new(&l, 10).await;
    declare(&l, &s.gen, OIL, 5_000, &cst_day(0)).await;
    let m = open(&l, &s.gen, &s.carrier, &s.receiver, &[(OIL, 1_000)]).await;
    pick_up(&l, &s.carrier, &m).await;
    // Not overdue yet: the ledger key cannot open a transit ticket for it.
    let id = ticket_id("transit_overdue", &m).to_string();
    let body = json!({"ticket": id, "kind": "transit_overdue", "subject": {"manifest": m}, "summary": "伪造", "quantity_g": 1_000});
    let mut e = event("ledger", "ticket.opened", body.clone());
    e["id"] = json!(id);
    assert_problem(&l.post(&sign(&e, &l.ledger_key)).await, 403, "forbidden");
    // A regulator may not open an automatic kind at all.
    assert_problem(
        &l.submit(&l.regulator, "ticket.opened", body).await,
        403,
        "forbidden",
    );
    // Nobody but the ledger may take an automatic ticket's id for an event of its own, which
    // would keep that ticket from ever being recorded.
    let mut early = event(
        &s.receiver.org,
        "manifest.received",
        receive_body(&m, &[(OIL, 10)]),
    );
    early["id"] = json!(ticket_id("quantity_shortfall", &m).to_string());
    assert_problem(
        &l.post(&sign(&early, &s.receiver.key)).await,
        400,
        "invalid_event",
    );
    // Received in full and on time: no ticket of any kind.
    receive(&l, &s.receiver, &m, &[(OIL, 1_000)]).await;
    assert!(automatic_tickets(&l).await.is_empty());
    assert_eq!(l.sweep().await, 0);
    // A shortfall within tolerance (1 %) is weighing error.
    let m2 = open(&l, &s.gen, &s.carrier, &s.receiver, &[(OIL, 1_000)]).await;
    pick_up(&l, &s.carrier, &m2).await;
    receive(&l, &s.receiver, &m2, &[(OIL, 990)]).await;
    assert!(automatic_tickets(&l).await.is_empty());
    let v = stats(&l, "").await;
    assert_figures(&v, 0, 0, 1_990, 3_000);
});

storage_test!(
    deadlines_keep_the_limits_in_force_at_their_start,
    |b| async move {
        // §7: a deadline is start + the limit in force just after its start entry; a later
        // `ledger.limits_set` moves only the deadlines that start after it.
        let limits = LimitFlags {
            transit_s: Some(DAY),
            disposal_s: Some(DAY),
            storage_s: Some(2 * DAY),
            ..Default::default()
        };
        let l = TestLedger::start_with(b, limits).await;
        let g = l.register(1, &["generator"], "320404").await;
        let c = l.register(3, &["carrier"], "320404").await;
        let v = l.register(4, &["receiver"], "320411").await;
        l.ok(
            &l.regulator,
            "license.issued",
            licence_body(
                "苏危废经营002",
                &v,
                1_000_000_000,
                &cst_day(-365),
                &cst_day(365),
                json!([scope(&["HW08", "HW49"], &["store", "utilize", "dispose"])]),
            ),
        )
        .await;
        let now = Utc::now();
        let at = |d: f64| ts(now + Duration::seconds((d * DAY as f64) as i64));
        let run = |id: &str, q: i64| open_body(id, &g, &c, &v, &[(OIL, q)]);

        // Under the short limits: lot A (storage 2 days), M1 picked up (transit 1 day), M3
        // received (disposal 1 day).
        let lot_a = ok_at(
            &l,
            &g,
            "waste.declared",
            declare_body(&g, OIL, 10_000, &date(cst(now - Duration::days(5)))),
            &at(-5.0),
        )
        .await["seq"]
            .as_u64()
            .unwrap();
        let (m1, m2, m3) = (new_id(), new_id(), new_id());
        ok_at(&l, &g, "manifest.opened", run(&m1, 1_000), &at(-4.9)).await;
        let m1_pickup = at(-4.8);
        ok_at(&l, &c, "manifest.picked_up", pick_up_body(&m1), &m1_pickup).await;
        ok_at(&l, &g, "manifest.opened", run(&m3, 1_000), &at(-4.7)).await;
        ok_at(&l, &c, "manifest.picked_up", pick_up_body(&m3), &at(-4.6)).await;
        let m3_receipt = at(-4.5);
        ok_at(
            &l,
            &v,
            "manifest.received",
            receive_body(&m3, &[(OIL, 1_000)]),
            &m3_receipt,
        )
        .await;

        // The bureau relaxes every limit to 10 days (storage 30).
        l.ok(
            &l.regulator,
            "ledger.limits_set",
            json!({"limits": {"transit_s": 10 * DAY, "disposal_s": 10 * DAY, "storage_s": 30 * DAY,
                          "max_backdate_s": 14 * DAY, "shortfall_bp": 100},
               "reason": "放宽期限"}),
        )
        .await;

        // Under the new limits: lot B, and M2 picked up.
        ok_at(
            &l,
            &g,
            "waste.declared",
            declare_body(&g, PACKAGING, 5_000, &date(cst(now - Duration::days(4)))),
            &at(-4.0),
        )
        .await;
        ok_at(&l, &g, "manifest.opened", run(&m2, 1_000), &at(-4.0)).await;
        ok_at(&l, &c, "manifest.picked_up", pick_up_body(&m2), &at(-3.9)).await;

        // Both arrive two days later: only M1 was late, by the limit of its pickup.
        for m in [&m1, &m2] {
            ok_at(
                &l,
                &v,
                "manifest.received",
                receive_body(m, &[(OIL, 1_000)]),
                &at(-2.0),
            )
            .await;
        }
        let parse = |t: &str| hwledger::protocol::time::parse_timestamp(t).unwrap();
        let tickets = automatic_tickets(&l).await;
        assert_eq!(tickets.len(), 1, "{tickets:?}");
        assert_eq!(
            (tickets[0].0.as_str(), &tickets[0].1, tickets[0].3.as_str()),
            (
                "transit_overdue",
                &json!({"manifest": m1}),
                ts(parse(&m1_pickup) + Duration::days(1)).as_str()
            )
        );

        // The sweep: M3's disposal and lot A's storage passed under the limits of their start;
        // lot B and M1, M2 (received under 10 days of disposal) are within theirs.
        let sequencer = l.service.as_ref().unwrap().state.sequencer.clone();
        assert_eq!(sequencer.sweep().await.unwrap(), 2);
        let tickets = automatic_tickets(&l).await;
        let mut swept: Vec<(&str, &Value, &str)> = tickets[1..]
            .iter()
            .map(|t| (t.0.as_str(), &t.1, t.3.as_str()))
            .collect();
        swept.sort_by_key(|t| t.0);
        let lot_a_deadline = hwledger::protocol::time::cst_day_start(cst(now - Duration::days(5)))
            + Duration::days(2);
        assert_eq!(
            swept,
            [
                (
                    "disposal_overdue",
                    &json!({"manifest": m3}),
                    ts(parse(&m3_receipt) + Duration::days(1)).as_str()
                ),
                (
                    "storage_overdue",
                    &json!({"org": g.org, "code": OIL, "lot": lot_a}),
                    ts(lot_a_deadline).as_str()
                ),
            ]
        );
    }
);
