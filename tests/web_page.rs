//! The web page at `GET /` and its assets: headers (type, CSP, ETag, caching),
//! conditional requests, methods, unknown assets, and guards on what the
//! embedded HTML and JavaScript may contain.

mod common;

use common::{request, start_server, Resp};
use hyper::{Method, StatusCode};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

/// The ids a browser test (and a person reading the page's code) can rely on.
const IDS: &[&str] = &[
    "error",
    "signin",
    "signin-form",
    "signin-key",
    "signin-submit",
    "signout",
    "app",
    "shorten-form",
    "shorten-url",
    "shorten-slug",
    "shorten-expires",
    "shorten-max",
    "shorten-submit",
    "shorten-result",
    "shorten-short",
    "shorten-copy",
    "shorten-qr",
    "search",
    "links",
    "links-more",
    "shorten-tags",
    "tag-filter",
    "tag-filter-clear",
    "detail-tags",
    "edit-tags",
    "detail",
    "detail-title",
    "detail-short",
    "detail-target",
    "detail-clicks",
    "chart-days",
    "chart",
    "referrers",
    "referrers-summary",
    "bots",
    "bots-summary",
    "detail-qr",
    "qr-svg",
    "qr-png",
    "edit-form",
    "edit-url",
    "edit-expires",
    "edit-max",
    "edit-save",
    "delete",
    "delete-yes",
    "delete-no",
];

/// A start tag: its lower-case name and attributes (name, value).
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
    /// Byte offset just past the tag's `>`.
    end: usize,
}

/// The start tags of `html`, read just well enough for these checks:
/// comments and end tags are skipped, quoted values may hold spaces and `>`.
fn start_tags(html: &str) -> Vec<Tag> {
    let b = html.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        i += off + 1;
        if html[i..].starts_with("!--") {
            i += html[i..].find("-->").expect("unclosed comment") + 3;
            continue;
        }
        if i >= b.len() || !b[i].is_ascii_alphabetic() {
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            assert!(i < b.len(), "unclosed tag <{name}");
            if b[i] == b'>' {
                i += 1;
                break;
            }
            let a = i;
            while i < b.len() && !b" \t\r\n=>/".contains(&b[i]) {
                i += 1;
            }
            let attr = html[a..i].to_ascii_lowercase();
            let mut value = String::new();
            if b[i] == b'=' {
                i += 1;
                if b[i] == b'"' || b[i] == b'\'' {
                    let q = b[i] as char;
                    let v = i + 1;
                    i = v + html[v..].find(q).expect("unclosed attribute value");
                    value = html[v..i].to_owned();
                    i += 1;
                } else {
                    let v = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    value = html[v..i].to_owned();
                }
            }
            attrs.push((attr, value));
        }
        tags.push(Tag {
            name,
            attrs,
            end: i,
        });
    }
    tags
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn assert_page_headers(r: &Resp, content_type: Option<&str>) {
    if let Some(ct) = content_type {
        assert_eq!(r.header("content-type"), Some(ct));
    }
    assert_eq!(r.header("content-security-policy"), Some(CSP));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let etag = r.header("etag").expect("an ETag");
    assert!(
        etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
        "a strong, quoted ETag: {etag}"
    );
}

/// The asset paths the page refers to (`src` and `href` under `/assets/`).
fn asset_paths(html: &str) -> Vec<String> {
    let mut paths: Vec<String> = start_tags(html)
        .iter()
        .flat_map(|t| [t.attr("src"), t.attr("href")])
        .flatten()
        .filter(|v| v.starts_with("/assets/"))
        .map(str::to_owned)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// The module specifiers a script imports (`import … from './x.js'` and
/// `import './x.js'`), in order of appearance.
fn imports(js: &str) -> Vec<String> {
    let mut specs = Vec::new();
    for keyword in ["from ", "import "] {
        for (at, _) in js.match_indices(keyword) {
            let rest = &js[at + keyword.len()..];
            let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
                continue;
            };
            let end = rest[1..].find(q).expect("unclosed module specifier");
            specs.push((at, rest[1..=end].to_owned()));
        }
    }
    specs.sort();
    specs.into_iter().map(|(_, spec)| spec).collect()
}

/// Every script the page runs: its `<script src>` and, transitively, the
/// modules those import, as (path, source). Each must be served as
/// JavaScript with the page's headers, and imports must be relative
/// (`./x.js`, so from `/assets/` too), never another origin.
async fn script_modules(s: &common::TestServer, html: &str) -> Vec<(String, String)> {
    let mut todo: Vec<String> = start_tags(html)
        .iter()
        .filter(|t| t.name == "script")
        .filter_map(|t| t.attr("src").map(str::to_owned))
        .collect();
    let mut seen: Vec<(String, String)> = Vec::new();
    while let Some(path) = todo.pop() {
        if seen.iter().any(|(p, _)| *p == path) {
            continue;
        }
        let r = s.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_page_headers(&r, Some("text/javascript; charset=utf-8"));
        let js = r.text();
        for spec in imports(&js) {
            let name = spec
                .strip_prefix("./")
                .unwrap_or_else(|| panic!("{path} imports {spec:?}, not ./name.js"));
            assert!(
                name.ends_with(".js") && !name.contains('/'),
                "{path} imports {spec:?}"
            );
            todo.push(format!("/assets/{name}"));
        }
        seen.push((path, js));
    }
    seen.sort();
    seen
}

