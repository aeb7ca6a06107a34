//! The `buckets` tree: every link record, grouped into hash buckets.
//!
//! A slug's bucket is the low [`BUCKET_BITS`] bits of its FNV-1a hash, so
//! sled holds at most 2^20 keys however many links there are: ~1 link per
//! key up to a million links, ~10 per key (about 1 KB) at 10 million. Every
//! change is a compare-and-swap of the whole bucket, retried on conflict, so
//! two writers to one bucket never lose each other's entries. The layout of
//! a bucket is in [`super::bucket`].

use sled::IVec;

use super::bucket::{self, BucketError};
use super::{Link, StoreError};

/// How many low bits of the slug's hash pick its bucket. Part of the on-disk
/// layout (schema 2): changing it needs a migration.
pub const BUCKET_BITS: u32 = 20;

/// The bucket key of `slug`: 4 bytes, big-endian.
fn bucket_key(slug: &[u8]) -> [u8; 4] {
    // FNV-1a: stable across builds and platforms, which the layout needs, and
    // fast on short keys. Not flood-resistant, but only holders of the API
    // key choose slugs.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in slug {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let folded = (h ^ (h >> 32)) as u32;
    (folded & ((1 << BUCKET_BITS) - 1)).to_be_bytes()
}

fn damaged(slug: &[u8], e: &BucketError) -> StoreError {
    StoreError::corrupt(slug, &format!("record bucket ({e})"))
}

fn decode(slug: &[u8], record: &[u8]) -> Result<Link, StoreError> {
    Link::decode(record).map_err(|e| StoreError::corrupt(slug, &format!("record ({e})")))
}

/// Handle on the `buckets` tree. Cheap to clone.
#[derive(Clone)]
pub struct Links {
    tree: sled::Tree,
}

impl Links {
    /// Links over `tree`.
    pub fn new(tree: sled::Tree) -> Links {
        Links { tree }
    }

    /// The stored record bytes of `slug`.
    fn raw(&self, slug: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(b) = self.tree.get(bucket_key(slug))? else {
            return Ok(None);
        };
        let found = bucket::find(&b, slug).map_err(|e| damaged(slug, &e))?;
        Ok(found.map(<[u8]>::to_vec))
    }

    /// The link of `slug`.
    ///
    /// # Errors
    /// sled errors; [`StoreError::Corrupt`] for a damaged bucket or record.
    pub fn get(&self, slug: &[u8]) -> Result<Option<Link>, StoreError> {
        let Some(b) = self.tree.get(bucket_key(slug))? else {
            return Ok(None);
        };
        match bucket::find(&b, slug).map_err(|e| damaged(slug, &e))? {
            None => Ok(None),
            Some(record) => decode(slug, record).map(Some),
        }
    }

    /// Whether a link named `slug` is stored (damaged or not).
    ///
    /// # Errors
    /// sled errors and damaged buckets.
    pub fn contains(&self, slug: &[u8]) -> Result<bool, StoreError> {
        Ok(self.raw(slug)?.is_some())
    }

    /// Runs `change` on the record bytes of `slug` (`None`: absent) and
    /// stores what it returns (`None`: remove), atomically with respect to
    /// every other change of the bucket. `change` may run more than once.
    /// Returns the record bytes `change` saw on the run that was stored;
    /// when `change` returns `Err`, nothing is stored and that is returned.
    fn change<E>(
        &self,
        slug: &[u8],
        mut change: impl FnMut(Option<&[u8]>) -> Result<Option<Vec<u8>>, E>,
    ) -> Result<Result<Option<Vec<u8>>, E>, StoreError> {
        let key = bucket_key(slug);
        loop {
            let old: Option<IVec> = self.tree.get(key)?;
            let current = match &old {
                None => None,
                Some(b) => bucket::find(b, slug).map_err(|e| damaged(slug, &e))?,
            };
            let record = match change(current) {
                Ok(record) => record,
                Err(e) => return Ok(Err(e)),
            };
            if record.is_none() && current.is_none() {
                return Ok(Ok(None));
            }
            let new = bucket::with(old.as_deref(), slug, record.as_deref())
                .map_err(|e| damaged(slug, &e))?;
            let seen = current.map(<[u8]>::to_vec);
            if self.tree.compare_and_swap(key, old, new)?.is_ok() {
                return Ok(Ok(seen));
            }
        }
    }

