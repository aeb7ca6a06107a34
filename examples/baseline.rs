//! The load benchmark's baseline: a bare hyper 1.x server that answers every
//! request with the same 302 and stores nothing.
//!
//! It is the ceiling kurz is measured against: same runtime, same HTTP
//! stack, no routing, no lookup, no counting. Usage:
//! `cargo run --release --example baseline -- 127.0.0.1:9090`.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::header::{HeaderValue, CACHE_CONTROL, LOCATION};
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9090".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(addr).await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_req| async {
                let mut resp = Response::new(Empty::<Bytes>::new());
                *resp.status_mut() = StatusCode::FOUND;
                let h = resp.headers_mut();
                h.insert(LOCATION, HeaderValue::from_static("https://example.com/"));
                h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                Ok::<_, Infallible>(resp)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
