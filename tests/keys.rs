//! Named API keys over a real loopback socket: an admin key makes, lists and
//! revokes keys at `/api/keys`; each scope may do exactly what it should
//! (403 naming the missing scope otherwise); a revoked key is 401 at once,
//! its browser session too; `kurz keys` beside a running server takes
//! effect at once; links record the key that made them; bad input is a 4xx
//! and changes nothing.

mod common;

use std::process::Command;

use common::{request, start_server, TestServer};
use hyper::{Method, StatusCode};
use serde_json::Value;

const JSON: (&str, &str) = ("content-type", "application/json");

/// A request with `key` as the bearer key.
async fn with_key(
    s: &TestServer,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> common::Resp {
    let auth = format!("Bearer {key}");
    let mut h = vec![("authorization", auth.as_str())];
    if body.is_some() {
        h.push(JSON);
    }
    request(s.addr, method, path, &h, body.map(str::as_bytes)).await
}

/// Makes a key over HTTP with the built-in key; returns the new key.
async fn make(s: &TestServer, name: &str, scope: &str) -> String {
    let body = format!(r#"{{"name":"{name}","scope":"{scope}"}}"#);
    let r = s.api(Method::POST, "/api/keys", Some(&body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let j = r.json();
    assert_eq!(j["name"], name);
    assert_eq!(j["scope"], scope);
    j["key"].as_str().unwrap().to_owned()
}

fn listed(s: &Value) -> Vec<(String, String)> {
    s["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap().to_owned(),
                k["scope"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_scope_may_do_what_it_should_and_no_more() {
    let s = start_server().await;
    let read = make(&s, "dashboard", "read").await;
    let write = make(&s, "script", "write").await;
    let admin = make(&s, "ops", "admin").await;
    s.create(r#"{"url":"https://example.com/a","slug":"a"}"#)
        .await;

    // read: GET only.
    for path in [
        "/api/links",
        "/api/links/a",
        "/api/links/a/stats",
        "/metrics",
    ] {
        let r = with_key(&s, &read, Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::OK, "read GET {path}: {}", r.text());
    }
    let denied = [
        (
            Method::POST,
            "/api/links",
            Some(r#"{"url":"https://example.com/r"}"#),
        ),
        (Method::PATCH, "/api/links/a", Some(r#"{"max_clicks":5}"#)),
        (Method::DELETE, "/api/links/a", None),
    ];
    for (m, path, body) in &denied {
        let r = with_key(&s, &read, m.clone(), path, *body).await;
        let detail = r.assert_problem(403);
        assert!(
            detail.contains("'write'") && detail.contains("dashboard"),
            "{detail}"
        );
    }

    // write: links, but not keys or the export.
    let r = with_key(
        &s,
        &write,
        Method::POST,
        "/api/links",
        Some(r#"{"url":"https://example.com/w","slug":"w"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["created_by"], "script");
    let r = with_key(
        &s,
        &write,
        Method::PATCH,
        "/api/links/w",
        Some(r#"{"max_clicks":9}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    for (m, path, body) in [
        (Method::GET, "/api/keys", None),
        (
            Method::POST,
            "/api/keys",
            Some(r#"{"name":"x","scope":"read"}"#),
        ),
        (Method::DELETE, "/api/keys/dashboard", None),
        (Method::GET, "/api/export", None),
    ] {
        let r = with_key(&s, &write, m, path, body).await;
        let detail = r.assert_problem(403);
        assert!(detail.contains("'admin'"), "{detail}");
    }

    // admin: keys and the export.
    let r = with_key(&s, &admin, Method::GET, "/api/export", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("\"w\""));
    let r = with_key(&s, &admin, Method::GET, "/api/keys", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.text();
    assert!(!body.contains(&read) && !body.contains("sha256"), "{body}");
    assert_eq!(
        listed(&r.json()),
        [
            ("admin".to_owned(), "admin".to_owned()),
            ("dashboard".to_owned(), "read".to_owned()),
            ("ops".to_owned(), "admin".to_owned()),
            ("script".to_owned(), "write".to_owned()),
        ]
    );
    let keys = r.json();
    let dashboard = &keys["keys"][1];
    assert!(dashboard["last_used_at"].is_string(), "{dashboard}");
    assert_eq!(keys["keys"][0]["builtin"], true);

    // Links made with the built-in key are the admin's.
    let r = s.api(Method::GET, "/api/links/a", None).await;
    assert_eq!(r.json()["created_by"], "admin");
    s.stop().await;
}

#[tokio::test]
async fn a_revoked_key_and_its_session_are_refused_at_once() {
    let s = start_server().await;
    let key = make(&s, "phone", "write").await;
    let sign_in = format!(r#"{{"key":"{key}"}}"#);
    let r = request(
        s.addr,
        Method::POST,
        "/api/session",
        &[JSON],
        Some(sign_in.as_bytes()),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let cookie = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let by_cookie = || async {
        request(
            s.addr,
            Method::GET,
            "/api/links",
            &[("cookie", cookie.as_str())],
            None,
        )
        .await
    };
    assert_eq!(by_cookie().await.status, StatusCode::OK);
    // The session has the key's scope, not more.
    let r = request(
        s.addr,
        Method::GET,
        "/api/keys",
        &[("cookie", cookie.as_str())],
        None,
    )
    .await;
    r.assert_problem(403);

    let r = s.api(Method::DELETE, "/api/keys/phone", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    with_key(&s, &key, Method::GET, "/api/links", None)
        .await
        .assert_problem(401);
    by_cookie().await.assert_problem(401);
    // Revoking again, or a key that never was: 404.
    s.api(Method::DELETE, "/api/keys/phone", None)
        .await
        .assert_problem(404);
    // The built-in key cannot be revoked over HTTP.
    let detail = s
        .api(Method::DELETE, "/api/keys/admin", None)
        .await
        .assert_problem(403);
    assert!(detail.contains("kurz key --new"), "{detail}");
    assert_eq!(s.get("/api/links").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.api(Method::GET, "/api/links", None).await.status,
        StatusCode::OK
    );
    s.stop().await;
}

/// Signs in with `key`; returns the session cookie (`name=value`).
async fn sign_in(s: &TestServer, key: &str) -> String {
    let (status, set) = common::sign_in(s, key).await;
    assert_eq!(status, 204);
    let set = set.unwrap();
    set.split(';').next().unwrap().to_owned()
}

async fn by_cookie(s: &TestServer, cookie: &str, path: &str) -> common::Resp {
    request(s.addr, Method::GET, path, &[("cookie", cookie)], None).await
}

// A session kept the name of its key, so a new key given a revoked key's
// name (over HTTP or with `kurz keys`) brought its sessions back, with the
// new key's scope.
#[tokio::test]
async fn a_revoked_keys_session_stays_ended_when_a_new_key_takes_its_name() {
    let s = start_server().await;
    let key = make(&s, "phone", "write").await;
    let cookie = sign_in(&s, &key).await;
    assert_eq!(
        by_cookie(&s, &cookie, "/api/links").await.status,
        StatusCode::OK
    );
    let r = s.api(Method::DELETE, "/api/keys/phone", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    by_cookie(&s, &cookie, "/api/links")
        .await
        .assert_problem(401);
    let admin = make(&s, "phone", "admin").await;
    for path in ["/api/links", "/api/keys", "/api/export"] {
        by_cookie(&s, &cookie, path).await.assert_problem(401);
    }
    // The new key's own session works, with its own scope.
    let fresh = sign_in(&s, &admin).await;
    assert_eq!(
        by_cookie(&s, &fresh, "/api/keys").await.status,
        StatusCode::OK
    );

    // The same through the command line beside the running server.
    let out = kurz(&s.data, &["keys", "revoke", "phone"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    by_cookie(&s, &fresh, "/api/links")
        .await
        .assert_problem(401);
    let out = kurz(&s.data, &["keys", "add", "phone", "--scope", "admin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for cookie in [&cookie, &fresh] {
        by_cookie(&s, cookie, "/api/keys").await.assert_problem(401);
    }
    s.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let s = start_server().await;
    make(&s, "phone", "read").await;
    let cases = [
        (r#"{"name":"phone","scope":"read"}"#, 409),
        (r#"{"name":"admin","scope":"read"}"#, 403),
        (r#"{"name":"Phone!","scope":"read"}"#, 422),
        (r#"{"name":"","scope":"read"}"#, 422),
        (r#"{"name":"x","scope":"root"}"#, 422),
        (r#"{"name":"x"}"#, 400),
        (r#"{"name":"x","scope":"read","extra":1}"#, 400),
        (r#"{"name":7,"scope":"read"}"#, 400),
        ("not json", 400),
    ];
    for (body, status) in cases {
        let r = s.api(Method::POST, "/api/keys", Some(body)).await;
        r.assert_problem(status);
    }
    let r = s.api(Method::GET, "/api/keys", None).await;
    assert_eq!(
        listed(&r.json()),
        [
            ("admin".to_owned(), "admin".to_owned()),
            ("phone".to_owned(), "read".to_owned()),
        ]
    );
    s.api(Method::PUT, "/api/keys", None)
        .await
        .assert_problem(405);
    s.stop().await;
}

fn kurz(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kurz"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_cli_manages_keys_beside_a_running_server() {
    let s = start_server().await;
    let out = kurz(&s.data, &["keys", "add", "laptop", "--scope", "read"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(key.len(), 43);
    // The running server takes it at once.
    let r = with_key(&s, &key, Method::GET, "/api/links", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    for (args, want) in [
        (&["keys", "add", "laptop", "--scope", "read"][..], "exists"),
        (&["keys", "add", "admin", "--scope", "read"][..], "built-in"),
        (
            &["keys", "add", "No Spaces", "--scope", "read"][..],
            "key name",
        ),
        (&["keys", "revoke", "nobody"][..], "no key named"),
        (&["keys", "revoke", "admin"][..], "kurz key --new"),
    ] {
        let out = kurz(&s.data, args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let out = kurz(&s.data, &["keys", "add", "x", "--scope", "root"]);
    assert_eq!(out.status.code(), Some(2));

    let out = kurz(&s.data, &["keys", "list"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("laptop") && text.contains("read"), "{text}");
    assert!(!text.contains(&key));

    let out = kurz(&s.data, &["keys", "revoke", "laptop"]);
    assert!(out.status.success());
    with_key(&s, &key, Method::GET, "/api/links", None)
        .await
        .assert_problem(401);
    s.stop().await;
}

#[tokio::test]
async fn last_use_is_kept_across_a_restart_and_keys_stay() {
    let s = start_server().await;
    let key = make(&s, "phone", "read").await;
    assert_eq!(
        with_key(&s, &key, Method::GET, "/api/links", None)
            .await
            .status,
        StatusCode::OK
    );
    let dir = s.stop().await.unwrap();
    // Written when the server stopped, not per request.
    let used = std::fs::read_to_string(dir.path().join("keys-used")).unwrap();
    assert!(used.contains("\"phone\""), "{used}");
    let out = kurz(dir.path(), &["keys", "list"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let phone = text.lines().find(|l| l.starts_with("phone")).unwrap();
    assert!(!phone.ends_with("never"), "{text}");

    let s = common::start_in(dir.path(), common::Options::default()).await;
    let r = with_key(&s, &key, Method::GET, "/api/keys", None).await;
    r.assert_problem(403);
    let r = s.api(Method::GET, "/api/keys", None).await;
    let phone = &r.json()["keys"][1];
    assert_eq!(phone["name"], "phone");
    assert!(phone["last_used_at"].is_string());
    s.stop().await;
    drop(dir);
}

#[tokio::test]
async fn metrics_need_a_key_of_any_scope() {
    let s = start_server().await;
    let read = make(&s, "prometheus", "read").await;
    let r = with_key(&s, &read, Method::GET, "/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(s.get("/metrics").await.status, StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[tokio::test]
async fn exports_keep_who_made_each_link() {
    let s = start_server().await;
    let key = make(&s, "script", "write").await;
    let r = with_key(
        &s,
        &key,
        Method::POST,
        "/api/links",
        Some(r#"{"url":"https://example.com/s","slug":"s"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let dir = s.stop().await.unwrap();
    let out = kurz(dir.path(), &["export"]);
    assert!(out.status.success());
    let export = String::from_utf8(out.stdout).unwrap();
    assert!(export.contains(r#""created_by":"script""#), "{export}");

    let other = tempfile::tempdir().unwrap();
    let file = other.path().join("links.jsonl");
    std::fs::write(&file, &export).unwrap();
    let data = other.path().join("data");
    let out = kurz(&data, &["import", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(kurz(&data, &["export"]).stdout).unwrap(),
        export
    );
    // A name no key could have is refused, with its line, and nothing stored.
    let bad = export.replace(r#""created_by":"script""#, r#""created_by":"Not A Key""#);
    let bad = bad.replace(r#""slug":"s""#, r#""slug":"t""#);
    std::fs::write(&file, bad).unwrap();
    let out = kurz(&data, &["import", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("created_by"), "{err}");
    let after = String::from_utf8(kurz(&data, &["export"]).stdout).unwrap();
    assert!(!after.contains(r#""slug":"t""#), "{after}");
}
