//! The auditor's proof tools on the command line: `prove` from a database and from a service,
//! `verify-proof` on good and doctored bundles, and `verify --url --checkpoint` exercising the
//! service's consistency proof.

mod common;

use std::path::Path;
use std::process::Output;

use common::cli::*;
use common::harness::*;
use serde_json::{json, Value};

fn get_text(url: &str) -> String {
    ureq::get(url)
        .call()
        .expect("GET answers")
        .into_string()
        .unwrap()
}

/// GETs a protected path as the genesis regulator, with a token signed by its key file.
fn get_as_regulator(dir: &Path, base: &str, path: &str) -> String {
    let key = hwledger::protocol::keys::load(&dir.join("hwledger-keys/regulator.pem")).unwrap();
    let info: Value = serde_json::from_str(&get_text(&format!("{base}/v1/ledger"))).unwrap();
    let now = chrono::Utc::now().timestamp();
    let token = hwledger::protocol::token::mint(
        &key,
        REGULATOR_ORG,
        info["origin"].as_str().unwrap(),
        now,
        300,
    );
    ureq::get(&format!("{base}{path}"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("GET answers")
        .into_string()
        .unwrap()
}

/// Writes `key` as a PKCS#8 PEM file, the form `hwledger keygen` writes.
fn write_key(path: &Path, key: &ed25519_dalek::SigningKey) {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let pem = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(Default::default())
    .unwrap();
    std::fs::write(path, pem.as_bytes()).unwrap();
}

/// The arguments that make a command read as the genesis regulator.
const AS_REGULATOR: [&str; 4] = [
    "--key",
    "hwledger-keys/regulator.pem",
    "--org",
    REGULATOR_ORG,
];

/// Registers `count` orgs through the service with the regulator's key file, one submit of a
/// batch file.
fn register(dir: &Path, base: &str, first: u64, count: u64) {
    let events: Vec<Value> = (first..first + count)
        .map(|n| {
            let public = hex::encode(key(n).verifying_key().to_bytes());
            json!({"type": "org.registered", "actor": REGULATOR_ORG,
                   "body": {"org": org_id(n), "name": format!("常州某化工有限公司{n}"), "region": "320404",
                            "roles": ["generator"], "keys": [public]}})
        })
        .collect();
    let file = dir.join(format!("register-{first}.json"));
    std::fs::write(&file, Value::Array(events).to_string()).unwrap();
    let out = hwledger(
        dir,
        &[
            "submit",
            "--key",
            "hwledger-keys/regulator.pem",
            "--url",
            base,
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// Runs verify-proof on `bundle` written to a file; returns the output.
fn verify_proof(dir: &Path, name: &str, bundle: &str, ledger_key: &str) -> Output {
    std::fs::write(dir.join(name), bundle).unwrap();
    hwledger(dir, &["verify-proof", name, "--ledger-key", ledger_key])
}

#[track_caller]
fn assert_fails(out: &Output, naming: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let t = text(out);
    assert!(
        t.contains("FAILED") && t.contains(naming),
        "expected {naming:?} in: {t}"
    );
}

storage_test!(prove_and_verify_proof, |b| async move {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = TestDb::new(b).await;
    // SQLite's file lives in the test's folder, so the CLI and the service share it.
    let db_url = match b {
        Backend::Sqlite => format!("sqlite://{}", d.join("ledger.db").display()),
        Backend::Postgres => db.url.clone(),
    };
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = serve(d, Some(&db_url), port);
    let info: Value = serde_json::from_str(&get_text(&format!("{base}/v1/ledger"))).unwrap();
    let ledger_key = info["ledger_key"].as_str().unwrap().to_owned();
    register(d, &base, 100, 12);
    // A checkpoint kept by an auditor at size 13.
    let old = get_text(&format!("{base}/v1/checkpoint"));
    assert!(old.lines().nth(1) == Some("13"), "{old}");
    std::fs::write(d.join("old.checkpoint"), &old).unwrap();
    register(d, &base, 200, 9);

    // prove over HTTP, for several entries; each bundle verifies.
    let mut url_bundles = Vec::new();
    for seq in [0u64, 1, 7, 12, 21] {
        let seq_text = seq.to_string();
        let mut args = vec!["prove", "--seq", &seq_text, "--url", &base];
        args.extend(AS_REGULATOR);
        let out = hwledger(d, &args);
        assert!(out.status.success(), "{}", text(&out));
        let bundle = String::from_utf8(out.stdout).unwrap();
        let v: Value = serde_json::from_str(&bundle).unwrap();
        assert_eq!(v["size"], 22);
        assert_eq!(v["entry"]["seq"], seq);
        let entry: Value =
            serde_json::from_str(&get_as_regulator(d, &base, &format!("/v1/entries/{seq}")))
                .unwrap();
        assert_eq!(v["entry"], entry, "the entry as /v1/entries shows it");
        assert_eq!(
            v["checkpoint"].as_str().unwrap(),
            get_text(&format!("{base}/v1/checkpoints/22"))
        );
        let out = verify_proof(d, &format!("url-{seq}.json"), &bundle, &ledger_key);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).starts_with(&format!("ok: entry {seq} (")),
            "{}",
            text(&out)
        );
        assert_eq!(text(&out).lines().count(), 1, "one line: {}", text(&out));
        url_bundles.push(bundle);
    }
    let mut args = vec!["prove", "--seq", "22", "--url", &base];
    args.extend(AS_REGULATOR);
    let out = hwledger(d, &args);
    assert!(!out.status.success());
    assert!(text(&out).contains("not in"), "{}", text(&out));

    // A registered enterprise proves its own registration (entry 1) with its own key, and
    // cannot fetch another enterprise's entry (entry 2) to prove it.
    write_key(&d.join("org100.pem"), &key(100));
    let org100 = org_id(100);
    let as_org100 = ["--key", "org100.pem", "--org", org100.as_str()];
    let mut args = vec!["prove", "--seq", "1", "--url", &base];
    args.extend(as_org100);
    let out = hwledger(d, &args);
    assert!(out.status.success(), "{}", text(&out));
    let own = String::from_utf8(out.stdout).unwrap();
    let out = verify_proof(d, "own.json", &own, &ledger_key);
    assert!(out.status.success(), "{}", text(&out));
    let mut args = vec!["prove", "--seq", "2", "--url", &base];
    args.extend(as_org100);
    let out = hwledger(d, &args);
    assert!(!out.status.success());
    assert!(text(&out).contains("404"), "{}", text(&out));

    // verify --url --checkpoint: the older checkpoint is extended, by replay and by the
    // service's own consistency proof.
    // The full check as the regulator: a replay of every entry, then the service's proof.
    let verify_against = |file: &str| {
        let mut args = vec!["verify", "--url", &base, "--ledger-key", &ledger_key];
        args.extend(AS_REGULATOR);
        args.extend(["--checkpoint", file]);
        hwledger(d, &args)
    };
    let out = verify_against("old.checkpoint");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("extends the older checkpoint of size 13")
            && text(&out).contains("the service's consistency proof from size 13 to 22 verifies"),
        "{}",
        text(&out)
    );
    // A forged older checkpoint: another root at size 13, signed by a key that is not the
    // ledger's, or the ledger's note with its root line changed.
    let other_root = get_text(&format!("{base}/v1/checkpoints/12"))
        .lines()
        .nth(2)
        .unwrap()
        .to_owned();
    let forged = old.replace(old.lines().nth(2).unwrap(), &other_root);
    std::fs::write(d.join("forged.checkpoint"), &forged).unwrap();
    let out = verify_against("forged.checkpoint");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the older checkpoint does not verify"),
        "{}",
        text(&out)
    );
    let foreign = hwledger::protocol::checkpoint::Checkpoint {
        origin: info["origin"].as_str().unwrap().to_owned(),
        size: 13,
        root: [7; 32],
    }
    .sign(&key(777));
    std::fs::write(d.join("foreign.checkpoint"), &foreign).unwrap();
    let out = verify_against("foreign.checkpoint");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no signature by"), "{}", text(&out));

    // --proof-only: an auditor without any read rights checks the extension by the service's
    // consistency proof alone, against the latest signed checkpoint.
    let proof_only = |file: &str| {
        hwledger(
            d,
            &[
                "verify",
                "--url",
                &base,
                "--ledger-key",
                &ledger_key,
                "--checkpoint",
                file,
                "--proof-only",
            ],
        )
    };
    let out = proof_only("old.checkpoint");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("of size 22 extends the older checkpoint of size 13"),
        "{}",
        text(&out)
    );
    let out = proof_only("forged.checkpoint");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the older checkpoint does not verify"),
        "{}",
        text(&out)
    );
    let out = proof_only("foreign.checkpoint");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // A checkpoint the ledger signed at another time for the same size verifies, and so it
    // must be consistent: the latest itself.
    std::fs::write(
        d.join("latest.checkpoint"),
        get_text(&format!("{base}/v1/checkpoint")),
    )
    .unwrap();
    let out = proof_only("latest.checkpoint");
    assert!(out.status.success(), "{}", text(&out));
    // Reading the entries needs a reader's key.
    let out = hwledger(d, &["verify", "--url", &base, "--ledger-key", &ledger_key]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--key and --org"), "{}", text(&out));
    sigterm(child);

    // prove from the database, signing with the ledger key file.
    let out = hwledger(d, &["prove", "--seq", "7", "--db", &db_url]);
    assert!(out.status.success(), "{}", text(&out));
    let db_bundle = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&db_bundle).unwrap(),
        serde_json::from_str::<Value>(&url_bundles[2]).unwrap(),
        "the database and the service give the same bundle"
    );
    let out = verify_proof(d, "db.json", &db_bundle, &ledger_key);
    assert!(out.status.success(), "{}", text(&out));
    let out = hwledger(
        d,
        &[
            "prove",
            "--seq",
            "7",
            "--db",
            &db_url,
            "--ledger-key",
            "hwledger-keys/regulator.pem",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is not this ledger's key"),
        "{}",
        text(&out)
    );

    // Doctored bundles fail with exit 1, naming what failed.
    let good: Value = serde_json::from_str(&url_bundles[2]).unwrap();
    let doctor = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        serde_json::to_string_pretty(&v).unwrap()
    };
    // A changed event field, with the stated hash kept: the hash no longer matches.
    let changed = url_bundles[2].replace("常州某化工有限公司106", "常州某物流有限公司106");
    assert_ne!(changed, url_bundles[2]);
    assert_fails(
        &verify_proof(d, "b1.json", &changed, &ledger_key),
        "entry hash",
    );
    // The same kind of change with the hash left out: the event's signature no longer holds.
    let no_hash = doctor(&|v| {
        v["entry"].as_object_mut().unwrap().remove("hash");
        let e = v["entry"]["event"]["body"]["name"].take();
        v["entry"]["event"]["body"]["name"] = json!(format!("{}!", e.as_str().unwrap()));
    });
    assert_fails(
        &verify_proof(d, "b2.json", &no_hash, &ledger_key),
        "event signature",
    );
    // Without the stated hash but unchanged, the bundle is still good.
    let unchanged = doctor(&|v| {
        v["entry"].as_object_mut().unwrap().remove("hash");
    });
    assert!(verify_proof(d, "b3.json", &unchanged, &ledger_key)
        .status
        .success());
    // A changed proof hash.
    let bad_proof = doctor(&|v| {
        let h = v["proof"][1].as_str().unwrap().to_owned();
        let flipped = if h.starts_with('0') { "1" } else { "0" }.to_owned() + &h[1..];
        v["proof"][1] = json!(flipped);
    });
    assert_fails(
        &verify_proof(d, "b4.json", &bad_proof, &ledger_key),
        "inclusion",
    );
    // A proof hash that is not hex.
    let not_hex = doctor(&|v| v["proof"][0] = json!("xyz"));
    assert_fails(
        &verify_proof(d, "b5.json", &not_hex, &ledger_key),
        "inclusion",
    );
    // A checkpoint of another size, with the bundle's size left alone or made to match.
    let other_size = doctor(&|v| v["checkpoint"] = json!(old));
    assert_fails(
        &verify_proof(d, "b6.json", &other_size, &ledger_key),
        "checkpoint: it is of size 13",
    );
    let other_size_matched = doctor(&|v| {
        v["checkpoint"] = json!(old);
        v["size"] = json!(13);
    });
    assert_fails(
        &verify_proof(d, "b7.json", &other_size_matched, &ledger_key),
        "inclusion",
    );
    // The wrong ledger key.
    let other_key = hex::encode(key(4242).verifying_key().to_bytes());
    assert_fails(
        &verify_proof(d, "b8.json", &url_bundles[2], &other_key),
        "checkpoint signature",
    );
    // Trailing junk, unknown fields, and things that are not bundles at all.
    let junk = url_bundles[2].clone() + "\n{}";
    assert_fails(
        &verify_proof(d, "b9.json", &junk, &ledger_key),
        "bundle: trailing characters",
    );
    let extra = doctor(&|v| v["note"] = json!("trust me"));
    assert_fails(
        &verify_proof(d, "b10.json", &extra, &ledger_key),
        "bundle: unknown field `note`",
    );
    let extra_in_entry = doctor(&|v| v["entry"]["witness"] = json!(1));
    assert_fails(
        &verify_proof(d, "b11.json", &extra_in_entry, &ledger_key),
        "unknown field `witness`",
    );
    assert_fails(&verify_proof(d, "b12.json", "", &ledger_key), "bundle:");
    assert_fails(
        &verify_proof(d, "b13.json", "[1,2,3]", &ledger_key),
        "bundle:",
    );
    let out = hwledger(
        d,
        &["verify-proof", "missing.json", "--ledger-key", &ledger_key],
    );
    assert_fails(&out, "cannot read missing.json");
    assert_fails(
        &verify_proof(d, "b14.json", &url_bundles[2], "00"),
        "--ledger-key",
    );
});
