//! Where a link's clicks come from: clicks per referrer host, and bot
//! visits per bot name (see [`crate::visit`] for what is read from a click).
//!
//! Counted like clicks: an atomic in memory on the redirect path, moved into
//! sled by the flusher ([`Sources::flush`], every couple of seconds rather
//! than every round: these counts are looked at, not enforced, and fewer
//! flushes mean fewer sled merges). Every read is stored + pending.
//!
//! Storage is bounded whatever clients send. A link keeps the first
//! [`MAX_HOSTS`] referrer hosts it sees by name; clicks from hosts after that
//! are counted together as "other". Bot names come from a fixed list. In
//! memory, at most [`MAX_PENDING`] counters wait between flushes; past that,
//! a click from a new host or bot is counted under its link's "other".
//!
//! ```text
//! `sources` tree key = slug ‖ 0x00 ‖ kind ‖ name      value = u64 counter
//!   kind b'r': clicks from referrer host `name`
//!   kind b'o': clicks from referrer hosts beyond the bound (empty name)
//!   kind b'b': visits by bot `name`
//! ```

use std::collections::HashMap as StdHashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use super::links::Links;
use super::walk::{Gap, Step, Walk};
use super::{counter, StoreError};
use crate::visit::{MAX_HOST_LEN, OTHER_BOT};

type HashMap<K, V> = StdHashMap<K, V, ahash::RandomState>;

/// Referrer hosts a link keeps by name.
pub const MAX_HOSTS: usize = 32;

/// Counters that may wait in memory between flushes.
pub const MAX_PENDING: usize = 65_536;

const REFERRER: u8 = b'r';
const OTHER: u8 = b'o';
const BOT: u8 = b'b';

/// A slug's counters by kind, most clicks first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceCounts {
    /// Clicks by referrer host, at most [`MAX_HOSTS`] hosts.
    pub referrers: Vec<(String, u64)>,
    /// Clicks from referrer hosts beyond the first [`MAX_HOSTS`].
    pub other_referrers: u64,
    /// Visits by bot name.
    pub bots: Vec<(String, u64)>,
}

impl SourceCounts {
    /// All bot visits.
    pub fn bot_visits(&self) -> u64 {
        self.bots.iter().map(|(_, n)| n).sum()
    }

    fn add(&mut self, kind: u8, name: &[u8], n: u64) {
        let list = match kind {
            REFERRER => &mut self.referrers,
            BOT => &mut self.bots,
            OTHER => {
                self.other_referrers = self.other_referrers.saturating_add(n);
                return;
            }
            _ => return,
        };
        let name = String::from_utf8_lossy(name);
        match list.iter_mut().find(|(k, _)| *k == name) {
            Some((_, count)) => *count = count.saturating_add(n),
            None => list.push((name.into_owned(), n)),
        }
    }

