//! The `created` tree: the newest-first listing index, in chunks.
//!
//! An index entry is created_at (u64 big-endian) ‖ slug, so entries sort by
//! time. One sled key per entry would cost sled's per-leaf memory for every
//! link (see [`super::bucket`]), so entries are kept sorted in chunks of up
//! to [`MAX_CHUNK`]: a chunk's sled key is a lower bound of its entries, and
//! a chunk holds every entry from its key up to the next chunk's key. A
//! chunk that grows past the limit is split in two, and a change that
//! touches two chunk keys is one sled transaction, so a crash never leaves
//! an entry in two chunks or in none.
//!
//! The index is derived data: listing checks every entry against its record
//! (see [`super::list`]), so an entry left behind by a crash is skipped.
//!
//! ```text
//! chunk = version (1 byte, = 1) (entry_len (u8) entry)*    sorted, no repeats
//! ```

use std::ops::Bound;
use std::sync::{Mutex, PoisonError};

use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::walk::{Step, Walk};
use super::StoreError;

/// An index entry (or a bound between them) as text: its time, and its
/// slug if it has one.
pub fn describe_entry(entry: &[u8]) -> String {
    let mut ms = [0u8; 8];
    for (m, b) in ms.iter_mut().zip(entry) {
        *m = *b;
    }
    let at = crate::clock::format_ms(i64::try_from(u64::from_be_bytes(ms)).unwrap_or(i64::MAX));
    match entry
        .get(8..)
        .filter(|s| !s.is_empty() && s.iter().all(u8::is_ascii_graphic))
    {
        Some(slug) => format!("{at} ('{}')", String::from_utf8_lossy(slug)),
        None => at,
    }
}

/// Most entries a chunk holds before it is split.
const MAX_CHUNK: usize = 32;

const VERSION_1: u8 = 1;

/// Key of a link in the index: created_at (u64 big-endian) ‖ slug.
pub fn entry_key(created_at: i64, slug: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + slug.len());
    key.extend_from_slice(&u64::try_from(created_at).unwrap_or(0).to_be_bytes());
    key.extend_from_slice(slug.as_bytes());
    key
}

fn decode(chunk: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let damaged = || StoreError::corrupt(b"(listing index)", "index chunk");
    let Some((&VERSION_1, mut rest)) = chunk.split_first() else {
        return Err(damaged());
    };
    let mut out: Vec<Vec<u8>> = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        if tail.len() < len || out.last().is_some_and(|l| l.as_slice() >= &tail[..len]) {
            return Err(damaged());
        }
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    Ok(out)
}

fn encode(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + entries.iter().map(|e| e.len() + 1).sum::<usize>());
    out.push(VERSION_1);
    for e in entries {
        // Entries are 8 bytes + a slug of at most 64: always below 256.
        out.push(e.len() as u8);
        out.extend_from_slice(e);
    }
    out
}

fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    }
}

/// Handle on the `created` tree.
pub struct CreatedIndex {
    tree: sled::Tree,
    /// Changes to the chunks are read-modify-write over more than one key;
    /// this process holds the data dir's lock, so a std mutex (never held
    /// across an `.await`) serializes them completely.
    writer: Mutex<()>,
}

impl CreatedIndex {
    /// The index over `tree`.
    pub fn new(tree: sled::Tree) -> CreatedIndex {
        CreatedIndex {
            tree,
            writer: Mutex::new(()),
        }
    }

    /// Writes `entries` as the chunks replacing the chunk at `old_key`
    /// (if any): split into halves while too large, the first piece keyed
    /// `first_key`, the others by their first entry. One transaction.
    fn store(
        &self,
        old_key: Option<&[u8]>,
        first_key: &[u8],
        entries: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        let mut pieces: Vec<&[Vec<u8>]> = vec![entries];
        while pieces.iter().any(|p| p.len() > MAX_CHUNK) {
            pieces = pieces
                .into_iter()
                .flat_map(|p| {
                    if p.len() > MAX_CHUNK {
                        let (a, b) = p.split_at(p.len() / 2);
                        vec![a, b]
                    } else {
                        vec![p]
                    }
                })
                .collect();
        }
        if old_key == Some(first_key) && pieces.len() == 1 {
            self.tree.insert(first_key, encode(entries))?;
            return Ok(());
        }
        self.tree
            .transaction(|tx| {
                if let Some(old) = old_key {
                    tx.remove(old)?;
                }
                for (i, piece) in pieces.iter().enumerate() {
                    let key: &[u8] = if i == 0 { first_key } else { &piece[0] };
                    tx.insert(key, encode(piece))?;
                }
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            })
            .map_err(tx_error)
    }

