//! The stored day counts: the `daily` tree, written through a journal.
//!
//! Merging a round's day counts into `daily` costs one sled merge per dirty
//! slug and day: with traffic spread over 10,000 links that was ~40,000
//! merges a second and a seventh of the server's CPU. Instead a round is
//! appended to the `journal` tree as one value (one sled write, however many
//! links were clicked), and its counts are kept in memory (`unfolded`) until
//! a fold adds them all into `daily` and removes the journal records, in one
//! sled transaction over both trees: a crash leaves either the journal or
//! the folded counts, never both and never neither. Opening folds whatever
//! journal a crash left behind.
//!
//! Every read of a stored count is `daily` + `unfolded`, under one lock that
//! the fold also holds, so a count is never seen twice or not at all.
//!
//! ```text
//! journal key    = sequence number (u64 big-endian)
//! journal record = (key_len (u8) day_key count (u64 LE))*
//! ```

use std::collections::HashMap as StdHashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::super::{counter, daily_key, day_from_key, StoreError};
use super::slug_from_day_key;

type HashMap<K, V> = StdHashMap<K, V, ahash::RandomState>;

/// Day counts of one slug: (day, count), a handful per slug.
type Days = Vec<(u32, u64)>;

/// Fold once this many day counts wait in memory (a few MB)…
const FOLD_ENTRIES: usize = 100_000;
/// …or once the oldest has waited this long, so the journal stays short.
const FOLD_EVERY: Duration = Duration::from_secs(30);

struct State {
    /// Day counts in the journal, not yet in `daily`, by slug.
    unfolded: HashMap<Box<[u8]>, Days>,
    /// How many (slug, day) counts `unfolded` holds.
    entries: usize,
    /// Journal records `first..next` exist.
    first: u64,
    next: u64,
    /// When `unfolded` last became non-empty.
    since: Option<Instant>,
}

/// The day counters on disk.
pub struct DailyLog {
    daily: sled::Tree,
    journal: sled::Tree,
    state: Mutex<State>,
}

fn encode(batch: &[(&[u8], u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.iter().map(|(k, _)| k.len() + 9).sum());
    for (key, n) in batch {
        // Day keys are a slug (at most 64 bytes) + 5: always below 256.
        out.push(key.len() as u8);
        out.extend_from_slice(key);
        out.extend_from_slice(&n.to_le_bytes());
    }
    out
}

fn decode(mut record: &[u8]) -> Option<Vec<(&[u8], u64)>> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = record.split_first() {
        let len = usize::from(len);
        let key = rest.get(..len)?;
        let n = u64::from_le_bytes(rest.get(len..len + 8)?.try_into().ok()?);
        out.push((key, n));
        record = &rest[len + 8..];
    }
    Some(out)
}

