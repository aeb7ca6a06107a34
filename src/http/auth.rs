//! API key check for `/api/`: `Authorization: Bearer <key>` or `X-Api-Key: <key>`.
//!
//! The server keeps only the SHA-256 digest of its key and compares the
//! digest of what a client presents with it in constant time: response
//! timing reveals neither how much of a guess was right nor the key's length.

use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::StatusCode;

use super::error::ApiError;
use crate::key::KeyDigest;

/// Checks the request headers against the key with digest `key`.
///
/// # Errors
/// 401 with `WWW-Authenticate: Bearer` when no key or a wrong key is given.
pub fn check(headers: &HeaderMap, key: &KeyDigest) -> Result<(), ApiError> {
    let given = presented(headers);
    let ok = given.is_some_and(|g| key.matches(g));
    if ok {
        return Ok(());
    }
    let detail = if given.is_some() {
        "the API key is not valid"
    } else {
        "an API key is required: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'"
    };
    Err(ApiError {
        header: Some((
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"kurz\""),
        )),
        ..ApiError::new(StatusCode::UNAUTHORIZED, detail)
    })
}

/// Whether the request carries a key at all (right or wrong).
pub fn presents_key(headers: &HeaderMap) -> bool {
    presented(headers).is_some()
}

/// The key the client presented, if any.
fn presented(headers: &HeaderMap) -> Option<&[u8]> {
    if let Some(v) = headers.get(AUTHORIZATION) {
        let v = v.as_bytes();
        let (scheme, rest) = v.split_at(v.iter().position(|&b| b == b' ').unwrap_or(v.len()));
        if scheme.eq_ignore_ascii_case(b"bearer") {
            return Some(rest.trim_ascii());
        }
    }
    headers.get("x-api-key").map(|v| v.as_bytes().trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_key_matches() {
        let d = KeyDigest::of(b"0123456789abcdef");
        assert!(d.matches(b"0123456789abcdef"));
        assert!(!d.matches(b"0123456789abcdeF"));
        assert!(!d.matches(b"0123456789abcde"));
        assert!(!d.matches(b""));
        assert_eq!(format!("{d:?}"), "KeyDigest(..)");
    }
}
