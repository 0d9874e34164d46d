//! `hwledger demo` and `serve --demo`: builds the demo district (钟楼区, Changzhou) in a ledger
//! through its HTTP API, as any client would — signed envelopes posted in batches — and leaves
//! a key file per organisation so that a newcomer can sign in to the console as each role.
//!
//! The demo is only for ledgers made for it: it refuses a ledger that holds anything but its
//! genesis (unless forced), and does nothing on a ledger that already holds it.

mod district;
mod files;
mod plan;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use ed25519_dalek::SigningKey;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::client::{self, Reader};
use crate::domain::state::Limits;
use crate::protocol::{event, keys, time};
use crate::sequencer::SequencerHandle;
use crate::store::DbUrl;
pub use plan::Scale;

/// The backdating `serve --demo` writes into a new ledger's genesis, so that a year of history
/// can be entered; it is set back once the history is in.
pub const DEMO_BACKDATE_S: i64 = 400 * 86_400;

/// The backdating a bureau keeps (the default of §7), restored after the build.
const USUAL_BACKDATE_S: i64 = 14 * 86_400;

/// The reason of the `ledger.limits_set` that ends the build.
const DONE_REASON: &str = "演示数据录入完毕";

/// The regulator's short name in its key file.
const REGULATOR_SHORT: &str = "钟楼区生态环境局";

/// The genesis regulator's name when `serve --demo` creates the ledger.
pub const REGULATOR_NAME: &str = "常州市钟楼生态环境局";

/// Envelopes per batch, below the limit of 1000, so that a batch can close where no sweep may
/// fall without running into the limit.
const BATCH_TARGET: usize = 400;
const BATCH_MAX: usize = 1000;
/// Bytes per batch, under the 1 MiB body limit.
const BATCH_BYTES: usize = 900_000;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The service's base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    pub url: String,
    /// The key file (PKCS#8 PEM) of a regulator of that ledger: it registers the demo's
    /// organisations and licences and opens its tickets.
    #[arg(long)]
    pub regulator_key: PathBuf,
    /// That regulator's unified social credit code.
    #[arg(long, default_value = "11320404MB0000001Y")]
    pub regulator_org: String,
    /// Where the key files and README.txt go.
    #[arg(long, default_value = "demo-keys")]
    pub out: PathBuf,
    /// `district`: a year of history; `small`: six weeks, for tests.
    #[arg(long, value_enum, default_value = "district")]
    pub scale: Scale,
    /// Also build on a ledger that holds more than its genesis. Never on a production ledger:
    /// the demo's organisations, keys and tickets would become part of its history for good.
    #[arg(long)]
    pub force: bool,
}

/// The flags `serve` takes for the demo.
#[derive(Debug, Clone, Args)]
pub struct ServeDemoArgs {
    /// Build the demo district (钟楼区) in this ledger once it is serving: a year of
    /// registrations, licences, declarations, manifests and tickets, with key files to sign in
    /// with. Only on a new ledger; on one that holds the demo, nothing more is done.
    #[arg(long)]
    pub demo: bool,
    /// Where --demo writes the key files and README.txt (default: demo-keys/ beside the
    /// database).
    #[arg(long, requires = "demo")]
    pub demo_keys: Option<PathBuf>,
    /// How much history --demo writes: `district` (a year) or `small` (six weeks).
    #[arg(long, value_enum, default_value = "district")]
    pub demo_scale: Scale,
}

/// What one build is asked to do.
struct Build {
    url: String,
    regulator_key_file: PathBuf,
    regulator_org: String,
    out: PathBuf,
    scale: Scale,
    force: bool,
    /// Set `max_backdate` back to the usual value afterwards when the ledger's is this (the
    /// value `serve --demo` wrote at genesis).
    restore_from: Option<i64>,
}

/// What a build found or did.
enum Outcome {
    /// The ledger already holds the demo.
    Present,
    Built {
        events: usize,
        seconds: f64,
    },
}

#[derive(Deserialize)]
struct LedgerInfo {
    size: u64,
    limits: Limits,
}

fn ledger_info(url: &str) -> anyhow::Result<LedgerInfo> {
    serde_json::from_str(&client::get(url, "/v1/ledger", None)?)
        .context("GET /v1/ledger is not the answer of an hwledger service")
}

