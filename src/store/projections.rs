//! Query tables derived from the ledger: written from the domain state in the append's
//! transaction, read by the API, and compared with a replay by `verify --db`.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Row};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{i64_of, rows_text, with_pool, with_tx, Batch, Store, WriteTx};
use crate::domain::licence::{Licence, LicenceStatus, Scope};
use crate::domain::manifest::Manifest;
use crate::domain::state::{Role, State, Touched};
use crate::domain::stock::{Lot, LotKey};
use crate::protocol::time;

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

/// `GET /v1/licenses/{license}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LicenceView {
    pub license: String,
    pub holder: String,
    pub capacity_g: i64,
    pub valid_from: String,
    pub valid_until: String,
    #[schema(value_type = Vec<Object>)]
    pub scopes: Vec<Scope>,
    pub status: String,
    pub issued_seq: u64,
    pub updated_seq: u64,
}

impl LicenceView {
    /// The domain's licence this row shows, for the domain's own rules (coverage).
    pub fn to_licence(&self) -> anyhow::Result<Licence> {
        let bad = |what: &str| anyhow::anyhow!("stored licence {}: bad {what}", self.license);
        Ok(Licence {
            license: self.license.clone(),
            holder: self.holder.clone(),
            capacity_g: self.capacity_g,
            valid_from: time::parse_date(&self.valid_from).map_err(|_| bad("valid_from"))?,
            valid_until: time::parse_date(&self.valid_until).map_err(|_| bad("valid_until"))?,
            scopes: self.scopes.clone(),
            status: LicenceStatus::parse(&self.status).ok_or_else(|| bad("status"))?,
            issued_seq: self.issued_seq,
            updated_seq: self.updated_seq,
        })
    }

    pub fn of(l: &Licence) -> LicenceView {
        LicenceView {
            license: l.license.clone(),
            holder: l.holder.clone(),
            capacity_g: l.capacity_g,
            valid_from: time::format_date(l.valid_from),
            valid_until: time::format_date(l.valid_until),
            scopes: l.scopes.clone(),
            status: l.status.as_str().to_owned(),
            issued_seq: l.issued_seq,
            updated_seq: l.updated_seq,
        }
    }
}

/// Where a page of lots ends: its last lot's seq and code. As text (the `next` of
/// `GET /v1/stock`), `<seq>:<code>`; a bare `<seq>` continues after every lot of that seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotCursor {
    pub seq: u64,
    pub code: String,
}

impl LotCursor {
    pub fn of(l: &LotView) -> LotCursor {
        LotCursor {
            seq: l.seq,
            code: l.code.clone(),
        }
    }

    pub fn parse(text: &str) -> Option<LotCursor> {
        let (seq, code) = match text.split_once(':') {
            Some((s, c)) if !c.is_empty() && c.len() <= 16 => (s, c.to_owned()),
            Some(_) => return None,
            // Above every code (codes are digits and `-`).
            None => (text, "~".to_owned()),
        };
        let seq: u64 = seq.parse().ok()?;
        (seq <= i64::MAX as u64).then_some(LotCursor { seq, code })
    }
}

impl std::fmt::Display for LotCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.code)
    }
}

/// One stock lot, as `GET /v1/stock` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LotView {
    pub seq: u64,
    pub code: String,
    pub date: String,
    pub quantity_g: i64,
    pub remaining_g: i64,
    pub reserved_g: i64,
    /// The storage facility it is kept in, if named.
    pub facility: Option<String>,
    /// `{"manifest","number"}` for a lot stored at a receiver; null for a lot of
    /// `waste.declared` (the only kind this version makes).
    #[schema(value_type = Option<Object>)]
    pub origin: Option<serde_json::Value>,
    /// The lot's containers; null for a container-less lot.
    pub containers: Option<Vec<super::LotContainer>>,
}

impl LotView {
    pub fn of(l: &Lot) -> LotView {
        LotView {
            seq: l.seq,
            code: l.code.clone(),
            date: time::format_date(l.date),
            quantity_g: l.quantity_g,
            remaining_g: l.remaining_g,
            reserved_g: l.reserved_g,
            facility: l.facility.clone(),
            origin: None,
            containers: None,
        }
    }

