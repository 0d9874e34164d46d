//! The witness's database (SQLite or PostgreSQL, its own migrations under
//! `migrations/witness/`): per origin the checkpoint it last cosigned, and the evidence it kept.
//!
//! The only write that moves a log forward is [`WitnessStore::advance`], one conditional
//! statement: the check of what the request was judged against and the update cannot be split
//! by another request.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};

use crate::protocol::event::parse_hex;
use crate::protocol::merkle::Hash;
use crate::store::DbUrl;

/// The checkpoint a witness last cosigned for one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    pub size: u64,
    pub root: Hash,
    /// The timestamp of that cosignature, POSIX seconds.
    pub cosigned_at: u64,
    /// The signed checkpoint as received, kept to show beside any evidence against it.
    pub note: String,
}

/// A request refused with 422, kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub origin: String,
    /// POSIX seconds.
    pub received_at: u64,
    pub reason: String,
    /// The whole request body.
    pub body: Vec<u8>,
    /// The signed checkpoint last cosigned for the origin when the request came, if any: with
    /// the one in `body`, two checkpoints signed by the log that it cannot both stand by.
    pub cosigned: Option<String>,
}

/// What [`WitnessStore::advance`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// The new checkpoint is stored (committed).
    Stored,
    /// Another request moved the log first: the size stored now.
    Lost(u64),
}

/// The storage handle. Cheap to clone.
#[derive(Clone, Debug)]
pub enum WitnessStore {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool; the body is compiled per backend.
macro_rules! with_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match $self {
            WitnessStore::Sqlite($pool) => $body,
            WitnessStore::Postgres($pool) => $body,
        }
    };
}

fn i64_of(n: u64) -> anyhow::Result<i64> {
    i64::try_from(n).context("sizes and times up to 2^63 - 1 can be stored")
}

fn u64_of(n: i64) -> anyhow::Result<u64> {
    u64::try_from(n).context("a stored size or time is negative")
}

/// A migration refused on a database holding the ledger's (or anything else's) migrations.
const OWN_DATABASE: &str =
    "cannot prepare the witness database (a witness needs a database of its own, not the ledger's)";

