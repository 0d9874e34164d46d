//! `hwledger serve` against clients that hold connections or flood the writer: half-sent request
//! heads, silent connections, more connections than the limit, more appends than the writer's
//! queue, and a shutdown with such clients still connected. Most run the real binary; the
//! rules of the idle timer for slow answers and stalled bodies run the accept loop in-process.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::cli::*;
use common::harness::*;
use serde_json::{json, Value};

/// A served binary in its own folder, killed if the test fails before stopping it.
struct Served {
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
}

impl Served {
    fn start(db: Option<&str>, extra: &[&str]) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("serve.log");
        let child = serve_with(dir.path(), db, port, extra, Some(&log));
        Served {
            dir,
            child: Some(child),
            port,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn healthz(&self) -> Result<u16, String> {
        ureq::get(&self.url("/healthz"))
            .timeout(Duration::from_secs(5))
            .call()
            .map(|r| r.status())
            .map_err(|e| e.to_string())
    }

    /// The value of one sample of `/metrics` (0 when it has not appeared yet).
    fn metric(&self, sample: &str) -> f64 {
        let text = ureq::get(&self.url("/metrics"))
            .call()
            .expect("/metrics answers")
            .into_string()
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
            .map_or(0.0, |v| v.trim().parse().expect("a number"))
    }

    /// The sample's value once it is at least `least`, or as it is after two seconds: the
    /// service counts a connection as it ends, a moment after its client has seen it closed.
    fn metric_reaches(&self, sample: &str, least: f64) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let value = self.metric(sample);
            if value >= least || Instant::now() >= deadline {
                return value;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the service with SIGTERM; returns how long it took to exit, asserting it exited 0.
    fn stop(mut self) -> Duration {
        let started = Instant::now();
        let status = sigterm(self.child.take().unwrap());
        assert!(status.success(), "a graceful stop exits 0: {status}");
        started.elapsed()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether the server has closed `s`, waiting at most `wait` for it to: true on end of file or
/// a reset, false while it stays open (bytes the server sends are read and skipped).
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Reads one HTTP/1.1 answer with a Content-Length from `s`; returns its status.
fn read_answer(s: &mut TcpStream) -> u16 {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).expect("an answer");
        assert!(n > 0, "the connection closed before an answer");
        got.extend_from_slice(&buf[..n]);
        let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        if got.len() >= end + 4 + length {
            return head[9..12].parse().unwrap();
        }
    }
}

const HALF_A_HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

#[test]
fn half_sent_request_heads_are_cut_off_at_the_header_timeout() {
    let served = Served::start(None, &["--header-timeout", "2s", "--idle-timeout", "3s"]);
    let sent = Instant::now();
    let mut held: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(served.addr()).unwrap();
            s.write_all(HALF_A_HEAD).unwrap();
            s
        })
        .collect();
    // The service answers others meanwhile.
    let asked = Instant::now();
    assert_eq!(served.healthz(), Ok(200));
    assert!(asked.elapsed() < Duration::from_secs(1), "healthz was slow");
    // None is closed before its timeout...
    let early = Duration::from_millis(1600).saturating_sub(sent.elapsed());
    assert!(!early.is_zero(), "too slow a test machine");
    assert!(!closed_within(&mut held[0], early));
    // ...and every one soon after it.
    for (i, s) in held.iter_mut().enumerate() {
        let wait = Duration::from_secs(6).saturating_sub(sent.elapsed());
        assert!(
            closed_within(s, wait),
            "connection {i} still open {:?} after half a head",
            sent.elapsed()
        );
    }
    assert!(sent.elapsed() >= Duration::from_millis(1900));
    assert_eq!(served.healthz(), Ok(200));
    assert!(
        served.metric_reaches(
            "hwledger_connection_timeouts_total{timeout=\"header\"}",
            200.0
        ) >= 200.0,
        "header timeouts are counted"
    );
    served.stop();
}

#[test]
fn silent_connections_are_closed_at_the_idle_timeout() {
    let served = Served::start(None, &["--header-timeout", "10s", "--idle-timeout", "2s"]);
    // A connection that never sends a byte.
    let opened = Instant::now();
    let mut silent = TcpStream::connect(served.addr()).unwrap();
    // A kept-alive connection that falls silent after one answer.
    let mut kept = TcpStream::connect(served.addr()).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    assert_eq!(read_answer(&mut kept), 200);
    let answered = Instant::now();
    assert!(!closed_within(&mut silent, Duration::from_millis(1500)));
    assert!(closed_within(&mut silent, Duration::from_secs(3)));
    let after = opened.elapsed();
    assert!(
        after >= Duration::from_millis(1900) && after < Duration::from_secs(4),
        "the silent connection closed after {after:?}"
    );
    assert!(closed_within(&mut kept, Duration::from_secs(4)));
    assert!(answered.elapsed() < Duration::from_secs(5));
    assert!(
        served.metric_reaches("hwledger_connection_timeouts_total{timeout=\"idle\"}", 2.0) >= 2.0
    );
    served.stop();
}