impl State {
    fn add(&mut self, key: &[u8], n: u64) {
        let (slug, Some(day)) = (slug_from_day_key(key), day_from_key(key)) else {
            return;
        };
        let days = match self.unfolded.get_mut(slug) {
            Some(days) => days,
            None => self.unfolded.entry(slug.into()).or_default(),
        };
        match days.iter_mut().find(|(d, _)| *d == day) {
            Some((_, count)) => *count += n,
            None => {
                days.push((day, n));
                self.entries += 1;
            }
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // Every change to the state is made after its sled write succeeded and
    // cannot be left half-done by a panic; a poisoned lock is used as is.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DailyLog {
    /// The log over `daily` and `journal`; folds what a crash left in the
    /// journal.
    ///
    /// # Errors
    /// sled errors. A damaged journal record is logged and dropped (those
    /// clicks are lost, the links are not).
    pub fn open(daily: sled::Tree, journal: sled::Tree) -> Result<DailyLog, StoreError> {
        let mut state = State {
            unfolded: HashMap::default(),
            entries: 0,
            first: 0,
            next: 0,
            since: None,
        };
        let mut first = None;
        for item in journal.iter() {
            let (key, record) = item?;
            let seq = key
                .as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or_default();
            first.get_or_insert(seq);
            state.next = seq + 1;
            match decode(&record) {
                Some(batch) => {
                    for (k, n) in batch {
                        state.add(k, n);
                    }
                }
                None => tracing::error!(seq, "dropping a damaged click journal record"),
            }
        }
        state.first = first.unwrap_or(state.next);
        let log = DailyLog {
            daily,
            journal,
            state: Mutex::new(state),
        };
        log.fold()?;
        Ok(log)
    }

    /// Stores a round's day counts: one journal record.
    ///
    /// # Errors
    /// sled errors; nothing is stored then.
    pub fn append(&self, batch: &[(&[u8], u64)]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut state = lock(&self.state);
        self.journal
            .insert(state.next.to_be_bytes(), encode(batch))?;
        state.next += 1;
        state.since.get_or_insert_with(Instant::now);
        for (k, n) in batch {
            state.add(k, *n);
        }
        Ok(())
    }

    /// Calls `f(day, count)` with every stored day count of `slug` on the
    /// days `from..=to` (a day may come twice: from `daily` and the journal).
    ///
    /// # Errors
    /// sled errors and damaged counters.
    pub fn for_each(
        &self,
        slug: &[u8],
        from: u32,
        to: u32,
        mut f: impl FnMut(u32, u64),
    ) -> Result<(), StoreError> {
        let state = lock(&self.state);
        for item in self
            .daily
            .range(daily_key(slug, from)..=daily_key(slug, to))
        {
            let (k, v) = item?;
            let n =
                counter::decode(&v).ok_or_else(|| StoreError::corrupt(slug, "daily counter"))?;
            if let Some(day) = day_from_key(&k) {
                f(day, n);
            }
        }
        for (day, n) in state.unfolded.get(slug).into_iter().flatten() {
            if (from..=to).contains(day) {
                f(*day, *n);
            }
        }
        Ok(())
    }

    /// Whether a fold is due.
    pub fn fold_due(&self) -> bool {
        let state = lock(&self.state);
        state.entries >= FOLD_ENTRIES || state.since.is_some_and(|t| t.elapsed() >= FOLD_EVERY)
    }

    /// Adds the journal's counts into `daily` and empties the journal, in
    /// one transaction. Blocking: sled reads and writes for every entry.
    ///
    /// # Errors
    /// sled errors; the journal and the counts in memory stay as they were.
    pub fn fold(&self) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        if state.first == state.next && state.unfolded.is_empty() {
            return Ok(());
        }
        let (first, next) = (state.first, state.next);
        let unfolded = &state.unfolded;
        (&self.daily, &self.journal)
            .transaction(|(daily, journal)| {
                for (slug, days) in unfolded {
                    for (day, n) in days {
                        let k = daily_key(slug, *day);
                        let old = match daily.get(&k)? {
                            // A damaged counter restarts from what is known now
                            // rather than blocking every later fold.
                            Some(v) => counter::decode(&v).unwrap_or(0),
                            None => 0,
                        };
                        daily.insert(k, &counter::encode(old.saturating_add(*n)))?;
                    }
                }
                for seq in first..next {
                    journal.remove(&seq.to_be_bytes())?;
                }
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => e.into(),
            })?;
        state.unfolded.clear();
        state.entries = 0;
        state.first = next;
        state.since = None;
        Ok(())
    }

    /// Removes every stored day count of `slug`; folds first, so no journal
    /// record still holds one of them.
    ///
    /// # Errors
    /// sled errors.
    pub fn remove(&self, slug: &[u8]) -> Result<(), StoreError> {
        self.fold()?;
        let _state = lock(&self.state);
        for item in self
            .daily
            .range(daily_key(slug, 0)..=daily_key(slug, u32::MAX))
        {
            let (k, _) = item?;
            self.daily.remove(k)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trees(db: &sled::Db) -> (sled::Tree, sled::Tree) {
        let daily = db.open_tree("daily").unwrap();
        daily.set_merge_operator(counter::add);
        (daily, db.open_tree("journal").unwrap())
    }

    fn sum(log: &DailyLog, slug: &[u8]) -> u64 {
        let mut total = 0;
        log.for_each(slug, 0, 9, |_, n| total += n).unwrap();
        total
    }

    fn key(slug: &[u8]) -> Vec<u8> {
        daily_key(slug, 3)
    }

    #[test]
    fn counts_read_the_same_before_and_after_a_fold_and_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let (daily, journal) = trees(&db);
            daily.merge(key(b"a"), counter::encode(5)).unwrap();
            let log = DailyLog::open(daily, journal).unwrap();
            log.append(&[(&key(b"a"), 2), (&key(b"b"), 1)]).unwrap();
            log.append(&[(&key(b"a"), 1)]).unwrap();
            assert_eq!((sum(&log, b"a"), sum(&log, b"b")), (8, 1));
            log.fold().unwrap();
            assert_eq!((sum(&log, b"a"), sum(&log, b"b")), (8, 1));
            log.append(&[(&key(b"b"), 4)]).unwrap();
            db.flush().unwrap();
            // Dropped without a fold, as a crash would.
        }
        let db = sled::open(dir.path()).unwrap();
        let (daily, journal) = trees(&db);
        let log = DailyLog::open(daily, journal.clone()).unwrap();
        assert_eq!((sum(&log, b"a"), sum(&log, b"b")), (8, 5));
        assert!(journal.is_empty(), "opening folded the journal");
        log.remove(b"a").unwrap();
        assert_eq!(sum(&log, b"a"), 0);
    }

    #[test]
    fn damaged_journal_records_are_refused() {
        assert_eq!(decode(&encode(&[(b"k", 7)])), Some(vec![(&b"k"[..], 7)]));
        assert_eq!(decode(&[3, b'k']), None);
        assert_eq!(decode(&[1, b'k', 1, 2]), None);
    }
}
