//! Routing: one `match` over the method and the path's segments.
//!
//! A one-segment path is a slug (the hot path, matched without allocating);
//! `/api/...` needs the key and goes to [`super::api`]; `/healthz` is a small
//! fixed answer; `/metrics` is [`super::metrics`], behind the key unless
//! public; `/` and `/assets/...` are the web page, from [`super::page`].
//! `POST /{slug}` is a protected link's password, [`super::unlock`].
//! `/yourls-api.php` is the YOURLS-compatible API, [`super::yourls`].
//! `/api/openapi.json` is the public description of all of them, from
//! [`super::openapi`], and [`ROUTES`] lists them.
//! Every answer is counted there by route class and status.
//! A known path with the wrong method is 405 with `Allow`; anything else is
//! 404. Every answer, error or not, is a response: the service never fails a
//! connection.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use hyper::{Method, Request, Response, StatusCode};

use super::conns::{BodyOf, Conn};
use super::error::ApiError;
use super::metrics::{self, Class};
use super::{api, auth, export, keys, openapi, page, redirect, session, unlock, yourls, App, Body};
use crate::keys::{Caller, Scope};

/// Every route the router serves, as (method, path), a segment that varies
/// written as OpenAPI writes it (`{slug}`). Kept next to the `match`es that
/// serve them: `tests/openapi.rs` checks this list against the router over a
/// socket (a listed method is served; any other method on a listed path is
/// 405 with an `Allow` naming exactly the listed ones) and against
/// `/api/openapi.json` (both hold the same pairs), so a route added below
/// and not here, or not in the document, fails that test.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("HEAD", "/"),
    ("GET", "/{slug}"),
    ("HEAD", "/{slug}"),
    ("POST", "/{slug}"),
    ("GET", "/healthz"),
    ("HEAD", "/healthz"),
    ("GET", "/metrics"),
    ("HEAD", "/metrics"),
    ("GET", "/yourls-api.php"),
    ("POST", "/yourls-api.php"),
    ("GET", "/assets/{file}"),
    ("HEAD", "/assets/{file}"),
    ("GET", "/api/openapi.json"),
    ("HEAD", "/api/openapi.json"),
    ("GET", "/api/export"),
    ("GET", "/api/backup"),
    ("GET", "/api/keys"),
    ("POST", "/api/keys"),
    ("DELETE", "/api/keys/{name}"),
    ("GET", "/api/links"),
    ("POST", "/api/links"),
    ("GET", "/api/links/{slug}"),
    ("PATCH", "/api/links/{slug}"),
    ("DELETE", "/api/links/{slug}"),
    ("GET", "/api/links/{slug}/stats"),
    ("GET", "/api/links/{slug}/qr"),
    ("POST", "/api/session"),
    ("DELETE", "/api/session"),
];

/// A request's answer. Redirects and the fixed pages are answered at once,
/// without an `async` state machine: hyper moves the future of every request
/// several times, and one covering the API's handlers was 3 KB, copied
/// about 15 KB per redirect. The API's answer comes later, from a boxed
/// future.
pub enum Answer {
    /// Ready now (taken by the first poll).
    Now(Option<Response<Body>>),
    /// An API request, under way.
    Later(Pin<Box<dyn Future<Output = Response<Body>> + Send>>),
}

impl Future for Answer {
    type Output = Response<Body>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response<Body>> {
        match self.get_mut() {
            Answer::Now(resp) => Poll::Ready(resp.take().unwrap_or_else(|| {
                // Only a caller polling a finished future gets here.
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "answer already taken")
                    .into_response()
            })),
            Answer::Later(fut) => fut.as_mut().poll(cx),
        }
    }
}

/// An answer still to come.
type Work = Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send>>;

/// What [`dispatch`] found: an answer, or the work still to do.
enum Step {
    Done(Result<Response<Body>, ApiError>),
    /// Work that may wait (on a body, the store, a hash): [`route`] bounds
    /// it by the app's request deadline, whatever the route, so no request
    /// can hold its connection longer.
    Api(Work),
    /// Work that keeps the deadline itself, to answer it in its own shape
    /// (the YOURLS API).
    Bounded(Work),
}

