//! The witness server (`hwledger witness`, spec §5a): a C2SP tlog-witness that cosigns the
//! checkpoints of the logs it is configured for, so that a second authority can vouch that it
//! saw one append-only history and refuse to sign a fork.
//!
//! [`Witness::router`] answers `POST /add-checkpoint` and `GET /`; [`Witness::serve`] runs it
//! on a socket. The decision after the signature check is the pure [`judge`]; the database (its
//! own, never the ledger's) is [`store`], whose one compare-and-swap per origin makes the check
//! of `old` and the update a single statement. A refused fork is kept as evidence beside the
//! signed checkpoint it contradicts.

pub mod store;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::json;

use crate::protocol::checkpoint::{self, Checkpoint};
use crate::protocol::cosignature::{self, AddCheckpoint};
use crate::protocol::merkle::{self, Hash};
use crate::store::DbUrl;

pub use store::{Advance, Cosigned, Evidence, WitnessStore};

/// The largest request body accepted; more is answered 413. A request is at most a size line,
/// 63 proof lines of 45 bytes and a checkpoint with a few signatures: a few kilobytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The content type of a 409's body, the size the witness last cosigned (C2SP tlog-witness).
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

const TEXT: &str = "text/plain; charset=utf-8";

/// What a witness is: its key name and key, its database, and the logs it witnesses, each an
/// origin with the log's Ed25519 key (the key of the verifier key string of §5).
pub struct WitnessConfig {
    /// A signed-note key name: non-empty, no spaces or `+`.
    pub name: String,
    pub key: SigningKey,
    pub db: DbUrl,
    /// (origin, the log's key), each origin once.
    pub logs: Vec<(String, VerifyingKey)>,
}

impl fmt::Debug for WitnessConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WitnessConfig")
            .field("name", &self.name)
            .field("key", &hex::encode(self.key.verifying_key().as_bytes()))
            .field("db", &self.db)
            .field(
                "logs",
                &self.logs.iter().map(|(o, _)| o).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A running witness: configuration and database. Cheap to clone.
#[derive(Clone)]
pub struct Witness {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    key: SigningKey,
    /// In the order configured, for `GET /`.
    origins: Vec<String>,
    logs: HashMap<String, VerifyingKey>,
    store: WitnessStore,
}

impl fmt::Debug for Witness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Witness")
            .field("name", &self.inner.name)
            .field("origins", &self.inner.origins)
            .finish_non_exhaustive()
    }
}

impl Witness {
    /// Checks the configuration, opens the database (creating a SQLite file when missing) and
    /// runs the witness migrations.
    pub async fn open(config: WitnessConfig) -> anyhow::Result<Witness> {
        checkpoint::check_origin(&config.name).context("the witness name")?;
        let mut origins = Vec::with_capacity(config.logs.len());
        let mut logs = HashMap::with_capacity(config.logs.len());
        for (origin, key) in config.logs {
            checkpoint::check_origin(&origin).context("a log's origin")?;
            if logs.insert(origin.clone(), key).is_some() {
                anyhow::bail!("the log {origin} is configured twice");
            }
            origins.push(origin);
        }
        let store = WitnessStore::connect(&config.db).await?;
        Ok(Witness {
            inner: Arc::new(Inner {
                name: config.name,
                key: config.key,
                origins,
                logs,
                store,
            }),
        })
    }

    /// The witness's key name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The origins of the logs witnessed, in the order configured.
    pub fn origins(&self) -> &[String] {
        &self.inner.origins
    }

    /// The public half of the witness's key, the `key` of its entry in `ledger.witnesses_set`.
    pub fn public_key(&self) -> VerifyingKey {
        self.inner.key.verifying_key()
    }

    /// The witness's cosigner verifier key string (`<name>+<key ID>+<base64(0x04 ‖ key)>`).
    pub fn verifier_key(&self) -> String {
        cosignature::verifier_key(&self.inner.name, &self.public_key())
    }

    /// The checkpoint last cosigned for `origin`, if any.
    pub async fn cosigned(&self, origin: &str) -> anyhow::Result<Option<Cosigned>> {
        self.inner.store.cosigned(origin).await
    }

    /// The evidence kept for `origin`, oldest first.
    pub async fn evidence(&self, origin: &str) -> anyhow::Result<Vec<Evidence>> {
        self.inner.store.evidence(origin).await
    }

