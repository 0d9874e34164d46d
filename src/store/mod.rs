//! Storage: one interface over SQLite (embedded, the default) and PostgreSQL.
//!
//! Queries are written once and compiled for each backend by the `with_pool!`/`with_tx!` macros,
//! so the two cannot drift apart; the few statements that differ say so where they stand. Entries
//! are only ever inserted (the databases refuse UPDATE and DELETE on them by trigger); everything
//! else is a projection of the ledger rewritten in the same transaction as the append.

mod containers;
mod facilities;
mod projections;
mod rows_text;
mod tickets;
mod witnesses;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

use crate::domain::state::{Limits, State, Touched};
use crate::protocol::event::{parse_hex, Entry, EventHeader, Hash};
use crate::protocol::merkle::NodeId;

pub use containers::{trace_text, ContainerStep, ContainerView, LotContainer};
pub use facilities::{FacilityView, TreatmentView};
pub use projections::{
    history_text, HistoryItem, KeyHolder, LicenceView, LineView, LotCursor, LotView,
    ManifestFilter, ManifestView, OrgFilter, OrgKeyView, OrgView, SeqWindow,
};
pub use tickets::{SubjectManifest, TicketFilter, TicketView};
pub use witnesses::{Halt, StoredCosignature};

/// The ledger's head as stored: size, last entry hash, tree root, last `recorded_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub head: Hash,
    pub root: Hash,
    /// Empty for an empty ledger.
    pub recorded_at: String,
}

/// One entry to insert, with the columns derived from its event.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub entry: Entry,
    pub hash: Hash,
    pub header: EventHeader,
    /// For manifest events: the manifest, whose history this entry joins.
    pub manifest: Option<uuid::Uuid>,
}

/// Everything one group commit writes.
#[derive(Debug, Default)]
pub struct Batch {
    pub entries: Vec<NewEntry>,
    pub nodes: Vec<(NodeId, Hash)>,
    pub touched: BTreeSet<Touched>,
    /// Steps of containers' traces, one per (container, entry).
    pub container_steps: Vec<ContainerStep>,
}

/// A database URL whose password never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(String);

impl DbUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DbUrl(url.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for DbUrl {
    /// Shows the URL with any password replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        if let (Some(scheme_end), Some(at)) = (s.find("://"), s.rfind('@')) {
            let userinfo = &s[scheme_end + 3..at];
            if let Some(colon) = userinfo.find(':') {
                return write!(
                    f,
                    "{}{}:***{}",
                    &s[..scheme_end + 3],
                    &userinfo[..colon],
                    &s[at..]
                );
            }
        }
        f.write_str(s)
    }
}

/// The storage handle. Cheap to clone.
#[derive(Clone)]
pub enum Store {
    Sqlite {
        /// One connection: SQLite has one writer at a time, and the sequencer is it.
        write: SqlitePool,
        read: SqlitePool,
        /// One connection that copies the write-ahead log into the database file
        /// ([`Store::checkpoint_wal`]), beside the writer rather than inside its commits.
        checkpoint: SqlitePool,
    },
    Postgres(PgPool),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Store::Sqlite { .. } => "Store::Sqlite",
            Store::Postgres(_) => "Store::Postgres",
        })
    }
}

/// Runs `$body` with `$pool` bound to the backend's read pool; the body is compiled per backend.
macro_rules! with_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match $self {
            Store::Sqlite { read: $pool, .. } => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

/// Like `with_pool!`, over an open write transaction.
macro_rules! with_tx {
    ($self:expr, $tx:ident => $body:expr) => {
        match $self {
            WriteTx::Sqlite($tx) => $body,
            WriteTx::Postgres($tx) => $body,
        }
    };
}
pub(crate) use {with_pool, with_tx};

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).expect("sizes fit in i64")
}

/// A seq or count from a request, as a query bound: values past `i64::MAX` (which no ledger
/// reaches) become `i64::MAX`, so they find nothing rather than fail.
fn bound_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn hash_of(s: &str) -> anyhow::Result<Hash> {
    parse_hex::<32>(s).with_context(|| format!("stored hash {s:?} is not 64 hex characters"))
}

fn entry_from_row<R: Row>(row: &R) -> anyhow::Result<Entry>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let seq: i64 = row.try_get("seq")?;
    let key: String = row.try_get("key")?;
    let sig: String = row.try_get("sig")?;
    Ok(Entry {
        seq: seq as u64,
        prev: hash_of(&row.try_get::<String, _>("prev")?)?,
        recorded_at: row.try_get("recorded_at")?,
        event_jcs: row.try_get("event")?,
        key: parse_hex::<32>(&key).context("stored key is not hex")?,
        sig: parse_hex::<64>(&sig).context("stored signature is not hex")?,
    })
}

