//! Reading a request's body: capped, and marked as a wait on its connection.
//!
//! Every handler that takes a body (the API's JSON, the YOURLS form, a
//! protected link's password form) reads it here. A body declared larger
//! than the cap is refused before a byte is read, one that grows past it
//! while read is cut off; and while the read waits, the connection counts
//! as idle (see [`super::conns`]), so clients that announce a body and never
//! send it are shed at the connection cap like any idle client.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::Request;
use thiserror::Error;

use super::conns::BodyOf;

/// Why a body could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BodyError {
    /// Declared or found larger than the cap, in bytes.
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// The client stopped, or sent something that is not a body.
    #[error("the request body could not be read")]
    Unreadable,
}

/// The whole body of `req`, at most `limit` bytes.
///
/// # Errors
/// [`BodyError::TooLarge`] past `limit` (declared or read), and
/// [`BodyError::Unreadable`] when the client breaks off.
pub async fn read(req: Request<Incoming>, limit: usize) -> Result<Bytes, BodyError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let _waiting = req
        .extensions()
        .get::<BodyOf>()
        .map(|c| c.0.awaiting_body());
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge(limit)),
        Err(_) => Err(BodyError::Unreadable),
    }
}
