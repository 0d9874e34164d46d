//! Plans and declarations (HJ 1259-2022): `GET /v1/plans/{org}/{year}`,
//! `GET /v1/reports/declaration` and its CSV (spec §9).
//!
//! A unit reads its own; regulators read every unit's. The head is answered from the sums the
//! writer maintains; another prefix is replayed, as anyone holding the entries would.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::Caller;
use super::{ApiError, ApiResult, AppState, Query};
use crate::domain::catalogue::{self, Edition};
use crate::domain::compliance::{Period, PeriodKind, ReportLine};
use crate::domain::state::State as Domain;
use crate::protocol::time;

fn readable(caller: &Caller, org: &str, what: &str) -> ApiResult<()> {
    if caller.regulator || caller.org == org {
        Ok(())
    } else {
        Err(ApiError::NotFound(what.to_owned()))
    }
}

#[derive(Serialize, ToSchema)]
pub struct PlanTransferView {
    receiver: String,
    quantity_g: i64,
    /// Grams from the unit's lots of `waste.declared` on manifests to this receiver picked up
    /// in the year and not rejected.
    shipped_g: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PlanLineView {
    code: String,
    generate_g: i64,
    treat_onsite_g: Option<i64>,
    /// Grams of the code declared, dated in the year.
    declared_g: i64,
    transfers: Vec<PlanTransferView>,
}

#[derive(Serialize, ToSchema)]
pub struct PlanView {
    org: String,
    year: i32,
    /// The seq of the `plan.filed` entry in force.
    seq: u64,
    at: String,
    lines: Vec<PlanLineView>,
}

/// A unit's management plan for a year (its last `plan.filed` for it), planned against actual.
#[utoipa::path(get, path = "/v1/plans/{org}/{year}", tag = "compliance", security(("bearer" = [])),
    params(("org" = String, Path,), ("year" = i32, Path,)),
    responses((status = 200, body = PlanView), (status = 400, body = super::Problem, description = "invalid_query: a year that is not a year"),
              (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem, description = "no plan, or another unit's")))]
