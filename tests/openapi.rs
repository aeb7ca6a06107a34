//! `/api/openapi.json` kept honest: the document, `router::ROUTES` and the
//! router itself (over a real socket) all name the same routes and methods.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{request, request_from, start_server, TestServer, KEY};
use hyper::{Method, StatusCode};
use kurz::http::openapi::DOCUMENT;
use kurz::http::router::ROUTES;
use serde_json::Value;

/// Every method a path is probed with; CONNECT is left out (it names a host,
/// not a path).
const PROBES: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
];

/// The keys of an OpenAPI path item that are operations.
const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_slice(DOCUMENT).expect("openapi.json is not JSON")
}

/// The methods `ROUTES` lists, by path.
fn routes_by_path() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let mut by_path: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (method, path) in ROUTES {
        assert!(
            by_path.entry(*path).or_default().insert(*method),
            "{method} {path} is listed twice in ROUTES"
        );
    }
    by_path
}

/// Every `$ref` in `v`, with where it was found.
fn refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "$ref" {
                    if let Some(r) = child.as_str() {
                        out.push((at.clone(), r));
                    }
                } else {
                    refs(child, format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                refs(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1_and_every_ref_resolves() {
    let doc = document();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi is {version:?}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert!(doc["paths"].is_object());
    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(found.len() > 50, "only {} $refs", found.len());
    for (at, r) in found {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: $ref {r} is not local"));
        assert!(
            doc.pointer(pointer).is_some(),
            "{at}: $ref {r} points at nothing"
        );
    }
    // Every error is problem+json (but the YOURLS API's, which answers in
    // YOURLS's shape), and every scheme an operation names exists.
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for name in ["bearer", "apiKey", "session"] {
        assert!(schemes.contains_key(name), "no security scheme {name}");
    }
    for (name, resp) in doc["components"]["responses"].as_object().unwrap() {
        if name == "Yourls" {
            continue;
        }
        if let Some(content) = resp["content"].as_object() {
            assert_eq!(
                content.keys().collect::<Vec<_>>(),
                ["application/problem+json"],
                "response {name}"
            );
        }
    }
}

#[test]
fn routes_and_the_document_name_the_same_operations() {
    let doc = document();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (key, op) in item.as_object().unwrap() {
            if OPERATIONS.contains(&key.as_str()) {
                documented.insert((key.to_uppercase(), path.clone()));
                let responses = op["responses"].as_object();
                assert!(
                    responses.is_some_and(|r| !r.is_empty()),
                    "{key} {path} documents no responses"
                );
                assert!(
                    op["operationId"].is_string(),
                    "{key} {path}: no operationId"
                );
            }
        }
    }
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&listed).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in openapi.json: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "in openapi.json but not in router::ROUTES: {unrouted:?}"
    );
}

/// `template` with its variable segments filled in: a link made for this
/// probe alone (so a DELETE takes nothing from the next), a key likewise,
/// a real asset.
async fn concrete(server: &TestServer, template: &str, n: usize) -> String {
    let mut path = template.replace("{file}", "app.js");
    if path.contains("{slug}") {
        let slug = format!("probe{n}");
        server
            .create(&format!(
                r#"{{"url":"https://example.com/{n}","slug":"{slug}"}}"#
            ))
            .await;
        path = path.replace("{slug}", &slug);
    }
    if path.contains("{name}") {
        let name = format!("probe{n}");
        let body = format!(r#"{{"name":"{name}","scope":"read"}}"#);
        let r = server.api(Method::POST, "/api/keys", Some(&body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        path = path.replace("{name}", &name);
    }
    assert!(!path.contains('{'), "unfilled segment in {template}");
    path
}

#[tokio::test]
async fn every_listed_route_is_served_and_every_other_method_is_405() {
    let server = start_server().await;
    let mut n = 0;
    for (template, listed) in routes_by_path() {
        for probe in PROBES {
            n += 1;
            let path = concrete(&server, template, n).await;
            let method = Method::from_bytes(probe.as_bytes()).unwrap();
            let r = server.api(method, &path, None).await;
            if listed.contains(probe) {
                // Served: whatever it answers (415 for a missing body, say),
                // it is neither the router's 404 nor its 405.
                assert_ne!(
                    r.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{probe} {path}: {}",
                    r.text()
                );
                assert_ne!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{probe} {path}: {}",
                    r.text()
                );
                continue;
            }
            assert_eq!(
                r.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{probe} {path} is not in ROUTES but answers {}: {}",
                r.status,
                r.text()
            );
            let allow: BTreeSet<&str> = r
                .header("allow")
                .unwrap_or_else(|| panic!("{probe} {path}: 405 without Allow"))
                .split(',')
                .map(str::trim)
                .collect();
            assert_eq!(allow, listed, "Allow of {path} (asked with {probe})");
            // The YOURLS API's errors are YOURLS's (tests/yourls.rs).
            if probe != "HEAD" && template != "/yourls-api.php" {
                r.assert_problem(405);
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn paths_outside_the_routes_are_404() {
    let server = start_server().await;
    for path in [
        "/api",
        "/api/",
        "/api/nope",
        "/api/openapi.yaml",
        "/api/links/x/nope",
        "/api/links/x/stats/more",
        "/api/session/x",
        "/a/b",
        "/healthz/x",
        "/assets/nope.js",
    ] {
        let r = server.api(Method::GET, path, None).await;
        r.assert_problem(404);
    }
    server.stop().await;
}

#[tokio::test]
async fn the_document_is_served_public_as_json_with_an_etag() {
    let server = start_server().await;
    let r = server.get("/api/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(&r.body[..], DOCUMENT);
    let etag = r.header("etag").expect("no ETag").to_owned();
    let again = request(
        server.addr,
        Method::GET,
        "/api/openapi.json",
        &[("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());

    // Public means outside the wrong-key guard too: an address refused the
    // API can still read what the API is.
    let guesser = Some("127.0.0.9".parse().unwrap());
    for _ in 0..11 {
        request_from(
            guesser,
            server.addr,
            Method::GET,
            "/api/links",
            &[("x-api-key", "not-the-key-0123456789")],
            None,
        )
        .await;
    }
    let refused = request_from(
        guesser,
        server.addr,
        Method::GET,
        "/api/links",
        &[("x-api-key", KEY)],
        None,
    )
    .await;
    refused.assert_problem(429);
    let doc = request_from(
        guesser,
        server.addr,
        Method::GET,
        "/api/openapi.json",
        &[],
        None,
    )
    .await;
    assert_eq!(doc.status, StatusCode::OK);
    server.stop().await;
}
