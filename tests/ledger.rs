//! The ledger core through the real router, on SQLite and PostgreSQL: envelopes, the order of
//! checks, the registry rules, batches, restarts, and the append-only guarantees.

mod common;

use axum::http::StatusCode;
use common::harness::*;
use serde_json::{json, Value};

storage_test!(
    genesis_is_entry_zero_and_registers_the_regulator,
    |b| async move {
        let l = TestLedger::start(b).await;
        let (s, info) = l.get("/v1/ledger").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(info["origin"], "test.hwledger.local");
        assert_eq!(info["size"], 1);
        assert_eq!(info["ledger_key"], l.ledger_public());
        assert_eq!(info["limits"]["transit_s"], 5 * 86_400);
        assert_eq!(info["limits"]["shortfall_bp"], 100);
        assert!(info["verifier_key"]
            .as_str()
            .unwrap()
            .starts_with("test.hwledger.local+"));

        let (_, e0) = l.get("/v1/entries/0").await;
        assert_eq!(e0["seq"], 0);
        assert_eq!(e0["prev"], "0".repeat(64));
        assert_eq!(e0["event"]["type"], "ledger.genesis");
        assert_eq!(e0["event"]["actor"], "ledger");
        assert_eq!(
            e0["event"]["body"]["regulator"]["keys"][0],
            l.regulator.public()
        );

        let (s, org) = l.get(&format!("/v1/orgs/{REGULATOR_ORG}")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(org["roles"], json!(["regulator"]));
        assert_eq!(org["keys"][0]["key"], l.regulator.public());
        assert_problem(
            &l.get("/v1/orgs/91320400000000000X").await,
            404,
            "not_found",
        );
        assert_problem(&l.get("/v1/entries/7").await, 404, "not_found");
    }
);

storage_test!(
    entries_chain_and_checkpoint_covers_the_head,
    |b| async move {
        let l = TestLedger::start(b).await;
        for n in 1..=5 {
            l.register(n, &["generator"], "320404").await;
        }
        let (_, page) = l.get("/v1/entries?from=0&limit=1000").await;
        assert_eq!(page["size"], 6);
        let entries = page["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 6);
        for w in entries.windows(2) {
            assert_eq!(
                w[1]["prev"], w[0]["hash"],
                "each entry links to the one before"
            );
            assert_eq!(
                w[1]["seq"].as_u64().unwrap(),
                w[0]["seq"].as_u64().unwrap() + 1
            );
            assert!(w[1]["recorded_at"].as_str() >= w[0]["recorded_at"].as_str());
        }
        let (_, page) = l.get("/v1/entries?from=2&limit=2").await;
        let seqs: Vec<u64> = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [2, 3]);
        assert_problem(&l.get("/v1/entries?limit=1001").await, 400, "invalid_query");
        assert_problem(&l.get("/v1/entries?from=abc").await, 400, "invalid_query");
        assert_problem(&l.get("/v1/entries?form=1").await, 400, "invalid_query");

        let (s, note) = l.get("/v1/checkpoint").await;
        assert_eq!(s, StatusCode::OK);
        let note = note.as_str().unwrap().to_owned();
        let cp = hwledger::protocol::checkpoint::Checkpoint::open(
            &note,
            "test.hwledger.local",
            &l.ledger_key.verifying_key(),
        )
        .expect("the checkpoint verifies with the ledger key");
        assert_eq!(cp.size, 6);
        let (_, info) = l.get("/v1/ledger").await;
        assert_eq!(hex::encode(cp.root), info["root"].as_str().unwrap());
    }
);

storage_test!(
    identical_replay_is_200_and_appends_nothing,
    |b| async move {
        let l = TestLedger::start(b).await;
        let actor = Actor {
            org: org_id(7),
            key: key(7),
        };
        let env = sign(
            &event(
                &l.regulator.org,
                "org.registered",
                json!({"org": actor.org, "name": "甲", "region": "320404", "roles": ["generator"], "keys": [actor.public()]}),
            ),
            &l.regulator.key,
        );
        let (s1, first) = l.post(&env).await;
        assert_eq!(s1, StatusCode::CREATED);
        let (s2, again) = l.post(&env).await;
        assert_eq!(s2, StatusCode::OK);
        assert_eq!(first, again, "the recorded entry is returned");
        assert_eq!(l.size().await, 2);

        // Same id, other content: 409, whoever signs it.
        let mut other = env["event"].clone();
        other["body"]["name"] = json!("乙");
        assert_problem(
            &l.post(&sign(&other, &l.regulator.key)).await,
            409,
            "duplicate_event_id",
        );
        // A replay is answered even when the signature of the resent envelope is broken.
        let mut broken = env.clone();
        broken["sig"] = json!("0".repeat(128));
        assert_eq!(l.post(&broken).await.0, StatusCode::OK);
        assert_eq!(l.size().await, 2);
    }
);

storage_test!(
    keys_must_be_the_actors_and_signatures_must_verify,
    |b| async move {
        let l = TestLedger::start(b).await;
        let g = l.register(10, &["generator"], "320404").await;
        let body = json!({"org": org_id(11), "name": "丙", "region": "320404", "roles": ["carrier"], "keys": [Actor{org: String::new(), key: key(11)}.public()]});
        // A key nobody registered.
        let stranger = key(99);
        assert_problem(
            &l.post(&sign(
                &event(&l.regulator.org, "org.registered", body.clone()),
                &stranger,
            ))
            .await,
            401,
            "unknown_key",
        );
        // Another org's key.
        assert_problem(
            &l.post(&sign(
                &event(&l.regulator.org, "org.registered", body.clone()),
                &g.key,
            ))
            .await,
            401,
            "unknown_key",
        );
        // The ledger key for a regulator's event.
        assert_problem(
            &l.post(&sign(
                &event(&l.regulator.org, "org.registered", body.clone()),
                &l.ledger_key,
            ))
            .await,
            401,
            "unknown_key",
        );
        // A flipped signature bit.
        let mut env = sign(
            &event(&l.regulator.org, "org.registered", body.clone()),
            &l.regulator.key,
        );
        let mut sig = hex::decode(env["sig"].as_str().unwrap()).unwrap();
        sig[10] ^= 0x01;
        env["sig"] = json!(hex::encode(sig));
        assert_problem(&l.post(&env).await, 401, "bad_signature");
        // The body changed after signing.
        let mut env = sign(
            &event(&l.regulator.org, "org.registered", body.clone()),
            &l.regulator.key,
        );
        env["event"]["body"]["name"] = json!("丁");
        assert_problem(&l.post(&env).await, 401, "bad_signature");
        assert_eq!(l.size().await, 2, "nothing was appended");
    }
);

storage_test!(
    revoked_keys_stop_signing_and_last_key_is_kept,
    |b| async move {
        let l = TestLedger::start(b).await;
        let g = l.register(20, &["generator"], "320404").await;
        // The org may not revoke its own last key.
        assert_problem(
            &l.submit(
                &g,
                "org.key_revoked",
                json!({"org": g.org, "key": g.public(), "reason": "lost"}),
            )
            .await,
            422,
            "last_key",
        );
        // It adds a second key itself, then revokes the first.
        let second = Actor {
            org: g.org.clone(),
            key: key(21),
        };
        let replayable = sign(
            &event(
                &g.org,
                "org.key_added",
                json!({"org": g.org, "key": second.public()}),
            ),
            &g.key,
        );
        assert_eq!(l.post(&replayable).await.0, StatusCode::CREATED);
        l.ok(
            &second,
            "org.key_revoked",
            json!({"org": g.org, "key": g.public(), "reason": "rotated"}),
        )
        .await;
        assert_problem(
            &l.submit(
                &g,
                "org.key_added",
                json!({"org": g.org, "key": Actor{org: String::new(), key: key(22)}.public()}),
            )
            .await,
            401,
            "revoked_key",
        );
        // A replay of what the revoked key signed earlier is still answered with the entry.
        assert_eq!(l.post(&replayable).await.0, StatusCode::OK);
        let (_, org) = l.get(&format!("/v1/orgs/{}", g.org)).await;
        assert!(org["keys"][0]["revoked_seq"].is_u64());
        assert!(org["keys"][1]["revoked_seq"].is_null());
        // Revoking it again, or a key that is not the org's.
        assert_problem(
            &l.submit(
                &second,
                "org.key_revoked",
                json!({"org": g.org, "key": g.public(), "reason": "again"}),
            )
            .await,
            422,
            "invalid_transition",
        );
        assert_problem(
            &l.submit(
                &second,
                "org.key_revoked",
                json!({"org": g.org, "key": l.regulator.public(), "reason": "x"}),
            )
            .await,
            422,
            "unknown_key",
        );
        // A regulator may revoke an org's last key.
        l.ok(
            &l.regulator,
            "org.key_revoked",
            json!({"org": g.org, "key": second.public(), "reason": "licence withdrawn"}),
        )
        .await;
    }
);

storage_test!(registry_rules_in_order, |b| async move {
    let l = TestLedger::start(b).await;
    let g = l.register(30, &["generator"], "320404").await;
    let reg = |org: &str, keyhex: String| json!({"org": org, "name": "戊", "region": "320402", "roles": ["receiver"], "keys": [keyhex]});
    let fresh = || {
        Actor {
            org: String::new(),
            key: key(31),
        }
        .public()
    };
    // Only a regulator registers.
    assert_problem(
        &l.submit(&g, "org.registered", reg(&org_id(31), fresh()))
            .await,
        403,
        "forbidden",
    );
    // A wrong check character, or a wrong form.
    let mut bad = org_id(31);
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    assert_problem(
        &l.submit(&l.regulator, "org.registered", reg(&bad, fresh()))
            .await,
        422,
        "invalid_org_id",
    );
    assert_problem(
        &l.submit(&l.regulator, "org.registered", reg("not-an-org", fresh()))
            .await,
        422,
        "invalid_org_id",
    );
    // Registered once; a key belongs to one org.
    assert_problem(
        &l.submit(&l.regulator, "org.registered", reg(&g.org, fresh()))
            .await,
        422,
        "org_exists",
    );
    assert_problem(
        &l.submit(&l.regulator, "org.registered", reg(&org_id(31), g.public()))
            .await,
        422,
        "key_in_use",
    );
    assert_problem(
        &l.submit(
            &l.regulator,
            "org.registered",
            reg(&org_id(31), l.ledger_public()),
        )
        .await,
        422,
        "key_in_use",
    );
    // A small-order point is not an acceptable key.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    assert_problem(
        &l.submit(
            &l.regulator,
            "org.registered",
            reg(&org_id(31), hex::encode(weak)),
        )
        .await,
        400,
        "invalid_event",
    );
    // Adding keys: unknown org, another org signing, a key in use.
    assert_problem(
        &l.submit(
            &l.regulator,
            "org.key_added",
            json!({"org": org_id(32), "key": fresh()}),
        )
        .await,
        422,
        "unknown_org",
    );
    let other = l.register(33, &["carrier"], "320404").await;
    assert_problem(
        &l.submit(
            &other,
            "org.key_added",
            json!({"org": g.org, "key": fresh()}),
        )
        .await,
        403,
        "forbidden",
    );
    assert_problem(
        &l.submit(
            &g,
            "org.key_added",
            json!({"org": g.org, "key": other.public()}),
        )
        .await,
        422,
        "key_in_use",
    );
    l.ok(
        &l.regulator,
        "org.key_added",
        json!({"org": g.org, "key": fresh()}),
    )
    .await;
    // A regulator org registered by the regulator can register others in turn.
    let r2 = l.register(34, &["regulator"], "320400").await;
    l.ok(
        &r2,
        "org.registered",
        reg(
            &org_id(35),
            Actor {
                org: String::new(),
                key: key(35),
            }
            .public(),
        ),
    )
    .await;
    // Limits are set by a regulator only.
    let limits = json!({"limits": {"transit_s": 86400, "disposal_s": 86400, "storage_s": 86400, "max_backdate_s": 86400, "shortfall_bp": 50}, "reason": "试点"});
    assert_problem(
        &l.submit(&g, "ledger.limits_set", limits.clone()).await,
        403,
        "forbidden",
    );
    l.ok(&l.regulator, "ledger.limits_set", limits).await;
    assert_eq!(l.get("/v1/ledger").await.1["limits"]["shortfall_bp"], 50);
    // The genesis cannot be signed again.
    let genesis = l.get("/v1/entries/0").await.1["event"]["body"].clone();
    assert_problem(
        &l.post(&sign(
            &event("ledger", "ledger.genesis", genesis),
            &l.ledger_key,
        ))
        .await,
        403,
        "forbidden",
    );
});