    /// The row a lot should have, its containers included, from the state.
    pub fn of_state(state: &State, l: &Lot) -> LotView {
        let mut v = LotView::of(l);
        v.origin = l.origin.map(|o| {
            serde_json::json!({
                "manifest": o.manifest,
                "number": state.manifests.get(&o.manifest).map(|m| m.number.clone()),
            })
        });
        v.containers = l.containers.as_ref().map(|ids| {
            ids.iter()
                .filter_map(|id| {
                    let c = state.containers.get(id)?;
                    // A container shipped on and stored elsewhere is no longer this lot's.
                    (c.lot == l.key()).then(|| super::LotContainer {
                        id: id.to_string(),
                        quantity_g: c.quantity_g,
                        status: c.status.as_str().to_owned(),
                    })
                })
                .collect()
        });
        v
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineView {
    pub code: String,
    pub quantity_g: i64,
    pub received_g: Option<i64>,
    pub disposed_g: Option<i64>,
    pub method: Option<String>,
    /// The containers the line names, null when none (absent from rows of version 1).
    #[serde(default)]
    pub containers: Option<Vec<LineContainerView>>,
    /// What a storing put into the receiver's stock.
    #[serde(default)]
    pub stored_g: Option<i64>,
    /// The seq of the lot the line was stored into.
    #[serde(default)]
    pub lot: Option<u64>,
    /// The lots the line reserved from, in part order (absent from rows written before
    /// storings existed: null).
    #[serde(default)]
    pub origin: Option<Vec<LineOriginView>>,
    /// The manifests neither cancelled nor rejected that reserved from the line's lot, in
    /// opening order; null while the line has no lot.
    #[serde(default)]
    pub onward: Option<Vec<OnwardView>>,
}

/// A lot a manifest line reserved from, and the manifest that stored it (null for a lot of
/// `waste.declared`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineOriginView {
    pub lot: u64,
    pub quantity_g: i64,
    pub manifest: Option<Uuid>,
    pub number: Option<String>,
}

/// A manifest that reserved from a line's lot, and how much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OnwardView {
    pub manifest: Uuid,
    pub number: String,
    pub quantity_g: i64,
}

/// A container of a manifest line: what it held, and its weight at receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineContainerView {
    pub id: String,
    pub quantity_g: i64,
    pub received_g: Option<i64>,
}

/// One event in a manifest's history; `seq` and `hash` name its entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HistoryItem {
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub at: String,
    pub recorded_at: String,
    pub hash: String,
}

impl HistoryItem {
    /// The history columns (`seq, type, at, recorded_at, hash`) of a `manifest_history` or
    /// `ticket_history` row.
    pub(super) fn from_row<R: Row>(row: &R) -> anyhow::Result<HistoryItem>
    where
        for<'a> &'a str: sqlx::ColumnIndex<R>,
        i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(HistoryItem {
            seq: row.try_get::<i64, _>("seq")? as u64,
            kind: row.try_get("type")?,
            at: row.try_get("at")?,
            recorded_at: row.try_get("recorded_at")?,
            hash: row.try_get("hash")?,
        })
    }
}

/// The columns of `manifest_history` that [`Store::history_text_between`] renders.
const HISTORY_COLUMNS: [rows_text::Column; 6] = [
    rows_text::Column::Text("manifest"),
    rows_text::Column::Integer("seq"),
    rows_text::Column::Text("type"),
    rows_text::Column::Text("at"),
    rows_text::Column::Text("recorded_at"),
    rows_text::Column::Text("hash"),
];

/// Manifest history rows, in the order of their seq, rendered as
/// [`Store::history_text_between`] renders the table's rows.
pub fn history_text(rows: &[(Option<Uuid>, HistoryItem)]) -> Option<String> {
    let mut text = rows_text::RowsText::with_capacity(rows.len() * 200);
    for (manifest, h) in rows {
        text.row()
            .uuid(*manifest)
            .integer(Some(h.seq as i64))
            .text(Some(&h.kind))
            .text(Some(&h.at))
            .text(Some(&h.recorded_at))
            .text(Some(&h.hash));
    }
    text.finish()
}

/// `insert into <table> (<owner>, seq, type, at, recorded_at, hash) values …` for `rows`: the
/// history of manifests (`manifest_history`, `manifest`) or tickets (`ticket_history`,
/// `ticket`).
pub(super) fn history_insert<'q, DB: sqlx::Database>(
    table: &str,
    owner: &str,
    rows: &'q [(Uuid, HistoryItem)],
) -> QueryBuilder<'q, DB>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut q = QueryBuilder::new(format!(
        "insert into {table} ({owner}, seq, type, at, recorded_at, hash) "
    ));
    q.push_values(rows, |mut b, (id, h)| {
        b.push_bind(id.to_string())
            .push_bind(i64_of(h.seq))
            .push_bind(h.kind.clone())
            .push_bind(h.at.clone())
            .push_bind(h.recorded_at.clone())
            .push_bind(h.hash.clone());
    });
    q
}

