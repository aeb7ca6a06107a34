//! Click counting: exact in-memory atomic counters and their flush to sled.
//!
//! A redirect must not write to sled (a `get` plus two merges costs ~9 µs at
//! 10k links and ~70 µs at 1M), nor read it for counting. Instead every
//! click bumps two atomics: the link's pending count and its pending count
//! for the day. A background flusher stores each round of day counts as one
//! journal record ([`journal`]), later folded into the `daily` tree, and
//! never reads sled to do it. A link's stored total is the sum of its days
//! plus the clicks it has without a day (from an import, in the `clicks`
//! tree), so the flush needs no second write per slug. Every count anyone
//! reads is stored + pending.
//!
//! Links with a click limit need their absolute total on the hot path: their
//! entry loads the stored total once (`base`), after which base + count is
//! exact and the limit check is one atomic compare-and-increment.
//!
//! Locks: all are `std` locks held only for hash lookups or sled calls, never
//! across an `.await`. The redirect path takes two map read locks; the map
//! write locks are taken when a slug is first clicked after a quiet spell,
//! and by the flusher. `gate` serialises the flusher against readers of
//! counts and against deletes, so a count is never seen twice (in sled and
//! still pending) or never (taken from pending, not yet in sled).

use std::collections::HashMap as StdHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

mod journal;
mod round;
#[cfg(test)]
mod tests;

pub use journal::DailyLog;

use super::links::Links;
use super::{counter, daily_key, day_from_key, StoreError};

/// The maps on the redirect path hash a slug twice per click: aHash is
/// several times cheaper than std's SipHash there, and still seeded at
/// random so crafted slugs cannot force collisions.
type HashMap<K, V> = StdHashMap<K, V, ahash::RandomState>;

/// `base` of an entry whose stored total has not been loaded.
const UNKNOWN: u64 = u64::MAX;

/// Pending clicks of one slug.
struct Live {
    /// Clicks counted since this entry was created.
    count: AtomicU64,
    /// The part of `count` already merged into the `clicks` tree.
    persisted: AtomicU64,
    /// The stored total when the entry was created, or [`UNKNOWN`]: loaded
    /// only for links with a click limit, which need base + count.
    base: AtomicU64,
    /// Clicked since the flusher last looked; idle, clean entries leave memory.
    touched: AtomicBool,
}

impl Live {
    fn new() -> Self {
        Live {
            count: AtomicU64::new(0),
            persisted: AtomicU64::new(0),
            base: AtomicU64::new(UNKNOWN),
            touched: AtomicBool::new(true),
        }
    }

    fn pending(&self) -> u64 {
        self.count.load(Ordering::SeqCst) - self.persisted.load(Ordering::SeqCst)
    }

    /// Counts one click unless base + count has reached `max`. `None` when
    /// the limit cannot be checked yet (base not loaded).
    fn try_add(&self, max: Option<u64>) -> Option<Counted> {
        self.touched.store(true, Ordering::Relaxed);
        let Some(max) = max else {
            self.count.fetch_add(1, Ordering::SeqCst);
            return Some(Counted::Yes);
        };
        let base = self.base.load(Ordering::SeqCst);
        if base == UNKNOWN {
            return None;
        }
        let room = max.saturating_sub(base);
        Some(
            match self
                .count
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                    (c < room).then_some(c + 1)
                }) {
                Ok(_) => Counted::Yes,
                Err(_) => Counted::LimitReached,
            },
        )
    }
}

/// What the gate protects besides the flush itself.
#[derive(Default)]
struct Gate {
    /// Flush rounds begun so far.
    round: u64,
    /// Slugs deleted lately, with the round they were deleted in. A click
    /// that resolved a link just before its deletion may still be counted
    /// after it; the flusher drops counts for these slugs unless the link
    /// exists again.
    deleted: HashMap<Box<[u8]>, u64>,
    /// Day counts taken out of `days` for this round; those before `next`
    /// are stored, the rest are still pending for readers.
    draining: Vec<(Arc<[u8]>, u64)>,
    next: usize,
    /// A round was begun and has not ended.
    active: bool,
}

