//! Every failure the API reports, and its problem+json (RFC 9457) form.
//!
//! Handlers return `Result<Response, ApiError>`; the router turns the error
//! into a response here, once. Details of faults go to the log, never to the
//! client: a storage fault answers a generic 500/503.

use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::Serialize;

use super::Body;
use crate::store::StoreError;

/// An API failure: the status, a specific detail, and any header it needs.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A sentence for the client; never holds a secret.
    pub detail: String,
    /// An extra header (`Allow`, `WWW-Authenticate`, …).
    pub header: Option<(HeaderName, HeaderValue)>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: &'a str,
}

impl ApiError {
    /// An error with `status` and `detail`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            header: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404: nothing here.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 422: well-formed but invalid.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 405 with the `Allow` header listing `allow`.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        ApiError {
            header: Some((hyper::header::ALLOW, HeaderValue::from_static(allow))),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("allowed methods: {allow}"),
            )
        }
    }

    /// The problem+json response.
    pub fn into_response(self) -> Response<Body> {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = serde_json::to_vec(&Problem {
            kind: "about:blank",
            title,
            status: self.status.as_u16(),
            detail: &self.detail,
        })
        .unwrap_or_default();
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some((name, value)) = self.header {
            resp.headers_mut().insert(name, value);
        }
        resp
    }
}

impl From<super::incoming::BodyError> for ApiError {
    fn from(e: super::incoming::BodyError) -> Self {
        let status = match e {
            super::incoming::BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            super::incoming::BodyError::Unreadable => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // The log gets the detail (slug, cause); the client a generic sentence.
        if let StoreError::DiskFull { .. } = e {
            tracing::warn!(error = %e, "write refused");
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server's disk is nearly full: nothing was saved (free space on it, or lower --min-free-mb)",
            );
        }
        if e.is_unavailable() {
            tracing::error!(error = %e, "storage cannot write");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage is unavailable; try again later",
            )
        } else {
            tracing::error!(error = %e, "storage fault");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal storage error")
        }
    }
}
