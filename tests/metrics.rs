//! `GET /metrics` over a real loopback socket: behind the key as the API is
//! (401 without it, the session cookie, the brute-force guard), public with
//! `--public-metrics`, in the Prometheus text format, and with counts that
//! match exactly what the server was asked; and the flag through the real
//! binary.

mod common;
mod real_binary;

use std::collections::HashMap;

use common::{request, request_from, start_server, start_with, Options, KEY};
use hyper::Method;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

/// The samples of an exposition: `name{labels}` (as written) → value.
/// Checks on the way that every sample's family was announced by `# TYPE`.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut typed: Vec<String> = Vec::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap();
        let name = key.split('{').next().unwrap();
        assert!(
            typed.iter().any(|t| name.starts_with(t.as_str())),
            "{name} has no # TYPE line:\n{text}"
        );
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        assert!(
            samples.insert(key.to_owned(), value).is_none(),
            "{key} twice"
        );
    }
    samples
}

/// Scrapes with the key; checks the status and content type.
async fn scrape(s: &common::TestServer) -> HashMap<String, f64> {
    let auth = format!("Bearer {KEY}");
    let r = request(
        s.addr,
        Method::GET,
        "/metrics",
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some(TEXT_FORMAT));
    parse(&r.text())
}

fn requests(m: &HashMap<String, f64>, class: &str, status: u16) -> f64 {
    let key = format!(r#"kurz_http_requests_total{{class="{class}",status="{status}"}}"#);
    m.get(&key).copied().unwrap_or(0.0)
}

fn get(m: &HashMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no {key} in {:#?}", m.keys()))
}

#[tokio::test]
async fn metrics_need_the_key_as_the_api_does() {
    let s = start_server().await;
    let r = s.get("/metrics").await;
    let detail = r.assert_problem(401);
    assert!(detail.contains("API key is required"), "{detail}");
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"kurz\""));
    let wrong = request(
        s.addr,
        Method::GET,
        "/metrics",
        &[("x-api-key", "not-the-key-0123456789")],
        None,
    )
    .await;
    wrong.assert_problem(401);
    for h in [
        ("x-api-key", KEY.to_owned()),
        ("authorization", format!("Bearer {KEY}")),
    ] {
        let r = request(s.addr, Method::GET, "/metrics", &[(h.0, &h.1)], None).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some(TEXT_FORMAT));
        assert!(
            r.text().contains("kurz_build_info{version=\""),
            "{}",
            r.text()
        );
    }
    let post = request(
        s.addr,
        Method::POST,
        "/metrics",
        &[("x-api-key", KEY)],
        None,
    )
    .await;
    post.assert_problem(405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    s.stop().await;
}

