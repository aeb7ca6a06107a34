//! The accept loop, per-connection limits, the click flusher and graceful shutdown.
//!
//! The caller binds the listener and chooses the shutdown signal, so `main`
//! and the tests share this one code path. Every connection is served by the
//! same hyper-util auto builder (HTTP/1.1 and h2c) with a timer, so the
//! header read timeout is really enforced. On shutdown the loop stops
//! accepting, lets in-flight requests finish for a bounded time, then moves
//! every pending click into sled and flushes it to disk.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use thiserror::Error;
use tokio::net::{TcpListener, TcpSocket};

use super::conns::{Busy, Connections, CountingIo};
pub use super::conns::{Limits, RESERVED_FDS};
use super::{router, App, Body};
use crate::store::StoreError;

/// How often pending clicks are stored in sled. With sled's own 500 ms
/// flush, a click is on disk within about a second. 500 ms rather than
/// 200 ms halves the bytes the rounds write (a slug clicked in both halves
/// of a second is one day count, not two or three): 0.7 instead of 1.5
/// MB/s under `benches/load.py`'s 10,000-link load, for small disks and SD
/// cards.
pub const CLICK_FLUSH_EVERY: Duration = Duration::from_millis(500);
/// Day counts stored per journal record, between two yields of the flusher.
pub const CLICK_FLUSH_STEP: usize = 1024;
/// How often pending referrer and bot counts are stored in sled: they are
/// read by people, not enforced, so a longer interval costs nothing and
/// gathers more clicks into each sled merge.
pub const SOURCES_FLUSH_EVERY: Duration = Duration::from_secs(2);
/// How often when each API key was last used is written to
/// `<data>/keys-used`: a hint for people, so a file write a minute at most.
pub const KEY_USE_FLUSH_EVERY: Duration = Duration::from_secs(60);
/// Slugs whose counts one fold step adds into their day counters (a sled
/// read and write each), between two yields of the flusher.
pub const CLICK_FOLD_STEP: usize = 32;
/// Most time the flusher spends folding per tick; a fold larger than that
/// goes on at the next tick.
pub const CLICK_FOLD_BUDGET: Duration = Duration::from_millis(100);
/// Once this many slug-days wait to be folded (about 100 bytes of memory
/// each), the flusher folds for [`CLICK_FOLD_CATCH_UP`] per tick instead:
/// under traffic spread over millions of links the fold must keep up, or
/// the backlog would grow without bound.
pub const CLICK_FOLD_BACKLOG: usize = 200_000;
/// The per-tick folding time while the backlog is above [`CLICK_FOLD_BACKLOG`].
pub const CLICK_FOLD_CATCH_UP: Duration = Duration::from_millis(375);
/// Connections the kernel queues for `accept` (capped by the system's
/// `net.core.somaxconn`). The usual 128 overflows in a few milliseconds
/// when a crowd connects at once, and each overflow costs a client a
/// one-second SYN retry.
pub const LISTEN_BACKLOG: u32 = 4096;
/// How long shutdown waits for in-flight requests.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest buffered request head, in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most request headers (HTTP/1.1): hyper's default, which the builder
/// therefore leaves alone. Setting it, even to the same 100, makes hyper
/// build its header arrays on every request instead of using its inline
/// ones: 2% of the CPU of a redirect under load. `tests/limits.rs` checks
/// that a 101st header is still refused.
pub const MAX_HEADERS: usize = 100;
/// Most concurrent HTTP/2 streams per connection. Each open stream can be a
/// request waiting for its body until the API deadline, so this is how many
/// slow requests one connection may hold; a page's worth of short links
/// needs far fewer.
pub const MAX_H2_STREAMS: u32 = 32;
/// HTTP/2 flow-control window per stream: no request body kurz accepts is
/// larger (see `http::wire::MAX_BODY`), so a client may never make the
/// server hold more unread body bytes than that for one request.
pub const H2_STREAM_WINDOW: u32 = super::wire::MAX_BODY as u32;
/// HTTP/2 flow-control window per connection (hyper's default is 1 MiB):
/// the unread body bytes one connection can make the server hold.
pub const H2_CONNECTION_WINDOW: u32 = 256 * 1024;

/// Why the server stopped with an error.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The final flush of clicks and links to disk failed.
    #[error("final flush failed: {0}")]
    Flush(#[from] StoreError),
}

/// The connection builder every accepted connection is served with: HTTP/1.1
/// and h2c, a timer (so the header read timeout, `idle_timeout`, is really
/// enforced), keep-alive, and the head and stream limits above. Public so
/// the `router` fuzz target in `fuzz/` serves its requests exactly as the
/// server does. Needs a tokio runtime with its timer enabled when a
/// connection is served.
pub fn builder(idle_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        // hyper starts this timer whenever the connection waits for a
        // request, so it is also the keep-alive idle timeout of HTTP/1.1.
        .header_read_timeout(idle_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_HEAD_BYTES);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_H2_STREAMS)
        .initial_stream_window_size(H2_STREAM_WINDOW)
        .initial_connection_window_size(H2_CONNECTION_WINDOW)
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    b
}

