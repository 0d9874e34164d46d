//! Management classes, plans and declarations (HJ 1259-2022) through the real router, on
//! SQLite and PostgreSQL, with the ledger's clock set by the test so that due moments pass:
//! three units (重点监管, 简化管理, 登记管理) through 2027 and into 2028, with every report
//! checked against figures worked out by hand, and the compliance tickets of §7 at the
//! boundary seconds of their due moments.

mod common;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use common::fixtures::*;
use common::harness::*;
use hwledger::protocol::time;
use hwledger::sequencer::Clock;
use hwledger::service::LimitFlags;
use serde_json::{json, Value};

const R_LICENCE: &str = "JS0411OOD001-1";
const R2_LICENCE: &str = "JS0106OOD002-1";

fn t(s: &str) -> DateTime<Utc> {
    time::parse_timestamp(s).unwrap()
}

/// The tickets of a kind, in opening order.
async fn tickets(l: &TestLedger, kind: &str) -> Vec<Value> {
    let (status, v) = l.get(&format!("/v1/tickets?kind={kind}&limit=1000")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["tickets"].as_array().unwrap().clone()
}

/// The subject keys of a kind's tickets, in opening order.
async fn keys(l: &TestLedger, kind: &str) -> Vec<String> {
    tickets(l, kind)
        .await
        .iter()
        .map(|t| {
            let s = &t["subject"];
            match kind {
                "plan_missing" => format!("{}:{}", s["org"].as_str().unwrap(), s["year"]),
                "declaration_overdue" => format!(
                    "{}:{}",
                    s["org"].as_str().unwrap(),
                    s["period"].as_str().unwrap()
                ),
                _ => s["manifest"].as_str().unwrap().to_owned(),
            }
        })
        .collect()
}

async fn report(l: &TestLedger, org: &Actor, period: &str) -> Value {
    let (status, v) = l
        .get(&format!(
            "/v1/reports/declaration?org={}&period={period}",
            org.org
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // The stock identity holds in every report, per code.
    for line in v["lines"].as_array().unwrap() {
        let sum = |list: &str| -> i64 {
            line[list]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["quantity_g"].as_i64().unwrap())
                .sum()
        };
        let g = |k: &str| line[k].as_i64().unwrap();
        assert_eq!(
            g("opening_stock_g") + g("generated_g") - sum("treated_onsite") - sum("transferred"),
            g("closing_stock_g"),
            "stock identity of {line}"
        );
        assert!(g("opening_stock_g") >= 0 && g("closing_stock_g") >= 0);
    }
    v
}

/// The report's own hash, recomputed here as §6 defines it over exactly org, period and lines.
fn recomputed_hash(r: &Value) -> String {
    use sha2::{Digest, Sha256};
    let body = json!({"org": r["org"], "period": r["period"], "lines": r["lines"]});
    let mut h = Sha256::new();
    h.update(b"hwledger/report/v1\n");
    h.update(hwledger::protocol::jcs::canonical(&body));
    hex::encode(h.finalize())
}

async fn file_declaration(
    l: &TestLedger,
    org: &Actor,
    period: &str,
    hash: &str,
) -> (StatusCode, Value) {
    l.submit(
        org,
        "declaration.filed",
        json!({"org": org.org, "period": period, "report_sha256": hash}),
    )
    .await
}

fn open_body(id: &str, g: &Actor, c: &Actor, r: &Actor, q: i64) -> Value {
    json!({"manifest": id, "generator": g.org, "carrier": c.org, "receiver": r.org,
           "lines": [{"code": OIL, "quantity_g": q}]})
}

async fn verify(l: &TestLedger) {
    let (ok, text) = verify_db(l).await;
    assert!(ok, "verify failed: {text}");
}

storage_test!(three_units_through_a_year, |b| async move {
    let clock = Clock::manual(t("2027-01-05T02:00:00Z"));
    let limits = LimitFlags {
        compliance_from: Some(Some(chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap())),
        ..Default::default()
    };
    let l = TestLedger::start_at(b, limits, clock.clone()).await;
    let g = l.register(101, &["generator"], ZHONGLOU).await;
    let g2 = l.register(102, &["generator"], ZHONGLOU).await;
    let g3 = l.register(103, &["generator"], XINBEI).await;
    let c = l.register(201, &["carrier"], ZHONGLOU).await;
    let r = l.register(301, &["receiver"], XINBEI).await;
    let r2 = l.register(302, &["receiver"], GULOU_NJ).await;
    for (holder, number) in [(&r, R_LICENCE), (&r2, R2_LICENCE)] {
        issue_licence_valid(
            &l,
            holder,
            number,
            100_000_000,
            "2027-01-01",
            "2029-12-31",
            json!([scope(&["HW08"], &["store", "dispose"])]),
        )
        .await;
    }
    l.ok(
        &l.regulator,
        "facility.registered",
        json!({"org": g.org, "facility": "LY01", "kind": "utilize", "capacity_g": 50_000_000,
               "methods": ["R9"], "name": "废油再生装置"}),
    )
    .await;
    // Classes: set for G (key) and G3 (simplified); G2 is derived (registered: no facility,
    // no licence, nothing declared in 2024–2026).
    for (unit, class) in [(&g, "key"), (&g3, "simplified")] {
        l.ok(
            &l.regulator,
            "org.class_set",
            json!({"org": unit.org, "class": class, "reason": "列入名录"}),
        )
        .await;
    }
    let (_, org) = l.get(&format!("/v1/orgs/{}", g3.org)).await;
    assert_eq!(org["class"]["class"], "simplified");
    assert_eq!(org["class"]["set"], true);
    let (_, org) = l.get(&format!("/v1/orgs/{}", g2.org)).await;
    assert_eq!(org["class"]["class"], "registered");
    assert_eq!(org["class"]["set"], false);

    // January: declarations, an opening with no plan in force, a short disposal, a treatment.
    clock.set(t("2027-01-10T02:00:00Z"));
    declare(&l, &g, OIL, 2_000_000, "2027-01-10").await;
    declare(&l, &g2, OIL, 300_000, "2027-01-10").await;
    declare(&l, &g3, OIL, 400_000, "2027-01-10").await;
    clock.set(t("2027-01-12T02:00:00Z"));
    let m1 = "10000000-0000-4000-8000-000000000001";
    let opened = l
        .ok(&g, "manifest.opened", open_body(m1, &g, &c, &r, 500_000))
        .await;
    let unplanned = tickets(&l, "unplanned_transfer").await;
    assert_eq!(unplanned.len(), 1, "no plan is in force in January");
    assert_eq!(unplanned[0]["subject"]["manifest"], m1);
    assert_eq!(unplanned[0]["quantity_g"], 500_000);
    assert_eq!(unplanned[0]["history"][0]["seq"], seq(&opened) + 1);
    l.ok(
        &c,
        "manifest.picked_up",
        json!({"manifest": m1, "vehicle": "苏D12345"}),
    )
    .await;
    clock.set(t("2027-01-13T02:00:00Z"));
    l.ok(
        &r,
        "manifest.received",
        json!({"manifest": m1, "lines": [{"code": OIL, "quantity_g": 500_000}]}),
    )
    .await;
    clock.set(t("2027-01-14T02:00:00Z"));
    l.ok(
        &r,
        "manifest.disposed",
        json!({"manifest": m1, "lines": [{"code": OIL, "quantity_g": 490_000, "method": "D10"}]}),
    )
    .await;
    let short = tickets(&l, "disposal_short").await;
    assert_eq!(short.len(), 1);
    assert_eq!(short[0]["quantity_g"], 10_000);
    assert_eq!(
        short[0]["ticket"],
        uuid::Uuid::new_v5(
            &hwledger::domain::oversight::TICKET_NAMESPACE,
            format!("disposal_short:{m1}:disposal").as_bytes()
        )
        .to_string()
    );
    clock.set(t("2027-01-20T02:00:00Z"));
    l.ok(
        &g,
        "waste.treated",
        json!({"generator": g.org, "facility": "LY01", "code": OIL, "quantity_g": 200_000,
               "method": "R9", "date": "2027-01-20"}),
    )
    .await;

    // February 10: January's report, filed first with a stale hash, then with the right one.
    clock.set(t("2027-02-10T02:00:00Z"));
    let jan = report(&l, &g, "2027-01").await;
    assert_eq!(
        jan,
        json!({"org": g.org, "period": "2027-01", "size": jan["size"], "from": "2027-01-01", "to": "2027-02-01",
               "class": "key", "report_sha256": jan["report_sha256"],
               "lines": [{"code": OIL, "generated_g": 2_000_000,
                          "treated_onsite": [{"method": "R9", "quantity_g": 200_000}],
                          "transferred": [{"receiver": r.org, "license": R_LICENCE, "quantity_g": 500_000}],
                          "opening_stock_g": 0, "closing_stock_g": 1_300_000}]})
    );
    assert_eq!(jan["report_sha256"], recomputed_hash(&jan));
    let stale = jan["report_sha256"].as_str().unwrap().to_owned();
    // Paper records entered late: 100 kg more, dated 31 January (within max_backdate).
    declare(&l, &g, OIL, 100_000, "2027-01-31").await;
    assert_problem(
        &file_declaration(&l, &g, "2027-01", &stale).await,
        422,
        "report_mismatch",
    );
    let jan = report(&l, &g, "2027-01").await;
    assert_eq!(jan["lines"][0]["generated_g"], 2_100_000);
    assert_eq!(jan["lines"][0]["closing_stock_g"], 1_400_000);
    let fresh = jan["report_sha256"].as_str().unwrap().to_owned();
    assert_ne!(fresh, stale);
    l.ok(
        &g,
        "declaration.filed",
        json!({"org": g.org, "period": "2027-01", "report_sha256": fresh}),
    )
    .await;
    let (_, filed) = l.get(&format!("/v1/declarations/{}", g.org)).await;
    assert_eq!(filed["declarations"].as_array().unwrap().len(), 1);
    assert_eq!(filed["declarations"][0]["period"], "2027-01");
    assert_eq!(filed["declarations"][0]["report_sha256"], fresh.as_str());
    let (status, _) = l.get_as(&g2, &format!("/v1/declarations/{}", g.org)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another unit's declarations");
    assert_problem(
        &file_declaration(&l, &g, "2027-02", &fresh).await,
        422,
        "bad_date",
    );
    assert_problem(
        &file_declaration(&l, &g2, "2027-01", &fresh).await,
        422,
        "report_mismatch",
    );
    assert_problem(
        &l.submit(
            &g,
            "declaration.filed",
            json!({"org": g2.org, "period": "2027-01", "report_sha256": fresh}),
        )
        .await,
        403,
        "forbidden",
    );
    // The CSV of 附录C: one row, the transfer's, carrying the generation and the stock.
    let csv = csv(
        &l,
        &format!("/v1/reports/declaration.csv?org={}&period=2027-01", g.org),
    )
    .await;
    assert!(csv.starts_with('\u{feff}'));
    let rows: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
    assert_eq!(
        rows[0],
        "危险废物名称,危险废物类别,危险废物代码,产生量(吨),自行利用/处置方式,自行利用/处置量(吨),省(区、市),单位名称,危险废物经营许可证编号,委托利用/处置量(吨),上月底剩余贮存量(吨),本月底剩余贮存量(吨)"
    );
    assert!(
        rows[1].ends_with(",HW08,900-249-08,2.100000,R9,0.200000,,,,,0.000000,1.400000"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].ends_with(&format!(
            ",HW08,900-249-08,,,,320000,单位301,{R_LICENCE},0.500000,,"
        )),
        "{}",
        rows[2]
    );
    assert_eq!(rows.len(), 4, "two rows and the final CRLF: {csv}");

    // February's declaration is due at 2027-03-16 00:00 CST = 2027-03-15T16:00:00Z. An entry
    // recorded exactly then is still before the deadline; one a millisecond later is not.
    clock.set(t("2027-03-15T16:00:00Z"));
    l.register(401, &["carrier"], ZHONGLOU).await;
    assert!(keys(&l, "declaration_overdue").await.is_empty());
    clock.set(t("2027-03-15T16:00:00.001Z"));
    let later = l.register(402, &["carrier"], ZHONGLOU).await;
    let overdue = tickets(&l, "declaration_overdue").await;
    assert_eq!(
        keys(&l, "declaration_overdue").await,
        vec![format!("{}:2027-02", g.org)],
        "the key unit owes February; G3 declares quarters and G2 years"
    );
    assert_eq!(overdue[0]["opened_at"], "2027-03-15T16:00:00Z");
    assert_eq!(overdue[0]["quantity_g"], Value::Null);
    let (_, entries) = l.get("/v1/entries?from=0&limit=1000").await;
    let all = entries["entries"].as_array().unwrap();
    let last = all.last().unwrap();
    assert_eq!(last["event"]["body"]["org"], later.org);
    assert_eq!(
        all[all.len() - 2]["event"]["body"]["kind"],
        "declaration_overdue",
        "the ticket precedes the first entry recorded after its due moment"
    );

    // The plan for 2027, filed on 20 March; then generation past it, and openings in and
    // outside it.
    clock.set(t("2027-03-20T02:00:00Z"));
    for (body, status, code) in [
        (
            json!({"org": g.org, "year": 2029, "lines": [{"code": OIL, "generate_g": 1, "transfers": []}]}),
            422,
            "bad_date",
        ),
        (
            json!({"org": g.org, "year": 2027, "lines": [{"code": "900-999-08", "generate_g": 1, "transfers": []}]}),
            422,
            "unknown_waste_code",
        ),
        (
            json!({"org": g.org, "year": 2029, "lines": [{"code": OIL, "generate_g": 1, "transfers": [{"receiver": org_id(999), "quantity_g": 1}]}]}),
            422,
            "unknown_org",
        ),
        (
            json!({"org": g.org, "year": 2027, "lines": [{"code": OIL, "generate_g": 1, "transfers": [{"receiver": c.org, "quantity_g": 1}]}]}),
            422,
            "not_a_receiver",
        ),
        (
            json!({"org": g2.org, "year": 2027, "lines": [{"code": OIL, "generate_g": 1, "transfers": []}]}),
            403,
            "forbidden",
        ),
    ] {
        assert_problem(&l.submit(&g, "plan.filed", body).await, status, code);
    }
    l.ok(
        &g,
        "plan.filed",
        json!({"org": g.org, "year": 2027, "lines": [
            {"code": OIL, "generate_g": 2_500_000, "treat_onsite_g": 400_000,
             "transfers": [{"receiver": r.org, "quantity_g": 1_500_000}]}]}),
    )
    .await;
    assert!(
        tickets(&l, "plan_exceeded").await.is_empty(),
        "2.1 t declared is within 2.5 t + 20 %"
    );
    declare(&l, &g, OIL, 1_000_000, "2027-03-20").await;
    let exceeded = tickets(&l, "plan_exceeded").await;
    assert_eq!(exceeded.len(), 1, "3.1 t is past 3.0 t");
    assert_eq!(
        exceeded[0]["subject"],
        json!({"org": g.org, "year": 2027, "code": OIL, "manifest": null, "lot": null, "site": null,
               "facility": null, "seq": null, "period": null, "containers": null})
    );
    assert_eq!(exceeded[0]["quantity_g"], 600_000);
    let m2 = "10000000-0000-4000-8000-000000000002";
    let m3 = "10000000-0000-4000-8000-000000000003";
    l.ok(&g, "manifest.opened", open_body(m2, &g, &c, &r, 200_000))
        .await;
    l.ok(&g, "manifest.opened", open_body(m3, &g, &c, &r2, 100_000))
        .await;
    assert_eq!(
        keys(&l, "unplanned_transfer").await,
        vec![m1.to_owned(), m3.to_owned()],
        "M2 goes to a planned receiver, M3 does not"
    );
    let (status, plan) = l.get(&format!("/v1/plans/{}/2027", g.org)).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(
        plan["lines"],
        json!([{"code": OIL, "generate_g": 2_500_000, "treat_onsite_g": 400_000, "declared_g": 3_100_000,
                "transfers": [{"receiver": r.org, "quantity_g": 1_500_000, "shipped_g": 500_000}]}])
    );
    let (status, _) = l.get_as(&g2, &format!("/v1/plans/{}/2027", g.org)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another unit's plan");
    let (status, _) = l.get_as(&g, &format!("/v1/plans/{}/2027", g.org)).await;
    assert_eq!(status, StatusCode::OK, "its own plan");
    assert_problem(
        &l.get(&format!("/v1/plans/{}/20x7", g.org)).await,
        400,
        "invalid_query",
    );

    // 1 April 00:00 CST (2027-03-31T16:00:00Z): G2 and G3 declared waste in 2027 and filed no
    // plan. At the due moment itself they are still in time.
    clock.set(t("2027-03-31T16:00:00Z"));
    l.register(403, &["carrier"], ZHONGLOU).await;
    assert!(keys(&l, "plan_missing").await.is_empty());
    clock.set(t("2027-03-31T16:00:00.001Z"));
    l.register(404, &["carrier"], ZHONGLOU).await;
    assert_eq!(
        keys(&l, "plan_missing").await,
        vec![format!("{}:2027", g2.org), format!("{}:2027", g3.org)]
    );
    assert_eq!(
        tickets(&l, "plan_missing").await[0]["opened_at"],
        "2027-03-31T16:00:00Z"
    );
    // G2 files its plan late: accepted and in force from now on; the ticket stays.
    clock.set(t("2027-04-05T02:00:00Z"));
    l.ok(
        &g2,
        "plan.filed",
        json!({"org": g2.org, "year": 2027, "lines": [
            {"code": OIL, "generate_g": 400_000, "transfers": [{"receiver": r.org, "quantity_g": 300_000}]}]}),
    )
    .await;
    let m4 = "10000000-0000-4000-8000-000000000004";
    l.ok(&g2, "manifest.opened", open_body(m4, &g2, &c, &r, 100_000))
        .await;
    assert_eq!(
        keys(&l, "unplanned_transfer").await,
        vec![m1.to_owned(), m3.to_owned()],
        "G2's transfer to R is in its (late) plan"
    );
    assert_eq!(keys(&l, "plan_missing").await.len(), 2);
    // 16 April 00:00 CST, by the sweeper: March for the key unit, Q1 for the simplified one;
    // a sweep at the due moment itself opens nothing.
    clock.set(t("2027-04-15T16:00:00Z"));
    l.sweep().await;
    assert_eq!(keys(&l, "declaration_overdue").await.len(), 1);
    clock.set(t("2027-04-15T16:00:00.001Z"));
    l.sweep().await;
    assert_eq!(
        keys(&l, "declaration_overdue").await,
        vec![
            format!("{}:2027-02", g.org),
            format!("{}:2027-03", g.org),
            format!("{}:2027-Q1", g3.org),
        ]
    );

    // January 2028: G files its year ahead of 1 April; the months and quarters passed since
    // April 2027 are ticketed before its entry.
    clock.set(t("2028-01-05T02:00:00Z"));
    let year = report(&l, &g, "2027").await;
    assert_eq!(year["class"], "key");
    assert_eq!(
        year["lines"],
        json!([{"code": OIL, "generated_g": 3_100_000,
                "treated_onsite": [{"method": "R9", "quantity_g": 200_000}],
                "transferred": [{"receiver": r.org, "license": R_LICENCE, "quantity_g": 500_000}],
                "opening_stock_g": 0, "closing_stock_g": 2_400_000}])
    );
    l.ok(
        &g,
        "declaration.filed",
        json!({"org": g.org, "period": "2027", "report_sha256": year["report_sha256"]}),
    )
    .await;
    let mut expected: Vec<String> = vec![
        format!("{}:2027-02", g.org),
        format!("{}:2027-03", g.org),
        format!("{}:2027-Q1", g3.org),
    ];
    // Within one due moment by subject key; due moments in order.
    for (month, quarter) in [
        (4, None),
        (5, None),
        (6, Some("Q2")),
        (7, None),
        (8, None),
        (9, Some("Q3")),
        (10, None),
        (11, None),
    ] {
        expected.push(format!("{}:2027-{month:02}", g.org));
        if let Some(q) = quarter {
            expected.push(format!("{}:2027-{q}", g3.org));
        }
    }
    assert_eq!(keys(&l, "declaration_overdue").await, expected);

    // 1 April 2028 has passed when the sweeper next runs: December, Q4, January, February,
    // the plans for 2028 of all three, and the 2027 years of G2 and G3 (G filed).
    clock.set(t("2028-03-31T16:00:00Z"));
    l.sweep().await;
    assert_eq!(
        keys(&l, "plan_missing").await.len(),
        2,
        "not yet at the due moment"
    );
    clock.set(t("2028-04-02T00:00:00Z"));
    l.sweep().await;
    expected.extend([
        format!("{}:2027-12", g.org),
        format!("{}:2027-Q4", g3.org),
        format!("{}:2028-01", g.org),
        format!("{}:2028-02", g.org),
        format!("{}:2027", g2.org),
        format!("{}:2027", g3.org),
    ]);
    assert_eq!(keys(&l, "declaration_overdue").await, expected);
    assert_eq!(
        keys(&l, "plan_missing").await,
        vec![
            format!("{}:2027", g2.org),
            format!("{}:2027", g3.org),
            format!("{}:2028", g.org),
            format!("{}:2028", g2.org),
            format!("{}:2028", g3.org),
        ]
    );

    // Compliance is counted apart from the rate, once per condition.
    let (_, stats) = l.get("/v1/stats/disposal?as_of=2028-04-02T00:00:00Z").await;
    assert_eq!(
        stats["compliance_by_kind"],
        json!({"disposal_short": 1, "storage_over_capacity": 0, "unplanned_transfer": 2,
               "plan_exceeded": 1, "plan_missing": 5, "declaration_overdue": expected.len()})
    );
    // M1's counted 500 kg are proper (its disposal was covered); the 10 kg its disposal lacks
    // are a compliance condition, not waste lost. The 200 kg treated on site are proper too.
    assert_eq!(stats["proper_g"], 500_000 + 200_000);
    assert_eq!(stats["treated_onsite_g"], 200_000);
    let (_, only_g2) = l
        .get(&format!(
            "/v1/stats/disposal?as_of=2028-04-02T00:00:00Z&org={}",
            g2.org
        ))
        .await;
    assert_eq!(only_g2["compliance_by_kind"]["plan_missing"], 2);
    assert_eq!(only_g2["compliance_by_kind"]["declaration_overdue"], 1);
    let (_, oil) = l
        .get("/v1/stats/disposal?as_of=2028-04-02T00:00:00Z&category=HW08")
        .await;
    assert_eq!(
        oil["compliance_by_kind"],
        json!({"disposal_short": 0, "storage_over_capacity": 0, "unplanned_transfer": 0,
               "plan_exceeded": 1, "plan_missing": 0, "declaration_overdue": 0}),
        "only plan_exceeded names a code"
    );

    // Anyone holding the entries recomputes every report hash and ticket.
    verify(&l).await;
});

storage_test!(a_report_of_an_earlier_prefix_replays, |b| async move {
    let clock = Clock::manual(t("2027-05-03T02:00:00Z"));
    let l = TestLedger::start_at(b, LimitFlags::default(), clock.clone()).await;
    let g = l.register(101, &["generator"], ZHONGLOU).await;
    declare(&l, &g, OIL, 700_000, "2027-05-02").await;
    let size = l.size().await;
    declare(&l, &g, OIL, 300_000, "2027-05-03").await;
    let (_, then) = l
        .get(&format!(
            "/v1/reports/declaration?org={}&period=2027-05&size={size}",
            g.org
        ))
        .await;
    assert_eq!(then["size"], size);
    assert_eq!(then["lines"][0]["generated_g"], 700_000);
    assert_eq!(then["report_sha256"], recomputed_hash(&then));
    let now = report(&l, &g, "2027-05").await;
    assert_eq!(now["lines"][0]["generated_g"], 1_000_000);
    let (_, derived) = l.get(&format!("/v1/orgs/{}", g.org)).await;
    assert_eq!(derived["class"]["set"], false);
    for bad in ["2027-13", "2027-Q0", "27", ""] {
        let (status, v) = l
            .get(&format!(
                "/v1/reports/declaration?org={}&period={bad}",
                g.org
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_eq!(v["code"], "invalid_query");
    }
    let stranger = l.register(102, &["generator"], ZHONGLOU).await;
    let (status, _) = l
        .get_as(
            &stranger,
            &format!("/v1/reports/declaration?org={}&period=2027-05", g.org),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
});

async fn csv(l: &TestLedger, path: &str) -> String {
    let (status, v) = l.get(path).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v.as_str().expect("a CSV text").to_owned()
}

/// The due tickets are part of the chain's rules: replaying the entries without one (as a
/// verifier does, with each entry's `recorded_at` as the clock) refuses the first entry
/// recorded after the due moment, naming the missing ticket; with it, every entry replays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_due_ticket_breaks_the_replay() {
    use hwledger::domain::state::{State, Verdict};
    use hwledger::protocol::event::{EntryView, Prepared};
    let clock = Clock::manual(t("2027-01-20T02:00:00Z"));
    let limits = LimitFlags {
        compliance_from: Some(Some(chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap())),
        ..Default::default()
    };
    let l = TestLedger::start_at(Backend::Sqlite, limits, clock.clone()).await;
    let g = l.register(101, &["generator"], ZHONGLOU).await;
    l.ok(
        &l.regulator,
        "org.class_set",
        json!({"org": g.org, "class": "key", "reason": "列入名录"}),
    )
    .await;
    declare(&l, &g, OIL, 1_000, "2027-01-20").await;
    clock.set(t("2027-02-16T01:00:00Z"));
    l.register(401, &["carrier"], ZHONGLOU).await;
    let (_, v) = l.get("/v1/entries?from=0&limit=1000").await;
    let entries: Vec<_> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            serde_json::from_value::<EntryView>(e.clone())
                .unwrap()
                .into_entry()
                .unwrap()
                .0
        })
        .collect();
    let ticket = entries
        .iter()
        .position(|e| e.event_jcs.contains("declaration_overdue"))
        .expect("January is overdue for the key unit");
    assert_eq!(ticket, entries.len() - 2);
    let replay = |skip: Option<usize>| {
        let mut s = State::new(l.ledger_key.verifying_key().to_bytes());
        for (i, e) in entries.iter().enumerate() {
            if Some(i) == skip {
                continue;
            }
            let mut p = Prepared::from_entry(e).unwrap();
            p.sig_ok = true;
            let now = time::parse_timestamp(&e.recorded_at).unwrap();
            match s.submit(&p, now) {
                Ok(Verdict::Accepted(_)) => {}
                other => return Err((i, format!("{other:?}"))),
            }
        }
        Ok(())
    };
    replay(None).expect("the ledger as written replays");
    let (at, why) = replay(Some(ticket)).expect_err("a ledger without the ticket does not");
    assert_eq!(at, entries.len() - 1);
    assert!(
        why.contains("declaration_overdue") && why.contains("2027-02-15T16:00:00Z"),
        "{why}"
    );
}

/// The OpenAPI document describes the reads of plans and reports, and every schema it refers
/// to is in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_has_the_plan_and_report_reads() {
    let l = TestLedger::start(Backend::Sqlite).await;
    let (_, doc) = l.get_with("/openapi.json", None).await;
    for p in [
        "/v1/plans/{org}/{year}",
        "/v1/declarations/{org}",
        "/v1/reports/declaration",
        "/v1/reports/declaration.csv",
    ] {
        assert!(doc["paths"][p]["get"].is_object(), "{p} is documented");
        assert!(
            !doc["paths"][p]["get"]["security"].is_null(),
            "{p} needs a token"
        );
    }
    let org = &doc["paths"]["/v1/orgs/{org}"]["get"]["responses"]["200"];
    assert!(org.to_string().contains("OrgWithClass"), "{org}");
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => refs(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} is not in the document"
        );
    }
}
