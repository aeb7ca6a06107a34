//! Browser sessions over a real loopback socket: signing in with the key
//! sets an `HttpOnly; SameSite=Strict` cookie that then stands in for the
//! key, a cross-site request with it cannot change anything, signing out
//! and expiry end it, and wrong keys are refused (and counted by the guard).

mod common;

use std::time::Duration;

use common::{request, sign_in, start_with, Options, KEY};
use hyper::Method;

const JSON: (&str, &str) = ("content-type", "application/json");

/// The cookie, a JSON content type, and `extra`.
fn headers<'a>(cookie: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut h = vec![("cookie", cookie), JSON];
    h.extend_from_slice(extra);
    h
}

/// `kurz_session=<id>` from a `Set-Cookie` value.
fn cookie_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_signed_in_browser_manages_links_with_its_cookie_alone() {
    let s = start_with(Options::default()).await;
    let (status, set) = sign_in(&s, KEY).await;
    assert_eq!(status, 204);
    let set = set.unwrap();
    for attr in [
        "kurz_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=",
    ] {
        assert!(set.contains(attr), "{set}");
    }
    // The base URL is plain http here, so the cookie cannot be Secure.
    assert!(!set.contains("Secure"), "{set}");
    let cookie = cookie_of(&set);
    let with = |extra| headers(&cookie, extra);

    let r = request(s.addr, Method::GET, "/api/links", &with(&[]), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = br#"{"url": "https://example.com/s", "slug": "by-cookie"}"#;
    let origin = format!("http://{}", s.addr);
    let same = [
        ("origin", origin.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    let r = request(s.addr, Method::POST, "/api/links", &with(&same), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());

    // Signing out ends it; the cookie is then worth nothing.
    let r = request(s.addr, Method::DELETE, "/api/session", &with(&same), None).await;
    assert_eq!(r.status, 204);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let r = request(s.addr, Method::GET, "/api/links", &with(&[]), None).await;
    assert_eq!(r.status, 401);
    s.stop().await;
}

#[tokio::test]
async fn cross_site_requests_with_the_cookie_cannot_change_anything() {
    let s = start_with(Options::default()).await;
    let cookie = cookie_of(&sign_in(&s, KEY).await.1.unwrap());
    let body = br#"{"url": "https://example.com/x", "slug": "csrf"}"#;
    for extra in [
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
    ] {
        let h = headers(&cookie, &extra);
        let r = request(s.addr, Method::POST, "/api/links", &h, Some(body)).await;
        r.assert_problem(403);
        let r = request(s.addr, Method::DELETE, "/api/links/anything", &h, None).await;
        r.assert_problem(403);
        // Signing in from another site is refused too.
        let r = request(
            s.addr,
            Method::POST,
            "/api/session",
            &h,
            Some(br#"{"key": "x"}"#),
        )
        .await;
        r.assert_problem(403);
    }
    let r = s.api(Method::GET, "/api/links/csrf", None).await;
    assert_eq!(r.status, 404, "nothing was created");
    s.stop().await;
}

/// Regression: the 403 said only "another site", so a page opened on
/// `localhost` or a LAN address of a server whose base URL is another could
/// not tell what was wrong.
#[tokio::test]
async fn a_cross_site_refusal_names_the_expected_origin_and_the_flag() {
    let s = start_with(Options::default()).await;
    let expected = format!("http://{}", s.addr);
    let elsewhere = format!("http://localhost:{}", s.addr.port());
    let body = format!(r#"{{"key": "{KEY}"}}"#);
    let r = request(
        s.addr,
        Method::POST,
        "/api/session",
        &[JSON, ("origin", &elsewhere)],
        Some(body.as_bytes()),
    )
    .await;
    let detail = r.assert_problem(403);
    assert!(
        detail.contains(&format!("expects the origin {expected} "))
            && detail.contains("--base-url"),
        "{detail}"
    );
    // A change on the strength of a cookie says the same.
    let cookie = cookie_of(&sign_in(&s, KEY).await.1.unwrap());
    let h = headers(&cookie, &[("origin", &elsewhere)]);
    let r = request(s.addr, Method::DELETE, "/api/links/x", &h, None).await;
    let detail = r.assert_problem(403);
    assert!(
        detail.contains(&expected) && detail.contains("--base-url"),
        "{detail}"
    );
    s.stop().await;
}

#[tokio::test]
async fn wrong_keys_expired_and_forged_sessions_are_refused() {
    let s = start_with(Options {
        session_ttl: Some(Duration::from_millis(300)),
        ..Options::default()
    })
    .await;
    let (status, set) = sign_in(&s, "not-the-key-0123456789").await;
    assert_eq!(status, 401);
    assert!(set.is_none());
    let r = request(s.addr, Method::POST, "/api/session", &[JSON], Some(b"{}")).await;
    r.assert_problem(400);
    let r = request(s.addr, Method::PUT, "/api/session", &[], None).await;
    assert_eq!(r.status, 405);

    let forged = [(
        "cookie",
        "kurz_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )];
    let r = request(s.addr, Method::GET, "/api/links", &forged, None).await;
    assert_eq!(r.status, 401);

    let cookie = cookie_of(&sign_in(&s, KEY).await.1.unwrap());
    let h = [("cookie", cookie.as_str())];
    assert_eq!(
        request(s.addr, Method::GET, "/api/links", &h, None)
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        request(s.addr, Method::GET, "/api/links", &h, None)
            .await
            .status,
        401
    );
    s.stop().await;
}

#[tokio::test]
async fn an_https_base_url_makes_the_cookie_secure() {
    let s = start_with(Options {
        base_url: Some("https://s.example".into()),
        ..Options::default()
    })
    .await;
    let (status, set) = sign_in(&s, KEY).await;
    assert_eq!(status, 204);
    assert!(set.unwrap().contains("; Secure"));
    s.stop().await;
}
