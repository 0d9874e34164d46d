//! Manifest lifecycle benchmark: a realistic mix of declarations and manifests (opened, picked
//! up, received, disposed of, a few cancelled or rejected) across hundreds of enterprises until
//! the ledger holds at least `--entries` entries (default 1 million) or `--manifests` manifests
//! are opened; then reads with the full ledger in place, the oversight figures (sweep, disposal
//! rate, `hwledger verify`), and the restart time.
//!
//! `cargo bench --bench lifecycle [-- --entries 1000000 | --manifests 1000000]
//! [--backend sqlite|postgres|both] [--skip-restart] [--markdown FILE] [--keep-db PATH]`
//!
//! The service is started in-process with `Service::start` and served over real HTTP on
//! 127.0.0.1 (SQLite in a temp file; PostgreSQL in a fresh database `hwl_bench_<random>` made
//! through the admin URL `HWLEDGER_BENCH_POSTGRES`, default
//! `postgres://root@127.0.0.1:5432/test`, dropped afterwards).
//!
//! 1. Setup over HTTP: the genesis regulator registers `--generators` generators in districts
//!    of Changzhou (3204xx), Suzhou (3205xx) and Wuxi (3202xx), `--carriers` carriers and
//!    `--receivers` licensed receivers, each receiver with one licence whose scopes (categories
//!    for collect/store/utilize or collect/store/dispose) follow its kind of plant.
//! 2. The mix is simulated first (a deterministic event list from `--seed`), then every
//!    envelope is signed on two threads and written, as batch bodies of `--batch`, to a temp
//!    file, all before the clock starts; the file keeps the bodies out of the process's RSS.
//!    Generators declare waste (one `waste.declared` covers several manifests) and open
//!    manifests of 1–3 lines to a receiver whose licence covers every line; carriers pick up,
//!    receivers receive and dispose of them with a method their licence covers. About 1.5 % are
//!    cancelled, 0.5 % rejected, 4 % stay opened, picked up or received, and those still in
//!    progress when the ledger is full stay where they are. Business times (`at`) run over the
//!    48 hours before the run, increasing along the ledger, so every rule of §3 and §6 holds.
//! 3. The mix is posted in batches over `--batch-clients` keep-alive connections; every item
//!    must answer 201. An event never depends on one fewer than two batches before it, and a
//!    batch is sent only once every batch two or more before it has been answered, so two
//!    connections can overlap without breaking the order the rules need.
//! 4. Reads with the full ledger, from `--read-clients` threads with keep-alive connections, and
//!    again from one thread (no queueing) for comparison; every answer is checked against the
//!    simulation.
//! 5. Oversight (`lifecycle/oversight.rs`): the simulation replays its own mix in the order the
//!    ledger sequenced it and computes the automatic tickets (§7) and the proper-disposal rate
//!    (§8) it expects; one sweep is timed on the in-process service and must open exactly the
//!    expected tickets; `GET /v1/stats/disposal` is measured without a filter and with each
//!    filter, every answer checked against the simulation at its `as_of`; and `hwledger verify
//!    --db` runs as a process of its own on the full database, timed, and must exit 0 and print
//!    the service's figures.
//! 6. Unless `--skip-restart`: the service is stopped and `Service::start` timed on the same
//!    database (it replays the whole ledger into memory), and a separate `hwledger serve`;
//!    database size and the process's RSS are reported.
//!
//! With `--manifests N` the mix stops right after the N-th manifest is opened, instead of at
//! `--entries`. The limits written at genesis are shorter than §7's defaults (`--transit-hours
//! 6 --disposal-hours 12 --storage-hours 24`), so that the 48-hour span has overdue cases, and
//! the mix has some irregular manifests, all still accepted (201) by the rules: received after
//! the transit limit (0.3 %), disposed of after the disposal limit (0.3 %), received 2–10 %
//! short (0.3 %), waste declared and never shipped (0.4 % of plans), and one receiver's licence
//! suspended for a twentieth of the span, so receipts and disposals in that window are
//! unlicensed. No sweep runs during the mix.
//!
//! With `--keep-db PATH` (SQLite only) the filled ledger outlives the run: its database file is
//! moved to PATH when the run ends, and the ledger key and the genesis regulator's key are
//! written beside it as `PATH.ledger.pem` and `PATH.regulator.pem` (PKCS#8 PEM, mode 0600), so
//! that `hwledger serve --db sqlite://PATH --origin bench.hwledger.local --ledger-key
//! PATH.ledger.pem` serves it (the limits are in the ledger; serve compares only the limit flags
//! it is given) and the regulator can sign in with `PATH.regulator.pem`.

#[path = "common/alloc.rs"]
mod alloc;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use chrono::NaiveDate;
use clap::Parser;
use ed25519_dalek::{Signer, SigningKey};
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::{Connection, Row};
use uuid::Uuid;

use hwledger::domain::catalogue::{self, Edition, MethodKind};
use hwledger::domain::ids::OrgId;
use hwledger::domain::state::{State, Verdict};
use hwledger::protocol::event::{Entry, Prepared};
use hwledger::protocol::merkle::{self, Frontier};
use hwledger::protocol::{event, jcs, time, token};
use hwledger::service::{GenesisRegulator, LimitFlags, Service, ServiceConfig};
use hwledger::store::DbUrl;

#[path = "lifecycle/oversight.rs"]
mod oversight;

const REGULATOR_ORG: &str = "11320404MB0000001Y";
const REGULATOR_REGION: &str = "320404";
const ORIGIN: &str = "bench.hwledger.local";
/// With `--containers`: every generator's storage facility (贮存库) and its own incinerator.
const STORE: &str = "S1";
const KILN: &str = "T1";
const KILN_METHOD: &str = "D10";
/// The read targets, in milliseconds of p99 latency.
const TARGET_GET_MS: f64 = 10.0;
const TARGET_LIST_MS: f64 = 50.0;
/// Business time covered by the mix, ending `END_MARGIN` before the run starts.
const SPAN: Duration = Duration::from_secs(48 * 3600);
const END_MARGIN: Duration = Duration::from_secs(600);

// ---------------------------------------------------------------------------------------------
// Reference data

struct City {
    name: &'static str,
    abbr: &'static str,
    plate: &'static str,
    /// GB/T 2260 codes and names of some of its districts.
    districts: &'static [(&'static str, &'static str)],
}

const CITIES: [City; 3] = [
    City {
        name: "常州市",
        abbr: "CZ",
        plate: "苏D",
        districts: &[
            ("320402", "天宁区"),
            ("320404", "钟楼区"),
            ("320411", "新北区"),
            ("320412", "武进区"),
            ("320413", "金坛区"),
            ("320481", "溧阳市"),
        ],
    },
    City {
        name: "苏州市",
        abbr: "SZ",
        plate: "苏E",
        districts: &[
            ("320505", "虎丘区"),
            ("320506", "吴中区"),
            ("320507", "相城区"),
            ("320508", "姑苏区"),
            ("320509", "吴江区"),
            ("320581", "常熟市"),
            ("320582", "张家港市"),
            ("320583", "昆山市"),
            ("320585", "太仓市"),
        ],
    },
    City {
        name: "无锡市",
        abbr: "WX",
        plate: "苏B",
        districts: &[
            ("320205", "锡山区"),
            ("320206", "惠山区"),
            ("320211", "滨湖区"),
            ("320213", "梁溪区"),
            ("320214", "新吴区"),
            ("320281", "江阴市"),
            ("320282", "宜兴市"),
        ],
    },
];

/// A waste code of the 2025 catalogue that generators produce, how it is packed, and the range
/// of one manifest line in kilograms.
struct Waste {
    code: &'static str,
    form: &'static str,
    packaging: &'static str,
    kg: (i64, i64),
}

const fn waste(
    code: &'static str,
    form: &'static str,
    packaging: &'static str,
    min_kg: i64,
    max_kg: i64,
) -> Waste {
    Waste {
        code,
        form,
        packaging,
        kg: (min_kg, max_kg),
    }
}

const WASTES: &[Waste] = &[
    waste("900-249-08", "液态", "200L铁桶", 200, 4000),
    waste("900-214-08", "液态", "200L铁桶", 200, 3000),
    waste("900-218-08", "液态", "IBC吨桶", 200, 3000),
    waste("900-200-08", "半固态", "200L铁桶", 100, 2000),
    waste("900-006-09", "液态", "IBC吨桶", 500, 8000),
    waste("900-402-06", "液态", "200L铁桶", 200, 3000),
    waste("900-404-06", "液态", "200L铁桶", 200, 3000),
    waste("900-252-12", "半固态", "200L铁桶", 200, 3000),
    waste("900-014-13", "固态", "编织袋", 50, 1000),
    waste("900-451-13", "固态", "吨袋", 500, 5000),
    waste("336-054-17", "半固态", "吨袋", 1000, 10000),
    waste("336-063-17", "半固态", "吨袋", 1000, 10000),
    waste("336-064-17", "半固态", "吨袋", 1000, 10000),
    waste("772-003-18", "固态", "吨袋", 5000, 20000),
    waste("900-300-34", "液态", "IBC吨桶", 500, 8000),
    waste("900-349-34", "液态", "IBC吨桶", 100, 2000),
    waste("900-352-35", "液态", "IBC吨桶", 500, 8000),
    waste("900-039-49", "固态", "吨袋", 200, 3000),
    waste("900-041-49", "固态", "编织袋", 20, 800),
    waste("900-047-49", "液态", "25L塑料桶", 10, 300),
    waste("261-151-50", "固态", "吨袋", 100, 2000),
];

/// A kind of generating enterprise: the codes it produces, and how common it is.
struct Industry {
    name: &'static str,
    codes: &'static [&'static str],
    weight: u32,
}

const INDUSTRIES: &[Industry] = &[
    Industry {
        name: "机械加工",
        codes: &["900-249-08", "900-200-08", "900-006-09", "900-041-49"],
        weight: 30,
    },
    Industry {
        name: "电镀",
        codes: &[
            "336-054-17",
            "336-063-17",
            "336-064-17",
            "900-300-34",
            "900-041-49",
        ],
        weight: 15,
    },
    Industry {
        name: "汽车维修",
        codes: &["900-214-08", "900-218-08", "900-249-08", "900-041-49"],
        weight: 20,
    },
    Industry {
        name: "涂装",
        codes: &["900-252-12", "900-402-06", "900-039-49", "900-041-49"],
        weight: 15,
    },
    Industry {
        name: "化工",
        codes: &[
            "261-151-50",
            "900-404-06",
            "900-047-49",
            "900-014-13",
            "900-349-34",
        ],
        weight: 10,
    },
    Industry {
        name: "电子",
        codes: &[
            "900-451-13",
            "336-064-17",
            "900-300-34",
            "900-352-35",
            "900-039-49",
        ],
        weight: 8,
    },
    Industry {
        name: "焚烧处置",
        codes: &["772-003-18", "900-041-49"],
        weight: 2,
    },
];

/// A kind of receiving plant: per category, the handling method it uses. Its licence covers
/// each category for collect, store and the method's kind (utilize or dispose).
struct Profile {
    name: &'static str,
    methods: &'static [(&'static str, &'static str)],
}

const PROFILES: &[Profile] = &[
    Profile {
        name: "焚烧处置",
        methods: &[
            ("HW06", "D10"),
            ("HW08", "D10"),
            ("HW09", "D10"),
            ("HW12", "D10"),
            ("HW13", "D10"),
            ("HW49", "D10"),
            ("HW50", "D10"),
        ],
    },
    Profile {
        name: "废矿物油再生利用",
        methods: &[("HW08", "R9"), ("HW09", "R9")],
    },
    Profile {
        name: "物化处理",
        methods: &[
            ("HW09", "D9"),
            ("HW17", "D9"),
            ("HW34", "D9"),
            ("HW35", "D9"),
        ],
    },
    Profile {
        name: "金属回收",
        methods: &[("HW17", "R4"), ("HW50", "R8")],
    },
    Profile {
        name: "安全填埋",
        methods: &[("HW17", "D1"), ("HW18", "D1")],
    },
    Profile {
        name: "溶剂废酸再生",
        methods: &[("HW06", "R2"), ("HW34", "R6")],
    },
    Profile {
        name: "水泥窑协同处置",
        methods: &[
            ("HW12", "C1"),
            ("HW13", "C1"),
            ("HW17", "C1"),
            ("HW18", "C1"),
            ("HW49", "C1"),
        ],
    },
    Profile {
        name: "综合经营",
        methods: &[
            ("HW06", "R2"),
            ("HW08", "R9"),
            ("HW09", "D9"),
            ("HW12", "D10"),
            ("HW13", "D10"),
            ("HW17", "D9"),
            ("HW18", "D1"),
            ("HW34", "R6"),
            ("HW35", "D9"),
            ("HW49", "D10"),
            ("HW50", "R8"),
        ],
    },
];

/// Profiles of receivers 0, 1, 2, …; receiver 0 is comprehensive, so every line is covered.
const RECEIVER_PROFILES: [usize; 20] = [7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 7, 0, 6, 3, 7, 0, 2, 5];

fn category(code: &str) -> String {
    format!("HW{}", &code[code.len() - 2..])
}

// ---------------------------------------------------------------------------------------------
// Command line

#[path = "common/server.rs"]
mod server;
use server::Served;
#[path = "common/db.rs"]
mod db;
use db::{Backend, BackendChoice, BenchDb, DbKind};

/// Manifest lifecycle benchmark of hwledger.
#[derive(Debug, Parser)]
#[command(name = "lifecycle")]
struct Args {
    /// Ledger size to reach, in entries (genesis and setup included); ignored with
    /// `--manifests`.
    #[arg(long, default_value_t = 1_000_000)]
    entries: usize,
    /// Stop the mix once this many manifests are opened, instead of at `--entries`.
    #[arg(long)]
    manifests: Option<usize>,
    /// Transit limit written at genesis, in hours (the default of §7 is 5 days; shorter, so
    /// that a 48-hour span has overdue manifests).
    #[arg(long, default_value_t = 6)]
    transit_hours: i64,
    /// Disposal limit written at genesis, in hours (§7 default: 365 days).
    #[arg(long, default_value_t = 12)]
    disposal_hours: i64,
    /// Storage limit written at genesis, in hours (§7 default: 365 days).
    #[arg(long, default_value_t = 24)]
    storage_hours: i64,
    /// `GET /v1/stats/disposal` requests per filter (concurrent clients; a fifth of them, at
    /// least 200, again from one client).
    #[arg(long, default_value_t = 1000)]
    stats_requests: usize,
    /// Skip the restart measurements (in-process replay and a separate `hwledger serve`).
    #[arg(long)]
    skip_restart: bool,
    /// Generating enterprises.
    #[arg(long, default_value_t = 300)]
    generators: usize,
    /// Carriers.
    #[arg(long, default_value_t = 30)]
    carriers: usize,
    /// Licensed receivers (1 to 20).
    #[arg(long, default_value_t = 20)]
    receivers: usize,
    /// Envelopes per batch request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent connections (threads) posting batches.
    #[arg(long, default_value_t = 2)]
    batch_clients: usize,
    /// Concurrent reading clients (threads), each with a keep-alive connection.
    #[arg(long, default_value_t = 8)]
    read_clients: usize,
    /// `GET /v1/manifests/{id}` requests.
    #[arg(long, default_value_t = 5000)]
    get_requests: usize,
    /// Requests of each kind of list page, and of `GET /v1/stock`.
    #[arg(long, default_value_t = 2000)]
    list_requests: usize,
    /// Seconds spent measuring the verification rate.
    #[arg(long, default_value_t = 2.0)]
    verify_secs: f64,
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
    /// Seed of the simulated mix.
    #[arg(long, default_value_t = 20_261_128)]
    seed: u64,
    /// Also append the figures as a Markdown section to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Keep the SQLite database at PATH (which must not exist) when the run ends, with the
    /// ledger key and the genesis regulator's key beside it as PATH.ledger.pem and
    /// PATH.regulator.pem, so that `hwledger serve` can serve the filled ledger.
    #[arg(long, value_name = "PATH")]
    keep_db: Option<PathBuf>,
    /// Containers (一物一码) per manifest line on average: every line ships its own lot,
    /// declared in 1 to 2×N−1 labelled containers into the generator's storage facility, named
    /// at opening, scanned at pickup and weighed one by one at receipt (a short receipt leaves
    /// one drum out). Lots are then dated over the year before the run, so that the serials of
    /// the container codes (at most 999 per unit, code and day) suffice. 0: no containers.
    #[arg(long, default_value_t = 0)]
    containers: u16,
    /// With `--containers`: manifests per thousand whose generator also declares a
    /// container-less lot and treats it in its own disposal facility (`waste.treated`). Lots
    /// of cancelled and rejected manifests are treated there too, by naming their containers.
    #[arg(long, default_value_t = 0)]
    onsite_per_mille: u32,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    /// The limits the bench writes at genesis.
    fn limits(&self) -> LimitFlags {
        LimitFlags {
            // With containers lots are dated over the year before the run.
            max_backdate_s: (self.containers > 0).then_some(400 * 86_400),
            transit_s: Some(self.transit_hours * 3600),
            disposal_s: Some(self.disposal_hours * 3600),
            storage_s: Some(self.storage_hours * 3600),
            shortfall_bp: None,
            ..Default::default()
        }
    }
}

