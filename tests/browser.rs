//! The web page in a real browser: Debian's headless Chromium driven over
//! WebDriver (chromedriver, through `fantoccini`) against a real kurz on
//! loopback. Signs in, shortens a link whose URL carries markup, finds it
//! in the list after a few clicks from other sites and one bot, opens it
//! (chart, referrers and bots, QR code), edits it, deletes it and signs
//! out, saving a screenshot of each step under `target/browser-screenshots/`.
//! Another test sets tags in the shorten form, filters the list by a tag,
//! clears the filter and changes the tags in the edit form. Others check
//! the layout on an emulated 390×844 phone (nothing wider than the screen)
//! and of tags on a desktop, that each error shows next to its cause, that
//! a URL without a scheme is taken as https, and that dead links are marked.
//!
//! Needs `chromium` and `chromedriver` on the PATH (`.ci/run` installs
//! Debian's `chromium` and `chromium-driver`), so it is `#[ignore]`d for a
//! plain `cargo test`: run it with `cargo test --test browser -- --ignored`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{request, start_server, KEY};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper::Method;
use std::os::unix::process::CommandExt;

/// Longest wait for anything on the page.
const WAIT: Duration = Duration::from_secs(20);

/// chromedriver in a process group of its own, the whole group killed when
/// dropped: killing chromedriver alone left the browsers it had started
/// running (a test that ends without closing its session, or panics),
/// dozens of them after a few runs.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(group) = i32::try_from(self.0.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

async fn browser(profile: &std::path::Path) -> (Driver, Client) {
    session(profile, serde_json::json!({})).await
}

/// Width and height of the phone the phone tests emulate (an iPhone 12 to
/// 15, in CSS pixels): the size of the issue's report.
const PHONE: (u32, u32) = (390, 844);

/// A browser that lays pages out as a phone does: Chrome's mobile emulation
/// at [`PHONE`], so the page's viewport `<meta>` counts, as on a real phone.
async fn phone_browser(profile: &std::path::Path) -> (Driver, Client) {
    let (width, height) = PHONE;
    let emulation = serde_json::json!({
        "mobileEmulation": {
            "deviceMetrics": { "width": width, "height": height, "pixelRatio": 3.0, "touch": true }
        }
    });
    session(profile, emulation).await
}

