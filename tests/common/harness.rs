//! A ledger per test, on SQLite or PostgreSQL, driven through the real router.
//!
//! Every storage test runs on both backends (see [`storage_test!`]). PostgreSQL is reached at
//! `HWLEDGER_TEST_POSTGRES` (default `postgres://root@127.0.0.1:5432/test`); each test creates
//! its own database there. If PostgreSQL cannot be reached the test fails and says so: set
//! `HWLEDGER_TEST_POSTGRES=off` to run SQLite only, which prints a line for each skipped run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use sqlx::Connection;
use tower::ServiceExt;
use uuid::Uuid;

use hwledger::domain::ids::OrgId;
use hwledger::protocol::{event, time, token};
use hwledger::sequencer::Clock;
use hwledger::service::{GenesisRegulator, LimitFlags, Service, ServiceConfig};
use hwledger::store::DbUrl;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body `async fn(Backend)` once per backend, as two tests.
#[macro_export]
macro_rules! storage_test {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::common::harness::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::common::harness::postgres_enabled() {
                    ($body)($crate::common::harness::Backend::Postgres).await
                }
            }
        }
    };
}

fn postgres_admin() -> Option<String> {
    match std::env::var("HWLEDGER_TEST_POSTGRES") {
        Ok(v) if v == "off" => None,
        Ok(v) => Some(v),
        Err(_) => Some("postgres://root@127.0.0.1:5432/test".into()),
    }
}

/// Whether PostgreSQL tests run; prints a line when they are switched off.
pub fn postgres_enabled() -> bool {
    let on = postgres_admin().is_some();
    if !on {
        eprintln!("SKIPPED on PostgreSQL: HWLEDGER_TEST_POSTGRES=off");
    }
    on
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh, empty database for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL database this handle made, dropped with it (aliases own nothing).
    owned_pg: Option<String>,
}

impl Drop for TestDb {
    /// Drops the test's PostgreSQL database, so that runs leave nothing behind. `with (force)`
    /// ends the connections a service of the test may still hold. Runs on its own thread and
    /// runtime, since drop cannot await; failures are reported, not fatal.
    fn drop(&mut self) {
        let Some(name) = self.owned_pg.take() else {
            return;
        };
        let Some(admin) = postgres_admin() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the drop");
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(&format!("drop database if exists {name} with (force)"))
                    .execute(&mut conn)
                    .await?;
                Ok::<_, sqlx::Error>(())
            })
            .map_err(|e| format!("{name}: {e}"))
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop the test database {e}");
        }
    }
}

impl TestDb {
    /// The same database under a second handle (which does not own it).
    pub fn alias(db: &TestDb) -> TestDb {
        TestDb {
            url: db.url.clone(),
            backend: db.backend,
            _dir: None,
            owned_pg: None,
        }
    }

    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temp dir");
                let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
                TestDb {
                    url,
                    backend,
                    _dir: Some(dir),
                    owned_pg: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin().expect("PostgreSQL is enabled");
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                        "PostgreSQL is unreachable at {admin}: {e}. Start it (see .ci/run) or set \
                         HWLEDGER_TEST_POSTGRES to its URL, or to `off` to run SQLite only"
                    )
                    });
                let name = format!(
                    "hwl_test_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed)
                ) + &Uuid::new_v4().simple().to_string()[..8];
                sqlx::query(&format!("create database {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create a test database");
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                TestDb {
                    url: format!("{base}/{name}"),
                    backend,
                    _dir: None,
                    owned_pg: Some(name),
                }
            }
        }
    }
}

/// An organisation as the tests use it: its id and one signing key.
#[derive(Clone)]
pub struct Actor {
    pub org: String,
    pub key: SigningKey,
}

impl Actor {
    pub fn public(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }
}

/// A deterministic key for fixtures.
pub fn key(seed: u64) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[31] = 0x5a;
    SigningKey::from_bytes(&bytes)
}

/// A valid unified social credit code numbered `n`.
pub fn org_id(n: u64) -> String {
    OrgId::with_check(&format!("9132040{n:010}"))
        .expect("a valid prefix")
        .as_str()
        .to_owned()
}

