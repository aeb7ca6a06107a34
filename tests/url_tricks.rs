//! Known URL tricks, table-driven, through the real create API
//! (`POST /api/links` over loopback): scheme disguises (case, padding,
//! non-web schemes), credentials in the authority, CR/LF/NUL/tab anywhere
//! (raw in the JSON body and as JSON escapes), percent-encoded control
//! characters in the host, IDN homographs, over-long hosts, odd ports, IP
//! literals, and targets that loop back to kurz itself (case, port, scheme
//! and trailing-dot spellings of its base host).
//!
//! A refused row must get its documented status as problem+json (422 for a
//! url the check refuses, 400 for a raw control character JSON itself
//! forbids) and store nothing. An accepted row must get 201, and following
//! the short link must redirect with `Location` exactly the stored,
//! normalized target: visible ASCII only, punycode hosts, no raw control
//! character or Unicode.

mod common;

use common::{start_server, start_with, Options, TestServer};
use hyper::Method;

/// What a row expects.
enum Want {
    /// 201, stored and redirected to exactly this.
    Stored(String),
    /// This status as problem+json, its detail containing this text.
    Refused(u16, &'static str),
}

/// The reasons a url is refused, as the problem detail words them.
const SCHEME: Want = Want::Refused(422, "only http and https");
const CHAR: Want = Want::Refused(
    422,
    "invisible character: a URL is one unbroken piece of text such as https://example.com/page",
);
const PARSE: Want = Want::Refused(
    422,
    "must be an absolute URL starting with http:// or https://, such as https://example.com/page",
);
const HOST_CHAR: Want = Want::Refused(
    422,
    "host made of letters (any alphabet), digits, '-' and '.'",
);
const PORT: Want = Want::Refused(
    422,
    "port (the number after the host's ':') from 0 to 65535",
);
const IPV4: Want = Want::Refused(422, "IPv4 address of four numbers from 0 to 255");
const IPV6: Want = Want::Refused(422, "valid IPv6 address");
const CREDS: Want = Want::Refused(422, "user name or password");
const LOOP: Want = Want::Refused(422, "loop");
const LABEL_LONG: Want = Want::Refused(422, "longer than 63");
const HOST_LONG: Want = Want::Refused(422, "longer than 253");
/// JSON itself forbids a raw U+0000–U+001F inside a string.
const JSON_CTL: Want = Want::Refused(400, "control character");

fn to(stored: &str) -> Want {
    Want::Stored(stored.to_owned())
}

struct Row {
    name: &'static str,
    body: String,
    want: Want,
}

/// A row whose url is sent JSON-encoded: control characters as `\r`,
/// `\n`, `\t`, `\u0000`; anything else as UTF-8.
fn esc(name: &'static str, url: &str, want: Want) -> Row {
    let body = serde_json::json!({ "url": url }).to_string();
    Row { name, body, want }
}

/// A row whose url is spliced into the body verbatim: raw characters, or
/// escapes written by hand.
fn raw(name: &'static str, url: &str, want: Want) -> Row {
    let body = format!(r#"{{"url":"{url}"}}"#);
    Row { name, body, want }
}

/// Everything but domain-base loops, for a server on the default base
/// `http://127.0.0.1:{port}`.
#[rustfmt::skip]
fn tricks(port: u16) -> Vec<Row> {
    let label64 = format!("https://{}.example/", "a".repeat(64));
    let b60 = "b".repeat(60);
    let host305 = format!("https://{b60}.{b60}.{b60}.{b60}.{b60}.example/");
    let alias = format!("http://localhost:{port}/abc");
    vec![
        // Scheme disguises and non-web schemes.
        esc("mixed-case javascript", "JaVaScRiPt:alert(1)", SCHEME),
        esc("space-padded javascript", "  javascript:alert(1)", CHAR),
        esc("tab-led javascript, escaped", "\tjavascript:alert(1)", CHAR),
        raw("tab-led javascript, raw", "\tjavascript:alert(1)", JSON_CTL),
        esc("newline inside the scheme", "java\nscript:alert(1)", CHAR),
        raw("colon as a JSON escape", r"javascript\u003aalert(1)", SCHEME),
        esc("javascript with an authority", "javascript://a.example/%0Aalert(1)", SCHEME),
        esc("data", "data:text/html;base64,PHNjcmlwdD4=", SCHEME),
        esc("vbscript", "vbscript:msgbox(1)", SCHEME),
        esc("file", "file:///etc/passwd", SCHEME),
        esc("ftp", "ftp://a.example/", SCHEME),
        esc("about", "about:blank", SCHEME),
        esc("blob", "blob:https://a.example/x", SCHEME),
        esc("mailto", "mailto:a@a.example", SCHEME),
        esc("wss", "wss://a.example/", SCHEME),
        esc("protocol-relative", "//evil.example/", PARSE),
        esc("no scheme", "example.com/page", PARSE),
        esc("words, not a url", "not a url", CHAR),
        esc("upper-case https", "HTTPS://Example.COM", to("https://example.com/")),
        esc("http without slashes", "http:evil.example", to("http://evil.example/")),
        esc("backslashes", r"https:\\evil.example\x", to("https://evil.example/x")),
        esc("three slashes", "https:///evil.example/", to("https://evil.example/")),
        // Credentials in the authority.
        esc("userinfo disguise", "https://paypal.com@evil.example/", CREDS),
        esc("user and password", "https://user:pass@host.example/", CREDS),
        esc("empty userinfo", "https://@evil.example/", to("https://evil.example/")),
        esc("empty user and password", "https://:@evil.example/", to("https://evil.example/")),
        esc("@ percent-encoded in the host", "https://paypal.com%40evil.example/", HOST_CHAR),
        esc("backslash before @", r"https://evil.example\@paypal.com/", to("https://evil.example/@paypal.com/")),
        // Control characters and whitespace anywhere, escaped and raw.
        esc("CR in the scheme", "ht\rtps://a.example/", CHAR),
        esc("CR in the host", "https://exa\rmple.com/", CHAR),
        raw("CR in the host, raw", "https://exa\rmple.com/", JSON_CTL),
        esc("CRLF in the path", "https://a.example/\r\nSet-Cookie: a=b", CHAR),
        raw("CRLF in the path, raw", "https://a.example/\r\nSet-Cookie:a=b", JSON_CTL),
        raw("CRLF as JSON escapes", r"https://a.example/\r\nSet-Cookie:a=b", CHAR),
        esc("LF at the end", "https://a.example/\n", CHAR),
        esc("NUL in the host", "https://a.exa\0mple/", CHAR),
        raw("NUL in the query as \\u0000", r"https://a.example/?q=\u0000", CHAR),
        raw("NUL in the query, raw", "https://a.example/?q=\0", JSON_CTL),
        esc("tab in the fragment", "https://a.example/#a\tb", CHAR),
        raw("tab in the fragment, raw", "https://a.example/#a\tb", JSON_CTL),
        raw("DEL in the path, raw", "https://a.example/\x7f", CHAR),
        raw("C1 NEL in the query, raw", "https://a.example/?\u{85}", CHAR),
        esc("no-break space in the path", "https://a.example/a\u{a0}b", CHAR),
        esc("line separator in the fragment", "https://a.example/#\u{2028}", CHAR),
        esc("ideographic space in the host", "https://a\u{3000}.example/", CHAR),
        // Percent-encoded: refused in the host, kept encoded elsewhere.
        esc("%0d%0a in the host", "https://exa%0d%0ample.com/", HOST_CHAR),
        esc("%00 in the host", "https://exa%00mple.com/", HOST_CHAR),
        esc("%0a in the host", "https://exa%0amp.com/", HOST_CHAR),
        esc("%09 in the host", "https://exa%09mple.com/", HOST_CHAR),
        esc("%0d%0a in the path", "https://a.example/%0d%0aSet-Cookie:%20a=b", to("https://a.example/%0d%0aSet-Cookie:%20a=b")),
        // Unicode: punycode hosts, percent-encoded elsewhere.
        esc("Cyrillic a homograph", "https://\u{430}pple.com/", to("https://xn--pple-43d.com/")),
        esc("IDN host", "https://www.bücher.example/", to("https://www.xn--bcher-kva.example/")),
        esc("fullwidth host", "https://ｅｘａｍｐｌｅ.com/", to("https://example.com/")),
        esc("ideographic full stop", "https://example\u{3002}com/", to("https://example.com/")),
        esc("soft hyphen in the host", "https://pay\u{ad}pal.com/", to("https://paypal.com/")),
        esc("zero-width space in the host", "https://pay\u{200b}pal.com/", to("https://paypal.com/")),
        esc("invalid punycode", "https://xn--a.example/", HOST_CHAR),
        esc("Unicode path, query, fragment", "https://a.example/ü?ü#ü", to("https://a.example/%C3%BC?%C3%BC#%C3%BC")),
        esc("right-to-left override", "https://a.example/\u{202e}fdp.exe", to("https://a.example/%E2%80%AEfdp.exe")),
        // Names DNS can never resolve (they were stored before issue 19).
        esc("label over 63", &label64, LABEL_LONG),
        esc("host over 253", &host305, HOST_LONG),
        // Ports.
        esc("port 99999", "https://a.example:99999/", PORT),
        esc("port 65536", "https://a.example:65536/", PORT),
        esc("port -1", "https://a.example:-1/", PORT),
        esc("port 0", "https://a.example:0/", to("https://a.example:0/")),
        esc("port 65535", "https://a.example:65535/", to("https://a.example:65535/")),
        esc("default port", "https://a.example:443/", to("https://a.example/")),
        esc("port with leading zeros", "http://a.example:00080/", to("http://a.example/")),
        // IP literals: loopback and LAN targets are allowed.
        esc("IPv6 loopback", "http://[::1]/", to("http://[::1]/")),
        esc("IPv6 with port", "http://[2001:db8::1]:8080/x", to("http://[2001:db8::1]:8080/x")),
        esc("IPv6 spelled long", "http://[2001:DB8:0:0:0:0:0:1]/", to("http://[2001:db8::1]/")),
        esc("IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]/", to("http://[::ffff:7f00:1]/")),
        esc("IPv6 unclosed", "http://[::1/", IPV6),
        esc("IPv6 zone id", "http://[fe80::1%25eth0]/", IPV6),
        esc("IPv4 in hex", "http://0x7f.1/", to("http://127.0.0.1/")),
        esc("IPv4 as one number", "http://2130706433/", to("http://127.0.0.1/")),
        esc("IPv4 out of range", "http://256.1.1.1/", IPV4),
        esc("LAN address", "http://192.168.1.1/", to("http://192.168.1.1/")),
        // Loops back to the default base http://127.0.0.1:{port}.
        esc("loop", &format!("http://127.0.0.1:{port}/abc"), LOOP),
        esc("loop to the bare base", &format!("http://127.0.0.1:{port}"), LOOP),
        esc("loop, upper-case scheme", &format!("HTTP://127.0.0.1:{port}/abc"), LOOP),
        esc("loop, https", &format!("https://127.0.0.1:{port}/abc"), LOOP),
        esc("loop, trailing dot", &format!("http://127.0.0.1.:{port}/abc"), LOOP),
        esc("loop, IPv4 as one number", &format!("http://2130706433:{port}/abc"), LOOP),
        esc("loop, IPv4 in hex", &format!("http://0x7f000001:{port}/abc"), LOOP),
        esc("loop, dot segments", &format!("http://127.0.0.1:{port}/x/../abc"), LOOP),
        esc("same IP, other port", "http://127.0.0.1:1/abc", to("http://127.0.0.1:1/abc")),
        // Other spellings of this machine's addresses: a loopback base is
        // reached through any of them (they passed before issue 19, and
        // `curl -L` looped, a click per hop).
        esc("loop via localhost (alias)", &alias, LOOP),
        esc("loop, IPv4-mapped IPv6", &format!("http://[::ffff:127.0.0.1]:{port}/x"), LOOP),
        esc("loop, IPv4-mapped IPv6 in hex", &format!("http://[::ffff:7f00:1]:{port}/x"), LOOP),
        esc("loop, unspecified address", &format!("http://0.0.0.0:{port}/x"), LOOP),
        esc("loop, IPv6 loopback", &format!("http://[::1]:{port}/x"), LOOP),
        esc("loop, another loopback address", &format!("http://127.0.0.2:{port}/x"), LOOP),
    ]
}

/// Loops for a server whose base is `https://s.example`.
#[rustfmt::skip]
fn domain_loops() -> Vec<Row> {
    vec![
        esc("loop", "https://s.example/abc", LOOP),
        esc("loop to the bare base", "https://s.example", LOOP),
        esc("loop, upper case", "HTTPS://S.EXAMPLE/abc", LOOP),
        esc("loop, explicit default port", "https://s.example:443/abc", LOOP),
        esc("loop, trailing dot", "https://s.example./abc", LOOP),
        esc("loop, upper case and trailing dot", "https://S.Example./abc", LOOP),
        esc("loop, two trailing dots", "https://s.example../abc", LOOP),
        esc("loop, trailing dot percent-encoded", "https://s.example%2e/abc", LOOP),
        esc("loop, dot percent-encoded", "https://s%2Eexample/abc", LOOP),
        esc("loop, fullwidth host", "https://ｓ.example/abc", LOOP),
        esc("loop, plain http", "http://s.example/abc", LOOP),
        esc("other port", "https://s.example:8443/abc", to("https://s.example:8443/abc")),
        esc("base as a subdomain", "https://s.example.evil.example/abc", to("https://s.example.evil.example/abc")),
        esc("base in the path", "https://evil.example/s.example/abc", to("https://evil.example/s.example/abc")),
    ]
}

async fn count(s: &TestServer) -> usize {
    let r = s.api(Method::GET, "/api/links?limit=1000", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["links"].as_array().unwrap().len()
}

async fn run(s: &TestServer, rows: Vec<Row>) {
    let mut stored = count(s).await;
    for Row { name, body, want } in rows {
        let r = s.api(Method::POST, "/api/links", Some(&body)).await;
        match want {
            Want::Refused(status, reason) => {
                assert_eq!(r.status, status, "{name}: {}", r.text());
                let detail = r.assert_problem(status);
                assert!(detail.contains(reason), "{name}: {detail}");
                if status == 422 {
                    assert!(detail.starts_with("url: "), "{name}: {detail}");
                }
            }
            Want::Stored(want) => {
                assert_eq!(r.status, 201, "{name}: {}", r.text());
                let j = r.json();
                assert_eq!(j["url"], want, "{name}");
                let slug = j["slug"].as_str().unwrap();
                let back = s
                    .api(Method::GET, &format!("/api/links/{slug}"), None)
                    .await;
                assert_eq!(back.json()["url"], want, "{name}");
                let hop = s.get(&format!("/{slug}")).await;
                assert_eq!(hop.status, 302, "{name}");
                let location = hop.headers["location"].as_bytes();
                assert_eq!(location, want.as_bytes(), "{name}");
                assert!(
                    location.iter().all(u8::is_ascii_graphic),
                    "{name}: {location:?} holds a control, space or non-ASCII byte"
                );
                stored += 1;
            }
        }
        assert_eq!(count(s).await, stored, "{name}: the stored links changed");
    }
}

#[tokio::test]
async fn url_tricks_on_the_default_base() {
    let s = start_server().await;
    run(&s, tricks(s.addr.port())).await;
    s.stop().await;
}

#[tokio::test]
async fn loops_on_a_domain_base() {
    let s = start_with(Options {
        base_url: Some("https://s.example".to_owned()),
        ..Options::default()
    })
    .await;
    run(&s, domain_loops()).await;
    s.stop().await;
}