/// `GET /v1/manifests/{id}`; lists leave `history` out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ManifestView {
    pub manifest: Uuid,
    pub number: String,
    pub status: String,
    pub generator: String,
    pub carrier: String,
    pub receiver: String,
    pub vehicle: Option<String>,
    pub lines: Vec<LineView>,
    #[serde(skip)]
    pub opened_seq: u64,
    /// The CST date of the opening, `YYYY-MM-DD` (what `from` and `to` select on).
    #[serde(skip)]
    pub opened_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryItem>>,
}

impl ManifestView {
    /// The row the projection should hold for a manifest (without its history).
    pub fn of(state: &State, m: &Manifest) -> ManifestView {
        let number = |id: &Uuid| state.manifests.get(id).map(|x| x.number.clone());
        ManifestView {
            manifest: m.id,
            number: m.number.clone(),
            status: m.status.as_str().to_owned(),
            generator: m.generator.clone(),
            carrier: m.carrier.clone(),
            receiver: m.receiver.clone(),
            vehicle: m.vehicle.clone(),
            lines: m
                .lines
                .iter()
                .map(|l| LineView {
                    code: l.code.clone(),
                    quantity_g: l.quantity_g,
                    received_g: l.received_g,
                    disposed_g: l.disposed_g,
                    method: l.method.clone(),
                    containers: l.containers.as_ref().map(|cs| {
                        cs.iter()
                            .map(|c| LineContainerView {
                                id: c.id.to_string(),
                                quantity_g: c.quantity_g,
                                received_g: c.received_g,
                            })
                            .collect()
                    }),
                    stored_g: l.stored_g,
                    lot: l.lot.map(|k| k.seq),
                    origin: Some(
                        l.lots
                            .iter()
                            .map(|(key, q)| {
                                let from = state.lots.get(key).and_then(|lot| lot.origin);
                                LineOriginView {
                                    lot: key.seq,
                                    quantity_g: *q,
                                    manifest: from.map(|o| o.manifest),
                                    number: from.and_then(|o| number(&o.manifest)),
                                }
                            })
                            .collect(),
                    ),
                    onward: l.lot.and_then(|key| state.lots.get(&key)).map(|lot| {
                        lot.onward
                            .iter()
                            .map(|(id, q)| OnwardView {
                                manifest: *id,
                                number: number(id).unwrap_or_default(),
                                quantity_g: *q,
                            })
                            .collect()
                    }),
                })
                .collect(),
            opened_seq: m.opened_seq,
            opened_date: time::format_date(time::cst_date(m.opened_at)),
            history: None,
        }
    }
}

/// Filters of `GET /v1/manifests`.
#[derive(Debug, Clone, Default)]
pub struct ManifestFilter {
    pub status: Option<String>,
    pub generator: Option<String>,
    pub carrier: Option<String>,
    pub receiver: Option<String>,
    /// Only manifests opened after this seq.
    pub after: Option<u64>,
    /// Only manifests opened on this CST date (`YYYY-MM-DD`) or later.
    pub from: Option<String>,
    /// Only manifests opened before this CST date.
    pub to: Option<String>,
    pub limit: u64,
    /// Only manifests where this org is the generator, the carrier or the receiver.
    pub party: Option<String>,
}

impl ManifestFilter {
    /// The filters whose union is this one's selection, each with every party column it fixes
    /// (so each reads one index range): itself without `party`; with `party`, one per column the
    /// party may fill, none when another filter already names a different org there.
    fn branches(&self) -> Vec<ManifestFilter> {
        let Some(party) = &self.party else {
            return vec![self.clone()];
        };
        let mut out = Vec::new();
        for column in 0..3 {
            let mut f = ManifestFilter {
                party: None,
                ..self.clone()
            };
            let slot = match column {
                0 => &mut f.generator,
                1 => &mut f.carrier,
                _ => &mut f.receiver,
            };
            if slot.as_ref().is_some_and(|other| other != party) {
                continue;
            }
            *slot = Some(party.clone());
            out.push(f);
        }
        out
    }
}

/// Opening seqs that bound a read of manifests (inclusive; `None`: unbounded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqWindow {
    pub first: Option<i64>,
    pub last: Option<i64>,
}

/// Filters of `GET /v1/orgs`.
#[derive(Debug, Clone, Default)]
pub struct OrgFilter {
    pub role: Option<Role>,
    /// A prefix of 1 to 6 digits of the region.
    pub region: Option<String>,
    /// Only orgs registered after this seq.
    pub after: Option<u64>,
    pub limit: u64,
}

/// Who holds a key, as a read token's check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHolder {
    pub org: String,
    pub revoked: bool,
    /// The org has the role `regulator`.
    pub regulator: bool,
}

