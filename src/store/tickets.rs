//! The problem list's query tables (`tickets`, `ticket_history`): written from the domain state
//! in the append's transaction, read by `/v1/tickets`, and compared with a replay by
//! `verify --db`.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{QueryBuilder, Row};
use utoipa::ToSchema;
use uuid::Uuid;

use super::projections::{history_insert, HistoryItem};
use super::{i64_of, with_pool, with_tx, Batch, Store, WriteTx};
use crate::domain::state::State;
use crate::domain::ticket::{self, Subject, Ticket, TicketStatus};
use crate::protocol::time;

/// The subject manifest's number and parties, kept on the ticket's row so that the org filter
/// and the export need no join. They are fixed when the manifest is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectManifest {
    pub number: String,
    pub generator: String,
    pub carrier: String,
    pub receiver: String,
}

/// A ticket as `GET /v1/tickets/{id}` shows it (spec §9), with its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TicketView {
    pub ticket: Uuid,
    pub kind: String,
    pub status: String,
    /// Past its due date and not closed, judged on the CST date of the read.
    pub overdue: bool,
    #[schema(value_type = Object)]
    pub subject: Subject,
    pub summary: String,
    pub quantity_g: Option<i64>,
    pub lead: Option<String>,
    pub support: Vec<String>,
    pub responsible: Option<String>,
    pub due: Option<String>,
    pub opened_at: String,
    pub closed_at: Option<String>,
    pub history: Vec<HistoryItem>,
    #[serde(skip)]
    pub opened_seq: u64,
    #[serde(skip)]
    pub manifest: Option<SubjectManifest>,
}

impl TicketView {
    /// The row the projection should hold for a ticket on the CST date `today`, with an empty
    /// history (the state keeps only its seqs: [`Ticket::history`]).
    pub fn of(state: &State, t: &Ticket, today: NaiveDate) -> TicketView {
        TicketView {
            ticket: t.id,
            kind: t.kind.clone(),
            status: t.status.as_str().to_owned(),
            overdue: t.overdue(today),
            subject: t.subject.clone(),
            summary: t.summary.clone(),
            quantity_g: t.quantity_g,
            lead: t.lead.clone(),
            support: t.support.clone(),
            responsible: t.responsible.clone(),
            due: t.due.map(time::format_date),
            opened_at: time::format_timestamp(t.opened_at),
            closed_at: t.closed_at.map(time::format_timestamp),
            history: Vec::new(),
            opened_seq: t.opened_seq,
            manifest: t
                .subject
                .manifest
                .and_then(|m| state.manifests.get(&m))
                .map(|m| SubjectManifest {
                    number: m.number.clone(),
                    generator: m.generator.clone(),
                    carrier: m.carrier.clone(),
                    receiver: m.receiver.clone(),
                }),
        }
    }

    /// Whether this stored ticket is what a replay of the ledger gives, history included.
    pub fn equals_replay(&self, state: &State, today: NaiveDate) -> bool {
        let Some(t) = state.tickets.get(&self.ticket) else {
            return false;
        };
        let seqs: Vec<u64> = self.history.iter().map(|h| h.seq).collect();
        seqs == t.history
            && TicketView {
                history: Vec::new(),
                ..self.clone()
            } == TicketView::of(state, t, today)
    }

    pub fn status(&self) -> Option<TicketStatus> {
        TicketStatus::parse(&self.status)
    }

    /// The org a ticket is chiefly about: its subject org, or else its manifest's generator.
    pub fn org(&self) -> Option<&str> {
        self.subject
            .org
            .as_deref()
            .or(self.manifest.as_ref().map(|m| m.generator.as_str()))
    }
}

/// Filters of `GET /v1/tickets` and `/v1/tickets.csv`.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    /// The subject org, the responsible org, or a party of the subject manifest.
    pub org: Option<String>,
    /// Only tickets opened after this seq.
    pub after: Option<u64>,
    pub limit: u64,
    /// Only tickets this org may read: its subject org, its responsible org, or a party of its
    /// subject manifest is this org (like `org`, but read as a union of one index range per
    /// column, and combinable with `org`).
    pub visible_to: Option<String>,
}

/// The columns that name an org a ticket concerns.
const ORG_COLUMNS: [&str; 5] = [
    "subject_org",
    "responsible",
    "generator",
    "carrier",
    "receiver",
];

/// `select … from tickets where … order by opened_seq limit …` for one filter, with `column =
/// value` added when `fixed` is given (its `visible_to` unused: see [`Store::ticket_rows`]).
fn push_ticket_select<'q, DB: sqlx::Database>(
    q: &mut QueryBuilder<'q, DB>,
    f: &TicketFilter,
    fixed: Option<(&str, &str)>,
) where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.push(format!(
        "select {TICKET_COLUMNS} from tickets where opened_seq > "
    ));
    q.push_bind(f.after.map(i64_of).unwrap_or(-1));
    for (column, value) in [("status", &f.status), ("kind", &f.kind)] {
        if let Some(v) = value {
            q.push(format!(" and {column} = "));
            q.push_bind(v.clone());
        }
    }
    if let Some((column, value)) = fixed {
        q.push(format!(" and {column} = "));
        q.push_bind(value.to_owned());
    }
    if let Some(org) = &f.org {
        q.push(" and (");
        for (i, column) in ORG_COLUMNS.iter().enumerate() {
            q.push(if i == 0 { "" } else { " or " });
            q.push(format!("{column} = "));
            q.push_bind(org.clone());
        }
        q.push(")");
    }
    q.push(" order by opened_seq limit ");
    q.push_bind(i64_of(f.limit));
}