fn head_from_row<R: Row>(row: &R) -> anyhow::Result<Head>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Head {
        size: row.try_get::<i64, _>("size")? as u64,
        head: hash_of(&row.try_get::<String, _>("head")?)?,
        root: hash_of(&row.try_get::<String, _>("root")?)?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

const ENTRY_COLUMNS: &str = "seq, prev, recorded_at, event, key, sig";

impl Store {
    /// Opens the database at `url` (creating a SQLite file when missing) and runs the migrations.
    pub async fn connect(url: &DbUrl) -> anyhow::Result<Store> {
        if url.is_postgres() {
            let options = PgConnectOptions::from_str(url.expose())
                .with_context(|| format!("bad database URL {url}"))?;
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .with_context(|| format!("cannot connect to {url}"))?;
            sqlx::migrate!("./migrations/postgres")
                .run(&pool)
                .await
                .context("database migration failed")?;
            Ok(Store::Postgres(pool))
        } else {
            let options = SqliteConnectOptions::from_str(url.expose())
                .with_context(|| format!("bad database URL {url}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: with WAL, a commit is on disk before it is acknowledged.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30));
            // SQLite's migrator takes no lock: when two processes open a new database at once,
            // one may find a migration applied under it, and simply tries again. Migrations
            // run on a connection of their own, with SQLite's defaults: an index built over a
            // large table sorts through temporary files, not in the writer's memory.
            let migrate = open_sqlite(SqlitePoolOptions::new().max_connections(1), options.clone())
                .await
                .with_context(|| format!("cannot open {url}"))?;
            let mut attempt = 0;
            loop {
                match sqlx::migrate!("./migrations/sqlite").run(&migrate).await {
                    Ok(()) => break,
                    Err(_) if attempt < 5 => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                    }
                    Err(e) => return Err(e).context("database migration failed"),
                }
            }
            migrate.close().await;
            // The writer keeps 256 MiB of pages in memory (SQLite's default is 2 MiB): the
            // indexes an append touches (container traces, manifest history) are spread over a
            // large file, and each page missing from the cache is a read before the write.
            let write = open_sqlite(
                SqlitePoolOptions::new().max_connections(1),
                options
                    .clone()
                    .pragma("cache_size", "-262144")
                    .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)
                    // A statement that may fail part-way keeps a journal of the pages it
                    // changed, to undo only itself. Past 64 KiB SQLite spills that journal to a
                    // file it creates and deletes in the system's temporary folder, which a
                    // batch of 500 appends did in nearly every round. In memory, a round makes
                    // a fifth fewer writes, and appends do not depend on that folder.
                    .pragma("temp_store", "memory"),
            )
            .await
            .with_context(|| format!("cannot open {url}"))?;
            let checkpoint = open_sqlite(
                SqlitePoolOptions::new().max_connections(1),
                options.clone().pragma("cache_size", "-2048"),
            )
            .await
            .with_context(|| format!("cannot open {url}"))?;
            let read = open_sqlite(
                SqlitePoolOptions::new().max_connections(4),
                options.read_only(true).pragma("cache_size", "-32768"),
            )
            .await
            .with_context(|| format!("cannot open {url}"))?;
            Ok(Store::Sqlite {
                write,
                read,
                checkpoint,
            })
        }
    }

    /// Settings of the database server that would slow this service down as the ledger grows,
    /// in words for the log: on PostgreSQL, autovacuum off (or the statistics it needs,
    /// `track_counts`), so that the query tables' planner statistics are never refreshed and
    /// their dead rows never removed. Nothing for SQLite.
    pub async fn maintenance_warnings(&self) -> anyhow::Result<Vec<String>> {
        let Store::Postgres(pool) = self else {
            return Ok(Vec::new());
        };
        let (autovacuum, track_counts): (String, String) =
            sqlx::query_as("select current_setting('autovacuum'), current_setting('track_counts')")
                .fetch_one(pool)
                .await?;
        let mut warnings = Vec::new();
        if autovacuum != "on" || track_counts != "on" {
            warnings.push(format!(
                "PostgreSQL's autovacuum does not run here (autovacuum = {autovacuum}, \
                 track_counts = {track_counts}): the planner's statistics of the query tables are \
                 never refreshed, so lists and stock reads fall back to scanning whole tables as \
                 the ledger grows; turn both on, or run ANALYZE (and VACUUM) on this database \
                 regularly"
            ));
        }
        Ok(warnings)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite { .. } => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite {
                write,
                read,
                checkpoint,
            } => {
                checkpoint.close().await;
                read.close().await;
                write.close().await;
            }
            Store::Postgres(p) => p.close().await,
        }
    }

    /// A trivial query, for health checks.
    pub async fn ping(&self) -> anyhow::Result<()> {
        with_pool!(self, pool => {
            sqlx::query("select 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn head(&self) -> anyhow::Result<Head> {
        with_pool!(self, pool => {
            let row = sqlx::query("select size, head, root, recorded_at from ledger_head where id = 0")
                .fetch_one(pool)
                .await?;
            head_from_row(&row)
        })
    }

    /// Entries `from..from+limit` in seq order.
    pub async fn entries(&self, from: u64, limit: u64) -> anyhow::Result<Vec<Entry>> {
        with_pool!(self, pool => {
            let sql = format!(
                "select {ENTRY_COLUMNS} from entries where seq >= $1 order by seq limit $2"
            );
            let rows = sqlx::query(&sql)
                .bind(bound_of(from))
                .bind(bound_of(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(entry_from_row).collect()
        })
    }

    /// Entries with the hash stored beside each, for audits that compare the two.
    pub async fn entries_with_hash(
        &self,
        from: u64,
        limit: u64,
    ) -> anyhow::Result<Vec<(Entry, Hash)>> {
        with_pool!(self, pool => {
            let sql = format!(
                "select {ENTRY_COLUMNS}, hash from entries where seq >= $1 order by seq limit $2"
            );
            let rows = sqlx::query(&sql)
                .bind(bound_of(from))
                .bind(bound_of(limit))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((entry_from_row(r)?, hash_of(&r.try_get::<String, _>("hash")?)?)))
                .collect()
        })
    }

    pub async fn entry(&self, seq: u64) -> anyhow::Result<Option<Entry>> {
        Ok(self
            .entries(seq, 1)
            .await?
            .into_iter()
            .find(|e| e.seq == seq))
    }

    /// The stored hash of entry `seq`, without reading the entry itself.
    pub async fn entry_hash(&self, seq: u64) -> anyhow::Result<Option<Hash>> {
        let hash: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar("select hash from entries where seq = $1")
                .bind(bound_of(seq))
                .fetch_optional(pool)
                .await?
        });
        hash.as_deref().map(hash_of).transpose()
    }

    /// The limits in force at the head: the genesis' and then each `ledger.limits_set` in
    /// order, an absent optional member keeping the value in force. Limit entries are few, and
    /// `entries_limits` (an index of those entries only) finds them without a scan.
    pub async fn limits_in_force(&self) -> anyhow::Result<Option<Limits>> {
        let events: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "select event from entries where type in ('ledger.genesis', 'ledger.limits_set') order by seq",
            )
            .fetch_all(pool)
            .await?
        });
        let mut limits: Option<Limits> = None;
        for event in events {
            let event: serde_json::Value = serde_json::from_str(&event)?;
            let body = event["body"]["limits"].clone();
            limits = Some(match limits {
                None => serde_json::from_value(body)?,
                Some(l) => l.patched(&serde_json::from_value(body)?),
            });
        }
        Ok(limits)
    }

    /// The stored tree nodes among `ids`.
    pub async fn tree_nodes(&self, ids: &[NodeId]) -> anyhow::Result<HashMap<NodeId, Hash>> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(400) {
            with_pool!(self, pool => {
                let mut q = QueryBuilder::new("select cast(level as bigint) as level, idx, hash from tree_nodes where (level, idx) in (");
                let mut sep = q.separated(", ");
                for id in chunk {
                    sep.push("(");
                    sep.push_bind_unseparated(id.level as i64);
                    sep.push_unseparated(", ");
                    sep.push_bind_unseparated(i64_of(id.index));
                    sep.push_unseparated(")");
                }
                q.push(")");
                for row in q.build().fetch_all(pool).await? {
                    let level: i64 = row.try_get("level")?;
                    let idx: i64 = row.try_get("idx")?;
                    let hash: Vec<u8> = row.try_get("hash")?;
                    let hash: Hash = hash.try_into().map_err(|_| anyhow::anyhow!("stored tree node is not 32 bytes"))?;
                    out.insert(NodeId { level: level as u32, index: idx as u64 }, hash);
                }
            });
        }
        Ok(out)
    }

    /// The stored hashes of the tree nodes at `level` with index `from .. from + count`, in
    /// order (one range read of the primary key). Fewer when some are not stored.
    pub async fn tree_level_range(
        &self,
        level: u32,
        from: u64,
        count: u64,
    ) -> anyhow::Result<Vec<Hash>> {
        let (from, to) = (bound_of(from), bound_of(from.saturating_add(count)));
        let rows: Vec<Vec<u8>> = with_pool!(self, pool => {
            sqlx::query_scalar("select hash from tree_nodes where level = $1 and idx >= $2 and idx < $3 order by idx")
                .bind(level as i64)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|h| {
                h.try_into()
                    .map_err(|_| anyhow::anyhow!("stored tree node is not 32 bytes"))
            })
            .collect()
    }

    /// The stored hashes of entries `from .. from + count`, in order.
    pub async fn entry_hashes(&self, from: u64, count: u64) -> anyhow::Result<Vec<Hash>> {
        let (from, to) = (bound_of(from), bound_of(from.saturating_add(count)));
        let rows: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar("select hash from entries where seq >= $1 and seq < $2 order by seq")
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
        });
        rows.iter().map(|h| hash_of(h)).collect()
    }

    /// Opens the write transaction of one group commit, holding the ledger's head lock.
    /// After a failed round: a SQLite write connection whose commit failed (a full disk, an
    /// I/O error) may be left marked as inside a transaction that SQLite itself already rolled
    /// back, and every later round on it would fail. It is closed, which rolls back anything
    /// still open, and the next round opens a fresh one. PostgreSQL's pool drops broken
    /// connections by itself, and its failed transactions end at the server.
    pub async fn reset_writer(&self) {
        if let Store::Sqlite { write, .. } = self {
            match write.acquire().await {
                Ok(conn) => {
                    if let Err(e) = sqlx::Connection::close(conn.detach()).await {
                        tracing::warn!(error = %e, "closing the failed write connection");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot take the write connection to reset it")
                }
            }
        }
    }

    /// Copies what it can of SQLite's write-ahead log into the database file without waiting
    /// for the writer or the readers (`PRAGMA wal_checkpoint(PASSIVE)`), on a connection of its
    /// own; `None` on PostgreSQL. The service runs it every [`CHECKPOINT_EVERY`], so that the
    /// writer's commits no longer copy the log themselves: SQLite's automatic checkpoint runs
    /// inside the commit that crosses its threshold, and before the commit returns. The writer
    /// still checkpoints when the log passes [`WRITER_CHECKPOINT_PAGES`] (by then nearly every
    /// page is copied already), which lets the next write start the log again from its
    /// beginning: a checkpoint beside a writer that never pauses may never find the whole log
    /// copied at the moment a write starts, and the log would grow without end.
    pub async fn checkpoint_wal(&self) -> anyhow::Result<Option<WalCheckpoint>> {
        let Store::Sqlite { checkpoint, .. } = self else {
            return Ok(None);
        };
        let row = sqlx::query("pragma wal_checkpoint(passive)")
            .fetch_one(checkpoint)
            .await?;
        Ok(Some(WalCheckpoint {
            log_pages: row.try_get(1)?,
            copied_pages: row.try_get(2)?,
        }))
    }

    pub async fn begin_write(&self) -> anyhow::Result<WriteTx> {
        match self {
            // IMMEDIATE takes SQLite's write lock now, so a second process waits here rather
            // than failing at commit.
            Store::Sqlite { write, .. } => {
                Ok(WriteTx::Sqlite(write.begin_with("begin immediate").await?))
            }
            Store::Postgres(pool) => Ok(WriteTx::Postgres(pool.begin().await?)),
        }
    }
}

