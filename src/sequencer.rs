//! The single writer: takes prepared envelopes from every request, checks them against the
//! domain state in arrival order, and appends the accepted ones in one transaction per round
//! (group commit). Requests that arrive while a commit is in flight are gathered into the next
//! round, so under load one disk flush serves many events.
//!
//! The head row is locked in the database for the length of each round, and a round first
//! applies any entries another process appended since, so two services on one PostgreSQL
//! database still build one chain. The automatic tickets an event calls for are signed with the
//! ledger key and appended right after it, in the same round; a sweep round appends those whose
//! deadlines have passed.
//!
//! The writer checks and applies events on its own copy of the domain state, which no reader
//! touches. Readers use a second copy, the *published* state, which holds only committed
//! entries: after each commit the writer hands the round's entries (with their events already
//! read) to the mirror thread, which applies them to the published state in short runs, each
//! under its lock, and only then answers the round's requests. A reader therefore never waits
//! for a commit (only, at most, for one short run of the mirror), never sees an entry that is
//! not durable, and a client that was answered sees its own entry in what it reads next. The
//! price is a second copy of the state in memory and a second application of each entry, on
//! another core.
//!
//! Start-up loads the last snapshot (see [`crate::snapshot`]) when it checks out against the
//! database and replays only the entries after it; the writer writes a new one in the
//! background every so many entries, and one more when it stops.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use tokio::sync::{mpsc, oneshot, watch, RwLock, RwLockReadGuard};

use crate::domain::oversight::AutoTicket;
use crate::domain::rejection::Rejection;
use crate::domain::state::{State, Verdict};
use crate::protocol::event::{self, Entry, Prepared, LEDGER_ACTOR, ZERO_HASH};
use crate::protocol::merkle::{self, Frontier};
use crate::protocol::time::{self, Timestamp};
use crate::snapshot::{self, SnapshotConfig, Unusable};
use crate::store::{Batch, ContainerStep, Head, NewEntry, Store, WriteTx};

/// Most envelopes one round takes; more wait for the next.
const MAX_ROUND: usize = 5000;

/// What became of one submitted envelope.
#[derive(Debug, Clone)]
pub enum ItemResult {
    /// Appended now (201).
    Appended(Arc<Entry>),
    /// Already recorded with identical content (200): the recorded entry.
    Replayed(Arc<Entry>),
    Rejected(Rejection),
}

/// An item as handed to the sequencer: prepared, or refused at step 1 already.
pub type Item = Result<Prepared, Rejection>;

struct Job {
    items: Vec<Item>,
    /// Also open the tickets of passed deadlines.
    sweep: bool,
    reply: oneshot::Sender<anyhow::Result<Vec<ItemResult>>>,
}

/// Cloneable handle through which requests submit envelopes and read the state.
#[derive(Clone)]
pub struct SequencerHandle {
    tx: mpsc::Sender<Job>,
    head: watch::Receiver<Head>,
    stop: Arc<watch::Sender<bool>>,
    /// The published state: committed entries only.
    published: Arc<RwLock<State>>,
    /// Its size, as the mirror last published it.
    published_size: watch::Receiver<u64>,
    loaded: Arc<std::sync::Mutex<Loaded>>,
    /// Set while the writer's state must be reloaded from the database before it appends again.
    reloading: Arc<std::sync::atomic::AtomicBool>,
    /// See [`Sequencer::committing`].
    committing: Arc<std::sync::atomic::AtomicU64>,
}

/// How the writer last loaded the ledger from the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The size of the snapshot it started from, if it used one.
    pub from_snapshot: Option<u64>,
    /// Entries it replayed through the rules after that (all of them without a snapshot).
    pub replayed: u64,
    /// Why no snapshot was used, when one was configured.
    pub snapshot_unusable: Option<Unusable>,
}

/// The error of [`SequencerHandle::submit`] when the writer's queue is full: nothing was
/// queued, so nothing of the submission will be recorded. The HTTP layer answers it with 503
/// `overloaded` and `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the writer's queue is full")]
pub struct Overloaded;

/// Jobs (requests, each of up to a batch of envelopes) that may wait for the writer by default.
pub const DEFAULT_QUEUE: usize = 1024;

