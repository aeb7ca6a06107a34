//! Where clicks come from, over a real loopback socket: referrer hosts and
//! bot visits in `GET /api/links/{slug}/stats`, their bounds, and that they
//! survive a restart and go with their link.

mod common;

use common::{request, start_in, start_server, Options, TestServer};
use hyper::Method;
use serde_json::{json, Value};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const SLACK: &str = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)";

/// One `GET /{slug}` with the given headers; returns the status.
async fn click(s: &TestServer, slug: &str, headers: &[(&str, &str)]) -> u16 {
    request(s.addr, Method::GET, &format!("/{slug}"), headers, None)
        .await
        .status
        .as_u16()
}

async fn stats(s: &TestServer, slug: &str) -> Value {
    let r = s
        .api(
            Method::GET,
            &format!("/api/links/{slug}/stats?days=1"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn today_clicks(stats: &Value) -> &Value {
    &stats["daily"][0]["clicks"]
}

#[tokio::test]
async fn referrer_hosts_and_bots_are_counted_apart() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"src"}"#)
        .await;
    let hn = ("referer", "https://News.YCombinator.com/item?id=42");
    for headers in [
        vec![hn, ("user-agent", FIREFOX)],
        vec![hn],
        vec![("referer", "https://t.co/abc")],
        vec![("referer", "android-app://com.slack/")],
        // Clicks whose referrer says nothing usable: counted, not attributed.
        vec![("referer", "not a url")],
        vec![("referer", "/relative/page")],
        vec![],
        // Bots: not clicks, and their referrers are not kept.
        vec![
            ("user-agent", GOOGLEBOT),
            ("referer", "https://spam.example/"),
        ],
        vec![("user-agent", SLACK)],
        vec![("user-agent", SLACK)],
        vec![("user-agent", "FancyNewCrawler/0.1")],
    ] {
        assert_eq!(click(&s, "src", &headers).await, 302, "{headers:?}");
    }
    // HEAD is not a click, whoever asks.
    let r = request(s.addr, Method::HEAD, "/src", &[hn], None).await;
    assert_eq!(r.status, 302);

    let st = stats(&s, "src").await;
    assert_eq!(st["clicks"], 7, "{st}");
    assert_eq!(
        *today_clicks(&st),
        7,
        "bots are not in the day counts: {st}"
    );
    assert_eq!(
        st["referrers"],
        json!({"hosts": [
            {"host": "news.ycombinator.com", "clicks": 2},
            {"host": "com.slack", "clicks": 1},
            {"host": "t.co", "clicks": 1},
        ], "other": 0}),
        "{st}"
    );
    assert_eq!(
        st["bots"],
        json!({"visits": 4, "names": [
            {"name": "Slack", "visits": 2},
            {"name": "Googlebot", "visits": 1},
            {"name": "other", "visits": 1},
        ]}),
        "{st}"
    );
    let link = s.api(Method::GET, "/api/links/src", None).await.json();
    assert_eq!(link["clicks"], 7, "{link}");
    // Once the flusher has stored them, the same counts are read from sled
    // (and no emptied in-memory counter shows as a host with 0 clicks).
    tokio::time::sleep(
        kurz::http::server::SOURCES_FLUSH_EVERY + std::time::Duration::from_millis(700),
    )
    .await;
    let stored = stats(&s, "src").await;
    assert_eq!(stored["referrers"], st["referrers"]);
    assert_eq!(stored["bots"], st["bots"]);
    s.stop().await;
}

#[tokio::test]
async fn a_flood_of_referrers_is_bounded_and_survives_a_restart() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"busy"}"#)
        .await;
    let hosts = kurz::store::MAX_HOSTS + 8;
    for i in 0..hosts {
        let referer = format!("https://h{i:02}.example/page");
        assert_eq!(click(&s, "busy", &[("referer", &referer)]).await, 302);
    }
    // Twice more from a host already counted by name.
    for _ in 0..2 {
        let r = [("referer", "https://h00.example/")];
        assert_eq!(click(&s, "busy", &r).await, 302);
    }
    let before = stats(&s, "busy").await;
    let named = before["referrers"]["hosts"].as_array().unwrap();
    assert_eq!(named.len(), kurz::store::MAX_HOSTS, "{before}");
    assert_eq!(before["referrers"]["other"], 8, "{before}");
    assert_eq!(named[0], json!({"host": "h00.example", "clicks": 3}));
    let total: u64 = named.iter().map(|h| h["clicks"].as_u64().unwrap()).sum();
    assert_eq!(total + 8, before["clicks"].as_u64().unwrap());

    // A graceful stop stores everything; the same counts come back.
    let dir = s.stop().await.unwrap();
    let s = start_in(dir.path(), Options::default()).await;
    let after = stats(&s, "busy").await;
    assert_eq!(after["referrers"], before["referrers"]);
    assert_eq!(after["clicks"], before["clicks"]);
    // Still bounded once stored: a new host goes to "other".
    assert_eq!(
        click(&s, "busy", &[("referer", "https://late.example/")]).await,
        302
    );
    let later = stats(&s, "busy").await;
    assert_eq!(later["referrers"]["other"], 9, "{later}");
    s.stop().await;
    drop(dir);
}

#[tokio::test]
async fn a_click_limit_counts_bots_too() {
    // A User-Agent is the client's to choose: on a limited link it must
    // not be a way around the limit.
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"once","max_clicks":2}"#)
        .await;
    assert_eq!(click(&s, "once", &[("user-agent", SLACK)]).await, 302);
    assert_eq!(click(&s, "once", &[("user-agent", GOOGLEBOT)]).await, 302);
    let r = request(
        s.addr,
        Method::GET,
        "/once",
        &[("user-agent", FIREFOX)],
        None,
    )
    .await;
    r.assert_problem(410);
    let st = stats(&s, "once").await;
    assert_eq!(st["clicks"], 2, "{st}");
    assert_eq!(st["bots"]["visits"], 0, "{st}");
    s.stop().await;
}

#[tokio::test]
async fn deleting_a_link_forgets_where_its_clicks_came_from() {
    let s = start_server().await;
    let body = r#"{"url":"https://a.example/","slug":"again"}"#;
    s.create(body).await;
    let from = [("referer", "https://old.example/")];
    assert_eq!(click(&s, "again", &from).await, 302);
    assert_eq!(click(&s, "again", &[("user-agent", SLACK)]).await, 302);
    let r = s.api(Method::DELETE, "/api/links/again", None).await;
    assert_eq!(r.status, 204);
    s.create(body).await;
    let st = stats(&s, "again").await;
    assert_eq!(st["clicks"], 0, "{st}");
    assert_eq!(st["referrers"], json!({"hosts": [], "other": 0}), "{st}");
    assert_eq!(st["bots"], json!({"visits": 0, "names": []}), "{st}");
    s.stop().await;
}
