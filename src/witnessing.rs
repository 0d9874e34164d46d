//! Submitting checkpoints to the witnesses of the policy in force (spec §5a): at most one round
//! a second, each witness on its own, so that a slow, failing or lying witness never delays or
//! refuses an append. Returned cosignatures are verified, then kept in the database per (size,
//! witness). A witness whose answer is evidence of a fork is halted (persistently) and an
//! alert is raised; other failures are retried with backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::domain::witness::PolicyWitness;
use crate::protocol::checkpoint::Checkpoint;
use crate::protocol::cosignature::{self, AddCheckpoint};
use crate::protocol::merkle::{self, Hash};
use crate::protocol::time;
use crate::sequencer::SequencerHandle;
use crate::store::{Halt, Store, StoredCosignature};

/// How long a witness may take to answer, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The first wait after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A witness as the ledger tracks it: its key name and hex key.
pub type WitnessId = (String, String);

/// What the ledger knows of one witness, for `GET /v1/witnesses` and the metrics.
#[derive(Debug, Clone, Default)]
pub struct WitnessStatus {
    /// The largest size it has cosigned (0: none), and the cosignature's timestamp.
    pub cosigned_size: u64,
    pub cosigned_at: Option<u64>,
    pub last_error: Option<String>,
    /// Evidence of a fork was seen: nothing more is sent to it.
    pub halted: bool,
    loaded: bool,
    in_flight: bool,
    backoff: Duration,
    next_try: Option<Instant>,
}

/// The status of every witness this process has submitted to, shared with the API.
#[derive(Debug, Default)]
pub struct Board {
    witnesses: Mutex<HashMap<WitnessId, WitnessStatus>>,
}

impl Board {
    /// The status of a witness (defaults when this process has not reached it yet).
    pub fn status(&self, id: &WitnessId) -> Option<WitnessStatus> {
        self.lock().get(id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WitnessId, WitnessStatus>> {
        self.witnesses.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the submitter needs from the service.
#[derive(Clone)]
pub struct Submitter {
    pub store: Store,
    pub sequencer: SequencerHandle,
    pub origin: String,
    pub key: SigningKey,
    pub board: Arc<Board>,
    pub timeout: Duration,
}

/// One submission's outcome.
#[derive(Debug)]
enum Outcome {
    Cosigned(StoredCosignature),
    /// Worth another try later.
    Failed {
        status: &'static str,
        error: String,
    },
    /// Evidence of a fork: halt.
    Fork(String),
}

impl Submitter {
    /// Runs until the task is aborted: once a second, submits the checkpoint of the published
    /// head to every witness of the policy in force that has not cosigned it.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.round().await {
                tracing::warn!(error = %format!("{e:#}"), "witness round failed");
            }
        }
    }

    async fn round(&self) -> anyhow::Result<()> {
        let (size, witnesses) = {
            let st = self.sequencer.state().await;
            (st.size, st.witness_policies.at(st.size).witnesses.clone())
        };
        if size == 0 || witnesses.is_empty() {
            return Ok(());
        }
        let mut due = Vec::new();
        for w in witnesses {
            let id = (w.name.clone(), w.key.clone());
            if !self.board.lock().get(&id).is_some_and(|s| s.loaded) {
                self.load(&id).await?;
            }
            let mut board = self.board.lock();
            let s = board.entry(id.clone()).or_default();
            metrics::gauge!("hwledger_witness_lag", "witness" => w.name.clone())
                .set(size.saturating_sub(s.cosigned_size) as f64);
            let waiting = s.next_try.is_some_and(|t| Instant::now() < t);
            if s.halted || s.in_flight || waiting || s.cosigned_size >= size {
                continue;
            }
            s.in_flight = true;
            due.push((w, s.cosigned_size));
        }
        if due.is_empty() {
            return Ok(());
        }
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size,
            root: self.root(size).await?,
        };
        let note = checkpoint.sign(&self.key);
        for (w, old) in due {
            let this = self.clone();
            let (checkpoint, note) = (checkpoint.clone(), note.clone());
            tokio::spawn(async move {
                let outcome = this.submit(&w, old, &checkpoint, &note).await;
                this.settle(&w, checkpoint.size, outcome).await;
            });
        }
        Ok(())
    }

