//! Start-up snapshots: a restart loads the last snapshot and replays only the entries after it,
//! arriving at exactly the state a full replay derives; a snapshot that is damaged, written by
//! another build or for another ledger, or that does not match the database is refused with
//! its reason, and the service replays every entry instead.
//!
//! The recorded fixtures give the states: they hold plans, declarations, facilities,
//! containers, chains and tickets of every kind, so a round trip covers every part of the state.

mod common;

use std::path::{Path, PathBuf};

use common::harness::*;
use common::replay;
use hwledger::audit::Auditor;
use hwledger::domain::state::State;
use hwledger::protocol::time::Timestamp;
use hwledger::sequencer::{Clock, Loaded, Sequencer};
use hwledger::service::{Service, ServiceConfig};
use hwledger::snapshot::{self, SnapshotConfig, Unusable};
use hwledger::store::{DbUrl, Store};

const FIXTURES: [&str; 4] = ["v1", "v2-chains", "v2-facilities", "v2-plans"];

fn ledger_public() -> ed25519_dalek::VerifyingKey {
    key(1_000_000).verifying_key()
}

/// The state a verifier folds from the first `n` entries of a fixture's export, with the
/// entry's hash and the tree root at that size.
fn fold(name: &str, n: usize) -> (State, [u8; 32], [u8; 32], String) {
    let entries: Vec<_> = replay::export_entries(&replay::fixture_dir(name))
        .into_iter()
        .take(n)
        .map(|(e, _)| (e, None))
        .collect();
    let last = entries.last().expect("an entry").0.clone();
    let mut auditor = Auditor::new(ledger_public().to_bytes());
    auditor.check(&entries).expect("the export replays");
    (
        auditor.state().clone(),
        last.hash(),
        auditor.root(),
        last.recorded_at,
    )
}

#[test]
fn every_fixture_state_round_trips_through_a_snapshot_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.snapshot");
    for name in FIXTURES {
        let total = replay::export_entries(&replay::fixture_dir(name)).len();
        for n in [1, total / 3, total / 2, total] {
            let (state, head, root, recorded_at) = fold(name, n);
            let bytes = snapshot::write(
                &path,
                &key(1_000_000),
                &state,
                n as u64,
                head,
                root,
                &recorded_at,
            )
            .expect("the snapshot is written");
            assert_eq!(std::fs::metadata(&path).unwrap().len(), bytes);
            let (header, back) = snapshot::read(&path, &ledger_public()).expect("it reads back");
            assert_eq!(
                (header.size, header.head, header.root),
                (n as u64, head, root)
            );
            assert_eq!(header.recorded_at, recorded_at);
            assert!(back == state, "{name} at {n}: the state read back differs");
            assert!(
                !snapshot::temp_path(&path).exists(),
                "no temporary file is left"
            );
        }
    }
}

#[test]
fn a_snapshot_is_checked_before_it_is_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.snapshot");
    let n = replay::export_entries(&replay::fixture_dir("v2-plans")).len();
    let (state, head, root, at) = fold("v2-plans", n);
    snapshot::write(&path, &key(1_000_000), &state, n as u64, head, root, &at).unwrap();
    let good = std::fs::read(&path).unwrap();
    let read = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        snapshot::read(&path, &ledger_public()).map(|(h, _)| h.size)
    };
    assert_eq!(read(&good), Ok(n as u64));

    // One bit flipped in the body, anywhere.
    for at in [good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        assert!(
            matches!(read(&bad), Err(Unusable::Damaged { reason, .. }) if reason.contains("SHA-256")),
            "a flipped body bit at {at}"
        );
    }
    // Truncated: in the body, in the header, to nothing.
    for len in [good.len() - 10, 20, 0] {
        assert!(
            matches!(read(&good[..len]), Err(Unusable::Damaged { .. })),
            "truncated to {len}"
        );
    }
    // A header changed without the ledger key: its signature fails.
    let mut bad = good.clone();
    let size_at = find(&good, &at.as_bytes()[..10]).expect("the header holds recorded_at");
    bad[size_at] ^= 0x01;
    assert!(
        matches!(read(&bad), Err(Unusable::Damaged { reason, .. }) if reason.contains("signature"))
    );
    // Written by another build of the rules.
    let mut bad = good.clone();
    let rules_at =
        find(&good, snapshot::RULES_DIGEST.as_bytes()).expect("the header names the rules");
    bad[rules_at] = if bad[rules_at] == b'0' { b'1' } else { b'0' };
    assert!(matches!(read(&bad), Err(Unusable::OtherBuild { .. })));
    // Signed by another ledger's key.
    std::fs::write(&path, &good).unwrap();
    assert!(matches!(
        snapshot::read(&path, &key(7).verifying_key()),
        Err(Unusable::Foreign { .. })
    ));
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        snapshot::read(&path, &ledger_public()),
        Err(Unusable::Missing(_))
    ));
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Stops `l`'s service and starts it again with snapshots at `path`; returns how it loaded.
async fn restart_with(l: &mut TestLedger, path: &Path, every: u64) -> Loaded {
    l.stop().await;
    let service = Service::start(ServiceConfig {
        snapshot: Some(SnapshotConfig {
            path: path.to_owned(),
            every,
        }),
        ..l.config()
    })
    .await
    .expect("the service starts");
    l.router = service.router();
    let loaded = service.state.sequencer.loaded();
    l.service = Some(service);
    loaded
}

