//! The admin commands through a running server's HTTP API (`--server`).
//!
//! A small blocking client over hyper-util's pooled client on a
//! current-thread runtime: plain HTTP/1.1 to `/api/...` with the API key as
//! a Bearer token, every request bounded in time, every body read with a
//! cap except the export's, which is streamed. Statuses become
//! [`CommandError`]s that say what to fix: no answer, a refused key, a
//! missing slug, or the server's own problem detail.

use std::io;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use url::Url;

use super::CommandError;
use crate::cli::Remote;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server may take to answer a request (and, in the export,
/// between two chunks of the body).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest body read whole (a list page of 1000 links is well under this).
const BODY_MAX: usize = 32 << 20;

/// A connection to the server named by `--server`.
pub(super) struct Server {
    runtime: tokio::runtime::Runtime,
    client: Client<HttpConnector, Full<Bytes>>,
    base: Url,
    auth: HeaderValue,
}

impl Server {
    /// The server of `remote`, if `--server` (or `KURZ_SERVER`) names one.
    ///
    /// # Errors
    /// No key given, a key file that cannot be read or is empty, a key
    /// that cannot be a header, or a runtime that cannot start.
    pub(super) fn of(remote: &Remote) -> Result<Option<Server>, CommandError> {
        let Some(base) = &remote.server else {
            return Ok(None);
        };
        let key = match (&remote.api_key_file, &remote.api_key) {
            (Some(file), _) => read_key_file(file)?,
            (None, Some(key)) => key.0.clone(),
            (None, None) => {
                return Err(CommandError::Invalid(format!(
                    "--server {base} needs the API key: --api-key-file PATH (its first line) \
                     or KURZ_API_KEY"
                )))
            }
        };
        // Never quote the key: it would end up in a terminal's scrollback.
        let mut auth = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            CommandError::Invalid("the API key holds characters a header cannot carry".into())
        })?;
        auth.set_sensitive(true);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(super::io_err("starting the HTTP client"))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Some(Server {
            runtime,
            client,
            base: base.clone(),
            auth,
        }))
    }

    /// The URL of `segments` under the server's base (each segment
    /// percent-encoded, so a slug cannot change the route), with `query`.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request and waits for the head of the answer.
    fn send(
        &self,
        method: Method,
        url: &Url,
        json: Option<Vec<u8>>,
    ) -> Result<Response<Incoming>, CommandError> {
        let mut req = Request::builder()
            .method(method)
            .uri(url.as_str())
            .header(AUTHORIZATION, self.auth.clone());
        if json.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(json.unwrap_or_default())))
            .map_err(|e| CommandError::Invalid(format!("cannot make a request to {url}: {e}")))?;
        let answer = self.bounded(self.client.request(req));
        match answer {
            Err(_) => Err(self.unreachable(format!("no answer within {ANSWER_TIMEOUT:?}"))),
            Ok(Err(e)) => Err(self.unreachable(causes(&e))),
            Ok(Ok(resp)) => Ok(resp),
        }
    }

    /// Runs `f` to its end, or for at most [`ANSWER_TIMEOUT`] (`Err`).
    /// The timer is made inside the runtime: tokio's needs one to exist.
    fn bounded<F: std::future::Future>(
        &self,
        f: F,
    ) -> Result<F::Output, tokio::time::error::Elapsed> {
        self.runtime
            .block_on(async { tokio::time::timeout(ANSWER_TIMEOUT, f).await })
    }

    fn unreachable(&self, reason: String) -> CommandError {
        CommandError::Unreachable {
            server: self.base.to_string(),
            reason,
        }
    }

    /// Reads a whole body, at most [`BODY_MAX`] bytes.
    fn body(&self, resp: Response<Incoming>) -> Result<Bytes, CommandError> {
        let limited = http_body_util::Limited::new(resp.into_body(), BODY_MAX);
        match self.bounded(limited.collect()) {
            Ok(Ok(body)) => Ok(body.to_bytes()),
            Ok(Err(e)) => Err(self.unreachable(format!("the answer broke off: {e}"))),
            Err(_) => Err(self.unreachable(format!("no answer within {ANSWER_TIMEOUT:?}"))),
        }
    }

    /// `method` on `segments`, expecting `ok`; `slug` names the link a 404
    /// is about. Returns the body.
    ///
    /// # Errors
    /// See [`Server::refused`].
    pub(super) fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        json: Option<Vec<u8>>,
        slug: Option<&str>,
    ) -> Result<Bytes, CommandError> {
        let url = self.url(segments, query);
        let resp = self.send(method, &url, json)?;
        let status = resp.status();
        let body = self.body(resp)?;
        if status.is_success() {
            return Ok(body);
        }
        Err(self.refused(status, &body, slug))
    }

    /// `POST segments` with `json`, returning the status and body of a
    /// success, a 409 or a 422 (answers about this one request) and an
    /// error for any other (answers about the server or the key).
    ///
    /// # Errors
    /// See [`Server::refused`].
    pub(super) fn post(
        &self,
        segments: &[&str],
        json: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), CommandError> {
        let resp = self.send(Method::POST, &self.url(segments, &[]), Some(json))?;
        let status = resp.status();
        let body = self.body(resp)?;
        match status {
            s if s.is_success() => Ok((s, body)),
            StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
                Ok((status, Bytes::from(detail_of(&body))))
            }
            _ => Err(self.refused(status, &body, None)),
        }
    }

    /// [`Server::call`] for a JSON answer of shape `T`.
    ///
    /// # Errors
    /// As [`Server::call`], and an answer that is not that JSON.
    pub(super) fn get_json<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        slug: Option<&str>,
    ) -> Result<T, CommandError> {
        let body = self.call(Method::GET, segments, query, None, slug)?;
        serde_json::from_slice(&body).map_err(|e| self.bad_answer(&e))
    }

    /// An answer that does not fit what the API describes: another
    /// program on that port, or a kurz of another version.
    pub(super) fn bad_answer(&self, e: &dyn std::fmt::Display) -> CommandError {
        CommandError::Invalid(format!(
            "{} answered something kurz's API does not send ({e}); is it a kurz server of \
             this version?",
            self.base
        ))
    }

    /// `GET segments`, whatever its status: the status and the body as
    /// text (for `/healthz`, whose 503 is an answer, not a failure).
    ///
    /// # Errors
    /// No answer.
    pub(super) fn get_text(&self, segments: &[&str]) -> Result<(StatusCode, String), CommandError> {
        let resp = self.send(Method::GET, &self.url(segments, &[]), None)?;
        let status = resp.status();
        let body = self.body(resp)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// Streams the body of `GET segments` to `chunk`, chunk by chunk.
    ///
    /// # Errors
    /// As [`Server::call`]; a body cut short (the server found a damaged
    /// record or a store fault) is [`CommandError::Unreachable`] with
    /// that reason; what `chunk` fails with.
    pub(super) fn stream(
        &self,
        segments: &[&str],
        mut chunk: impl FnMut(&[u8]) -> Result<(), CommandError>,
    ) -> Result<(), CommandError> {
        let url = self.url(segments, &[]);
        let resp = self.send(Method::GET, &url, None)?;
        let status = resp.status();
        if !status.is_success() {
            let body = self.body(resp)?;
            return Err(self.refused(status, &body, None));
        }
        let mut body = resp.into_body();
        loop {
            let frame = self.bounded(body.frame());
            match frame {
                Err(_) => {
                    return Err(self.unreachable(format!("no data within {ANSWER_TIMEOUT:?}")))
                }
                Ok(None) => return Ok(()),
                Ok(Some(Err(e))) => {
                    return Err(self.unreachable(format!(
                        "the answer was cut short ({}): the server stops a transfer on a \
                         damaged record or a storage fault; its log says which",
                        causes(&e)
                    )))
                }
                Ok(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        chunk(data)?;
                    }
                }
            }
        }
    }

    /// The error for a non-2xx answer: 401 and 403 say what to fix about
    /// the key, a 404 about `slug` is [`CommandError::NotFound`], 409 and
    /// 422 are the API's own message, the rest the status and detail.
    pub(super) fn refused(
        &self,
        status: StatusCode,
        body: &[u8],
        slug: Option<&str>,
    ) -> CommandError {
        let detail = detail_of(body);
        match (status, slug) {
            (StatusCode::UNAUTHORIZED, _) => CommandError::Unauthorized {
                server: self.base.to_string(),
            },
            (StatusCode::NOT_FOUND, Some(slug)) => CommandError::NotFound(slug.to_owned()),
            (StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY, _) => {
                CommandError::Invalid(detail)
            }
            _ => CommandError::Refused {
                server: self.base.to_string(),
                status: status.as_u16(),
                detail,
            },
        }
    }
}

/// The `detail` of a problem+json body, else the start of the body.
fn detail_of(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Problem {
        detail: String,
    }
    if let Ok(p) = serde_json::from_slice::<Problem>(body) {
        return p.detail;
    }
    let text = String::from_utf8_lossy(body);
    text.chars().take(200).collect::<String>().trim().to_owned()
}

/// An error and its causes, each once: hyper-util's own message is only
/// "client error (Connect)", the reason is further down.
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// The API key in the first line of `file`.
///
/// # Errors
/// The file cannot be read, or its first line is empty.
fn read_key_file(file: &Path) -> Result<String, CommandError> {
    let text = std::fs::read_to_string(file).map_err(super::io_err(format!(
        "reading the API key file {}",
        file.display()
    )))?;
    let key = text.lines().next().unwrap_or("").trim();
    if key.is_empty() {
        return Err(CommandError::Io {
            what: format!("reading the API key file {}", file.display()),
            source: io::Error::new(io::ErrorKind::InvalidData, "its first line is empty"),
        });
    }
    Ok(key.to_owned())
}
