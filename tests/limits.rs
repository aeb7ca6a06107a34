//! Server limits over a real loopback socket: slowloris, oversized heads,
//! too many headers, the brute-force guard on wrong keys, and the API's
//! request deadline.

mod common;

use std::time::{Duration, Instant};

use common::{request, start_server, start_with, Options, KEY};
use hyper::Method;
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

#[tokio::test]
async fn repeated_wrong_keys_get_429_while_redirects_and_other_clients_go_on() {
    use kurz::http::guard::MAX_FAILURES;
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"bf"}"#)
        .await;
    let wrong = [("authorization", "Bearer not-the-key-0123456789")];
    for _ in 0..MAX_FAILURES {
        // Requests without any key are not guesses and are not counted.
        request(s.addr, Method::GET, "/api/links", &[], None)
            .await
            .assert_problem(401);
        let r = common::request(s.addr, Method::GET, "/api/links", &wrong, None).await;
        r.assert_problem(401);
    }
    // Now even the right key from this address waits.
    let r = s.api(Method::GET, "/api/links", None).await;
    r.assert_problem(429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Redirects are never held back.
    assert_eq!(s.get("/bf").await.status, 302);
    // Another client address is not affected.
    let key = format!("Bearer {}", common::KEY);
    let other = common::request_from(
        Some("127.0.0.2".parse().unwrap()),
        s.addr,
        Method::GET,
        "/api/links",
        &[("authorization", &key)],
        None,
    )
    .await;
    assert_eq!(other.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn a_body_trickled_past_the_request_deadline_gets_408_and_the_connection_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = std::time::Duration::from_millis(500);
    let s = start_with(Options {
        request_deadline: Some(deadline),
        ..Options::default()
    })
    .await;
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /api/links HTTP/1.1\r\nhost: kurz\r\nauthorization: Bearer {KEY}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"url\":"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    // The server answers and closes: reading to the end must finish.
    tokio::time::timeout(deadline * 10, conn.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection")
        .unwrap();
    assert!(started.elapsed() >= deadline);
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 408"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    // Nothing was created, and the server still answers.
    let list = s.api(Method::GET, "/api/links", None).await.json();
    assert_eq!(list["links"].as_array().unwrap().len(), 0);
    s.stop().await;
}

// The request deadline was kept by the API's own routes only: a sign-in
// (`POST /api/session`) or a `/metrics` scrape could wait forever. Every
// route that waits now has it, in one place.
#[tokio::test]
async fn every_route_that_reads_a_body_has_the_request_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = std::time::Duration::from_millis(500);
    let s = start_with(Options {
        request_deadline: Some(deadline),
        ..Options::default()
    })
    .await;
    s.create(r#"{"url":"https://example.com/pw","slug":"pw","password":"right"}"#)
        .await;
    for (path, content_type, shape) in [
        (
            "/api/session",
            "application/json",
            "application/problem+json",
        ),
        ("/api/links", "application/json", "application/problem+json"),
        (
            "/pw",
            "application/x-www-form-urlencoded",
            "application/problem+json",
        ),
        (
            "/yourls-api.php",
            "application/x-www-form-urlencoded",
            "<message>",
        ),
    ] {
        let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: kurz\r\nauthorization: Bearer {KEY}\r\n\
             content-type: {content_type}\r\ncontent-length: 100\r\n\r\nx"
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        let started = std::time::Instant::now();
        let mut answer = Vec::new();
        tokio::time::timeout(deadline * 10, conn.read_to_end(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("{path}: no answer within ten deadlines"))
            .unwrap();
        assert!(started.elapsed() >= deadline, "{path}");
        let answer = String::from_utf8_lossy(&answer).to_lowercase();
        assert!(answer.starts_with("http/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("connection: close"), "{path}: {answer}");
        assert!(answer.contains(shape), "{path}: {answer}");
    }
    s.stop().await;
}
