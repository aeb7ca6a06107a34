//! `/api/keys`: named API keys over HTTP, for an `admin` key.
//!
//! `GET` lists them (never a key or its digest), `POST {"name","scope"}`
//! makes one and shows it once (201), `DELETE /api/keys/{name}` revokes one
//! (204). The built-in key is listed but cannot be revoked here, so nobody
//! locks themselves out over HTTP. The work is [`crate::keys`]'s; this
//! module turns it into HTTP.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, LOCATION};
use hyper::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::wire::{json, read_json};
use super::{App, Body};
use crate::clock;
use crate::keys::{KeyInfo, KeysError, Scope};

type Reply = Result<Response<Body>, ApiError>;

/// The body of `POST /api/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    scope: String,
}

/// A key as `GET /api/keys` shows it.
#[derive(Debug, Serialize)]
struct KeyJson {
    name: String,
    scope: &'static str,
    created_at: Option<String>,
    last_used_at: Option<String>,
    builtin: bool,
}

impl From<KeyInfo> for KeyJson {
    fn from(k: KeyInfo) -> Self {
        KeyJson {
            name: k.name,
            scope: k.scope.as_str(),
            created_at: k.created_at.map(clock::format_ms),
            last_used_at: k.last_used.map(clock::format_ms),
            builtin: k.builtin,
        }
    }
}

/// The answer to `POST /api/keys`: the only time the key is shown.
#[derive(Debug, Serialize)]
struct MadeKey {
    name: String,
    scope: &'static str,
    created_at: String,
    key: String,
}

/// Runs blocking file work off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeysError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the key change did not finish",
            )
        })?
        .map_err(ApiError::from)
}

impl From<KeysError> for ApiError {
    fn from(e: KeysError) -> Self {
        match &e {
            KeysError::BadName(_) => ApiError::invalid(format!("name: {e}")),
            KeysError::Builtin => ApiError::new(StatusCode::FORBIDDEN, e.to_string()),
            KeysError::Taken(_) | KeysError::TooMany => {
                ApiError::new(StatusCode::CONFLICT, e.to_string())
            }
            KeysError::Unknown(_) => ApiError::not_found(e.to_string()),
            KeysError::Io { .. } | KeysError::Damaged { .. } => {
                tracing::error!("keys: {e}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the keys file cannot be read or written (see the server log)",
                )
            }
        }
    }
}

/// `GET /api/keys`.
pub async fn list(app: Arc<App>) -> Reply {
    let keys = blocking(move || Ok(app.keys.list())).await?;
    let keys: Vec<KeyJson> = keys.into_iter().map(KeyJson::from).collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "keys": keys })))
}

/// `POST /api/keys`.
pub async fn add(app: Arc<App>, req: Request<Incoming>) -> Reply {
    let body: NewKey = read_json(req).await?;
    let scope = Scope::parse(&body.scope).ok_or_else(|| {
        ApiError::invalid(format!(
            "scope: {:?} is not a scope; use read, write or admin",
            body.scope
        ))
    })?;
    let name = body.name;
    let now = clock::now_ms();
    let (made, key) = blocking(move || app.keys.add(&name, scope, now)).await?;
    tracing::info!(name = %made.name, scope = made.scope.as_str(), "API key made");
    let mut resp = json(
        StatusCode::CREATED,
        &MadeKey {
            name: made.name.clone(),
            scope: made.scope.as_str(),
            created_at: clock::format_ms(made.created_at),
            key,
        },
    );
    // The key is in this answer only: no cache may keep it.
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/keys/{}", made.name)) {
        resp.headers_mut().insert(LOCATION, loc);
    }
    Ok(resp)
}

/// `DELETE /api/keys/{name}`.
pub async fn revoke(app: Arc<App>, name: &str) -> Reply {
    let owned = name.to_owned();
    blocking(move || app.keys.revoke(&owned)).await?;
    tracing::info!(%name, "API key revoked");
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}
