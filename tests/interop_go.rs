//! Interoperability with code we did not write: Go's `golang.org/x/mod/sumdb/tlog` and
//! `sumdb/note` (tests/tools/tlog-go) read a live ledger over TCP, verify its checkpoints,
//! rebuild its roots from the C2SP tiles, check the entry bundles against the leaves, and check
//! hwledger's inclusion and consistency proofs, which must equal Go's own, at sizes either side
//! of the tile boundaries (spec §5, §5a). A proxy that alters one response shows the tool
//! notices. With witnesses (spec §5a), the tool checks the cosignature lines of
//! `/v1/tlog/checkpoint` with Go's standard library, written from the C2SP text, against a
//! quorum; and a worked example of a cosignature is computed by hwledger and by Go and must be
//! the same bytes (and the literal bytes below, which docs/protocol.md may quote).
//!
//! Needs `go` and the x/mod source of Debian's `golang-golang-x-mod-dev` (the build is offline:
//! `GOPROXY=off`, go.mod replaces x/mod with /usr/share/gocode/src/golang.org/x/mod). Without
//! them the test fails and says what to install; `HWLEDGER_SKIP_GO=1` turns that failure into a
//! printed skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use common::harness::*;
use common::witnesses::{wait_cosigned, RunningWitness};
use hwledger::protocol::checkpoint::{self, Checkpoint};
use hwledger::protocol::cosignature;

const GO_MOD_SOURCE: &str = "/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog";

/// The built Go tool, or why there is none: built once per test binary.
static TOOL: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Builds tests/tools/tlog-go into the target directory, offline.
fn build_tool() -> Result<PathBuf, String> {
    let version = Command::new("go").arg("version").output();
    match version {
        Ok(out) if out.status.success() => {
            eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim())
        }
        Ok(out) => {
            return Err(format!(
                "`go version` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
        Err(e) => return Err(format!("`go` cannot run: {e}")),
    }
    if !Path::new(GO_MOD_SOURCE).is_dir() {
        return Err(format!("{GO_MOD_SOURCE} is missing"));
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = tmp.join("tlog-go").join("tlog-go");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/tlog-go"))
        // No network and no user state: the x/mod of go.mod's replace directive, a cache in
        // the target directory, module mode whatever the caller's environment says.
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GO111MODULE", "on")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", tmp.join("go-build-cache"))
        .env("GOPATH", tmp.join("gopath"))
        .output()
        .map_err(|e| format!("`go build` cannot run: {e}"))?;
    if !built.status.success() {
        return Err(format!(
            "`go build` of tests/tools/tlog-go failed:\n{}",
            String::from_utf8_lossy(&built.stderr)
        ));
    }
    Ok(out)
}

/// The Go tool; `None` (after printing why) only when Go is missing and HWLEDGER_SKIP_GO=1.
fn tool() -> Option<PathBuf> {
    match TOOL.get_or_init(build_tool) {
        Ok(path) => Some(path.clone()),
        Err(why) if std::env::var("HWLEDGER_SKIP_GO").as_deref() == Ok("1") => {
            eprintln!("SKIPPED the Go tlog interoperability test (HWLEDGER_SKIP_GO=1): {why}");
            None
        }
        Err(why) => panic!(
            "{why}\nThe Go tlog interoperability test needs Go and golang.org/x/mod: install them \
             with `apt-get install -y golang-go golang-golang-x-mod-dev` (or set \
             HWLEDGER_SKIP_GO=1 to skip this test)"
        ),
    }
}

/// Serves `app` on a fresh local port; returns its base URL and the sender that stops it.
async fn listen(app: Router) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(hwledger::api::serve(listener, app, async move {
        let _ = stopped.await;
    }));
    (url, stop)
}

/// A change to a response body.
type Alter = fn(&mut Vec<u8>);

/// The ledger's router with the body of every `GET <path>` changed by `alter`, as a hostile
/// server or a damaged cache would serve it.
fn tampering(inner: Router, path: &'static str, alter: Alter) -> Router {
    Router::new().fallback(move |req: Request<Body>| {
        let inner = inner.clone();
        async move {
            let hit = req.uri().path() == path;
            let resp = inner.oneshot(req).await.unwrap();
            if !hit {
                return resp;
            }
            let (mut parts, body) = resp.into_parts();
            let mut bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap()
                .to_vec();
            alter(&mut bytes);
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(bytes))
        }
    })
}

