//! Merkle proofs (spec §5, RFC 9162 §2.1.3–2.1.4): inclusion of an entry in the tree of a size,
//! and consistency between two sizes.
//!
//! Proofs are assembled from the stored perfect-subtree nodes: every node a proof or a root at
//! a size up to the head needs is complete by then, and the sequencer stores each node in the
//! transaction that completes it. One proof reads the head (unless the size is given and this
//! process has already seen a head that large), O(log n) nodes in one query and, for
//! inclusion, the entry's hash, concurrently when the size is given; no leaf is ever rehashed.

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
    let store = &state.store;
    let out_of_tree = |size: u64| {
        ApiError::InvalidQuery(format!(
            "seq {seq} is not in the tree of size {size}: it needs seq < size"
        ))
    };
    // With the size given, the head, the entry's hash and the nodes are read at once; the
    // head decides afterwards whether the others count. Without it, the head comes first.
    let (size, head, leaf, nodes) = match size {
        Some(size) => {
            if seq >= size {
                return Err(out_of_tree(size));
            }
            if !storable(size) {
                return Err(beyond("size", size, head_size(store).await?));
            }
            let (head, leaf, nodes) = tokio::join!(
                head_covering(&state, size),
                store.entry_hash(seq),
                fetch_nodes(store, inclusion_plan(seq, size)?)
            );
            (size, head?, leaf, nodes)
        }
        None => {
            let head = head_size(store).await?;
            if seq >= head {
                return Err(out_of_tree(head));
            }
            let (leaf, nodes) = tokio::join!(
                store.entry_hash(seq),
                fetch_nodes(store, inclusion_plan(seq, head)?)
            );
            (head, head, leaf, nodes)
        }
    };
    if size > head {
        return Err(beyond("size", size, head));
    }
    let nodes = nodes?;
    let get = |id| nodes.get(&id).copied();
    let proof = merkle::inclusion_proof(seq, size, get).map_err(damaged)?;
    let root = merkle::root_from(size, get).map_err(damaged)?;
    let leaf = leaf?.ok_or_else(|| anyhow::anyhow!("entry {seq} below the head is missing"))?;
    Ok(Json(InclusionProof {
        seq,
        size,
        leaf: hex::encode(leaf),
        root: hex::encode(root),
        proof: hexes(proof),
    }))
}

fn inclusion_plan(seq: u64, size: u64) -> ApiResult<Vec<NodeId>> {
    let path = merkle::inclusion_nodes(seq, size).map_err(damaged)?;
    Ok(path.into_iter().chain(merkle::root_nodes(size)).collect())
}

/// Whether a size can be a stored one at all (the database keeps seqs and indexes as signed
/// 64-bit integers); a larger one is beyond the head without asking the database for nodes.
pub(super) fn storable(size: u64) -> bool {
    i64::try_from(size).is_ok()
}

async fn head_size(store: &Store) -> ApiResult<u64> {
    Ok(store.head().await?.size)
}

/// A head size of at least `size`, if there is one: this process's own head when it already
/// covers `size` (heads only grow, so the database's is no smaller), otherwise the database's.
/// Proofs for sizes this process has seen cost no read of the head.
async fn head_covering(state: &AppState, size: u64) -> ApiResult<u64> {
    let known = state.sequencer.head().size;
    if size <= known {
        Ok(known)
    } else {
        head_size(&state.store).await
    }
}

fn beyond(name: &str, size: u64, head: u64) -> ApiError {
    ApiError::InvalidQuery(format!("{name} {size} is beyond the ledger's size {head}"))
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
    if from == 0 {
        return Err(ApiError::InvalidQuery(
            "from must be at least 1: every tree extends the empty one".into(),
        ));
    }
    let store = &state.store;
    let larger = |to: u64| ApiError::InvalidQuery(format!("from {from} is larger than to {to}"));
    let (to, head, nodes) = match to {
        Some(to) => {
            if from > to {
                return Err(larger(to));
            }
            if !storable(to) {
                return Err(beyond("to", to, head_size(store).await?));
            }
            let (head, nodes) = tokio::join!(
                head_covering(&state, to),
                fetch_nodes(store, consistency_plan(from, to)?)
            );
            (to, head?, nodes)
        }
        None => {
            let head = head_size(store).await?;
            if from > head {
                return Err(larger(head));
            }
            (
                head,
                head,
                fetch_nodes(store, consistency_plan(from, head)?).await,
            )
        }
    };
    if to > head {
        return Err(beyond("to", to, head));
    }
    let nodes = nodes?;
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

fn consistency_plan(from: u64, to: u64) -> ApiResult<Vec<NodeId>> {
    let plan = merkle::consistency_nodes(from, to).map_err(damaged)?;
    Ok(plan
        .into_iter()
        .chain(merkle::root_nodes(from))
        .chain(merkle::root_nodes(to))
        .collect())
}