/// The state `l`'s service holds, brought to the present: the running sums of the rate and the
/// settled due moments depend on when the sweeper last ran, so both sides of a comparison are
/// advanced to the same moment first.
async fn state_of(l: &TestLedger, now: Timestamp) -> State {
    let state = l
        .service
        .as_ref()
        .expect("a started service")
        .state
        .sequencer
        .state()
        .await
        .clone();
    at(state, now)
}

fn at(mut state: State, now: Timestamp) -> State {
    state.settle_swept(now);
    state.advance_rate(now);
    state
}

/// The state a writer without a snapshot derives from the database: every entry replayed.
async fn replayed_state(l: &TestLedger, now: Timestamp) -> State {
    let store = Store::connect(&DbUrl::new(l.db.url.clone()))
        .await
        .expect("connect");
    let (handle, task) =
        Sequencer::start(store.clone(), l.ledger_key.clone(), Clock::system(), None)
            .await
            .expect("the ledger loads");
    assert_eq!(handle.loaded().from_snapshot, None);
    let state = handle.state().await.clone();
    handle.stop();
    drop(handle);
    task.await.unwrap();
    store.close().await;
    at(state, now)
}

/// Whether `l`'s service holds exactly the state a full replay derives.
///
/// The service's sweeper may append between the two reads (its first sweep runs at the start),
/// so states of the same size are compared: a few tries, then a difference in size counts.
async fn same_as_replayed(l: &TestLedger) -> bool {
    for _ in 0..5 {
        let now = chrono::Utc::now();
        let (live, replayed) = (state_of(l, now).await, replayed_state(l, now).await);
        if live.size == replayed.size {
            return live == replayed;
        }
    }
    false
}

/// The fixture, stopped after a start with snapshots at `path` (so the stop wrote one of it),
/// and its size.
async fn fixture_with_snapshot(backend: Backend, path: &Path) -> (TestLedger, u64) {
    let mut l = replay::serve_fixture(&dir(), backend).await;
    let size = l.size().await;
    restart_with(&mut l, path, 1_000_000).await;
    l.stop().await;
    (l, size)
}

fn snapshot_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("ledger.snapshot")
}

fn dir() -> PathBuf {
    replay::fixture_dir("v2-plans")
}

storage_test!(
    a_restart_loads_the_snapshot_and_replays_only_the_entries_after_it,
    |backend| async move {
        let tmp = tempfile::tempdir().unwrap();
        let path = snapshot_path(&tmp);
        let mut l = replay::serve_fixture(&dir(), backend).await;
        let size = l.size().await;

        // No snapshot yet: every entry is replayed, and the stop writes one.
        let loaded = restart_with(&mut l, &path, 1_000_000).await;
        assert_eq!(loaded.from_snapshot, None);
        assert_eq!(loaded.replayed, size);
        assert!(matches!(
            loaded.snapshot_unusable,
            Some(Unusable::Missing(_))
        ));
        l.stop().await;
        let (header, _) = snapshot::read(&path, &ledger_public()).expect("the stop wrote one");
        assert_eq!(header.size, size);

        // From the snapshot: nothing replayed, the same state and the same views.
        let loaded = restart_with(&mut l, &path, 1_000_000).await;
        assert_eq!(
            loaded,
            Loaded {
                from_snapshot: Some(size),
                replayed: 0,
                snapshot_unusable: None
            }
        );
        assert!(same_as_replayed(&l).await);
        let exp = replay::expected(&dir());
        let views = replay::read_views(&l, &replay::recorded_reads(&exp)).await;
        replay::assert_shows(&exp["views"], &views, "views");

        // A second process appends while this one is stopped: the snapshot is older than the
        // database, and the restart replays exactly the entries after it.
        l.stop().await;
        let (second, other) = {
            let service = Service::start(l.config()).await.expect("a second process");
            let router = service.router();
            (service, router)
        };
        let mut writer = TestLedger {
            db: TestDb::alias(&l.db),
            service: Some(second),
            router: other,
            ledger_key: l.ledger_key.clone(),
            regulator: l.regulator.clone(),
            limits: l.limits,
            clock: l.clock.clone(),
        };
        for n in 0..3 {
            writer.register(9_100 + n, &["generator"], "320404").await;
        }
        let grown = writer.size().await;
        writer.stop().await;
        assert!(grown > size);
        let loaded = restart_with(&mut l, &path, 1_000_000).await;
        assert_eq!(loaded.from_snapshot, Some(size));
        assert_eq!(loaded.replayed, grown - size);
        assert_eq!(l.size().await, grown);
        assert!(same_as_replayed(&l).await);
        let (status, org) = l.get(&format!("/v1/orgs/{}", org_id(9_102))).await;
        assert_eq!(status, 200, "{org}");
        l.stop().await;
    }
);