impl Step {
    /// The work left to do, within `app`'s deadline where the step asks for
    /// it. [`route`] answers [`Step::Done`] itself, without a future.
    fn work(self, app: &App) -> Work {
        match self {
            Step::Done(r) => Box::pin(std::future::ready(r)),
            Step::Bounded(fut) => fut,
            Step::Api(fut) => {
                let deadline = app.request_deadline;
                Box::pin(async move {
                    tokio::time::timeout(deadline, fut)
                        .await
                        .unwrap_or_else(|_| Err(too_slow(deadline)))
                })
            }
        }
    }
}

/// Answers one request from the client at `peer` (`None` when unknown:
/// fuzzing, in-process callers; the brute-force guard then stays out), on
/// the connection `conn` (`None` as for `peer`: a wait for a body is then
/// not marked), and counts it in the app's [`metrics`] by route class and
/// status.
pub fn route(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: Option<IpAddr>,
    conn: Option<&Arc<Conn>>,
) -> Answer {
    // The request log line is off by default; skip its clock and copies then.
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return match dispatch(&app, req, peer, conn) {
            (class, Step::Done(r)) => Answer::Now(Some(counted(&app, class, r))),
            (class, step) => {
                let fut = step.work(&app);
                Answer::Later(Box::pin(async move { counted(&app, class, fut.await) }))
            }
        };
    }
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let log = move |resp: &Response<Body>| {
        let micros = started.elapsed().as_micros() as u64;
        tracing::debug!(%method, %path, status = resp.status().as_u16(), micros, "request");
    };
    match dispatch(&app, req, peer, conn) {
        (class, Step::Done(r)) => {
            let resp = counted(&app, class, r);
            log(&resp);
            Answer::Now(Some(resp))
        }
        (class, step) => {
            let fut = step.work(&app);
            Answer::Later(Box::pin(async move {
                let resp = counted(&app, class, fut.await);
                log(&resp);
                resp
            }))
        }
    }
}

/// The response of `r` (see [`finish`]), counted under `class`.
fn counted(app: &App, class: Class, r: Result<Response<Body>, ApiError>) -> Response<Body> {
    let resp = finish(r);
    app.metrics.count(class, resp.status());
    resp
}

/// The response of `r`, marked `nosniff`: no response may be sniffed into
/// something it does not say it is.
fn finish(r: Result<Response<Body>, ApiError>) -> Response<Body> {
    let mut resp = r.unwrap_or_else(ApiError::into_response);
    resp.headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

/// 408 for a request past the app's deadline. What is left of a half-sent
/// body cannot be told from a next request, so the connection must end.
fn too_slow(deadline: std::time::Duration) -> ApiError {
    ApiError {
        header: Some((CONNECTION, HeaderValue::from_static("close"))),
        ..ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request did not complete within {} s",
                deadline.as_secs()
            ),
        )
    }
}