/// How many manifests the mix gives each fate.
fn describe_fates(mix: &Mix) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for p in &mix.plans {
        let name = format!("{:?}", p.fate);
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some(c) => c.1 += 1,
            None => counts.push((name, 1)),
        }
    }
    counts.sort_by_key(|(_, n)| Reverse(*n));
    counts
        .iter()
        .map(|(n, c)| format!("{c} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.batch > 0 && args.batch <= 1000,
        "--batch must be 1..=1000"
    );
    ensure!(
        args.batch_clients > 0 && args.read_clients > 0,
        "client counts must be positive"
    );
    ensure!(
        (1..=RECEIVER_PROFILES.len()).contains(&args.receivers)
            && args.generators > 0
            && args.carriers > 0,
        "--receivers must be 1..=20, --generators and --carriers positive"
    );
    if let Some(path) = &args.keep_db {
        // Checked before the hour of work, not after it.
        ensure!(
            args.backend == BackendChoice::Sqlite,
            "--keep-db keeps a SQLite file: use it with --backend sqlite"
        );
        for p in Kept::paths(path) {
            ensure!(
                !p.exists(),
                "{} already exists; --keep-db does not overwrite",
                p.display()
            );
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    let machine = Machine::probe();
    println!("hwledger manifest lifecycle benchmark");
    println!("{}", machine.describe());

    let run_start = chrono::Utc::now();
    let started = Instant::now();
    let world = World::build(&args)?;
    let setup = world.setup_envelopes(&args, run_start);
    let setup_events: usize = setup.iter().map(Vec::len).sum();
    let end = match args.manifests {
        Some(m) => MixEnd::Manifests(m.max(1)),
        None => MixEnd::Events(
            args.entries
                .saturating_sub(1 + setup_events)
                .max(args.batch),
        ),
    };
    let limits = args
        .limits()
        .genesis_limits(time::cst_date(chrono::Utc::now()));
    let irregular = Irregular::new(
        end.estimated_events_with(args.containers > 0),
        limits.transit_s,
        limits.disposal_s,
        world.receivers.len(),
    );
    let mut rng = StdRng::seed_from_u64(args.seed);
    ensure!(
        args.containers <= 500 && (args.onsite_per_mille == 0 || args.containers > 0),
        "--containers must be 0..=500, and --onsite-per-mille needs --containers"
    );
    let options = MixOptions {
        containers: args.containers,
        onsite_per_mille: args.onsite_per_mille,
        // Lots are dated from a year before until three days before the run (before any
        // `at` of the mix).
        first_day: time::cst_date(run_start) - chrono::Duration::days(3 + 365),
    };
    let mix = Mix::generate(&world, end, 2 * args.batch, irregular, options, &mut rng);
    let model = Model::of(&mix);
    let clock = Clock::new(run_start, mix.events.len());
    println!(
        "simulated in {:.1} s: {} orgs ({} generators, {} carriers, {} receivers) and {} licences in {} setup entries; {} mix events: {}",
        started.elapsed().as_secs_f64(),
        1 + world.generators.len() + world.carriers.len() + world.receivers.len(),
        world.generators.len(),
        world.carriers.len(),
        world.receivers.len(),
        world.receivers.len(),
        setup_events,
        mix.events.len(),
        model.describe_events()
    );
    println!("manifests at the end: {}", model.describe_statuses());
    println!(
        "limits written at genesis: transit {} h, disposal {} h, storage {} h (shorter than the defaults of §7, so that the 48-hour span has overdue cases), max_backdate {} d, shortfall {} bp; fates: {}",
        limits.transit_s / 3600,
        limits.disposal_s / 3600,
        limits.storage_s / 3600,
        limits.max_backdate_s / 86400,
        limits.shortfall_bp,
        describe_fates(&mix)
    );

    let bodies_dir = tempfile::tempdir()?;
    let signing = Instant::now();
    let bodies = sign_mix(&world, &mix, args.batch, clock, bodies_dir.path())?;
    println!(
        "signed and serialised {} envelopes on 2 threads in {:.1} s ({:.0} MB of batch bodies in a temp file)",
        mix.events.len(),
        signing.elapsed().as_secs_f64(),
        bodies.bytes() as f64 / 1e6
    );
    println!();
    let work = Workload {
        world,
        setup,
        mix,
        model,
        bodies,
        clock,
        limits: args.limits(),
    };

    let rules = measure_rules(&work, 200)?;
    println!(
        "the sequencer's in-memory work on one thread (no HTTP, no database), first {}",
        rules.describe()
    );
    println!(
        "  rules + entry hash + tree: {:.1} µs per event → at most {:.0} events/s before any database time",
        rules.sequencer(),
        1e6 / rules.sequencer()
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
        let keys_dir = tempfile::tempdir()?;
        let outcome = run_backend(backend, &db, keys_dir.path(), &args, &work);
        if let Some(path) = &args.keep_db {
            // Kept even when a check failed: the ledger itself was accepted entry by entry.
            match Kept::keep(&db, keys_dir.path(), &work.world.regulator, path) {
                Ok(kept) => println!("{}", kept.describe()),
                Err(e) => println!("!!!!! could not keep the database: {e:#}"),
            }
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
        setup_events,
        mix_events: work.mix.events.len(),
        model_events: work.model.describe_events(),
        model_statuses: work.model.describe_statuses(),
        rules,
        results,
        skipped,
    };
    println!("{}", report.summary());
    if let Some(path) = &args.markdown {
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
// The enterprises

struct Party {
    org: String,
    name: String,
    region: &'static str,
    city: usize,
    key: SigningKey,
    public: String,
}

impl Party {
    fn new(
        prefix_serial: u64,
        name: String,
        region: &'static str,
        city: usize,
        rng: &mut StdRng,
    ) -> Party {
        let org = OrgId::with_check(&format!("91{region}MA{prefix_serial:07}"))
            .expect("a valid org id prefix")
            .as_str()
            .to_owned();
        let key = SigningKey::generate(rng);
        let public = hex::encode(key.verifying_key().to_bytes());
        Party {
            org,
            name,
            region,
            city,
            key,
            public,
        }
    }
}

struct Generator {
    party: Party,
    /// Indices into `WASTES`.
    wastes: Vec<usize>,
    weight: u32,
}

struct Carrier {
    party: Party,
    plates: Vec<String>,
}

struct Receiver {
    party: Party,
    profile: usize,
    licence: String,
    /// Handling method per index into `WASTES`, for the wastes its licence covers.
    methods: HashMap<usize, &'static str>,
}

struct World {
    regulator: SigningKey,
    /// The genesis regulator as a signer of mix events.
    regulator_party: Party,
    generators: Vec<Generator>,
    carriers: Vec<Carrier>,
    receivers: Vec<Receiver>,
}

impl World {
    fn build(args: &Args) -> anyhow::Result<World> {
        ensure!(
            args.transit_hours > 0 && args.disposal_hours > 0 && args.storage_hours > 0,
            "limits must be positive"
        );
        for w in WASTES {
            ensure!(
                catalogue::lookup(Edition::E2025, w.code).is_some(),
                "{} is not in the 2025 catalogue",
                w.code
            );
        }
        let waste_index = |code: &str| WASTES.iter().position(|w| w.code == code);
        for p in PROFILES {
            for (_, m) in p.methods {
                ensure!(catalogue::method(m).is_some(), "unknown method {m}");
            }
        }
        let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
        let regulator = SigningKey::generate(&mut rng);
        // Every run builds one world; its regulator is who the bench reads as.
        let _ = READER_KEY.set(regulator.clone());
        let industry_weights = WeightedIndex::new(INDUSTRIES.iter().map(|i| i.weight))?;
        let district = |rng: &mut StdRng, city: usize| {
            *CITIES[city]
                .districts
                .choose(rng)
                .expect("cities have districts")
        };

        let mut generators = Vec::with_capacity(args.generators);
        for n in 0..args.generators {
            let city = n % CITIES.len();
            let (region, dname) = district(&mut rng, city);
            let industry = &INDUSTRIES[industry_weights.sample(&mut rng)];
            let k = rng.gen_range(2..=industry.codes.len());
            let wastes = industry
                .codes
                .choose_multiple(&mut rng, k)
                .map(|c| waste_index(c).context("industry code not in WASTES"))
                .collect::<anyhow::Result<Vec<_>>>()?;
            // A few large enterprises, many small ones.
            let weight = if rng.gen_bool(0.1) {
                rng.gen_range(10..=30)
            } else {
                rng.gen_range(1..=6)
            };
            let name = format!(
                "{}{dname}示例{}企业{:03}",
                CITIES[city].name,
                industry.name,
                n + 1
            );
            generators.push(Generator {
                party: Party::new(1 + n as u64, name, region, city, &mut rng),
                wastes,
                weight,
            });
        }
        let mut carriers = Vec::with_capacity(args.carriers);
        for n in 0..args.carriers {
            let city = n % CITIES.len();
            let (region, _) = district(&mut rng, city);
            let plates = (0..rng.gen_range(5..=20))
                .map(|_| {
                    format!(
                        "{}·{}{:04}",
                        CITIES[city].plate,
                        char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZ"[rng.gen_range(0..24)]),
                        rng.gen_range(0..10_000)
                    )
                })
                .collect();
            let name = format!("{}示例危险货物运输有限公司{:02}", CITIES[city].name, n + 1);
            carriers.push(Carrier {
                party: Party::new(100_001 + n as u64, name, region, city, &mut rng),
                plates,
            });
        }
        let mut receivers = Vec::with_capacity(args.receivers);
        for (n, &profile) in RECEIVER_PROFILES.iter().enumerate().take(args.receivers) {
            let city = n % CITIES.len();
            let (region, _) = district(&mut rng, city);
            let p = &PROFILES[profile];
            let methods = WASTES
                .iter()
                .enumerate()
                .filter_map(|(i, w)| {
                    let cat = category(w.code);
                    p.methods
                        .iter()
                        .find(|(c, _)| *c == cat)
                        .map(|(_, m)| (i, *m))
                })
                .collect();
            let name = format!("{}示例{}有限公司{:02}", CITIES[city].name, p.name, n + 1);
            receivers.push(Receiver {
                party: Party::new(200_001 + n as u64, name, region, city, &mut rng),
                profile,
                licence: format!("JS{}{}OO{:03}-1", CITIES[city].abbr, &region[2..], n + 1),
                methods,
            });
        }
        let regulator_party = Party {
            org: REGULATOR_ORG.into(),
            name: "常州市钟楼生态环境局".into(),
            region: REGULATOR_REGION,
            city: 0,
            public: hex::encode(regulator.verifying_key().to_bytes()),
            key: regulator.clone(),
        };
        Ok(World {
            regulator,
            regulator_party,
            generators,
            carriers,
            receivers,
        })
    }

    /// Setup batches: every org registered, then every licence issued; signed by the regulator.
    fn setup_envelopes(
        &self,
        args: &Args,
        run_start: chrono::DateTime<chrono::Utc>,
    ) -> Vec<Vec<Value>> {
        let at = time::format_timestamp(time::truncate_millis(
            run_start
                - chrono::Duration::from_std(SPAN + END_MARGIN + Duration::from_secs(3600))
                    .expect("a small duration"),
        ));
        let mut out = Vec::new();
        let register = |p: &Party, role: &str| {
            json!({
                "v": 1, "id": Uuid::new_v4().to_string(), "type": "org.registered",
                "actor": REGULATOR_ORG, "at": at,
                "body": {"org": p.org, "name": p.name, "region": p.region, "roles": [role], "keys": [p.public]},
            })
        };
        out.extend(
            self.generators
                .iter()
                .map(|g| register(&g.party, "generator")),
        );
        out.extend(self.carriers.iter().map(|c| register(&c.party, "carrier")));
        out.extend(
            self.receivers
                .iter()
                .map(|r| register(&r.party, "receiver")),
        );
        for r in &self.receivers {
            let p = &PROFILES[r.profile];
            let mut scopes = Vec::new();
            for kind in [MethodKind::Utilize, MethodKind::Dispose] {
                let codes: Vec<&str> = p
                    .methods
                    .iter()
                    .filter(|(_, m)| catalogue::method(m).is_some_and(|m| m.kind == kind))
                    .map(|(c, _)| *c)
                    .collect();
                if !codes.is_empty() {
                    scopes.push(
                        json!({"codes": codes, "activities": ["collect", "store", kind.as_str()]}),
                    );
                }
            }
            out.push(json!({
                "v": 1, "id": Uuid::new_v4().to_string(), "type": "license.issued",
                "actor": REGULATOR_ORG, "at": at,
                "body": {
                    "license": r.licence, "holder": r.party.org,
                    // 1,000,000 t a year: capacity never limits the mix.
                    "capacity_g": 1_000_000_000_000_i64,
                    "valid_from": "2025-01-01", "valid_until": "2030-12-31", "scopes": scopes,
                },
            }));
        }
        if args.containers > 0 {
            // Capacities no mix reaches (10^15 g, the most §6 allows): they never limit it.
            for g in &self.generators {
                for body in [
                    json!({"org": g.party.org, "facility": STORE, "kind": "storage", "storage_type": "warehouse",
                           "capacity_g": 1_000_000_000_000_000_i64, "name": "危废贮存库"}),
                    json!({"org": g.party.org, "facility": KILN, "kind": "dispose", "methods": [KILN_METHOD],
                           "capacity_g": 1_000_000_000_000_000_i64, "name": "自建焚烧炉"}),
                ] {
                    out.push(json!({
                        "v": 1, "id": Uuid::new_v4().to_string(), "type": "facility.registered",
                        "actor": REGULATOR_ORG, "at": at, "body": body,
                    }));
                }
            }
        }
        out.chunks(args.batch)
            .map(|c| {
                c.iter()
                    .map(|e| event::sign_envelope(e, &self.regulator))
                    .collect()
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The simulated mix

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Complete,
    Cancel,
    Reject,
    StayOpened,
    StayPickedUp,
    StayReceived,
    /// Received after the transit limit (a `transit_overdue` ticket at the receipt).
    LateReceipt,
    /// Disposed of after the disposal limit (a `disposal_overdue` ticket at the disposal).
    LateDisposal,
    /// Its first line received 2–10 % short, beyond the tolerance (`quantity_shortfall`).
    Short,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Open,
    Cancel,
    PickUp,
    Reject,
    Receive,
    Dispose,
}

impl Step {
    fn kind(self) -> &'static str {
        match self {
            Step::Open => "manifest.opened",
            Step::Cancel => "manifest.cancelled",
            Step::PickUp => "manifest.picked_up",
            Step::Reject => "manifest.rejected",
            Step::Receive => "manifest.received",
            Step::Dispose => "manifest.disposed",
        }
    }
    /// The manifest's status after this step.
    fn status(self) -> &'static str {
        match self {
            Step::Open => "opened",
            Step::Cancel => "cancelled",
            Step::PickUp => "picked_up",
            Step::Reject => "rejected",
            Step::Receive => "received",
            Step::Dispose => "disposed",
        }
    }
}

struct PlanLine {
    waste: usize,
    quantity_g: i64,
    received_g: i64,
    /// With containers: the mix index of the `waste.declared` of the line's own lot, all of
    /// whose containers it ships.
    lot: Option<usize>,
    /// The container (by its place in the lot) the receipt leaves out (counted 0).
    missing: Option<u16>,
}

struct Plan {
    id: Uuid,
    generator: usize,
    carrier: usize,
    receiver: usize,
    vehicle: usize,
    fate: Fate,
    lines: Vec<PlanLine>,
}

/// A lot dated on a day of the year before the run (`--containers`), with its containers.
#[derive(Debug, Clone, Copy)]
struct LotSpec {
    /// Days after `Mix::first_day`.
    day: u16,
    /// The serial of its first container; the others follow.
    first: u16,
    /// 0 for a container-less lot.
    containers: u16,
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    Declared {
        generator: usize,
        waste: usize,
        quantity_g: i64,
        /// None: dated the CST date of its `at`, without containers or facility.
        lot: Option<LotSpec>,
    },
    /// On-site treatment in the generator's disposal facility: the named lot's containers,
    /// or (None) `quantity_g` of its container-less stock dated on or before `day`.
    Treated {
        generator: usize,
        waste: usize,
        quantity_g: i64,
        day: u16,
        lot: Option<usize>,
    },
    Manifest {
        plan: usize,
        step: Step,
    },
    /// The regulator suspends (or reinstates) the licence of a receiver.
    Licence {
        receiver: usize,
        suspend: bool,
    },
}

/// What the mix does besides ordinary manifests, in events: the delays of late receipts and
/// disposals (past the limits), and a window in which one receiver's licence is suspended.
#[derive(Debug, Clone, Copy)]
struct Irregular {
    late_transit: usize,
    late_disposal: usize,
    /// (receiver, index of the suspension, index of the reinstatement).
    suspension: Option<(usize, usize, usize)>,
}

impl Irregular {
    /// For a mix of about `n` events over `SPAN` under `limits` (seconds).
    fn new(n: usize, transit_s: i64, disposal_s: i64, receivers: usize) -> Irregular {
        let per_s = n as f64 / SPAN.as_secs_f64();
        Irregular {
            late_transit: ((transit_s as f64 * per_s) as usize).max(1),
            late_disposal: ((disposal_s as f64 * per_s) as usize).max(1),
            // Receiver 1's licence is suspended for a twentieth of the span, from 55 %.
            suspension: (receivers > 1).then(|| (1, n * 55 / 100, n * 60 / 100)),
        }
    }
}

struct Mix {
    plans: Vec<Plan>,
    events: Vec<Ev>,
    /// Day 0 of the lots dated over the year (`LotSpec::day`).
    first_day: NaiveDate,
}

impl Mix {
    fn date_of(&self, day: u16) -> NaiveDate {
        self.first_day + chrono::Duration::days(i64::from(day))
    }
}

/// What the simulation has due at an event index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Step(usize, Step),
    /// The lots of a cancelled or rejected plan's lines, treated on site by their containers.
    TreatLots(usize),
    /// Container-less stock treated on site: (generator, waste, grams).
    TreatLoose(usize, usize, i64),
}

/// The day of the year before the run a lot or treatment at mix index `i` of about `n` is
/// dated.
fn day_of(i: usize, n: usize) -> u16 {
    (365 * i / n.max(1)).min(365) as u16
}

/// The containers of a lot of `quantity_g` in `k` containers: equal, the rest in the last.
fn split(quantity_g: i64, k: u16) -> Vec<i64> {
    let k = i64::from(k.max(1));
    let base = quantity_g / k;
    let mut out = vec![base; k as usize];
    *out.last_mut().expect("k ≥ 1") += quantity_g - base * k;
    out
}

/// A container's 数字识别码: the packing unit, the code's digits, the date, the serial.
fn container_id(org: &str, waste: usize, date: NaiveDate, serial: u16) -> String {
    format!(
        "{org}{}{}{serial:03}",
        WASTES[waste].code.replace('-', ""),
        date.format("%Y%m%d")
    )
}

/// The weights a receipt gives the containers of a line: as declared, the line's small loss
/// taken from the last ones (each down to 0 at most, for a line of many light containers), and
/// the missing one at 0.
fn weights(l: &PlanLine, k: u16) -> Vec<i64> {
    let mut w = split(l.quantity_g, k);
    if let Some(m) = l.missing {
        w[m as usize] = 0;
    } else {
        let mut loss = l.quantity_g - l.received_g;
        for g in w.iter_mut().rev() {
            let taken = loss.min(*g);
            *g -= taken;
            loss -= taken;
        }
    }
    w
}

/// The simulation: a queue of future steps by the event index they are due at, and per
/// generator and code the declared stock not yet promised to a manifest, with the index from
/// which it may be used.
struct Sim<'a> {
    world: &'a World,
    rng: &'a mut StdRng,
    /// An event depends only on events at least `gap` indices earlier (two batches).
    gap: usize,
    plans: Vec<Plan>,
    events: Vec<Ev>,
    due: BinaryHeap<Reverse<(usize, u64, Due)>>,
    tie: u64,
    /// Containers per line on average (0: none), on-site treatments per thousand plans.
    containers: u16,
    onsite_per_mille: u32,
    /// The estimated length of the mix, for the days of lots.
    estimated: usize,
    /// (generator, waste, day) → serials used; (generator, waste) → the day overflow goes to.
    serials: HashMap<(usize, usize, u16), u16>,
    spill: HashMap<(usize, usize), u16>,
    pools: HashMap<(usize, usize), VecDeque<(usize, i64)>>,
    irregular: Irregular,
    /// Manifests opened so far.
    opened: usize,
}

impl Sim<'_> {
    fn schedule(&mut self, after: usize, spread: usize, plan: usize, step: Step) {
        self.schedule_due(after, spread, Due::Step(plan, step));
    }

    fn schedule_due(&mut self, after: usize, spread: usize, due: Due) {
        let at = after + self.gap + self.rng.gen_range(0..spread);
        self.tie += 1;
        self.due.push(Reverse((at, self.tie, due)));
    }

    /// Serials for `k` containers of (g, waste), dated `day` or, when its 999 are used, the
    /// latest earlier day with room.
    fn serials_for(&mut self, g: usize, waste: usize, day: u16, k: u16) -> (u16, u16) {
        let fits = |used: &mut HashMap<(usize, usize, u16), u16>, d: u16| {
            let n = used.entry((g, waste, d)).or_insert(0);
            (*n + k <= 999).then(|| {
                let first = *n + 1;
                *n += k;
                first
            })
        };
        if let Some(first) = fits(&mut self.serials, day) {
            return (day, first);
        }
        let mut d = self.spill.get(&(g, waste)).copied().unwrap_or(day).min(day);
        loop {
            if let Some(first) = fits(&mut self.serials, d) {
                self.spill.insert((g, waste), d);
                return (d, first);
            }
            d = d
                .checked_sub(1)
                .expect("a year of serials for one unit and code: use fewer --containers");
        }
    }

    fn emit_due(&mut self, due: Due) {
        match due {
            Due::Step(plan, step) => self.emit(plan, step),
            Due::TreatLots(plan) => {
                let day = day_of(self.events.len(), self.estimated);
                let p = &self.plans[plan];
                let treated: Vec<Ev> = p
                    .lines
                    .iter()
                    .map(|l| Ev::Treated {
                        generator: p.generator,
                        waste: l.waste,
                        quantity_g: l.quantity_g,
                        day,
                        lot: l.lot,
                    })
                    .collect();
                self.events.extend(treated);
            }
            Due::TreatLoose(generator, waste, quantity_g) => {
                let day = day_of(self.events.len(), self.estimated);
                self.events.push(Ev::Treated {
                    generator,
                    waste,
                    quantity_g,
                    day,
                    lot: None,
                });
            }
        }
    }

    fn emit(&mut self, plan: usize, step: Step) {
        let i = self.events.len();
        if step == Step::Open {
            // No manifest is opened to a receiver near its suspension: whether the opening
            // came before it would depend on the order of concurrent batches.
            if let Some((r, from, to)) = self.irregular.suspension {
                if self.plans[plan].receiver == r && i + self.gap >= from && i <= to + self.gap {
                    self.plans[plan].receiver = 0;
                }
            }
        }
        self.events.push(Ev::Manifest { plan, step });
        if step == Step::Open {
            self.opened += 1;
        }
        let fate = self.plans[plan].fate;
        let (late_transit, late_disposal) =
            (self.irregular.late_transit, self.irregular.late_disposal);
        match step {
            Step::Open => match fate {
                Fate::Cancel => self.schedule(i, 10_000, plan, Step::Cancel),
                Fate::StayOpened => {}
                _ => self.schedule(i, 15_000, plan, Step::PickUp),
            },
            Step::PickUp => match fate {
                Fate::Reject => self.schedule(i, 25_000, plan, Step::Reject),
                Fate::StayPickedUp => {}
                Fate::LateReceipt => {
                    self.schedule(i + late_transit * 6 / 5, late_transit, plan, Step::Receive)
                }
                _ => self.schedule(i, 25_000, plan, Step::Receive),
            },
            Step::Receive => match fate {
                Fate::StayReceived => {}
                Fate::LateDisposal => self.schedule(
                    i + late_disposal * 6 / 5,
                    late_disposal,
                    plan,
                    Step::Dispose,
                ),
                _ => self.schedule(i, 60_000, plan, Step::Dispose),
            },
            Step::Cancel | Step::Reject if self.containers > 0 => {
                // The containers go back to the generator's store; it treats them on site.
                self.schedule_due(i, 20_000, Due::TreatLots(plan));
            }
            Step::Cancel | Step::Reject => {
                // The waste goes back to the generator's stock, usable two batches later.
                let p = &self.plans[plan];
                for l in &p.lines {
                    self.pools
                        .entry((p.generator, l.waste))
                        .or_default()
                        .push_back((i + self.gap, l.quantity_g));
                }
            }
            Step::Dispose => {}
        }
    }

    /// A new manifest: declarations if the stock does not suffice, then its opening, now or
    /// once the stock it uses may be used.
    fn plan(&mut self, generators: &WeightedIndex<u32>) {
        let w = self.world;
        let g = generators.sample(self.rng);
        let gen = &w.generators[g];
        let n_lines = match self.rng.gen_range(0..10) {
            0..=5 => 1,
            6..=8 => 2,
            _ => 3,
        }
        .min(gen.wastes.len());
        let wastes: Vec<usize> = gen
            .wastes
            .choose_multiple(self.rng, n_lines)
            .copied()
            .collect();
        let covering: Vec<usize> = (0..w.receivers.len())
            .filter(|&r| {
                wastes
                    .iter()
                    .all(|x| w.receivers[r].methods.contains_key(x))
            })
            .collect();
        let near: Vec<usize> = covering
            .iter()
            .copied()
            .filter(|&r| w.receivers[r].party.city == gen.party.city)
            .collect();
        let receiver = if !near.is_empty() && self.rng.gen_bool(0.7) {
            *near.choose(self.rng).expect("not empty")
        } else {
            *covering
                .choose(self.rng)
                .expect("receiver 0 covers everything")
        };
        let near: Vec<usize> = (0..w.carriers.len())
            .filter(|&c| w.carriers[c].party.city == gen.party.city)
            .collect();
        let carrier = if !near.is_empty() && self.rng.gen_bool(0.8) {
            *near.choose(self.rng).expect("not empty")
        } else {
            self.rng.gen_range(0..w.carriers.len())
        };
        let vehicle = self.rng.gen_range(0..w.carriers[carrier].plates.len());
        let fate = match self.rng.gen_range(0..1000) {
            0..=14 => Fate::Cancel,
            15..=19 => Fate::Reject,
            20..=29 => Fate::StayOpened,
            30..=39 => Fate::StayPickedUp,
            40..=59 => Fate::StayReceived,
            60..=62 => Fate::LateReceipt,
            63..=65 => Fate::LateDisposal,
            66..=68 => Fate::Short,
            _ => Fate::Complete,
        };
        // Now and then a generator declares waste it never ships: it stays in storage.
        if self.rng.gen_bool(0.004) {
            let unshipped: Vec<usize> = (0..WASTES.len())
                .filter(|x| !gen.wastes.contains(x))
                .collect();
            if let Some(&waste) = unshipped.choose(self.rng) {
                let (lo, hi) = WASTES[waste].kg;
                self.events.push(Ev::Declared {
                    generator: g,
                    waste,
                    quantity_g: self.rng.gen_range(lo..=hi) * 1000,
                    lot: None,
                });
            }
        }
        // Now and then a generator treats a lot in its own facility.
        if self.containers > 0 && self.rng.gen_range(0..1000) < self.onsite_per_mille {
            let waste = *gen.wastes.choose(self.rng).expect("generators have wastes");
            let (lo, hi) = WASTES[waste].kg;
            let quantity_g = self.rng.gen_range(lo..=hi) * 1000;
            let i = self.events.len();
            let day = day_of(i, self.estimated);
            self.events.push(Ev::Declared {
                generator: g,
                waste,
                quantity_g,
                lot: Some(LotSpec {
                    day,
                    first: 0,
                    containers: 0,
                }),
            });
            self.schedule_due(i, 20_000, Due::TreatLoose(g, waste, quantity_g));
        }
        let mut lines = Vec::with_capacity(wastes.len());
        let mut due = self.events.len();
        for (k, waste) in wastes.into_iter().enumerate() {
            let (lo, hi) = WASTES[waste].kg;
            let q = self.rng.gen_range(lo..=hi) * 1000;
            // Most receipts weigh what was shipped; some a little less, within the 1 % tolerance;
            // a few far less.
            let mut received_g = if fate == Fate::Short && k == 0 {
                q - q * self.rng.gen_range(2..=10) / 100
            } else if self.rng.gen_bool(0.2) {
                q - self.rng.gen_range(0..=q / 250)
            } else {
                q
            };
            if self.containers > 0 {
                // The line's own lot, in 1 to 2N−1 containers; a short receipt leaves one out.
                let n = self.rng.gen_range(1..=2 * self.containers - 1);
                let i = self.events.len();
                let (day, first) = self.serials_for(g, waste, day_of(i, self.estimated), n);
                self.events.push(Ev::Declared {
                    generator: g,
                    waste,
                    quantity_g: q,
                    lot: Some(LotSpec {
                        day,
                        first,
                        containers: n,
                    }),
                });
                due = due.max(i + self.gap);
                let missing = (fate == Fate::Short && k == 0).then(|| self.rng.gen_range(0..n));
                if let Some(m) = missing {
                    received_g = q - split(q, n)[m as usize];
                }
                lines.push(PlanLine {
                    waste,
                    quantity_g: q,
                    received_g,
                    lot: Some(i),
                    missing,
                });
                continue;
            }
            let have: i64 = self
                .pools
                .get(&(g, waste))
                .map_or(0, |p| p.iter().map(|e| e.1).sum());
            if have < q {
                // One declaration covers this line and a few more to come.
                let declared = q - have + self.rng.gen_range(2..=8) * (lo + hi) / 2 * 1000;
                let i = self.events.len();
                self.events.push(Ev::Declared {
                    generator: g,
                    waste,
                    quantity_g: declared,
                    lot: None,
                });
                self.pools
                    .entry((g, waste))
                    .or_default()
                    .push_back((i + self.gap, declared));
            }
            let pool = self.pools.get_mut(&(g, waste)).expect("declared above");
            let mut left = q;
            while left > 0 {
                let front = pool.front_mut().expect("the pool holds enough");
                let take = front.1.min(left);
                front.1 -= take;
                left -= take;
                due = due.max(front.0);
                if front.1 == 0 {
                    pool.pop_front();
                }
            }
            lines.push(PlanLine {
                waste,
                quantity_g: q,
                received_g,
                lot: None,
                missing: None,
            });
        }
        let plan = self.plans.len();
        self.plans.push(Plan {
            id: uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid(),
            generator: g,
            carrier,
            receiver,
            vehicle,
            fate,
            lines,
        });
        if due <= self.events.len() {
            self.emit(plan, Step::Open);
        } else {
            self.tie += 1;
            self.due
                .push(Reverse((due, self.tie, Due::Step(plan, Step::Open))));
        }
    }
}

/// Where the mix stops.
#[derive(Debug, Clone, Copy)]
enum MixEnd {
    /// After this many events.
    Events(usize),
    /// Right after the opening of this many manifests.
    Manifests(usize),
}

/// Events per manifest in the mix, declarations included (from earlier runs: 4.07), to size
/// a mix given in manifests before it is simulated.
const EVENTS_PER_MANIFEST: f64 = 4.07;
/// With containers every line has its own declaration (1.6 lines a manifest).
const EVENTS_PER_MANIFEST_CONTAINERS: f64 = 5.6;

impl MixEnd {
    fn estimated_events(self) -> usize {
        self.estimated_events_with(false)
    }
    fn estimated_events_with(self, containers: bool) -> usize {
        let per = if containers {
            EVENTS_PER_MANIFEST_CONTAINERS
        } else {
            EVENTS_PER_MANIFEST
        };
        match self {
            MixEnd::Events(n) => n,
            MixEnd::Manifests(m) => (m as f64 * per) as usize,
        }
    }
}

/// What the mix holds besides manifests: containers per line on average (0: none), on-site
/// treatments per thousand plans, and day 0 of the lots dated over the year.
#[derive(Debug, Clone, Copy)]
struct MixOptions {
    containers: u16,
    onsite_per_mille: u32,
    first_day: NaiveDate,
}

impl Mix {
    fn generate(
        world: &World,
        end: MixEnd,
        gap: usize,
        irregular: Irregular,
        options: MixOptions,
        rng: &mut StdRng,
    ) -> Mix {
        let generators = WeightedIndex::new(world.generators.iter().map(|g| g.weight))
            .expect("positive weights");
        let mut sim = Sim {
            world,
            rng,
            gap,
            plans: Vec::new(),
            events: Vec::with_capacity(end.estimated_events() + 8),
            due: BinaryHeap::new(),
            tie: 0,
            pools: HashMap::new(),
            irregular,
            opened: 0,
            containers: options.containers,
            onsite_per_mille: options.onsite_per_mille,
            estimated: end.estimated_events_with(options.containers > 0),
            serials: HashMap::new(),
            spill: HashMap::new(),
        };
        // Licence events still to come: (index, receiver, suspend).
        let mut licence: VecDeque<(usize, usize, bool)> = irregular
            .suspension
            .map(|(r, from, to)| vec![(from, r, true), (to, r, false)])
            .unwrap_or_default()
            .into();
        loop {
            let len = sim.events.len();
            match end {
                MixEnd::Events(n) if len >= n => {
                    sim.events.truncate(n);
                    break;
                }
                MixEnd::Manifests(m) if sim.opened >= m => break,
                _ => {}
            }
            if let Some(&(at, receiver, suspend)) = licence.front() {
                if len >= at {
                    licence.pop_front();
                    sim.events.push(Ev::Licence { receiver, suspend });
                    continue;
                }
            }
            match sim.due.peek() {
                Some(&Reverse((at, _, due))) if at <= len => {
                    sim.due.pop();
                    sim.emit_due(due);
                }
                _ => sim.plan(&generators),
            }
        }
        // With an end in manifests, the events of the last plan before its opening (its
        // declarations) may follow the last opening: they stay, as declared waste.
        Mix {
            plans: sim.plans,
            events: sim.events,
            first_day: options.first_day,
        }
    }
}

/// What the ledger should show once the mix is in: per manifest, its status and number of
/// events, and the indexes the reads check against.
struct Model {
    /// Per plan: status after the last posted step (None: never opened) and events.
    status: Vec<Option<&'static str>>,
    history: Vec<u8>,
    /// Plans in opening order.
    opened: Vec<usize>,
    by_type: Vec<(&'static str, usize)>,
}

impl Model {
    fn of(mix: &Mix) -> Model {
        let mut status = vec![None; mix.plans.len()];
        let mut history = vec![0u8; mix.plans.len()];
        let mut opened = Vec::new();
        let mut counts: HashMap<&'static str, usize> = HashMap::new();
        for ev in &mix.events {
            match *ev {
                Ev::Declared { .. } => *counts.entry("waste.declared").or_default() += 1,
                Ev::Treated { .. } => *counts.entry("waste.treated").or_default() += 1,
                Ev::Licence { suspend, .. } => {
                    *counts
                        .entry(if suspend {
                            "license.suspended"
                        } else {
                            "license.reinstated"
                        })
                        .or_default() += 1
                }
                Ev::Manifest { plan, step } => {
                    *counts.entry(step.kind()).or_default() += 1;
                    if step == Step::Open {
                        opened.push(plan);
                    }
                    status[plan] = Some(step.status());
                    history[plan] += 1;
                }
            }
        }
        let order = [
            "waste.declared",
            "waste.treated",
            "manifest.opened",
            "manifest.picked_up",
            "manifest.received",
            "manifest.disposed",
            "manifest.cancelled",
            "manifest.rejected",
            "license.suspended",
            "license.reinstated",
        ];
        Model {
            status,
            history,
            opened,
            by_type: order
                .iter()
                .map(|k| (*k, counts.get(k).copied().unwrap_or(0)))
                .collect(),
        }
    }

    fn describe_events(&self) -> String {
        self.by_type
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn count(&self, status: &str) -> usize {
        self.opened
            .iter()
            .filter(|&&p| self.status[p] == Some(status))
            .count()
    }

    fn describe_statuses(&self) -> String {
        let n = self.opened.len().max(1) as f64;
        let parts: Vec<String> = [
            "disposed",
            "received",
            "picked_up",
            "opened",
            "cancelled",
            "rejected",
        ]
        .iter()
        .map(|s| {
            let c = self.count(s);
            format!("{c} {s} ({:.1} %)", 100.0 * c as f64 / n)
        })
        .collect();
        format!("{} opened in all: {}", self.opened.len(), parts.join(", "))
    }
}

// ---------------------------------------------------------------------------------------------
// Signing the mix

#[derive(Debug, Clone, Copy)]
struct BodyRef {
    file: usize,
    offset: u64,
    len: usize,
    items: usize,
}

struct Bodies {
    files: Vec<File>,
    index: Vec<BodyRef>,
}

impl Bodies {
    fn bytes(&self) -> usize {
        self.index.iter().map(|b| b.len).sum()
    }
    fn read(&self, i: usize, buf: &mut Vec<u8>) -> std::io::Result<()> {
        let b = self.index[i];
        buf.resize(b.len, 0);
        self.files[b.file].read_exact_at(buf, b.offset)
    }
}

/// The event of mix entry `i`, unsigned, with its signer.
fn mix_event<'w>(world: &'w World, mix: &Mix, ev: Ev, at: &str, date: &str) -> (Value, &'w Party) {
    let (kind, party, body) = match ev {
        Ev::Declared {
            generator,
            waste,
            quantity_g,
            lot,
        } => {
            let g = &world.generators[generator].party;
            let mut body = json!({"generator": g.org, "code": WASTES[waste].code, "quantity_g": quantity_g, "date": date});
            if let Some(lot) = lot {
                let date = mix.date_of(lot.day);
                body["date"] = json!(time::format_date(date));
                body["facility"] = json!(STORE);
                if lot.containers > 0 {
                    body["containers"] = split(quantity_g, lot.containers)
                        .into_iter()
                        .enumerate()
                        .map(|(k, q)| {
                            json!({"id": container_id(&g.org, waste, date, lot.first + k as u16), "quantity_g": q})
                        })
                        .collect();
                }
            }
            ("waste.declared", g, body)
        }
        Ev::Treated {
            generator,
            waste,
            quantity_g,
            day,
            lot,
        } => {
            let g = &world.generators[generator].party;
            let mut body = json!({"generator": g.org, "facility": KILN, "code": WASTES[waste].code,
                                  "quantity_g": quantity_g, "method": KILN_METHOD,
                                  "date": time::format_date(mix.date_of(day))});
            if let Some(lot) = lot {
                body["containers"] = json!(lot_container_ids(world, mix, lot));
            }
            ("waste.treated", g, body)
        }
        Ev::Manifest { plan, step } => {
            let p = &mix.plans[plan];
            let g = &world.generators[p.generator].party;
            let c = &world.carriers[p.carrier];
            let r = &world.receivers[p.receiver];
            let id = p.id.to_string();
            match step {
                Step::Open => {
                    let lines: Vec<Value> = p
                        .lines
                        .iter()
                        .enumerate()
                        .map(|(k, l)| {
                            let w = &WASTES[l.waste];
                            let mut line = if (plan + k) % 10 < 7 {
                                json!({"code": w.code, "quantity_g": l.quantity_g, "form": w.form, "packaging": w.packaging})
                            } else {
                                json!({"code": w.code, "quantity_g": l.quantity_g})
                            };
                            if let Some(lot) = l.lot {
                                line["containers"] = json!(lot_container_ids(world, mix, lot));
                            }
                            line
                        })
                        .collect();
                    let mut body = json!({
                        "manifest": id, "generator": g.org, "carrier": c.party.org,
                        "receiver": r.party.org, "lines": lines,
                    });
                    if plan % 10 == 0 {
                        body["note"] = json!("沾染物单独包装，桶身已贴危废标签");
                    }
                    (step.kind(), g, body)
                }
                Step::Cancel => (
                    step.kind(),
                    g,
                    json!({"manifest": id, "reason": "承运车辆故障，改日转移"}),
                ),
                Step::PickUp => {
                    let mut body = json!({"manifest": id, "vehicle": c.plates[p.vehicle]});
                    let scanned: Vec<String> = p
                        .lines
                        .iter()
                        .filter_map(|l| l.lot)
                        .flat_map(|lot| lot_container_ids(world, mix, lot))
                        .collect();
                    if !scanned.is_empty() {
                        body["containers"] = json!(scanned);
                    }
                    (step.kind(), &c.party, body)
                }
                Step::Reject => (
                    step.kind(),
                    &r.party,
                    json!({"manifest": id, "reason": "包装破损，渗漏，拒收退回"}),
                ),
                Step::Receive => {
                    let lines: Vec<Value> = p
                        .lines
                        .iter()
                        .map(|l| {
                            let mut line =
                                json!({"code": WASTES[l.waste].code, "quantity_g": l.received_g});
                            if let Some(lot) = l.lot {
                                let ids = lot_container_ids(world, mix, lot);
                                let k = ids.len() as u16;
                                line["containers"] = ids
                                    .into_iter()
                                    .zip(weights(l, k))
                                    .map(|(id, q)| json!({"id": id, "quantity_g": q}))
                                    .collect();
                            }
                            line
                        })
                        .collect();
                    (
                        step.kind(),
                        &r.party,
                        json!({"manifest": id, "lines": lines}),
                    )
                }
                Step::Dispose => {
                    let lines: Vec<Value> = p
                        .lines
                        .iter()
                        .map(|l| {
                            json!({"code": WASTES[l.waste].code, "quantity_g": l.received_g,
                                   "method": r.methods[&l.waste]})
                        })
                        .collect();
                    (
                        step.kind(),
                        &r.party,
                        json!({"manifest": id, "lines": lines}),
                    )
                }
            }
        }
        Ev::Licence { receiver, suspend } => {
            let licence = &world.receivers[receiver].licence;
            if suspend {
                (
                    "license.suspended",
                    &world.regulator_party,
                    json!({"license": licence, "reason": "现场检查发现贮存设施不符合要求，责令暂停经营"}),
                )
            } else {
                (
                    "license.reinstated",
                    &world.regulator_party,
                    json!({"license": licence, "reason": "整改完成，经复查恢复经营"}),
                )
            }
        }
    };
    (
        json!({"v": 1, "id": Uuid::new_v4().to_string(), "type": kind, "actor": party.org, "at": at, "body": body}),
        party,
    )
}

/// The ids of the containers of the lot declared at mix index `lot`.
fn lot_container_ids(world: &World, mix: &Mix, lot: usize) -> Vec<String> {
    let Ev::Declared {
        generator,
        waste,
        lot: Some(spec),
        ..
    } = mix.events[lot]
    else {
        panic!("mix event {lot} is not a lot in containers");
    };
    let org = &world.generators[generator].party.org;
    let date = mix.date_of(spec.day);
    (0..spec.containers)
        .map(|k| container_id(org, waste, date, spec.first + k))
        .collect()
}

/// Appends the envelope of `event` signed by `party` to `out`, its event in canonical form.
fn push_envelope(out: &mut Vec<u8>, event: &Value, party: &Party) {
    let jcs = jcs::canonical(event);
    let sig = party.key.sign(&event::signing_bytes(&jcs));
    out.extend_from_slice(b"{\"event\":");
    out.extend_from_slice(&jcs);
    out.extend_from_slice(b",\"key\":\"");
    out.extend_from_slice(party.public.as_bytes());
    out.extend_from_slice(b"\",\"sig\":\"");
    out.extend_from_slice(hex::encode(sig.to_bytes()).as_bytes());
    out.extend_from_slice(b"\"}");
}

/// The business times of the mix: event `i` is dated `t0 + i × SPAN / n`, so `at` increases
/// along the ledger and ends `END_MARGIN` before the run started.
#[derive(Debug, Clone, Copy)]
struct Clock {
    t0: time::Timestamp,
    step_ns: i64,
}

impl Clock {
    fn new(run_start: chrono::DateTime<chrono::Utc>, n: usize) -> Clock {
        Clock {
            t0: run_start
                - chrono::Duration::from_std(SPAN + END_MARGIN).expect("a small duration"),
            step_ns: SPAN.as_nanos() as i64 / n.max(1) as i64,
        }
    }
    /// The `at` of mix event `i`.
    fn at(&self, i: usize) -> time::Timestamp {
        time::truncate_millis(self.t0 + chrono::Duration::nanoseconds(self.step_ns * i as i64))
    }
}

/// Signs the mix on two threads into batch bodies in files under `dir`, dated by `clock`.
fn sign_mix(
    world: &World,
    mix: &Mix,
    batch: usize,
    clock: Clock,
    dir: &Path,
) -> anyhow::Result<Bodies> {
    let n = mix.events.len();
    let batches = n.div_ceil(batch);
    let half = batches / 2;
    let sign_range =
        |file_no: usize, from: usize, to: usize| -> anyhow::Result<(File, Vec<BodyRef>)> {
            let path = dir.join(format!("bodies-{file_no}"));
            let mut w = BufWriter::new(File::create(&path)?);
            let mut index = Vec::new();
            let mut offset = 0u64;
            let mut body = Vec::with_capacity(1 << 20);
            for b in from..to {
                body.clear();
                body.push(b'[');
                let items = (b * batch..((b + 1) * batch).min(n)).len();
                for i in b * batch..((b + 1) * batch).min(n) {
                    let at = clock.at(i);
                    let date = time::format_date(time::cst_date(at));
                    let (ev, party) = mix_event(
                        world,
                        mix,
                        mix.events[i],
                        &time::format_timestamp(at),
                        &date,
                    );
                    if i > b * batch {
                        body.push(b',');
                    }
                    push_envelope(&mut body, &ev, party);
                }
                body.push(b']');
                w.write_all(&body)?;
                index.push(BodyRef {
                    file: file_no,
                    offset,
                    len: body.len(),
                    items,
                });
                offset += body.len() as u64;
            }
            w.flush()?;
            drop(w);
            Ok((File::open(&path)?, index))
        };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| sign_range(0, 0, half));
        let b = sign_range(1, half, batches);
        (a.join().expect("signing thread"), b)
    });
    let (fa, mut ia) = a?;
    let (fb, ib) = b?;
    ia.extend(ib);
    Ok(Bodies {
        files: vec![fa, fb],
        index: ia,
    })
}

// ---------------------------------------------------------------------------------------------
// The sequencer's in-memory work for the mix, on one thread without HTTP or a database

/// Microseconds per event, on one thread, over the first batches of the mix (after the setup):
/// parsing and preparing (`Prepared::from_value`), the rules (`State::submit`) per event type,
/// and building the entry with its hash and the tree frontier.
struct RulesCost {
    events: usize,
    prepare: f64,
    rules: f64,
    entry: f64,
    by_type: Vec<(String, usize, f64)>,
}

impl RulesCost {
    /// The sequencer's serial in-memory share: rules, entry hash and tree.
    fn sequencer(&self) -> f64 {
        self.rules + self.entry
    }
    fn describe(&self) -> String {
        let types: Vec<String> = self
            .by_type
            .iter()
            .map(|(k, n, us)| format!("{k} {us:.1} ({n})"))
            .collect();
        format!(
            "{} events: prepare (strict parse, schema, JCS) {:.1} µs, rules {:.1} µs, entry hash + tree {:.1} µs; rules by type, µs (events): {}",
            self.events,
            self.prepare,
            self.rules,
            self.entry,
            types.join(", ")
        )
    }
}

fn measure_rules(work: &Workload, batches: usize) -> anyhow::Result<RulesCost> {
    let ledger_key = SigningKey::generate(&mut rand::thread_rng());
    let now = time::truncate_millis(chrono::Utc::now());
    let genesis = event::sign_envelope(
        &json!({
            "v": 1, "id": Uuid::new_v4().to_string(), "type": "ledger.genesis",
            "actor": event::LEDGER_ACTOR, "at": time::format_timestamp(now),
            "body": {
                "origin": ORIGIN,
                "ledger_key": hex::encode(ledger_key.verifying_key().to_bytes()),
                "regulator": {"org": REGULATOR_ORG, "name": "常州市钟楼生态环境局", "region": REGULATOR_REGION,
                    "keys": [hex::encode(work.world.regulator.verifying_key().to_bytes())]},
                "limits": work.limits.genesis_limits(time::cst_date(now)),
            },
        }),
        &ledger_key,
    );
    let mut state = State::new(ledger_key.verifying_key().to_bytes());
    let accept = |state: &mut State, p: &Prepared| match state.submit(p, now) {
        Ok(Verdict::Accepted(_)) => Ok(()),
        Ok(Verdict::Replay(s)) => bail!("{} replays entry {s}", p.header.kind),
        Err(r) => bail!("{} refused: {r}", p.header.kind),
    };
    for env in std::iter::once(genesis).chain(work.setup.iter().flatten().cloned()) {
        let mut p = Prepared::from_value(env).map_err(|e| anyhow::anyhow!("{e}"))?;
        p.sig_ok = true;
        accept(&mut state, &p)?;
    }
    let mut frontier = Frontier::new();
    let mut prev = [0u8; 32];
    let recorded_at = time::format_millis(now);
    let (mut prepare, mut rules, mut entry) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut by_type: HashMap<String, (usize, Duration)> = HashMap::new();
    let mut events = 0;
    let mut body = Vec::new();
    for b in 0..batches.min(work.bodies.index.len()) {
        work.bodies.read(b, &mut body)?;
        let t = Instant::now();
        let Ok(Value::Array(values)) = jcs::parse_strict(&body) else {
            bail!("batch {b} is not a JSON array")
        };
        prepare += t.elapsed();
        for v in values {
            let t = Instant::now();
            let mut p = Prepared::from_value(v).map_err(|e| anyhow::anyhow!("{e}"))?;
            p.sig_ok = true;
            prepare += t.elapsed();
            let t = Instant::now();
            accept(&mut state, &p)?;
            let took = t.elapsed();
            rules += took;
            let slot = by_type.entry(p.header.kind.clone()).or_default();
            slot.0 += 1;
            slot.1 += took;
            let t = Instant::now();
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
            entry += t.elapsed();
            events += 1;
        }
    }
    let _ = frontier.root();
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    let mut by_type: Vec<(String, usize, f64)> = by_type
        .into_iter()
        .map(|(k, (n, d))| (k, n, per(d, n)))
        .collect();
    by_type.sort_by_key(|(_, n, _)| Reverse(*n));
    Ok(RulesCost {
        events,
        prepare: per(prepare, events),
        rules: per(rules, events),
        entry: per(entry, events),
        by_type,
    })
}

// ---------------------------------------------------------------------------------------------
// Signature verification rate (as benches/append.rs)

/// Runs `step` for `secs` in windows of 0.25 s; returns (best window rate, overall rate).
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

/// `verify_one` on one thread over 50 pre-made manifest envelopes: (best window, mean).
fn measure_verify(world: &World, mix: &Mix, secs: f64) -> (f64, f64) {
    let at = time::format_timestamp(time::truncate_millis(chrono::Utc::now()));
    let items: Vec<(Vec<u8>, [u8; 32], [u8; 64])> = mix
        .events
        .iter()
        .take(50)
        .map(|ev| {
            let (e, party) = mix_event(world, mix, *ev, &at, "2026-01-01");
            let jcs = jcs::canonical(&e);
            let sig = party.key.sign(&event::signing_bytes(&jcs)).to_bytes();
            (jcs, party.key.verifying_key().to_bytes(), sig)
        })
        .collect();
    rate_windows(secs, || {
        for (jcs, key, sig) in &items {
            assert!(event::verify_one(key, sig, jcs));
        }
        items.len() as u64
    })
}

// ---------------------------------------------------------------------------------------------
// Database size (the rest of `BenchDb` is in benches/common/db.rs)

impl BenchDb {
    /// Total size in bytes, and a description (files, or the largest relations).
    async fn size(&self) -> anyhow::Result<(u64, String)> {
        match &self.kind {
            DbKind::Sqlite { dir } => {
                let mut total = 0;
                let mut parts = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let p = dir.path().join(format!("bench.db{suffix}"));
                    if let Ok(m) = std::fs::metadata(&p) {
                        total += m.len();
                        parts.push(format!("bench.db{suffix} {:.0} MB", m.len() as f64 / 1e6));
                    }
                }
                // Per table and index, when SQLite has the dbstat table.
                let opts = self
                    .url
                    .parse::<sqlx::sqlite::SqliteConnectOptions>()?
                    .read_only(true);
                let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
                if let Ok(rows) = sqlx::query(
                    "select name, sum(pgsize) as bytes from dbstat group by name order by bytes desc limit 8",
                )
                .fetch_all(&mut conn)
                .await
                {
                    let objects: Vec<String> = rows
                        .iter()
                        .map(|r| {
                            format!(
                                "{} {:.0} MB",
                                r.get::<String, _>("name"),
                                r.get::<i64, _>("bytes") as f64 / 1e6
                            )
                        })
                        .collect();
                    parts.push(format!("largest: {}", objects.join(", ")));
                }
                conn.close().await?;
                Ok((total, parts.join("; ")))
            }
            DbKind::Postgres { .. } => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await?;
                let total: i64 = sqlx::query_scalar("select pg_database_size(current_database())")
                    .fetch_one(&mut conn)
                    .await?;
                let rows = sqlx::query(
                    "select relname::text as name, pg_total_relation_size(relid) as bytes from pg_catalog.pg_statio_user_tables order by bytes desc limit 6",
                )
                .fetch_all(&mut conn)
                .await?;
                let objects: Vec<String> = rows
                    .iter()
                    .map(|r| {
                        format!(
                            "{} {:.0} MB",
                            r.get::<String, _>("name"),
                            r.get::<i64, _>("bytes") as f64 / 1e6
                        )
                    })
                    .collect();
                conn.close().await?;
                Ok((
                    total as u64,
                    format!("largest tables with their indexes: {}", objects.join(", ")),
                ))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Memory and I/O accounting from /proc (CPU: benches/common/cpu.rs)

#[path = "common/cpu.rs"]
mod cpu;
use cpu::{clk_tck, cpu_use, stat_ticks, CpuMark, CpuUse};

/// (VmRSS, VmHWM) of this process in bytes.
fn rss() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

/// I/O counters of /proc/…/io: bytes through read() and write(), and bytes the process sent
/// to (or caused to be fetched from) the storage layer.
#[derive(Debug, Clone, Copy, Default)]
struct Io {
    rchar: u64,
    wchar: u64,
    read_bytes: u64,
    write_bytes: u64,
}

impl Io {
    fn of(path: &str) -> Io {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        Io {
            rchar: field("rchar"),
            wchar: field("wchar"),
            read_bytes: field("read_bytes"),
            write_bytes: field("write_bytes"),
        }
    }
    fn add(self, o: Io) -> Io {
        Io {
            rchar: self.rchar + o.rchar,
            wchar: self.wchar + o.wchar,
            read_bytes: self.read_bytes + o.read_bytes,
            write_bytes: self.write_bytes + o.write_bytes,
        }
    }
    fn since(self, before: Io) -> Io {
        Io {
            rchar: self.rchar.saturating_sub(before.rchar),
            wchar: self.wchar.saturating_sub(before.wchar),
            read_bytes: self.read_bytes.saturating_sub(before.read_bytes),
            write_bytes: self.write_bytes.saturating_sub(before.write_bytes),
        }
    }
    /// This process and, summed, every process named `postgres`.
    fn now() -> (Io, Io) {
        let mut pg = Io::default();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.filter_map(Result::ok) {
                let p = e.path();
                let is_pg =
                    std::fs::read_to_string(p.join("comm")).is_ok_and(|c| c.trim() == "postgres");
                if is_pg {
                    pg = pg.add(Io::of(&p.join("io").to_string_lossy()));
                }
            }
        }
        (Io::of("/proc/self/io"), pg)
    }
    /// Kilobytes per event.
    fn describe(&self, events: usize) -> String {
        let per = |b: u64| b as f64 / 1e3 / events.max(1) as f64;
        format!(
            "read() {:.1} KB, write() {:.1} KB, from storage {:.1} KB, to storage {:.1} KB",
            per(self.rchar),
            per(self.wchar),
            per(self.read_bytes),
            per(self.write_bytes)
        )
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

#[derive(Debug, Clone, Copy, Default)]
struct Rounds {
    count: f64,
    seconds: f64,
}

/// The sequencer's rounds so far, from the service's Prometheus metrics.
fn rounds(base: &str) -> Rounds {
    let text = get(&agent(), &format!("{base}/metrics"))
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

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------------
// HTTP

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(600))
        .max_idle_connections_per_host(1)
        .build()
}

/// The genesis regulator's key, set when the world is built: every GET reads as the regulator.
static READER_KEY: OnceLock<SigningKey> = OnceLock::new();
/// The current read token and its expiry (Unix seconds).
static READER_TOKEN: Mutex<Option<(String, i64)>> = Mutex::new(None);
/// Lifetime of the bench's read tokens; one is replaced a minute before it expires.
const TOKEN_LIFETIME_S: i64 = 600;

/// A read token of the genesis regulator (spec §9), minted once per nine minutes so that the
/// client's signing stays out of the measured latencies.
fn read_token() -> Option<String> {
    let key = READER_KEY.get()?;
    let now = chrono::Utc::now().timestamp();
    let mut current = READER_TOKEN
        .lock()
        .expect("the token lock is never poisoned");
    match &*current {
        Some((t, exp)) if now < exp - 60 => Some(t.clone()),
        _ => {
            let t = token::mint(key, REGULATOR_ORG, ORIGIN, now, TOKEN_LIFETIME_S);
            *current = Some((t.clone(), now + TOKEN_LIFETIME_S));
            Some(t)
        }
    }
}

/// Every GET of the bench is built here, with the regulator's read token once the world exists.
fn get(agent: &ureq::Agent, url: &str) -> ureq::Request {
    let req = agent.get(url);
    match read_token() {
        Some(t) => req.set("Authorization", &format!("Bearer {t}")),
        None => req,
    }
}

/// GETs `url` and parses the JSON answer, which must be 200.
fn get_json(agent: &ureq::Agent, url: &str) -> anyhow::Result<Value> {
    let mut buf = Vec::new();
    let status = exchange(get(agent, url), None, &mut buf)?;
    ensure!(status == 200, "GET {url} answered {status}: {}", clip(&buf));
    Ok(serde_json::from_slice(&buf)?)
}

/// Sends a request and reads the whole answer into `buf`; returns the status.
fn exchange(req: ureq::Request, body: Option<&[u8]>, buf: &mut Vec<u8>) -> anyhow::Result<u16> {
    let resp = match body {
        Some(b) => req.set("Content-Type", "application/json").send_bytes(b),
        None => req.call(),
    };
    buf.clear();
    match resp {
        Ok(r) => {
            let s = r.status();
            r.into_reader().read_to_end(buf)?;
            Ok(s)
        }
        Err(ureq::Error::Status(s, r)) => {
            r.into_reader().read_to_end(buf)?;
            Ok(s)
        }
        Err(e) => Err(e.into()),
    }
}

fn clip(buf: &[u8]) -> String {
    String::from_utf8_lossy(&buf[..buf.len().min(600)]).into_owned()
}

#[derive(Deserialize)]
struct ItemStatus {
    status: u16,
    entry: Option<EntrySeq>,
}

#[derive(Deserialize)]
struct EntrySeq {
    seq: u64,
}

/// Checks a batch answer: 200, and 201 for every item; returns the seq of each item's entry.
fn check_batch(status: u16, buf: &[u8]) -> anyhow::Result<Vec<u64>> {
    ensure!(status == 200, "batch answered {status}: {}", clip(buf));
    let st: Vec<ItemStatus> = serde_json::from_slice(buf)?;
    if let Some(pos) = st.iter().position(|s| s.status != 201 || s.entry.is_none()) {
        let v: Value = serde_json::from_slice(buf)?;
        bail!("batch item {pos} answered {}", v[pos]);
    }
    Ok(st
        .into_iter()
        .filter_map(|s| s.entry.map(|e| e.seq))
        .collect())
}

/// The batch phase of the mix.
struct MixPhase {
    items: usize,
    /// The seq each mix event got, by event index: concurrent batches may be sequenced in
    /// either order, so the model of the rate follows the ledger's order.
    seqs: Vec<u64>,
    wall: Duration,
    /// Per batch request, sorted.
    latencies: Vec<Duration>,
    /// Time from the start at which each batch was answered, by batch.
    done_at: Vec<Duration>,
    gate_wait: Duration,
    cpu: CpuUse,
    rounds: Rounds,
    /// I/O during the mix: of this process (the service, mostly), and of PostgreSQL.
    io: Io,
    io_pg: Io,
}

impl MixPhase {
    fn rate(&self) -> f64 {
        self.items as f64 / self.wall.as_secs_f64()
    }
    fn sequencer_us(&self) -> f64 {
        1e6 * self.rounds.seconds / self.items.max(1) as f64
    }
    fn busy(&self) -> f64 {
        self.rounds.seconds / self.wall.as_secs_f64()
    }
    /// Events per second in each tenth of the mix (by batch), to see whether appends slow down
    /// as the ledger grows.
    fn tenths(&self, bodies: &Bodies) -> Vec<f64> {
        let n = self.done_at.len();
        let mut out = Vec::new();
        let mut prev_end = Duration::ZERO;
        for d in 0..10 {
            let (a, b) = (d * n / 10, (d + 1) * n / 10);
            if a >= b {
                continue;
            }
            let end = self.done_at[a..b].iter().max().copied().unwrap_or_default();
            let items: usize = bodies.index[a..b].iter().map(|r| r.items).sum();
            out.push(items as f64 / (end.saturating_sub(prev_end)).as_secs_f64().max(1e-9));
            prev_end = prev_end.max(end);
        }
        out
    }
}

/// Batches may be sent two at a time, but batch `i` only once batches `0..=i-2` are answered:
/// every event's dependencies are at least two batches earlier.
struct Gate {
    state: Mutex<GateState>,
    cv: Condvar,
}

struct GateState {
    done: Vec<bool>,
    /// Batches `0..watermark` are answered.
    watermark: usize,
    failed: bool,
}

/// What one mix client did: (batch, latency, answered at, seqs) per batch, time waited at the
/// gate, its CPU ticks.
struct MixClient {
    answered: Vec<(usize, Duration, Duration, Vec<u64>)>,
    waited: Duration,
    ticks: u64,
}

fn post_mix(base: &str, bodies: &Bodies, clients: usize) -> anyhow::Result<MixPhase> {
    let n = bodies.index.len();
    let next = AtomicUsize::new(0);
    let barrier = Barrier::new(clients + 1);
    let gate = Gate {
        state: Mutex::new(GateState {
            done: vec![false; n],
            watermark: 0,
            failed: false,
        }),
        cv: Condvar::new(),
    };
    let url = format!("{base}/v1/events");
    let health = format!("{base}/healthz");
    let tck = clk_tck();
    let r0 = rounds(base);
    let (io0, pg0) = Io::now();
    let progress = AtomicUsize::new(0);
    let (outcomes, wall, cpu0, cpu1) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<MixClient> {
                    let agent = agent();
                    let warm = get(&agent, &health).call();
                    barrier.wait();
                    let started = Instant::now();
                    let fail = |e: anyhow::Error| {
                        gate.state.lock().expect("gate").failed = true;
                        gate.cv.notify_all();
                        e
                    };
                    warm.context("GET /healthz").map_err(fail)?;
                    let cpu0 = stat_ticks("/proc/thread-self/stat").unwrap_or(0);
                    let mut out = Vec::new();
                    let mut waited = Duration::ZERO;
                    let mut body = Vec::with_capacity(1 << 20);
                    let mut buf = Vec::with_capacity(1 << 20);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        let w = Instant::now();
                        {
                            let mut st = gate.state.lock().expect("gate");
                            while st.watermark + 1 < i && !st.failed {
                                st = gate.cv.wait(st).expect("gate");
                            }
                            if st.failed {
                                break;
                            }
                        }
                        waited += w.elapsed();
                        bodies.read(i, &mut body).map_err(|e| fail(e.into()))?;
                        let t = Instant::now();
                        let status =
                            exchange(agent.post(&url), Some(&body), &mut buf).map_err(fail)?;
                        let took = t.elapsed();
                        let seqs = check_batch(status, &buf)
                            .with_context(|| format!("mix batch {i}"))
                            .map_err(fail)?;
                        out.push((i, took, started.elapsed(), seqs));
                        let mut st = gate.state.lock().expect("gate");
                        st.done[i] = true;
                        while st.watermark < n && st.done[st.watermark] {
                            st.watermark += 1;
                        }
                        gate.cv.notify_all();
                        drop(st);
                        let p = progress.fetch_add(1, Ordering::Relaxed) + 1;
                        if p % (n / 10).max(1) == 0 {
                            println!(
                                "  mix: {p}/{n} batches after {:.0} s",
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                    let cpu1 = stat_ticks("/proc/thread-self/stat").unwrap_or(0);
                    Ok(MixClient {
                        answered: out,
                        waited,
                        ticks: cpu1.saturating_sub(cpu0),
                    })
                })
            })
            .collect();
        barrier.wait();
        let cpu0 = CpuMark::now();
        let started = Instant::now();
        let outcomes: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("client thread panicked"))
            .collect();
        (outcomes, started.elapsed(), cpu0, CpuMark::now())
    });
    let r1 = rounds(base);
    let (io1, pg1) = Io::now();
    let mut latencies = Vec::new();
    let mut done_at = vec![Duration::ZERO; n];
    let mut batch_seqs = vec![Vec::new(); n];
    let mut gate_wait = Duration::ZERO;
    let mut client_ticks = 0;
    for o in outcomes {
        let MixClient {
            answered: out,
            waited,
            ticks,
        } = o?;
        for (i, took, at, seqs) in out {
            latencies.push(took);
            done_at[i] = at;
            batch_seqs[i] = seqs;
        }
        gate_wait += waited;
        client_ticks += ticks;
    }
    ensure!(latencies.len() == n, "not every batch was answered");
    latencies.sort();
    let seqs: Vec<u64> = batch_seqs.into_iter().flatten().collect();
    let items = bodies.index.iter().map(|b| b.items).sum();
    ensure!(seqs.len() == items, "an answer lacks some items");
    Ok(MixPhase {
        items,
        seqs,
        wall,
        latencies,
        done_at,
        gate_wait,
        cpu: cpu_use(cpu0, cpu1, client_ticks, wall, tck),
        rounds: Rounds {
            count: r1.count - r0.count,
            seconds: r1.seconds - r0.seconds,
        },
        io: io1.since(io0),
        io_pg: pg1.since(pg0),
    })
}

