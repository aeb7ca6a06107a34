//! The password guard of protected links: too many wrong passwords for one
//! link from one client, or for one link from everyone, and 429 for a while.
//!
//! Two budgets, both counted by [`super::failures`]:
//! - per (slug, client), a client being an address or an IPv6 /64:
//!   [`MAX_FAILURES`] a [`WINDOW`], so a guessing client locks neither other
//!   links nor other clients;
//! - per slug, whatever the addresses: [`LINK_MAX_FAILURES`] a [`WINDOW`],
//!   then the link's form answers 429 to everyone for [`BLOCK`], twice as
//!   long each time the budget runs out again soon after, up to
//!   [`LINK_MAX_BLOCK`]. Rotating addresses therefore buys no speed: a
//!   link's password cannot be guessed faster than [`LINK_MAX_FAILURES`] a
//!   minute, and a guesser who keeps on gets about that many an hour. The
//!   price is that, under such an attack, the link's rightful visitors wait
//!   too (its redirect itself, once unlocked, is not affected).
//!
//! A try counts when it starts ([`PasswordGuard::attempt`]) and is taken
//! back when it turns out right ([`PasswordGuard::succeeded`]), so guesses
//! sent in parallel cannot all slip in before the first is judged, and
//! right passwords never use up a link's budget. Memory is bounded: at
//! most [`MAX_TRACKED`] pairs and [`MAX_TRACKED_LINKS`] links.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::StatusCode;

use super::error::ApiError;
use super::failures::{client, Failures, Limits};

/// Wrong passwords one client may send for one link within [`WINDOW`].
pub const MAX_FAILURES: u32 = 5;
/// Wrong passwords all clients together may send for one link within
/// [`WINDOW`], however many addresses they come from.
pub const LINK_MAX_FAILURES: u32 = 20;
/// Longest a link's form stays locked for everyone after its budget ran
/// out again and again.
pub const LINK_MAX_BLOCK: Duration = Duration::from_secs(3600);
/// Most links whose wrong passwords are remembered at once.
pub const MAX_TRACKED_LINKS: usize = 100_000;
/// The window in which wrong passwords are counted.
pub const WINDOW: Duration = Duration::from_secs(60);
/// How long a locked (link, address) pair gets 429.
pub const BLOCK: Duration = Duration::from_secs(60);
/// Most (link, address) pairs remembered at once.
pub const MAX_TRACKED: usize = 10_000;

type Key = (Box<str>, IpAddr);

/// Wrong link passwords by (slug, client) and by slug.
pub struct PasswordGuard {
    pairs: Failures<Key>,
    links: Failures<Box<str>>,
}

impl Default for PasswordGuard {
    fn default() -> Self {
        PasswordGuard {
            pairs: Failures::new(Limits {
                max: MAX_FAILURES,
                window: WINDOW,
                block: BLOCK,
                max_block: BLOCK,
                tracked: MAX_TRACKED,
            }),
            links: Failures::new(Limits {
                max: LINK_MAX_FAILURES,
                window: WINDOW,
                block: BLOCK,
                max_block: LINK_MAX_BLOCK,
                tracked: MAX_TRACKED_LINKS,
            }),
        }
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

/// The 429 for a link locked for everyone for `secs` more seconds.
fn link_refusal(secs: u64) -> ApiError {
    ApiError {
        header: Some((RETRY_AFTER, HeaderValue::from(secs))),
        ..ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many wrong passwords for this link from all addresses; \
                 it is locked for everyone; retry in {secs} s"
            ),
        )
    }
}

impl PasswordGuard {
    /// 429 with `Retry-After` if `ip` is locked out of `slug` at `now`.
    ///
    /// # Errors
    /// The 429 to answer.
    pub fn check(&self, slug: &str, ip: IpAddr, now: Instant) -> Result<(), ApiError> {
        if let Some(secs) = self.links.blocked(&Box::from(slug), now) {
            return Err(link_refusal(secs));
        }
        self.pairs
            .blocked(&(Box::from(slug), client(ip)), now)
            .map_or(Ok(()), |secs| Err(refusal(secs)))
    }

    /// Starts a try of a password for `slug` from `ip` at `now`: counted as
    /// wrong, for the pair and for the link, until
    /// [`PasswordGuard::succeeded`] says otherwise.
    ///
    /// # Errors
    /// The 429 of [`PasswordGuard::check`]; the try is then not counted.
    pub fn attempt(&self, slug: &str, ip: IpAddr, now: Instant) -> Result<(), ApiError> {
        let pair = (Box::from(slug), client(ip));
        self.pairs.attempt(pair.clone(), now).map_err(refusal)?;
        if let Err(secs) = self.links.attempt(Box::from(slug), now) {
            self.pairs.uncount(&pair);
            return Err(link_refusal(secs));
        }
        Ok(())
    }

    /// Records a wrong password for `slug` from `ip` at `now`.
    pub fn failed(&self, slug: &str, ip: IpAddr, now: Instant) {
        self.pairs.failed((Box::from(slug), client(ip)), now);
        self.links.failed(Box::from(slug), now);
    }

    /// After a right password of `ip` for `slug`: forgets that client's
    /// wrong ones, and takes this try back from the link's budget (other
    /// clients' wrong ones still count there).
    pub fn succeeded(&self, slug: &str, ip: IpAddr) {
        self.pairs.forgive(&(Box::from(slug), client(ip)));
        self.links.uncount(&Box::from(slug));
    }

    /// How many pairs are remembered (for tests of the bound).
    pub fn tracked(&self) -> usize {
        self.pairs.tracked()
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

    // Counting per exact address let 120 wrong passwords from rotating
    // addresses (5 each) all be tried within 4 s.
    #[test]
    fn rotating_addresses_share_the_links_budget_and_back_off() {
        let g = PasswordGuard::default();
        let mut t = Instant::now();
        let addr = |i: u32| IpAddr::V4(std::net::Ipv4Addr::from(0xc000_0200 + i));
        let mut tried = 0;
        for i in 0..24 {
            for _ in 0..MAX_FAILURES {
                if g.attempt("s", addr(i), t).is_ok() {
                    tried += 1;
                }
            }
        }
        assert_eq!(tried, LINK_MAX_FAILURES);
        let e = g.check("s", addr(99), t).unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(e.detail.contains("everyone"), "{}", e.detail);
        assert!(
            g.check("t", addr(99), t).is_ok(),
            "other links are not locked"
        );
        // The next exhausted budget locks twice as long.
        t += BLOCK;
        for i in 100..100 + LINK_MAX_FAILURES {
            g.attempt("s", addr(i), t).unwrap();
        }
        assert!(g.check("s", addr(999), t + BLOCK).is_err());
        assert!(g.check("s", addr(999), t + 2 * BLOCK).is_ok());
        // An IPv6 /64 is one client.
        let v6 = |low: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, low));
        let t = t + 2 * BLOCK;
        for low in 0..MAX_FAILURES as u16 {
            g.attempt("u", v6(low), t).unwrap();
        }
        assert!(g.attempt("u", v6(999), t).is_err());
    }

    #[test]
    fn right_passwords_do_not_use_up_the_links_budget() {
        let g = PasswordGuard::default();
        let t0 = Instant::now();
        for i in 0..3 * LINK_MAX_FAILURES {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0xc000_0200 + i));
            g.attempt("s", ip, t0).unwrap();
            g.succeeded("s", ip);
        }
        assert!(g.check("s", A, t0).is_ok());
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
