//! `GET /api/openapi.json`: the OpenAPI 3.1 description of kurz's HTTP API.
//!
//! The document is written by hand (`openapi.json` next to this file) and
//! embedded with `include_bytes!`, so a binary serves the description of
//! exactly the routes it was built with. It is public: it describes the API
//! and holds no data, so it needs no key and is answered before the
//! wrong-key guard. `tests/openapi.rs` checks it against [`super::router::ROUTES`]
//! and the router itself; `.ci/schemathesis.sh` checks the real server's
//! answers against it.

use std::sync::LazyLock;

use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Response};

use super::error::ApiError;
use super::{page, Body};

/// The path the document is served at (after the leading `/`).
pub const PATH: &str = "api/openapi.json";

/// The document's bytes.
pub const DOCUMENT: &[u8] = include_bytes!("openapi.json");

/// The document's strong ETag, computed once.
static ETAG: LazyLock<HeaderValue> = LazyLock::new(|| page::etag_of(DOCUMENT));

/// `GET`/`HEAD /api/openapi.json`: the document, with an `ETag` (so
/// `If-None-Match` gives 304) and the page files' other headers.
///
/// # Errors
/// 405 (with `Allow: GET, HEAD`) for any other method.
pub fn serve(method: &Method, headers: &HeaderMap) -> Result<Response<Body>, ApiError> {
    page::serve_static(DOCUMENT, "application/json", ETAG.clone(), method, headers)
}
