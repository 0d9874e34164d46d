//! The bad-input catalogue: every kind of malformed, hostile or forged submission is refused
//! with its code from spec §3's order of checks, never a 5xx, and the ledger is unchanged.
//!
//! Events to spoil come from the recorded fixtures (every event type of version 2 appears in
//! them), so each field of each event type is tried with a value of the wrong type.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::fixtures::*;
use common::harness::*;
use common::replay;

/// One recorded event of each type, with every other recorded event of that type, from the
/// fixtures.
fn recorded_events() -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for name in ["v1", "v2-chains", "v2-facilities", "v2-plans"] {
        for (entry, _) in replay::export_entries(&replay::fixture_dir(name)) {
            let event = entry.event();
            let kind = event["type"].as_str().unwrap().to_owned();
            out.entry(kind).or_default().push(event);
        }
    }
    out
}

/// A value of another JSON type than `v`, one that no schema of the same member allows.
fn wrong_type(v: &Value) -> Value {
    match v {
        Value::String(_) => json!(7),
        Value::Number(_) => json!("7"),
        Value::Bool(_) => json!("true"),
        Value::Array(_) => json!({"x": 1}),
        Value::Object(_) => json!([1]),
        Value::Null => json!([]),
    }
}

/// Every JSON pointer below `v` (not `v` itself).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        _ => {}
    }
}

storage_test!(
    every_field_of_every_event_with_a_wrong_type_is_invalid_event,
    |backend| async move {
        let l = TestLedger::start(backend).await;
        let size = l.size().await;
        let mut tried = 0;
        let mut types = 0;
        for (kind, events) in recorded_events() {
            types += 1;
            // Members differ between events of a type (optional ones): try each distinct
            // pointer once.
            let mut seen = std::collections::BTreeSet::new();
            for event in &events {
                let mut ptrs = Vec::new();
                pointers(event, String::new(), &mut ptrs);
                for p in ptrs {
                    if !seen.insert(p.clone()) {
                        continue;
                    }
                    let mut spoilt = event.clone();
                    let target = spoilt.pointer_mut(&p).unwrap();
                    *target = wrong_type(target);
                    let answer = l.post(&sign(&spoilt, &l.regulator.key)).await;
                    assert_eq!(
                        (answer.0.as_u16(), answer.1["code"].as_str().unwrap_or("")),
                        (400, "invalid_event"),
                        "{kind} with {p} of the wrong type: {}",
                        answer.1
                    );
                    tried += 1;
                }
            }
        }
        assert!(types >= 25, "only {types} event types in the fixtures");
        println!("{tried} spoilt members over {types} event types, each 400 invalid_event");
        assert_eq!(l.size().await, size, "nothing appended");
    }
);

storage_test!(
    malformed_bodies_are_refused_with_their_codes,
    |backend| async move {
        let l = TestLedger::start(backend).await;
        let size = l.size().await;
        let good = serde_json::to_vec(&sign(
            &event(
                REGULATOR_ORG,
                "org.registered",
                json!({"org": org_id(77), "name": "单位77", "region": "320404",
                       "roles": ["carrier"], "keys": [key(77).verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()]}),
            ),
            &l.regulator.key,
        ))
        .unwrap();
        let mut cases: Vec<(String, Vec<u8>, u16, &str)> = Vec::new();
        // Truncated anywhere: not JSON.
        for cut in (1..good.len()).step_by(good.len() / 23) {
            cases.push((
                format!("truncated at {cut}"),
                good[..cut].to_vec(),
                400,
                "invalid_event",
            ));
        }
        // Over the 1 MiB limit.
        let mut big = b"[".to_vec();
        big.extend(std::iter::repeat_n(b' ', 1 << 20));
        big.push(b']');
        cases.push(("over 1 MiB".into(), big, 413, "body_too_large"));
        // Deeply nested.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
        cases.push(("nested 100,000 deep".into(), deep, 400, "invalid_event"));
        let deep_obj = format!(
            "{{\"event\":{}1{}}}",
            "{\"a\":".repeat(5000),
            "}".repeat(5000)
        );
        cases.push((
            "an envelope nested 5,000 deep".into(),
            deep_obj.into_bytes(),
            400,
            "invalid_event",
        ));
        // Lone surrogates and invalid UTF-8 are not JSON text.
        let text = String::from_utf8(good.clone()).unwrap();
        cases.push((
            "a lone surrogate".into(),
            text.replace("单位77", "\\ud800").into_bytes(),
            400,
            "invalid_event",
        ));
        let mut bad_utf8 = good.clone();
        let at = text.find("单位77").unwrap();
        bad_utf8[at] = 0xff;
        cases.push(("invalid UTF-8".into(), bad_utf8, 400, "invalid_event"));
        // Duplicate members.
        cases.push((
            "a duplicate member".into(),
            text.replacen("{\"event\":", "{\"key\":\"00\",\"event\":", 1)
                .into_bytes(),
            400,
            "invalid_event",
        ));
        for (what, body, status, code) in cases {
            let answer = l.post_raw(body, "application/json").await;
            assert_eq!(
                (answer.0.as_u16(), answer.1["code"].as_str().unwrap_or("")),
                (status, code),
                "{what}: {}",
                answer.1
            );
        }
        assert_eq!(l.size().await, size, "nothing appended");
    }
);

