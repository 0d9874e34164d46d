//! Query tables of facilities (设施), their yearly treated quantities, and on-site treatments:
//! written from the domain state in the append's transaction, read by the API (facilities are
//! public information), and compared with a replay by `verify --db`.

use serde::Serialize;
use sqlx::{QueryBuilder, Row};
use utoipa::ToSchema;

use super::{i64_of, with_pool, with_tx, Batch, Store, WriteTx};
use crate::domain::facility::{Facility, FacilityKind};
use crate::domain::state::{State, Touched};
use crate::domain::treatment::Treatment;
use crate::protocol::time;

/// A facility as `GET /v1/facilities` shows it (spec §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FacilityView {
    pub org: String,
    pub facility: String,
    pub kind: String,
    pub storage_type: Option<String>,
    pub capacity_g: i64,
    /// Null for a storage facility.
    pub methods: Option<Vec<String>>,
    pub name: String,
    pub address: Option<String>,
    pub status: String,
    /// Storage: what remains of its lots now; else null.
    pub stock_g: Option<i64>,
    /// Utilize, dispose: treated in the current CST year; else null.
    pub treated_g: Option<i64>,
    #[serde(skip)]
    pub registered_seq: u64,
    #[serde(skip)]
    pub updated_seq: u64,
}

impl FacilityView {
    /// The row a facility should have, with `treated_g` of CST year `year`.
    pub fn of(f: &Facility, year: i32) -> FacilityView {
        let storage = f.kind == FacilityKind::Storage;
        FacilityView {
            org: f.org.clone(),
            facility: f.facility.clone(),
            kind: f.kind.as_str().to_owned(),
            storage_type: f.storage_type.clone(),
            capacity_g: f.capacity_g,
            methods: (!storage).then(|| f.methods.clone()),
            name: f.name.clone(),
            address: f.address.clone(),
            status: f.status.as_str().to_owned(),
            stock_g: storage.then_some(f.stock_g),
            treated_g: (!storage).then(|| f.treated_in(year)),
            registered_seq: f.registered_seq,
            updated_seq: f.updated_seq,
        }
    }
}

/// One on-site treatment row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreatmentView {
    pub seq: u64,
    pub generator: String,
    pub facility: String,
    pub code: String,
    pub quantity_g: i64,
    pub method: String,
    pub date: String,
    pub lots: Vec<(u64, i64)>,
}

impl TreatmentView {
    pub fn of(t: &Treatment) -> TreatmentView {
        TreatmentView {
            seq: t.seq,
            generator: t.generator.clone(),
            facility: t.facility.clone(),
            code: t.code.clone(),
            quantity_g: t.quantity_g,
            method: t.method.clone(),
            date: time::format_date(t.date),
            // The lots of a treatment are lots of `waste.declared`: one per seq.
            lots: t.lots.iter().map(|(k, q)| (k.seq, *q)).collect(),
        }
    }
}

/// Writes the facilities and treatments a batch touched.
pub(super) async fn write(tx: &mut WriteTx, batch: &Batch, state: &State) -> anyhow::Result<()> {
    let mut facilities: Vec<&Facility> = Vec::new();
    let mut treatments: Vec<&Treatment> = Vec::new();
    for t in &batch.touched {
        match t {
            Touched::Facility(o, f) => facilities.extend(state.facility(o, f)),
            Touched::Treatment(seq) => treatments.extend(state.treatments.get(seq)),
            _ => {}
        }
    }
    let years: Vec<(&Facility, i32, i64)> = facilities
        .iter()
        .flat_map(|f| f.treated.iter().map(move |(y, g)| (*f, *y, *g)))
        .collect();
    with_tx!(tx, tx => {
        for chunk in facilities.chunks(1000) {
            let mut q = QueryBuilder::new("insert into facilities (org, facility, kind, storage_type, capacity_g, methods, name, address, status, registered_seq, updated_seq, stock_g) ");
            q.push_values(chunk, |mut b, f| {
                let storage = f.kind == FacilityKind::Storage;
                b.push_bind(f.org.clone())
                    .push_bind(f.facility.clone())
                    .push_bind(f.kind.as_str())
                    .push_bind(f.storage_type.clone())
                    .push_bind(f.capacity_g)
                    .push_bind(serde_json::to_string(&f.methods).expect("methods serialise"))
                    .push_bind(f.name.clone())
                    .push_bind(f.address.clone())
                    .push_bind(f.status.as_str())
                    .push_bind(i64_of(f.registered_seq))
                    .push_bind(i64_of(f.updated_seq))
                    .push_bind(storage.then_some(f.stock_g));
            });
            q.push(" on conflict (org, facility) do update set capacity_g = excluded.capacity_g, methods = excluded.methods, status = excluded.status, updated_seq = excluded.updated_seq, stock_g = excluded.stock_g");
            q.build().execute(&mut **tx).await?;
        }
        for chunk in years.chunks(1000) {
            let mut q = QueryBuilder::new("insert into facility_years (org, facility, year, treated_g) ");
            q.push_values(chunk, |mut b, (f, year, g)| {
                b.push_bind(f.org.clone())
                    .push_bind(f.facility.clone())
                    .push_bind(i64::from(*year))
                    .push_bind(*g);
            });
            q.push(" on conflict (org, facility, year) do update set treated_g = excluded.treated_g");
            q.build().execute(&mut **tx).await?;
        }
        for chunk in treatments.chunks(1000) {
            let mut q = QueryBuilder::new("insert into treatments (seq, generator, facility, code, quantity_g, method, date, lots) ");
            q.push_values(chunk, |mut b, t| {
                b.push_bind(i64_of(t.seq))
                    .push_bind(t.generator.clone())
                    .push_bind(t.facility.clone())
                    .push_bind(t.code.clone())
                    .push_bind(t.quantity_g)
                    .push_bind(t.method.clone())
                    .push_bind(time::format_date(t.date))
                    .push_bind(serde_json::to_string(&TreatmentView::of(t).lots).expect("lots serialise"));
            });
            // A treatment never changes once recorded.
            q.push(" on conflict (seq) do nothing");
            q.build().execute(&mut **tx).await?;
        }
    });
    Ok(())
}

