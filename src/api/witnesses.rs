//! `GET /v1/witnesses` (spec §5a): each witness of the policy in force, how far it has cosigned,
//! and the last error this process met submitting to it. Public: hashes and signatures only.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiResult;
use super::AppState;
use crate::protocol::time;

#[derive(Debug, Serialize, ToSchema)]
pub struct WitnessesView {
    /// The head size the lags are counted from.
    pub size: u64,
    /// How many distinct witnesses of this policy must cosign a checkpoint.
    pub quorum: u32,
    pub witnesses: Vec<WitnessView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WitnessView {
    pub name: String,
    /// Ed25519 public key, hex.
    pub key: String,
    /// Its submission prefix.
    pub url: String,
    /// The largest size it has cosigned (0: none yet).
    pub cosigned_size: u64,
    /// That cosignature's timestamp; null before the first.
    pub cosigned_at: Option<String>,
    /// The last failure submitting to it, or why submissions to it are stopped; null when the
    /// last submission succeeded.
    pub last_error: Option<String>,
    /// Whether submissions to it are stopped after evidence of a fork.
    pub halted: bool,
    /// The head size minus `cosigned_size`.
    pub lag: u64,
}

/// The witness policy in force at the head, with each witness's progress.
#[utoipa::path(get, path = "/v1/witnesses", tag = "ledger",
    responses((status = 200, body = WitnessesView)))]
pub async fn list_witnesses(State(state): State<AppState>) -> ApiResult<Json<WitnessesView>> {
    let (size, policy) = {
        let st = state.sequencer.state().await;
        (st.size, st.witness_policies.at(st.size).clone())
    };
    let halts = state.store.witness_halts().await?;
    let mut witnesses = Vec::with_capacity(policy.witnesses.len());
    for w in &policy.witnesses {
        let last = state.store.last_cosignature(&w.name, &w.key).await?;
        let cosigned_size = last.as_ref().map_or(0, |c| c.size);
        let halt = halts.iter().find(|h| h.witness == w.name && h.key == w.key);
        let seen = state.witnesses.status(&(w.name.clone(), w.key.clone()));
        let last_error = halt
            .map(|h| h.reason.clone())
            .or_else(|| seen.and_then(|s| s.last_error));
        witnesses.push(WitnessView {
            name: w.name.clone(),
            key: w.key.clone(),
            url: w.url.clone(),
            cosigned_size,
            cosigned_at: last.and_then(|c| {
                chrono::DateTime::from_timestamp(i64::try_from(c.cosigned_at).ok()?, 0)
                    .map(time::format_timestamp)
            }),
            last_error,
            halted: halt.is_some(),
            lag: size.saturating_sub(cosigned_size),
        });
    }
    Ok(Json(WitnessesView {
        size,
        quorum: policy.quorum,
        witnesses,
    }))
}