    /// Stores `record` under `slug` unless the slug is taken; when it is,
    /// returns the record bytes of the link that holds it.
    ///
    /// # Errors
    /// sled errors and damaged buckets.
    pub fn insert_new(
        &self,
        slug: &[u8],
        record: &[u8],
    ) -> Result<Result<(), Vec<u8>>, StoreError> {
        let outcome = self.change(slug, |current| match current {
            Some(existing) => Err(existing.to_vec()),
            None => Ok(Some(record.to_vec())),
        })?;
        Ok(outcome.map(|_| ()))
    }

    /// Applies `patch` to the link of `slug`; `None` if there is none.
    ///
    /// # Errors
    /// sled errors, damaged buckets and records.
    pub fn update(
        &self,
        slug: &[u8],
        mut patch: impl FnMut(&mut Link),
    ) -> Result<Option<Link>, StoreError> {
        let mut result = None;
        let outcome = self.change(slug, |current| {
            let Some(record) = current else {
                result = None;
                return Ok(None);
            };
            let mut link = decode(slug, record)?;
            patch(&mut link);
            let encoded = link.encode();
            result = Some(link);
            Ok(Some(encoded))
        })?;
        outcome.map(|_| result)
    }

    /// Removes the link of `slug`, returning its record bytes (which may be
    /// damaged: a damaged link can still be deleted).
    ///
    /// # Errors
    /// sled errors and damaged buckets.
    pub fn remove(&self, slug: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.change(slug, |_| Ok::<_, StoreError>(None))?
    }

    /// Every stored link, bucket by bucket (a stable order for a given set
    /// of slugs). A damaged bucket or record is one `Err` item; the
    /// iteration goes on after it.
    pub fn iter(&self) -> impl Iterator<Item = Result<(String, Link), StoreError>> + '_ {
        self.tree.iter().flat_map(|item| {
            let mut out = Vec::new();
            match item {
                Err(e) => out.push(Err(e.into())),
                Ok((key, b)) => match bucket::entries(&b) {
                    Err(e) => out.push(Err(damaged(format!("bucket {key:?}").as_bytes(), &e))),
                    Ok(entries) => {
                        for entry in entries {
                            out.push(match entry {
                                Ok((slug, record)) => decode(slug, record)
                                    .map(|link| (String::from_utf8_lossy(slug).into_owned(), link)),
                                Err(e) => Err(damaged(format!("bucket {key:?}").as_bytes(), &e)),
                            });
                        }
                    }
                },
            }
            out
        })
    }

    /// Number of stored links (a walk over every bucket).
    pub fn count(&self) -> usize {
        self.tree
            .iter()
            .values()
            .filter_map(Result::ok)
            .map(|b| bucket::entries(&b).map_or(0, Iterator::count))
            .sum()
    }

    /// True when no link is stored.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Stores `record` under `slug`, replacing what was there, for tests of
    /// the counters.
    #[cfg(test)]
    pub fn put(&self, slug: &[u8], record: &[u8]) {
        let _ = self
            .change(slug, |_| Ok::<_, StoreError>(Some(record.to_vec())))
            .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_keys_are_stable_and_in_range() {
        // The layout depends on these exact values: FNV-1a 64 of "a" is
        // 0xaf63dc4c8601ec8c (the published test vector), folded to 20 bits.
        assert_eq!(bucket_key(b"a"), 0x0002_30c0_u32.to_be_bytes());
        assert_eq!(bucket_key(b"abc"), 0x000e_f552_u32.to_be_bytes());
    }
}
