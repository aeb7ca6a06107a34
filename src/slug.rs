//! Short codes: generating fresh ones and validating the ones users choose.
//!
//! A slug is the path segment of a short URL. Generated slugs are nanoids over
//! `0-9A-Za-z` (no `_`/`-`, so they survive being double-clicked and pasted);
//! custom slugs may also use `_` and `-`. The first path segments the server
//! routes itself are reserved so a link can never shadow a page of kurz.

use thiserror::Error;

/// Longest slug a user may choose, in bytes.
pub const MAX_LEN: usize = 64;

/// Shortest and longest generated slug length that `--slug-length` accepts.
pub const GENERATED_LEN: std::ops::RangeInclusive<usize> = 4..=32;

/// The alphabet of generated slugs (and API keys): digits, upper and lower
/// case ASCII letters.
pub const ALPHABET: [char; 62] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I',
    'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'a', 'b',
    'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u',
    'v', 'w', 'x', 'y', 'z',
];

/// The first path segments kurz routes itself (see
/// [`crate::http::router::ROUTES`]), compared case-insensitively: only
/// these, so that real slugs brought from other shorteners (`docs`,
/// `status`) fit. A route added there under a new first segment must be
/// added here (a test checks), and shadows any link of that name.
const RESERVED: &[&str] = &["api", "assets", "healthz", "metrics"];

/// Why a custom slug was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SlugError {
    /// The slug was the empty string.
    #[error("the slug is empty")]
    Empty,
    /// The slug was longer than [`MAX_LEN`] bytes.
    #[error("the slug is longer than {MAX_LEN} characters")]
    TooLong,
    /// The slug held a character outside `[A-Za-z0-9_-]`.
    #[error("the slug may only contain A-Z, a-z, 0-9, '_' and '-'")]
    BadChar,
    /// The slug is a word kurz routes itself.
    #[error("the slug '{0}' is reserved")]
    Reserved(String),
}

/// Checks a user-chosen slug: `[A-Za-z0-9_-]{1,64}` and not reserved.
///
/// # Errors
/// Returns the first rule the slug breaks.
pub fn validate(slug: &str) -> Result<(), SlugError> {
    check_shape(slug)?;
    if is_reserved(slug) {
        return Err(SlugError::Reserved(slug.to_owned()));
    }
    Ok(())
}

/// True when `slug` could name a stored link: the shape rules without the
/// reserved-word check. The redirect path uses it to answer 404 without
/// touching the store for paths that can never be slugs.
pub fn could_exist(slug: &str) -> bool {
    check_shape(slug).is_ok()
}

fn check_shape(slug: &str) -> Result<(), SlugError> {
    if slug.is_empty() {
        return Err(SlugError::Empty);
    }
    if slug.len() > MAX_LEN {
        return Err(SlugError::TooLong);
    }
    if !slug
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(SlugError::BadChar);
    }
    Ok(())
}

fn is_reserved(slug: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(slug))
}

/// Generates a random slug of `len` characters from `0-9A-Za-z`.
///
/// Uses the operating system's random source through nanoid, so slugs cannot
/// be guessed from earlier ones. Never returns a reserved word.
pub fn generate(len: usize) -> String {
    loop {
        let slug = nanoid::nanoid!(len, &ALPHABET);
        if !is_reserved(&slug) {
            return slug;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        assert_eq!(validate("Ab3_x-9"), Ok(()));
        assert_eq!(validate(&"a".repeat(MAX_LEN)), Ok(()));
    }

    #[test]
    fn refuses_bad_shapes_and_reserved_words() {
        assert_eq!(validate(""), Err(SlugError::Empty));
        assert_eq!(validate(&"a".repeat(MAX_LEN + 1)), Err(SlugError::TooLong));
        assert_eq!(validate("a b"), Err(SlugError::BadChar));
        assert_eq!(validate("a/b"), Err(SlugError::BadChar));
        assert_eq!(validate("ü"), Err(SlugError::BadChar));
        assert_eq!(validate(".."), Err(SlugError::BadChar));
        assert_eq!(validate("API"), Err(SlugError::Reserved("API".into())));
        assert!(could_exist("api"));
    }

    // Words kurz never served (docs, app, status, index, version, ...) were
    // reserved too, so imports from YOURLS lost real slugs such as `Docs`.
    #[test]
    fn only_the_first_segments_kurz_routes_are_reserved() {
        let routed: std::collections::BTreeSet<&str> = crate::http::router::ROUTES
            .iter()
            .filter_map(|(_, path)| path.trim_start_matches('/').split('/').next())
            .filter(|first| could_exist(first))
            .collect();
        let reserved: std::collections::BTreeSet<&str> = RESERVED.iter().copied().collect();
        assert_eq!(reserved, routed);
        for word in [
            "docs", "Docs", "app", "status", "index", "version", "login", "admin",
        ] {
            assert_eq!(validate(word), Ok(()), "{word}");
        }
        assert_eq!(
            validate("Metrics"),
            Err(SlugError::Reserved("Metrics".into()))
        );
    }

    #[test]
    fn generated_slugs_have_the_length_and_alphabet() {
        for len in [4, 7, 32] {
            let s = generate(len);
            assert_eq!(s.len(), len);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
        }
    }
}
