//! Starting and stopping the service: the pieces `serve` wires together, usable from tests.

use std::time::Duration;

use anyhow::{bail, Context};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::api::{self, AppState, LedgerInfo};
use crate::domain::ids::{OrgId, Region};
use crate::domain::state::{Limits, PLAN_EXCESS_BP};
use crate::protocol::event::{self, Prepared, LEDGER_ACTOR};
use crate::protocol::time;
use crate::sequencer::{self, ItemResult, Sequencer};
use crate::store::{DbUrl, Store};
use crate::witnessing::{self, Submitter};
use chrono::NaiveDate;

/// The regulator written into the genesis of a new ledger.
#[derive(Debug, Clone)]
pub struct GenesisRegulator {
    pub org: String,
    pub name: String,
    pub region: String,
    pub key: VerifyingKey,
}

/// Limits given on the command line; `None` where the flag was not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitFlags {
    pub transit_s: Option<i64>,
    pub disposal_s: Option<i64>,
    pub storage_s: Option<i64>,
    pub max_backdate_s: Option<i64>,
    pub shortfall_bp: Option<i64>,
    pub generator_storage_s: Option<i64>,
    pub plan_excess_bp: Option<i64>,
    /// `Some(None)` for `--compliance-from off`.
    pub compliance_from: Option<Option<NaiveDate>>,
}

impl LimitFlags {
    /// The limits a new ledger starts with: the flags over the defaults of §7, with compliance
    /// from the genesis' CST date unless a flag says otherwise.
    pub fn genesis_limits(&self, genesis_date: NaiveDate) -> Limits {
        let d = Limits::default();
        Limits {
            transit_s: self.transit_s.unwrap_or(d.transit_s),
            disposal_s: self.disposal_s.unwrap_or(d.disposal_s),
            storage_s: self.storage_s.unwrap_or(d.storage_s),
            max_backdate_s: self.max_backdate_s.unwrap_or(d.max_backdate_s),
            shortfall_bp: self.shortfall_bp.unwrap_or(d.shortfall_bp),
            generator_storage_s: self.generator_storage_s,
            plan_excess_bp: Some(self.plan_excess_bp.unwrap_or(PLAN_EXCESS_BP)),
            compliance_from: self.compliance_from.unwrap_or(Some(genesis_date)),
        }
    }