storage_test!(timestamps_are_bounded_by_the_ledger_clock, |b| async move {
    let l = TestLedger::start(b).await;
    let body = |n: u64| json!({"org": org_id(n), "name": "己", "region": "320404", "roles": ["generator"], "keys": [Actor{org: String::new(), key: key(n)}.public()]});
    let at = |secs: i64, n: u64| {
        let mut e = event(&l.regulator.org, "org.registered", body(n));
        e["at"] = json!(now_plus(secs));
        sign(&e, &l.regulator.key)
    };
    assert_problem(&l.post(&at(400, 40)).await, 422, "bad_timestamp");
    assert_problem(&l.post(&at(-15 * 86_400, 41)).await, 422, "bad_timestamp");
    assert_eq!(
        l.post(&at(240, 42)).await.0,
        StatusCode::CREATED,
        "up to 300 s ahead"
    );
    assert_eq!(
        l.post(&at(-13 * 86_400, 43)).await.0,
        StatusCode::CREATED,
        "paper manifests entered late"
    );
});

storage_test!(malformed_requests_get_their_problem_codes, |b| async move {
    let l = TestLedger::start(b).await;
    let good = sign(
        &event(
            &l.regulator.org,
            "org.registered",
            json!({"org": org_id(50), "name": "庚", "region": "320404", "roles": ["generator"], "keys": [Actor{org: String::new(), key: key(50)}.public()]}),
        ),
        &l.regulator.key,
    );
    let bytes = serde_json::to_vec(&good).unwrap();
    assert_problem(
        &l.post_raw(bytes.clone(), "text/plain").await,
        415,
        "unsupported_media_type",
    );
    assert_problem(
        &l.post_raw(b"{\"event\":".to_vec(), "application/json")
            .await,
        400,
        "invalid_event",
    );
    assert_problem(
        &l.post_raw(vec![0xff, 0xfe], "application/json").await,
        400,
        "invalid_event",
    );
    assert_problem(
        &l.post_raw(vec![b' '; (1 << 20) + 1], "application/json")
            .await,
        413,
        "body_too_large",
    );
    // Duplicated keys, fractions and exponents make the canonical form ambiguous.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let dup = text.replacen("{\"event\":", "{\"key\":\"00\",\"event\":", 1);
    assert_problem(
        &l.post_raw(dup.into_bytes(), "application/json").await,
        400,
        "invalid_event",
    );
    let mut e = good.clone();
    e["event"]["v"] = json!(1.0);
    assert_problem(&l.post(&e).await, 400, "invalid_event");
    let float = text.replacen("\"v\":1", "\"v\":1e0", 1);
    assert_problem(
        &l.post_raw(float.into_bytes(), "application/json").await,
        400,
        "invalid_event",
    );
    // Unknown fields, wrong types, uppercase hex, unknown types.
    for mutate in [
        |e: &mut Value| e["extra"] = json!(1),
        |e: &mut Value| e["event"]["body"]["colour"] = json!("red"),
        |e: &mut Value| e["event"]["body"]["roles"] = json!([]),
        |e: &mut Value| e["event"]["type"] = json!("org.renamed"),
        |e: &mut Value| e["key"] = json!(e["key"].as_str().unwrap().to_uppercase()),
        |e: &mut Value| e["event"]["at"] = json!("2026-13-01T00:00:00Z"),
        |e: &mut Value| e["event"]["id"] = json!("not-a-uuid"),
    ] {
        let mut e = good.clone();
        mutate(&mut e);
        assert_problem(&l.post(&e).await, 400, "invalid_event");
    }
    // Batches hold 1 to 1000 envelopes.
    assert_problem(&l.post(&json!([])).await, 400, "invalid_event");
    let many = Value::Array(vec![good.clone(); 1001]);
    assert_problem(&l.post(&many).await, 400, "invalid_event");
    assert_eq!(l.size().await, 1, "nothing was appended");
    assert_problem(&l.get("/v1/nowhere").await, 404, "not_found");
});

