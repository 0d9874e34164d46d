//! The restore drill of docs/operations.md "Backups": a backup taken with `hwledger backup`
//! while the service appends is a complete ledger as of one commit; restored into an empty
//! database it passes `hwledger verify`, and a service started on it resumes at exactly the
//! head the backup holds, the same entries as the original up to there.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::harness::*;
use hwledger::service::{Service, ServiceConfig};
use hwledger::store::{DbUrl, Store};

async fn hwledger(args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hwledger"))
        .args(args)
        .output()
        .await
        .expect("hwledger runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

storage_test!(
    a_backup_under_load_restores_to_a_ledger_that_verifies_and_resumes,
    |backend| async move {
        let l = TestLedger::start(backend).await;
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("hwledger.backup");
        let out_arg = out.to_str().unwrap().to_owned();

        // Appends go on while the backup runs: `started` and `done` count the registrations
        // begun and answered, so that a registration under way while the backup ran can be
        // told apart from one before or after it, however fast the backup is.
        let stop = AtomicBool::new(false);
        let (started, done) = (AtomicU64::new(0), AtomicU64::new(0));
        let load = async {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                started.fetch_add(1, Ordering::SeqCst);
                l.register(30_000 + n, &["generator"], "320404").await;
                done.fetch_add(1, Ordering::SeqCst);
                n += 1;
            }
            n
        };
        let backup = async {
            while l.size().await < 20 {
                tokio::task::yield_now().await;
            }
            let before = l.size().await;
            let done_at_start = done.load(Ordering::SeqCst);
            let result = hwledger(&["backup", "--db", &l.db.url, "--out", &out_arg]).await;
            let started_by_end = started.load(Ordering::SeqCst);
            assert!(
                started_by_end > done_at_start,
                "a registration was under way while the backup ran ({done_at_start} answered before it, {started_by_end} begun by its end)"
            );
            let after = l.size().await;
            // A few more after the backup, which the backup must not hold.
            while l.size().await < after + 5 {
                tokio::task::yield_now().await;
            }
            stop.store(true, Ordering::SeqCst);
            (result, before, after)
        };
        let (_, ((ok, text), before, after)) = tokio::join!(load, backup);
        assert!(ok, "hwledger backup: {text}");
        assert!(!tmp.path().join("hwledger.backup.partial").exists());
        // It never overwrites.
        let (again, text) = hwledger(&["backup", "--db", &l.db.url, "--out", &out_arg]).await;
        assert!(!again && text.contains("never overwrites"), "{text}");

        // Restore into an empty database.
        let restored = TestDb::new(backend).await;
        match backend {
            Backend::Sqlite => {
                let path = restored.url.trim_start_matches("sqlite://");
                std::fs::copy(&out, path).unwrap();
            }
            Backend::Postgres => {
                let status = tokio::process::Command::new("pg_restore")
                    .args(["--no-owner", "--dbname", &restored.url, &out_arg])
                    .status()
                    .await
                    .expect("pg_restore runs");
                assert!(status.success(), "pg_restore: {status}");
            }
        }
        let (ok, text) = hwledger(&[
            "verify",
            "--db",
            &restored.url,
            "--ledger-key",
            &l.ledger_public(),
        ])
        .await;
        assert!(ok, "verify of the restored backup: {text}");

        // The service resumes on it, at the backup's head: a prefix of the original.
        let service = Service::start(ServiceConfig {
            db: DbUrl::new(restored.url.clone()),
            ..l.config()
        })
        .await
        .expect("the service starts on the restored database");
        let head = service.state.sequencer.head();
        assert!(
            (before..=after).contains(&head.size),
            "the backup holds {} entries, taken between {before} and {after}",
            head.size
        );
        let original = Store::connect(&DbUrl::new(l.db.url.clone())).await.unwrap();
        assert_eq!(
            original.entry_hash(head.size - 1).await.unwrap(),
            Some(head.head),
            "the restored head is the original's entry at that size"
        );
        original.close().await;
        // And it appends on top of it.
        let router = service.router();
        let resumed = TestLedger {
            db: TestDb::alias(&restored),
            service: Some(service),
            router,
            ledger_key: l.ledger_key.clone(),
            regulator: l.regulator.clone(),
            limits: l.limits,
            clock: l.clock.clone(),
        };
        resumed.register(39_999, &["carrier"], "320404").await;
        assert_eq!(resumed.size().await, head.size + 1);
        let mut resumed = resumed;
        resumed.stop().await;
        let (ok, text) = hwledger(&[
            "verify",
            "--db",
            &restored.url,
            "--ledger-key",
            &l.ledger_public(),
        ])
        .await;
        assert!(ok, "verify after the resumed append: {text}");
    }
);