/// One kind of read, measured.
struct ReadPhase {
    name: String,
    /// p99 target in ms, if the issue sets one.
    target_ms: Option<f64>,
    clients: usize,
    wall: Duration,
    /// Sorted.
    latencies: Vec<Duration>,
    cpu: CpuUse,
}

impl ReadPhase {
    fn p(&self, q: f64) -> f64 {
        ms(percentile(&self.latencies, q))
    }
    fn max(&self) -> f64 {
        ms(self.latencies.last().copied().unwrap_or_default())
    }
    fn target(&self) -> String {
        self.target_ms
            .map_or_else(|| "none".into(), |t| format!("≤ {t} ms"))
    }
    fn verdict(&self) -> &'static str {
        match self.target_ms {
            None => "–",
            Some(t) if self.p(0.99) <= t => "PASS",
            Some(_) => "MISS",
        }
    }
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }
}

type Check<'a> = dyn Fn(usize, &[u8]) -> anyhow::Result<()> + Sync + 'a;

/// GETs `paths` from `clients` threads with keep-alive connections; every answer must be 200
/// and pass `check` (run outside the timed part). A warm-up of a tenth of the requests (at
/// most 200) on the same connections is not counted.
fn measure_reads(
    base: &str,
    name: &str,
    target_ms: Option<f64>,
    clients: usize,
    paths: &[String],
    check: &Check<'_>,
) -> anyhow::Result<ReadPhase> {
    let warmup = (paths.len() / 10).min(200);
    let next = AtomicUsize::new(0);
    let barrier = Barrier::new(clients + 1);
    let tck = clk_tck();
    let (outcomes, wall, cpu0, cpu1) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (next, barrier) = (&next, &barrier);
                s.spawn(move || -> anyhow::Result<(Vec<Duration>, u64)> {
                    let agent = agent();
                    let mut buf = Vec::with_capacity(1 << 16);
                    let get = |i: usize, buf: &mut Vec<u8>| -> anyhow::Result<Duration> {
                        let path = &paths[i];
                        let t = Instant::now();
                        let status = exchange(get(&agent, &format!("{base}{path}")), None, buf)?;
                        let took = t.elapsed();
                        ensure!(status == 200, "GET {path} answered {status}: {}", clip(buf));
                        check(i, buf).with_context(|| format!("GET {path}"))?;
                        Ok(took)
                    };
                    let mut warm = Ok(());
                    for i in (c..warmup).step_by(clients) {
                        if let Err(e) = get(i, &mut buf) {
                            warm = Err(e);
                            break;
                        }
                    }
                    barrier.wait();
                    warm?;
                    let cpu0 = stat_ticks("/proc/thread-self/stat").unwrap_or(0);
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(_) = paths.get(i) else { break };
                        out.push(get(i, &mut buf)?);
                    }
                    let cpu1 = stat_ticks("/proc/thread-self/stat").unwrap_or(0);
                    Ok((out, cpu1.saturating_sub(cpu0)))
                })
            })
            .collect();
        barrier.wait();
        let cpu0 = CpuMark::now();
        let started = Instant::now();
        let outcomes: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("client thread panicked"))
            .collect();
        (outcomes, started.elapsed(), cpu0, CpuMark::now())
    });
    let mut latencies = Vec::new();
    let mut client_ticks = 0;
    for o in outcomes {
        let (l, t) = o?;
        latencies.extend(l);
        client_ticks += t;
    }
    latencies.sort();
    Ok(ReadPhase {
        name: name.to_owned(),
        target_ms,
        clients,
        wall,
        latencies,
        cpu: cpu_use(cpu0, cpu1, client_ticks, wall, tck),
    })
}