impl SequencerHandle {
    /// Queues a job and waits for its answer. With `wait`, waits for room in the queue when it
    /// is full; without, fails at once with [`Overloaded`].
    async fn send(
        &self,
        items: Vec<Item>,
        sweep: bool,
        wait: bool,
    ) -> anyhow::Result<Vec<ItemResult>> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            items,
            sweep,
            reply,
        };
        let stopped = || anyhow::anyhow!("the sequencer has stopped");
        if wait {
            self.tx.send(job).await.map_err(|_| stopped())?;
        } else {
            match self.tx.try_send(job) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => return Err(Overloaded.into()),
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(stopped()),
            }
        }
        rx.await
            .map_err(|_| anyhow::anyhow!("the sequencer stopped before answering"))?
    }

    /// Submits items in order and waits until the accepted ones are durable. When the writer's
    /// queue is full, fails at once with [`Overloaded`] (downcast the error to tell), having
    /// queued nothing.
    pub async fn submit(&self, items: Vec<Item>) -> anyhow::Result<Vec<ItemResult>> {
        self.send(items, false, false).await
    }

    /// Like [`submit`](Self::submit), but waits for room in a full queue instead of failing:
    /// for the service's own submissions (the genesis).
    pub async fn submit_waiting(&self, items: Vec<Item>) -> anyhow::Result<Vec<ItemResult>> {
        self.send(items, false, true).await
    }

    /// Brings this process up to date with entries other processes appended (an empty round),
    /// waiting for room in a full queue.
    pub async fn catch_up(&self) -> anyhow::Result<()> {
        self.send(Vec::new(), false, true).await.map(drop)
    }

    /// Opens the automatic tickets of every deadline passed by now; returns how many.
    pub async fn sweep(&self) -> anyhow::Result<usize> {
        let results = self.send(Vec::new(), true, true).await?;
        Ok(results
            .iter()
            .filter(|r| matches!(r, ItemResult::Appended(_)))
            .count())
    }

    /// Asks the writer to finish: it commits what is queued, answers it, and ends. Later
    /// submissions fail.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Whether the writer still takes appends (it stops when asked to).
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Whether the writer is waiting to reload the ledger after a failed commit whose reload
    /// failed too: until a reload succeeds, every append is refused.
    pub fn is_reloading(&self) -> bool {
        self.reloading.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The head as of this process's last commit or catch-up.
    pub fn head(&self) -> Head {
        self.head.borrow().clone()
    }

    /// How many entries this process holds or is committing: its head, or the size after the
    /// round whose commit is under way. A database head no larger than this holds no entry of
    /// another process, so a read of the head has nothing to catch up with.
    pub fn known_size(&self) -> u64 {
        let committing = self.committing.load(std::sync::atomic::Ordering::SeqCst);
        committing.max(self.head().size)
    }

    /// The domain state as of the last commit this process has published, for reads that
    /// need more than the query tables. Taking it never waits for a commit.
    pub async fn state(&self) -> RwLockReadGuard<'_, State> {
        self.published.read().await
    }

    /// Waits until the published state holds the first `size` entries this process has
    /// committed or caught up with (the mirror is behind a commit by one short apply at most).
    pub async fn published_reaches(&self, size: u64) {
        let head = self.head().size;
        let mut published = self.published_size.clone();
        let _ = published.wait_for(|s| *s >= size.min(head)).await;
    }

    /// How the ledger was last loaded: from which snapshot, and how many entries were replayed.
    pub fn loaded(&self) -> Loaded {
        self.loaded
            .lock()
            .expect("the load report is never poisoned")
            .clone()
    }
}

/// The writer's own state: the domain fold and the tree frontier, both at `head.size`.
pub struct Sequencer {
    store: Store,
    /// The writer's own copy of the state; readers use `published`.
    state: Arc<RwLock<State>>,
    published: Arc<RwLock<State>>,
    published_size: Arc<watch::Sender<u64>>,
    /// Committed rounds for the mirror thread to apply to `published`, then answer.
    mirror: mpsc::Sender<Mirror>,
    ledger_key: SigningKey,
    frontier: Frontier,
    head: Head,
    head_tx: watch::Sender<Head>,
    rx: mpsc::Receiver<Job>,
    stop: watch::Receiver<bool>,
    clock: Clock,
    snapshots: Option<Snapshots>,
    loaded: Arc<std::sync::Mutex<Loaded>>,
    /// The events of the entries of the round being built, in order, for the mirror.
    round_events: Vec<Prepared>,
    /// After a failed commit whose reload failed too: when to try the reload again, and the
    /// wait after that one if it fails as well. Rounds before then are refused.
    retry: Option<(Instant, std::time::Duration)>,
    reloading: Arc<std::sync::atomic::AtomicBool>,
    /// The size after the round being committed, set before its commit (and back to the head
    /// published after a failed round and after a reload): the entries up to it are this
    /// process's own, though the head moves only once the commit returns (with SQLite, after
    /// the checkpoint a commit may run).
    committing: Arc<std::sync::atomic::AtomicU64>,
}

/// The first wait before a failed reload is tried again; it doubles up to [`RELOAD_WAIT_MAX`].
const RELOAD_WAIT: std::time::Duration = std::time::Duration::from_millis(100);
const RELOAD_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// What a committed round hands on: the answers, and what the mirror publishes.
struct RoundDone {
    results: Vec<ItemResult>,
    swept: Vec<ItemResult>,
    entries: Vec<(Arc<Entry>, Prepared)>,
    swept_at: Option<Timestamp>,
}

/// Work for the mirror thread.
enum Mirror {
    /// A committed round: its entries in order with their events, then (for a sweep) the
    /// moment the sweep settled, then the answers to send once all of it is published.
    Round {
        entries: Vec<(Arc<Entry>, Prepared)>,
        swept_at: Option<Timestamp>,
        replies: Vec<(Reply, Vec<ItemResult>)>,
    },
    /// Answered once everything sent before it is published.
    Barrier(oneshot::Sender<()>),
}

type Reply = oneshot::Sender<anyhow::Result<Vec<ItemResult>>>;