const TICKET_COLUMNS: &str = "id, kind, status, subject, summary, quantity_g, lead, support, responsible, due, opened_at, closed_at, opened_seq, manifest_number, generator, carrier, receiver";

/// Rewrites the rows of the touched tickets from the state and appends the history of the
/// batch's ticket entries.
pub(super) async fn write(
    tx: &mut WriteTx,
    batch: &Batch,
    state: &State,
    ids: &[Uuid],
) -> anyhow::Result<()> {
    // The row does not hold `overdue`, so the day it is judged on does not matter here.
    let rows: Vec<TicketView> = ids
        .iter()
        .filter_map(|id| state.tickets.get(id))
        .map(|t| TicketView::of(state, t, NaiveDate::MIN))
        .collect();
    let mut history: Vec<(Uuid, HistoryItem)> = Vec::new();
    for e in &batch.entries {
        if !e.header.kind.starts_with("ticket.") {
            continue;
        }
        // The sequencer names only an entry's manifest, so the ticket is read from the event;
        // every accepted ticket event has passed its schema, which requires `body.ticket`.
        let event: serde_json::Value = serde_json::from_str(&e.entry.event_jcs)?;
        let Some(ticket) = event["body"]["ticket"]
            .as_str()
            .and_then(|t| Uuid::parse_str(t).ok())
        else {
            anyhow::bail!("ticket entry {} names no ticket", e.entry.seq);
        };
        history.push((
            ticket,
            HistoryItem {
                seq: e.entry.seq,
                kind: e.header.kind.clone(),
                at: e.header.at_text.clone(),
                recorded_at: e.entry.recorded_at.clone(),
                hash: hex::encode(e.hash),
            },
        ));
    }
    with_tx!(tx, tx => {
        for chunk in rows.chunks(500) {
            let mut q = QueryBuilder::new(format!("insert into tickets ({TICKET_COLUMNS}, subject_org) "));
            q.push_values(chunk, |mut b, t| {
                let m = t.manifest.clone();
                b.push_bind(t.ticket.to_string())
                    .push_bind(t.kind.clone())
                    .push_bind(t.status.clone())
                    .push_bind(serde_json::to_string(&t.subject).expect("subjects serialise"))
                    .push_bind(t.summary.clone())
                    .push_bind(t.quantity_g)
                    .push_bind(t.lead.clone())
                    .push_bind(serde_json::to_string(&t.support).expect("lists serialise"))
                    .push_bind(t.responsible.clone())
                    .push_bind(t.due.clone())
                    .push_bind(t.opened_at.clone())
                    .push_bind(t.closed_at.clone())
                    .push_bind(i64_of(t.opened_seq))
                    .push_bind(m.as_ref().map(|m| m.number.clone()))
                    .push_bind(m.as_ref().map(|m| m.generator.clone()))
                    .push_bind(m.as_ref().map(|m| m.carrier.clone()))
                    .push_bind(m.map(|m| m.receiver))
                    .push_bind(t.subject.org.clone());
            });
            // Only the moves' fields change after opening.
            q.push(" on conflict (id) do update set status = excluded.status, lead = excluded.lead, support = excluded.support, responsible = excluded.responsible, due = excluded.due, closed_at = excluded.closed_at");
            q.build().execute(&mut **tx).await?;
        }
        for chunk in history.chunks(1000) {
            history_insert("ticket_history", "ticket", chunk)
                .build()
                .execute(&mut **tx)
                .await?;
        }
    });
    Ok(())
}