    /// Adds `entry` (made by [`entry_key`]); adding it twice is harmless.
    ///
    /// # Errors
    /// sled errors; a damaged chunk where the entry belongs.
    pub fn insert(&self, entry: &[u8]) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((key, chunk)) = self.tree.range(..=entry).next_back().transpose()? {
            let mut entries = decode(&chunk)?;
            let Err(at) = entries.binary_search_by(|e| e.as_slice().cmp(entry)) else {
                return Ok(());
            };
            entries.insert(at, entry.to_vec());
            return self.store(Some(&key), &key, &entries);
        }
        // Older than every chunk: it joins the first one, which is re-keyed
        // to keep its key a lower bound.
        match self.tree.iter().next().transpose()? {
            Some((key, chunk)) => {
                let mut entries = decode(&chunk)?;
                entries.insert(0, entry.to_vec());
                self.store(Some(&key), entry, &entries)
            }
            None => self.store(None, entry, &[entry.to_vec()]),
        }
    }

    /// Removes `entry`; removing an absent entry is harmless.
    ///
    /// # Errors
    /// sled errors; a damaged chunk where the entry belongs.
    pub fn remove(&self, entry: &[u8]) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((key, chunk)) = self.tree.range(..=entry).next_back().transpose()? else {
            return Ok(());
        };
        let mut entries = decode(&chunk)?;
        let Ok(at) = entries.binary_search_by(|e| e.as_slice().cmp(entry)) else {
            return Ok(());
        };
        entries.remove(at);
        if entries.is_empty() {
            // The chunk before now covers this range.
            self.tree.remove(&key)?;
            Ok(())
        } else {
            self.store(Some(&key), &key, &entries)
        }
    }

    /// Entries strictly before `before` (all when `None`), newest first.
    /// A damaged chunk, or a stretch of chunks sled cannot read, is one
    /// `Err` item ([`StoreError::Corrupt`]); the walk goes on after it.
    pub fn newest_first<'a>(
        &'a self,
        before: Option<&'a [u8]>,
    ) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + 'a {
        let hi = before.map_or(Bound::Unbounded, |b| Bound::Included(b.into()));
        Walk::new(&self.tree, Bound::Unbounded, hi, true).flat_map(move |item| {
            let entries = match item {
                Err(e) => Err(e.into()),
                Ok(Step::Entry(_, chunk)) => decode(&chunk),
                Ok(Step::Gap(gap)) => Err(StoreError::Corrupt {
                    detail: format!(
                        "the listing index {} cannot be read ({}): links created then are not listed",
                        gap.describe(describe_entry),
                        gap.error
                    ),
                }),
            };
            match entries {
                Err(e) => vec![Err(e)],
                Ok(entries) => entries
                    .into_iter()
                    .rev()
                    .filter(|e| before.is_none_or(|b| e.as_slice() < b))
                    .map(Ok)
                    .collect(),
            }
        })
    }

    /// Number of chunks, for tests of the splitting.
    #[cfg(test)]
    fn chunks(&self) -> usize {
        self.tree.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> (CreatedIndex, sled::Db) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        (CreatedIndex::new(db.open_tree("created").unwrap()), db)
    }

    fn listed(ix: &CreatedIndex, before: Option<&[u8]>) -> Vec<Vec<u8>> {
        ix.newest_first(before).map(Result::unwrap).collect()
    }

    #[test]
    fn lists_newest_first_across_splits_in_any_insert_order() {
        let (ix, _db) = index();
        // A scrambled order: every insert lands somewhere in the middle.
        let mut keys: Vec<Vec<u8>> = (0..1000)
            .map(|i| entry_key((i * 7919) % 1000, &format!("s{i}")))
            .collect();
        for k in &keys {
            ix.insert(k).unwrap();
        }
        ix.insert(&keys[3]).unwrap();
        keys.sort();
        keys.reverse();
        assert_eq!(listed(&ix, None), keys);
        assert!(ix.chunks() >= 1000 / MAX_CHUNK);
        assert_eq!(listed(&ix, Some(&keys[500])), keys[501..].to_vec());
    }

    #[test]
    fn removing_everything_leaves_no_chunk() {
        let (ix, _db) = index();
        let keys: Vec<Vec<u8>> = (0..300).map(|i| entry_key(1000 - i, "x")).collect();
        for k in &keys {
            ix.insert(k).unwrap();
        }
        for k in keys.iter().rev() {
            ix.remove(k).unwrap();
            ix.remove(k).unwrap();
        }
        assert!(listed(&ix, None).is_empty());
        assert_eq!(ix.chunks(), 0);
    }
}
