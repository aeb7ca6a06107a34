//! The open connections: the cap on how many are served at once, which of
//! them sit idle, and closing those.
//!
//! A connection is *idle* while no request of it is being answered and no
//! byte moves either way (a client slowly downloading a large export is not
//! idle; one that stopped reading is). A request still waiting for its
//! body is not being answered: a connection whose requests all wait for
//! bodies counts as idle, and when it is closed it is dropped at once
//! rather than given the graceful grace period, so a crowd holding body
//! reads open (`Content-Length: 100` and no body) cannot keep others out
//! any more than an idle crowd can. At the cap, connections without any
//! request are closed before those waiting for a body, so a slow upload is
//! cut only when no truly idle connection is left. hyper
//! closes an HTTP/1.1 connection that waits longer than the header read
//! timeout for its next request, but not one that never sent a byte (the
//! auto builder is still sniffing for HTTP/2 then) nor an idle HTTP/2
//! connection. So the registry here closes every connection idle for longer
//! than [`Limits::idle_timeout`], whatever its protocol, and when all
//! [`Limits::max_connections`] slots are taken it closes the longest-idle
//! ones to make room: a crowd of idle or trickling clients cannot keep a
//! new client out, and a connection with a request in progress is never
//! cut (closing is hyper's graceful shutdown, which finishes the answer).
//!
//! The request path pays a few uncontended atomic increments per request
//! and per socket read or write on its own connection's counters; the
//! bookkeeping under the mutex runs once per connection and once per sweep.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// Default most connections served at once.
pub const MAX_CONNECTIONS: usize = 4096;
/// Default time a connection may sit idle, and the time a client has to
/// send a request's headers.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// File descriptors kept free for the store, logs and the listener when
/// the connection cap is fitted to the process's descriptor limit.
pub const RESERVED_FDS: u64 = 64;

/// How many connections are served and how long they may idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most connections served at once.
    pub max_connections: usize,
    /// Longest a connection may go without a request in progress.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            idle_timeout: IDLE_TIMEOUT,
        }
    }
}

/// One connection's counters, shared by its requests.
#[derive(Debug, Default)]
pub struct Conn {
    in_flight: AtomicU32,
    /// Of `in_flight`, the requests waiting for their body.
    awaiting_body: AtomicU32,
    /// Bumped by every request and every socket read or write that moved
    /// bytes: unchanged between two sweeps means nothing happened.
    activity: AtomicU64,
    close: Notify,
}

impl Conn {
    /// Marks a request as started; dropping the guard marks it done.
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        Busy(self.clone())
    }

    fn touch(&self) {
        self.activity.fetch_add(1, Ordering::Relaxed);
    }

    /// Completes when the registry wants this connection closed.
    pub async fn closing(&self) {
        self.close.notified().await;
    }

    /// Marks one of this connection's requests as waiting for its body;
    /// dropping the guard marks the body read (or given up).
    pub fn awaiting_body(self: &Arc<Self>) -> AwaitingBody {
        self.awaiting_body.fetch_add(1, Ordering::Relaxed);
        AwaitingBody(self.clone())
    }

    /// Whether this connection has requests, and every one of them waits
    /// for its body: nothing to finish if it is closed.
    pub fn only_awaits_bodies(&self) -> bool {
        let waiting = self.awaiting_body.load(Ordering::Relaxed);
        waiting > 0 && self.in_flight.load(Ordering::Relaxed) <= waiting
    }

    /// Whether a request of this connection is being answered (not merely
    /// waiting for its body).
    pub fn is_busy(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > self.awaiting_body.load(Ordering::Relaxed)
    }
}

/// A request of a connection waiting for its body (see [`Conn::awaiting_body`]).
#[derive(Debug)]
pub struct AwaitingBody(Arc<Conn>);