/// Entries the mirror applies under one taking of the published state's lock.
const MIRROR_RUN: usize = 64;

/// The mirror thread: applies committed rounds to the published state, then answers them.
fn run_mirror(
    published: Arc<RwLock<State>>,
    published_size: Arc<watch::Sender<u64>>,
    mut rx: mpsc::Receiver<Mirror>,
) {
    while let Some(work) = rx.blocking_recv() {
        match work {
            Mirror::Barrier(done) => {
                let _ = done.send(());
            }
            Mirror::Round {
                entries,
                swept_at,
                replies,
            } => {
                let mut entries = entries.into_iter().peekable();
                while entries.peek().is_some() {
                    let mut state = published.blocking_write();
                    for (e, p) in entries.by_ref().take(MIRROR_RUN) {
                        if let Err(m) = state.apply_recorded_prepared(&e, Ok(p)) {
                            tracing::error!(seq = e.seq, error = %m, "the published state refused a committed entry");
                        }
                    }
                }
                if let Some(now) = swept_at {
                    let mut state = published.blocking_write();
                    state.settle_swept(now);
                    state.advance_rate(now);
                }
                published_size.send_replace(published.blocking_read().size);
                for (reply, results) in replies {
                    let _ = reply.send(Ok(results));
                }
            }
        }
    }
}

/// The writer's snapshot bookkeeping.
struct Snapshots {
    config: SnapshotConfig,
    /// The size of the last snapshot written or loaded.
    last: u64,
    /// A snapshot being written in the background, and the size it covers.
    writing: Option<(u64, tokio::task::JoinHandle<anyhow::Result<u64>>)>,
}

fn empty_head() -> Head {
    Head {
        size: 0,
        head: ZERO_HASH,
        root: merkle::empty_root(),
        recorded_at: String::new(),
    }
}

/// Where the ledger's clock reads the time: the system clock, or a clock its owner sets (for
/// tests of deadlines and due moments, which are judged on `recorded_at`).
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<std::sync::atomic::AtomicI64>>);

impl Clock {
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that reads `t` until set again.
    pub fn manual(t: Timestamp) -> Clock {
        Clock(Some(Arc::new(std::sync::atomic::AtomicI64::new(
            t.timestamp_millis(),
        ))))
    }

    /// Sets a manual clock; a system clock ignores it.
    pub fn set(&self, t: Timestamp) {
        if let Some(ms) = &self.0 {
            ms.store(t.timestamp_millis(), std::sync::atomic::Ordering::SeqCst);
        }
    }

    pub fn now(&self) -> Timestamp {
        match &self.0 {
            None => time::truncate_millis(chrono::Utc::now()),
            Some(ms) => chrono::DateTime::from_timestamp_millis(
                ms.load(std::sync::atomic::Ordering::SeqCst),
            )
            .expect("a manual clock holds a valid time"),
        }
    }
}

impl Sequencer {
    /// Loads the ledger from the store (replaying every entry through the rules) and starts the
    /// writer task. Returns the handle and the task, which ends once asked to stop (or every
    /// handle is dropped) and the queue is drained. The queue holds [`DEFAULT_QUEUE`] jobs.
    pub async fn start(
        store: Store,
        ledger_key: SigningKey,
        clock: Clock,
        snapshot: Option<SnapshotConfig>,
    ) -> anyhow::Result<(SequencerHandle, tokio::task::JoinHandle<()>)> {
        Self::start_with_queue(store, ledger_key, clock, snapshot, DEFAULT_QUEUE).await
    }

    /// Like [`start`](Self::start), with room for `queue` jobs (at least 1) waiting for the
    /// writer; [`SequencerHandle::submit`] refuses more with [`Overloaded`].
    pub async fn start_with_queue(
        store: Store,
        ledger_key: SigningKey,
        clock: Clock,
        snapshot: Option<SnapshotConfig>,
        queue: usize,
    ) -> anyhow::Result<(SequencerHandle, tokio::task::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let (head_tx, head_rx) = watch::channel(empty_head());
        let (stop_tx, stop_rx) = watch::channel(false);
        let state = Arc::new(RwLock::new(
            State::new(ledger_key.verifying_key().to_bytes()).with_database_lookups(),
        ));
        let published = Arc::new(RwLock::new(
            State::new(ledger_key.verifying_key().to_bytes()).with_database_lookups(),
        ));
        let (mirror, mirror_rx) = mpsc::channel(64);
        let (published_size, published_size_rx) = watch::channel(0);
        let published_size = Arc::new(published_size);
        let (mirrored, mirrored_size) = (published.clone(), published_size.clone());
        let mirror_thread =
            tokio::task::spawn_blocking(move || run_mirror(mirrored, mirrored_size, mirror_rx));
        let mut seq = Sequencer {
            store,
            state,
            published: published.clone(),
            published_size,
            mirror,
            ledger_key,
            frontier: Frontier::new(),
            head: empty_head(),
            head_tx,
            rx,
            stop: stop_rx,
            clock,
            snapshots: snapshot.map(|config| Snapshots {
                config,
                last: 0,
                writing: None,
            }),
            loaded: Default::default(),
            round_events: Vec::new(),
            retry: None,
            reloading: Default::default(),
            committing: Default::default(),
        };
        seq.reload().await?;
        let loaded = seq.loaded.clone();
        let reloading = seq.reloading.clone();
        let committing = seq.committing.clone();
        let task = tokio::spawn(async move {
            seq.run().await;
            if let Err(e) = mirror_thread.await {
                tracing::error!(error = %e, "the mirror thread failed");
            }
        });
        let handle = SequencerHandle {
            tx,
            head: head_rx,
            stop: Arc::new(stop_tx),
            published,
            published_size: published_size_rx,
            loaded,
            reloading,
            committing,
        };
        Ok((handle, task))
    }