/// Rewrites the rows of every touched object from the state, and appends manifest history.
pub(super) async fn write(tx: &mut WriteTx, batch: &Batch, state: &State) -> anyhow::Result<()> {
    let mut orgs = Vec::new();
    let mut licences = Vec::new();
    let mut lots = Vec::new();
    let mut manifests = Vec::new();
    let mut tickets = Vec::new();
    for t in &batch.touched {
        match t {
            Touched::Org(o) => orgs.extend(OrgView::from_state(state, o)),
            Touched::Licence(n) => licences.extend(state.licences.get(n).map(LicenceView::of)),
            Touched::Lot(seq) => {
                lots.extend(state.lots.get(seq).map(|l| LotView::of_state(state, l)))
            }
            Touched::Manifest(id) => manifests.extend(state.manifests.get(id)),
            Touched::Ticket(id) => tickets.push(*id),
            Touched::Facility(..) | Touched::Treatment(_) | Touched::Container(_) => {}
        }
    }
    let history: Vec<(Uuid, HistoryItem)> = batch
        .entries
        .iter()
        .filter_map(|e| {
            e.manifest.map(|m| {
                (
                    m,
                    HistoryItem {
                        seq: e.entry.seq,
                        kind: e.header.kind.clone(),
                        at: e.header.at_text.clone(),
                        recorded_at: e.entry.recorded_at.clone(),
                        hash: hex::encode(e.hash),
                    },
                )
            })
        })
        .collect();
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
        for chunk in licences.chunks(1000) {
            let mut q = QueryBuilder::new("insert into licences (license, holder, capacity_g, valid_from, valid_until, status, scopes, issued_seq, updated_seq) ");
            q.push_values(chunk, |mut b, l| {
                b.push_bind(l.license.clone())
                    .push_bind(l.holder.clone())
                    .push_bind(l.capacity_g)
                    .push_bind(l.valid_from.clone())
                    .push_bind(l.valid_until.clone())
                    .push_bind(l.status.clone())
                    .push_bind(serde_json::to_string(&l.scopes).expect("scopes serialise"))
                    .push_bind(i64_of(l.issued_seq))
                    .push_bind(i64_of(l.updated_seq));
            });
            q.push(" on conflict (license) do update set capacity_g = excluded.capacity_g, valid_until = excluded.valid_until, status = excluded.status, scopes = excluded.scopes, updated_seq = excluded.updated_seq");
            q.build().execute(&mut **tx).await?;
        }
        for chunk in lots.chunks(1000) {
            let mut q = QueryBuilder::new("insert into lots (seq, generator, code, date, quantity_g, remaining_g, reserved_g, facility, origin) ");
            q.push_values(chunk, |mut b, l| {
                let generator = state.lots.get(&LotKey::new(l.seq, &l.code)).map(|x| x.generator.clone()).unwrap_or_default();
                b.push_bind(i64_of(l.seq))
                    .push_bind(generator)
                    .push_bind(l.code.clone())
                    .push_bind(l.date.clone())
                    .push_bind(l.quantity_g)
                    .push_bind(l.remaining_g)
                    .push_bind(l.reserved_g)
                    .push_bind(l.facility.clone())
                    .push_bind(l.origin.as_ref().and_then(|o| o["manifest"].as_str()).map(str::to_owned));
            });
            q.push(" on conflict (seq, code) do update set remaining_g = excluded.remaining_g, reserved_g = excluded.reserved_g");
            q.build().execute(&mut **tx).await?;
        }
        for chunk in manifests.chunks(1000) {
            let mut q = QueryBuilder::new("insert into manifests (id, number, status, generator, carrier, receiver, vehicle, opened_seq, lines, opened_date) ");
            q.push_values(chunk, |mut b, m| {
                let v = ManifestView::of(state, m);
                b.push_bind(m.id.to_string())
                    .push_bind(v.number)
                    .push_bind(v.status)
                    .push_bind(v.generator)
                    .push_bind(v.carrier)
                    .push_bind(v.receiver)
                    .push_bind(v.vehicle)
                    .push_bind(i64_of(v.opened_seq))
                    .push_bind(serde_json::to_string(&v.lines).expect("lines serialise"))
                    .push_bind(v.opened_date);
            });
            q.push(" on conflict (id) do update set status = excluded.status, vehicle = excluded.vehicle, lines = excluded.lines");
            q.build().execute(&mut **tx).await?;
        }
        for chunk in history.chunks(1000) {
            history_insert("manifest_history", "manifest", chunk)
                .build()
                .execute(&mut **tx)
                .await?;
        }
    });
    super::tickets::write(tx, batch, state, &tickets).await?;
    super::facilities::write(tx, batch, state).await?;
    super::containers::write(tx, batch, state).await?;
    Ok(())
}

