//! Click counting: exact in-memory atomic counters and their flush to sled.
//!
//! A redirect must not write to sled (a `get` plus two merges costs ~9 µs at
//! 10k links and ~70 µs at 1M). Instead every click bumps two atomics: the
//! link's live total and its pending count for the day. A background flusher
//! merges the pending amounts into the `clicks` and `daily` trees, one merge
//! per dirty slug and day. Every count anyone reads is stored + pending.
//!
//! Locks: all are `std` locks held only for hash lookups or sled calls, never
//! across an `.await`. The redirect path takes two map read locks; the map
//! write locks are taken when a slug is first clicked since it was last
//! flushed, and by the flusher. `gate` serialises the flusher against readers
//! of daily counts and against deletes, so a count is never seen twice (in
//! sled and still pending) or never (taken from pending, not yet in sled).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

use super::{counter, daily_key, StoreError};

/// Live click total of one slug since it was last loaded from sled.
struct Live {
    /// Stored + pending: the authoritative count while the entry exists.
    total: AtomicU64,
    /// The part of `total` already merged into the `clicks` tree.
    persisted: AtomicU64,
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
    daily: sled::Tree,
    links: sled::Tree,
    totals: RwLock<HashMap<Box<[u8]>, Live>>,
    days: RwLock<HashMap<Box<[u8]>, AtomicU64>>,
    gate: Mutex<()>,
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
    pub fn new(clicks: sled::Tree, daily: sled::Tree, links: sled::Tree) -> Self {
        ClickCounts {
            clicks,
            daily,
            links,
            totals: RwLock::new(HashMap::new()),
            days: RwLock::new(HashMap::new()),
            gate: Mutex::new(()),
        }
    }

