//! Fuzzes the create and patch JSON bodies as the HTTP layer parses and checks them.
//!
//! Drives the pure half of `POST /api/links` and `PATCH /api/links/{slug}`:
//! `kurz::http::wire::is_json` on the `Content-Type`, `parse_json` into
//! `CreateRequest` / `PatchRequest`, then their `check` (the same functions
//! the handlers call, with a fixed clock). Input layout: byte 0 picks the
//! body (odd, e.g. `C`: create; even, e.g. `P`: patch); if the rest holds a
//! newline, the part before it is the `Content-Type` value and the part
//! after it the body, otherwise all of it is the body. Invariants checked:
//! - `is_json` ignores ASCII case and anything after the first `;`;
//! - a parse failure is a 400; a parse success means the body was a JSON
//!   object; a check failure is a 422 whose detail starts with the field;
//! - a checked create body yields a link created at the given time whose
//!   target the rules accept again unchanged (and equals the rules' own
//!   normalization of the sent url), whose slug validates, whose expiry is
//!   after now and shows as RFC 3339 that parses back to it, whose
//!   `max_clicks` is at least 1, whose redirect status is allowed and whose
//!   tags are valid, sorted, without repeats and at most 16; the link
//!   survives the record encoding;
//! - a checked patch body obeys the same rules per present field, `url:
//!   null` is refused, and `{}` changes nothing.

#![no_main]

use std::sync::OnceLock;

use kurz::clock;
use kurz::http::wire::{is_json, parse_json, CreateRequest, NewLink, PatchRequest};
use kurz::store::{Link, LinkPatch, REDIRECT_STATUSES};
use kurz::target::TargetRules;
use libfuzzer_sys::fuzz_target;
use url::Url;

/// The clock the checks see: 2023-11-14T22:13:20Z.
const NOW: i64 = 1_700_000_000_000;

/// The fields a 422 may name, as the start of its detail.
const FIELDS: [&str; 6] = [
    "url",
    "slug",
    "expires_at",
    "max_clicks",
    "redirect_status",
    "tags",
];

fn rules() -> &'static TargetRules {
    static RULES: OnceLock<TargetRules> = OnceLock::new();
    RULES.get_or_init(|| {
        let base = Url::parse("https://s.example.org/").expect("a valid base URL");
        TargetRules::new(Some(&base))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (content_type, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&b"application/json"[..], rest),
    };
    check_content_type(content_type);
    if mode & 1 == 1 {
        create(body);
    } else {
        patch(body);
    }
});

fn check_content_type(ct: &[u8]) {
    let verdict = is_json(ct);
    assert_eq!(verdict, is_json(&ct.to_ascii_uppercase()), "{ct:?}");
    let with_params = [ct, b"; charset=utf-8"].concat();
    assert_eq!(verdict, is_json(&with_params), "{ct:?}");
}

fn is_object(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.is_object())
}

fn assert_field_error(e: &kurz::http::error::ApiError) {
    assert_eq!(e.status.as_u16(), 422, "{e:?}");
    assert!(
        FIELDS.iter().any(|f| e.detail.starts_with(f)),
        "a 422 that names no field: {e:?}"
    );
}

/// The rules accept `target` again, unchanged, and it is what they make of `sent`.
fn assert_normalized(sent: &str, target: &str) {
    match rules().check(target) {
        Ok(u) => assert_eq!(u.as_str(), target),
        Err(e) => panic!("stored target {target:?} refused on a second check: {e:?}"),
    }
    let first = rules().check(sent).map(String::from);
    assert_eq!(first.as_deref(), Ok(target));
}

/// An accepted time parses to `at`, and the API can show it as RFC 3339
/// that parses back to the same instant.
fn assert_time(sent: &str, at: i64) {
    assert_eq!(clock::parse_rfc3339(sent), Ok(at), "{sent:?}");
    let shown = clock::format_ms(at);
    assert_eq!(
        clock::parse_rfc3339(&shown),
        Ok(at),
        "{sent:?} was accepted as {at} ms, which the API shows as {shown:?}"
    );
}