fn dispatch(
    app: &Arc<App>,
    req: Request<Incoming>,
    peer: Option<IpAddr>,
    conn: Option<&Arc<Conn>>,
) -> (Class, Step) {
    let path = req.uri().path();
    let rest = path.strip_prefix('/').unwrap_or(path);
    let is_get = req.method() == Method::GET;
    let is_head = req.method() == Method::HEAD;

    // Hot path: `/{slug}`.
    if !rest.contains('/') {
        if rest == yourls::PATH {
            return (
                Class::Yourls,
                Step::Bounded(Box::pin(yourls::route(
                    app.clone(),
                    awaits_body(req, conn),
                    peer,
                ))),
            );
        }
        return match rest {
            "" => (
                Class::Page,
                Step::Done(page::index(req.method(), req.headers())),
            ),
            "healthz" => (
                Class::Health,
                Step::Done(only_get(is_get || is_head).map(|()| match app.degraded() {
                    None => text(StatusCode::OK, "ok\n"),
                    Some(why) => {
                        let mut resp = text(StatusCode::SERVICE_UNAVAILABLE, "");
                        *resp.body_mut() = Body::from(format!("degraded: {why}\n"));
                        resp
                    }
                })),
            ),
            "metrics" => (Class::Metrics, metrics_route(app, req, peer)),
            "api" => (
                Class::Api,
                Step::Done(Err(ApiError::not_found("see /api/links"))),
            ),
            slug if is_get || is_head => {
                // Its time in the handler: the only clock reads metrics add,
                // and only here.
                let started = Instant::now();
                let answer = redirect::follow(app, slug, is_get, req.headers());
                app.metrics.redirect_took(started.elapsed());
                (Class::Redirect, Step::Done(answer))
            }
            // A protected link's password form posts here.
            slug if req.method() == Method::POST => (
                Class::Redirect,
                Step::Api(Box::pin(unlock::unlock(
                    app.clone(),
                    slug.to_owned(),
                    awaits_body(req, conn),
                    peer,
                ))),
            ),
            _ => (
                Class::Other,
                Step::Done(Err(ApiError::method_not_allowed("GET, HEAD, POST"))),
            ),
        };
    }
    if let Some(name) = rest.strip_prefix(page::ASSETS_PREFIX) {
        return (
            Class::Assets,
            Step::Done(page::asset(name, req.method(), req.headers())),
        );
    }
    // The API's description is public (it holds no data): no key, no guard.
    if rest == openapi::PATH {
        return (
            Class::Api,
            Step::Done(openapi::serve(req.method(), req.headers())),
        );
    }
    if !rest.starts_with("api/") {
        return (
            Class::Other,
            Step::Done(Err(ApiError::not_found(format!("nothing at {path}")))),
        );
    }
    // A client that keeps sending wrong keys is refused for a while (the
    // guard); requests without a known address (fuzzing, in-process) are not.
    if let Err(e) = guard(app, peer) {
        return (Class::Api, Step::Done(Err(e)));
    }
    if rest == "api/session" {
        return (
            Class::Api,
            Step::Api(Box::pin(session::route(
                app.clone(),
                awaits_body(req, conn),
                peer,
            ))),
        );
    }
    let caller = match authorize(app, &req, peer)
        .and_then(|c| auth::allow(&c, scope_for(req.method(), rest)).map(|()| c))
    {
        Ok(c) => c,
        Err(e) => return (Class::Api, Step::Done(Err(e))),
    };
    (
        Class::Api,
        Step::Api(Box::pin(api_route(
            app.clone(),
            awaits_body(req, conn),
            caller,
        ))),
    )
}

/// `req`, carrying its connection for whoever reads its body (see
/// [`BodyOf`]) if it has one. Only the routes that read bodies call it, so
/// a redirect's request is never touched.
fn awaits_body(mut req: Request<Incoming>, conn: Option<&Arc<Conn>>) -> Request<Incoming> {
    if let Some(conn) = conn {
        if !hyper::body::Body::is_end_stream(req.body()) {
            req.extensions_mut().insert(BodyOf(conn.clone()));
        }
    }
    req
}

/// `/metrics`: behind the key as the API is (the guard, a session cookie
/// or the key), unless the server makes its metrics public.
fn metrics_route(app: &Arc<App>, req: Request<Incoming>, peer: Option<IpAddr>) -> Step {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Step::Done(Err(ApiError::method_not_allowed("GET, HEAD")));
    }
    if !app.public_metrics {
        if let Err(e) = guard(app, peer)
            .and_then(|()| authorize(app, &req, peer))
            .and_then(|c| auth::allow(&c, Scope::Read))
        {
            return Step::Done(Err(e));
        }
    }
    Step::Api(Box::pin(metrics::scrape(app.clone())))
}

/// 429 while the client at `peer` is locked out for wrong keys.
fn guard(app: &App, peer: Option<IpAddr>) -> Result<(), ApiError> {
    match peer {
        Some(ip) => app.guard.check(ip, Instant::now()),
        None => Ok(()),
    }
}

