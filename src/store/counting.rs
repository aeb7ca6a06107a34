//! Counting clicks through the store: the redirect's click and peek, the
//! counts the API reads, and the steps the server's click flusher drives.
//!
//! The counters themselves live in [`super::clicks`]; this file is the
//! store's face for them, so `mod.rs` keeps links and their lifecycle.

use std::sync::atomic::Ordering::Relaxed;

use super::clicks::Counted;
use super::{CachedLink, ClickOutcome, SourceCounts, Store, StoreError};
use crate::visit::Visit;

impl Store {
    /// Begins a round of storing pending clicks, to be carried out by
    /// [`Store::flush_clicks_step`]. Does nothing while a round is unfinished.
    pub fn begin_click_round(&self) {
        self.inner.counts.begin_round();
    }

    /// Stores up to `max` pending day counts of the current round as one
    /// journal record; `None` once the round is complete.
    ///
    /// # Errors
    /// sled errors; what could not be stored stays pending.
    pub fn flush_clicks_step(&self, max: usize) -> Result<Option<u64>, StoreError> {
        // Below the disk reserve the counts stay pending, in memory.
        self.inner.health.check_space()?;
        self.inner.health.watch(self.inner.counts.flush_some(max))
    }

    /// Whether a fold of the click journal into the day counters is under
    /// way or due (see `store/clicks/journal.rs`).
    pub fn fold_clicks_due(&self) -> bool {
        self.inner.counts.fold_due()
    }

    /// Slug-days of counted clicks waiting to be folded into the day
    /// counters; they are held in memory until then.
    pub fn fold_clicks_backlog(&self) -> usize {
        self.inner.counts.fold_backlog()
    }

    /// One step of folding the click journal into the day counters: up to
    /// `max_slugs` slugs' counts, in one atomic sled batch. False once
    /// nothing is left to fold.
    ///
    /// # Errors
    /// sled errors; the step is tried again later.
    pub fn fold_clicks_step(&self, max_slugs: usize) -> Result<bool, StoreError> {
        self.inner.health.check_space()?;
        self.inner
            .health
            .watch(self.inner.counts.fold_step(max_slugs))
    }

    /// Moves pending clicks into sled (not yet fsynced); returns how many.
    ///
    /// # Errors
    /// sled errors; unmerged counts stay pending.
    pub fn flush_clicks(&self) -> Result<u64, StoreError> {
        self.inner.counts.flush()
    }

    /// Counts a click on a resolved link at `now` (Unix ms), unless it has
    /// expired or reached its click limit. A bot's visit is counted apart
    /// and not as a click, except on a link with a click limit: there every
    /// redirect served counts against the limit, as a `User-Agent` is the
    /// client's to choose and must not be a way around it. A person's
    /// referrer host is counted with the click.
    ///
    /// # Errors
    /// Reading the stored count can fail on first click after a flush.
    pub fn click(
        &self,
        slug: &str,
        link: &CachedLink,
        now: i64,
        visit: &Visit,
    ) -> Result<ClickOutcome, StoreError> {
        if link.expired_at(now) {
            return Ok(ClickOutcome::Expired);
        }
        if let (Some(bot), None) = (visit.bot, link.max_clicks) {
            self.inner.sources.count_bot(slug, bot);
            self.inner.activity.bot_visits.fetch_add(1, Relaxed);
            return Ok(ClickOutcome::Counted);
        }
        let day = crate::clock::day_of(now);
        Ok(
            match self.inner.counts.count(&link.tally, day, link.max_clicks)? {
                Counted::Yes => {
                    self.inner.activity.clicks.fetch_add(1, Relaxed);
                    if let Some(host) = &visit.referrer {
                        self.inner.sources.count_referrer(slug, host);
                    }
                    ClickOutcome::Counted
                }
                Counted::LimitReached => ClickOutcome::LimitReached,
            },
        )
    }

    /// Moves pending referrer and bot counts into sled (not yet fsynced);
    /// returns how many it stored. The server does this every couple of
    /// seconds; [`Store::flush_all`] does it too.
    ///
    /// # Errors
    /// sled errors and a disk below the reserve; what was not stored stays
    /// pending.
    pub fn flush_sources(&self) -> Result<u64, StoreError> {
        self.inner.health.check_space()?;
        self.inner.health.watch(self.inner.sources.flush())
    }

    /// Where the clicks of `slug` came from: referrer hosts and bot visits,
    /// stored + pending.
    ///
    /// # Errors
    /// sled errors and damaged counters.
    pub fn sources(&self, slug: &str) -> Result<SourceCounts, StoreError> {
        self.inner.sources.read(slug)
    }

    /// Whether a link could still be followed at `now` without counting it:
    /// the check `HEAD` uses.
    ///
    /// # Errors
    /// sled errors and damaged counters.
    pub fn peek(
        &self,
        slug: &str,
        link: &CachedLink,
        now: i64,
    ) -> Result<ClickOutcome, StoreError> {
        if link.expired_at(now) {
            return Ok(ClickOutcome::Expired);
        }
        if let Some(max) = link.max_clicks {
            if self.clicks(slug)? >= max {
                return Ok(ClickOutcome::LimitReached);
            }
        }
        Ok(ClickOutcome::Counted)
    }

    /// The live click total of `slug` (stored + pending).
    ///
    /// # Errors
    /// sled errors and damaged counters.
    pub fn clicks(&self, slug: &str) -> Result<u64, StoreError> {
        self.inner.counts.total(slug)
    }

    /// Clicks of `slug` for each day `from..=to` (day numbers), stored + pending.
    ///
    /// # Errors
    /// sled errors and damaged counters.
    pub fn daily(&self, slug: &str, from: u32, to: u32) -> Result<Vec<u64>, StoreError> {
        self.inner.counts.daily(slug, from, to)
    }
}