/// Binds a listener on `addr` with [`LISTEN_BACKLOG`]. Needs a tokio runtime.
///
/// # Errors
/// The address is taken, not local, or not permitted.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std does: a restarted server may bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `app` on `listener` until `shutdown` completes, then drains and
/// flushes. Returns once everything acknowledged is on disk.
///
/// # Errors
/// Only the final flush can fail; accept errors are logged and retried.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let limits = app.limits;
    let builder = builder(limits.idle_timeout);
    let conns = Connections::new(limits);
    let flusher = tokio::spawn(flush_clicks_forever(app.clone()));
    let sweeper = tokio::spawn(sweep_forever(conns.clone()));
    let key_use = tokio::spawn(flush_key_use_forever(app.clone()));
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checker = app
        .startup_check
        .then(|| tokio::spawn(check_integrity(app.clone(), stopping.clone())));
    tokio::pin!(shutdown);

    loop {
        // Take a place before accepting, so excess clients wait in the
        // backlog; at the cap this closes the longest-idle connections.
        let permit = tokio::select! {
            p = conns.reserve() => p,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: back off and retry, never give up the loop.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let slot = conns.register(permit);
        let app = app.clone();
        let conn = slot.conn().clone();
        // The address goes to the router as an argument: a request
        // extension would allocate a map on every request.
        let peer_ip = Some(peer.ip());
        let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| Served {
            busy: Some(conn.begin()),
            answer: router::route(app.clone(), req, peer_ip, Some(&conn)),
        });
        let io = TokioIo::new(CountingIo::new(stream, slot.conn().clone()));
        let conn = builder.serve_connection(io, service).into_owned();
        let grace = limits.idle_timeout;
        tokio::spawn(async move {
            tokio::pin!(conn);
            // `biased`: the connection is polled first on every wake-up, and
            // select! draws no random number per request to pick an order.
            let ended = tokio::select! {
                biased;
                r = conn.as_mut() => Some(r),
                () = slot.conn().closing() => None,
            };
            let ended = match ended {
                Some(r) => r,
                // Nothing is being answered, only bodies awaited that have
                // not come: nothing to finish, so the place is free at once.
                None if slot.conn().only_awaits_bodies() => Ok(()),
                None => {
                    // Graceful: an answer in progress is finished first. But
                    // a client that never reads it, or never acknowledges
                    // HTTP/2's GOAWAY ping, is dropped after a grace period.
                    conn.as_mut().graceful_shutdown();
                    match tokio::time::timeout(grace, conn).await {
                        Ok(r) => r,
                        Err(_) => Ok(()),
                    }
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }

    drop(listener);
    tracing::info!(open = conns.len(), "shutting down: draining connections");
    conns.close_all();
    if tokio::time::timeout(DRAIN_TIMEOUT, conns.drained())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open after {:?}; exiting without them",
            DRAIN_TIMEOUT
        );
    }
    sweeper.abort();
    key_use.abort();
    flusher.abort();
    stopping.store(true, std::sync::atomic::Ordering::Relaxed);
    // Wait for both tasks to drop their handles on the store, so the
    // database is really closed when `run` returns.
    let _ = flusher.await;
    if let Some(checker) = checker {
        let _ = checker.await;
    }
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || store.flush_all())
        .await
        .map_err(|_| StoreError::TaskFailed)??;
    tracing::info!("all clicks and links flushed to disk");
    let keys_app = app.clone();
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || keys_app.keys.flush_used()).await {
        tracing::warn!("when API keys were last used was not stored: {e}");
    }
    Ok(())
}

/// Writes when each API key was last used every [`KEY_USE_FLUSH_EVERY`].
async fn flush_key_use_forever(app: Arc<App>) {
    let mut tick = tokio::time::interval(KEY_USE_FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let app = app.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || app.keys.flush_used()).await {
            tracing::warn!("when API keys were last used was not stored: {e}");
        }
    }
}

/// A request's answer, keeping its connection marked busy until it is
/// ready. A plain struct rather than an `async` block: hyper moves this
/// future around, so it is kept as small as the answer itself.
struct Served {
    answer: router::Answer,
    busy: Option<Busy>,
}