    fn stored_total(&self, slug: &[u8]) -> Result<u64, StoreError> {
        match self.clicks.get(slug)? {
            None => Ok(0),
            Some(v) => {
                counter::decode(&v).ok_or_else(|| StoreError::corrupt(slug, "click counter"))
            }
        }
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
        let counted = {
            let totals = unpoison(self.totals.read());
            totals.get(key).map(|live| try_add(&live.total, max))
        };
        let counted = match counted {
            Some(c) => c,
            None => {
                let mut totals = unpoison(self.totals.write());
                match totals.get(key) {
                    Some(live) => try_add(&live.total, max),
                    None => {
                        let stored = self.stored_total(key)?;
                        let live = Live {
                            total: AtomicU64::new(stored),
                            persisted: AtomicU64::new(stored),
                        };
                        let counted = try_add(&live.total, max);
                        totals.insert(key.into(), live);
                        counted
                    }
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
        days.entry(Box::from(key))
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The live total of `slug`: stored + pending.
    ///
    /// # Errors
    /// sled read errors and damaged counters.
    pub fn total(&self, slug: &str) -> Result<u64, StoreError> {
        {
            let totals = unpoison(self.totals.read());
            if let Some(live) = totals.get(slug.as_bytes()) {
                return Ok(live.total.load(Ordering::SeqCst));
            }
        }
        // Entries leave the map only after their count is in sled.
        self.stored_total(slug.as_bytes())
    }

    /// Clicks of `slug` on each day of `from..=to`: stored + pending.
    ///
    /// # Errors
    /// sled read errors and damaged counters.
    pub fn daily(&self, slug: &str, from: u32, to: u32) -> Result<Vec<u64>, StoreError> {
        let _gate = unpoison(self.gate.lock());
        let len = (to.saturating_sub(from) + 1) as usize;
        let mut out = vec![0u64; len];
        let start = daily_key(slug.as_bytes(), from);
        let end = daily_key(slug.as_bytes(), to);
        for item in self.daily.range(&*start..=&*end) {
            let (k, v) = item?;
            let day = day_from_key(&k);
            let n = counter::decode(&v)
                .ok_or_else(|| StoreError::corrupt(slug.as_bytes(), "daily counter"))?;
            if let Some(slot) = day.and_then(|d| out.get_mut((d - from) as usize)) {
                *slot += n;
            }
        }
        let days = unpoison(self.days.read());
        for (day, slot) in (from..=to).zip(out.iter_mut()) {
            if let Some(n) = days.get(&*daily_key(slug.as_bytes(), day)) {
                *slot += n.load(Ordering::SeqCst);
            }
        }
        Ok(out)
    }

    /// Drops every count of `slug`, pending and stored (the link is gone).
    ///
    /// # Errors
    /// sled errors while removing the stored counters.
    pub fn forget(&self, slug: &str) -> Result<(), StoreError> {
        let _gate = unpoison(self.gate.lock());
        let key = slug.as_bytes();
        unpoison(self.totals.write()).remove(key);
        unpoison(self.days.write()).retain(|k, _| !is_day_key_of(k, key));
        self.clicks.remove(key)?;
        let start = daily_key(key, 0);
        let end = daily_key(key, u32::MAX);
        for item in self.daily.range(&*start..=&*end) {
            let (k, _) = item?;
            self.daily.remove(k)?;
        }
        Ok(())
    }

    /// Merges every pending count into sled: one merge per dirty slug and
    /// day. Returns the number of clicks moved. Safe to call at any time and
    /// from any thread; calls serialise on the gate.
    ///
    /// # Errors
    /// sled write errors. Counts that could not be merged stay pending.
    pub fn flush(&self) -> Result<u64, StoreError> {
        let _gate: MutexGuard<'_, ()> = unpoison(self.gate.lock());
        let mut moved = 0;

        // Day buckets: swap the map out. Writers increment under the read
        // lock, so once the write lock is ours no increment can be lost.
        let days = std::mem::take(&mut *unpoison(self.days.write()));
        let mut failed = Vec::new();
        for (key, n) in days {
            let n = n.into_inner();
            let slug = slug_from_day_key(&key);
            if n == 0 || !self.links.contains_key(slug).unwrap_or(true) {
                continue;
            }
            match self.daily.merge(&key, counter::encode(n)) {
                Ok(_) => moved += n,
                Err(e) => failed.push((key, n, e)),
            }
        }
        let first_error = failed.first().map(|(_, _, e)| e.clone());
        if !failed.is_empty() {
            let mut days = unpoison(self.days.write());
            for (key, n, _) in failed {
                days.entry(key)
                    .or_insert_with(|| AtomicU64::new(0))
                    .fetch_add(n, Ordering::Relaxed);
            }
        }

        // Totals: the live value stays authoritative; move the unpersisted part.
        let dirty: Vec<(Box<[u8]>, u64)> = unpoison(self.totals.read())
            .iter()
            .filter_map(|(k, live)| {
                let t = live.total.load(Ordering::SeqCst);
                let p = live.persisted.load(Ordering::SeqCst);
                (t > p).then(|| (k.clone(), t))
            })
            .collect();
        for (slug, total) in dirty {
            let totals = unpoison(self.totals.read());
            let Some(live) = totals.get(&slug) else {
                continue;
            };
            let persisted = live.persisted.load(Ordering::SeqCst);
            if self.links.contains_key(&slug)? {
                self.clicks
                    .merge(&slug, counter::encode(total - persisted))?;
            }
            live.persisted.store(total, Ordering::SeqCst);
        }
        // Clean entries leave memory; their count is in sled now.
        unpoison(self.totals.write()).retain(|_, live| {
            live.total.load(Ordering::SeqCst) != live.persisted.load(Ordering::SeqCst)
        });
        match first_error {
            Some(e) => Err(e.into()),
            None => Ok(moved),
        }
    }
}

fn try_add(total: &AtomicU64, max: Option<u64>) -> Counted {
    match max {
        None => {
            total.fetch_add(1, Ordering::SeqCst);
            Counted::Yes
        }
        Some(max) => match total.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
            (t < max).then_some(t + 1)
        }) {
            Ok(_) => Counted::Yes,
            Err(_) => Counted::LimitReached,
        },
    }
}

fn slug_from_day_key(key: &[u8]) -> &[u8] {
    &key[..key.len().saturating_sub(5)]
}

fn day_from_key(key: &[u8]) -> Option<u32> {
    let tail: [u8; 4] = key.get(key.len().checked_sub(4)?..)?.try_into().ok()?;
    Some(u32::from_be_bytes(tail))
}

fn is_day_key_of(key: &[u8], slug: &[u8]) -> bool {
    key.len() == slug.len() + 5 && key.starts_with(slug) && key[slug.len()] == 0
}
