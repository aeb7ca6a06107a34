//! The YOURLS-compatible API: `GET|POST /yourls-api.php`, for YOURLS clients
//! and scripts.
//!
//! It speaks YOURLS (1.10.4, and the signing of its next release), not
//! kurz's JSON API: the same actions (`shorturl`, in [`shorten`], `expand`, `url-stats`,
//! `stats`, `db-stats`, `version`), parameters from the query string or a
//! form body ([`form`]: the body wins, as in PHP's `$_REQUEST`), the same field names,
//! messages, `statusCode`/`errorCode` and HTTP statuses, in the formats of
//! [`output`], and YOURLS's signatures ([`sign`]). Every answer, errors
//! included, is in YOURLS's shape. A keyword is a slug, clicks are kurz's
//! clicks, a timestamp is `created_at` as `Y-m-d H:i:s` in UTC; kurz keeps
//! no titles and no IP addresses, so a title is the one sent with
//! `shorturl` (else the long URL, YOURLS's own fallback) and an IP is empty.

mod form;
mod output;
mod shorten;
mod sign;
mod stats;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONNECTION};
use hyper::{Method, Request, Response, StatusCode};

use super::error::ApiError;
use super::{App, Body};
use crate::store::{Link, StoreError};
use crate::{clock, key, slug};
use form::{read_form, Params};
use output::{Answer, Format, Val};
use shorten::shorturl;
use sign::{Credentials, Secrets, Verdict};

/// The path, without its leading `/`.
pub const PATH: &str = "yourls-api.php";

/// The YOURLS version whose API this answers `action=version` with.
pub const VERSION: &str = "1.10.4";
/// The YOURLS database version of [`VERSION`] (`action=version&db=1`).
pub const DB_VERSION: &str = "507";

/// Most links one `action=stats` lists (YOURLS has no cap; a larger
/// `limit` is lowered to this).
pub const STATS_LIMIT_MAX: usize = 1000;

/// What the `simple` format says for the stats actions.
const STATS_SIMPLE: &str = "Need either XML or JSON format for stats";

/// YOURLS's answer when the short URL is not there.
const NOT_FOUND: &str = "Error: short URL not found";

/// Answers one request to `/yourls-api.php` from `peer`. Never an `Err`:
/// every failure is answered in YOURLS's shape.
///
/// # Errors
/// None; the type fits the router's API futures.
pub async fn route(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: Option<IpAddr>,
) -> Result<Response<Body>, ApiError> {
    let query = Params::parse(req.uri().query().unwrap_or_default().as_bytes());
    // Until the body is read, only the query string can choose the format.
    let early = |answer: Answer| finish(&query, answer);

    if req.method() != Method::GET && req.method() != Method::POST {
        let mut a = Answer::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed: use GET or POST",
        );
        a.header = Some((ALLOW, HeaderValue::from_static("GET, POST")));
        return Ok(early(a));
    }
    // A client that keeps sending wrong secrets is refused for a while, as
    // on /api/ (the same guard, so guesses here and there add up).
    if let Some(ip) = peer {
        if let Err(e) = app.guard.check(ip, Instant::now()) {
            let mut a = Answer::error(e.status, &e.detail);
            a.header = e.header;
            return Ok(early(a));
        }
    }
    let deadline = app.request_deadline;
    let work = async {
        let params = match read_form(req).await {
            Ok(body) => query.clone().then(body),
            Err(a) => return early(a),
        };
        let answer = match authorize(&app, &params, peer).await {
            Ok(()) => act(&app, &params).await,
            Err(refusal) => return refusal,
        };
        finish(&params, answer)
    };
    Ok(match tokio::time::timeout(deadline, work).await {
        Ok(resp) => resp,
        Err(_) => {
            // What is left of a half-sent body cannot be told from a next
            // request, so the connection must end.
            let mut a = Answer::error(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "the request did not complete within {} s",
                    deadline.as_secs()
                ),
            );
            a.header = Some((CONNECTION, HeaderValue::from_static("close")));
            early(a)
        }
    })
}

