//! Unit tests of `target`.

use super::*;

fn rules() -> TargetRules {
    TargetRules::new(Some(&Url::parse("http://127.0.0.1:8080").unwrap()))
}

#[test]
fn accepts_and_normalizes_web_urls() {
    let u = rules().check("HTTPS://Example.COM/a b".replace(' ', "").as_str());
    assert_eq!(u.unwrap().as_str(), "https://example.com/ab");
    let u = rules().check("https://bücher.example/straße?q=ü").unwrap();
    assert_eq!(
        u.as_str(),
        "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"
    );
}

#[test]
fn refuses_what_a_shortener_must_not_hand_out() {
    let r = rules();
    assert_eq!(r.check(""), Err(TargetError::Empty));
    assert_eq!(
        r.check("/relative"),
        Err(TargetError::Parse(url::ParseError::RelativeUrlWithoutBase))
    );
    assert_eq!(
        r.check("JaVaScRiPt:alert(1)"),
        Err(TargetError::Scheme("javascript".into()))
    );
    assert_eq!(
        r.check("ftp://example.com/"),
        Err(TargetError::Scheme("ftp".into()))
    );
    assert_eq!(
        r.check("https://paypal.com@evil.example/"),
        Err(TargetError::Credentials)
    );
    assert_eq!(r.check("https://a.example/\tx"), Err(TargetError::BadChar));
    assert_eq!(r.check(" https://a.example/"), Err(TargetError::BadChar));
    assert_eq!(
        r.check("https://a.example/\u{0}"),
        Err(TargetError::BadChar)
    );
    let long = format!("https://a.example/{}", "x".repeat(MAX_LEN));
    assert_eq!(r.check(&long), Err(TargetError::TooLong));
}

#[test]
fn refuses_loops_back_to_this_server() {
    let r = rules();
    assert_eq!(r.check("http://127.0.0.1:8080/abc"), Err(TargetError::Loop));
    assert_eq!(r.check("http://127.0.0.1:8080"), Err(TargetError::Loop));
    assert!(r.check("http://127.0.0.1:9090/abc").is_ok());
    let sub = TargetRules::new(Some(&Url::parse("https://ex.example/s/").unwrap()));
    assert_eq!(sub.check("https://EX.example/s/x"), Err(TargetError::Loop));
    assert!(sub.check("https://ex.example/other").is_ok());
    assert!(sub.check("https://ex.example/sx").is_ok());
}

// The loop check compared host text, so with base http://127.0.0.1:PORT
// the spellings below passed, and `curl -L` looped, a click per hop.
#[test]
fn refuses_loops_spelled_as_another_address_of_this_machine() {
    let r = rules();
    for raw in [
        "http://[::ffff:127.0.0.1]:8080/x",
        "http://[::ffff:7f00:1]:8080/x",
        "http://0.0.0.0:8080/x",
        "http://[::]:8080/x",
        "http://[::1]:8080/x",
        "http://127.1:8080/x",
        "http://127.0.0.2:8080/x",
        "http://0x7f000001:8080/x",
        "http://localhost:8080/x",
        "http://LocalHost.:8080/x",
        "http://a.localhost:8080/x",
    ] {
        assert_eq!(r.check(raw), Err(TargetError::Loop), "{raw}");
    }
    assert!(r.check("http://[::ffff:127.0.0.1]:9090/x").is_ok());
    assert!(r.check("http://192.0.2.1:8080/x").is_ok());
    let public = TargetRules::new(Some(&Url::parse("http://192.0.2.7:8080").unwrap()));
    assert_eq!(
        public.check("http://[::ffff:c000:207]:8080/x"),
        Err(TargetError::Loop)
    );
    assert!(public.check("http://127.0.0.1:8080/x").is_ok());
}

// URLs are stored with punycode hosts, so the page showed
// `xn--mnchen-3ya.example` where the user typed `münchen.example`.
#[test]
fn latin_hosts_are_shown_in_unicode_and_look_alike_scripts_are_not() {
    let show = |raw: &str| display_form(rules().check(raw).unwrap().as_str());
    assert_eq!(
        show("https://münchen.example/straße?q=ü"),
        "https://münchen.example/stra%C3%9Fe?q=%C3%BC"
    );
    assert_eq!(
        show("https://bücher.example:8443/x"),
        "https://bücher.example:8443/x"
    );
    assert_eq!(show("https://Việt.example/"), "https://việt.example/");
    // Cyrillic а in "аpple": shown as stored.
    assert_eq!(show("https://аpple.com/"), "https://xn--pple-43d.com/");
    assert_eq!(show("https://例え.jp/"), "https://xn--r8jz45g.jp/");
    assert_eq!(
        show("https://example.com/a%20b"),
        "https://example.com/a%20b"
    );
    // A label that only looks like punycode is left alone.
    assert_eq!(
        display_form("https://xn--a.example/"),
        "https://xn--a.example/"
    );
}

