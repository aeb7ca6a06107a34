//! Fuzzes the router (`kurz::http::router::route`) with arbitrary request lines, sent as raw bytes.
//!
//! One real `App` over a real `Store` in a temporary directory is built per
//! process and stays empty. Each input becomes the request line of one
//! HTTP/1.1 request, written as raw bytes into an in-memory pipe that the
//! server's own connection builder (`kurz::http::server::builder`) serves
//! with the real router, on a current-thread tokio runtime. So percent-escapes,
//! `..`, `//`, absolute-form targets and bytes that are not UTF-8 reach hyper's
//! parser exactly as from a socket, and whatever hyper accepts reaches the
//! router as it would in production.
//!
//! Input layout: byte 0 is `k` to send the right API key (anything else sends
//! none); the rest is `METHOD SP TARGET`, or only `TARGET` for a GET if it
//! holds no space. Inputs with CR or LF are skipped: they would smuggle
//! extra headers or requests (a body could create a link, and the store must
//! stay empty for the checks below).
//!
//! Invariants checked on every input:
//! - an answer comes within 10 s, as one HTTP/1.1 response with a valid
//!   status; no answer is ever 5xx;
//! - when the router answered, the wire carries its status; it is one of
//!   200/400/401/403/404/405/415, and it is what the README's route table gives
//!   for that method, path and key on an empty store (for example every GET
//!   or HEAD of a one-segment path other than `/`, `/healthz` and `/api` is
//!   404, any path outside `/api/` with two or more segments is 404, and
//!   `/api/...` without the key is 401);
//! - 405 carries `Allow`, which does not list the method used; 401 carries
//!   `WWW-Authenticate`; no other answer has either;
//! - every answer but a 200 is problem+json whose `status` is the status;
//! - except from `/yourls-api.php`, which answers in YOURLS's formats (its
//!   own model, [`check_yourls`]);
//! - the store is still empty afterwards (a YOURLS `shorturl` signed with
//!   the key, in the query, may make a link: it is deleted before the check).

#![no_main]

use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use kurz::http::{router, server, App, Settings};
use kurz::store::Store;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

/// The API key of the fuzzed server.
const KEY: &str = "fuzz-api-key-0123456789";

/// How long one request may take before the input counts as a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Built once per process: the runtime, the app over its store, and the
/// directory the store lives in (removed by whoever removes `$TMPDIR`'s
/// contents: a libFuzzer process exits without running destructors).
struct World {
    rt: tokio::runtime::Runtime,
    app: Arc<App>,
    builder: auto::Builder<TokioExecutor>,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("kurz-fuzz-router-")
            .tempdir()
            .expect("a temporary directory");
        let store = Store::open(dir.path(), 8 << 20).expect("a fresh store");
        let settings = Settings {
            base_url: Url::parse("http://kurz.test/").expect("a valid base URL"),
            api_key: kurz::key::KeyDigest::of(KEY.as_bytes()),
            redirect_status: 302,
            slug_length: 7,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        World {
            rt,
            app: Arc::new(App::new(store, settings)),
            builder: server::builder(kurz::http::conns::IDLE_TIMEOUT),
            _dir: dir,
        }
    })
}

/// What the router was asked and what it answered.
#[derive(Debug)]
struct Seen {
    method: Method,
    path: String,
    status: u16,
    allow: Option<String>,
    www_authenticate: bool,
    content_type: Option<String>,
    body: Bytes,
}

