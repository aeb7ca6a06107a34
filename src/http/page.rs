//! The web page: `GET /` and its assets under `/assets/`, embedded in the binary.
//!
//! The page is plain HTML, CSS and JavaScript from `assets/` (no build step),
//! taken in with `include_bytes!`, so the binary serves exactly what it was
//! built with. The script is a set of ES modules: the page loads `app.js`,
//! which imports the others by relative path, so every module must be listed
//! in `ASSETS` (one that is not is a 404, and the page never gets past
//! "Loading…"). Every answer carries a strong `ETag` (a SHA-256 of the bytes,
//! computed once), `Cache-Control: no-cache` (browsers revalidate, so a new
//! binary's page is picked up at once, and `If-None-Match` makes that a 304),
//! and a strict `Content-Security-Policy`: the page runs only its own script
//! (module scripts from 'self' are allowed, inline ones are not) and style,
//! talks only to kurz, and cannot be framed.

use std::sync::LazyLock;

use bytes::Bytes;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, REFERRER_POLICY,
};
use hyper::{Method, Response, StatusCode};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::Body;

/// The `Content-Security-Policy` of every page and asset response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

/// The path prefix of the assets (after the leading `/`).
pub const ASSETS_PREFIX: &str = "assets/";

/// One embedded file.
struct Asset {
    /// Its name under `/assets/` (the page itself has none: it is `/`).
    name: &'static str,
    /// Its `Content-Type`.
    content_type: &'static str,
    /// Its bytes.
    bytes: &'static [u8],
}

/// The page itself, served at `/`.
const INDEX: Asset = Asset {
    name: "",
    content_type: "text/html; charset=utf-8",
    bytes: include_bytes!("../../assets/index.html"),
};

/// What `/assets/{name}` serves.
const ASSETS: [Asset; 11] = [
    // the entry point: sign in and out, routing
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/app.js"),
    },
    // the fetch wrapper and its errors
    Asset {
        name: "api.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/api.js"),
    },
    // element, error, time and copy helpers
    Asset {
        name: "dom.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/dom.js"),
    },
    // the shorten form and the list
    Asset {
        name: "links.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/links.js"),
    },
    // one link's view: edit, delete, QR code
    Asset {
        name: "detail.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/detail.js"),
    },
    // the SVG chart of daily clicks
    Asset {
        name: "chart.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/chart.js"),
    },
    // a link's referrer hosts and bot visits
    Asset {
        name: "sources.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/sources.js"),
    },
    // the API keys, for an admin session
    Asset {
        name: "keys.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/keys.js"),
    },
    Asset {
        name: "bookmarklet.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/bookmarklet.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/app.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../assets/favicon.svg"),
    },
];

/// The ETags of [`INDEX`] and then of each of [`ASSETS`], in order:
/// the first 128 bits of each file's SHA-256, in hex and quotes.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    std::iter::once(&INDEX)
        .chain(ASSETS.iter())
        .map(|a| etag_of(a.bytes))
        .collect()
});

/// The strong ETag of `bytes`: the first 128 bits of their SHA-256, in hex
/// and quotes.
pub(super) fn etag_of(bytes: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(bytes);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for b in &digest[..16] {
        tag.push_str(&format!("{b:02x}"));
    }
    tag.push('"');
    // Hex digits and quotes are always a valid header value.
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// `GET`/`HEAD /`: the page.
///
/// # Errors
/// 405 (with `Allow: GET, HEAD`) for any other method.
pub fn index(method: &Method, headers: &HeaderMap) -> Result<Response<Body>, ApiError> {
    serve(&INDEX, 0, method, headers)
}

/// `GET`/`HEAD /assets/{name}`: one of the page's files.
///
/// # Errors
/// 404 for a name that is not one of them, 405 (with `Allow: GET, HEAD`)
/// for another method on one that is.
pub fn asset(name: &str, method: &Method, headers: &HeaderMap) -> Result<Response<Body>, ApiError> {
    match ASSETS.iter().position(|a| a.name == name) {
        Some(i) => serve(&ASSETS[i], i + 1, method, headers),
        None => Err(ApiError::not_found(format!("no asset at /assets/{name}"))),
    }
}

/// Answers `asset`, whose ETag is `ETAGS[tag]`.
fn serve(
    asset: &Asset,
    tag: usize,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let etag = ETAGS
        .get(tag)
        .cloned()
        .unwrap_or_else(|| etag_of(asset.bytes));
    serve_static(asset.bytes, asset.content_type, etag, method, headers)
}

/// Answers a file embedded in the binary, `bytes` of `content_type` whose
/// strong ETag is `etag` (see [`etag_of`]), with the headers every page
/// file gets; `If-None-Match` naming `etag` makes it a 304.
///
/// # Errors
/// 405 (with `Allow: GET, HEAD`) for a method other than GET and HEAD.
pub(super) fn serve_static(
    bytes: &'static [u8],
    content_type: &'static str,
    etag: HeaderValue,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::method_not_allowed("GET, HEAD"));
    }
    let fresh = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .any(|v| none_match_hits(v.as_bytes(), etag.as_bytes()));
    let mut resp = if fresh {
        let mut resp = Response::new(Body::default());
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        resp
    } else {
        let mut resp = Response::new(Body::new(Bytes::from_static(bytes)));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        resp
    };
    let h = resp.headers_mut();
    h.insert(ETAG, etag);
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    Ok(resp)
}

/// Whether an `If-None-Match` value names `etag`: `*`, or a list of tags
/// one of which matches it by weak comparison (RFC 9110 §13.1.2: a `W/`
/// prefix is ignored).
pub fn none_match_hits(value: &[u8], etag: &[u8]) -> bool {
    value.split(|&b| b == b',').any(|t| {
        let t = t.trim_ascii();
        let t = t.strip_prefix(b"W/").unwrap_or(t);
        t == b"*" || t == etag
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_weak_tags_and_star_are_understood() {
        let tag = b"\"abc\"";
        assert!(none_match_hits(b"\"abc\"", tag));
        assert!(none_match_hits(b"W/\"abc\"", tag));
        assert!(none_match_hits(b"\"x\", \"abc\"", tag));
        assert!(none_match_hits(b"*", tag));
        assert!(!none_match_hits(b"\"abcd\"", tag));
        assert!(!none_match_hits(b"abc", tag));
        assert!(!none_match_hits(b"", tag));
    }

    #[test]
    fn etags_are_strong_quoted_and_differ_per_file() {
        assert_eq!(ETAGS.len(), 1 + ASSETS.len());
        for t in ETAGS.iter() {
            let t = t.to_str().unwrap();
            assert_eq!(t.len(), 34);
            assert!(t.starts_with('"') && t.ends_with('"'));
        }
        assert_ne!(ETAGS[0], ETAGS[1]);
    }
}
