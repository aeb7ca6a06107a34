//! API key check for `/api/`: `Authorization: Bearer <key>` or `X-Api-Key: <key>`,
//! and whether the key's scope allows the request.
//!
//! The server keeps only the SHA-256 digests of its keys and compares the
//! digest of what a client presents with them in constant time: response
//! timing reveals neither how much of a guess was right nor the key's length.

use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::StatusCode;

use super::error::ApiError;
use crate::keys::{Caller, Keyring, Scope};

/// Who the request's key is, among `keys` (counted as used at `now`, Unix ms).
///
/// # Errors
/// 401 with `WWW-Authenticate: Bearer` when no key, a wrong (or revoked)
/// key, or an `Authorization` header of another scheme is given; the
/// detail says which, and the two forms a key may take.
pub fn check(headers: &HeaderMap, keys: &Keyring, now: i64) -> Result<Caller, ApiError> {
    let given = presented(headers);
    if let Some(caller) = given.and_then(|g| keys.identify(g, now)) {
        return Ok(caller);
    }
    let detail = match given {
        Some(_) => "the API key is not valid",
        // A key sent as `Authorization: <key>` is still a key sent: say
        // what is missing rather than that none came.
        None if headers.contains_key(AUTHORIZATION) => {
            "the Authorization header was sent without 'Bearer ': send the key as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'"
        }
        None => {
            "an API key is required: send the key as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'"
        }
    };
    Err(unauthorized(detail))
}

/// The 401 for a request without a usable key, saying why.
fn unauthorized(detail: &'static str) -> ApiError {
    ApiError {
        header: Some((
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"kurz\""),
        )),
        ..ApiError::new(StatusCode::UNAUTHORIZED, detail)
    }
}

/// Whether `caller` may do what needs `scope`.
///
/// # Errors
/// 403 naming the scope the key lacks.
pub fn allow(caller: &Caller, scope: Scope) -> Result<(), ApiError> {
    if caller.scope >= scope {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "the key '{}' has scope '{}'; this needs scope '{}'",
            caller.name,
            caller.scope.as_str(),
            scope.as_str()
        ),
    ))
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
    use crate::key::KeyDigest;

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