    fn sort(&mut self) {
        for list in [&mut self.referrers, &mut self.bots] {
            list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
    }
}

fn prefix(slug: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(slug.len() + 1);
    key.extend_from_slice(slug);
    key.push(0);
    key
}

fn key_of(slug: &[u8], kind: u8, name: &[u8]) -> Vec<u8> {
    let mut key = prefix(slug);
    key.push(kind);
    key.extend_from_slice(name);
    key
}

/// (slug, kind, name) of a key; `None` for a damaged one.
fn split(key: &[u8]) -> Option<(&[u8], u8, &[u8])> {
    let zero = key.iter().position(|&b| b == 0)?;
    let (&kind, name) = key.get(zero + 1..)?.split_first()?;
    Some((&key[..zero], kind, name))
}

fn unpoison<G>(r: Result<G, PoisonError<G>>) -> G {
    r.unwrap_or_else(PoisonError::into_inner)
}

/// Where a waiting counter's clicks are stored, once a flush has looked.
const HOME_UNKNOWN: u8 = 0;
/// Under its own key, which is stored.
const HOME_OWN: u8 = 1;
/// Under its link's "other": a host past the bound.
const HOME_OTHER: u8 = 2;

/// A counter waiting in memory. An entry outlives the flush that stores
/// its count while it keeps being clicked, and remembers where that count
/// went, so the next flush of a busy counter is one sled merge with no read.
struct Waiting {
    n: AtomicU64,
    home: AtomicU8,
}

impl Waiting {
    fn new(n: u64, home: u8) -> Self {
        Waiting {
            n: AtomicU64::new(n),
            home: AtomicU8::new(home),
        }
    }
}

/// What the gate protects besides the flush itself.
#[derive(Default)]
struct Gate {
    /// Flushes begun so far.
    round: u64,
    /// Slugs deleted lately, with the flush round they were deleted in: a
    /// click that resolved a link just before its deletion can be counted
    /// after it, and only these slugs need a check that the link exists.
    deleted: HashMap<Box<[u8]>, u64>,
}

/// A counter taken out of memory by a flush: key, count, home.
type Taken = (Box<[u8]>, u64, u8);

/// The referrer and bot counters of every link.
pub struct Sources {
    tree: sled::Tree,
    links: Links,
    pending: RwLock<HashMap<Box<[u8]>, Waiting>>,
    /// Held by a flush from taking the pending counts to storing them, and
    /// by readers, so a count is never seen twice or not at all.
    gate: Mutex<Gate>,
}

impl Sources {
    /// The counters in `tree` (which must have the counter merge operator);
    /// `links` is consulted so counts of a link deleted meanwhile are dropped.
    pub fn new(tree: sled::Tree, links: Links) -> Self {
        Sources {
            tree,
            links,
            pending: RwLock::new(HashMap::default()),
            gate: Mutex::new(Gate::default()),
        }
    }

    /// Counts a click on `slug` from referrer `host`.
    pub fn count_referrer(&self, slug: &str, host: &str) {
        self.count(slug.as_bytes(), REFERRER, host.as_bytes(), Some(OTHER));
    }

    /// Counts a visit to `slug` by bot `name`.
    pub fn count_bot(&self, slug: &str, name: &str) {
        let fallback = (name != OTHER_BOT).then_some(BOT);
        self.count(slug.as_bytes(), BOT, name.as_bytes(), fallback);
    }