    /// Rebuilds the in-memory state from the database: from the snapshot when one checks out,
    /// then by replaying the entries after it.
    async fn reload(&mut self) -> anyhow::Result<()> {
        // Rounds committed before are published (and answered) first: the published state is
        // then replaced as a whole.
        let (done, published) = oneshot::channel();
        if self.mirror.send(Mirror::Barrier(done)).await.is_ok() {
            let _ = published.await;
        }
        let lock = self.state.clone();
        let mut state = lock.write().await;
        *state = State::new(self.ledger_key.verifying_key().to_bytes()).with_database_lookups();
        self.frontier = Frontier::new();
        self.head = empty_head();
        let target = self.store.head().await?;
        let mut loaded = Loaded::default();
        if let Some(config) = self.snapshots.as_ref().map(|s| s.config.clone()) {
            match self.load_snapshot(&config, &target).await {
                Ok((snap, frontier, head)) => {
                    tracing::info!(path = %config.path.display(), size = head.size, "loaded the snapshot");
                    *state = snap.with_database_lookups();
                    self.frontier = frontier;
                    self.head = head;
                    loaded.from_snapshot = Some(self.head.size);
                }
                Err(Unusable::Missing(path)) if target.size == 0 => {
                    loaded.snapshot_unusable = Some(Unusable::Missing(path));
                }
                Err(why) => {
                    tracing::warn!(reason = %why, "not using the snapshot; replaying every entry");
                    loaded.snapshot_unusable = Some(why);
                }
            }
            // Without a usable snapshot, the next round writes one.
            if let Some(s) = self.snapshots.as_mut() {
                s.last = loaded.from_snapshot.unwrap_or(0);
            }
        }
        let started_at = self.head.size;
        // Up to the head read above: entries appended since are caught up by the next round.
        // Two stages overlap: a task reads the next run of entries and reads their events on
        // the other cores while this one applies the run before, in order.
        let (tx, mut rx) =
            mpsc::channel::<(Vec<(Entry, event::Hash)>, Vec<Result<Prepared, String>>)>(2);
        let store = self.store.clone();
        let from = self.head.size;
        let reader: tokio::task::JoinHandle<anyhow::Result<()>> = tokio::spawn(async move {
            let mut read = from;
            while read < target.size {
                let want = (target.size - read).min(5000);
                let chunk = store.entries_with_hash(read, want).await?;
                if chunk.is_empty() {
                    break;
                }
                read += chunk.len() as u64;
                let run = tokio::task::spawn_blocking(move || {
                    let prepared = event::map_on_cores(&chunk, |(e, _)| State::prepare_recorded(e));
                    (chunk, prepared)
                })
                .await?;
                if tx.send(run).await.is_err() {
                    break;
                }
            }
            Ok(())
        });
        while let Some((chunk, prepared)) = rx.recv().await {
            for ((e, stored), p) in chunk.iter().zip(prepared) {
                let hash = e.hash();
                if hash != *stored {
                    bail!(
                        "stored entry {} was altered: its hash is {}, the hash stored with it {}",
                        e.seq,
                        hex::encode(hash),
                        hex::encode(stored)
                    );
                }
                self.absorb_prepared(&mut state, e, hash, p)?;
            }
        }
        reader.await??;
        self.head.root = self.frontier.root();
        if self.head.size != target.size || self.head.root != target.root {
            bail!(
                "the stored head (size {}, root {}) does not match the entries (size {}, root {})",
                target.size,
                hex::encode(target.root),
                self.head.size,
                hex::encode(self.head.root)
            );
        }
        *self.published.write().await = state.clone();
        self.published_size.send_replace(state.size);
        self.committing
            .store(self.head.size, std::sync::atomic::Ordering::SeqCst);
        loaded.replayed = self.head.size - started_at;
        *self
            .loaded
            .lock()
            .expect("the load report is never poisoned") = loaded;
        self.head_tx.send_replace(self.head.clone());
        Ok(())
    }

