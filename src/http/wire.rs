//! The API's JSON: request bodies in (read with a cap), link JSON out.
//!
//! Reading a body checks the content type (415), stops at 64 KiB while
//! reading (413), and parses into a strict shape (400, naming the field);
//! [`CreateRequest::check`] and [`PatchRequest::check`] then turn the parsed
//! values into valid link settings (422). Everything after the read itself
//! ([`is_json`], [`parse_json`], the checks) is a pure function, which is
//! what the `json_bodies` fuzz target in `fuzz/` drives.

use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::error::ApiError;
use super::{App, Body};

mod shape;
use crate::store::{Link, LinkPatch, REDIRECT_STATUSES};
use crate::target::TargetRules;
use crate::{clock, slug};

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
    /// Tags, any case; `null` or absent for none.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// A password the link asks for before redirecting. [`CreateRequest::check`]
    /// only checks it; the handler hashes it (slow: off the runtime).
    #[serde(default)]
    pub password: Option<crate::password::Secret>,
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
    /// New tags replacing the old ones; `null` or `[]` for none.
    #[serde(default, deserialize_with = "present")]
    pub tags: Option<Option<Vec<String>>>,
    /// New password, or `null` to remove it. [`PatchRequest::check`] only
    /// checks a new one (the handler hashes it); it passes on a removal.
    #[serde(default, deserialize_with = "present")]
    pub password: Option<Option<crate::password::Secret>>,
}

/// Marks a field that was present in the JSON (even as `null`) as `Some`.
fn present<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    T::deserialize(d).map(Some)
}

/// A checked `POST /api/links` body: what to store, and under which slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    /// The custom slug, valid and not reserved; `None` asks for a generated one.
    pub slug: Option<String>,
    /// The link to store, created at the `now` given to [`CreateRequest::check`].
    pub link: Link,
}

impl CreateRequest {
    /// Checks every field and builds the link, created at `now` (Unix ms).
    /// Fields are checked in the order url, slug, expires_at, max_clicks,
    /// redirect_status, tags, password; the first invalid one is reported.
    /// The link has no password yet: the caller hashes
    /// [`CreateRequest::password`].
    ///
    /// # Errors
    /// 422 naming the field: a target `rules` refuse, an invalid or reserved
    /// slug, a time that is not RFC 3339, not in the years 0000 to 9999 in
    /// UTC or not after `now`, `max_clicks` 0, a redirect status other
    /// than 301, 302, 307, 308, a tag that is not `[a-z0-9-]{1,32}` after
    /// lower-casing, more than 16 different tags, or an empty password or
    /// one longer than [`crate::password::MAX_LEN`] bytes.
    pub fn check(self, rules: &TargetRules, now: i64) -> Result<NewLink, ApiError> {
        let target = check_url(rules, &self.url)?;
        if let Some(s) = &self.slug {
            slug::validate(s).map_err(|e| ApiError::invalid(format!("slug: {e}")))?;
        }
        let expires_at = match &self.expires_at {
            Some(t) => {
                let at = parse_time("expires_at", t)?;
                if at <= now {
                    return Err(ApiError::invalid("expires_at: must be in the future"));
                }
                Some(at)
            }
            None => None,
        };
        let max_clicks = self.max_clicks.map(check_max_clicks).transpose()?;
        let redirect_status = self.redirect_status.map(check_status).transpose()?;
        if let Some(p) = &self.password {
            check_password(&p.0)?;
        }
        let link = Link {
            target,
            created_at: now,
            expires_at,
            max_clicks,
            redirect_status,
            created_by: None,
            password: None,
            tags: check_tags(self.tags.as_deref().unwrap_or_default())?,
        };
        Ok(NewLink {
            slug: self.slug,
            link,
        })
    }
}

impl PatchRequest {
    /// Checks every present field and builds the change. Any `expires_at` is
    /// accepted, past ones included: setting it to now is how a link is
    /// switched off without deleting its statistics.
    ///
    /// # Errors
    /// 422 naming the first invalid field, in the order url, expires_at,
    /// max_clicks, redirect_status, tags, password: `url` set to `null`, a
    /// target `rules` refuse, a time that is not RFC 3339 or not in the years
    /// 0000 to 9999 in UTC, `max_clicks` 0, a redirect status other than
    /// 301, 302, 307, 308, tags as [`CreateRequest::check`] refuses them, or
    /// an empty or too long password. A new password leaves
    /// [`LinkPatch::password`] `None` for the caller to fill with its hash;
    /// `null` becomes `Some(None)`, the removal.
    pub fn check(self, rules: &TargetRules) -> Result<LinkPatch, ApiError> {
        Ok(LinkPatch {
            target: match &self.url {
                None => None,
                Some(None) => {
                    return Err(ApiError::invalid("url: cannot be removed; send a new url"))
                }
                Some(Some(u)) => Some(check_url(rules, u)?),
            },
            expires_at: match &self.expires_at {
                None => None,
                Some(None) => Some(None),
                Some(Some(t)) => Some(Some(parse_time("expires_at", t)?)),
            },
            max_clicks: match self.max_clicks {
                None => None,
                Some(m) => Some(m.map(check_max_clicks).transpose()?),
            },
            redirect_status: match self.redirect_status {
                None => None,
                Some(s) => Some(s.map(check_status).transpose()?),
            },
            tags: match &self.tags {
                None => None,
                Some(t) => Some(check_tags(t.as_deref().unwrap_or_default())?),
            },
            password: match &self.password {
                None => None,
                Some(None) => Some(None),
                Some(Some(p)) => {
                    check_password(&p.0)?;
                    None
                }
            },
        })
    }
}

