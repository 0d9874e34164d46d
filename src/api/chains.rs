//! `GET /v1/chains/{manifest}`: where the waste on a manifest went, portion by portion, through
//! collectors down to its final handling (spec §6 Chains, §9). Judged as §8 at now, from the
//! state the sequencer keeps (the portions of lots at collectors live there), never by a replay.

use axum::extract::{Path, State};
use axum::Json;

use super::auth::Caller;
use super::{ApiError, ApiResult, AppState};
use crate::domain::chain::ChainsView;
use crate::protocol::time;

/// The chains of a manifest's portions. Read by regulators and by the manifest's parties (as
/// the manifest itself); a chain whose first leg is not the reader's shows only the reader's
/// own legs and lots.
#[utoipa::path(get, path = "/v1/chains/{id}", tag = "manifests", security(("bearer" = [])),
    params(("id" = String, Path, description = "the manifest's UUID or number")),
    responses((status = 200, body = ChainsView), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem)))]
pub async fn get_chains(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ChainsView>> {
    let not_found = || ApiError::NotFound(format!("manifest {id}"));
    let m = state
        .store
        .manifest(&id)
        .await?
        .filter(|m| caller.may_read_manifest(m))
        .ok_or_else(not_found)?;
    // The manifest may be newer than the published state (another process's, or a commit the
    // mirror is publishing): catch up before reading the state.
    super::stats::caught_up(&state, None).await?;
    let now = time::truncate_millis(chrono::Utc::now());
    let reader = (!caller.regulator).then_some(caller.org.as_str());
    let live = state.sequencer.state().await;
    live.chains_of(&m.manifest, now, reader)
        .map(Json)
        .ok_or_else(not_found)
}
