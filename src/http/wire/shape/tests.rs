//! Unit tests of `shape`.

use super::super::{parse_json, CreateRequest, PatchRequest};

fn create_error(body: &str) -> String {
    let e = parse_json::<CreateRequest>(body.as_bytes()).unwrap_err();
    assert_eq!(e.status, hyper::StatusCode::BAD_REQUEST, "{body}");
    e.detail
}

// serde's text was passed on: it names Rust types and not the field,
// "invalid type: string \"5\", expected u64".
#[test]
fn a_wrong_type_names_the_field_and_what_it_must_be_not_rust_types() {
    let cases = [
        (
            r#"{"url":"https://a.example/","max_clicks":"5"}"#,
            "max_clicks: must be a whole number of at least 1, not the text \"5\"",
        ),
        (
            r#"{"url":"https://a.example/","max_clicks":-1}"#,
            "max_clicks: must be a whole number of at least 1, not the number -1",
        ),
        (
            r#"{"url":"https://a.example/","redirect_status":70000}"#,
            "redirect_status: must be one of the numbers 301, 302, 307 or 308, not the number 70000",
        ),
        (
            r#"{"url":42}"#,
            "url: must be text holding an absolute URL, such as \"https://example.com/page\", not the number 42",
        ),
        (
            r#"{"url":"https://a.example/","tags":["a",1]}"#,
            "tags[1]: must be a tag as text, such as \"work\", not the number 1",
        ),
        (
            r#"{"url":"https://a.example/","tags":"a"}"#,
            "tags: must be a list of tags, such as [\"work\", \"docs\"], not the text \"a\"",
        ),
        (
            r#"{"slug":"x"}"#,
            "url: is required; it must be text holding an absolute URL",
        ),
        (
            r#"{"url":"https://a.example/","colour":"red"}"#,
            "'colour' is not a field kurz knows here; the accepted fields are url, slug, expires_at, max_clicks, redirect_status, tags, password",
        ),
    ];
    for (body, want) in cases {
        let detail = create_error(body);
        assert!(detail.starts_with(want), "{body}: {detail}");
        for jargon in ["invalid type", "expected u64", "u16", "a sequence", "`"] {
            assert!(!detail.contains(jargon), "{body}: {detail}");
        }
    }
}

#[test]
fn a_password_of_the_wrong_type_is_not_repeated_back() {
    let detail = create_error(r#"{"url":"https://a.example/","password":123456789}"#);
    assert_eq!(
        detail,
        "password: must be text (the password), not a number"
    );
}

#[test]
fn a_patch_reads_as_serde_json_read_it() {
    let p: PatchRequest =
        parse_json(br#"{"max_clicks":null,"tags":["a"],"url":"https://a.example/"}"#).unwrap();
    assert_eq!(p.max_clicks, Some(None));
    assert_eq!(p.tags, Some(Some(vec!["a".to_owned()])));
    assert_eq!(p.url, Some(Some("https://a.example/".to_owned())));
    assert_eq!(p.expires_at, None);
    let c: CreateRequest =
        parse_json(br#"{"url":"u","max_clicks":3,"redirect_status":301,"password":"pw"}"#).unwrap();
    assert_eq!((c.max_clicks, c.redirect_status), (Some(3), Some(301)));
    assert_eq!(c.password.map(|p| p.0).as_deref(), Some("pw"));
}

#[test]
fn bytes_that_are_not_json_are_explained_with_their_place() {
    for (body, want) in [
        ("", "the body is empty: send a JSON object"),
        ("{\"url\":", "the body ends before its JSON does"),
        (
            "{url:1}",
            "a field name must be text in double quotes, at line 1 column 2",
        ),
        ("{\"url\":\"a\u{1}\"}", "raw control character"),
        ("{} x", "there is more after the JSON object"),
        ("[1]", "the body must be a JSON object"),
    ] {
        let detail = create_error(body);
        assert!(
            detail.starts_with(want) || detail.contains(want),
            "{body:?}: {detail}"
        );
    }
}
