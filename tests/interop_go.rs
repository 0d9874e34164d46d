//! Interoperability with code we did not write: Go's `golang.org/x/mod/sumdb/tlog` and
//! `sumdb/note` (tests/tools/tlog-go) read a live ledger over TCP, verify its checkpoints,
//! rebuild its roots from the C2SP tiles, check the entry bundles against the leaves, and check
//! hwledger's inclusion and consistency proofs, which must equal Go's own, at sizes either side
//! of the tile boundaries (spec §5, §5a). A proxy that alters one response shows the tool
//! notices.
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
use serde_json::json;
use tower::ServiceExt;

use common::harness::*;

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

/// Runs the Go tool against `url`; returns whether it passed, and its stdout and stderr.
async fn run_tool(tool: &Path, url: &str, key: &str, size: u64) -> (bool, String, String) {
    let out = tokio::process::Command::new(tool)
        .args(["-url", url, "-key", key, "-size", &size.to_string()])
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
            let (ok, stdout, stderr) = run_tool(&tool, &url, &vkey, size).await;
            eprint!("size {size}: {stdout}{stderr}");
            assert!(ok, "Go's tlog rejects the ledger at size {size}:\n{stderr}");
            assert!(
                stdout.starts_with(&format!("OK size={size} ")),
                "at size {size}: {stdout}"
            );
        }

        // The tool can fail: a key that did not sign, and altered bytes on the wire.
        let other = hwledger::protocol::checkpoint::verifier_key(ORIGIN, &key(7).verifying_key());
        let (ok, _, stderr) = run_tool(&tool, &url, &other, 700).await;
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
            let (ok, stdout, stderr) = run_tool(&tool, &bad_url, &vkey, 700).await;
            assert!(
                !ok && stderr.contains(expect),
                "with {path} altered the Go tool must fail with {expect:?}:\n{stdout}{stderr}"
            );
            eprint!("{path} altered: {stderr}");
        }
    }
);
