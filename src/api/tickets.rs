//! Reads of the problem list (问题清单): one ticket, a filtered page, and the spreadsheet export.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Caller;
use super::{ApiError, ApiResult, AppState, Query};
use crate::domain::ids::OrgId;
use crate::domain::ticket::TicketStatus;
use crate::protocol::time;
use crate::store::{TicketFilter, TicketView};

/// Most items one page holds, and the default (as for the other lists).
const MAX_PAGE: u64 = 1000;
const DEFAULT_PAGE: u64 = 100;

/// The export reads the table in pages of this many rows.
const EXPORT_CHUNK: u64 = 1000;

/// "Today" for `overdue`: the CST date of the read (§1: every date rule is judged in CST).
pub(super) fn today() -> NaiveDate {
    time::cst_date(chrono::Utc::now())
}

/// A ticket by its UUID, with its history. An org that does not regulate reads the tickets
/// whose subject or responsible org it is, or whose subject manifest it may read; others are 404
/// to it, as for a ticket that does not exist.
#[utoipa::path(get, path = "/v1/tickets/{id}", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "the ticket's UUID")),
    responses((status = 200, body = TicketView), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem)))]
pub async fn get_ticket(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TicketView>> {
    let not_found = || ApiError::NotFound(format!("ticket {id}"));
    // Something that is not a UUID names no ticket: 404 like any other unknown id.
    let uuid = Uuid::parse_str(&id).map_err(|_| not_found())?;
    state
        .store
        .ticket(&uuid, today())
        .await?
        .filter(|t| caller.may_read_ticket(t))
        .map(Json)
        .ok_or_else(not_found)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    status: Option<String>,
    kind: Option<String>,
    org: Option<String>,
    limit: Option<u64>,
    after: Option<String>,
}

/// The export takes the list's filters but no paging: it is the whole selection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    status: Option<String>,
    kind: Option<String>,
    org: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketPage {
    tickets: Vec<TicketView>,
    /// Pass as `after` for the next page; null on the last page.
    next: Option<String>,
}

/// Checks the filters, so that a misspelt one is a 400 rather than an empty list; restricts the
/// selection to what `caller` may read.
fn filter(
    caller: &Caller,
    status: Option<String>,
    kind: Option<String>,
    org: Option<String>,
) -> ApiResult<TicketFilter> {
    if let Some(s) = &status {
        if TicketStatus::parse(s).is_none() {
            return Err(ApiError::InvalidQuery(format!(
                "{s} is not a ticket status (open, assigned, rectified, closed)"
            )));
        }
    }
    if let Some(k) = &kind {
        let snake = k.len() <= 64
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !snake {
            return Err(ApiError::InvalidQuery(format!(
                "{k} is not a ticket kind (snake_case)"
            )));
        }
    }
    if let Some(o) = &org {
        OrgId::parse(o).map_err(|e| ApiError::InvalidQuery(format!("org: {e}")))?;
    }
    Ok(TicketFilter {
        status,
        kind,
        org,
        after: None,
        limit: DEFAULT_PAGE,
        visible_to: caller.restriction(),
    })
}

/// Tickets in opening order, filtered by status, kind and org; for an org that does not
/// regulate, only those it may read.
#[utoipa::path(get, path = "/v1/tickets", tag = "tickets", security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "open, assigned, rectified or closed"),
           ("kind" = Option<String>, Query, description = "e.g. reported_dumping or transit_overdue"),
           ("org" = Option<String>, Query, description = "the subject org, the responsible org, or a party of the subject manifest"),
           ("limit" = Option<u64>, Query, description = "1 to 1000, default 100"),
           ("after" = Option<String>, Query, description = "the `next` of the previous page")),
    responses((status = 200, body = TicketPage), (status = 400, body = super::Problem), (status = 401, body = super::Problem, description = "token_*")))]
pub async fn list_tickets(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<TicketQuery>,
) -> ApiResult<Json<TicketPage>> {
    let mut f = filter(&caller, q.status, q.kind, q.org)?;
    f.limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&f.limit) {
        return Err(ApiError::InvalidQuery(format!(
            "limit must be 1 to {MAX_PAGE}"
        )));
    }
    // The cursor is the opening seq of the previous page's last ticket.
    f.after = q
        .after
        .map(|a| {
            a.parse().map_err(|_| {
                ApiError::InvalidQuery("after is not a cursor this service gave".into())
            })
        })
        .transpose()?;
    let tickets = state.store.tickets(&f, today()).await?;
    let next = (tickets.len() as u64 == f.limit)
        .then(|| tickets.last().map(|t| t.opened_seq.to_string()))
        .flatten();
    Ok(Json(TicketPage { tickets, next }))
}

/// The export's columns (spec §9).
const CSV_HEADER: [&str; 13] = [
    "编号",
    "类型",
    "状态",
    "是否逾期",
    "摘要",
    "联单",
    "单位",
    "数量(克)",
    "牵头单位",
    "责任单位",
    "期限",
    "立案时间",
    "销号时间",
];

