//! Merkle proofs (spec §5, RFC 9162 §2.1.3–2.1.4): inclusion of an entry in the tree of a size,
//! and consistency between two sizes.
//!
//! Proofs are assembled from the stored perfect-subtree nodes: every node a proof or a root at
//! a size up to the head needs is complete by then, and the sequencer stores each node in the
//! transaction that completes it. One proof reads the head, O(log n) nodes in one query and,
//! for inclusion, the entry's hash; no leaf is ever rehashed.

use std::collections::{BTreeSet, HashMap};

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiResult, AppState, Query};
use crate::protocol::event::Hash;
use crate::protocol::merkle::{self, NodeId};
use crate::store::Store;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    seq: Option<String>,
    size: Option<String>,
}

/// An inclusion proof of entry `seq` in the tree of `size` entries with root `root`.
#[derive(Serialize, ToSchema)]
pub struct InclusionProof {
    seq: u64,
    size: u64,
    /// The entry hash (hex); the tree's leaf is SHA-256(0x00 ‖ entry hash).
    leaf: String,
    root: String,
    /// RFC 9162 §2.1.3.1 audit path, leaf end first.
    proof: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A consistency proof from the tree of `from` entries to the tree of `to` entries.
#[derive(Serialize, ToSchema)]
pub struct ConsistencyProof {
    from: u64,
    to: u64,
    root_from: String,
    root_to: String,
    /// RFC 9162 §2.1.4.1 proof.
    proof: Vec<String>,
}

/// Reads the stored nodes `ids` in one query.
pub(super) async fn fetch_nodes(
    store: &Store,
    ids: impl IntoIterator<Item = NodeId>,
) -> ApiResult<HashMap<NodeId, Hash>> {
    let ids: Vec<NodeId> = ids
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(store.tree_nodes(&ids).await?)
}

/// A node the plan named is missing: the stored tree is damaged, which is the service's fault.
fn damaged(e: merkle::ProofError) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("stored tree: {e}"))
}

/// The root of the tree of `size` entries, from the stored nodes.
pub(super) async fn root_at(store: &Store, size: u64) -> ApiResult<Hash> {
    let nodes = fetch_nodes(store, merkle::root_nodes(size)).await?;
    merkle::root_from(size, |id| nodes.get(&id).copied()).map_err(damaged)
}

/// A query parameter as a tree size or seq, with a message that names it.
fn number(name: &str, value: Option<&str>) -> ApiResult<Option<u64>> {
    let Some(v) = value else { return Ok(None) };
    let canonical = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    match v.parse() {
        Ok(n) if canonical => Ok(Some(n)),
        _ => Err(ApiError::InvalidQuery(format!(
            "{name} must be a decimal number from 0 to 2^64 − 1, not {v:?}"
        ))),
    }
}

fn required(name: &str, value: Option<&str>) -> ApiResult<u64> {
    number(name, value)?.ok_or_else(|| ApiError::InvalidQuery(format!("{name} is required")))
}

fn hexes(hashes: Vec<Hash>) -> Vec<String> {
    hashes.into_iter().map(hex::encode).collect()
}

/// Proves that entry `seq` is in the tree of `size` entries (default: the latest checkpoint's).
#[utoipa::path(get, path = "/v1/proofs/inclusion", tag = "proofs",
    params(
        ("seq" = u64, Query, description = "the entry's seq"),
        ("size" = Option<u64>, Query, description = "tree size, seq < size ≤ head; default the latest checkpoint's")),
    responses((status = 200, body = InclusionProof),
        (status = 400, body = super::Problem, description = "invalid_query: a missing or non-numeric parameter, seq ≥ size, or size beyond the head")))]
pub async fn inclusion(
    State(state): State<AppState>,
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Json<InclusionProof>> {
    let seq = required("seq", q.seq.as_deref())?;
    let size = number("size", q.size.as_deref())?;
    let head = state.store.head().await?;
    let size = size.unwrap_or(head.size);
    if size > head.size {
        return Err(ApiError::InvalidQuery(format!(
            "size {size} is beyond the ledger's size {}",
            head.size
        )));
    }
    if seq >= size {
        return Err(ApiError::InvalidQuery(format!(
            "seq {seq} is not in the tree of size {size}: it needs seq < size"
        )));
    }
    let path = merkle::inclusion_nodes(seq, size).map_err(damaged)?;
    let nodes = fetch_nodes(
        &state.store,
        path.into_iter().chain(merkle::root_nodes(size)),
    )
    .await?;
    let get = |id| nodes.get(&id).copied();
    let proof = merkle::inclusion_proof(seq, size, get).map_err(damaged)?;
    let root = merkle::root_from(size, get).map_err(damaged)?;
    let leaf = state
        .store
        .entry_hash(seq)
        .await?
        .ok_or_else(|| anyhow::anyhow!("entry {} below the head is missing", seq))?;
    Ok(Json(InclusionProof {
        seq,
        size,
        leaf: hex::encode(leaf),
        root: hex::encode(root),
        proof: hexes(proof),
    }))
}

/// Proves that the tree of `from` entries is a prefix of the tree of `to` entries (default: the
/// latest checkpoint's size).
#[utoipa::path(get, path = "/v1/proofs/consistency", tag = "proofs",
    params(
        ("from" = u64, Query, description = "the older size, 0 < from ≤ to"),
        ("to" = Option<u64>, Query, description = "the newer size, at most the head; default the latest checkpoint's")),
    responses((status = 200, body = ConsistencyProof),
        (status = 400, body = super::Problem, description = "invalid_query: a missing or non-numeric parameter, from = 0, from > to, or to beyond the head")))]
pub async fn consistency(
    State(state): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    let from = required("from", q.from.as_deref())?;
    let to = number("to", q.to.as_deref())?;
    let head = state.store.head().await?;
    let to = to.unwrap_or(head.size);
    if to > head.size {
        return Err(ApiError::InvalidQuery(format!(
            "to {to} is beyond the ledger's size {}",
            head.size
        )));
    }
    if from == 0 {
        return Err(ApiError::InvalidQuery(
            "from must be at least 1: every tree extends the empty one".into(),
        ));
    }
    if from > to {
        return Err(ApiError::InvalidQuery(format!(
            "from {from} is larger than to {to}"
        )));
    }
    let plan = merkle::consistency_nodes(from, to).map_err(damaged)?;
    let nodes = fetch_nodes(
        &state.store,
        plan.into_iter()
            .chain(merkle::root_nodes(from))
            .chain(merkle::root_nodes(to)),
    )
    .await?;
    let get = |id| nodes.get(&id).copied();
    let proof = merkle::consistency_proof(from, to, get).map_err(damaged)?;
    Ok(Json(ConsistencyProof {
        from,
        to,
        root_from: hex::encode(merkle::root_from(from, get).map_err(damaged)?),
        root_to: hex::encode(merkle::root_from(to, get).map_err(damaged)?),
        proof: hexes(proof),
    }))
}
