//! Click counting: exact in-memory atomic counters and their flush to sled.
//!
//! A redirect must not write to sled (a `get` plus two merges costs ~9 µs at
//! 10k links and ~70 µs at 1M), nor read it for counting. Instead every
//! click bumps two atomics in its slug's entry ([`Tally`]), which the link
//! cache keeps beside the link: the link's pending count, and this round's
//! count for the day. An entry whose round count leaves zero goes on a dirty
//! list; a background flusher takes the listed round counts and stores them
//! as one journal record ([`journal`]), later folded into the `daily` tree,
//! and never reads sled to do it. A link's stored total is the sum of its
//! days plus the clicks it has without a day (from an import, in the
//! `clicks` tree), so the flush needs no second write per slug. Every count
//! anyone reads is stored + pending.
//!
//! Links with a click limit need their absolute total on the hot path: their
//! entry loads the stored total once (`base`), after which base + count is
//! exact and the limit check is one atomic compare-and-increment.
//!
//! Locks: all are `std` locks held only for hash lookups, short list
//! operations or sled calls, never across an `.await`. A click takes none,
//! except the dirty list's mutex for its entry's first click of a round and
//! the gate on the first click of a new day. The entries' map is locked when
//! a link enters the cache, by readers of counts, and by the flusher.
//! `gate` serialises the flusher against readers of counts and against
//! deletes, so a count is never seen twice (in sled and still pending) or
//! never (taken from pending, not yet in sled).