    /// Names the flags given that differ from the limits in force, compared by effective value
    /// (absent `plan_excess_bp` 2000, `generator_storage_s` the storage limit, `compliance_from`
    /// off).
    pub fn differences(&self, in_force: &Limits) -> Vec<String> {
        let pairs = [
            ("--transit-limit", self.transit_s, in_force.transit_s, "s"),
            (
                "--disposal-limit",
                self.disposal_s,
                in_force.disposal_s,
                "s",
            ),
            ("--storage-limit", self.storage_s, in_force.storage_s, "s"),
            (
                "--generator-storage-limit",
                self.generator_storage_s,
                in_force.generator_storage(),
                "s",
            ),
            (
                "--max-backdate",
                self.max_backdate_s,
                in_force.max_backdate_s,
                "s",
            ),
            (
                "--shortfall-tolerance",
                self.shortfall_bp,
                in_force.shortfall_bp,
                " bp",
            ),
            (
                "--plan-excess",
                self.plan_excess_bp,
                in_force.plan_excess(),
                " bp",
            ),
        ];
        let mut out: Vec<String> = pairs
            .into_iter()
            .filter_map(|(flag, given, current, unit)| match given {
                Some(g) if g != current => Some(format!(
                    "{flag} asks for {g}{unit}, the ledger has {current}{unit}"
                )),
                _ => None,
            })
            .collect();
        if let Some(given) = self.compliance_from {
            if given != in_force.compliance_from {
                let show = |d: Option<NaiveDate>| d.map_or("off".to_owned(), time::format_date);
                out.push(format!(
                    "--compliance-from asks for {}, the ledger has {}",
                    show(given),
                    show(in_force.compliance_from)
                ));
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub db: DbUrl,
    pub origin: String,
    pub ledger_key: SigningKey,
    pub regulator: GenesisRegulator,
    pub limits: LimitFlags,
    pub sweep_interval: Duration,
    /// The ledger's clock: the system clock, except in tests of due moments.
    pub clock: sequencer::Clock,
    /// Where start-up snapshots are kept, and how often they are written; `None`: never.
    pub snapshot: Option<crate::snapshot::SnapshotConfig>,
}

/// A started service: its state for the router, and its writer task.
pub struct Service {
    pub state: AppState,
    sequencer_task: JoinHandle<()>,
    sweeper_task: JoinHandle<()>,
    witness_task: JoinHandle<()>,
    checkpoint_task: JoinHandle<()>,
}

impl Service {
    /// Opens the database, checks it belongs to this ledger, replays it, and writes the genesis
    /// when the ledger is new.
    pub async fn start(cfg: ServiceConfig) -> anyhow::Result<Service> {
        Self::start_with_queue(cfg, sequencer::DEFAULT_QUEUE).await
    }

    /// Like [`start`](Self::start), with room for `queue` requests waiting for the writer
    /// (`hwledger serve --queue`); an append beyond them is answered 503 `overloaded`.
    pub async fn start_with_queue(cfg: ServiceConfig, queue: usize) -> anyhow::Result<Service> {
        Self::start_with_options(cfg, queue, witnessing::DEFAULT_TIMEOUT).await
    }

    /// Like [`start_with_queue`](Self::start_with_queue), waiting at most `witness_timeout`
    /// for a witness's answer (`hwledger serve --witness-timeout`).
    pub async fn start_with_options(
        cfg: ServiceConfig,
        queue: usize,
        witness_timeout: Duration,
    ) -> anyhow::Result<Service> {
        if cfg.origin.is_empty()
            || cfg.origin.contains(char::is_whitespace)
            || cfg.origin.contains('+')
        {
            bail!(
                "the origin {:?} must be non-empty, without spaces or '+'",
                cfg.origin
            );
        }
        let store = Store::connect(&cfg.db).await?;
        match store.maintenance_warnings().await {
            Ok(warnings) => {
                for w in warnings {
                    tracing::warn!("{w}");
                }
            }
            Err(e) => {
                tracing::debug!(error = %format!("{e:#}"), "cannot read the database's maintenance settings")
            }
        }
        check_existing(&store, &cfg).await?;
        let (sequencer, sequencer_task) = Sequencer::start_with_queue(
            store.clone(),
            cfg.ledger_key.clone(),
            cfg.clock.clone(),
            cfg.snapshot.clone(),
            queue,
        )
        .await
        .context("cannot load the ledger")?;
        if sequencer.head().size == 0 {
            let envelope = genesis_envelope(&cfg)?;
            let item = Prepared::from_value(envelope)
                .map_err(|e| anyhow::anyhow!("the genesis does not fit its schema: {e}"))
                .map(|mut p| {
                    p.sig_ok = event::verify_one(&p.key, &p.sig, &p.event_jcs);
                    p
                })?;
            match sequencer.submit_waiting(vec![Ok(item)]).await?.pop() {
                Some(ItemResult::Appended(e)) => {
                    tracing::info!(origin = %cfg.origin, hash = %hex::encode(e.hash()), "wrote the genesis")
                }
                // Another process sharing the database wrote its genesis first: this one joins
                // that ledger if it is the same ledger.
                Some(ItemResult::Rejected(r)) if store.entry(0).await?.is_some() => {
                    tracing::info!(reason = %r, "another process wrote the genesis");
                    check_existing(&store, &cfg).await?;
                }
                other => bail!("the genesis was not appended: {other:?}"),
            }
        }
        let state = AppState {
            store,
            sequencer,
            ledger: std::sync::Arc::new(LedgerInfo::new(
                cfg.origin.clone(),
                cfg.ledger_key.clone(),
            )),
            metrics: api::metrics_handle(),
            tokens: Default::default(),
            web: Default::default(),
            replays: Default::default(),
            witnesses: Default::default(),
        };
        let sweeper_task = tokio::spawn(sequencer::run_sweeper(
            state.sequencer.clone(),
            cfg.sweep_interval,
        ));
        let witness_task = tokio::spawn(
            Submitter {
                store: state.store.clone(),
                sequencer: state.sequencer.clone(),
                origin: cfg.origin.clone(),
                key: cfg.ledger_key.clone(),
                board: state.witnesses.clone(),
                timeout: witness_timeout,
            }
            .run(),
        );
        let checkpoint_task = tokio::spawn(run_checkpoints(state.store.clone()));
        Ok(Service {
            state,
            sequencer_task,
            sweeper_task,
            witness_task,
            checkpoint_task,
        })
    }

    pub fn router(&self) -> axum::Router {
        api::app(self.state.clone())
    }

    /// Waits for queued appends to commit, then closes the database.
    pub async fn shutdown(self) {
        let store = self.state.store.clone();
        self.sweeper_task.abort();
        self.witness_task.abort();
        self.checkpoint_task.abort();
        self.state.sequencer.stop();
        drop(self.state);
        if let Err(e) = self.sequencer_task.await {
            tracing::error!(error = %e, "the writer task failed");
        }
        store.close().await;
    }
}

/// Copies SQLite's write-ahead log into the database file every
/// [`crate::store::CHECKPOINT_EVERY`], beside the writer (see [`Store::checkpoint_wal`]); ends
/// at once on PostgreSQL. A failure is logged once until a checkpoint succeeds again: meanwhile
/// the writer's commits checkpoint past their threshold, as SQLite would by itself.
async fn run_checkpoints(store: Store) {
    let mut failing = false;
    loop {
        tokio::time::sleep(crate::store::CHECKPOINT_EVERY).await;
        match store.checkpoint_wal().await {
            Ok(Some(c)) => {
                if failing {
                    tracing::info!("checkpoints of the write-ahead log succeed again");
                }
                failing = false;
                metrics::gauge!("hwledger_sqlite_wal_pages").set(c.log_pages as f64);
                metrics::gauge!("hwledger_sqlite_wal_uncopied_pages")
                    .set((c.log_pages - c.copied_pages) as f64);
            }
            Ok(None) => return,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %format!("{e:#}"), "cannot checkpoint the write-ahead log; the writer's commits will, past their threshold");
                }
                failing = true;
            }
        }
    }
}

