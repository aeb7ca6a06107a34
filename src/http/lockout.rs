//! The password guard of protected links: too many wrong passwords for one
//! link from one address, and that pair gets 429 for a while.
//!
//! Counted per (slug, address), so a guessing client locks neither other
//! links nor other clients. Memory is bounded like [`super::guard`]'s: at
//! most [`MAX_TRACKED`] pairs, expired ones dropped first, then the oldest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::StatusCode;

use super::error::ApiError;

/// Wrong passwords one address may send for one link within [`WINDOW`].
pub const MAX_FAILURES: u32 = 5;
/// The window in which wrong passwords are counted.
pub const WINDOW: Duration = Duration::from_secs(60);
/// How long a locked (link, address) pair gets 429.
pub const BLOCK: Duration = Duration::from_secs(60);
/// Most (link, address) pairs remembered at once.
pub const MAX_TRACKED: usize = 10_000;

struct Record {
    failures: u32,
    since: Instant,
    blocked_until: Option<Instant>,
}

impl Record {
    fn expired(&self, now: Instant) -> bool {
        match self.blocked_until {
            Some(until) => now >= until,
            None => now.duration_since(self.since) >= WINDOW,
        }
    }
}

/// Wrong link passwords by (slug, client address).
#[derive(Default)]
pub struct PasswordGuard {
    // A std mutex: held for a hash-map operation, never across an `.await`.
    records: Mutex<HashMap<(Box<str>, IpAddr), Record>>,
}

impl PasswordGuard {
    /// 429 with `Retry-After` if `ip` is locked out of `slug` at `now`.
    ///
    /// # Errors
    /// The 429 to answer.
    pub fn check(&self, slug: &str, ip: IpAddr, now: Instant) -> Result<(), ApiError> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(until) = records
            .get(&(Box::from(slug), ip))
            .and_then(|r| r.blocked_until)
        else {
            return Ok(());
        };
        if now >= until {
            return Ok(());
        }
        let secs = until.duration_since(now).as_secs_f64().ceil().max(1.0) as u64;
        Err(ApiError {
            header: Some((RETRY_AFTER, HeaderValue::from(secs))),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many wrong passwords for this link; retry in {secs} s"),
            )
        })
    }

    /// Records a wrong password for `slug` from `ip` at `now`.
    pub fn failed(&self, slug: &str, ip: IpAddr, now: Instant) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (Box::from(slug), ip);
        if records.len() >= MAX_TRACKED && !records.contains_key(&key) {
            records.retain(|_, r| !r.expired(now));
            if records.len() >= MAX_TRACKED {
                let oldest = records
                    .iter()
                    .min_by_key(|(_, r)| r.since)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    records.remove(&k);
                }
            }
        }
        let record = records.entry(key).or_insert(Record {
            failures: 0,
            since: now,
            blocked_until: None,
        });
        if record.expired(now) {
            *record = Record {
                failures: 0,
                since: now,
                blocked_until: None,
            };
        }
        record.failures += 1;
        if record.failures >= MAX_FAILURES {
            record.blocked_until = Some(now + BLOCK);
        }
    }

    /// Forgets the wrong passwords of `ip` for `slug` after a right one.
    pub fn succeeded(&self, slug: &str, ip: IpAddr) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.remove(&(Box::from(slug), ip));
    }

    /// How many pairs are remembered (for tests of the bound).
    pub fn tracked(&self) -> usize {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn five_wrong_lock_that_link_and_address_only_until_the_block_ends() {
        let g = PasswordGuard::default();
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            g.failed("s", A, t0);
        }
        assert!(g.check("s", A, t0).is_ok());
        g.failed("s", A, t0);
        let e = g.check("s", A, t0).unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(g.check("s", B, t0).is_ok());
        assert!(g.check("t", A, t0).is_ok());
        assert!(g.check("s", A, t0 + BLOCK).is_ok());
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let g = PasswordGuard::default();
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            g.failed("s", A, t0);
        }
        g.failed("s", A, t0 + WINDOW);
        assert!(g.check("s", A, t0 + WINDOW).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let g = PasswordGuard::default();
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED + 10 {
            g.failed(&format!("s{i}"), A, t0);
        }
        assert_eq!(g.tracked(), MAX_TRACKED);
    }
}