/// Reads a manifest row.
fn manifest_from_row<R: Row>(row: &R) -> anyhow::Result<ManifestView>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let lines: String = row.try_get("lines")?;
    let id: String = row.try_get("id")?;
    Ok(ManifestView {
        manifest: Uuid::parse_str(&id)?,
        number: row.try_get("number")?,
        status: row.try_get("status")?,
        generator: row.try_get("generator")?,
        carrier: row.try_get("carrier")?,
        receiver: row.try_get("receiver")?,
        vehicle: row.try_get("vehicle")?,
        lines: serde_json::from_str(&lines)?,
        opened_seq: row.try_get::<i64, _>("opened_seq")? as u64,
        opened_date: row.try_get("opened_date")?,
        history: None,
    })
}

fn licence_from_row<R: Row>(row: &R) -> anyhow::Result<LicenceView>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let scopes: String = row.try_get("scopes")?;
    Ok(LicenceView {
        license: row.try_get("license")?,
        holder: row.try_get("holder")?,
        capacity_g: row.try_get("capacity_g")?,
        valid_from: row.try_get("valid_from")?,
        valid_until: row.try_get("valid_until")?,
        scopes: serde_json::from_str(&scopes)?,
        status: row.try_get("status")?,
        issued_seq: row.try_get::<i64, _>("issued_seq")? as u64,
        updated_seq: row.try_get::<i64, _>("updated_seq")? as u64,
    })
}

/// `select … from manifests where … order by opened_seq limit …` for one filter (its `party`
/// unused: see [`ManifestFilter::branches`]), within the seqs `window` of its dates.
fn push_manifest_select<'q, DB: sqlx::Database>(
    q: &mut QueryBuilder<'q, DB>,
    f: &ManifestFilter,
    window: SeqWindow,
) where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    // One lower bound, not two: SQLite then keeps to the index whose prefix the filters fix.
    let after = f.after.map(i64_of).unwrap_or(-1);
    q.push(format!(
        "select {MANIFEST_COLUMNS} from manifests where opened_seq > "
    ));
    q.push_bind(window.first.map_or(after, |first| after.max(first - 1)));
    if let Some(last) = window.last {
        q.push(" and opened_seq <= ");
        q.push_bind(last);
    }
    if let Some(from) = &f.from {
        q.push(" and opened_date >= ");
        q.push_bind(from.clone());
    }
    if let Some(to) = &f.to {
        q.push(" and opened_date < ");
        q.push_bind(to.clone());
    }
    for (column, value) in [
        ("status", &f.status),
        ("generator", &f.generator),
        ("carrier", &f.carrier),
        ("receiver", &f.receiver),
    ] {
        if let Some(v) = value {
            q.push(format!(" and {column} = "));
            q.push_bind(v.clone());
        }
    }
    q.push(" order by opened_seq limit ");
    q.push_bind(i64_of(f.limit));
}

const MANIFEST_COLUMNS: &str =
    "id, number, status, generator, carrier, receiver, vehicle, opened_seq, lines, opened_date";
