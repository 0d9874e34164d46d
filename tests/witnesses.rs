//! Witnessed checkpoints (spec §5a), end to end: the witness policy in the ledger, the ledger
//! submitting its checkpoints to `hwledger witness` servers over HTTP, the cosigned checkpoint
//! of `/v1/tlog/checkpoint`, `/v1/witnesses`, and a split view caught by a witness. Every test
//! runs on SQLite and on PostgreSQL (the ledger's database and the witnesses' alike).

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;

use common::harness::*;
use common::witnesses::*;
use hwledger::protocol::checkpoint::{self, Checkpoint};
use hwledger::protocol::cosignature;

storage_test!(policy_rules_are_checked, |backend| async move {
    let l = TestLedger::start(backend).await;
    let carrier = l.register(11, &["carrier"], "320404").await;
    let w = |name: &str, k: u64, url: &str| json!({"name": name, "key": hex::encode(key(k).verifying_key().as_bytes()), "url": url});
    let a = w("bureau.example/w1", 901, "https://w1.example");
    let b = w("proc.example/w2", 902, "http://w2.example:8090/witness");
    // Only a regulator sets the policy.
    assert_problem(
        &l.submit(
            &carrier,
            "ledger.witnesses_set",
            policy(std::slice::from_ref(&a), 1),
        )
        .await,
        403,
        "forbidden",
    );
    // Shape: a name with a space, more than 16 witnesses, a negative quorum.
    let spaced = w("bureau example", 903, "https://w3.example");
    for bad in [
        policy(&[spaced], 0),
        policy(
            &(0..17)
                .map(|i| w(&format!("w{i}"), 910 + i, "https://w.example"))
                .collect::<Vec<_>>(),
            0,
        ),
        json!({"witnesses": [], "quorum": -1, "reason": "x"}),
        json!({"witnesses": [], "quorum": 0}),
    ] {
        assert_problem(
            &l.submit(&l.regulator, "ledger.witnesses_set", bad).await,
            400,
            "invalid_event",
        );
    }
    // Rules: a name or key twice, a URL that is not http(s) or ends in '/', a quorum above the
    // number of witnesses.
    let same_name = w("bureau.example/w1", 904, "https://w4.example");
    let same_key = w("other.example/w", 901, "https://w5.example");
    for (bad, what) in [
        (policy(&[a.clone(), same_name], 1), "listed twice"),
        (policy(&[a.clone(), same_key], 1), "listed twice"),
        (
            policy(&[w("w", 905, "ftp://w.example")], 0),
            "http:// or https://",
        ),
        (
            policy(&[w("w", 905, "https://w.example/")], 0),
            "http:// or https://",
        ),
        (policy(&[w("w", 905, "https://")], 0), "http:// or https://"),
        (policy(&[a.clone(), b.clone()], 3), "quorum 3"),
    ] {
        let answer = l.submit(&l.regulator, "ledger.witnesses_set", bad).await;
        assert_problem(&answer, 422, "invalid_policy");
        assert!(
            answer.1["detail"].as_str().unwrap().contains(what),
            "{}",
            answer.1
        );
    }
    let size = l.size().await;
    let entry = l
        .ok(
            &l.regulator,
            "ledger.witnesses_set",
            policy(&[a.clone(), b.clone()], 2),
        )
        .await;
    assert_eq!(entry["seq"], size);
    // The policy in force at the head.
    let (_, v) = l.get_with("/v1/witnesses", None).await;
    assert_eq!(v["quorum"], 2);
    assert_eq!(v["witnesses"].as_array().unwrap().len(), 2);
    assert_eq!(v["witnesses"][1]["url"], "http://w2.example:8090/witness");
    // No witness answers, so no size meets the quorum: a client asking for a witnessed
    // checkpoint is told to wait, not handed an unwitnessed one.
    let (status, headers, v) = l
        .respond(
            axum::http::Request::get("/v1/tlog/checkpoint")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_problem(&(status, v), 503, "quorum_not_met");
    assert!(headers.contains_key("retry-after"));
    // The checkpoints of every size are still served, and /v1/checkpoint is unchanged.
    let (status, _) = get_text(&l, &format!("/v1/tlog/checkpoints/{size}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get_text(&l, "/v1/checkpoint").await;
    assert_eq!(status, StatusCode::OK);
    // An empty policy (quorum 0) hands the latest back.
    l.ok(&l.regulator, "ledger.witnesses_set", policy(&[], 0))
        .await;
    let (_, note) = get_text(&l, "/v1/tlog/checkpoint").await;
    assert_eq!(note.lines().nth(1).unwrap(), (size + 2).to_string());
    let (ok, out) = common::fixtures::verify_db(&l).await;
    assert!(ok, "{out}");
});

storage_test!(
    witnesses_cosign_and_the_quorum_is_served,
    |backend| async move {
        let l = TestLedger::start(backend).await;
        let mut w1 = RunningWitness::start("bureau.example/w1", 801, backend, &l).await;
        let w2 = RunningWitness::start("proc.example/w2", 802, backend, &l).await;
        let w3 = RunningWitness::start("city.example/w3", 803, backend, &l).await;
        l.ok(
            &l.regulator,
            "ledger.witnesses_set",
            policy(
                &[w1.policy_entry(), w2.policy_entry(), w3.policy_entry()],
                2,
            ),
        )
        .await;
        append_orgs(&l, 100, 20).await;
        let head = l.size().await;
        let v = wait_cosigned(&l, &[&w1.name, &w2.name, &w3.name], head).await;
        assert_eq!(v["quorum"], 2);
        for w in v["witnesses"].as_array().unwrap() {
            assert_eq!(w["lag"], 0, "{w}");
            assert!(w["last_error"].is_null(), "{w}");
            assert!(w["cosigned_at"].as_str().unwrap().ends_with('Z'));
        }

        // The cosigned checkpoint: the ledger's line and one line per witness, each valid.
        let (status, note) = get_text(&l, "/v1/tlog/checkpoint").await;
        assert_eq!(status, StatusCode::OK);
        let cp = Checkpoint::open(&note, ORIGIN, &l.ledger_key.verifying_key()).unwrap();
        assert_eq!(cp.size, head);
        let trusted = [w1.trusted(), w2.trusted(), w3.trusted()];
        assert_eq!(cosignature::cosigners(&note, &trusted).unwrap().len(), 3);
        assert_eq!(checkpoint::split_note(&note).unwrap().1.len(), 4);
        // /v1/checkpoint keeps its version-1 bytes: the ledger's line only.
        let (_, plain) = get_text(&l, "/v1/checkpoint").await;
        assert_eq!(checkpoint::split_note(&plain).unwrap().1.len(), 1);
        assert!(note.starts_with(&plain));
        // The checkpoint of that size carries the same lines.
        let (_, at) = get_text(&l, &format!("/v1/tlog/checkpoints/{head}")).await;
        assert_eq!(at, note);

        // One witness down: the other two still make the quorum of 2 as the ledger grows.
        w1.stop().await;
        append_orgs(&l, 200, 5).await;
        let head2 = l.size().await;
        let v = wait_cosigned(&l, &[&w2.name, &w3.name], head2).await;
        let down = &v["witnesses"][0];
        assert_eq!(down["cosigned_size"], head, "{v}");
        assert_eq!(down["lag"], head2 - head);
        assert!(down["halted"] == false);
        // Its failure is shown once a round has tried it.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, v) = l.get_with("/v1/witnesses", None).await;
            if v["witnesses"][0]["last_error"].is_string() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no error shown for the witness down: {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (_, note) = get_text(&l, "/v1/tlog/checkpoint").await;
        assert_eq!(note.lines().nth(1).unwrap(), head2.to_string());
        let found = cosignature::cosigners(&note, &trusted).unwrap();
        assert_eq!(
            found.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            vec![w2.name.as_str(), w3.name.as_str()]
        );
        // The metrics name each witness.
        let (_, metrics) = get_text(&l, "/metrics").await;
        assert!(
            metrics.contains("hwledger_witness_cosignatures_total{witness=\"proc.example/w2\"}"),
            "{metrics}"
        );
        assert!(
            metrics.contains("hwledger_witness_failures_total{"),
            "{metrics}"
        );
        assert!(
            metrics.contains("hwledger_witness_lag{witness=\"bureau.example/w1\"}"),
            "{metrics}"
        );
        let (ok, out) = common::fixtures::verify_db(&l).await;
        assert!(ok, "{out}");
    }
);

storage_test!(
    a_witness_that_was_down_catches_up_in_one_request,
    |backend| async move {
        let l = TestLedger::start(backend).await;
        let mut w = RunningWitness::start("bureau.example/w1", 811, backend, &l).await;
        l.ok(
            &l.regulator,
            "ledger.witnesses_set",
            policy(&[w.policy_entry()], 1),
        )
        .await;
        let first = l.size().await;
        wait_cosigned(&l, &[&w.name], first).await;
        w.stop().await;
        append_orgs(&l, 1_000, 2_000).await;
        let head = l.size().await;
        // Meanwhile the quorum is not met past the witness's size: the cosigned checkpoint
        // stays at what it cosigned.
        let (_, note) = get_text(&l, "/v1/tlog/checkpoint").await;
        assert_eq!(note.lines().nth(1).unwrap(), first.to_string());
        let before = w.requests.load(Ordering::SeqCst);
        w.restart(&l).await;
        wait_cosigned(&l, &[&w.name], head).await;
        assert_eq!(
            w.requests.load(Ordering::SeqCst) - before,
            1,
            "one submission, with a consistency proof over {} entries",
            head - first
        );
        let (_, note) = get_text(&l, "/v1/tlog/checkpoint").await;
        assert_eq!(note.lines().nth(1).unwrap(), head.to_string());
    }
);

storage_test!(
    a_lost_answer_is_recovered_through_409,
    |backend| async move {
        let mut l = TestLedger::start(backend).await;
        let w = RunningWitness::start("bureau.example/w1", 821, backend, &l).await;
        l.ok(
            &l.regulator,
            "ledger.witnesses_set",
            policy(&[w.policy_entry()], 1),
        )
        .await;
        append_orgs(&l, 300, 10).await;
        let head = l.size().await;
        wait_cosigned(&l, &[&w.name], head).await;
        // The ledger forgets the cosignatures (as if every answer had been lost): after a
        // restart it submits from 0, the witness answers 409 with its size, and the ledger
        // resends from there.
        forget_cosignatures(&l.db.url).await;
        l.restart().await;
        append_orgs(&l, 400, 3).await;
        let head2 = l.size().await;
        let v = wait_cosigned(&l, &[&w.name], head2).await;
        assert_eq!(v["witnesses"][0]["halted"], false, "{v}");
        let cosigned = w.witness.as_ref().unwrap().cosigned(ORIGIN).await.unwrap();
        assert_eq!(cosigned.map(|c| c.size), Some(head2));
    }
);

storage_test!(a_split_view_is_refused_by_a_witness, |backend| async move {
    // Ledger A and ledger B share the ledger key and origin but not their history: an
    // operator showing one to the bureau and the other to an enterprise.
    let a = TestLedger::start(backend).await;
    let b = TestLedger::start(backend).await;
    let w = RunningWitness::start("bureau.example/w1", 831, backend, &a).await;
    // A reaches the witness first: B names the witness only once A's head is cosigned and B's
    // own history is longer, so that on a slow machine neither B's longer history is cosigned
    // before A's nor a shorter B head is sent first.
    a.ok(
        &a.regulator,
        "ledger.witnesses_set",
        policy(&[w.policy_entry()], 1),
    )
    .await;
    append_orgs(&a, 500, 10).await;
    let head_a = a.size().await;
    wait_cosigned(&a, &[&w.name], head_a).await;
    append_orgs(&b, 600, 12).await;
    b.ok(
        &b.regulator,
        "ledger.witnesses_set",
        policy(&[w.policy_entry()], 1),
    )
    .await;
    assert!(b.size().await > head_a, "B's history is the longer one");
    // B's checkpoint is signed by the same key, so only consistency can tell: the witness
    // answers 409 with A's size, B resends from it with a proof that fails against A's
    // root, the witness answers 422 and keeps the request, and B stops sending.
    let halted = wait_halted(&b, &w.name).await;
    assert!(
        halted["last_error"].as_str().unwrap().contains("422"),
        "{halted}"
    );
    assert_eq!(halted["cosigned_size"], 0);
    let evidence = w.witness.as_ref().unwrap().evidence(ORIGIN).await.unwrap();
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    // The witness still holds A's head; B has no cosigned checkpoint at all.
    let cosigned = w.witness.as_ref().unwrap().cosigned(ORIGIN).await.unwrap();
    assert_eq!(cosigned.map(|c| c.size), Some(head_a));
    assert_problem(
        &b.get_with("/v1/tlog/checkpoint", None).await,
        503,
        "quorum_not_met",
    );
    // Nothing more is sent to the halted witness (A is cosigned already and sends nothing).
    let sent = w.requests.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(w.requests.load(Ordering::SeqCst), sent);
});

/// Deletes every stored cosignature of the ledger at `url`.
async fn forget_cosignatures(url: &str) {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query("delete from cosignatures")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query("delete from cosignatures")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

storage_test!(
    slow_and_lying_witnesses_never_delay_an_append,
    |backend| async move {
        let l = TestLedger::start(backend).await;
        // One witness accepts connections and never answers; another answers 200 with a line
        // that is not a valid cosignature.
        let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hanging_url = format!("http://{}", hanging.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = hanging.accept().await {
                held.push(conn);
            }
        });
        let liar = axum::Router::new().route(
            "/add-checkpoint",
            axum::routing::post(|| async {
                format!("— liar.example/w {}\n", "A".repeat(100) + "==")
            }),
        );
        let liar_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let liar_url = format!("http://{}", liar_listener.local_addr().unwrap());
        tokio::spawn(hwledger::api::serve(
            liar_listener,
            liar,
            std::future::pending::<()>(),
        ));
        let k = |n: u64| hex::encode(key(n).verifying_key().as_bytes());
        l.ok(
            &l.regulator,
            "ledger.witnesses_set",
            policy(
                &[
                    json!({"name": "slow.example/w", "key": k(841), "url": hanging_url}),
                    json!({"name": "liar.example/w", "key": k(842), "url": liar_url}),
                ],
                1,
            ),
        )
        .await;
        // A submission to the hanging witness is in flight from the next round on.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let started = Instant::now();
        for i in 0..20 {
            let t = Instant::now();
            l.register(700 + i, &["generator"], "320404").await;
            assert!(
                t.elapsed() < Duration::from_secs(2),
                "an append took {:?} while a witness hung",
                t.elapsed()
            );
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        // The witness's default timeout (5 s) ends the hanging submission; both failures show.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, v) = l.get_with("/v1/witnesses", None).await;
            let errors: Vec<&str> = v["witnesses"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|w| w["last_error"].as_str())
                .collect();
            if errors.len() == 2 {
                assert!(
                    errors.iter().any(|e| e.contains("no valid cosignature")),
                    "{v}"
                );
                assert!(
                    v["witnesses"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|w| w["cosigned_size"] == 0 && w["halted"] == false),
                    "{v}"
                );
                break;
            }
            assert!(Instant::now() < deadline, "failures not shown: {v}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Nothing was cosigned: the quorum of 1 is not met.
        assert_problem(
            &l.get_with("/v1/tlog/checkpoint", None).await,
            503,
            "quorum_not_met",
        );
    }
);
