//! Witness cosignatures and halted witnesses (spec §5a), kept in the ledger's database so that
//! every process of the ledger serves the same cosigned checkpoints and a restart loses none.
//! These rows are not derived from the entries: they are what witnesses answered.

use sqlx::Row;

use super::{bound_of, i64_of, Store};

/// A stored cosignature: the witness (key name and hex key), its line and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCosignature {
    pub size: u64,
    pub witness: String,
    pub key: String,
    pub line: String,
    pub cosigned_at: u64,
}

/// A witness the ledger stopped sending to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Halt {
    pub witness: String,
    pub key: String,
    pub halted_at: String,
    pub reason: String,
}

/// Runs `$body` with `$pool` bound to a pool that may write: SQLite's one write connection
/// (shared with the sequencer, between its rounds) or PostgreSQL's pool.
macro_rules! with_write_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match $self {
            Store::Sqlite { write: $pool, .. } => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

fn cosignature_of<R: Row>(row: &R) -> anyhow::Result<StoredCosignature>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredCosignature {
        size: row.try_get::<i64, _>("size")? as u64,
        witness: row.try_get("witness")?,
        key: row.try_get("key")?,
        line: row.try_get("line")?,
        cosigned_at: row.try_get::<i64, _>("cosigned_at")? as u64,
    })
}

impl Store {
    /// Keeps a verified cosignature: per (size, witness, key) the newest line.
    pub async fn save_cosignature(&self, c: &StoredCosignature) -> anyhow::Result<()> {
        with_write_pool!(self, pool => {
            sqlx::query(
                "insert into cosignatures (size, witness, key, line, cosigned_at) values ($1, $2, $3, $4, $5) \
                 on conflict (size, witness, key) do update set line = excluded.line, cosigned_at = excluded.cosigned_at \
                 where excluded.cosigned_at >= cosignatures.cosigned_at",
            )
            .bind(i64_of(c.size))
            .bind(&c.witness)
            .bind(&c.key)
            .bind(&c.line)
            .bind(i64::try_from(c.cosigned_at).unwrap_or(i64::MAX))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The stored cosignatures of the checkpoint of `size`.
    pub async fn cosignatures_at(&self, size: u64) -> anyhow::Result<Vec<StoredCosignature>> {
        let rows = super::with_pool!(self, pool => {
            sqlx::query("select size, witness, key, line, cosigned_at from cosignatures where size = $1 order by witness, key")
                .bind(bound_of(size))
                .fetch_all(pool)
                .await?
                .iter()
                .map(cosignature_of)
                .collect::<anyhow::Result<Vec<_>>>()?
        });
        Ok(rows)
    }

    /// The stored cosignatures of the `sizes` largest cosigned sizes at or below `at_most`,
    /// largest size first.
    pub async fn recent_cosignatures(
        &self,
        at_most: u64,
        sizes: u64,
    ) -> anyhow::Result<Vec<StoredCosignature>> {
        let rows = super::with_pool!(self, pool => {
            sqlx::query(
                "select size, witness, key, line, cosigned_at from cosignatures where size in \
                 (select distinct size from cosignatures where size <= $1 order by size desc limit $2) \
                 order by size desc, witness, key",
            )
            .bind(bound_of(at_most))
            .bind(bound_of(sizes))
            .fetch_all(pool)
            .await?
            .iter()
            .map(cosignature_of)
            .collect::<anyhow::Result<Vec<_>>>()?
        });
        Ok(rows)
    }

    /// The largest size the witness (name, hex key) has cosigned, with that cosignature.
    pub async fn last_cosignature(
        &self,
        witness: &str,
        key: &str,
    ) -> anyhow::Result<Option<StoredCosignature>> {
        let row = super::with_pool!(self, pool => {
            sqlx::query(
                "select size, witness, key, line, cosigned_at from cosignatures \
                 where witness = $1 and key = $2 order by size desc limit 1",
            )
            .bind(witness)
            .bind(key)
            .fetch_optional(pool)
            .await?
            .as_ref()
            .map(cosignature_of)
            .transpose()?
        });
        Ok(row)
    }

    /// Records that nothing more is sent to the witness (name, hex key); the first reason stays.
    pub async fn halt_witness(&self, halt: &Halt) -> anyhow::Result<()> {
        with_write_pool!(self, pool => {
            sqlx::query(
                "insert into witness_halts (witness, key, halted_at, reason) values ($1, $2, $3, $4) \
                 on conflict (witness, key) do nothing",
            )
            .bind(&halt.witness)
            .bind(&halt.key)
            .bind(&halt.halted_at)
            .bind(&halt.reason)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Every halted witness.
    pub async fn witness_halts(&self) -> anyhow::Result<Vec<Halt>> {
        let rows = super::with_pool!(self, pool => {
            sqlx::query("select witness, key, halted_at, reason from witness_halts order by witness, key")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| -> anyhow::Result<Halt> {
                    Ok(Halt {
                        witness: r.try_get("witness")?,
                        key: r.try_get("key")?,
                        halted_at: r.try_get("halted_at")?,
                        reason: r.try_get("reason")?,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?
        });
        Ok(rows)
    }
}