/// How often the service copies SQLite's write-ahead log into the database file
/// ([`Store::checkpoint_wal`]).
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The size of the write-ahead log, in pages, past which the writer's own commit checkpoints
/// (SQLite's `wal_autocheckpoint`; its default is 1000 pages). 16384 pages of 4 KiB: 64 MiB.
pub const WRITER_CHECKPOINT_PAGES: &str = "16384";

/// What one checkpoint of SQLite's write-ahead log did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalCheckpoint {
    /// Pages in the log.
    pub log_pages: i64,
    /// Pages of the log that are now in the database file.
    pub copied_pages: i64,
}

/// An open write transaction. Dropping it without [`WriteTx::commit`] rolls back.
pub enum WriteTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl WriteTx {
    /// Reads the head under the writers' lock: a concurrent writer in another process waits
    /// until this transaction ends.
    pub async fn lock_head(&mut self) -> anyhow::Result<Head> {
        let sql = match self {
            WriteTx::Sqlite(_) => {
                "select size, head, root, recorded_at from ledger_head where id = 0"
            }
            WriteTx::Postgres(_) => {
                "select size, head, root, recorded_at from ledger_head where id = 0 for update"
            }
        };
        with_tx!(self, tx => {
            let row = sqlx::query(sql).fetch_one(&mut **tx).await?;
            head_from_row(&row)
        })
    }

