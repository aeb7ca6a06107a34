//! Shared test helpers: a real kurz server on 127.0.0.1:0 with a temporary
//! data directory, and a small real HTTP/1.1 client over loopback.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use kurz::http::{server, App, Settings};
use kurz::store::Store;

/// The API key every test server uses.
pub const KEY: &str = "test-key-0123456789abcdef";

/// A running server and what a test needs to talk to it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub data: PathBuf,
    /// The server's shared state, for tests that watch a bound from inside.
    pub app: Arc<App>,
    _dir: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), server::ServeError>>>,
}

/// Options for [`start_with`].
#[derive(Clone)]
pub struct Options {
    pub redirect_status: u16,
    pub slug_length: usize,
    pub base_url: Option<String>,
    pub request_deadline: Option<std::time::Duration>,
    pub limits: Option<kurz::http::conns::Limits>,
    pub session_ttl: Option<std::time::Duration>,
    /// `/metrics` without the key (`--public-metrics`).
    pub public_metrics: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            redirect_status: 302,
            slug_length: 7,
            base_url: None,
            request_deadline: None,
            limits: None,
            session_ttl: None,
            public_metrics: false,
        }
    }
}

/// Starts a server on a fresh temporary data directory.
pub async fn start_server() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start_in(dir.path(), Options::default()).await;
    s._dir = Some(dir);
    s
}

/// Starts a server with `opts` on a fresh temporary data directory.
pub async fn start_with(opts: Options) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start_in(dir.path(), opts).await;
    s._dir = Some(dir);
    s
}

/// Starts a server on an existing data directory (restart tests).
pub async fn start_in(data: &Path, opts: Options) -> TestServer {
    let store = Store::open(data, 16 << 20).unwrap();
    let listener = server::bind(([127, 0, 0, 1], 0).into()).unwrap();
    let addr = listener.local_addr().unwrap();
    let base_url = match &opts.base_url {
        Some(b) => url::Url::parse(b).unwrap(),
        None => kurz::config::default_base(addr),
    };
    let settings = Settings {
        base_url,
        api_key: kurz::key::KeyDigest::of(KEY.as_bytes()),
        redirect_status: opts.redirect_status,
        slug_length: opts.slug_length,
    };
    let mut app = App::new(store, settings);
    if let Some(d) = opts.request_deadline {
        app.request_deadline = d;
    }
    if let Some(l) = opts.limits {
        app.limits = l;
    }
    if let Some(ttl) = opts.session_ttl {
        app.sessions = kurz::http::session::Sessions::with_ttl(ttl);
    }
    app.public_metrics = opts.public_metrics;
    let app = Arc::new(app);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(listener, app.clone(), async move {
        let _ = rx.await;
    }));
    TestServer {
        addr,
        data: data.to_owned(),
        app,
        _dir: None,
        stop: Some(tx),
        task: Some(task),
    }
}

impl TestServer {
    /// Stops the server gracefully and waits until it has flushed.
    /// Returns the temporary directory (if it owns one) so data can be reopened.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self._dir.take()
    }

    pub async fn get(&self, path: &str) -> Resp {
        request(self.addr, Method::GET, path, &[], None).await
    }

    pub async fn api(&self, method: Method, path: &str, body: Option<&str>) -> Resp {
        let mut headers = vec![("authorization", format!("Bearer {KEY}"))];
        if body.is_some() {
            headers.push(("content-type", "application/json".to_owned()));
        }
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        request(self.addr, method, path, &h, body.map(str::as_bytes)).await
    }

    /// Creates a link and returns its JSON.
    pub async fn create(&self, body: &str) -> serde_json::Value {
        let r = self.api(Method::POST, "/api/links", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()
    }
}

/// A response, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts a problem+json error with `status`; returns its detail.
    pub fn assert_problem(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let j = self.json();
        assert_eq!(j["status"], status);
        assert!(j["title"].is_string() && j["type"].is_string());
        j["detail"].as_str().unwrap().to_owned()
    }
}

/// Sends one request on a fresh connection and reads the whole response.
pub async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    request_from(None, addr, method, path, headers, body).await
}

/// As [`request`], from the loopback address `source` (any 127.x.y.z works
/// on Linux) when given, to act as another client.
pub async fn request_from(
    source: Option<std::net::IpAddr>,
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let stream = match source {
        None => TcpStream::connect(addr).await.unwrap(),
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(SocketAddr::new(ip, 0)).unwrap();
            socket.connect(addr).await.unwrap()
        }
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let req = req
        .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

/// `sled::open`, waiting while a database this process just closed still
/// holds sled's own file lock (its background threads let go a moment after
/// the drop; `Store::open` waits the same way).
pub fn sled_open(path: &Path) -> sled::Db {
    let started = std::time::Instant::now();
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("cannot open sled at {}: {e}", path.display()),
        }
    }
}

/// Signs in at `POST /api/session` with `key`; the status and the
/// `Set-Cookie` header.
pub async fn sign_in(s: &TestServer, key: &str) -> (u16, Option<String>) {
    let body = format!(r#"{{"key": "{key}"}}"#);
    let r = request(
        s.addr,
        Method::POST,
        "/api/session",
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    )
    .await;
    (r.status.as_u16(), r.header("set-cookie").map(str::to_owned))
}
