//! The API's JSON: request bodies in (read with a cap), link JSON out.
//!
//! Reading a body checks the content type (415), stops at 64 KiB while
//! reading (413), and parses into a strict shape (400, naming the field).
//! Turning the parsed values into valid link settings (422) is the
//! handlers' job in [`super::api`].

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::error::ApiError;
use super::{App, Body};
use crate::clock;
use crate::store::Link;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// Body of `POST /api/links`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The long URL.
    pub url: String,
    /// A custom slug.
    #[serde(default)]
    pub slug: Option<String>,
    /// Expiry, RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Click limit.
    #[serde(default)]
    pub max_clicks: Option<u64>,
    /// Redirect status for this link.
    #[serde(default)]
    pub redirect_status: Option<u16>,
}

/// Body of `PATCH /api/links/{slug}`: absent fields stay, `null` clears.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    /// New long URL (`null` is refused: a link needs a target).
    #[serde(default, deserialize_with = "present")]
    pub url: Option<Option<String>>,
    /// New expiry, or `null` for none.
    #[serde(default, deserialize_with = "present")]
    pub expires_at: Option<Option<String>>,
    /// New click limit, or `null` for none.
    #[serde(default, deserialize_with = "present")]
    pub max_clicks: Option<Option<u64>>,
    /// New redirect status, or `null` for the server default.
    #[serde(default, deserialize_with = "present")]
    pub redirect_status: Option<Option<u16>>,
}

/// Marks a field that was present in the JSON (even as `null`) as `Some`.
fn present<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    T::deserialize(d).map(Some)
}

/// A link as the API shows it.
#[derive(Debug, Serialize)]
pub struct LinkJson {
    /// The short code.
    pub slug: String,
    /// The target.
    pub url: String,
    /// The full short URL.
    pub short_url: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339 or null.
    pub expires_at: Option<String>,
    /// Click limit or null.
    pub max_clicks: Option<u64>,
    /// The status a click gets (the link's own, or the server default).
    pub redirect_status: u16,
    /// Clicks so far (stored + pending).
    pub clicks: u64,
}

impl LinkJson {
    /// The JSON of `link` with `clicks` clicks.
    pub fn new(app: &App, slug: &str, link: &Link, clicks: u64) -> Self {
        LinkJson {
            slug: slug.to_owned(),
            url: link.target.clone(),
            short_url: app.short_url(slug),
            created_at: clock::format_ms(link.created_at),
            expires_at: link.expires_at.map(clock::format_ms),
            max_clicks: link.max_clicks,
            redirect_status: link.redirect_status.unwrap_or(app.settings.redirect_status),
            clicks,
        }
    }
}

/// Reads a JSON body of shape `T`.
///
/// # Errors
/// 415 for another content type, 413 past [`MAX_BODY`], 400 for JSON that
/// does not parse or fit `T`.
pub async fn read_json<T: DeserializeOwned>(req: Request<Incoming>) -> Result<T, ApiError> {
    let ct = req.headers().get(CONTENT_TYPE).map(HeaderValue::as_bytes);
    if !ct.is_some_and(is_json) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON, sent with 'Content-Type: application/json'",
        ));
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let bytes = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(_) => return Err(ApiError::bad_request("the request body could not be read")),
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    // serde would also read a struct from a JSON array; only objects fit.
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// `application/json` or `application/<something>+json`, any parameters.
fn is_json(ct: &[u8]) -> bool {
    let essence = ct
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let essence = essence.to_ascii_lowercase();
    essence == b"application/json"
        || (essence.starts_with(b"application/") && essence.ends_with(b"+json"))
}

/// A JSON response with `status`.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
