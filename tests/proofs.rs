//! Proofs and historic checkpoints over HTTP, on SQLite and PostgreSQL: every inclusion and
//! consistency proof of small ledgers verifies against the root of the signed checkpoint of its
//! size, tampering is caught, bad queries get `invalid_query`, checkpoints are the same bytes from
//! any process, and an independent verifier (Python, RFC 9162 as written) agrees.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use axum::http::StatusCode;
use common::harness::*;
use serde_json::{json, Value};

use hwledger::protocol::checkpoint::Checkpoint;
use hwledger::protocol::event::parse_hex;
use hwledger::protocol::merkle::{self, Hash};

const ORIGIN: &str = "test.hwledger.local";

/// Appends `count` `org.registered` entries in one batch, orgs numbered from `first`.
async fn grow(l: &TestLedger, first: u64, count: u64) {
    let batch: Vec<Value> = (first..first + count)
        .map(|n| {
            let key = Actor {
                org: String::new(),
                key: key(n),
            }
            .public();
            sign(
                &event(
                    &l.regulator.org,
                    "org.registered",
                    json!({"org": org_id(n), "name": format!("单位{n}"), "region": "320404", "roles": ["generator"], "keys": [key]}),
                ),
                &l.regulator.key,
            )
        })
        .collect();
    let (status, answer) = l.post(&Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for item in answer.as_array().unwrap() {
        assert_eq!(item["status"], 201, "{item}");
    }
}

fn hash(v: &Value) -> Hash {
    parse_hex::<32>(v.as_str().expect("a hex string")).expect("64 hex characters")
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().expect("a list").iter().map(hash).collect()
}

/// The signed checkpoint of `size`, opened with the ledger key: its note text and root.
async fn checkpoint(l: &TestLedger, size: u64) -> (String, Hash) {
    let (status, note) = l.get(&format!("/v1/checkpoints/{size}")).await;
    assert_eq!(status, StatusCode::OK, "{note}");
    let note = note.as_str().expect("a text note").to_owned();
    let cp = Checkpoint::open(&note, ORIGIN, &l.ledger_key.verifying_key())
        .expect("the checkpoint is signed by the ledger key");
    assert_eq!(cp.size, size);
    (note, cp.root)
}

async fn inclusion(l: &TestLedger, seq: u64, size: u64) -> Value {
    let (status, p) = l
        .get(&format!("/v1/proofs/inclusion?seq={seq}&size={size}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(
        (p["seq"].as_u64(), p["size"].as_u64()),
        (Some(seq), Some(size))
    );
    p
}

async fn consistency(l: &TestLedger, from: u64, to: u64) -> Value {
    let (status, p) = l
        .get(&format!("/v1/proofs/consistency?from={from}&to={to}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(
        (p["from"].as_u64(), p["to"].as_u64()),
        (Some(from), Some(to))
    );
    p
}

/// Checks an inclusion proof against the signed root of its size, and that tampering fails.
fn check_inclusion(p: &Value, entry_hash: &Hash, root: &Hash) {
    let (seq, size) = (p["seq"].as_u64().unwrap(), p["size"].as_u64().unwrap());
    assert_eq!(&hash(&p["leaf"]), entry_hash, "leaf of {seq}");
    assert_eq!(&hash(&p["root"]), root, "root of {size}");
    let leaf = merkle::leaf_hash(entry_hash);
    let proof = hashes(&p["proof"]);
    assert_eq!(
        merkle::verify_inclusion(seq, size, &leaf, &proof, root),
        Ok(()),
        "{seq} in {size}"
    );
    for i in 0..proof.len() {
        let mut bad = proof.clone();
        bad[i][i % 32] ^= 0x10;
        assert!(merkle::verify_inclusion(seq, size, &leaf, &bad, root).is_err());
    }
    let mut other_root = *root;
    other_root[0] ^= 1;
    assert!(merkle::verify_inclusion(seq, size, &leaf, &proof, &other_root).is_err());
    // The entry hash itself is not the leaf: a verifier must hash it with 0x00 first.
    assert!(merkle::verify_inclusion(seq, size, entry_hash, &proof, root).is_err() || size == 0);
    if size > 1 {
        let mut short = proof.clone();
        short.pop();
        assert!(merkle::verify_inclusion(seq, size, &leaf, &short, root).is_err());
    }
}

fn check_consistency(p: &Value, root_m: &Hash, root_n: &Hash) {
    let (m, n) = (p["from"].as_u64().unwrap(), p["to"].as_u64().unwrap());
    assert_eq!(&hash(&p["root_from"]), root_m, "root of {m}");
    assert_eq!(&hash(&p["root_to"]), root_n, "root of {n}");
    let proof = hashes(&p["proof"]);
    assert_eq!(
        merkle::verify_consistency(m, n, root_m, root_n, &proof),
        Ok(()),
        "{m} to {n}"
    );
    for i in 0..proof.len() {
        let mut bad = proof.clone();
        bad[i][31 - i % 32] ^= 0x01;
        assert!(merkle::verify_consistency(m, n, root_m, root_n, &bad).is_err());
    }
    let mut other = *root_n;
    other[5] ^= 0x40;
    assert!(merkle::verify_consistency(m, n, root_m, &other, &proof).is_err());
    let mut other = *root_m;
    other[9] ^= 0x02;
    assert!(merkle::verify_consistency(m, n, &other, root_n, &proof).is_err());
}

/// The entry hashes `0..size`, as the service states them.
async fn entry_hashes(l: &TestLedger, size: u64) -> Vec<Hash> {
    let mut out = Vec::new();
    while (out.len() as u64) < size {
        let (_, page) = l
            .get(&format!("/v1/entries?from={}&limit=1000", out.len()))
            .await;
        for e in page["entries"].as_array().unwrap() {
            out.push(hash(&e["hash"]));
        }
    }
    out.truncate(size as usize);
    out
}

storage_test!(
    every_proof_of_small_ledgers_verifies_against_its_checkpoint,
    |b| async move {
        let l = TestLedger::start(b).await;
        // The ledger grows one entry at a time; at every head the default sizes are the head's.
        for n in 1..=39 {
            let size = l.size().await;
            let (_, latest) = l.get("/v1/checkpoint").await;
            let (note, root) = checkpoint(&l, size).await;
            assert_eq!(
                latest.as_str().unwrap(),
                note,
                "/v1/checkpoints/{{head}} is /v1/checkpoint"
            );
            let (_, p) = l.get("/v1/proofs/inclusion?seq=0").await;
            assert_eq!(p["size"], size);
            assert_eq!(hash(&p["root"]), root);
            let (_, p) = l.get("/v1/proofs/consistency?from=1").await;
            assert_eq!((p["to"].as_u64(), hash(&p["root_to"])), (Some(size), root));
            l.register(n, &["generator"], "320404").await;
        }
        let head = l.size().await;
        assert_eq!(head, 40);
        let entries = entry_hashes(&l, head).await;
        let mut roots = vec![merkle::empty_root()];
        for size in 1..=head {
            roots.push(checkpoint(&l, size).await.1);
        }
        let (_, note0) = l.get("/v1/checkpoints/0").await;
        let cp0 = Checkpoint::open(
            note0.as_str().unwrap(),
            ORIGIN,
            &l.ledger_key.verifying_key(),
        )
        .unwrap();
        assert_eq!((cp0.size, cp0.root), (0, merkle::empty_root()));

        for size in 1..=head {
            for seq in 0..size {
                let p = inclusion(&l, seq, size).await;
                check_inclusion(&p, &entries[seq as usize], &roots[size as usize]);
            }
            for m in 1..=size {
                let p = consistency(&l, m, size).await;
                check_consistency(&p, &roots[m as usize], &roots[size as usize]);
            }
        }
    }
);

storage_test!(larger_ledgers_prove_at_their_edges, |b| async move {
    let l = TestLedger::start(b).await;
    // Batches end on and around powers of two, where the tree's shape changes.
    let mut next = 1000;
    for target in [63, 64, 65, 127, 128, 129, 300, 511, 512, 513, 700] {
        let size = l.size().await;
        grow(&l, next, target - size).await;
        next += target - size;
        let size = l.size().await;
        assert_eq!(size, target);
        let entries = entry_hashes(&l, size).await;
        let (_, root) = checkpoint(&l, size).await;
        let mut seqs = vec![0, 1, size / 2, size - 2, size - 1];
        seqs.extend((0..6).map(|i| (i * 97 + size) % size));
        for seq in seqs {
            let (_, p) = l.get(&format!("/v1/proofs/inclusion?seq={seq}")).await;
            check_inclusion(&p, &entries[seq as usize], &root);
        }
        for m in [1, 2, 3, 31, 32, 33, 63, 64, 65, size / 3, size - 1, size] {
            if m == 0 || m > size {
                continue;
            }
            let (_, root_m) = checkpoint(&l, m).await;
            let (_, p) = l.get(&format!("/v1/proofs/consistency?from={m}")).await;
            check_consistency(&p, &root_m, &root);
            // And between older sizes.
            let mid = (m + size) / 2;
            let (_, root_mid) = checkpoint(&l, mid).await;
            check_consistency(&consistency(&l, m, mid).await, &root_m, &root_mid);
        }
    }
});

storage_test!(
    bad_queries_are_invalid_query_and_too_new_checkpoints_not_found,
    |b| async move {
        let l = TestLedger::start(b).await;
        grow(&l, 10, 4).await;
        let size = l.size().await;
        assert_eq!(size, 5);
        for q in [
            "/v1/proofs/inclusion",
            "/v1/proofs/inclusion?size=3",
            "/v1/proofs/inclusion?seq=5",
            "/v1/proofs/inclusion?seq=3&size=3",
            "/v1/proofs/inclusion?seq=0&size=0",
            "/v1/proofs/inclusion?seq=0&size=6",
            "/v1/proofs/inclusion?seq=abc",
            "/v1/proofs/inclusion?seq=-1",
            "/v1/proofs/inclusion?seq=1.0",
            "/v1/proofs/inclusion?seq=",
            "/v1/proofs/inclusion?seq=+1",
            "/v1/proofs/inclusion?seq=18446744073709551616",
            "/v1/proofs/inclusion?seq=1&sise=3",
            "/v1/proofs/inclusion?seq=0&size=18446744073709551615",
            "/v1/proofs/inclusion?seq=9223372036854775808&size=18446744073709551615",
            "/v1/proofs/inclusion?seq=9223372036854775807&size=9223372036854775808",
            "/v1/proofs/inclusion?seq=9223372036854775806&size=9223372036854775807",
            "/v1/proofs/consistency",
            "/v1/proofs/consistency?to=3",
            "/v1/proofs/consistency?from=0",
            "/v1/proofs/consistency?from=0&to=3",
            "/v1/proofs/consistency?from=4&to=3",
            "/v1/proofs/consistency?from=6",
            "/v1/proofs/consistency?from=1&to=6",
            "/v1/proofs/consistency?from=x&to=3",
            "/v1/proofs/consistency?from=1&to=three",
            "/v1/proofs/consistency?from=1&until=3",
            "/v1/proofs/consistency?from=1&to=18446744073709551615",
            "/v1/proofs/consistency?from=18446744073709551615&to=18446744073709551615",
            "/v1/proofs/consistency?from=9223372036854775807&to=9223372036854775807",
        ] {
            let answer = l.get(q).await;
            assert_problem(&answer, 400, "invalid_query");
            let detail = answer.1["detail"].as_str().unwrap();
            assert!(!detail.is_empty(), "{q}");
        }
        let (_, p) = l.get("/v1/proofs/inclusion?seq=3&size=6").await;
        assert!(p["detail"].as_str().unwrap().contains("beyond"), "{p}");
        let (_, p) = l.get("/v1/proofs/inclusion?seq=5").await;
        assert!(p["detail"].as_str().unwrap().contains("seq < size"), "{p}");
        let (_, p) = l.get("/v1/proofs/consistency?from=0").await;
        assert!(p["detail"].as_str().unwrap().contains("at least 1"), "{p}");
        let (_, p) = l.get("/v1/proofs/inclusion?seq=x").await;
        assert!(p["detail"].as_str().unwrap().contains("seq"), "{p}");
        for path in [
            "/v1/checkpoints/6",
            "/v1/checkpoints/-1",
            "/v1/checkpoints/x",
            "/v1/checkpoints/05",
            "/v1/checkpoints/18446744073709551616",
            "/v1/checkpoints/18446744073709551615",
            "/v1/checkpoints/9223372036854775807",
        ] {
            assert_problem(&l.get(path).await, 404, "not_found");
        }
        // The edges that are allowed.
        assert_eq!(l.get("/v1/checkpoints/5").await.0, StatusCode::OK);
        assert_eq!(
            l.get("/v1/proofs/inclusion?seq=4&size=5").await.0,
            StatusCode::OK
        );
        assert_eq!(
            l.get("/v1/proofs/consistency?from=5&to=5").await.1["proof"],
            json!([])
        );
        // Nothing was appended by any of this.
        assert_eq!(l.size().await, 5);
    }
);

storage_test!(
    checkpoints_are_the_same_bytes_from_any_process,
    |b| async move {
        let mut l = TestLedger::start(b).await;
        grow(&l, 10, 20).await;
        let head = l.size().await;
        let mut notes = Vec::new();
        for size in 0..=head {
            let (s, note) = l.get(&format!("/v1/checkpoints/{size}")).await;
            assert_eq!(s, StatusCode::OK);
            notes.push(note);
        }
        let (second, other) = l.second_process().await;
        for size in 0..=head {
            let (_, note) = other.get(&format!("/v1/checkpoints/{size}")).await;
            assert_eq!(
                note, notes[size as usize],
                "size {size} from a second process"
            );
        }
        // Appends through the second process are proved by the first.
        grow(&other, 100, 3).await;
        assert_eq!(l.size().await, head + 3);
        let (_, p) = l.get(&format!("/v1/proofs/consistency?from={head}")).await;
        let (_, root_m) = checkpoint(&l, head).await;
        let (_, root_n) = checkpoint(&other, head + 3).await;
        check_consistency(&p, &root_m, &root_n);
        // The same with the sizes given, which the first process has not appended itself.
        let to = head + 3;
        let (s, p) = l
            .get(&format!("/v1/proofs/consistency?from={head}&to={to}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        check_consistency(&p, &root_m, &root_n);
        let (s, inc) = l
            .get(&format!("/v1/proofs/inclusion?seq={}&size={to}", to - 1))
            .await;
        assert_eq!(s, StatusCode::OK, "{inc}");
        assert_eq!(inc["root"], p["root_to"], "the same tree of size {to}");
        second.shutdown().await;

        l.restart().await;
        for size in 0..=head {
            let (_, note) = l.get(&format!("/v1/checkpoints/{size}")).await;
            assert_eq!(note, notes[size as usize], "size {size} after a restart");
        }
        let (_, latest) = l.get("/v1/checkpoint").await;
        let (_, at_head) = l.get(&format!("/v1/checkpoints/{}", head + 3)).await;
        assert_eq!(latest, at_head);
        // The historic note is plain text, as /v1/checkpoint is.
        let resp = {
            use tower::ServiceExt;
            l.router
                .clone()
                .oneshot(
                    axum::http::Request::get("/v1/checkpoints/3")
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap()
        };
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
    }
);

storage_test!(proofs_are_in_the_openapi_document, |b| async move {
    let l = TestLedger::start(b).await;
    let (_, doc) = l.get("/openapi.json").await;
    for path in [
        "/v1/proofs/inclusion",
        "/v1/proofs/consistency",
        "/v1/checkpoints/{size}",
    ] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} is documented"
        );
    }
    for schema in ["InclusionProof", "ConsistencyProof"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
});

/// Runs the Python verifier over `cases`; returns its verdict per case.
fn python_verdicts(cases: &[Value]) -> Vec<bool> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/rfc9162_verify.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("python3 is needed for the independent proof verifier and could not run: {e}")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!({ "cases": cases }).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Python verifier failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the verifier prints a JSON list")
}

fn flip(hex_hash: &Value) -> Value {
    let mut h = hash(hex_hash);
    h[17] ^= 0x08;
    Value::String(hex::encode(h))
}

storage_test!(an_independent_python_verifier_agrees, |b| async move {
    let l = TestLedger::start(b).await;
    grow(&l, 10, 36).await;
    let head = l.size().await;
    let entries = entry_hashes(&l, head).await;
    let mut notes = vec![String::new()];
    for size in 1..=head {
        notes.push(checkpoint(&l, size).await.0);
    }
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for size in 1..=head {
        for seq in 0..size {
            let p = inclusion(&l, seq, size).await;
            let case = json!({"kind": "inclusion", "seq": seq, "size": size,
                "entry_hash": hex::encode(entries[seq as usize]), "proof": p["proof"],
                "checkpoint": notes[size as usize]});
            cases.push(case.clone());
            expected.push(true);
            // Tampered: a proof hash, the entry, the checkpoint's size, the index.
            if let Some(first) = p["proof"].get(0) {
                let mut bad = case.clone();
                bad["proof"][0] = flip(first);
                cases.push(bad);
                expected.push(false);
            }
            let mut bad = case.clone();
            bad["entry_hash"] = flip(&case["entry_hash"]);
            cases.push(bad);
            expected.push(false);
            if size < head {
                let mut bad = case.clone();
                bad["checkpoint"] = json!(notes[size as usize + 1]);
                cases.push(bad);
                expected.push(false);
            }
            if seq + 1 < size && size > 2 {
                let mut bad = case.clone();
                bad["seq"] = json!(seq + 1);
                cases.push(bad);
                expected.push(false);
            }
        }
        for m in 1..=size {
            let p = consistency(&l, m, size).await;
            let case = json!({"kind": "consistency", "from": m, "to": size, "proof": p["proof"],
                "checkpoint_from": notes[m as usize], "checkpoint_to": notes[size as usize]});
            cases.push(case.clone());
            expected.push(true);
            if let Some(last) = p["proof"].as_array().unwrap().last() {
                let mut bad = case.clone();
                let n = bad["proof"].as_array().unwrap().len();
                bad["proof"][n - 1] = flip(last);
                cases.push(bad);
                expected.push(false);
            }
            if m < size {
                // Swapped checkpoints, and an old checkpoint of another size.
                let mut bad = case.clone();
                bad["checkpoint_from"] = json!(notes[size as usize]);
                bad["checkpoint_to"] = json!(notes[m as usize]);
                cases.push(bad);
                expected.push(false);
                let mut bad = case.clone();
                bad["checkpoint_from"] = json!(notes[m as usize + 1]);
                bad["from"] = json!(m + 1);
                cases.push(bad);
                expected.push(false);
            }
        }
    }
    // A note whose text was edited keeps its shape but moves the root.
    let p = inclusion(&l, 3, 8).await;
    let root_line = notes[8].lines().nth(2).unwrap().to_owned();
    let other_root = notes[9].lines().nth(2).unwrap().to_owned();
    cases.push(json!({"kind": "inclusion", "seq": 3, "size": 8,
        "entry_hash": hex::encode(entries[3]), "proof": p["proof"],
        "checkpoint": notes[8].replace(&root_line, &other_root)}));
    expected.push(false);
    let verdicts = python_verdicts(&cases);
    assert_eq!(verdicts.len(), expected.len());
    for (i, (got, want)) in verdicts.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "case {i}: {}", cases[i]);
    }
    assert!(expected.iter().filter(|&&e| e).count() > 1000);
});
