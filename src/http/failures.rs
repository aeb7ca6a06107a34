//! Counting failures per key for a lock-out: after `max` failures within a
//! window, the key is blocked for a while.
//!
//! The one mechanism behind the server's lock-outs: wrong API keys by
//! client ([`super::guard`]), and wrong link passwords by (link, client)
//! and by link alone ([`super::lockout`]). A client is its address, an IPv6
//! one cut to its /64 ([`client`]): one host usually holds a whole /64, so
//! counting single IPv6 addresses would give it 2^64 fresh tries. A key
//! blocked again soon after its last block ends is blocked for twice as
//! long each time, up to `max_block`. Memory is bounded: at most `tracked`
//! keys are remembered, and when that many are, expired records are
//! dropped first, then the oldest. A std mutex guards the map: it is held
//! for a map operation, never across an `.await`.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How a lock-out counts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures within `window` that block a key.
    pub max: u32,
    /// The window in which failures are counted.
    pub window: Duration,
    /// How long a blocked key stays blocked the first time.
    pub block: Duration,
    /// Longest block: a key blocked again within this long of its last
    /// block's end is blocked twice as long as the last time, up to this.
    /// Equal to `block` for no back-off.
    pub max_block: Duration,
    /// Most keys remembered at once.
    pub tracked: usize,
}

/// The client a lock-out counts `ip` as: an IPv4 address (an IPv4-mapped
/// IPv6 one too) as it is, an IPv6 address as its /64.
pub fn client(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

struct Record {
    failures: u32,
    since: Instant,
    blocked_until: Option<Instant>,
    /// How many blocks in a row, each begun soon after the last ended.
    strikes: u32,
}

impl Record {
    fn fresh(now: Instant) -> Record {
        Record {
            failures: 0,
            since: now,
            blocked_until: None,
            strikes: 0,
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

    /// Takes back one failure counted for `key` by [`Failures::attempt`],
    /// for a try that turned out right, leaving the others (and a block) as
    /// they are.
    pub fn uncount(&self, key: &K) {
        if let Some(r) = self.lock().get_mut(key) {
            r.failures = r.failures.saturating_sub(1);
        }
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
            max_block,
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
            // Blocked until lately: the next block is longer.
            let strikes = match record.blocked_until {
                Some(until) if now < until + max_block => record.strikes,
                _ => 0,
            };
            *record = Record {
                strikes,
                ..Record::fresh(now)
            };
        }
        record.failures += 1;
        if record.failures >= max && record.blocked_until.is_none_or(|until| until <= now) {
            let doubled = block.saturating_mul(1 << record.strikes.min(16));
            record.blocked_until = Some(now + doubled.min(max_block.max(block)));
            record.strikes = record.strikes.saturating_add(1);
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
        max_block: Duration::from_secs(30),
        tracked: 100,
    };

    // Counting per exact address let an IPv6 host, which holds a /64, make
    // 2^64 fresh tries.
    #[test]
    fn an_ipv6_client_is_its_slash_64_and_a_mapped_ipv4_its_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client(a), client(b));
        assert_ne!(client(a), client(other));
        assert_eq!(client(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
        let v4: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(client(v4), v4);
    }

    #[test]
    fn blocks_soon_after_the_last_grow_twice_as_long_up_to_the_most() {
        let limits = Limits {
            max_block: Duration::from_secs(100),
            ..LIMITS
        };
        let f = Failures::new(limits);
        let mut t = Instant::now();
        for want in [30, 60, 100, 100] {
            for _ in 0..3 {
                f.failed("a", t);
            }
            assert_eq!(f.blocked(&"a", t), Some(want));
            t += Duration::from_secs(want);
            assert_eq!(f.blocked(&"a", t), None);
        }
        // A long quiet spell after a block: back to the first length.
        t += limits.max_block;
        for _ in 0..3 {
            f.failed("a", t);
        }
        assert_eq!(f.blocked(&"a", t), Some(30));
    }

    #[test]
    fn uncount_takes_back_one_try() {
        let f = Failures::new(LIMITS);
        let t0 = Instant::now();
        f.failed("a", t0);
        f.attempt("a", t0).unwrap();
        f.uncount(&"a");
        f.failed("a", t0);
        assert_eq!(f.blocked(&"a", t0), None);
        f.failed("a", t0);
        assert_eq!(f.blocked(&"a", t0), Some(30));
    }

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