/// The current time as an event timestamp.
pub fn now() -> String {
    time::format_timestamp(time::truncate_millis(chrono::Utc::now()))
}

/// A time `secs` seconds from now (negative: in the past).
pub fn now_plus(secs: i64) -> String {
    time::format_timestamp(time::truncate_millis(
        chrono::Utc::now() + chrono::Duration::seconds(secs),
    ))
}

/// An unsigned event with a fresh id, dated now.
pub fn event(actor: &str, kind: &str, body: Value) -> Value {
    json!({"v": 1, "id": Uuid::new_v4().to_string(), "type": kind, "actor": actor, "at": now(), "body": body})
}

/// A signed envelope.
pub fn sign(event: &Value, key: &SigningKey) -> Value {
    event::sign_envelope(event, key)
}

pub const REGULATOR_ORG: &str = "11320404MB0000001Y";

/// The origin of every test ledger.
pub const ORIGIN: &str = "test.hwledger.local";

/// A read token of `actor` for the test ledger, issued now, valid 300 s.
pub fn token_of(actor: &Actor) -> String {
    token::mint(
        &actor.key,
        &actor.org,
        ORIGIN,
        chrono::Utc::now().timestamp(),
        300,
    )
}

/// A running ledger on a test database.
pub struct TestLedger {
    pub db: TestDb,
    pub service: Option<Service>,
    pub router: Router,
    pub ledger_key: SigningKey,
    pub regulator: Actor,
    pub limits: LimitFlags,
    /// The ledger's clock: the system's, or one the test sets.
    pub clock: Clock,
}

pub fn config(
    db: &TestDb,
    ledger_key: &SigningKey,
    regulator: &Actor,
    limits: LimitFlags,
) -> ServiceConfig {
    ServiceConfig {
        snapshot: None,
        db: DbUrl::new(db.url.clone()),
        origin: ORIGIN.into(),
        ledger_key: ledger_key.clone(),
        regulator: GenesisRegulator {
            org: regulator.org.clone(),
            name: "钟楼生态环境局".into(),
            region: "320404".into(),
            key: regulator.key.verifying_key(),
        },
        limits,
        sweep_interval: Duration::from_secs(3600),
        clock: Clock::system(),
    }
}

impl TestLedger {
    pub async fn start(backend: Backend) -> TestLedger {
        Self::start_with(backend, LimitFlags::default()).await
    }

    pub async fn start_with(backend: Backend, limits: LimitFlags) -> TestLedger {
        Self::start_at(backend, limits, Clock::system()).await
    }

    /// A ledger whose clock the test sets: the genesis is recorded at the clock's time.
    pub async fn start_at(backend: Backend, limits: LimitFlags, clock: Clock) -> TestLedger {
        let db = TestDb::new(backend).await;
        let ledger_key = key(1_000_000);
        let regulator = Actor {
            org: REGULATOR_ORG.into(),
            key: key(1_000_001),
        };
        let service = Service::start(ServiceConfig {
            snapshot: None,
            clock: clock.clone(),
            ..config(&db, &ledger_key, &regulator, limits)
        })
        .await
        .expect("the service starts");
        let router = service.router();
        TestLedger {
            db,
            service: Some(service),
            router,
            ledger_key,
            regulator,
            limits,
            clock,
        }
    }

    pub fn config(&self) -> ServiceConfig {
        ServiceConfig {
            snapshot: None,
            clock: self.clock.clone(),
            ..config(&self.db, &self.ledger_key, &self.regulator, self.limits)
        }
    }

    /// A second service process on the same database, with the same keys and limits, and a
    /// `TestLedger` that talks to it; shut the returned service down when done with it.
    pub async fn second_process(&self) -> (Service, TestLedger) {
        let second = Service::start(self.config())
            .await
            .expect("a second service starts on the same database");
        let other = TestLedger {
            db: TestDb::alias(&self.db),
            service: None,
            router: second.router(),
            ledger_key: self.ledger_key.clone(),
            regulator: self.regulator.clone(),
            limits: self.limits,
            clock: self.clock.clone(),
        };
        (second, other)
    }