    /// Entries at and after `from`, for catching up with appends by another process.
    pub async fn entries_from(&mut self, from: u64) -> anyhow::Result<Vec<Entry>> {
        with_tx!(self, tx => {
            let sql = format!("select {ENTRY_COLUMNS} from entries where seq >= $1 order by seq");
            let rows = sqlx::query(&sql).bind(i64_of(from)).fetch_all(&mut **tx).await?;
            rows.iter().map(entry_from_row).collect()
        })
    }

    /// The seq of the entry recording event `id`, and the SHA-256 of its event's canonical
    /// form, if it is recorded: step 2 of §3 for an id the state's filter cannot rule out.
    pub async fn recorded_event(
        &mut self,
        id: &uuid::Uuid,
    ) -> anyhow::Result<Option<crate::domain::recorded::Recorded>> {
        with_tx!(self, tx => {
            let row: Option<(i64, String)> =
                sqlx::query_as("select seq, event from entries where id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&mut **tx)
                    .await?;
            Ok(row.map(|(seq, event)| (seq as u64, crate::protocol::event::sha256(event.as_bytes()))))
        })
    }

    /// The status of a container's row, when it has one (see
    /// [`crate::domain::container::Containers`]).
    pub async fn container_status(
        &mut self,
        id: &str,
    ) -> anyhow::Result<Option<crate::domain::container::ContainerStatus>> {
        with_tx!(self, tx => {
            let status: Option<String> =
                sqlx::query_scalar("select status from containers where id = $1")
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
            status
                .map(|s| {
                    crate::domain::container::ContainerStatus::parse(&s)
                        .ok_or_else(|| anyhow::anyhow!("container {id} has the unknown status {s:?}"))
                })
                .transpose()
        })
    }

    /// Writes a batch: its entries, its tree nodes, the projections it touched (read from the
    /// state after the batch), and the new head.
    pub async fn write(&mut self, batch: &Batch, state: &State, head: &Head) -> anyhow::Result<()> {
        with_tx!(self, tx => {
            for chunk in batch.entries.chunks(1000) {
                let mut q = QueryBuilder::new(
                    "insert into entries (seq, id, type, actor, at, recorded_at, prev, hash, key, sig, event) ",
                );
                q.push_values(chunk, |mut b, e| {
                    b.push_bind(i64_of(e.entry.seq))
                        .push_bind(e.header.id.to_string())
                        .push_bind(e.header.kind.clone())
                        .push_bind(e.header.actor.clone())
                        .push_bind(e.header.at_text.clone())
                        .push_bind(e.entry.recorded_at.clone())
                        .push_bind(hex::encode(e.entry.prev))
                        .push_bind(hex::encode(e.hash))
                        .push_bind(hex::encode(e.entry.key))
                        .push_bind(hex::encode(e.entry.sig))
                        .push_bind(e.entry.event_jcs.clone());
                });
                q.build().execute(&mut **tx).await?;
            }
            for chunk in batch.nodes.chunks(3000) {
                let mut q = QueryBuilder::new("insert into tree_nodes (level, idx, hash) ");
                q.push_values(chunk, |mut b, (id, hash)| {
                    b.push_bind(id.level as i64)
                        .push_bind(i64_of(id.index))
                        .push_bind(hash.to_vec());
                });
                q.build().execute(&mut **tx).await?;
            }
        });
        projections::write(self, batch, state).await?;
        with_tx!(self, tx => {
            sqlx::query("update ledger_head set size = $1, head = $2, root = $3, recorded_at = $4 where id = 0")
                .bind(i64_of(head.size))
                .bind(hex::encode(head.head))
                .bind(hex::encode(head.root))
                .bind(head.recorded_at.clone())
                .execute(&mut **tx)
                .await?;
        });
        Ok(())
    }

    pub async fn commit(self) -> anyhow::Result<()> {
        with_tx!(self, tx => tx.commit().await?);
        Ok(())
    }
}

/// Opens a SQLite pool. Switching a new database file to WAL can answer "database is locked"
/// without waiting for the busy timeout while another process is making the same switch (two
/// services starting at once on a new file), so that answer is tried again a few times.
async fn open_sqlite(
    pool: SqlitePoolOptions,
    options: SqliteConnectOptions,
) -> Result<sqlx::SqlitePool, sqlx::Error> {
    let mut attempt = 0;
    loop {
        match pool.clone().connect_with(options.clone()).await {
            Err(sqlx::Error::Database(e)) if attempt < 5 && e.code().as_deref() == Some("5") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            other => return other,
        }
    }
}
