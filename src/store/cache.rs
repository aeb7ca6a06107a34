//! The bounded in-memory link cache in front of the `links` tree.
//!
//! A redirect that hits the cache costs a hash lookup: the record is already
//! decoded, the `Location` header already built and checked, and the link's
//! click counter at hand. The cache is bounded by
//! bytes (part of `--cache-mb`) and evicts with quick_cache's CLOCK-Pro.
//! Updates and deletes invalidate through a generation counter so a lookup
//! that raced with a change can never leave the old record cached.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use compact_str::CompactString;
use hyper::header::HeaderValue;
use quick_cache::sync::Cache;
use quick_cache::Weighter;

use super::clicks::Tally;
use super::record::Link;

/// What the redirect path needs of a link, ready to serve. Holds the target
/// once, as the `Location` header itself, so more links fit in the cache's
/// byte budget and a redirect checks no bytes.
#[derive(Debug)]
pub struct CachedLink {
    /// The target as a `Location` header; `None` if the stored target
    /// cannot be one (a damaged record: the redirect answers 500).
    pub location: Option<HeaderValue>,
    /// The link's click counter.
    pub tally: Tally,
    /// See [`Link::expires_at`].
    pub expires_at: Option<i64>,
    /// See [`Link::max_clicks`].
    pub max_clicks: Option<u64>,
    /// See [`Link::redirect_status`].
    pub redirect_status: Option<u16>,
    /// Whether the link has a password: the redirect then asks for it
    /// instead of answering the target. The hash itself is not kept here.
    pub protected: bool,
}

impl CachedLink {
    /// Whether the link has expired at `now` (Unix ms).
    pub fn expired_at(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|e| now >= e)
    }

    /// Keeps what serving needs of a decoded record, with its slug's
    /// click counter.
    pub fn new(link: Link, tally: Tally) -> Self {
        CachedLink {
            location: HeaderValue::from_maybe_shared(Bytes::from(link.target)).ok(),
            tally,
            expires_at: link.expires_at,
            max_clicks: link.max_clicks,
            redirect_status: link.redirect_status,
            protected: link.password.is_some(),
        }
    }
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<CompactString, Arc<CachedLink>> for ByBytes {
    fn weight(&self, key: &CompactString, val: &Arc<CachedLink>) -> u64 {
        // The target on the heap (and the key, when it is too long to be
        // held inline), plus the entry, the Arc and map overhead, and the
        // click counter's entry (its slug, its fields and its slot in the
        // counters' map).
        let target = val.location.as_ref().map_or(0, HeaderValue::len);
        let key_heap = if key.is_heap_allocated() {
            key.len()
        } else {
            0
        };
        (key.len() + key_heap + target + 112 + 128) as u64
    }
}

/// Bounded slug → decoded link cache with race-free invalidation.
///
/// Keys are held inline in the map's entries (slugs up to 24 bytes, which
/// covers every generated one): a lookup then compares the slug without
/// following a pointer to the heap, which a `perf` profile showed as memory
/// stalls on the redirect path.
pub struct LinkCache {
    map: Cache<CompactString, Arc<CachedLink>, ByBytes>,
    generation: AtomicU64,
}

impl LinkCache {
    /// A cache holding at most about `bytes` of links.
    pub fn new(bytes: u64) -> Self {
        let bytes = bytes.max(64 * 1024);
        LinkCache {
            map: Cache::with_weighter((bytes / 256) as usize, bytes, ByBytes),
            generation: AtomicU64::new(0),
        }
    }

    /// The cached link for `slug`, if any.
    pub fn get(&self, slug: &str) -> Option<Arc<CachedLink>> {
        self.map.get(slug)
    }

    /// Takes a ticket before reading the store, to pass to [`LinkCache::insert`].
    pub fn ticket(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches a link read from the store after `ticket` was taken. If any
    /// invalidation happened since, the entry is dropped again: the read may
    /// have seen the old record.
    pub fn insert(&self, slug: &str, link: Arc<CachedLink>, ticket: u64) {
        self.map.insert(CompactString::from(slug), link);
        if self.generation.load(Ordering::SeqCst) != ticket {
            self.map.remove(slug);
        }
    }

    /// Forgets `slug` after its record changed or went away in the store.
    pub fn invalidate(&self, slug: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.map.remove(slug);
    }
}