/// Tags as the store keeps them: each valid, sorted, no repeats, at most 16.
fn assert_tags(tags: &[String]) {
    assert!(tags.len() <= kurz::tags::MAX_TAGS, "{tags:?}");
    assert!(tags.windows(2).all(|w| w[0] < w[1]), "{tags:?}");
    for t in tags {
        assert_eq!(kurz::tags::check(t).as_ref(), Ok(t));
    }
}

fn assert_record_round_trip(link: &Link) {
    assert_eq!(Link::decode(&link.encode()).as_ref(), Ok(link));
}

fn create(body: &[u8]) {
    let req: CreateRequest = match parse_json(body) {
        Ok(req) => req,
        Err(e) => {
            assert_eq!(e.status.as_u16(), 400, "{e:?}");
            return;
        }
    };
    assert!(
        is_object(body),
        "a create body that is not an object parsed"
    );
    let sent = (
        req.url.clone(),
        req.slug.clone(),
        req.expires_at.clone(),
        req.max_clicks,
        req.redirect_status,
    );
    let NewLink { slug, link } = match req.check(rules(), NOW) {
        Ok(new) => new,
        Err(e) => return assert_field_error(&e),
    };
    let (url, sent_slug, expires_at, max_clicks, redirect_status) = sent;
    assert_eq!(slug, sent_slug);
    if let Some(s) = &slug {
        assert_eq!(kurz::slug::validate(s), Ok(()));
    }
    assert_eq!(link.created_at, NOW);
    assert_normalized(&url, &link.target);
    assert_eq!(expires_at.is_some(), link.expires_at.is_some());
    if let (Some(sent), Some(at)) = (&expires_at, link.expires_at) {
        assert!(at > NOW, "{sent:?} is not in the future");
        assert_time(sent, at);
    }
    assert_eq!(link.max_clicks, max_clicks);
    assert_ne!(link.max_clicks, Some(0));
    assert_eq!(link.redirect_status, redirect_status);
    if let Some(s) = link.redirect_status {
        assert!(REDIRECT_STATUSES.contains(&s), "{s}");
    }
    assert_tags(&link.tags);
    assert_record_round_trip(&link);
}

fn patch(body: &[u8]) {
    let req: PatchRequest = match parse_json(body) {
        Ok(req) => req,
        Err(e) => {
            assert_eq!(e.status.as_u16(), 400, "{e:?}");
            return;
        }
    };
    assert!(is_object(body), "a patch body that is not an object parsed");
    let sent = (
        req.url.clone(),
        req.expires_at.clone(),
        req.max_clicks,
        req.redirect_status,
    );
    let patch = match req.check(rules()) {
        Ok(p) => p,
        Err(e) => return assert_field_error(&e),
    };
    let (url, expires_at, max_clicks, redirect_status) = sent;
    assert!(url != Some(None), "url: null was accepted");
    assert_eq!(url.is_some(), patch.target.is_some());
    if let (Some(Some(sent)), Some(target)) = (&url, &patch.target) {
        assert_normalized(sent, target);
    }
    assert_eq!(expires_at.is_some(), patch.expires_at.is_some());
    if let (Some(Some(sent)), Some(Some(at))) = (&expires_at, patch.expires_at) {
        assert_time(sent, at);
    }
    assert_eq!(patch.max_clicks, max_clicks);
    assert_ne!(patch.max_clicks, Some(Some(0)));
    assert_eq!(patch.redirect_status, redirect_status);
    if let Some(Some(s)) = patch.redirect_status {
        assert!(REDIRECT_STATUSES.contains(&s), "{s}");
    }
    if let Some(tags) = &patch.tags {
        assert_tags(tags);
    }
    let empty = serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()));
    if empty {
        assert_eq!(patch, LinkPatch::default(), "{{}} changed something");
    }
}