/// Reads a ticket row (without its history).
fn ticket_from_row<R: Row>(row: &R, today: NaiveDate) -> anyhow::Result<TicketView>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let due: Option<String> = row.try_get("due")?;
    let parsed_status = TicketStatus::parse(&status)
        .ok_or_else(|| anyhow::anyhow!("stored ticket status {status:?} is unknown"))?;
    let parsed_due = due.as_deref().map(time::parse_date).transpose()?;
    let subject: String = row.try_get("subject")?;
    let support: String = row.try_get("support")?;
    let number: Option<String> = row.try_get("manifest_number")?;
    let manifest = match number {
        Some(number) => Some(SubjectManifest {
            number,
            generator: row
                .try_get::<Option<String>, _>("generator")?
                .unwrap_or_default(),
            carrier: row
                .try_get::<Option<String>, _>("carrier")?
                .unwrap_or_default(),
            receiver: row
                .try_get::<Option<String>, _>("receiver")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    Ok(TicketView {
        ticket: Uuid::parse_str(&id)?,
        kind: row.try_get("kind")?,
        status,
        overdue: ticket::overdue(parsed_status, parsed_due, today),
        subject: serde_json::from_str(&subject)?,
        summary: row.try_get("summary")?,
        quantity_g: row.try_get("quantity_g")?,
        lead: row.try_get("lead")?,
        support: serde_json::from_str(&support)?,
        responsible: row.try_get("responsible")?,
        due,
        opened_at: row.try_get("opened_at")?,
        closed_at: row.try_get("closed_at")?,
        history: Vec::new(),
        opened_seq: row.try_get::<i64, _>("opened_seq")? as u64,
        manifest,
    })
}

fn history_from_row<R: Row>(row: &R) -> anyhow::Result<(Uuid, HistoryItem)>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok((
        Uuid::parse_str(&row.try_get::<String, _>("ticket")?)?,
        HistoryItem::from_row(row)?,
    ))
}

impl Store {
    /// One ticket with its history, its `overdue` judged on the CST date `today`.
    pub async fn ticket(&self, id: &Uuid, today: NaiveDate) -> anyhow::Result<Option<TicketView>> {
        let mut found = with_pool!(self, pool => {
            let sql = format!("select {TICKET_COLUMNS} from tickets where id = $1");
            let Some(row) = sqlx::query(&sql).bind(id.to_string()).fetch_optional(pool).await? else {
                return Ok(None);
            };
            vec![ticket_from_row(&row, today)?]
        });
        self.fill_history(&mut found).await?;
        Ok(found.pop())
    }

    /// A page of tickets in opening order, each with its history.
    pub async fn tickets(
        &self,
        f: &TicketFilter,
        today: NaiveDate,
    ) -> anyhow::Result<Vec<TicketView>> {
        let mut page = self.ticket_rows(f, today).await?;
        self.fill_history(&mut page).await?;
        Ok(page)
    }

    /// A page of tickets in opening order, without their history (for the export). With
    /// `visible_to`, the page is the union of one ordered, limited read per org column, merged by
    /// the database, so that each reads at most a page of its index.
    pub async fn ticket_rows(
        &self,
        f: &TicketFilter,
        today: NaiveDate,
    ) -> anyhow::Result<Vec<TicketView>> {
        with_pool!(self, pool => {
            let mut q = QueryBuilder::new("");
            match &f.visible_to {
                None => push_ticket_select(&mut q, f, None),
                Some(org) => {
                    for (i, column) in ORG_COLUMNS.iter().enumerate() {
                        if i > 0 {
                            q.push(" union ");
                        }
                        q.push(format!("select {TICKET_COLUMNS} from ("));
                        push_ticket_select(&mut q, f, Some((column, org)));
                        q.push(format!(") as b{i}"));
                    }
                    q.push(" order by opened_seq limit ");
                    q.push_bind(i64_of(f.limit));
                }
            }
            q.build().fetch_all(pool).await?.iter().map(|r| ticket_from_row(r, today)).collect()
        })
    }

    /// Loads the history of each ticket of a page, with one query.
    async fn fill_history(&self, tickets: &mut [TicketView]) -> anyhow::Result<()> {
        if tickets.is_empty() {
            return Ok(());
        }
        let rows = with_pool!(self, pool => {
            let mut q = QueryBuilder::new("select ticket, seq, type, at, recorded_at, hash from ticket_history where ticket in (");
            let mut sep = q.separated(", ");
            for t in tickets.iter() {
                sep.push_bind(t.ticket.to_string());
            }
            q.push(") order by seq");
            q.build().fetch_all(pool).await?.iter().map(history_from_row).collect::<anyhow::Result<Vec<_>>>()?
        });
        let index: std::collections::HashMap<Uuid, usize> = tickets
            .iter()
            .enumerate()
            .map(|(i, t)| (t.ticket, i))
            .collect();
        for (id, item) in rows {
            if let Some(&i) = index.get(&id) {
                tickets[i].history.push(item);
            }
        }
        Ok(())
    }

    /// Row counts of `tickets` and `ticket_history`, for comparison with a replay.
    pub async fn ticket_counts(&self) -> anyhow::Result<(u64, u64)> {
        let mut out = [0u64; 2];
        for (i, table) in ["tickets", "ticket_history"].iter().enumerate() {
            let n: i64 = with_pool!(self, pool => {
                sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(pool).await?
            });
            out[i] = n as u64;
        }
        Ok((out[0], out[1]))
    }

    /// The first seq whose `ticket_history` row disagrees with the entry at that seq (its type,
    /// `at`, `recorded_at` or hash), or names no entry.
    pub async fn ticket_history_mismatch(&self) -> anyhow::Result<Option<u64>> {
        let seq: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "select min(h.seq) from ticket_history h left join entries e on e.seq = h.seq \
                 where e.seq is null or e.type <> h.type or e.at <> h.at \
                 or e.recorded_at <> h.recorded_at or e.hash <> h.hash",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(seq.map(|s| s as u64))
    }
}