    /// Adds one to the counter of (slug, kind, name). When memory is at
    /// [`MAX_PENDING`] counters and this one is new, counts under `fallback`
    /// instead (kind [`OTHER`], or the "other" bot): those are one per link.
    fn count(&self, slug: &[u8], kind: u8, name: &[u8], fallback: Option<u8>) {
        // Built on the stack when it fits (it always does for real slugs
        // and hosts): this runs on redirects.
        let mut buf = [0u8; crate::slug::MAX_LEN + 2 + MAX_HOST_LEN];
        let heap;
        let len = slug.len() + 2 + name.len();
        let key: &[u8] = match buf.get_mut(..len) {
            Some(k) => {
                k[..slug.len()].copy_from_slice(slug);
                k[slug.len()] = 0;
                k[slug.len() + 1] = kind;
                k[slug.len() + 2..].copy_from_slice(name);
                k
            }
            None => {
                heap = key_of(slug, kind, name);
                &heap
            }
        };
        {
            let pending = unpoison(self.pending.read());
            if let Some(w) = pending.get(key) {
                w.n.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut pending = unpoison(self.pending.write());
        let spill;
        let key = match fallback {
            Some(kind) if pending.len() >= MAX_PENDING && !pending.contains_key(key) => {
                let name: &[u8] = if kind == BOT {
                    OTHER_BOT.as_bytes()
                } else {
                    b""
                };
                spill = key_of(slug, kind, name);
                &spill[..]
            }
            _ => key,
        };
        match pending.get(key) {
            Some(w) => {
                w.n.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                pending.insert(key.into(), Waiting::new(1, HOME_UNKNOWN));
            }
        }
    }

    /// Moves every pending count into sled (not yet fsynced). Returns how
    /// many clicks and visits it stored.
    ///
    /// # Errors
    /// sled errors; what was not stored goes back to pending.
    pub fn flush(&self) -> Result<u64, StoreError> {
        let mut gate = unpoison(self.gate.lock());
        gate.round += 1;
        let round = gate.round;
        gate.deleted.retain(|_, at| round - *at <= 2);
        let mut taken: Vec<Taken> = Vec::new();
        // Counters are swapped to zero; those already idle for a whole
        // flush interval leave memory.
        unpoison(self.pending.write()).retain(|key, w| {
            let count = w.n.swap(0, Ordering::Relaxed);
            if count > 0 {
                taken.push((key.clone(), count, w.home.load(Ordering::Relaxed)));
            }
            count > 0
        });
        // Sorted, a link's counters are together: at most one check that it
        // still exists, one count of its stored hosts.
        taken.sort_unstable();
        let mut stored = 0;
        let mut learned = Vec::new();
        let mut current = None;
        let mut failure = None;
        for (i, (key, n, home)) in taken.iter().enumerate() {
            match self.store_one(key, *n, *home, &gate.deleted, &mut current) {
                Ok(found) => {
                    stored += n;
                    if found != *home {
                        learned.push((i, found));
                    }
                }
                Err(e) => {
                    failure = Some((i, e));
                    break;
                }
            }
        }
        {
            let pending = unpoison(self.pending.read());
            for (i, home) in learned {
                if let Some(w) = pending.get(&taken[i].0) {
                    w.home.store(home, Ordering::Relaxed);
                }
            }
        }
        match failure {
            None => Ok(stored),
            Some((i, e)) => {
                self.give_back(&taken[i..]);
                Err(e)
            }
        }
    }

    /// Stores one counter; returns its home. `current` carries, for the
    /// slug being stored, whether its link exists and how many hosts it has
    /// stored.
    fn store_one<'k>(
        &self,
        key: &'k [u8],
        n: u64,
        home: u8,
        deleted: &HashMap<Box<[u8]>, u64>,
        current: &mut Option<(&'k [u8], bool, Option<usize>)>,
    ) -> Result<u8, StoreError> {
        let Some((slug, kind, _)) = split(key) else {
            return Ok(home);
        };
        if current.is_none_or(|(s, _, _)| s != slug) {
            let exists = !deleted.contains_key(slug)
                || match self.links.contains(slug) {
                    Ok(exists) => exists,
                    // A damaged bucket cannot say; keeping the counts loses nothing.
                    Err(StoreError::Corrupt { .. }) => true,
                    Err(e) => return Err(e),
                };
            *current = Some((slug, exists, None));
        }
        let Some((_, exists, hosts)) = current.as_mut() else {
            return Ok(home);
        };
        if !*exists {
            // The link was deleted while these counts were pending.
            return Ok(home);
        }
        let home = match (kind, home) {
            (REFERRER, HOME_UNKNOWN) if self.tree.get(key)?.is_none() => {
                let known = match *hosts {
                    Some(known) => known,
                    None => {
                        let mut known = 0;
                        for item in self
                            .tree
                            .scan_prefix(key_of(slug, REFERRER, b""))
                            .keys()
                            .take(MAX_HOSTS)
                        {
                            item?;
                            known += 1;
                        }
                        known
                    }
                };
                if known >= MAX_HOSTS {
                    *hosts = Some(known);
                    HOME_OTHER
                } else {
                    *hosts = Some(known + 1);
                    HOME_OWN
                }
            }
            (_, HOME_OTHER) => HOME_OTHER,
            _ => HOME_OWN,
        };
        let delta = counter::encode(n);
        if home == HOME_OTHER {
            self.tree.merge(key_of(slug, OTHER, b""), delta)?;
        } else {
            self.tree.merge(key, delta)?;
        }
        Ok(home)
    }

    fn give_back(&self, rest: &[Taken]) {
        let mut pending = unpoison(self.pending.write());
        for (key, n, home) in rest {
            pending
                .entry(key.clone())
                .or_insert_with(|| Waiting::new(0, *home))
                .n
                .fetch_add(*n, Ordering::Relaxed);
        }
    }

    /// The counters of `slug`: stored + pending, most first.
    ///
    /// # Errors
    /// sled errors, and damaged counters.
    pub fn read(&self, slug: &str) -> Result<SourceCounts, StoreError> {
        let _gate = unpoison(self.gate.lock());
        let mut out = SourceCounts::default();
        let start = prefix(slug.as_bytes());
        for item in self.tree.scan_prefix(&start) {
            let (key, value) = item?;
            let n = counter::decode(&value)
                .ok_or_else(|| StoreError::corrupt(slug.as_bytes(), "referrer or bot counter"))?;
            if let Some((_, kind, name)) = split(&key) {
                out.add(kind, name, n);
            }
        }
        // One pass over what waits: usually a few entries, at most
        // MAX_PENDING, and only when someone asks for stats. Taken in key
        // order, as the flush takes them, so new hosts past the bound show
        // under "other" now exactly as they will once stored.
        let mut waiting: Vec<(Vec<u8>, u64)> = unpoison(self.pending.read())
            .iter()
            .filter(|(key, _)| key.starts_with(&start))
            .map(|(key, w)| (key.to_vec(), w.n.load(Ordering::Relaxed)))
            // Emptied by the last flush, not yet idle long enough to leave.
            .filter(|(_, n)| *n > 0)
            .collect();
        waiting.sort_unstable();
        for (key, n) in waiting {
            let Some((_, kind, name)) = split(&key) else {
                continue;
            };
            let known = out.referrers.iter().any(|(h, _)| h.as_bytes() == name);
            if kind == REFERRER && !known && out.referrers.len() >= MAX_HOSTS {
                out.other_referrers = out.other_referrers.saturating_add(n);
            } else {
                out.add(kind, name, n);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Stores counters brought in by an import for a new link: hosts past
    /// the bound go to "other" as they would have when counted.
    ///
    /// # Errors
    /// sled errors.
    pub fn import(&self, slug: &str, counts: &SourceCounts) -> Result<(), StoreError> {
        let _gate = unpoison(self.gate.lock());
        let slug = slug.as_bytes();
        let mut batch = sled::Batch::default();
        let mut other = counts.other_referrers;
        for (i, (host, n)) in counts.referrers.iter().enumerate() {
            if i < MAX_HOSTS {
                batch.insert(
                    key_of(slug, REFERRER, host.as_bytes()),
                    &counter::encode(*n),
                );
            } else {
                other = other.saturating_add(*n);
            }
        }
        if other > 0 {
            batch.insert(key_of(slug, OTHER, b""), &counter::encode(other));
        }
        for (name, n) in &counts.bots {
            batch.insert(key_of(slug, BOT, name.as_bytes()), &counter::encode(*n));
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// How many stored counters are damaged (not 8 bytes, or keyed without
    /// a slug and kind), and the stretches sled could not read, for `kurz
    /// check`.
    ///
    /// # Errors
    /// sled I/O errors.
    pub fn audit(&self) -> Result<(u64, Vec<Gap>), StoreError> {
        let mut bad = 0;
        let mut gaps = Vec::new();
        for item in Walk::all(&self.tree) {
            let (key, value) = match item? {
                Step::Entry(key, value) => (key, value),
                Step::Gap(gap) => {
                    gaps.push(gap);
                    continue;
                }
            };
            if split(&key).is_none() || counter::decode(&value).is_none() {
                bad += 1;
            }
        }
        Ok((bad, gaps))
    }

    /// How many stored counters are damaged (see [`Sources::audit`]).
    #[cfg(test)]
    pub fn damaged(&self) -> Result<u64, StoreError> {
        Ok(self.audit()?.0)
    }

    /// Drops every counter of `slug`, pending and stored (the link is gone).
    ///
    /// # Errors
    /// sled errors while removing the stored counters.
    pub fn forget(&self, slug: &str) -> Result<(), StoreError> {
        let mut gate = unpoison(self.gate.lock());
        let round = gate.round;
        gate.deleted.insert(slug.as_bytes().into(), round);
        let start = prefix(slug.as_bytes());
        unpoison(self.pending.write()).retain(|key, _| !key.starts_with(&start));
        let mut batch = sled::Batch::default();
        for key in self.tree.scan_prefix(&start).keys() {
            batch.remove(key?);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