#[derive(Deserialize)]
struct ManifestAnswer {
    manifest: String,
    status: String,
    history: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct ListItem {
    manifest: String,
    status: String,
    generator: String,
    receiver: String,
}

#[derive(Deserialize)]
struct Page {
    manifests: Vec<ListItem>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct StockAnswer {
    generator: String,
    lots: Vec<IgnoredAny>,
}

/// A list filter and the number of manifests the model says match it.
struct ListQuery {
    query: String,
    expect: usize,
    status: Option<&'static str>,
    generator: Option<String>,
    receiver: Option<String>,
}

impl ListQuery {
    fn check(&self, page: &Page, expect: usize) -> anyhow::Result<()> {
        ensure!(
            page.manifests.len() == expect,
            "{} manifests on the page, the simulation expects {expect}",
            page.manifests.len()
        );
        for m in &page.manifests {
            ensure!(
                self.status.is_none_or(|s| m.status == s)
                    && self.generator.as_ref().is_none_or(|g| &m.generator == g)
                    && self.receiver.as_ref().is_none_or(|r| &m.receiver == r),
                "manifest {} does not match the filter",
                m.manifest
            );
        }
        Ok(())
    }
}

/// Checks a page of list `i` against its query.
fn list_check(queries: &[ListQuery]) -> impl Fn(usize, &[u8]) -> anyhow::Result<()> + Sync + '_ {
    move |i, buf| {
        let page: Page = serde_json::from_slice(buf)?;
        queries[i].check(&page, queries[i].expect.min(100))
    }
}

/// Walks the cursor chain of a filter with pages of 1000; returns (cursor, manifests before
/// it) for every page boundary, and checks the total against the simulation.
fn walk_chain(base: &str, q: &ListQuery) -> anyhow::Result<Vec<(String, usize)>> {
    let agent = agent();
    let mut buf = Vec::new();
    let mut cursors = Vec::new();
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/manifests?{}&limit=1000&after={a}", q.query),
            None => format!("/v1/manifests?{}&limit=1000", q.query),
        };
        let status = exchange(get(&agent, &format!("{base}{path}")), None, &mut buf)?;
        ensure!(
            status == 200,
            "GET {path} answered {status}: {}",
            clip(&buf)
        );
        let page: Page = serde_json::from_slice(&buf)?;
        q.check(&page, (q.expect - seen).min(1000))
            .with_context(|| format!("GET {path}"))?;
        seen += page.manifests.len();
        match page.next {
            Some(n) => {
                cursors.push((n.clone(), seen));
                after = Some(n);
            }
            None => break,
        }
    }
    ensure!(
        seen == q.expect,
        "the chain of {} holds {seen} manifests, the simulation {}",
        q.query,
        q.expect
    );
    Ok(cursors)
}