storage_test!(
    batch_items_are_checked_in_order_as_if_sent_alone,
    |b| async move {
        let l = TestLedger::start(b).await;
        let a = Actor {
            org: org_id(60),
            key: key(60),
        };
        let reg = sign(
            &event(
                &l.regulator.org,
                "org.registered",
                json!({"org": a.org, "name": "辛", "region": "320404", "roles": ["generator"], "keys": [a.public()]}),
            ),
            &l.regulator.key,
        );
        // The second item depends on the first; the third repeats the first; the fourth is malformed;
        // the fifth is refused by a rule; the sixth is fine.
        let add = sign(
            &event(
                &a.org,
                "org.key_added",
                json!({"org": a.org, "key": Actor{org: String::new(), key: key(61)}.public()}),
            ),
            &a.key,
        );
        let mut malformed = add.clone();
        malformed["event"]["body"]["unexpected"] = json!(true);
        let exists = sign(
            &event(
                &l.regulator.org,
                "org.registered",
                json!({"org": a.org, "name": "辛", "region": "320404", "roles": ["generator"], "keys": [Actor{org: String::new(), key: key(62)}.public()]}),
            ),
            &l.regulator.key,
        );
        let last = sign(
            &event(
                &l.regulator.org,
                "org.registered",
                json!({"org": org_id(63), "name": "壬", "region": "320404", "roles": ["carrier"], "keys": [Actor{org: String::new(), key: key(63)}.public()]}),
            ),
            &l.regulator.key,
        );
        let (s, items) = l
            .post(&json!([reg, add, reg, malformed, exists, last]))
            .await;
        assert_eq!(s, StatusCode::OK);
        let statuses: Vec<u64> = items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["status"].as_u64().unwrap())
            .collect();
        assert_eq!(statuses, [201, 201, 200, 400, 422, 201]);
        assert_eq!(items[4]["problem"]["code"], "org_exists");
        assert_eq!(items[3]["problem"]["code"], "invalid_event");
        assert_eq!(items[2]["entry"], items[0]["entry"]);
        assert_eq!(items[1]["entry"]["seq"], 2);
        assert_eq!(items[5]["entry"]["seq"], 3);
        assert_eq!(l.size().await, 4);
    }
);