storage_test!(
    numbers_strings_and_names_at_their_limits,
    |backend| async move {
        let l = TestLedger::start(backend).await;
        let s = Scene::new(&l, 80).await;
        let size = l.size().await;
        // Quantities at and beyond 2^53, non-integers, negative, exponent forms.
        for q in [
            json!(9_007_199_254_740_992i64),
            json!(9_007_199_254_740_993i64),
            json!(1.5),
            json!(-1),
            json!(0),
            json!(1e3),
            json!("1000"),
        ] {
            let (status, v) = l
                .submit(
                    &s.gen,
                    "waste.declared",
                    json!({"code": "900-249-08", "quantity_g": q, "date": cst_day(0)}),
                )
                .await;
            assert!(
                status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
                "quantity_g {q}: {status} {v}"
            );
            let code = v["code"].as_str().unwrap();
            assert!(
                ["invalid_event", "quantity_too_large"].contains(&code),
                "quantity_g {q}: {v}"
            );
        }
        // NUL in a name; a very long name; mixed Unicode normalisation is kept byte for byte.
        let reg = l.regulator.clone();
        let org = |n: u64, name: &str| {
            json!({"org": org_id(n), "name": name, "region": "320404", "roles": ["carrier"],
                   "keys": [hex::encode(key(n).verifying_key().to_bytes())]})
        };
        assert_problem(
            &l.submit(&reg, "org.registered", org(81_001, "单位\u{0}名"))
                .await,
            400,
            "invalid_event",
        );
        assert_problem(
            &l.submit(&reg, "org.registered", org(81_002, &"名".repeat(300_000)))
                .await,
            400,
            "invalid_event",
        );
        assert_eq!(l.size().await, size, "nothing appended");
        let nfc = "Caf\u{e9}回收站";
        let nfd = "Cafe\u{301}回收站";
        l.ok(&reg, "org.registered", org(81_003, nfc)).await;
        l.ok(&reg, "org.registered", org(81_004, nfd)).await;
        let (_, a) = l.get(&format!("/v1/orgs/{}", org_id(81_003))).await;
        let (_, b) = l.get(&format!("/v1/orgs/{}", org_id(81_004))).await;
        assert_eq!(a["name"], nfc);
        assert_eq!(b["name"], nfd, "names are stored as signed, not normalised");
    }
);

storage_test!(forgeries_and_replays_are_refused, |backend| async move {
    let l = TestLedger::start(backend).await;
    let s = Scene::new(&l, 90).await;
    s.declare(&l, OIL, 1000).await;
    let m = s.open(&l, &[(OIL, 100)]).await;
    pick_up(&l, &s.carrier, &m).await;
    let size = l.size().await;

    // The carrier signs the receiver's receipt.
    assert_problem(
        &l.submit(
            &s.carrier,
            "manifest.received",
            receive_body(&m, &[(OIL, 100)]),
        )
        .await,
        403,
        "forbidden",
    );
    // The receipt in the receiver's name, signed with the carrier's key.
    let mut e = event(
        &s.receiver.org,
        "manifest.received",
        receive_body(&m, &[(OIL, 100)]),
    );
    e["at"] = json!(time_now());
    assert_problem(&l.post(&sign(&e, &s.carrier.key)).await, 401, "unknown_key");
    // Signed by the receiver's key but altered afterwards.
    let mut env = sign(&e, &s.receiver.key);
    env["event"]["body"]["lines"][0]["quantity_g"] = json!(99);
    assert_problem(&l.post(&env).await, 401, "bad_signature");
    // A key that is not hex, a signature of the wrong length.
    let mut env = sign(&e, &s.receiver.key);
    env["sig"] = json!("00");
    assert_problem(&l.post(&env).await, 400, "invalid_event");
    assert_eq!(l.size().await, size, "nothing appended");

    // The real receipt, then the same envelope again in a later batch: 200, the recorded
    // entry; the same id with other content: 409.
    let env = sign(&e, &s.receiver.key);
    let (status, first) = l.post(&env).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, batch) = l.post(&json!([env.clone()])).await;
    assert!(status.is_success(), "{batch}");
    assert_eq!(batch[0]["status"], 200, "{batch}");
    assert_eq!(batch[0]["entry"]["seq"], first["seq"]);
    let mut other = e.clone();
    other["body"]["lines"][0]["quantity_g"] = json!(90);
    assert_problem(
        &l.post(&sign(&other, &s.receiver.key)).await,
        409,
        "duplicate_event_id",
    );
    assert_eq!(l.size().await, size + 1);
});

fn time_now() -> String {
    hwledger::protocol::time::format_timestamp(chrono::Utc::now())
}
