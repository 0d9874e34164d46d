//! Append benchmark: how many signed events per second the real service appends, against how
//! many Ed25519 signatures one core verifies in the same run.
//!
//! `cargo bench --bench append [-- --envelopes 30000 --batch 500 --batch-clients 2 --clients 16
//! --requests 300 --backend both --probe-reads --markdown FILE]`
//!
//! For each backend (SQLite in a temp file; PostgreSQL in a fresh database `hwl_bench_<random>`
//! made through the admin URL `HWLEDGER_BENCH_POSTGRES`, default
//! `postgres://root@127.0.0.1:5432/test`, dropped afterwards) the service is started in-process
//! with `Service::start` and served over real HTTP on 127.0.0.1. Every envelope is signed and
//! serialised before the clock starts, so the clients cost little besides the HTTP exchange.
//!
//! Phases per backend: batches of `--batch` `org.registered` envelopes over `--batch-clients`
//! keep-alive connections; then single-envelope posts from `--clients` threads of `--requests`
//! each; then an offline audit of the whole ledger with `hwledger::audit::Auditor` (the core of
//! `hwledger verify`) against the database's head.

#[path = "common/alloc.rs"]
mod alloc;

use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Parser;
use ed25519_dalek::SigningKey;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use hwledger::audit::Auditor;
use hwledger::domain::ids::OrgId;
use hwledger::domain::state::{State, Verdict};
use hwledger::protocol::event::{self, Entry, Prepared};
use hwledger::protocol::merkle::{self, Frontier};
use hwledger::protocol::{jcs, time};
use hwledger::service::{GenesisRegulator, LimitFlags, ServiceConfig};
use hwledger::store::{DbUrl, Store};

const REGULATOR_ORG: &str = "11320404MB0000001Y";
const REGION: &str = "320404";
const ORIGIN: &str = "bench.hwledger.local";
/// Targets of batch `org.registered` ingest: appends/s ÷ single-core verifies/s, the bar a
/// province's ledger is held to (it rises as the ledger's own work per event falls).
const TARGET_SQLITE: f64 = 0.6;
const TARGET_POSTGRES: f64 = 0.5;
/// Target of a stats read of the head while two clients post batches of 500 (`--probe-reads`).
const STATS_P99_MS: f64 = 20.0;

#[path = "common/server.rs"]
mod server;
use server::Served;
#[path = "common/db.rs"]
mod db;
use db::{Backend, BackendChoice, BenchDb};

impl Backend {
    fn target(self) -> f64 {
        match self {
            Backend::Sqlite => TARGET_SQLITE,
            Backend::Postgres => TARGET_POSTGRES,
        }
    }
}

