//! Chains benchmark: generators ship to licensed disposers directly or through collectors (收集),
//! which store what they receive and ship it on, in one or two hops; the proper-disposal rate
//! follows every portion back to its generator.
//!
//! `cargo bench --bench chains [-- --manifests 20000 --collected-per-mille 300
//!  --two-hop-per-mille 300 --backend sqlite]`
//!
//! For each backend the service is started in-process and served over HTTP on 127.0.0.1; the
//! mix, signed beforehand, is posted in batches of `--batch` by one client in ledger order (every
//! event depends on the ones before it). It reports appends per second over the single-core
//! `verify_one` rate of the same run, `GET /v1/stats/disposal` at the head (answered from the
//! maintained sums) and `GET /v1/chains/{first leg}` for manifests whose waste went through
//! collectors (8 clients and 1), then runs `hwledger verify --db` and checks that its rate, the
//! service's and the bench's own count of proper and improper grams agree.

#[path = "common/alloc.rs"]
mod alloc;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use clap::Parser;
use ed25519_dalek::{Signer, SigningKey};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use hwledger::domain::ids::OrgId;
use hwledger::protocol::{event, jcs, time, token};
use hwledger::service::{GenesisRegulator, LimitFlags, ServiceConfig};
use hwledger::store::DbUrl;

#[path = "common/db.rs"]
mod db;
#[path = "common/machine.rs"]
mod machine;
#[path = "common/server.rs"]
mod server;

use db::{Backend, BackendChoice, BenchDb};

const REGULATOR_ORG: &str = "11320404MB0000001Y";
const ORIGIN: &str = "bench.hwledger.local";
const CODE: &str = "900-249-08";

/// Chains benchmark of hwledger.
#[derive(Debug, Parser)]
#[command(name = "chains")]
struct Args {
    /// First-leg manifests (from generators).
    #[arg(long, default_value_t = 20_000)]
    manifests: usize,
    /// Of them, per thousand, those that go to a collector instead of a disposer.
    #[arg(long, default_value_t = 300)]
    collected_per_mille: u32,
    /// Of a collector's onward manifests, per thousand, those that go to another collector.
    #[arg(long, default_value_t = 300)]
    two_hop_per_mille: u32,
    /// A collector ships on once it holds this many grams.
    #[arg(long, default_value_t = 20_000_000)]
    onward_at_g: i64,
    #[arg(long, default_value_t = 500)]
    batch: usize,
    #[arg(long, default_value_t = 1000)]
    requests: usize,
    #[arg(long, default_value_t = 2.0)]
    verify_secs: f64,
    #[arg(long, value_enum, default_value_t = BackendChoice::Sqlite)]
    backend: BackendChoice,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Ignored: cargo bench passes it.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone)]
struct Party {
    org: String,
    key: SigningKey,
}

fn party(n: u64) -> Party {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    bytes[31] = 0x3c;
    Party {
        org: OrgId::with_check(&format!("9132040{n:010}"))
            .expect("a valid org id")
            .as_str()
            .to_owned(),
        key: SigningKey::from_bytes(&bytes),
    }
}

struct World {
    regulator: SigningKey,
    generators: Vec<Party>,
    collectors: Vec<Party>,
    disposers: Vec<Party>,
    carrier: Party,
}

/// The signed mix, and what the bench expects of it.
struct Mix {
    bodies: Vec<Vec<u8>>,
    events: usize,
    /// First legs that went to a collector, for `GET /v1/chains`.
    collected: Vec<Uuid>,
    onward: usize,
    shipped_g: i64,
}

/// Signs events in order, each a little after the one before, straight into batch bodies (a
/// million manifests are some five million events: they are kept as bytes only).
struct Signer2 {
    clock: chrono::DateTime<chrono::Utc>,
    step: chrono::Duration,
    batch: usize,
    bodies: Vec<Vec<u8>>,
    current: Vec<u8>,
    in_current: usize,
    events: usize,
}