    /// `POST /add-checkpoint` and `GET /`, bodies limited to [`MAX_BODY`].
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(status))
            .route("/add-checkpoint", post(add_checkpoint))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self.clone())
    }

    /// Serves the router on `listener` with the limits of `hwledger serve` (header, idle and
    /// request timeouts, a cap on connections) until `shutdown` resolves, lets the requests in
    /// flight finish, and closes the database.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let served = crate::api::server::serve(
            listener,
            self.router(),
            None,
            crate::api::ServeLimits::default(),
            shutdown,
        )
        .await;
        self.close().await;
        served.context("the witness server stopped on an error")
    }

    /// Closes the database connections (the router answers 500 afterwards).
    pub async fn close(&self) {
        self.inner.store.close().await
    }
}

/// Why a checkpoint whose signature verified is refused, in the order §5a checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: `old` is larger than the checkpoint's size.
    OldBeyondSize,
    /// 409: `old` is not the size last cosigned, which is this (0 if never).
    Conflict(u64),
    /// 422, kept as evidence: why.
    Evidence(String),
}

/// Judges a request whose checkpoint carries a valid signature of its log, against the
/// checkpoint last cosigned for that log: `Ok` when the witness may cosign it.
pub fn judge(
    old: u64,
    proof: &[Hash],
    checkpoint: &Checkpoint,
    last: Option<&Cosigned>,
) -> Result<(), Refusal> {
    if old > checkpoint.size {
        return Err(Refusal::OldBeyondSize);
    }
    let last_size = last.map_or(0, |l| l.size);
    if old != last_size {
        return Err(Refusal::Conflict(last_size));
    }
    match last.filter(|l| l.size > 0) {
        // Nothing to be consistent with: the first checkpoint (or the first after the empty
        // tree) is taken on the log's signature alone.
        None => {
            if !proof.is_empty() {
                return Err(Refusal::Evidence(format!(
                    "old 0 with a consistency proof of {} hashes",
                    proof.len()
                )));
            }
            if checkpoint.size == 0 && checkpoint.root != merkle::empty_root() {
                return Err(Refusal::Evidence(format!(
                    "a tree of size 0 with the root {}, not the empty tree's",
                    BASE64.encode(checkpoint.root)
                )));
            }
            Ok(())
        }
        Some(last) => {
            if checkpoint.size == last.size && checkpoint.root != last.root {
                return Err(Refusal::Evidence(format!(
                    "size {} was cosigned with the root {}, this checkpoint has {}: a split view",
                    last.size,
                    BASE64.encode(last.root),
                    BASE64.encode(checkpoint.root)
                )));
            }
            merkle::verify_consistency(
                last.size,
                checkpoint.size,
                &last.root,
                &checkpoint.root,
                proof,
            )
            .map_err(|e| {
                Refusal::Evidence(format!(
                    "the consistency proof from size {} to {} does not verify: {e}",
                    last.size, checkpoint.size
                ))
            })
        }
    }
}

/// The current time in POSIX seconds; never 0, which a cosignature may not carry.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs().max(1))
}

fn plain(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A refusal, logged with its reason (and the origin, once it is known).
fn refuse(status: StatusCode, origin: Option<&str>, reason: &str) -> Response {
    tracing::info!(
        status = status.as_u16(),
        origin,
        reason,
        "refused a checkpoint"
    );
    plain(status, TEXT, format!("{reason}\n"))
}

/// The 409 of C2SP tlog-witness: the size last cosigned, for the client to resend from.
fn conflict(origin: &str, old: u64, size: u64) -> Response {
    tracing::info!(
        status = 409,
        origin,
        old,
        cosigned = size,
        reason = "old is not the size last cosigned",
        "refused a checkpoint"
    );
    plain(StatusCode::CONFLICT, SIZE_CONTENT_TYPE, format!("{size}\n"))
}

/// A database failure (or a panic while checking a signature): logged once, here, with its
/// cause; the client sees a bare 500, which the ledger retries.
fn internal(error: anyhow::Error) -> Response {
    tracing::error!(error = format!("{error:#}"), "cannot answer a request");
    plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        TEXT,
        "internal error\n".to_owned(),
    )
}

