//! `GET /v1/containers/{id}`: a container (一物一码) and its whole trace. Read by a regulator,
//! by the unit that packed it, and by the parties of a manifest that names it (spec §9).

use axum::extract::{Path, State};
use axum::Json;

use super::auth::Caller;
use super::{ApiError, ApiResult, AppState};
use crate::store::ContainerView;

/// One container with its trace, in ledger order.
#[utoipa::path(get, path = "/v1/containers/{id}", tag = "stock", security(("bearer" = [])),
    params(("id" = String, Path, description = "the container's 数字识别码")),
    responses((status = 200, body = ContainerView), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem)))]
pub async fn get_container(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ContainerView>> {
    let not_found = || ApiError::NotFound(format!("container {id}"));
    let view = state.store.container(&id).await?.ok_or_else(not_found)?;
    let allowed = caller.regulator || view.org == caller.org || {
        let mut manifests: Vec<_> = view.trace.iter().filter_map(|s| s.manifest).collect();
        manifests.dedup();
        state.store.manifests_party(&manifests, &caller.org).await?
    };
    if !allowed {
        return Err(not_found());
    }
    Ok(Json(view))
}
