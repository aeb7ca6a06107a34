//! The integrity check: everything stored, read back and counted against
//! the bookkeeping.
//!
//! sled 0.34 opens a data file with damaged bytes without an error and
//! drops the keys it cannot read, so "it opened" proves nothing. The check
//! decodes every bucket, record, index chunk and counter, and compares the
//! number of links and the checksum of their slugs with what every create
//! and delete recorded beside the buckets (see [`super::links`]).

use super::{counter, Store, StoreError};

/// What [`Store::check`] found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Links whose buckets could be read.
    pub links: u64,
    /// Links the bookkeeping says are stored (`None`: no bookkeeping).
    pub expected: Option<u64>,
    /// Every problem, in plain words; empty when all is well.
    pub problems: Vec<String>,
    /// The check was stopped before the end; the report is partial.
    pub stopped: bool,
}

impl CheckReport {
    /// True when nothing is missing, damaged or out of place.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Reads everything stored and compares it with the bookkeeping.
    /// Blocking, and as slow as reading the whole database.
    ///
    /// # Errors
    /// sled errors that stop the walk itself; damage is a problem in the
    /// report, not an error.
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        self.check_until(&|| false)
    }

    /// As [`Store::check`], stopping early (with a partial report, marked
    /// `stopped`) once `stop` returns true: a server shutting down must not
    /// wait for a check of millions of links.
    ///
    /// # Errors
    /// As [`Store::check`].
    pub fn check_until(&self, stop: &dyn Fn() -> bool) -> Result<CheckReport, StoreError> {
        let s = &self.inner;
        // A walk beside a running server can see a link created after it
        // passed the link's bucket but counted in the bookkeeping it reads
        // at the end. So a walk that does not add up is done again with
        // creates and deletes held off, and only that one is believed.
        let mut audit = s.links.audit(stop, false)?;
        if !audit.stopped && audit.book != Some(audit.found) {
            audit = s.links.audit(stop, true)?;
        }
        if audit.stopped {
            return Ok(CheckReport {
                stopped: true,
                ..CheckReport::default()
            });
        }
        let book = audit.book;
        let mut report = CheckReport {
            links: audit.found.count,
            expected: book.map(|b| b.count),
            problems: Vec::new(),
            stopped: false,
        };
        match book {
            None => report
                .problems
                .push("the link bookkeeping is missing or damaged".into()),
            Some(b) if b.count != audit.found.count => report.problems.push(format!(
                "{} links are recorded but {} can be read: {} missing",
                b.count,
                audit.found.count,
                b.count.abs_diff(audit.found.count)
            )),
            Some(b) if b.sum != audit.found.sum => report.problems.push(
                "the slugs that can be read are not the ones recorded (same count, other slugs)"
                    .into(),
            ),
            Some(_) => {}
        }
        report.problems.extend(audit.damaged);
        report.problems.extend(
            audit
                .undecodable
                .into_iter()
                .map(|u| format!("undecodable record: {u}")),
        );
        if let Some(e) = s.created.newest_first(None).find_map(Result::err) {
            report.problems.push(format!("listing index: {e}"));
        }
        for (name, tree) in [("daily", &s.daily_tree), ("clicks", &s.clicks_tree)] {
            let mut bad = 0u64;
            for item in tree.iter() {
                let (k, v) = item?;
                // Click journal records live in `daily` under a 0x00 prefix.
                if k.first() == Some(&0) && name == "daily" {
                    continue;
                }
                if counter::decode(&v).is_none() {
                    bad += 1;
                }
            }
            if bad > 0 {
                report
                    .problems
                    .push(format!("{bad} damaged counters in the {name} tree"));
            }
        }
        let bad = s.sources.damaged()?;
        if bad > 0 {
            report
                .problems
                .push(format!("{bad} damaged referrer or bot counters"));
        }
        Ok(report)
    }
}
