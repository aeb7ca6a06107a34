//! Flush rounds: moving pending day counts into sled.
//!
//! A round takes the pending day counts out of the click maps at once, then
//! stores them as journal records ([`ClickCounts::flush_some`], one record
//! per call). Until a count is stored, readers still see it as pending; each
//! stored count settles exactly that much of its link's pending total.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{slug_from_day_key, unpoison, ClickCounts, StoreError};

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
        if gate.next < gate.draining.len() {
            return;
        }
        gate.round += 1;
        let round = gate.round;
        // A click can trail its link's deletion only by the moment between
        // resolving and counting; two rounds cover it with room to spare.
        gate.deleted.retain(|_, at| round - *at <= 2);
        // Each counter is swapped to zero, so a click lands either in this
        // round or in the next. Entries stay (a key clone is a reference
        // count), so the next click on the same slug-day finds its counter
        // under the read lock: taking the whole map made every slug's first
        // click of each round insert and allocate under the write lock, and
        // regrow the map from empty, 5 rounds a second. Entries that were
        // already idle leave. Not sorted: sorting ~10k keys took about a
        // millisecond on the request worker, for no measurable gain.
        let mut draining = Vec::new();
        unpoison(self.days.write()).retain(|key, n| {
            let count = n.swap(0, Ordering::Relaxed);
            if count > 0 {
                draining.push((key.clone(), count));
            }
            count > 0
        });
        gate.draining = draining;
        gate.next = 0;
        gate.active = true;
    }

    /// Stores up to `max` day counts of the current round. Returns how many
    /// clicks were stored, or `None` once the round is complete (idle
    /// counters are then dropped from memory). The counts go to sled as one
    /// journal record.
    ///
    /// # Errors
    /// sled write errors; the counts of the failed step go back to pending.
    pub fn flush_some(&self, max: usize) -> Result<Option<u64>, StoreError> {
        let mut gate = unpoison(self.gate.lock());
        let (from, to) = (
            gate.next,
            gate.draining.len().min(gate.next.saturating_add(max)),
        );
        if from == to {
            if std::mem::take(&mut gate.active) {
                // Entries idle for a whole round leave memory (their counts
                // are in sled); hot ones stay, so their next click needs no
                // write lock.
                unpoison(self.totals.write()).retain(|_, live| {
                    let busy = live.touched.swap(false, Ordering::Relaxed);
                    busy || live.pending() > 0
                });
            }
            gate.draining = Vec::new();
            gate.next = 0;
            return Ok(None);
        }
        let mut moved = 0;
        let mut batch = Vec::with_capacity(to - from);
        let mut failure = None;
        for (key, n) in &gate.draining[from..to] {
            moved += n;
            if *n == 0 {
                continue;
            }
            let slug = slug_from_day_key(key);
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
                batch.push((&**key, *n));
            }
        }
        if failure.is_none() {
            failure = self.daily.append(&batch).err();
        }
        drop(batch);
        if let Some(e) = failure {
            return self.give_back(gate, e);
        }
        let stored = to;
        // Each entry's `persisted` grows by exactly what was stored for it,
        // so stored + (count - persisted) counts every click once, whichever
        // side of the swap it fell.
        {
            let totals = unpoison(self.totals.read());
            for (key, n) in &gate.draining[from..stored] {
                if let Some(live) = totals.get(slug_from_day_key(key)) {
                    live.persisted.fetch_add(*n, Ordering::SeqCst);
                }
            }
        }
        gate.next = stored;
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
        let mut days = unpoison(self.days.write());
        for (key, n) in rest {
            days.entry(key)
                .or_insert_with(|| AtomicU64::new(0))
                .fetch_add(n, Ordering::Relaxed);
        }
        Err(e)
    }
}
