//! Flush rounds: moving pending day counts into sled.
//!
//! A round takes the pending day counts out of the click maps at once, then
//! stores them as journal records ([`ClickCounts::flush_some`], one record
//! per call). Until a count is stored, readers still see it as pending; each
//! stored count settles exactly that much of its link's pending total.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{unpack, unpoison, ClickCounts, Drain, StoreError, COUNT};

impl ClickCounts {
    /// Stores every pending count and folds the journal into `daily`.
    /// Returns the number of clicks stored. For shutdown and offline
    /// use; the server runs one round at a time ([`ClickCounts::flush_some`]).
    ///
    /// # Errors
    /// sled write errors. Counts that could not be merged stay pending.
    pub fn flush(&self) -> Result<u64, StoreError> {
        let mut moved = 0;
        // Finish a round already begun, then take everything pending now.
        while let Some(n) = self.flush_some(usize::MAX)? {
            moved += n;
        }
        self.begin_round();
        while let Some(n) = self.flush_some(usize::MAX)? {
            moved += n;
        }
        self.daily.fold_all()?;
        Ok(moved)
    }

    /// Begins a flush round: takes the pending day counts to be stored by
    /// [`ClickCounts::flush_some`]. Does nothing while a round is unfinished.
    pub fn begin_round(&self) {
        let mut gate = unpoison(self.gate.lock());
        if gate.next < gate.draining.len() || !gate.taken.is_empty() {
            return;
        }
        gate.round += 1;
        let round = gate.round;
        // A click can trail its link's deletion only by the moment between
        // resolving and counting; two rounds cover it with room to spare.
        gate.deleted.retain(|_, at| round - *at <= 2);
        gate.draining = std::mem::take(&mut gate.spilled);
        // Only entries clicked since the last round are looked at, and only
        // by the steps: taking the list is one swap, where clearing ~10,000
        // counters here held the runtime worker for half a millisecond.
        gate.taken = std::mem::take(&mut *unpoison(self.dirty.lock()));
        gate.next = 0;
        gate.active = true;
    }

    /// Stores up to `max` day counts of the current round. Returns how many
    /// clicks were stored, or `None` once the round is complete (idle
    /// entries are then dropped from memory, at most every
    /// [`super::SWEEP_EVERY`]). The counts go to sled as one journal record.
    ///
    /// # Errors
    /// sled write errors; the counts of the failed step go back to pending.
    pub fn flush_some(&self, max: usize) -> Result<Option<u64>, StoreError> {
        let mut gate = unpoison(self.gate.lock());
        // This step's share of the round's dirty entries. Each word keeps
        // its day and loses its count in one atomic step, so a click lands
        // either in this round or in the next (and a click on an emptied
        // word puts its entry on the dirty list again).
        for _ in 0..max {
            if gate.draining.len() - gate.next >= max {
                break;
            }
            let Some(live) = gate.taken.pop() else {
                break;
            };
            let (day, n) = unpack(live.round.fetch_and(!COUNT, Ordering::AcqRel));
            if n > 0 {
                gate.draining.push(Drain { live, day, n });
            }
        }
        let (from, to) = (
            gate.next,
            gate.draining.len().min(gate.next.saturating_add(max)),
        );
        if from == to && !gate.taken.is_empty() {
            // Only emptied words this step (entries listed twice).
            return Ok(Some(0));
        }
        if from == to {
            let sweep = gate.swept.is_none_or(|at| at.elapsed() >= self.sweep_every);
            if std::mem::take(&mut gate.active) && sweep {
                gate.swept = Some(std::time::Instant::now());
                // Entries idle since the last sweep leave memory (their
                // counts are in sled), unless a cached link holds them; hot
                // ones stay.
                unpoison(self.totals.write()).retain(|_, live| {
                    let busy = live.touched.swap(false, Ordering::Relaxed);
                    busy || live.pending() > 0 || Arc::strong_count(live) > 1
                });
            }
            gate.draining = Vec::new();
            gate.next = 0;
            return Ok(None);
        }
        let mut moved = 0;
        let mut kept = Vec::with_capacity(to - from);
        let mut failure = None;
        for d in &gate.draining[from..to] {
            moved += d.n;
            if d.n == 0 {
                continue;
            }
            let slug = &*d.live.slug;
            let gone = gate.deleted.contains_key(slug)
                && match self.links.contains(slug) {
                    Ok(exists) => !exists,
                    // A damaged bucket cannot say; keeping the clicks loses
                    // nothing, and retrying would stall every round.
                    Err(StoreError::Corrupt { .. }) => false,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                };
            if !gone {
                kept.push((slug, d.day, d.n));
            }
        }
        if failure.is_none() {
            failure = self.daily.append(&kept).err();
        }
        if let Some(e) = failure {
            return self.give_back(gate, e);
        }
        // Each entry's `persisted` grows by exactly what was stored for it,
        // so stored + (count - persisted) counts every click once, whichever
        // side of the swap it fell.
        for d in &gate.draining[from..to] {
            d.live.persisted.fetch_add(d.n, Ordering::SeqCst);
        }
        gate.next = to;
        Ok(Some(moved))
    }

    /// Puts the rest of the round back into pending after a failed write,
    /// for a later round.
    fn give_back(
        &self,
        mut gate: std::sync::MutexGuard<'_, super::Gate>,
        e: StoreError,
    ) -> Result<Option<u64>, StoreError> {
        let next = gate.next;
        let rest = gate.draining.split_off(next);
        gate.spilled.extend(rest);
        Err(e)
    }
}
