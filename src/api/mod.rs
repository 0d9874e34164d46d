//! The HTTP interface (spec §9). [`app`] builds the router from its state; [`serve`] runs it on
//! a listener until a shutdown signal (through [`server::serve`], the accept loop with its
//! limits on clients), so tests can drive the same router in-process or over a real socket.

pub mod auth;
mod catalogue;
mod chains;
mod compliance;
mod containers;
pub mod error;
mod events;
mod facilities;
mod ledger;
mod manifests;
mod ops;
mod proofs;
pub mod server;
mod stats;
mod tickets;
pub mod tlog;
pub mod tls;
pub mod web;
mod witnesses;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ed25519_dalek::SigningKey;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::de::DeserializeOwned;
use tower_http::trace::TraceLayer;

use crate::protocol::checkpoint;
use crate::sequencer::SequencerHandle;
use crate::store::Store;
pub use error::{ApiError, ApiResult, Problem};
pub use server::ServeLimits;

/// Largest request body accepted (spec §9).
pub const MAX_BODY: usize = 1 << 20;

/// Facts about the ledger fixed at genesis.
pub struct LedgerInfo {
    pub origin: String,
    pub key: SigningKey,
    pub verifier_key: String,
}

impl LedgerInfo {
    pub fn new(origin: String, key: SigningKey) -> LedgerInfo {
        let verifier_key = checkpoint::verifier_key(&origin, &key.verifying_key());
        LedgerInfo {
            origin,
            key,
            verifier_key,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub sequencer: SequencerHandle,
    pub ledger: Arc<LedgerInfo>,
    pub metrics: PrometheusHandle,
    /// Read tokens already verified (see [`auth`]).
    pub tokens: Arc<auth::TokenCache>,
    /// Where the web console's files come from.
    pub web: web::WebSource,
    /// Each org's share of replays of earlier prefixes (`--replays-per-minute`).
    pub replays: Arc<ReplayLimit>,
    /// What this process knows of each witness it submits checkpoints to (§5a).
    pub witnesses: Arc<crate::witnessing::Board>,
}

/// A sliding one-minute window of replays per org: a figure of an earlier ledger size or time
/// replays the ledger from its start, which costs seconds to minutes of a core and a second copy
/// of the state, so each org that does not regulate may ask for at most `per_minute` of them a
/// minute. Regulators, who audit past figures and reports in series, are not rationed; for
/// everyone the replays themselves run one at a time per process.
#[derive(Debug)]
pub struct ReplayLimit {
    per_minute: usize,
    recent: std::sync::Mutex<
        std::collections::HashMap<String, std::collections::VecDeque<std::time::Instant>>,
    >,
}

impl Default for ReplayLimit {
    fn default() -> Self {
        ReplayLimit::new(DEFAULT_REPLAYS_PER_MINUTE)
    }
}

/// The default of `hwledger serve --replays-per-minute`.
pub const DEFAULT_REPLAYS_PER_MINUTE: usize = 6;

impl ReplayLimit {
    pub fn new(per_minute: usize) -> Self {
        ReplayLimit {
            per_minute: per_minute.max(1),
            recent: Default::default(),
        }
    }

    /// Counts a replay for `org`, or says in how many seconds it may ask again.
    pub fn take(&self, org: &str) -> Result<(), ApiError> {
        let now = std::time::Instant::now();
        let window = std::time::Duration::from_secs(60);
        let mut recent = self
            .recent
            .lock()
            .expect("the replay counts are never poisoned");
        // Forget orgs whose replays all left the window, so the map stays small.
        if recent.len() > 10_000 {
            recent.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let times = recent.entry(org.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() >= self.per_minute {
            let oldest = *times.front().expect("the window is full");
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Err(ApiError::RateLimited(wait.as_secs().max(1)));
        }
        times.push_back(now);
        Ok(())
    }
}

/// The process-wide Prometheus recorder (installed once, shared by every router in a process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("seconds".into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0,
                    ],
                )
                .expect("static buckets are valid")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

/// The router of the whole service.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(web::routes(state.web.clone()))
        .route("/v1/events", post(events::post_events))
        .route("/v1/entries", get(ledger::list_entries))
        .route("/v1/entries/{seq}", get(ledger::get_entry))
        .route("/v1/checkpoint", get(ledger::latest_checkpoint))
        .route("/v1/checkpoints/{size}", get(ledger::checkpoint_at))
        .route("/v1/tlog/checkpoint", get(tlog::checkpoint))
        .route("/v1/tlog/checkpoints/{size}", get(tlog::checkpoint_at))
        .route("/v1/tlog/tile/{*tile}", get(tlog::tile))
        .route("/v1/witnesses", get(witnesses::list_witnesses))
        .route("/v1/proofs/inclusion", get(proofs::inclusion))
        .route("/v1/proofs/consistency", get(proofs::consistency))
        .route("/v1/ledger", get(ledger::ledger_info))
        .route("/v1/orgs", get(ledger::list_orgs))
        .route("/v1/orgs/{org}", get(ledger::get_org))
        .route("/v1/licenses", get(manifests::list_licences))
        .route("/v1/licenses/{license}", get(manifests::get_licence))
        .route("/v1/facilities", get(facilities::list_facilities))
        .route(
            "/v1/facilities/{org}/{facility}",
            get(facilities::get_facility),
        )
        .route("/v1/stock", get(manifests::get_stock))
        .route("/v1/containers/{id}", get(containers::get_container))
        .route("/v1/manifests", get(manifests::list_manifests))
        .route("/v1/manifests/{id}", get(manifests::get_manifest))
        .route("/v1/chains/{id}", get(chains::get_chains))
        .route("/v1/tickets", get(tickets::list_tickets))
        .route("/v1/tickets.csv", get(tickets::tickets_csv))
        .route("/v1/tickets/{id}", get(tickets::get_ticket))
        .route("/v1/stats/disposal", get(stats::disposal))
        .route("/v1/plans/{org}/{year}", get(compliance::get_plan))
        .route("/v1/declarations/{org}", get(compliance::list_declarations))
        .route(
            "/v1/reports/declaration",
            get(compliance::declaration_report),
        )
        .route(
            "/v1/reports/declaration.csv",
            get(compliance::declaration_csv),
        )
        .route("/v1/catalogue/codes", get(catalogue::codes))
        .route("/v1/catalogue/methods", get(catalogue::methods))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(refuse_nul))
        .layer(axum::middleware::from_fn(web::security_headers))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str)
                    .unwrap_or("unmatched");
                tracing::info_span!("request", method = %req.method(), route)
            }),
        )
        .with_state(state)
}

/// Serves `app` over plain HTTP on `listener` with the default [`ServeLimits`] until `shutdown`
/// resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve(listener, app, None, ServeLimits::default(), shutdown).await
}

/// Refuses a request whose path or query string holds an encoded U+0000 (`%00`), before any
/// handler sees it: no identifier, filter or name of the protocol holds one (events with one are
/// refused, §3), and databases differ in what they do with one (PostgreSQL refuses it in text,
/// which would surface as a 500). A path with one names nothing (404 `not_found`); a query
/// parameter with one is invalid (400 `invalid_query`).
async fn refuse_nul(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let has_nul = |s: &str| {
        s.as_bytes()
            .windows(3)
            .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
    };
    if has_nul(req.uri().path()) {
        return ApiError::NotFound("a path holding U+0000:".into()).into_response();
    }
    if req.uri().query().is_some_and(has_nul) {
        return ApiError::InvalidQuery("a parameter holds U+0000".into()).into_response();
    }
    next.run(req).await
}

/// A query string extractor whose failures are `invalid_query` problems. Unknown parameters are
/// refused too: a misspelt filter silently ignored would give a wrong figure.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(q)
            .map(Query)
            .map_err(|e| ApiError::InvalidQuery(e.to_string()))
    }
}
