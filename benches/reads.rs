//! Read-token benchmark: what the bearer-token check adds to a read.
//!
//! `cargo bench --bench reads [-- --requests 3000 --backend both]`
//!
//! For each backend (SQLite in a temp file; PostgreSQL in a fresh database `hwl_bench_<random>`
//! made through `HWLEDGER_BENCH_POSTGRES`, default `postgres://root@127.0.0.1:5432/test`,
//! dropped afterwards) the service is started in-process and its router driven directly, one
//! request at a time, so the figures are the service's own work without HTTP or queueing. It
//! times `GET /v1/orgs/{org}` (a protected read: two indexed queries) with one reused token (the
//! verified-token cache), with a new token per request (parse and Ed25519 on the blocking pool),
//! and without a token (the 401); the token check alone (`api::auth::authenticate`, cached and
//! not); beside them the handler's own store read with no token check at all, the per-request key
//! lookup, one Ed25519 verification, and the public `GET /v1/ledger`.

#[path = "common/alloc.rs"]
mod alloc;

use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use ed25519_dalek::SigningKey;
use serde_json::json;
use sqlx::Connection;
use tower::ServiceExt;
use uuid::Uuid;

use hwledger::api::auth;
use hwledger::domain::ids::OrgId;
use hwledger::protocol::{event, time, token};
use hwledger::service::{GenesisRegulator, LimitFlags, Service, ServiceConfig};
use hwledger::store::{DbUrl, Store};

const REGULATOR_ORG: &str = "11320404MB0000001Y";
const ORIGIN: &str = "bench.hwledger.local";

#[path = "common/db.rs"]
mod db;
use db::BackendChoice;

/// Read-token benchmark of hwledger.
#[derive(Debug, Parser)]
#[command(name = "reads")]
struct Args {
    /// Timed requests per case (after a tenth as many untimed).
    #[arg(long, default_value_t = 3000)]
    requests: usize,
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    backend: BackendChoice,
    /// Ignored: cargo bench passes it.
    #[arg(long, hide = true)]
    bench: bool,
}

struct Stats {
    mean: f64,
    p50: f64,
    p99: f64,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    Stats {
        mean: v.iter().map(|d| us(*d)).sum::<f64>() / v.len() as f64,
        p50: us(v[v.len() / 2]),
        p99: us(v[v.len() * 99 / 100]),
    }
}

/// Times `n` runs of `f` after `n / 10` untimed ones; each run gets its own index.
async fn time_it<F, Fut>(n: usize, mut f: F) -> anyhow::Result<Stats>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let warm = n / 10;
    for i in 0..warm {
        f(i).await?;
    }
    let mut out = Vec::with_capacity(n);
    for i in warm..warm + n {
        let t = Instant::now();
        f(i).await?;
        out.push(t.elapsed());
    }
    Ok(stats(out))
}

async fn get(router: &axum::Router, path: &str, token: Option<&str>) -> anyhow::Result<StatusCode> {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = router.clone().oneshot(req.body(Body::empty())?).await?;
    let status = resp.status();
    axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
    Ok(status)
}

