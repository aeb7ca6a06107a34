//! HTTP/2 limits over a real loopback socket: h2c with prior knowledge,
//! spoken in raw frames so the test sees exactly what the server sends (a
//! client library would hide the server's SETTINGS and refuse to send an
//! oversized header list itself).
//!
//! The helpers are the least HTTP/2 the tests need: a frame reader and
//! writer, an HPACK encoder that only writes "literal without indexing, new
//! name" fields with plain strings, and a decoder for a response's
//! `:status` alone.

mod common;

use std::time::Duration;

use common::{start_server, TestServer, KEY};
use kurz::http::server::{H2_STREAM_WINDOW, MAX_H2_STREAMS, MAX_HEAD_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
/// END_STREAM on DATA and HEADERS; ACK on SETTINGS and PING.
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const SETTINGS_MAX_CONCURRENT_STREAMS: u32 = 0x3;
const SETTINGS_MAX_HEADER_LIST_SIZE: u32 = 0x6;
const SETTINGS_INITIAL_WINDOW_SIZE: u32 = 0x4;
const REFUSED_STREAM: u32 = 0x7;
/// The largest frame payload a peer must accept before SETTINGS raise it.
const MAX_FRAME: usize = 16_384;
/// Longest wait for any single read or write.
const WAIT: Duration = Duration::from_secs(5);

/// One frame as read off the wire.
#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// A big-endian number of up to four bytes.
fn be(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |n, b| n << 8 | u32::from(*b))
}

/// `f`'s output, failing the test if it takes longer than [`WAIT`].
async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.expect("timed out")
}

/// A raw client connection that has sent the preface.
struct H2(TcpStream);

impl H2 {
    /// Connects, sends the preface and an empty SETTINGS frame, and returns
    /// the connection with the settings of the server's first SETTINGS frame
    /// as (identifier, value) pairs, unacknowledged.
    async fn connect(s: &TestServer) -> (H2, Vec<(u32, u32)>) {
        let mut c = H2(TcpStream::connect(s.addr).await.unwrap());
        within(c.0.write_all(PREFACE)).await.unwrap();
        c.send(SETTINGS, 0, 0, &[]).await;
        let f = c.read().await;
        assert_eq!((f.kind, f.flags, f.stream), (SETTINGS, 0, 0), "{f:?}");
        let settings = f.payload.chunks(6).map(|e| (be(&e[..2]), be(&e[2..])));
        (c, settings.collect())
    }

    /// As [`H2::connect`], then acknowledges the server's settings.
    async fn ready(s: &TestServer) -> H2 {
        let (mut c, _) = H2::connect(s).await;
        c.send(SETTINGS, ACK, 0, &[]).await;
        c
    }

    /// Writes one frame.
    async fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        frame.extend([kind, flags]);
        frame.extend(stream.to_be_bytes());
        frame.extend(payload);
        within(self.0.write_all(&frame)).await.unwrap();
    }

    /// Sends a request's header `block` on `stream`, in a HEADERS frame and
    /// as many CONTINUATION frames as [`MAX_FRAME`] requires.
    async fn request(&mut self, stream: u32, block: &[u8], end_stream: bool) {
        for (i, chunk) in block.chunks(MAX_FRAME).enumerate() {
            let (kind, mut flags) = match i {
                0 if end_stream => (HEADERS, END_STREAM),
                0 => (HEADERS, 0),
                _ => (CONTINUATION, 0),
            };
            if (i + 1) * MAX_FRAME >= block.len() {
                flags |= END_HEADERS;
            }
            self.send(kind, flags, stream, chunk).await;
        }
    }

    /// Reads one frame.
    async fn read(&mut self) -> Frame {
        let mut head = [0u8; 9];
        within(self.0.read_exact(&mut head)).await.unwrap();
        let mut payload = vec![0; be(&head[..3]) as usize];
        within(self.0.read_exact(&mut payload)).await.unwrap();
        let stream = be(&head[5..]) & 0x7fff_ffff;
        Frame {
            kind: head[3],
            flags: head[4],
            stream,
            payload,
        }
    }

    /// The next frame on `stream`, or a GOAWAY, skipping the server's
    /// bookkeeping (SETTINGS, PING, WINDOW_UPDATE). Any other frame on
    /// another stream fails the test: only `stream` may be answered.
    async fn next_on(&mut self, stream: u32) -> Frame {
        loop {
            let f = self.read().await;
            match f.kind {
                SETTINGS | PING | WINDOW_UPDATE => {}
                GOAWAY => return f,
                _ if f.stream == stream => return f,
                _ => panic!("unexpected frame while waiting on stream {stream}: {f:?}"),
            }
        }
    }
}

