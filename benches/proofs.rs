//! Proof benchmark: latency of inclusion and consistency proofs and historic checkpoints over
//! HTTP, on a ledger of a million entries.
//!
//! `cargo bench --bench proofs [-- --entries 1000000 --requests 2000 --clients 4
//! --backend sqlite|postgres|both --markdown FILE]`
//!
//! For each backend (SQLite in a temp file; PostgreSQL in a fresh database `hwl_bench_<random>`
//! made through `HWLEDGER_BENCH_POSTGRES`, default `postgres://root@127.0.0.1:5432/test`,
//! dropped afterwards) the real service is started in-process and served on 127.0.0.1. It is
//! filled through `POST /v1/events` with batches of `org.registered` envelopes: one thread signs
//! and serialises batches ahead of two posting connections, and every item must answer 201.
//! On PostgreSQL the database is then vacuumed and analysed (what autovacuum does over the life
//! of a ledger filled more slowly). Then, with nothing appending, each kind of read is timed
//! from one keep-alive connection and from `--clients` concurrent ones. A sample of answers (every 25th) is verified afterwards:
//! proofs with `merkle::verify_*` against the root of the signed `/v1/checkpoints/{size}`, the
//! leaf against the hash of the entry read from `/v1/entries/{seq}`.

#[path = "common/alloc.rs"]
mod alloc;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Parser;
use ed25519_dalek::SigningKey;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Connection;
use uuid::Uuid;

use hwledger::domain::ids::OrgId;
use hwledger::protocol::checkpoint::Checkpoint;
use hwledger::protocol::event::{self, parse_hex, EntryView, Hash};
use hwledger::protocol::merkle;
use hwledger::protocol::time;
use hwledger::service::{GenesisRegulator, LimitFlags, ServiceConfig};
use hwledger::store::DbUrl;

const REGULATOR_ORG: &str = "11320404MB0000001Y";
const REGION: &str = "320404";
const ORIGIN: &str = "bench.hwledger.local";
/// The target: p99 of every proof read at most this many milliseconds.
const TARGET_P99_MS: f64 = 5.0;
/// One answer in this many is verified after the timing.
const VERIFY_EVERY: usize = 25;

#[path = "common/server.rs"]
mod server;
use server::Served;
#[path = "common/db.rs"]
mod db;
use db::{small_runtime, Backend, BackendChoice, BenchDb};

/// Proof benchmark of hwledger.
#[derive(Debug, Parser)]
#[command(name = "proofs")]
struct Args {
    /// Ledger size to fill to (the genesis included).
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Envelopes per batch request while filling.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Timed requests per kind of read from one connection; the concurrent run makes as many in
    /// total.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Concurrent connections of the concurrent run.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Which backends to run.
    #[arg(long, value_enum, default_value_t = BackendChoice::Sqlite)]
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
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.entries >= 2, "--entries must be at least 2");
    ensure!(
        (1..=1000).contains(&args.batch),
        "--batch must be 1 to 1000"
    );
    ensure!(
        args.requests >= 100 && args.clients > 0,
        "--requests must be at least 100 and --clients positive"
    );
    let machine = Machine::probe();
    println!("hwledger proof benchmark");
    println!("{}", machine.describe());
    let mut backends = Vec::new();
    if args.backend != BackendChoice::Postgres {
        backends.push(Backend::Sqlite);
    }
    if args.backend != BackendChoice::Sqlite {
        backends.push(Backend::Postgres);
    }
    let mut results = Vec::new();
    for backend in backends {
        println!("\n== {} ==", backend.name());
        let db = BenchDb::create(backend, &args.postgres)
            .with_context(|| format!("cannot create a {} database", backend.name()))?;
        let outcome = run_backend(backend, &db.url, &args);
        db.drop_db();
        results.push(outcome.with_context(|| format!("{} run failed", backend.name()))?);
    }
    let report = Report {
        machine,
        args: std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect(),
        results,
    };
    println!("\n{}", report.markdown());
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
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Filling

fn now() -> String {
    time::format_timestamp(time::truncate_millis(chrono::Utc::now()))
}

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
            "name": format!("示例单位{n}"),
            "region": REGION,
            "roles": ["generator"],
            "keys": [hex::encode(key.verifying_key().to_bytes())],
        },
    })
}

#[derive(Deserialize)]
struct ItemStatus {
    status: u16,
}