impl Future for Served {
    type Output = Result<hyper::Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.answer).poll(cx) {
            Poll::Ready(resp) => {
                this.busy = None;
                Poll::Ready(Ok(resp))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Closes connections idle past the idle timeout, for as long as the server runs.
async fn sweep_forever(conns: Arc<Connections>) {
    let mut tick = tokio::time::interval(conns.sweep_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        conns.sweep();
    }
}

/// Checks the whole store once, in the background, right after start (so
/// start-up stays fast): a failure is logged loudly and `/healthz` answers
/// 503 `degraded` with the reason; redirects go on. Stops early when
/// `stopping` is set.
async fn check_integrity(app: Arc<App>, stopping: Arc<std::sync::atomic::AtomicBool>) {
    let store = app.store.clone();
    let stop = stopping.clone();
    let started = std::time::Instant::now();
    let report = tokio::task::spawn_blocking(move || {
        store.check_until(&|| stop.load(std::sync::atomic::Ordering::Relaxed))
    })
    .await;
    let reason = match report {
        Ok(Ok(r)) if r.stopped => return,
        Ok(Ok(r)) if r.is_clean() => {
            tracing::info!(
                links = r.links,
                seconds = started.elapsed().as_secs_f64(),
                "integrity check passed"
            );
            return;
        }
        Ok(Ok(r)) => {
            for problem in &r.problems {
                tracing::error!(%problem, "INTEGRITY CHECK FAILED");
            }
            format!(
                "integrity check found {} problem(s), first: {}; stop kurz and run `kurz check`",
                r.problems.len(),
                r.problems.first().map_or("", String::as_str)
            )
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "INTEGRITY CHECK COULD NOT RUN");
            format!("the integrity check could not run: {e}")
        }
        Err(_) => "the integrity check crashed".to_owned(),
    };
    app.set_degraded(reason);
}

/// Stores pending referrer and bot counts every [`SOURCES_FLUSH_EVERY`], and
/// pending clicks every [`CLICK_FLUSH_EVERY`] as journal records of
/// up to [`CLICK_FLUSH_STEP`] day counts, then folds the journal into the
/// day counters in steps of [`CLICK_FOLD_STEP`] slugs for at most
/// [`CLICK_FOLD_BUDGET`] per tick ([`CLICK_FOLD_CATCH_UP`] when it lags). It runs on the runtime's workers with a
/// yield between steps rather than on a blocking thread: on a busy server
/// with few cores, a blocking thread doing a whole round at once took the
/// CPU from the request worker for milliseconds (and, with sled, kept
/// ~1 GB of memory alive under load at 10M links); small steps let
/// requests run in between.
async fn flush_clicks_forever(app: Arc<App>) {
    let mut tick = tokio::time::interval(CLICK_FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut errors = Throttle::default();
    let mut sources_due = tokio::time::Instant::now() + SOURCES_FLUSH_EVERY;
    loop {
        tick.tick().await;
        if tokio::time::Instant::now() >= sources_due {
            sources_due = tokio::time::Instant::now() + SOURCES_FLUSH_EVERY;
            // Usually a handful of merges; after a flood of distinct
            // referrers up to `MAX_PENDING`, so off the request workers.
            let store = app.store.clone();
            match tokio::task::spawn_blocking(move || store.flush_sources()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    if errors.allows(&e) {
                        tracing::error!(error = %e, "storing referrer and bot counts failed; they stay pending");
                    }
                }
                Err(_) => tracing::error!("the referrer and bot count flush panicked"),
            }
        }
        app.store.begin_click_round();
        loop {
            match app.store.flush_clicks_step(CLICK_FLUSH_STEP) {
                Ok(Some(_)) => tokio::task::yield_now().await,
                Ok(None) => break,
                Err(e) => {
                    if errors.allows(&e) {
                        tracing::error!(error = %e, "click flush failed; counts stay pending");
                    }
                    break;
                }
            }
        }
        let started = std::time::Instant::now();
        let budget = if app.store.fold_clicks_backlog() > CLICK_FOLD_BACKLOG {
            CLICK_FOLD_CATCH_UP
        } else {
            CLICK_FOLD_BUDGET
        };
        while app.store.fold_clicks_due() && started.elapsed() < budget {
            match app.store.fold_clicks_step(CLICK_FOLD_STEP) {
                Ok(true) => tokio::task::yield_now().await,
                Ok(false) => break,
                Err(e) => {
                    if errors.allows(&e) {
                        tracing::error!(error = %e, "folding the click journal failed; will retry");
                    }
                    break;
                }
            }
        }
    }
}

/// Lets the flusher log an error when it is new or a minute after it last
/// did: a full disk fails every tick, twice a second, and a log line
/// each time would only fill the disk faster.
#[derive(Default)]
struct Throttle {
    last: Option<(String, std::time::Instant)>,
}

impl Throttle {
    const EVERY: Duration = Duration::from_secs(60);

    fn allows(&mut self, e: &StoreError) -> bool {
        let text = e.to_string();
        let now = std::time::Instant::now();
        let allowed = match &self.last {
            Some((last, at)) => *last != text || now.duration_since(*at) >= Self::EVERY,
            None => true,
        };
        if allowed {
            self.last = Some((text, now));
        }
        allowed
    }
}
