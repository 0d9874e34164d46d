//! Reads of manifests, declared stock and licences.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::{ApiError, ApiResult, AppState, Query};
use crate::domain::catalogue::{self, Edition};
use crate::domain::ids::WasteCode;
use crate::domain::manifest::ManifestStatus;
use crate::protocol::time;
use crate::store::{LicenceView, LotCursor, LotView, ManifestFilter, ManifestView};

/// Most items one page holds, and the default.
const MAX_PAGE: u64 = 1000;
const DEFAULT_PAGE: u64 = 100;

pub(super) fn page_limit(limit: Option<u64>) -> ApiResult<u64> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::InvalidQuery(format!(
            "limit must be 1 to {MAX_PAGE}"
        )))
    }
}

/// Reads an opaque cursor (the seq of the last item of the previous page).
pub(super) fn cursor(after: Option<&str>) -> ApiResult<Option<u64>> {
    after
        .map(|a| {
            a.parse().map_err(|_| {
                ApiError::InvalidQuery("after is not a cursor this service gave".into())
            })
        })
        .transpose()
}

/// A manifest by its UUID or its 14-digit number, with its history. Other orgs than its
/// parties and regulators get 404, as for a manifest that does not exist.
#[utoipa::path(get, path = "/v1/manifests/{id}", tag = "manifests", security(("bearer" = [])),
    params(("id" = String, Path, description = "the manifest's UUID or number")),
    responses((status = 200, body = ManifestView), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem)))]
pub async fn get_manifest(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ManifestView>> {
    state
        .store
        .manifest(&id)
        .await?
        .filter(|m| caller.may_read_manifest(m))
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("manifest {id}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestQuery {
    status: Option<String>,
    generator: Option<String>,
    carrier: Option<String>,
    receiver: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u64>,
    after: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ManifestPage {
    manifests: Vec<ManifestView>,
    /// Pass as `after` for the next page; null on the last page.
    next: Option<String>,
}

/// Manifests in opening order, filtered by status, parties and the CST date of the opening. An
/// org that does not regulate sees only the manifests where it is the generator, the carrier or
/// the receiver.
#[utoipa::path(get, path = "/v1/manifests", tag = "manifests", security(("bearer" = [])),
    params(("status" = Option<String>, Query,), ("generator" = Option<String>, Query,), ("carrier" = Option<String>, Query,),
           ("receiver" = Option<String>, Query,),
           ("from" = Option<String>, Query, description = "YYYY-MM-DD: opened on this CST date or later (an extension of this implementation)"),
           ("to" = Option<String>, Query, description = "YYYY-MM-DD: opened before this CST date (an extension of this implementation)"),
           ("limit" = Option<u64>, Query, description = "1 to 1000, default 100"),
           ("after" = Option<String>, Query, description = "the `next` of the previous page")),
    responses((status = 200, body = ManifestPage), (status = 400, body = super::Problem), (status = 401, body = super::Problem, description = "token_*")))]
pub async fn list_manifests(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<ManifestQuery>,
) -> ApiResult<Json<ManifestPage>> {
    if let Some(s) = &q.status {
        if ManifestStatus::parse(s).is_none() {
            return Err(ApiError::InvalidQuery(format!(
                "{s} is not a manifest status"
            )));
        }
    }
    let from = query_date("from", q.from.as_deref())?.map(time::format_date);
    let to = query_date("to", q.to.as_deref())?.map(time::format_date);
    let limit = page_limit(q.limit)?;
    let filter = ManifestFilter {
        status: q.status,
        generator: q.generator,
        carrier: q.carrier,
        receiver: q.receiver,
        after: cursor(q.after.as_deref())?,
        from,
        to,
        limit,
        party: caller.restriction(),
    };
    let manifests = state.store.manifests(&filter).await?;
    let next = (manifests.len() as u64 == limit)
        .then(|| manifests.last().map(|m| m.opened_seq.to_string()))
        .flatten();
    Ok(Json(ManifestPage { manifests, next }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockQuery {
    generator: Option<String>,
    all: Option<bool>,
    limit: Option<u64>,
    after: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StockPage {
    generator: String,
    lots: Vec<LotView>,
    next: Option<String>,
}

/// A generator's declared lots: what is still there, and how much of it manifests hold. An org
/// that does not regulate reads its own stock only; any other generator is 404 to it.
#[utoipa::path(get, path = "/v1/stock", tag = "manifests", security(("bearer" = [])),
    params(("generator" = String, Query,), ("all" = Option<bool>, Query, description = "also lots with nothing left"),
           ("limit" = Option<u64>, Query,), ("after" = Option<String>, Query,)),
    responses((status = 200, body = StockPage), (status = 400, body = super::Problem), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem, description = "another org's stock")))]
pub async fn get_stock(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<StockQuery>,
) -> ApiResult<Json<StockPage>> {
    let generator = q
        .generator
        .ok_or_else(|| ApiError::InvalidQuery("generator is required".into()))?;
    if !caller.is_or_regulates(&generator) {
        return Err(ApiError::NotFound(format!("stock of {generator}")));
    }
    let limit = page_limit(q.limit)?;
    let lots = state
        .store
        .lots(
            &generator,
            q.all.unwrap_or(false),
            q.after
                .as_deref()
                .map(|a| {
                    LotCursor::parse(a).ok_or_else(|| {
                        ApiError::InvalidQuery("after is not a cursor this service gave".into())
                    })
                })
                .transpose()?
                .as_ref(),
            limit,
        )
        .await?;
    let next = (lots.len() as u64 == limit)
        .then(|| lots.last().map(|l| LotCursor::of(l).to_string()))
        .flatten();
    Ok(Json(StockPage {
        generator,
        lots,
        next,
    }))
}

/// One licence (public to every registered org).
#[utoipa::path(get, path = "/v1/licenses/{license}", tag = "registry", security(("bearer" = [])),
    params(("license" = String, Path, description = "the licence number as printed")),
    responses((status = 200, body = LicenceView), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem)))]