    /// Reads a witness's progress and halt from the database, the first time it is met.
    async fn load(&self, id: &WitnessId) -> anyhow::Result<()> {
        let last = self.store.last_cosignature(&id.0, &id.1).await?;
        let halt = self
            .store
            .witness_halts()
            .await?
            .into_iter()
            .find(|h| h.witness == id.0 && h.key == id.1);
        let mut board = self.board.lock();
        let s = board.entry(id.clone()).or_default();
        if let Some(c) = last {
            if c.size > s.cosigned_size {
                s.cosigned_size = c.size;
                s.cosigned_at = Some(c.cosigned_at);
            }
        }
        if let Some(h) = halt {
            s.halted = true;
            s.last_error = Some(h.reason);
        }
        s.loaded = true;
        Ok(())
    }

    async fn root(&self, size: u64) -> anyhow::Result<Hash> {
        let nodes = self.store.tree_nodes(&merkle::root_nodes(size)).await?;
        Ok(merkle::root_from(size, |id| nodes.get(&id).copied())?)
    }

    async fn proof(&self, old: u64, size: u64) -> anyhow::Result<Vec<Hash>> {
        if old == 0 {
            return Ok(Vec::new());
        }
        let nodes = self
            .store
            .tree_nodes(&merkle::consistency_nodes(old, size)?)
            .await?;
        Ok(merkle::consistency_proof(old, size, |id| {
            nodes.get(&id).copied()
        })?)
    }

