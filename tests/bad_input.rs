//! Every kind of bad input, table-driven, against a server holding links:
//! each gets its documented status as problem+json, the server stays up,
//! and the stored data is byte-for-byte the same afterwards (an export
//! before and after).

mod common;

use std::path::Path;

use common::{request, start_in, Options, KEY};
use hyper::Method;
use kurz::store::{ExportRecord, Store};

fn export(data: &Path) -> Vec<ExportRecord> {
    let store = Store::open(data, 1 << 20).unwrap();
    let mut all: Vec<ExportRecord> = store.export().map(Result::unwrap).collect();
    all.sort_by(|a, b| a.slug.cmp(&b.slug));
    all
}

/// (method, path, content type, body, expected status)
type Case = (
    Method,
    &'static str,
    Option<&'static str>,
    &'static [u8],
    u16,
);

const JSON: Option<&str> = Some("application/json");

fn cases() -> Vec<Case> {
    vec![
        // Malformed or wrongly typed bodies.
        (Method::POST, "/api/links", JSON, b"", 400),
        (Method::POST, "/api/links", JSON, b"{", 400),
        (Method::POST, "/api/links", JSON, b"[]", 400),
        (Method::POST, "/api/links", JSON, b"null", 400),
        (Method::POST, "/api/links", JSON, b"{\"url\":5}", 400),
        (Method::POST, "/api/links", JSON, b"{}", 400),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"https://a.example/\",\"x\":1}",
            400,
        ),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"\xff\xfe{\"url\":1}",
            400,
        ),
        (Method::PATCH, "/api/links/keep1", JSON, b"{\"url\":", 400),
        (
            Method::PATCH,
            "/api/links/keep1",
            JSON,
            b"{\"slug\":\"x\"}",
            400,
        ),
        // Not JSON at all.
        (
            Method::POST,
            "/api/links",
            Some("text/plain"),
            b"{\"url\":\"https://a.example/\"}",
            415,
        ),
        (
            Method::POST,
            "/api/links",
            None,
            b"{\"url\":\"https://a.example/\"}",
            415,
        ),
        // Well-formed but invalid.
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"javascript:alert(1)\"}",
            422,
        ),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"  https://a.example/\"}",
            422,
        ),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"https://a.example/\\r\\nx\"}",
            422,
        ),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"https://u:p@a.example/\"}",
            422,
        ),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"file:///etc/passwd\"}",
            422,
        ),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"https://a.example/\",\"slug\":\"a/b\"}",
            422,
        ),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"https://a.example/\",\"slug\":\"api\"}",
            422,
        ),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"https://a.example/\",\"max_clicks\":0}",
            422,
        ),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"https://a.example/\",\"redirect_status\":200}",
            422,
        ),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"https://a.example/\",\"expires_at\":\"yesterday\"}",
            422,
        ),
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"https://a.example/\",\"expires_at\":\"2000-01-01T00:00:00Z\"}",
            422,
        ),
        (
            Method::PATCH,
            "/api/links/keep1",
            JSON,
            b"{\"url\":null}",
            422,
        ),
        (
            Method::PATCH,
            "/api/links/keep1",
            JSON,
            b"{\"url\":\"ftp://a.example/\"}",
            422,
        ),
        // Taken, missing, wrong method, wrong route.
        (
            Method::POST,
            "/api/links",
            JSON,
            b"{\"url\":\"https://b.example/\",\"slug\":\"keep1\"}",
            409,
        ),
        (Method::GET, "/api/links/nosuch", None, b"", 404),
        (
            Method::PATCH,
            "/api/links/nosuch",
            JSON,
            b"{\"max_clicks\":3}",
            404,
        ),
        (Method::DELETE, "/api/links/nosuch", None, b"", 404),
        (Method::GET, "/api/links/keep1/nothing", None, b"", 404),
        (Method::PUT, "/api/links", JSON, b"{}", 405),
        (Method::POST, "/api/links/keep1", JSON, b"{}", 405),
        // POST is how a protected link takes its password; keep1 has none.
        (Method::POST, "/keep1", None, b"", 400),
        (Method::PUT, "/keep1", None, b"", 405),
        // Bad query parameters.
        (Method::GET, "/api/links?limit=0", None, b"", 400),
        (Method::GET, "/api/links?limit=abc", None, b"", 400),
        (Method::GET, "/api/links?cursor=%00", None, b"", 400),
        (Method::GET, "/api/links?page=2", None, b"", 400),
        (Method::GET, "/api/links/keep1/stats?from=0", None, b"", 400),
        (Method::GET, "/api/links/keep1/qr?scale=2", None, b"", 400),
        (
            Method::GET,
            "/api/links/keep1/stats?days=-1",
            None,
            b"",
            400,
        ),
        // Paths that must not reach anything.
        (Method::GET, "/../../etc/passwd", None, b"", 404),
        (Method::GET, "/%2e%2e%2fapi", None, b"", 404),
        (Method::GET, "/nosuchlink", None, b"", 404),
    ]
}

#[tokio::test]
async fn bad_input_gets_its_status_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_in(dir.path(), Options::default()).await;
    for i in 1..=3 {
        s.create(&format!(
            r#"{{"url":"https://keep.example/{i}","slug":"keep{i}","max_clicks":10}}"#
        ))
        .await;
        assert_eq!(s.get(&format!("/keep{i}")).await.status, 302);
    }
    s.stop().await;
    let before = export(dir.path());
    assert_eq!(before.len(), 3);

    let s = start_in(dir.path(), Options::default()).await;
    let auth = format!("Bearer {KEY}");
    for (method, path, content_type, body, want) in cases() {
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(ct) = content_type {
            headers.push(("content-type", ct));
        }
        let r = request(s.addr, method.clone(), path, &headers, Some(body)).await;
        let detail = r.assert_problem(want);
        assert!(!detail.contains(KEY), "{method} {path}: the key leaked");
        assert_eq!(
            s.get("/healthz").await.status,
            200,
            "down after {method} {path}"
        );
    }
    // A body over the limit, and one that claims to be.
    let big = vec![b' '; 65 * 1024];
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    request(s.addr, Method::POST, "/api/links", &headers, Some(&big))
        .await
        .assert_problem(413);
    s.stop().await;
    assert_eq!(export(dir.path()), before, "bad input changed stored data");
}