// ---------------------------------------------------------------------------------------------
// Query plans of the store's reads (the SQL of src/store/mod.rs, copied), to show that no read
// scans a whole table

const MANIFEST_COLUMNS: &str =
    "id, number, status, generator, carrier, receiver, vehicle, opened_seq, lines";

struct PlanQuery {
    name: &'static str,
    sql: String,
    binds: Vec<Value>,
}

fn plan_queries(sample: &Samples) -> Vec<PlanQuery> {
    let list = |filters: &[&str]| {
        let mut sql = format!("select {MANIFEST_COLUMNS} from manifests where opened_seq > $1");
        for (i, f) in filters.iter().enumerate() {
            let _ = write!(sql, " and {f} = ${}", i + 2);
        }
        let _ = write!(sql, " order by opened_seq limit ${}", filters.len() + 2);
        sql
    };
    vec![
        PlanQuery {
            name: "manifest by id",
            sql: format!("select {MANIFEST_COLUMNS} from manifests where id = $1"),
            binds: vec![json!(sample.manifest)],
        },
        PlanQuery {
            name: "its history",
            sql: "select seq, type, at, recorded_at, hash from manifest_history where manifest = $1 order by seq".into(),
            binds: vec![json!(sample.manifest)],
        },
        PlanQuery {
            name: "list ?generator",
            sql: list(&["generator"]),
            binds: vec![json!(-1), json!(sample.generator), json!(100)],
        },
        PlanQuery {
            name: "list ?receiver&status=received",
            sql: list(&["status", "receiver"]),
            binds: vec![json!(-1), json!("received"), json!(sample.receiver), json!(100)],
        },
        PlanQuery {
            name: "list ?status=opened",
            sql: list(&["status"]),
            binds: vec![json!(-1), json!("opened"), json!(100)],
        },
        PlanQuery {
            name: "list ?receiver&after (deep)",
            sql: list(&["receiver"]),
            binds: vec![json!(sample.deep_after), json!(sample.receiver), json!(100)],
        },
        PlanQuery {
            name: "stock ?generator",
            sql: "select seq, code, date, quantity_g, remaining_g, reserved_g from lots where generator = $1 and seq > $2 and remaining_g > 0 order by seq limit $3".into(),
            binds: vec![json!(sample.generator), json!(-1), json!(100)],
        },
    ]
}

