//! Fuzzes slug validation (`kurz::slug::validate`, `could_exist`) and the list cursor parser built on it.
//!
//! Slugs arrive from outside as custom slugs in create bodies, as path
//! segments of redirects and API routes, and inside the `cursor` query
//! parameter of `GET /api/links` (`kurz::store::Cursor::decode`). The input is
//! read as UTF-8 (lossily). Invariants checked on every input:
//! - `could_exist` agrees with an independent model of the documented shape,
//!   `[A-Za-z0-9_-]{1,64}`;
//! - `validate` accepts exactly the well-shaped slugs that are not reserved;
//!   `Reserved` is only given for well-shaped slugs and carries the slug;
//!   the error variant is the same for the input upper-cased (reserved words
//!   are compared case-insensitively);
//! - a slug that could exist is routable unchanged: `/{slug}` is a valid
//!   request target whose path is exactly that, with one segment;
//! - a cursor that decodes re-encodes into text that decodes to the same
//!   cursor, and its slug could exist; any `<i64>.<slug>` decodes.

#![no_main]

use hyper::Uri;
use kurz::slug::{could_exist, validate, SlugError, MAX_LEN};
use kurz::store::Cursor;
use libfuzzer_sys::fuzz_target;

/// The documented slug shape, written independently of `kurz::slug`.
fn model_shape(s: &str) -> bool {
    (1..=MAX_LEN).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn variant(r: &Result<(), SlugError>) -> std::mem::Discriminant<SlugError> {
    match r {
        Ok(()) => panic!("not an error"),
        Err(e) => std::mem::discriminant(e),
    }
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s: &str = &s;

    let shaped = could_exist(s);
    assert_eq!(shaped, model_shape(s), "{s:?}");

    let v = validate(s);
    match &v {
        Ok(()) => assert!(shaped, "{s:?} validated but could not exist"),
        Err(SlugError::Reserved(word)) => {
            assert!(shaped, "{s:?} reserved but badly shaped");
            assert_eq!(word, s);
        }
        Err(SlugError::Empty) => assert!(s.is_empty()),
        Err(SlugError::TooLong) => assert!(s.len() > MAX_LEN),
        Err(SlugError::BadChar) => assert!(!shaped),
    }
    let upper = s.to_ascii_uppercase();
    let vu = validate(&upper);
    assert_eq!(v.is_ok(), vu.is_ok(), "{s:?} and {upper:?} differ");
    if v.is_err() {
        assert_eq!(variant(&v), variant(&vu), "{s:?} and {upper:?} differ");
    }

    if shaped {
        let target = format!("/{s}");
        let uri: Uri = target
            .parse()
            .unwrap_or_else(|e| panic!("{target:?} is not a request target: {e}"));
        assert_eq!(uri.path(), target);
        assert!(!s.contains('/'));

        let c = Cursor {
            created_at: i64::from_le_bytes(pad8(data)),
            slug: s.to_owned(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c.clone()), "{c:?}");
        assert_eq!(
            Cursor::decode(&format!("-17.{s}")).map(|c| c.created_at),
            Some(-17)
        );
    }

    if let Some(c) = Cursor::decode(s) {
        assert!(could_exist(&c.slug), "{s:?} -> {c:?}");
        assert_eq!(
            Cursor::decode(&c.encode()),
            Some(c.clone()),
            "{s:?} -> {c:?}"
        );
    }
});

/// The first eight bytes of `data`, zero-padded: a creation time to pair
/// with the slug in a cursor.
fn pad8(data: &[u8]) -> [u8; 8] {
    let mut out = [0; 8];
    let n = data.len().min(8);
    out[..n].copy_from_slice(&data[..n]);
    out
}
