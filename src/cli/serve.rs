//! `hwledger serve`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::protocol::keys;
use crate::service::{GenesisRegulator, LimitFlags, Service, ServiceConfig};
use crate::store::{DbUrl, Store};
use ed25519_dalek::VerifyingKey;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Database URL: sqlite://FILE (created when missing) or postgres://…
    #[arg(
        long,
        default_value = "sqlite://hwledger.db",
        env = "HWLEDGER_DB",
        hide_env_values = true
    )]
    pub db: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The ledger's origin (the checkpoint's name; fixed at genesis).
    #[arg(long, default_value = "hwledger.local")]
    pub origin: String,
    /// The ledger's own key (PKCS#8 PEM); created when missing.
    #[arg(long, default_value = "hwledger-keys/ledger.pem")]
    pub ledger_key: PathBuf,
    /// The genesis regulator's key (PKCS#8 PEM); created when missing.
    #[arg(long, default_value = "hwledger-keys/regulator.pem")]
    pub regulator_key: PathBuf,
    /// The genesis regulator's unified social credit code.
    #[arg(long, default_value = "11320404MB0000001Y")]
    pub regulator_org: String,
    #[arg(
        long,
        default_value = "示例生态环境局",
        default_value_if("demo", "true", Some(super::demo::REGULATOR_NAME))
    )]
    pub regulator_name: String,
    /// The genesis regulator's administrative division code.
    #[arg(long, default_value = "320404")]
    pub regulator_region: String,
    /// Time from pickup to receipt before a manifest is overdue in transit (e.g. 5d, 72h).
    #[arg(long, value_parser = parse_seconds)]
    pub transit_limit: Option<i64>,
    /// Time from receipt to disposal.
    #[arg(long, value_parser = parse_seconds)]
    pub disposal_limit: Option<i64>,
    /// Time a declared lot may stay at its generator.
    #[arg(long, value_parser = parse_seconds)]
    pub storage_limit: Option<i64>,
    /// How far before the ledger's clock an event's time may lie (paper manifests entered late).
    #[arg(long, value_parser = parse_seconds)]
    pub max_backdate: Option<i64>,
    /// Shortfall between shipped and received tolerated as weighing error, in percent (e.g. 1 or 0.5).
    #[arg(long, value_parser = parse_percent_bp)]
    pub shortfall_tolerance: Option<i64>,
    /// Time a declared lot may stay at its generator, where a local rule sets one apart from
    /// the storage limit (default: not written; the storage limit applies).
    #[arg(long, value_parser = parse_seconds)]
    pub generator_storage_limit: Option<i64>,
    /// How far a plan's quantity may be exceeded, in percent (default 20).
    #[arg(long, value_parser = parse_percent_bp_any)]
    pub plan_excess: Option<i64>,
    /// The date compliance starts (YYYY-MM-DD), or `off` (default: the genesis' CST date).
    #[arg(long, value_parser = parse_compliance_from)]
    pub compliance_from: Option<ComplianceFrom>,
    /// How often the sweeper looks for passed deadlines.
    #[arg(long, default_value = "60s", value_parser = parse_interval)]
    pub sweep_interval: Duration,
    /// Serve the web console from this folder instead of the copy compiled into the binary
    /// (for working on the console).
    #[arg(long)]
    pub web_dir: Option<PathBuf>,
    /// The start-up snapshot file, or `off` (default: beside a SQLite database, FILE.snapshot;
    /// for PostgreSQL, hwledger-ORIGIN.snapshot in the current folder).
    #[arg(long)]
    pub snapshot: Option<String>,
    /// The log's format: `text` (one line per event; colours only on a terminal and without
    /// NO_COLOR) or `json` (one JSON object per line, for log collectors).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Write a snapshot whenever this many entries were appended since the last.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_every: u64,
    /// Time allowed for a TLS handshake and for the head of an HTTP/1.1 request; a client
    /// slower than that is disconnected.
    #[arg(long, default_value = "10s", value_parser = parse_interval)]
    pub header_timeout: Duration,
    /// Time a connection may stay silent (nothing read or written) while no answer is being
    /// produced on it, before it is closed.
    #[arg(long, default_value = "30s", value_parser = parse_interval)]
    pub idle_timeout: Duration,
    /// Time allowed for a request, from the end of its head to its answer; later, it is
    /// answered 503 `timeout`.
    #[arg(long, default_value = "60s", value_parser = parse_interval)]
    pub request_timeout: Duration,
    /// Connections served at once; more are closed as soon as they are accepted.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Appends (requests to POST /v1/events) that may wait for the writer; more are answered
    /// 503 `overloaded` with Retry-After.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub queue: u64,
    /// Replays of earlier ledger sizes or times (figures and reports of the past) each org may
    /// ask for in a minute; more are answered 429 `rate_limited` with Retry-After.
    #[arg(long, default_value_t = crate::api::DEFAULT_REPLAYS_PER_MINUTE as u64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub replays_per_minute: u64,
    /// Time a witness may take to answer a checkpoint submission (§5a); a later answer counts
    /// as a failure, retried with backoff. Appends never wait for witnesses.
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    pub witness_timeout: Duration,
    #[command(flatten)]
    pub demo: super::demo::ServeDemoArgs,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs to standard output at `RUST_LOG` (default: the service at info, the database and HTTP
/// libraries at warn). Text carries terminal colour codes only when standard output is a
/// terminal and `NO_COLOR` is not set, so files and journald get plain lines.
pub(super) fn init_logs(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into())
    };
    match format {
        LogFormat::Text => {
            let colour = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            tracing_subscriber::fmt()
                .with_env_filter(filter())
                .with_ansi(colour)
                .init()
        }
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_env_filter(filter())
            .init(),
    }
}

