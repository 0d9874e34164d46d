//! Query tables of containers (一物一码): each container's lot, quantity and status, and its
//! trace, written in the append's transaction and read by `GET /v1/containers/{id}` and the
//! stock view.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Serialize;
use sqlx::{QueryBuilder, Row};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{i64_of, rows_text, with_pool, with_tx, Batch, Store, WriteTx};
use crate::domain::container::packer;
use crate::domain::state::{State, Touched};
use crate::domain::stock::LotKey;
use crate::protocol::time;

/// One step of a container's trace: an entry that touched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContainerStep {
    #[serde(skip)]
    pub container: String,
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub at: String,
    pub manifest: Option<Uuid>,
    /// The quantity the entry gave it (declared, weighed at receipt), or null.
    pub quantity_g: Option<i64>,
}

/// `GET /v1/containers/{id}` (spec §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContainerView {
    pub container: String,
    pub org: String,
    pub code: String,
    pub lot: u64,
    pub date: String,
    pub quantity_g: i64,
    pub status: String,
    pub trace: Vec<ContainerStep>,
}

/// A container as a lot of the stock view lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct LotContainer {
    pub id: String,
    pub quantity_g: i64,
    pub status: String,
}

/// Writes the containers a batch touched, and the batch's trace steps.
///
/// The steps are keyed by (seq, container), so a round's steps go to the end of the table; each
/// container's row gets the seqs of its new steps (`trace_seqs`, each followed by a comma),
/// by which its trace is read.
pub(super) async fn write(tx: &mut WriteTx, batch: &Batch, state: &State) -> anyhow::Result<()> {
    let mut new_seqs: HashMap<&str, String> = HashMap::new();
    for s in &batch.container_steps {
        let seqs = new_seqs.entry(s.container.as_str()).or_default();
        seqs.push_str(itoa::Buffer::new().format(s.seq));
        seqs.push(',');
    }
    let mut rows = Vec::new();
    // Each container's place in its lot, from one pass over each lot a touched container is in
    // (a declaration of n containers touches all n: a search per container would be n²).
    let mut places: HashMap<LotKey, HashMap<&str, usize>> = HashMap::new();
    for t in &batch.touched {
        let Touched::Container(id) = t else { continue };
        let Some(c) = state.containers.get(id) else {
            continue;
        };
        let lot = &state.lots[&c.lot];
        let pos = places
            .entry(c.lot)
            .or_insert_with(|| {
                let mut at = HashMap::new();
                for (i, x) in lot.containers.iter().flatten().enumerate() {
                    at.entry(x.as_str()).or_insert(i);
                }
                at
            })
            .get(id.as_str())
            .copied()
            .unwrap_or(0);
        let seqs = new_seqs.remove(id.as_str()).unwrap_or_default();
        rows.push((id, c, lot, pos, seqs));
    }
    with_tx!(tx, tx => {
        for chunk in rows.chunks(1000) {
            let mut q = QueryBuilder::new("insert into containers (id, org, code, date, lot, pos, quantity_g, status, manifest, received_g, trace_seqs) ");
            q.push_values(chunk, |mut b, (id, c, lot, pos, seqs)| {
                b.push_bind((*id).clone())
                    .push_bind(packer(id).to_owned())
                    .push_bind(lot.code.clone())
                    .push_bind(time::format_date(lot.date))
                    .push_bind(i64_of(c.lot.seq))
                    .push_bind(*pos as i64)
                    .push_bind(c.quantity_g)
                    .push_bind(c.status.as_str())
                    .push_bind(c.manifest.map(|m| m.to_string()))
                    .push_bind(c.received_g)
                    .push_bind(seqs.clone());
            });
            q.push(" on conflict (id) do update set lot = excluded.lot, pos = excluded.pos, quantity_g = excluded.quantity_g, status = excluded.status, manifest = excluded.manifest, received_g = excluded.received_g, trace_seqs = containers.trace_seqs || excluded.trace_seqs");
            q.build().execute(&mut **tx).await?;
        }
        // Steps of containers the batch did not otherwise touch (those of a manifest disposed
        // of, which the state no longer holds), many to a statement.
        let untouched: Vec<(&str, String)> = new_seqs.into_iter().collect();
        for chunk in untouched.chunks(500) {
            let mut q = QueryBuilder::new("update containers set trace_seqs = trace_seqs || v.seqs from (");
            for (i, (id, seqs)) in chunk.iter().enumerate() {
                q.push(if i == 0 { "select " } else { " union all select " })
                    .push_bind(*id)
                    .push(" as id, ")
                    .push_bind(seqs.as_str())
                    .push(" as seqs");
            }
            q.push(") as v where containers.id = v.id");
            let updated = q.build().execute(&mut **tx).await?.rows_affected();
            anyhow::ensure!(
                updated == chunk.len() as u64,
                "trace steps for {} containers, of which {updated} have a row",
                chunk.len()
            );
        }
        for chunk in batch.container_steps.chunks(1000) {
            let mut q = QueryBuilder::new("insert into container_trace (seq, container, type, at, manifest, quantity_g) ");
            q.push_values(chunk, |mut b, s| {
                b.push_bind(i64_of(s.seq))
                    .push_bind(s.container.clone())
                    .push_bind(s.kind.clone())
                    .push_bind(s.at.clone())
                    .push_bind(s.manifest.map(|m| m.to_string()))
                    .push_bind(s.quantity_g);
            });
            q.build().execute(&mut **tx).await?;
        }
    });
    Ok(())
}

