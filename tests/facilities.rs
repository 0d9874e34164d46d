//! Protocol version 2: facilities (设施), storage over capacity, on-site treatment
//! (自行利用/处置), the stricter submissions and the new limits, through the real router on
//! SQLite and PostgreSQL. Rules are exercised in the order §6 lists them.

mod common;

use axum::http::StatusCode;
use common::fixtures::*;
use common::harness::*;
use serde_json::{json, Value};

use hwledger::service::{LimitFlags, Service};

fn storage(org: &Actor, id: &str, storage_type: &str, capacity_g: i64) -> Value {
    json!({"org": org.org, "facility": id, "kind": "storage", "storage_type": storage_type,
           "capacity_g": capacity_g, "name": format!("贮存设施{id}"), "address": "厂区东侧"})
}

fn treating(org: &Actor, id: &str, kind: &str, methods: &[&str], capacity_g: i64) -> Value {
    json!({"org": org.org, "facility": id, "kind": kind, "methods": methods,
           "capacity_g": capacity_g, "name": format!("自行利用处置设施{id}")})
}

fn declare_in(gen: &Actor, code: &str, q: i64, date: &str, facility: &str) -> Value {
    json!({"generator": gen.org, "code": code, "quantity_g": q, "date": date, "facility": facility})
}

fn treat(gen: &Actor, facility: &str, code: &str, q: i64, method: &str, date: &str) -> Value {
    json!({"generator": gen.org, "facility": facility, "code": code, "quantity_g": q,
           "method": method, "date": date})
}