/// HPACK integer with a 7-bit prefix (the high bit, Huffman, left clear).
fn hpack_int(out: &mut Vec<u8>, mut n: usize) {
    if n < 127 {
        out.push(n as u8);
        return;
    }
    out.push(127);
    n -= 127;
    while n >= 128 {
        out.push((n % 128) as u8 | 0x80);
        n /= 128;
    }
    out.push(n as u8);
}

/// A header block of "literal without indexing, new name" fields with plain strings.
fn hpack(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0x00);
        for s in [name, value] {
            hpack_int(&mut out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

/// The `:status` of a response header block: a static-table indexed field
/// (0x88..=0x8e), or a literal with incremental indexing on name index 8
/// (0x48) whose value is plain or Huffman-coded digits.
fn status(block: &[u8]) -> u16 {
    match block[0] {
        b @ 0x88..=0x8e => [200, 204, 206, 304, 400, 404, 500][usize::from(b - 0x88)],
        0x48 => {
            let value = &block[2..2 + usize::from(block[1] & 0x7f)];
            if block[1] & 0x80 == 0 {
                std::str::from_utf8(value).unwrap().parse().unwrap()
            } else {
                huffman_status(value)
            }
        }
        b => panic!("no :status first in the header block (0x{b:02x})"),
    }
}

/// Three Huffman-coded digits (RFC 7541 Appendix B: '0'..='2' are the 5-bit
/// codes 0..=2, '3'..='9' the 6-bit codes 25..=31).
fn huffman_status(s: &[u8]) -> u16 {
    let bits = |at: usize, n: usize| {
        (at..at + n).fold(0u16, |acc, i| {
            acc << 1 | u16::from(s[i / 8] >> (7 - i % 8) & 1)
        })
    };
    let (mut at, mut status) = (0, 0);
    for _ in 0..3 {
        let (digit, len) = match bits(at, 5) {
            d @ 0..=2 => (d, 5),
            _ => (bits(at, 6) - 22, 6),
        };
        status = status * 10 + digit;
        at += len;
    }
    status
}

/// The request head both stream tests use, for `path` with `extra` headers.
fn head<'a>(method: &'a str, path: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<u8> {
    let mut fields = vec![
        (":method", method),
        (":scheme", "http"),
        (":path", path),
        (":authority", "kurz"),
    ];
    fields.extend_from_slice(extra);
    hpack(&fields)
}

/// `GET /healthz` over HTTP/1.1 on a new connection answers 200: the server is up.
async fn assert_up(s: &TestServer) {
    let r = within(s.get("/healthz")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn the_server_advertises_its_stream_and_header_limits() {
    let s = start_server().await;
    let (c, settings) = H2::connect(&s).await;
    let get = |id| settings.iter().find(|(k, _)| *k == id).map(|(_, v)| *v);
    let streams = get(SETTINGS_MAX_CONCURRENT_STREAMS);
    let header_list = get(SETTINGS_MAX_HEADER_LIST_SIZE);
    let window = get(SETTINGS_INITIAL_WINDOW_SIZE);
    let expected = (
        Some(MAX_H2_STREAMS),
        Some(MAX_HEAD_BYTES as u32),
        Some(H2_STREAM_WINDOW),
    );
    assert_eq!((streams, header_list, window), expected, "{settings:?}");
    drop(c);
    s.stop().await;
}

#[tokio::test]
async fn a_stream_beyond_the_limit_is_refused_and_the_others_live_on() {
    let s = start_server().await;
    let mut c = H2::ready(&s).await;
    let body = r#"{"url":"https://example.com/h2","slug":"h2"}"#;
    let (bearer, len) = (format!("Bearer {KEY}"), body.len().to_string());
    let post = head(
        "POST",
        "/api/links",
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
            ("content-length", &len),
        ],
    );
    // MAX_H2_STREAMS creations, each waiting for a body that has not come,
    // then one stream more.
    let refused = 2 * MAX_H2_STREAMS + 1;
    for id in (1..=refused).step_by(2) {
        c.request(id, &post, false).await;
    }
    let f = c.next_on(refused).await;
    let refusal = (f.kind, f.stream, be(&f.payload));
    assert_eq!(refusal, (RST_STREAM, refused, REFUSED_STREAM), "{f:?}");

    // The first stream is still served: its body completes the creation.
    c.send(DATA, END_STREAM, 1, body.as_bytes()).await;
    let mut f = c.next_on(1).await;
    assert_eq!((f.kind, f.stream), (HEADERS, 1), "{f:?}");
    assert_eq!(status(&f.payload), 201);
    while f.flags & END_STREAM == 0 {
        f = c.next_on(1).await;
        assert_eq!(f.kind, DATA, "{f:?}");
    }
    // Its place is free again, on the same connection.
    let next = refused + 2;
    c.request(next, &head("GET", "/healthz", &[]), true).await;
    let f = c.next_on(next).await;
    assert_eq!((f.kind, status(&f.payload)), (HEADERS, 200), "{f:?}");

    let r = within(s.get("/h2")).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("https://example.com/h2"));
    drop(c);
    s.stop().await;
}

#[tokio::test]
async fn an_oversized_header_list_is_refused_and_the_server_stays_up() {
    let s = start_server().await;
    let mut c = H2::ready(&s).await;
    // 70,000 bytes: five frames of at most MAX_FRAME.
    let big = "a".repeat(MAX_HEAD_BYTES + 4_464);
    let block = head("GET", "/healthz", &[("x-big", &big)]);
    c.request(1, &block, true).await;
    let f = c.next_on(1).await;
    // hyper (h2 0.4) answers 431 with END_STREAM and keeps the connection.
    match f.kind {
        HEADERS => assert_eq!(status(&f.payload), 431, "{f:?}"),
        RST_STREAM | GOAWAY => {}
        _ => panic!("the oversized request was not refused: {f:?}"),
    }
    if f.kind != GOAWAY {
        // The connection lives on (its HPACK state too).
        c.request(3, &head("GET", "/healthz", &[]), true).await;
        let f = c.next_on(3).await;
        assert_eq!((f.kind, status(&f.payload)), (HEADERS, 200), "{f:?}");
    }
    assert_up(&s).await;
    drop(c);
    s.stop().await;
}

#[tokio::test]
async fn a_flood_of_pings_and_settings_does_not_bring_the_server_down() {
    let s = start_server().await;
    let mut c = H2::ready(&s).await;
    for i in 0..1000u64 {
        c.send(PING, 0, 0, &i.to_be_bytes()).await;
        c.send(SETTINGS, 0, 0, &[]).await;
    }
    // The flooding connection itself is still served, after all the ACKs.
    c.request(1, &head("GET", "/healthz", &[]), true).await;
    let f = c.next_on(1).await;
    assert_eq!((f.kind, status(&f.payload)), (HEADERS, 200), "{f:?}");
    assert_up(&s).await;
    drop(c);
    s.stop().await;
}

// The Argon2 slot was held by the request's future, so a stream reset while
// its hash ran freed the slot and let another hash start beside it: one
// client without a key could run as many at once as it sent resets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashes_of_reset_streams_keep_their_slot_until_they_finish() {
    const CANCEL: u32 = 0x8;
    let s = start_server().await;
    let links = 10;
    for i in 0..links {
        let body =
            format!(r#"{{"url":"https://example.com/{i}","slug":"p{i}","password":"right"}}"#);
        let r = s.api(hyper::Method::POST, "/api/links", Some(&body)).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let mut c = H2::ready(&s).await;
    let form = b"password=wrong";
    let len = form.len().to_string();
    let mut id = 1;
    // Five tries per link: what the per-address lockout lets through.
    for round in 0..5 {
        for i in 0..links {
            let path = format!("/p{i}");
            let post = head(
                "POST",
                &path,
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("content-length", &len),
                ],
            );
            c.request(id, &post, false).await;
            c.send(DATA, END_STREAM, id, form).await;
            // Long enough for the hash to start, far shorter than it takes.
            tokio::time::sleep(Duration::from_millis(5 + round)).await;
            c.send(RST_STREAM, 0, id, &CANCEL.to_be_bytes()).await;
            id += 2;
        }
    }
    let slots = &s.app.argon2;
    let quiet = async {
        while slots.running() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), quiet)
        .await
        .expect("hashes still running after 60 s");
    assert!(
        slots.most_at_once() >= 1,
        "no hash ever ran: the test proves nothing"
    );
    assert!(
        slots.most_at_once() <= slots.size(),
        "{} hashes ran at once, with {} slots",
        slots.most_at_once(),
        slots.size()
    );
    drop(c);
    assert_up(&s).await;
    s.stop().await;
}
