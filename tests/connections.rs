//! Connection limits over real loopback sockets: idle connections of every
//! kind are closed after the idle timeout, and at the connection cap the
//! longest-idle ones make room for a newcomer while a connection with a
//! request in progress is left alone.

mod common;

use std::time::{Duration, Instant};

use common::{start_with, Options, KEY};
use hyper::Method;
use kurz::http::conns::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IDLE: Duration = Duration::from_secs(1);

fn short_idle(max_connections: usize) -> Options {
    Options {
        limits: Some(Limits {
            max_connections,
            idle_timeout: IDLE,
        }),
        ..Options::default()
    }
}

/// Reads until the server closes the connection; how long that took, or
/// `None` if it was still open after `limit`.
async fn closed_within(conn: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut sink = Vec::new();
    match tokio::time::timeout(limit, conn.read_to_end(&mut sink)).await {
        Ok(_) => Some(started.elapsed()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed_after_the_idle_timeout() {
    let s = start_with(short_idle(64)).await;
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    let waited = closed_within(&mut silent, Duration::from_secs(10))
        .await
        .expect("a silent connection stayed open");
    assert!(waited >= IDLE - Duration::from_millis(100), "{waited:?}");
    s.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let s = start_with(short_idle(64)).await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: kurz\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    conn.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    let waited = closed_within(&mut conn, Duration::from_secs(10))
        .await
        .expect("an idle keep-alive connection stayed open");
    assert!(waited >= IDLE - Duration::from_millis(100), "{waited:?}");
    s.stop().await;
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_idle_timeout() {
    let s = start_with(short_idle(64)).await;
    let stream = TcpStream::connect(s.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let driver = tokio::spawn(conn);
    let req = hyper::Request::get(format!("http://{}/healthz", s.addr))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    assert_eq!(sender.send_request(req).await.unwrap().status(), 200);
    // The server's GOAWAY ends the client's connection task.
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), driver)
        .await
        .expect("an idle HTTP/2 connection stayed open")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() >= IDLE - Duration::from_millis(100));
    s.stop().await;
}

#[tokio::test]
async fn at_the_cap_idle_connections_make_room_and_busy_ones_are_left_alone() {
    let s = start_with(Options {
        limits: Some(Limits {
            max_connections: 16,
            idle_timeout: Duration::from_secs(60),
        }),
        ..Options::default()
    })
    .await;
    let link = s
        .create(r#"{"url": "https://example.com/cap", "slug": "cap"}"#)
        .await;
    assert_eq!(link["slug"], "cap");

    // A request in progress: the head is in, half of the body is not.
    let mut busy = TcpStream::connect(s.addr).await.unwrap();
    let body = r#"{"url": "https://example.com/busy", "slug": "busy"}"#;
    let head = format!(
        "POST /api/links HTTP/1.1\r\nhost: kurz\r\nauthorization: Bearer {KEY}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    busy.write_all(head.as_bytes()).await.unwrap();
    busy.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Far more silent connections than the cap.
    let mut crowd = Vec::new();
    for _ in 0..200 {
        crowd.push(TcpStream::connect(s.addr).await.unwrap());
    }
    // A newcomer is still redirected, without waiting for any timeout.
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(5), s.get("/cap"))
        .await
        .expect("a new client was kept out by idle connections");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("https://example.com/cap"));
    assert!(started.elapsed() < Duration::from_secs(5));

    // The request in progress was not cut: it completes and is stored.
    busy.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(5), busy.read_exact(&mut answer))
        .await
        .expect("the busy connection got no answer")
        .unwrap();
    assert_eq!(&answer, b"HTTP/1.1 201");
    let r = s.api(Method::GET, "/api/links/busy", None).await;
    assert_eq!(r.status, 200);
    s.stop().await;
}

// `POST /api/session` had no request deadline, and a request waiting for a
// body that never comes counted as busy: ~4,100 such holders kept every
// newcomer out, redirects included, for as long as they liked.
#[tokio::test]
async fn holders_of_bodies_that_never_come_do_not_keep_a_newcomer_out() {
    let cap = 64;
    let s = start_with(Options {
        limits: Some(Limits {
            max_connections: cap,
            // Far above the test's bound: no sweep can help.
            idle_timeout: Duration::from_secs(600),
        }),
        ..Options::default()
    })
    .await;
    s.create(r#"{"url": "https://example.com/held", "slug": "held"}"#)
        .await;
    let heads = [
        "POST /api/session HTTP/1.1\r\nhost: kurz\r\ncontent-type: application/json\r\n\
         content-length: 100\r\n\r\n"
            .to_owned(),
        "POST /yourls-api.php HTTP/1.1\r\nhost: kurz\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\n"
            .to_owned(),
        format!(
            "POST /api/links HTTP/1.1\r\nhost: kurz\r\nauthorization: Bearer {KEY}\r\n\
             content-type: application/json\r\ncontent-length: 100\r\n\r\n"
        ),
    ];
    // Twice the cap: as many as fit hold a place, the rest wait to.
    let mut holders = Vec::new();
    for i in 0..2 * cap {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        c.write_all(heads[i % heads.len()].as_bytes())
            .await
            .unwrap();
        holders.push(c);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        let started = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(5), s.get("/held"))
            .await
            .expect("a newcomer was kept out by requests waiting for their bodies");
        assert_eq!(r.status, 302);
        assert_eq!(r.header("location"), Some("https://example.com/held"));
        eprintln!("newcomer redirected in {:?}", started.elapsed());
    }
    drop(holders);
    s.stop().await;
}