pub async fn get_licence(
    _caller: Caller,
    State(state): State<AppState>,
    Path(license): Path<String>,
) -> ApiResult<Json<LicenceView>> {
    state
        .store
        .licence(&license)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("licence {license}")))
}

/// A `YYYY-MM-DD` query parameter.
fn query_date(name: &str, value: Option<&str>) -> ApiResult<Option<chrono::NaiveDate>> {
    value
        .map(|d| time::parse_date(d).map_err(|e| ApiError::InvalidQuery(format!("{name}: {e}"))))
        .transpose()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceQuery {
    holder: Option<String>,
    covers: Option<String>,
    date: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LicencePage {
    licenses: Vec<LicenceView>,
}

/// Licences, all or of one holder, in number order (public to every registered org). With
/// `covers`, only those that cover the receipt of that waste code on `date` (default: today,
/// CST) as a manifest's opening is judged (spec §6, Coverage): active, valid on the date, with a
/// scope naming the code or its category for storage, utilisation or disposal. So a page
/// offers only the receivers that may take the waste.
#[utoipa::path(get, path = "/v1/licenses", tag = "registry", security(("bearer" = [])),
    params(("holder" = Option<String>, Query,),
           ("covers" = Option<String>, Query, description = "a waste code NNN-NNN-NN (an extension of this implementation)"),
           ("date" = Option<String>, Query, description = "YYYY-MM-DD, with `covers`; default today (CST)")),
    responses((status = 200, body = LicencePage), (status = 400, body = super::Problem, description = "invalid_query"),
              (status = 401, body = super::Problem, description = "token_*")))]
pub async fn list_licences(
    _caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<LicenceQuery>,
) -> ApiResult<Json<LicencePage>> {
    let Some(covers) = q.covers else {
        if q.date.is_some() {
            return Err(ApiError::InvalidQuery("date needs covers".into()));
        }
        return Ok(Json(LicencePage {
            licenses: state.store.licences(q.holder.as_deref()).await?,
        }));
    };
    let date = query_date("date", q.date.as_deref())?.unwrap_or_else(super::tickets::today);
    let code = known_code(&covers, date)?;
    let mut licenses = Vec::new();
    for view in state
        .store
        .licences_valid_on(q.holder.as_deref(), &time::format_date(date))
        .await?
    {
        // The domain's own test, so that this list and the opening's rule cannot disagree.
        if view.to_licence()?.covers_receipt(&code, date) {
            licenses.push(view);
        }
    }
    Ok(Json(LicencePage { licenses }))
}

/// A waste code of the catalogue edition in force on `date`, or of an earlier one (a lot
/// declared under it may still be shipped).
fn known_code(code: &str, date: chrono::NaiveDate) -> ApiResult<WasteCode> {
    let unknown = || {
        ApiError::InvalidQuery(format!(
            "covers: {code} is not a waste code of the catalogue"
        ))
    };
    let parsed = WasteCode::parse(code).map_err(|_| unknown())?;
    let in_force = Edition::in_force_on(date);
    [Edition::E2021, Edition::E2025]
        .into_iter()
        .filter(|e| *e <= in_force)
        .any(|e| catalogue::lookup(e, parsed.as_str()).is_some())
        .then_some(parsed)
        .ok_or_else(unknown)
}
