//! The encoding of a link bucket: many (slug, record) pairs in one sled value.
//!
//! sled 0.34 keeps in memory a page-table entry for every leaf, and a leaf
//! holds at most 16 keys, so one key per link costs ~33 bytes of RAM per link
//! before any caching (330 MB at 10 million links). kurz therefore stores
//! links in hash buckets, at most one sled key per bucket (see
//! [`super::links`]). This file knows only the byte layout, so it can be
//! tested and fuzzed alone:
//!
//! ```text
//! bucket  = version (1 byte, = 1) entry*          entries sorted by slug, no repeats
//! entry   = slug_len (u8) slug record_len (u16 LE) record
//! ```
//!
//! `record` is a [`super::Link`] as [`super::Link::encode`] writes it.

use thiserror::Error;

/// The layout version written in front of every bucket.
const VERSION_1: u8 = 1;

/// Why bytes from the store are not a readable bucket.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BucketError {
    /// The value was empty or starts with an unknown version.
    #[error("unknown bucket format")]
    Version,
    /// An entry runs past the end of the value.
    #[error("bucket entry cut short")]
    Truncated,
    /// Slugs are not in strictly increasing order.
    #[error("bucket entries out of order")]
    Order,
    /// A slug or record is too long to be written (slugs are at most 255
    /// bytes and records 64 KiB; kurz's own limits are far below both).
    #[error("bucket entry too large")]
    TooLarge,
}

/// The entries of a bucket, in slug order. Damage ends the iteration with
/// an error; the entries before it are still served.
pub struct Entries<'a> {
    rest: &'a [u8],
    last: Option<&'a [u8]>,
}

/// Reads the entries of `bytes`.
///
/// # Errors
/// [`BucketError::Version`] when the value is not a bucket at all.
pub fn entries(bytes: &[u8]) -> Result<Entries<'_>, BucketError> {
    match bytes.split_first() {
        Some((&VERSION_1, rest)) => Ok(Entries { rest, last: None }),
        _ => Err(BucketError::Version),
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], BucketError> {
    if rest.len() < n {
        return Err(BucketError::Truncated);
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

impl<'a> Entries<'a> {
    fn entry(&mut self) -> Result<(&'a [u8], &'a [u8]), BucketError> {
        let slug_len = take(&mut self.rest, 1)?[0];
        let slug = take(&mut self.rest, usize::from(slug_len))?;
        let len = take(&mut self.rest, 2)?;
        let record = take(
            &mut self.rest,
            usize::from(u16::from_le_bytes([len[0], len[1]])),
        )?;
        if self.last.is_some_and(|last| last >= slug) {
            return Err(BucketError::Order);
        }
        self.last = Some(slug);
        Ok((slug, record))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), BucketError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = self.entry();
        if item.is_err() {
            // Nothing after damage can be trusted to be where it seems.
            self.rest = &[];
        }
        Some(item)
    }
}

/// The record of `slug` in `bucket`, without decoding any other entry.
///
/// # Errors
/// Damage met before the slug was found.
pub fn find<'a>(bucket: &'a [u8], slug: &[u8]) -> Result<Option<&'a [u8]>, BucketError> {
    for item in entries(bucket)? {
        let (s, record) = item?;
        match s.cmp(slug) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => return Ok(Some(record)),
            std::cmp::Ordering::Greater => return Ok(None),
        }
    }
    Ok(None)
}

fn push(out: &mut Vec<u8>, slug: &[u8], record: &[u8]) -> Result<(), BucketError> {
    let slug_len = u8::try_from(slug.len()).map_err(|_| BucketError::TooLarge)?;
    let record_len = u16::try_from(record.len()).map_err(|_| BucketError::TooLarge)?;
    out.push(slug_len);
    out.extend_from_slice(slug);
    out.extend_from_slice(&record_len.to_le_bytes());
    out.extend_from_slice(record);
    Ok(())
}