const LICENCE_COLUMNS: &str =
    "license, holder, capacity_g, valid_from, valid_until, status, scopes, issued_seq, updated_seq";

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

    /// A manifest by id or by number, with its history.
    pub async fn manifest(&self, id_or_number: &str) -> anyhow::Result<Option<ManifestView>> {
        let by_id = Uuid::parse_str(id_or_number).is_ok();
        let sql = format!(
            "select {MANIFEST_COLUMNS} from manifests where {} = $1",
            if by_id { "id" } else { "number" }
        );
        let key = if by_id {
            Uuid::parse_str(id_or_number)?.to_string()
        } else {
            id_or_number.to_owned()
        };
        with_pool!(self, pool => {
            let Some(row) = sqlx::query(&sql).bind(key).fetch_optional(pool).await? else {
                return Ok(None);
            };
            let mut m = manifest_from_row(&row)?;
            let history = sqlx::query("select seq, type, at, recorded_at, hash from manifest_history where manifest = $1 order by seq")
                .bind(m.manifest.to_string())
                .fetch_all(pool)
                .await?
                .iter()
                .map(HistoryItem::from_row)
                .collect::<anyhow::Result<Vec<_>>>()?;
            m.history = Some(history);
            Ok(Some(m))
        })
    }

    /// A page of manifests in opening order. With a `party`, the page is the union of one
    /// ordered, limited read per party column, merged by the database: each reads at most a page
    /// of its index, however many manifests the party has. Dates narrow every read to the seqs
    /// of the manifests opened on those dates ([`Store::opened_window`]).
    pub async fn manifests(&self, f: &ManifestFilter) -> anyhow::Result<Vec<ManifestView>> {
        let branches = f.branches();
        if branches.is_empty() {
            return Ok(Vec::new());
        }
        let window = if f.from.is_some() || f.to.is_some() {
            match self
                .opened_window(f.from.as_deref(), f.to.as_deref())
                .await?
            {
                Some(w) => w,
                None => return Ok(Vec::new()),
            }
        } else {
            SeqWindow::default()
        };
        with_pool!(self, pool => {
            let mut q = QueryBuilder::new("");
            if let [only] = branches.as_slice() {
                push_manifest_select(&mut q, only, window);
            } else {
                for (i, b) in branches.iter().enumerate() {
                    if i > 0 {
                        q.push(" union ");
                    }
                    q.push(format!("select {MANIFEST_COLUMNS} from ("));
                    push_manifest_select(&mut q, b, window);
                    q.push(format!(") as b{i}"));
                }
                q.push(" order by opened_seq limit ");
                q.push_bind(i64_of(f.limit));
            }
            q.build().fetch_all(pool).await?.iter().map(manifest_from_row).collect()
        })
    }

    /// The first and last opening seq of the manifests opened on CST dates in `[from, to)`, or
    /// `None` when there are none.
    ///
    /// A manifest's date is that of its `at`, which may lie up to `max_backdate` before its
    /// recording, so dates follow seqs only roughly and a range of dates is not a range of
    /// rows. This walks the distinct dates of the range in `manifests_opened_date` (a few index
    /// probes per day) and takes each day's first and last seq; the page is then read in seq
    /// order within those bounds, so it costs a page of the usual index plus whatever was
    /// backdated across the range's ends, whatever the size of the ledger.
    pub async fn opened_window(
        &self,
        from: Option<&str>,
        to: Option<&str>,
    ) -> anyhow::Result<Option<SeqWindow>> {
        fn push_range<'q, DB: sqlx::Database>(
            q: &mut QueryBuilder<'q, DB>,
            from: Option<&str>,
            to: Option<&str>,
            above: Option<&str>,
        ) where
            String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        {
            q.push("select opened_date from manifests where opened_date ");
            match above {
                Some(column) => {
                    q.push(format!("> {column}"));
                }
                None => {
                    q.push(">= ");
                    q.push_bind(from.unwrap_or_default().to_owned());
                }
            }
            if let Some(to) = to {
                q.push(" and opened_date < ");
                q.push_bind(to.to_owned());
            }
            q.push(" order by opened_date limit 1");
        }
        with_pool!(self, pool => {
            let mut q = QueryBuilder::new("with recursive days(d) as (select (");
            push_range(&mut q, from, to, None);
            q.push(") union all select (");
            push_range(&mut q, from, to, Some("days.d"));
            q.push(
                ") from days where days.d is not null) \
                 select min(first_seq) as first_seq, max(last_seq) as last_seq from (select \
                 (select opened_seq from manifests where opened_date = days.d order by opened_seq limit 1) as first_seq, \
                 (select opened_seq from manifests where opened_date = days.d order by opened_seq desc limit 1) as last_seq \
                 from days where days.d is not null) as w",
            );
            let row = q.build().fetch_one(pool).await?;
            let first: Option<i64> = row.try_get("first_seq")?;
            let last: Option<i64> = row.try_get("last_seq")?;
            Ok(first.zip(last).map(|(first, last)| SeqWindow {
                first: Some(first),
                last: Some(last),
            }))
        })
    }

    /// A page of the registry in registration order (see [`OrgFilter`]), each org with its
    /// keys.
    pub async fn orgs(&self, f: &OrgFilter) -> anyhow::Result<Vec<OrgView>> {
        with_pool!(self, pool => {
            let mut q = QueryBuilder::new("select org, name, region, roles, registered_seq from orgs where registered_seq > ");
            q.push_bind(f.after.map(i64_of).unwrap_or(-1));
            if let Some(role) = f.role {
                // Written out, not bound: each role's partial index names this very condition.
                q.push(format!(" and roles like '%{}%'", role.as_str()));
            }
            if let Some(prefix) = &f.region {
                // 6, 4 and 2 digits are one equality on an index in registration order; other
                // lengths narrow the next shorter one (1 digit: the whole registry) further.
                let indexed = match prefix.len() {
                    6 => {
                        q.push(" and region = ");
                        q.push_bind(prefix.clone());
                        6
                    }
                    n @ (2..=5) => {
                        let n = n - n % 2;
                        q.push(format!(" and substr(region, 1, {n}) = "));
                        q.push_bind(prefix[..n].to_owned());
                        n
                    }
                    _ => 0,
                };
                if indexed < prefix.len() {
                    q.push(format!(" and substr(region, 1, {}) = ", prefix.len()));
                    q.push_bind(prefix.clone());
                }
            }
            q.push(" order by registered_seq limit ");
            q.push_bind(i64_of(f.limit));
            let rows = q.build().fetch_all(pool).await?;
            let mut orgs = rows
                .iter()
                .map(|row| -> anyhow::Result<OrgView> {
                    let roles: String = row.try_get("roles")?;
                    Ok(OrgView {
                        org: row.try_get("org")?,
                        name: row.try_get("name")?,
                        region: row.try_get("region")?,
                        roles: roles.split(',').filter(|r| !r.is_empty()).map(str::to_owned).collect(),
                        registered_seq: row.try_get::<i64, _>("registered_seq")? as u64,
                        keys: Vec::new(),
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            if orgs.is_empty() {
                return Ok(orgs);
            }
            let mut q = QueryBuilder::new("select org, key, added_seq, revoked_seq from org_keys where org in (");
            let mut sep = q.separated(", ");
            for o in &orgs {
                sep.push_bind(o.org.clone());
            }
            q.push(") order by org, added_seq, key");
            let mut keys: std::collections::HashMap<String, Vec<OrgKeyView>> = std::collections::HashMap::new();
            for k in q.build().fetch_all(pool).await? {
                keys.entry(k.try_get("org")?).or_default().push(OrgKeyView {
                    key: k.try_get("key")?,
                    added_seq: k.try_get::<i64, _>("added_seq")? as u64,
                    revoked_seq: k.try_get::<Option<i64>, _>("revoked_seq")?.map(|s| s as u64),
                });
            }
            for o in &mut orgs {
                o.keys = keys.remove(&o.org).unwrap_or_default();
            }
            Ok(orgs)
        })
    }

    /// The org holding a key (hex), whether the key is revoked, and whether the org regulates.
    pub async fn key_holder(&self, key: &str) -> anyhow::Result<Option<KeyHolder>> {
        with_pool!(self, pool => {
            let Some(row) = sqlx::query("select k.org, k.revoked_seq, o.roles from org_keys k join orgs o on o.org = k.org where k.key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            let roles: String = row.try_get("roles")?;
            Ok(Some(KeyHolder {
                org: row.try_get("org")?,
                revoked: row.try_get::<Option<i64>, _>("revoked_seq")?.is_some(),
                regulator: roles.split(',').any(|r| r == "regulator"),
            }))
        })
    }

    pub async fn licence(&self, license: &str) -> anyhow::Result<Option<LicenceView>> {
        with_pool!(self, pool => {
            let sql = format!("select {LICENCE_COLUMNS} from licences where license = $1");
            sqlx::query(&sql).bind(license).fetch_optional(pool).await?.as_ref().map(licence_from_row).transpose()
        })
    }

    /// Licences, of one holder or all, in number order.
    pub async fn licences(&self, holder: Option<&str>) -> anyhow::Result<Vec<LicenceView>> {
        with_pool!(self, pool => {
            let rows = match holder {
                Some(h) => {
                    let sql = format!("select {LICENCE_COLUMNS} from licences where holder = $1 order by license");
                    sqlx::query(&sql).bind(h).fetch_all(pool).await?
                }
                None => {
                    let sql = format!("select {LICENCE_COLUMNS} from licences order by license");
                    sqlx::query(&sql).fetch_all(pool).await?
                }
            };
            rows.iter().map(licence_from_row).collect()
        })
    }

    /// The licences, of one holder or all, that are active and valid on `date` (`YYYY-MM-DD`),
    /// in number order: those that may cover something on that day. The table holds one row per
    /// licence ever issued, a small number beside the ledger, so it is read without an index
    /// beyond the holder's.
    pub async fn licences_valid_on(
        &self,
        holder: Option<&str>,
        date: &str,
    ) -> anyhow::Result<Vec<LicenceView>> {
        with_pool!(self, pool => {
            let mut q = QueryBuilder::new(format!("select {LICENCE_COLUMNS} from licences where status = 'active' and valid_from <= "));
            q.push_bind(date.to_owned());
            q.push(" and valid_until >= ");
            q.push_bind(date.to_owned());
            if let Some(h) = holder {
                q.push(" and holder = ");
                q.push_bind(h.to_owned());
            }
            q.push(" order by license");
            q.build().fetch_all(pool).await?.iter().map(licence_from_row).collect()
        })
    }

    /// A holder's lots in the order of the entries that made them (then by code) after `after`;
    /// with `all`, also the empty ones; each with its containers, if it has any.
    pub async fn lots(
        &self,
        generator: &str,
        all: bool,
        after: Option<&LotCursor>,
        limit: u64,
    ) -> anyhow::Result<Vec<LotView>> {
        let mut lots = self.lot_rows(generator, all, after, limit).await?;
        let seqs: Vec<u64> = lots.iter().map(|l| l.seq).collect();
        for ((seq, code), c) in self.lot_containers(&seqs).await? {
            if let Some(l) = lots.iter_mut().find(|l| l.seq == seq && l.code == code) {
                l.containers.get_or_insert_with(Vec::new).push(c);
            }
        }
        Ok(lots)
    }

    async fn lot_rows(
        &self,
        generator: &str,
        all: bool,
        after: Option<&LotCursor>,
        limit: u64,
    ) -> anyhow::Result<Vec<LotView>> {
        let (seq, code) = after.map_or((-1, ""), |c| (i64_of(c.seq), c.code.as_str()));
        with_pool!(self, pool => {
            let sql = format!(
                "select l.seq, l.code, l.date, l.quantity_g, l.remaining_g, l.reserved_g, l.facility, l.origin, m.number as origin_number from lots l left join manifests m on m.id = l.origin where l.generator = $1 and (l.seq > $2 or (l.seq = $2 and l.code > $3)) {} order by l.seq, l.code limit $4",
                if all { "" } else { "and l.remaining_g > 0" }
            );
            let rows = sqlx::query(&sql)
                .bind(generator)
                .bind(seq)
                .bind(code)
                .bind(i64_of(limit))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| -> anyhow::Result<LotView> {
                    Ok(LotView {
                        seq: r.try_get::<i64, _>("seq")? as u64,
                        code: r.try_get("code")?,
                        date: r.try_get("date")?,
                        quantity_g: r.try_get("quantity_g")?,
                        remaining_g: r.try_get("remaining_g")?,
                        reserved_g: r.try_get("reserved_g")?,
                        facility: r.try_get("facility")?,
                        origin: r.try_get::<Option<String>, _>("origin")?.map(|m| {
                            let number: Option<String> = r.try_get("origin_number").ok().flatten();
                            serde_json::json!({"manifest": m, "number": number})
                        }),
                        containers: None,
                    })
                })
                .collect()
        })
    }

    /// Manifest history rows with seq in `from..to`, in seq order (for audits).
    pub async fn history_between(
        &self,
        from: u64,
        to: u64,
    ) -> anyhow::Result<Vec<(Uuid, HistoryItem)>> {
        with_pool!(self, pool => {
            let rows = sqlx::query("select manifest, seq, type, at, recorded_at, hash from manifest_history where seq >= $1 and seq < $2 order by seq, manifest")
                .bind(i64_of(from))
                .bind(i64_of(to))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| -> anyhow::Result<(Uuid, HistoryItem)> {
                    Ok((
                        Uuid::parse_str(&r.try_get::<String, _>("manifest")?)?,
                        HistoryItem::from_row(r)?,
                    ))
                })
                .collect()
        })
    }

    /// The `manifest_history` rows of entries `from..to` rendered as one text, as
    /// [`history_text`] renders them (`None` for no rows).
    pub async fn history_text_between(&self, from: u64, to: u64) -> anyhow::Result<Option<String>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "select {} from manifest_history where seq >= $1 and seq < $2",
                rows_text::sql(&HISTORY_COLUMNS, "seq, manifest")
            )
        });
        rows_text::between(self, SQL.as_str(), from, to).await
    }

    /// Row counts of the query tables, for comparison with a replay.
    pub async fn projection_counts(&self) -> anyhow::Result<[u64; 4]> {
        let mut out = [0u64; 4];
        for (i, table) in ["orgs", "licences", "lots", "manifests"].iter().enumerate() {
            let n: i64 = with_pool!(self, pool => {
                sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(pool).await?
            });
            out[i] = n as u64;
        }
        Ok(out)
    }

    /// Every organisation in the projection, for comparison with a replay.
    pub async fn all_org_ids(&self) -> anyhow::Result<Vec<String>> {
        with_pool!(self, pool => {
            let rows = sqlx::query("select org from orgs order by org").fetch_all(pool).await?;
            rows.iter().map(|r| Ok(r.try_get::<String, _>("org")?)).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::LotCursor;

    #[test]
    fn lot_cursors_round_trip_and_refuse_what_the_service_never_gave() {
        let c = LotCursor {
            seq: 41,
            code: "900-249-08".into(),
        };
        assert_eq!(c.to_string(), "41:900-249-08");
        assert_eq!(LotCursor::parse("41:900-249-08"), Some(c));
        // A bare seq (the cursors of earlier versions) continues after every lot of that seq.
        let bare = LotCursor::parse("41").expect("a bare seq");
        assert!(bare.code.as_str() > "999-999-99");
        for bad in [
            "",
            "x",
            "41:",
            "-1",
            "41:0123456789abcdefg",
            "9223372036854775808",
        ] {
            assert_eq!(LotCursor::parse(bad), None, "{bad:?}");
        }
    }
}
