//! Reads of facilities (设施): public information, like the rest of the registry (spec §9): any
//! org with a valid read token may read every facility.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::{ApiError, ApiResult, AppState, Query};
use crate::protocol::time;
use crate::store::FacilityView;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilitiesQuery {
    org: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FacilityList {
    facilities: Vec<FacilityView>,
}

/// The current CST year, for `treated_g`.
fn this_year() -> i32 {
    time::cst_year(chrono::Utc::now())
}

/// The facilities of an org, or every facility.
#[utoipa::path(get, path = "/v1/facilities", tag = "registry",
    params(("org" = Option<String>, Query, description = "the org whose facilities are listed")),
    responses((status = 200, body = FacilityList), (status = 400, body = super::Problem, description = "invalid_query"),
              (status = 401, body = super::Problem, description = "token_*")))]
pub async fn list_facilities(
    _caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<FacilitiesQuery>,
) -> ApiResult<Json<FacilityList>> {
    let facilities = state
        .store
        .facilities(q.org.as_deref(), this_year())
        .await?;
    Ok(Json(FacilityList { facilities }))
}

/// One facility.
#[utoipa::path(get, path = "/v1/facilities/{org}/{facility}", tag = "registry",
    params(("org" = String, Path, description = "the org"), ("facility" = String, Path, description = "its facility id")),
    responses((status = 200, body = FacilityView), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem)))]
pub async fn get_facility(
    _caller: Caller,
    State(state): State<AppState>,
    Path((org, facility)): Path<(String, String)>,
) -> ApiResult<Json<FacilityView>> {
    state
        .store
        .facility(&org, &facility, this_year())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("facility {facility} of {org}")))
}