impl Signer2 {
    fn push(&mut self, p: &Party, kind: &str, body: Value) {
        self.clock += self.step;
        let e = json!({"v": 1, "id": Uuid::new_v4().to_string(), "type": kind, "actor": p.org,
                       "at": time::format_timestamp(time::truncate_millis(self.clock)), "body": body});
        let envelope = event::sign_envelope(&e, &p.key);
        self.current
            .push(if self.in_current == 0 { b'[' } else { b',' });
        serde_json::to_writer(&mut self.current, &envelope).expect("JSON");
        self.in_current += 1;
        self.events += 1;
        if self.in_current == self.batch {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.in_current > 0 {
            self.current.push(b']');
            self.bodies.push(std::mem::take(&mut self.current));
            self.in_current = 0;
        }
    }
}

fn world() -> World {
    World {
        regulator: party(1_000_001).key,
        generators: (0..200).map(|i| party(10_000 + i)).collect(),
        collectors: (0..8).map(|i| party(20_000 + i)).collect(),
        disposers: (0..8).map(|i| party(30_000 + i)).collect(),
        carrier: party(40_000),
    }
}

/// The setup (orgs and licences) and the mix, signed, as batches of `batch`.
fn build(world: &World, args: &Args) -> Mix {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let reg = Party {
        org: REGULATOR_ORG.into(),
        key: world.regulator.clone(),
    };
    // Every event a little after the one before, the whole mix within the last nine days.
    let per_manifest = 6 + 3 * args.collected_per_mille as i64 / 1000;
    let total = args.manifests as i64 * per_manifest + 1000;
    let mut s = Signer2 {
        clock: chrono::Utc::now() - chrono::Duration::days(9),
        step: chrono::Duration::milliseconds((9 * 86_400_000 / total).max(1)),
        batch: args.batch,
        bodies: Vec::new(),
        current: Vec::new(),
        in_current: 0,
        events: 0,
    };
    let orgs: Vec<(&Party, &str)> = world
        .generators
        .iter()
        .map(|p| (p, "generator"))
        .chain(world.collectors.iter().map(|p| (p, "receiver")))
        .chain(world.disposers.iter().map(|p| (p, "receiver")))
        .chain([(&world.carrier, "carrier")])
        .collect();
    for (i, (p, role)) in orgs.iter().enumerate() {
        let region = ["320404", "320411", "320106", "320205"][i % 4];
        s.push(
            &reg,
            "org.registered",
            json!({"org": p.org, "name": format!("单位{i}"), "region": region,
            "roles": [role], "keys": [hex::encode(p.key.verifying_key().to_bytes())]}),
        );
    }
    let licence = |s: &mut Signer2, p: &Party, n: usize, activities: Value| {
        s.push(
            &reg,
            "license.issued",
            json!({"license": format!("JS-{n}"), "holder": p.org,
            "capacity_g": 10_i64.pow(15), "valid_from": "2020-01-01", "valid_until": "2035-12-31",
            "scopes": [{"codes": ["HW08"], "activities": activities}]}),
        );
    };
    for (i, p) in world.collectors.iter().enumerate() {
        licence(&mut s, p, i, json!(["collect", "store"]));
    }
    for (i, p) in world.disposers.iter().enumerate() {
        licence(&mut s, p, 100 + i, json!(["utilize", "dispose"]));
    }
    let mut held = vec![0i64; world.collectors.len()];
    let (mut collected, mut onward, mut shipped_g) = (Vec::new(), 0, 0);
    // A manifest through its whole life: opened, picked up, received (now and then short),
    // then disposed of or stored.
    let ship = |s: &mut Signer2,
                rng: &mut StdRng,
                from: &Party,
                to: &Party,
                q: i64,
                store: bool|
     -> (Uuid, i64) {
        let m = Uuid::new_v4();
        s.push(
            from,
            "manifest.opened",
            json!({"manifest": m, "generator": from.org, "carrier": world.carrier.org,
            "receiver": to.org, "lines": [{"code": CODE, "quantity_g": q}]}),
        );
        s.push(
            &world.carrier,
            "manifest.picked_up",
            json!({"manifest": m, "vehicle": "苏D·B0001"}),
        );
        let r = if rng.gen_ratio(1, 50) { q - q / 20 } else { q };
        s.push(
            to,
            "manifest.received",
            json!({"manifest": m, "lines": [{"code": CODE, "quantity_g": r}]}),
        );
        if store {
            s.push(
                to,
                "manifest.stored",
                json!({"manifest": m, "lines": [{"code": CODE, "quantity_g": r}]}),
            );
        } else {
            s.push(
                to,
                "manifest.disposed",
                json!({"manifest": m, "lines": [{"code": CODE, "quantity_g": r, "method": "R9"}]}),
            );
        }
        (m, r)
    };
    for i in 0..args.manifests {
        let g = &world.generators[i % world.generators.len()];
        let q = rng.gen_range(100_000..2_000_000);
        s.push(
            g,
            "waste.declared",
            json!({"generator": g.org, "code": CODE, "quantity_g": q,
            "date": time::format_date(time::cst_date(s.clock + s.step))}),
        );
        shipped_g += q;
        if rng.gen_ratio(args.collected_per_mille, 1000) {
            let k = rng.gen_range(0..world.collectors.len());
            let (m, r) = ship(&mut s, &mut rng, g, &world.collectors[k], q, true);
            collected.push(m);
            held[k] += r;
            // A collector ships on what it holds, to a disposer or to another collector.
            if held[k] >= args.onward_at_g {
                let q = held[k];
                held[k] = 0;
                onward += 1;
                if rng.gen_ratio(args.two_hop_per_mille, 1000) {
                    let k2 = (k + 1) % world.collectors.len();
                    let (_, r) = ship(
                        &mut s,
                        &mut rng,
                        &world.collectors[k],
                        &world.collectors[k2],
                        q,
                        true,
                    );
                    held[k2] += r;
                } else {
                    let d = &world.disposers[rng.gen_range(0..world.disposers.len())];
                    ship(&mut s, &mut rng, &world.collectors[k], d, q, false);
                }
            }
        } else {
            let d = &world.disposers[rng.gen_range(0..world.disposers.len())];
            ship(&mut s, &mut rng, g, d, q, false);
        }
    }
    s.flush();
    Mix {
        bodies: s.bodies,
        events: s.events,
        collected,
        onward,
        shipped_g,
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(600))
        .build()
}

fn read_token(world: &World) -> String {
    token::mint(
        &world.regulator,
        REGULATOR_ORG,
        ORIGIN,
        chrono::Utc::now().timestamp(),
        600,
    )
}

fn get_json(agent: &ureq::Agent, url: &str, token: &str) -> anyhow::Result<Value> {
    let r = agent
        .get(url)
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .with_context(|| format!("GET {url}"))?;
    Ok(r.into_json()?)
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// `clients` threads GET the URLs `make(i)` for i in 0..n; (p50, p99, max) in ms.
fn load(
    clients: usize,
    n: usize,
    token: &str,
    make: &(dyn Fn(usize) -> String + Sync),
) -> anyhow::Result<(f64, f64, f64)> {
    let next = AtomicUsize::new(0);
    let mut all: Vec<Duration> = std::thread::scope(|s| -> anyhow::Result<Vec<Duration>> {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<Vec<Duration>> {
                    let agent = agent();
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok(out);
                        }
                        let t = Instant::now();
                        get_json(&agent, &make(i), token)?;
                        out.push(t.elapsed());
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.join().expect("a client thread")?);
        }
        Ok(all)
    })?;
    all.sort();
    Ok((
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    ))
}

