//! The witness flags of the command line (spec §5a "Verifying with witnesses", §10), as a
//! regulator's IT staff would use them: `verify --url` relying on the service's cosigned
//! checkpoint and naming who cosigned it, entries past it reported as not yet witnessed,
//! `prove --url` embedding the cosigned checkpoint and `verify-proof` counting its
//! cosignatures, and `verify --db --checkpoint` on a cosigned note kept by an auditor.
//!
//! Each test serves a ledger over real TCP with three in-process `hwledger witness` servers
//! (policy: all three, quorum 2) and runs the `hwledger` binary against it, on SQLite and on
//! PostgreSQL.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use common::cli::text;
use common::harness::*;
use common::witnesses::*;

const W1: &str = "bureau.example/w1";
const W2: &str = "proc.example/w2";
const W3: &str = "city.example/w3";

/// A key that is no witness's.
fn stranger_hex() -> String {
    hex::encode(key(4242).verifying_key().as_bytes())
}

/// Writes `key` as a PKCS#8 PEM file, the form `hwledger keygen` writes.
fn write_key(path: &Path, key: &SigningKey) {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let pem = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(Default::default())
    .unwrap();
    std::fs::write(path, pem.as_bytes()).unwrap();
}

/// Waits until `path` serves a checkpoint of `size` carrying `lines` signature lines; returns it.
async fn wait_note(l: &TestLedger, path: &str, size: u64, lines: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, note) = get_text(l, path).await;
        if status == StatusCode::OK
            && note.lines().nth(1) == Some(size.to_string().as_str())
            && signature_lines(&note).len() == lines
        {
            return note;
        }
        assert!(
            Instant::now() < deadline,
            "{path} did not reach size {size} with {lines} signature lines: {status} {note}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The signature lines of a signed note.
fn signature_lines(note: &str) -> Vec<&str> {
    note.lines().filter(|l| l.starts_with("— ")).collect()
}

/// `note` with one base64 character of `name`'s cosignature line changed (inside the
/// signature, so that the line still parses and names the witness's key ID).
fn tamper_line(note: &str, name: &str) -> String {
    let prefix = format!("— {name} ");
    let mut found = false;
    let out: String = note
        .split_inclusive('\n')
        .map(|line| match line.strip_prefix(&prefix) {
            Some(blob) => {
                found = true;
                let mut chars: Vec<char> = blob.chars().collect();
                chars[40] = if chars[40] == 'A' { 'B' } else { 'A' };
                format!("{prefix}{}", chars.into_iter().collect::<String>())
            }
            None => line.to_owned(),
        })
        .collect();
    assert!(found, "no line by {name} in {note}");
    assert_ne!(out, note);
    out
}

/// A ledger served over TCP whose policy is three running witnesses with quorum 2, all of
/// which have cosigned its head; a folder holding the regulator's key file.
struct Scene {
    l: TestLedger,
    base: String,
    dir: tempfile::TempDir,
    w: Vec<RunningWitness>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Scene {
    async fn start(backend: Backend) -> Scene {
        let l = TestLedger::start(backend).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(hwledger::api::serve(
            listener,
            l.router.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        let dir = tempfile::tempdir().unwrap();
        write_key(&dir.path().join("regulator.pem"), &l.regulator.key);
        let mut w = Vec::new();
        for (i, name) in [W1, W2, W3].into_iter().enumerate() {
            w.push(RunningWitness::start(name, 700 + i as u64, backend, &l).await);
        }
        l.ok(
            &l.regulator,
            "ledger.witnesses_set",
            json!({"witnesses": w.iter().map(RunningWitness::policy_entry).collect::<Vec<_>>(),
                   "quorum": 2, "reason": "省厅、检察院与市局见证"}),
        )
        .await;
        append_orgs(&l, 100, 6).await;
        let head = l.size().await;
        wait_cosigned(&l, &[W1, W2, W3], head).await;
        // The ledger's line and one line per witness.
        wait_note(&l, "/v1/tlog/checkpoint", head, 4).await;
        Scene {
            l,
            base,
            dir,
            w,
            _stop: stop,
        }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `hwledger ARGS…` in the scene's folder.
    async fn run(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_hwledger"))
            .current_dir(self.dir())
            .args(args)
            .output()
            .await
            .expect("hwledger runs")
    }

    /// `hwledger verify --url … --key … --org … --ledger-key … EXTRA…`, as the regulator.
    async fn verify_url(&self, extra: &[&str]) -> Output {
        let ledger_key = self.l.ledger_public();
        let mut args = vec![
            "verify",
            "--url",
            &self.base,
            "--key",
            "regulator.pem",
            "--org",
            REGULATOR_ORG,
            "--ledger-key",
            &ledger_key,
        ];
        args.extend(extra);
        self.run(&args).await
    }

    /// `hwledger prove --url … --seq N`, as the regulator.
    async fn prove(&self, seq: u64) -> Output {
        let seq = seq.to_string();
        self.run(&[
            "prove",
            "--seq",
            &seq,
            "--url",
            &self.base,
            "--key",
            "regulator.pem",
            "--org",
            REGULATOR_ORG,
        ])
        .await
    }

    /// `hwledger verify-proof FILE --ledger-key … EXTRA…`.
    async fn verify_proof(&self, file: &str, extra: &[&str]) -> Output {
        let ledger_key = self.l.ledger_public();
        let mut args = vec!["verify-proof", file, "--ledger-key", &ledger_key];
        args.extend(extra);
        self.run(&args).await
    }

    /// `hwledger verify --db … --ledger-key … EXTRA…`.
    async fn verify_db(&self, extra: &[&str]) -> Output {
        let ledger_key = self.l.ledger_public();
        let mut args = vec![
            "verify",
            "--db",
            &self.l.db.url,
            "--ledger-key",
            &ledger_key,
        ];
        args.extend(extra);
        self.run(&args).await
    }

    /// `--witness` for each of the witnesses numbered (0-based).
    fn witness_flags(&self, which: &[usize]) -> Vec<String> {
        which
            .iter()
            .flat_map(|&i| ["--witness".to_owned(), self.w[i].arg()])
            .collect()
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
}

#[track_caller]
fn assert_contains(out: &Output, words: &str) {
    let t = text(out);
    assert!(t.contains(words), "expected {words:?} in:\n{t}");
}

#[track_caller]
fn assert_failed(out: &Output, words: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    assert_contains(out, "FAILED");
    assert_contains(out, words);
    assert!(
        !String::from_utf8_lossy(&out.stdout).starts_with("ok:"),
        "{}",
        text(out)
    );
}

storage_test!(
    verify_url_requires_and_names_the_cosigners,
    |backend| async move {
        let s = Scene::start(backend).await;
        let head = s.l.size().await;
        let covers = format!(
            "the cosigned checkpoint (/v1/tlog/checkpoint) of size {head} is the root of the first {head} entries"
        );

        // Two of the three, quorum 2: both cosigned the head.
        let mut flags = s.witness_flags(&[0, 1]);
        flags.extend(["--quorum".into(), "2".into()]);
        let out = s.verify_url(&strs(&flags)).await;
        assert_ok(&out);
        assert_contains(&out, &format!("ok: {head} entries"));
        assert_contains(&out, &covers);
        assert_contains(
            &out,
            &format!("the checkpoint relied on is cosigned by 2 of 2 given witnesses ({W1}, {W2}), quorum 2"),
        );
        assert!(!text(&out).contains("not yet witnessed"), "{}", text(&out));

        // All three, quorum 3.
        let mut flags = s.witness_flags(&[0, 1, 2]);
        flags.extend(["--quorum".into(), "3".into()]);
        let out = s.verify_url(&strs(&flags)).await;
        assert_ok(&out);
        assert_contains(
            &out,
            &format!("cosigned by 3 of 3 given witnesses ({W1}, {W2}, {W3}), quorum 3"),
        );

        // A quorum larger than the witnesses given is a usage error, before anything is
        // claimed to hold.
        let mut flags = s.witness_flags(&[0, 1]);
        flags.extend(["--quorum".into(), "3".into()]);
        let out = s.verify_url(&strs(&flags)).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert_contains(&out, "--quorum 3 is more than the 2 --witness given");
        assert!(!text(&out).contains("ok:"), "{}", text(&out));

        // A wrong key for the third witness: its line does not count, and 2 < 3.
        let mut flags = s.witness_flags(&[0, 1]);
        flags.extend([
            "--witness".into(),
            format!("{W3}={}", stranger_hex()),
            "--quorum".into(),
            "3".into(),
        ]);
        let out = s.verify_url(&strs(&flags)).await;
        assert_failed(
            &out,
            &format!("witnesses: the checkpoint carries valid cosignatures of 2 of the given witnesses ({W1}, {W2}), fewer than the quorum of 3"),
        );
        // Another witness's key under a name does not count either.
        let flags = [
            "--witness".to_owned(),
            s.w[0].arg(),
            "--witness".into(),
            format!("{W2}={}", s.w[2].key_hex()),
            "--quorum".into(),
            "2".into(),
        ];
        let out = s.verify_url(&strs(&flags)).await;
        assert_failed(
            &out,
            &format!(
                "valid cosignatures of 1 of the given witnesses ({W1}), fewer than the quorum of 2"
            ),
        );
        // A witness outside the policy has cosigned nothing.
        let flags = [
            "--witness".to_owned(),
            format!("stranger.example/w={}", stranger_hex()),
            "--quorum".into(),
            "1".into(),
        ];
        let out = s.verify_url(&strs(&flags)).await;
        assert_failed(
            &out,
            "valid cosignatures of 0 of the given witnesses (none), fewer than the quorum of 1",
        );
    }
);

// One witness named twice on the command line is refused: it must not meet a quorum of 2.
storage_test!(
    the_same_witness_twice_counts_once,
    the_same_witness_twice_counts_once_body
);

async fn the_same_witness_twice_counts_once_body(backend: Backend) {
    // §5a: "at least K *distinct* given witnesses". One witness named twice on the command
    // line must not meet a quorum of 2, in verify or in verify-proof.
    let s = Scene::start(backend).await;
    let mut flags = s.witness_flags(&[0, 0]);
    flags.extend(["--quorum".into(), "2".into()]);
    let verify = s.verify_url(&strs(&flags)).await;
    let head = s.l.size().await;
    let out = s.prove(head - 1).await;
    assert_ok(&out);
    std::fs::write(s.dir().join("bundle.json"), &out.stdout).unwrap();
    let proof = s.verify_proof("bundle.json", &strs(&flags)).await;
    for out in [&verify, &proof] {
        assert_ne!(out.status.code(), Some(0), "{}", text(out));
        assert!(!text(out).contains("cosigned by 2 of 2"), "{}", text(out));
        assert!(text(out).contains("is given twice"), "{}", text(out));
    }
}

// Two given witnesses with the same key under two names are one witness: the signed message
// of a cosignature (§5a) does not include the witness's name, so anyone holding one witness's
// line can re-wrap its signature under the other name (with that name's key ID).
storage_test!(
    one_key_under_two_names_counts_once,
    one_key_under_two_names_counts_once_body
);

async fn one_key_under_two_names_counts_once_body(backend: Backend) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let s = Scene::start(backend).await;
    let (_, note) = get_text(&s.l, "/v1/tlog/checkpoint").await;
    // Only the ledger's line and w1's, plus w1's signature re-wrapped under another name.
    let alias = "alias.example/w1";
    let w1_line = signature_lines(&note)
        .into_iter()
        .find(|l| l.starts_with(&format!("— {W1} ")))
        .unwrap()
        .to_owned();
    let mut blob = b64.decode(w1_line.rsplit(' ').next().unwrap()).unwrap();
    let w1_key = s.w[0].key.verifying_key();
    blob[..4].copy_from_slice(&hwledger::protocol::cosignature::key_id(alias, &w1_key));
    let forged: String = note
        .split_inclusive('\n')
        .filter(|l| !l.starts_with(&format!("— {W2} ")) && !l.starts_with(&format!("— {W3} ")))
        .collect::<String>()
        + &format!("— {alias} {}\n", b64.encode(&blob));
    std::fs::write(s.dir().join("alias.checkpoint"), &forged).unwrap();
    let flags = [
        "--checkpoint".to_owned(),
        "alias.checkpoint".into(),
        "--witness".into(),
        s.w[0].arg(),
        "--witness".into(),
        format!("{alias}={}", s.w[0].key_hex()),
        "--quorum".into(),
        "2".into(),
    ];
    let out = s.verify_db(&strs(&flags)).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("cosigned by 2 of 2"), "{}", text(&out));
    assert!(text(&out).contains("is given twice"), "{}", text(&out));
}

storage_test!(
    a_witness_down_then_entries_not_yet_witnessed,
    |backend| async move {
        let mut s = Scene::start(backend).await;
        let head1 = s.l.size().await;
        let all = s.witness_flags(&[0, 1, 2]);
        let with_quorum = |k: &str| {
            let mut f = all.clone();
            f.extend(["--quorum".into(), k.to_owned()]);
            f
        };

        // One witness down; the other two cosign the new head, the stopped one stays behind.
        s.w[0].stop().await;
        append_orgs(&s.l, 200, 4).await;
        let head2 = s.l.size().await;
        assert!(head2 > head1);
        let v = wait_cosigned(&s.l, &[W2, W3], head2).await;
        assert_eq!(v["witnesses"][0]["name"], W1, "{v}");
        assert_eq!(v["witnesses"][0]["cosigned_size"], head1, "{v}");
        assert_eq!(v["witnesses"][0]["lag"], head2 - head1, "{v}");
        // The ledger's line and the two witnesses'.
        wait_note(&s.l, "/v1/tlog/checkpoint", head2, 3).await;

        let out = s.verify_url(&strs(&with_quorum("2"))).await;
        assert_ok(&out);
        assert_contains(&out, &format!("ok: {head2} entries"));
        assert_contains(
            &out,
            &format!("the cosigned checkpoint (/v1/tlog/checkpoint) of size {head2} is the root of the first {head2} entries"),
        );
        assert_contains(
            &out,
            &format!("cosigned by 2 of 3 given witnesses ({W2}, {W3}), quorum 2"),
        );
        assert!(!text(&out).contains("not yet witnessed"), "{}", text(&out));
        // Quorum 3 is not met by what the service serves now.
        let out = s.verify_url(&strs(&with_quorum("3"))).await;
        assert_failed(
            &out,
            &format!("valid cosignatures of 2 of the given witnesses ({W2}, {W3}), fewer than the quorum of 3"),
        );

        // Every witness down: the ledger keeps appending, the cosigned checkpoint stays at
        // head2, and verify reports the entries beyond it as not yet witnessed.
        s.w[1].stop().await;
        s.w[2].stop().await;
        append_orgs(&s.l, 300, 3).await;
        let head3 = s.l.size().await;
        assert_eq!(head3, head2 + 3);
        wait_note(&s.l, "/v1/checkpoint", head3, 1).await;
        let (_, note) = get_text(&s.l, "/v1/tlog/checkpoint").await;
        assert_eq!(
            note.lines().nth(1),
            Some(head2.to_string().as_str()),
            "{note}"
        );

        let out = s.verify_url(&strs(&with_quorum("2"))).await;
        assert_ok(&out);
        assert_contains(&out, &format!("ok: {head3} entries"));
        assert_contains(
            &out,
            &format!("the cosigned checkpoint (/v1/tlog/checkpoint) of size {head2} is the root of the first {head2} entries"),
        );
        assert_contains(
            &out,
            &format!("entries {head2} to {} are not yet witnessed", head3 - 1),
        );
        assert_contains(
            &out,
            &format!("cosigned by 2 of 3 given witnesses ({W2}, {W3}), quorum 2"),
        );
        // Without witness flags the report is the same about what is witnessed.
        let out = s.verify_url(&[]).await;
        assert_ok(&out);
        assert_contains(
            &out,
            &format!("entries {head2} to {} are not yet witnessed", head3 - 1),
        );
        assert!(!text(&out).contains("cosigned by"), "{}", text(&out));
    }
);

storage_test!(
    prove_embeds_the_cosigned_checkpoint_and_verify_proof_counts_it,
    |backend| async move {
        let mut s = Scene::start(backend).await;
        let head = s.l.size().await;
        let (_, cosigned) = get_text(&s.l, "/v1/tlog/checkpoint").await;
        let seq = head - 2;

        let out = s.prove(seq).await;
        assert_ok(&out);
        let bundle: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(bundle["entry"]["seq"], seq);
        assert_eq!(bundle["size"], head);
        let note = bundle["checkpoint"].as_str().unwrap();
        assert_eq!(note, cosigned, "the bundle embeds /v1/tlog/checkpoint");
        let lines = signature_lines(note);
        assert_eq!(lines.len(), 4, "{note}");
        for name in [W1, W2, W3] {
            assert!(
                lines.iter().any(|l| l.starts_with(&format!("— {name} "))),
                "no line by {name}: {note}"
            );
        }
        std::fs::write(s.dir().join("bundle.json"), &out.stdout).unwrap();

        // Three witnesses given, quorum 2: ok, naming the three.
        let mut flags = s.witness_flags(&[0, 1, 2]);
        flags.extend(["--quorum".into(), "2".into()]);
        let out = s.verify_proof("bundle.json", &strs(&flags)).await;
        assert_ok(&out);
        let t = text(&out);
        assert!(t.starts_with(&format!("ok: entry {seq} (")), "{t}");
        assert!(
            t.contains(&format!("in the tree of size {head}"))
                && t.contains(&format!(
                    "cosigned by 3 of 3 given witnesses ({W1}, {W2}, {W3}), quorum 2"
                )),
            "{t}"
        );
        assert_eq!(t.lines().count(), 1, "{t}");

        // A witness's key swapped for another's: only one valid, fewer than the quorum.
        let flags = [
            "--witness".to_owned(),
            s.w[0].arg(),
            "--witness".into(),
            format!("{W2}={}", s.w[2].key_hex()),
            "--quorum".into(),
            "2".into(),
        ];
        let out = s.verify_proof("bundle.json", &strs(&flags)).await;
        assert_failed(
            &out,
            &format!("FAILED: witnesses: the checkpoint carries valid cosignatures of 1 of the given witnesses ({W1}), fewer than the quorum of 2"),
        );
        // The same bundle with the witnesses' lines stripped: the ledger's signature still
        // holds, but no cosignature is left.
        let mut stripped = bundle.clone();
        let plain: String = note
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("— ") || l.starts_with(&format!("— {ORIGIN} ")))
            .collect();
        assert_eq!(signature_lines(&plain).len(), 1, "{plain}");
        stripped["checkpoint"] = json!(plain);
        std::fs::write(s.dir().join("stripped.json"), stripped.to_string()).unwrap();
        let out = s.verify_proof("stripped.json", &[]).await;
        assert_ok(&out);
        let mut flags = s.witness_flags(&[0, 1, 2]);
        flags.extend(["--quorum".into(), "1".into()]);
        let out = s.verify_proof("stripped.json", &strs(&flags)).await;
        assert_failed(
            &out,
            "FAILED: witnesses: the checkpoint carries valid cosignatures of 0 of the given witnesses (none), fewer than the quorum of 1",
        );
        // --quorum above the witnesses given.
        let mut flags = s.witness_flags(&[0]);
        flags.extend(["--quorum".into(), "2".into()]);
        let out = s.verify_proof("bundle.json", &strs(&flags)).await;
        assert_failed(&out, "--quorum 2 is more than the 1 --witness given");

        // Entries past the cosigned checkpoint cannot be proved yet; those within still can.
        for w in &mut s.w {
            w.stop().await;
        }
        append_orgs(&s.l, 400, 2).await;
        let head2 = s.l.size().await;
        wait_note(&s.l, "/v1/checkpoint", head2, 1).await;
        let out = s.prove(head2 - 1).await;
        assert_ne!(out.status.code(), Some(0), "{}", text(&out));
        assert!(out.stdout.is_empty(), "{}", text(&out));
        assert_contains(
            &out,
            &format!("entry {} is not yet witnessed: the service's cosigned checkpoint covers {head} entries", head2 - 1),
        );
        let out = s.prove(head).await;
        assert_ne!(out.status.code(), Some(0), "{}", text(&out));
        assert_contains(&out, "not yet witnessed");
        let out = s.prove(head - 1).await;
        assert_ok(&out);
        let later: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(later["size"], head);
        assert_eq!(later["checkpoint"].as_str().unwrap(), cosigned);
    }
);

storage_test!(
    verify_db_relies_on_a_cosigned_checkpoint_file,
    |backend| async move {
        let s = Scene::start(backend).await;
        let (_, note) = get_text(&s.l, "/v1/tlog/checkpoint").await;
        let size = note.lines().nth(1).unwrap().to_owned();
        std::fs::write(s.dir().join("cosigned.checkpoint"), &note).unwrap();
        // The ledger grows past the file: still an older checkpoint it extends.
        append_orgs(&s.l, 500, 2).await;
        let head = s.l.size().await;

        let run = |file: &'static str, which: &'static [usize], quorum: &'static str| {
            let mut flags = vec!["--checkpoint".to_owned(), file.to_owned()];
            flags.extend(s.witness_flags(which));
            flags.extend(["--quorum".into(), quorum.to_owned()]);
            flags
        };
        let out = s
            .verify_db(&strs(&run("cosigned.checkpoint", &[0, 1, 2], "3")))
            .await;
        assert_ok(&out);
        assert_contains(&out, &format!("ok: {head} entries"));
        assert_contains(
            &out,
            &format!("extends the older checkpoint of size {size}"),
        );
        assert_contains(
            &out,
            &format!("the checkpoint relied on is cosigned by 3 of 3 given witnesses ({W1}, {W2}, {W3}), quorum 3"),
        );

        // One witness's line with a base64 character changed: it no longer counts.
        let tampered = tamper_line(&note, W2);
        std::fs::write(s.dir().join("tampered.checkpoint"), &tampered).unwrap();
        let out = s
            .verify_db(&strs(&run("tampered.checkpoint", &[0, 1, 2], "3")))
            .await;
        assert_failed(
            &out,
            &format!("witnesses: the checkpoint carries valid cosignatures of 2 of the given witnesses ({W1}, {W3}), fewer than the quorum of 3"),
        );
        // The two others still make a quorum of 2.
        let out = s
            .verify_db(&strs(&run("tampered.checkpoint", &[0, 1, 2], "2")))
            .await;
        assert_ok(&out);
        assert_contains(
            &out,
            &format!("cosigned by 2 of 3 given witnesses ({W1}, {W3}), quorum 2"),
        );
        // Two lines tampered: a quorum of 2 is not met.
        let twice = tamper_line(&tampered, W3);
        std::fs::write(s.dir().join("twice.checkpoint"), &twice).unwrap();
        let out = s
            .verify_db(&strs(&run("twice.checkpoint", &[0, 1, 2], "2")))
            .await;
        assert_failed(
            &out,
            &format!(
                "valid cosignatures of 1 of the given witnesses ({W1}), fewer than the quorum of 2"
            ),
        );

        // A quorum with no checkpoint to rely on asks for one.
        let mut flags = s.witness_flags(&[0]);
        flags.extend(["--quorum".into(), "1".into()]);
        let out = s.verify_db(&strs(&flags)).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert_contains(&out, "give --checkpoint FILE");
        assert!(!text(&out).contains("ok:"), "{}", text(&out));
    }
);
