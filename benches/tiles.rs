//! Tile benchmark: what reading one C2SP tile costs at a given tree size.
//!
//! `cargo bench --bench tiles [-- --leaves 1000000 --requests 20000 --clients 4 --backend both]`
//!
//! For each backend a throw-away database (SQLite in a temp dir; PostgreSQL `hwl_bench_…` made
//! through `HWLEDGER_BENCH_POSTGRES`, default `postgres://root@127.0.0.1:5432/test`, dropped
//! afterwards) gets the stored nodes of a tree of `--leaves` synthetic leaves, exactly as the
//! writer stores them (every perfect node). Then `--clients` tasks read `--requests` tiles in
//! all, chosen at random among the tiles the size implies (full and partial tiles of every
//! level, weighted as a tile-reading client asks for them: mostly level 0), through the same
//! `read_tile` the HTTP handler calls, and the latency of each read is reported (p50, p99,
//! max). HTTP framing adds little on top (the handler only parses the path first).

#[path = "common/alloc.rs"]
mod alloc;

use std::time::{Duration, Instant};

use clap::Parser;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use sqlx::Connection;

use hwledger::api::tlog::{read_tile, Tile};
use hwledger::protocol::merkle::Frontier;
use hwledger::store::{DbUrl, Store};

#[path = "common/db.rs"]
mod db;
use db::{Backend, BackendChoice, BenchDb};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value_t = 1_000_000)]
    leaves: u64,
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    #[arg(long, default_value_t = 4)]
    clients: usize,
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    backend: BackendChoice,
    #[arg(
        long,
        env = "HWLEDGER_BENCH_POSTGRES",
        default_value = "postgres://root@127.0.0.1:5432/test"
    )]
    postgres: String,
    /// Ignored (cargo bench passes it).
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!(
        "tiles: {} leaves, {} reads by {} clients",
        args.leaves, args.requests, args.clients
    );
    let backends: Vec<Backend> = match args.backend {
        BackendChoice::Both => vec![Backend::Sqlite, Backend::Postgres],
        BackendChoice::Sqlite => vec![Backend::Sqlite],
        BackendChoice::Postgres => vec![Backend::Postgres],
    };
    for backend in backends {
        let db = BenchDb::create(backend, &args.postgres)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let result = rt.block_on(run(backend, &db.url, &args));
        drop(rt);
        db.drop_db();
        result?;
    }
    Ok(())
}

async fn run(backend: Backend, url: &str, args: &Args) -> anyhow::Result<()> {
    let store = Store::connect(&DbUrl::new(url.to_owned())).await?;
    let started = Instant::now();
    let mut frontier = Frontier::new();
    let mut nodes = Vec::with_capacity(2 * args.leaves as usize);
    for i in 0..args.leaves {
        nodes.extend(frontier.push(Sha256::digest(i.to_be_bytes()).into()));
    }
    macro_rules! insert_all {
        ($conn:expr) => {{
            let mut tx = $conn.begin().await?;
            for chunk in nodes.chunks(5000) {
                let mut q = sqlx::QueryBuilder::new("insert into tree_nodes (level, idx, hash) ");
                q.push_values(chunk, |mut b, (id, h)| {
                    b.push_bind(id.level as i64)
                        .push_bind(id.index as i64)
                        .push_bind(h.to_vec());
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }};
    }
    match backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(url).await?;
            insert_all!(c)
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await?;
            insert_all!(c);
            sqlx::query("analyze tree_nodes").execute(&mut c).await?;
        }
    }
    println!(
        "{}: stored {} nodes in {:.1} s",
        backend.name(),
        nodes.len(),
        started.elapsed().as_secs_f64()
    );
    let size = args.leaves;
    // The tiles a reader asks for: at each level the full tiles and the partial one of the
    // head; three reads of level 0 for each of level 1, and so on.
    let mut levels = Vec::new();
    let mut level = 0u32;
    while (size >> (8 * level)) > 0 {
        levels.push(level);
        level += 1;
    }
    let per_client = args.requests / args.clients;
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (store, levels) = (store.clone(), levels.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(per_client);
            let mut rng = rand::rngs::StdRng::from_entropy();
            for _ in 0..per_client {
                let l = if rng.gen_ratio(3, 4) {
                    0
                } else {
                    levels[rng.gen_range(0..levels.len())]
                };
                let width_nodes = size >> (8 * l); // nodes at this level
                let full_tiles = width_nodes / 256;
                let partial = width_nodes % 256;
                let tile = if partial > 0 && (full_tiles == 0 || rng.gen_ratio(1, 10)) {
                    Tile {
                        level: Some(l),
                        index: full_tiles,
                        width: partial,
                    }
                } else {
                    Tile {
                        level: Some(l),
                        index: rng.gen_range(0..full_tiles.max(1)),
                        width: 256,
                    }
                };
                assert!(tile.implied_by(size), "{tile:?}");
                let t = Instant::now();
                let bytes = read_tile(&store, &tile).await?;
                times.push(t.elapsed());
                assert_eq!(bytes.len() as u64, 32 * tile.width);
            }
            anyhow::Ok(times)
        }));
    }
    let started = Instant::now();
    let mut times: Vec<Duration> = Vec::new();
    for t in tasks {
        times.extend(t.await??);
    }
    let wall = started.elapsed();
    times.sort();
    let q = |f: f64| times[((times.len() as f64 * f) as usize).min(times.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{}: {} tile reads by {} clients in {:.2} s ({:.0}/s): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 ≤ 5 ms) {}",
        backend.name(),
        times.len(),
        args.clients,
        wall.as_secs_f64(),
        times.len() as f64 / wall.as_secs_f64(),
        ms(q(0.5)),
        ms(q(0.99)),
        ms(*times.last().unwrap()),
        if q(0.99) <= Duration::from_millis(5) { "PASS" } else { "MISS" }
    );
    store.close().await;
    Ok(())
}
