//! Prometheus metrics: the counters behind `GET /metrics` and its answer.
//!
//! Requests are counted by route [`Class`] and status code in plain atomics,
//! one per (class, status), laid out when the server starts; a redirect's
//! time in kurz's handler goes into a histogram of atomic buckets. So the
//! hot path takes no lock and allocates nothing for metrics: a relaxed
//! `fetch_add` per request, two more and two clock reads per redirect.
//! (`prometheus-client`'s own `Family` hashes its labels and takes a lock
//! per lookup, and its `Histogram` takes a lock per observation.) A scrape
//! reads these, the store's cheap figures (the bookkeeping's link count,
//! clicks and bot visits since start, the database size, cached) and writes
//! them in the Prometheus text format 0.0.4 with `prometheus-client`'s
//! encoder, which handles naming, escaping and the histogram layout.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::error::ApiError;
use super::{App, Body};
use crate::store::Activity;

/// The `Content-Type` of `/metrics`: the Prometheus text format, 0.0.4.
pub const CONTENT_TYPE_TEXT: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// How long a measured database size is reported before it is measured
/// again: sled's figure reads the metadata of each of its files, which is
/// blocking work, so a scrape every few seconds does not repeat it.
pub const DISK_SIZE_EVERY: Duration = Duration::from_secs(30);

/// Which kind of route answered a request: the `class` label of
/// `kurz_http_requests_total`. A small fixed set, so the number of series
/// stays bounded whatever paths clients try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `GET` or `HEAD /{slug}`, whatever the answer (302, 404, 410…).
    Redirect,
    /// `/api` and everything under `/api/`, `/api/session` included.
    Api,
    /// The web page, `/`.
    Page,
    /// The web page's files, `/assets/…`.
    Assets,
    /// `/healthz`.
    Health,
    /// `/metrics`.
    Metrics,
    /// The YOURLS-compatible API, `/yourls-api.php`.
    Yourls,
    /// Anything else: unknown paths, other methods on `/{slug}`.
    Other,
}

impl Class {
    /// Every class, in the order of their counters.
    pub const ALL: [Class; 8] = [
        Class::Redirect,
        Class::Api,
        Class::Page,
        Class::Assets,
        Class::Health,
        Class::Metrics,
        Class::Yourls,
        Class::Other,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Class::Redirect => "redirect",
            Class::Api => "api",
            Class::Page => "page",
            Class::Assets => "assets",
            Class::Health => "health",
            Class::Metrics => "metrics",
            Class::Yourls => "yourls",
            Class::Other => "other",
        }
    }
}

/// Status codes a `hyper::StatusCode` can hold: 100 to 999. Each class has
/// a counter for every one (7 KB a class): indexing beats a lookup, and no
/// status kurz might answer is ever dropped.
const STATUSES: usize = 900;
const FIRST_STATUS: usize = 100;

/// Upper bounds of the redirect latency buckets, in nanoseconds: 10 µs (a
/// cache hit is a few µs) to 1 s (a sled read stuck behind a busy disk).
pub const REDIRECT_BUCKETS_NS: [u64; 16] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