storage_test!(
    a_damaged_snapshot_is_refused_and_every_entry_replayed,
    |backend| async move {
        let tmp = tempfile::tempdir().unwrap();
        let path = snapshot_path(&tmp);
        let (mut l, size) = fixture_with_snapshot(backend, &path).await;
        let good = std::fs::read(&path).unwrap();

        let mut flipped = good.clone();
        let mid = good.len() / 2;
        flipped[mid] ^= 0x40;
        for (what, bytes) in [
            ("a flipped byte", flipped),
            ("a truncated file", good[..good.len() / 3].to_vec()),
        ] {
            std::fs::write(&path, &bytes).unwrap();
            let loaded = restart_with(&mut l, &path, 1_000_000).await;
            assert_eq!(loaded.from_snapshot, None, "{what}");
            assert_eq!(loaded.replayed, size, "{what}");
            assert!(
                matches!(loaded.snapshot_unusable, Some(Unusable::Damaged { .. })),
                "{what}: {:?}",
                loaded.snapshot_unusable
            );
            assert!(same_as_replayed(&l).await, "{what}");
            assert_eq!(l.size().await, size);
            // The stop replaces the damaged snapshot with a good one.
            l.stop().await;
            assert_eq!(
                snapshot::read(&path, &ledger_public()).unwrap().0.size,
                size
            );
        }
    }
);

storage_test!(
    a_snapshot_of_another_ledger_is_refused,
    |backend| async move {
        // Two ledgers with the same key and origin but different histories.
        let tmp = tempfile::tempdir().unwrap();
        let (path_a, path_b) = (tmp.path().join("a.snapshot"), tmp.path().join("b.snapshot"));
        let mut a = replay::serve_fixture(&dir(), backend).await;
        let mut b = TestLedger::start(backend).await;
        for n in 0..2 {
            b.register(9_200 + n, &["carrier"], "320404").await;
        }
        let (size_a, size_b) = (a.size().await, b.size().await);
        assert!(size_b < size_a);
        restart_with(&mut a, &path_a, 1_000_000).await;
        a.stop().await;
        restart_with(&mut b, &path_b, 1_000_000).await;
        b.stop().await;

        // B's snapshot at A: the entry at its size is not the one it names.
        let loaded = restart_with(&mut a, &path_b, 1_000_000).await;
        assert_eq!((loaded.from_snapshot, loaded.replayed), (None, size_a));
        assert!(
            matches!(&loaded.snapshot_unusable, Some(Unusable::Foreign { reason, .. }) if reason.contains("hashes to")),
            "{:?}",
            loaded.snapshot_unusable
        );
        assert!(same_as_replayed(&a).await);
        a.stop().await;

        // A's snapshot at B: it covers more entries than B's database holds.
        std::fs::copy(&path_a, &path_b).unwrap();
        let loaded = restart_with(&mut b, &path_b, 1_000_000).await;
        assert_eq!((loaded.from_snapshot, loaded.replayed), (None, size_b));
        assert!(
            matches!(&loaded.snapshot_unusable, Some(Unusable::Mismatch { reason, .. }) if reason.contains("holds")),
            "{:?}",
            loaded.snapshot_unusable
        );
        assert_eq!(b.size().await, size_b);
        b.stop().await;
    }
);

