//! Browser sessions: `POST /api/session` trades an API key for a cookie,
//! `DELETE /api/session` ends it, and the cookie then stands in for the key
//! it was signed in with (its digest, never its name: the key is looked up
//! by digest on every request, so revoking the key ends the session for
//! good, even when a new key is later given the same name).
//!
//! A session id is 32 random bytes from the OS (`getrandom` through
//! nanoid), sent once in an `HttpOnly; SameSite=Strict` cookie; the server
//! keeps only its SHA-256, with an expiry, in memory (so a restart signs
//! everyone out, and nothing about sessions reaches the disk). A request
//! that changes something on the strength of a cookie must also pass the
//! cross-site check of [`same_site`]: a page elsewhere cannot make a signed-in
//! browser create or delete links.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, COOKIE, ORIGIN, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::error::ApiError;
use super::wire::read_json;
use super::{App, Body};
use crate::key::KeyDigest;

/// The cookie's name.
pub const COOKIE_NAME: &str = "kurz_session";
/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most sessions kept at once; past it the one closest to expiry goes.
pub const MAX_SESSIONS: usize = 10_000;

/// The live sessions, by the SHA-256 of their id.
#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    live: Mutex<HashMap<[u8; 32], (Instant, KeyDigest)>>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::with_ttl(SESSION_TTL)
    }
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// Sessions that last `ttl`.
    pub fn with_ttl(ttl: Duration) -> Self {
        Sessions {
            ttl,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (Instant, KeyDigest)>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for the key whose digest is `key`; returns its id,
    /// for the cookie.
    pub fn start(&self, now: Instant, key: KeyDigest) -> String {
        // 43 characters of a 62-letter alphabet: about 256 bits.
        let id = nanoid::nanoid!(43, &crate::slug::ALPHABET);
        let mut live = self.lock();
        live.retain(|_, (until, _)| *until > now);
        if live.len() >= MAX_SESSIONS {
            if let Some(oldest) = live
                .iter()
                .min_by_key(|(_, (until, _))| *until)
                .map(|(k, _)| *k)
            {
                live.remove(&oldest);
            }
        }
        live.insert(digest(&id), (now + self.ttl, key));
        id
    }

    /// The digest of the key the session `id` was signed in with, while it
    /// is live at `now`.
    pub fn key_of(&self, id: &str, now: Instant) -> Option<KeyDigest> {
        self.lock()
            .get(&digest(id))
            .filter(|(until, _)| *until > now)
            .map(|(_, key)| key.clone())
    }

    /// Ends the session `id`, if there is one.
    pub fn end(&self, id: &str) {
        self.lock().remove(&digest(id));
    }
}

/// The session id in the request's `Cookie` headers, if any.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value that hands the browser session `id`; `Secure`
/// when the public base URL is https.
pub fn set_cookie(id: &str, ttl: Duration, base: &Url) -> Option<HeaderValue> {
    let secure = if base.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        ttl.as_secs()
    ))
    .ok()
}

/// The `Set-Cookie` value that makes the browser forget its session.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("kurz_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// Whether a request is not a cross-site one: browsers name where a request
/// comes from in `Sec-Fetch-Site` and, for anything but GET, `Origin`. A
/// request saying it comes from another site, or from an origin other than
/// kurz's public base URL, is refused; one that says neither does not come
/// from a browser page, so no other site can have made it.
pub fn same_site(headers: &HeaderMap, base: &Url) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return false;
        }
    }
    match headers.get(ORIGIN) {
        None => true,
        Some(origin) => origin
            .to_str()
            .ok()
            .and_then(|o| Url::parse(o).ok())
            .is_some_and(|o| o.origin() == base.origin()),
    }
}

/// The body of `POST /api/session`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    key: String,
}

/// 403 for a cross-site request that would sign in or change links; the
/// detail names the origin kurz expects, `base`'s, and the flag that sets
/// it (a page opened on `localhost` or a LAN address of a server whose
/// base URL is another is "another site" too).
pub fn cross_site(base: &Url) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "a request from another site cannot sign in or change links: this server expects \
             the origin {} (its --base-url); open the page there, or start kurz with \
             --base-url set to the address you use",
            base.origin().ascii_serialization()
        ),
    )
}

