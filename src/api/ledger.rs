//! Reads of the ledger itself: entries, checkpoints, the ledger's identity, the registry.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Caller;
use super::{ApiError, ApiResult, AppState, Query};
use crate::domain::state::Role;
use crate::protocol::checkpoint::Checkpoint;
use crate::protocol::event::EntryView;
use crate::store::{OrgFilter, OrgView};

/// Most entries one page holds, and the default.
pub const MAX_ENTRIES: u64 = 1000;
pub const DEFAULT_ENTRIES: u64 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    from: Option<u64>,
    limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct EntriesPage {
    /// The live size of the ledger.
    size: u64,
    #[schema(value_type = Vec<Object>)]
    entries: Vec<EntryView>,
}

/// Entries in seq order from `from` (default 0), at most `limit` (default 100, at most 1000).
/// Regulators only: to other orgs this path does not exist (404).
#[utoipa::path(get, path = "/v1/entries", tag = "ledger", security(("bearer" = [])),
    params(("from" = Option<u64>, Query, description = "first seq"), ("limit" = Option<u64>, Query, description = "1 to 1000, default 100")),
    responses((status = 200, body = EntriesPage), (status = 400, body = super::Problem, description = "invalid_query"),
              (status = 401, body = super::Problem, description = "token_*"), (status = 404, body = super::Problem, description = "not a regulator")))]
pub async fn list_entries(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<EntriesQuery>,
) -> ApiResult<Json<EntriesPage>> {
    caller.require_regulator()?;
    let limit = q.limit.unwrap_or(DEFAULT_ENTRIES);
    if !(1..=MAX_ENTRIES).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!(
            "limit must be 1 to {MAX_ENTRIES}"
        )));
    }
    let head = state.store.head().await?;
    let entries = state.store.entries(q.from.unwrap_or(0), limit).await?;
    Ok(Json(EntriesPage {
        size: head.size,
        entries: entries.iter().map(|e| e.view()).collect(),
    }))
}

/// One entry by seq. Regulators read every entry; another org reads the entries it signed and
/// those of the manifests and tickets it may read (so that a party can prove its own filings);
/// any other entry is 404, as if it did not exist.
#[utoipa::path(get, path = "/v1/entries/{seq}", tag = "ledger", security(("bearer" = [])),
    params(("seq" = u64, Path, description = "the entry's seq")),
    responses((status = 200, description = "the entry with its hash"), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem)))]
pub async fn get_entry(
    caller: Caller,
    State(state): State<AppState>,
    Path(seq): Path<String>,
) -> ApiResult<Json<EntryView>> {
    let not_found = || ApiError::NotFound(format!("entry {seq}"));
    let n: u64 = seq.parse().map_err(|_| not_found())?;
    let entry = state.store.entry(n).await?.ok_or_else(not_found)?;
    if !may_read_entry(&caller, &state, &entry.event()).await? {
        return Err(not_found());
    }
    Ok(Json(entry.view()))
}

/// Whether `caller` may read the entry of `event`: regulators always; another org when it is
/// the actor, the event registers it or its keys or declares its waste, or the event is about a
/// manifest or ticket it may read.
async fn may_read_entry(caller: &Caller, state: &AppState, event: &Value) -> ApiResult<bool> {
    if caller.regulator || event["actor"].as_str() == Some(caller.org.as_str()) {
        return Ok(true);
    }
    let kind = event["type"].as_str().unwrap_or_default();
    let body = &event["body"];
    let names_caller = |field: &str| body[field].as_str() == Some(caller.org.as_str());
    if kind.starts_with("org.") {
        return Ok(names_caller("org"));
    }
    if kind == "waste.declared" {
        return Ok(names_caller("generator"));
    }
    if kind.starts_with("manifest.") {
        if let Some(id) = body["manifest"].as_str() {
            let m = state.store.manifest(id).await?;
            return Ok(m.is_some_and(|m| caller.may_read_manifest(&m)));
        }
    } else if kind.starts_with("ticket.") {
        if let Some(id) = body["ticket"]
            .as_str()
            .and_then(|t| Uuid::parse_str(t).ok())
        {
            let t = state.store.ticket(&id, super::tickets::today()).await?;
            return Ok(t.is_some_and(|t| caller.may_read_ticket(&t)));
        }
    }
    Ok(false)
}

/// The latest checkpoint: a C2SP signed note over the tree of every entry.
#[utoipa::path(get, path = "/v1/checkpoint", tag = "ledger",
    responses((status = 200, description = "signed note", content_type = "text/plain")))]
pub async fn latest_checkpoint(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let note = latest_note(&state).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note))
}

/// The signed checkpoint of the database's head.
pub(super) async fn latest_note(state: &AppState) -> ApiResult<String> {
    let head = state.store.head().await?;
    Ok(Checkpoint {
        origin: state.ledger.origin.clone(),
        size: head.size,
        root: head.root,
    }
    .sign(&state.ledger.key))
}

/// The signed checkpoint of the tree of `size` entries, for any size up to the head. Signatures
/// are deterministic, so the same size always gives the same bytes, from any process.
#[utoipa::path(get, path = "/v1/checkpoints/{size}", tag = "ledger",
    params(("size" = u64, Path, description = "tree size, 0 to the head")),
    responses((status = 200, description = "signed note", content_type = "text/plain"),
        (status = 404, body = super::Problem, description = "not_found: the size is beyond the head, or not a number")))]
pub async fn checkpoint_at(
    State(state): State<AppState>,
    Path(size): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let note = note_at(&state, &size, 0).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note))
}