/// The columns of `container_trace` that [`Store::container_trace_text_between`] renders.
const TRACE_COLUMNS: [rows_text::Column; 6] = [
    rows_text::Column::Text("container"),
    rows_text::Column::Integer("seq"),
    rows_text::Column::Text("type"),
    rows_text::Column::Text("at"),
    rows_text::Column::Text("manifest"),
    rows_text::Column::Integer("quantity_g"),
];

/// Trace steps, in the order of (seq, container), rendered as
/// [`Store::container_trace_text_between`] renders the table's rows.
pub fn trace_text(steps: &[ContainerStep]) -> Option<String> {
    let mut text = rows_text::RowsText::with_capacity(steps.len() * 144);
    for s in steps {
        text.row()
            .text(Some(&s.container))
            .integer(Some(s.seq as i64))
            .text(Some(&s.kind))
            .text(Some(&s.at))
            .uuid(s.manifest)
            .integer(s.quantity_g);
    }
    text.finish()
}

/// The seqs a container's `trace_seqs` lists ("12,57,301,").
fn trace_seqs(text: &str) -> anyhow::Result<Vec<i64>> {
    text.split_terminator(',')
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| anyhow::anyhow!("trace_seqs {text:?} is not a list of seqs"))
        })
        .collect()
}

fn step_from_row<R: Row>(r: &R) -> anyhow::Result<ContainerStep>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let manifest: Option<String> = r.try_get("manifest")?;
    Ok(ContainerStep {
        container: r.try_get("container")?,
        seq: r.try_get::<i64, _>("seq")? as u64,
        kind: r.try_get("type")?,
        at: r.try_get("at")?,
        manifest: manifest.map(|m| Uuid::parse_str(&m)).transpose()?,
        quantity_g: r.try_get("quantity_g")?,
    })
}