#[test]
fn connections_beyond_the_limit_are_closed_and_counted() {
    let served = Served::start(None, &["--max-connections", "20"]);
    // The start-up check's connection is gone by now.
    std::thread::sleep(Duration::from_millis(500));
    let mut held: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(served.addr()).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let refused = held
        .iter_mut()
        .filter_map(|s| closed_within(s, Duration::from_millis(50)).then_some(()))
        .count();
    assert_eq!(refused, 80, "20 served, the rest closed at once");
    // While 20 are held, a new client is refused too.
    assert!(served.healthz().is_err(), "a 21st connection is closed");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    while served.healthz() != Ok(200) {
        assert!(
            Instant::now() < deadline,
            "the service did not answer again"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(served.metric_reaches("hwledger_connections_refused_total", 81.0) >= 81.0);
    served.stop();
}

#[test]
fn a_shutdown_waits_for_half_sent_heads_no_longer_than_the_header_timeout() {
    let served = Served::start(None, &["--header-timeout", "3s"]);
    let _held: Vec<TcpStream> = (0..60)
        .map(|i| {
            let mut s = TcpStream::connect(served.addr()).unwrap();
            if i % 2 == 0 {
                s.write_all(HALF_A_HEAD).unwrap();
            }
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // Silent connections are closed at once; a head being sent may still become a request,
    // which has until the header timeout.
    let took = served.stop();
    assert!(
        took < Duration::from_secs(5),
        "the stop waited {took:?}, beyond the header timeout"
    );
}

/// `n` signed registrations of new generating enterprises numbered from `first`.
fn registrations(regulator: &ed25519_dalek::SigningKey, first: u64, n: u64) -> Vec<Value> {
    (first..first + n)
        .map(|i| {
            sign(
                &event(
                    REGULATOR_ORG,
                    "org.registered",
                    json!({"org": org_id(i), "name": format!("单位{i}"), "region": "320404",
                           "roles": ["generator"],
                           "keys": [hex::encode(key(i).verifying_key().to_bytes())]}),
                ),
                regulator,
            )
        })
        .collect()
}

/// What a post got: its status, `Retry-After`, and its body.
type Answer = (u16, Option<String>, Value);

/// Posts one batch of envelopes to `url`.
fn post_batch(url: &str, batch: &[Value]) -> Answer {
    let answer = match ureq::post(url)
        .timeout(Duration::from_secs(30))
        .send_json(Value::Array(batch.to_vec()))
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST failed: {e}"),
    };
    let status = answer.status();
    let retry = answer.header("retry-after").map(str::to_owned);
    (status, retry, answer.into_json().unwrap())
}

storage_test!(a_full_queue_answers_overloaded, |b| async move {
    let db = TestDb::new(b).await;
    let db_flag = (b == Backend::Postgres).then_some(db.url.as_str());
    let served = Served::start(db_flag, &["--queue", "1"]);
    let regulator =
        hwledger::protocol::keys::load(&served.dir().join("hwledger-keys/regulator.pem")).unwrap();
    let url = served.url("/v1/events");
    const CLIENTS: u64 = 12;
    const BATCH: u64 = 25;
    let mut appended: Vec<(u64, String)> = Vec::new();
    let mut overloaded: Vec<Vec<Value>> = Vec::new();
    let mut next = 50_000;
    for _round in 0..6 {
        let batches: Vec<Vec<Value>> = (0..CLIENTS)
            .map(|c| registrations(&regulator, next + c * BATCH, BATCH))
            .collect();
        next += CLIENTS * BATCH;
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(CLIENTS as usize));
        let answers: Vec<(Vec<Value>, Answer)> = batches
            .into_iter()
            .map(|batch| {
                let (url, barrier) = (url.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let answer = post_batch(&url, &batch);
                    (batch, answer)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        for (batch, (status, retry, body)) in answers {
            match status {
                200 => {
                    for item in body.as_array().unwrap() {
                        assert_eq!(item["status"], 201, "{item}");
                        appended.push((
                            item["entry"]["seq"].as_u64().unwrap(),
                            item["entry"]["hash"].as_str().unwrap().to_owned(),
                        ));
                    }
                }
                503 => {
                    assert_eq!(body["code"], "overloaded", "{body}");
                    assert_eq!(body["status"], 503);
                    assert_eq!(body["type"], "urn:hwledger:problem:overloaded");
                    assert_eq!(retry.as_deref(), Some("1"), "Retry-After in seconds");
                    overloaded.push(batch);
                }
                other => panic!("only 200 or 503 overloaded, not {other}: {body}"),
            }
        }
        if !overloaded.is_empty() && !appended.is_empty() {
            break;
        }
    }
    assert!(!overloaded.is_empty(), "some posts met a full queue");
    assert!(!appended.is_empty(), "some posts were appended");

    // Every entry answered 201 is in the ledger, and nothing else is.
    let token = hwledger::protocol::token::mint(
        &regulator,
        REGULATOR_ORG,
        "hwledger.local",
        chrono::Utc::now().timestamp(),
        300,
    );
    let size = 1 + appended.len() as u64;
    let mut stored = Vec::new();
    while (stored.len() as u64) < size {
        let page: Value =
            ureq::get(&served.url(&format!("/v1/entries?from={}&limit=1000", stored.len())))
                .set("authorization", &format!("Bearer {token}"))
                .call()
                .unwrap()
                .into_json()
                .unwrap();
        assert_eq!(
            page["size"], size,
            "the ledger holds the genesis and the 201s only"
        );
        let entries = page["entries"].as_array().unwrap();
        assert!(!entries.is_empty());
        stored.extend(entries.iter().map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["hash"].as_str().unwrap().to_owned(),
            )
        }));
    }
    appended.sort();
    assert_eq!(stored[1..], appended[..]);

    // An overloaded batch recorded nothing: sent again, each event is appended now (201, not
    // the 200 of a replay).
    let (status, _, body) = post_batch(&url, &overloaded[0]);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.as_array().unwrap().iter().all(|i| i["status"] == 201),
        "{body}"
    );
    assert!(
        served.metric_reaches("hwledger_overloaded_total", overloaded.len() as f64)
            >= overloaded.len() as f64
    );
    served.stop();
});

mod in_process {
    //! The accept loop itself, serving a router with slow routes.

    use std::time::{Duration, Instant};

    use axum::routing::{get, post};
    use axum::Router;
    use hwledger::api::ServeLimits;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn slow(secs: u64) -> &'static str {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        "done"
    }

    /// Serves a router with `/slow/{secs}` and a `POST /echo` reading its body, within
    /// `limits`; returns its address and the sender that stops it.
    async fn start(limits: ServeLimits) -> (String, tokio::sync::oneshot::Sender<()>) {
        let app = Router::new()
            .route(
                "/slow/{secs}",
                get(|axum::extract::Path(secs): axum::extract::Path<u64>| slow(secs)),
            )
            .route("/echo", post(|body: String| async move { body }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(hwledger::api::server::serve(
            listener,
            app,
            None,
            limits,
            async move {
                let _ = stopped.await;
            },
        ));
        (addr, stop)
    }

    /// Everything `s` receives until the server closes it, or at most `wait`.
    async fn read_to_close(s: &mut TcpStream, wait: Duration) -> Option<String> {
        let mut got = Vec::new();
        match tokio::time::timeout(wait, s.read_to_end(&mut got)).await {
            Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
            Err(_) => None,
        }
    }

    fn limits(idle: u64, request: u64) -> ServeLimits {
        ServeLimits {
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(idle),
            request_timeout: Duration::from_secs(request),
            max_connections: 16,
        }
    }

    #[tokio::test]
    async fn a_slow_answer_outlives_the_idle_timeout() {
        let (addr, _stop) = start(limits(1, 10)).await;
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let asked = Instant::now();
        s.write_all(b"GET /slow/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = read_to_close(&mut s, Duration::from_secs(8))
            .await
            .expect("closed after the answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("done"), "{answer}");
        assert!(asked.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_request_over_the_request_timeout_is_answered_503_timeout() {
        let (addr, _stop) = start(limits(1, 2)).await;
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let asked = Instant::now();
        s.write_all(b"GET /slow/30 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = read_to_close(&mut s, Duration::from_secs(8))
            .await
            .expect("an answer at the request timeout");
        let took = asked.elapsed();
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(
            answer.contains("application/problem+json"),
            "a problem document: {answer}"
        );
        let body: serde_json::Value =
            serde_json::from_str(&answer[answer.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        assert_eq!(body["code"], "timeout");
        assert_eq!(body["status"], 503);
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn a_stalled_body_is_idle_and_closed() {
        let (addr, _stop) = start(limits(1, 30)).await;
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let sent = Instant::now();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
            .await
            .unwrap();
        let answer = read_to_close(&mut s, Duration::from_secs(5))
            .await
            .expect("closed at the idle timeout, not the request timeout");
        let took = sent.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(3),
            "{took:?}"
        );
        assert!(!answer.contains("ab"), "no echo of half a body: {answer}");
        // A whole body is echoed.
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab",
        )
        .await
        .unwrap();
        let answer = read_to_close(&mut s, Duration::from_secs(5)).await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("ab"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn a_shutdown_lets_a_request_in_flight_finish() {
        let (addr, stop) = start(limits(1, 10)).await;
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /slow/2 HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.send(()).unwrap();
        let answer = read_to_close(&mut s, Duration::from_secs(6))
            .await
            .expect("closed after its answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("done"), "{answer}");
        assert!(
            TcpStream::connect(&addr).await.is_err(),
            "no longer accepting"
        );
    }
}
