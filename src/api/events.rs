//! `POST /v1/events`: one envelope or a batch.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use super::{ApiError, ApiResult, AppState, Problem, MAX_BODY};
use crate::domain::rejection::{Code, Rejection};
use crate::protocol::event::{self, EntryView, Prepared};
use crate::protocol::jcs;
use crate::sequencer::{Item, ItemResult};

/// Most envelopes in one batch (spec §3).
pub const MAX_BATCH: usize = 1000;

/// One item of a batch answer.
#[derive(Serialize)]
#[serde(untagged)]
enum BatchItem {
    Entry { status: u16, entry: EntryView },
    Problem { status: u16, problem: Problem },
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

fn invalid(detail: impl Into<String>) -> Rejection {
    Rejection::new(Code::InvalidEvent, detail)
}

/// The parsed request: one envelope or a batch.
enum Request {
    One(Box<Item>),
    Batch(Vec<Item>),
}

/// Parses, checks the shape of, and verifies the signatures of every envelope in a body. Pure
/// CPU work: it runs on the blocking pool, not on the runtime's threads.
fn prepare(body: &[u8]) -> Result<Request, Rejection> {
    let value = jcs::parse_strict(body).map_err(|e| invalid(e.to_string()))?;
    let (values, batch) = match value {
        Value::Array(items) => {
            if items.is_empty() || items.len() > MAX_BATCH {
                return Err(invalid(format!(
                    "a batch holds 1 to {MAX_BATCH} envelopes, not {}",
                    items.len()
                )));
            }
            (items, true)
        }
        other => (vec![other], false),
    };
    let mut items: Vec<Item> = values
        .into_iter()
        .map(|v| Prepared::from_value(v).map_err(invalid))
        .collect();
    let mut to_verify: Vec<&mut Prepared> =
        items.iter_mut().filter_map(|i| i.as_mut().ok()).collect();
    event::verify_all(&mut to_verify);
    Ok(if batch {
        Request::Batch(items)
    } else {
        Request::One(Box::new(items.pop().expect("one item")))
    })
}

fn single_response(result: ItemResult) -> Response {
    match result {
        ItemResult::Appended(e) => (StatusCode::CREATED, Json(e.view())).into_response(),
        ItemResult::Replayed(e) => (StatusCode::OK, Json(e.view())).into_response(),
        ItemResult::Rejected(r) => ApiError::Rejected(r).into_response(),
    }
}

fn batch_item(result: ItemResult) -> BatchItem {
    match result {
        ItemResult::Appended(e) => BatchItem::Entry {
            status: 201,
            entry: e.view(),
        },
        ItemResult::Replayed(e) => BatchItem::Entry {
            status: 200,
            entry: e.view(),
        },
        ItemResult::Rejected(r) => BatchItem::Problem {
            status: r.status,
            problem: Problem::from_rejection(&r),
        },
    }
}

/// Submit one signed envelope, or a batch (a JSON array of 1 to 1000 envelopes).
#[utoipa::path(post, path = "/v1/events", tag = "ledger",
    request_body(content = Value, description = "an envelope {event, key, sig}, or an array of them", content_type = "application/json"),
    responses(
        (status = 201, description = "appended: the entry"),
        (status = 200, description = "an identical replay: the recorded entry; or, for a batch, one result per item"),
        (status = 400, description = "invalid_event", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "unknown_key, revoked_key, bad_signature", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "duplicate_event_id", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body_too_large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "unsupported_media_type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a rule of the event's type", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "overloaded: the writer's queue is full and nothing was recorded; send the request again after Retry-After seconds. Also timeout: no answer within the service's request timeout (the append may have been recorded; resend the same events)", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "seconds to wait before sending again (with overloaded)"))),
    ))]
pub async fn post_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let started = Instant::now();
    if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = match body {
        Ok(b) if b.len() <= MAX_BODY => b,
        Ok(_) => return Err(ApiError::BodyTooLarge),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::BodyTooLarge)
        }
        Err(e) => return Err(ApiError::Rejected(invalid(e.body_text()))),
    };
    let request = tokio::task::spawn_blocking(move || prepare(&body))
        .await
        .map_err(|e| anyhow::anyhow!("envelope preparation panicked: {e}"))??;
    let response = match request {
        Request::One(item) => {
            let mut results = state.sequencer.submit(vec![*item]).await?;
            single_response(results.pop().expect("one result per item"))
        }
        Request::Batch(items) => {
            let results = state.sequencer.submit(items).await?;
            let out: Vec<BatchItem> = results.into_iter().map(batch_item).collect();
            (StatusCode::OK, Json(out)).into_response()
        }
    };
    metrics::histogram!("hwledger_append_latency_seconds").record(started.elapsed().as_secs_f64());
    Ok(response)
}
