//! `GET /api/export` and `GET /api/backup`: every link as JSON Lines, streamed.
//!
//! The body is the same bytes `kurz export` writes, made on a blocking
//! thread that walks [`crate::store::Store::export`] and sends them in
//! chunks through a bounded channel ([`Body::channel`]): memory stays a few
//! chunks whatever the number of links, and the walk waits while the client
//! reads slowly. A client that stops reading altogether is closed by the
//! idle sweep, which ends the walk. A store fault, or a damaged record (all
//! readable links are sent first, as `kurz export` does), cuts the body
//! short, so the client sees a failed transfer rather than a short backup.

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use super::error::ApiError;
use super::{App, Body};
use crate::backup::Credentials;
use crate::clock;
use crate::store::StoreError;

/// The content type of the export. JSON Lines has no registered media
/// type; `application/x-ndjson` (NDJSON is the same format) is the one
/// HTTP tools and libraries already recognize.
pub const CONTENT_TYPE_JSONL: &str = "application/x-ndjson";

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 * 1024;

/// Chunks that may wait in the channel for a slow client.
const CHUNKS_AHEAD: usize = 4;

/// `GET /api/export`.
pub async fn export(app: Arc<App>) -> Result<Response<Body>, ApiError> {
    Ok(stream(app, Vec::new(), "kurz-export"))
}

/// `GET /api/backup`: what `kurz backup` writes, the export after the
/// credentials record ([`crate::backup`]) with the built-in key this server
/// runs with and the named keys and YOURLS token as kept on disk (so, after
/// `kurz key --yourls --new`, the token the next start will use).
///
/// # Errors
/// A 500 when the key files cannot be read (logged, never sent).
pub async fn backup(app: Arc<App>) -> Result<Response<Body>, ApiError> {
    let digest = app.key_digest.clone();
    let dir = app.store.dir().to_owned();
    let read = tokio::task::spawn_blocking(move || Credentials::with_builtin(digest, &dir)).await;
    let credentials = match read {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "backup: cannot read the key files");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the key files cannot be read; the server log says why",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "backup: the reading task failed");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
            ));
        }
    };
    Ok(stream(
        app,
        credentials.header_line().into_bytes(),
        "kurz-backup",
    ))
}

/// The streamed export, after `head`, as an attachment named
/// `<name>-<YYYY-MM-DD>.jsonl`.
fn stream(app: Arc<App>, head: Vec<u8>, name: &str) -> Response<Body> {
    let (tx, body) = Body::channel(CHUNKS_AHEAD);
    // The walk reads sled for every link and waits on the client: a
    // blocking thread's work, never a runtime worker's.
    tokio::task::spawn_blocking(move || {
        let mut buf = Vec::with_capacity(CHUNK.max(head.len()));
        buf.extend_from_slice(&head);
        let mut damaged = 0u64;
        for rec in app.store.export() {
            let rec = match rec {
                Ok(rec) => rec,
                Err(e @ StoreError::Corrupt { .. }) => {
                    tracing::error!(error = %e, "export: damaged link not exported");
                    damaged += 1;
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "export: stopped by a store fault");
                    return; // dropping the sender cuts the body short
                }
            };
            if let Err(e) = serde_json::to_writer(&mut buf, &rec) {
                tracing::error!(error = %e, "export: cannot write a record");
                return;
            }
            buf.push(b'\n');
            if buf.len() >= CHUNK {
                let chunk = Bytes::from(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK)));
                if tx.blocking_send(chunk).is_err() {
                    tracing::debug!("export: the client left");
                    return;
                }
            }
        }
        if !buf.is_empty() && tx.blocking_send(Bytes::from(buf)).is_err() {
            return;
        }
        if damaged > 0 {
            tracing::error!(damaged, "export: damaged links left out, body cut short");
            return;
        }
        // The client may leave after the last byte; nothing is lost then.
        let _ = tx.blocking_finish();
    });
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSONL));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let day = clock::format_day(clock::day_of(clock::now_ms()));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}-{day}.jsonl\"")) {
        headers.insert(CONTENT_DISPOSITION, v);
    }
    resp
}
