//! The redirect path over a real loopback socket: statuses, headers, counting.

mod common;

use std::sync::Arc;

use common::{start_server, start_with, Options, TestServer};
use hyper::Method;

async fn clicks(s: &TestServer, slug: &str) -> u64 {
    let j = s
        .api(Method::GET, &format!("/api/links/{slug}"), None)
        .await
        .json();
    j["clicks"].as_u64().unwrap()
}

#[tokio::test]
async fn get_redirects_with_302_and_counts_each_click() {
    let s = start_server().await;
    s.create(r#"{"url":"https://www.rust-lang.org/","slug":"rs"}"#)
        .await;
    for n in 1..=3 {
        let r = s.get("/rs").await;
        assert_eq!(r.status, 302);
        assert_eq!(r.header("location"), Some("https://www.rust-lang.org/"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(r.body.is_empty());
        assert_eq!(clicks(&s, "rs").await, n);
    }
    s.stop().await;
}

#[tokio::test]
async fn head_answers_the_same_headers_without_counting() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"h"}"#).await;
    let r = common::request(s.addr, Method::HEAD, "/h", &[], None).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("https://a.example/"));
    assert_eq!(clicks(&s, "h").await, 0);
    let r = common::request(s.addr, Method::HEAD, "/nope", &[], None).await;
    assert_eq!(r.status, 404);
    s.stop().await;
}

#[tokio::test]
async fn unknown_and_impossible_slugs_are_404() {
    let s = start_server().await;
    for p in ["/nope", "/%41bc", "/a.b", "/ünï", "/x/"] {
        s.get(p).await.assert_problem(404);
    }
    s.stop().await;
}

#[tokio::test]
async fn expired_links_are_410_and_not_counted() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"exp","expires_at":"2999-01-01T00:00:00Z"}"#)
        .await;
    assert_eq!(s.get("/exp").await.status, 302);
    // Moving the expiry into the past is how a test controls time here.
    let r = s
        .api(
            Method::PATCH,
            "/api/links/exp",
            Some(r#"{"expires_at":"2020-01-01T00:00:00Z"}"#),
        )
        .await;
    assert_eq!(r.status, 200);
    s.get("/exp").await.assert_problem(410);
    let r = common::request(s.addr, Method::HEAD, "/exp", &[], None).await;
    assert_eq!(r.status, 410);
    assert_eq!(clicks(&s, "exp").await, 1);
    s.stop().await;
}

