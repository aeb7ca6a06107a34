//! The password guard of protected links: too many wrong passwords for one
//! link from one address, and that pair gets 429 for a while.
//!
//! Counted per (slug, address), so a guessing client locks neither other
//! links nor other clients. A try counts when it starts ([`PasswordGuard::attempt`])
//! and is forgiven when it turns out right ([`PasswordGuard::succeeded`]), so
//! guesses sent in parallel cannot all slip in before the first is judged. Memory is bounded like [`super::guard`]'s: at
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
    records: Mutex<HashMap<Key, Record>>,
}

impl PasswordGuard {
    /// 429 with `Retry-After` if `ip` is locked out of `slug` at `now`.
    ///
    /// # Errors
    /// The 429 to answer.
    pub fn check(&self, slug: &str, ip: IpAddr, now: Instant) -> Result<(), ApiError> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        refusal(&records, &(Box::from(slug), ip), now)
    }

    /// Starts a try of a password for `slug` from `ip` at `now`: counted as
    /// wrong until [`PasswordGuard::succeeded`] says otherwise. Checked and
    /// counted under one lock, so parallel tries cannot pass together.
    ///
    /// # Errors
    /// The 429 of [`PasswordGuard::check`]; the try is then not counted.
    pub fn attempt(&self, slug: &str, ip: IpAddr, now: Instant) -> Result<(), ApiError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (Box::from(slug), ip);
        refusal(&records, &key, now)?;
        count_failure(&mut records, key, now);
        Ok(())
    }

    /// Records a wrong password for `slug` from `ip` at `now`.
    pub fn failed(&self, slug: &str, ip: IpAddr, now: Instant) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        count_failure(&mut records, (Box::from(slug), ip), now);
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

type Key = (Box<str>, IpAddr);

/// The 429 for `key` if it is blocked at `now`.
fn refusal(records: &HashMap<Key, Record>, key: &Key, now: Instant) -> Result<(), ApiError> {
    let Some(until) = records.get(key).and_then(|r| r.blocked_until) else {
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

/// Counts one wrong password for `key` at `now`, blocking it at the
/// [`MAX_FAILURES`]th; makes room first when [`MAX_TRACKED`] keys are held.
fn count_failure(records: &mut HashMap<Key, Record>, key: Key, now: Instant) {
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
    let fresh = Record {
        failures: 0,
        since: now,
        blocked_until: None,
    };
    let record = records.entry(key).or_insert(fresh);
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
    fn a_right_password_forgives_its_try_and_tries_in_flight_count() {
        let g = PasswordGuard::default();
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            g.attempt("s", A, t0).unwrap();
        }
        // The right one, started last, locks while in flight, then forgives.
        g.attempt("s", A, t0).unwrap();
        assert!(g.attempt("s", A, t0).is_err());
        g.succeeded("s", A);
        assert!(g.attempt("s", A, t0).is_ok());
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