/// Result of trying to count a click against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// The click was counted; the link may redirect.
    Yes,
    /// The link already had `max_clicks` clicks; nothing was counted.
    LimitReached,
}

/// Pending click counts and the flush that moves them into sled.
pub struct ClickCounts {
    clicks: sled::Tree,
    daily: DailyLog,
    links: Links,
    totals: RwLock<HashMap<Box<[u8]>, Live>>,
    /// Pending clicks per slug-day key. An entry outlives the round that
    /// stores its count (only its counter is reset), so a link clicked
    /// round after round is counted under the read lock without allocating;
    /// an entry idle for a whole round leaves.
    days: RwLock<HashMap<Arc<[u8]>, AtomicU64>>,
    gate: Mutex<Gate>,
}

// A panic while a lock was held cannot leave these maps half-updated in a
// way that matters (each change is one insert or one atomic op), so a
// poisoned lock is used as is rather than taking the server down.
fn unpoison<G>(r: Result<G, PoisonError<G>>) -> G {
    r.unwrap_or_else(PoisonError::into_inner)
}

impl ClickCounts {
    /// Counters over the given trees; `links` is consulted so counts for a
    /// link deleted while its clicks were pending are dropped, not stored.
    pub fn new(clicks: sled::Tree, daily: DailyLog, links: Links) -> Self {
        ClickCounts {
            clicks,
            daily,
            links,
            totals: RwLock::new(HashMap::default()),
            days: RwLock::new(HashMap::default()),
            gate: Mutex::new(Gate::default()),
        }
    }

    /// The stored total of `slug`: its day buckets plus the clicks it has
    /// without a day (brought in by an import).
    fn stored_total(&self, slug: &[u8]) -> Result<u64, StoreError> {
        let mut total = match self.clicks.get(slug)? {
            None => 0,
            Some(v) => {
                counter::decode(&v).ok_or_else(|| StoreError::corrupt(slug, "click counter"))?
            }
        };
        self.daily
            .for_each(slug, 0, u32::MAX, |_, n| total = total.saturating_add(n))?;
        Ok(total)
    }

    /// Counts one click on `slug` on `day`, unless the link already has
    /// `max` clicks. The check and the increment are one atomic step, so N
    /// concurrent clicks on a link with `max = k` count exactly k.
    ///
    /// # Errors
    /// Reading the stored total of a slug not clicked since the last flush
    /// can fail in sled, or find a damaged counter.
    pub fn record(&self, slug: &str, day: u32, max: Option<u64>) -> Result<Counted, StoreError> {
        let key = slug.as_bytes();
        let fast = {
            let totals = unpoison(self.totals.read());
            totals.get(key).and_then(|live| live.try_add(max))
        };
        let counted = match fast {
            Some(c) => c,
            None => {
                // Loading a base must not race a merge of this slug's pending
                // clicks into sled, so it happens under the gate.
                let _gate = max.map(|_| unpoison(self.gate.lock()));
                let mut totals = unpoison(self.totals.write());
                let live = totals.entry(key.into()).or_insert_with(Live::new);
                if max.is_some() && live.base.load(Ordering::SeqCst) == UNKNOWN {
                    // sled holds the stored total, which includes what this
                    // entry has already merged.
                    let stored = self.stored_total(key)?;
                    let merged = live.persisted.load(Ordering::SeqCst);
                    live.base
                        .store(stored.saturating_sub(merged), Ordering::SeqCst);
                }
                match live.try_add(max) {
                    Some(c) => c,
                    None => unreachable!("base is loaded above whenever there is a limit"),
                }
            }
        };
        if counted == Counted::Yes {
            self.add_day(key, day);
        }
        Ok(counted)
    }