/// Appends `count` entries through the service; returns the wall time.
fn fill(base: &str, regulator: &SigningKey, count: u64, batch: usize) -> anyhow::Result<Duration> {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(8);
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let started = Instant::now();
    let signer = {
        let regulator = regulator.clone();
        std::thread::spawn(move || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            let mut n = 0;
            while n < count {
                let len = (count - n).min(batch as u64);
                let at = now();
                let items: Vec<Value> = (n..n + len)
                    .map(|i| {
                        let key = SigningKey::generate(&mut rng);
                        event::sign_envelope(&org_registered(i, &key, &at), &regulator)
                    })
                    .collect();
                if tx.send(serde_json::to_vec(&items).expect("JSON")).is_err() {
                    return;
                }
                n += len;
            }
        })
    };
    let done = Arc::new(AtomicU64::new(0));
    let posters: Vec<_> = (0..2)
        .map(|_| {
            let (rx, done, url) = (rx.clone(), done.clone(), format!("{base}/v1/events"));
            std::thread::spawn(move || -> anyhow::Result<()> {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(600))
                    .build();
                loop {
                    let body = match rx.lock().expect("queue").recv() {
                        Ok(b) => b,
                        Err(_) => return Ok(()),
                    };
                    let resp = agent
                        .post(&url)
                        .set("Content-Type", "application/json")
                        .send_bytes(&body)
                        .context("a batch POST")?;
                    let st: Vec<ItemStatus> = resp.into_json()?;
                    if let Some(pos) = st.iter().position(|s| s.status != 201) {
                        bail!("batch item {pos} answered {}", st[pos].status);
                    }
                    done.fetch_add(st.len() as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut last = 0;
    while !signer.is_finished() || done.load(Ordering::Relaxed) < count {
        std::thread::sleep(Duration::from_millis(250));
        if posters.iter().all(|p| p.is_finished()) {
            break;
        }
        let d = done.load(Ordering::Relaxed);
        if d / 100_000 != last / 100_000 {
            println!(
                "  {d} entries appended, {:.0} s, {:.0}/s",
                started.elapsed().as_secs_f64(),
                d as f64 / started.elapsed().as_secs_f64()
            );
        }
        last = d;
    }
    signer.join().expect("signing thread");
    for p in posters {
        p.join().expect("posting thread")?;
    }
    let d = done.load(Ordering::Relaxed);
    ensure!(d == count, "appended {d} of {count}");
    Ok(started.elapsed())
}

// ---------------------------------------------------------------------------------------------
// Reads

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Random seq, size = the head (the default).
    InclusionHead,
    /// Random size, random seq below it.
    InclusionOlder,
    /// Random from, to = the head (the default).
    ConsistencyHead,
    /// The signed checkpoint of a random size.
    Checkpoint,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::InclusionHead,
        Kind::InclusionOlder,
        Kind::ConsistencyHead,
        Kind::Checkpoint,
    ];
    fn label(self) -> &'static str {
        match self {
            Kind::InclusionHead => "`GET /v1/proofs/inclusion?seq=R` (size = head)",
            Kind::InclusionOlder => "`GET /v1/proofs/inclusion?seq=R&size=S` (random older size)",
            Kind::ConsistencyHead => "`GET /v1/proofs/consistency?from=R` (to = head)",
            Kind::Checkpoint => "`GET /v1/checkpoints/S` (random size)",
        }
    }
    fn path(self, head: u64, rng: &mut impl Rng) -> String {
        match self {
            Kind::InclusionHead => format!("/v1/proofs/inclusion?seq={}", rng.gen_range(0..head)),
            Kind::InclusionOlder => {
                let size = rng.gen_range(1..=head);
                format!(
                    "/v1/proofs/inclusion?seq={}&size={size}",
                    rng.gen_range(0..size)
                )
            }
            Kind::ConsistencyHead => {
                format!("/v1/proofs/consistency?from={}", rng.gen_range(1..=head))
            }
            Kind::Checkpoint => format!("/v1/checkpoints/{}", rng.gen_range(0..=head)),
        }
    }
}

struct Timing {
    kind: Kind,
    clients: usize,
    wall: Duration,
    /// Sorted.
    latencies: Vec<Duration>,
}

impl Timing {
    fn percentile(&self, q: f64) -> f64 {
        let i = ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        ms(self.latencies[i - 1])
    }
    fn max(&self) -> f64 {
        ms(*self.latencies.last().expect("some requests"))
    }
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }
    fn pass(&self) -> bool {
        self.kind == Kind::Checkpoint || self.percentile(0.99) <= TARGET_P99_MS
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .max_idle_connections_per_host(1)
        .build()
}

/// A sampled answer: the path asked and the body received.
type Kept = (String, String);

/// Times `total` reads of `kind` from `clients` keep-alive connections; keeps every
/// `VERIFY_EVERY`th answer with its path for checking afterwards.
fn time_reads(
    base: &str,
    kind: Kind,
    head: u64,
    clients: usize,
    total: usize,
    seed: u64,
) -> anyhow::Result<(Timing, Vec<Kept>)> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (barrier, base) = (barrier.clone(), base.to_owned());
            let count = total / clients + usize::from(c < total % clients);
            std::thread::spawn(move || -> anyhow::Result<(Vec<Duration>, Vec<Kept>)> {
                let agent = agent();
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed * 1000 + c as u64);
                // Warm the connection and the caches a little, untimed.
                for _ in 0..20 {
                    agent
                        .get(&format!("{base}{}", kind.path(head, &mut rng)))
                        .call()?
                        .into_string()?;
                }
                let paths: Vec<String> = (0..count).map(|_| kind.path(head, &mut rng)).collect();
                barrier.wait();
                let mut latencies = Vec::with_capacity(count);
                let mut kept = Vec::new();
                for (i, path) in paths.into_iter().enumerate() {
                    let started = Instant::now();
                    let resp = agent.get(&format!("{base}{path}")).call();
                    let body = match resp {
                        Ok(r) => r.into_string()?,
                        Err(e) => bail!("GET {path}: {e}"),
                    };
                    latencies.push(started.elapsed());
                    if i % VERIFY_EVERY == 0 {
                        kept.push((path, body));
                    }
                }
                Ok((latencies, kept))
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut kept = Vec::new();
    for h in handles {
        let (l, k) = h.join().expect("client thread")?;
        latencies.extend(l);
        kept.extend(k);
    }
    let wall = started.elapsed();
    latencies.sort();
    Ok((
        Timing {
            kind,
            clients,
            wall,
            latencies,
        },
        kept,
    ))
}

/// Verifies a kept answer as an auditor would. Returns what was checked.
fn verify_answer(
    agent: &ureq::Agent,
    base: &str,
    token: &str,
    ledger: &ed25519_dalek::VerifyingKey,
    head: u64,
    path: &str,
    body: &str,
) -> anyhow::Result<()> {
    let root_of = |size: u64| -> anyhow::Result<Hash> {
        let note = agent
            .get(&format!("{base}/v1/checkpoints/{size}"))
            .call()?
            .into_string()?;
        let cp = Checkpoint::open(&note, ORIGIN, ledger)?;
        ensure!(cp.size == size, "checkpoint {size} says size {}", cp.size);
        Ok(cp.root)
    };
    let h = |v: &Value| -> anyhow::Result<Hash> {
        parse_hex::<32>(v.as_str().context("not a string")?).context("not a hash")
    };
    let hs = |v: &Value| -> anyhow::Result<Vec<Hash>> {
        v.as_array().context("not a list")?.iter().map(h).collect()
    };
    if path.starts_with("/v1/checkpoints/") {
        let size: u64 = path.rsplit('/').next().unwrap_or_default().parse()?;
        let cp = Checkpoint::open(body, ORIGIN, ledger)?;
        ensure!(
            cp.size == size && size <= head,
            "checkpoint of the wrong size"
        );
        return Ok(());
    }
    let v: Value = serde_json::from_str(body)?;
    if path.starts_with("/v1/proofs/inclusion") {
        let (seq, size) = (
            v["seq"].as_u64().context("seq")?,
            v["size"].as_u64().context("size")?,
        );
        let entry: EntryView = agent
            .get(&format!("{base}/v1/entries/{seq}"))
            .set("Authorization", &format!("Bearer {token}"))
            .call()?
            .into_json()?;
        let (entry, _) = entry.into_entry().map_err(anyhow::Error::msg)?;
        ensure!(
            h(&v["leaf"])? == entry.hash(),
            "leaf is not the entry's hash"
        );
        let root = root_of(size)?;
        ensure!(h(&v["root"])? == root, "root is not the checkpoint's");
        merkle::verify_inclusion(
            seq,
            size,
            &merkle::leaf_hash(&entry.hash()),
            &hs(&v["proof"])?,
            &root,
        )?;
        let mut bad = hs(&v["proof"])?;
        if let Some(first) = bad.first_mut() {
            first[0] ^= 1;
            ensure!(
                merkle::verify_inclusion(seq, size, &merkle::leaf_hash(&entry.hash()), &bad, &root)
                    .is_err(),
                "a tampered proof verified"
            );
        }
    } else {
        let (m, n) = (
            v["from"].as_u64().context("from")?,
            v["to"].as_u64().context("to")?,
        );
        ensure!(n == head, "to is not the head");
        let (root_m, root_n) = (root_of(m)?, root_of(n)?);
        merkle::verify_consistency(m, n, &root_m, &root_n, &hs(&v["proof"])?)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// One backend

struct BackendResult {
    backend: Backend,
    size: u64,
    fill: Duration,
    timings: Vec<Timing>,
    verified: usize,
}

fn run_backend(backend: Backend, url: &str, args: &Args) -> anyhow::Result<BackendResult> {
    let mut rng = rand::thread_rng();
    let regulator = SigningKey::generate(&mut rng);
    let ledger_key = SigningKey::generate(&mut rng);
    let ledger_public = ledger_key.verifying_key();
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
        sweep_interval: Duration::from_secs(3600),
        clock: hwledger::sequencer::Clock::system(),
    };
    let served = Served::start(config)?;
    let base = served.base.clone();

    let run = || -> anyhow::Result<BackendResult> {
        println!("filling to {} entries…", args.entries);
        let fill_took = fill(&base, &regulator, args.entries - 1, args.batch)?;
        let info: Value = ureq::get(&format!("{base}/v1/ledger"))
            .call()?
            .into_json()?;
        let head = info["size"]
            .as_u64()
            .context("GET /v1/ledger has no size")?;
        ensure!(head == args.entries, "the ledger holds {head} entries");
        println!(
            "filled in {:.1} s ({:.0} entries/s)",
            fill_took.as_secs_f64(),
            (head - 1) as f64 / fill_took.as_secs_f64()
        );
        if backend == Backend::Postgres {
            // A ledger filled over months has been vacuumed and analysed by autovacuum as it
            // grew; one filled in minutes has that work pending, and autovacuum would do it
            // during the timing. Do it now, and say how long it took.
            let started = Instant::now();
            small_runtime().block_on(async {
                let mut conn = sqlx::PgConnection::connect(url).await?;
                sqlx::query("vacuum (analyze)").execute(&mut conn).await?;
                conn.close().await?;
                anyhow::Ok(())
            })?;
            println!(
                "vacuum (analyze) after the fill: {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        let mut timings = Vec::new();
        let mut kept = Vec::new();
        for (k, kind) in Kind::ALL.into_iter().enumerate() {
            for (c, clients) in [1, args.clients].into_iter().enumerate() {
                let (t, keep) = time_reads(
                    &base,
                    kind,
                    head,
                    clients,
                    args.requests,
                    (k * 2 + c) as u64,
                )?;
                println!(
                    "  {} × {clients} clients: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    kind.label(),
                    t.rate(),
                    t.percentile(0.5),
                    t.percentile(0.99),
                    t.max()
                );
                timings.push(t);
                kept.extend(keep);
            }
        }
        let agent = agent();
        // Entries are read as the genesis regulator (spec §9); one token covers the checks.
        let token = hwledger::protocol::token::mint(
            &regulator,
            REGULATOR_ORG,
            ORIGIN,
            chrono::Utc::now().timestamp(),
            600,
        );
        for (path, body) in &kept {
            verify_answer(&agent, &base, &token, &ledger_public, head, path, body)
                .with_context(|| format!("the answer to {path} does not verify"))?;
        }
        println!("verified {} sampled answers", kept.len());
        Ok(BackendResult {
            backend,
            size: head,
            fill: fill_took,
            timings,
            verified: kept.len(),
        })
    };
    let outcome = run();
    served.stop()?;
    outcome
}

// ---------------------------------------------------------------------------------------------
// Report

#[path = "common/machine.rs"]
mod machine;
use machine::Machine;

struct Report {
    machine: Machine,
    args: Vec<String>,
    results: Vec<BackendResult>,
}

impl Report {
    fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        let mut command = "cargo bench --bench proofs".to_owned();
        if !self.args.is_empty() {
            command.push_str(" -- ");
            command.push_str(&self.args.join(" "));
        }
        let _ = writeln!(out, "\n### Run of {} (commit {})\n", m.date, m.commit);
        let _ = writeln!(out, "`{command}`\n");
        let _ = writeln!(
            out,
            "Machine: {} cores, {}, {:.1} GiB RAM.\n",
            m.cores, m.cpu, m.mem_gib
        );
        for r in &self.results {
            let _ = writeln!(
                out,
                "{}: filled to {} entries through `POST /v1/events` in {:.1} s ({:.0} entries/s); {} sampled answers verified.\n",
                r.backend.name(),
                r.size,
                r.fill.as_secs_f64(),
                (r.size - 1) as f64 / r.fill.as_secs_f64(),
                r.verified
            );
        }
        let _ = writeln!(
            out,
            "| backend | read | clients | requests | req/s | p50 ms | p99 ms | max ms | p99 ≤ {TARGET_P99_MS} ms |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---|");
        for r in &self.results {
            for t in &r.timings {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
                    r.backend.name(),
                    t.kind.label(),
                    t.clients,
                    t.latencies.len(),
                    t.rate(),
                    t.percentile(0.5),
                    t.percentile(0.99),
                    t.max(),
                    match (t.kind, t.pass()) {
                        (Kind::Checkpoint, _) => "–",
                        (_, true) => "**PASS**",
                        (_, false) => "**MISS**",
                    }
                );
            }
        }
        out
    }
}
