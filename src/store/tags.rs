//! The `tags` tree: for each tag, its links newest first.
//!
//! One sled key per (tag, link): tag ‖ 0x00 ‖ created_at (u64 big-endian)
//! ‖ slug, with an empty value. A tag is `[a-z0-9-]` (see [`crate::tags`]),
//! so the 0x00 ends it unambiguously, and one tag's keys are one range,
//! sorted by time: listing a tag walks that range backwards and never
//! looks at other links.
//!
//! Like the `created` index this is derived data and the link record is
//! the truth. Entries for tags a link gains are written before its record,
//! entries for tags it loses are removed after, and every read checks a hit
//! against the record (see [`super::list`]), so a crash between the writes
//! leaves at most an extra entry, which is skipped, never a wrong link.

use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::created::describe_entry;
use super::walk::{Gap, Step, Walk};
use super::{entry_key, StoreError};

/// Key of `slug` (created at `created_at`) under `tag`.
pub fn tag_key(tag: &str, created_at: i64, slug: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(tag.len() + 9 + slug.len());
    key.extend_from_slice(tag.as_bytes());
    key.push(0);
    key.extend_from_slice(&entry_key(created_at, slug));
    key
}

/// A stretch of the tag index sled could not read, as a store error.
fn unreadable(gap: &Gap) -> StoreError {
    let show = |k: &[u8]| match k.iter().position(|&b| b == 0) {
        Some(at) => format!(
            "tag '{}' at {}",
            String::from_utf8_lossy(&k[..at]),
            describe_entry(&k[at + 1..])
        ),
        None => format!("'{}'", String::from_utf8_lossy(k)),
    };
    StoreError::Corrupt {
        detail: format!(
            "the tag index {} cannot be read ({}): links tagged then are not listed by tag",
            gap.describe(show),
            gap.error
        ),
    }
}

/// Handle on the `tags` tree.
pub struct TagIndex {
    tree: sled::Tree,
    /// Held across a change of a link's tags (index writes, record write,
    /// index removals), so two changes of tags never interleave and remove
    /// an entry the other one needs. A std mutex: the work under it is
    /// blocking sled calls, never an `.await`.
    writer: Mutex<()>,
}

impl TagIndex {
    /// The index over `tree`.
    pub fn new(tree: sled::Tree) -> TagIndex {
        TagIndex {
            tree,
            writer: Mutex::new(()),
        }
    }

    /// Serializes changes of tags; see the `writer` field.
    pub fn lock(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the entries of `slug` for `tags`; adding one twice is harmless.
    ///
    /// # Errors
    /// sled errors.
    pub fn insert<S: AsRef<str>>(
        &self,
        tags: &[S],
        created_at: i64,
        slug: &str,
    ) -> Result<(), StoreError> {
        for tag in tags {
            self.tree
                .insert(tag_key(tag.as_ref(), created_at, slug), &[])?;
        }
        Ok(())
    }

    /// Removes the entries of `slug` for `tags`; absent ones are harmless.
    ///
    /// # Errors
    /// sled errors.
    pub fn remove<S: AsRef<str>>(
        &self,
        tags: &[S],
        created_at: i64,
        slug: &str,
    ) -> Result<(), StoreError> {
        for tag in tags {
            self.tree.remove(tag_key(tag.as_ref(), created_at, slug))?;
        }
        Ok(())
    }

    /// The `created` index entries (created_at ‖ slug, see [`entry_key`])
    /// of the links under `tag`, strictly before `before` (all when
    /// `None`), newest first.
    pub fn newest_first<'a>(
        &'a self,
        tag: &str,
        before: Option<&[u8]>,
    ) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + 'a {
        let mut start = tag.as_bytes().to_vec();
        start.push(0);
        let prefix = start.len();
        let end = match before {
            Some(b) => [start.as_slice(), b].concat(),
            None => {
                let mut end = tag.as_bytes().to_vec();
                end.push(1);
                end
            }
        };
        let (lo, hi) = (Bound::Included(start.into()), Bound::Excluded(end.into()));
        Walk::new(&self.tree, lo, hi, true).map(move |item| match item? {
            Step::Entry(key, _) => Ok(key.get(prefix..).unwrap_or_default().to_vec()),
            Step::Gap(gap) => Err(unreadable(&gap)),
        })
    }

    /// Every entry as (tag, created_at ‖ slug), for `kurz check`. An entry
    /// that does not have the shape of one is an `Err`.
    pub fn entries(&self) -> impl Iterator<Item = Result<(String, Vec<u8>), StoreError>> + '_ {
        Walk::all(&self.tree).map(|item| {
            let key = match item? {
                Step::Entry(key, _) => key,
                Step::Gap(gap) => return Err(unreadable(&gap)),
            };
            let damaged = || StoreError::corrupt(&key, "tag index entry");
            let at = key.iter().position(|&b| b == 0).ok_or_else(damaged)?;
            let tag = std::str::from_utf8(&key[..at]).map_err(|_| damaged())?;
            let rest = &key[at + 1..];
            if rest.len() <= 8 {
                return Err(damaged());
            }
            Ok((tag.to_owned(), rest.to_vec()))
        })
    }

    /// Whether `slug` (created at `created_at`) has an entry under `tag`.
    ///
    /// # Errors
    /// sled errors.
    pub fn contains(&self, tag: &str, created_at: i64, slug: &str) -> Result<bool, StoreError> {
        Ok(self.tree.contains_key(tag_key(tag, created_at, slug))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> (TagIndex, sled::Db) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        (TagIndex::new(db.open_tree("tags").unwrap()), db)
    }

    fn listed(ix: &TagIndex, tag: &str, before: Option<&[u8]>) -> Vec<Vec<u8>> {
        ix.newest_first(tag, before).map(Result::unwrap).collect()
    }

    #[test]
    fn one_tag_lists_only_its_links_newest_first() {
        let (ix, _db) = index();
        // "a" and "a-b" share a prefix: the 0x00 keeps them apart.
        for (i, tags) in [vec!["a"], vec!["a", "a-b"], vec!["a-b"], vec!["a", "b"]]
            .iter()
            .enumerate()
        {
            ix.insert(tags, i as i64 + 10, &format!("s{i}")).unwrap();
        }
        let a = listed(&ix, "a", None);
        assert_eq!(
            a,
            [
                entry_key(13, "s3"),
                entry_key(11, "s1"),
                entry_key(10, "s0")
            ]
        );
        assert_eq!(listed(&ix, "a", Some(&a[0])), a[1..].to_vec());
        assert_eq!(
            listed(&ix, "a-b", None),
            [entry_key(12, "s2"), entry_key(11, "s1")]
        );
        assert!(listed(&ix, "c", None).is_empty());
        ix.remove(&["a", "a-b"], 11, "s1").unwrap();
        ix.remove(&["a"], 11, "s1").unwrap();
        assert_eq!(
            listed(&ix, "a", None),
            [entry_key(13, "s3"), entry_key(10, "s0")]
        );
        assert!(ix.contains("b", 13, "s3").unwrap());
        assert!(!ix.contains("b", 12, "s3").unwrap());
        assert_eq!(ix.entries().count(), 4);
    }
}