// A host that DNS can never resolve was stored as a target.
#[test]
fn refuses_hosts_longer_than_dns_allows() {
    let r = rules();
    let label = "a".repeat(MAX_LABEL_LEN);
    let long_label = "a".repeat(MAX_LABEL_LEN + 1);
    assert!(r.check(&format!("https://{label}.example/")).is_ok());
    assert_eq!(
        r.check(&format!("https://{long_label}.example/")),
        Err(TargetError::LabelTooLong)
    );
    // 4 labels of 63 and a dot each: 255 bytes.
    let host = [label.as_str(); 4].join(".");
    assert_eq!(
        r.check(&format!("https://{host}/")),
        Err(TargetError::HostTooLong)
    );
    let fits = format!("{}.{}", [label.as_str(); 3].join("."), "a".repeat(61));
    assert_eq!(fits.len(), MAX_HOST_LEN);
    assert!(r.check(&format!("https://{fits}/")).is_ok());
    assert!(r.check(&format!("https://{fits}./")).is_ok());
    let e = r
        .check(&format!("https://{}/", "b".repeat(300)))
        .unwrap_err();
    assert!(e.to_string().contains("253"), "{e}");
}

#[test]
fn refuses_loops_spelled_with_trailing_dots_or_the_other_scheme() {
    let r = TargetRules::new(Some(&Url::parse("https://s.example").unwrap()));
    for raw in [
        "https://s.example./abc",
        "https://S.Example./abc",
        "https://s.example../abc",
        "https://s.example%2e/abc",
        "http://s.example/abc",
        "http://s.example:443/abc",
    ] {
        assert_eq!(r.check(raw), Err(TargetError::Loop), "{raw}");
    }
    // Another port on the same host is another service.
    assert!(r.check("https://s.example:8443/abc").is_ok());
    assert!(r.check("http://s.example:8080/abc").is_ok());
    assert!(r.check("https://s.example.evil.example/abc").is_ok());
    // A base given with a trailing dot catches the short spelling too.
    let dotted = TargetRules::new(Some(&Url::parse("https://s.example.").unwrap()));
    assert_eq!(
        dotted.check("https://s.example/abc"),
        Err(TargetError::Loop)
    );
    // A base with an explicit port is only that port, whatever the scheme.
    assert!(rules().check("http://127.0.0.1/abc").is_ok());
    assert_eq!(
        rules().check("https://127.0.0.1:8080/x"),
        Err(TargetError::Loop)
    );
}

// The url crate's own texts were passed on: "not a url" without its
// spaces answered "relative URL without a base".
#[test]
fn refused_urls_are_explained_in_plain_words_not_the_url_crates() {
    let r = rules();
    for (raw, says) in [
        (
            "notaurl",
            "must be an absolute URL starting with http:// or https://",
        ),
        (
            "//evil.example/",
            "must be an absolute URL starting with http://",
        ),
        ("https://a.example:99999/", "port"),
        ("http://256.1.1.1/", "IPv4"),
        ("http://[::1/", "IPv6"),
        ("https://exa%00mple.com/", "digits, '-' and '.'"),
        ("https://xn--a.example/", "xn--"),
        ("not a url", "one unbroken piece of text"),
        ("", "absolute URL"),
    ] {
        let e = r.check(raw).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(says), "{raw:?}: {text}");
        assert!(text.contains(EXAMPLE), "{raw:?}: {text}");
        if let TargetError::Parse(p) = e {
            assert!(!text.contains(&p.to_string()), "{raw:?}: {text}");
        }
    }
}

#[test]
fn the_search_form_decodes_punycode_hosts_and_percent_escapes() {
    let stored = |raw: &str| String::from(rules().check(raw).unwrap());
    let s = stored("https://www.münchen.de:8443/Straße?q=ü#ä");
    assert_eq!(
        s,
        "https://www.xn--mnchen-3ya.de:8443/Stra%C3%9Fe?q=%C3%BC#%C3%A4"
    );
    assert_eq!(
        search_form(&s).as_deref(),
        Some("https://www.münchen.de:8443/Straße?q=ü#ä")
    );
    assert_eq!(
        search_form("http://[2001:db8::1]:8080/a%20b").as_deref(),
        Some("http://[2001:db8::1]:8080/a b")
    );
    assert_eq!(
        search_form("https://a.example/%FF%zz").as_deref(),
        Some("https://a.example/\u{fffd}%zz")
    );
    assert_eq!(search_form("https://a.example/plain"), None);
}