storage_test!(concurrent_clients_never_fork_the_chain, |b| async move {
    let l = TestLedger::start(b).await;
    let mut tasks = Vec::new();
    for n in 0..40u64 {
        let router = l.router.clone();
        let env = sign(
            &event(
                &l.regulator.org,
                "org.registered",
                json!({"org": org_id(100 + n), "name": "癸", "region": "320404", "roles": ["generator"], "keys": [Actor{org: String::new(), key: key(100 + n)}.public()]}),
            ),
            &l.regulator.key,
        );
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/v1/events")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(serde_json::to_vec(&env).unwrap()))
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let (_, page) = l.get("/v1/entries?limit=1000").await;
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 41);
    for w in entries.windows(2) {
        assert_eq!(w[1]["prev"], w[0]["hash"]);
    }
});

storage_test!(
    two_services_on_one_database_build_one_chain,
    |b| async move {
        let l = TestLedger::start(b).await;
        // A second service process on the same database (same ledger key and origin).
        let (second, other) = l.second_process().await;
        let mut handles = Vec::new();
        for n in 0..30u64 {
            let target = if n % 2 == 0 {
                l.router.clone()
            } else {
                other.router.clone()
            };
            let env = sign(
                &event(
                    &l.regulator.org,
                    "org.registered",
                    json!({"org": org_id(200 + n), "name": "子", "region": "320404", "roles": ["generator"], "keys": [Actor{org: String::new(), key: key(200 + n)}.public()]}),
                ),
                &l.regulator.key,
            );
            handles.push(tokio::spawn(async move {
                use tower::ServiceExt;
                let req = axum::http::Request::post("/v1/events")
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(serde_json::to_vec(&env).unwrap()))
                    .unwrap();
                target.oneshot(req).await.unwrap().status()
            }));
        }
        for h in handles {
            assert_eq!(h.await.unwrap(), StatusCode::CREATED);
        }
        // Each process's rules saw the other's appends: a key registered through one is in use for the other.
        let dup = json!({"org": org_id(299), "name": "丑", "region": "320404", "roles": ["generator"], "keys": [Actor{org: String::new(), key: key(201)}.public()]});
        assert_problem(
            &other.submit(&l.regulator, "org.registered", dup).await,
            422,
            "key_in_use",
        );
        assert_eq!(l.size().await, 31);
        second.shutdown().await;
        let out = verify_db(&l).await;
        assert!(out.0, "verify failed: {}", out.1);
    }
);