impl Store {
    /// One container with its trace.
    pub async fn container(&self, id: &str) -> anyhow::Result<Option<ContainerView>> {
        with_pool!(self, pool => {
            let Some(row) = sqlx::query("select id, org, code, date, lot, quantity_g, status, trace_seqs from containers where id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            let seqs = trace_seqs(&row.try_get::<String, _>("trace_seqs")?)?;
            let trace = if seqs.is_empty() {
                Vec::new()
            } else {
                let mut q = QueryBuilder::new("select container, seq, type, at, manifest, quantity_g from container_trace where container = ");
                q.push_bind(id).push(" and seq in (");
                let mut sep = q.separated(", ");
                for s in &seqs {
                    sep.push_bind(*s);
                }
                q.push(") order by seq");
                let steps = q.build().fetch_all(pool).await?;
                steps.iter().map(step_from_row).collect::<anyhow::Result<Vec<_>>>()?
            };
            Ok(Some(ContainerView {
                container: row.try_get("id")?,
                org: row.try_get("org")?,
                code: row.try_get("code")?,
                lot: row.try_get::<i64, _>("lot")? as u64,
                date: row.try_get("date")?,
                quantity_g: row.try_get("quantity_g")?,
                status: row.try_get("status")?,
                trace,
            }))
        })
    }

    /// Whether `org` is a party (generator, carrier, receiver) of one of `manifests` (those of
    /// a container's trace, as [`Store::container`] read it).
    pub async fn manifests_party(&self, manifests: &[Uuid], org: &str) -> anyhow::Result<bool> {
        if manifests.is_empty() {
            return Ok(false);
        }
        with_pool!(self, pool => {
            let mut q = QueryBuilder::new("select count(*) from manifests where id in (");
            let mut sep = q.separated(", ");
            for m in manifests {
                sep.push_bind(m.to_string());
            }
            q.push(") and (generator = ")
                .push_bind(org)
                .push(" or carrier = ")
                .push_bind(org)
                .push(" or receiver = ")
                .push_bind(org)
                .push(")");
            let n: i64 = q.build_query_scalar().fetch_one(pool).await?;
            Ok(n > 0)
        })
    }

    /// The containers of the lots made by the entries `lots` (seqs), by (seq, code), each
    /// lot's in its order.
    pub async fn lot_containers(
        &self,
        lots: &[u64],
    ) -> anyhow::Result<Vec<((u64, String), LotContainer)>> {
        if lots.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, pool => {
            let mut q = QueryBuilder::new("select lot, code, id, quantity_g, status from containers where lot in (");
            let mut sep = q.separated(", ");
            for l in lots {
                sep.push_bind(i64_of(*l));
            }
            q.push(") order by lot, code, pos");
            let rows = q.build().fetch_all(pool).await?;
            rows.iter()
                .map(|r| -> anyhow::Result<((u64, String), LotContainer)> {
                    Ok((
                        (r.try_get::<i64, _>("lot")? as u64, r.try_get("code")?),
                        LotContainer {
                            id: r.try_get("id")?,
                            quantity_g: r.try_get("quantity_g")?,
                            status: r.try_get("status")?,
                        },
                    ))
                })
                .collect()
        })
    }

    /// The container trace rows of the entries with `from` ≤ seq < `to`, by (seq, container).
    pub async fn container_trace_between(
        &self,
        from: u64,
        to: u64,
    ) -> anyhow::Result<Vec<ContainerStep>> {
        with_pool!(self, pool => {
            let rows = sqlx::query("select container, seq, type, at, manifest, quantity_g from container_trace where seq >= $1 and seq < $2 order by seq, container")
                .bind(i64_of(from))
                .bind(i64_of(to))
                .fetch_all(pool)
                .await?;
            rows.iter().map(step_from_row).collect()
        })
    }

    /// The `container_trace` rows of entries `from..to` rendered as one text, as
    /// [`trace_text`] renders them (`None` for no rows).
    pub async fn container_trace_text_between(
        &self,
        from: u64,
        to: u64,
    ) -> anyhow::Result<Option<String>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "select {} from container_trace where seq >= $1 and seq < $2",
                rows_text::sql(&TRACE_COLUMNS, "seq, container")
            )
        });
        rows_text::between(self, SQL.as_str(), from, to).await
    }

    /// The first container (by id) whose `trace_seqs` does not list exactly the seqs of its
    /// trace rows, in order (for `verify --db`, which compares the rows themselves run by run).
    pub async fn container_trace_seqs_mismatch(&self) -> anyhow::Result<Option<String>> {
        const SQL: &str = "select c.id from containers c left join (select container, string_agg(cast(seq as text) || ',', '' order by seq) as seqs from container_trace group by container) t on t.container = c.id where c.trace_seqs <> coalesce(t.seqs, '') order by c.id limit 1";
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar(SQL).fetch_optional(pool).await?)
        })
    }

    /// The row count of `containers` (for `verify --db`).
    pub async fn container_count(&self) -> anyhow::Result<u64> {
        let n: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("select count(*) from containers").fetch_one(pool).await?
        });
        Ok(n as u64)
    }
}
