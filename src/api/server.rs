//! The accept loop of `hwledger serve`, one for plain HTTP and HTTPS alike, with the limits that
//! keep hostile or broken clients from holding the service (see "Limits on clients" in
//! docs/operations.md):
//!
//! - **connections**: at most [`ServeLimits::max_connections`] at once, TLS handshakes
//!   included. A connection beyond them is accepted and closed at once, without a byte
//!   (answering it would cost a TLS handshake), and counted in
//!   `hwledger_connections_refused_total`;
//! - **header timeout**: a TLS handshake, and the head of an HTTP/1.1 request (from when the
//!   server starts waiting for it, so also the wait for the next request on a kept-alive
//!   connection), must finish within [`ServeLimits::header_timeout`], or the connection is
//!   closed without an answer;
//! - **idle timeout**: a connection on which nothing is read or written for
//!   [`ServeLimits::idle_timeout`] is closed, *unless the server owes an answer on it*: a
//!   request whose body has been read entirely (or that the handler stopped reading) and whose
//!   answer is being produced keeps its connection open however long the socket stays silent,
//!   up to the request timeout. A client that stops sending in the middle of a request body,
//!   stops reading an answer, or sends nothing at all, is idle;
//! - **request timeout**: a request not answered within [`ServeLimits::request_timeout`] of
//!   the end of its head is answered 503 `timeout` (the handler is dropped; an append it had
//!   queued may still be recorded, so clients resend the same event id, answered 200 if it was).
//!
//! On shutdown the loop stops accepting, asks every connection to finish gracefully (an idle
//! HTTP/1.1 connection closes at once, one with a request in flight after its answer; HTTP/2
//! connections get a GOAWAY), waits for them all, and returns. The limits above bound that wait.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::ApiError;