/// `hwledger demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    let b = Build {
        url: args.url.trim_end_matches('/').to_owned(),
        regulator_key_file: args.regulator_key,
        regulator_org: args.regulator_org,
        out: args.out,
        scale: args.scale,
        force: args.force,
        restore_from: None,
    };
    match build(&b)? {
        Outcome::Present => {
            tracing::info!(url = %b.url, "the ledger already holds the demo district: nothing to do");
        }
        Outcome::Built { events, seconds } => {
            built(&b, events, seconds);
            tracing::info!(
                "the service opens the tickets of passed deadlines (transit, disposal and storage overdue) at its next sweep"
            );
            summary(&b)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Whether the ledger holds the demo: `Some(true)` complete, `Some(false)` in part (a build
/// that stopped midway), `None` not at all.
fn demo_state(reader: &mut Reader) -> anyhow::Result<Option<bool>> {
    let marker = plan::marker_org();
    if reader
        .get_optional(&format!("/v1/orgs/{marker}"))?
        .is_none()
    {
        return Ok(None);
    }
    let done = match reader.get_optional(&format!("/v1/tickets/{}", plan::final_ticket()))? {
        Some(t) => {
            let t: Value = serde_json::from_str(&t)?;
            t["history"].as_array().is_some_and(|h| h.len() >= 5)
        }
        None => false,
    };
    Ok(Some(done))
}

fn build(b: &Build) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let info = ledger_info(&b.url)?;
    let regulator_key = keys::load(&b.regulator_key_file)?;
    let mut reader = Reader::connect(&b.url, &b.regulator_key_file, &b.regulator_org)?;
    let regulator: Value = match reader.get_optional(&format!("/v1/orgs/{}", b.regulator_org)) {
        Ok(Some(text)) => serde_json::from_str(&text)?,
        Ok(None) => bail!("{} is not registered in this ledger", b.regulator_org),
        Err(e) => {
            return Err(e.context(format!(
                "{} does not read this ledger as {}: is it that regulator's key?",
                b.regulator_key_file.display(),
                b.regulator_org
            )))
        }
    };
    if !regulator["roles"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r == "regulator"))
    {
        bail!("{} is not a regulator", b.regulator_org);
    }
    match demo_state(&mut reader)? {
        Some(true) => {
            restore_backdate(b, &regulator_key)?;
            return Ok(Outcome::Present);
        }
        Some(false) => bail!(
            "this ledger holds part of the demo district (an earlier build stopped midway); build it again on a new, empty ledger"
        ),
        None if info.size > 1 && !b.force => bail!(
            "this ledger holds {} entries besides its genesis: the demo district is built only on a new ledger (never on a production one); give --force to add it anyway",
            info.size - 1
        ),
        None => {}
    }

    // Keys first: the registrations name them.
    let orgs = plan::orgs();
    let mut signers: HashMap<String, SigningKey> = HashMap::new();
    let mut publics = BTreeMap::new();
    let mut created = 0;
    for o in &orgs {
        let (key, new) = files::org_key(&b.out, o)?;
        created += usize::from(new);
        publics.insert(o.org.clone(), keys::public_hex(&key));
        signers.insert(o.org.clone(), key);
    }
    files::regulator_copy(&b.out, REGULATOR_SHORT, &b.regulator_org, &regulator_key)?;
    signers.insert(b.regulator_org.clone(), regulator_key.clone());
    tracing::info!(dir = %b.out.display(), created, reused = orgs.len() - created, "key files ready");

    let now = chrono::Utc::now();
    let plan = plan::plan(now, &info.limits, b.scale, &b.regulator_org, &publics)?;
    for l in &plan.left_out {
        tracing::warn!(case = %l, "left out: the ledger's max_backdate is too short for it");
    }
    tracing::info!(
        from = %time::format_timestamp(plan.first_at),
        events = plan.events.len(),
        "writing the demo district's history"
    );
    send(&b.url, &plan, &signers)?;
    let declared = declarations(&b.url, &mut reader, &signers)?;
    tracing::info!(declared, "declarations filed");
    restore_backdate(b, &regulator_key)?;

    let mut cases = cases(&mut reader, &plan)?;
    if declared > 0 {
        cases.push(files::Case {
            what: format!(
                "定期申报：{declared} 家产废单位已按管理类别确认上月、上季度或上年的申报"
            ),
            where_: "产废单位的“定期申报”页".into(),
            who: None,
        });
    }
    let limits = ledger_info(&b.url)?.limits;
    files::write_readme(
        &b.out,
        &files::Readme {
            url: &b.url,
            regulator: (
                regulator["name"].as_str().unwrap_or(REGULATOR_NAME),
                REGULATOR_SHORT,
                b.regulator_org.clone(),
            ),
            orgs: &orgs,
            cases: &cases,
            left_out: &plan.left_out,
            max_backdate_days: limits.max_backdate_s / 86_400,
        },
    )?;
    Ok(Outcome::Built {
        events: plan.events.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Signs the plan's events and posts them in batches that never end inside a guard.
fn send(url: &str, plan: &plan::Plan, signers: &HashMap<String, SigningKey>) -> anyhow::Result<()> {
    let events = &plan.events;
    let safe_after = |i: usize| {
        let at = events[i].at;
        !plan.guards.iter().any(|g| g.from <= at && at <= g.to)
    };
    let mut batch: Vec<Value> = Vec::new();
    let mut first = 0;
    let mut bytes = 0;
    let mut sent = 0;
    for (i, e) in events.iter().enumerate() {
        let key = signers
            .get(&e.actor)
            .with_context(|| format!("no key for {}", e.actor))?;
        let envelope = event::sign_envelope(&e.json(), key);
        let len = serde_json::to_vec(&envelope)?.len() + 1;
        if !batch.is_empty() && (batch.len() >= BATCH_MAX || bytes + len > BATCH_BYTES) {
            bail!(
                "events {first}..{i} cannot be split where no sweep may fall; this is a flaw in the demo's plan"
            );
        }
        batch.push(envelope);
        bytes += len;
        let last = i + 1 == events.len();
        if last || (batch.len() >= BATCH_TARGET && safe_after(i)) {
            post_batch(url, &events[first..=i], std::mem::take(&mut batch))?;
            sent += i + 1 - first;
            first = i + 1;
            bytes = 0;
            tracing::info!(sent, of = events.len(), "sent a batch");
        }
    }
    Ok(())
}

/// Posts one batch; every item must be appended (or be an identical replay).
fn post_batch(url: &str, events: &[plan::Event], batch: Vec<Value>) -> anyhow::Result<()> {
    let answer = client::post_json(url, "/v1/events", &Value::Array(batch))?;
    if answer.status != 200 {
        bail!(
            "the service refused a batch ({}): {}",
            answer.status,
            answer.body
        );
    }
    let items: Vec<Value> =
        serde_json::from_str(&answer.body).context("a batch answer is not a JSON array")?;
    for (e, item) in events.iter().zip(&items) {
        if !matches!(item["status"].as_u64(), Some(200 | 201)) {
            bail!(
                "the service refused {} by {} dated {}: {}",
                e.kind,
                e.actor,
                time::format_timestamp(e.at),
                item["problem"]
            );
        }
    }
    Ok(())
}

/// Each generator confirms the latest declaration its management class asks for (重点监管:
/// last month; 简化管理: last quarter; 登记管理: last year), as the console's 确认申报 does: a
/// `declaration.filed` over the hash of the report the ledger computes now. A unit with
/// nothing to report for that period files nothing. Returns how many were filed.
fn declarations(
    url: &str,
    reader: &mut Reader,
    signers: &HashMap<String, SigningKey>,
) -> anyhow::Result<usize> {
    use chrono::Datelike;
    let today = time::cst_date(chrono::Utc::now());
    let (y, m) = (today.year(), today.month());
    let month = if m == 1 {
        format!("{}-12", y - 1)
    } else {
        format!("{y}-{:02}", m - 1)
    };
    let quarter = match (m - 1) / 3 {
        0 => format!("{}-Q4", y - 1),
        q => format!("{y}-Q{q}"),
    };
    let year = format!("{}", y - 1);
    let mut filed = 0;
    for o in plan::orgs()
        .iter()
        .filter(|o| o.role == district::Role::Generator)
    {
        let org: Value = serde_json::from_str(&reader.get(&format!("/v1/orgs/{}", o.org))?)?;
        let period = match org["class"]["class"].as_str() {
            Some("key") => &month,
            Some("simplified") => &quarter,
            _ => &year,
        };
        let report: Value = serde_json::from_str(&reader.get(&format!(
            "/v1/reports/declaration?org={}&period={period}",
            o.org
        ))?)?;
        if report["lines"].as_array().is_none_or(|l| l.is_empty()) {
            continue;
        }
        let event = json!({
            "v": 1,
            "id": Uuid::new_v4().to_string(),
            "type": "declaration.filed",
            "actor": o.org,
            "at": time::format_timestamp(time::truncate_millis(chrono::Utc::now())),
            "body": {"org": o.org, "period": period, "report_sha256": report["report_sha256"]},
        });
        let key = signers
            .get(&o.org)
            .with_context(|| format!("no key for {}", o.org))?;
        let answer = client::post_json(url, "/v1/events", &event::sign_envelope(&event, key))?;
        if answer.status != 201 {
            bail!(
                "the declaration of {} for {period} was refused ({}): {}",
                o.org,
                answer.status,
                answer.body
            );
        }
        filed += 1;
    }
    Ok(filed)
}

/// After a build by `serve --demo`, sets `max_backdate` back to what a bureau keeps.
fn restore_backdate(b: &Build, regulator_key: &SigningKey) -> anyhow::Result<()> {
    let Some(raised) = b.restore_from else {
        return Ok(());
    };
    let limits = ledger_info(&b.url)?.limits;
    if limits.max_backdate_s != raised {
        return Ok(());
    }
    let event = json!({
        "v": 1,
        "id": Uuid::new_v4().to_string(),
        "type": "ledger.limits_set",
        "actor": b.regulator_org,
        "at": time::format_timestamp(time::truncate_millis(chrono::Utc::now())),
        "body": {
            "limits": Limits { max_backdate_s: USUAL_BACKDATE_S, ..limits },
            "reason": DONE_REASON,
        },
    });
    let answer = client::post_json(
        &b.url,
        "/v1/events",
        &event::sign_envelope(&event, regulator_key),
    )?;
    if answer.status != 201 {
        bail!(
            "setting max_backdate back to 14 days was refused ({}): {}",
            answer.status,
            answer.body
        );
    }
    tracing::info!(
        max_backdate_s = USUAL_BACKDATE_S,
        reason = DONE_REASON,
        "limits set back"
    );
    Ok(())
}

/// The plan's highlights, with the manifest numbers the ledger gave.
fn cases(reader: &mut Reader, plan: &plan::Plan) -> anyhow::Result<Vec<files::Case>> {
    let names: HashMap<String, String> = plan
        .orgs
        .iter()
        .map(|o| (o.org.clone(), format!("“{}”", o.name)))
        .collect();
    let mut out = Vec::new();
    for h in &plan.highlights {
        let mut where_ = Vec::new();
        if let Some(m) = h.manifest {
            if let Some(text) = reader.get_optional(&format!("/v1/manifests/{m}"))? {
                let v: Value = serde_json::from_str(&text)?;
                where_.push(format!("联单 {}", v["number"].as_str().unwrap_or("?")));
            }
        }
        if let Some(t) = h.ticket {
            where_.push(format!("问题 {t}"));
        }
        if let Some(place) = h.place {
            where_.push(place.to_owned());
        }
        if where_.is_empty() {
            where_.push("见监管首页的问题清单".into());
        }
        out.push(files::Case {
            what: h.what.clone(),
            where_: where_.join("，"),
            who: h.org.as_ref().and_then(|o| names.get(o)).cloned(),
        });
    }
    Ok(out)
}

fn built(b: &Build, events: usize, seconds: f64) {
    tracing::info!(
        events,
        seconds = format!("{seconds:.1}"),
        keys = %b.out.display(),
        readme = %b.out.join("README.txt").display(),
        "demo district built: sign in to the console with a key file from the keys folder (see its README.txt)"
    );
}

/// Logs what the ledger now holds: its size, and the tickets by kind and status.
fn summary(b: &Build) -> anyhow::Result<()> {
    let mut reader = Reader::connect(&b.url, &b.regulator_key_file, &b.regulator_org)?;
    let size = ledger_info(&b.url)?.size;
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/tickets?limit=1000&after={a}"),
            None => "/v1/tickets?limit=1000".to_owned(),
        };
        let page: Value = serde_json::from_str(&reader.get(&path)?)?;
        for t in page["tickets"].as_array().into_iter().flatten() {
            *by_kind
                .entry(t["kind"].as_str().unwrap_or("?").to_owned())
                .or_default() += 1;
            *by_status
                .entry(t["status"].as_str().unwrap_or("?").to_owned())
                .or_default() += 1;
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    let list = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    tracing::info!(
        entries = size,
        tickets = %list(&by_kind),
        statuses = %list(&by_status),
        "the demo district's ledger"
    );
    Ok(())
}

/// `demo-keys/` beside a SQLite database; in the current folder for PostgreSQL.
pub fn default_keys_dir(db: &DbUrl) -> PathBuf {
    let url = db.expose();
    let file = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest));
    match file.map(Path::new).and_then(Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("demo-keys"),
        _ => PathBuf::from("demo-keys"),
    }
}

impl ServeDemoArgs {
    /// The `max_backdate` to write at genesis: long enough for a year of history when `--demo`
    /// creates the ledger and `--max-backdate` is not given.
    pub fn genesis_backdate(&self, new_ledger: bool, given: Option<i64>) -> Option<i64> {
        match given {
            None if self.demo && new_ledger => Some(DEMO_BACKDATE_S),
            other => other,
        }
    }

    /// Starts the build against the service listening at `listen`, once it serves; the returned
    /// handle stops the service if the build fails.
    pub fn start(
        &self,
        listen: std::net::SocketAddr,
        db: &DbUrl,
        regulator_key: &Path,
        regulator_org: &str,
        backdate_given: bool,
        sequencer: SequencerHandle,
    ) -> DemoTask {
        let task = DemoTask::default();
        if !self.demo {
            return task;
        }
        // A service listening on every address is reached on loopback.
        let mut listen = listen;
        if listen.ip().is_unspecified() {
            listen.set_ip(match listen {
                std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let b = Build {
            url: format!("http://{listen}"),
            regulator_key_file: regulator_key.to_owned(),
            regulator_org: regulator_org.to_owned(),
            out: self
                .demo_keys
                .clone()
                .unwrap_or_else(|| default_keys_dir(db)),
            scale: self.demo_scale,
            force: false,
            restore_from: (!backdate_given).then_some(DEMO_BACKDATE_S),
        };
        let failed = task.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_build(b, sequencer).await {
                tracing::error!(error = %format!("{e:#}"), "the demo district was not built; stopping");
                failed.fail(e);
            }
        });
        task
    }
}

async fn serve_build(b: Build, sequencer: SequencerHandle) -> anyhow::Result<()> {
    let b = Arc::new(b);
    let outcome = {
        let b = b.clone();
        tokio::task::spawn_blocking(move || build(&b)).await??
    };
    match outcome {
        Outcome::Present => {
            tracing::info!(keys = %b.out.display(), "this ledger already holds the demo district: nothing to build");
        }
        Outcome::Built { events, seconds } => {
            // The deadlines the history passed are ticketed now rather than at the next sweep.
            sequencer.sweep().await?;
            built(&b, events, seconds);
            let b = b.clone();
            tokio::task::spawn_blocking(move || summary(&b)).await??;
        }
    }
    Ok(())
}

/// A running `serve --demo` build, as the service sees it: a failure stops the service.
#[derive(Clone, Default)]
pub struct DemoTask {
    error: Arc<Mutex<Option<anyhow::Error>>>,
    failed: Arc<tokio::sync::Notify>,
}

impl DemoTask {
    fn fail(&self, e: anyhow::Error) {
        *self.error.lock().expect("not poisoned") = Some(e);
        self.failed.notify_one();
    }

    /// Resolves on `shutdown`, or when the build fails.
    pub fn or_failure(
        &self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let failed = self.failed.clone();
        async move {
            tokio::select! {
                _ = shutdown => {},
                _ = failed.notified() => {},
            }
        }
    }

    /// The build's error, if it failed.
    pub fn finish(self) -> anyhow::Result<()> {
        match self.error.lock().expect("not poisoned").take() {
            Some(e) => Err(e.context("--demo")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use district::Role;

    #[test]
    fn keys_go_beside_a_sqlite_database() {
        let dir = |u: &str| default_keys_dir(&DbUrl::new(u));
        assert_eq!(dir("sqlite://hwledger.db"), PathBuf::from("demo-keys"));
        assert_eq!(
            dir("sqlite:///var/lib/hwledger/ledger.db?mode=rwc"),
            PathBuf::from("/var/lib/hwledger/demo-keys")
        );
        assert_eq!(dir("sqlite://data/l.db"), PathBuf::from("data/demo-keys"));
        assert_eq!(dir("postgres://u@h/db"), PathBuf::from("demo-keys"));
    }

    #[test]
    fn key_file_names_end_in_the_org_code() {
        let name = files::key_file_name(Role::Generator, "常州澄岚化工", "91320404MA1DM00015");
        assert_eq!(name, "产废-常州澄岚化工-91320404MA1DM00015.pem");
        let code = name.trim_end_matches(".pem").rsplit('-').next().unwrap();
        assert_eq!(code, "91320404MA1DM00015");
    }
}