storage_test!(
    an_event_recorded_by_another_process_or_before_a_restart_is_answered_as_recorded,
    |b| async move {
        let mut l = TestLedger::start(b).await;
        let (second, other) = l.second_process().await;
        let env = sign(
            &event(
                &l.regulator.org,
                "org.registered",
                json!({"org": org_id(70), "name": "寅", "region": "320404", "roles": ["generator"], "keys": [Actor{org: String::new(), key: key(70)}.public()]}),
            ),
            &l.regulator.key,
        );
        let (s, first) = l.post(&env).await;
        assert_eq!(s, StatusCode::CREATED);
        let mut other_content = env["event"].clone();
        other_content["body"]["name"] = json!("卯");
        let other_content = sign(&other_content, &l.regulator.key);

        // The second process, started before the entry was appended, learns of it when it
        // catches up at its next round, then asks the database.
        assert_eq!(other.post(&env).await, (StatusCode::OK, first.clone()));
        assert_problem(&other.post(&other_content).await, 409, "duplicate_event_id");
        second.shutdown().await;

        // After a restart (every entry replayed), the same answers.
        l.restart().await;
        assert_eq!(l.post(&env).await, (StatusCode::OK, first));
        assert_problem(&l.post(&other_content).await, 409, "duplicate_event_id");
        assert_eq!(l.size().await, 2);
        let (_, m) = l.get("/metrics").await;
        let m = m.as_str().unwrap();
        assert!(
            m.contains("hwledger_event_id_lookups_total{found=\"true\"}"),
            "the database was asked: {m}"
        );
    }
);

