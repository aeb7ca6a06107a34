//! Who may use `/yourls-api.php`: YOURLS's three ways to sign a request.
//!
//! `signature=<secret>`, where the secret is kurz's API key (checked against
//! its digest) or the YOURLS signature token; `signature=<hash>&timestamp=<unix>`,
//! where the hash is md5 (YOURLS 1.10.4's default) or sha256 (its next
//! default) of `timestamp . token` or `token . timestamp`, or the algorithm
//! named by `hash` (md5, sha256, sha384, sha512), within
//! [`TIMESTAMP_WINDOW`] of now; and `username` + `password`, where kurz has
//! one user and the password is the API key or the token. Comparisons take
//! time independent of how much of a guess was right.

use md5::Md5;
use sha2::{Digest, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

use crate::key::KeyDigest;

/// How far a signed timestamp may be from now, in seconds: YOURLS's nonce
/// life, 12 hours, in either direction.
pub const TIMESTAMP_WINDOW: i64 = 43_200;

/// The request's credentials, as sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct Credentials<'a> {
    /// `signature`.
    pub signature: Option<&'a str>,
    /// `timestamp`.
    pub timestamp: Option<&'a str>,
    /// `hash`: the algorithm of a timestamped signature.
    pub hash: Option<&'a str>,
    /// `username`.
    pub username: Option<&'a str>,
    /// `password`.
    pub password: Option<&'a str>,
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Signed right.
    Valid,
    /// A secret was tried and was wrong: a guess, for the brute-force guard.
    Wrong,
    /// Refused without trying a secret: none sent, a timestamp out of the
    /// window or unreadable, an unknown hash algorithm.
    Refused,
}

/// What a request is checked against.
pub struct Secrets<'a> {
    /// The API key's digest.
    pub key: &'a KeyDigest,
    /// The YOURLS signature token, if there is one.
    pub token: Option<&'a str>,
}

