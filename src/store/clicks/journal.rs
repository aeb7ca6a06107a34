//! The stored day counts: the `daily` tree, written through a journal.
//!
//! Merging a round's day counts into `daily` costs one sled merge per dirty
//! slug and day: with traffic spread over 10,000 links that was ~40,000
//! merges a second and a seventh of the server's CPU. Instead a round is
//! appended as one journal record (one sled write, however many links were
//! clicked), and its counts are kept in memory (`unfolded`) until a fold
//! adds them into their day counters (packed 32 days to a key, see
//! [`super::days`]), so a slug-day clicked in many rounds is written once
//! per fold instead of once per round.
//!
//! Journal records live in the `daily` tree itself, under keys starting
//! with 0x00 (no slug starts with it), so that one atomic sled batch can
//! change counters and records together. A fold runs in small steps, each
//! one batch that adds a few counts into their counters and appends a
//! record subtracting them; when every step is done, one last batch removes
//! the records the fold covered. After a crash, the records that remain add
//! up to exactly the counts not yet folded, never one twice. Opening folds
//! whatever a crash left.
//!
//! Every read of a stored count is `daily` + what waits in memory, under
//! one lock that every step also holds, so a count is never seen twice or
//! not at all.
//!
//! ```text
//! record key = 0x00 ‖ sequence number (u64 big-endian)
//! record     = sign (b'a' adds, b's' subtracts) bincode(base_day, [(slug, day - base_day, count)])
//! ```
//!
//! The body is bincode 2's standard (varint) encoding, so an entry is its
//! slug plus about three bytes: a record is ~10 bytes per slug-day, half
//! what the first format took (sign b'+' or b'-', then per entry a day key
//! and a u64 count), which is still read. The journal is most of what the
//! click rounds write to disk, and sled writes every record twice or more
//! (the record itself, then the leaf holding it, as a separate blob file
//! once that leaf passes 128 KiB).

use std::collections::{BTreeMap, HashMap as StdHashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::super::{counter, daily_key, day_from_key, StoreError};
use super::days;
use super::slug_from_day_key;

type HashMap<K, V> = StdHashMap<K, V, ahash::RandomState>;

/// Day counts of one slug: (day, count), a handful per slug.
type Days = Vec<(u32, u64)>;

/// A fold starts once this many slug-days wait in memory…
const FOLD_ENTRIES: usize = 50_000;
/// …or once the oldest has waited this long.
const FOLD_EVERY: Duration = Duration::from_secs(30);

const RECORD_PREFIX: u8 = 0;
const ADD: u8 = b'a';
const SUBTRACT: u8 = b's';
/// Signs of the first record format.
const ADD_V1: u8 = b'+';
const SUBTRACT_V1: u8 = b'-';
/// Bound on what decoding a damaged length prefix may claim.
const MAX_RECORD: usize = 64 << 20;

fn record_key(seq: u64) -> [u8; 9] {
    let mut key = [RECORD_PREFIX; 9];
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_RECORD>()
}

/// A slug as serde bytes (length + raw bytes), not a sequence of u8s, so
/// that it decodes borrowed from the record.
struct SlugBytes<'a>(&'a [u8]);

impl serde::Serialize for SlugBytes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// One day count of a record: (slug, day, count).
type Entry<'a> = (&'a [u8], u32, u64);