/// chromedriver and a session, with `extra` merged into `goog:chromeOptions`.
async fn session(profile: &std::path::Path, extra: serde_json::Value) -> (Driver, Client) {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is not installed (apt-get install chromium-driver)");
    let driver = Driver(driver);
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1100,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let mut caps = caps;
    if let (Some(options), serde_json::Value::Object(extra)) =
        (caps["goog:chromeOptions"].as_object_mut(), extra)
    {
        options.extend(extra);
    }
    let caps = match caps {
        serde_json::Value::Object(map) => map,
        _ => unreachable!(),
    };
    let url = format!("http://127.0.0.1:{port}");
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    // chromedriver takes a moment to listen.
    for _ in 0..100 {
        let mut builder = ClientBuilder::new(connector.clone());
        builder.capabilities(caps.clone());
        if let Ok(client) = builder.connect(&url).await {
            return (driver, client);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not start a WebDriver session");
}

/// Waits for the element `css` and returns it once it is displayed.
async fn shown(c: &Client, css: &str) -> fantoccini::elements::Element {
    let started = std::time::Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if e.is_displayed().await.unwrap_or(false) {
                return e;
            }
        }
        assert!(started.elapsed() < WAIT, "{css} never showed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The rows of the count list `css` (referrers or bots): (name, count).
async fn count_rows(c: &Client, css: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for li in c
        .find_all(Locator::Css(&format!("{css} li")))
        .await
        .unwrap()
    {
        let name = li.find(Locator::Css(".count-name")).await.unwrap();
        let count = li.find(Locator::Css(".count-n")).await.unwrap();
        rows.push((name.text().await.unwrap(), count.text().await.unwrap()));
    }
    rows
}

async fn shot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn the_page_does_everything_in_a_real_browser() {
    let s = start_server().await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;
    let base = format!("http://{}/", s.addr);

    // Sign in.
    c.goto(&base).await.unwrap();
    shown(&c, "#signin-key").await.send_keys(KEY).await.unwrap();
    shot(&c, "1-sign-in").await;
    c.find(Locator::Css("#signin-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Shorten a link whose URL carries markup: it must stay text.
    let hostile = "https://example.com/a?x=\"><img/src=x/id=pwned>";
    shown(&c, "#shorten-url")
        .await
        .send_keys(hostile)
        .await
        .unwrap();
    let options = c.find(Locator::Css("#shorten-options")).await.unwrap();
    let _ = options.click().await;
    shown(&c, "#shorten-slug")
        .await
        .send_keys("in-browser")
        .await
        .unwrap();
    c.find(Locator::Css("#shorten-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let short = shown(&c, "#shorten-short").await.text().await.unwrap();
    assert!(short.ends_with("/in-browser"), "{short}");
    shown(&c, "#shorten-qr").await;
    shot(&c, "2-shortened").await;
    let stored = s
        .api(Method::GET, "/api/links/in-browser", None)
        .await
        .json();
    assert!(!stored["url"].as_str().unwrap().contains("<img"));

    // Three people follow it from two sites, and one link preview fetches it,
    // so the page has clicks, referrers and a bot to show.
    for headers in [
        [("referer", "https://news.example/post")],
        [("referer", "https://news.example/post")],
        [("referer", "https://t.co/x")],
        [("user-agent", "Slackbot-LinkExpanding 1.0")],
    ] {
        let r = request(s.addr, Method::GET, "/in-browser", &headers, None).await;
        assert_eq!(r.status, 302, "{headers:?}");
    }

    // Find it in the list (reloaded, for the clicks), and open it.
    c.refresh().await.unwrap();
    let link = shown(&c, "#links a.link-open").await;
    let row = c
        .find(Locator::Css("#links li"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("3 clicks"), "{row}");
    assert!(link.text().await.unwrap().contains("/in-browser"));
    assert!(c.find(Locator::Css("#pwned")).await.is_err(), "markup ran");
    shot(&c, "3-list").await;
    link.click().await.unwrap();
    let title = shown(&c, "#detail-title").await.text().await.unwrap();
    assert_eq!(title, "/in-browser");
    let target = shown(&c, "#detail-target").await.text().await.unwrap();
    assert_eq!(target, stored["url"].as_str().unwrap());
    assert_eq!(shown(&c, "#detail-clicks").await.text().await.unwrap(), "3");
    shown(&c, "#chart svg").await;
    let bars = c.find_all(Locator::Css("#chart rect.bar")).await.unwrap();
    assert_eq!(bars.len(), 30, "one bar a day");
    shown(&c, "#detail-qr").await;

    // Where the clicks came from: referrer hosts most first, and the bot
    // apart (it is not one of the 3 clicks).
    shown(&c, "#referrers li").await;
    assert_eq!(
        count_rows(&c, "#referrers").await,
        [("news.example", "2 clicks"), ("t.co", "1 click")]
            .map(|(n, k)| (n.to_owned(), k.to_owned())),
    );
    let summary = shown(&c, "#referrers-summary").await.text().await.unwrap();
    assert_eq!(
        summary,
        "3 of 3 clicks came with a referring host; browsers often send none."
    );
    let bots = shown(&c, "#bots-summary").await.text().await.unwrap();
    assert_eq!(bots, "1 bot visit (not counted as clicks).");
    assert_eq!(
        count_rows(&c, "#bots").await,
        [("Slack".to_owned(), "1 visit".to_owned())],
    );
    assert_eq!(shown(&c, "#detail-clicks").await.text().await.unwrap(), "3");
    // A taller window for this one, so the picture shows the chart and the
    // sections under it.
    c.set_window_size(1100, 1120).await.unwrap();
    shot(&c, "4-detail").await;
    c.set_window_size(1100, 900).await.unwrap();

    // Edit: a click limit of 5.
    let max = shown(&c, "#edit-max").await;
    max.clear().await.unwrap();
    max.send_keys("5").await.unwrap();
    c.find(Locator::Css("#edit-save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shown(&c, "#edit-saved").await;
    let started = std::time::Instant::now();
    loop {
        let j = s
            .api(Method::GET, "/api/links/in-browser", None)
            .await
            .json();
        if j["max_clicks"] == 5 {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "the edit never reached the server: {j}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shot(&c, "5-edited").await;

    // Delete, confirmed.
    c.find(Locator::Css("#delete"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shown(&c, "#delete-yes").await.click().await.unwrap();
    shown(&c, "#list").await;
    let started = std::time::Instant::now();
    while s
        .api(Method::GET, "/api/links/in-browser", None)
        .await
        .status
        != 404
    {
        assert!(started.elapsed() < WAIT, "the link was never deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shot(&c, "6-deleted").await;

    // Sign out.
    shown(&c, "#signout").await.click().await.unwrap();
    shown(&c, "#signin-key").await;
    shot(&c, "7-signed-out").await;
    c.close().await.unwrap();
    s.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn the_bookmarklet_brings_an_address_to_shorten() {
    let s = start_server().await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;
    let base = format!("http://{}/", s.addr);

    // What the bookmarklet does on another page: open kurz with the address
    // in the fragment. Signed out, it waits through signing in.
    let shared = "https://example.org/article?id=1&next=/x#part";
    let encoded: String = url::form_urlencoded::byte_serialize(shared.as_bytes()).collect();
    c.goto(&format!("{base}#shorten={encoded}")).await.unwrap();
    sign_in(&c, KEY).await;
    let input = shown(&c, "#shorten-url").await;
    assert_eq!(input.prop("value").await.unwrap().as_deref(), Some(shared));
    // The fragment is cleared, so a reload does not bring it again.
    assert_eq!(c.current_url().await.unwrap().as_str(), base);
    // Nothing was created until the person says so.
    let r = s.api(Method::GET, "/api/links", None).await.json();
    assert_eq!(r["links"].as_array().unwrap().len(), 0, "{r}");
    c.find(Locator::Css("#shorten-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shown(&c, "#shorten-result").await;
    let r = s.api(Method::GET, "/api/links", None).await.json();
    assert_eq!(r["links"][0]["url"], shared);

    // The bookmark itself: navigation to this page, with the tab's address.
    let href = c
        .find(Locator::Css("#bookmarklet"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        href,
        format!(
            "javascript:void(location.href=\"{base}#shorten=\"+encodeURIComponent(location.href))"
        )
    );
}

/// The rows of the link list, as their slugs.
async fn listed(c: &Client) -> Vec<String> {
    let mut slugs = Vec::new();
    for s in c.find_all(Locator::Css("#links .link-slug")).await.unwrap() {
        slugs.push(s.text().await.unwrap());
    }
    slugs
}

/// Waits until the link list shows exactly `want`.
async fn wait_listed(c: &Client, want: &[&str]) {
    let started = std::time::Instant::now();
    loop {
        let now = listed(c).await;
        if now == want {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "the list shows {now:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn tags_are_set_shown_filtered_and_edited_in_a_real_browser() {
    let s = start_server().await;
    s.create(r#"{"url":"https://red.example/","slug":"reddish","tags":["red"]}"#)
        .await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;
    c.goto(&format!("http://{}/", s.addr)).await.unwrap();
    sign_in(&c, KEY).await;

    // Shorten with tags, any case, commas or spaces.
    shown(&c, "#shorten-url")
        .await
        .send_keys("https://blue.example/")
        .await
        .unwrap();
    let _ = c
        .find(Locator::Css("#shorten-options"))
        .await
        .unwrap()
        .click()
        .await;
    shown(&c, "#shorten-slug")
        .await
        .send_keys("bluish")
        .await
        .unwrap();
    shown(&c, "#shorten-tags")
        .await
        .send_keys("Blue, work  blue")
        .await
        .unwrap();
    c.find(Locator::Css("#shorten-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shown(&c, "#shorten-result").await;
    let stored = s.api(Method::GET, "/api/links/bluish", None).await.json();
    assert_eq!(stored["tags"], serde_json::json!(["blue", "work"]));
    wait_listed(&c, &["/bluish", "/reddish"]).await;

    // Clicking a tag filters the list; clearing shows every link again.
    shown(&c, "#links button.tag").await;
    let mut tags = Vec::new();
    for b in c.find_all(Locator::Css("#links button.tag")).await.unwrap() {
        tags.push(b.text().await.unwrap());
    }
    assert_eq!(tags, ["blue", "work", "red"]);
    let buttons = c.find_all(Locator::Css("#links button.tag")).await.unwrap();
    buttons[2].click().await.unwrap();
    wait_listed(&c, &["/reddish"]).await;
    let filter = shown(&c, "#tag-filter-name").await.text().await.unwrap();
    assert_eq!(filter, "red");
    shot(&c, "tags-filtered").await;
    shown(&c, "#tag-filter-clear").await.click().await.unwrap();
    wait_listed(&c, &["/bluish", "/reddish"]).await;

    // The link's page shows its tags and changes them.
    shown(&c, "#links a.link-open").await.click().await.unwrap();
    let shown_tags = shown(&c, "#detail-tags").await.text().await.unwrap();
    assert_eq!(shown_tags, "blue, work");
    let input = shown(&c, "#edit-tags").await;
    input.clear().await.unwrap();
    input.send_keys("Green").await.unwrap();
    c.find(Locator::Css("#edit-save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let t = c.find(Locator::Css("#detail-tags")).await.unwrap();
        if t.text().await.unwrap() == "green" {
            break;
        }
        assert!(started.elapsed() < WAIT, "the new tags never showed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored = s.api(Method::GET, "/api/links/bluish", None).await.json();
    assert_eq!(stored["tags"], serde_json::json!(["green"]));
    s.stop().await;
}

/// Signs in with `key` on the shown sign-in form.
async fn sign_in(c: &Client, key: &str) {
    shown(c, "#signin-key").await.send_keys(key).await.unwrap();
    click(c, "#signin-submit").await;
}

/// Clicks the element `css` once it shows.
async fn click(c: &Client, css: &str) {
    shown(c, css).await.click().await.unwrap();
}

/// Waits until `check` holds of the API's answer at `path`.
async fn until_api(s: &common::TestServer, path: &str, check: impl Fn(&serde_json::Value) -> bool) {
    let started = std::time::Instant::now();
    loop {
        let j = s.api(Method::GET, path, None).await.json();
        if check(&j) {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "{path} never changed as expected: {j}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn an_admin_manages_keys_and_a_read_key_sees_none() {
    let s = start_server().await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;
    let base = format!("http://{}/", s.addr);

    // The built-in key is an admin: the keys section shows, with it listed.
    c.goto(&base).await.unwrap();
    sign_in(&c, KEY).await;
    let list = shown(&c, "#keys-list").await;
    assert!(list.text().await.unwrap().contains("admin"));

    // Make a read key: shown once, and it works.
    shown(&c, "#key-name")
        .await
        .send_keys("viewer")
        .await
        .unwrap();
    let scope = c.find(Locator::Css("#key-scope")).await.unwrap();
    scope.select_by_value("read").await.unwrap();
    click(&c, "#key-add").await;
    let made = shown(&c, "#key-new").await.text().await.unwrap();
    assert_eq!(made.len(), 43, "{made}");
    until_api(&s, "/api/keys", |j| {
        j["keys"].as_array().unwrap().len() == 2
    })
    .await;
    shot(&c, "keys").await;

    // Signed in with the read key, the keys section stays hidden.
    click(&c, "#signout").await;
    sign_in(&c, &made).await;
    shown(&c, "#search").await;
    // Give the keys request its time to answer 403.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let keys = c.find(Locator::Css("#keys")).await.unwrap();
    assert!(!keys.is_displayed().await.unwrap());

    // Back as the admin, revoke it from the page.
    click(&c, "#signout").await;
    sign_in(&c, KEY).await;
    // Signing out forgot the key shown before.
    shown(&c, "#keys-list").await;
    let made_box = c.find(Locator::Css("#key-made")).await.unwrap();
    assert!(!made_box.is_displayed().await.unwrap());
    click(&c, "#keys-list button").await;
    until_api(&s, "/api/keys", |j| {
        j["keys"].as_array().unwrap().len() == 1
    })
    .await;
    let r = request(
        s.addr,
        Method::GET,
        "/api/links",
        &[("authorization", &format!("Bearer {made}"))],
        None,
    )
    .await;
    assert_eq!(r.status.as_u16(), 401);
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn a_protected_link_asks_for_its_password_then_sends_the_browser_on() {
    let s = start_server().await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;
    // Another origin, where nothing answers: the browser's arrival there is
    // what counts, not a page.
    let target = format!("http://127.0.0.1:{}/landed", free_port());
    let body = format!(
        r#"{{"url":"{target}","slug":"locked","password":"open sesame","redirect_status":308}}"#
    );
    s.create(&body).await;

    c.goto(&format!("http://{}/locked", s.addr)).await.unwrap();
    shown(&c, "#password")
        .await
        .send_keys("wrong")
        .await
        .unwrap();
    click(&c, "button[type=submit]").await;
    let alert = shown(&c, "[role=alert]").await.text().await.unwrap();
    assert!(!alert.is_empty());
    let page = c.source().await.unwrap();
    assert!(
        !page.contains("landed"),
        "the form shows the target: {page}"
    );
    let clicks = |j: serde_json::Value| j["clicks"].as_u64().unwrap();
    assert_eq!(
        clicks(s.api(Method::GET, "/api/links/locked", None).await.json()),
        0
    );

    shown(&c, "#password")
        .await
        .send_keys("open sesame")
        .await
        .unwrap();
    click(&c, "button[type=submit]").await;
    let started = std::time::Instant::now();
    loop {
        let now = c.current_url().await.unwrap();
        if now.as_str() == target {
            break;
        }
        assert!(started.elapsed() < WAIT, "the browser stayed at {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Counted once the server has stored its round of counts: headless
    // Chrome says so in its User-Agent, so it is a bot visit, not a click.
    let started = std::time::Instant::now();
    loop {
        let st = s
            .api(Method::GET, "/api/links/locked/stats", None)
            .await
            .json();
        let seen = st["clicks"].as_u64().unwrap() + st["bots"]["visits"].as_u64().unwrap();
        if seen == 1 {
            break;
        }
        assert!(
            seen == 0 && started.elapsed() < WAIT,
            "counted {seen}: {st}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn a_failed_load_clears_the_view_so_delete_cannot_hit_the_previous_link() {
    // It broke because the link view kept the link it showed before when the next one failed to load.
    let s = start_server().await;
    let victim_url = "https://victim.example/account";
    s.create(&format!(r#"{{"url":"{victim_url}","slug":"victim"}}"#))
        .await;
    s.create(r#"{"url":"https://bystander.example/","slug":"bystander"}"#)
        .await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;
    c.goto(&format!("http://{}/#link/victim", s.addr))
        .await
        .unwrap();
    sign_in(&c, KEY).await;

    // The victim's page, loaded to the end (its chart too).
    let target = shown(&c, "#detail-target").await.text().await.unwrap();
    assert_eq!(target, victim_url);
    shown(&c, "#chart svg").await;
    shown(&c, "#delete").await;

    // A typo in the address: the same page, another fragment, no reload.
    c.execute("location.hash = '#link/typo-slug';", vec![])
        .await
        .unwrap();
    let alert = shown(&c, "#error").await.text().await.unwrap();
    assert_eq!(alert, "no link with slug 'typo-slug'");
    let title = shown(&c, "#detail-title").await.text().await.unwrap();
    assert_eq!(title, "/typo-slug");
    shot(&c, "failed-load").await;

    // Nothing of the victim is left to see or act on.
    let detail = c.find(Locator::Css("#detail")).await.unwrap();
    let text = detail.text().await.unwrap();
    assert!(
        !text.contains("victim"),
        "the view still shows the victim: {text}"
    );
    for css in [
        "#detail-short",
        "#detail-target",
        "#chart-days",
        "#detail-qr",
        "#qr-svg",
        "#qr-png",
        "#edit-form",
        "#delete",
        "#delete-yes",
    ] {
        let e = c.find(Locator::Css(css)).await.unwrap();
        assert!(!e.is_displayed().await.unwrap(), "{css} is still shown");
    }
    let kept = c
        .execute(
            "return [document.getElementById('edit-url').value, \
             document.getElementById('qr-svg').getAttribute('href'), \
             document.getElementById('qr-png').getAttribute('href')];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(kept, serde_json::json!(["", null, null]), "stale fields");

    // Even pressed by a script, Delete has no link to delete.
    c.execute("document.getElementById('delete-yes').click();", vec![])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for slug in ["victim", "bystander"] {
        let r = s
            .api(Method::GET, &format!("/api/links/{slug}"), None)
            .await;
        assert_eq!(r.status.as_u16(), 200, "{slug} is gone: {}", r.text());
    }
    s.stop().await;
}

/// The bounding boxes (left, top, width, height, in CSS pixels) of the
/// elements `css` matches, in document order.
async fn rects(c: &Client, css: &str) -> Vec<[f64; 4]> {
    let got = c
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map((e) => { \
               const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; });",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap();
    serde_json::from_value(got).unwrap()
}

/// The bounding box of the one element `css`.
async fn rect(c: &Client, css: &str) -> [f64; 4] {
    let all = rects(c, css).await;
    assert_eq!(all.len(), 1, "{css} matches {} elements", all.len());
    all[0]
}

/// Asserts the page is no wider than the phone's screen: nothing sticks out
/// to the right, so there is no sideways scrolling. `innerWidth` must be the
/// phone's own width too, or Chrome has zoomed out to fit a wider page.
async fn fits_the_phone(c: &Client, what: &str) {
    let got = c
        .execute(
            "let widest = 'nothing', right = 0; \
             for (const e of document.querySelectorAll('body *')) { \
               const r = e.getBoundingClientRect(); \
               if (r.width > 0 && r.right > right) { \
                 right = r.right; widest = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + \
                   (typeof e.className === 'string' && e.className ? '.' + e.className : ''); } } \
             return [document.documentElement.scrollWidth, window.innerWidth, widest, Math.ceil(right)];",
            vec![],
        )
        .await
        .unwrap();
    let scroll = got[0].as_u64().unwrap();
    let inner = got[1].as_u64().unwrap();
    assert_eq!(
        inner,
        u64::from(PHONE.0),
        "{what}: the viewport is {inner} px wide"
    );
    assert!(
        scroll <= inner,
        "{what} is {scroll} px wide on a {inner} px screen; {} reaches {} px",
        got[2],
        got[3]
    );
}

/// Asserts the element `css` is on the screen, not above or below it.
async fn on_screen(c: &Client, css: &str) {
    let [_, top, _, height] = rect(c, css).await;
    let inner = c
        .execute("return window.innerHeight;", vec![])
        .await
        .unwrap();
    let inner = inner.as_f64().unwrap();
    assert!(
        top >= 0.0 && top + height <= inner,
        "{css} is at {top}..{} of a {inner} px screen",
        top + height
    );
}

/// Asserts the element `css` shows and is an alert (read out when it appears).
async fn alert(c: &Client, css: &str) -> String {
    let e = shown(c, css).await;
    assert_eq!(
        e.attr("role").await.unwrap().as_deref(),
        Some("alert"),
        "{css}"
    );
    on_screen(c, css).await;
    e.text().await.unwrap()
}

/// Asserts the element `css` is there but not shown.
async fn not_shown(c: &Client, css: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    assert!(!e.is_displayed().await.unwrap(), "{css} is shown");
}

/// Opens the Shorten form's options (so its slug and tags fields show).
async fn open_options(c: &Client) {
    c.execute(
        "document.getElementById('shorten-options').open = true;",
        vec![],
    )
    .await
    .unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn a_long_url_and_tags_made_the_phone_page_wider_than_the_screen() {
    // It broke because a list row on a phone is a column aligned on the
    // baseline, so it was as wide as its unbroken URL, and every button
    // (each tag, Sign out) was made full width.
    let s = start_server().await;
    let long = format!(
        "https://example.com/{}?q={}",
        "a-very-long-path-segment/".repeat(12),
        "x".repeat(200)
    );
    s.create(&format!(
        r#"{{"url":"{long}","slug":"long-one","tags":["red","work","news","2026","phone"]}}"#
    ))
    .await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = phone_browser(profile.path()).await;
    c.goto(&format!("http://{}/", s.addr)).await.unwrap();
    shown(&c, "#signin-key").await;
    fits_the_phone(&c, "the sign-in screen").await;
    shot(&c, "phone-1-sign-in").await;
    sign_in(&c, KEY).await;
    wait_listed(&c, &["/long-one"]).await;
    fits_the_phone(&c, "the list").await;

    // Sign out: a button beside the title, not a bar under it.
    let [title_x, title_y, title_w, title_h] = rect(&c, ".top h1").await;
    let [out_x, out_y, out_w, out_h] = rect(&c, "#signout").await;
    assert!(out_w < 160.0, "Sign out is {out_w} px wide");
    assert!(
        out_x > title_x + title_w + 16.0,
        "Sign out touches the title"
    );
    let (title_mid, out_mid) = (title_y + title_h / 2.0, out_y + out_h / 2.0);
    assert!(
        (title_mid - out_mid).abs() < 8.0,
        "Sign out is not beside the title"
    );

    // The tags: small, several to a line.
    let tags = rects(&c, "#links button.tag").await;
    assert_eq!(tags.len(), 5);
    for [_, _, w, h] in &tags {
        assert!(*w < 120.0 && *h < 40.0, "a tag is {w}×{h} px");
    }
    assert_eq!(
        tags[0][1], tags[1][1],
        "the first two tags are not side by side"
    );
    shot(&c, "phone-2-list").await;

    // The link's page, with its long URL.
    click(&c, "#links a.link-open").await;
    let target = shown(&c, "#detail-target").await.text().await.unwrap();
    assert_eq!(target, long);
    shown(&c, "#chart svg").await;
    fits_the_phone(&c, "the link's page").await;
    shot(&c, "phone-3-detail").await;
    s.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn tags_took_the_button_height_and_showed_as_circles() {
    // It broke because tags are buttons and took every button's 44 px
    // min-height, so a short tag with round ends was a circle.
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"tagged","tags":["red","go","work"]}"#)
        .await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;
    c.goto(&format!("http://{}/", s.addr)).await.unwrap();
    sign_in(&c, KEY).await;
    wait_listed(&c, &["/tagged"]).await;
    let tags = rects(&c, "#links button.tag").await;
    assert_eq!(tags.len(), 3);
    for [_, _, w, h] in tags {
        assert!(h < 32.0, "a tag is {h} px high");
        assert!(w > h * 1.2, "a tag is {w}×{h} px: round");
    }
    s.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn errors_showed_at_the_top_off_screen_and_the_last_result_stayed() {
    // It broke because every error went to one box at the top of the page,
    // and a new attempt never hid the link the previous one made.
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"taken"}"#)
        .await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = phone_browser(profile.path()).await;
    c.goto(&format!("http://{}/", s.addr)).await.unwrap();

    // A wrong key: said under the sign-in form.
    sign_in(&c, "not-the-key-but-as-long-as-one-0123456789ab").await;
    let said = alert(&c, "#signin-error").await;
    assert!(!said.is_empty());
    not_shown(&c, "#error").await;
    sign_in(&c, KEY).await;
    not_shown(&c, "#signin-error").await;

    // A first link, shown with its QR code.
    shown(&c, "#shorten-url")
        .await
        .send_keys("https://first.example/")
        .await
        .unwrap();
    click(&c, "#shorten-submit").await;
    shown(&c, "#shorten-qr").await;

    // A second one under a taken slug: the error under the form, on the
    // screen, and the first link's result gone.
    shown(&c, "#shorten-url")
        .await
        .send_keys("https://second.example/")
        .await
        .unwrap();
    open_options(&c).await;
    shown(&c, "#shorten-slug")
        .await
        .send_keys("taken")
        .await
        .unwrap();
    click(&c, "#shorten-submit").await;
    let said = alert(&c, "#shorten-error").await;
    assert!(said.contains("taken"), "{said}");
    not_shown(&c, "#shorten-result").await;
    not_shown(&c, "#error").await;
    let [_, form_top, _, form_h] = rect(&c, "#shorten-form").await;
    let [_, error_top, _, _] = rect(&c, "#shorten-error").await;
    assert!(
        error_top >= form_top + form_h,
        "the error is not under the form"
    );
    shot(&c, "phone-shorten-error").await;

    // The edit form: a saved change, then a refused one. The error is under
    // the form and "Saved." is gone.
    c.execute("location.hash = '#link/taken';", vec![])
        .await
        .unwrap();
    let max = shown(&c, "#edit-max").await;
    max.send_keys("5").await.unwrap();
    click(&c, "#edit-save").await;
    until_api(&s, "/api/links/taken", |j| j["max_clicks"] == 5).await;
    shown(&c, "#edit-saved").await;
    let url = shown(&c, "#edit-url").await;
    url.clear().await.unwrap();
    url.send_keys(&format!("http://{}/loop", s.addr))
        .await
        .unwrap();
    click(&c, "#edit-save").await;
    let said = alert(&c, "#edit-error").await;
    assert!(said.starts_with("url: "), "{said}");
    let saved = c.find(Locator::Css("#edit-saved")).await.unwrap();
    assert_eq!(saved.text().await.unwrap(), "");
    not_shown(&c, "#error").await;
    shot(&c, "phone-edit-error").await;

    // Delete, when the link went meanwhile: said by the Delete button.
    let r = s.api(Method::DELETE, "/api/links/taken", None).await;
    assert_eq!(r.status, 204);
    click(&c, "#delete").await;
    click(&c, "#delete-yes").await;
    let said = alert(&c, "#delete-error").await;
    assert!(said.contains("taken"), "{said}");
    not_shown(&c, "#error").await;
    s.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn a_url_without_a_scheme_got_only_please_enter_a_url() {
    // It broke because the URL field was `type=url`, which takes only
    // absolute URLs, so `example.com` never reached kurz.
    let s = start_server().await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;
    c.goto(&format!("http://{}/", s.addr)).await.unwrap();
    sign_in(&c, KEY).await;
    shown(&c, "#shorten-url")
        .await
        .send_keys("example.com/page?a=1")
        .await
        .unwrap();
    click(&c, "#shorten-submit").await;
    shown(&c, "#shorten-result").await;
    let note = shown(&c, "#shorten-note").await.text().await.unwrap();
    assert!(note.contains("https://example.com/page?a=1"), "{note}");
    until_api(&s, "/api/links", |j| {
        j["links"][0]["url"] == "https://example.com/page?a=1"
    })
    .await;
    shot(&c, "scheme-added").await;

    // With a scheme, the URL goes as typed, and the note goes away.
    shown(&c, "#shorten-url")
        .await
        .send_keys("http://plain.example/")
        .await
        .unwrap();
    click(&c, "#shorten-submit").await;
    until_api(&s, "/api/links", |j| {
        j["links"][0]["url"] == "http://plain.example/"
    })
    .await;
    not_shown(&c, "#shorten-note").await;
    s.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn dead_links_looked_alive_in_the_list_and_on_their_page() {
    // It broke because the page showed no state: a used-up link and one
    // that expired in 2020 looked like live ones.
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"live"}"#)
        .await;
    s.create(r#"{"url":"https://a.example/","slug":"once","max_clicks":1}"#)
        .await;
    assert_eq!(s.get("/once").await.status, 302);
    s.create(r#"{"url":"https://a.example/","slug":"dated"}"#)
        .await;
    let r = s
        .api(
            Method::PATCH,
            "/api/links/dated",
            Some(r#"{"expires_at":"2020-01-01T00:00:00Z"}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;
    c.goto(&format!("http://{}/", s.addr)).await.unwrap();
    sign_in(&c, KEY).await;
    wait_listed(&c, &["/dated", "/once", "/live"]).await;

    // Each row: its state, if not active, as text (not only a colour).
    let mut marks = Vec::new();
    for li in c.find_all(Locator::Css("#links li")).await.unwrap() {
        let mark = match li.find(Locator::Css(".link-state")).await {
            Ok(m) => m.text().await.unwrap(),
            Err(_) => String::new(),
        };
        let class = li.attr("class").await.unwrap().unwrap_or_default();
        marks.push((mark, class.contains("dead")));
    }
    assert_eq!(
        marks,
        [
            ("expired".to_owned(), true),
            ("used up".to_owned(), true),
            (String::new(), false)
        ]
    );
    shot(&c, "dead-links").await;

    // Each link's page says it too.
    for (slug, state) in [
        ("dated", "expired: a click gets 410 Gone"),
        ("once", "used up: a click gets 410 Gone"),
        ("live", "active"),
    ] {
        c.execute(&format!("location.hash = '#link/{slug}';"), vec![])
            .await
            .unwrap();
        let started = std::time::Instant::now();
        loop {
            let now = shown(&c, "#detail-state").await.text().await.unwrap();
            if now == state {
                break;
            }
            assert!(
                started.elapsed() < WAIT,
                "{slug} shows {now:?}, not {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    c.execute("location.hash = '#link/dated';", vec![])
        .await
        .unwrap();
    shown(&c, "#detail-state.dead").await;
    shot(&c, "dead-link-detail").await;
    s.stop().await;
}