/// The live counters of one server. Updated by the router on every request.
pub struct Metrics {
    /// Requests by (class, status): `class * STATUSES + status - 100`.
    requests: Box<[AtomicU64]>,
    /// Redirects per latency bucket (not cumulative); the last is `+Inf`.
    redirect_buckets: [AtomicU64; REDIRECT_BUCKETS_NS.len() + 1],
    /// Total time of all redirects, in nanoseconds (585 years to overflow).
    redirect_nanos: AtomicU64,
    /// When the server started: uptime is measured from here.
    started: Instant,
    /// The last database size measured, and when. A std mutex: taken only
    /// by scrapes, never held across an `.await`.
    disk: Mutex<Option<(Instant, u64)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: (0..Class::ALL.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            redirect_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            redirect_nanos: AtomicU64::new(0),
            started: Instant::now(),
            disk: Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Counts one answered request of `class` with `status`.
    #[inline]
    pub fn count(&self, class: Class, status: StatusCode) {
        let slot =
            class as usize * STATUSES + usize::from(status.as_u16()).saturating_sub(FIRST_STATUS);
        if let Some(counter) = self.requests.get(slot) {
            counter.fetch_add(1, Relaxed);
        }
    }

    /// Records the time one redirect took in kurz's handler.
    #[inline]
    pub fn redirect_took(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        // Most redirects land in the first bucket, so a scan beats a search.
        let bucket = REDIRECT_BUCKETS_NS
            .iter()
            .position(|&upper| nanos <= upper)
            .unwrap_or(REDIRECT_BUCKETS_NS.len());
        if let Some(b) = self.redirect_buckets.get(bucket) {
            b.fetch_add(1, Relaxed);
        }
        self.redirect_nanos.fetch_add(nanos, Relaxed);
    }

    /// How long the server has run.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The database size, measured again (off the runtime's workers) when
    /// the last measure is older than [`DISK_SIZE_EVERY`]; `None` when it
    /// cannot be measured (the reason is logged).
    async fn disk_size(&self, app: &App) -> Option<u64> {
        let now = Instant::now();
        let cached = *self.disk.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, bytes)) = cached {
            if now.duration_since(at) < DISK_SIZE_EVERY {
                return Some(bytes);
            }
        }
        let store = app.store.clone();
        match tokio::task::spawn_blocking(move || store.size_on_disk()).await {
            Ok(Ok(bytes)) => {
                *self.disk.lock().unwrap_or_else(PoisonError::into_inner) = Some((now, bytes));
                Some(bytes)
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot measure the database size for /metrics");
                None
            }
            Err(_) => {
                tracing::warn!("measuring the database size for /metrics panicked");
                None
            }
        }
    }

    /// The request counters that are not zero, as (class, status, count).
    fn requests(&self) -> Vec<(Class, u16, u64)> {
        let mut out = Vec::new();
        for (c, class) in Class::ALL.iter().enumerate() {
            for s in 0..STATUSES {
                let n = self
                    .requests
                    .get(c * STATUSES + s)
                    .map_or(0, |a| a.load(Relaxed));
                if n > 0 {
                    // `s` < 900, so the status always fits a u16.
                    out.push((*class, u16::try_from(s + FIRST_STATUS).unwrap_or(0), n));
                }
            }
        }
        out
    }

    /// The redirect histogram: non-cumulative counts per bucket (the last
    /// is `+Inf`) and the sum of all times in nanoseconds.
    fn redirects(&self) -> (Vec<u64>, u64) {
        let buckets = self
            .redirect_buckets
            .iter()
            .map(|b| b.load(Relaxed))
            .collect();
        (buckets, self.redirect_nanos.load(Relaxed))
    }
}

/// Answers `GET /metrics`: every metric in the Prometheus text format.
/// The caller has already checked the key, unless metrics are public.
///
/// # Errors
/// 500 when the store cannot be read (logged) or the text cannot be written.
pub async fn scrape(app: Arc<App>) -> Result<Response<Body>, ApiError> {
    let links = app.store.link_count()?;
    let disk_bytes = app.metrics.disk_size(&app).await;
    let (redirect_buckets, redirect_nanos) = app.metrics.redirects();
    let snapshot = Snapshot {
        requests: app.metrics.requests(),
        redirect_buckets,
        redirect_nanos,
        links,
        activity: app.store.activity(),
        disk_bytes,
        uptime: app.metrics.uptime(),
    };
    let mut registry = Registry::with_prefix("kurz");
    registry.register_collector(Box::new(snapshot));
    let mut text = String::with_capacity(4096);
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).map_err(|_| {
        tracing::error!("cannot encode the metrics");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics",
        )
    })?;
    let mut resp = Response::new(Body::from(text));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_TEXT));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// The figures of one scrape, written by [`Collector::encode`].
