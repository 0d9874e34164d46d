//! The embedded reference data: the National Catalogue of Hazardous Wastes and the handling
//! method codes.

use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiResult, Query};
use crate::domain::catalogue::{self, CodeInfo, Edition, Method};
use crate::domain::ids::Category;
use crate::protocol::time;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodesQuery {
    category: Option<String>,
    date: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CodesPage {
    /// "2021" or "2025".
    edition: &'static str,
    #[schema(value_type = Vec<Object>)]
    codes: Vec<&'static CodeInfo>,
}

/// The codes of the edition in force on `date` (default: today, China Standard Time).
#[utoipa::path(get, path = "/v1/catalogue/codes", tag = "catalogue",
    params(("category" = Option<String>, Query, description = "HWnn"), ("date" = Option<String>, Query, description = "YYYY-MM-DD")),
    responses((status = 200, body = CodesPage), (status = 400, body = super::Problem)))]
pub async fn codes(Query(q): Query<CodesQuery>) -> ApiResult<Json<CodesPage>> {
    let date = match &q.date {
        Some(d) => time::parse_date(d).map_err(|e| ApiError::InvalidQuery(format!("date: {e}")))?,
        None => time::cst_date(chrono::Utc::now()),
    };
    let category = q
        .category
        .as_deref()
        .map(|c| Category::parse(c).map_err(|e| ApiError::InvalidQuery(format!("category: {e}"))))
        .transpose()?;
    let edition = Edition::in_force_on(date);
    let codes = catalogue::codes(edition)
        .iter()
        .filter(|c| category.is_none_or(|cat| c.category == cat))
        .collect();
    Ok(Json(CodesPage {
        edition: edition.name(),
        codes,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct MethodsPage {
    #[schema(value_type = Vec<Object>)]
    methods: &'static [Method],
}

/// The utilisation and disposal method codes.
#[utoipa::path(get, path = "/v1/catalogue/methods", tag = "catalogue", responses((status = 200, body = MethodsPage)))]
pub async fn methods() -> Json<MethodsPage> {
    Json(MethodsPage {
        methods: catalogue::methods(),
    })
}
