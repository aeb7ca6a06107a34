//! The YOURLS-compatible API, `/yourls-api.php`, over real loopback sockets:
//! every action in every format, both ways to sign (and user + password),
//! timestamps outside YOURLS's window, bad and missing parameters, taken
//! keywords, known URLs, invalid URLs, XML escaping, form bodies, and the
//! brute-force guard shared with `/api/`; and `kurz key --yourls` through
//! the real binary.

mod common;
mod real_binary;

use common::{request, request_from, start_server, TestServer, KEY};
use hyper::Method;
use md5::{Digest, Md5};
use serde_json::Value;

const API: &str = "/yourls-api.php";

/// `pairs` as a query string.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// GET with `pairs` and no credentials.
async fn get(s: &TestServer, pairs: &[(&str, &str)]) -> common::Resp {
    s.get(&format!("{API}?{}", form(pairs))).await
}

/// GET with `pairs`, signed with the API key.
async fn signed(s: &TestServer, pairs: &[(&str, &str)]) -> common::Resp {
    let mut all = vec![("signature", KEY)];
    all.extend_from_slice(pairs);
    get(s, &all).await
}

/// A signed JSON request: status and parsed body.
async fn json(s: &TestServer, pairs: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("format", "json")];
    all.extend_from_slice(pairs);
    let r = signed(s, &all).await;
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    (r.status.as_u16(), r.json())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn md5_hex(text: &str) -> String {
    format!("{:x}", Md5::digest(text))
}

