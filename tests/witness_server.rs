//! The witness server (`hwledger witness`, spec §5a) on SQLite and PostgreSQL: every answer of
//! `POST /add-checkpoint` in the order the spec gives them, consistency over real trees, the
//! evidence kept for forks, state that survives a restart, the compare-and-swap under racing
//! requests, hostile bodies, and the real binary over a socket. Every cosignature returned is
//! checked with `cosignature::verify_line`.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::Value;
use tower::ServiceExt;

use common::harness::TestDb;
use hwledger::protocol::checkpoint::{self, Checkpoint};
use hwledger::protocol::cosignature::{self, AddCheckpoint};
use hwledger::protocol::merkle::{self, Frontier, Hash, NodeId};
use hwledger::store::DbUrl;
use hwledger::witness::{Witness, WitnessConfig, MAX_BODY, SIZE_CONTENT_TYPE};

/// The log witnessed, and a second one.
const LOG: &str = "test.hwledger.local";
const OTHER: &str = "other.hwledger.local";
const NAME: &str = "bureau.example/witness";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn log_key() -> SigningKey {
    key(1)
}

fn other_key() -> SigningKey {
    key(2)
}

fn witness_key() -> SigningKey {
    key(3)
}

/// A Merkle tree grown leaf by leaf with every completed node kept, as the ledger stores it;
/// `seed` picks the leaves, so two seeds make two forks of one log.
struct Tree {
    seed: u8,
    frontier: Frontier,
    nodes: HashMap<NodeId, Hash>,
}

impl Tree {
    fn new(seed: u8, size: u64) -> Tree {
        let mut tree = Tree {
            seed,
            frontier: Frontier::new(),
            nodes: HashMap::new(),
        };
        tree.grow(size);
        tree
    }

    fn grow(&mut self, size: u64) {
        while self.frontier.size() < size {
            let mut entry = [self.seed; 32];
            entry[1..9].copy_from_slice(&self.frontier.size().to_le_bytes());
            self.nodes
                .extend(self.frontier.push(merkle::leaf_hash(&entry)));
        }
    }

    fn root(&self, size: u64) -> Hash {
        merkle::root_from(size, |id| self.nodes.get(&id).copied()).unwrap()
    }

    /// The consistency proof from `m` to `n`; none where there is none (`m` = 0 or `m` > `n`).
    fn proof(&self, m: u64, n: u64) -> Vec<Hash> {
        if m == 0 || m > n {
            return Vec::new();
        }
        merkle::consistency_proof(m, n, |id| self.nodes.get(&id).copied()).unwrap()
    }

    fn checkpoint(&self, origin: &str, size: u64) -> Checkpoint {
        Checkpoint {
            origin: origin.into(),
            size,
            root: self.root(size),
        }
    }
}

/// The body of a request from `old` to the tree's checkpoint of `size`, signed by `signer`.
fn body(tree: &Tree, origin: &str, signer: &SigningKey, old: u64, size: u64) -> String {
    AddCheckpoint {
        old,
        proof: tree.proof(old, size),
        note: tree.checkpoint(origin, size).sign(signer),
    }
    .to_body()
}

async fn open(db: &TestDb) -> Witness {
    Witness::open(WitnessConfig {
        name: NAME.into(),
        key: witness_key(),
        db: DbUrl::new(db.url.clone()),
        logs: vec![
            (LOG.into(), log_key().verifying_key()),
            (OTHER.into(), other_key().verifying_key()),
        ],
    })
    .await
    .expect("the witness opens")
}

/// An answer: status, content type, body.
struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