/// `answer` in the requested format, with the request's `callback` (or
/// `jsonp`) echoed as YOURLS does.
fn finish(params: &Params, mut answer: Answer) -> Response<Body> {
    if let Some(c) = params.get("callback").or_else(|| params.get("jsonp")) {
        answer.set("callback", c);
    }
    output::render(Format::parse(params.get("format")), answer)
}

/// Checks the request's YOURLS credentials; the refusal is YOURLS's 403,
/// ready to send.
async fn authorize(app: &App, params: &Params, peer: Option<IpAddr>) -> Result<(), Response<Body>> {
    let creds = Credentials {
        signature: params.get("signature"),
        timestamp: params.get("timestamp"),
        hash: params.get("hash"),
        username: params.get("username"),
        password: params.get("password"),
    };
    let verdict = if creds.tries_any() {
        // A damaged token file must not lock out the API key: the token is
        // then missing, and the log says why.
        let token = token(app).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the YOURLS signature token");
            None
        });
        let secrets = Secrets {
            key: &app.key_digest,
            token: token.as_deref(),
        };
        creds.check(&secrets, clock::now_ms().div_euclid(1000))
    } else {
        Verdict::Refused
    };
    match verdict {
        Verdict::Valid => return Ok(()),
        // Only a wrong secret is a guess; a request without one is not.
        Verdict::Wrong => {
            if let Some(ip) = peer {
                app.guard.failed(ip, Instant::now());
            }
        }
        Verdict::Refused => {}
    }
    let message = if params.get("username").is_some() || params.get("password").is_some() {
        "Invalid username or password"
    } else {
        "Please log in"
    };
    // YOURLS's refusal always carries `callback` (only that name), even empty.
    let mut a = Answer::error(StatusCode::FORBIDDEN, message);
    a.set("callback", params.get("callback").unwrap_or_default());
    Err(output::render(Format::parse(params.get("format")), a))
}

/// The YOURLS signature token, read from the data directory once found.
async fn token(app: &App) -> Result<Option<String>, key::KeyError> {
    if let Some(t) = app.yourls_token.get() {
        return Ok(Some(t.clone()));
    }
    let dir = app.store.dir().to_owned();
    let read = tokio::task::spawn_blocking(move || key::read_yourls_token(&dir))
        .await
        .unwrap_or(Ok(None))?;
    Ok(read.map(|t| app.yourls_token.get_or_init(|| t).clone()))
}

/// Runs the requested action.
async fn act(app: &Arc<App>, params: &Params) -> Answer {
    let arg = |name| params.get(name).unwrap_or_default();
    match params.get("action") {
        Some("shorturl") => shorturl(app, arg("url"), arg("keyword"), arg("title")).await,
        Some("expand") => expand(app, arg("shorturl")).await,
        Some("url-stats") => url_stats(app, arg("shorturl")).await,
        Some("stats") => stats::stats(app, arg("filter"), arg("limit"), arg("start")).await,
        Some("db-stats") => stats::db_stats(app).await,
        Some("version") => version(params.get("db")),
        _ => {
            let mut a = Answer::new();
            let message = "Unknown or missing \"action\" parameter";
            a.set("errorCode", "400").set("message", message);
            a.simple = message.to_owned();
            a
        }
    }
}

/// YOURLS's answer to a storage fault: the status kurz gives it (500, or
/// 503 when the disk refuses writes), details only in the log.
fn fault(e: StoreError) -> Answer {
    let e = ApiError::from(e);
    Answer::error(e.status, &e.detail)
}

/// Runs store work off the runtime's workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| StoreError::TaskFailed)?
}

/// The slug a `shorturl` parameter names: a keyword, or a full short URL.
fn keyword_of(app: &App, shorturl: &str) -> String {
    let prefix = format!("{}/", app.short_prefix());
    shorturl.trim().replace(&prefix, "")
}

