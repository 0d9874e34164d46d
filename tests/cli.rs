//! The command line, as an operator and an enterprise would use it: `serve` with its defaults in
//! an empty folder, `keygen`, `submit`, `export`, `verify`, and a graceful stop on SIGTERM.

mod common;

use common::cli::*;
use common::harness::*;
use serde_json::{json, Value};

fn get(url: &str) -> Value {
    ureq::get(url)
        .call()
        .expect("GET answers")
        .into_json()
        .expect("JSON")
}

storage_test!(operator_and_enterprise_workflow, |b| async move {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // On SQLite, serve runs with its defaults (hwledger.db in the current folder).
    let db = TestDb::new(b).await;
    let db_flag = (b == Backend::Postgres).then_some(db.url.as_str());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = serve(d, db_flag, port);
    for f in ["hwledger-keys/ledger.pem", "hwledger-keys/regulator.pem"] {
        assert!(d.join(f).exists(), "{f} is created on first start");
    }
    let ledger_key = get(&format!("{base}/v1/ledger"))["ledger_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // keygen: a private key file and the public key on stdout.
    let out = hwledger(d, &["keygen", "--out", "keys/plant.pem"]);
    assert!(out.status.success(), "{}", text(&out));
    let public = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(public.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("keys/plant.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        !hwledger(d, &["keygen", "--out", "keys/plant.pem"])
            .status
            .success(),
        "never overwrites"
    );

    // submit: the regulator registers the plant; v, id and at are filled in.
    let plant = org_id(9001);
    std::fs::write(
        d.join("register.json"),
        json!({"type": "org.registered", "actor": REGULATOR_ORG,
               "body": {"org": plant, "name": "常州某化工有限公司", "region": "320404", "roles": ["generator"], "keys": [public]}})
        .to_string(),
    )
    .unwrap();
    let out = hwledger(
        d,
        &[
            "submit",
            "--key",
            "hwledger-keys/regulator.pem",
            "--url",
            &base,
            "register.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let entry: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entry["seq"], 1);
    assert_eq!(entry["event"]["v"], 1);
    // The plant rotates in a second key with its own key, as a batch file of one.
    let second = hwledger(d, &["keygen", "--out", "keys/plant2.pem"]);
    let second = String::from_utf8(second.stdout).unwrap().trim().to_owned();
    std::fs::write(
        d.join("add.json"),
        json!([{"type": "org.key_added", "actor": plant, "body": {"org": plant, "key": second}}])
            .to_string(),
    )
    .unwrap();
    let out = hwledger(
        d,
        &[
            "submit",
            "--key",
            "keys/plant.pem",
            "--url",
            &base,
            "add.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    // A refused event makes submit fail and shows the problem.
    let out = hwledger(
        d,
        &[
            "submit",
            "--key",
            "keys/plant.pem",
            "--url",
            &base,
            "register.json",
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("unknown_key"), "{}", text(&out));

    // A read token from `hwledger token`, as an org's IT staff would make one for curl.
    let out = hwledger(
        d,
        &[
            "token",
            "--key",
            "keys/plant.pem",
            "--org",
            &plant,
            "--origin",
            "hwledger.local",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let page: Value = ureq::get(&format!("{base}/v1/manifests"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("the plant's token is taken")
        .into_json()
        .unwrap();
    assert_eq!(page["manifests"], json!([]));
    match ureq::get(&format!("{base}/v1/manifests")).call() {
        Err(ureq::Error::Status(401, r)) => {
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
            assert!(r.into_string().unwrap().contains("token_missing"));
        }
        other => panic!("a read without a token is 401, not {other:?}"),
    }
    for lifetime in ["0", "601"] {
        let out = hwledger(
            d,
            &[
                "token",
                "--key",
                "keys/plant.pem",
                "--org",
                &plant,
                "--origin",
                "hwledger.local",
                "--lifetime",
                lifetime,
            ],
        );
        assert!(!out.status.success(), "--lifetime {lifetime} is refused");
    }
    // The plant's token does not read the entries, which are for regulators.
    let out = hwledger(
        d,
        &[
            "export",
            "--url",
            &base,
            "--key",
            "keys/plant.pem",
            "--org",
            &plant,
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("404"), "{}", text(&out));
    // --url needs --key and --org.
    let out = hwledger(d, &["export", "--url", &base]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--key"), "{}", text(&out));

    // export over HTTP, then verify the file offline, and the service directly.
    let regulator = [
        "--key",
        "hwledger-keys/regulator.pem",
        "--org",
        REGULATOR_ORG,
    ];
    let out = hwledger(d, &[&["export", "--url", &base][..], &regulator].concat());
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(d.join("ledger.jsonl"), &out.stdout).unwrap();
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 4, "three entries and the checkpoint");
    assert!(lines[3].starts_with("{\"checkpoint\":"));
    let verify_file =
        |file: &str| hwledger(d, &["verify", "--file", file, "--ledger-key", &ledger_key]);
    let out = verify_file("ledger.jsonl");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ok: 3 entries"), "{}", text(&out));
    let out = hwledger(
        d,
        &[
            &["verify", "--url", &base, "--ledger-key", &ledger_key][..],
            &regulator,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    // A wrong ledger key is caught at the genesis.
    let other = hex::encode(key(4242).verifying_key().to_bytes());
    let out = hwledger(
        d,
        &["verify", "--file", "ledger.jsonl", "--ledger-key", &other],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("FAILED: entry 0"), "{}", text(&out));
    // An export edited by hand, or cut short, fails.
    let edited = std::str::from_utf8(&std::fs::read(d.join("ledger.jsonl")).unwrap())
        .unwrap()
        .replace("常州某化工有限公司", "常州某物流有限公司");
    std::fs::write(d.join("edited.jsonl"), edited).unwrap();
    let out = verify_file("edited.jsonl");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("FAILED: entry 1"), "{}", text(&out));
    std::fs::write(d.join("cut.jsonl"), lines[..3].join("\n")).unwrap();
    let out = verify_file("cut.jsonl");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("truncated"), "{}", text(&out));
    // A line that is not JSON is named by the entries checked before it.
    let garbled = [lines[0], lines[1], &lines[2][..40], lines[3]].join("\n");
    std::fs::write(d.join("garbled.jsonl"), garbled).unwrap();
    let out = verify_file("garbled.jsonl");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("line after entry 2: not JSON"),
        "{}",
        text(&out)
    );
    // The checkpoint kept today proves tomorrow's ledger extends it.
    std::fs::write(
        d.join("old.checkpoint"),
        ureq::get(&format!("{base}/v1/checkpoint"))
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
    )
    .unwrap();

    // SIGTERM stops it cleanly; a restart keeps everything.
    assert!(sigterm(child).success(), "a graceful stop exits 0");
    let child = serve(d, db_flag, port);
    assert_eq!(get(&format!("{base}/v1/ledger"))["size"], 3);
    let out = hwledger(
        d,
        &[
            "submit",
            "--key",
            "hwledger-keys/regulator.pem",
            "--url",
            &base,
            "register.json",
        ],
    );
    assert!(
        out.status.success() || text(&out).contains("org_exists"),
        "{}",
        text(&out)
    );
    let out = hwledger(
        d,
        &[
            &[
                "verify",
                "--url",
                &base,
                "--ledger-key",
                &ledger_key,
                "--checkpoint",
                "old.checkpoint",
            ][..],
            &regulator,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("extends the older checkpoint of size 3"),
        "{}",
        text(&out)
    );
    assert!(sigterm(child).success());
    // Against an existing ledger, a wrong key path is an error, not a new key.
    let out = hwledger(
        d,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--ledger-key",
            "elsewhere.pem",
        ]
        .into_iter()
        .chain(db_flag.map(|u| ["--db", u]).into_iter().flatten())
        .collect::<Vec<_>>(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("--ledger-key must name its key file"),
        "{}",
        text(&out)
    );
    assert!(!d.join("elsewhere.pem").exists(), "no key was created");
    // Offline, from the database itself: chain, rules and query tables.
    let db_url = db_flag
        .map(str::to_owned)
        .unwrap_or_else(|| format!("sqlite://{}", d.join("hwledger.db").display()));
    let out = hwledger(d, &["verify", "--db", &db_url, "--ledger-key", &ledger_key]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("query tables equal a replay"),
        "{}",
        text(&out)
    );
    let out = hwledger(d, &["export", "--db", &db_url]);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(d.join("db.jsonl"), &out.stdout).unwrap();
    let out = hwledger(
        d,
        &["verify", "--file", "db.jsonl", "--ledger-key", &ledger_key],
    );
    assert!(out.status.success(), "{}", text(&out));
});

#[test]
fn bad_flags_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = hwledger(dir.path(), &["serve", "--transit-limit", "soon"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--transit-limit"), "{}", text(&out));
    let out = hwledger(
        dir.path(),
        &["serve", "--regulator-org", "123", "--listen", "127.0.0.1:0"],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("--regulator-org"), "{}", text(&out));
    let out = hwledger(dir.path(), &["verify", "--ledger-key", "00"]);
    assert!(!out.status.success(), "a source is required");
}

/// An HTTPS client that trusts exactly `cert` (DER).
fn tls_agent(cert: &[u8]) -> ureq::Agent {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert.to_vec()))
        .expect("a usable certificate");
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(std::sync::Arc::new(config))
        .build()
}

storage_test!(serve_speaks_https_with_a_certificate, |b| async move {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = TestDb::new(b).await;
    let db_url = match b {
        Backend::Sqlite => format!("sqlite://{}", d.join("tls.db").display()),
        Backend::Postgres => db.url.clone(),
    };
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(d.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(d.join("key.pem"), made.key_pair.serialize_pem()).unwrap();
    let agent = tls_agent(made.cert.der());
    let port = free_port();
    let base = format!("https://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hwledger"))
        .current_dir(d)
        .args([
            "serve",
            "--listen",
            &listen,
            "--db",
            &db_url,
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while agent.get(&format!("{base}/healthz")).call().is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve --tls-cert exited: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the service did not come up over HTTPS"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // The console and the API, over TLS, with their headers.
    let page = agent
        .get(&format!("{base}/"))
        .call()
        .expect("GET / over HTTPS");
    assert_eq!(page.status(), 200);
    assert_eq!(page.content_type(), "text/html");
    assert_eq!(
        page.header("content-security-policy"),
        Some(hwledger::api::web::CSP)
    );
    assert!(page.into_string().unwrap().contains("/assets/app/main.js"));
    let ledger: Value = agent
        .get(&format!("{base}/v1/ledger"))
        .call()
        .expect("GET /v1/ledger over HTTPS")
        .into_json()
        .unwrap();
    assert_eq!(ledger["size"], 1);
    assert_eq!(ledger["origin"], "hwledger.local");

    // An append over TLS; plain HTTP on the same port gets no answer.
    let regulator = hwledger::protocol::keys::load(&d.join("hwledger-keys/regulator.pem")).unwrap();
    let org = org_id(9101);
    let envelope = sign(
        &event(
            REGULATOR_ORG,
            "org.registered",
            json!({"org": org, "name": "常州某化工有限公司", "region": "320404", "roles": ["generator"],
                   "keys": [hex::encode(key(9101).verifying_key().to_bytes())]}),
        ),
        &regulator,
    );
    let posted = agent
        .post(&format!("{base}/v1/events"))
        .send_json(envelope)
        .expect("POST /v1/events over HTTPS");
    assert_eq!(posted.status(), 201);
    assert!(ureq::get(&format!("http://{listen}/healthz"))
        .call()
        .is_err());

    // SIGTERM stops it as cleanly as without TLS; the append is there after a restart without.
    assert!(sigterm(child).success(), "a graceful stop exits 0");
    let child = serve(d, Some(&db_url), port);
    assert_eq!(get(&format!("http://{listen}/v1/ledger"))["size"], 2);
    assert!(sigterm(child).success());
});

#[test]
fn tls_files_are_checked_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(d.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(d.join("key.pem"), made.key_pair.serialize_pem()).unwrap();
    let serve_with = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend(extra);
        hwledger(d, &args)
    };
    let out = serve_with(&["--tls-cert", "cert.pem"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--tls-key"), "{}", text(&out));
    let out = serve_with(&["--tls-key", "key.pem"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--tls-cert"), "{}", text(&out));
    let out = serve_with(&["--tls-cert", "missing.pem", "--tls-key", "key.pem"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("cannot read the TLS certificate missing.pem"),
        "{}",
        text(&out)
    );
    let out = serve_with(&["--tls-cert", "cert.pem", "--tls-key", "cert.pem"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("holds no private key"),
        "{}",
        text(&out)
    );
    assert!(
        !d.join("hwledger.db").exists() && !d.join("hwledger-keys").exists(),
        "nothing is created when the TLS files are wrong"
    );
}

/// Logs written to a file (not a terminal) carry no colour codes, even without `NO_COLOR`, and
/// `--log-format json` writes one JSON object per line for log collectors.
#[test]
fn logs_are_plain_off_a_terminal_and_json_on_request() {
    for format in ["text", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("serve.log");
        let child = serve_with(
            dir.path(),
            None,
            free_port(),
            &["--log-format", format],
            Some(&log),
        );
        assert!(sigterm(child).success());
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            !text.contains('\x1b'),
            "{format}: a colour code in {text:?}"
        );
        assert!(text.contains("serving"), "{format}: {text}");
        if format == "json" {
            let lines: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
                .collect();
            let serving = lines
                .iter()
                .find(|l| l["message"] == "serving")
                .expect("the serving line");
            assert_eq!(serving["level"], "INFO");
            assert_eq!(serving["size"], 1, "{serving}");
            assert!(serving["timestamp"].is_string());
        }
    }
}