/// Sample values for the query plans.
struct Samples {
    manifest: String,
    generator: String,
    receiver: String,
    deep_after: i64,
}

async fn query_plans(
    backend: Backend,
    url: &str,
    sample: &Samples,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    match backend {
        Backend::Sqlite => {
            let opts = url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()?
                .read_only(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
            for q in plan_queries(sample) {
                let sql = format!("explain query plan {}", q.sql);
                let mut query = sqlx::query(&sql);
                for b in &q.binds {
                    query = match b {
                        Value::String(s) => query.bind(s.clone()),
                        other => query.bind(other.as_i64().unwrap_or(0)),
                    };
                }
                let rows = query.fetch_all(&mut conn).await?;
                let details: Vec<String> =
                    rows.iter().map(|r| r.get::<String, _>("detail")).collect();
                out.push((q.name.to_owned(), details.join("; ")));
            }
            conn.close().await?;
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            for q in plan_queries(sample) {
                // Literal values, so that the plan is the one for these values.
                let mut sql = q.sql.clone();
                for (i, b) in q.binds.iter().enumerate().rev() {
                    let lit = match b {
                        Value::String(s) => format!("'{s}'"),
                        other => other.to_string(),
                    };
                    sql = sql.replace(&format!("${}", i + 1), &lit);
                }
                let rows = sqlx::query(&format!("explain (costs off) {sql}"))
                    .fetch_all(&mut conn)
                    .await?;
                let lines: Vec<String> = rows
                    .iter()
                    .map(|r| r.get::<String, _>(0).trim().to_owned())
                    .collect();
                out.push((q.name.to_owned(), lines.join("; ")));
            }
            conn.close().await?;
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// One backend

struct BackendResult {
    backend: Backend,
    verify: (f64, f64),
    verify_after: (f64, f64),
    mix: MixPhase,
    tenths: Vec<f64>,
    ledger_size: u64,
    reads: Vec<ReadPhase>,
    single: Vec<ReadPhase>,
    chain_walk: Duration,
    plans: Vec<(String, String)>,
    rss_before: u64,
    rss_after_mix: u64,
    rss_after_reads: u64,
    hwm_after_reads: u64,
    rss_after_restart: u64,
    db_size: u64,
    db_detail: String,
    restart: Duration,
    restart_size: u64,
    /// A separate `hwledger serve` on the same database: time until /healthz answers, its
    /// VmRSS then, and the size it serves.
    process: Result<(Duration, u64, u64), String>,
    oversight: oversight::OversightResult,
    /// VmHWM of this process (simulation, clients and the service) after the oversight phase.
    hwm_after_oversight: u64,
}

impl BackendResult {
    fn verify_best(&self) -> f64 {
        self.verify.0.max(self.verify_after.0)
    }
    fn ratio(&self) -> f64 {
        self.mix.rate() / self.verify_best()
    }
}

/// Starts the `hwledger` binary (`serve`) on the database as a process of its own; returns the
/// time until `/healthz` answers, its VmRSS then, and the ledger size it reports. The process is
/// then stopped with SIGTERM.
fn fresh_process(url: &str, ledger_key: &Path, dir: &Path) -> anyhow::Result<(Duration, u64, u64)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let log = File::create(dir.join("serve.log"))?;
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hwledger"))
        .args(["serve", "--db", url, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--origin", ORIGIN, "--ledger-key"])
        .arg(ledger_key)
        .arg("--regulator-key")
        .arg(dir.join("regulator.pem"))
        .args([
            "--regulator-org",
            REGULATOR_ORG,
            "--regulator-region",
            REGULATOR_REGION,
        ])
        .args(["--sweep-interval", "3600s"])
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start the hwledger binary")?;
    let pid = child.id();
    let health = format!("http://127.0.0.1:{port}/healthz");
    let probe = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .build();
    let outcome = loop {
        if let Some(status) = child.try_wait()? {
            let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
            break Err(anyhow::anyhow!(
                "hwledger serve exited with {status}: {}",
                clip(log.as_bytes())
            ));
        }
        if let Ok(r) = get(&probe, &health).call() {
            let ready = started.elapsed();
            let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let rss = text
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024;
            let size = r.into_json::<Value>()?["size"].as_u64().unwrap_or(0);
            break Ok((ready, rss, size));
        }
        if started.elapsed() > Duration::from_secs(1800) {
            break Err(anyhow::anyhow!(
                "hwledger serve did not answer within 30 minutes"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let stop = Instant::now();
    while child.try_wait()?.is_none() {
        if stop.elapsed() > Duration::from_secs(60) {
            child.kill()?;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    outcome
}

/// A filled ledger kept for serving after the run (`--keep-db`).
struct Kept {
    db: PathBuf,
    ledger_key: PathBuf,
    regulator_key: PathBuf,
    bytes: u64,
}

impl Kept {
    /// The database, its write-ahead log and the two key files, in that order.
    fn paths(path: &Path) -> [PathBuf; 4] {
        let beside = |suffix: &str| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            PathBuf::from(p)
        };
        [
            path.to_owned(),
            beside("-wal"),
            beside(".ledger.pem"),
            beside(".regulator.pem"),
        ]
    }

    /// Moves the run's SQLite database to `path` and writes the keys beside it. Every
    /// connection to the database must be closed.
    fn keep(
        db: &BenchDb,
        keys_dir: &Path,
        regulator: &SigningKey,
        path: &Path,
    ) -> anyhow::Result<Kept> {
        let from = match (&db.kind, db.url.strip_prefix("sqlite://")) {
            (DbKind::Sqlite { .. }, Some(file)) => PathBuf::from(file),
            _ => bail!("only a SQLite database can be kept"),
        };
        let [to, to_wal, ledger_pem, regulator_pem] = Kept::paths(path);
        let ledger = hwledger::protocol::keys::load(&keys_dir.join("ledger.pem"))?;
        move_file(&from, &to)?;
        // Pages a connection left in the log belong to the database.
        let [_, wal, ..] = Kept::paths(&from);
        if wal.exists() {
            move_file(&wal, &to_wal)?;
        }
        write_key(&ledger_pem, &ledger)?;
        write_key(&regulator_pem, regulator)?;
        let bytes = std::fs::metadata(&to)?.len();
        let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
        Ok(Kept {
            db: absolute(to),
            ledger_key: absolute(ledger_pem),
            regulator_key: absolute(regulator_pem),
            bytes,
        })
    }

    fn describe(&self) -> String {
        format!(
            "kept the ledger in {} ({:.0} MB), its key in {} and the genesis regulator's ({REGULATOR_ORG}) in {}; serve it with\n  hwledger serve --db sqlite://{} --origin {ORIGIN} --ledger-key {}",
            self.db.display(),
            self.bytes as f64 / 1e6,
            self.ledger_key.display(),
            self.regulator_key.display(),
            self.db.display(),
            self.ledger_key.display()
        )
    }
}

/// Renames `from` to `to`, or copies it where a rename cannot cross file systems.
fn move_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    std::fs::remove_file(from)?;
    Ok(())
}

/// Writes `key` as a PKCS#8 v1 PEM file readable by its owner only, as `hwledger keygen` does.
fn write_key(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use std::os::unix::fs::OpenOptionsExt;
    let pem = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(Default::default())
    .map_err(|e| anyhow::anyhow!("cannot encode a key: {e}"))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn service_config(
    url: &str,
    ledger_key: &SigningKey,
    world: &World,
    limits: LimitFlags,
) -> ServiceConfig {
    ServiceConfig {
        snapshot: None,
        db: DbUrl::new(url),
        origin: ORIGIN.into(),
        ledger_key: ledger_key.clone(),
        regulator: GenesisRegulator {
            org: REGULATOR_ORG.into(),
            name: "常州市钟楼生态环境局".into(),
            region: REGULATOR_REGION.into(),
            key: world.regulator.verifying_key(),
        },
        limits,
        // The sweep is run and timed by the bench after the mix; none runs during it (besides
        // the one at start, on an empty ledger), so the tickets it opens are known.
        sweep_interval: Duration::from_secs(30 * 86400),
        clock: hwledger::sequencer::Clock::system(),
    }
}

/// Everything prepared before the backends run.
struct Workload {
    world: World,
    setup: Vec<Vec<Value>>,
    mix: Mix,
    model: Model,
    bodies: Bodies,
    clock: Clock,
    limits: LimitFlags,
}

/// On a PostgreSQL server whose autovacuum cannot run (the service's own check,
/// `hwledger::store::Store::maintenance_warnings`), does what autovacuum would have done by now
/// for the reads: `ANALYZE`, so that the planner has statistics of the query tables. Says so
/// either way.
async fn analyze_without_autovacuum(url: &str) -> anyhow::Result<()> {
    let store =
        hwledger::store::Store::connect(&hwledger::store::DbUrl::new(url.to_owned())).await?;
    let warnings = store.maintenance_warnings().await?;
    store.close().await;
    if warnings.is_empty() {
        println!("PostgreSQL: autovacuum runs on this server; the reads use its statistics");
        return Ok(());
    }
    let t = Instant::now();
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query("analyze").execute(&mut conn).await?;
    conn.close().await?;
    println!(
        "PostgreSQL: {}. Ran ANALYZE before the reads, as autovacuum would have: {:.1} s",
        warnings.join("; "),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The ledger key is written to `keys_dir/ledger.pem`, so that a separate `hwledger serve` can
/// open the ledger.
fn run_backend(
    backend: Backend,
    db: &BenchDb,
    keys_dir: &Path,
    args: &Args,
    work: &Workload,
) -> anyhow::Result<BackendResult> {
    let Workload {
        world,
        setup,
        mix,
        model,
        bodies,
        ..
    } = work;
    let url = db.url.as_str();
    let ledger_key_file = keys_dir.join("ledger.pem");
    let ledger_key = hwledger::protocol::keys::create(&ledger_key_file)?;
    let config = service_config(url, &ledger_key, world, work.limits);
    let (rss_before, _) = rss();
    let served = Served::start(config.clone())?;
    let (rt, service, base) = (&served.rt, &served.service, served.base.clone());

    let load = || -> anyhow::Result<_> {
        // Setup, one batch at a time (registrations before the licences that name them).
        let t = Instant::now();
        let agent = agent();
        let mut buf = Vec::new();
        for batch in setup {
            let body = serde_json::to_vec(batch)?;
            let status = exchange(
                agent.post(&format!("{base}/v1/events")),
                Some(&body),
                &mut buf,
            )?;
            check_batch(status, &buf).context("setup batch")?;
        }
        let setup_wall = t.elapsed();
        println!(
            "setup: {} entries in {:.2} s",
            setup.iter().map(Vec::len).sum::<usize>(),
            setup_wall.as_secs_f64()
        );

        let verify = measure_verify(world, mix, args.verify_secs);
        println!(
            "verify_one on one thread: {:.0} verifies/s best 0.25 s window (mean {:.0})",
            verify.0, verify.1
        );
        let phase = post_mix(&base, bodies, args.batch_clients).context("mix phase")?;
        let verify_after = measure_verify(world, mix, args.verify_secs);
        let tenths = phase.tenths(bodies);
        let (rss_after_mix, _) = rss();
        let info = get_json(&agent, &format!("{base}/v1/ledger"))?;
        let ledger_size = info["size"]
            .as_u64()
            .context("GET /v1/ledger has no size")?;
        let r = BackendPartial {
            verify,
            verify_after,
            mix: phase,
            tenths,
            ledger_size,
            rss_after_mix,
        };
        r.print_mix(bodies);
        if backend == Backend::Postgres {
            rt.block_on(analyze_without_autovacuum(url))?;
        }
        let (reads, single, chain_walk, sample) = reads(&base, args, world, mix, model)?;
        let (rss_after_reads, hwm_after_reads) = rss();
        let sweep = || rt.block_on(service.state.sequencer.sweep());
        let oversight = oversight::run(
            &base,
            args,
            work,
            &r.mix.seqs,
            url,
            &hex::encode(ledger_key.verifying_key().to_bytes()),
            &sweep,
        )?;
        Ok((
            r,
            reads,
            single,
            chain_walk,
            sample,
            rss_after_reads,
            hwm_after_reads,
            oversight,
        ))
    };
    let loaded = load();
    let stopped = served.stop();
    let (partial, reads, single, chain_walk, sample, rss_after_reads, hwm_after_reads, oversight) =
        loaded?;
    let rt = stopped?;
    let (_, hwm_after_oversight) = rss();

    let plans = rt
        .block_on(query_plans(backend, url, &sample))
        .unwrap_or_else(|e| vec![("query plans".into(), format!("not available: {e:#}"))]);
    let (db_size, db_detail) = rt
        .block_on(db.size())
        .unwrap_or_else(|e| (0, format!("size not available: {e:#}")));

    // Restart: the service replays the whole ledger into memory.
    let final_size = oversight.ledger_size + oversight.second_sweep.1 as u64;
    let (restart, restart_size, rss_after_restart, process) = if args.skip_restart {
        let skipped = Err("skipped (--skip-restart)".to_owned());
        (Duration::ZERO, 0, 0, skipped)
    } else {
        let t = Instant::now();
        let service = rt.block_on(Service::start(config))?;
        let restart = t.elapsed();
        let restart_size = service.state.sequencer.head().size;
        let (rss_after_restart, _) = rss();
        rt.block_on(service.shutdown());
        ensure!(
            restart_size == final_size,
            "after the restart the ledger holds {restart_size} entries, expected {final_size}"
        );
        let process = fresh_process(url, &ledger_key_file, keys_dir).map_err(|e| format!("{e:#}"));
        (restart, restart_size, rss_after_restart, process)
    };
    drop(rt);

    let result = BackendResult {
        backend,
        verify: partial.verify,
        verify_after: partial.verify_after,
        mix: partial.mix,
        tenths: partial.tenths,
        ledger_size: partial.ledger_size,
        reads,
        single,
        chain_walk,
        plans,
        rss_before,
        rss_after_mix: partial.rss_after_mix,
        rss_after_reads,
        hwm_after_reads,
        rss_after_restart,
        db_size,
        db_detail,
        restart,
        restart_size,
        process,
        oversight,
        hwm_after_oversight,
    };
    result.print_rest();
    Ok(result)
}

impl BackendResult {
    /// The oversight figures of one backend as Markdown.
    fn oversight_markdown(&self) -> String {
        let o = &self.oversight;
        let name = self.backend.name();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n{name}, oversight with {} entries: tickets opened by the mix's own events: {} ({}); the sweep with the full ledger took {:.3} s and opened {} ({}); a second sweep took {:.3} s and opened {}. Tickets by kind (`GET /v1/tickets?kind=`): {}. Expected at the head at {} (and answered): {}.\n",
            o.ledger_size,
            o.caused.iter().sum::<usize>(),
            oversight::describe_kinds(&o.caused),
            o.sweep.as_secs_f64(),
            o.swept.iter().sum::<usize>(),
            oversight::describe_kinds(&o.swept),
            o.second_sweep.0.as_secs_f64(),
            o.second_sweep.1,
            oversight::describe_kinds(&o.tickets_by_kind),
            o.head_at,
            o.head.describe()
        );
        let _ = writeln!(
            out,
            "| backend | read | requests | {} clients: p50 ms | p99 ms | max ms | req/s | target p99 | | 1 client: p50 ms | p99 ms |",
            o.stats.first().map_or(0, |p| p.clients)
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|");
        for (p, s) in o.stats.iter().zip(&o.stats_single) {
            let _ = writeln!(
                out,
                "| {name} | `{}` | {} | {:.2} | {:.2} | {:.1} | {:.0} | {} | **{}** | {:.2} | {:.2} |",
                p.name,
                p.latencies.len(),
                p.p(0.5),
                p.p(0.99),
                p.max(),
                p.rate(),
                p.target(),
                p.verdict(),
                s.p(0.5),
                s.p(0.99)
            );
        }
        match &o.verify {
            Ok(v) => {
                let _ = writeln!(
                    out,
                    "\n`hwledger verify --db` ({name}): exit 0 after {:.1} s for {} entries: {:.0} entries/s, {:.1} s per million entries; its peak RSS {:.0} MB. It printed `{}`, equal to the service's figures and the simulation's; {}. This process's peak RSS (simulation, clients and the service): {:.0} MB.",
                    v.wall.as_secs_f64(),
                    v.entries,
                    v.entries as f64 / v.wall.as_secs_f64(),
                    v.wall.as_secs_f64() * 1e6 / v.entries.max(1) as f64,
                    mb(v.peak_rss),
                    v.rate_line,
                    v.awaiting,
                    mb(self.hwm_after_oversight)
                );
            }
            Err(e) => {
                let _ = writeln!(out, "\n`hwledger verify --db` ({name}): {e}");
            }
        }
        out
    }
}

struct BackendPartial {
    verify: (f64, f64),
    verify_after: (f64, f64),
    mix: MixPhase,
    tenths: Vec<f64>,
    ledger_size: u64,
    rss_after_mix: u64,
}

impl BackendPartial {
    fn print_mix(&self, bodies: &Bodies) {
        let m = &self.mix;
        let v = self.verify.0.max(self.verify_after.0);
        println!(
            "mix: {} events in {} batches over {:.1} s: {:.0} events/s = {:.3} × verify_one ({:.0}/s, best of the windows before and after the mix: {:.0} and {:.0})",
            m.items,
            bodies.index.len(),
            m.wall.as_secs_f64(),
            m.rate(),
            m.rate() / v,
            v,
            self.verify.0,
            self.verify_after.0
        );
        println!(
            "  per batch request: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; clients waited {:.1} s in all for the ordering gate",
            ms(percentile(&m.latencies, 0.5)),
            ms(percentile(&m.latencies, 0.99)),
            ms(m.latencies.last().copied().unwrap_or_default()),
            m.gate_wait.as_secs_f64()
        );
        println!(
            "  sequencer: {:.0} rounds, {:.1} ms each, {:.1} µs per event; busy {:.0}% of the wall time",
            m.rounds.count,
            1e3 * m.rounds.seconds / m.rounds.count.max(1.0),
            m.sequencer_us(),
            100.0 * m.busy()
        );
        println!("  {}", m.cpu.describe());
        println!("  I/O per event: service {}", m.io.describe(m.items));
        if m.io_pg.wchar > 0 {
            println!("  I/O per event: postgres {}", m.io_pg.describe(m.items));
        }
        println!(
            "  events/s by tenth of the mix: {}",
            self.tenths
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  ledger size {}; RSS {:.0} MB",
            self.ledger_size,
            mb(self.rss_after_mix)
        );
    }
}

impl BackendResult {
    fn print_rest(&self) {
        println!(
            "reads ({} clients, keep-alive; 1 client for comparison):",
            self.reads.first().map_or(0, |r| r.clients)
        );
        for (r, s) in self.reads.iter().zip(&self.single) {
            println!(
                "  {:<44} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.1} ms  ({} req, {:.0}/s; target p99 {}: {})  | 1 client: p50 {:.2} ms, p99 {:.2} ms",
                r.name,
                r.p(0.5),
                r.p(0.99),
                r.max(),
                r.latencies.len(),
                r.rate(),
                r.target(),
                r.verdict(),
                s.p(0.5),
                s.p(0.99)
            );
        }
        if let Some(r) = self.reads.first() {
            println!("  during {}: {}", r.name, r.cpu.describe());
        }
        println!(
            "  (walking the cursor chains with pages of 1000 to find deep cursors took {:.1} s)",
            self.chain_walk.as_secs_f64()
        );
        println!("query plans:");
        for (name, plan) in &self.plans {
            println!("  {name:<32} {plan}");
        }
        if self.restart_size > 0 {
            println!(
                "restart: Service::start on {} entries in {:.1} s ({:.0} entries/s)",
                self.restart_size,
                self.restart.as_secs_f64(),
                self.restart_size as f64 / self.restart.as_secs_f64()
            );
        }
        match &self.process {
            Ok((ready, rss, size)) => println!(
                "a separate `hwledger serve` process on the same database answers /healthz after {:.1} s (process start + replay of {size} entries); its VmRSS then {:.0} MB",
                ready.as_secs_f64(),
                mb(*rss)
            ),
            Err(e) => println!("a separate `hwledger serve` process: not measured: {e}"),
        }
        println!(
            "database: {:.0} MB ({}); process RSS: {:.0} MB before the service, {:.0} MB after the mix, {:.0} MB after the reads (peak {:.0} MB), {:.0} MB after the restart (0: skipped)",
            mb(self.db_size),
            self.db_detail,
            mb(self.rss_before),
            mb(self.rss_after_mix),
            mb(self.rss_after_reads),
            mb(self.hwm_after_reads),
            mb(self.rss_after_restart)
        );
    }
}

/// The read phase: chains walked for deep cursors, then every kind of read measured.
#[allow(clippy::type_complexity)]
fn reads(
    base: &str,
    args: &Args,
    world: &World,
    mix: &Mix,
    model: &Model,
) -> anyhow::Result<(Vec<ReadPhase>, Vec<ReadPhase>, Duration, Samples)> {
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x7ead);
    let opened = &model.opened;
    ensure!(!opened.is_empty(), "the mix opened no manifest");
    let plans: Vec<(Uuid, usize, usize)> = mix
        .plans
        .iter()
        .map(|p| (p.id, p.generator, p.receiver))
        .collect();
    let gen_org = |g: usize| world.generators[g].party.org.clone();
    let rec_org = |r: usize| world.receivers[r].party.org.clone();
    let count = |f: &dyn Fn(usize) -> bool| opened.iter().filter(|&&p| f(p)).count();

    // Deep cursors: the full chains of the largest receivers, and of status=disposed.
    let t = Instant::now();
    let mut by_receiver: Vec<(usize, usize)> = (0..world.receivers.len())
        .map(|r| (r, count(&|p| plans[p].2 == r)))
        .collect();
    by_receiver.sort_by_key(|&(_, n)| Reverse(n));
    let mut deep: Vec<(String, usize, usize)> = Vec::new(); // (query, cursor, expected)
    let mut deep_after_sample = -1i64;
    for &(r, n) in by_receiver.iter().take(4) {
        let q = ListQuery {
            query: format!("receiver={}", rec_org(r)),
            expect: n,
            status: None,
            generator: None,
            receiver: Some(rec_org(r)),
        };
        let cursors = walk_chain(base, &q)?;
        for (c, before) in cursors.iter().skip(cursors.len() / 2) {
            deep.push((
                format!("/v1/manifests?receiver={}&limit=100&after={c}", rec_org(r)),
                r,
                (n - before).min(100),
            ));
            deep_after_sample = c.parse().unwrap_or(-1);
        }
    }
    let disposed_n = model.count("disposed");
    let q = ListQuery {
        query: "status=disposed".into(),
        expect: disposed_n,
        status: Some("disposed"),
        generator: None,
        receiver: None,
    };
    let disposed_cursors = walk_chain(base, &q)?;
    let chain_walk = t.elapsed();
    println!(
        "walked the cursor chains of 4 receivers and of status=disposed ({disposed_n} manifests) in {:.1} s: the totals match the simulation",
        chain_walk.as_secs_f64()
    );

    let mut phases = Vec::new();
    let mut singles = Vec::new();
    let mut run = |name: &str,
                   target: Option<f64>,
                   paths: Vec<String>,
                   check: &Check<'_>|
     -> anyhow::Result<()> {
        let r = measure_reads(base, name, target, args.read_clients, &paths, check)?;
        let one: Vec<String> = paths
            .iter()
            .take((paths.len() / 5).max(200))
            .cloned()
            .collect();
        let s = measure_reads(base, name, target, 1, &one, check)?;
        println!(
            "  {name}: p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms ({} clients); 1 client p50 {:.2} ms, p99 {:.2} ms",
            r.p(0.5),
            r.p(0.99),
            r.max(),
            r.clients,
            s.p(0.5),
            s.p(0.99)
        );
        phases.push(r);
        singles.push(s);
        Ok(())
    };

    // GET /v1/manifests/{id} of random manifests.
    let picks: Vec<usize> = (0..args.get_requests)
        .map(|_| opened[rng.gen_range(0..opened.len())])
        .collect();
    let paths: Vec<String> = picks
        .iter()
        .map(|&p| format!("/v1/manifests/{}", plans[p].0))
        .collect();
    run(
        "GET /v1/manifests/{id}",
        Some(TARGET_GET_MS),
        paths,
        &|i, buf| {
            let p = picks[i];
            let m: ManifestAnswer = serde_json::from_slice(buf)?;
            ensure!(
                m.manifest == plans[p].0.to_string()
                    && Some(m.status.as_str()) == model.status[p]
                    && m.history.len() == usize::from(model.history[p]),
                "manifest {} is {} with {} events; the simulation says {:?} with {}",
                m.manifest,
                m.status,
                m.history.len(),
                model.status[p],
                model.history[p]
            );
            Ok(())
        },
    )?;

    let n = args.list_requests;

    // ?generator=G of random generators.
    let gen_counts: Vec<usize> = (0..world.generators.len())
        .map(|g| count(&|p| plans[p].1 == g))
        .collect();
    let queries: Vec<ListQuery> = (0..n)
        .map(|_| {
            let g = rng.gen_range(0..world.generators.len());
            ListQuery {
                query: format!("generator={}", gen_org(g)),
                expect: gen_counts[g],
                status: None,
                generator: Some(gen_org(g)),
                receiver: None,
            }
        })
        .collect();
    let paths = queries
        .iter()
        .map(|q| format!("/v1/manifests?{}&limit=100", q.query))
        .collect();
    run(
        "GET /v1/manifests?generator=G&limit=100",
        Some(TARGET_LIST_MS),
        paths,
        &list_check(&queries),
    )?;

    // ?receiver=R&status=received of random receivers.
    let rec_received: Vec<usize> = (0..world.receivers.len())
        .map(|r| count(&|p| plans[p].2 == r && model.status[p] == Some("received")))
        .collect();
    let queries: Vec<ListQuery> = (0..n)
        .map(|_| {
            let r = rng.gen_range(0..world.receivers.len());
            ListQuery {
                query: format!("receiver={}&status=received", rec_org(r)),
                expect: rec_received[r],
                status: Some("received"),
                generator: None,
                receiver: Some(rec_org(r)),
            }
        })
        .collect();
    let paths = queries
        .iter()
        .map(|q| format!("/v1/manifests?{}&limit=100", q.query))
        .collect();
    run(
        "GET /v1/manifests?receiver=R&status=received&limit=100",
        Some(TARGET_LIST_MS),
        paths,
        &list_check(&queries),
    )?;

    // ?status=opened.
    let opened_n = model.count("opened");
    let queries: Vec<ListQuery> = (0..n)
        .map(|_| ListQuery {
            query: "status=opened".into(),
            expect: opened_n,
            status: Some("opened"),
            generator: None,
            receiver: None,
        })
        .collect();
    let paths = queries
        .iter()
        .map(|q| format!("/v1/manifests?{}&limit=100", q.query))
        .collect();
    run(
        "GET /v1/manifests?status=opened&limit=100",
        Some(TARGET_LIST_MS),
        paths,
        &list_check(&queries),
    )?;

    // A page deep in the cursor chain of a receiver.
    ensure!(
        !deep.is_empty(),
        "no receiver has a chain of more than one page"
    );
    let picks: Vec<usize> = (0..n).map(|_| rng.gen_range(0..deep.len())).collect();
    let paths = picks.iter().map(|&i| deep[i].0.clone()).collect();
    run(
        "GET /v1/manifests?receiver=R&limit=100&after=(deep)",
        Some(TARGET_LIST_MS),
        paths,
        &|i, buf| {
            let (_, r, expect) = &deep[picks[i]];
            let page: Page = serde_json::from_slice(buf)?;
            ListQuery {
                query: String::new(),
                expect: *expect,
                status: None,
                generator: None,
                receiver: Some(rec_org(*r)),
            }
            .check(&page, *expect)
        },
    )?;

    // A page deep in the chain of status=disposed.
    let deep_disposed: Vec<&(String, usize)> = disposed_cursors
        .iter()
        .skip(disposed_cursors.len() / 2)
        .collect();
    if !deep_disposed.is_empty() {
        let picks: Vec<usize> = (0..n)
            .map(|_| rng.gen_range(0..deep_disposed.len()))
            .collect();
        let paths = picks
            .iter()
            .map(|&i| {
                format!(
                    "/v1/manifests?status=disposed&limit=100&after={}",
                    deep_disposed[i].0
                )
            })
            .collect();
        run(
            "GET /v1/manifests?status=disposed&limit=100&after=(deep)",
            Some(TARGET_LIST_MS),
            paths,
            &|i, buf| {
                let expect = (disposed_n - deep_disposed[picks[i]].1).min(100);
                let page: Page = serde_json::from_slice(buf)?;
                ListQuery {
                    query: String::new(),
                    expect,
                    status: Some("disposed"),
                    generator: None,
                    receiver: None,
                }
                .check(&page, expect)
            },
        )?;
    }

    // GET /v1/stock?generator=G.
    let gens: Vec<usize> = (0..n)
        .map(|_| rng.gen_range(0..world.generators.len()))
        .collect();
    let paths = gens
        .iter()
        .map(|&g| format!("/v1/stock?generator={}", gen_org(g)))
        .collect();
    run("GET /v1/stock?generator=G", None, paths, &|i, buf| {
        let s: StockAnswer = serde_json::from_slice(buf)?;
        ensure!(
            s.generator == gen_org(gens[i]) && s.lots.len() <= 100,
            "wrong stock answer"
        );
        Ok(())
    })?;

    let busiest = by_receiver[0].0;
    let sample = Samples {
        manifest: plans[opened[opened.len() / 2]].0.to_string(),
        generator: gen_org(0),
        receiver: rec_org(busiest),
        deep_after: deep_after_sample,
    };
    Ok((phases, singles, chain_walk, sample))
}

// ---------------------------------------------------------------------------------------------
// Report

#[path = "common/machine.rs"]
mod machine;
use machine::Machine;

struct Report {
    machine: Machine,
    args: Vec<String>,
    setup_events: usize,
    mix_events: usize,
    model_events: String,
    model_statuses: String,
    rules: RulesCost,
    results: Vec<BackendResult>,
    skipped: Vec<String>,
}

impl Report {
    fn command(&self) -> String {
        let mut c = "cargo bench --bench lifecycle".to_owned();
        if !self.args.is_empty() {
            c.push_str(" -- ");
            c.push_str(&self.args.join(" "));
        }
        c
    }

    fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "== summary ==");
        let _ = writeln!(out, "{}", self.machine.describe());
        for r in &self.results {
            let _ = writeln!(
                out,
                "{:<10} mix {:.0} events/s = {:.3} × verify_one ({:.0}/s); ledger {} entries; restart {:.1} s (0: skipped); DB {:.0} MB; RSS after mix {:.0} MB",
                r.backend.name(),
                r.mix.rate(),
                r.ratio(),
                r.verify_best(),
                r.ledger_size,
                r.restart.as_secs_f64(),
                mb(r.db_size),
                mb(r.rss_after_mix)
            );
            for p in &r.reads {
                let _ = writeln!(
                    out,
                    "{:<10}   {:<56} p50 {:>6.2} ms  p99 {:>6.2} ms  ({}) {}",
                    "",
                    p.name,
                    p.p(0.5),
                    p.p(0.99),
                    p.target(),
                    p.verdict()
                );
            }
            let o = &r.oversight;
            let _ = writeln!(
                out,
                "{:<10}   tickets: {} by the mix's events ({}); the sweep opened {} in {:.3} s",
                "",
                o.caused.iter().sum::<usize>(),
                oversight::describe_kinds(&o.caused),
                o.swept.iter().sum::<usize>(),
                o.sweep.as_secs_f64()
            );
            for p in &o.stats {
                let _ = writeln!(
                    out,
                    "{:<10}   {:<56} p50 {:>6.2} ms  p99 {:>6.2} ms  ({}) {}",
                    "",
                    p.name,
                    p.p(0.5),
                    p.p(0.99),
                    p.target(),
                    p.verdict()
                );
            }
            if let Ok(v) = &o.verify {
                let _ = writeln!(
                    out,
                    "{:<10}   hwledger verify: {:.1} s for {} entries ({:.1} s per million); peak RSS {:.0} MB; {}",
                    "",
                    v.wall.as_secs_f64(),
                    v.entries,
                    v.wall.as_secs_f64() * 1e6 / v.entries.max(1) as f64,
                    mb(v.peak_rss),
                    v.rate_line
                );
            }
        }
        for s in &self.skipped {
            let _ = writeln!(out, "{s}");
        }
        out
    }

    fn markdown(&self) -> String {
        let m = &self.machine;
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
            "Ledger: genesis + {} setup entries + {} mix events ({}). Manifests: {}.\n",
            self.setup_events, self.mix_events, self.model_events, self.model_statuses
        );
        let _ = writeln!(
            out,
            "The sequencer's in-memory work on one thread, no HTTP or database, over the first {}. Rules + entry hash + tree: {:.1} µs per event.\n",
            self.rules.describe(),
            self.rules.sequencer()
        );
        let _ = writeln!(
            out,
            "| backend | ledger entries | mix events/s | verify_one /s (best window) | ÷ verify_one | batch p50 ms | batch p99 ms | sequencer µs/event | sequencer busy | CPU: service | postgres | machine | events/s first → last tenth |"
        );
        let _ = writeln!(
            out,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        );
        for r in &self.results {
            let x = &r.mix;
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.0} | **{:.3}** | {:.0} | {:.0} | {:.1} | {:.0}% | {:.2} | {:.2} | {:.2} of {:.0} | {:.0} → {:.0} |",
                r.backend.name(),
                r.ledger_size,
                x.rate(),
                r.verify_best(),
                r.ratio(),
                ms(percentile(&x.latencies, 0.5)),
                ms(percentile(&x.latencies, 0.99)),
                x.sequencer_us(),
                100.0 * x.busy(),
                x.cpu.server,
                x.cpu.postgres,
                x.cpu.machine,
                x.cpu.cores,
                r.tenths.first().copied().unwrap_or(0.0),
                r.tenths.last().copied().unwrap_or(0.0)
            );
        }
        for r in &self.results {
            let x = &r.mix;
            let _ = write!(
                out,
                "\n{}: the sequencer spent {:.1} µs per event, of which about {:.1} µs in-memory work (above); the rest, about {:.1} µs, is the round's database write and commit and waiting for a core. I/O per event during the mix: service {}",
                r.backend.name(),
                x.sequencer_us(),
                self.rules.sequencer(),
                x.sequencer_us() - self.rules.sequencer(),
                x.io.describe(x.items)
            );
            if x.io_pg.wchar > 0 {
                let _ = write!(out, "; postgres {}", x.io_pg.describe(x.items));
            }
            let _ = writeln!(
                out,
                ". Events/s by tenth of the mix: {}.",
                r.tenths
                    .iter()
                    .map(|t| format!("{t:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(
            out,
            "\n| backend | read | requests | {} clients: p50 ms | p99 ms | max ms | req/s | target p99 | | 1 client: p50 ms | p99 ms |",
            self.results.first().and_then(|r| r.reads.first()).map_or(0, |p| p.clients)
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|");
        for r in &self.results {
            for (p, s) in r.reads.iter().zip(&r.single) {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} | {:.2} | {:.2} | {:.1} | {:.0} | {} | **{}** | {:.2} | {:.2} |",
                    r.backend.name(),
                    p.name,
                    p.latencies.len(),
                    p.p(0.5),
                    p.p(0.99),
                    p.max(),
                    p.rate(),
                    p.target(),
                    p.verdict(),
                    s.p(0.5),
                    s.p(0.99)
                );
            }
        }
        let _ = writeln!(
            out,
            "\n| backend | restart (replay) s | entries/s | database MB | RSS MB: before service | after mix | after reads (peak) | after restart | separate `hwledger serve`: ready s | its RSS MB |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in &self.results {
            let (ready, prss) = match &r.process {
                Ok((t, rss, _)) => (
                    format!("{:.1}", t.as_secs_f64()),
                    format!("{:.0}", mb(*rss)),
                ),
                Err(_) => ("–".into(), "–".into()),
            };
            let (restart, rate) = if r.restart_size > 0 {
                (
                    format!("{:.1}", r.restart.as_secs_f64()),
                    format!("{:.0}", r.restart_size as f64 / r.restart.as_secs_f64()),
                )
            } else {
                ("skipped".into(), "–".into())
            };
            let _ = writeln!(
                out,
                "| {} | {restart} | {rate} | {:.0} | {:.0} | {:.0} | {:.0} ({:.0}) | {:.0} | {ready} | {prss} |",
                r.backend.name(),
                mb(r.db_size),
                mb(r.rss_before),
                mb(r.rss_after_mix),
                mb(r.rss_after_reads),
                mb(r.hwm_after_reads),
                mb(r.rss_after_restart)
            );
        }
        for r in &self.results {
            let _ = writeln!(out, "\n{} database: {}.\n", r.backend.name(), r.db_detail);
            let _ = writeln!(
                out,
                "| {} query (SQL of src/store) | plan |",
                r.backend.name()
            );
            let _ = writeln!(out, "|---|---|");
            for (name, plan) in &r.plans {
                let _ = writeln!(out, "| {name} | {} |", plan.replace('|', "\\|"));
            }
        }
        for r in &self.results {
            let _ = write!(out, "{}", r.oversight_markdown());
        }
        for s in &self.skipped {
            let _ = writeln!(out, "\n{s}");
        }
        out
    }
}