/// Flips a bit of the first hash of a JSON proof.
fn alter_proof(body: &mut Vec<u8>) {
    let mut v: serde_json::Value = serde_json::from_slice(body).unwrap();
    let mut first = hex::decode(v["proof"][0].as_str().expect("a proof hash")).unwrap();
    first[3] ^= 0x01;
    v["proof"][0] = json!(hex::encode(first));
    *body = serde_json::to_vec(&v).unwrap();
}

/// Runs the Go tool against `url`, with `extra` arguments (witnesses, quorum); returns whether
/// it passed, and its stdout and stderr.
async fn run_tool(
    tool: &Path,
    url: &str,
    key: &str,
    size: u64,
    extra: &[String],
) -> (bool, String, String) {
    let out = tokio::process::Command::new(tool)
        .args(["-url", url, "-key", key, "-size", &size.to_string()])
        .args(extra)
        .output()
        .await
        .expect("the Go tool runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Appends `org.registered` events until the ledger holds `target` entries.
async fn grow_to(l: &TestLedger, target: u64, n: &mut u64) {
    loop {
        let size = l.size().await;
        if size >= target {
            assert_eq!(size, target, "overshot");
            return;
        }
        let batch: Vec<_> = (0..(target - size).min(400))
            .map(|_| {
                *n += 1;
                let i = 70_000 + *n;
                sign(
                    &event(
                        REGULATOR_ORG,
                        "org.registered",
                        json!({"org": org_id(i), "name": format!("单位{i}"), "region": "320404",
                               "roles": ["carrier"], "keys": [hex::encode(key(i).verifying_key().to_bytes())]}),
                    ),
                    &l.regulator.key,
                )
            })
            .collect();
        let (status, v) = l.post(&json!(batch)).await;
        assert!(status.is_success(), "{v}");
    }
}

storage_test!(
    go_sumdb_tlog_verifies_the_tiles_checkpoints_and_proofs,
    |backend| async move {
        let Some(tool) = tool() else { return };
        let l = TestLedger::start(backend).await;
        let (url, _stop) = listen(l.router.clone()).await;
        let (_, info) = l.get("/v1/ledger").await;
        let vkey = info["verifier_key"]
            .as_str()
            .expect("a verifier key")
            .to_owned();
        assert_eq!(
            vkey,
            hwledger::protocol::checkpoint::verifier_key(ORIGIN, &l.ledger_key.verifying_key())
        );

        // Either side of the level-0 tile boundaries (256, 512) and a level-1 partial tile of
        // width 2, with a partial level-0 tile at the end.
        let mut n = 0;
        for size in [1u64, 2, 255, 256, 257, 511, 512, 513, 700] {
            grow_to(&l, size, &mut n).await;
            let (ok, stdout, stderr) = run_tool(&tool, &url, &vkey, size, &[]).await;
            eprint!("size {size}: {stdout}{stderr}");
            assert!(ok, "Go's tlog rejects the ledger at size {size}:\n{stderr}");
            assert!(
                stdout.starts_with(&format!("OK size={size} ")),
                "at size {size}: {stdout}"
            );
        }

        // The tool can fail: a key that did not sign, and altered bytes on the wire.
        let other = hwledger::protocol::checkpoint::verifier_key(ORIGIN, &key(7).verifying_key());
        let (ok, _, stderr) = run_tool(&tool, &url, &other, 700, &[]).await;
        assert!(!ok && stderr.contains("note.Open"), "another key: {stderr}");
        let cases: [(&str, Alter, &str); 6] = [
            // Leaf 300's hash. x/mod's TileHashReader lets this full tile through unchecked at
            // size 700 (see tests/tools/tlog-go/main.go); Go's proof of entry 256 over the
            // tiles, checked against the signed root, catches it.
            (
                "/v1/tlog/tile/0/001",
                |b| b[44 * 32 + 5] ^= 0x01,
                "entry 256: tlog.CheckRecord",
            ),
            // The root of leaves 256..511, needed for the root of 700.
            (
                "/v1/tlog/tile/1/000.p/2",
                |b| b[32 + 5] ^= 0x01,
                "tlog.TreeHash",
            ),
            // Entry 600's hash (not its length prefix).
            (
                "/v1/tlog/tile/entries/002.p/188",
                |b| b[88 * 34 + 2 + 5] ^= 0x01,
                "entry 600: RecordHash",
            ),
            // A character of the root line (after `test.hwledger.local\n700\n`, 24 bytes): the
            // signature no longer verifies.
            ("/v1/tlog/checkpoint", |b| b[24 + 5] ^= 0x01, "note.Open"),
            // hwledger's own proofs.
            (
                "/v1/proofs/inclusion",
                alter_proof,
                "tlog.CheckRecord rejects hwledger's proof of 0 in 700",
            ),
            (
                "/v1/proofs/consistency",
                alter_proof,
                "tlog.CheckTree rejects hwledger's proof from 1 to 700",
            ),
        ];
        for (path, alter, expect) in cases {
            let (bad_url, _stop) = listen(tampering(l.router.clone(), path, alter)).await;
            let (ok, stdout, stderr) = run_tool(&tool, &bad_url, &vkey, 700, &[]).await;
            assert!(
                !ok && stderr.contains(expect),
                "with {path} altered the Go tool must fail with {expect:?}:\n{stdout}{stderr}"
            );
            eprint!("{path} altered: {stderr}");
        }
    }
);

/// Flips a bit of the signature (not the key ID or timestamp) in the first witness line of a
/// cosigned note, keeping the base64 well-formed so that only the signature is wrong.
fn alter_cosignature(body: &mut Vec<u8>) {
    let note = String::from_utf8(body.clone()).unwrap();
    let (text, sigs) = note.split_once("\n\n").expect("a signed note");
    let mut lines: Vec<String> = sigs.lines().map(str::to_owned).collect();
    assert!(lines.len() >= 2, "no witness line to alter: {note}");
    let (prefix, b64) = lines[1].rsplit_once(' ').unwrap();
    let b64e = base64::engine::general_purpose::STANDARD;
    let mut blob = b64e.decode(b64).unwrap();
    assert_eq!(blob.len(), 76);
    blob[4 + 8 + 10] ^= 0x01;
    lines[1] = format!("{prefix} {}", b64e.encode(blob));
    *body = format!("{text}\n\n{}\n", lines.join("\n")).into_bytes();
}

storage_test!(
    go_verifies_the_witness_cosignatures_and_the_quorum,
    |backend| async move {
        let Some(tool) = tool() else { return };
        let l = TestLedger::start(backend).await;
        let (url, _stop) = listen(l.router.clone()).await;
        let vkey = checkpoint::verifier_key(ORIGIN, &l.ledger_key.verifying_key());
        let mut w1 = RunningWitness::start("bureau.example/w1", 841, backend, &l).await;
        let mut w2 = RunningWitness::start("proc.example/w2", 842, backend, &l).await;
        let witnesses = [w1.policy_entry(), w2.policy_entry()];
        l.ok(
            &l.regulator,
            "ledger.witnesses_set",
            json!({"witnesses": witnesses, "quorum": 2, "reason": "省厅与检察院见证服务"}),
        )
        .await;
        let mut n = 0;
        let head = l.size().await + 40;
        grow_to(&l, head, &mut n).await;
        wait_cosigned(&l, &[&w1.name, &w2.name], head).await;

        // Both given, quorum 2: passes and names both.
        let both = [
            "-witness".to_owned(),
            w1.arg(),
            "-witness".to_owned(),
            w2.arg(),
            "-quorum".to_owned(),
            "2".to_owned(),
        ];
        let (ok, stdout, stderr) = run_tool(&tool, &url, &vkey, head, &both).await;
        eprint!("{stdout}{stderr}");
        assert!(ok, "Go rejects the cosigned checkpoint:\n{stderr}");
        let cosigned = format!("OK size={head} ");
        assert!(stdout.starts_with(&cosigned), "{stdout}");
        let named = stdout.split(": ").next().unwrap();
        assert!(
            named.contains(&format!("{}@", w1.name))
                && named.contains(&format!("{}@", w2.name))
                && named.contains("(quorum 2 of 2 given)"),
            "both witnesses must be named: {stdout}"
        );
        // One given, quorum 1: names that one only.
        let one = [
            "-witness".to_owned(),
            w2.arg(),
            "-quorum".to_owned(),
            "1".to_owned(),
        ];
        let (ok, stdout, stderr) = run_tool(&tool, &url, &vkey, head, &one).await;
        assert!(ok, "{stderr}");
        let named = stdout.split(": ").next().unwrap();
        assert!(
            named.contains(&format!("[{}@", w2.name)) && !named.contains(&w1.name),
            "{stdout}"
        );

        // w1's key replaced by another: its line is another key's, so only w2 counts.
        let wrong = [
            "-witness".to_owned(),
            format!(
                "{}={}",
                w1.name,
                hex::encode(key(843).verifying_key().as_bytes())
            ),
            "-witness".to_owned(),
            w2.arg(),
            "-quorum".to_owned(),
            "2".to_owned(),
        ];
        let (ok, stdout, stderr) = run_tool(&tool, &url, &vkey, head, &wrong).await;
        assert!(
            !ok && stderr.contains("quorum not met: 1 of the 2 given witnesses"),
            "a replaced key must break the quorum:\n{stdout}{stderr}"
        );
        eprint!("another key for {}: {stderr}", w1.name);

        // A bit flipped in w1's signature on the wire.
        let (bad_url, _bad_stop) = listen(tampering(
            l.router.clone(),
            "/v1/tlog/checkpoint",
            alter_cosignature,
        ))
        .await;
        let (ok, stdout, stderr) = run_tool(&tool, &bad_url, &vkey, head, &both).await;
        let expect = format!("cosignature of {} at time", w1.name);
        assert!(
            !ok && stderr.contains(&expect) && stderr.contains("does not verify"),
            "an altered cosignature must fail:\n{stdout}{stderr}"
        );
        eprint!("altered cosignature: {stderr}");

        w1.stop().await;
        w2.stop().await;
    }
);

/// The worked example of a cosigned checkpoint: fixed keys, tree and time.
const EXAMPLE_ORIGIN: &str = "hwledger.example/320404";
const EXAMPLE_WITNESS: &str = "witness.example/w1";
const EXAMPLE_TIME: u64 = 1_767_225_600;

struct Example {
    ledger: SigningKey,
    witness: SigningKey,
    checkpoint: Checkpoint,
}

fn example() -> Example {
    Example {
        ledger: SigningKey::from_bytes(&[5u8; 32]),
        witness: SigningKey::from_bytes(&[7u8; 32]),
        checkpoint: Checkpoint {
            origin: EXAMPLE_ORIGIN.to_owned(),
            size: 3,
            root: Sha256::digest(b"worked example root").into(),
        },
    }
}

/// hwledger's worked example, byte for byte: if either the code or these strings change, this
/// fails (docs/protocol.md quotes them).
#[test]
fn worked_example_of_a_cosignature() {
    let ex = example();
    let text = ex.checkpoint.body();
    assert_eq!(
        text,
        "hwledger.example/320404\n3\nA5wKTEEfauQjL+1inzGi3NZWniGneCvKybiFoowPHNA=\n"
    );
    let ledger_pub = ex.ledger.verifying_key();
    let witness_pub = ex.witness.verifying_key();
    assert_eq!(
        hex::encode(ledger_pub.as_bytes()),
        "6e7a1cdd29b0b78fd13af4c5598feff4ef2a97166e3ca6f2e4fbfccd80505bf1"
    );
    assert_eq!(
        hex::encode(witness_pub.as_bytes()),
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
    );
    assert_eq!(
        hex::encode(checkpoint::key_id(EXAMPLE_ORIGIN, &ledger_pub)),
        "cfa88931"
    );
    assert_eq!(
        checkpoint::verifier_key(EXAMPLE_ORIGIN, &ledger_pub),
        "hwledger.example/320404+cfa88931+AW56HN0psLeP0Tr0xVmP7/TvKpcWbjym8uT7/M2AUFvx"
    );
    assert_eq!(
        hex::encode(cosignature::key_id(EXAMPLE_WITNESS, &witness_pub)),
        "aa4a09d1"
    );
    assert_eq!(
        cosignature::verifier_key(EXAMPLE_WITNESS, &witness_pub),
        "witness.example/w1+aa4a09d1+BOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs"
    );
    assert_eq!(
        cosignature::message(&text, EXAMPLE_TIME),
        b"cosignature/v1\ntime 1767225600\nhwledger.example/320404\n3\nA5wKTEEfauQjL+1inzGi3NZWniGneCvKybiFoowPHNA=\n"
    );
    let signed = ex.checkpoint.sign(&ex.ledger);
    assert_eq!(
        signed,
        "hwledger.example/320404\n3\nA5wKTEEfauQjL+1inzGi3NZWniGneCvKybiFoowPHNA=\n\n\
         — hwledger.example/320404 z6iJMQUQrIO76MyQY+DDAo3MZkXmFaspFpuRzCUAgrMOwGxigWRgM/35Pco6/0kIuzQk36rwwQXU6K3D2Exr0QK+MAo=\n"
    );
    let line = cosignature::cosign(&text, EXAMPLE_WITNESS, &ex.witness, EXAMPLE_TIME);
    assert_eq!(
        line,
        "— witness.example/w1 qkoJ0QAAAABpVbkAayh1+T7ODBH9xMX3aKlzU63ZQrtqHKsUzfU/QwoB3+UkVJ4dtt/LXOF2UC6LmZ6ntC/tR4sFMsFTsTVD+ZXjCA=="
    );
    // The cosigned note opens and its cosigner is found, at that time.
    let note = format!("{signed}{line}\n");
    let cp = Checkpoint::open(&note, EXAMPLE_ORIGIN, &ledger_pub).unwrap();
    assert_eq!(cp, ex.checkpoint);
    let found = cosignature::cosigners(
        &note,
        &[cosignature::Witness {
            name: EXAMPLE_WITNESS.to_owned(),
            key: witness_pub,
        }],
    )
    .unwrap();
    assert_eq!(found.len(), 1);
}

/// Go computes the worked example from the same seeds (crypto/ed25519's NewKeyFromSeed, note's
/// Sign) and must print the same bytes as hwledger.
#[test]
fn go_computes_the_worked_example_byte_for_byte() {
    let Some(tool) = tool() else { return };
    let ex = example();
    let text = ex.checkpoint.body();
    let out = Command::new(tool)
        .args(["-cosign-vector", "-seed", &hex::encode([7u8; 32])])
        .args(["-name", EXAMPLE_WITNESS, "-time", &EXAMPLE_TIME.to_string()])
        .args(["-text", &text, "-ledger-seed", &hex::encode([5u8; 32])])
        .args(["-origin", EXAMPLE_ORIGIN])
        .output()
        .expect("the Go tool runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let go: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ledger_pub = ex.ledger.verifying_key();
    let witness_pub = ex.witness.verifying_key();
    let signed = ex.checkpoint.sign(&ex.ledger);
    let line = cosignature::cosign(&text, EXAMPLE_WITNESS, &ex.witness, EXAMPLE_TIME);
    let message = String::from_utf8(cosignature::message(&text, EXAMPLE_TIME)).unwrap();
    let cosigned = format!("{signed}{line}\n");
    let ledger_key_id = hex::encode(checkpoint::key_id(EXAMPLE_ORIGIN, &ledger_pub));
    let witness_key_id = hex::encode(cosignature::key_id(EXAMPLE_WITNESS, &witness_pub));
    let ledger_vkey = checkpoint::verifier_key(EXAMPLE_ORIGIN, &ledger_pub);
    let witness_key = hex::encode(witness_pub.as_bytes());
    for (field, ours) in [
        ("cosignature", &line),
        ("message", &message),
        ("ledger_note", &signed),
        ("cosigned_note", &cosigned),
        ("ledger_key_id", &ledger_key_id),
        ("witness_key_id", &witness_key_id),
        ("ledger_vkey", &ledger_vkey),
        ("witness_key", &witness_key),
    ] {
        assert_eq!(go[field].as_str(), Some(ours.as_str()), "{field}: {go}");
    }
}
