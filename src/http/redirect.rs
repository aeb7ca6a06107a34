//! The hot path: `GET /{slug}` answers the link's redirect and counts the click.
//!
//! A cache hit costs a hash lookup and two atomic increments (one more for a
//! click with a `Referer`, counted by host); nothing here writes to sled or
//! holds a lock across an `.await`. `HEAD` answers the same headers without
//! counting. A protected link (one with a password) answers its password
//! form instead, uncounted and without a trace of its target; the password
//! itself is checked by [`super::unlock`].

use hyper::header::{
    HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION,
    REFERER, REFERRER_POLICY, USER_AGENT,
};
use hyper::{Response, StatusCode};

use super::error::ApiError;
use super::{App, Body};
use crate::clock;
use crate::store::{CachedLink, ClickOutcome};
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
    if link.protected {
        // The form is not a click: only the right password is.
        refused(slug, app.store.peek(slug, &link, now)?)?;
        return Ok(form(StatusCode::OK, None, count));
    }
    let outcome = if count {
        let visit = Visit::from_headers(
            headers.get(REFERER).map(HeaderValue::as_bytes),
            headers.get(USER_AGENT).map(HeaderValue::as_bytes),
        );
        app.store.click(slug, &link, now, &visit)?
    } else {
        app.store.peek(slug, &link, now)?
    };
    refused(slug, outcome)?;
    let status = link.redirect_status.unwrap_or(app.settings.redirect_status);
    redirect(
        slug,
        &link,
        StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND),
    )
}

/// The 410 of a link that may not be followed (expired, or at its limit).
///
/// # Errors
/// That 410; `Ok` for a click that counted.
pub fn refused(slug: &str, outcome: ClickOutcome) -> Result<(), ApiError> {
    match outcome {
        ClickOutcome::Counted => Ok(()),
        ClickOutcome::Expired => Err(ApiError::new(
            StatusCode::GONE,
            format!("the link '{slug}' has expired"),
        )),
        ClickOutcome::LimitReached => Err(ApiError::new(
            StatusCode::GONE,
            format!("the link '{slug}' has reached its click limit"),
        )),
    }
}

/// A `status` redirect to the target of `link`.
///
/// # Errors
/// 500 for a stored target that cannot be a header (logged with the slug).
pub fn redirect(
    slug: &str,
    link: &CachedLink,
    status: StatusCode,
) -> Result<Response<Body>, ApiError> {
    let location = link.location.clone().ok_or_else(|| {
        tracing::error!(%slug, "stored target is not a valid Location header");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal storage error")
    })?;
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(LOCATION, location);
    if status != StatusCode::MOVED_PERMANENTLY && status != StatusCode::PERMANENT_REDIRECT {
        // Temporary redirects must reach us every time to be counted.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(resp)
}

/// The web page's policy, but for where the form may lead: browsers apply
/// `form-action` to the redirects that follow a submission too, so the
/// page's `'self'` would stop the 303 to the target (another origin) after
/// a right password. Targets are http or https URLs, so those are allowed.
pub const FORM_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; form-action 'self' http: https:; \
frame-ancestors 'none'; base-uri 'none'";

/// The password form of a protected link, answered with `status` and an
/// optional `message` (already plain text of our own, never user input);
/// without a body when `with_body` is false (`HEAD`). It posts back to the
/// same URL, needs no script, and holds nothing of the target.
pub fn form(status: StatusCode, message: Option<&'static str>, with_body: bool) -> Response<Body> {
    let mut resp = Response::new(if with_body {
        let message = message
            .map(|m| format!("<p class=\"error\" role=\"alert\">{m}</p>\n"))
            .unwrap_or_default();
        Body::from(format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"robots\" content=\"noindex\">\n\
             <title>Password required</title>\n\
             <link rel=\"stylesheet\" href=\"/assets/app.css\">\n</head>\n<body>\n<main>\n\
             <h1>Password required</h1>\n<p>This link is protected by a password.</p>\n\
             {message}<form method=\"post\">\n\
             <label for=\"password\">Password</label>\n\
             <input id=\"password\" name=\"password\" type=\"password\" required autofocus \
             autocomplete=\"current-password\" maxlength=\"{}\">\n\
             <button type=\"submit\">Open link</button>\n</form>\n</main>\n</body>\n</html>\n",
            crate::password::MAX_LEN
        ))
    } else {
        Body::default()
    });
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(FORM_CSP));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}