storage_test!(
    a_read_of_the_head_covers_what_another_process_appended,
    |b| async move {
        let l = TestLedger::start(b).await;
        let (second, other) = l.second_process().await;
        let (_, v) = l.get("/v1/stats/disposal").await;
        let before = v["size"].as_u64().expect("a size");
        // Appends through the second process only: the first has nothing of them in memory.
        let mut orgs = Vec::new();
        for n in 0..3 {
            orgs.push(other.register(470 + n, &["generator"], "320404").await);
        }
        let size = l.size().await;
        assert_eq!(size, before + 3);
        // The first process's reads of the head take them in before answering.
        let (s, v) = l.get("/v1/stats/disposal").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["size"].as_u64(), Some(size), "{v}");
        let (s, v) = l
            .get(&format!(
                "/v1/reports/declaration?org={}&period=2026",
                orgs[2].org
            ))
            .await;
        assert_eq!(
            s,
            StatusCode::OK,
            "an org the other process registered: {v}"
        );
        let (_, m) = l.get("/metrics").await;
        assert!(
            m.as_str()
                .unwrap()
                .contains("hwledger_read_catch_ups_total"),
            "the first process caught up for its reads"
        );
        second.shutdown().await;
    }
);

/// SQLite only: PostgreSQL's write-ahead log is the server's, not in a file the service keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_s_write_ahead_log_is_copied_into_the_database_file_beside_the_writer() {
    use sqlx::{Connection, Row};
    let l = TestLedger::start(Backend::Sqlite).await;
    let path = l.db.url.trim_start_matches("sqlite://").to_owned();
    for n in 0..40 {
        l.register(480 + n, &["generator"], "320404").await;
    }
    // What readers see of the database, in pages; the file holds it all once the log is copied.
    let mut reader = sqlx::SqliteConnection::connect(&format!("sqlite://{path}?mode=ro"))
        .await
        .expect("a reader");
    let pages: i64 = sqlx::query("pragma page_count")
        .fetch_one(&mut reader)
        .await
        .unwrap()
        .get(0);
    let page_size: i64 = sqlx::query("pragma page_size")
        .fetch_one(&mut reader)
        .await
        .unwrap()
        .get(0);
    reader.close().await.unwrap();
    // Far below the 1000 pages at which SQLite's own commit would copy the log (and the
    // writer's threshold of 16384): only the service's checkpoints beside the writer copy it.
    let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
    assert!(wal < 1000 * page_size as u64, "the log is {wal} bytes");
    let mut file = 0;
    for _ in 0..50 {
        file = std::fs::metadata(&path).unwrap().len();
        if file == (pages * page_size) as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        file,
        (pages * page_size) as u64,
        "the database file holds every page of the {pages} within 5 s"
    );
    // Nothing was lost on the way: the ledger checks out from the database.
    let out = verify_db(&l).await;
    assert!(out.0, "verify failed: {}", out.1);
}

