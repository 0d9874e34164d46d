//! The one error type of the HTTP layer, rendered as RFC 9457 problem documents.
//!
//! Internal failures are logged here, once, with their cause, and shown to the client as a bare
//! 500 so that nothing about the database or the host leaks.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::rejection::Rejection;
use crate::protocol::token::{TokenError, TokenErrorCode};

/// An RFC 9457 problem document with the protocol's stable `code`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
}

impl Problem {
    pub fn new(status: u16, code: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:hwledger:problem:{code}"),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            code: code.to_owned(),
        }
    }

    pub fn from_rejection(r: &Rejection) -> Problem {
        Problem::new(r.status, r.code.as_str(), r.code.title(), &r.detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).expect("problems serialise");
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Rejected(Rejection),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("request body over 1 MiB")]
    BodyTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// A read without a usable bearer token (401).
    #[error("{0}")]
    Token(TokenError),
    /// The writer's queue is full (503, with `Retry-After`): nothing was queued.
    #[error("the writer's queue is full")]
    Overloaded,
    /// The request was not answered within the request timeout of `hwledger serve` (503).
    #[error("no answer within {} s", .0.as_secs_f64())]
    Timeout(std::time::Duration),
    /// The caller asked for more replays of earlier prefixes than its share (429, with
    /// `Retry-After` in seconds).
    #[error("too many replays; retry in {0} s")]
    RateLimited(u64),
    /// No checkpoint carries the cosignatures the witness policy asks for yet (503, with
    /// `Retry-After`).
    #[error("{0}")]
    QuorumNotMet(String),
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// Seconds a client is asked to wait before resending after `overloaded`.
pub const RETRY_AFTER_S: u32 = 1;

/// Any failure; the writer's [`Overloaded`](crate::sequencer::Overloaded) keeps its meaning
/// (503 `overloaded`), everything else is internal (500).
impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        if e.is::<crate::sequencer::Overloaded>() {
            ApiError::Overloaded
        } else {
            ApiError::Internal(e)
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        ApiError::Rejected(r)
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        ApiError::Token(e)
    }
}

impl ApiError {
    pub fn problem(&self) -> Problem {
        match self {
            ApiError::Rejected(r) => Problem::from_rejection(r),
            ApiError::NotFound(what) => {
                Problem::new(404, "not_found", "Not found", format!("{what} not found"))
            }
            ApiError::BodyTooLarge => Problem::new(
                413,
                "body_too_large",
                "Request body too large",
                "request bodies are limited to 1 MiB",
            ),
            ApiError::UnsupportedMediaType => Problem::new(
                415,
                "unsupported_media_type",
                "Unsupported media type",
                "the body must be application/json",
            ),
            ApiError::InvalidQuery(detail) => {
                Problem::new(400, "invalid_query", "Invalid query parameter", detail)
            }
            ApiError::Token(e) => Problem::new(401, e.code.as_str(), e.code.title(), &e.detail),
            ApiError::Overloaded => Problem::new(
                503,
                "overloaded",
                "Overloaded",
                format!(
                    "the writer's queue is full; nothing of this request was recorded: send it \
                     again in {RETRY_AFTER_S} s or later"
                ),
            ),
            ApiError::QuorumNotMet(detail) => Problem::new(
                503,
                "quorum_not_met",
                "No checkpoint is cosigned by the quorum of witnesses yet",
                detail,
            ),
            ApiError::Timeout(limit) => Problem::new(
                503,
                "timeout",
                "Request timed out",
                format!(
                    "the request was not answered within {} s; an append may still be \
                     recorded: send the same event again (same id), which is answered 200 with \
                     the entry if it was",
                    limit.as_secs_f64()
                ),
            ),
            ApiError::RateLimited(after) => Problem::new(
                429,
                "rate_limited",
                "Too many requests",
                format!(
                    "a figure of an earlier ledger size or time replays the ledger; this org \
                     has used its share of such replays for now: ask again in {after} s, or \
                     ask about the head"
                ),
            ),
            ApiError::Internal(_) => Problem::new(
                500,
                "internal",
                "Internal error",
                "the request could not be completed; it has been logged",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(e) => tracing::error!(error = %format!("{e:#}"), "request failed"),
            ApiError::Overloaded => metrics::counter!("hwledger_overloaded_total").increment(1),
            ApiError::Timeout(_) => {
                metrics::counter!("hwledger_request_timeouts_total").increment(1)
            }
            _ => {}
        }
        let challenge = match &self {
            // RFC 6750 §3: no error code when the request carried no token at all.
            ApiError::Token(e) if e.code == TokenErrorCode::Missing => Some("Bearer"),
            ApiError::Token(_) => Some("Bearer error=\"invalid_token\""),
            _ => None,
        };
        let mut response = self.problem().into_response();
        if let Some(c) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(c),
            );
        }
        let retry_after = match &self {
            ApiError::Overloaded => Some(u64::from(RETRY_AFTER_S)),
            ApiError::QuorumNotMet(_) => Some(u64::from(RETRY_AFTER_S)),
            ApiError::RateLimited(after) => Some(*after),
            _ => None,
        };
        if let Some(after) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(after));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_is_503_overloaded_with_retry_after() {
        let e = ApiError::from(anyhow::Error::new(crate::sequencer::Overloaded));
        assert!(matches!(e, ApiError::Overloaded), "{e:?}");
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let other = ApiError::from(anyhow::anyhow!("disk full"));
        assert!(matches!(other, ApiError::Internal(_)), "{other:?}");
        assert_eq!(
            ApiError::Timeout(std::time::Duration::from_secs(60))
                .problem()
                .code,
            "timeout"
        );
    }
}