#[tokio::test]
async fn the_page_is_html_with_a_strict_policy_and_only_its_own_assets() {
    let s = start_server().await;
    let r = s.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_page_headers(&r, Some("text/html; charset=utf-8"));
    let html = r.text();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains(r#"<meta name="viewport""#));

    // Nothing from elsewhere: no absolute URLs at all.
    assert!(!html.contains("http://"), "an http:// URL in the page");
    assert!(!html.contains("https://"), "an https:// URL in the page");
    assert!(!html.contains("//cdn"), "a CDN in the page");

    let tags = start_tags(&html);
    let mut scripts = 0;
    for t in &tags {
        for (name, value) in &t.attrs {
            assert_ne!(name, "style", "a style attribute on <{}>", t.name);
            assert!(
                !name.starts_with("on"),
                "an inline handler {name}={value:?} on <{}>",
                t.name
            );
            assert!(
                !value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("javascript:"),
                "a javascript: URL on <{}>",
                t.name
            );
        }
        assert_ne!(t.name, "style", "an inline <style> element");
        if t.name == "script" {
            scripts += 1;
            let src = t.attr("src").expect("every <script> has a src");
            assert!(src.starts_with("/assets/"), "{src}");
            assert_eq!(t.attr("type"), Some("module"), "{src} is an ES module");
            let body_end = html[t.end..].find("</script>").expect("closed script") + t.end;
            assert!(
                html[t.end..body_end].trim().is_empty(),
                "an inline script body"
            );
        }
    }
    assert!(scripts >= 1, "the page loads its script");
    assert!(
        html.contains(r#"role="alert""#),
        "API errors have an alert element"
    );
    // The ids a browser test drives stay put.
    for id in IDS {
        let count = tags.iter().filter(|t| t.attr("id") == Some(*id)).count();
        assert_eq!(count, 1, "exactly one element with id {id}");
    }
    // Every input, select and textarea has a label.
    for t in tags
        .iter()
        .filter(|t| matches!(t.name.as_str(), "input" | "select" | "textarea"))
    {
        let id = t.attr("id").expect("form controls have ids");
        assert!(
            html.contains(&format!(r#"for="{id}""#)),
            "no <label for={id}>"
        );
    }

    // Every asset the page names is there, with the right type and headers.
    let paths = asset_paths(&html);
    assert!(paths.iter().any(|p| p.ends_with(".js")), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with(".css")), "{paths:?}");
    for path in &paths {
        let r = s.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let ct = match path.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("an asset of unexpected kind {other:?}: {path}"),
        };
        assert_page_headers(&r, Some(ct));
        assert!(!r.body.is_empty(), "{path} is empty");
    }
    // So is every module those scripts import.
    let modules = script_modules(&s, &html).await;
    assert!(modules.len() > 1, "app.js imports the other modules");
    s.stop().await;
}

#[tokio::test]
async fn if_none_match_with_the_etag_is_304_without_a_body() {
    let s = start_server().await;
    for path in ["/", "/assets/app.js", "/assets/app.css"] {
        let r = s.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let etag = r.header("etag").unwrap().to_owned();

        for sent in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"old\", {etag}"),
        ] {
            let r = request(s.addr, Method::GET, path, &[("if-none-match", &sent)], None).await;
            assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{path} {sent}");
            assert!(r.body.is_empty());
            assert_page_headers(&r, None);
            assert_eq!(r.header("etag"), Some(etag.as_str()));
        }
        let r = request(
            s.addr,
            Method::GET,
            path,
            &[("if-none-match", "\"something-else\"")],
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!r.body.is_empty());
    }
    // The page and the assets have ETags of their own.
    let a = s.get("/").await;
    let b = s.get("/assets/app.js").await;
    assert_ne!(a.header("etag"), b.header("etag"));
    s.stop().await;
}

#[tokio::test]
async fn head_answers_the_headers_without_the_body() {
    let s = start_server().await;
    for path in ["/", "/assets/app.js"] {
        let get = s.get(path).await;
        let head = request(s.addr, Method::HEAD, path, &[], None).await;
        assert_eq!(head.status, StatusCode::OK, "{path}");
        assert!(head.body.is_empty());
        assert_eq!(head.header("etag"), get.header("etag"));
        assert_eq!(head.header("content-type"), get.header("content-type"));
        assert_eq!(
            head.header("content-length"),
            Some(get.body.len().to_string().as_str())
        );
        assert_page_headers(&head, None);
    }
    s.stop().await;
}