impl Credentials<'_> {
    /// Whether the request tries a timestamped signature, a plain one, or a
    /// user name and password, in YOURLS's order of precedence.
    pub fn tries_any(&self) -> bool {
        self.kind().is_some()
    }

    fn kind(&self) -> Option<Kind> {
        let given = |v: Option<&str>| v.is_some_and(|s| !s.is_empty());
        if given(self.timestamp) && given(self.signature) {
            Some(Kind::Timestamped)
        } else if self.timestamp.is_none() && given(self.signature) {
            Some(Kind::Plain)
        } else if given(self.username) && given(self.password) {
            Some(Kind::Password)
        } else {
            None
        }
    }

    /// Checks the credentials at Unix time `now` (seconds).
    pub fn check(&self, secrets: &Secrets<'_>, now: i64) -> Verdict {
        let plain = |given: &str| {
            let by_key = secrets.key.matches(given.as_bytes());
            let by_token = secrets.token.is_some_and(|t| same(t, given));
            // Both are always computed: timing does not tell which was near.
            by_key | by_token
        };
        let ok = match self.kind() {
            None => return Verdict::Refused,
            Some(Kind::Plain) => plain(self.signature.unwrap_or_default()),
            Some(Kind::Password) => plain(self.password.unwrap_or_default()),
            Some(Kind::Timestamped) => {
                let ts = self.timestamp.unwrap_or_default();
                // PHP's `(int)` of the text: its leading whole number.
                let when = super::output::leading_int(ts);
                if now.abs_diff(when) >= TIMESTAMP_WINDOW.unsigned_abs() {
                    return Verdict::Refused;
                }
                let algos: &[Algo] = match self.hash {
                    None => &[Algo::Md5, Algo::Sha256],
                    Some("md5") => &[Algo::Md5],
                    Some("sha256") => &[Algo::Sha256],
                    Some("sha384") => &[Algo::Sha384],
                    Some("sha512") => &[Algo::Sha512],
                    Some(_) => return Verdict::Refused,
                };
                let Some(token) = secrets.token else {
                    // No token yet: nothing could have been signed with it.
                    return Verdict::Wrong;
                };
                let given = self.signature.unwrap_or_default();
                let mut ok = false;
                for algo in algos {
                    ok |= same(&algo.hex(&format!("{ts}{token}")), given);
                    ok |= same(&algo.hex(&format!("{token}{ts}")), given);
                }
                ok
            }
        };
        if ok {
            Verdict::Valid
        } else {
            Verdict::Wrong
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Timestamped,
    Plain,
    Password,
}

#[derive(Debug, Clone, Copy)]
enum Algo {
    Md5,
    Sha256,
    Sha384,
    Sha512,
}

impl Algo {
    /// The lower-case hex digest of `text`, as PHP's `hash()` gives it.
    fn hex(self, text: &str) -> String {
        let bytes = match self {
            Algo::Md5 => Md5::digest(text).to_vec(),
            Algo::Sha256 => Sha256::digest(text).to_vec(),
            Algo::Sha384 => Sha384::digest(text).to_vec(),
            Algo::Sha512 => Sha512::digest(text).to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Equal strings, in time that depends on neither's content (only on the
/// lengths, which are public here: a hex digest or a token's length).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "the-api-key-0123456789";
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    fn check(c: Credentials<'_>, token: Option<&str>) -> Verdict {
        let key = KeyDigest::of(KEY.as_bytes());
        c.check(&Secrets { key: &key, token }, NOW)
    }

    fn signed(ts: &str, hash: Option<&str>) -> Verdict {
        let sig = match hash {
            Some("sha512") => Algo::Sha512.hex(&format!("{TOKEN}{ts}")),
            _ => format!("{:x}", Md5::digest(format!("{ts}{TOKEN}"))),
        };
        check(
            Credentials {
                signature: Some(&sig),
                timestamp: Some(ts),
                hash,
                ..Default::default()
            },
            Some(TOKEN),
        )
    }

    #[test]
    fn plain_signatures_take_the_key_or_the_token() {
        for (secret, token, want) in [
            (KEY, None, Verdict::Valid),
            (TOKEN, Some(TOKEN), Verdict::Valid),
            (TOKEN, None, Verdict::Wrong),
            ("nope", Some(TOKEN), Verdict::Wrong),
        ] {
            let c = Credentials {
                signature: Some(secret),
                ..Default::default()
            };
            assert_eq!(check(c, token), want, "{secret}");
            let c = Credentials {
                username: Some("anyone"),
                password: Some(secret),
                ..Default::default()
            };
            assert_eq!(check(c, token), want, "{secret}");
        }
        assert_eq!(check(Credentials::default(), None), Verdict::Refused);
        // An empty timestamp is neither form, as in YOURLS.
        let c = Credentials {
            signature: Some(KEY),
            timestamp: Some(""),
            ..Default::default()
        };
        assert_eq!(check(c, None), Verdict::Refused);
    }

    #[test]
    fn timestamped_signatures_hold_only_within_the_window() {
        assert_eq!(signed(&NOW.to_string(), None), Verdict::Valid);
        assert_eq!(signed(&(NOW - 43_199).to_string(), None), Verdict::Valid);
        assert_eq!(signed(&(NOW + 43_199).to_string(), None), Verdict::Valid);
        assert_eq!(signed(&(NOW - 43_200).to_string(), None), Verdict::Refused);
        assert_eq!(signed(&(NOW + 50_000).to_string(), None), Verdict::Refused);
        assert_eq!(signed("soon", None), Verdict::Refused);
        assert_eq!(signed(&NOW.to_string(), Some("md5")), Verdict::Valid);
        assert_eq!(signed(&NOW.to_string(), Some("sha512")), Verdict::Valid);
        assert_eq!(signed(&NOW.to_string(), Some("crc32")), Verdict::Refused);
        // md5 named as sha256 does not pass.
        assert_eq!(signed(&NOW.to_string(), Some("sha256")), Verdict::Wrong);
        // The API key itself cannot sign with a timestamp (kurz keeps only its digest).
        let sig = format!("{:x}", Md5::digest(format!("{NOW}{KEY}")));
        let ts = NOW.to_string();
        let c = Credentials {
            signature: Some(&sig),
            timestamp: Some(&ts),
            ..Default::default()
        };
        assert_eq!(check(c, Some(TOKEN)), Verdict::Wrong);
    }
}