const FACILITY_COLUMNS: &str = "f.org, f.facility, f.kind, f.storage_type, f.capacity_g, f.methods, f.name, f.address, f.status, f.registered_seq, f.updated_seq, f.stock_g, y.treated_g";

fn facility_from_row<R: Row>(row: &R) -> anyhow::Result<FacilityView>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = row.try_get("kind")?;
    let storage = kind == "storage";
    let methods: String = row.try_get("methods")?;
    Ok(FacilityView {
        org: row.try_get("org")?,
        facility: row.try_get("facility")?,
        storage_type: row.try_get("storage_type")?,
        capacity_g: row.try_get("capacity_g")?,
        methods: if storage {
            None
        } else {
            Some(serde_json::from_str(&methods)?)
        },
        name: row.try_get("name")?,
        address: row.try_get("address")?,
        status: row.try_get("status")?,
        stock_g: row.try_get("stock_g")?,
        treated_g: if storage {
            None
        } else {
            Some(row.try_get::<Option<i64>, _>("treated_g")?.unwrap_or(0))
        },
        registered_seq: row.try_get::<i64, _>("registered_seq")? as u64,
        updated_seq: row.try_get::<i64, _>("updated_seq")? as u64,
        kind,
    })
}

impl Store {
    /// One facility, with its treated quantity of CST year `year`.
    pub async fn facility(
        &self,
        org: &str,
        facility: &str,
        year: i32,
    ) -> anyhow::Result<Option<FacilityView>> {
        with_pool!(self, pool => {
            let sql = format!("select {FACILITY_COLUMNS} from facilities f left join facility_years y on y.org = f.org and y.facility = f.facility and y.year = $3 where f.org = $1 and f.facility = $2");
            let row = sqlx::query(&sql)
                .bind(org)
                .bind(facility)
                .bind(i64::from(year))
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(facility_from_row).transpose()
        })
    }

    /// The facilities of one org, or of every org, by (org, facility).
    pub async fn facilities(
        &self,
        org: Option<&str>,
        year: i32,
    ) -> anyhow::Result<Vec<FacilityView>> {
        with_pool!(self, pool => {
            let sql = format!(
                "select {FACILITY_COLUMNS} from facilities f left join facility_years y on y.org = f.org and y.facility = f.facility and y.year = $1 {} order by f.org, f.facility",
                if org.is_some() { "where f.org = $2" } else { "" }
            );
            let mut q = sqlx::query(&sql).bind(i64::from(year));
            if let Some(o) = org {
                q = q.bind(o);
            }
            let rows = q.fetch_all(pool).await?;
            rows.iter().map(facility_from_row).collect()
        })
    }

    /// Treatment rows after the seq `after`, by seq, at most `limit` (for `verify --db`).
    pub async fn treatments(
        &self,
        after: Option<u64>,
        limit: u64,
    ) -> anyhow::Result<Vec<TreatmentView>> {
        with_pool!(self, pool => {
            let rows = sqlx::query("select seq, generator, facility, code, quantity_g, method, date, lots from treatments where seq > $1 order by seq limit $2")
                .bind(after.map(i64_of).unwrap_or(-1))
                .bind(i64_of(limit))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| -> anyhow::Result<TreatmentView> {
                    let lots: String = r.try_get("lots")?;
                    Ok(TreatmentView {
                        seq: r.try_get::<i64, _>("seq")? as u64,
                        generator: r.try_get("generator")?,
                        facility: r.try_get("facility")?,
                        code: r.try_get("code")?,
                        quantity_g: r.try_get("quantity_g")?,
                        method: r.try_get("method")?,
                        date: r.try_get("date")?,
                        lots: serde_json::from_str(&lots)?,
                    })
                })
                .collect()
        })
    }

    /// Row counts of `facilities` and `treatments`.
    pub async fn facility_counts(&self) -> anyhow::Result<(u64, u64)> {
        let f: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("select count(*) from facilities").fetch_one(pool).await?
        });
        let t: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("select count(*) from treatments").fetch_one(pool).await?
        });
        Ok((f as u64, t as u64))
    }
}
