//! Query tables derived from the ledger: written from the domain state in the append's
//! transaction, read by the API, and compared with a replay by `verify --db`.

use std::collections::BTreeSet;

use serde::Serialize;
use sqlx::{QueryBuilder, Row};
use utoipa::ToSchema;

use super::{i64_of, with_pool, with_tx, Store, WriteTx};
use crate::domain::state::{State, Touched};

/// `GET /v1/orgs/{org}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrgView {
    pub org: String,
    pub name: String,
    pub region: String,
    pub roles: Vec<String>,
    pub registered_seq: u64,
    pub keys: Vec<OrgKeyView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrgKeyView {
    pub key: String,
    pub added_seq: u64,
    /// The seq of the revocation, or null while the key signs.
    pub revoked_seq: Option<u64>,
}

impl OrgView {
    /// The row the projection should hold for `org` according to `state`.
    pub fn from_state(state: &State, org: &str) -> Option<OrgView> {
        let o = state.org(org)?;
        Some(OrgView {
            org: o.org.clone(),
            name: o.name.clone(),
            region: o.region.clone(),
            roles: o.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            registered_seq: o.registered_seq,
            keys: o
                .keys
                .iter()
                .map(|k| {
                    let rec = &state.keys[k];
                    OrgKeyView {
                        key: hex::encode(k),
                        added_seq: rec.added_seq,
                        revoked_seq: rec.revoked_seq,
                    }
                })
                .collect(),
        })
    }
}

/// Rewrites the rows of every touched object from the state.
pub(super) async fn write(
    tx: &mut WriteTx,
    touched: &BTreeSet<Touched>,
    state: &State,
) -> anyhow::Result<()> {
    let orgs: Vec<OrgView> = touched
        .iter()
        .filter_map(|t| match t {
            Touched::Org(o) => OrgView::from_state(state, o),
        })
        .collect();
    let keys: Vec<&OrgKeyView> = orgs.iter().flat_map(|o| o.keys.iter()).collect();
    with_tx!(tx, tx => {
        for chunk in orgs.chunks(1000) {
            let mut q = QueryBuilder::new("insert into orgs (org, name, region, roles, registered_seq) ");
            q.push_values(chunk, |mut b, o| {
                b.push_bind(o.org.clone())
                    .push_bind(o.name.clone())
                    .push_bind(o.region.clone())
                    .push_bind(o.roles.join(","))
                    .push_bind(i64_of(o.registered_seq));
            });
            q.push(" on conflict (org) do update set name = excluded.name, region = excluded.region, roles = excluded.roles, registered_seq = excluded.registered_seq");
            q.build().execute(&mut **tx).await?;
        }
        // Keys carry their org, which is why they follow the orgs.
        let mut rows: Vec<(&str, &OrgKeyView)> = Vec::new();
        for o in &orgs {
            rows.extend(o.keys.iter().map(|k| (o.org.as_str(), k)));
        }
        debug_assert_eq!(rows.len(), keys.len());
        for chunk in rows.chunks(1000) {
            let mut q = QueryBuilder::new("insert into org_keys (key, org, added_seq, revoked_seq) ");
            q.push_values(chunk, |mut b, (org, k)| {
                b.push_bind(k.key.clone())
                    .push_bind(org.to_string())
                    .push_bind(i64_of(k.added_seq))
                    .push_bind(k.revoked_seq.map(i64_of));
            });
            q.push(" on conflict (key) do update set revoked_seq = excluded.revoked_seq");
            q.build().execute(&mut **tx).await?;
        }
    });
    Ok(())
}

impl Store {
    /// The registry entry of one organisation.
    pub async fn org(&self, org: &str) -> anyhow::Result<Option<OrgView>> {
        with_pool!(self, pool => {
            let Some(row) = sqlx::query("select org, name, region, roles, registered_seq from orgs where org = $1")
                .bind(org)
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            let roles: String = row.try_get("roles")?;
            let keys = sqlx::query("select key, added_seq, revoked_seq from org_keys where org = $1 order by added_seq, key")
                .bind(org)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|k| -> anyhow::Result<OrgKeyView> {
                    Ok(OrgKeyView {
                        key: k.try_get("key")?,
                        added_seq: k.try_get::<i64, _>("added_seq")? as u64,
                        revoked_seq: k.try_get::<Option<i64>, _>("revoked_seq")?.map(|s| s as u64),
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(Some(OrgView {
                org: row.try_get("org")?,
                name: row.try_get("name")?,
                region: row.try_get("region")?,
                roles: roles.split(',').filter(|r| !r.is_empty()).map(str::to_owned).collect(),
                registered_seq: row.try_get::<i64, _>("registered_seq")? as u64,
                keys,
            }))
        })
    }

    /// Every organisation in the projection, for comparison with a replay.
    pub async fn all_org_ids(&self) -> anyhow::Result<Vec<String>> {
        with_pool!(self, pool => {
            let rows = sqlx::query("select org from orgs order by org").fetch_all(pool).await?;
            rows.iter().map(|r| Ok(r.try_get::<String, _>("org")?)).collect()
        })
    }
}
