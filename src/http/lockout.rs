//! The password guard of protected links: too many wrong passwords for one
//! link from one address, and that pair gets 429 for a while.
//!
//! Counted per (slug, address), so a guessing client locks neither other
//! links nor other clients. A try counts when it starts
//! ([`PasswordGuard::attempt`]) and is forgiven when it turns out right
//! ([`PasswordGuard::succeeded`]), so guesses sent in parallel cannot all
//! slip in before the first is judged. Memory is bounded as
//! [`super::failures`] bounds it: at most [`MAX_TRACKED`] pairs.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::StatusCode;

use super::error::ApiError;
use super::failures::{Failures, Limits};

/// Wrong passwords one address may send for one link within [`WINDOW`].
pub const MAX_FAILURES: u32 = 5;
/// The window in which wrong passwords are counted.
pub const WINDOW: Duration = Duration::from_secs(60);
/// How long a locked (link, address) pair gets 429.
pub const BLOCK: Duration = Duration::from_secs(60);
/// Most (link, address) pairs remembered at once.
pub const MAX_TRACKED: usize = 10_000;

type Key = (Box<str>, IpAddr);

/// Wrong link passwords by (slug, client address).
pub struct PasswordGuard(Failures<Key>);

impl Default for PasswordGuard {
    fn default() -> Self {
        PasswordGuard(Failures::new(Limits {
            max: MAX_FAILURES,
            window: WINDOW,
            block: BLOCK,
            tracked: MAX_TRACKED,
        }))
    }
}

/// The 429 for a pair locked out for `secs` more seconds.
fn refusal(secs: u64) -> ApiError {
    ApiError {
        header: Some((RETRY_AFTER, HeaderValue::from(secs))),
        ..ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many wrong passwords for this link; retry in {secs} s"),
        )
    }
}

impl PasswordGuard {
    /// 429 with `Retry-After` if `ip` is locked out of `slug` at `now`.
    ///
    /// # Errors
    /// The 429 to answer.
    pub fn check(&self, slug: &str, ip: IpAddr, now: Instant) -> Result<(), ApiError> {
        self.0
            .blocked(&(Box::from(slug), ip), now)
            .map_or(Ok(()), |secs| Err(refusal(secs)))
    }

    /// Starts a try of a password for `slug` from `ip` at `now`: counted as
    /// wrong until [`PasswordGuard::succeeded`] says otherwise.
    ///
    /// # Errors
    /// The 429 of [`PasswordGuard::check`]; the try is then not counted.
    pub fn attempt(&self, slug: &str, ip: IpAddr, now: Instant) -> Result<(), ApiError> {
        self.0.attempt((Box::from(slug), ip), now).map_err(refusal)
    }

    /// Records a wrong password for `slug` from `ip` at `now`.
    pub fn failed(&self, slug: &str, ip: IpAddr, now: Instant) {
        self.0.failed((Box::from(slug), ip), now);
    }

    /// Forgets the wrong passwords of `ip` for `slug` after a right one.
    pub fn succeeded(&self, slug: &str, ip: IpAddr) {
        self.0.forgive(&(Box::from(slug), ip));
    }

    /// How many pairs are remembered (for tests of the bound).
    pub fn tracked(&self) -> usize {
        self.0.tracked()
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