pub async fn get_plan(
    caller: Caller,
    State(state): State<AppState>,
    Path((org, year)): Path<(String, String)>,
) -> ApiResult<Json<PlanView>> {
    let what = format!("the plan of {org} for {year}");
    readable(&caller, &org, &what)?;
    let year: i32 = year
        .parse()
        .ok()
        .filter(|y| (1..=9999).contains(y))
        .ok_or_else(|| ApiError::InvalidQuery(format!("year: {year:?} is not a year")))?;
    let live = state.sequencer.state().await;
    let plan = live
        .compliance
        .plans
        .get(&(org.clone(), year))
        .ok_or_else(|| ApiError::NotFound(what.clone()))?;
    let c = &live.compliance;
    let lines = plan
        .lines
        .iter()
        .map(|l| PlanLineView {
            code: l.code.clone(),
            generate_g: l.generate_g,
            treat_onsite_g: l.treat_onsite_g,
            declared_g: c.declared_in(&org, year, &l.code),
            transfers: l
                .transfers
                .iter()
                .map(|t| PlanTransferView {
                    receiver: t.receiver.clone(),
                    quantity_g: t.quantity_g,
                    shipped_g: c.shipped_in(&org, year, &l.code, &t.receiver),
                })
                .collect(),
        })
        .collect();
    Ok(Json(PlanView {
        org: org.clone(),
        year,
        seq: plan.seq,
        at: time::format_timestamp(plan.at),
        lines,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct FiledView {
    period: String,
    /// The seq of the `declaration.filed` entry in force for the period (the last one).
    seq: u64,
    at: String,
    report_sha256: String,
}

#[derive(Serialize, ToSchema)]
pub struct FiledPage {
    org: String,
    /// By year; within a year its months, then its quarters, then the year.
    declarations: Vec<FiledView>,
}

/// The declarations a unit has filed, the last one for each period, so that a unit and the
/// bureau see which periods are declared and over which report.
#[utoipa::path(get, path = "/v1/declarations/{org}", tag = "compliance", security(("bearer" = [])),
    params(("org" = String, Path,)),
    responses((status = 200, body = FiledPage), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem, description = "another unit's")))]
pub async fn list_declarations(
    caller: Caller,
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> ApiResult<Json<FiledPage>> {
    readable(&caller, &org, &format!("the declarations of {org}"))?;
    let live = state.sequencer.state().await;
    if live.org(&org).is_none() {
        return Err(ApiError::NotFound(format!("organisation {org}")));
    }
    let mut filed: Vec<_> = live
        .compliance
        .declarations
        .iter()
        .filter(|((o, _), _)| *o == org)
        .map(|((_, period), d)| (*period, d))
        .collect();
    filed.sort_by_key(|(p, _)| (p.year, p.kind, p.n));
    Ok(Json(FiledPage {
        org: org.clone(),
        declarations: filed
            .into_iter()
            .map(|(p, d)| FiledView {
                period: p.to_string(),
                seq: d.seq,
                at: time::format_timestamp(d.at),
                report_sha256: d.report_sha256.clone(),
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    org: String,
    period: String,
    size: Option<u64>,
}

/// A report with what the API adds to it.
struct Answered {
    size: u64,
    period: Period,
    class: &'static str,
    body: Value,
    sha256: String,
    lines: Vec<ReportLine>,
    /// Receiver → (region, name), for the CSV.
    receivers: std::collections::HashMap<String, (String, String)>,
}

async fn answer(caller: &Caller, state: &AppState, q: &ReportQuery) -> ApiResult<Answered> {
    readable(
        caller,
        &q.org,
        &format!("the declaration report of {}", q.org),
    )?;
    let period = Period::parse(&q.period).ok_or_else(|| {
        ApiError::InvalidQuery(format!(
            "period: {:?} is not YYYY-MM, YYYY-Qn or YYYY",
            q.period
        ))
    })?;
    super::stats::caught_up(state, q.size).await?;
    let live = state.sequencer.state().await;
    if live.org(&q.org).is_none() {
        return Err(ApiError::NotFound(format!("organisation {}", q.org)));
    }
    let size = q.size.unwrap_or(live.size);
    let build = |d: &Domain| {
        let report = d.compliance.report(&q.org, &period);
        let receivers = report
            .lines
            .iter()
            .flat_map(|l| l.transferred.iter().map(|(r, _, _)| r.clone()))
            .filter_map(|r| {
                d.org(&r)
                    .map(|o| (r.clone(), (o.region.clone(), o.name.clone())))
            })
            .collect();
        Answered {
            size,
            period,
            class: d.class_of(&q.org, period.year).class.as_str(),
            body: report.body,
            sha256: report.sha256,
            lines: report.lines,
            receivers,
        }
    };
    if size == live.size {
        return Ok(build(&live));
    }
    let ledger_key = live.ledger_key;
    drop(live);
    if !caller.regulator {
        state.replays.take(&caller.org)?;
    }
    let replayed = super::stats::replay_prefix(state, ledger_key, size).await?;
    Ok(build(&replayed))
}

/// A unit's declaration report for a month, quarter or year (§6 Declarations), computed from
/// the ledger; `report_sha256` is what `declaration.filed` signs.
#[utoipa::path(get, path = "/v1/reports/declaration", tag = "compliance", security(("bearer" = [])),
    params(("org" = String, Query,), ("period" = String, Query, description = "YYYY-MM, YYYY-Qn or YYYY"),
           ("size" = Option<u64>, Query, description = "ledger prefix (default: all)")),
    responses((status = 200, description = "{org, period, lines, size, from, to, class, report_sha256}", body = Object),
              (status = 400, body = super::Problem, description = "invalid_query"),
              (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem, description = "another unit's report"),
              (status = 429, body = super::Problem, description = "rate_limited: the org's replays of the past for this minute are used")))]
pub async fn declaration_report(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<Value>> {
    let a = answer(&caller, &state, &q).await?;
    let mut body = a.body;
    let o = body.as_object_mut().expect("a report is an object");
    o.insert("size".into(), a.size.into());
    o.insert("from".into(), time::format_date(a.period.start()).into());
    o.insert("to".into(), time::format_date(a.period.end()).into());
    o.insert("class".into(), a.class.into());
    o.insert("report_sha256".into(), a.sha256.into());
    Ok(Json(body))
}

/// Tonnes written exactly from grams, with six decimals (1234567 g → `1.234567`).
pub fn tonnes(g: i64) -> String {
    let sign = if g < 0 { "-" } else { "" };
    let g = g.unsigned_abs();
    format!("{sign}{}.{:06}", g / 1_000_000, g % 1_000_000)
}

/// The catalogue description of a code: the edition in force on `day`, else the last edition
/// that lists it.
fn description(code: &str, day: chrono::NaiveDate) -> (String, String) {
    let info = catalogue::lookup(Edition::in_force_on(day), code)
        .or_else(|| catalogue::lookup(Edition::E2025, code))
        .or_else(|| catalogue::lookup(Edition::E2021, code));
    match info {
        Some(i) => (i.description.clone(), i.category.to_string()),
        None => (
            String::new(),
            format!("HW{}", code.get(8..).unwrap_or_default()),
        ),
    }
}

/// The report as the table of HJ 1259-2022 附录C, UTF-8 with a byte order mark.
#[utoipa::path(get, path = "/v1/reports/declaration.csv", tag = "compliance", security(("bearer" = [])),
    params(("org" = String, Query,), ("period" = String, Query,), ("size" = Option<u64>, Query,)),
    responses((status = 200, description = "CSV, UTF-8 with BOM", content_type = "text/csv"),
              (status = 400, body = super::Problem), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem), (status = 429, body = super::Problem, description = "rate_limited")))]
pub async fn declaration_csv(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<impl IntoResponse> {
    let a = answer(&caller, &state, &q).await?;
    let (before, after) = match a.period.kind {
        PeriodKind::Month => ("上月底", "本月底"),
        PeriodKind::Quarter => ("上季度底", "本季度底"),
        PeriodKind::Year => ("上年底", "本年底"),
    };
    let opening = format!("{before}剩余贮存量(吨)");
    let closing = format!("{after}剩余贮存量(吨)");
    let mut out = String::from("\u{feff}");
    super::tickets::push_record(
        &mut out,
        [
            "危险废物名称",
            "危险废物类别",
            "危险废物代码",
            "产生量(吨)",
            "自行利用/处置方式",
            "自行利用/处置量(吨)",
            "省(区、市)",
            "单位名称",
            "危险废物经营许可证编号",
            "委托利用/处置量(吨)",
            opening.as_str(),
            closing.as_str(),
        ],
    );
    let last_day = a.period.end() - chrono::Duration::days(1);
    for l in &a.lines {
        let (name, category) = description(&l.code, last_day);
        let mut rows: Vec<[String; 7]> = Vec::new();
        for (method, q) in &l.treated_onsite {
            rows.push([
                method.clone(),
                tonnes(*q),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for (receiver, licence, q) in &l.transferred {
            let (region, org_name) = a.receivers.get(receiver).cloned().unwrap_or_default();
            let province = format!("{}0000", region.get(..2).unwrap_or_default());
            rows.push([
                String::new(),
                String::new(),
                province,
                org_name,
                licence.clone(),
                tonnes(*q),
                String::new(),
            ]);
        }
        if rows.is_empty() {
            rows.push(Default::default());
        }
        for (i, r) in rows.iter().enumerate() {
            let first = i == 0;
            let generated = if first {
                tonnes(l.generated_g)
            } else {
                String::new()
            };
            let open = if first {
                tonnes(l.opening_stock_g)
            } else {
                String::new()
            };
            let close = if first {
                tonnes(l.closing_stock_g)
            } else {
                String::new()
            };
            super::tickets::push_record(
                &mut out,
                [
                    name.as_str(),
                    category.as_str(),
                    l.code.as_str(),
                    generated.as_str(),
                    r[0].as_str(),
                    r[1].as_str(),
                    r[2].as_str(),
                    r[3].as_str(),
                    r[4].as_str(),
                    r[5].as_str(),
                    open.as_str(),
                    close.as_str(),
                ],
            );
        }
    }
    let filename = format!(
        "attachment; filename=\"declaration-{}-{}.csv\"",
        q.org, a.period
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        out,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tonnes_are_exact() {
        assert_eq!(tonnes(1_234_567), "1.234567");
        assert_eq!(tonnes(0), "0.000000");
        assert_eq!(tonnes(5), "0.000005");
        assert_eq!(tonnes(12_000_000), "12.000000");
    }
}