    /// Sends the checkpoint from `old`; on a 409 naming a smaller size, resends once from it.
    async fn submit(
        &self,
        w: &PolicyWitness,
        mut old: u64,
        checkpoint: &Checkpoint,
        note: &str,
    ) -> Outcome {
        let Some(key) = hex::decode(&w.key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        else {
            return Outcome::Failed {
                status: "invalid",
                error: format!("the policy's key {} is not an Ed25519 public key", w.key),
            };
        };
        let size = checkpoint.size;
        for attempt in 0..2 {
            let proof = match self.proof(old, size).await {
                Ok(p) => p,
                Err(e) => {
                    return Outcome::Failed {
                        status: "proof",
                        error: format!("cannot build the consistency proof from {old}: {e:#}"),
                    }
                }
            };
            let body = AddCheckpoint {
                old,
                proof,
                note: note.to_owned(),
            }
            .to_body();
            let url = format!("{}/add-checkpoint", w.url);
            let timeout = self.timeout;
            let answer = tokio::task::spawn_blocking(move || post(&url, &body, timeout)).await;
            let answer = match answer {
                Ok(a) => a,
                Err(e) => {
                    return Outcome::Failed {
                        status: "transport",
                        error: e.to_string(),
                    }
                }
            };
            match answer {
                Answer::Transport(e) => {
                    return Outcome::Failed {
                        status: "transport",
                        error: e,
                    }
                }
                Answer::Status {
                    code: 200, body, ..
                } => {
                    let text = checkpoint.body();
                    return body
                        .lines()
                        .find_map(|line| {
                            cosignature::verify_line(line, &text, &w.name, &key)
                                .ok()
                                .map(|ts| (line, ts))
                        })
                        .map_or_else(
                            || Outcome::Failed {
                                status: "invalid",
                                error: "the answer holds no valid cosignature of this witness"
                                    .into(),
                            },
                            |(line, ts)| {
                                Outcome::Cosigned(StoredCosignature {
                                    size,
                                    witness: w.name.clone(),
                                    key: w.key.clone(),
                                    line: line.to_owned(),
                                    cosigned_at: ts,
                                })
                            },
                        );
                }
                Answer::Status {
                    code: 409,
                    content_type,
                    body,
                } => {
                    let theirs = (content_type.as_deref() == Some("text/x.tlog.size"))
                        .then(|| body.strip_suffix('\n').unwrap_or(&body).parse::<u64>().ok())
                        .flatten();
                    match theirs {
                        Some(n) if n > size => {
                            return Outcome::Fork(format!(
                            "409: the witness has cosigned size {n}, beyond this ledger's {size}"
                        ))
                        }
                        Some(n) if attempt == 0 => {
                            tracing::info!(witness = %w.name, from = old, to = n, "witness resynchronised");
                            old = n;
                        }
                        Some(n) => {
                            return Outcome::Failed {
                                status: "409",
                                error: format!("409 twice in a round (last naming size {n})"),
                            }
                        }
                        None => {
                            return Outcome::Fork(
                                "409 without a size of type text/x.tlog.size".into(),
                            )
                        }
                    }
                }
                Answer::Status {
                    code: 422, body, ..
                } => {
                    return Outcome::Fork(format!(
                    "422: the witness found this checkpoint inconsistent with what it cosigned: {}",
                    clip(&body)
                ))
                }
                Answer::Status { code, body, .. } => {
                    return Outcome::Failed {
                        status: status_label(code),
                        error: format!("HTTP {code}: {}", clip(&body)),
                    }
                }
            }
        }
        unreachable!("the second attempt always returns")
    }

    async fn settle(&self, w: &PolicyWitness, size: u64, outcome: Outcome) {
        let id = (w.name.clone(), w.key.clone());
        let mut outcome = outcome;
        if let Outcome::Cosigned(c) = &outcome {
            if let Err(e) = self.store.save_cosignature(c).await {
                outcome = Outcome::Failed {
                    status: "database",
                    error: format!("cannot store the cosignature: {e:#}"),
                };
            }
        }
        if let Outcome::Fork(reason) = &outcome {
            let halt = Halt {
                witness: w.name.clone(),
                key: w.key.clone(),
                halted_at: time::format_timestamp(chrono::Utc::now()),
                reason: reason.clone(),
            };
            if let Err(e) = self.store.halt_witness(&halt).await {
                tracing::error!(witness = %w.name, error = %format!("{e:#}"), "cannot record the halt");
            }
        }
        let mut board = self.board.lock();
        let s = board.entry(id).or_default();
        s.in_flight = false;
        match outcome {
            Outcome::Cosigned(c) => {
                metrics::counter!("hwledger_witness_cosignatures_total", "witness" => w.name.clone())
                    .increment(1);
                if c.size > s.cosigned_size {
                    s.cosigned_size = c.size;
                    s.cosigned_at = Some(c.cosigned_at);
                }
                s.last_error = None;
                s.backoff = Duration::ZERO;
                s.next_try = None;
                tracing::debug!(witness = %w.name, size, "cosigned");
            }
            Outcome::Failed { status, error } => {
                metrics::counter!("hwledger_witness_failures_total", "witness" => w.name.clone(), "status" => status)
                    .increment(1);
                s.backoff = (s.backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
                s.next_try = Some(Instant::now() + s.backoff);
                tracing::warn!(witness = %w.name, size, error = %error, retry_in = ?s.backoff, "witness submission failed");
                s.last_error = Some(error);
            }
            Outcome::Fork(reason) => {
                metrics::counter!("hwledger_witness_failures_total", "witness" => w.name.clone(), "status" => "fork")
                    .increment(1);
                metrics::gauge!("hwledger_witness_halted", "witness" => w.name.clone()).set(1.0);
                tracing::error!(
                    witness = %w.name, url = %w.url, size, reason = %reason,
                    "ALERT: evidence of a fork from a witness; submissions to it are stopped until an operator clears witness_halts"
                );
                s.halted = true;
                s.last_error = Some(reason);
            }
        }
    }
}

/// A witness's answer.
enum Answer {
    Status {
        code: u16,
        content_type: Option<String>,
        body: String,
    },
    Transport(String),
}

/// Posts `body` to `url` (blocking; run off the runtime's threads).
fn post(url: &str, body: &str, timeout: Duration) -> Answer {
    let agent = ureq::AgentBuilder::new().timeout(timeout).build();
    let response = match agent
        .post(url)
        .set("Content-Type", "text/plain; charset=utf-8")
        .send_string(body)
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Answer::Transport(e.to_string()),
    };
    let code = response.status();
    let content_type = response
        .header("Content-Type")
        .map(|t| t.split(';').next().unwrap_or(t).trim().to_ascii_lowercase());
    // A witness's answer is a few signature lines; more is not read.
    let mut body = String::new();
    use std::io::Read as _;
    if let Err(e) = response
        .into_reader()
        .take(64 * 1024)
        .read_to_string(&mut body)
    {
        return Answer::Transport(format!("reading the answer: {e}"));
    }
    Answer::Status {
        code,
        content_type,
        body,
    }
}

fn status_label(code: u16) -> &'static str {
    match code {
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// At most 200 characters of a witness's answer, for a log line or `last_error`.
fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