/// Where snapshots go: `--snapshot`, or beside a SQLite file, or named after the origin.
fn snapshot_config(
    flag: Option<&str>,
    db: &DbUrl,
    origin: &str,
    every: u64,
) -> Option<crate::snapshot::SnapshotConfig> {
    let path = match flag {
        Some("off") => return None,
        Some(p) => PathBuf::from(p),
        None if db.is_postgres() => PathBuf::from(format!("hwledger-{origin}.snapshot")),
        None => {
            let file = db
                .expose()
                .strip_prefix("sqlite://")
                .or_else(|| db.expose().strip_prefix("sqlite:"))?;
            let file = file.split('?').next().unwrap_or(file);
            if file.is_empty() || file.starts_with(':') {
                // An in-memory database has nothing to start from.
                return None;
            }
            PathBuf::from(format!("{file}.snapshot"))
        }
    };
    Some(crate::snapshot::SnapshotConfig { path, every })
}

/// A duration such as `30s`, `15m`, `72h` or `5d`, in whole seconds.
pub fn parse_seconds(s: &str) -> Result<i64, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d.subsec_nanos() != 0 || d.as_secs() == 0 {
        return Err("give a whole, positive number of seconds or more".into());
    }
    i64::try_from(d.as_secs()).map_err(|_| "too long".into())
}

/// A sweep interval: a positive duration.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("the interval must be longer than zero".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// `--compliance-from`: a date, or `off` (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComplianceFrom(pub Option<chrono::NaiveDate>);

pub fn parse_compliance_from(s: &str) -> Result<ComplianceFrom, String> {
    if s == "off" {
        return Ok(ComplianceFrom(None));
    }
    crate::protocol::time::parse_date(s)
        .map(|d| ComplianceFrom(Some(d)))
        .map_err(|e| format!("{s:?} is not a date YYYY-MM-DD or `off`: {e}"))
}

/// A percentage with at most two decimals, as basis points, up to 10,000 % (a plan may be
/// exceeded by more than its own quantity): `20` → 2000.
pub fn parse_percent_bp_any(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a percentage between 0 and 10000 with at most two decimals");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || int.len() > 5
        || frac.len() > 2
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let bp = int.parse::<i64>().map_err(|_| bad())? * 100
        + format!("{frac:0<2}").parse::<i64>().map_err(|_| bad())?;
    if bp > 1_000_000 {
        return Err(bad());
    }
    Ok(bp)
}