async fn facility(l: &TestLedger, org: &Actor, id: &str) -> Value {
    // Public, to any org with a read token: read here by the org itself.
    let (s, v) = l
        .get_as(org, &format!("/v1/facilities/{}/{id}", org.org))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn tickets_of(l: &TestLedger, kind: &str) -> Vec<Value> {
    let (s, v) = l.get(&format!("/v1/tickets?kind={kind}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["tickets"].as_array().cloned().unwrap_or_default()
}

storage_test!(
    facility_events_follow_their_rules_in_order,
    |b| async move {
        let l = TestLedger::start(b).await;
        let reg = l.regulator.clone();
        let s = Scene::new(&l, 100).await;
        let gen = &s.gen;

        // facility.registered: signer, unknown_org, facility_exists, unknown_method,
        // method_not_allowed, bad_capacity; shape first.
        refused(
            &l,
            gen,
            "facility.registered",
            storage(gen, "TS1", "warehouse", 1_000),
            403,
            "forbidden",
        )
        .await;
        let mut no_type = storage(gen, "TS1", "warehouse", 1_000);
        no_type.as_object_mut().unwrap().remove("storage_type");
        refused(
            &l,
            &reg,
            "facility.registered",
            no_type,
            400,
            "invalid_event",
        )
        .await;
        let mut storage_methods = storage(gen, "TS1", "warehouse", 1_000);
        storage_methods["methods"] = json!(["R9"]);
        refused(
            &l,
            &reg,
            "facility.registered",
            storage_methods,
            400,
            "invalid_event",
        )
        .await;
        let mut no_methods = treating(gen, "RS1", "utilize", &["R9"], 1_000);
        no_methods.as_object_mut().unwrap().remove("methods");
        refused(
            &l,
            &reg,
            "facility.registered",
            no_methods,
            400,
            "invalid_event",
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.registered",
            treating(gen, "RS1", "utilize", &["R9", "R9"], 1_000),
            400,
            "invalid_event",
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.registered",
            storage(gen, "bad id", "warehouse", 1_000),
            400,
            "invalid_event",
        )
        .await;
        let stranger = Actor {
            org: org_id(999),
            key: key(999),
        };
        refused(
            &l,
            &reg,
            "facility.registered",
            storage(&stranger, "TS1", "warehouse", 1_000),
            422,
            "unknown_org",
        )
        .await;
        l.ok(
            &reg,
            "facility.registered",
            storage(gen, "TS1", "warehouse", 5_000_000),
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.registered",
            treating(gen, "TS1", "utilize", &["R9"], 1_000),
            422,
            "facility_exists",
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.registered",
            treating(gen, "RS1", "utilize", &["R9", "X99"], 1_000),
            422,
            "unknown_method",
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.registered",
            treating(gen, "RS1", "utilize", &["R9", "D10"], 1_000),
            422,
            "method_not_allowed",
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.registered",
            storage(gen, "TP1", "point", 3_000_001),
            422,
            "bad_capacity",
        )
        .await;
        l.ok(
            &reg,
            "facility.registered",
            storage(gen, "TP1", "point", 3_000_000),
        )
        .await;
        l.ok(
            &reg,
            "facility.registered",
            treating(gen, "RS1", "utilize", &["R9"], 1_000_000),
        )
        .await;
        l.ok(
            &reg,
            "facility.registered",
            treating(gen, "DS1", "dispose", &["D10"], 1_000_000),
        )
        .await;

        // facility.amended: unknown_facility, invalid_transition, unknown_method,
        // method_not_allowed, bad_capacity.
        let amend = |f: &str, cap: i64, methods: Option<&[&str]>| {
            let mut b = json!({"org": gen.org, "facility": f, "capacity_g": cap});
            if let Some(m) = methods {
                b["methods"] = json!(m);
            }
            b
        };
        refused(
            &l,
            gen,
            "facility.amended",
            amend("TS1", 10, None),
            403,
            "forbidden",
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.amended",
            amend("NOPE", 10, None),
            422,
            "unknown_facility",
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.amended",
            amend("RS1", 10, Some(&["X99"])),
            422,
            "unknown_method",
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.amended",
            amend("RS1", 10, Some(&["D10"])),
            422,
            "method_not_allowed",
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.amended",
            amend("TS1", 10, Some(&["R9"])),
            422,
            "method_not_allowed",
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.amended",
            amend("TP1", 3_000_001, None),
            422,
            "bad_capacity",
        )
        .await;
        l.ok(
            &reg,
            "facility.amended",
            amend("RS1", 2_000_000, Some(&["R9", "R1"])),
        )
        .await;
        let rs1 = facility(&l, gen, "RS1").await;
        assert_eq!(rs1["capacity_g"], 2_000_000);
        assert_eq!(rs1["methods"], json!(["R9", "R1"]));
        assert_eq!(rs1["stock_g"], Value::Null);
        assert_eq!(rs1["treated_g"], 0);

        // facility.closed: unknown_facility, then active → closed, which is final.
        let close = |f: &str| json!({"org": gen.org, "facility": f, "reason": "拆除"});
        refused(
            &l,
            &reg,
            "facility.closed",
            close("NOPE"),
            422,
            "unknown_facility",
        )
        .await;
        l.ok(&reg, "facility.closed", close("DS1")).await;
        refused(
            &l,
            &reg,
            "facility.closed",
            close("DS1"),
            422,
            "invalid_transition",
        )
        .await;
        refused(
            &l,
            &reg,
            "facility.amended",
            amend("DS1", 10, None),
            422,
            "invalid_transition",
        )
        .await;

        // The registry is public to every org with a read token (here the carrier), listed by
        // (org, facility); without a token nothing is read.
        for path in [
            format!("/v1/facilities?org={}", gen.org),
            format!("/v1/facilities/{}/TS1", gen.org),
        ] {
            let (st, v) = l.get_with(&path, None).await;
            assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
            assert_eq!(v["code"], "token_missing");
        }
        let (st, list) = l
            .get_as(&s.carrier, &format!("/v1/facilities?org={}", gen.org))
            .await;
        assert_eq!(st, StatusCode::OK, "{list}");
        let ids: Vec<&str> = list["facilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["facility"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["DS1", "RS1", "TP1", "TS1"]);
        let ts1 = facility(&l, gen, "TS1").await;
        assert_eq!(
            ts1,
            json!({"org": gen.org, "facility": "TS1", "kind": "storage", "storage_type": "warehouse",
               "capacity_g": 5_000_000, "methods": null, "name": "贮存设施TS1", "address": "厂区东侧",
               "status": "active", "stock_g": 0, "treated_g": null})
        );
        assert_eq!(facility(&l, gen, "DS1").await["status"], "closed");
        let (st, _) = l.get(&format!("/v1/facilities/{}/NOPE", gen.org)).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = l.get("/v1/facilities?orgg=x").await;
        assert_eq!(st, StatusCode::BAD_REQUEST);

        // waste.declared into a facility: an active storage facility of the generator.
        let today = cst_day(0);
        refused(
            &l,
            gen,
            "waste.declared",
            declare_in(gen, OIL, 1, &today, "NOPE"),
            422,
            "unknown_facility",
        )
        .await;
        refused(
            &l,
            gen,
            "waste.declared",
            declare_in(gen, OIL, 1, &today, "RS1"),
            422,
            "unknown_facility",
        )
        .await;
        // The facility comes before the code.
        refused(
            &l,
            gen,
            "waste.declared",
            declare_in(gen, "000-000-00", 1, &today, "NOPE"),
            422,
            "unknown_facility",
        )
        .await;
        let other = l.register(110, &["generator"], ZHONGLOU).await;
        refused(
            &l,
            &other,
            "waste.declared",
            declare_in(&other, OIL, 1, &today, "TS1"),
            422,
            "unknown_facility",
        )
        .await;
        let lot = seq(&l
            .ok(
                gen,
                "waste.declared",
                declare_in(gen, OIL, 1_000_000, &today, "TS1"),
            )
            .await);
        assert_eq!(facility(&l, gen, "TS1").await["stock_g"], 1_000_000);
        let lots = stock(&l, gen, false).await;
        assert_eq!(lots[0]["seq"], lot);
        assert_eq!(lots[0]["facility"], "TS1");
        assert_eq!(lots[0]["origin"], Value::Null);
        assert_eq!(lots[0]["containers"], Value::Null);
        l.ok(&reg, "facility.closed", close("TS1")).await;
        refused(
            &l,
            gen,
            "waste.declared",
            declare_in(gen, OIL, 1, &today, "TS1"),
            422,
            "unknown_facility",
        )
        .await;
        // Its lots stay, and ship.
        let m = s.open(&l, &[(OIL, 400_000)]).await;
        pick_up(&l, &s.carrier, &m).await;
        assert_eq!(facility(&l, gen, "TS1").await["stock_g"], 600_000);

        let (ok, out) = verify_db(&l).await;
        assert!(ok, "{out}");
    }
);

storage_test!(
    storage_over_capacity_is_recorded_and_ticketed,
    |b| async move {
        let l = TestLedger::start(b).await;
        let reg = l.regulator.clone();
        let s = Scene::new(&l, 200).await;
        let gen = &s.gen;
        let today = cst_day(0);
        // A 贮存点 holds at most 3 t.
        l.ok(
            &reg,
            "facility.registered",
            storage(gen, "P1", "point", 3_000_000),
        )
        .await;
        l.ok(
            gen,
            "waste.declared",
            declare_in(gen, OIL, 2_000_000, &today, "P1"),
        )
        .await;
        assert!(tickets_of(&l, "storage_over_capacity").await.is_empty());
        // Over 3 t: recorded, never refused, and the ledger opens the ticket right after it.
        let over = l
            .ok(
                gen,
                "waste.declared",
                declare_in(gen, OIL, 1_500_000, &today, "P1"),
            )
            .await;
        let over_seq = seq(&over);
        let tickets = tickets_of(&l, "storage_over_capacity").await;
        assert_eq!(tickets.len(), 1);
        let t = &tickets[0];
        assert_eq!(t["quantity_g"], 500_000);
        assert_eq!(t["subject"]["org"], gen.org.as_str());
        assert_eq!(t["subject"]["facility"], "P1");
        assert_eq!(t["subject"]["seq"], over_seq);
        assert_eq!(
            t["history"][0]["seq"],
            over_seq + 1,
            "the ticket follows its cause at once"
        );
        let expected_id = uuid::Uuid::new_v5(
            &uuid::Uuid::parse_str("6f1c2a52-8f5e-4b8e-9a61-1d2c3b4a5e6f").unwrap(),
            format!("storage_over_capacity:{}:P1:{over_seq}", gen.org).as_bytes(),
        );
        assert_eq!(t["ticket"], expected_id.to_string());
        let (_, entry) = l.get(&format!("/v1/entries/{}", over_seq + 1)).await;
        assert_eq!(
            entry["event"]["at"], over["event"]["at"],
            "dated at its cause"
        );
        assert_eq!(
            entry["event"]["body"]["subject"],
            json!({"org": gen.org, "facility": "P1", "seq": over_seq}),
            "absent subject members are omitted"
        );
        // Still over: no new condition.
        l.ok(
            gen,
            "waste.declared",
            declare_in(gen, OIL, 100_000, &today, "P1"),
        )
        .await;
        assert_eq!(tickets_of(&l, "storage_over_capacity").await.len(), 1);
        // Back under by a pickup, then over again: a second condition.
        let m = s.open(&l, &[(OIL, 1_000_000)]).await;
        pick_up(&l, &s.carrier, &m).await;
        assert_eq!(facility(&l, gen, "P1").await["stock_g"], 2_600_000);
        l.ok(
            gen,
            "waste.declared",
            declare_in(gen, OIL, 500_000, &today, "P1"),
        )
        .await;
        assert_eq!(tickets_of(&l, "storage_over_capacity").await.len(), 2);
        // A rejection returning waste can take it over too.
        l.ok(
            &reg,
            "facility.registered",
            storage(gen, "W1", "warehouse", 1_000_000),
        )
        .await;
        let lot_w = l
            .ok(
                gen,
                "waste.declared",
                declare_in(gen, PACKAGING, 900_000, &cst_day(-1), "W1"),
            )
            .await;
        let _ = lot_w;
        let m2 = s.open(&l, &[(PACKAGING, 500_000)]).await;
        pick_up(&l, &s.carrier, &m2).await;
        l.ok(
            gen,
            "waste.declared",
            declare_in(gen, PACKAGING, 500_000, &today, "W1"),
        )
        .await;
        reject(&l, &s.receiver, &m2).await;
        assert_eq!(facility(&l, gen, "W1").await["stock_g"], 1_400_000);
        assert_eq!(tickets_of(&l, "storage_over_capacity").await.len(), 3);
        // Lowering the capacity below the stock is a condition as well.
        l.ok(
            &reg,
            "facility.registered",
            storage(gen, "W2", "warehouse", 1_000_000),
        )
        .await;
        l.ok(
            gen,
            "waste.declared",
            declare_in(gen, PACKAGING, 800_000, &today, "W2"),
        )
        .await;
        let amend = l
            .ok(
                &reg,
                "facility.amended",
                json!({"org": gen.org, "facility": "W2", "capacity_g": 500_000}),
            )
            .await;
        let tickets = tickets_of(&l, "storage_over_capacity").await;
        assert_eq!(tickets.len(), 4);
        assert_eq!(tickets[3]["subject"]["seq"], seq(&amend));
        assert_eq!(tickets[3]["quantity_g"], 300_000);
        // While compliance is on, a regulator may not open the kind by hand.
        refused(
            &l,
            &reg,
            "ticket.opened",
            json!({"ticket": new_id(), "kind": "storage_over_capacity",
        "subject": {"org": gen.org, "facility": "W2", "seq": 1}, "summary": "手工"}),
            403,
            "forbidden",
        )
        .await;
        // Counted apart from the rate, by the date of their `at`.
        let (_, st) = l.get("/v1/stats/disposal").await;
        assert_eq!(st["compliance_by_kind"]["storage_over_capacity"], 4, "{st}");
        assert_eq!(st["compliance_by_kind"].as_object().unwrap().len(), 6);
        let (_, st) = l
            .get(&format!("/v1/stats/disposal?to={}", cst_day(0)))
            .await;
        assert_eq!(st["compliance_by_kind"]["storage_over_capacity"], 0, "{st}");
        let (_, st) = l.get("/v1/stats/disposal?category=HW08").await;
        assert_eq!(
            st["compliance_by_kind"]["storage_over_capacity"], 0,
            "kinds without a code"
        );
        // A prefix replays to the same count as it had then.
        let (_, st) = l
            .get(&format!("/v1/stats/disposal?size={}", over_seq + 2))
            .await;
        assert_eq!(st["compliance_by_kind"]["storage_over_capacity"], 1, "{st}");
        let (ok, out) = verify_db(&l).await;
        assert!(ok, "{out}");
    }
);

storage_test!(
    on_site_treatment_follows_its_rules_and_counts_as_proper,
    |b| async move {
        let l = TestLedger::start(b).await;
        let reg = l.regulator.clone();
        let s = Scene::new(&l, 300).await;
        let gen = &s.gen;
        l.ok(
            &reg,
            "facility.registered",
            treating(gen, "R1", "utilize", &["R9"], 1_000_000),
        )
        .await;
        l.ok(
            &reg,
            "facility.registered",
            treating(gen, "D1", "dispose", &["D10"], 10_000_000),
        )
        .await;
        l.ok(
            &reg,
            "facility.registered",
            storage(gen, "S1", "warehouse", 10_000_000),
        )
        .await;
        let old = declare(&l, gen, OIL, 700_000, &cst_day(-3)).await;
        let newer = declare(&l, gen, OIL, 700_000, &cst_day(-1)).await;
        let y = cst_day(0);
        let body = |f: &str, q: i64, method: &str, date: &str| treat(gen, f, OIL, q, method, date);
        // Signer and generator.
        refused(
            &l,
            &s.carrier,
            "waste.treated",
            body("R1", 1, "R9", &y),
            403,
            "forbidden",
        )
        .await;
        let mut other = body("R1", 1, "R9", &y);
        other["generator"] = json!(s.receiver.org);
        refused(&l, gen, "waste.treated", other, 403, "forbidden").await;
        // unknown_facility: none, a storage facility, closed; then the code, date, method.
        refused(
            &l,
            gen,
            "waste.treated",
            body("NOPE", 1, "R9", &y),
            422,
            "unknown_facility",
        )
        .await;
        refused(
            &l,
            gen,
            "waste.treated",
            body("S1", 1, "R9", &y),
            422,
            "unknown_facility",
        )
        .await;
        refused(
            &l,
            gen,
            "waste.treated",
            treat(gen, "R1", "999-999-99", 1, "R9", &y),
            422,
            "unknown_waste_code",
        )
        .await;
        refused(
            &l,
            gen,
            "waste.treated",
            body("R1", 1, "R9", &cst_day(1)),
            422,
            "bad_date",
        )
        .await;
        refused(
            &l,
            gen,
            "waste.treated",
            body("R1", 1, "X99", &y),
            422,
            "unknown_method",
        )
        .await;
        // A method the facility lacks.
        refused(
            &l,
            gen,
            "waste.treated",
            body("R1", 1, "R1", &y),
            422,
            "method_not_allowed",
        )
        .await;
        refused(
            &l,
            gen,
            "waste.treated",
            body("R1", 1, "D10", &y),
            422,
            "method_not_allowed",
        )
        .await;
        // Stock: only lots dated on or before `date`, unreserved.
        refused(
            &l,
            gen,
            "waste.treated",
            body("R1", 700_001, "R9", &cst_day(-2)),
            422,
            "insufficient_stock",
        )
        .await;
        let m = s.open(&l, &[(OIL, 300_000)]).await;
        refused(
            &l,
            gen,
            "waste.treated",
            body("D1", 1_100_001, "D10", &y),
            422,
            "insufficient_stock",
        )
        .await;
        // Capacity per CST year of `date`.
        l.ok(gen, "waste.treated", body("R1", 600_000, "R9", &y))
            .await;
        refused(
            &l,
            gen,
            "waste.treated",
            body("R1", 400_001, "R9", &y),
            422,
            "capacity_exceeded",
        )
        .await;
        // Oldest first, unreserved only: 400,000 of the older lot (the manifest holds the rest),
        // then 200,000 of the newer one.
        assert_eq!(lot(&l, gen, old, true).await, Some((300_000, 300_000)));
        assert_eq!(lot(&l, gen, newer, true).await, Some((500_000, 0)));
        l.ok(gen, "waste.treated", body("D1", 500_000, "D10", &y))
            .await;
        assert_eq!(lot(&l, gen, old, true).await, Some((300_000, 300_000)));
        assert_eq!(lot(&l, gen, newer, true).await, Some((0, 0)));
        assert_eq!(facility(&l, gen, "R1").await["treated_g"], 600_000);
        assert_eq!(facility(&l, gen, "D1").await["treated_g"], 500_000);
        cancel(&l, gen, &m).await;
        // Closed: no more treatment.
        l.ok(
            &reg,
            "facility.closed",
            json!({"org": gen.org, "facility": "D1", "reason": "停用"}),
        )
        .await;
        refused(
            &l,
            gen,
            "waste.treated",
            body("D1", 1, "D10", &y),
            422,
            "unknown_facility",
        )
        .await;
        // Proper, shown apart, selected by the treatment's date; the lots hold the rest.
        let (_, st) = l.get(&format!("/v1/stats/disposal?org={}", gen.org)).await;
        assert_eq!(st["treated_onsite_g"], 1_100_000, "{st}");
        assert_eq!(st["proper_g"], 1_100_000);
        assert_eq!(st["stored_g"], 300_000);
        assert_eq!(st["rate"], 1.0);
        let (_, st) = l.get(&format!("/v1/stats/disposal?to={y}")).await;
        assert_eq!(st["treated_onsite_g"], 0, "{st}");
        let (_, st) = l.get("/v1/stats/disposal?category=HW49").await;
        assert_eq!(st["treated_onsite_g"], 0, "{st}");
        let (ok, out) = verify_db(&l).await;
        assert!(ok, "{out}");
        assert!(
            out.contains("of the proper, treated on site 1100000 g"),
            "{out}"
        );
    }
);

/// Ten HW08 codes of the 2025 catalogue.
const HW08: [&str; 10] = [
    "071-001-08",
    "071-002-08",
    "072-001-08",
    "251-001-08",
    "251-002-08",
    "251-003-08",
    "251-004-08",
    "251-005-08",
    "251-006-08",
    "251-010-08",
];

storage_test!(stricter_submissions_of_version_2, |b| async move {
    let l = TestLedger::start(b).await;
    let reg = l.regulator.clone();
    let s = Scene::new(&l, 400).await;
    let gen = &s.gen;
    // No U+0000 in a string or a member name (§1), refused at step 1.
    let before = l.size().await;
    let mut e = event(
        &reg.org,
        "org.registered",
        json!({"org": org_id(450), "name": "某\u{0}公司", "region": ZHONGLOU, "roles": ["generator"], "keys": [hex::encode(key(450).verifying_key().to_bytes())]}),
    );
    let answer = l.post(&sign(&e, &reg.key)).await;
    assert_refused(
        &l,
        before,
        answer,
        400,
        "invalid_event",
        "U+0000 in a value",
    )
    .await;
    e["body"] = json!({"ticket": new_id(), "kind": "reported_dumping", "subject": {}, "summary": "x", "a\u{0}": 1});
    e["type"] = json!("ticket.opened");
    let answer = l.post(&sign(&e, &reg.key)).await;
    assert_refused(&l, before, answer, 400, "invalid_event", "U+0000 in a name").await;
    // At most 10,000 container ids in one event.
    let ids: Vec<String> = (0..10_001).map(|i| format!("C{i:08}")).collect();
    let answer = l
        .submit(
            &reg,
            "ticket.opened",
            json!({"ticket": new_id(), "kind": "reported_dumping",
            "subject": {"containers": ids}, "summary": "x"}),
        )
        .await;
    assert_refused(
        &l,
        before,
        answer,
        400,
        "invalid_event",
        "10,001 container ids",
    )
    .await;
    // quantity_too_large: a storage facility's stock above 2^53−1 ...
    l.ok(
        &reg,
        "facility.registered",
        storage(gen, "BIG", "yard", 1_000_000_000_000_000),
    )
    .await;
    for _ in 0..9 {
        l.ok(
            gen,
            "waste.declared",
            declare_in(gen, OIL, 1_000_000_000_000_000, &cst_day(0), "BIG"),
        )
        .await;
    }
    refused(
        &l,
        gen,
        "waste.declared",
        declare_in(gen, OIL, 1_000_000_000_000_000, &cst_day(0), "BIG"),
        422,
        "quantity_too_large",
    )
    .await;
    // ... and a manifest's total quantity, as the last rule of the row.
    for (i, code) in HW08.iter().enumerate() {
        declare(&l, gen, code, 901_000_000_000_000, &cst_day(0)).await;
        issue_licence(
            &l,
            &s.receiver,
            &format!("BIG-{i}"),
            1_000_000_000_000_000,
            json!([scope(&["HW08"], ALL_ACTIVITIES)]),
        )
        .await;
    }
    let ls: Vec<(&str, i64)> = HW08.iter().map(|c| (*c, 901_000_000_000_000)).collect();
    refused(
        &l,
        gen,
        "manifest.opened",
        s.open_body(&new_id(), &ls),
        422,
        "quantity_too_large",
    )
    .await;
    let ls: Vec<(&str, i64)> = HW08.iter().map(|c| (*c, 900_000_000_000_000)).collect();
    l.ok(gen, "manifest.opened", s.open_body(&new_id(), &ls))
        .await;
});

storage_test!(
    limits_of_version_2_at_genesis_by_flag_and_by_event,
    |b| async move {
        // The defaults: compliance from the genesis' CST date, plan excess 2000 bp, no separate
        // generator storage limit.
        let l = TestLedger::start(b).await;
        let (_, info) = l.get("/v1/ledger").await;
        assert_eq!(info["limits"]["compliance_from"], cst_day(0), "{info}");
        assert_eq!(info["limits"]["plan_excess_bp"], 2000);
        assert!(info["limits"].get("generator_storage_s").is_none());
        let mut l0 = l;
        l0.stop().await;

        let flags = LimitFlags {
            generator_storage_s: Some(86_400),
            plan_excess_bp: Some(1500),
            compliance_from: Some(None),
            ..Default::default()
        };
        let mut l = TestLedger::start_with(b, flags).await;
        let (_, info) = l.get("/v1/ledger").await;
        assert_eq!(info["limits"]["generator_storage_s"], 86_400);
        assert_eq!(info["limits"]["plan_excess_bp"], 1500);
        assert!(
            info["limits"].get("compliance_from").is_none(),
            "off: not written"
        );
        // On an existing ledger only the flags given are compared, by effective value.
        for (other, what) in [
            (
                LimitFlags {
                    generator_storage_s: Some(3600),
                    ..Default::default()
                },
                "--generator-storage-limit",
            ),
            (
                LimitFlags {
                    plan_excess_bp: Some(2000),
                    ..Default::default()
                },
                "--plan-excess",
            ),
            (
                LimitFlags {
                    compliance_from: Some(Some(
                        chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                    )),
                    ..Default::default()
                },
                "--compliance-from",
            ),
        ] {
            let cfg = hwledger::service::ServiceConfig {
                snapshot: None,
                limits: other,
                ..l.config()
            };
            let err = Service::start(cfg)
                .await
                .err()
                .expect("a differing flag stops the start");
            assert!(format!("{err:#}").contains(what), "{err:#}");
        }
        let same = LimitFlags {
            compliance_from: Some(None),
            storage_s: Some(365 * 86_400),
            ..Default::default()
        };
        let cfg = hwledger::service::ServiceConfig {
            snapshot: None,
            limits: same,
            ..l.config()
        };
        Service::start(cfg)
            .await
            .expect("equal effective values start")
            .shutdown()
            .await;

        // ledger.limits_set: an absent optional member keeps the value in force; null switches
        // compliance off.
        let base = json!({"transit_s": 432_000, "disposal_s": 31_536_000, "storage_s": 31_536_000,
                      "max_backdate_s": 1_209_600, "shortfall_bp": 100});
        let mut on = base.clone();
        on["compliance_from"] = json!("2026-01-01");
        l.ok(
            &l.regulator.clone(),
            "ledger.limits_set",
            json!({"limits": on, "reason": "启用"}),
        )
        .await;
        l.ok(
            &l.regulator.clone(),
            "ledger.limits_set",
            json!({"limits": base, "reason": "调整"}),
        )
        .await;
        let (_, info) = l.get("/v1/ledger").await;
        assert_eq!(info["limits"]["compliance_from"], "2026-01-01");
        assert_eq!(info["limits"]["generator_storage_s"], 86_400);
        assert_eq!(info["limits"]["plan_excess_bp"], 1500);
        let mut off = base.clone();
        off["compliance_from"] = Value::Null;
        l.ok(
            &l.regulator.clone(),
            "ledger.limits_set",
            json!({"limits": off, "reason": "停用"}),
        )
        .await;
        let (_, info) = l.get("/v1/ledger").await;
        assert!(info["limits"].get("compliance_from").is_none(), "{info}");

        // generator_storage_s holds lots of waste.declared to their own limit.
        let s = Scene::new(&l, 500).await;
        let lot = declare(&l, &s.gen, OIL, 1_000, &cst_day(-2)).await;
        let sequencer = l.service.as_ref().unwrap().state.sequencer.clone();
        assert_eq!(sequencer.sweep().await.unwrap(), 1);
        let t = &tickets_of(&l, "storage_overdue").await[0];
        assert_eq!(t["subject"]["lot"], lot);
        l.restart().await;
        let (ok, out) = verify_db(&l).await;
        assert!(ok, "{out}");
    }
);