    /// Reads the snapshot and checks it against the database (see [`crate::snapshot`]): the
    /// state, the frontier rebuilt from the stored tree nodes, and the head at its size.
    async fn load_snapshot(
        &self,
        config: &SnapshotConfig,
        target: &Head,
    ) -> Result<(State, Frontier, Head), Unusable> {
        let path = config.path.clone();
        let key = self.ledger_key.verifying_key();
        let (header, state) = tokio::task::spawn_blocking(move || snapshot::read(&path, &key))
            .await
            .map_err(|e| Unusable::Unreadable {
                path: config.path.display().to_string(),
                reason: e.to_string(),
            })??;
        let mismatch = |reason: String| Unusable::Mismatch {
            path: config.path.display().to_string(),
            reason,
        };
        let db = |e: anyhow::Error| mismatch(format!("the database cannot be read: {e:#}"));
        if header.size == 0 || header.size > target.size {
            return Err(mismatch(format!(
                "it covers {} entries, the database holds {}",
                header.size, target.size
            )));
        }
        let last = self
            .store
            .entry(header.size - 1)
            .await
            .map_err(db)?
            .ok_or_else(|| mismatch(format!("entry {} is not stored", header.size - 1)))?;
        let stored = self.store.entry_hash(header.size - 1).await.map_err(db)?;
        let hash = last.hash();
        if hash != header.head || stored != Some(hash) {
            return Err(Unusable::Foreign {
                path: config.path.display().to_string(),
                reason: format!(
                    "entry {} hashes to {}, the snapshot names {}",
                    header.size - 1,
                    hex::encode(hash),
                    hex::encode(header.head)
                ),
            });
        }
        let ids = Frontier::nodes_for(header.size);
        let nodes = self.store.tree_nodes(&ids).await.map_err(db)?;
        let hashes = ids
            .iter()
            .map(|id| nodes.get(id).copied())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                mismatch(format!(
                    "the tree nodes of size {} are not all stored",
                    header.size
                ))
            })?;
        let frontier = Frontier::from_nodes(header.size, &hashes);
        if frontier.root() != header.root {
            return Err(mismatch(format!(
                "the stored tree's root at size {} is {}, the snapshot names {}",
                header.size,
                hex::encode(frontier.root()),
                hex::encode(header.root)
            )));
        }
        let head = Head {
            size: header.size,
            head: header.head,
            root: header.root,
            recorded_at: last.recorded_at.clone(),
        };
        Ok((state, frontier, head))
    }

    /// Starts writing a snapshot in the background when enough entries were appended since
    /// the last and none is being written; collects the one written before.
    async fn maybe_snapshot(&mut self) {
        self.collect_snapshot(false).await;
        let due = self.snapshots.as_ref().is_some_and(|s| {
            s.writing.is_none() && self.head.size >= s.last + s.config.every.max(1)
        });
        if due {
            self.start_snapshot().await;
        }
    }

    /// At a stop: waits for a snapshot being written, then writes one of the head if entries
    /// were appended since.
    async fn final_snapshot(&mut self) {
        self.collect_snapshot(true).await;
        let due = self
            .snapshots
            .as_ref()
            .is_some_and(|s| self.head.size > 0 && self.head.size != s.last);
        if due {
            self.start_snapshot().await;
            self.collect_snapshot(true).await;
        }
    }

    /// Encodes the state at the head (between rounds, so it is the fold of exactly the durable
    /// entries) and writes the bytes on a blocking thread. Rounds wait only for the encoding,
    /// which runs on a blocking thread too; `hwledger_snapshot_pause_seconds` records it.
    async fn start_snapshot(&mut self) {
        if self.snapshots.is_none() {
            return;
        }
        let started = Instant::now();
        let mut state = self.state.clone().write_owned().await;
        let body = tokio::task::spawn_blocking(move || {
            // Between rounds: the rows of the containers closed are written.
            state.containers.evict();
            snapshot::encode(&state)
        })
        .await;
        let pause = started.elapsed();
        metrics::histogram!("hwledger_snapshot_pause_seconds").record(pause.as_secs_f64());
        let body = match body {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => {
                tracing::error!(error = %format!("{e:#}"), "cannot encode a snapshot");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "the snapshot encoding task failed");
                return;
            }
        };
        let (key, head) = (self.ledger_key.clone(), self.head.clone());
        let Some(s) = self.snapshots.as_mut() else {
            return;
        };
        tracing::debug!(
            size = head.size,
            bytes = body.len(),
            pause_ms = pause.as_millis() as u64,
            "encoded a snapshot"
        );
        let path = s.config.path.clone();
        s.writing = Some((
            head.size,
            tokio::task::spawn_blocking(move || {
                let r = &head;
                snapshot::write_body(&path, &key, &body, r.size, r.head, r.root, &r.recorded_at)
            }),
        ));
    }

    /// Takes the result of the snapshot being written, when it is done or `wait` is set.
    async fn collect_snapshot(&mut self, wait: bool) {
        let Some(s) = self.snapshots.as_mut() else {
            return;
        };
        let Some((size, task)) = s.writing.take_if(|(_, t)| wait || t.is_finished()) else {
            return;
        };
        match task.await {
            Ok(Ok(bytes)) => {
                s.last = size;
                metrics::gauge!("hwledger_snapshot_size").set(size as f64);
                tracing::info!(size, bytes, path = %s.config.path.display(), "wrote a snapshot");
            }
            Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "cannot write a snapshot"),
            Err(e) => tracing::error!(error = %e, "the snapshot task failed"),
        }
    }

    /// Applies an entry that is already in the database (start-up, or appended by another
    /// process). Its rules are checked again: a stored entry the rules refuse means the
    /// database was altered, and the service must not build on it.
    /// Returns the event as read, for the mirror.
    fn absorb(&mut self, state: &mut State, e: &Entry) -> anyhow::Result<Prepared> {
        let p = State::prepare_recorded(e).map_err(|m| anyhow::anyhow!("stored {m}"))?;
        self.absorb_prepared(state, e, e.hash(), Ok(p.clone()))?;
        self.head.root = self.frontier.root();
        Ok(p)
    }

    /// [`Sequencer::absorb`] with the event already read and the entry's hash computed,
    /// leaving `head.root` to the caller (the root of a run is computed once, at its end).
    fn absorb_prepared(
        &mut self,
        state: &mut State,
        e: &Entry,
        hash: event::Hash,
        p: Result<Prepared, String>,
    ) -> anyhow::Result<()> {
        if e.seq != self.head.size || e.prev != self.head.head {
            bail!(
                "stored entry {} does not link to the head {} at size {}",
                e.seq,
                hex::encode(self.head.head),
                self.head.size
            );
        }
        state
            .apply_recorded_prepared(e, p)
            .map_err(|m| anyhow::anyhow!("stored {m}"))?;
        self.frontier.push(merkle::leaf_hash(&hash));
        self.head = Head {
            size: e.seq + 1,
            head: hash,
            root: self.head.root,
            recorded_at: e.recorded_at.clone(),
        };
        Ok(())
    }

    /// The next job, until every handle is gone or a stop is asked for; after a stop, the jobs
    /// already queued are still taken.
    async fn next_job(&mut self) -> Option<Job> {
        if !*self.stop.borrow() {
            tokio::select! {
                job = self.rx.recv() => return job,
                _ = self.stop.wait_for(|s| *s) => {}
            }
        }
        self.rx.close();
        self.rx.recv().await
    }

    async fn run(mut self) {
        while let Some(first) = self.next_job().await {
            let mut count = first.items.len();
            let mut jobs = vec![first];
            while count < MAX_ROUND {
                match self.rx.try_recv() {
                    Ok(job) => {
                        count += job.items.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            if !self.ready().await {
                for job in jobs {
                    let _ = job.reply.send(Err(anyhow::anyhow!(
                        "the ledger is not reloaded after a failed append"
                    )));
                }
                continue;
            }
            let started = Instant::now();
            let lens: Vec<usize> = jobs.iter().map(|j| j.items.len()).collect();
            let sweep = jobs.iter().any(|j| j.sweep);
            let items: Vec<Item> = jobs
                .iter_mut()
                .flat_map(|j| std::mem::take(&mut j.items))
                .collect();
            match self.round(items, sweep).await {
                Ok(done) => {
                    metrics::histogram!("hwledger_commit_seconds")
                        .record(started.elapsed().as_secs_f64());
                    let mut results = done.results.into_iter();
                    let mut swept = Some(done.swept);
                    let mut replies = Vec::with_capacity(jobs.len());
                    for (job, len) in jobs.into_iter().zip(lens) {
                        let mut mine: Vec<ItemResult> = results.by_ref().take(len).collect();
                        if job.sweep {
                            mine.extend(swept.take().unwrap_or_default());
                        }
                        replies.push((job.reply, mine));
                    }
                    // Answered by the mirror once published, so that what a client reads next
                    // holds what it was answered.
                    let round = Mirror::Round {
                        entries: done.entries,
                        swept_at: done.swept_at,
                        replies,
                    };
                    if self.mirror.send(round).await.is_err() {
                        tracing::error!("the mirror thread has stopped; stopping the writer");
                        return;
                    }
                    self.maybe_snapshot().await;
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "append failed; reloading state from the database");
                    for job in jobs {
                        let _ = job.reply.send(Err(anyhow::anyhow!("append failed")));
                    }
                    // The round may not be in the database: until the reload says what is, only
                    // the last head published counts as this process's.
                    self.committing.store(
                        self.head_tx.borrow().size,
                        std::sync::atomic::Ordering::SeqCst,
                    );
                    self.collect_snapshot(true).await;
                    self.store.reset_writer().await;
                    self.try_reload(RELOAD_WAIT).await;
                }
            }
        }
        self.final_snapshot().await;
    }

    /// Reloads the state after a failed append. When the reload fails too (the database may
    /// still be unreachable), appends are refused until a later try, after `wait`, succeeds.
    async fn try_reload(&mut self, wait: std::time::Duration) {
        match self.reload().await {
            Ok(()) => {
                if self.retry.take().is_some() {
                    tracing::info!(
                        size = self.head.size,
                        "reloaded the ledger; taking appends again"
                    );
                }
                self.reloading
                    .store(false, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), retry_in = ?wait, "cannot reload the ledger; appends are refused until it is reloaded");
                self.retry = Some((Instant::now() + wait, (wait * 2).min(RELOAD_WAIT_MAX)));
                self.reloading
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Whether the state is loaded, so that a round may run: after a failed reload, the
    /// reload is tried again once its wait is over.
    async fn ready(&mut self) -> bool {
        match self.retry {
            None => true,
            Some((at, _)) if Instant::now() < at => false,
            Some((_, next)) => {
                self.try_reload(next).await;
                self.retry.is_none()
            }
        }
    }

    /// The `ticket.opened` event of an automatic ticket, signed with the ledger key.
    fn ticket_event(&self, t: &AutoTicket) -> Prepared {
        let event = serde_json::json!({
            "v": 1,
            "id": t.id.to_string(),
            "type": "ticket.opened",
            "actor": LEDGER_ACTOR,
            "at": time::format_timestamp(t.at),
            "body": t.body(),
        });
        let mut p = Prepared::from_value(event::sign_envelope(&event, &self.ledger_key))
            .expect("the ledger's own tickets fit their schema");
        p.sig_ok = true;
        p
    }

    /// Checks one prepared envelope against the state and, when accepted, adds its entry to the
    /// batch; then does the same for the automatic tickets it calls for, each right after the
    /// entry that called for it. An id the state's filter cannot rule out is first looked up in
    /// the database, inside this round's transaction (step 2 of §3).
    async fn append(
        &mut self,
        state: &mut State,
        tx: &mut WriteTx,
        batch: &mut Batch,
        p: Prepared,
        now: Timestamp,
        recorded_at: &str,
    ) -> anyhow::Result<Pending> {
        // Depth first: a ticket's own follow-ups come before the next ticket of the entry above.
        let mut stack: Vec<(Prepared, Option<AutoTicket>)> = vec![(p, None)];
        let mut first = None;
        while let Some((p, ticket)) = stack.pop() {
            let id = p.header.id;
            if state.ids().needs_answer(&id) {
                let answer = tx.recorded_event(&id).await?;
                let found = if answer.is_some() { "true" } else { "false" };
                metrics::counter!("hwledger_event_id_lookups_total", "found" => found).increment(1);
                state.ids().answer(id, answer);
            }
            for c in crate::domain::container::named_ids(p.body()) {
                if state.containers.needs_answer(c) {
                    let status = tx.container_status(c).await?;
                    let found = if status.is_some() { "true" } else { "false" };
                    metrics::counter!("hwledger_container_lookups_total", "found" => found)
                        .increment(1);
                    state.containers.answer(c.to_owned(), status);
                }
            }
            let pending = match state.submit(&p, now) {
                Ok(Verdict::Replay(seq)) => Pending::Replayed(seq),
                Err(r) => Pending::Rejected(r),
                Ok(Verdict::Accepted(mut outcome)) => {
                    let followups = std::mem::take(&mut outcome.followups);
                    let index = self.accepted(batch, p, outcome, recorded_at);
                    for t in followups.into_iter().rev() {
                        stack.push((self.ticket_event(&t), Some(t)));
                    }
                    Pending::Appended(index)
                }
            };
            match (ticket, pending) {
                (Some(t), Pending::Rejected(r)) => {
                    tracing::error!(ticket = %t.id, kind = t.kind.as_str(), reason = %r, "an automatic ticket was refused");
                }
                (Some(_), _) => {}
                (None, pending) => first = Some(pending),
            }
        }
        Ok(first.expect("the envelope itself is decided first"))
    }

    /// Adds an accepted envelope's entry to the batch, returning its index there.
    fn accepted(
        &mut self,
        batch: &mut Batch,
        p: Prepared,
        outcome: crate::domain::state::Outcome,
        recorded_at: &str,
    ) -> usize {
        self.round_events.push(p.clone());
        batch.touched.extend(outcome.touched);
        let manifest = manifest_of(&p);
        batch
            .container_steps
            .extend(outcome.containers.into_iter().map(|(id, q)| ContainerStep {
                container: id,
                seq: self.head.size,
                kind: p.header.kind.clone(),
                at: p.header.at_text.clone(),
                manifest,
                quantity_g: q,
            }));
        let entry = Entry {
            seq: self.head.size,
            prev: self.head.head,
            recorded_at: recorded_at.to_owned(),
            event_jcs: String::from_utf8(p.event_jcs).expect("JCS is UTF-8"),
            key: p.key,
            sig: p.sig,
        };
        let hash = entry.hash();
        batch
            .nodes
            .extend(self.frontier.push(merkle::leaf_hash(&hash)));
        self.head = Head {
            size: entry.seq + 1,
            head: hash,
            root: self.head.root,
            recorded_at: recorded_at.to_owned(),
        };
        let index = batch.entries.len();
        batch.entries.push(NewEntry {
            entry,
            hash,
            header: p.header,
            manifest,
        });
        index
    }

    /// One group commit.
    async fn round(&mut self, items: Vec<Item>, sweep: bool) -> anyhow::Result<RoundDone> {
        let lock = self.state.clone();
        let mut state = lock.write().await;
        // What the database said of ids in an earlier round may have changed since: another
        // process may have recorded them.
        state.ids().forget_answers();
        state.containers.forget_answers();
        // The rows of the containers the last round closed are written: they leave memory.
        state.containers.evict();
        self.round_events.clear();
        let mut mirrored = Vec::new();
        let mut tx = self.store.begin_write().await?;
        let db_head = tx.lock_head().await?;
        if db_head.size < self.head.size {
            bail!(
                "the database's head ({}) is behind this process's ({})",
                db_head.size,
                self.head.size
            );
        }
        if db_head.size > self.head.size {
            for e in tx.entries_from(self.head.size).await? {
                let p = self.absorb(&mut state, &e)?;
                mirrored.push((Arc::new(e), p));
            }
            self.head_tx.send_replace(self.head.clone());
        }
        let now = self.clock();
        let recorded_at = time::format_millis(now);
        let mut batch = Batch::default();
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            // The tickets of due moments passed come before any later entry (§7).
            if let Ok(p) = &item {
                if !crate::domain::ticket::is_automatic_ticket(p) {
                    for t in state.due_tickets(now) {
                        let ticket = self.ticket_event(&t);
                        if let Pending::Rejected(r) = self
                            .append(&mut state, &mut tx, &mut batch, ticket, now, &recorded_at)
                            .await?
                        {
                            tracing::error!(ticket = %t.id, kind = t.kind.as_str(), reason = %r, "a due ticket was refused");
                        }
                    }
                }
            }
            results.push(match item {
                Ok(p) => {
                    self.append(&mut state, &mut tx, &mut batch, p, now, &recorded_at)
                        .await?
                }
                Err(r) => Pending::Rejected(r),
            });
        }
        let mut swept = Vec::new();
        if sweep {
            for t in state.overdue_tickets(now) {
                let p = self.ticket_event(&t);
                swept.push(
                    self.append(&mut state, &mut tx, &mut batch, p, now, &recorded_at)
                        .await?,
                );
            }
            state.settle_swept(now);
            state.advance_rate(now);
        }
        if !batch.entries.is_empty() {
            self.head.root = self.frontier.root();
            tx.write(&batch, &state, &self.head).await?;
            self.committing
                .store(self.head.size, std::sync::atomic::Ordering::SeqCst);
            tx.commit().await?;
            self.head_tx.send_replace(self.head.clone());
            metrics::counter!("hwledger_appends_total").increment(batch.entries.len() as u64);
        }
        drop(state);
        let appended: Vec<Arc<Entry>> = batch
            .entries
            .into_iter()
            .map(|n| Arc::new(n.entry))
            .collect();
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            out.push(self.resolve(r, &appended).await?);
        }
        let mut swept_out = Vec::with_capacity(swept.len());
        for r in swept {
            swept_out.push(self.resolve(r, &appended).await?);
        }
        debug_assert_eq!(appended.len(), self.round_events.len());
        mirrored.extend(appended.into_iter().zip(self.round_events.drain(..)));
        Ok(RoundDone {
            results: out,
            swept: swept_out,
            entries: mirrored,
            swept_at: sweep.then_some(now),
        })
    }

    async fn resolve(&self, r: Pending, appended: &[Arc<Entry>]) -> anyhow::Result<ItemResult> {
        Ok(match r {
            Pending::Appended(i) => ItemResult::Appended(appended[i].clone()),
            Pending::Replayed(seq) => match appended.iter().find(|e| e.seq == seq) {
                Some(e) => ItemResult::Replayed(e.clone()),
                None => ItemResult::Replayed(Arc::new(
                    self.store
                        .entry(seq)
                        .await?
                        .with_context(|| format!("recorded entry {seq} is missing"))?,
                )),
            },
            Pending::Rejected(r) => {
                metrics::counter!("hwledger_refusals_total", "code" => r.code.as_str())
                    .increment(1);
                ItemResult::Rejected(r)
            }
        })
    }

    /// The ledger's clock for the next entries: now at millisecond precision, never before the
    /// last `recorded_at`.
    fn clock(&self) -> Timestamp {
        let now = self.clock.now();
        match time::parse_timestamp(&self.head.recorded_at) {
            Ok(last) if last > now => last,
            _ => now,
        }
    }
}

/// The manifest a manifest event is about.
/// The manifest a `manifest.*` event names, for its history and container trace rows.
pub(crate) fn manifest_of(p: &Prepared) -> Option<uuid::Uuid> {
    if !p.header.kind.starts_with("manifest.") {
        return None;
    }
    p.body()["manifest"]
        .as_str()
        .and_then(|m| uuid::Uuid::parse_str(m).ok())
}

enum Pending {
    /// Index into the batch's entries.
    Appended(usize),
    Replayed(u64),
    Rejected(Rejection),
}

/// Runs sweeps until the handle's sequencer stops: one at once, then every `interval`.
pub async fn run_sweeper(handle: SequencerHandle, interval: std::time::Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = Instant::now();
        match handle.sweep().await {
            Ok(n) => {
                metrics::histogram!("hwledger_sweep_seconds")
                    .record(started.elapsed().as_secs_f64());
                if n > 0 {
                    tracing::info!(tickets = n, "sweep opened overdue tickets");
                }
            }
            Err(e) => {
                if !handle.is_running() {
                    return;
                }
                tracing::error!(error = %format!("{e:#}"), "sweep failed; trying again at the next interval");
            }
        }
    }
}
