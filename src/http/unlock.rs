//! `POST /{slug}`: the password of a protected link, sent by its form.
//!
//! The body is `application/x-www-form-urlencoded` (415 otherwise), at most
//! [`MAX_FORM`] bytes (413), with a `password` field (400 without one). The
//! right password answers `303 See Other` to the target and counts the click
//! as a `GET` would; `303` whatever the link's redirect status, because a
//! `307`/`308` would have the browser send the password on to the target.
//! A wrong one answers 401 with the form again and is not counted; after
//! [`super::lockout::MAX_FAILURES`] of them the (link, address) pair gets
//! 429 for a while, right password or not. The password is checked off the
//! runtime's workers (Argon2id takes tens of milliseconds) and never logged.
//! A link without a password has nothing to unlock: 400.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, REFERER, USER_AGENT};
use hyper::{Request, Response, StatusCode};

use super::error::ApiError;
use super::{redirect, App, Body};
use crate::clock;
use crate::store::StoreError;
use crate::visit::Visit;

/// Largest form body accepted, in bytes: a password of
/// [`crate::password::MAX_LEN`] bytes, percent-encoded, fits.
pub const MAX_FORM: usize = 4 * 1024;

/// Answers the password form of `slug` from the client at `peer`.
///
/// # Errors
/// 404 unknown slug, 410 expired or used-up link, 400 a link without a
/// password or a form without `password`, 415 not a urlencoded form,
/// 413 past [`MAX_FORM`], 429 locked out; 500/503 storage faults.
pub async fn unlock(
    app: Arc<App>,
    slug: String,
    req: Request<Incoming>,
    peer: Option<IpAddr>,
) -> Result<Response<Body>, ApiError> {
    let unknown = || ApiError::not_found(format!("no link with slug '{slug}'"));
    if !crate::slug::could_exist(&slug) {
        return Err(unknown());
    }
    let cached = app.store.resolve(&slug)?.ok_or_else(unknown)?;
    redirect::refused(&slug, app.store.peek(&slug, &cached, clock::now_ms())?)?;
    if !cached.protected {
        return Err(ApiError::bad_request(format!(
            "the link '{slug}' has no password: follow it with GET"
        )));
    }
    // Early, so a locked-out client's body is not even read.
    if let Some(ip) = peer {
        app.lockout.check(&slug, ip, Instant::now())?;
    }
    let visit = Visit::from_headers(
        req.headers().get(REFERER).map(HeaderValue::as_bytes),
        req.headers().get(USER_AGENT).map(HeaderValue::as_bytes),
    );
    let password = read_password(req).await?;
    // The hash is read after the body: a change of password meanwhile wins.
    let Some(hash) = app.store.get(&slug)?.and_then(|l| l.password) else {
        // The password was removed meanwhile: the link is open again.
        return Err(ApiError::bad_request(format!(
            "the link '{slug}' has no password: follow it with GET"
        )));
    };
    // Counted as wrong from here until it proves right (see `lockout`).
    if let Some(ip) = peer {
        app.lockout.attempt(&slug, ip, Instant::now())?;
    }
    let right = app
        .argon2
        .run(move || crate::password::verify(&password, &hash))
        .await
        .ok_or_else(|| ApiError::from(StoreError::TaskFailed))?;
    if !right {
        return Ok(redirect::form(
            StatusCode::UNAUTHORIZED,
            Some("Wrong password."),
            true,
        ));
    }
    if let Some(ip) = peer {
        app.lockout.succeeded(&slug, ip);
    }
    // Re-resolved: the link may have changed while the password was checked.
    let link = app.store.resolve(&slug)?.ok_or_else(unknown)?;
    redirect::refused(
        &slug,
        app.store.click(&slug, &link, clock::now_ms(), &visit)?,
    )?;
    redirect::redirect(&slug, &link, StatusCode::SEE_OTHER)
}

/// The `password` field of a urlencoded form body.
async fn read_password(req: Request<Incoming>) -> Result<String, ApiError> {
    let ct = req.headers().get(CONTENT_TYPE).map(HeaderValue::as_bytes);
    if !ct.is_some_and(is_urlencoded) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be a form, sent with \
             'Content-Type: application/x-www-form-urlencoded'",
        ));
    }
    let bytes = super::incoming::read(req, MAX_FORM)
        .await
        .map_err(ApiError::from)?;
    password_field(&bytes)
}

/// The `password` field of the urlencoded form `body`.
///
/// # Errors
/// 400 naming `password` when the form has none.
pub fn password_field(body: &[u8]) -> Result<String, ApiError> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ApiError::bad_request("password: the form has no password field"))
}

/// True for a `Content-Type` of `application/x-www-form-urlencoded`, in any
/// case, with any parameters.
pub fn is_urlencoded(ct: &[u8]) -> bool {
    ct.split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_field_is_decoded_and_required() {
        assert_eq!(password_field(b"password=a%20b+c%26").unwrap(), "a b c&");
        assert_eq!(password_field(b"x=1&password=").unwrap(), "");
        assert_eq!(
            password_field(b"x=1").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert!(is_urlencoded(
            b"Application/X-WWW-Form-Urlencoded; charset=utf-8"
        ));
        assert!(!is_urlencoded(b"multipart/form-data; boundary=x"));
    }
}