#[tokio::test]
async fn a_signed_in_browser_reads_metrics_with_its_cookie() {
    let s = start_server().await;
    let body = format!(r#"{{"key": "{KEY}"}}"#);
    let r = request(
        s.addr,
        Method::POST,
        "/api/session",
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let set = r.header("set-cookie").unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let r = request(
        s.addr,
        Method::GET,
        "/metrics",
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    s.stop().await;
}

#[tokio::test]
async fn wrong_keys_on_metrics_lock_the_client_out_as_on_the_api() {
    let s = start_server().await;
    let me = Some(std::net::IpAddr::from([127, 0, 2, 1]));
    let wrong = [("x-api-key", "not-the-key-0123456789")];
    for _ in 0..kurz::http::guard::MAX_FAILURES {
        let r = request_from(me, s.addr, Method::GET, "/metrics", &wrong, None).await;
        r.assert_problem(401);
    }
    // Now even the right key waits, on /metrics and on the API alike.
    let right = [("x-api-key", KEY)];
    let r = request_from(me, s.addr, Method::GET, "/metrics", &right, None).await;
    r.assert_problem(429);
    let r = request_from(me, s.addr, Method::GET, "/api/links", &right, None).await;
    r.assert_problem(429);
    // Another client is not held up.
    let other = Some(std::net::IpAddr::from([127, 0, 2, 2]));
    let r = request_from(other, s.addr, Method::GET, "/metrics", &right, None).await;
    assert_eq!(r.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn counts_match_what_the_server_was_asked() {
    let s = start_server().await;
    let before = scrape(&s).await;
    assert_eq!(get(&before, "kurz_links"), 0.0);
    assert_eq!(get(&before, "kurz_clicks_total"), 0.0);
    assert_eq!(get(&before, "kurz_redirect_duration_seconds_count"), 0.0);
    // The scrape is counted once answered, so it does not see itself.
    assert_eq!(requests(&before, "metrics", 200), 0.0);

    s.create(r#"{"url":"https://example.com/a","slug":"a"}"#)
        .await;
    s.create(r#"{"url":"https://example.com/b","slug":"b"}"#)
        .await;
    s.create(r#"{"url":"https://example.com/c","slug":"c"}"#)
        .await;
    let r = s.api(Method::DELETE, "/api/links/c", None).await;
    assert_eq!(r.status, 204);
    let browser = [
        ("user-agent", CHROME),
        ("referer", "https://news.example/item"),
    ];
    for path in ["/a", "/a", "/b"] {
        let r = request(s.addr, Method::GET, path, &browser, None).await;
        assert_eq!(r.status, 302);
    }
    let r = request(
        s.addr,
        Method::GET,
        "/a",
        &[("user-agent", GOOGLEBOT)],
        None,
    )
    .await;
    assert_eq!(r.status, 302);
    let r = request(s.addr, Method::HEAD, "/b", &[], None).await;
    assert_eq!(r.status, 302);
    assert_eq!(s.get("/nope").await.status, 404);
    assert_eq!(s.get("/c").await.status, 404);
    assert_eq!(
        s.api(Method::GET, "/api/links/nope", None).await.status,
        404
    );
    assert_eq!(s.get("/api/links").await.status, 401);
    assert_eq!(s.get("/healthz").await.status, 200);
    assert_eq!(s.get("/").await.status, 200);
    assert_eq!(s.get("/no/such/page").await.status, 404);
    // POST /{slug} is a protected link's password: a redirect-class answer
    // (400 here, /a has no password); PUT is no method of /{slug}.
    let r = request(s.addr, Method::POST, "/a", &[], None).await;
    assert_eq!(r.status, 400);
    let r = request(s.addr, Method::PUT, "/a", &[], None).await;
    assert_eq!(r.status, 405);
    // YOURLS clients have a class of their own (unsigned: YOURLS's 403).
    let r = s.get("/yourls-api.php?action=version&format=json").await;
    assert_eq!(r.status, 403);

    let m = scrape(&s).await;
    // GET x4 and HEAD x1 on a link, two unknown slugs.
    assert_eq!(requests(&m, "redirect", 302), 5.0);
    assert_eq!(requests(&m, "redirect", 404), 2.0);
    assert_eq!(requests(&m, "redirect", 400), 1.0);
    assert_eq!(requests(&m, "api", 201), 3.0);
    assert_eq!(requests(&m, "api", 204), 1.0);
    assert_eq!(requests(&m, "api", 404), 1.0);
    assert_eq!(requests(&m, "api", 401), 1.0);
    assert_eq!(requests(&m, "health", 200), 1.0);
    assert_eq!(requests(&m, "page", 200), 1.0);
    assert_eq!(requests(&m, "other", 404), 1.0);
    assert_eq!(requests(&m, "other", 405), 1.0);
    assert_eq!(requests(&m, "metrics", 200), 1.0);
    assert_eq!(requests(&m, "yourls", 403), 1.0);
    let total: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("kurz_http_requests_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, 20.0, "{m:#?}");

    // The histogram holds every GET and HEAD /{slug}, and is cumulative.
    let count = get(&m, "kurz_redirect_duration_seconds_count");
    assert_eq!(count, 7.0);
    assert_eq!(
        get(&m, r#"kurz_redirect_duration_seconds_bucket{le="+Inf"}"#),
        7.0
    );
    let mut buckets: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix("kurz_redirect_duration_seconds_bucket{le=\"")?;
            let le = le.strip_suffix("\"}")?;
            Some((le.parse::<f64>().ok()?, *v))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let bounds: Vec<f64> = buckets.iter().map(|b| b.0).collect();
    assert_eq!(bounds.first(), Some(&1e-5), "{bounds:?}");
    assert_eq!(
        &bounds[bounds.len() - 2..],
        [1.0, f64::INFINITY],
        "{bounds:?}"
    );
    assert_eq!(bounds.len(), 17, "{bounds:?}");
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "not cumulative: {buckets:?}"
    );
    let sum = get(&m, "kurz_redirect_duration_seconds_sum");
    assert!(sum > 0.0 && sum < 7.0, "{sum}");

    // Three clicks by people; the bot is counted apart, HEAD not at all.
    assert_eq!(get(&m, "kurz_clicks_total"), 3.0);
    assert_eq!(get(&m, "kurz_bot_visits_total"), 1.0);
    assert_eq!(get(&m, "kurz_links"), 2.0);
    // Measured at the first scrape, and kept for a while: not per scrape.
    assert_eq!(
        get(&m, "kurz_database_size_bytes"),
        get(&before, "kurz_database_size_bytes")
    );
    assert!(get(&m, "kurz_uptime_seconds") > 0.0);
    let version = format!(
        r#"kurz_build_info{{version="{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(get(&m, &version), 1.0);

    // The first two scrapes are counted now.
    let again = scrape(&s).await;
    assert_eq!(requests(&again, "metrics", 200), 2.0);
    assert_eq!(get(&again, "kurz_redirect_duration_seconds_count"), 7.0);
    s.stop().await;
}

#[tokio::test]
async fn public_metrics_need_no_key() {
    let s = start_with(Options {
        public_metrics: true,
        ..Options::default()
    })
    .await;
    let r = s.get("/metrics").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some(TEXT_FORMAT));
    let m = parse(&r.text());
    assert_eq!(get(&m, "kurz_links"), 0.0);
    // Only /metrics: the API still wants the key.
    s.get("/api/links").await.assert_problem(401);
    s.stop().await;
}

#[test]
fn the_real_binary_takes_public_metrics_on_serve_only() {
    let sb = real_binary::Sandbox::new();
    let data = sb.data("d");
    let public = real_binary::Server::start_with(
        &data,
        &["--api-key", real_binary::KEY, "--public-metrics"],
    );
    let r = real_binary::get(public.addr, "/metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some(TEXT_FORMAT));
    assert!(r.text().contains("kurz_links 0\n"), "{}", r.text());
    let (status, _) = public.terminate();
    assert!(status.success());

    // Restarted without the flag: the key is needed again.
    let private = real_binary::Server::start(&data);
    assert_eq!(real_binary::get(private.addr, "/metrics").status, 401);
    let r = real_binary::api(private.addr, "GET", "/metrics", None);
    assert_eq!(r.status, 200, "{}", r.text());
    // The first server stored something on shutdown, so sled has a file.
    let size = r
        .text()
        .lines()
        .find_map(|l| l.strip_prefix("kurz_database_size_bytes "))
        .map(|v| v.parse::<u64>().unwrap());
    assert!(size.is_some_and(|s| s > 0), "{}", r.text());
    drop(private);

    // The environment twin.
    let mut cmd = real_binary::kurz(sb.path());
    cmd.env("KURZ_PUBLIC_METRICS", "true");
    let by_env = real_binary::Server::launch(cmd, &data, &["--api-key", real_binary::KEY]);
    assert_eq!(real_binary::get(by_env.addr, "/metrics").status, 200);
    drop(by_env);

    // A server setting with an admin command would be ignored: refused.
    let data = data.to_string_lossy();
    let out = real_binary::run(sb.path(), &["--public-metrics", "list", "--data", &data]);
    assert_eq!(out.status.code(), Some(2), "{out:#?}");
    assert!(out.stderr.contains("--public-metrics"), "{out:#?}");
    assert!(out.stderr.contains("server setting"), "{out:#?}");
}
