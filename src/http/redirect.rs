//! The hot path: `GET /{slug}` answers the link's redirect and counts the click.
//!
//! A cache hit costs a hash lookup and two atomic increments (one more for a
//! click with a `Referer`, counted by host); nothing here writes to sled or
//! holds a lock across an `.await`. `HEAD` answers the same headers without
//! counting.

use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, LOCATION, REFERER, USER_AGENT};
use hyper::{Response, StatusCode};

use super::error::ApiError;
use super::{App, Body};
use crate::clock;
use crate::store::ClickOutcome;
use crate::visit::Visit;

/// Answers a redirect for `slug`; counts the click when `count` is true,
/// with the referrer host and bot name its `headers` give.
///
/// # Errors
/// 404 for an unknown slug, 410 for an expired or used-up link, 500 for a
/// damaged record (logged with the slug).
pub fn follow(
    app: &App,
    slug: &str,
    count: bool,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let unknown = || ApiError::not_found(format!("no link with slug '{slug}'"));
    if !crate::slug::could_exist(slug) {
        return Err(unknown());
    }
    let link = app.store.resolve(slug)?.ok_or_else(unknown)?;
    let now = clock::now_ms();
    let outcome = if count {
        let visit = Visit::from_headers(
            headers.get(REFERER).map(HeaderValue::as_bytes),
            headers.get(USER_AGENT).map(HeaderValue::as_bytes),
        );
        app.store.click(slug, &link, now, &visit)?
    } else {
        app.store.peek(slug, &link, now)?
    };
    match outcome {
        ClickOutcome::Counted => {}
        ClickOutcome::Expired => {
            return Err(ApiError::new(
                StatusCode::GONE,
                format!("the link '{slug}' has expired"),
            ))
        }
        ClickOutcome::LimitReached => {
            return Err(ApiError::new(
                StatusCode::GONE,
                format!("the link '{slug}' has reached its click limit"),
            ))
        }
    }
    let location = HeaderValue::from_maybe_shared(link.location.clone()).map_err(|_| {
        tracing::error!(%slug, "stored target is not a valid Location header");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal storage error")
    })?;
    let status = link.redirect_status.unwrap_or(app.settings.redirect_status);
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
    let headers = resp.headers_mut();
    headers.insert(LOCATION, location);
    if status == 302 || status == 307 {
        // Temporary redirects must reach us every time to be counted.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(resp)
}