#[tokio::test]
async fn other_methods_are_405_and_unknown_assets_404() {
    let s = start_server().await;
    for (method, path) in [
        (Method::POST, "/"),
        (Method::DELETE, "/"),
        (Method::PUT, "/assets/app.js"),
        (Method::POST, "/assets/app.css"),
    ] {
        let r = request(s.addr, method.clone(), path, &[], Some(b"x")).await;
        r.assert_problem(405);
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method} {path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    for path in [
        "/assets/x",
        "/assets/",
        "/assets/app.js/x",
        "/assets/../assets/app.js.map",
        "/assets/APP.JS",
        "/assets/index.html",
    ] {
        let r = s.get(path).await;
        r.assert_problem(404);
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    // One segment is still a slug: `/assets` is a reserved word, never a link.
    s.get("/assets").await.assert_problem(404);
    s.stop().await;
}

#[tokio::test]
async fn the_script_never_parses_strings_as_html_or_code() {
    let s = start_server().await;
    let html = s.get("/").await.text();
    let modules = script_modules(&s, &html).await;
    let all: String = modules.iter().map(|(_, js)| js.as_str()).collect();
    assert!(all.len() > 1000, "the script is there");
    for (path, js) in &modules {
        check_script(path, js);
    }
    // Slugs go into paths encoded, and requests carry the session cookie.
    assert!(all.contains("encodeURIComponent(slug)"));
    assert!(all.contains("credentials: 'same-origin'"));

    let css = s.get("/assets/app.css").await.text();
    assert!(css.contains("prefers-color-scheme: dark"));
    assert!(css.contains(":focus-visible"));
    for banned in ["http://", "https://", "@import", "expression("] {
        assert!(!css.contains(banned), "app.css contains {banned}");
    }
    s.stop().await;
}

/// What no script of the page may contain. One exception: the bookmarklet
/// module builds the bookmark's `javascript:` URL, once; it is only ever set
/// as that link's `href` (dragged to the bookmarks bar, never run here: the
/// CSP blocks it and a click handler cancels it).
fn check_script(path: &str, js: &str) {
    let js = if path.ends_with("/bookmarklet.js") {
        assert_eq!(js.matches("javascript:").count(), 1, "{path}");
        assert!(js.contains("'javascript:void(location.href='"), "{path}");
        js.replace("'javascript:void(location.href='", "")
    } else {
        js.to_owned()
    };
    for banned in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "createContextualFragment",
        "DOMParser",
        "srcdoc",
        "javascript:",
        "localStorage",
        "sessionStorage",
    ] {
        assert!(!js.contains(banned), "{path} contains {banned}");
    }
    // The only absolute URL is the SVG namespace (a name, never fetched).
    // The scheme alone, as a quoted literal, names no origin: it is what a
    // URL typed without one gets (`example.com` becomes https).
    let rest = js
        .replace("http://www.w3.org/2000/svg", "")
        .replace("'https://'", "");
    assert!(
        !rest.contains("http://") && !rest.contains("https://"),
        "{path} names another origin"
    );
}

/// What the page does, through the same requests a browser makes: sign in
/// with the key, list with the cookie, create, and that a hostile URL comes
/// back as JSON data (the page then shows it with `textContent`).
#[tokio::test]
async fn the_page_s_requests_work_with_the_session_cookie() {
    let s = start_server().await;
    let origin = format!("http://{}", s.addr);
    let browser = [
        ("origin", origin.as_str()),
        ("sec-fetch-site", "same-origin"),
        ("content-type", "application/json"),
    ];
    // Not signed in: the list is 401, which is when the page shows the form.
    request(s.addr, Method::GET, "/api/links?limit=1", &browser, None)
        .await
        .assert_problem(401);
    let body = format!(r#"{{"key":"{}"}}"#, common::KEY);
    let r = request(
        s.addr,
        Method::POST,
        "/api/session",
        &browser,
        Some(body.as_bytes()),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let set = r.header("set-cookie").unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let mut h = browser.to_vec();
    h.push(("cookie", cookie.as_str()));

    let hostile = r#"{"url":"https://a.example/?q=<script>alert(1)</script>","slug":"x_-1"}"#;
    let r = request(
        s.addr,
        Method::POST,
        "/api/links",
        &h,
        Some(hostile.as_bytes()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = request(s.addr, Method::GET, "/api/links?limit=50&q=x_-", &h, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.json();
    assert_eq!(list["links"][0]["slug"], "x_-1");
    assert!(list["next_cursor"].is_null());
    let r = request(
        s.addr,
        Method::GET,
        "/api/links/x_-1/stats?days=7",
        &h,
        None,
    )
    .await;
    assert_eq!(r.json()["daily"].as_array().unwrap().len(), 7);
    let r = request(
        s.addr,
        Method::GET,
        "/api/links/x_-1/qr?format=png&size=512",
        &h,
        None,
    )
    .await;
    assert_eq!(r.header("content-type"), Some("image/png"));
    s.stop().await;
}