impl Drop for AwaitingBody {
    fn drop(&mut self) {
        self.0.awaiting_body.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection a request with a body came on, put in the request's
/// extensions by the server (only for requests with a body, so a redirect
/// pays nothing) for whoever reads the body to mark the wait.
#[derive(Debug, Clone)]
pub struct BodyOf(pub Arc<Conn>);

/// A request in progress on a connection.
#[derive(Debug)]
pub struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the sweeper knows of a connection.
#[derive(Debug)]
struct Entry {
    conn: Arc<Conn>,
    /// `activity` at the last sweep: unchanged means nothing happened since.
    seen: u64,
    /// When the connection was last seen with nothing to do.
    idle_since: Instant,
    /// Told to close; waiting for hyper to finish.
    closing: bool,
}

#[derive(Debug, Default)]
struct Open {
    entries: HashMap<u64, Entry>,
    next_id: u64,
    /// Entries told to close that have not ended yet.
    closing: usize,
}

/// The registry of open connections.
#[derive(Debug)]
pub struct Connections {
    limits: Limits,
    permits: Arc<Semaphore>,
    open: Mutex<Open>,
}

/// A connection's place in the registry; dropping it frees the place.
#[derive(Debug)]
pub struct Slot {
    registry: Arc<Connections>,
    id: u64,
    conn: Arc<Conn>,
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    /// The connection's counters.
    pub fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.registry.lock();
        if let Some(entry) = open.entries.remove(&self.id) {
            if entry.closing {
                open.closing -= 1;
            }
        }
    }
}

impl Connections {
    /// An empty registry with room for `limits.max_connections` (at least 1).
    pub fn new(limits: Limits) -> Arc<Self> {
        let limits = Limits {
            max_connections: limits.max_connections.max(1),
            ..limits
        };
        Arc::new(Connections {
            permits: Arc::new(Semaphore::new(limits.max_connections)),
            open: Mutex::new(Open::default()),
            limits,
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a free place, making room by closing the longest-idle
    /// connections when all are taken; only busy connections make it wait.
    pub async fn reserve(self: &Arc<Self>) -> OwnedSemaphorePermit {
        loop {
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => return permit,
                // Never closed: the semaphore lives as long as the registry.
                Err(TryAcquireError::Closed | TryAcquireError::NoPermits) => {}
            }
            self.shed();
            // Shed connections end within milliseconds; when none was idle,
            // look again shortly, as busy ones finish their requests.
            let wait = self.permits.clone().acquire_owned();
            if let Ok(Ok(permit)) = tokio::time::timeout(self.sweep_every(), wait).await {
                return permit;
            }
        }
    }

    /// Registers an accepted connection holding `permit`.
    pub fn register(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> Slot {
        let conn = Arc::new(Conn::default());
        let mut open = self.lock();
        let id = open.next_id;
        open.next_id += 1;
        open.entries.insert(
            id,
            Entry {
                conn: conn.clone(),
                seen: 0,
                idle_since: Instant::now(),
                closing: false,
            },
        );
        drop(open);
        Slot {
            registry: self.clone(),
            id,
            conn,
            _permit: permit,
        }
    }

    /// Closes the longest-idle connections (those without any request
    /// before those only waiting for bodies), a thirty-second of the cap at
    /// a time (so a burst of arrivals does not scan the registry for each),
    /// unless that many are already closing.
    fn shed(&self) {
        let batch = (self.limits.max_connections / 32).max(1);
        let mut open = self.lock();
        if open.closing >= batch {
            return;
        }
        // Connections with no request at all go first, then those whose
        // requests only wait for bodies; the longest-idle first in each.
        let mut idle: Vec<(bool, Instant, u64)> = open
            .entries
            .iter()
            .filter(|(_, e)| !e.closing && !e.conn.is_busy())
            .map(|(id, e)| (e.conn.only_awaits_bodies(), e.idle_since, *id))
            .collect();
        let take = (batch - open.closing).min(idle.len());
        if take == 0 {
            return;
        }
        if take < idle.len() {
            idle.select_nth_unstable(take - 1);
        }
        for (_, _, id) in &idle[..take] {
            if let Some(entry) = open.entries.get_mut(id) {
                entry.closing = true;
                entry.conn.close.notify_one();
            }
        }
        open.closing += take;
        tracing::debug!(
            closed = take,
            "at the connection cap: closed the longest-idle connections"
        );
    }

    /// How often [`sweep`](Self::sweep) should run: a quarter of the idle
    /// timeout, between 50 ms and 1 s.
    pub fn sweep_every(&self) -> Duration {
        (self.limits.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }

    /// Closes every connection that has been idle for the idle timeout.
    pub fn sweep(&self) {
        let now = Instant::now();
        let mut open = self.lock();
        let mut closed = 0;
        for entry in open.entries.values_mut() {
            let activity = entry.conn.activity.load(Ordering::Relaxed);
            if entry.conn.is_busy() || activity != entry.seen {
                entry.seen = activity;
                entry.idle_since = now;
            } else if !entry.closing
                && now.duration_since(entry.idle_since) >= self.limits.idle_timeout
            {
                entry.closing = true;
                entry.conn.close.notify_one();
                closed += 1;
            }
        }
        open.closing += closed;
    }

    /// Tells every connection to close (server shutdown).
    pub fn close_all(&self) {
        let mut open = self.lock();
        let mut closed = 0;
        for entry in open.entries.values_mut() {
            entry.conn.close.notify_one();
            if !entry.closing {
                entry.closing = true;
                closed += 1;
            }
        }
        open.closing += closed;
    }

    /// Waits until every connection has ended.
    pub async fn drained(&self) {
        // Every open connection holds a permit: all of them back means none is open.
        let all = u32::try_from(self.limits.max_connections).unwrap_or(u32::MAX);
        let _ = self.permits.acquire_many(all).await;
    }
}

/// A connection's socket, counting the reads and writes that move bytes
/// as activity of its [`Conn`].
#[derive(Debug)]
pub struct CountingIo<T> {
    inner: T,
    conn: Arc<Conn>,
}

impl<T> CountingIo<T> {
    /// Wraps `inner`, counting into `conn`.
    pub fn new(inner: T, conn: Arc<Conn>) -> Self {
        CountingIo { inner, conn }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
