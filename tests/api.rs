//! The management API over a real loopback socket: every route, every status.

mod common;

use common::{request, start_server, start_with, Options, KEY};
use hyper::Method;

#[tokio::test]
async fn create_returns_201_with_location_and_link_json() {
    let s = start_server().await;
    let r = s
        .api(
            Method::POST,
            "/api/links",
            Some(r#"{"url":"https://www.rust-lang.org/"}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let j = r.json();
    let slug = j["slug"].as_str().unwrap();
    assert_eq!(slug.len(), 7);
    assert!(slug.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(
        r.header("location"),
        Some(format!("/api/links/{slug}").as_str())
    );
    assert_eq!(j["url"], "https://www.rust-lang.org/");
    assert_eq!(j["short_url"], format!("http://{}/{slug}", s.addr));
    assert_eq!(j["clicks"], 0);
    assert_eq!(j["redirect_status"], 302);
    assert!(j["expires_at"].is_null() && j["max_clicks"].is_null());
    assert!(j["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(j["created_by"], "admin");
    assert_eq!(j["protected"], false);
    let keys: Vec<_> = j.as_object().unwrap().keys().cloned().collect();
    assert_eq!(j["state"], "active");
    assert_eq!(j["url_display"], "https://www.rust-lang.org/");
    assert_eq!(keys.len(), 13, "{keys:?}");
    s.stop().await;
}

#[tokio::test]
async fn create_with_every_option_and_read_it_back() {
    let s = start_server().await;
    let j = s
        .create(
            r#"{"url":"https://example.com/a","slug":"my-link_1","expires_at":"2999-01-01T00:00:00+01:00","max_clicks":5,"redirect_status":307}"#,
        )
        .await;
    assert_eq!(j["slug"], "my-link_1");
    assert_eq!(j["expires_at"], "2998-12-31T23:00:00Z");
    assert_eq!(j["max_clicks"], 5);
    assert_eq!(j["redirect_status"], 307);
    let r = s.api(Method::GET, "/api/links/my-link_1", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), j);
    s.stop().await;
}

#[tokio::test]
async fn a_taken_slug_is_409() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"taken"}"#)
        .await;
    let r = s
        .api(
            Method::POST,
            "/api/links",
            Some(r#"{"url":"https://b.example/","slug":"taken"}"#),
        )
        .await;
    assert!(r.assert_problem(409).contains("taken"));
    // The first link is untouched.
    let j = s.api(Method::GET, "/api/links/taken", None).await.json();
    assert_eq!(j["url"], "https://a.example/");
    s.stop().await;
}

#[tokio::test]
async fn invalid_urls_slugs_and_values_are_422() {
    let s = start_server().await;
    let own = format!("http://{}/x", s.addr);
    let long = format!("https://a.example/{}", "x".repeat(8200));
    let cases = [
        r#"{"url":"javascript:alert(1)"}"#.to_owned(),
        r#"{"url":"JaVaScRiPt:alert(1)"}"#.to_owned(),
        r#"{"url":"ftp://example.com/"}"#.to_owned(),
        r#"{"url":"/relative/path"}"#.to_owned(),
        r#"{"url":"https://paypal.com@evil.example/"}"#.to_owned(),
        r#"{"url":"https://a.example/x y"}"#.to_owned(),
        r#"{"url":"https://a.example/\u0007"}"#.to_owned(),
        r#"{"url":" https://a.example/"}"#.to_owned(),
        r#"{"url":""}"#.to_owned(),
        format!(r#"{{"url":"{long}"}}"#),
        format!(r#"{{"url":"{own}"}}"#),
        r#"{"url":"https://a.example/","slug":"a/b"}"#.to_owned(),
        r#"{"url":"https://a.example/","slug":""}"#.to_owned(),
        r#"{"url":"https://a.example/","slug":"api"}"#.to_owned(),
        r#"{"url":"https://a.example/","slug":"Healthz"}"#.to_owned(),
        format!(
            r#"{{"url":"https://a.example/","slug":"{}"}}"#,
            "s".repeat(65)
        ),
        r#"{"url":"https://a.example/","expires_at":"tomorrow"}"#.to_owned(),
        r#"{"url":"https://a.example/","expires_at":"2001-01-01T00:00:00Z"}"#.to_owned(),
        r#"{"url":"https://a.example/","max_clicks":0}"#.to_owned(),
        r#"{"url":"https://a.example/","redirect_status":303}"#.to_owned(),
    ];
    for body in &cases {
        let r = s.api(Method::POST, "/api/links", Some(body)).await;
        r.assert_problem(422);
    }
    // Nothing was stored by any of them.
    let list = s.api(Method::GET, "/api/links", None).await.json();
    assert_eq!(list["links"].as_array().unwrap().len(), 0);
    s.stop().await;
}

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_field() {
    let s = start_server().await;
    let cases = [
        ("{not json", "the body is not valid JSON"),
        (r#"{"slug":"x"}"#, "url: is required"),
        (r#"{"url":42}"#, "url: must be text holding an absolute URL"),
        (r#"{"url":"https://a.example/","colour":"red"}"#, "colour"),
        (
            r#"{"url":"https://a.example/","max_clicks":-1}"#,
            "max_clicks",
        ),
        (r#"["https://a.example/"]"#, "JSON object"),
        // serde's own words named Rust types, and no field.
        (
            r#"{"url":"https://a.example/","max_clicks":"5"}"#,
            "max_clicks: must be a whole number of at least 1, not the text \"5\"",
        ),
    ];
    for (body, field) in cases {
        let r = s.api(Method::POST, "/api/links", Some(body)).await;
        let detail = r.assert_problem(400);
        assert!(detail.contains(field), "{detail} should name {field}");
    }
    s.stop().await;
}

#[tokio::test]
async fn wrong_content_type_is_415_and_big_bodies_are_413() {
    let s = start_server().await;
    let auth = format!("Bearer {KEY}");
    let body = br#"{"url":"https://a.example/"}"#;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut h = vec![("authorization", auth.as_str())];
        if let Some(ct) = ct {
            h.push(("content-type", ct));
        }
        request(s.addr, Method::POST, "/api/links", &h, Some(body))
            .await
            .assert_problem(415);
    }
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json; charset=utf-8"),
    ];
    let r = request(s.addr, Method::POST, "/api/links", &h, Some(body)).await;
    assert_eq!(r.status, 201);

    let big = format!(
        r#"{{"url":"https://a.example/","pad":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let r = request(s.addr, Method::POST, "/api/links", &h, Some(big.as_bytes())).await;
    r.assert_problem(413);
    s.stop().await;
}

#[tokio::test]
async fn the_api_needs_the_key() {
    let s = start_server().await;
    for (i, (name, value)) in [
        (None, ""),
        (Some("authorization"), "Bearer wrong-key-0123456789"),
        (Some("authorization"), "Basic dGVzdDp0ZXN0"),
        (Some("x-api-key"), "nope"),
    ]
    .into_iter()
    .enumerate()
    {
        let h: Vec<(&str, &str)> = name.map(|n| (n, value)).into_iter().collect();
        // Each case from its own address, clear of the brute-force guard.
        let from = Some(std::net::IpAddr::from([127, 0, 1, i as u8]));
        for (m, p) in [
            (Method::GET, "/api/links"),
            (Method::DELETE, "/api/links/x"),
            (Method::GET, "/api/nothing"),
        ] {
            let r = common::request_from(from, s.addr, m, p, &h, None).await;
            let detail = r.assert_problem(401);
            assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"kurz\""));
            assert!(!detail.contains(KEY));
        }
    }
    let r = request(
        s.addr,
        Method::GET,
        "/api/links",
        &[("x-api-key", KEY)],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let lower = format!("bearer {KEY}");
    let r = request(
        s.addr,
        Method::GET,
        "/api/links",
        &[("authorization", &lower)],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    s.stop().await;
}

// Unknown JSON fields were refused, unknown query parameters ignored: a
// `page=2` (or a misspelt `limt=5`) silently answered the first page.
#[tokio::test]
async fn an_unknown_query_parameter_is_refused_naming_it() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"k"}"#).await;
    for (path, name, accepted) in [
        ("/api/links?page=2", "'page'", "limit, cursor, q, tag"),
        (
            "/api/links?limit=5&limt=5",
            "'limt'",
            "limit, cursor, q, tag",
        ),
        (
            "/api/links/k/stats?days=7&from=2024-01-01",
            "'from'",
            "days",
        ),
        (
            "/api/links/k/qr?format=png&scale=2",
            "'scale'",
            "format, size",
        ),
    ] {
        let detail = s.api(Method::GET, path, None).await.assert_problem(400);
        assert!(detail.contains(name), "{path}: {detail}");
        assert!(detail.ends_with(accepted), "{path}: {detail}");
    }
    // The accepted ones still work, and short links keep their query.
    for path in [
        "/api/links?limit=5&cursor=1.k&q=a&tag=t",
        "/api/links/k/stats?days=7",
        "/api/links/k/qr?format=png&size=64",
    ] {
        assert_eq!(s.api(Method::GET, path, None).await.status, 200, "{path}");
    }
    assert_eq!(s.get("/k?page=2&utm_source=x").await.status, 302);
    s.stop().await;
}

// Only `Bearer` was looked for, so a key sent as `Authorization: <key>`
// was answered as if none had been sent: "an API key is required".
#[tokio::test]
async fn a_key_sent_without_bearer_is_told_the_form_expected() {
    let s = start_server().await;
    for value in [
        KEY.to_owned(),
        format!("Token {KEY}"),
        "Basic dGVzdDp0ZXN0".into(),
    ] {
        let h = [("authorization", value.as_str())];
        let r = request(s.addr, Method::GET, "/api/links", &h, None).await;
        let detail = r.assert_problem(401);
        assert!(detail.contains("without 'Bearer '"), "{value}: {detail}");
        assert!(
            detail.contains("'Authorization: Bearer <key>' or 'X-Api-Key: <key>'"),
            "{value}: {detail}"
        );
        assert!(!detail.contains(KEY), "{detail}");
    }
    let r = request(s.addr, Method::GET, "/api/links", &[], None).await;
    let detail = r.assert_problem(401);
    assert!(detail.contains("an API key is required"), "{detail}");
    s.stop().await;
}

#[tokio::test]
async fn search_finds_slug_or_url_substrings_ignoring_case() {
    let s = start_server().await;
    for (slug, url) in [
        ("rust-book", "https://doc.rust-lang.org/book/"),
        ("cats", "https://example.com/Rust/cats"),
        ("dogs", "https://example.com/dogs"),
    ] {
        s.create(&format!(r#"{{"url":"{url}","slug":"{slug}"}}"#))
            .await;
    }
    let found = |j: serde_json::Value| -> Vec<String> {
        let links = j["links"].as_array().unwrap();
        links
            .iter()
            .map(|l| l["slug"].as_str().unwrap().to_owned())
            .collect()
    };
    let j = s.api(Method::GET, "/api/links?q=RUST", None).await.json();
    assert_eq!(found(j), ["cats", "rust-book"]);
    // Percent-encoded like any query value; paging works as for the full list.
    let j = s
        .api(Method::GET, "/api/links?q=example.com%2F&limit=1", None)
        .await
        .json();
    assert_eq!(found(j.clone()), ["dogs"]);
    let next = j["next_cursor"].as_str().unwrap().to_owned();
    let path = format!("/api/links?q=example.com%2F&limit=1&cursor={next}");
    let j = s.api(Method::GET, &path, None).await.json();
    assert_eq!(found(j.clone()), ["cats"]);
    assert!(j["next_cursor"].is_null());
    let j = s
        .api(Method::GET, "/api/links?q=nothing-like-it", None)
        .await
        .json();
    assert!(found(j).is_empty());
    let long = "x".repeat(257);
    let r = s
        .api(Method::GET, &format!("/api/links?q={long}"), None)
        .await;
    r.assert_problem(400);
    s.stop().await;
}

#[tokio::test]
async fn list_pages_newest_first_with_cursors() {
    let s = start_server().await;
    let mut made = Vec::new();
    for i in 0..7 {
        let j = s
            .create(&format!(
                r#"{{"url":"https://a.example/{i}","slug":"l{i}"}}"#
            ))
            .await;
        made.push(j["slug"].as_str().unwrap().to_owned());
    }
    made.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/links?limit=3&cursor={c}"),
            None => "/api/links?limit=3".to_owned(),
        };
        let j = s.api(Method::GET, &path, None).await.json();
        let links = j["links"].as_array().unwrap();
        assert!(links.len() <= 3);
        seen.extend(links.iter().map(|l| l["slug"].as_str().unwrap().to_owned()));
        match j["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, made);
    let all = s.api(Method::GET, "/api/links", None).await.json();
    assert_eq!(all["links"].as_array().unwrap().len(), 7);
    assert!(all["next_cursor"].is_null());
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=abc",
        "limit=-1",
        "cursor=zzz",
        "cursor=12.a/b",
    ] {
        s.api(Method::GET, &format!("/api/links?{bad}"), None)
            .await
            .assert_problem(400);
    }
    s.stop().await;
}

#[tokio::test]
async fn patch_changes_and_clears_fields() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"p","max_clicks":3,"expires_at":"2999-01-01T00:00:00Z"}"#)
        .await;
    let r = s
        .api(
            Method::PATCH,
            "/api/links/p",
            Some(r#"{"url":"https://b.example/new","max_clicks":null,"expires_at":null,"redirect_status":308}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["url"], "https://b.example/new");
    assert!(j["max_clicks"].is_null() && j["expires_at"].is_null());
    assert_eq!(j["redirect_status"], 308);
    // The redirect follows the change at once (the link cache was updated).
    let r = s.get("/p").await;
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("https://b.example/new"));
    // Absent fields stay; null redirect_status goes back to the default.
    let j = s
        .api(
            Method::PATCH,
            "/api/links/p",
            Some(r#"{"redirect_status":null}"#),
        )
        .await
        .json();
    assert_eq!(j["url"], "https://b.example/new");
    assert_eq!(j["redirect_status"], 302);

    for bad in [
        r#"{"url":null}"#,
        r#"{"url":"javascript:x"}"#,
        r#"{"max_clicks":0}"#,
        r#"{"redirect_status":200}"#,
        r#"{"expires_at":"soon"}"#,
    ] {
        s.api(Method::PATCH, "/api/links/p", Some(bad))
            .await
            .assert_problem(422);
    }
    s.api(Method::PATCH, "/api/links/p", Some(r#"{"slug":"q"}"#))
        .await
        .assert_problem(400);
    s.api(Method::PATCH, "/api/links/none", Some("{}"))
        .await
        .assert_problem(404);
    s.stop().await;
}

/// A link's `state` in each answer that carries link JSON: the one link,
/// and its row in the list.
async fn states(s: &common::TestServer, slug: &str) -> (String, String) {
    let one = s
        .api(Method::GET, &format!("/api/links/{slug}"), None)
        .await;
    assert_eq!(one.status, 200, "{}", one.text());
    let list = s
        .api(Method::GET, &format!("/api/links?q={slug}"), None)
        .await
        .json();
    let row = list["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["slug"] == slug)
        .unwrap_or_else(|| panic!("{slug} is not listed: {list}"))
        .clone();
    let text = |v: &serde_json::Value| v["state"].as_str().unwrap_or("(none)").to_owned();
    (text(&one.json()), text(&row))
}

#[tokio::test]
async fn link_json_says_whether_a_link_is_active_expired_or_used_up() {
    let s = start_server().await;
    let made = s
        .create(r#"{"url":"https://a.example/","slug":"once","max_clicks":1}"#)
        .await;
    assert_eq!(made["state"], "active");
    s.create(r#"{"url":"https://a.example/","slug":"dated"}"#)
        .await;
    s.create(r#"{"url":"https://a.example/","slug":"both","max_clicks":1}"#)
        .await;
    s.create(r#"{"url":"https://a.example/","slug":"live","expires_at":"2999-01-01T00:00:00Z","max_clicks":9}"#)
        .await;

    // Its one click spent: used up, as the redirect's 410 says.
    assert_eq!(s.get("/once").await.status, 302);
    s.get("/once").await.assert_problem(410);
    assert_eq!(
        states(&s, "once").await,
        ("used_up".into(), "used_up".into())
    );
    // A higher limit makes it active again, in PATCH's answer too.
    let j = s
        .api(
            Method::PATCH,
            "/api/links/once",
            Some(r#"{"max_clicks":2}"#),
        )
        .await
        .json();
    assert_eq!(j["state"], "active");

    // Expired in 2020 (PATCH takes a past time: that is how a link is
    // switched off).
    let j = s
        .api(
            Method::PATCH,
            "/api/links/dated",
            Some(r#"{"expires_at":"2020-01-01T00:00:00Z"}"#),
        )
        .await
        .json();
    assert_eq!(j["state"], "expired");
    s.get("/dated").await.assert_problem(410);
    assert_eq!(
        states(&s, "dated").await,
        ("expired".into(), "expired".into())
    );

    // Both used up and expired: expired wins.
    assert_eq!(s.get("/both").await.status, 302);
    s.api(
        Method::PATCH,
        "/api/links/both",
        Some(r#"{"expires_at":"2020-01-01T00:00:00Z"}"#),
    )
    .await;
    assert_eq!(
        states(&s, "both").await,
        ("expired".into(), "expired".into())
    );

    // A future expiry and clicks left: active.
    assert_eq!(s.get("/live").await.status, 302);
    assert_eq!(states(&s, "live").await, ("active".into(), "active".into()));
    s.stop().await;
}

#[tokio::test]
async fn delete_removes_the_link_and_its_counters() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"gone"}"#)
        .await;
    for _ in 0..3 {
        assert_eq!(s.get("/gone").await.status, 302);
    }
    let r = s.api(Method::DELETE, "/api/links/gone", None).await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    s.get("/gone").await.assert_problem(404);
    s.api(Method::GET, "/api/links/gone", None)
        .await
        .assert_problem(404);
    s.api(Method::DELETE, "/api/links/gone", None)
        .await
        .assert_problem(404);
    // A new link under the same slug starts from zero.
    s.create(r#"{"url":"https://b.example/","slug":"gone"}"#)
        .await;
    kurz_flush_wait().await;
    let j = s.api(Method::GET, "/api/links/gone", None).await.json();
    assert_eq!(j["clicks"], 0);
    let st = s
        .api(Method::GET, "/api/links/gone/stats?days=2", None)
        .await
        .json();
    assert_eq!(st["daily"][1]["clicks"], 0);
    s.stop().await;
}

/// Lets the background click flusher run at least once.
async fn kurz_flush_wait() {
    tokio::time::sleep(kurz::http::server::CLICK_FLUSH_EVERY * 2).await;
}

#[tokio::test]
async fn stats_show_every_day_with_todays_clicks() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"st"}"#)
        .await;
    for _ in 0..4 {
        s.get("/st").await;
    }
    let j = s.api(Method::GET, "/api/links/st/stats", None).await.json();
    assert_eq!(j["slug"], "st");
    assert_eq!(j["clicks"], 4);
    let daily = j["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    let today = kurz::clock::format_day(kurz::clock::day_of(kurz::clock::now_ms()));
    assert_eq!(daily[29]["date"], today.as_str());
    assert_eq!(daily[29]["clicks"], 4);
    assert!(daily[..29].iter().all(|d| d["clicks"] == 0));
    // Once flushed to sled the numbers are the same.
    kurz_flush_wait().await;
    let again = s
        .api(Method::GET, "/api/links/st/stats?days=366", None)
        .await
        .json();
    assert_eq!(again["daily"].as_array().unwrap().len(), 366);
    assert_eq!(again["daily"][365]["clicks"], 4);
    assert_eq!(again["clicks"], 4);
    for bad in ["days=0", "days=367", "days=x"] {
        s.api(Method::GET, &format!("/api/links/st/stats?{bad}"), None)
            .await
            .assert_problem(400);
    }
    s.api(Method::GET, "/api/links/none/stats", None)
        .await
        .assert_problem(404);
    s.stop().await;
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow_and_unknown_routes_404() {
    let s = start_server().await;
    let cases = [
        (Method::PUT, "/api/links", "GET, POST"),
        (Method::POST, "/api/links/x", "GET, PATCH, DELETE"),
        (Method::POST, "/api/links/x/stats", "GET"),
        (Method::POST, "/healthz", "GET, HEAD"),
        (Method::DELETE, "/someslug", "GET, HEAD, POST"),
    ];
    for (m, p, allow) in cases {
        let r = s.api(m, p, None).await;
        r.assert_problem(405);
        assert_eq!(r.header("allow"), Some(allow));
    }
    for p in ["/api/other", "/api/links/x/y/z", "/a/b"] {
        s.api(Method::GET, p, None).await.assert_problem(404);
    }
    s.stop().await;
}

#[tokio::test]
async fn healthz_needs_no_key() {
    let s = start_server().await;
    let r = s.get("/healthz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok\n");
    s.stop().await;
}

#[tokio::test]
async fn base_url_shapes_short_urls_and_the_loop_check() {
    let s = start_with(Options {
        base_url: Some("https://s.example/go/".into()),
        ..Options::default()
    })
    .await;
    let j = s.create(r#"{"url":"https://a.example/","slug":"b"}"#).await;
    assert_eq!(j["short_url"], "https://s.example/go/b");
    s.api(
        Method::POST,
        "/api/links",
        Some(r#"{"url":"https://S.example/go/x"}"#),
    )
    .await
    .assert_problem(422);
    s.create(r#"{"url":"https://s.example/elsewhere"}"#).await;
    s.stop().await;
}

#[tokio::test]
async fn generated_slugs_follow_the_configured_length() {
    let s = start_with(Options {
        slug_length: 12,
        ..Options::default()
    })
    .await;
    let j = s.create(r#"{"url":"https://a.example/"}"#).await;
    assert_eq!(j["slug"].as_str().unwrap().len(), 12);
    s.stop().await;
}

// The page showed `xn--mnchen-3ya.example` where `münchen.example` was typed.
#[tokio::test]
async fn link_json_shows_a_latin_host_in_unicode_and_keeps_location_ascii() {
    let s = start_server().await;
    let j = s
        .create(r#"{"url":"https://münchen.example/straße","slug":"muc"}"#)
        .await;
    assert_eq!(j["url"], "https://xn--mnchen-3ya.example/stra%C3%9Fe");
    assert_eq!(j["url_display"], "https://münchen.example/stra%C3%9Fe");
    let r = s.get("/muc").await;
    assert_eq!(
        r.header("location"),
        Some("https://xn--mnchen-3ya.example/stra%C3%9Fe")
    );
    // A host in a script with Latin look-alikes stays punycode.
    let j = s
        .create(r#"{"url":"https://аpple.com/","slug":"cyr"}"#)
        .await;
    assert_eq!(j["url_display"], "https://xn--pple-43d.com/");
    let list = s
        .api(Method::GET, "/api/links?q=münchen", None)
        .await
        .json();
    assert_eq!(
        list["links"][0]["url_display"],
        "https://münchen.example/stra%C3%9Fe"
    );
    s.stop().await;
}