/// The limits of [`serve`] (flags of `hwledger serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Time allowed for a TLS handshake and for the head of an HTTP/1.1 request.
    pub header_timeout: Duration,
    /// Time a connection may stay silent while the server owes it no answer.
    pub idle_timeout: Duration,
    /// Time allowed for a request, from the end of its head to its answer.
    pub request_timeout: Duration,
    /// Connections served at once; more are closed as they arrive.
    pub max_connections: u32,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` (over TLS with `tls`) within `limits` until `shutdown` resolves,
/// then lets the connections finish what they are doing, and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let max = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let shared = Arc::new(Shared {
        builder,
        app,
        tls: tls.map(TlsAcceptor::from),
        limits,
    });
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::error!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics::counter!("hwledger_connections_refused_total").increment(1);
            drop(stream);
            continue;
        };
        tokio::spawn(connection(
            stream,
            shared.clone(),
            stop_rx.clone(),
            Open::new(permit),
        ));
    }
    drop(listener);
    stop_tx.send_replace(true);
    // Every connection holds a permit until it ends.
    let _all = permits.acquire_many(max).await;
    Ok(())
}

/// Errors of one incoming connection, not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What every connection task shares.
struct Shared {
    builder: auto::Builder<TokioExecutor>,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ServeLimits,
}

/// An open connection: its permit, and its share of the `hwledger_connections` gauge.
struct Open {
    _permit: OwnedSemaphorePermit,
}

impl Open {
    fn new(permit: OwnedSemaphorePermit) -> Open {
        metrics::gauge!("hwledger_connections").increment(1.0);
        Open { _permit: permit }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!("hwledger_connections").decrement(1.0);
    }
}

fn timed_out(kind: &'static str) {
    metrics::counter!("hwledger_connection_timeouts_total", "timeout" => kind).increment(1);
}

/// Resolves once the server is shutting down (or gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves one connection to its end.
async fn connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    _open: Open,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::default());
    let io = IdleStream::new(stream, shared.limits.idle_timeout, activity.clone());
    match &shared.tls {
        None => http(TokioIo::new(io), &shared, stop, activity).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(shared.limits.header_timeout, acceptor.accept(io));
            let tls = tokio::select! {
                done = handshake => match done {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        if activity.timed_out.load(Ordering::Relaxed) {
                            timed_out("idle");
                        }
                        tracing::debug!(error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        timed_out("tls_handshake");
                        return;
                    }
                },
                // Shutting down: a connection that has not finished its handshake has no
                // request to finish.
                _ = stopping(&mut stop) => return,
            };
            http(TokioIo::new(tls), &shared, stop, activity).await
        }
    }
}

/// Speaks HTTP/1.1 or HTTP/2 (by ALPN or the client's preface) on an established connection.
async fn http<I>(io: I, shared: &Shared, mut stop: watch::Receiver<bool>, activity: Arc<Activity>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let app = shared.app.clone();
    let limit = shared.limits.request_timeout;
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let app = app.clone();
        let activity = requests.clone();
        async move { Ok::<_, Infallible>(answer(app, req, activity, limit).await) }
    });
    let conn = shared.builder.serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stopping(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    // hyper takes an idle timeout between two requests for the client's end of the
    // connection, not for an error.
    if activity.timed_out.load(Ordering::Relaxed) {
        timed_out("idle");
    } else if let Err(e) = result {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout)
        {
            timed_out("header");
        } else {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
}

/// Runs one request through the router within the request timeout, marking the connection
/// busy while the server owes the answer.
async fn answer(
    app: Router,
    req: hyper::Request<Incoming>,
    activity: Arc<Activity>,
    limit: Duration,
) -> Response {
    let owed = Arc::new(Owed::new(activity));
    let _done = Done(owed.clone());
    if hyper::body::Body::is_end_stream(req.body()) {
        owed.start();
    }
    let req: Request = req.map(|body| {
        Body::new(TrackedBody {
            inner: body,
            owed: owed.clone(),
        })
    });
    match tokio::time::timeout(limit, app.oneshot(req)).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_) => ApiError::Timeout(limit).into_response(),
    }
}

/// What the idle timer of a connection needs to know about its requests.
#[derive(Default)]
struct Activity {
    /// Requests whose answer the server owes (their body read or abandoned).
    owed: AtomicUsize,
    /// Set when the idle timer closed the connection.
    timed_out: AtomicBool,
}

/// The answer to one request: not yet owed (the body is still coming), owed, or given.
struct Owed {
    activity: Arc<Activity>,
    state: AtomicU8,
}

const WAITING: u8 = 0;
const OWED: u8 = 1;
const DONE: u8 = 2;

impl Owed {
    fn new(activity: Arc<Activity>) -> Owed {
        Owed {
            activity,
            state: AtomicU8::new(WAITING),
        }
    }

    /// The client has sent everything the server will read: the answer is the server's turn.
    fn start(&self) {
        if self
            .state
            .compare_exchange(WAITING, OWED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.activity.owed.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The answer is produced (or the request dropped).
    fn finish(&self) {
        if self.state.swap(DONE, Ordering::AcqRel) == OWED {
            self.activity.owed.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Finishes an [`Owed`] when the request's future ends, however it ends.
struct Done(Arc<Owed>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// A request body that marks the answer owed once it has been read to its end, or dropped.
struct TrackedBody {
    inner: Incoming,
    owed: Arc<Owed>,
}

impl hyper::body::Body for TrackedBody {
    type Data = hyper::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.owed.start(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.owed.start(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.owed.start();
    }
}

/// A TCP stream that fails with `TimedOut` once nothing was read or written on it for `idle`
/// while no answer is owed on it (see the module's documentation).
struct IdleStream {
    inner: TcpStream,
    idle: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
    activity: Arc<Activity>,
}

impl IdleStream {
    fn new(inner: TcpStream, idle: Duration, activity: Arc<Activity>) -> IdleStream {
        let now = Instant::now();
        IdleStream {
            inner,
            idle,
            last: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
            activity,
        }
    }

    /// Polls the idle timer while the stream waits; an error once the connection is idle.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Ok(());
            }
            let now = Instant::now();
            let deadline = self.last + self.idle;
            if deadline > now {
                self.timer.as_mut().reset(deadline);
            } else if self.activity.owed.load(Ordering::Acquire) > 0 {
                // The server is producing an answer: its silence is not the client's.
                self.last = now;
                self.timer.as_mut().reset(now + self.idle);
            } else {
                self.activity.timed_out.store(true, Ordering::Relaxed);
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the connection was idle too long",
                ));
            }
        }
    }

    /// Turns a pending I/O into an error once the connection is idle.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.poll_idle(cx) {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// The outcome of a write: bytes written count as activity; pending, the idle timer runs.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match r {
            Poll::Pending => self.pending(cx),
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.last = Instant::now();
                }
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }
}

impl AsyncRead for IdleStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => this.pending(cx),
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.last = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for IdleStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.pending(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_shutdown(cx) {
            Poll::Pending => this.pending(cx),
            other => other,
        }
    }
}
