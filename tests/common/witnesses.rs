//! Witness servers (`hwledger::witness`) for the tests of witnessed checkpoints: each on a local
//! port with a database of its own, counting the submissions it receives; and the waits and
//! appends those tests share.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use super::harness::*;
use hwledger::protocol::cosignature::Witness as Trusted;
use hwledger::store::DbUrl;
use hwledger::witness::{Witness, WitnessConfig};

/// A witness server on a local port, counting the submissions it receives.
pub struct RunningWitness {
    pub name: String,
    pub key: SigningKey,
    pub db: TestDb,
    pub addr: std::net::SocketAddr,
    pub requests: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub witness: Option<Witness>,
}

impl RunningWitness {
    pub async fn start(name: &str, seed: u64, backend: Backend, ledger: &TestLedger) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut w = RunningWitness {
            name: name.to_owned(),
            key: key(seed),
            db: TestDb::new(backend).await,
            addr: listener.local_addr().unwrap(),
            requests: Arc::new(AtomicUsize::new(0)),
            stop: None,
            witness: None,
        };
        w.serve(listener, ledger).await;
        w
    }

    async fn serve(&mut self, listener: tokio::net::TcpListener, ledger: &TestLedger) {
        let witness = Witness::open(WitnessConfig {
            name: self.name.clone(),
            key: self.key.clone(),
            db: DbUrl::new(self.db.url.clone()),
            logs: vec![(ORIGIN.to_owned(), ledger.ledger_key.verifying_key())],
        })
        .await
        .expect("the witness opens its database");
        let requests = self.requests.clone();
        let app = witness.router().layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let requests = requests.clone();
                async move {
                    if req.uri().path() == "/add-checkpoint" {
                        requests.fetch_add(1, Ordering::SeqCst);
                    }
                    next.run(req).await
                }
            },
        ));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(hwledger::api::serve(listener, app, async move {
            let _ = stopped.await;
        }));
        self.stop = Some(stop);
        self.witness = Some(witness);
    }

    /// Stops serving; the port refuses connections until [`restart`](Self::restart).
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(w) = self.witness.take() {
            w.close().await;
        }
        // Until the listener is gone, a connection could still be accepted.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(self.addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the witness at {} did not stop", self.addr);
    }

    /// Serves again on the same port and database.
    pub async fn restart(&mut self, ledger: &TestLedger) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener, ledger).await;
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    pub fn policy_entry(&self) -> Value {
        json!({"name": self.name, "key": self.key_hex(), "url": self.url()})
    }

    /// The `--witness NAME=KEYHEX` value an auditor is given out of band.
    pub fn arg(&self) -> String {
        format!("{}={}", self.name, self.key_hex())
    }

    pub fn trusted(&self) -> Trusted {
        Trusted {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }
}

pub fn policy(witnesses: &[Value], quorum: u32) -> Value {
    json!({"witnesses": witnesses, "quorum": quorum, "reason": "省厅与检察院见证服务"})
}

/// Waits until `/v1/witnesses` shows every named witness at `size` or beyond.
pub async fn wait_cosigned(l: &TestLedger, names: &[&str], size: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) = l.get_with("/v1/witnesses", None).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let done = names.iter().all(|n| {
            v["witnesses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["name"] == *n && w["cosigned_size"].as_u64().unwrap() >= size)
        });
        if done {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "witnesses {names:?} did not cosign size {size}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `/v1/witnesses` shows the witness halted; returns its view.
pub async fn wait_halted(l: &TestLedger, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = l.get_with("/v1/witnesses", None).await;
        if let Some(w) = v["witnesses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == name && w["halted"] == true)
        {
            return w.clone();
        }
        assert!(Instant::now() < deadline, "{name} was not halted: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn get_text(l: &TestLedger, path: &str) -> (StatusCode, String) {
    let (status, v) = l.get_with(path, None).await;
    match v {
        Value::String(s) => (status, s),
        other => (status, other.to_string()),
    }
}

/// Appends `n` registrations in batches of up to 500.
pub async fn append_orgs(l: &TestLedger, first: u64, n: u64) {
    let mut next = first;
    while next < first + n {
        let end = (next + 500).min(first + n);
        let batch: Vec<Value> = (next..end)
            .map(|i| {
                let mut e = event(
                    &l.regulator.org,
                    "org.registered",
                    json!({"org": org_id(i), "name": format!("单位{i}"), "region": "320404",
                           "roles": ["generator"], "keys": [hex::encode(key(i).verifying_key().as_bytes())]}),
                );
                e["at"] = json!(now());
                sign(&e, &l.regulator.key)
            })
            .collect();
        let (status, v) = l.post(&Value::Array(batch)).await;
        assert!(status.is_success(), "batch refused: {v}");
        next = end;
    }
}