/// `verify_one` on one thread over pre-made signatures, best 0.25 s window.
fn verify_rate(world: &World, secs: f64) -> f64 {
    let items: Vec<(Vec<u8>, [u8; 32], [u8; 64])> = world
        .generators
        .iter()
        .take(50)
        .map(|p| {
            let e = json!({"v": 1, "id": Uuid::new_v4().to_string(), "type": "waste.declared", "actor": p.org,
                           "at": "2026-01-01T00:00:00Z", "body": {"generator": p.org, "code": CODE, "quantity_g": 1, "date": "2026-01-01"}});
            let bytes = jcs::canonical(&e);
            let sig = p.key.sign(&event::signing_bytes(&bytes)).to_bytes();
            (bytes, p.key.verifying_key().to_bytes(), sig)
        })
        .collect();
    let started = Instant::now();
    let mut best: f64 = 0.0;
    while started.elapsed().as_secs_f64() < secs {
        let w = Instant::now();
        let mut n = 0;
        while w.elapsed() < Duration::from_millis(250) {
            for (bytes, key, sig) in &items {
                assert!(event::verify_one(key, sig, bytes));
            }
            n += items.len();
        }
        best = best.max(n as f64 / w.elapsed().as_secs_f64());
    }
    best
}

fn run(backend: Backend, world: &World, mix: &Mix, args: &Args) -> anyhow::Result<()> {
    println!("== {} ==", backend.name());
    let admin = std::env::var("HWLEDGER_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
    let db = BenchDb::create(backend, &admin)?;
    let ledger_key = party(1_000_000).key;
    let config = ServiceConfig {
        snapshot: None,
        db: DbUrl::new(db.url.clone()),
        origin: ORIGIN.into(),
        ledger_key: ledger_key.clone(),
        regulator: GenesisRegulator {
            org: REGULATOR_ORG.into(),
            name: "钟楼生态环境局".into(),
            region: "320404".into(),
            key: world.regulator.verifying_key(),
        },
        limits: LimitFlags::default(),
        sweep_interval: Duration::from_secs(30 * 86_400),
        clock: hwledger::sequencer::Clock::system(),
    };
    let served = server::Served::start(config)?;
    let base = served.base.clone();
    let verify_before = verify_rate(world, args.verify_secs);
    let agent = agent();
    let started = Instant::now();
    for (i, body) in mix.bodies.iter().enumerate() {
        let r = agent
            .post(&format!("{base}/v1/events"))
            .set("Content-Type", "application/json")
            .send_bytes(body)
            .with_context(|| format!("batch {i}"))?;
        let items: Vec<Value> = r.into_json()?;
        if let Some(bad) = items.iter().find(|x| x["status"] != 201) {
            anyhow::bail!("batch {i}: an item answered {bad}");
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let verify_after = verify_rate(world, args.verify_secs);
    let verify = verify_before.max(verify_after);
    let rate = mix.events as f64 / wall;
    println!(
        "mix: {} events in {:.1} s: {:.0} events/s = {:.3} × verify_one ({:.0}/s, best window before and after)",
        mix.events, wall, rate, rate / verify, verify
    );
    let rss_mb = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0);
    let db_mb = db
        .url
        .strip_prefix("sqlite://")
        .and_then(|f| std::fs::metadata(f).ok())
        .map_or(0.0, |m| m.len() as f64 / 1e6);
    println!("after the mix: bench process RSS {rss_mb:.0} MB (the service's state, and the signed mix); SQLite file {db_mb:.0} MB (0: PostgreSQL)");
    let token = read_token(world);
    let head = get_json(&agent, &format!("{base}/v1/stats/disposal"), &token)?;
    println!(
        "head: proper {} g, improper {} g, pending {} g, rate {}",
        head["proper_g"], head["improper_g"], head["pending_g"], head["rate"]
    );
    let accounted = head["proper_g"].as_i64().unwrap_or(0)
        + head["improper_g"].as_i64().unwrap_or(0)
        + head["pending_g"].as_i64().unwrap_or(0);
    ensure!(
        accounted <= mix.shipped_g && accounted >= mix.shipped_g * 97 / 100,
        "the rate accounts for {accounted} g of the {} g shipped: onward legs counted twice, or waste lost",
        mix.shipped_g
    );
    for clients in [8, 1] {
        let (p50, p99, max) = load(clients, args.requests, &token, &|_| {
            format!("{base}/v1/stats/disposal")
        })?;
        println!("  GET /v1/stats/disposal (head)      p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.1} ms ({clients} clients)");
        let collected = &mix.collected;
        let (p50, p99, max) = load(clients, args.requests, &token, &|i| {
            format!(
                "{base}/v1/chains/{}",
                collected[(i * 7919) % collected.len()]
            )
        })?;
        println!("  GET /v1/chains/{{first leg}}        p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.1} ms ({clients} clients)");
    }
    let sample = get_json(
        &agent,
        &format!("{base}/v1/chains/{}", mix.collected[0]),
        &token,
    )?;
    println!(
        "a chain through a collector: {} legs, {} lots; quantity {} g = proper {} + improper {} + pending {} + left out {}",
        sample["chains"][0]["legs"].as_array().map_or(0, Vec::len),
        sample["chains"][0]["lots"].as_array().map_or(0, Vec::len),
        sample["chains"][0]["quantity_g"],
        sample["chains"][0]["proper_g"],
        sample["chains"][0]["improper_g"],
        sample["chains"][0]["pending_g"],
        sample["chains"][0]["left_out_g"],
    );
    let rt = served.stop()?;
    drop(rt);
    // `hwledger verify --db` recomputes the rate from the entries alone.
    let exe = env!("CARGO_BIN_EXE_hwledger");
    let t = Instant::now();
    let out = std::process::Command::new(exe)
        .args([
            "verify",
            "--db",
            &db.url,
            "--ledger-key",
            &hex::encode(ledger_key.verifying_key().to_bytes()),
        ])
        .output()
        .with_context(|| format!("running {exe}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "verify --db failed: {text}");
    let line = text
        .lines()
        .find(|l| l.contains("proper-disposal rate"))
        .unwrap_or("");
    println!(
        "hwledger verify --db: exit 0 after {:.1} s; {line}",
        t.elapsed().as_secs_f64()
    );
    // Nothing was due in between: verify's rate as of the last entry is the head's.
    let head_pct = format!("{:.4}%", head["rate"].as_f64().unwrap_or(0.0) * 100.0);
    ensure!(
        line.ends_with(&head_pct),
        "verify's rate ({line}) is not the service's ({head_pct})"
    );
    db.drop_db();
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("hwledger chains benchmark");
    println!("{}", machine::Machine::probe().describe());
    let world = world();
    let t = Instant::now();
    let mix = build(&world, &args);
    println!(
        "signed {} events in {:.1} s: {} first legs, {} through collectors, {} onward manifests",
        mix.events,
        t.elapsed().as_secs_f64(),
        args.manifests,
        mix.collected.len(),
        mix.onward
    );
    ensure!(!mix.collected.is_empty(), "no manifest went to a collector");
    let backends = match args.backend {
        BackendChoice::Both => vec![Backend::Sqlite, Backend::Postgres],
        BackendChoice::Sqlite => vec![Backend::Sqlite],
        BackendChoice::Postgres => vec![Backend::Postgres],
    };
    for b in backends {
        run(b, &world, &mix, &args)?;
    }
    Ok(())
}