/// Checks that an existing ledger in `store` is the one `cfg` describes.
async fn check_existing(store: &Store, cfg: &ServiceConfig) -> anyhow::Result<()> {
    let Some(genesis) = store.entry(0).await? else {
        return Ok(());
    };
    let ledger_pub = cfg.ledger_key.verifying_key().to_bytes();
    let event = genesis.event();
    let body = &event["body"];
    if body["origin"] != Value::String(cfg.origin.clone()) {
        bail!(
            "this database holds the ledger of origin {}, not {}; start with --origin {}",
            body["origin"],
            cfg.origin,
            body["origin"].as_str().unwrap_or("?")
        );
    }
    if body["ledger_key"] != Value::String(hex::encode(ledger_pub)) {
        bail!(
            "this database's genesis names ledger key {}, but the key given is {}; start with the ledger's own key file",
            body["ledger_key"],
            hex::encode(ledger_pub)
        );
    }
    if let Some(in_force) = store.limits_in_force().await? {
        let diffs = cfg.limits.differences(&in_force);
        if !diffs.is_empty() {
            bail!(
                "limit flags differ from the limits in force ({}); limits of an existing ledger change only by a regulator's ledger.limits_set event",
                diffs.join("; ")
            );
        }
    }
    Ok(())
}

fn genesis_envelope(cfg: &ServiceConfig) -> anyhow::Result<Value> {
    let r = &cfg.regulator;
    OrgId::parse(&r.org).with_context(|| format!("--regulator-org {}", r.org))?;
    Region::parse(&r.region).with_context(|| format!("--regulator-region {}", r.region))?;
    let at = cfg.clock.now();
    let event = json!({
        "v": 1,
        "id": Uuid::new_v4().to_string(),
        "type": "ledger.genesis",
        "actor": LEDGER_ACTOR,
        "at": time::format_timestamp(at),
        "body": {
            "origin": cfg.origin,
            "ledger_key": hex::encode(cfg.ledger_key.verifying_key().to_bytes()),
            "regulator": {
                "org": r.org,
                "name": r.name,
                "region": r.region,
                "keys": [hex::encode(r.key.to_bytes())],
            },
            "limits": cfg.limits.genesis_limits(time::cst_date(at)),
        },
    });
    Ok(event::sign_envelope(&event, &cfg.ledger_key))
}
