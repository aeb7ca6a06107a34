//! Server limits over a real loopback socket: slowloris and oversized heads.

mod common;

use std::time::{Duration, Instant};

use common::{start_server, start_with, Options};
use kurz::http::conns::Limits;
use kurz::http::server::{MAX_HEADERS, MAX_HEAD_BYTES};

/// The header read timeout of the slowloris test (the idle timeout sets it).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `limit` passes).
async fn read_until_closed(conn: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut answer = Vec::new();
    tokio::time::timeout(limit, conn.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_head_sent_too_slowly_is_cut_off_at_the_header_timeout() {
    let s = start_with(Options {
        limits: Some(Limits {
            idle_timeout: HEADER_READ_TIMEOUT,
            ..Limits::default()
        }),
        ..Options::default()
    })
    .await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    // Half a request head, then nothing: the slowloris pattern.
    conn.write_all(b"GET /x HTTP/1.1\r\nhost: kurz\r\nx-slow: 1")
        .await
        .unwrap();
    let started = Instant::now();
    let closed = read_until_closed(&mut conn, HEADER_READ_TIMEOUT + Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "the connection was still open after the timeout"
    );
    let waited = started.elapsed();
    assert!(
        waited >= HEADER_READ_TIMEOUT - Duration::from_millis(500),
        "cut off after {waited:?}, before the timeout"
    );
    // The server goes on serving.
    assert_eq!(s.get("/healthz").await.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn an_oversized_head_is_refused_and_the_server_goes_on() {
    let s = start_server().await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    let big = "a".repeat(MAX_HEAD_BYTES + 1024);
    let head = format!("GET /x HTTP/1.1\r\nhost: kurz\r\nx-big: {big}\r\n\r\n");
    // The server may stop reading before all of it is written.
    let _ = conn.write_all(head.as_bytes()).await;
    let answer = read_until_closed(&mut conn, Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer:.100}"
    );
    assert_eq!(s.get("/healthz").await.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn more_headers_than_the_limit_are_refused() {
    let s = start_server().await;
    let head_with = |n: usize| {
        let mut head = String::from("GET /healthz HTTP/1.1\r\nhost: kurz\r\n");
        // `host` is one of the n headers.
        for i in 1..n {
            head.push_str(&format!("x-h{i}: {i}\r\n"));
        }
        head + "connection: close\r\n\r\n"
    };
    for (headers, status) in [(MAX_HEADERS - 1, "200"), (MAX_HEADERS + 1, "431")] {
        let mut conn = TcpStream::connect(s.addr).await.unwrap();
        let _ = conn.write_all(head_with(headers).as_bytes()).await;
        let answer = read_until_closed(&mut conn, Duration::from_secs(5))
            .await
            .unwrap_or_default();
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{headers} headers: {answer:.100}"
        );
    }
    assert_eq!(s.get("/healthz").await.status, 200);
    s.stop().await;
}
