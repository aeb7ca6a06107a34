//! API key check for `/api/`: `Authorization: Bearer <key>` or `X-Api-Key: <key>`.
//!
//! The comparison runs in constant time over the key's bytes, so response
//! timing does not reveal how much of a guess was right (only, at most,
//! whether its length matches).

use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::StatusCode;
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// Checks the request headers against `key`.
///
/// # Errors
/// 401 with `WWW-Authenticate: Bearer` when no key or a wrong key is given.
pub fn check(headers: &HeaderMap, key: &str) -> Result<(), ApiError> {
    let given = presented(headers);
    let ok = given.is_some_and(|g| bool::from(g.ct_eq(key.as_bytes())));
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