fuzz_target!(|data: &[u8]| {
    let Some((&flag, rest)) = data.split_first() else {
        return;
    };
    let with_key = flag == b'k';
    let (method, target) = match rest.iter().position(|&b| b == b' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&b"GET"[..], rest),
    };
    if rest.iter().any(|&b| b == b'\r' || b == b'\n') {
        return;
    }
    let mut raw = Vec::with_capacity(rest.len() + 128);
    raw.extend_from_slice(method);
    raw.push(b' ');
    raw.extend_from_slice(target);
    raw.extend_from_slice(b" HTTP/1.1\r\nhost: kurz.test\r\n");
    if with_key {
        raw.extend_from_slice(format!("authorization: Bearer {KEY}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"connection: close\r\n\r\n");

    let w = world();
    let (wire, seen) = w.rt.block_on(exchange(w, raw));

    let wire_status = wire_status(&wire);
    if let Some(status) = wire_status {
        assert!((100..500).contains(&status), "answered {status}: {seen:?}");
    }
    if let Some(seen) = &seen {
        assert_eq!(
            wire_status,
            Some(seen.status),
            "the router's answer was not sent"
        );
        check_router(seen, with_key);
    } else {
        // Refused by hyper before routing: only hyper's own 4xx (or, for a
        // head it cannot answer at all, a closed connection).
        assert!(
            wire.is_empty() || wire_status.is_some(),
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&wire)
        );
    }
    if seen.as_ref().is_some_and(|s| s.path == YOURLS) {
        forget_all(&w.app.store);
    }
    assert!(
        w.app.store.is_empty(),
        "a request without a body stored a link"
    );
});

/// The YOURLS-compatible API's path.
const YOURLS: &str = "/yourls-api.php";

/// Deletes every link (made through the YOURLS API by a signed query).
fn forget_all(store: &Store) {
    loop {
        let page = store.list(1000, None).expect("the store lists");
        if page.links.is_empty() {
            return;
        }
        for (slug, _) in &page.links {
            store.delete(slug).expect("the store deletes");
        }
    }
}

/// Sends `raw` over an in-memory pipe to the server's connection handling
/// with the real router; returns the bytes that came back and what the
/// router saw, if hyper passed the request on.
async fn exchange(w: &World, raw: Vec<u8>) -> (Vec<u8>, Option<Seen>) {
    let (mut client, server_io) = tokio::io::duplex(1 << 16);
    let seen = Arc::new(Mutex::new(None));
    let app = w.app.clone();
    let record = seen.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        let (app, record) = (app.clone(), record.clone());
        async move {
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            let resp = router::route(app, req, None, None).await;
            let (parts, body) = resp.into_parts();
            // A streamed body cut short (a failed export) is kept as what arrived.
            let body = body
                .collect()
                .await
                .map(|collected| collected.to_bytes())
                .unwrap_or_default();
            let header = |name| {
                parts
                    .headers
                    .get(name)
                    .map(|v: &hyper::header::HeaderValue| {
                        String::from_utf8_lossy(v.as_bytes()).into_owned()
                    })
            };
            let answer = Seen {
                method,
                path,
                status: parts.status.as_u16(),
                allow: header(ALLOW),
                www_authenticate: parts.headers.contains_key(WWW_AUTHENTICATE),
                content_type: header(CONTENT_TYPE),
                body: body.clone(),
            };
            *record.lock().expect("not poisoned") = Some(answer);
            Ok::<_, Infallible>(Response::from_parts(parts, Full::new(body)))
        }
    });
    let conn = w.builder.serve_connection(TokioIo::new(server_io), service);
    let talk = async move {
        client
            .write_all(&raw)
            .await
            .expect("the pipe takes the request");
        let mut out = Vec::new();
        client
            .read_to_end(&mut out)
            .await
            .expect("the pipe gives the answer");
        out
    };
    let both = async { tokio::join!(conn, talk) };
    let (_conn, wire) = tokio::time::timeout(ANSWER_WITHIN, both)
        .await
        .expect("no answer within 10 s");
    let seen = seen.lock().expect("not poisoned").take();
    (wire, seen)
}

