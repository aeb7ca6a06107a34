//! Tags: checking the labels users put on links.
//!
//! A tag is 1 to 32 characters of `[a-z0-9-]`; input is lower-cased first,
//! so `Work` and `work` are one tag. A link has at most [`MAX_TAGS`] tags,
//! kept sorted and without repeats, which is the form the store and its tag
//! index rely on.

use thiserror::Error;

/// Most tags one link may have (after repeats are removed).
pub const MAX_TAGS: usize = 16;

/// Longest tag, in characters.
pub const MAX_LEN: usize = 32;

/// Why a list of tags was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TagError {
    /// A tag is empty, too long or has a character outside `[a-z0-9-]`.
    #[error("'{0}' is not a tag: use 1 to {MAX_LEN} of a-z, 0-9 and -")]
    Invalid(String),
    /// More than [`MAX_TAGS`] different tags.
    #[error("{0} tags; a link may have at most {MAX_TAGS}")]
    TooMany(usize),
}

/// The tag `raw` lower-cased, if it is a valid tag.
///
/// # Errors
/// [`TagError::Invalid`] naming `raw`.
pub fn check(raw: &str) -> Result<String, TagError> {
    let tag = raw.to_ascii_lowercase();
    let ok = (1..=MAX_LEN).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(tag)
    } else {
        Err(TagError::Invalid(raw.to_owned()))
    }
}

/// The tags of `raw` lower-cased, sorted and without repeats.
///
/// # Errors
/// The first invalid tag, or [`TagError::TooMany`] past [`MAX_TAGS`].
pub fn normalize<S: AsRef<str>>(raw: &[S]) -> Result<Vec<String>, TagError> {
    let mut tags = raw
        .iter()
        .map(|t| check(t.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    tags.sort_unstable();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        return Err(TagError::TooMany(tags.len()));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_cases_sorts_and_drops_repeats() {
        let tags = normalize(&["Work", "a-1", "work", "ZZ"]).unwrap();
        assert_eq!(tags, ["a-1", "work", "zz"]);
        assert_eq!(normalize::<&str>(&[]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn refuses_bad_characters_lengths_and_too_many() {
        for bad in ["", "a_b", "a b", "é", &"x".repeat(33)] {
            assert_eq!(normalize(&[bad]), Err(TagError::Invalid(bad.to_owned())));
        }
        assert!(check(&"x".repeat(32)).is_ok());
        let many: Vec<String> = (0..17).map(|i| format!("t{i}")).collect();
        assert_eq!(normalize(&many), Err(TagError::TooMany(17)));
        // Repeats do not count against the limit.
        let repeated: Vec<String> = (0..40).map(|i| format!("t{}", i % 16)).collect();
        assert_eq!(normalize(&repeated).unwrap().len(), 16);
    }
}