use std::collections::{BTreeMap, HashMap as StdHashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

pub mod days;
mod journal;
mod round;
#[cfg(test)]
mod tests;

pub use journal::DailyLog;

use super::links::Links;
use super::{counter, StoreError};

/// The map of pending totals hashes a slug when a link enters the link
/// cache and when an API call reads counts: aHash is several times cheaper
/// than std's SipHash, and still seeded at random so crafted slugs cannot
/// force collisions.
type HashMap<K, V> = StdHashMap<K, V, ahash::RandomState>;

/// `base` of an entry whose stored total has not been loaded.
const UNKNOWN: u64 = u64::MAX;

/// The low half of [`Live::round`] counts clicks; past this many in one
/// round they move to the gate's spill list, so the count never wraps into
/// the day (a round can last long while the disk is full).
const SPILL_AT: u64 = 1 << 31;

/// How often the end of a round drops idle entries from the map of
/// pending totals. The sweep walks the whole map, which holds an entry for
/// every cached link: at 10M links (~200,000 cached) walking it after every
/// round took ~4% of the server's CPU. An entry the link cache let
/// go stays at most this much longer (~150 bytes each).
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// The count half of [`Live::round`].
const COUNT: u64 = u32::MAX as u64;

/// The round word of `day` with `n` clicks.
fn pack(day: u32, n: u64) -> u64 {
    (u64::from(day) << 32) | n
}

/// The (day, clicks) of a round word.
fn unpack(word: u64) -> (u32, u64) {
    ((word >> 32) as u32, word & COUNT)
}

/// Pending clicks of one slug. A cached link holds its slug's entry (as a
/// [`Tally`]), so a redirect counts with atomic operations on it alone: no
/// hashing, no lock, no allocation.
struct Live {
    /// The slug, shared with the map key and every round that stores it.
    slug: Arc<[u8]>,
    /// Clicks counted since this entry was created.
    count: AtomicU64,
    /// The part of `count` already merged into the `clicks` tree.
    persisted: AtomicU64,
    /// The stored total when the entry was created, or [`UNKNOWN`]: loaded
    /// only for links with a click limit, which need base + count.
    base: AtomicU64,
    /// Clicked since the flusher last looked; idle, clean entries leave memory.
    touched: AtomicBool,
    /// This round's clicks and their day ([`pack`]ed): what the next round
    /// takes. A click on another day first moves the old day's clicks to
    /// the gate's spill list.
    round: AtomicU64,
}

impl Live {
    fn new(slug: Arc<[u8]>) -> Self {
        Live {
            slug,
            count: AtomicU64::new(0),
            persisted: AtomicU64::new(0),
            base: AtomicU64::new(UNKNOWN),
            touched: AtomicBool::new(true),
            round: AtomicU64::new(0),
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

/// A slug's click counter, kept by its entry in the link cache so that
/// counting a redirect touches only this entry. Get one with
/// [`ClickCounts::tally`].
#[derive(Clone)]
pub struct Tally(Arc<Live>);

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tally")
            .field("slug", &String::from_utf8_lossy(&self.0.slug))
            .field("pending", &self.0.pending())
            .finish()
    }
}

/// Clicks of one slug-day on their way to sled.
struct Drain {
    live: Arc<Live>,
    day: u32,
    n: u64,
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
    /// Clicks moved out of an entry's round word before a round took them
    /// (the day changed, or the word was nearly full); the next round
    /// takes these too.
    spilled: Vec<Drain>,
    /// The dirty list this round took, not yet looked at: each flush step
    /// takes the counts of its share of them, so no step stalls the
    /// runtime worker it runs on for long. Their counts are still in their
    /// round words, where readers find them.
    taken: Vec<Arc<Live>>,
    /// Day counts taken for this round; those before `next` are stored,
    /// the rest are still pending for readers.
    draining: Vec<Drain>,
    next: usize,
    /// A round was begun and has not ended.
    active: bool,
    /// When idle entries were last dropped from `totals`.
    swept: Option<Instant>,
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
    /// Every entry with pending clicks, clicked lately, or held by a cached
    /// link, so readers find a slug's pending count here.
    totals: RwLock<HashMap<Arc<[u8]>, Arc<Live>>>,
    /// Entries whose round word went from no clicks to some since the last
    /// round began: what the next round takes, without walking `totals`.
    dirty: Mutex<Vec<Arc<Live>>>,
    gate: Mutex<Gate>,
    /// [`SWEEP_EVERY`]; tests shorten it.
    sweep_every: Duration,
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
            dirty: Mutex::new(Vec::new()),
            gate: Mutex::new(Gate::default()),
            sweep_every: SWEEP_EVERY,
        }
    }

    /// The counter of `slug`, for its entry in the link cache. The entry
    /// stays in memory while anything holds it.
    pub fn tally(&self, slug: &str) -> Tally {
        let key = slug.as_bytes();
        if let Some(live) = unpoison(self.totals.read()).get(key) {
            return Tally(live.clone());
        }
        let mut totals = unpoison(self.totals.write());
        let live = totals
            .entry(Arc::from(key))
            .or_insert_with_key(|k| Arc::new(Live::new(k.clone())));
        Tally(live.clone())
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

    /// Counts one click on `slug` on `day`; see [`ClickCounts::count`].
    /// Looks the counter up by slug, where the redirect path uses the one
    /// its cached link holds.
    #[cfg(test)]
    fn record(&self, slug: &str, day: u32, max: Option<u64>) -> Result<Counted, StoreError> {
        self.count(&self.tally(slug), day, max)
    }

    /// Counts one click on `tally`'s slug on `day`, unless the link already
    /// has `max` clicks. The check and the increment are one atomic step,
    /// so N concurrent clicks on a link with `max = k` count exactly k.
    ///
    /// # Errors
    /// Loading the stored total of a link with a limit, once per entry,
    /// can fail in sled or find a damaged counter.
    pub fn count(&self, tally: &Tally, day: u32, max: Option<u64>) -> Result<Counted, StoreError> {
        let live = &tally.0;
        let counted = match live.try_add(max) {
            Some(c) => c,
            None => {
                // Loading a base must not race a merge of this slug's pending
                // clicks into sled, so it happens under the gate.
                let _gate = unpoison(self.gate.lock());
                if live.base.load(Ordering::SeqCst) == UNKNOWN {
                    // sled holds the stored total, which includes what this
                    // entry has already merged.
                    let stored = self.stored_total(&live.slug)?;
                    let merged = live.persisted.load(Ordering::SeqCst);
                    // A saturated total must not read as "not loaded".
                    let base = stored.saturating_sub(merged).min(UNKNOWN - 1);
                    live.base.store(base, Ordering::SeqCst);
                }
                match live.try_add(max) {
                    Some(c) => c,
                    None => unreachable!("base is loaded above whenever there is a limit"),
                }
            }
        };
        if counted == Counted::Yes {
            self.add_day(live, day);
        }
        Ok(counted)
    }

    /// Adds one click on `day` to `live`'s round word.
    fn add_day(&self, live: &Arc<Live>, day: u32) {
        let mut word = live.round.load(Ordering::Acquire);
        loop {
            let (at, n) = unpack(word);
            if at != day || n >= SPILL_AT {
                return self.spill(live, day);
            }
            match live.round.compare_exchange_weak(
                word,
                word + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if n == 0 {
                        // The first click since a round took this word: the
                        // next round must look here.
                        unpoison(self.dirty.lock()).push(live.clone());
                    }
                    return;
                }
                Err(now) => word = now,
            }
        }
    }

    /// Moves `live`'s round word to the gate's spill list and starts it
    /// over with one click on `day`. Rare: the first click of a new day, or
    /// a word nearly full.
    fn spill(&self, live: &Arc<Live>, day: u32) {
        let mut gate = unpoison(self.gate.lock());
        // One atomic swap: a click racing this one lands either in the old
        // word (moved here) or in the new one.
        let (at, n) = unpack(live.round.swap(pack(day, 1), Ordering::AcqRel));
        if n > 0 {
            gate.spilled.push(Drain {
                live: live.clone(),
                day: at,
                n,
            });
        }
        drop(gate);
        unpoison(self.dirty.lock()).push(live.clone());
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
            .map_or(0, |live| live.pending());
        Ok(stored.saturating_add(pending))
    }

    /// Clicks of `slug` on each day of `from..=to`: stored + pending.
    ///
    /// # Errors
    /// sled read errors and damaged counters.
    pub fn daily(&self, slug: &str, from: u32, to: u32) -> Result<Vec<u64>, StoreError> {
        let gate = unpoison(self.gate.lock());
        let key = slug.as_bytes();
        let len = (to.saturating_sub(from) + 1) as usize;
        let mut out = vec![0u64; len];
        let mut add = |day: u32, n: u64| {
            if let Some(slot) = day
                .checked_sub(from)
                .filter(|_| day <= to)
                .and_then(|i| out.get_mut(i as usize))
            {
                *slot = slot.saturating_add(n);
            }
        };
        self.each_day(&gate, key, from, to, &mut add)?;
        Ok(out)
    }

    /// Calls `add` with each day count of `key` in `from..=to`, stored and
    /// pending (a day may come more than once: the caller sums). `gate` is
    /// the flusher's gate, held by the caller, so no count moves from
    /// pending to stored meanwhile.
    fn each_day(
        &self,
        gate: &Gate,
        key: &[u8],
        from: u32,
        to: u32,
        add: &mut impl FnMut(u32, u64),
    ) -> Result<(), StoreError> {
        self.daily.for_each(key, from, to, &mut *add)?;
        if let Some(live) = unpoison(self.totals.read()).get(key) {
            let (day, n) = unpack(live.round.load(Ordering::SeqCst));
            add(day, n);
        }
        // The round's unstored counts and the spilled ones: one pass each,
        // as they are not sorted.
        for d in gate.draining[gate.next..].iter().chain(&gate.spilled) {
            if *d.live.slug == *key {
                add(d.day, d.n);
            }
        }
        Ok(())
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

    /// Every click of `slug`, stored + pending, at one moment of the
    /// flusher: the clicks it has without a day, and each day's count (days
    /// without clicks left out). Its total is their sum, so a record made
    /// of it always adds up, pending counts in every part of it.
    ///
    /// # Errors
    /// sled read errors and damaged counters.
    pub fn snapshot(&self, slug: &str) -> Result<(u64, BTreeMap<u32, u64>), StoreError> {
        // Under the gate, as in `daily`: no count moves from pending to
        // stored while both are read.
        let gate = unpoison(self.gate.lock());
        let key = slug.as_bytes();
        let dayless = match self.clicks.get(key)? {
            None => 0,
            Some(v) => {
                counter::decode(&v).ok_or_else(|| StoreError::corrupt(key, "click counter"))?
            }
        };
        let mut days = BTreeMap::new();
        let mut add = |day: u32, n: u64| {
            if n > 0 {
                let count: &mut u64 = days.entry(day).or_default();
                *count = count.saturating_add(n);
            }
        };
        self.each_day(&gate, key, 0, u32::MAX, &mut add)?;
        Ok((dayless, days))
    }

    /// Adds imported day counts (day, count) of `slug` to the stored ones.
    ///
    /// # Errors
    /// sled errors; nothing is added then.
    pub fn import_days(&self, slug: &[u8], counts: &[(u32, u64)]) -> Result<(), StoreError> {
        self.daily.import(slug, counts)
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
        for d in &mut gate.draining[next..] {
            if *d.live.slug == *key {
                d.n = 0;
            }
        }
        gate.spilled.retain(|d| *d.live.slug != *key);
        if let Some(live) = unpoison(self.totals.write()).remove(key) {
            // Cached links of the deleted link may still hold the entry.
            live.round.store(0, Ordering::SeqCst);
        }
        self.clicks.remove(key)?;
        self.daily.remove(key)
    }
}

fn slug_from_day_key(key: &[u8]) -> &[u8] {
    &key[..key.len().saturating_sub(5)]
}