#[tokio::test]
async fn max_clicks_lets_exactly_k_through() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"lim","max_clicks":2}"#)
        .await;
    assert_eq!(s.get("/lim").await.status, 302);
    assert_eq!(s.get("/lim").await.status, 302);
    let detail = s.get("/lim").await.assert_problem(410);
    assert!(detail.contains("limit"));
    assert_eq!(clicks(&s, "lim").await, 2);
    // Raising the limit opens the link again.
    s.api(Method::PATCH, "/api/links/lim", Some(r#"{"max_clicks":3}"#))
        .await;
    assert_eq!(s.get("/lim").await.status, 302);
    s.get("/lim").await.assert_problem(410);
    s.stop().await;
}

#[tokio::test]
async fn per_link_and_default_statuses_and_cache_headers() {
    let s = start_server().await;
    for status in [301u16, 302, 307, 308] {
        s.create(&format!(r#"{{"url":"https://a.example/{status}","slug":"s{status}","redirect_status":{status}}}"#))
            .await;
        let r = s.get(&format!("/s{status}")).await;
        assert_eq!(r.status, status);
        let no_store = r.header("cache-control") == Some("no-store");
        assert_eq!(no_store, status == 302 || status == 307, "{status}");
    }
    s.stop().await;
    let s = start_with(Options {
        redirect_status: 301,
        ..Options::default()
    })
    .await;
    s.create(r#"{"url":"https://a.example/","slug":"d"}"#).await;
    assert_eq!(s.get("/d").await.status, 301);
    s.stop().await;
}

#[tokio::test]
async fn non_ascii_targets_go_out_as_punycode_and_percent_encoding() {
    let s = start_server().await;
    let j = s
        .create(r#"{"url":"https://bücher.example/straße?q=ü#frag","slug":"u"}"#)
        .await;
    let want = "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC#frag";
    assert_eq!(j["url"], want);
    let r = s.get("/u").await;
    assert_eq!(r.header("location"), Some(want));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clicks_count_exactly() {
    let s = Arc::new(start_server().await);
    s.create(r#"{"url":"https://a.example/","slug":"hot"}"#)
        .await;
    s.create(r#"{"url":"https://b.example/","slug":"cold"}"#)
        .await;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let slug = if (t + i) % 5 == 0 { "cold" } else { "hot" };
                assert_eq!(s.get(&format!("/{slug}")).await.status, 302);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (hot, cold) = (clicks(&s, "hot").await, clicks(&s, "cold").await);
    assert_eq!(hot + cold, 400);
    assert_eq!(cold, 80);
    let s = Arc::try_unwrap(s).ok().unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clicks_on_a_limited_link_let_exactly_k_through() {
    let s = Arc::new(start_server().await);
    s.create(r#"{"url":"https://a.example/","slug":"once","max_clicks":7}"#)
        .await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let s = s.clone();
        tasks.push(tokio::spawn(
            async move { s.get("/once").await.status.as_u16() },
        ));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|&&c| c == 302).count(), 7);
    assert_eq!(statuses.iter().filter(|&&c| c == 410).count(), 43);
    assert_eq!(clicks(&s, "once").await, 7);
    let s = Arc::try_unwrap(s).ok().unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creators_of_one_slug_get_one_201() {
    let s = Arc::new(start_server().await);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!(r#"{{"url":"https://a.example/{i}","slug":"race"}}"#);
            let r = s.api(Method::POST, "/api/links", Some(&body)).await;
            (r.status.as_u16(), i)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (status, i) = t.await.unwrap();
        match status {
            201 => winners.push(i),
            409 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let j = s.api(Method::GET, "/api/links/race", None).await.json();
    assert_eq!(j["url"], format!("https://a.example/{}", winners[0]));
    let list = s.api(Method::GET, "/api/links", None).await.json();
    assert_eq!(list["links"].as_array().unwrap().len(), 1);
    let s = Arc::try_unwrap(s).ok().unwrap();
    s.stop().await;
}

#[tokio::test]
async fn one_keep_alive_connection_serves_many_redirects() {
    use http_body_util::{BodyExt, Full};
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"ka"}"#)
        .await;
    let stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (mut tx, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    for _ in 0..50 {
        let req = hyper::Request::get("/ka")
            .header("host", "x")
            .body(Full::<bytes::Bytes>::default())
            .unwrap();
        let resp = tx.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 302);
        resp.into_body().collect().await.unwrap();
    }
    assert_eq!(clicks(&s, "ka").await, 50);
    s.stop().await;
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served_too() {
    use http_body_util::{BodyExt, Full};
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"two"}"#)
        .await;
    let stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let uri = format!("http://{}/two", s.addr);
    let req = hyper::Request::get(uri)
        .body(Full::<bytes::Bytes>::default())
        .unwrap();
    let resp = tx.send_request(req).await.unwrap();
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "https://a.example/");
    resp.into_body().collect().await.unwrap();
    assert_eq!(clicks(&s, "two").await, 1);
    s.stop().await;
}

#[tokio::test]
async fn every_answer_forbids_content_sniffing() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"ns"}"#)
        .await;
    let answers = [
        s.get("/ns").await,
        s.get("/nosuchlink").await,
        s.get("/healthz").await,
        s.api(Method::GET, "/api/links", None).await,
        common::request(s.addr, Method::GET, "/api/links", &[], None).await,
    ];
    for r in answers {
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{r:?}");
    }
    s.stop().await;
}
