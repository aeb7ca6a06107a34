//! `GET /api/export` over a real socket against the real binary: the body
//! is exactly what `kurz export` writes for the same data directory, it
//! arrives chunked (streamed, not gathered first), and it needs the key.

mod real_binary;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use real_binary::{Sandbox, Server, KEY, WAIT};

/// A response read to the end of a `connection: close` exchange, with a
/// chunked body decoded into its chunks.
struct Raw {
    status_line: String,
    headers: Vec<(String, String)>,
    chunks: Vec<Vec<u8>>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }
}

fn line(r: &mut impl BufRead) -> String {
    let mut l = String::new();
    r.read_line(&mut l).expect("read a line");
    l.trim_end_matches(['\r', '\n']).to_owned()
}

fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> Raw {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    let auth = auth.map_or(String::new(), |k| format!("authorization: Bearer {k}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}connection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let status_line = line(&mut r);
    let mut headers = Vec::new();
    loop {
        let l = line(&mut r);
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').expect("header line");
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut raw = Raw {
        status_line,
        headers,
        chunks: Vec::new(),
    };
    if raw.header("transfer-encoding") == Some("chunked") {
        loop {
            let size = line(&mut r);
            let size = usize::from_str_radix(size.split(';').next().unwrap(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size line {size:?}"));
            if size == 0 {
                assert_eq!(line(&mut r), "", "no trailers expected");
                break;
            }
            let mut chunk = vec![0; size];
            r.read_exact(&mut chunk).expect("a whole chunk");
            assert_eq!(line(&mut r), "", "CRLF after a chunk");
            raw.chunks.push(chunk);
        }
    } else {
        let mut body = Vec::new();
        r.read_to_end(&mut body).unwrap();
        raw.chunks.push(body);
    }
    raw
}

#[test]
fn the_http_export_streams_what_kurz_export_writes() {
    let sb = Sandbox::new();
    let lines: String = (0..5000)
        .map(|i| {
            format!(
                "{{\"slug\":\"link{i}\",\"url\":\"https://example.com/{i}\",\
                 \"created_at\":\"2026-01-02T03:04:05Z\",\"clicks\":{},\
                 \"daily\":{{\"2026-01-02\":{}}}}}\n",
                i % 7 + 3,
                i % 3
            )
        })
        .collect();
    let file = sb.path().join("seed.jsonl");
    std::fs::write(&file, lines).unwrap();
    sb.kurz("d", &["import", file.to_str().unwrap()]).ok();

    let server = Server::start(&sb.data("d"));
    let refused = get(server.addr, "/api/export", None);
    assert!(
        refused.status_line.contains(" 401 "),
        "{}",
        refused.status_line
    );

    // A client that leaves after the head: the walk stops, the server goes on.
    {
        let mut s = TcpStream::connect_timeout(&server.addr, WAIT).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            s,
            "GET /api/export HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\n\r\n"
        )
        .unwrap();
        let mut r = BufReader::new(s);
        assert!(line(&mut r).contains(" 200 "));
    }

    let resp = get(server.addr, "/api/export", Some(KEY));
    assert!(resp.status_line.contains(" 200 "), "{}", resp.status_line);
    assert_eq!(resp.header("content-type"), Some("application/x-ndjson"));
    let day = real_binary::utc_today();
    assert_eq!(
        resp.header("content-disposition"),
        Some(format!("attachment; filename=\"kurz-export-{day}.jsonl\"").as_str())
    );
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert_eq!(resp.header("content-length"), None);
    // Sent as it was made, a piece at a time, not gathered into one body.
    assert!(resp.chunks.len() > 5, "{} chunks", resp.chunks.len());
    let over_http = resp.body();
    assert_eq!(over_http.iter().filter(|&&b| b == b'\n').count(), 5000);
    let (status, _) = server.terminate();
    assert!(status.success());

    let offline = sb.kurz("d", &["export"]);
    assert!(
        offline.ok().as_bytes() == over_http.as_slice(),
        "the HTTP export differs from kurz export"
    );
}

#[test]
fn the_http_export_of_an_empty_store_is_empty_and_only_for_get() {
    let sb = Sandbox::new();
    // The server makes the empty store (`kurz list` no longer creates one).
    let server = Server::start(&sb.data("d"));
    let resp = get(server.addr, "/api/export", Some(KEY));
    assert!(resp.status_line.contains(" 200 "), "{}", resp.status_line);
    assert!(resp.body().is_empty());

    let mut s = TcpStream::connect_timeout(&server.addr, WAIT).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "POST /api/export HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\n\
         content-length: 0\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s);
    assert!(line(&mut r).contains(" 405 "));
    let allow = std::iter::from_fn(|| Some(line(&mut r)))
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_ascii_lowercase().starts_with("allow:"));
    assert_eq!(
        allow.as_deref().map(str::to_ascii_lowercase).as_deref(),
        Some("allow: get")
    );
}

/// Regression: an export right after a click showed the click in `clicks`
/// but not in `daily` (`{"clicks":6,"daily":{}}`), because the total was
/// read stored + pending and the days stored only, so a backup taken then
/// disagreed with itself.
#[test]
fn an_export_right_after_clicks_counts_them_in_every_counter() {
    let sb = Sandbox::new();
    let server = Server::start(&sb.data("d"));
    let made = real_binary::api(
        server.addr,
        "POST",
        "/api/links",
        Some(r#"{"url":"https://example.com/hot","slug":"hot"}"#),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let mut conn = real_binary::Conn::open(server.addr).unwrap();
    for i in 0..6 {
        let referer = format!("https://ref{}.example/page", i % 2);
        let r = conn
            .send("GET", "/hot", &[("referer", referer.as_str())], None)
            .unwrap();
        assert_eq!(r.status, 302);
    }
    let resp = get(server.addr, "/api/export", Some(KEY));
    assert!(resp.status_line.contains(" 200 "), "{}", resp.status_line);
    let body = String::from_utf8(resp.body()).unwrap();
    let rec: serde_json::Value = body
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["slug"] == "hot")
        .unwrap();
    let sum = |v: &serde_json::Value| -> u64 {
        v.as_object()
            .map_or(0, |m| m.values().map(|n| n.as_u64().unwrap()).sum())
    };
    assert_eq!(rec["clicks"], 6, "{rec}");
    assert_eq!(sum(&rec["daily"]), 6, "{rec}");
    assert_eq!(sum(&rec["referrers"]), 6, "{rec}");
}
