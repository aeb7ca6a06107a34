//! The brute-force guard of the management API: too many wrong keys from
//! one client (an address; for IPv6, its /64), and that client gets 429
//! for a while.
//!
//! Only `/api/` consults it; redirects never do, so a guessing client slows
//! down no one's links. Memory is bounded: at most [`MAX_TRACKED`] addresses
//! are remembered (see [`super::failures`]). Behind a reverse proxy every
//! client shares the proxy's address, so there a guessing client locks the
//! API for everyone until the block ends; the key stays safe either way.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::StatusCode;

use super::error::ApiError;
use super::failures::{client, Failures, Limits};

/// Wrong keys one address may send within [`WINDOW`] before it is blocked.
pub const MAX_FAILURES: u32 = 10;
/// The window in which failures are counted.
pub const WINDOW: Duration = Duration::from_secs(60);
/// How long a blocked address gets 429.
pub const BLOCK: Duration = Duration::from_secs(60);
/// Most addresses remembered at once.
pub const MAX_TRACKED: usize = 10_000;

/// Failed API key checks by client address.
pub struct AuthGuard(Failures<IpAddr>);

impl Default for AuthGuard {
    fn default() -> Self {
        AuthGuard(Failures::new(Limits {
            max: MAX_FAILURES,
            window: WINDOW,
            block: BLOCK,
            max_block: BLOCK,
            tracked: MAX_TRACKED,
        }))
    }
}

impl AuthGuard {
    /// 429 with `Retry-After` if `ip` is blocked at `now`.
    ///
    /// # Errors
    /// The 429 to answer.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), ApiError> {
        match self.0.blocked(&client(ip), now) {
            None => Ok(()),
            Some(secs) => Err(ApiError {
                header: Some((RETRY_AFTER, HeaderValue::from(secs))),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("too many wrong API keys from this address; retry in {secs} s"),
                )
            }),
        }
    }

    /// Records a wrong key from `ip` at `now`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        self.0.failed(client(ip), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn blocks_after_the_limit_for_a_while_then_forgets() {
        let g = AuthGuard::default();
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            g.failed(A, t0);
        }
        assert!(g.check(A, t0).is_ok());
        g.failed(A, t0);
        let e = g.check(A, t0).unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.header.unwrap().1, HeaderValue::from(BLOCK.as_secs()));
        assert!(g.check(B, t0).is_ok(), "other addresses are not affected");
        assert!(g.check(A, t0 + BLOCK).is_ok());
        // After the block, counting starts again from zero.
        g.failed(A, t0 + BLOCK);
        assert!(g.check(A, t0 + BLOCK).is_ok());
    }

    #[test]
    fn failures_spread_wider_than_the_window_never_block() {
        let g = AuthGuard::default();
        let t0 = Instant::now();
        for i in 0..3 * MAX_FAILURES {
            let t = t0 + WINDOW / MAX_FAILURES * 2 * i;
            g.failed(A, t);
            assert!(g.check(A, t).is_ok());
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let g = AuthGuard::default();
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED as u32 + 10 {
            g.failed(IpAddr::V4(i.into()), t0);
        }
        assert!(g.0.tracked() <= MAX_TRACKED);
    }
}