    /// Stops the service (as a shutdown would) and starts it again on the same database.
    pub async fn restart(&mut self) {
        if let Some(s) = self.service.take() {
            s.shutdown().await;
        }
        let service = Service::start(self.config())
            .await
            .expect("the service restarts");
        self.router = service.router();
        self.service = Some(service);
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.service.take() {
            s.shutdown().await;
        }
    }

    pub fn ledger_public(&self) -> String {
        hex::encode(self.ledger_key.verifying_key().to_bytes())
    }

    /// Sends a request to the router; returns the status and the body (JSON when it parses).
    pub async fn request(&self, req: Request<Body>) -> (StatusCode, Value) {
        let (status, _, value) = self.respond(req).await;
        (status, value)
    }

    /// Like [`request`], with the answer's headers.
    pub async fn respond(&self, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router answers");
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("a body");
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, headers, value)
    }

    /// GETs `path` as the genesis regulator, who reads everything.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(&self.regulator, path).await
    }

    /// The value of one sample of `/metrics` (`name` with its labels, if it has any); 0 while
    /// the service has not recorded it.
    pub async fn metric(&self, name: &str) -> u64 {
        let (_, m) = self.get("/metrics").await;
        m.as_str()
            .expect("metrics are text")
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .map_or(0, |n| n.trim().parse().expect("a whole number"))
    }

    /// GETs `path` with a fresh read token of `actor`.
    pub async fn get_as(&self, actor: &Actor, path: &str) -> (StatusCode, Value) {
        self.get_with(path, Some(&format!("Bearer {}", token_of(actor))))
            .await
    }

    /// GETs `path` with this `Authorization` header value, or none.
    pub async fn get_with(&self, path: &str, authorization: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::get(path);
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        self.request(req.body(Body::empty()).unwrap()).await
    }

    pub async fn post_raw(&self, body: Vec<u8>, content_type: &str) -> (StatusCode, Value) {
        self.request(
            Request::post("/v1/events")
                .header("content-type", content_type)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    pub async fn post(&self, envelope: &Value) -> (StatusCode, Value) {
        self.post_raw(serde_json::to_vec(envelope).unwrap(), "application/json")
            .await
    }

    /// Signs `body` as an event of `kind` by `actor` and posts it.
    /// The event is dated by the ledger's clock (the system's, unless the test sets it).
    pub async fn submit(&self, actor: &Actor, kind: &str, body: Value) -> (StatusCode, Value) {
        let mut e = event(&actor.org, kind, body);
        e["at"] = json!(time::format_timestamp(self.clock.now()));
        self.post(&sign(&e, &actor.key)).await
    }

    /// Like [`submit`], asserting that the event was appended; returns the entry.
    pub async fn ok(&self, actor: &Actor, kind: &str, body: Value) -> Value {
        let (status, v) = self.submit(actor, kind, body).await;
        assert_eq!(status, StatusCode::CREATED, "{kind} refused: {v}");
        v
    }

    /// Registers an organisation numbered `n` with the given roles and returns it.
    pub async fn register(&self, n: u64, roles: &[&str], region: &str) -> Actor {
        let actor = Actor {
            org: org_id(n),
            key: key(n),
        };
        self.ok(
            &self.regulator,
            "org.registered",
            json!({"org": actor.org, "name": format!("单位{n}"), "region": region, "roles": roles, "keys": [actor.public()]}),
        )
        .await;
        actor
    }

    /// Runs one sweep on the started service, as `--sweep-interval` would; returns how many
    /// tickets it appended.
    pub async fn sweep(&self) -> usize {
        self.service
            .as_ref()
            .expect("a started service")
            .state
            .sequencer
            .sweep()
            .await
            .expect("a sweep")
    }

    pub async fn size(&self) -> u64 {
        self.get("/v1/ledger").await.1["size"]
            .as_u64()
            .expect("a size")
    }
}

/// Asserts a problem answer: status and code.
#[track_caller]
pub fn assert_problem(answer: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(
        (answer.0.as_u16(), answer.1["code"].as_str().unwrap_or("")),
        (status, code),
        "unexpected answer: {}",
        answer.1
    );
}