fn encode(sign: u8, entries: &[Entry<'_>]) -> Vec<u8> {
    let base = entries.iter().map(|e| e.1).min().unwrap_or(0);
    let body: (u32, Vec<(SlugBytes<'_>, u32, u64)>) = (
        base,
        entries
            .iter()
            .map(|&(slug, day, n)| (SlugBytes(slug), day - base, n))
            .collect(),
    );
    let mut out = vec![sign];
    // Encoding into a Vec cannot fail for these types; were it to, the
    // record would be refused as damaged when read, never misread.
    out.extend(bincode::serde::encode_to_vec(&body, config()).unwrap_or_default());
    out
}

/// Whether a record adds (`true`) or subtracts, and its entries; `None`
/// when it is damaged.
fn decode(record: &[u8]) -> Option<(bool, Vec<Entry<'_>>)> {
    let (&sign, body) = record.split_first()?;
    match sign {
        ADD | SUBTRACT => {
            type Body<'a> = (u32, Vec<(&'a [u8], u32, u64)>);
            let ((base, entries), used): (Body<'_>, usize) =
                bincode::serde::borrow_decode_from_slice(body, config()).ok()?;
            if used != body.len() {
                return None;
            }
            let entries = entries
                .into_iter()
                .map(|(slug, offset, n)| Some((slug, base.checked_add(offset)?, n)))
                .collect::<Option<_>>()?;
            Some((sign == ADD, entries))
        }
        ADD_V1 | SUBTRACT_V1 => {
            let mut rest = body;
            let mut out = Vec::new();
            while let Some((&len, tail)) = rest.split_first() {
                let len = usize::from(len);
                let key = tail.get(..len)?;
                let n = u64::from_le_bytes(tail.get(len..len + 8)?.try_into().ok()?);
                out.push((slug_from_day_key(key), day_from_key(key)?, n));
                rest = &tail[len + 8..];
            }
            Some((sign == ADD_V1, out))
        }
        _ => None,
    }
}

/// Counts by slug, with the number of (slug, day) pairs.
#[derive(Default)]
struct Counts {
    by_slug: HashMap<Box<[u8]>, Days>,
    entries: usize,
}

impl Counts {
    fn add(&mut self, slug: &[u8], day: u32, n: u64) {
        let days = match self.by_slug.get_mut(slug) {
            Some(days) => days,
            None => self.by_slug.entry(slug.into()).or_default(),
        };
        match days.iter_mut().find(|(d, _)| *d == day) {
            Some((_, count)) => *count = count.saturating_add(n),
            None => {
                days.push((day, n));
                self.entries += 1;
            }
        }
    }

    fn subtract(&mut self, slug: &[u8], day: u32, n: u64) {
        if let Some(days) = self.by_slug.get_mut(slug) {
            if let Some((_, count)) = days.iter_mut().find(|(d, _)| *d == day) {
                *count = count.saturating_sub(n);
            }
        }
    }
}

#[derive(Default)]
struct State {
    /// Counts in journal records not yet being folded.
    unfolded: Counts,
    /// Records whose counts are all in `unfolded`.
    unfolded_records: Vec<u64>,
    /// The fold under way: counts not yet added into their counters, the
    /// slugs in the order they are folded, and the records to remove at
    /// the end (those it covers and its own subtracting ones).
    folding: Counts,
    order: Vec<Box<[u8]>>,
    fold_records: Vec<u64>,
    /// Sequence number of the next record.
    next: u64,
    /// When `unfolded` last became non-empty.
    since: Option<Instant>,
}

/// The day counters on disk.
pub struct DailyLog {
    daily: sled::Tree,
    state: Mutex<State>,
}

impl DailyLog {
    /// The log over `daily`; folds what a crash left in the journal.
    ///
    /// # Errors
    /// sled errors. A damaged journal record is logged and dropped (those
    /// clicks are lost, the links are not).
    pub fn open(daily: sled::Tree) -> Result<DailyLog, StoreError> {
        let mut state = State::default();
        for item in daily.range(record_key(0)..=record_key(u64::MAX)) {
            let (key, record) = item?;
            let seq = key
                .get(1..)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or_default();
            state.next = seq + 1;
            state.unfolded_records.push(seq);
            match decode(&record) {
                Some((true, entries)) => {
                    for (slug, day, n) in entries {
                        state.unfolded.add(slug, day, n);
                    }
                }
                Some((false, entries)) => {
                    for (slug, day, n) in entries {
                        state.unfolded.subtract(slug, day, n);
                    }
                }
                None => tracing::error!(seq, "dropping a damaged click journal record"),
            }
        }
        let log = DailyLog {
            daily,
            state: Mutex::new(state),
        };
        log.fold_all()?;
        Ok(log)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the state follows a sled write that succeeded and
        // cannot be left half-done by a panic; a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a round's day counts (slug, day, count): one journal record.
    ///
    /// # Errors
    /// sled errors; nothing is stored then.
    pub fn append(&self, batch: &[Entry<'_>]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let record = encode(ADD, batch);
        let mut state = self.lock();
        let seq = state.next;
        self.daily.insert(record_key(seq), record)?;
        state.next += 1;
        state.unfolded_records.push(seq);
        state.since.get_or_insert_with(Instant::now);
        for &(slug, day, n) in batch {
            state.unfolded.add(slug, day, n);
        }
        Ok(())
    }

    /// Calls `f(day, count)` with every stored day count of `slug` on the
    /// days `from..=to` (a day may come more than once).
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
        let state = self.lock();
        // Per-day counters of layouts before 4, read as they are.
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
        for item in self.daily.range(days::range(slug, from, to)) {
            let (k, v) = item?;
            let block = days::block_from_key(&k).unwrap_or_default();
            let counts = days::decode(block, &v)
                .ok_or_else(|| StoreError::corrupt(slug, "daily counters"))?;
            for (day, n) in counts {
                if (from..=to).contains(&day) {
                    f(day, n);
                }
            }
        }
        for counts in [&state.unfolded, &state.folding] {
            for (day, n) in counts.by_slug.get(slug).into_iter().flatten() {
                if (from..=to).contains(day) {
                    f(*day, *n);
                }
            }
        }
        Ok(())
    }

    /// Slug-days waiting to be folded (a fold under way counts by slug).
    pub fn backlog(&self) -> usize {
        let state = self.lock();
        state.unfolded.entries + state.order.len()
    }

    /// Whether a fold is under way or due.
    pub fn fold_due(&self) -> bool {
        let state = self.lock();
        !state.order.is_empty()
            || state.unfolded.entries >= FOLD_ENTRIES
            || state.since.is_some_and(|t| t.elapsed() >= FOLD_EVERY)
    }

    /// Folds the counts of up to `max_slugs` slugs into their counters,
    /// starting a fold if none is under way. Returns false once nothing is
    /// left to fold.
    ///
    /// # Errors
    /// sled errors; the step is then not done, and is tried again later.
    pub fn fold_step(&self, max_slugs: usize) -> Result<bool, StoreError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.order.is_empty() {
            if state.unfolded.entries == 0 && state.unfolded_records.is_empty() {
                return Ok(false);
            }
            state.folding = std::mem::take(&mut state.unfolded);
            state.order = state.folding.by_slug.keys().cloned().collect();
            state.fold_records = std::mem::take(&mut state.unfolded_records);
            state.since = None;
        }
        let take = max_slugs.min(state.order.len());
        let mut batch = sled::Batch::default();
        let mut folded: Vec<Entry<'_>> = Vec::new();
        for slug in &state.order[state.order.len() - take..] {
            let counts = state
                .folding
                .by_slug
                .get(slug)
                .map_or(&[][..], Vec::as_slice);
            folded.extend(
                counts
                    .iter()
                    .filter(|c| c.1 > 0)
                    .map(|&(d, n)| (&slug[..], d, n)),
            );
            // A slug comes once per step, so each block is read and
            // written once in the batch.
            self.add_to_blocks(&mut batch, slug, counts)?;
        }
        let last = take == state.order.len();
        if last {
            // The records this fold covers cancel out now: remove them with
            // the last counts, instead of writing a subtracting record.
            for seq in &state.fold_records {
                batch.remove(&record_key(*seq));
            }
        } else if !folded.is_empty() {
            let seq = state.next;
            batch.insert(&record_key(seq), encode(SUBTRACT, &folded));
        }
        self.daily.apply_batch(batch)?;
        if !last && !folded.is_empty() {
            state.fold_records.push(state.next);
            state.next += 1;
        }
        for slug in state.order.drain(state.order.len() - take..) {
            state.folding.by_slug.remove(&slug);
        }
        if last {
            state.folding = Counts::default();
            state.fold_records.clear();
        }
        Ok(!last || state.unfolded.entries > 0)
    }

    /// Folds everything waiting. Blocking; for opening, shutdown and
    /// offline use.
    ///
    /// # Errors
    /// sled errors.
    pub fn fold_all(&self) -> Result<(), StoreError> {
        while self.fold_step(1024)? {}
        Ok(())
    }

    /// Removes every stored day count of `slug`; folds first, so no journal
    /// record still holds one of them.
    ///
    /// # Errors
    /// sled errors.
    pub fn remove(&self, slug: &[u8]) -> Result<(), StoreError> {
        self.fold_all()?;
        let _state = self.lock();
        for range in [days::range(slug, 0, u32::MAX), days::old_range(slug)] {
            for item in self.daily.range(range) {
                let (k, _) = item?;
                self.daily.remove(k)?;
            }
        }
        Ok(())
    }

    /// Adds imported day counts `counts` (day, count) of `slug` into its
    /// blocks, in one atomic batch.
    ///
    /// # Errors
    /// sled errors; nothing is added then.
    pub fn import(&self, slug: &[u8], counts: &[(u32, u64)]) -> Result<(), StoreError> {
        // Under the lock, so no fold step writes these blocks in between.
        let _state = self.lock();
        let mut batch = sled::Batch::default();
        self.add_to_blocks(&mut batch, slug, counts)?;
        self.daily.apply_batch(batch)?;
        Ok(())
    }

    /// Puts into `batch` `slug`'s blocks with `counts` (day, count) added,
    /// reading each block once. Call with the lock held.
    fn add_to_blocks(
        &self,
        batch: &mut sled::Batch,
        slug: &[u8],
        counts: &[(u32, u64)],
    ) -> Result<(), StoreError> {
        let mut by_block: BTreeMap<u32, Vec<(u32, u64)>> = BTreeMap::new();
        for &(day, n) in counts.iter().filter(|c| c.1 > 0) {
            by_block
                .entry(days::block_of(day))
                .or_default()
                .push((day, n));
        }
        for (block, adds) in by_block {
            let key = days::key(slug, block);
            let old = self.daily.get(&key)?;
            batch.insert(key, days::add(block, old.as_deref(), &adds));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