/// Append benchmark of hwledger.
#[derive(Debug, Parser)]
#[command(name = "append")]
struct Args {
    /// Envelopes appended in the batch phase.
    #[arg(long, default_value_t = 30_000)]
    envelopes: usize,
    /// Envelopes per batch request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent connections (threads) posting batches.
    #[arg(long, default_value_t = 2)]
    batch_clients: usize,
    /// Concurrent clients (threads) posting single envelopes; 0 skips that phase.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Single-envelope requests per client.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// Seconds spent measuring each verification rate.
    #[arg(long, default_value_t = 2.0)]
    verify_secs: f64,
    /// Which backends to run.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    backend: BackendChoice,
    /// Admin URL of PostgreSQL; a fresh database is created beside it.
    #[arg(
        long,
        env = "HWLEDGER_BENCH_POSTGRES",
        default_value = "postgres://root@127.0.0.1:5432/test"
    )]
    postgres: String,
    /// Also append the figures as a Markdown section to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// While the batches are appended, one more client reads as the regulator, in turn,
    /// `GET /v1/stats/disposal` (answered from the in-memory state, which waits for the
    /// writer's round) and `GET /v1/orgs/{org}` (a database read), and reports their latencies.
    #[arg(long)]
    probe_reads: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.envelopes > 0 && args.batch > 0 && args.batch <= 1000,
        "--envelopes must be positive and --batch 1..=1000"
    );
    ensure!(args.batch_clients > 0, "--batch-clients must be positive");
    let machine = Machine::probe();
    println!("hwledger append benchmark");
    println!("{}", machine.describe());
    println!(
        "sizes: {} envelopes in batches of {} over {} connections; {} clients × {} single posts",
        args.envelopes, args.batch, args.batch_clients, args.clients, args.requests
    );
    println!();

    let verify = measure_verify(args.verify_secs);
    println!(
        "Ed25519 verification on one thread (the ledger's equation), best 0.25 s window (mean):"
    );
    println!(
        "  verify_one                 {:>8.0} verifies/s ({:.0})",
        verify.single, verify.single_mean
    );
    println!(
        "  verify_all of 500, all cores {:>6.0} verifies/s ({:.0})",
        verify.batch, verify.batch_mean
    );
    let stages = measure_stages(5000, args.batch);
    println!("service work per envelope on one thread, in-process (no HTTP, no database), batches of {}:", args.batch);
    println!("  {}", stages.describe());
    println!(
        "  the sequencer's serial in-memory share (rules + entry hash + tree): {:.1} µs → at most {:.0} appends/s before any database time",
        stages.sequencer(),
        1e6 / stages.sequencer()
    );
    println!();

    let mut backends = Vec::new();
    if args.backend != BackendChoice::Postgres {
        backends.push(Backend::Sqlite);
    }
    if args.backend != BackendChoice::Sqlite {
        backends.push(Backend::Postgres);
    }
    let mut results = Vec::new();
    let mut skipped = Vec::new();
    for backend in backends {
        println!("== {} ==", backend.name());
        let db = match BenchDb::create(backend, &args.postgres) {
            Ok(db) => db,
            Err(e) => {
                let line = format!(
                    "!!!!! {} SKIPPED: cannot create a database at {}: {e:#}",
                    backend.name(),
                    DbUrl::new(args.postgres.clone())
                );
                println!("{line}\n");
                skipped.push(line);
                continue;
            }
        };
        let outcome = run_backend(backend, &db.url, &args);
        if let Ok(result) = &outcome {
            result.print(verify.single, &stages);
        }
        db.drop_db();
        println!();
        results.push(outcome.with_context(|| format!("{} run failed", backend.name()))?);
    }

    let report = Report {
        machine,
        args: std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect(),
        verify,
        verify_secs: args.verify_secs,
        stages,
        results,
        skipped,
    };
    println!("{}", report.summary());
    if let Some(path) = &args.markdown {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        f.write_all(report.markdown().as_bytes())?;
        println!("appended the figures to {}", path.display());
    }
    let failed: Vec<&BackendResult> = report.results.iter().filter(|r| !r.audit_ok()).collect();
    if !failed.is_empty() {
        bail!("the ledger produced by the benchmark did not verify");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Signature verification rate

/// Verification rates on one thread. The machine is shared, so each rate is measured in
/// windows of 0.25 s: `single` and `batch` are the best window (the least disturbed, so the
/// ratio against them is conservative), the `_mean` figures the whole measurement.
struct VerifyRates {
    single: f64,
    single_mean: f64,
    batch: f64,
    batch_mean: f64,
}

/// Runs `step` (which verifies some signatures and returns how many) for `secs`, in windows of
/// 0.25 s; returns (best window rate, overall rate).
fn rate_windows(secs: f64, mut step: impl FnMut() -> u64) -> (f64, f64) {
    let window = Duration::from_millis(250);
    let started = Instant::now();
    let (mut total, mut best) = (0u64, 0f64);
    while started.elapsed().as_secs_f64() < secs {
        let w = Instant::now();
        let mut n = 0;
        while w.elapsed() < window {
            n += step();
        }
        best = best.max(n as f64 / w.elapsed().as_secs_f64());
        total += n;
    }
    (best, total as f64 / started.elapsed().as_secs_f64())
}

fn measure_verify(secs: f64) -> VerifyRates {
    let regulator = SigningKey::generate(&mut rand::thread_rng());
    let at = now();
    let mut items: Vec<Prepared> = (0..500u64)
        .map(|n| {
            let org_key = SigningKey::generate(&mut rand::thread_rng());
            let env =
                event::sign_envelope(&org_registered(900_000_000 + n, &org_key, &at), &regulator);
            Prepared::from_value(env).expect("a valid envelope")
        })
        .collect();
    let (single, single_mean) = rate_windows(secs, || {
        for p in &items[..50] {
            assert!(event::verify_one(&p.key, &p.sig, &p.event_jcs));
        }
        50
    });
    let (batch, batch_mean) = rate_windows(secs, || {
        let mut refs: Vec<&mut Prepared> = items.iter_mut().collect();
        event::verify_all(&mut refs);
        assert!(items.iter().all(|p| p.sig_ok));
        items.len() as u64
    });
    VerifyRates {
        single,
        single_mean,
        batch,
        batch_mean,
    }
}

// ---------------------------------------------------------------------------------------------
// What the service does per envelope, stage by stage, on one thread without HTTP or a database

/// Microseconds per envelope of each stage, on one thread.
struct Stages {
    /// Parsing a batch body strictly, the schema, the header and JCS (`Prepared::from_value`).
    prepare: f64,
    /// `verify_all` over the batch.
    verify: f64,
    /// The rules (`State::submit`): the sequencer's in-memory work.
    rules: f64,
    /// Building the entry, its hash and the tree frontier: the sequencer's hashing.
    entry: f64,
    /// Serialising the answer item (the entry view, which hashes the entry again).
    answer: f64,
}

fn measure_stages(n: usize, batch: usize) -> Stages {
    #[derive(serde::Serialize)]
    struct Answer {
        status: u16,
        entry: event::EntryView,
    }
    let mut rng = rand::thread_rng();
    let regulator = SigningKey::generate(&mut rng);
    let ledger_key = SigningKey::generate(&mut rng);
    let now = time::truncate_millis(chrono::Utc::now());
    let genesis = event::sign_envelope(
        &json!({
            "v": 1, "id": Uuid::new_v4().to_string(), "type": "ledger.genesis",
            "actor": event::LEDGER_ACTOR, "at": time::format_timestamp(now),
            "body": {
                "origin": ORIGIN,
                "ledger_key": hex::encode(ledger_key.verifying_key().to_bytes()),
                "regulator": {"org": REGULATOR_ORG, "name": "常州市钟楼生态环境局", "region": REGION,
                    "keys": [hex::encode(regulator.verifying_key().to_bytes())]},
                "limits": LimitFlags::default().genesis_limits(time::cst_date(now)),
            },
        }),
        &ledger_key,
    );
    let mut state = State::new(ledger_key.verifying_key().to_bytes());
    let mut g = Prepared::from_value(genesis).expect("a valid genesis");
    g.sig_ok = true;
    assert!(matches!(state.submit(&g, now), Ok(Verdict::Accepted(_))));

    let bodies: Vec<Vec<u8>> = sign_orgs(&regulator, 0, n)
        .chunks(batch)
        .map(|c| serde_json::to_vec(c).expect("JSON serialises"))
        .collect();
    let (mut prepare, mut verify, mut rules, mut entry, mut answer) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let mut frontier = Frontier::new();
    let mut prev = [0u8; 32];
    let recorded_at = time::format_millis(now);
    for body in &bodies {
        let t = Instant::now();
        let Ok(Value::Array(values)) = jcs::parse_strict(body) else {
            panic!("a batch body")
        };
        let mut items: Vec<Prepared> = values
            .into_iter()
            .map(|v| Prepared::from_value(v).expect("a valid envelope"))
            .collect();
        prepare += t.elapsed();

        let t = Instant::now();
        let mut refs: Vec<&mut Prepared> = items.iter_mut().collect();
        event::verify_all(&mut refs);
        verify += t.elapsed();

        let t = Instant::now();
        for p in &items {
            assert!(matches!(state.submit(p, now), Ok(Verdict::Accepted(_))));
        }
        rules += t.elapsed();

        let t = Instant::now();
        let entries: Vec<Entry> = items
            .into_iter()
            .map(|p| {
                let e = Entry {
                    seq: frontier.size() + 1,
                    prev,
                    recorded_at: recorded_at.clone(),
                    event_jcs: String::from_utf8(p.event_jcs).expect("JCS is UTF-8"),
                    key: p.key,
                    sig: p.sig,
                };
                prev = e.hash();
                frontier.push(merkle::leaf_hash(&prev));
                e
            })
            .collect();
        let _ = frontier.root();
        entry += t.elapsed();

        let t = Instant::now();
        let out: Vec<Answer> = entries
            .iter()
            .map(|e| Answer {
                status: 201,
                entry: e.view(),
            })
            .collect();
        let bytes = serde_json::to_vec(&out).expect("JSON serialises");
        assert!(!bytes.is_empty());
        answer += t.elapsed();
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    Stages {
        prepare: per(prepare),
        verify: per(verify),
        rules: per(rules),
        entry: per(entry),
        answer: per(answer),
    }
}

impl Stages {
    fn sequencer(&self) -> f64 {
        self.rules + self.entry
    }
    fn describe(&self) -> String {
        format!(
            "prepare (strict parse, schema, JCS) {:.1} µs, verify_all {:.1} µs, rules {:.1} µs, entry hash + tree {:.1} µs, answer {:.1} µs",
            self.prepare, self.verify, self.rules, self.entry, self.answer
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Envelopes

fn now() -> String {
    time::format_timestamp(time::truncate_millis(chrono::Utc::now()))
}

/// `org.registered` of the org numbered `n`, with one key, signed by nobody yet.
fn org_registered(n: u64, key: &SigningKey, at: &str) -> Value {
    let org = OrgId::with_check(&format!("91{REGION}{n:09}")).expect("a valid org id prefix");
    json!({
        "v": 1,
        "id": Uuid::new_v4().to_string(),
        "type": "org.registered",
        "actor": REGULATOR_ORG,
        "at": at,
        "body": {
            "org": org.as_str(),
            "name": format!("常州市钟楼区示例危废产生单位{n}号"),
            "region": REGION,
            "roles": ["generator"],
            "keys": [hex::encode(key.verifying_key().to_bytes())],
        },
    })
}

/// Signed envelopes registering orgs `first..first+count`, made on two threads.
fn sign_orgs(regulator: &SigningKey, first: u64, count: usize) -> Vec<Value> {
    let at = now();
    let half = count / 2;
    let make = |from: u64, len: usize| -> Vec<Value> {
        let mut rng = rand::thread_rng();
        (0..len as u64)
            .map(|i| {
                let key = SigningKey::generate(&mut rng);
                event::sign_envelope(&org_registered(from + i, &key, &at), regulator)
            })
            .collect()
    };
    std::thread::scope(|s| {
        let a = s.spawn(|| make(first, half));
        let b = make(first + half as u64, count - half);
        let mut out = a.join().expect("signing thread");
        out.extend(b);
        out
    })
}

#[path = "common/cpu.rs"]
mod cpu;
use cpu::{clk_tck, cpu_use, stat_ticks, CpuMark, CpuUse};

// ---------------------------------------------------------------------------------------------
// Metrics of the service (Prometheus text), for the sequencer's busy time

#[derive(Debug, Clone, Copy, Default)]
struct Rounds {
    count: f64,
    seconds: f64,
}

fn rounds(base: &str) -> Rounds {
    let text = ureq::get(&format!("{base}/metrics"))
        .call()
        .ok()
        .and_then(|r| r.into_string().ok())
        .unwrap_or_default();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    Rounds {
        count: value("hwledger_commit_seconds_count"),
        seconds: value("hwledger_commit_seconds_sum"),
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

#[derive(Deserialize)]
struct ItemStatus {
    status: u16,
}

struct ClientOutcome {
    latencies: Vec<Duration>,
    items: usize,
    cpu_ticks: u64,
}

/// Posts `bodies` from `clients` threads, each with its own keep-alive connection, taking the
/// next body from a shared queue. A `batch` body must be answered 200 with every item 201; a
/// single envelope must be answered 201. The clock starts once every connection is open.
fn post_all(
    base: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    clients: usize,
    batch: bool,
) -> anyhow::Result<Phase> {
    let next = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(clients + 1));
    let url = format!("{base}/v1/events");
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (bodies, next, barrier, url) =
                (bodies.clone(), next.clone(), barrier.clone(), url.clone());
            let health = format!("{base}/healthz");
            std::thread::Builder::new()
                .name(format!("client-{c}"))
                .spawn(move || -> anyhow::Result<ClientOutcome> {
                    let agent = ureq::AgentBuilder::new()
                        .timeout(Duration::from_secs(600))
                        .max_idle_connections_per_host(1)
                        .build();
                    // Opens the connection before the clock starts.
                    let warm = agent.get(&health).call();
                    barrier.wait();
                    warm.context("GET /healthz")?.into_string()?;
                    let cpu0 = stat_ticks("/proc/thread-self/stat").unwrap_or(0);
                    let mut latencies = Vec::new();
                    let mut items = 0;
                    let mut buf = Vec::with_capacity(1 << 20);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else { break };
                        let started = Instant::now();
                        let resp = agent
                            .post(&url)
                            .set("Content-Type", "application/json")
                            .send_bytes(body);
                        buf.clear();
                        let status = match resp {
                            Ok(r) => {
                                let s = r.status();
                                r.into_reader().read_to_end(&mut buf)?;
                                s
                            }
                            Err(ureq::Error::Status(s, r)) => {
                                r.into_reader().read_to_end(&mut buf)?;
                                s
                            }
                            Err(e) => return Err(e.into()),
                        };
                        latencies.push(started.elapsed());
                        let text =
                            || String::from_utf8_lossy(&buf[..buf.len().min(600)]).into_owned();
                        if batch {
                            ensure!(status == 200, "batch answered {status}: {}", text());
                            let st: Vec<ItemStatus> = serde_json::from_slice(&buf)?;
                            if let Some(pos) = st.iter().position(|s| s.status != 201) {
                                let v: Value = serde_json::from_slice(&buf)?;
                                bail!("batch item {pos} answered {}", v[pos]);
                            }
                            items += st.len();
                        } else {
                            ensure!(status == 201, "single post answered {status}: {}", text());
                            items += 1;
                        }
                    }
                    let cpu1 = stat_ticks("/proc/thread-self/stat").unwrap_or(0);
                    Ok(ClientOutcome {
                        latencies,
                        items,
                        cpu_ticks: cpu1.saturating_sub(cpu0),
                    })
                })
                .expect("a client thread")
        })
        .collect();
    let tck = clk_tck();
    let r0 = rounds(base);
    barrier.wait();
    let cpu0 = CpuMark::now();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut items = 0;
    let mut client_ticks = 0;
    let mut first_error = None;
    for h in handles {
        match h.join().expect("client thread panicked") {
            Ok(o) => {
                latencies.extend(o.latencies);
                items += o.items;
                client_ticks += o.cpu_ticks;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let wall = started.elapsed();
    let cpu1 = CpuMark::now();
    let r1 = rounds(base);
    if let Some(e) = first_error {
        return Err(e);
    }
    latencies.sort();
    Ok(Phase {
        clients,
        items,
        requests: latencies.len(),
        wall,
        latencies,
        cpu: cpu_use(cpu0, cpu1, client_ticks, wall, tck),
        rounds: Rounds {
            count: r1.count - r0.count,
            seconds: r1.seconds - r0.seconds,
        },
    })
}

struct Phase {
    clients: usize,
    items: usize,
    requests: usize,
    wall: Duration,
    /// Sorted.
    latencies: Vec<Duration>,
    cpu: CpuUse,
    rounds: Rounds,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.items as f64 / self.wall.as_secs_f64()
    }
    fn request_rate(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }
    fn percentile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank =
            ((q * self.latencies.len() as f64).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[rank - 1]
    }
    fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
    /// Sequencer seconds per envelope, in µs.
    fn sequencer_us(&self) -> f64 {
        1e6 * self.rounds.seconds / self.items.max(1) as f64
    }
    fn describe_rounds(&self) -> String {
        if self.rounds.count == 0.0 {
            return "sequencer: no rounds recorded".into();
        }
        format!(
            "sequencer: {:.0} rounds of {:.0} envelopes on average, {:.1} ms each; busy {:.0}% of the wall time",
            self.rounds.count,
            self.items as f64 / self.rounds.count,
            1e3 * self.rounds.seconds / self.rounds.count,
            100.0 * self.rounds.seconds / self.wall.as_secs_f64()
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------------
// One backend

struct BackendResult {
    backend: Backend,
    batch: Phase,
    single: Option<Phase>,
    expected_size: u64,
    http_size: u64,
    audit: Result<(u64, Duration), String>,
}

impl BackendResult {
    fn ratio(&self, verify: f64) -> f64 {
        self.batch.rate() / verify
    }
    fn pass(&self, verify: f64) -> bool {
        self.ratio(verify) >= self.backend.target()
    }
    fn audit_ok(&self) -> bool {
        self.audit.is_ok() && self.http_size == self.expected_size
    }

    fn print(&self, verify: f64, stages: &Stages) {
        let b = &self.batch;
        println!(
            "batches: {} envelopes in {} requests ({:.1} requests/s) over {:.2} s: {:.0} appends/s",
            b.items,
            b.requests,
            b.request_rate(),
            b.wall.as_secs_f64(),
            b.rate()
        );
        println!(
            "  ratio to single-core verify: {:.3} (target ≥ {}): {}",
            self.ratio(verify),
            self.backend.target(),
            if self.pass(verify) { "PASS" } else { "MISS" }
        );
        println!(
            "  per batch request: p50 {:.0} ms, max {:.0} ms",
            ms(b.percentile(0.5)),
            ms(b.max())
        );
        println!("  {}", b.describe_rounds());
        println!(
            "  sequencer time per envelope {:.1} µs, of which rules + hashing ≈ {:.1} µs in-process; the rest (database write and commit) ≈ {:.1} µs",
            b.sequencer_us(),
            stages.sequencer(),
            b.sequencer_us() - stages.sequencer()
        );
        println!("  {}", b.cpu.describe());
        if let Some(s) = &self.single {
            println!(
                "single posts: {} from {} clients over {:.2} s: {:.0} appends/s",
                s.items,
                s.clients,
                s.wall.as_secs_f64(),
                s.rate()
            );
            println!(
                "  latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                ms(s.percentile(0.5)),
                ms(s.percentile(0.99)),
                ms(s.max())
            );
            println!("  {}", s.describe_rounds());
            println!("  {}", s.cpu.describe());
        }
        println!(
            "ledger: GET /v1/ledger size {} (expected {}): {}",
            self.http_size,
            self.expected_size,
            if self.http_size == self.expected_size {
                "ok"
            } else {
                "WRONG"
            }
        );
        match &self.audit {
            Ok((n, d)) => println!(
                "audit: {n} entries replayed and checked (sequence, chain, hashes, signatures, rules, root = stored head) in {:.2} s: ok",
                d.as_secs_f64()
            ),
            Err(e) => println!("audit: FAILED: {e}"),
        }
    }
}

fn run_backend(backend: Backend, url: &str, args: &Args) -> anyhow::Result<BackendResult> {
    let mut rng = rand::thread_rng();
    let regulator = SigningKey::generate(&mut rng);
    let ledger_key = SigningKey::generate(&mut rng);
    let ledger_pub = ledger_key.verifying_key().to_bytes();

    let started = Instant::now();
    let batch_envelopes = sign_orgs(&regulator, 0, args.envelopes);
    let batch_bodies: Vec<Vec<u8>> = batch_envelopes
        .chunks(args.batch)
        .map(|c| serde_json::to_vec(c).expect("JSON serialises"))
        .collect();
    drop(batch_envelopes);
    let singles = args.clients * args.requests;
    let single_bodies: Vec<Vec<u8>> = sign_orgs(&regulator, args.envelopes as u64, singles)
        .iter()
        .map(|e| serde_json::to_vec(e).expect("JSON serialises"))
        .collect();
    println!(
        "pre-signed and serialised {} envelopes in {:.1} s ({:.1} MB of request bodies)",
        args.envelopes + singles,
        started.elapsed().as_secs_f64(),
        (batch_bodies.iter().map(Vec::len).sum::<usize>()
            + single_bodies.iter().map(Vec::len).sum::<usize>()) as f64
            / 1e6
    );

    let config = ServiceConfig {
        snapshot: None,
        db: DbUrl::new(url),
        origin: ORIGIN.into(),
        ledger_key,
        regulator: GenesisRegulator {
            org: REGULATOR_ORG.into(),
            name: "常州市钟楼生态环境局".into(),
            region: REGION.into(),
            key: regulator.verifying_key(),
        },
        limits: LimitFlags::default(),
        sweep_interval: Duration::from_secs(60),
        clock: hwledger::sequencer::Clock::system(),
    };
    let served = Served::start(config)?;
    let base = served.base.clone();

    let load = || -> anyhow::Result<(Phase, Option<Phase>, u64)> {
        let batch = if args.probe_reads {
            let token = hwledger::protocol::token::mint(
                &regulator,
                REGULATOR_ORG,
                ORIGIN,
                chrono::Utc::now().timestamp(),
                600,
            );
            let done = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|s| -> anyhow::Result<Phase> {
                let probe = s.spawn(|| probe_reads(&base, &token, &done));
                let batch = post_all(&base, Arc::new(batch_bodies), args.batch_clients, true);
                done.store(true, Ordering::Relaxed);
                let probe = probe.join().expect("the probe thread does not panic")?;
                probe.print();
                batch.context("batch phase")
            })?
        } else {
            post_all(&base, Arc::new(batch_bodies), args.batch_clients, true)
                .context("batch phase")?
        };
        let single = if singles > 0 {
            Some(
                post_all(&base, Arc::new(single_bodies), args.clients, false)
                    .context("single-post phase")?,
            )
        } else {
            None
        };
        let info: Value = ureq::get(&format!("{base}/v1/ledger"))
            .call()?
            .into_json()?;
        let size = info["size"]
            .as_u64()
            .context("GET /v1/ledger has no size")?;
        Ok((batch, single, size))
    };
    let loaded = load();
    let stopped = served.stop();
    let (batch, single, http_size) = loaded?;
    let rt = stopped?;

    let audit = rt
        .block_on(audit(url, ledger_pub))
        .map_err(|e| format!("{e:#}"));
    drop(rt);
    Ok(BackendResult {
        backend,
        batch,
        single,
        expected_size: 1 + (args.envelopes + singles) as u64,
        http_size,
        audit,
    })
}

/// Latencies of reads made while the batch phase appends.
struct Probe {
    stats: Vec<Duration>,
    orgs: Vec<Duration>,
}

impl Probe {
    fn print(&self) {
        for (what, d, target_ms) in [
            ("GET /v1/stats/disposal", &self.stats, Some(STATS_P99_MS)),
            ("GET /v1/orgs/{org}", &self.orgs, None),
        ] {
            let mut d = d.clone();
            d.sort();
            let p = |q: f64| d.get(((d.len() as f64 * q) as usize).min(d.len().saturating_sub(1)));
            match (p(0.5), p(0.99), d.last()) {
                (Some(p50), Some(p99), Some(max)) => println!(
                    "  reads during the batches: {what}: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms{}",
                    d.len(),
                    ms(*p50),
                    ms(*p99),
                    ms(*max),
                    match target_ms {
                        Some(t) if ms(*p99) <= t => format!(" (target p99 ≤ {t} ms: PASS)"),
                        Some(t) => format!(" (target p99 ≤ {t} ms: MISS)"),
                        None => String::new(),
                    }
                ),
                _ => println!("  reads during the batches: {what}: none made"),
            }
        }
    }
}

/// Reads as the regulator, one request at a time with a 2 ms pause, until `done`; every answer
/// must be 200.
fn probe_reads(
    base: &str,
    token: &str,
    done: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<Probe> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    let auth = format!("Bearer {token}");
    let mut probe = Probe {
        stats: Vec::new(),
        orgs: Vec::new(),
    };
    let org_path = format!("{base}/v1/orgs/{REGULATOR_ORG}");
    let stats_path = format!("{base}/v1/stats/disposal");
    let mut turn = 0usize;
    while !done.load(Ordering::Relaxed) {
        let (url, into) = if turn % 2 == 0 {
            (&stats_path, &mut probe.stats)
        } else {
            (&org_path, &mut probe.orgs)
        };
        let t = Instant::now();
        let r = agent.get(url).set("Authorization", &auth).call();
        let took = t.elapsed();
        let status = match r {
            Ok(r) => {
                let s = r.status();
                r.into_string()?;
                s
            }
            Err(ureq::Error::Status(s, _)) => s,
            Err(e) => return Err(e.into()),
        };
        ensure!(status == 200, "GET {url} answered {status}");
        into.push(took);
        turn += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(probe)
}

/// Replays the whole ledger from the database as `hwledger verify --db` does, and compares the
/// recomputed size and root with the stored head.
async fn audit(url: &str, ledger_key: [u8; 32]) -> anyhow::Result<(u64, Duration)> {
    let store = Store::connect(&DbUrl::new(url)).await?;
    let head = store.head().await?;
    let started = Instant::now();
    let mut auditor = Auditor::new(ledger_key);
    let outcome = async {
        loop {
            let chunk: Vec<_> = store
                .entries_with_hash(auditor.size(), 2000)
                .await?
                .into_iter()
                .map(|(e, h)| (e, Some(h)))
                .collect();
            if chunk.is_empty() {
                break;
            }
            auditor.check(&chunk).map_err(|f| anyhow::anyhow!("{f}"))?;
        }
        anyhow::Ok(())
    }
    .await;
    let took = started.elapsed();
    store.close().await;
    outcome?;
    ensure!(
        auditor.size() == head.size,
        "the stored head says {} entries, the replay found {}",
        head.size,
        auditor.size()
    );
    ensure!(
        auditor.root() == head.root,
        "the stored root is not the root of the entries"
    );
    Ok((auditor.size(), took))
}

// ---------------------------------------------------------------------------------------------
// Report

#[path = "common/machine.rs"]
mod machine;
use machine::Machine;

struct Report {
    machine: Machine,
    args: Vec<String>,
    verify: VerifyRates,
    verify_secs: f64,
    stages: Stages,
    results: Vec<BackendResult>,
    skipped: Vec<String>,
}

impl Report {
    fn command(&self) -> String {
        let mut c = "cargo bench --bench append".to_owned();
        if !self.args.is_empty() {
            c.push_str(" -- ");
            c.push_str(&self.args.join(" "));
        }
        c
    }

    fn summary(&self) -> String {
        let v = self.verify.single;
        let mut out = String::new();
        let _ = writeln!(out, "== summary ==");
        let _ = writeln!(out, "{}", self.machine.describe());
        let _ = writeln!(
            out,
            "verify_one {:.0}/s (mean {:.0}) on one thread; verify_all (500, all cores) {:.0}/s (mean {:.0}); best 0.25 s window",
            v, self.verify.single_mean, self.verify.batch, self.verify.batch_mean
        );
        for r in &self.results {
            let _ = write!(
                out,
                "{:<10}  batches: {:>6.0} appends/s = {:.3} × verify_one (target ≥ {}) {}",
                r.backend.name(),
                r.batch.rate(),
                r.ratio(v),
                r.backend.target(),
                if r.pass(v) { "PASS" } else { "MISS" }
            );
            if let Some(s) = &r.single {
                let _ = write!(
                    out,
                    "; {} clients: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                    s.clients,
                    s.rate(),
                    ms(s.percentile(0.5)),
                    ms(s.percentile(0.99)),
                    ms(s.max())
                );
            }
            let _ = writeln!(
                out,
                "; ledger {}",
                if r.audit_ok() { "verified" } else { "INVALID" }
            );
        }
        for s in &self.skipped {
            let _ = writeln!(out, "{s}");
        }
        out
    }

    fn markdown(&self) -> String {
        let m = &self.machine;
        let v = self.verify.single;
        let mut out = String::new();
        let _ = writeln!(out, "\n### Run of {} (commit {})\n", m.date, m.commit);
        let _ = writeln!(out, "`{}`\n", self.command());
        let _ = writeln!(
            out,
            "Machine: {} cores, {}, {:.1} GiB RAM.\n",
            m.cores, m.cpu, m.mem_gib
        );
        let _ = writeln!(
            out,
            "Ed25519 on one thread in this run (best 0.25 s window; mean of the {:.0} s in brackets): `verify_one` {:.0} verifies/s ({:.0}); `verify_all` over 500 envelopes on all cores {:.0} verifies/s ({:.0}). Ratios are against the best `verify_one` window.\n",
            self.verify_secs, v, self.verify.single_mean, self.verify.batch, self.verify.batch_mean
        );
        let st = &self.stages;
        let _ = writeln!(
            out,
            "Service work per envelope on one thread, in-process, no HTTP or database: {}; so the sequencer's serial in-memory share is {:.1} µs.\n",
            st.describe(),
            st.sequencer()
        );
        let _ = writeln!(
            out,
            "| backend | batch appends/s | ÷ verify_one | target | | single posts/s | clients | p50 ms | p99 ms | max ms | ledger |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|");
        for r in &self.results {
            let (rate, clients, p50, p99, max) = match &r.single {
                Some(s) => (
                    format!("{:.0}", s.rate()),
                    s.clients.to_string(),
                    format!("{:.1}", ms(s.percentile(0.5))),
                    format!("{:.1}", ms(s.percentile(0.99))),
                    format!("{:.1}", ms(s.max())),
                ),
                None => Default::default(),
            };
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.3} | ≥ {} | **{}** | {} | {} | {} | {} | {} | {} |",
                r.backend.name(),
                r.batch.rate(),
                r.ratio(v),
                r.backend.target(),
                if r.pass(v) { "PASS" } else { "MISS" },
                rate,
                clients,
                p50,
                p99,
                max,
                if r.audit_ok() {
                    format!("{} entries verified", r.http_size)
                } else {
                    "INVALID".into()
                }
            );
        }
        let _ = writeln!(
            out,
            "\n| backend | phase | wall s | sequencer rounds | envelopes/round | ms/round | µs/envelope | sequencer busy | CPU cores: service | clients | postgres | machine |"
        );
        let _ = writeln!(
            out,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &self.results {
            let phases = [("batches", Some(&r.batch)), ("single", r.single.as_ref())];
            for (name, p) in phases {
                let Some(p) = p else { continue };
                let n = p.rounds.count.max(1.0);
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.2} | {:.0} | {:.0} | {:.1} | {:.1} | {:.0}% | {:.2} | {:.2} | {:.2} | {:.2} of {:.0} |",
                    r.backend.name(),
                    name,
                    p.wall.as_secs_f64(),
                    p.rounds.count,
                    p.items as f64 / n,
                    1e3 * p.rounds.seconds / n,
                    p.sequencer_us(),
                    100.0 * p.rounds.seconds / p.wall.as_secs_f64(),
                    p.cpu.server,
                    p.cpu.clients,
                    p.cpu.postgres,
                    p.cpu.machine,
                    p.cpu.cores
                );
            }
        }
        for s in &self.skipped {
            let _ = writeln!(out, "\n{s}");
        }
        out
    }
}