/// The status of an `HTTP/1.1 NNN ...` response, if `wire` starts with one.
fn wire_status(wire: &[u8]) -> Option<u16> {
    let rest = wire.strip_prefix(b"HTTP/1.1 ")?;
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || rest.get(3) != Some(&b' ') {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// What the router must answer on an empty store, from the README's route table.
fn expected(method: &Method, path: &str, with_key: bool) -> &'static [u16] {
    let get_or_head = method == Method::GET || method == Method::HEAD;
    let rest = path.strip_prefix('/').unwrap_or(path);
    if !rest.contains('/') {
        return match rest {
            "" | "healthz" if get_or_head => &[200],
            "metrics" if !get_or_head => &[405],
            "metrics" if with_key => &[200],
            "metrics" => &[401],
            "" | "healthz" => &[405],
            "api" => &[404],
            // POST is a protected link's password: no link, so 404.
            _ if get_or_head || method == Method::POST => &[404],
            _ => &[405],
        };
    }
    let segments: Vec<&str> = rest.split('/').collect();
    match (segments.as_slice(), get_or_head) {
        // The page's files: a known name or 404.
        (["assets", _], true) => return &[200, 404],
        // An unknown name is 404 whatever the method.
        (["assets", _], false) => return &[404, 405],
        // The API's description is public.
        (["api", "openapi.json"], true) => return &[200],
        (["api", "openapi.json"], false) => return &[405],
        _ => {}
    }
    if segments[0] != "api" {
        return &[404];
    }
    if !with_key {
        return &[401];
    }
    match (segments.as_slice(), method) {
        (["api", "links"], &Method::GET) => &[200, 400],
        (["api", "links"], &Method::POST) => &[415],
        (["api", "links"], _) => &[405],
        (["api", "links", _], &Method::GET | &Method::DELETE) => &[404],
        (["api", "links", _], &Method::PATCH) => &[415],
        (["api", "links", _], _) => &[405],
        (["api", "links", _, "stats" | "qr"], &Method::GET) => &[400, 404],
        (["api", "links", _, "stats" | "qr"], _) => &[405],
        (["api", "export"], &Method::GET) => &[200],
        (["api", "export"], _) => &[405],
        (["api", "keys"], &Method::GET) => &[200],
        // No body, so no JSON content type.
        (["api", "keys"], &Method::POST) => &[415],
        (["api", "keys"], _) => &[405],
        // The built-in key cannot be revoked over HTTP; no other key exists.
        (["api", "keys", "admin"], &Method::DELETE) => &[403],
        (["api", "keys", _], &Method::DELETE) => &[404],
        (["api", "keys", _], _) => &[405],
        _ => &[404],
    }
}

fn check_router(seen: &Seen, with_key: bool) {
    if seen.path == YOURLS {
        check_yourls(seen);
        return;
    }
    let want = expected(&seen.method, &seen.path, with_key);
    assert!(
        want.contains(&seen.status),
        "{} {:?} (key: {with_key}) answered {}, expected one of {want:?}: {seen:?}",
        seen.method,
        seen.path,
        seen.status
    );
    match (&seen.allow, seen.status) {
        (Some(allow), 405) => assert!(
            !allow.split(", ").any(|m| m == seen.method.as_str()),
            "405 for {} with Allow: {allow}",
            seen.method
        ),
        (None, 405) => panic!("405 without Allow: {seen:?}"),
        (Some(_), _) => panic!("Allow on a {}: {seen:?}", seen.status),
        (None, _) => {}
    }
    assert_eq!(
        seen.www_authenticate,
        seen.status == 401,
        "WWW-Authenticate and 401 go together: {seen:?}"
    );
    if seen.status == 200 {
        if seen.path == "/api/links" {
            assert_eq!(&seen.body[..], br#"{"links":[],"next_cursor":null}"#);
        }
        return;
    }
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/problem+json"),
        "{seen:?}"
    );
    let problem: serde_json::Value =
        serde_json::from_slice(&seen.body).expect("problem+json parses");
    assert_eq!(problem["status"], seen.status, "{problem}");
    assert!(problem["detail"].is_string(), "{problem}");
}

/// `/yourls-api.php`: GET and POST answer in a YOURLS format (what depends
/// on the query: 200, or 400, 403, 404 in YOURLS's shape); any other method
/// is 405 with `Allow: GET, POST` (400 without it for an invalid jsonp
/// callback). Never `WWW-Authenticate`.
fn check_yourls(seen: &Seen) {
    let get_or_post = seen.method == Method::GET || seen.method == Method::POST;
    let want: &[u16] = if get_or_post {
        &[200, 400, 403, 404]
    } else {
        // 400 when a jsonp callback is invalid: that answer replaces any other.
        &[405, 400]
    };
    assert!(want.contains(&seen.status), "{seen:?}");
    assert_eq!(
        seen.allow.as_deref(),
        (seen.status == 405).then_some("GET, POST"),
        "{seen:?}"
    );
    assert!(!seen.www_authenticate, "{seen:?}");
    let formats = [
        "application/xml; charset=utf-8",
        "application/json; charset=utf-8",
        "application/javascript; charset=utf-8",
        "text/plain; charset=utf-8",
    ];
    assert!(
        seen.content_type
            .as_deref()
            .is_some_and(|t| formats.contains(&t)),
        "{seen:?}"
    );
}