/// `POST /add-checkpoint` (spec §5a), its answers in the spec's order: 400 a body that does not
/// parse, 404 an unknown origin, 403 no valid signature by the log's key, 400 `old` beyond the
/// size, 409 `old` not the size last cosigned, 422 (kept as evidence) a proof that does not
/// verify or another root for a cosigned size, else 200 with the cosignature line, once the new
/// size and root are committed.
async fn add_checkpoint(State(w): State<Witness>, body: Bytes) -> Response {
    let now = now_secs();
    let Ok(text) = std::str::from_utf8(&body) else {
        return refuse(StatusCode::BAD_REQUEST, None, "the body is not UTF-8");
    };
    let request = match AddCheckpoint::parse(text) {
        Ok(r) => r,
        Err(reason) => return refuse(StatusCode::BAD_REQUEST, None, reason),
    };
    // Everything that can be judged without a key, the checkpoint's text included.
    let parsed = match checkpoint::parse_unverified(&request.note) {
        Ok(c) => c,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, None, &e.to_string()),
    };
    let origin = parsed.origin;
    let Some(&log_key) = w.inner.logs.get(&origin) else {
        return refuse(StatusCode::NOT_FOUND, Some(&origin), "unknown origin");
    };
    let opened = {
        let (note, origin) = (request.note.clone(), origin.clone());
        tokio::task::spawn_blocking(move || Checkpoint::open(&note, &origin, &log_key)).await
    };
    let checkpoint = match opened {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return refuse(StatusCode::FORBIDDEN, Some(&origin), &e.to_string()),
        Err(e) => return internal(anyhow::Error::new(e).context("checking a signature")),
    };
    let last = match w.inner.store.cosigned(&origin).await {
        Ok(last) => last,
        Err(e) => return internal(e),
    };
    match judge(request.old, &request.proof, &checkpoint, last.as_ref()) {
        Ok(()) => {}
        Err(Refusal::OldBeyondSize) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                Some(&origin),
                &format!(
                    "old {} is larger than the checkpoint's size {}",
                    request.old, checkpoint.size
                ),
            )
        }
        Err(Refusal::Conflict(size)) => return conflict(&origin, request.old, size),
        Err(Refusal::Evidence(reason)) => {
            let evidence = Evidence {
                origin: origin.clone(),
                received_at: now,
                reason: reason.clone(),
                body: body.to_vec(),
                cosigned: last.map(|l| l.note),
            };
            // Without the evidence kept, the client is asked to come back (500 is retried)
            // rather than told of a fork nobody can show later.
            if let Err(e) = w.inner.store.add_evidence(&evidence).await {
                return internal(e.context("keeping evidence"));
            }
            tracing::warn!(
                status = 422,
                origin,
                old = request.old,
                size = checkpoint.size,
                reason,
                "refused a checkpoint and kept it as evidence"
            );
            return plain(
                StatusCode::UNPROCESSABLE_ENTITY,
                TEXT,
                format!("{reason}\n"),
            );
        }
    }
    let new = Cosigned {
        size: checkpoint.size,
        root: checkpoint.root,
        cosigned_at: now,
        note: request.note,
    };
    match w.inner.store.advance(&origin, last.as_ref(), &new).await {
        Ok(Advance::Stored) => {}
        Ok(Advance::Lost(size)) => return conflict(&origin, request.old, size),
        Err(e) => return internal(e),
    }
    let line = cosignature::cosign(&checkpoint.body(), &w.inner.name, &w.inner.key, now);
    tracing::info!(
        origin,
        old = request.old,
        size = checkpoint.size,
        timestamp = now,
        "cosigned"
    );
    plain(StatusCode::OK, TEXT, format!("{line}\n"))
}

/// `GET /`: the witness's name and keys, and per configured log the checkpoint last cosigned
/// (size 0 and a null root when never) and the number of evidence records kept.
async fn status(State(w): State<Witness>) -> Response {
    let (cosigned, counts) = match tokio::try_join!(
        w.inner.store.all_cosigned(),
        w.inner.store.evidence_counts()
    ) {
        Ok(both) => both,
        Err(e) => return internal(e),
    };
    let logs: Vec<_> = w
        .inner
        .origins
        .iter()
        .map(|origin| {
            let last = cosigned.get(origin);
            json!({
                "origin": origin,
                "size": last.map_or(0, |l| l.size),
                "root": last.map(|l| BASE64.encode(l.root)),
                "cosigned_at": last.and_then(|l| rfc3339(l.cosigned_at)),
                "evidence": counts.get(origin).copied().unwrap_or(0),
            })
        })
        .collect();
    Json(json!({
        "name": w.inner.name,
        "key": hex::encode(w.public_key().as_bytes()),
        "verifier_key": w.verifier_key(),
        "logs": logs,
    }))
    .into_response()
}