impl WitnessStore {
    /// Opens the database at `url`, creating a SQLite file when missing, and runs the witness
    /// migrations. SQLite runs in WAL mode with `synchronous = FULL`, so a commit is on disk
    /// before the statement returns.
    pub async fn connect(url: &DbUrl) -> anyhow::Result<WitnessStore> {
        if url.is_postgres() {
            let options = PgConnectOptions::from_str(url.expose())
                .with_context(|| format!("bad database URL {url}"))?;
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .with_context(|| format!("cannot connect to {url}"))?;
            sqlx::migrate!("./migrations/witness/postgres")
                .run(&pool)
                .await
                .context(OWN_DATABASE)?;
            Ok(WitnessStore::Postgres(pool))
        } else {
            let options = SqliteConnectOptions::from_str(url.expose())
                .with_context(|| format!("bad database URL {url}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open {url}"))?;
            // SQLite's migrator takes no lock: two processes opening a new file at once may
            // find a migration applied under them, and simply try again.
            let mut attempt = 0;
            loop {
                match sqlx::migrate!("./migrations/witness/sqlite")
                    .run(&pool)
                    .await
                {
                    Ok(()) => break,
                    Err(_) if attempt < 5 => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                    }
                    Err(e) => return Err(e).context(OWN_DATABASE),
                }
            }
            Ok(WitnessStore::Sqlite(pool))
        }
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }

    /// The checkpoint last cosigned for `origin`, if any.
    pub async fn cosigned(&self, origin: &str) -> anyhow::Result<Option<Cosigned>> {
        with_pool!(self, pool => {
            let row = sqlx::query(
                "select size, root, cosigned_at, note from witness_checkpoints where origin = $1",
            )
            .bind(origin)
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                cosigned_of(
                    r.try_get("size")?,
                    &r.try_get::<String, _>("root")?,
                    r.try_get("cosigned_at")?,
                    r.try_get("note")?,
                )
            })
            .transpose()
        })
    }

    /// Every origin's last cosigned checkpoint.
    pub async fn all_cosigned(&self) -> anyhow::Result<HashMap<String, Cosigned>> {
        with_pool!(self, pool => {
            let rows = sqlx::query("select origin, size, root, cosigned_at, note from witness_checkpoints")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("origin")?,
                        cosigned_of(
                            r.try_get("size")?,
                            &r.try_get::<String, _>("root")?,
                            r.try_get("cosigned_at")?,
                            r.try_get("note")?,
                        )?,
                    ))
                })
                .collect()
        })
    }

    /// Moves `origin` from `from` (what the request was judged against; `None`: never
    /// cosigned) to `to`, in one conditional statement, committed when it returns. If another
    /// request changed the row in between, nothing is written and the size stored now is
    /// returned.
    pub async fn advance(
        &self,
        origin: &str,
        from: Option<&Cosigned>,
        to: &Cosigned,
    ) -> anyhow::Result<Advance> {
        let (size, root, at) = (
            i64_of(to.size)?,
            hex::encode(to.root),
            i64_of(to.cosigned_at)?,
        );
        let changed = with_pool!(self, pool => match from {
            None => sqlx::query(
                "insert into witness_checkpoints (origin, size, root, cosigned_at, note) \
                 values ($1, $2, $3, $4, $5) on conflict (origin) do nothing",
            )
            .bind(origin)
            .bind(size)
            .bind(root)
            .bind(at)
            .bind(&to.note)
            .execute(pool)
            .await?
            .rows_affected(),
            Some(from) => sqlx::query(
                "update witness_checkpoints set size = $1, root = $2, cosigned_at = $3, note = $4 \
                 where origin = $5 and size = $6 and root = $7",
            )
            .bind(size)
            .bind(root)
            .bind(at)
            .bind(&to.note)
            .bind(origin)
            .bind(i64_of(from.size)?)
            .bind(hex::encode(from.root))
            .execute(pool)
            .await?
            .rows_affected(),
        });
        if changed == 1 {
            return Ok(Advance::Stored);
        }
        let now = self.cosigned(origin).await?;
        Ok(Advance::Lost(now.map_or(0, |c| c.size)))
    }

    /// Keeps a refused request as evidence.
    pub async fn add_evidence(&self, evidence: &Evidence) -> anyhow::Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "insert into witness_evidence (origin, received_at, reason, body, cosigned) \
                 values ($1, $2, $3, $4, $5)",
            )
            .bind(&evidence.origin)
            .bind(i64_of(evidence.received_at)?)
            .bind(&evidence.reason)
            .bind(&evidence.body)
            .bind(&evidence.cosigned)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The evidence kept for `origin`, oldest first.
    pub async fn evidence(&self, origin: &str) -> anyhow::Result<Vec<Evidence>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "select origin, received_at, reason, body, cosigned from witness_evidence \
                 where origin = $1 order by id",
            )
            .bind(origin)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(Evidence {
                        origin: r.try_get("origin")?,
                        received_at: u64_of(r.try_get("received_at")?)?,
                        reason: r.try_get("reason")?,
                        body: r.try_get("body")?,
                        cosigned: r.try_get("cosigned")?,
                    })
                })
                .collect()
        })
    }

    /// The number of evidence records per origin (origins without any are absent).
    pub async fn evidence_counts(&self) -> anyhow::Result<HashMap<String, u64>> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "select origin, count(*) as n from witness_evidence group by origin",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("origin")?, u64_of(r.try_get("n")?)?)))
                .collect()
        })
    }
}

fn cosigned_of(size: i64, root: &str, cosigned_at: i64, note: String) -> anyhow::Result<Cosigned> {
    Ok(Cosigned {
        size: u64_of(size)?,
        root: parse_hex::<32>(root)
            .with_context(|| format!("stored root {root:?} is not 64 hex characters"))?,
        cosigned_at: u64_of(cosigned_at)?,
        note,
    })
}