async fn run(name: &str, url: String, n: usize) -> anyhow::Result<()> {
    let ledger_key = SigningKey::from_bytes(&[11; 32]);
    let regulator = SigningKey::from_bytes(&[12; 32]);
    let service = Service::start(ServiceConfig {
        snapshot: None,
        db: DbUrl::new(url.clone()),
        origin: ORIGIN.into(),
        ledger_key: ledger_key.clone(),
        regulator: GenesisRegulator {
            org: REGULATOR_ORG.into(),
            name: "示例生态环境局".into(),
            region: "320404".into(),
            key: regulator.verifying_key(),
        },
        limits: LimitFlags::default(),
        sweep_interval: Duration::from_secs(3600),
        clock: hwledger::sequencer::Clock::system(),
    })
    .await?;
    let router = service.router();
    // One generator whose registry entry is read, as that generator.
    let org = OrgId::with_check("91320404000000001")?.as_str().to_owned();
    let key = SigningKey::from_bytes(&[13; 32]);
    let envelope = event::sign_envelope(
        &json!({"v": 1, "id": Uuid::new_v4().to_string(), "type": "org.registered", "actor": REGULATOR_ORG,
                "at": time::format_timestamp(time::truncate_millis(chrono::Utc::now())),
                "body": {"org": org, "name": "常州某化工有限公司", "region": "320404", "roles": ["generator"],
                         "keys": [hex::encode(key.verifying_key().to_bytes())]}}),
        &regulator,
    );
    let resp = router
        .clone()
        .oneshot(
            Request::post("/v1/events")
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&envelope)?))?,
        )
        .await?;
    anyhow::ensure!(resp.status() == StatusCode::CREATED, "registration refused");
    let store = Store::connect(&DbUrl::new(url)).await?;
    let path = format!("/v1/orgs/{org}");
    let kid = hex::encode(key.verifying_key().to_bytes());
    let now = chrono::Utc::now().timestamp();
    let reused = token::mint(&key, &org, ORIGIN, now, 600);
    // Distinct tokens (distinct iat), made before the clock starts.
    let fresh: Vec<String> = (0..n + n / 10)
        .map(|i| {
            token::mint(
                &key,
                &org,
                ORIGIN,
                now - (i % 200) as i64,
                600 - (i / 200) as i64 % 300,
            )
        })
        .collect();
    let expect = |s: StatusCode, want: StatusCode| {
        anyhow::ensure!(s == want, "answered {s}, not {want}");
        Ok(())
    };
    let mut rows = Vec::new();
    rows.push((
        "GET /v1/ledger (public, no token)",
        time_it(n, |_| async {
            expect(get(&router, "/v1/ledger", None).await?, StatusCode::OK)
        })
        .await?,
    ));
    rows.push((
        "GET /v1/orgs/{org}, one reused token (cached)",
        time_it(n, |_| async {
            expect(get(&router, &path, Some(&reused)).await?, StatusCode::OK)
        })
        .await?,
    ));
    rows.push((
        "GET /v1/orgs/{org}, a new token each (Ed25519)",
        time_it(n, |i| {
            let t = fresh[i].clone();
            let (router, path) = (&router, &path);
            async move { expect(get(router, path, Some(&t)).await?, StatusCode::OK) }
        })
        .await?,
    ));
    rows.push((
        "GET /v1/orgs/{org}, no token (401)",
        time_it(n, |_| async {
            expect(get(&router, &path, None).await?, StatusCode::UNAUTHORIZED)
        })
        .await?,
    ));
    let state = &service.state;
    let headers = |t: &str| {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            axum::http::header::AUTHORIZATION,
            format!("Bearer {t}").parse().expect("a header value"),
        );
        h
    };
    let reused_headers = headers(&reused);
    rows.push((
        "authenticate() alone, the reused token (cached)",
        time_it(n, |_| async {
            auth::authenticate(state, &reused_headers)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        })
        .await?,
    ));
    // New tokens again (other lifetimes), so that none is cached yet.
    let fresh: Vec<axum::http::HeaderMap> = (0..n + n / 10)
        .map(|i| {
            headers(&token::mint(
                &key,
                &org,
                ORIGIN,
                now - (i % 50) as i64,
                300 - (i / 50) as i64 % 250,
            ))
        })
        .collect();
    rows.push((
        "authenticate() alone, a new token each (Ed25519)",
        time_it(n, |i| {
            let h = &fresh[i];
            async move {
                auth::authenticate(state, h)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok(())
            }
        })
        .await?,
    ));
    rows.push((
        "the handler's store read alone, no token check",
        time_it(n, |_| async {
            let v = store.org(&org).await?.context("the org is stored")?;
            serde_json::to_vec(&v)?;
            Ok(())
        })
        .await?,
    ));
    rows.push((
        "the per-request key lookup (org_keys ⨝ orgs)",
        time_it(n, |_| async {
            store.key_holder(&kid).await?.context("the key is stored")?;
            Ok(())
        })
        .await?,
    ));
    let parsed = token::parse(&reused, ORIGIN).map_err(|e| anyhow::anyhow!("{e}"))?;
    rows.push((
        "Ed25519 verification of a token, one thread",
        time_it(n, |_| {
            let ok = parsed.signature_ok();
            async move {
                anyhow::ensure!(ok, "the signature verifies");
                Ok(())
            }
        })
        .await?,
    ));
    println!("\n{name}: {n} requests per case, one at a time, in-process router\n");
    println!("| case | mean µs | p50 µs | p99 µs |\n|---|---:|---:|---:|");
    for (case, s) in rows {
        println!("| {case} | {:.0} | {:.0} | {:.0} |", s.mean, s.p50, s.p99);
    }
    store.close().await;
    service.shutdown().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        if args.backend != BackendChoice::Postgres {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("reads.db").display());
            run("SQLite", url, args.requests).await?;
        }
        if args.backend != BackendChoice::Sqlite {
            let admin = std::env::var("HWLEDGER_BENCH_POSTGRES")
                .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
            let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await else {
                println!("!!!!! PostgreSQL SKIPPED: cannot reach {admin}");
                return Ok(());
            };
            let name = format!("hwl_bench_{}", &Uuid::new_v4().simple().to_string()[..12]);
            sqlx::query(&format!("create database {name}"))
                .execute(&mut conn)
                .await?;
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            let result = run("PostgreSQL", format!("{base}/{name}"), args.requests).await;
            sqlx::query(&format!("drop database {name} with (force)"))
                .execute(&mut conn)
                .await?;
            result?;
        }
        Ok(())
    })
}