#[tokio::test]
async fn shorturl_answers_in_every_format_and_the_link_works() {
    let s = start_server().await;
    let base = format!("http://{}", s.addr);

    let (status, j) = json(
        &s,
        &[
            ("action", "shorturl"),
            ("url", "https://a.example/page"),
            ("keyword", "abc"),
            ("title", "  A   page "),
        ],
    )
    .await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["status"], "success");
    assert_eq!(j["code"], "");
    assert_eq!(j["errorCode"], "");
    assert_eq!(j["statusCode"], "200");
    assert_eq!(j["message"], "https://a.example/page added to database");
    assert_eq!(j["shorturl"], format!("{base}/abc"));
    assert_eq!(j["title"], "A page");
    let url = &j["url"];
    assert_eq!(url["keyword"], "abc");
    assert_eq!(url["url"], "https://a.example/page");
    assert_eq!(url["title"], "A page");
    assert_eq!(url["ip"], "");
    let date = url["date"].as_str().unwrap();
    assert!(
        time::PrimitiveDateTime::parse(
            date,
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]")
        )
        .is_ok(),
        "{date}"
    );
    // The keys come in YOURLS's order, `/` escaped as PHP's json_encode does.
    let r = signed(
        &s,
        &[
            ("format", "json"),
            ("action", "shorturl"),
            ("url", "https://b.example/"),
        ],
    )
    .await;
    let text = r.text();
    assert!(
        text.starts_with(r#"{"status":"success","code":"","message":"https:\/\/b.example\/ added to database","errorCode":"","statusCode":"200","url":{"keyword":""#),
        "{text}"
    );
    assert!(text.contains(r#","shorturl":"http:\/\/"#), "{text}");
    // A generated keyword has the server's slug length; no title gives the URL.
    let j = r.json();
    assert_eq!(j["url"]["keyword"].as_str().unwrap().len(), 7);
    assert_eq!(j["title"], "https://b.example/");

    // XML is the default format.
    let r = signed(
        &s,
        &[
            ("action", "shorturl"),
            ("url", "https://c.example/"),
            ("keyword", "c"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    let xml = r.text();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root><status>success</status><code></code><message>https://c.example/ added to database</message><errorCode></errorCode><statusCode>200</statusCode><url><keyword>c</keyword><url>https://c.example/</url>"),
        "{xml}"
    );
    assert!(
        xml.ends_with(&format!("<shorturl>{base}/c</shorturl></root>\n")),
        "{xml}"
    );

    // simple: the short URL alone.
    let r = signed(
        &s,
        &[
            ("action", "shorturl"),
            ("url", "https://d.example/"),
            ("keyword", "d"),
            ("format", "simple"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.text(), format!("{base}/d"));

    // jsonp: the callback wraps the JSON, which echoes it.
    let r = signed(
        &s,
        &[
            ("action", "shorturl"),
            ("url", "https://e.example/"),
            ("keyword", "e"),
            ("format", "jsonp"),
            ("callback", "cb_1"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    let text = r.text();
    let inner = text.strip_prefix("cb_1(").and_then(|t| t.strip_suffix(')'));
    let j: Value = serde_json::from_str(inner.unwrap()).unwrap();
    assert_eq!(j["shorturl"], format!("{base}/e"));
    assert_eq!(j["callback"], "cb_1");

    // Every link made this way redirects.
    for (kw, to) in [
        ("abc", "https://a.example/page"),
        ("c", "https://c.example/"),
    ] {
        let r = s.get(&format!("/{kw}")).await;
        assert_eq!(r.status, 302);
        assert_eq!(r.header("location"), Some(to));
    }
    s.stop().await;
}

#[tokio::test]
async fn jsonp_callbacks_are_checked_as_yourls_checks_them() {
    let s = start_server().await;
    let version = |extra: Vec<(&'static str, &'static str)>| {
        let mut p = vec![("action", "version"), ("format", "jsonp")];
        p.extend(extra);
        p
    };
    let r = signed(&s, &version(vec![("callback", "alert(1)")])).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        r#"{"errorCode":"400","error":"Invalid callback parameter"}"#
    );
    let r = signed(&s, &version(vec![("callback", "x\\u2028")])).await;
    assert_eq!(r.status, 400);
    // `jsonp` names the callback too; with neither, YOURLS writes `(...)`.
    let r = signed(&s, &version(vec![("jsonp", "f.g")])).await;
    assert_eq!(r.text(), r#"f.g({"version":"1.10.4","callback":"f.g"})"#);
    let r = signed(&s, &version(vec![])).await;
    assert_eq!(r.text(), r#"({"version":"1.10.4"})"#);
    s.stop().await;
}

#[tokio::test]
async fn a_known_url_a_taken_keyword_and_invalid_urls_fail_as_in_yourls() {
    let s = start_server().await;
    let base = format!("http://{}", s.addr);
    let (status, _) = json(
        &s,
        &[
            ("action", "shorturl"),
            ("url", "https://dup.example/x"),
            ("keyword", "first"),
        ],
    )
    .await;
    assert_eq!(status, 200);

    // The same long URL again: YOURLS names the link that has it.
    let (status, j) = json(
        &s,
        &[
            ("action", "shorturl"),
            ("url", "https://dup.example/x"),
            ("keyword", "second"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{j}");
    assert_eq!(j["status"], "fail");
    assert_eq!(j["code"], "error:url");
    assert_eq!(j["errorCode"], "400");
    assert_eq!(j["statusCode"], "400");
    assert_eq!(
        j["message"],
        format!(
            "https://dup.example/x already exists in database (short URL: {}/first)",
            s.addr
        )
    );
    assert_eq!(j["shorturl"], format!("{base}/first"));
    assert_eq!(j["url"]["keyword"], "first");
    assert_eq!(j["url"]["clicks"], 0);
    assert_eq!(s.get("/second").await.status, 404, "nothing was made");
    let r = signed(
        &s,
        &[
            ("action", "shorturl"),
            ("url", "https://dup.example/x"),
            ("format", "simple"),
        ],
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.text()),
        (400, format!("{base}/first"))
    );

    // A taken keyword, and a reserved one.
    for kw in ["first", "api"] {
        let (status, j) = json(
            &s,
            &[
                ("action", "shorturl"),
                ("url", "https://other.example/"),
                ("keyword", kw),
            ],
        )
        .await;
        assert_eq!(status, 400, "{j}");
        assert_eq!(j["status"], "fail");
        assert_eq!(j["code"], "error:keyword");
        assert_eq!(
            j["message"],
            format!("Short URL {kw} already exists in database or is reserved")
        );
        assert!(j.get("shorturl").is_none());
    }
    // YOURLS drops what a keyword may not hold.
    let (status, j) = json(
        &s,
        &[
            ("action", "shorturl"),
            ("url", "https://other.example/"),
            ("keyword", "a b!c"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["shorturl"], format!("{base}/abc"));

    // Missing, malformed, unsafe, and our own URLs.
    for (url, code, message) in [
        (None, "error:nourl", "Missing or malformed URL"),
        (Some(""), "error:nourl", "Missing or malformed URL"),
        (Some("not a url"), "error:nourl", "Missing or malformed URL"),
        (
            Some("javascript:alert(1)"),
            "error:nourl",
            "Missing or malformed URL",
        ),
        (
            Some("https://user:pw@a.example/"),
            "error:nourl",
            "Missing or malformed URL",
        ),
        (
            Some(&format!("{base}/first")),
            "error:noloop",
            "URL is a short URL",
        ),
    ] {
        let mut p = vec![("action", "shorturl")];
        if let Some(u) = url {
            p.push(("url", u));
        }
        let (status, j) = json(&s, &p).await;
        assert_eq!(status, 400, "{url:?}: {j}");
        assert_eq!(
            (
                j["status"].as_str(),
                j["code"].as_str(),
                j["message"].as_str()
            ),
            (Some("fail"), Some(code), Some(message)),
            "{url:?}"
        );
        assert_eq!(j["statusCode"], "400");
    }
    s.stop().await;
}

#[tokio::test]
async fn expand_and_url_stats_take_a_keyword_or_a_short_url() {
    let s = start_server().await;
    let base = format!("http://{}", s.addr);
    json(
        &s,
        &[
            ("action", "shorturl"),
            ("url", "https://x.example/long"),
            ("keyword", "xk"),
        ],
    )
    .await;
    assert_eq!(s.get("/xk").await.status, 302);
    assert_eq!(s.get("/xk").await.status, 302);

    for short in ["xk".to_owned(), format!("{base}/xk")] {
        let (status, j) = json(&s, &[("action", "expand"), ("shorturl", &short)]).await;
        assert_eq!(status, 200, "{j}");
        assert_eq!(
            j,
            serde_json::json!({
                "keyword": "xk",
                "shorturl": format!("{base}/xk"),
                "longurl": "https://x.example/long",
                "title": "https://x.example/long",
                "message": "success",
                "statusCode": "200",
            })
        );
        let (status, j) = json(&s, &[("action", "url-stats"), ("shorturl", &short)]).await;
        assert_eq!(status, 200, "{j}");
        assert_eq!(j["statusCode"], "200");
        assert_eq!(j["message"], "success");
        let link = &j["link"];
        assert_eq!(link["shorturl"], format!("{base}/xk"));
        assert_eq!(link["url"], "https://x.example/long");
        assert_eq!(link["clicks"], 2, "clicks are counted live");
        assert_eq!(link["ip"], "");
        assert_eq!(link["timestamp"].as_str().unwrap().len(), 19);
    }
    let r = signed(
        &s,
        &[
            ("action", "expand"),
            ("shorturl", "xk"),
            ("format", "simple"),
        ],
    )
    .await;
    assert_eq!(r.text(), "https://x.example/long");
    let r = signed(
        &s,
        &[
            ("action", "url-stats"),
            ("shorturl", "xk"),
            ("format", "simple"),
        ],
    )
    .await;
    assert_eq!(r.text(), "Need either XML or JSON format for stats");

    // Unknown, malformed and missing short URLs.
    for short in [Some("nope"), Some("no/such"), Some(""), None] {
        let mut p = vec![("action", "expand")];
        p.extend(short.map(|v| ("shorturl", v)));
        let (status, j) = json(&s, &p).await;
        assert_eq!(status, 404, "{short:?}: {j}");
        assert_eq!(j["message"], "Error: short URL not found");
        assert_eq!(j["errorCode"], "404");
        let mut p = vec![("action", "url-stats")];
        p.extend(short.map(|v| ("shorturl", v)));
        let (status, j) = json(&s, &p).await;
        assert_eq!(status, 404, "{short:?}: {j}");
        assert_eq!(
            j,
            serde_json::json!({"statusCode": "404", "message": "Error: short URL not found"})
        );
    }
    let r = signed(
        &s,
        &[
            ("action", "expand"),
            ("shorturl", "nope"),
            ("format", "simple"),
        ],
    )
    .await;
    assert_eq!((r.status.as_u16(), r.text()), (404, "not found".to_owned()));
    s.stop().await;
}

#[tokio::test]
async fn stats_and_db_stats_rank_and_count_every_link() {
    let s = start_server().await;
    let base = format!("http://{}", s.addr);
    for (kw, clicks) in [("one", 1), ("three", 3), ("zero", 0), ("two", 2)] {
        let url = format!("https://{kw}.example/");
        let (status, _) = json(
            &s,
            &[("action", "shorturl"), ("url", &url), ("keyword", kw)],
        )
        .await;
        assert_eq!(status, 200);
        for _ in 0..clicks {
            assert_eq!(s.get(&format!("/{kw}")).await.status, 302);
        }
        // Distinct creation times for `last`.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let order = |j: &Value| -> Vec<String> {
        let links = j["links"].as_object().unwrap();
        (1..=links.len())
            .map(|i| {
                let l = &links[&format!("link_{i}")];
                let short = l["shorturl"].as_str().unwrap();
                short.rsplit('/').next().unwrap().to_owned()
            })
            .collect()
    };
    let totals = serde_json::json!({"total_links": 4, "total_clicks": 6});

    let (status, j) = json(
        &s,
        &[("action", "stats"), ("filter", "top"), ("limit", "3")],
    )
    .await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(order(&j), ["three", "two", "one"]);
    assert_eq!(j["stats"], totals);
    assert_eq!(j["statusCode"], "200");
    assert_eq!(j["message"], "success");
    let top = &j["links"]["link_1"];
    assert_eq!(top["shorturl"], format!("{base}/three"));
    assert_eq!(top["url"], "https://three.example/");
    assert_eq!(top["clicks"], 3);
    assert_eq!(top["ip"], "");
    assert!(top["timestamp"].is_string() && top["title"].is_string());

    let (_, j) = json(
        &s,
        &[("action", "stats"), ("filter", "bottom"), ("limit", "2")],
    )
    .await;
    assert_eq!(order(&j), ["zero", "one"]);
    let (_, j) = json(
        &s,
        &[("action", "stats"), ("filter", "last"), ("limit", "10")],
    )
    .await;
    assert_eq!(order(&j), ["two", "zero", "three", "one"]);
    let (_, j) = json(
        &s,
        &[
            ("action", "stats"),
            ("filter", "top"),
            ("limit", "2"),
            ("start", "1"),
        ],
    )
    .await;
    assert_eq!(order(&j), ["two", "one"]);
    let (_, j) = json(
        &s,
        &[("action", "stats"), ("filter", "rand"), ("limit", "4")],
    )
    .await;
    let mut all = order(&j);
    all.sort();
    assert_eq!(all, ["one", "three", "two", "zero"]);
    // No limit (or a limit that is not a number) lists no links, as in YOURLS.
    for p in [
        vec![("action", "stats")],
        vec![("action", "stats"), ("limit", "ten")],
    ] {
        let (status, j) = json(&s, &p).await;
        assert_eq!(status, 200);
        assert!(j.get("links").is_none(), "{j}");
        assert_eq!(j["stats"], totals);
    }

    let (status, j) = json(&s, &[("action", "db-stats")]).await;
    assert_eq!(status, 200);
    assert_eq!(
        j,
        serde_json::json!({"db-stats": totals, "statusCode": "200", "message": "success"})
    );
    let r = signed(&s, &[("action", "db-stats")]).await;
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root><db-stats><total_links>4</total_links>\
         <total_clicks>6</total_clicks></db-stats><statusCode>200</statusCode>\
         <message>success</message></root>\n"
    );
    let r = signed(
        &s,
        &[("action", "stats"), ("limit", "1"), ("format", "xml")],
    )
    .await;
    assert!(
        r.text()
            .contains(&format!("<links><link_1><shorturl>{base}/three</shorturl>")),
        "{}",
        r.text()
    );
    let r = signed(&s, &[("action", "db-stats"), ("format", "simple")]).await;
    assert_eq!(r.text(), "Need either XML or JSON format for stats");
    s.stop().await;
}

#[tokio::test]
async fn version_and_unknown_actions() {
    let s = start_server().await;
    let (status, j) = json(&s, &[("action", "version")]).await;
    assert_eq!((status, j), (200, serde_json::json!({"version": "1.10.4"})));
    let (_, j) = json(&s, &[("action", "version"), ("db", "1")]).await;
    assert_eq!(
        j,
        serde_json::json!({"version": "1.10.4", "db_version": "507"})
    );
    let r = signed(&s, &[("action", "version"), ("format", "simple")]).await;
    assert_eq!(r.text(), "1.10.4");
    // An unknown format is YOURLS's `simple`.
    let r = signed(&s, &[("action", "version"), ("format", "yaml")]).await;
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.text(), "1.10.4");

    for p in [vec![("action", "delete")], vec![]] {
        let (status, j) = json(&s, &p).await;
        assert_eq!(status, 400);
        assert_eq!(
            j,
            serde_json::json!({"errorCode": "400", "message": "Unknown or missing \"action\" parameter"})
        );
    }
    let r = signed(&s, &[("action", "nope")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root><errorCode>400</errorCode>\
         <message>Unknown or missing \"action\" parameter</message></root>\n"
    );
    // Only GET and POST.
    let r = request(
        s.addr,
        Method::PUT,
        &format!("{API}?format=json"),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    assert_eq!(r.json()["errorCode"], "405");
    // An invalid jsonp callback's 400 replaces it, Allow and all.
    let path = format!("{API}?format=jsonp&callback=a(b)");
    let r = request(s.addr, Method::PUT, &path, &[], None).await;
    assert_eq!((r.status.as_u16(), r.header("allow")), (400, None));
    s.stop().await;
}

#[tokio::test]
async fn requests_are_signed_with_the_key_the_token_or_a_timestamp() {
    let s = start_server().await;
    let version = |extra: &[(&'static str, String)]| {
        let mut q = vec![
            ("action", "version".to_owned()),
            ("format", "json".to_owned()),
        ];
        q.extend_from_slice(extra);
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        format!("{API}?{}", form(&q))
    };
    let ok = |r: &common::Resp| r.status == 200 && r.json()["version"] == "1.10.4";
    let refused = |r: &common::Resp, message: &str| {
        r.status == 403
            && r.json()
                == serde_json::json!({"message": message, "errorCode": "403", "callback": ""})
    };

    // No credentials: YOURLS's 403, in XML unless asked otherwise.
    let r = get(&s, &[("action", "version")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root><message>Please log in</message>\
         <errorCode>403</errorCode><callback></callback></root>\n"
    );
    assert!(refused(&s.get(&version(&[])).await, "Please log in"));
    let r = s
        .get(&format!(
            "{}&callback=cb",
            version(&[]).replace("json", "jsonp")
        ))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.text(),
        r#"cb({"message":"Please log in","errorCode":"403","callback":"cb"})"#
    );

    // The API key as a plain signature, and as a password.
    let key = KEY.to_owned();
    assert!(ok(&s.get(&version(&[("signature", key.clone())])).await));
    let pw = [("username", "admin".to_owned()), ("password", key.clone())];
    assert!(ok(&s.get(&version(&pw)).await));
    let bad_pw = [
        ("username", "admin".to_owned()),
        ("password", "nope".to_owned()),
    ];
    assert!(refused(
        &s.get(&version(&bad_pw)).await,
        "Invalid username or password"
    ));
    let wrong = [("signature", "not-the-key".to_owned())];
    assert!(refused(&s.get(&version(&wrong)).await, "Please log in"));

    // Before the token exists, nothing signs with it.
    let ts = now().to_string();
    let sig = md5_hex(&format!("{ts}{KEY}"));
    let stamped = [("timestamp", ts.clone()), ("signature", sig)];
    assert!(refused(&s.get(&version(&stamped)).await, "Please log in"));

    // `kurz key --yourls` makes the token; the server reads it on need.
    let token = kurz::key::yourls_token(&s.data).unwrap();
    assert!(ok(&s.get(&version(&[("signature", token.clone())])).await));
    let md5_signed = |at: i64| {
        let ts = at.to_string();
        let sig = md5_hex(&format!("{ts}{token}"));
        [("timestamp", ts), ("signature", sig)]
    };
    assert!(ok(&s.get(&version(&md5_signed(now()))).await));
    assert!(ok(&s.get(&version(&md5_signed(now() - 43_000))).await));
    assert!(ok(&s.get(&version(&md5_signed(now() + 600))).await));
    // Outside YOURLS's 12-hour window, either way.
    assert!(refused(
        &s.get(&version(&md5_signed(now() - 43_300))).await,
        "Please log in"
    ));
    assert!(refused(
        &s.get(&version(&md5_signed(now() + 43_300))).await,
        "Please log in"
    ));
    // The API key cannot sign with a timestamp: kurz keeps only its digest.
    let ts = now().to_string();
    let with_key = [
        ("timestamp", ts.clone()),
        ("signature", md5_hex(&format!("{ts}{KEY}"))),
    ];
    assert!(refused(&s.get(&version(&with_key)).await, "Please log in"));
    // Newer YOURLS: `hash` names the algorithm; token first works too.
    let sha = {
        use sha2::Digest as _;
        let d = sha2::Sha512::digest(format!("{token}{ts}"));
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let sha_signed = [
        ("timestamp", ts.clone()),
        ("signature", sha.clone()),
        ("hash", "sha512".to_owned()),
    ];
    assert!(ok(&s.get(&version(&sha_signed)).await));
    let wrong_algo = [
        ("timestamp", ts.clone()),
        ("signature", sha),
        ("hash", "whirlpool".to_owned()),
    ];
    assert!(refused(
        &s.get(&version(&wrong_algo)).await,
        "Please log in"
    ));
    // A timestamp present but empty is neither form, as in YOURLS.
    let empty_ts = [("timestamp", String::new()), ("signature", key)];
    assert!(refused(&s.get(&version(&empty_ts)).await, "Please log in"));
    s.stop().await;
}

#[tokio::test]
async fn wrong_signatures_count_toward_the_guard_shared_with_the_api() {
    use kurz::http::guard::MAX_FAILURES;
    let s = start_server().await;
    let me = Some(std::net::IpAddr::from([127, 0, 0, 3]));
    let path = |sig: &str| {
        format!(
            "{API}?{}",
            form(&[
                ("action", "version"),
                ("format", "json"),
                ("signature", sig)
            ])
        )
    };
    for _ in 0..MAX_FAILURES {
        // No credentials are not a guess and are not counted.
        let r = request_from(
            me,
            s.addr,
            Method::GET,
            &format!("{API}?format=json"),
            &[],
            None,
        )
        .await;
        assert_eq!(r.status, 403);
        let r = request_from(me, s.addr, Method::GET, &path("wrong-guess"), &[], None).await;
        assert_eq!(r.status, 403);
    }
    // Now even the right key waits, in YOURLS's shape, here and on /api/.
    let r = request_from(me, s.addr, Method::GET, &path(KEY), &[], None).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.json()["errorCode"], "429");
    let bearer = format!("Bearer {KEY}");
    let r = request_from(
        me,
        s.addr,
        Method::GET,
        "/api/links",
        &[("authorization", &bearer)],
        None,
    )
    .await;
    r.assert_problem(429);
    // Another address goes on.
    let r = signed(&s, &[("action", "version")]).await;
    assert_eq!(r.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn post_form_bodies_urlencoded_or_multipart_count_and_win_over_the_query() {
    let s = start_server().await;
    let body = form(&[
        ("signature", KEY),
        ("action", "shorturl"),
        ("url", "https://posted.example/?a=1&b=2"),
        ("keyword", "posted"),
        ("format", "json"),
    ]);
    let ct = [("content-type", "application/x-www-form-urlencoded")];
    let r = request(
        s.addr,
        Method::POST,
        &format!("{API}?format=xml&keyword=fromquery"),
        &ct,
        Some(body.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["shorturl"], format!("http://{}/posted", s.addr));
    assert_eq!(j["url"]["url"], "https://posted.example/?a=1&b=2");

    // Another body type is not read, as PHP leaves it out of $_REQUEST.
    let r = request(
        s.addr,
        Method::POST,
        &format!("{API}?format=json&action=version"),
        &[("content-type", "application/json")],
        Some(format!(r#"{{"signature":"{KEY}"}}"#).as_bytes()),
    )
    .await;
    assert_eq!(r.status, 403);
    // Credentials in the query, action in the body.
    let q = form(&[("signature", KEY), ("format", "json")]);
    let r = request(
        s.addr,
        Method::POST,
        &format!("{API}?{q}"),
        &ct,
        Some(b"action=version"),
    )
    .await;
    assert_eq!(r.json()["version"], "1.10.4");
    // multipart/form-data, as PHP's curl sends an array of fields.
    let body = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"signature\"\r\n\r\n{KEY}\r\n\
         --b0undary\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nexpand\r\n\
         --b0undary\r\nContent-Disposition: form-data; name=\"shorturl\"\r\n\r\nposted\r\n\
         --b0undary\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\nsimple\r\n\
         --b0undary--\r\n"
    );
    let multipart = [("content-type", "multipart/form-data; boundary=b0undary")];
    let r = request(s.addr, Method::POST, API, &multipart, Some(body.as_bytes())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "https://posted.example/?a=1&b=2");
    // A body past the cap is refused in YOURLS's shape.
    let big = format!("action=version&pad={}", "x".repeat(70 * 1024));
    let r = request(
        s.addr,
        Method::POST,
        &format!("{API}?{q}"),
        &ct,
        Some(big.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["errorCode"], "413");
    s.stop().await;
}

#[tokio::test]
async fn xml_escapes_a_url_and_a_title_holding_markup() {
    let s = start_server().await;
    let r = signed(
        &s,
        &[
            ("action", "shorturl"),
            ("url", "https://a.example/?q=<&>&r=1"),
            ("keyword", "esc"),
            ("title", "<b>Tom & \"Jerry\"</b>"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let xml = r.text();
    // The URL is stored percent-encoded where it must be (`<`, `>`); its
    // `&` stays, and is escaped in XML, as is all of the title.
    assert!(
        xml.contains("<url>https://a.example/?q=%3C&amp;%3E&amp;r=1</url>"),
        "{xml}"
    );
    assert!(
        xml.contains("<title>&lt;b&gt;Tom &amp; \"Jerry\"&lt;/b&gt;</title>"),
        "{xml}"
    );
    assert!(!xml.contains("<b>") && !xml.contains("& "), "{xml}");
    let r = signed(&s, &[("action", "expand"), ("shorturl", "esc")]).await;
    assert!(
        r.text()
            .contains("<longurl>https://a.example/?q=%3C&amp;%3E&amp;r=1</longurl>"),
        "{}",
        r.text()
    );
    s.stop().await;
}

#[test]
fn kurz_key_yourls_prints_the_token_a_running_server_takes() {
    use std::os::unix::fs::PermissionsExt;
    let sb = real_binary::Sandbox::new();
    let data = sb.data("d");
    let server = real_binary::Server::start(&data);
    // The server makes no token by itself; the command makes it, even while
    // the server runs (the token is not in the database).
    assert!(!data.join("yourls-token").exists());
    let token = sb.kurz("d", &["key", "--yourls"]).ok().trim().to_owned();
    assert_eq!(token.len(), 32, "{token:?}");
    let mode = std::fs::metadata(data.join("yourls-token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    assert_eq!(sb.kurz("d", &["key", "--yourls"]).ok().trim(), token);

    let ts = now().to_string();
    let sig = md5_hex(&format!("{ts}{token}"));
    let path = format!(
        "{API}?{}",
        form(&[
            ("action", "db-stats"),
            ("format", "json"),
            ("timestamp", &ts),
            ("signature", &sig)
        ])
    );
    let r = real_binary::get(server.addr, &path);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["db-stats"]["total_links"], 0);

    // `--new` replaces it; the running server keeps the token it read.
    let newer = sb
        .kurz("d", &["key", "--yourls", "--new"])
        .ok()
        .trim()
        .to_owned();
    assert_ne!(newer, token);
    assert_eq!(real_binary::get(server.addr, &path).status, 200);
    let (status, _) = server.terminate();
    assert!(status.success());
    let again = real_binary::Server::start(&data);
    assert_eq!(real_binary::get(again.addr, &path).status, 403);
    let sig = md5_hex(&format!("{ts}{newer}"));
    let path = format!(
        "{API}?{}",
        form(&[
            ("action", "version"),
            ("timestamp", &ts),
            ("signature", &sig)
        ])
    );
    assert_eq!(real_binary::get(again.addr, &path).status, 200);
    again.terminate();
}

#[tokio::test]
async fn a_damaged_token_file_locks_out_only_the_token() {
    let s = start_server().await;
    let token = "0123456789abcdef0123";
    let by_token = [
        ("action", "version"),
        ("format", "json"),
        ("signature", token),
    ];
    std::fs::write(s.data.join("yourls-token"), "no good\n").unwrap();
    assert_eq!(get(&s, &by_token).await.status, 403);
    let (status, _) = json(&s, &[("action", "version")]).await;
    assert_eq!(status, 200, "the API key still works");
    // Fixed on disk, it is read at the next need.
    std::fs::write(s.data.join("yourls-token"), format!("{token}\n")).unwrap();
    let r = get(&s, &by_token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    s.stop().await;
}