async fn post(router: &Router, body: impl Into<Body>) -> Answer {
    let response = router
        .clone()
        .oneshot(Request::post("/add-checkpoint").body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        content_type,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn status_page(router: &Router) -> Value {
    let response = router
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The entry of `origin` in `GET /`.
async fn log_status(router: &Router, origin: &str) -> Value {
    let page = status_page(router).await;
    page["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["origin"] == origin)
        .cloned()
        .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A 200 whose body is one cosignature line by the witness over `checkpoint`, timed now;
/// returns its timestamp.
fn assert_cosigned(answer: &Answer, checkpoint: &Checkpoint) -> u64 {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.content_type, "text/plain; charset=utf-8");
    let line = answer.body.strip_suffix('\n').expect("the line ends in LF");
    assert!(!line.contains('\n'), "one line: {:?}", answer.body);
    let timestamp = cosignature::verify_line(
        line,
        &checkpoint.body(),
        NAME,
        &witness_key().verifying_key(),
    )
    .expect("the cosignature verifies");
    let now = now();
    assert!(timestamp > 0 && timestamp + 60 >= now && timestamp <= now + 1);
    timestamp
}

fn assert_refused(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.content_type, "text/plain; charset=utf-8");
    assert!(answer.body.ends_with('\n'));
}

/// A 409 naming `size` as C2SP tlog-witness writes it.
fn assert_conflict(answer: &Answer, size: u64) {
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);
    assert_eq!(answer.content_type, SIZE_CONTENT_TYPE);
    assert_eq!(answer.body, format!("{size}\n"));
}

storage_test!(answers_in_the_order_of_the_spec, |backend| async move {
    let db = TestDb::new(backend).await;
    let witness = open(&db).await;
    let r = witness.router();
    let tree = Tree::new(7, 20);
    let log = log_key();
    let good3 = body(&tree, LOG, &log, 0, 3);

    // 400: a body that does not parse, whatever else is wrong with it.
    for bad in [
        String::new(),
        "old 0\n".into(),
        "old 0\n\n".into(),
        "old x\n\nsomething\n".into(),
        good3.replace("old 0\n", "old 00\n"),
        good3.trim_end().to_owned(),
        // The checkpoint's text: an unknown origin (404) and a bad signature (403) come later.
        good3.replace(&format!("{LOG}\n3\n"), &format!("{LOG}\n03\n")),
        good3.replace(&format!("{LOG}\n3\n"), "unknown.example\n03\n"),
        good3.replace(&format!("{LOG}\n3\n"), &format!("{LOG}\n3\nextension\n")),
    ] {
        assert_refused(&post(&r, bad).await, StatusCode::BAD_REQUEST);
    }
    let mut not_utf8 = good3.clone().into_bytes();
    not_utf8[1] = 0xff;
    assert_refused(&post(&r, not_utf8).await, StatusCode::BAD_REQUEST);

    // 404: an unknown origin, even with a wrong old and its own valid signature.
    let stranger = body(&tree, "unknown.example", &key(9), 5, 3);
    assert_refused(&post(&r, stranger).await, StatusCode::NOT_FOUND);

    // 403: no valid signature by the log's key, before old is looked at: another key under the
    // log's name (with a wrong old, and with old beyond the size), the other log's key, a
    // checkpoint altered after signing, the log's signature line alone under another name.
    for bad in [
        body(&tree, LOG, &key(9), 7, 10),
        body(&tree, LOG, &key(9), 50, 3),
        body(&tree, LOG, &other_key(), 0, 3),
        good3.replace(&format!("{LOG}\n3\n"), &format!("{LOG}\n4\n")),
        good3.replace(&format!("\u{2014} {LOG} "), "\u{2014} someone.else "),
    ] {
        assert_refused(&post(&r, bad).await, StatusCode::FORBIDDEN);
    }

    // 400: old beyond the size, with a valid signature (and a wrong old).
    assert_refused(
        &post(&r, body(&tree, LOG, &log, 4, 3)).await,
        StatusCode::BAD_REQUEST,
    );
    assert_eq!(witness.cosigned(LOG).await.unwrap(), None);

    // The first checkpoint, from old 0.
    let first = post(&r, good3.clone()).await;
    let t3 = assert_cosigned(&first, &tree.checkpoint(LOG, 3));
    let stored = witness.cosigned(LOG).await.unwrap().unwrap();
    assert_eq!(
        (stored.size, stored.root, stored.cosigned_at),
        (3, tree.root(3), t3)
    );

    // 409: old is not the size last cosigned, answered with that size.
    assert_conflict(&post(&r, body(&tree, LOG, &log, 0, 5)).await, 3);
    assert_conflict(&post(&r, body(&tree, LOG, &log, 2, 5)).await, 3);
    assert_conflict(&post(&r, body(&tree, LOG, &log, 4, 5)).await, 3);
    // ... before the proof is judged: a wrong proof with a wrong old is no evidence.
    let mut wrong = AddCheckpoint::parse(&body(&tree, LOG, &log, 2, 5)).unwrap();
    wrong.proof[0][0] ^= 1;
    assert_conflict(&post(&r, wrong.to_body()).await, 3);

    // A consistency proof from the size cosigned.
    let next = post(&r, body(&tree, LOG, &log, 3, 8)).await;
    assert_cosigned(&next, &tree.checkpoint(LOG, 8));
    // The same checkpoint again is cosigned again; so is a note that carries other signatures.
    let again = post(&r, body(&tree, LOG, &log, 8, 8)).await;
    assert_cosigned(&again, &tree.checkpoint(LOG, 8));
    let mut note = tree.checkpoint(LOG, 8).sign(&log);
    note.push_str(&cosignature::cosign(
        &tree.checkpoint(LOG, 8).body(),
        "another.witness",
        &key(8),
        12,
    ));
    note.push('\n');
    let with_others = AddCheckpoint {
        old: 8,
        proof: vec![],
        note,
    };
    assert_cosigned(
        &post(&r, with_others.to_body()).await,
        &tree.checkpoint(LOG, 8),
    );

    // Nothing above was evidence.
    assert!(witness.evidence(LOG).await.unwrap().is_empty());
    let page = status_page(&r).await;
    assert_eq!(page["name"], NAME);
    assert_eq!(
        page["key"],
        hex::encode(witness_key().verifying_key().as_bytes())
    );
    assert_eq!(
        page["verifier_key"],
        cosignature::verifier_key(NAME, &witness_key().verifying_key())
    );
    let logs = page["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0]["origin"], LOG);
    assert_eq!(logs[0]["size"], 8);
    assert_eq!(logs[0]["root"], BASE64.encode(tree.root(8)));
    assert!(logs[0]["cosigned_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(logs[0]["evidence"], 0);
    assert_eq!(logs[1]["origin"], OTHER);
    assert_eq!(logs[1]["size"], 0);
    assert_eq!(logs[1]["root"], Value::Null);
    assert_eq!(logs[1]["cosigned_at"], Value::Null);
    witness.close().await;
});

storage_test!(
    forks_are_refused_and_kept_as_evidence,
    |backend| async move {
        let db = TestDb::new(backend).await;
        let witness = open(&db).await;
        let r = witness.router();
        let tree = Tree::new(7, 16);
        let fork = Tree::new(8, 16);
        let log = log_key();
        assert_cosigned(
            &post(&r, body(&tree, LOG, &log, 0, 5)).await,
            &tree.checkpoint(LOG, 5),
        );
        assert_cosigned(
            &post(&r, body(&tree, LOG, &log, 5, 10)).await,
            &tree.checkpoint(LOG, 10),
        );

        let mut flipped = AddCheckpoint::parse(&body(&tree, LOG, &log, 10, 16)).unwrap();
        flipped.proof[1][31] ^= 1;
        let mut short = AddCheckpoint::parse(&body(&tree, LOG, &log, 10, 16)).unwrap();
        short.proof.pop();
        // The fork's checkpoint of size 16 with the fork's own proof: consistent with its own
        // tree of 10, not with the one cosigned.
        let other_branch = body(&fork, LOG, &log, 10, 16);
        // A split view: another root for the size cosigned.
        let split = body(&fork, LOG, &log, 10, 10);
        let refused = [
            (flipped.to_body(), "does not verify"),
            (short.to_body(), "does not verify"),
            (other_branch, "does not verify"),
            (split, "split view"),
        ];
        let before = now();
        for (request, why) in &refused {
            let answer = post(&r, request.clone()).await;
            assert_refused(&answer, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(answer.body.contains(why), "{}", answer.body);
        }
        // Each is kept whole, in order, with its reason and time; the state did not move.
        let evidence = witness.evidence(LOG).await.unwrap();
        assert_eq!(evidence.len(), refused.len());
        for (kept, (request, why)) in evidence.iter().zip(&refused) {
            assert_eq!(kept.origin, LOG);
            assert_eq!(kept.body, request.as_bytes());
            assert!(kept.reason.contains(why), "{}", kept.reason);
            assert!(kept.received_at >= before && kept.received_at <= now());
            // Beside it, the signed checkpoint it contradicts, as the witness received it.
            assert_eq!(
                kept.cosigned.as_deref(),
                Some(tree.checkpoint(LOG, 10).sign(&log).as_str())
            );
        }
        assert_eq!(witness.cosigned(LOG).await.unwrap().unwrap().size, 10);
        assert_eq!(log_status(&r, LOG).await["evidence"], 4);
        assert_eq!(log_status(&r, OTHER).await["evidence"], 0);
        // The log's own history goes on.
        assert_cosigned(
            &post(&r, body(&tree, LOG, &log, 10, 16)).await,
            &tree.checkpoint(LOG, 16),
        );

        // Old 0: no proof may come with it, and a tree of size 0 has the empty tree's root.
        let other = other_key();
        let mut with_proof = AddCheckpoint::parse(&body(&tree, OTHER, &other, 0, 4)).unwrap();
        with_proof.proof = vec![tree.root(2)];
        let not_empty = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: Checkpoint {
                origin: OTHER.into(),
                size: 0,
                root: tree.root(1),
            }
            .sign(&other),
        };
        for request in [with_proof.to_body(), not_empty.to_body()] {
            assert_refused(&post(&r, request).await, StatusCode::UNPROCESSABLE_ENTITY);
        }
        let kept = witness.evidence(OTHER).await.unwrap();
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().all(|e| e.cosigned.is_none()));
        assert_eq!(witness.cosigned(OTHER).await.unwrap(), None);
        // The empty tree, then (still from old 0) a first non-empty one.
        let empty = Checkpoint {
            origin: OTHER.into(),
            size: 0,
            root: merkle::empty_root(),
        };
        assert_eq!(empty, tree.checkpoint(OTHER, 0));
        assert_cosigned(&post(&r, body(&tree, OTHER, &other, 0, 0)).await, &empty);
        assert_eq!(log_status(&r, OTHER).await["size"], 0);
        assert_eq!(
            log_status(&r, OTHER).await["root"],
            BASE64.encode(merkle::empty_root())
        );
        assert_refused(
            &post(&r, not_empty.to_body()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        assert_cosigned(
            &post(&r, body(&tree, OTHER, &other, 0, 4)).await,
            &tree.checkpoint(OTHER, 4),
        );
        assert_eq!(log_status(&r, OTHER).await["evidence"], 3);
        witness.close().await;
    }
);

storage_test!(state_survives_a_restart, |backend| async move {
    let db = TestDb::new(backend).await;
    let tree = Tree::new(7, 12);
    let log = log_key();
    let t7 = {
        let witness = open(&db).await;
        let r = witness.router();
        let t7 = assert_cosigned(
            &post(&r, body(&tree, LOG, &log, 0, 7)).await,
            &tree.checkpoint(LOG, 7),
        );
        let split = body(&Tree::new(9, 7), LOG, &log, 7, 7);
        assert_refused(&post(&r, split).await, StatusCode::UNPROCESSABLE_ENTITY);
        witness.close().await;
        t7
    };
    let witness = open(&db).await;
    let r = witness.router();
    let stored = witness.cosigned(LOG).await.unwrap().unwrap();
    assert_eq!(
        (stored.size, stored.root, stored.cosigned_at, stored.note),
        (7, tree.root(7), t7, tree.checkpoint(LOG, 7).sign(&log))
    );
    let status = log_status(&r, LOG).await;
    assert_eq!(status["size"], 7);
    assert_eq!(status["root"], BASE64.encode(tree.root(7)));
    assert_eq!(status["evidence"], 1);
    assert_conflict(&post(&r, body(&tree, LOG, &log, 0, 12)).await, 7);
    assert_cosigned(
        &post(&r, body(&tree, LOG, &log, 7, 12)).await,
        &tree.checkpoint(LOG, 12),
    );
    witness.close().await;
});

storage_test!(
    racing_requests_are_one_compare_and_swap,
    |backend| async move {
        let db = TestDb::new(backend).await;
        let witness = open(&db).await;
        let r = witness.router();
        let tree = Tree::new(7, 64);
        let log = log_key();
        let mut size = 0;
        // Round 0 races two first submissions (the insert), the others two updates from the same
        // old size to two different new sizes.
        for round in 0..20 {
            let (a, b) = (size + 1, size + 2);
            let post_from = |to: u64| {
                let (r, request) = (r.clone(), body(&tree, LOG, &log, size, to));
                tokio::spawn(async move { (to, post(&r, request).await) })
            };
            let (ja, jb) = (post_from(a), post_from(b));
            let answers = [ja.await.unwrap(), jb.await.unwrap()];
            let won: Vec<_> = answers
                .iter()
                .filter(|(_, a)| a.status == StatusCode::OK)
                .collect();
            assert_eq!(won.len(), 1, "round {round}: exactly one wins");
            let (winner, answer) = won[0];
            assert_cosigned(answer, &tree.checkpoint(LOG, *winner));
            let (_, lost) = answers.iter().find(|(to, _)| to != winner).unwrap();
            assert_conflict(lost, *winner);
            let stored = witness.cosigned(LOG).await.unwrap().unwrap();
            assert_eq!((stored.size, stored.root), (*winner, tree.root(*winner)));
            assert!(
                stored.size > size,
                "round {round}: the size never goes back"
            );
            size = stored.size;
        }
        assert!(witness.evidence(LOG).await.unwrap().is_empty());
        witness.close().await;
    }
);

storage_test!(hostile_bodies_get_no_500, |backend| async move {
    let db = TestDb::new(backend).await;
    let witness = open(&db).await;
    let r = witness.router();
    let tree = Tree::new(7, 9);
    let log = log_key();
    assert_cosigned(
        &post(&r, body(&tree, LOG, &log, 0, 5)).await,
        &tree.checkpoint(LOG, 5),
    );
    let good = body(&tree, LOG, &log, 5, 9);

    let huge = format!("{good}{}", "x".repeat(MAX_BODY));
    assert_eq!(post(&r, huge).await.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Every truncation and every single-bit change of a valid request is refused with one of
    // the statuses of §5a, never cosigned, never a 500.
    let bytes = good.as_bytes();
    let mut variants: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
    for i in 0..bytes.len() {
        let mut v = bytes.to_vec();
        v[i] ^= 1;
        variants.push(v);
    }
    for v in variants {
        let answer = post(&r, v.clone()).await;
        assert!(
            [400, 403, 404, 409, 422].contains(&answer.status.as_u16()),
            "{} for {:?}",
            answer.status,
            String::from_utf8_lossy(&v)
        );
    }
    assert_eq!(witness.cosigned(LOG).await.unwrap().unwrap().size, 5);
    assert_cosigned(&post(&r, good).await, &tree.checkpoint(LOG, 9));

    // Other methods and paths.
    let get = r
        .clone()
        .oneshot(Request::get("/add-checkpoint").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    let elsewhere = r
        .clone()
        .oneshot(
            Request::post("/v1/add-checkpoint")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    witness.close().await;
});

/// Sends SIGTERM to the child and waits for it.
fn stop(child: std::process::Child) -> std::process::ExitStatus {
    common::cli::sigterm(child)
}

storage_test!(the_binary_cosigns_over_http, |backend| async move {
    let db = TestDb::new(backend).await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("keys/witness.pem");
        let log_file = dir.path().join("witness.log");
        let port = common::cli::free_port();
        let listen = format!("127.0.0.1:{port}");
        let log_arg = format!(
            "{LOG}={}",
            checkpoint::verifier_key(LOG, &log_key().verifying_key())
        );
        let output = std::fs::File::create(&log_file).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_hwledger"))
            .current_dir(dir.path())
            .args(["witness", "--key"])
            .arg(&key_file)
            .args(["--name", NAME, "--db", &url, "--listen", &listen])
            .args(["--log", &log_arg])
            .env("NO_COLOR", "1")
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("the witness starts");
        let base = format!("http://{listen}");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while ureq::get(&format!("{base}/")).call().is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the witness did not come up: {}",
                std::fs::read_to_string(&log_file).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }

        // The key was created, private, and is the one that cosigns.
        let key = hwledger::protocol::keys::load(&key_file).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let public: VerifyingKey = key.verifying_key();

        let tree = Tree::new(7, 6);
        let answer = ureq::post(&format!("{base}/add-checkpoint"))
            .send_string(&body(&tree, LOG, &log_key(), 0, 6))
            .unwrap();
        assert_eq!(answer.content_type(), "text/plain");
        assert_eq!(answer.charset(), "utf-8");
        let line = answer.into_string().unwrap();
        let text = tree.checkpoint(LOG, 6).body();
        let timestamp =
            cosignature::verify_line(line.strip_suffix('\n').unwrap(), &text, NAME, &public)
                .unwrap();
        assert!(timestamp + 60 >= now());

        match ureq::post(&format!("{base}/add-checkpoint")).send_string(&body(
            &tree,
            LOG,
            &log_key(),
            0,
            6,
        )) {
            Err(ureq::Error::Status(409, response)) => {
                assert_eq!(response.header("content-type"), Some(SIZE_CONTENT_TYPE));
                assert_eq!(response.into_string().unwrap(), "6\n");
            }
            other => panic!("expected 409, got {other:?}"),
        }

        let page: Value = ureq::get(&format!("{base}/"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        assert_eq!(page["key"], hex::encode(public.as_bytes()));
        assert_eq!(
            page["verifier_key"],
            cosignature::verifier_key(NAME, &public)
        );
        assert_eq!(page["logs"][0]["origin"], LOG);
        assert_eq!(page["logs"][0]["size"], 6);
        assert_eq!(page["logs"][0]["root"], BASE64.encode(tree.root(6)));

        assert!(stop(child).success(), "a clean exit on SIGTERM");
        let logged = std::fs::read_to_string(&log_file).unwrap();
        for expected in [
            "created the witness key".to_owned(),
            hex::encode(public.as_bytes()),
            cosignature::verifier_key(NAME, &public),
            "cosigned".to_owned(),
            "refused a checkpoint".to_owned(),
            "stopped".to_owned(),
        ] {
            assert!(logged.contains(&expected), "{expected:?} in {logged}");
        }
    })
    .await
    .unwrap();
});

#[test]
fn the_binary_refuses_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let vkey = checkpoint::verifier_key("another.log", &log_key().verifying_key());
    let run = |args: &[&str]| {
        let out = common::cli::hwledger(dir.path(), args);
        assert!(!out.status.success(), "{args:?}");
        common::cli::text(&out)
    };
    let base = ["witness", "--key", "w.pem"];
    let mismatch = format!("{LOG}={vkey}");
    let said = run(&[&base[..], &["--name", "w", "--log", &mismatch]].concat());
    assert!(said.contains("is for the log \"another.log\""), "{said}");
    let good = format!("another.log={vkey}");
    let said = run(&[&base[..], &["--name", "a b", "--log", &good]].concat());
    assert!(said.contains("not a key name"), "{said}");
    let said = run(&[&base[..], &["--name", "w"]].concat());
    assert!(said.contains("--log"), "{said}");
    let said = run(&[&base[..], &["--name", "w", "--log", &good, "--log", &good]].concat());
    assert!(said.contains("configured twice"), "{said}");
    // Nothing was created by a refused start, the key included.
    assert!(!dir.path().join("w.pem").exists());
}

storage_test!(a_ledger_database_is_refused, |backend| async move {
    let db = TestDb::new(backend).await;
    let ledger = hwledger::store::Store::connect(&DbUrl::new(db.url.clone()))
        .await
        .unwrap();
    ledger.close().await;
    let refused = Witness::open(WitnessConfig {
        name: NAME.into(),
        key: witness_key(),
        db: DbUrl::new(db.url.clone()),
        logs: vec![(LOG.into(), log_key().verifying_key())],
    })
    .await
    .unwrap_err();
    assert!(
        format!("{refused:#}").contains("a database of its own"),
        "{refused:#}"
    );
});
