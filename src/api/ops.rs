//! Operations endpoints: health, metrics, the OpenAPI document, and the 404 fallback.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::{ApiError, ApiResult, AppState};

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
    backend: &'static str,
    size: u64,
}

/// Liveness and readiness: answers 200 when the database answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = super::Problem, description = "the writer has stopped, or is reloading the ledger after a failed append")))]
pub async fn healthz(State(state): State<AppState>) -> ApiResult<axum::response::Response> {
    if !state.sequencer.is_running() {
        return Ok(super::Problem::new(
            503,
            "unavailable",
            "The writer has stopped",
            "appends are not taken; see the service's log",
        )
        .into_response());
    }
    if state.sequencer.is_reloading() {
        return Ok(super::Problem::new(
            503,
            "unavailable",
            "The writer is reloading the ledger",
            "an append failed and the ledger could not be reloaded from the database yet; appends are refused until it is, which is tried again with growing waits (see the service's log)",
        )
        .into_response());
    }
    let head = state.store.head().await?;
    Ok(Json(Health {
        status: "ok",
        backend: state.store.backend(),
        size: head.size,
    })
    .into_response())
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hwledger",
        description = "Hazardous-waste manifest ledger: append-only, hash-chained, signed events."
    ),
    paths(
        super::events::post_events,
        super::ledger::list_entries,
        super::ledger::get_entry,
        super::ledger::latest_checkpoint,
        super::ledger::checkpoint_at,
        super::tlog::checkpoint,
        super::tlog::checkpoint_at,
        super::tlog::tile,
        super::witnesses::list_witnesses,
        super::proofs::inclusion,
        super::proofs::consistency,
        super::ledger::ledger_info,
        super::ledger::list_orgs,
        super::ledger::get_org,
        super::manifests::get_licence,
        super::facilities::list_facilities,
        super::facilities::get_facility,
        super::manifests::list_licences,
        super::manifests::get_stock,
        super::containers::get_container,
        super::manifests::list_manifests,
        super::manifests::get_manifest,
        super::chains::get_chains,
        super::tickets::list_tickets,
        super::tickets::get_ticket,
        super::tickets::tickets_csv,
        super::stats::disposal,
        super::compliance::get_plan,
        super::compliance::list_declarations,
        super::compliance::declaration_report,
        super::compliance::declaration_csv,
        super::catalogue::codes,
        super::catalogue::methods,
        healthz,
        metrics,
        openapi,
    ),
    components(schemas(super::Problem, crate::store::OrgView, crate::store::OrgKeyView)),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

/// The `bearer` security scheme the protected reads name: a JWT the org signs itself (§9).
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "EdDSA (Ed25519) JWT signed by the calling org: header kid = its \
                             public key hex; claims iss = org, aud = the ledger's origin, iat, \
                             exp (at most 600 s after iat). `hwledger token` makes one.",
                        ))
                        .build(),
                ),
            );
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1")))]
pub async fn openapi() -> impl IntoResponse {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(openapi_document).clone())
}

/// The OpenAPI document: the annotations of the handlers, with every error answer declared as
/// the `application/problem+json` it is served as (RFC 9457).
pub fn openapi_document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    if let Some(paths) = doc["paths"].as_object_mut() {
        for operation in paths.values_mut().filter_map(|p| p.as_object_mut()) {
            for op in operation.values_mut() {
                let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut())
                else {
                    continue;
                };
                for (status, response) in responses.iter_mut() {
                    if !(status.starts_with('4') || status.starts_with('5')) {
                        continue;
                    }
                    if let Some(content) =
                        response.get_mut("content").and_then(|c| c.as_object_mut())
                    {
                        if let Some(json) = content.remove("application/json") {
                            content.insert("application/problem+json".into(), json);
                        }
                    }
                }
            }
        }
    }
    doc
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("route".into())
}