/// `bucket` (or an empty one) with the entry of `slug` set to `record`, or
/// removed when `record` is `None`. `None` when the result has no entries.
///
/// # Errors
/// A damaged `bucket` is never rewritten (that would lose the entries after
/// the damage); an entry too large to encode.
pub fn with(
    bucket: Option<&[u8]>,
    slug: &[u8],
    record: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, BucketError> {
    let old_len = bucket.map_or(0, <[u8]>::len);
    let mut out = Vec::with_capacity(old_len + 3 + slug.len() + record.map_or(0, <[u8]>::len));
    out.push(VERSION_1);
    let mut placed = false;
    if let Some(bucket) = bucket {
        for item in entries(bucket)? {
            let (s, r) = item?;
            if !placed && s >= slug {
                placed = true;
                if let Some(record) = record {
                    push(&mut out, slug, record)?;
                }
                if s == slug {
                    continue;
                }
            }
            push(&mut out, s, r)?;
        }
    }
    if !placed {
        if let Some(record) = record {
            push(&mut out, slug, record)?;
        }
    }
    Ok((out.len() > 1).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bucket: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        entries(bucket)
            .unwrap()
            .map(|e| e.map(|(s, r)| (s.to_vec(), r.to_vec())).unwrap())
            .collect()
    }

    #[test]
    fn entries_stay_sorted_and_unique() {
        let b = with(None, b"m", Some(b"1")).unwrap().unwrap();
        let b = with(Some(&b), b"a", Some(b"2")).unwrap().unwrap();
        let b = with(Some(&b), b"z", Some(b"3")).unwrap().unwrap();
        let b = with(Some(&b), b"m", Some(b"4")).unwrap().unwrap();
        assert_eq!(
            all(&b),
            vec![
                (b"a".to_vec(), b"2".to_vec()),
                (b"m".to_vec(), b"4".to_vec()),
                (b"z".to_vec(), b"3".to_vec()),
            ]
        );
        assert_eq!(find(&b, b"m").unwrap(), Some(&b"4"[..]));
        assert_eq!(find(&b, b"b").unwrap(), None);
        assert_eq!(find(&b, b"zz").unwrap(), None);
    }

    #[test]
    fn removing_the_last_entry_empties_the_bucket() {
        let b = with(None, b"a", Some(b"1")).unwrap().unwrap();
        let b = with(Some(&b), b"b", Some(b"2")).unwrap().unwrap();
        let b = with(Some(&b), b"a", None).unwrap().unwrap();
        assert_eq!(all(&b), vec![(b"b".to_vec(), b"2".to_vec())]);
        assert_eq!(with(Some(&b), b"b", None).unwrap(), None);
        // Removing what is not there changes nothing.
        assert_eq!(with(Some(&b), b"c", None).unwrap().unwrap(), b);
    }

    #[test]
    fn damage_is_an_error_and_is_never_rewritten() {
        let b = with(None, b"a", Some(b"1")).unwrap().unwrap();
        let b = with(Some(&b), b"b", Some(b"2")).unwrap().unwrap();
        let cut = &b[..b.len() - 1];
        assert_eq!(find(cut, b"a").unwrap(), Some(&b"1"[..]));
        assert_eq!(find(cut, b"b"), Err(BucketError::Truncated));
        assert_eq!(
            with(Some(cut), b"c", Some(b"3")),
            Err(BucketError::Truncated)
        );
        assert!(entries(&[]).is_err());
        assert!(entries(&[7]).is_err());
        // Out of order: "b" then "a".
        let mut swapped = vec![VERSION_1];
        push(&mut swapped, b"b", b"").unwrap();
        push(&mut swapped, b"a", b"").unwrap();
        assert_eq!(find(&swapped, b"c"), Err(BucketError::Order));
        assert_eq!(
            with(None, &[b'x'; 256], Some(b"")),
            Err(BucketError::TooLarge)
        );
    }
}