/// Runs `hwledger verify --db` on the test's database: (success, stdout).
pub async fn verify_db(l: &TestLedger) -> (bool, String) {
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
        .expect("hwledger runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

storage_test!(restart_continues_the_chain, |b| async move {
    let mut l = TestLedger::start(b).await;
    for n in 1..=3 {
        l.register(300 + n, &["generator"], "320404").await;
    }
    let (_, before) = l.get("/v1/ledger").await;
    l.restart().await;
    let (_, after) = l.get("/v1/ledger").await;
    assert_eq!(before, after, "size, root and limits survive a restart");
    // The state was rebuilt: rules still know the orgs registered before.
    let dup = json!({"org": org_id(301), "name": "寅", "region": "320404", "roles": ["generator"], "keys": [Actor{org: String::new(), key: key(399)}.public()]});
    assert_problem(
        &l.submit(&l.regulator, "org.registered", dup).await,
        422,
        "org_exists",
    );
    let e = l.register(304, &["carrier"], "320404").await;
    let (_, org) = l.get(&format!("/v1/orgs/{}", e.org)).await;
    assert_eq!(org["registered_seq"], 4);
    let (_, e4) = l.get("/v1/entries/4").await;
    let (_, e3) = l.get("/v1/entries/3").await;
    assert_eq!(e4["prev"], e3["hash"]);
    l.stop().await;
    let out = verify_db(&l).await;
    assert!(out.0, "verify failed: {}", out.1);
    assert!(out.1.contains("ok: 5 entries"), "{}", out.1);
});

storage_test!(start_refuses_a_database_of_another_ledger, |b| async move {
    let mut l = TestLedger::start(b).await;
    l.stop().await;
    let mut cfg = l.config();
    cfg.ledger_key = key(5);
    let err = hwledger::service::Service::start(cfg)
        .await
        .err()
        .expect("another ledger key is refused");
    assert!(format!("{err:#}").contains("ledger key"), "{err:#}");
    let mut cfg = l.config();
    cfg.origin = "elsewhere.example".into();
    let err = hwledger::service::Service::start(cfg)
        .await
        .err()
        .expect("another origin is refused");
    assert!(format!("{err:#}").contains("origin"), "{err:#}");
    let mut cfg = l.config();
    cfg.limits.transit_s = Some(3 * 86_400);
    let err = hwledger::service::Service::start(cfg)
        .await
        .err()
        .expect("changed limits are refused");
    assert!(format!("{err:#}").contains("ledger.limits_set"), "{err:#}");
    // The same flag value as in force is fine.
    let mut cfg = l.config();
    cfg.limits.transit_s = Some(5 * 86_400);
    hwledger::service::Service::start(cfg)
        .await
        .expect("same limits start")
        .shutdown()
        .await;
});

storage_test!(
    the_database_refuses_to_rewrite_history_and_verify_catches_it,
    |b| async move {
        let mut l = TestLedger::start(b).await;
        for n in 1..=4 {
            l.register(400 + n, &["generator"], "320404").await;
        }
        l.stop().await;
        assert!(verify_db(&l).await.0);
        let update =
            "update entries set event = replace(event, '单位402', '单位999') where seq = 2";
        let delete = "delete from entries where seq = 4";
        match b {
            Backend::Sqlite => {
                use sqlx::Connection;
                let mut c = sqlx::SqliteConnection::connect(&l.db.url).await.unwrap();
                let e = sqlx::query(update).execute(&mut c).await.unwrap_err();
                assert!(e.to_string().contains("append-only"), "{e}");
                assert!(sqlx::query(delete).execute(&mut c).await.is_err());
                // An operator who drops the trigger can alter an entry; verify names it.
                sqlx::query("drop trigger entries_no_update")
                    .execute(&mut c)
                    .await
                    .unwrap();
                sqlx::query(update).execute(&mut c).await.unwrap();
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&l.db.url).await.unwrap();
                let e = sqlx::query(update).execute(&mut c).await.unwrap_err();
                assert!(e.to_string().contains("append-only"), "{e}");
                assert!(sqlx::query(delete).execute(&mut c).await.is_err());
                assert!(sqlx::query("truncate entries cascade")
                    .execute(&mut c)
                    .await
                    .is_err());
                sqlx::query("drop trigger entries_no_update on entries")
                    .execute(&mut c)
                    .await
                    .unwrap();
                sqlx::query(update).execute(&mut c).await.unwrap();
            }
        }
        let (ok, out) = verify_db(&l).await;
        assert!(!ok);
        assert!(out.contains("FAILED: entry 2:"), "{out}");
        // The service refuses to build on an altered ledger.
        let err = hwledger::service::Service::start(l.config())
            .await
            .err()
            .expect("refused");
        assert!(format!("{err:#}").contains("entry 2"), "{err:#}");
    }
);

storage_test!(operations_endpoints, |b| async move {
    let l = TestLedger::start(b).await;
    l.register(500, &["generator"], "320404").await;
    let _ = l.submit(&l.regulator, "org.registered", json!({"org": "bad", "name": "x", "region": "320404", "roles": ["generator"], "keys": [Actor{org: String::new(), key: key(501)}.public()]})).await;
    let (s, h) = l.get("/healthz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["status"], "ok");
    let (_, m) = l.get("/metrics").await;
    let m = m.as_str().unwrap();
    assert!(m.contains("hwledger_appends_total"), "{m}");
    assert!(
        m.contains("hwledger_refusals_total{code=\"invalid_org_id\"}"),
        "{m}"
    );
    assert!(m.contains("hwledger_append_latency_seconds_bucket"), "{m}");
    let (_, api) = l.get("/openapi.json").await;
    assert!(api["paths"]["/v1/events"]["post"].is_object());
    assert!(api["paths"]["/v1/orgs/{org}"]["get"].is_object());
});

storage_test!(
    two_services_starting_together_share_one_genesis,
    |b| async move {
        let db = TestDb::new(b).await;
        let ledger_key = key(1_000_000);
        let regulator = Actor {
            org: REGULATOR_ORG.into(),
            key: key(1_000_001),
        };
        let cfg = config(&db, &ledger_key, &regulator, Default::default());
        let (a, c) = tokio::join!(
            hwledger::service::Service::start(cfg.clone()),
            hwledger::service::Service::start(cfg)
        );
        let (a, c) = (a.expect("the first starts"), c.expect("the second starts"));
        assert_eq!(a.state.store.head().await.unwrap().size, 1, "one genesis");
        a.shutdown().await;
        c.shutdown().await;
    }
);

storage_test!(
    a_nul_in_a_path_or_a_query_is_refused_cleanly,
    |b| async move {
        let l = TestLedger::start(b).await;
        let g = l.register(9_400, &["generator"], "320404").await;
        let size = l.size().await;
        for (path, status, code) in [
            ("/v1/orgs/%00".to_owned(), 404, "not_found"),
            (format!("/v1/orgs/{}%00", g.org), 404, "not_found"),
            ("/v1/manifests/%00abc".to_owned(), 404, "not_found"),
            ("/v1/containers/a%00b".to_owned(), 404, "not_found"),
            ("/v1/tickets/%00".to_owned(), 404, "not_found"),
            ("/v1/licenses?holder=%00".to_owned(), 400, "invalid_query"),
            (
                format!("/v1/stock?generator={}%00", g.org),
                400,
                "invalid_query",
            ),
            ("/v1/tickets?org=x%00y".to_owned(), 400, "invalid_query"),
            ("/v1/orgs?region=32%00".to_owned(), 400, "invalid_query"),
        ] {
            let answer = l.get(&path).await;
            assert_problem(&answer, status, code);
        }
        // Nothing changed, and the service still answers.
        assert_eq!(l.size().await, size);
        let (status, _) = l.get(&format!("/v1/orgs/{}", g.org)).await;
        assert_eq!(status, 200);
    }
);

/// Runs one statement on the test's database from a connection of its own.
async fn alter(l: &TestLedger, statement: &str) {
    use sqlx::Connection;
    match l.db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&l.db.url).await.unwrap();
            sqlx::query(statement).execute(&mut c).await.unwrap();
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&l.db.url).await.unwrap();
            sqlx::query(statement).execute(&mut c).await.unwrap();
        }
    }
}