/// A percentage with at most two decimals, as basis points: `1` → 100, `0.5` → 50.
pub fn parse_percent_bp(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a percentage between 0 and 100 with at most two decimals");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || frac.len() > 2
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let int: i64 = int.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let bp = int * 100 + frac;
    if bp > 10_000 {
        return Err(bad());
    }
    Ok(bp)
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logs(args.log_format);
    // The demo builds the district through this service's own plain-HTTP address.
    if args.demo.demo && args.tls_cert.is_some() {
        anyhow::bail!(
            "--demo builds the district over plain HTTP: start once with --demo and without \
             --tls-cert/--tls-key, then restart with them"
        );
    }
    // Read before the database is touched: a wrong path must not leave a new ledger behind.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::api::tls::server_config(cert, key)?),
        _ => None,
    };
    let db = DbUrl::new(args.db);
    // Keys are created only for a new ledger: against an existing one, a missing key file is a
    // wrong path, and a fresh key would only be refused.
    let genesis = {
        let store = Store::connect(&db).await?;
        let e0 = store.entry(0).await?;
        store.close().await;
        e0.map(|e| e.event())
    };
    let (ledger_key, regulator_key) = match &genesis {
        Some(event) => {
            let ledger_key = keys::load(&args.ledger_key).with_context(|| {
                format!("{} holds a ledger: --ledger-key must name its key file", db)
            })?;
            // The genesis regulator is already recorded; its key file is not needed.
            let recorded = event["body"]["regulator"]["keys"][0]
                .as_str()
                .and_then(crate::protocol::event::parse_hex::<32>)
                .and_then(|k| VerifyingKey::from_bytes(&k).ok())
                .context("the genesis names no regulator key")?;
            (ledger_key, recorded)
        }
        None => {
            let (ledger_key, created) = keys::load_or_create(&args.ledger_key)?;
            if created {
                tracing::info!(path = %args.ledger_key.display(), public = %keys::public_hex(&ledger_key), "created the ledger key");
            }
            let (regulator_key, created) = keys::load_or_create(&args.regulator_key)?;
            if created {
                tracing::info!(path = %args.regulator_key.display(), public = %keys::public_hex(&regulator_key), "created the regulator key");
            }
            (ledger_key, regulator_key.verifying_key())
        }
    };
    let max_backdate = args
        .demo
        .genesis_backdate(genesis.is_none(), args.max_backdate);
    let regulator_org = args.regulator_org.clone();
    let snapshot = snapshot_config(
        args.snapshot.as_deref(),
        &db,
        &args.origin,
        args.snapshot_every,
    );
    let config = ServiceConfig {
        db: db.clone(),
        snapshot,
        origin: args.origin,
        ledger_key,
        regulator: GenesisRegulator {
            org: args.regulator_org,
            name: args.regulator_name,
            region: args.regulator_region,
            key: regulator_key,
        },
        limits: LimitFlags {
            transit_s: args.transit_limit,
            disposal_s: args.disposal_limit,
            storage_s: args.storage_limit,
            max_backdate_s: max_backdate,
            shortfall_bp: args.shortfall_tolerance,
            generator_storage_s: args.generator_storage_limit,
            plan_excess_bp: args.plan_excess,
            compliance_from: args.compliance_from.map(|c| c.0),
        },
        sweep_interval: args.sweep_interval,
        clock: crate::sequencer::Clock::system(),
    };
    let mut service =
        Service::start_with_options(config, args.queue as usize, args.witness_timeout).await?;
    service.state.replays = std::sync::Arc::new(crate::api::ReplayLimit::new(
        args.replays_per_minute as usize,
    ));
    if let Some(dir) = args.web_dir {
        service.state.web = crate::api::web::WebSource::Dir(std::sync::Arc::new(dir));
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(listen = %listener.local_addr()?, scheme, db = %db, size = service.state.sequencer.head().size, "serving");
    let demo = args.demo.start(
        listener.local_addr()?,
        &db,
        &args.regulator_key,
        &regulator_org,
        args.max_backdate.is_some(),
        service.state.sequencer.clone(),
    );
    let shutdown = demo.or_failure(shutdown_signal());
    let limits = crate::api::ServeLimits {
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        request_timeout: args.request_timeout,
        max_connections: args.max_connections,
    };
    crate::api::server::serve(listener, service.router(), tls, limits, shutdown).await?;
    tracing::info!("shutting down: finishing queued appends");
    service.shutdown().await;
    demo.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM.
pub(super) async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_limits_default_to_the_documented_values() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let args = <Cli as clap::Parser>::parse_from(["hwledger"]).serve;
        let limits = crate::api::ServeLimits::default();
        assert_eq!(args.header_timeout, limits.header_timeout);
        assert_eq!(args.idle_timeout, limits.idle_timeout);
        assert_eq!(args.request_timeout, limits.request_timeout);
        assert_eq!(args.max_connections, limits.max_connections);
        assert_eq!(
            (
                limits.header_timeout.as_secs(),
                limits.idle_timeout.as_secs()
            ),
            (10, 30)
        );
        assert_eq!(args.queue as usize, crate::sequencer::DEFAULT_QUEUE);
        assert!(<Cli as clap::Parser>::try_parse_from(["hwledger", "--queue", "0"]).is_err());
        assert!(
            <Cli as clap::Parser>::try_parse_from(["hwledger", "--idle-timeout", "0s"]).is_err()
        );
    }

    #[test]
    fn durations_and_percentages() {
        assert_eq!(parse_seconds("30s"), Ok(30));
        assert_eq!(parse_seconds("15m"), Ok(900));
        assert_eq!(parse_seconds("72h"), Ok(259_200));
        assert_eq!(parse_seconds("5d"), Ok(432_000));
        assert!(parse_seconds("0s").is_err());
        assert!(parse_seconds("soon").is_err());
        assert_eq!(parse_interval("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_interval("0s").is_err());
        assert_eq!(parse_percent_bp("1"), Ok(100));
        assert_eq!(parse_percent_bp("0.5"), Ok(50));
        assert_eq!(parse_percent_bp("0.25"), Ok(25));
        assert_eq!(parse_percent_bp("100"), Ok(10_000));
        assert!(parse_percent_bp("0.125").is_err());
        assert!(parse_percent_bp("101").is_err());
        assert!(parse_percent_bp("-1").is_err());
        assert!(parse_percent_bp("1e2").is_err());
    }
}
