//! Counting failures per key for a lock-out: after `max` failures within a
//! window, the key is blocked for a while.
//!
//! The one mechanism behind both of the server's lock-outs: wrong API keys
//! by client address ([`super::guard`]) and wrong link passwords by (link,
//! address) ([`super::lockout`]). Memory is bounded: at most `tracked` keys
//! are remembered, and when that many are, expired records are dropped
//! first, then the oldest. A std mutex guards the map: it is held for a
//! map operation, never across an `.await`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How a lock-out counts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures within `window` that block a key.
    pub max: u32,
    /// The window in which failures are counted.
    pub window: Duration,
    /// How long a blocked key stays blocked.
    pub block: Duration,
    /// Most keys remembered at once.
    pub tracked: usize,
}

struct Record {
    failures: u32,
    since: Instant,
    blocked_until: Option<Instant>,
}

impl Record {
    fn fresh(now: Instant) -> Record {
        Record {
            failures: 0,
            since: now,
            blocked_until: None,
        }
    }

    fn expired(&self, now: Instant, window: Duration) -> bool {
        match self.blocked_until {
            Some(until) => now >= until,
            None => now.duration_since(self.since) >= window,
        }
    }
}

/// Failures by key `K`.
pub struct Failures<K> {
    limits: Limits,
    records: Mutex<HashMap<K, Record>>,
}

impl<K: Hash + Eq + Clone> Failures<K> {
    /// Counts with `limits`.
    pub fn new(limits: Limits) -> Self {
        Failures {
            limits,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whole seconds (at least 1) until `key` may try again, if it is
    /// blocked at `now`.
    pub fn blocked(&self, key: &K, now: Instant) -> Option<u64> {
        blocked_in(&self.lock(), key, now)
    }

    /// Counts a failure of `key` at `now`.
    pub fn failed(&self, key: K, now: Instant) {
        self.count(&mut self.lock(), key, now);
    }

    /// Counts a try of `key` at `now` as a failure until [`Failures::forgive`]
    /// says otherwise, unless `key` is blocked (then the seconds left, and
    /// nothing counted). Checked and counted under one lock, so tries sent in
    /// parallel cannot all pass before the first is judged.
    ///
    /// # Errors
    /// The seconds until `key` may try again.
    pub fn attempt(&self, key: K, now: Instant) -> Result<(), u64> {
        let mut records = self.lock();
        if let Some(secs) = blocked_in(&records, &key, now) {
            return Err(secs);
        }
        self.count(&mut records, key, now);
        Ok(())
    }

    /// Forgets the failures of `key`.
    pub fn forgive(&self, key: &K) {
        self.lock().remove(key);
    }

    /// How many keys are remembered (for tests of the bound).
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn count(&self, records: &mut HashMap<K, Record>, key: K, now: Instant) {
        let Limits {
            max,
            window,
            block,
            tracked,
        } = self.limits;
        if records.len() >= tracked && !records.contains_key(&key) {
            records.retain(|_, r| !r.expired(now, window));
            if records.len() >= tracked {
                let oldest = records
                    .iter()
                    .min_by_key(|(_, r)| r.since)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    records.remove(&k);
                }
            }
        }
        let record = records.entry(key).or_insert_with(|| Record::fresh(now));
        if record.expired(now, window) {
            *record = Record::fresh(now);
        }
        record.failures += 1;
        if record.failures >= max {
            record.blocked_until = Some(now + block);
        }
    }
}

fn blocked_in<K: Hash + Eq>(records: &HashMap<K, Record>, key: &K, now: Instant) -> Option<u64> {
    let until = records.get(key)?.blocked_until?;
    (now < until).then(|| until.duration_since(now).as_secs_f64().ceil().max(1.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max: 3,
        window: Duration::from_secs(60),
        block: Duration::from_secs(30),
        tracked: 100,
    };

    #[test]
    fn blocks_at_the_limit_for_the_block_then_counts_afresh() {
        let f = Failures::new(LIMITS);
        let t0 = Instant::now();
        f.failed("a", t0);
        f.failed("a", t0);
        assert_eq!(f.blocked(&"a", t0), None);
        f.failed("a", t0);
        assert_eq!(f.blocked(&"a", t0), Some(30));
        assert_eq!(f.blocked(&"b", t0), None);
        assert_eq!(f.blocked(&"a", t0 + Duration::from_millis(29_500)), Some(1));
        assert_eq!(f.blocked(&"a", t0 + LIMITS.block), None);
        f.failed("a", t0 + LIMITS.block);
        assert_eq!(f.blocked(&"a", t0 + LIMITS.block), None);
    }

    #[test]
    fn failures_wider_apart_than_the_window_never_block() {
        let f = Failures::new(LIMITS);
        let t0 = Instant::now();
        for i in 0..10 {
            let t = t0 + LIMITS.window / 2 * i;
            f.failed("a", t);
            assert_eq!(f.blocked(&"a", t), None);
        }
    }

    #[test]
    fn attempts_count_until_forgiven_and_stop_when_blocked() {
        let f = Failures::new(LIMITS);
        let t0 = Instant::now();
        assert_eq!(f.attempt("a", t0), Ok(()));
        assert_eq!(f.attempt("a", t0), Ok(()));
        f.forgive(&"a");
        assert_eq!(f.attempt("a", t0), Ok(()));
        assert_eq!(f.attempt("a", t0), Ok(()));
        assert_eq!(f.attempt("a", t0), Ok(()));
        assert_eq!(f.attempt("a", t0), Err(30));
    }

    #[test]
    fn memory_is_bounded() {
        let f = Failures::new(LIMITS);
        let t0 = Instant::now();
        for i in 0..LIMITS.tracked + 10 {
            f.failed(i, t0);
        }
        assert_eq!(f.tracked(), LIMITS.tracked);
    }
}