/// `POST /api/session` (`{"key": "..."}` → 204 with the cookie) and
/// `DELETE /api/session` (204, the cookie cleared). Wrong keys count
/// towards the brute-force guard like any other.
pub async fn route(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: Option<IpAddr>,
) -> Result<Response<Body>, ApiError> {
    if !same_site(req.headers(), &app.settings.base_url) {
        return Err(cross_site(&app.settings.base_url));
    }
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    match *req.method() {
        Method::POST => {
            let body: SignIn = read_json(req).await?;
            let known = app
                .keys
                .identify(body.key.as_bytes(), crate::clock::now_ms());
            if known.is_none() {
                if let Some(ip) = peer {
                    app.guard.failed(ip, Instant::now());
                }
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "the API key is not valid",
                ));
            }
            let key = KeyDigest::of(body.key.as_bytes());
            let id = app.sessions.start(Instant::now(), key);
            let cookie =
                set_cookie(&id, app.sessions.ttl(), &app.settings.base_url).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "cannot set the session cookie",
                    )
                })?;
            resp.headers_mut().insert(SET_COOKIE, cookie);
        }
        Method::DELETE => {
            if let Some(id) = cookie(req.headers()) {
                app.sessions.end(id);
            }
            resp.headers_mut().insert(SET_COOKIE, clear_cookie());
        }
        _ => return Err(ApiError::method_not_allowed("POST, DELETE")),
    }
    Ok(resp)
}

/// How a request to `/api/` is authorized by a cookie, if it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByCookie {
    /// No live session cookie: the key decides.
    No,
    /// A live session of the key with this digest, and the request may go on.
    Yes(KeyDigest),
    /// A live session, but a cross-site request that would change something.
    CrossSite,
}

/// Whether `headers` carry a live session, and whether the request may use it.
pub fn by_cookie(app: &App, method: &Method, headers: &HeaderMap) -> ByCookie {
    let Some(id) = cookie(headers) else {
        return ByCookie::No;
    };
    let Some(key) = app.sessions.key_of(id, Instant::now()) else {
        return ByCookie::No;
    };
    let reads = matches!(*method, Method::GET | Method::HEAD);
    if reads || same_site(headers, &app.settings.base_url) {
        ByCookie::Yes(key)
    } else {
        ByCookie::CrossSite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_start_expire_and_end() {
        let s = Sessions::with_ttl(Duration::from_secs(60));
        let now = Instant::now();
        let phone = KeyDigest::of(b"phone-key-0123456789");
        let id = s.start(now, phone.clone());
        assert_eq!(id.len(), 43);
        assert!(s.key_of(&id, now) == Some(phone));
        assert!(s.key_of(&id, now + Duration::from_secs(61)).is_none());
        assert!(s.key_of("not-a-session", now).is_none());
        s.end(&id);
        assert!(s.key_of(&id, now).is_none());
    }

    #[test]
    fn the_cookie_is_found_among_others_and_the_origin_is_checked() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; kurz_session=abc; b=2"),
        );
        assert_eq!(cookie(&h), Some("abc"));
        let base = Url::parse("https://s.example").unwrap();
        assert!(same_site(&h, &base));
        h.insert(ORIGIN, HeaderValue::from_static("https://s.example"));
        assert!(same_site(&h, &base));
        h.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_site(&h, &base));
        h.insert(ORIGIN, HeaderValue::from_static("https://s.example"));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_site(&h, &base));
        let set = set_cookie("abc", SESSION_TTL, &base).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        assert!(set.contains("; Secure"));
        let plain = Url::parse("http://127.0.0.1:8080").unwrap();
        let set = set_cookie("abc", SESSION_TTL, &plain).unwrap();
        assert!(!set.to_str().unwrap().contains("Secure"));
    }
}