/// POSIX seconds as an RFC 3339 UTC timestamp (spec §1).
fn rfc3339(secs: u64) -> Option<String> {
    let secs = i64::try_from(secs).ok()?;
    chrono::DateTime::from_timestamp(secs, 0).map(crate::protocol::time::format_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::merkle::{leaf_hash, node_hash};

    fn checkpoint(size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: "log.example".into(),
            size,
            root,
        }
    }

    fn last(size: u64, root: Hash) -> Cosigned {
        Cosigned {
            size,
            root,
            cosigned_at: 1,
            note: String::new(),
        }
    }

    fn evidence(r: Result<(), Refusal>) -> bool {
        matches!(r, Err(Refusal::Evidence(_)))
    }

    /// Trees of 1, 2 and 3 leaves, and the proof from 2 to 3 (RFC 9162 §2.1.4).
    #[test]
    fn judges_in_the_order_of_the_spec() {
        let l: Vec<Hash> = (0u8..3).map(|i| leaf_hash(&[i; 32])).collect();
        let (r1, r2) = (l[0], node_hash(&l[0], &l[1]));
        let r3 = node_hash(&r2, &l[2]);
        let empty = merkle::empty_root();

        // old beyond the size comes before the conflict with what was cosigned.
        assert_eq!(
            judge(5, &[], &checkpoint(3, r3), Some(&last(2, r2))),
            Err(Refusal::OldBeyondSize)
        );
        assert_eq!(
            judge(0, &[], &checkpoint(3, r3), Some(&last(2, r2))),
            Err(Refusal::Conflict(2))
        );
        assert_eq!(
            judge(1, &[], &checkpoint(3, r3), None),
            Err(Refusal::Conflict(0))
        );
        // The conflict comes before any proof is looked at.
        assert_eq!(
            judge(1, &[[9; 32]], &checkpoint(3, r3), Some(&last(2, r2))),
            Err(Refusal::Conflict(2))
        );

        // First checkpoints.
        assert_eq!(judge(0, &[], &checkpoint(3, r3), None), Ok(()));
        assert!(evidence(judge(0, &[l[2]], &checkpoint(3, r3), None)));
        assert_eq!(judge(0, &[], &checkpoint(0, empty), None), Ok(()));
        assert!(evidence(judge(0, &[], &checkpoint(0, r1), None)));
        // After the empty tree, as if never cosigned; and the empty tree again.
        assert_eq!(
            judge(0, &[], &checkpoint(2, r2), Some(&last(0, empty))),
            Ok(())
        );
        assert!(evidence(judge(
            0,
            &[],
            &checkpoint(0, r1),
            Some(&last(0, empty))
        )));

        // Consistency.
        assert_eq!(
            judge(2, &[l[2]], &checkpoint(3, r3), Some(&last(2, r2))),
            Ok(())
        );
        assert!(evidence(judge(
            2,
            &[l[1]],
            &checkpoint(3, r3),
            Some(&last(2, r2))
        )));
        assert!(evidence(judge(
            2,
            &[],
            &checkpoint(3, r3),
            Some(&last(2, r2))
        )));
        // From a root that is not the one cosigned.
        assert!(evidence(judge(
            1,
            &[l[1], l[2]],
            &checkpoint(3, r3),
            Some(&last(1, l[1]))
        )));
        assert_eq!(
            judge(1, &[l[1], l[2]], &checkpoint(3, r3), Some(&last(1, r1))),
            Ok(())
        );

        // The same size: the same root again is cosigned again, another is a split view.
        assert_eq!(
            judge(2, &[], &checkpoint(2, r2), Some(&last(2, r2))),
            Ok(())
        );
        let split = judge(2, &[], &checkpoint(2, r3), Some(&last(2, r2)));
        assert!(
            matches!(&split, Err(Refusal::Evidence(why)) if why.contains("split view")),
            "{split:?}"
        );
        assert!(evidence(judge(
            2,
            &[l[2]],
            &checkpoint(2, r2),
            Some(&last(2, r2))
        )));
    }

    #[test]
    fn timestamps_are_never_zero_and_print_as_rfc3339() {
        assert!(now_secs() > 1_700_000_000);
        assert_eq!(rfc3339(1_700_000_000).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(u64::MAX), None);
    }

    #[test]
    fn unverified_checkpoints_parse_like_opened_ones() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let c = checkpoint(3, [7; 32]);
        let note = c.sign(&key);
        assert_eq!(checkpoint::parse_unverified(&note), Ok(c.clone()));
        assert_eq!(
            Checkpoint::open(&note, &c.origin, &key.verifying_key()),
            Ok(c)
        );
        for bad in [
            note.replace("\n3\n", "\n03\n"),
            note.replace("\n3\n", "\n3\nextension\n"),
            note.replacen("log.example", "log example", 1),
            note.trim_end().to_owned(),
            format!("\n{note}"),
        ] {
            assert!(checkpoint::parse_unverified(&bad).is_err(), "{bad:?}");
        }
    }
}