/// Appends one RFC 4180 field: quoted when it holds a comma, a quote, CR or LF, with quotes
/// doubled. A field a spreadsheet program would run as a formula (one that begins with `=`, `+`,
/// `-`, `@`, a tab or CR, or their full-width forms, and is not a plain number) is written with
/// a leading `'`, which makes the program show it as text: summaries, names and references come
/// from signed events, and whoever signed them must not get to run a formula on a regulator's
/// machine.
fn push_field(out: &mut String, field: &str) {
    let neutralised;
    let field = if is_formula(field) {
        neutralised = format!("'{field}");
        neutralised.as_str()
    } else {
        field
    };
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// Whether a spreadsheet program would take the cell for a formula (or a command, as with `@`
/// and DDE): it starts with a trigger character and is not a number such as `-12.5`.
fn is_formula(field: &str) -> bool {
    let Some(first) = field.chars().next() else {
        return false;
    };
    if !matches!(
        first,
        '=' | '+' | '-' | '@' | '\t' | '\r' | '＝' | '＋' | '－' | '＠'
    ) {
        return false;
    }
    let digits = field.strip_prefix(['-', '+']).unwrap_or(field);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let number = !int.is_empty()
        && !frac.is_empty()
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
    !number
}

/// Appends one record, ended by CRLF as RFC 4180 has it.
pub(super) fn push_record<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, f);
    }
    out.push_str("\r\n");
}

/// One ticket as a row of the export. 状态 is given as the Chinese label of the status
/// (open 开启, assigned 已交办, rectified 已整改, closed 已销号), since the export is read by
/// people; the API keeps the English codes. 单位 is the subject org or, for a manifest's
/// ticket, the manifest's generator.
fn csv_row(out: &mut String, t: &TicketView) {
    let quantity = t.quantity_g.map(|q| q.to_string()).unwrap_or_default();
    push_record(
        out,
        [
            t.ticket.to_string().as_str(),
            t.kind.as_str(),
            t.status().map(TicketStatus::label_zh).unwrap_or(&t.status),
            if t.overdue { "是" } else { "否" },
            t.summary.as_str(),
            t.manifest.as_ref().map(|m| m.number.as_str()).unwrap_or(""),
            t.org().unwrap_or(""),
            quantity.as_str(),
            t.lead.as_deref().unwrap_or(""),
            t.responsible.as_deref().unwrap_or(""),
            t.due.as_deref().unwrap_or(""),
            t.opened_at.as_str(),
            t.closed_at.as_deref().unwrap_or(""),
        ],
    );
}

/// The tickets as CSV for spreadsheet programs: UTF-8 with a byte order mark (without it Excel
/// reads the Chinese as the local code page), one row per ticket in opening order; for an org
/// that does not regulate, only those it may read.
#[utoipa::path(get, path = "/v1/tickets.csv", tag = "tickets", security(("bearer" = [])),
    params(("status" = Option<String>, Query,), ("kind" = Option<String>, Query,), ("org" = Option<String>, Query,)),
    responses((status = 200, description = "CSV, UTF-8 with BOM", content_type = "text/csv"),
              (status = 400, body = super::Problem), (status = 401, body = super::Problem, description = "token_*")))]
pub async fn tickets_csv(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<impl IntoResponse> {
    let mut f = filter(&caller, q.status, q.kind, q.org)?;
    f.limit = EXPORT_CHUNK;
    let today = today();
    let mut out = String::from("\u{feff}");
    push_record(&mut out, CSV_HEADER);
    loop {
        let page = state.store.ticket_rows(&f, today).await?;
        for t in &page {
            csv_row(&mut out, t);
        }
        match page.last() {
            Some(t) if page.len() as u64 == EXPORT_CHUNK => f.after = Some(t.opened_seq),
            _ => break,
        }
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"tickets.csv\"",
            ),
        ],
        out,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut out = String::new();
        push_record(
            &mut out,
            ["a", "b,c", "say \"hi\"", "line\nbreak", "cr\r", "中文"],
        );
        assert_eq!(
            out,
            "a,\"b,c\",\"say \"\"hi\"\"\",\"line\nbreak\",\"cr\r\",中文\r\n"
        );
    }

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        let mut out = String::new();
        push_record(
            &mut out,
            [
                "=HYPERLINK(\"http://x\",\"点击\")",
                "+1+2",
                "-2+3",
                "@SUM(A1)",
                "\tx",
                "＝1+1",
                "-12.5",
                "+3",
                "-",
                "a=b",
            ],
        );
        assert_eq!(
            out,
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"点击\"\")\",'+1+2,'-2+3,'@SUM(A1),'\tx,'＝1+1,-12.5,+3,'-,a=b\r\n"
        );
    }
}