/// The signed checkpoint of the size written `size` (decimal, no leading zeros), from `min` to
/// the head; anything else is 404.
pub(super) async fn note_at(state: &AppState, size: &str, min: u64) -> ApiResult<String> {
    let not_found = || ApiError::NotFound(format!("checkpoint of size {size}"));
    let canonical =
        size.bytes().all(|b| b.is_ascii_digit()) && (size == "0" || !size.starts_with('0'));
    let n: u64 = size
        .parse()
        .ok()
        .filter(|&n| canonical && n >= min && super::proofs::storable(n))
        .ok_or_else(not_found)?;
    // Both reads at once; the head decides whether the root counts (beyond it, nodes are
    // missing).
    let (head, root) = tokio::join!(state.store.head(), super::proofs::root_at(&state.store, n));
    if n > head?.size {
        return Err(not_found());
    }
    let root = root?;
    Ok(Checkpoint {
        origin: state.ledger.origin.clone(),
        size: n,
        root,
    }
    .sign(&state.ledger.key))
}

#[derive(Serialize, ToSchema)]
pub struct LedgerView {
    origin: String,
    size: u64,
    root: String,
    ledger_key: String,
    verifier_key: String,
    #[schema(value_type = Object)]
    limits: Value,
}

/// The ledger's identity, live size and root, and the limits in force.
#[utoipa::path(get, path = "/v1/ledger", tag = "ledger", responses((status = 200, body = LedgerView)))]
pub async fn ledger_info(State(state): State<AppState>) -> ApiResult<Json<LedgerView>> {
    let head = state.store.head().await?;
    let limits = state.store.limits_in_force().await?;
    Ok(Json(LedgerView {
        origin: state.ledger.origin.clone(),
        size: head.size,
        root: hex::encode(head.root),
        ledger_key: hex::encode(state.ledger.key.verifying_key().to_bytes()),
        verifier_key: state.ledger.verifier_key.clone(),
        limits: limits
            .map(|l| serde_json::to_value(l).expect("limits serialise"))
            .unwrap_or(Value::Null),
    }))
}

/// An org's management class (管理类别) for a CST year.
#[derive(Serialize, ToSchema)]
pub struct ClassView {
    year: i32,
    /// `key` 重点监管, `simplified` 简化管理 or `registered` 登记管理.
    class: String,
    /// Whether a regulator set it (`org.class_set`), rather than the ledger deriving it.
    set: bool,
}

impl ClassView {
    fn of(year: i32, c: crate::domain::compliance::ClassOf) -> ClassView {
        ClassView {
            year,
            class: c.class.as_str().to_owned(),
            set: c.set,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrgWithClass {
    #[serde(flatten)]
    org: OrgView,
    /// Its class for the current CST year.
    class: ClassView,
}

/// A registered organisation, its keys and its management class for the current CST year
/// (public to every registered org).
#[utoipa::path(get, path = "/v1/orgs/{org}", tag = "registry", security(("bearer" = [])),
    params(("org" = String, Path, description = "unified social credit code")),
    responses((status = 200, body = OrgWithClass), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem)))]
pub async fn get_org(
    _caller: Caller,
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> ApiResult<Json<OrgWithClass>> {
    let view = state
        .store
        .org(&org)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("organisation {org}")))?;
    let year = crate::protocol::time::cst_year(chrono::Utc::now());
    let class = state.sequencer.state().await.class_of(&org, year);
    Ok(Json(OrgWithClass {
        org: view,
        class: ClassView::of(year, class),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgsQuery {
    role: Option<String>,
    region: Option<String>,
    limit: Option<u64>,
    after: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrgPage {
    orgs: Vec<OrgWithClass>,
    /// Pass as `after` for the next page; null on the last page.
    next: Option<String>,
}

/// The registry in registration order, by role and by region prefix (public to every
/// registered org, as one org is).
#[utoipa::path(get, path = "/v1/orgs", tag = "registry", security(("bearer" = [])),
    params(("role" = Option<String>, Query, description = "regulator, generator, carrier or receiver"),
           ("region" = Option<String>, Query, description = "1 to 6 digits: a prefix of the region code (32: a province, 3204: a city)"),
           ("limit" = Option<u64>, Query, description = "1 to 1000, default 100"),
           ("after" = Option<String>, Query, description = "the `next` of the previous page")),
    responses((status = 200, body = OrgPage), (status = 400, body = super::Problem, description = "invalid_query"),
              (status = 401, body = super::Problem, description = "token_*")))]
pub async fn list_orgs(
    _caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<OrgsQuery>,
) -> ApiResult<Json<OrgPage>> {
    let role = q
        .role
        .map(|r| {
            Role::parse(&r).ok_or_else(|| {
                ApiError::InvalidQuery(format!(
                    "role: {r} is not regulator, generator, carrier or receiver"
                ))
            })
        })
        .transpose()?;
    if let Some(r) = &q.region {
        if !(1..=6).contains(&r.len()) || !r.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::InvalidQuery(
                "region: give 1 to 6 digits of a region code".into(),
            ));
        }
    }
    let limit = super::manifests::page_limit(q.limit)?;
    let filter = OrgFilter {
        role,
        region: q.region,
        after: super::manifests::cursor(q.after.as_deref())?,
        limit,
    };
    let orgs = state.store.orgs(&filter).await?;
    let next = (orgs.len() as u64 == limit)
        .then(|| orgs.last().map(|o| o.registered_seq.to_string()))
        .flatten();
    let year = crate::protocol::time::cst_year(chrono::Utc::now());
    let classes = state
        .sequencer
        .state()
        .await
        .classes_of(orgs.iter().map(|o| o.org.as_str()), year);
    let orgs = orgs
        .into_iter()
        .zip(classes)
        .map(|(org, class)| OrgWithClass {
            org,
            class: ClassView::of(year, class),
        })
        .collect();
    Ok(Json(OrgPage { orgs, next }))
}