/// A link's stored record and clicks, `None` when there is no such link.
fn lookup(app: &App, kw: &str) -> Result<Option<(Link, u64)>, StoreError> {
    if !slug::could_exist(kw) {
        return Ok(None);
    }
    match app.store.get(kw)? {
        None => Ok(None),
        Some(link) => Ok(Some((link, app.store.clicks(kw)?))),
    }
}

/// `action=expand`.
async fn expand(app: &Arc<App>, shorturl: &str) -> Answer {
    let kw = keyword_of(app, shorturl);
    let mut a = Answer::new();
    a.set("keyword", kw.as_str());
    match lookup(app, &kw) {
        Err(e) => fault(e),
        Ok(None) => {
            a.set("message", NOT_FOUND).set("errorCode", "404");
            a.simple = "not found".to_owned();
            a
        }
        Ok(Some((link, _))) => {
            a.set("shorturl", app.short_url(&kw))
                .set("longurl", link.target.as_str())
                .set("title", link.target.as_str())
                .set("message", "success")
                .set("statusCode", "200");
            a.simple = link.target;
            a
        }
    }
}

/// `action=url-stats`.
async fn url_stats(app: &Arc<App>, shorturl: &str) -> Answer {
    let kw = keyword_of(app, shorturl);
    let mut a = match lookup(app, &kw) {
        Err(e) => return fault(e),
        Ok(None) => {
            let mut a = Answer::new();
            a.set("statusCode", "404").set("message", NOT_FOUND);
            a
        }
        Ok(Some((link, clicks))) => {
            let mut a = Answer::new();
            a.set("statusCode", "200")
                .set("message", "success")
                .set("link", Val::Map(link_stats(app, &kw, &link, clicks)));
            a
        }
    };
    a.simple = STATS_SIMPLE.to_owned();
    a
}

/// A link as YOURLS's stats show it.
fn link_stats(app: &App, kw: &str, link: &Link, clicks: u64) -> Vec<(String, Val)> {
    let mut info = link_info(kw, link, clicks);
    info.retain(|(k, _)| k != "keyword");
    for (k, v) in &mut info {
        if k == "date" {
            *k = "timestamp".to_owned();
        } else if k == "shorturl" {
            *v = app.short_url(kw).into();
        }
    }
    info
}

/// keyword, shorturl (a placeholder for [`link_stats`]), url, title, date,
/// ip, clicks.
fn link_info(kw: &str, link: &Link, clicks: u64) -> Vec<(String, Val)> {
    vec![
        ("keyword".to_owned(), kw.into()),
        ("shorturl".to_owned(), "".into()),
        ("url".to_owned(), link.target.as_str().into()),
        ("title".to_owned(), link.target.as_str().into()),
        ("date".to_owned(), yourls_time(link.created_at).into()),
        ("ip".to_owned(), "".into()),
        ("clicks".to_owned(), clicks.into()),
    ]
}

/// `action=version` (`db=1` adds the database version).
fn version(db: Option<&str>) -> Answer {
    let mut a = Answer::new();
    a.set("version", VERSION);
    // PHP's `== 1`: "1", "01", "1.0" all are.
    if db.and_then(|d| d.trim().parse::<f64>().ok()) == Some(1.0) {
        a.set("db_version", DB_VERSION);
    }
    a.simple = VERSION.to_owned();
    a
}

/// Unix ms as YOURLS's `Y-m-d H:i:s` (UTC here).
fn yourls_time(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// YOURLS's `yourls_trim_long_string`: at most 60 characters, the end
/// replaced by `[...]` when cut.
fn trim_long(s: &str) -> String {
    if s.chars().count() <= 60 {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(55).collect();
    out.push_str("[...]");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_trimming_are_yourls_s() {
        assert_eq!(yourls_time(1_764_151_200_123), "2025-11-26 10:00:00");
        assert_eq!(trim_long("https://a.example/"), "https://a.example/");
        let long = format!("https://a.example/{}", "x".repeat(60));
        let cut = trim_long(&long);
        assert_eq!(cut.chars().count(), 60);
        assert!(cut.ends_with("[...]") && long.starts_with(&cut[..55]));
    }
}
