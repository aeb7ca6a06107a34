//! Fuzzes `kurz::target::TargetRules::check`, the gate every target URL passes before it is stored.
//!
//! The input is read as UTF-8 (lossily: the JSON and command-line paths only
//! ever hand over valid `&str`) and checked by three rule sets: without a base
//! URL (the offline tools), with a base at a root with a port, and with a base
//! under a path. Invariants checked on every input:
//! - `Empty` exactly for the empty string, `TooLong` for anything past
//!   `MAX_LEN` bytes, `BadChar` exactly when a non-empty input of allowed
//!   length holds whitespace or a control character;
//! - an accepted URL is `http`/`https` with a non-empty host, no user name or
//!   password, at most `MAX_LEN` bytes, only visible ASCII, and becomes a
//!   `Location` header the way the redirect path builds one;
//! - normalization is idempotent: checking the accepted form again accepts it
//!   unchanged;
//! - a base URL only adds the loop rule: a URL accepted with a base is
//!   accepted identically without one, and a URL accepted without a base is,
//!   with one, either accepted identically or refused as `Loop`; every other
//!   refusal is the same with and without a base.

#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use hyper::header::HeaderValue;
use kurz::target::{TargetError, TargetRules, MAX_LEN};
use libfuzzer_sys::fuzz_target;
use url::Url;

struct Rules {
    none: TargetRules,
    bases: Vec<TargetRules>,
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        let base = |s: &str| TargetRules::new(Some(&Url::parse(s).expect("a valid base URL")));
        Rules {
            none: TargetRules::new(None),
            bases: vec![
                base("http://127.0.0.1:8080"),
                base("https://s.example.org/s/"),
            ],
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let rules = rules();
    let plain = rules.none.check(&raw);

    // The cheap checks come first, in this order, whatever the rules.
    assert_eq!(plain == Err(TargetError::Empty), raw.is_empty());
    if raw.len() > MAX_LEN {
        assert_eq!(plain, Err(TargetError::TooLong), "{raw:?}");
    }
    let bad_char = raw.chars().any(|c| c.is_control() || c.is_whitespace());
    let short_enough = !raw.is_empty() && raw.len() <= MAX_LEN;
    assert_eq!(
        plain == Err(TargetError::BadChar),
        short_enough && bad_char,
        "{raw:?} gave {plain:?}"
    );

    if let Ok(url) = &plain {
        check_accepted(&rules.none, &raw, url);
    }
    for with_base in &rules.bases {
        let based = with_base.check(&raw);
        match (&plain, &based) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.as_str(), b.as_str());
                check_accepted(with_base, &raw, b);
            }
            (Ok(_), Err(TargetError::Loop)) => {}
            (Err(TargetError::TooLong), Err(TargetError::Loop)) => {}
            (Err(a), Err(b)) => assert_eq!(a, b, "{raw:?}: the base changed the refusal"),
            _ => panic!("{raw:?}: without a base {plain:?}, with one {based:?}"),
        }
    }
});

/// What every URL the rules accept must be.
fn check_accepted(rules: &TargetRules, raw: &str, url: &Url) {
    let s = url.as_str();
    assert!(
        url.scheme() == "http" || url.scheme() == "https",
        "{raw:?} -> {s}"
    );
    assert!(
        url.host_str().is_some_and(|h| !h.is_empty()),
        "{raw:?} -> {s}"
    );
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{raw:?} -> {s}"
    );
    assert!(s.len() <= MAX_LEN, "{raw:?} -> {} bytes", s.len());
    assert!(s.bytes().all(|b| b.is_ascii_graphic()), "{raw:?} -> {s:?}");
    // The redirect path turns the stored target into `Location` this way; a
    // failure there is a 500 for the link.
    assert!(
        HeaderValue::from_maybe_shared(Bytes::copy_from_slice(s.as_bytes())).is_ok(),
        "{raw:?} -> {s:?} is not a header value"
    );
    // Stored targets are checked again when they are imported or patched:
    // the normalized form must pass as itself.
    match rules.check(s) {
        Ok(again) => assert_eq!(again.as_str(), s, "{raw:?}: not idempotent"),
        Err(e) => panic!("{raw:?} -> {s:?} accepted, but refused on a second check: {e:?}"),
    }
}