/// Who the request is, if it may use what the keys guard: a signed-in
/// browser's cookie stands in for the key it signed in with (while that key
/// is not revoked), unless it comes with a key (then the key decides) or
/// from another site. A wrong key counts against its client.
fn authorize(app: &App, req: &Request<Incoming>, peer: Option<IpAddr>) -> Result<Caller, ApiError> {
    let headers = req.headers();
    let now = crate::clock::now_ms();
    if !auth::presents_key(headers) {
        match session::by_cookie(app, req.method(), headers) {
            session::ByCookie::Yes(key) => {
                if let Some(caller) = app.keys.caller_of(&key, now) {
                    return Ok(caller);
                }
            }
            session::ByCookie::CrossSite => {
                return Err(session::cross_site(&app.settings.base_url))
            }
            session::ByCookie::No => {}
        }
    }
    auth::check(headers, &app.keys, now).inspect_err(|_| {
        // Only a wrong key is a guess; a request without one is not.
        if let (Some(ip), true) = (peer, auth::presents_key(headers)) {
            app.guard.failed(ip, Instant::now());
        }
    })
}

/// The scope a request to the API at `path` (without its leading `/`)
/// needs: managing keys and taking exports (which carry password hashes)
/// need `admin`; reading needs `read`; anything else changes links.
fn scope_for(method: &Method, path: &str) -> Scope {
    if path == "api/keys"
        || path.starts_with("api/keys/")
        || path == "api/export"
        || path == "api/backup"
    {
        Scope::Admin
    } else if *method == Method::GET || *method == Method::HEAD {
        Scope::Read
    } else {
        Scope::Write
    }
}

/// The management API, behind the key (within the request deadline, as
/// every [`Step::Api`]).
async fn api_route(
    app: Arc<App>,
    req: Request<Incoming>,
    caller: Caller,
) -> Result<Response<Body>, ApiError> {
    // A `Uri` clone shares its bytes, and the request can still be handed on whole.
    let uri = req.uri().clone();
    let path = uri.path();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let query = uri.query();
    let method = req.method().clone();
    match (segments.as_slice(), method) {
        (["api", "links"], Method::GET) => api::list(app, query).await,
        (["api", "links"], Method::POST) => api::create(app, req, &caller.name).await,
        (["api", "links"], _) => Err(ApiError::method_not_allowed("GET, POST")),
        (["api", "links", slug], Method::GET) => api::get(app, slug).await,
        (["api", "links", slug], Method::PATCH) => api::patch(app, slug, req).await,
        (["api", "links", slug], Method::DELETE) => api::delete(app, slug).await,
        (["api", "links", _], _) => Err(ApiError::method_not_allowed("GET, PATCH, DELETE")),
        (["api", "links", slug, "stats"], Method::GET) => api::stats(app, slug, query).await,
        (["api", "links", _, "stats"], _) => Err(ApiError::method_not_allowed("GET")),
        (["api", "links", slug, "qr"], Method::GET) => api::qr(app, slug, query).await,
        (["api", "links", _, "qr"], _) => Err(ApiError::method_not_allowed("GET")),
        (["api", "export"], Method::GET) => export::export(app).await,
        (["api", "export"], _) => Err(ApiError::method_not_allowed("GET")),
        (["api", "backup"], Method::GET) => export::backup(app).await,
        (["api", "backup"], _) => Err(ApiError::method_not_allowed("GET")),
        (["api", "keys"], Method::GET) => keys::list(app).await,
        (["api", "keys"], Method::POST) => keys::add(app, req).await,
        (["api", "keys"], _) => Err(ApiError::method_not_allowed("GET, POST")),
        (["api", "keys", name], Method::DELETE) => keys::revoke(app, name).await,
        (["api", "keys", _], _) => Err(ApiError::method_not_allowed("DELETE")),
        _ => Err(ApiError::not_found(format!("no API route at {path}"))),
    }
}

fn only_get(ok: bool) -> Result<(), ApiError> {
    if ok {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed("GET, HEAD"))
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