fn check_status(status: u16) -> Result<u16, ApiError> {
    if REDIRECT_STATUSES.contains(&status) {
        Ok(status)
    } else {
        Err(ApiError::invalid(format!(
            "redirect_status {status} is not one of 301, 302, 307, 308"
        )))
    }
}

fn check_tags(raw: &[String]) -> Result<Vec<String>, ApiError> {
    crate::tags::normalize(raw).map_err(|e| ApiError::invalid(format!("tags: {e}")))
}

fn check_password(password: &str) -> Result<(), ApiError> {
    crate::password::check(password).map_err(|e| ApiError::invalid(format!("password: {e}")))
}

fn check_max_clicks(max: u64) -> Result<u64, ApiError> {
    if max == 0 {
        return Err(ApiError::invalid("max_clicks must be at least 1"));
    }
    Ok(max)
}

fn parse_time(field: &str, text: &str) -> Result<i64, ApiError> {
    clock::parse_rfc3339(text).map_err(|e| ApiError::invalid(format!("{field}: {e}")))
}

fn check_url(rules: &TargetRules, raw: &str) -> Result<String, ApiError> {
    rules
        .check(raw)
        .map(String::from)
        .map_err(|e| ApiError::invalid(format!("url: {e}")))
}

/// A link as the API shows it.
#[derive(Debug, Serialize)]
pub struct LinkJson {
    /// The short code.
    pub slug: String,
    /// The target.
    pub url: String,
    /// The target as the page shows it: its host in Unicode when it is
    /// all Latin letters, else `url` (see [`crate::target::display_form`]).
    pub url_display: String,
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
    /// The name of the key that made it, or null (made before named keys).
    pub created_by: Option<String>,
    /// Tags, sorted; empty when none.
    pub tags: Vec<String>,
    /// Whether the link asks for a password (never shown: neither it nor
    /// its hash).
    pub protected: bool,
    /// Whether a click would still be sent on, at the time of the answer.
    pub state: LinkState,
}

/// Whether a link still redirects, as link JSON's `state` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Clicks are sent on.
    Active,
    /// `expires_at` has passed; clicks get 410.
    Expired,
    /// `max_clicks` is reached (and the link has not expired); clicks get 410.
    UsedUp,
}

impl LinkState {
    /// The state of `link` with `clicks` clicks at `now` (Unix ms). Expired
    /// wins over used up: a date passed is final, while raising the limit
    /// would not bring the link back.
    pub fn of(link: &Link, clicks: u64, now: i64) -> Self {
        if link.expires_at.is_some_and(|at| at <= now) {
            LinkState::Expired
        } else if link.max_clicks.is_some_and(|max| clicks >= max) {
            LinkState::UsedUp
        } else {
            LinkState::Active
        }
    }
}

impl LinkJson {
    /// The JSON of `link` with `clicks` clicks.
    pub fn new(app: &App, slug: &str, link: &Link, clicks: u64) -> Self {
        LinkJson {
            slug: slug.to_owned(),
            url: link.target.clone(),
            url_display: crate::target::display_form(&link.target),
            short_url: app.short_url(slug),
            created_at: clock::format_ms(link.created_at),
            expires_at: link.expires_at.map(clock::format_ms),
            max_clicks: link.max_clicks,
            redirect_status: link.redirect_status.unwrap_or(app.settings.redirect_status),
            clicks,
            created_by: link.created_by.clone(),
            tags: link.tags.clone(),
            protected: link.password.is_some(),
            state: LinkState::of(link, clicks, clock::now_ms()),
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
    let bytes = super::incoming::read(req, MAX_BODY)
        .await
        .map_err(ApiError::from)?;
    parse_json(&bytes)
}

/// Parses a request body already read into memory as a JSON object of shape
/// `T`; [`read_json`] calls it on the bytes it read.
///
/// # Errors
/// 400 for bytes that are not JSON, JSON that is not an object, or an
/// object that does not fit `T`: the detail names the field and says in
/// plain words what it must be (`max_clicks: must be a whole number of at
/// least 1, not the text "5"`), or lists the accepted fields.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(shape::syntax(&e)))?;
    // serde would also read a struct from a JSON array; only objects fit.
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the body must be a JSON object, in curly braces: {\"field\": value, ...}",
        ));
    }
    T::deserialize(shape::Walk(value)).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// True for a `Content-Type` value of `application/json` or
/// `application/<something>+json`, in any case, with any parameters.
pub fn is_json(ct: &[u8]) -> bool {
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
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TargetRules {
        TargetRules::new(None)
    }

    /// Caught by the `json_bodies` fuzz target's check that an accepted time
    /// shows as RFC 3339: `parse_rfc3339` takes any offset, so year 9999 at
    /// -23:59 was stored and then shown as `"@253402387139000ms"`.
    #[test]
    fn expires_at_outside_the_years_rfc_3339_can_show_is_refused() {
        let body = br#"{"url":"https://a.example/","expires_at":"9999-12-31T23:59:59-23:59"}"#;
        let create: CreateRequest = parse_json(body).unwrap();
        let e = create.check(&rules(), 0).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.detail.starts_with("expires_at: "), "{}", e.detail);

        let patch: PatchRequest =
            parse_json(br#"{"expires_at":"0000-01-01T00:00:00+23:59"}"#).unwrap();
        let e = patch.check(&rules()).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);

        // The edges themselves still fit.
        for edge in ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"] {
            let body = format!(r#"{{"expires_at":"{edge}"}}"#);
            let patch: PatchRequest = parse_json(body.as_bytes()).unwrap();
            let at = patch.check(&rules()).unwrap().expires_at.unwrap().unwrap();
            assert_eq!(clock::format_ms(at), edge);
        }
    }
}