// A failed append whose reload fails too (the entries cannot be read) leaves the writer
// refusing appends and `/healthz` at 503 while the database is wrong; once it is right again,
// the writer reloads by itself and appends, without a restart and without losing anything.
storage_test!(
    the_writer_reloads_by_itself_once_the_database_is_back,
    |b| async move {
        let l = TestLedger::start(b).await;
        l.register(701, &["generator"], "320404").await;
        let before = l.size().await;
        let org = |n: u64| json!({"org": org_id(n), "name": format!("单位{n}"), "region": "320404", "roles": ["generator"], "keys": [Actor{org: String::new(), key: key(n)}.public()]});
        alter(&l, "alter table entries rename to entries_away").await;
        let refused = l.submit(&l.regulator, "org.registered", org(702)).await;
        assert_eq!(refused.0, StatusCode::INTERNAL_SERVER_ERROR, "{refused:?}");
        // The answer goes out before the reload is tried; the reload then fails too.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let health = loop {
            let (s, health) = l.get_with("/healthz", None).await;
            if s == StatusCode::SERVICE_UNAVAILABLE || std::time::Instant::now() > deadline {
                break health;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(
            health["title"], "The writer is reloading the ledger",
            "{health}"
        );
        assert_eq!(
            l.submit(&l.regulator, "org.registered", org(703)).await.0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        alter(&l, "alter table entries_away rename to entries").await;
        // The reload is tried again at an append once its wait is over.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let appended = loop {
            let answer = l.submit(&l.regulator, "org.registered", org(704)).await;
            if answer.0 == StatusCode::CREATED || std::time::Instant::now() > deadline {
                break answer;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(appended.0, StatusCode::CREATED, "{appended:?}");
        assert_eq!(
            appended.1["seq"], before,
            "the refused appends left no entry"
        );
        let (s, health) = l.get_with("/healthz", None).await;
        assert_eq!(s, StatusCode::OK, "{health}");
        assert_eq!(health["size"], before + 1);
        assert!(verify_db(&l).await.0);
    }
);