    fn add_day(&self, slug: &[u8], day: u32) {
        // Built on the stack: this runs on every redirect.
        let mut buf = [0u8; crate::slug::MAX_LEN + 5];
        let heap;
        let key: &[u8] = match buf.get_mut(..slug.len() + 5) {
            Some(k) => {
                let (s, rest) = k.split_at_mut(slug.len());
                s.copy_from_slice(slug);
                rest[0] = 0;
                rest[1..].copy_from_slice(&day.to_be_bytes());
                k
            }
            None => {
                heap = daily_key(slug, day);
                &heap
            }
        };
        {
            let days = unpoison(self.days.read());
            if let Some(n) = days.get(key) {
                n.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut days = unpoison(self.days.write());
        days.entry(Arc::from(key))
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The live total of `slug`: stored + pending.
    ///
    /// # Errors
    /// sled read errors and damaged counters.
    pub fn total(&self, slug: &str) -> Result<u64, StoreError> {
        let _gate = unpoison(self.gate.lock());
        let stored = self.stored_total(slug.as_bytes())?;
        let pending = unpoison(self.totals.read())
            .get(slug.as_bytes())
            .map_or(0, Live::pending);
        Ok(stored + pending)
    }

    /// Clicks of `slug` on each day of `from..=to`: stored + pending.
    ///
    /// # Errors
    /// sled read errors and damaged counters.
    pub fn daily(&self, slug: &str, from: u32, to: u32) -> Result<Vec<u64>, StoreError> {
        let gate = unpoison(self.gate.lock());
        let len = (to.saturating_sub(from) + 1) as usize;
        let mut out = vec![0u64; len];
        self.daily.for_each(slug.as_bytes(), from, to, |d, n| {
            if let Some(slot) = out.get_mut((d - from) as usize) {
                *slot += n;
            }
        })?;
        let days = unpoison(self.days.read());
        for (day, slot) in (from..=to).zip(out.iter_mut()) {
            if let Some(n) = days.get(&*daily_key(slug.as_bytes(), day)) {
                *slot += n.load(Ordering::SeqCst);
            }
        }
        // The round's undrained counts: one pass, as they are not sorted.
        for (key, n) in &gate.draining[gate.next..] {
            if !is_day_key_of(key, slug.as_bytes()) {
                continue;
            }
            let slot = day_from_key(key)
                .filter(|d| (from..=to).contains(d))
                .and_then(|d| out.get_mut((d - from) as usize));
            if let Some(slot) = slot {
                *slot += n;
            }
        }
        Ok(out)
    }

    /// Whether a fold of the journal into the day counters is under way
    /// or due.
    pub fn fold_due(&self) -> bool {
        self.daily.fold_due()
    }

    /// Slug-days waiting to be folded into the day counters.
    pub fn fold_backlog(&self) -> usize {
        self.daily.backlog()
    }

    /// One step of folding the journal into the day counters: the counts
    /// of up to `max_slugs` slugs. False once nothing is left to fold.
    ///
    /// # Errors
    /// sled errors; the step is tried again later.
    pub fn fold_step(&self, max_slugs: usize) -> Result<bool, StoreError> {
        self.daily.fold_step(max_slugs)
    }

    /// Calls `f` with each stored (not pending) day count of `slug`.
    ///
    /// # Errors
    /// sled errors and damaged counters.
    pub fn stored_days(&self, slug: &[u8], f: impl FnMut(u32, u64)) -> Result<(), StoreError> {
        self.daily.for_each(slug, 0, u32::MAX, f)
    }

    /// Drops every count of `slug`, pending and stored (the link is gone).
    ///
    /// # Errors
    /// sled errors while removing the stored counters.
    pub fn forget(&self, slug: &str) -> Result<(), StoreError> {
        let mut gate = unpoison(self.gate.lock());
        let key = slug.as_bytes();
        let round = gate.round;
        gate.deleted.insert(key.into(), round);
        let next = gate.next;
        for (k, n) in &mut gate.draining[next..] {
            if is_day_key_of(k, key) {
                *n = 0;
            }
        }
        unpoison(self.totals.write()).remove(key);
        unpoison(self.days.write()).retain(|k, _| !is_day_key_of(k, key));
        self.clicks.remove(key)?;
        self.daily.remove(key)
    }
}

fn slug_from_day_key(key: &[u8]) -> &[u8] {
    &key[..key.len().saturating_sub(5)]
}

fn is_day_key_of(key: &[u8], slug: &[u8]) -> bool {
    key.len() == slug.len() + 5 && key.starts_with(slug) && key[slug.len()] == 0
}
