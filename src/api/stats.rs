//! `GET /v1/stats/disposal`: the proper-disposal rate (规范化处理率) of spec §8.
//!
//! The head at now is answered from the sums the writer maintains; another prefix or an
//! earlier time is answered by replaying the entries of that prefix, as anyone holding them
//! would.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::{ApiError, ApiResult, AppState, Query};
use crate::domain::ids::Category;
use crate::domain::oversight::{Figures, RateFilter};
use crate::domain::state::{Limits, State as Domain};
use crate::protocol::time::{self, Timestamp};

/// Replays of a prefix or an earlier time run one at a time in a process: each holds a whole
/// domain state of up to the ledger's size in memory (about 650 MB per million entries), so
/// concurrent ones could exhaust memory. Requests for the head at now never wait for it.
static REPLAYS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    size: Option<u64>,
    as_of: Option<String>,
    from: Option<String>,
    to: Option<String>,
    region: Option<String>,
    org: Option<String>,
    category: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Stats {
    size: u64,
    as_of: String,
    #[schema(value_type = Object)]
    limits: Limits,
    #[serde(flatten)]
    figures: Figures,
}

fn filter(q: &StatsQuery) -> ApiResult<RateFilter> {
    let date = |d: &Option<String>, name: &str| {
        d.as_deref()
            .map(|s| {
                time::parse_date(s).map_err(|e| ApiError::InvalidQuery(format!("{name}: {e}")))
            })
            .transpose()
    };
    if let Some(r) = &q.region {
        if r.is_empty() || r.len() > 6 || !r.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::InvalidQuery(
                "region is 1 to 6 digits: a prefix of a division code".into(),
            ));
        }
    }
    let category = q
        .category
        .as_deref()
        .map(|c| {
            Category::parse(c)
                .map(|c| c.number())
                .map_err(|e| ApiError::InvalidQuery(format!("category: {e}")))
        })
        .transpose()?;
    Ok(RateFilter {
        from: date(&q.from, "from")?,
        to: date(&q.to, "to")?,
        region: q.region.clone(),
        org: q.org.clone(),
        category,
    })
}

/// The proper-disposal rate and its figures for a ledger prefix at a reference time. An org that
/// does not regulate reads its own figures only: `org` defaults to itself, and another `org` is
/// 404 to it.
#[utoipa::path(get, path = "/v1/stats/disposal", tag = "oversight", security(("bearer" = [])),
    params(("size" = Option<u64>, Query, description = "ledger prefix (default: all)"),
           ("as_of" = Option<String>, Query, description = "reference time (default: now, or the recorded_at of entry size−1)"),
           ("from" = Option<String>, Query, description = "CST date, inclusive"), ("to" = Option<String>, Query, description = "CST date, exclusive"),
           ("region" = Option<String>, Query, description = "prefix of the generator's division code"),
           ("org" = Option<String>, Query, description = "the generator (for an org that does not regulate: itself, the default)"), ("category" = Option<String>, Query, description = "HWnn")),
    responses((status = 200, body = Stats), (status = 400, body = super::Problem), (status = 401, body = super::Problem, description = "token_*"),
              (status = 404, body = super::Problem, description = "another org's figures"),
              (status = 429, body = super::Problem, description = "rate_limited: the org's replays of the past for this minute are used")))]
pub async fn disposal(
    caller: Caller,
    State(state): State<AppState>,
    Query(mut q): Query<StatsQuery>,
) -> ApiResult<Json<Stats>> {
    if !caller.regulator {
        match &q.org {
            None => q.org = Some(caller.org.clone()),
            Some(org) if *org != caller.org => {
                return Err(ApiError::NotFound(format!("figures of {org}")));
            }
            Some(_) => {}
        }
    }
    let f = filter(&q)?;
    let as_of = q
        .as_of
        .as_deref()
        .map(|s| {
            time::parse_timestamp(s).map_err(|e| ApiError::InvalidQuery(format!("as_of: {e}")))
        })
        .transpose()?;
    caught_up(&state, q.size).await?;
    let live = state.sequencer.state().await;
    // Without `size`, the head is the state as the lock is taken: appends may have landed
    // since the database's head was read, and the answer is for the head, not an older prefix.
    let size = q.size.unwrap_or(live.size);
    let at_head = size == live.size;
    let t: Timestamp = match (as_of, q.size) {
        (Some(t), _) => t,
        (None, None) => time::truncate_millis(chrono::Utc::now()),
        (None, Some(_)) => {
            let e = state
                .store
                .entry(size - 1)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("entry {}", size - 1)))?;
            time::parse_timestamp(&e.recorded_at).map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    if at_head && t >= live.rate.watermark() {
        return Ok(Json(Stats {
            size,
            as_of: time::format_millis(t),
            limits: live.limits(),
            figures: live.disposal_figures(t, &f),
        }));
    }
    let ledger_key = live.ledger_key;
    drop(live);
    let started = std::time::Instant::now();
    if !caller.regulator {
        state.replays.take(&caller.org)?;
    }
    let replayed = replay_prefix(&state, ledger_key, size).await?;
    metrics::histogram!("hwledger_stats_replay_seconds").record(started.elapsed().as_secs_f64());
    Ok(Json(Stats {
        size,
        as_of: time::format_millis(t),
        limits: replayed.limits(),
        figures: replayed.disposal_figures(t, &f),
    }))
}

/// Catches up with entries another process appended, so that an answer for the head covers
/// them, and checks a requested prefix `size` against the database's head.
///
/// A read for the head is answered from the published state as it stands: a round this
/// process has committed, or is committing, but not yet published is not waited for (its
/// posters are answered only once it is published, so each client still reads its own
/// writes). Only entries of another process, which nobody here has published, are waited for,
/// and a requested `size` this process has committed.
pub(super) async fn caught_up(state: &AppState, size: Option<u64>) -> ApiResult<()> {
    let db_size = state.store.head().await?.size;
    let seq = &state.sequencer;
    // The writer marks a round as its own before committing it: entries beyond that mark are
    // another process's.
    if db_size > seq.known_size() {
        metrics::counter!("hwledger_read_catch_ups_total").increment(1);
        seq.catch_up().await?;
        seq.published_reaches(db_size).await;
    }
    match size {
        Some(size) if size == 0 || size > db_size => Err(ApiError::InvalidQuery(format!(
            "size must be 1 to the ledger's size, {db_size}"
        ))),
        Some(size) => {
            // A moment's wait for the mirror rather than a replay of the prefix.
            seq.published_reaches(size).await;
            Ok(())
        }
        None => Ok(()),
    }
}

/// The state of the first `size` entries, one replay at a time per process.
pub(super) async fn replay_prefix(
    state: &AppState,
    ledger_key: [u8; 32],
    size: u64,
) -> ApiResult<Domain> {
    let _turn = REPLAYS
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!("the replay queue is closed: {e}"))?;
    // The entries come from the database, whose unique index has done step 2 for them.
    let mut d = Domain::new(ledger_key).with_database_lookups();
    while d.size < size {
        let chunk = state
            .store
            .entries(d.size, (size - d.size).min(5000))
            .await?;
        if chunk.is_empty() {
            return Err(anyhow::anyhow!("entries end at {}", d.size).into());
        }
        for e in &chunk {
            d.apply_recorded(e)
                .map_err(|m| anyhow::anyhow!("replay: {m}"))?;
        }
    }
    Ok(d)
}
