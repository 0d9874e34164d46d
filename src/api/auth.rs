//! Read access (spec §9): who is calling, from the bearer token an org signs itself, and what
//! that org may see.
//!
//! A handler that serves a protected read takes a [`Caller`] as its first argument; public reads
//! (checkpoints, proofs, the ledger's identity, the catalogue, operations) do not. The token's
//! own checks are in [`crate::protocol::token`]; here the service adds the key check against the
//! registry's query table (`org_keys`, committed with the entries, so it holds for every process
//! on the database and never waits on the writer), and remembers tokens whose signature it has
//! verified, so that a client reusing its token costs a hash and one indexed read rather than an
//! Ed25519 verification. Revocation is still read on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};

use super::{ApiError, ApiResult, AppState};
use crate::protocol::token::{self, TokenError, TokenErrorCode};
use crate::store::{ManifestView, TicketView};

pub use crate::protocol::token::mint;

/// How many verified tokens are remembered. A token lives at most 11 minutes (600 s and the
/// skew), so this is the number of distinct tokens in use at once that stay fast.
const CACHE_CAPACITY: usize = 8192;

/// The org a read is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub org: String,
    /// The org has the role `regulator`, and reads everything.
    pub regulator: bool,
}

impl Caller {
    /// `/v1/entries` is for regulators; to anyone else it does not exist, and answers as the
    /// router does for an unknown path.
    pub fn require_regulator(&self) -> ApiResult<()> {
        if self.regulator {
            Ok(())
        } else {
            Err(ApiError::NotFound("route".into()))
        }
    }

    /// Regulators read everything; another org only its own (the org it names, if any).
    pub fn is_or_regulates(&self, org: &str) -> bool {
        self.regulator || self.org == org
    }

    /// Regulators, and the manifest's generator, carrier and receiver.
    pub fn may_read_manifest(&self, m: &ManifestView) -> bool {
        self.regulator || [&m.generator, &m.carrier, &m.receiver].contains(&&self.org)
    }

    /// Regulators, the ticket's subject org and responsible org, and the parties of its subject
    /// manifest.
    pub fn may_read_ticket(&self, t: &TicketView) -> bool {
        let me = Some(self.org.as_str());
        self.regulator
            || t.subject.org.as_deref() == me
            || t.responsible.as_deref() == me
            || t.manifest
                .as_ref()
                .is_some_and(|m| [&m.generator, &m.carrier, &m.receiver].contains(&&self.org))
    }

    /// The org a non-regulator's list is restricted to; `None` for regulators.
    pub fn restriction(&self) -> Option<String> {
        (!self.regulator).then(|| self.org.clone())
    }
}

/// What a token said, once everything about it but its time window and key was checked.
#[derive(Debug)]
struct Verified {
    org: String,
    kid: String,
    iat: i64,
    exp: i64,
}

/// Tokens whose form, audience, lifetime and signature were verified, by SHA-256 of the token.
#[derive(Default)]
pub struct TokenCache {
    map: Mutex<HashMap<[u8; 32], Arc<Verified>>>,
}

impl TokenCache {
    fn get(&self, digest: &[u8; 32]) -> Option<Arc<Verified>> {
        self.map
            .lock()
            .expect("the token cache is never poisoned")
            .get(digest)
            .cloned()
    }

    /// Remembers a token. When full, tokens past their expiry go first; if every token is still
    /// live, the cache starts over (the tokens are verified again at their next use).
    fn put(&self, digest: [u8; 32], v: Verified, now: i64) {
        let mut map = self.map.lock().expect("the token cache is never poisoned");
        if map.len() >= CACHE_CAPACITY {
            map.retain(|_, t| token::check_time(t.iat, t.exp, now).is_ok());
            if map.len() >= CACHE_CAPACITY {
                map.clear();
            }
        }
        map.insert(digest, Arc::new(v));
    }
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Result<&str, TokenError> {
    let missing = |detail: &str| TokenError::new(TokenErrorCode::Missing, detail);
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(missing(
            "this read needs an Authorization: Bearer header with a token the org signs (hwledger token)",
        ));
    };
    let value = value.to_str().map_err(|_| {
        TokenError::new(
            TokenErrorCode::Malformed,
            "the Authorization header is not visible ASCII",
        )
    })?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing("the Authorization header's scheme is not Bearer"));
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(missing("the Authorization header holds no token"));
    }
    Ok(token)
}

/// Checks the key a token names: registered, not revoked, and of the token's issuer.
async fn key_check(state: &AppState, org: &str, kid: &str) -> ApiResult<Caller> {
    let refuse = |detail: String| ApiError::Token(TokenError::new(TokenErrorCode::Key, detail));
    match state.store.key_holder(kid).await? {
        None => Err(refuse(format!("key {kid} is not registered"))),
        Some(h) if h.org != org => Err(refuse(format!("key {kid} is not a key of {org}"))),
        Some(h) if h.revoked => Err(refuse(format!("key {kid} is revoked"))),
        Some(h) => Ok(Caller {
            org: h.org,
            regulator: h.regulator,
        }),
    }
}

/// Authenticates a read: the checks of `docs/protocol.md` in their order.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let result = check(state, headers).await;
    if let Err(ApiError::Token(e)) = &result {
        metrics::counter!("hwledger_token_refusals_total", "code" => e.code.as_str()).increment(1);
    }
    result
}

async fn check(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let raw = bearer(headers)?;
    let now = chrono::Utc::now().timestamp();
    let digest: [u8; 32] = Sha256::digest(raw.as_bytes()).into();
    if let Some(v) = state.tokens.get(&digest) {
        // Everything before the time window held when it was cached and depends on the bytes
        // alone, and so does the signature: the first check that can fail now is the window.
        token::check_time(v.iat, v.exp, now)?;
        return key_check(state, &v.org, &v.kid).await;
    }
    let parsed = token::parse(raw, &state.ledger.origin)?;
    token::check_time(parsed.iat, parsed.exp, now)?;
    let kid = hex::encode(parsed.kid);
    let caller = key_check(state, &parsed.org, &kid).await?;
    let verified = Verified {
        org: parsed.org.clone(),
        kid,
        iat: parsed.iat,
        exp: parsed.exp,
    };
    // Ed25519 on the blocking pool, off the threads that serve requests.
    let ok = tokio::task::spawn_blocking(move || parsed.signature_ok())
        .await
        .map_err(|e| anyhow::anyhow!("the signature check did not finish: {e}"))?;
    if !ok {
        return Err(token::Parsed::signature_error().into());
    }
    state.tokens.put(digest, verified, now);
    Ok(caller)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        authenticate(state, &parts.headers).await
    }
}