#[derive(Debug)]
struct Snapshot {
    requests: Vec<(Class, u16, u64)>,
    redirect_buckets: Vec<u64>,
    redirect_nanos: u64,
    links: Option<u64>,
    activity: Activity,
    disk_bytes: Option<u64>,
    uptime: Duration,
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "build_info",
            "The version of kurz, as the value 1 labelled with it.",
            None,
            MetricType::Gauge,
        )?;
        let labels = [("version", env!("CARGO_PKG_VERSION"))];
        ConstGauge::new(1u64).encode(family.encode_family(&labels)?)?;

        let mut family = encoder.encode_descriptor(
            "http_requests",
            "Requests answered since the server started, by route class and status code.",
            None,
            MetricType::Counter,
        )?;
        for (class, status, n) in &self.requests {
            let labels = ([("class", class.label())], [("status", *status)]);
            ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
        }

        let mut histogram = encoder.encode_descriptor(
            "redirect_duration",
            "Time in kurz's handler of GET and HEAD /{slug}, whatever the answer.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        let mut buckets: Vec<(f64, u64)> = REDIRECT_BUCKETS_NS
            .iter()
            .zip(&self.redirect_buckets)
            .map(|(&upper, &n)| (upper as f64 / 1e9, n))
            .collect();
        buckets.push((
            f64::INFINITY,
            self.redirect_buckets.last().copied().unwrap_or(0),
        ));
        let count = self.redirect_buckets.iter().sum();
        histogram.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.redirect_nanos as f64 / 1e9,
            count,
            &buckets,
            None,
        )?;

        if let Some(links) = self.links {
            let gauge = ConstGauge::new(links);
            gauge.encode(encoder.encode_descriptor(
                "links",
                "Links stored now.",
                None,
                gauge.metric_type(),
            )?)?;
        }

        let clicks = ConstCounter::new(self.activity.clicks);
        clicks.encode(encoder.encode_descriptor(
            "clicks",
            "Clicks counted since the server started (bot visits are counted apart).",
            None,
            clicks.metric_type(),
        )?)?;

        let bots = ConstCounter::new(self.activity.bot_visits);
        bots.encode(encoder.encode_descriptor(
            "bot_visits",
            "Visits by known bots (link previews, crawlers) since the server started.",
            None,
            bots.metric_type(),
        )?)?;

        if let Some(bytes) = self.disk_bytes {
            let gauge = ConstGauge::new(bytes);
            gauge.encode(encoder.encode_descriptor(
                "database_size",
                "Size of the database on disk, measured at most every 30 s.",
                Some(&Unit::Bytes),
                gauge.metric_type(),
            )?)?;
        }

        let uptime = ConstGauge::new(self.uptime.as_secs_f64());
        uptime.encode(encoder.encode_descriptor(
            "uptime",
            "Time since the server started.",
            Some(&Unit::Seconds),
            uptime.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_lands_in_the_first_bucket_whose_bound_it_does_not_pass() {
        let m = Metrics::default();
        for micros in [0, 10, 11, 999_999, 1_000_000, 1_000_001, 60_000_000] {
            m.redirect_took(Duration::from_micros(micros));
        }
        let (buckets, nanos) = m.redirects();
        // `le` is inclusive: 10 µs is in the 10 µs bucket, 1 s in the 1 s one.
        assert_eq!(buckets.first(), Some(&2));
        assert_eq!(buckets.get(1), Some(&1));
        assert_eq!(buckets.get(REDIRECT_BUCKETS_NS.len() - 1), Some(&2));
        assert_eq!(buckets.last(), Some(&2));
        assert_eq!(buckets.iter().sum::<u64>(), 7);
        assert_eq!(nanos, 63_000_021_000);
    }

    #[test]
    fn every_status_a_response_can_have_is_counted() {
        let m = Metrics::default();
        for code in [100, 302, 599, 999] {
            let status = StatusCode::from_u16(code).unwrap();
            m.count(Class::Other, status);
            m.count(Class::Redirect, status);
        }
        let counted = m.requests();
        assert_eq!(counted.len(), 8);
        assert!(counted.contains(&(Class::Redirect, 100, 1)));
        assert!(counted.contains(&(Class::Other, 999, 1)));
    }
}