storage_test!(
    snapshots_are_written_as_entries_grow_and_a_crash_mid_write_loses_nothing,
    |backend| async move {
        let tmp = tempfile::tempdir().unwrap();
        let path = snapshot_path(&tmp);
        let (mut l, size) = fixture_with_snapshot(backend, &path).await;

        // A crash while a snapshot was being written leaves its temporary file, half written.
        let temp = snapshot::temp_path(&path);
        std::fs::write(&temp, b"HWLSNAP\0half a snap").unwrap();
        let loaded = restart_with(&mut l, &path, 4).await;
        assert_eq!(loaded.from_snapshot, Some(size));

        // Every 4 entries, the writer writes one in the background.
        for n in 0..9 {
            l.register(9_300 + n, &["generator"], "320404").await;
        }
        let mut written = 0;
        for _ in 0..100 {
            written = snapshot::read(&path, &ledger_public()).unwrap().0.size;
            if written >= size + 4 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(
            written >= size + 4,
            "a snapshot was written in the background ({written})"
        );
        assert!(!temp.exists(), "the half-written file was replaced");
        // Rounds waited only while the state was encoded, and the metrics say for how long.
        let pauses = l.metric("hwledger_snapshot_pause_seconds_count").await;
        assert!(pauses >= 1, "the writer's pauses for snapshots are counted");

        // A process killed before its stop leaves the last background snapshot behind (kept
        // here, since this process stops cleanly): the restart replays what came after.
        let kept = std::fs::read(&path).unwrap();
        let grown = l.size().await;
        l.stop().await;
        assert_eq!(
            snapshot::read(&path, &ledger_public()).unwrap().0.size,
            grown
        );
        std::fs::write(&path, kept).unwrap();
        let loaded = restart_with(&mut l, &path, 4).await;
        assert!(loaded
            .from_snapshot
            .is_some_and(|s| s >= size + 4 && s < grown));
        assert_eq!(loaded.from_snapshot.unwrap() + loaded.replayed, grown);
        assert!(same_as_replayed(&l).await);
        l.stop().await;
        assert_eq!(
            snapshot::read(&path, &ledger_public()).unwrap().0.size,
            grown
        );
    }
);

/// The envelope an exported entry was submitted as.
fn envelope_of(e: &hwledger::protocol::event::Entry) -> serde_json::Value {
    serde_json::json!({
        "event": serde_json::from_str::<serde_json::Value>(&e.event_jcs).expect("an event"),
        "key": hex::encode(e.key),
        "sig": hex::encode(e.sig),
    })
}

storage_test!(
    events_recorded_before_the_snapshot_are_answered_as_recorded_after_it,
    |backend| async move {
        // The service keeps a filter of the event ids, not the ids: the database answers for
        // every id the filter cannot rule out, and must for each of these.
        let tmp = tempfile::tempdir().unwrap();
        let path = snapshot_path(&tmp);
        let (mut l, size) = fixture_with_snapshot(backend, &path).await;
        let loaded = restart_with(&mut l, &path, 1_000_000).await;
        assert_eq!((loaded.from_snapshot, loaded.replayed), (Some(size), 0));
        let entries = replay::export_entries(&dir());
        assert_eq!(entries.len() as u64, size);
        for chunk in entries.chunks(100) {
            let batch: Vec<serde_json::Value> = chunk.iter().map(|(e, _)| envelope_of(e)).collect();
            let (status, items) = l.post(&serde_json::json!(batch)).await;
            assert_eq!(status, axum::http::StatusCode::OK, "{items}");
            for ((e, _), item) in chunk.iter().zip(items.as_array().expect("items")) {
                assert_eq!(
                    (item["status"].as_u64(), item["entry"]["seq"].as_u64()),
                    (Some(200), Some(e.seq)),
                    "entry {}: {item}",
                    e.seq
                );
            }
        }
        // Other content under a recorded id is refused, whoever signed it.
        let (first, _) = &entries[1];
        let mut other = envelope_of(first);
        let at = hwledger::protocol::time::parse_timestamp(other["event"]["at"].as_str().unwrap())
            .unwrap();
        other["event"]["at"] = serde_json::json!(hwledger::protocol::time::format_timestamp(
            at + chrono::Duration::seconds(1)
        ));
        assert_problem(&l.post(&other).await, 409, "duplicate_event_id");
        assert_eq!(l.size().await, size, "nothing was appended");
        assert!(same_as_replayed(&l).await);
    }
);
