//! The integrity check: everything stored, read back and counted against
//! the bookkeeping.
//!
//! sled 0.34 opens a data file with damaged bytes without an error and
//! drops the keys it cannot read, so "it opened" proves nothing. The check
//! decodes every bucket, record, index chunk and counter, and compares the
//! number of links and the checksum of their slugs with what every create
//! and delete recorded beside the buckets (see [`super::links`]). It also
//! matches the tag index against the tags the records hold.

use super::clicks::days;
use super::links::{bucket_key, describe_gap};
use super::walk::{Gap, Step, Walk};
use super::{counter, entry_key, Store, StoreError};

/// Most slugs named for one stretch of unreadable buckets.
const NAMED: usize = 20;

/// What [`Store::check`] found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Links whose buckets could be read.
    pub links: u64,
    /// Links the bookkeeping says are stored (`None`: no bookkeeping).
    pub expected: Option<u64>,
    /// Every problem, in plain words; empty when all is well.
    pub problems: Vec<String>,
    /// Findings that need no action and do not make the report unclean:
    /// leftovers of a crash that every read skips (tag index entries whose
    /// link no longer has the tag).
    pub notes: Vec<String>,
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
            notes: Vec::new(),
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
        for gap in &audit.gaps {
            report
                .problems
                .push(format!("{}{}", describe_gap(gap), self.lost_in(gap)));
        }
        report.problems.extend(
            audit
                .undecodable
                .into_iter()
                .map(|u| format!("undecodable record: {u}")),
        );
        for e in s.created.newest_first(None).filter_map(Result::err) {
            report.problems.push(format!("listing index: {e}"));
        }
        if stop() {
            report.stopped = true;
            return Ok(report);
        }
        self.check_tags(&mut report)?;
        for (name, tree) in [("daily", &s.daily_tree), ("clicks", &s.clicks_tree)] {
            let mut bad = 0u64;
            for item in Walk::all(tree) {
                let (k, v) = match item? {
                    Step::Entry(k, v) => (k, v),
                    Step::Gap(gap) => {
                        report.problems.push(format!(
                            "the {name} tree {} cannot be read ({}): the click counts there are lost",
                            gap.describe(hex),
                            gap.error
                        ));
                        continue;
                    }
                };
                let readable = if name != "daily" {
                    counter::decode(&v).is_some()
                } else if k.first() == Some(&0) {
                    // Click journal records live in `daily` under a 0x00 prefix.
                    continue;
                } else if days::is_block_key(&k) {
                    days::block_from_key(&k).is_some_and(|b| days::decode(b, &v).is_some())
                } else {
                    // A per-day counter of a layout before 4.
                    counter::decode(&v).is_some()
                };
                if !readable {
                    bad += 1;
                }
            }
            if bad > 0 {
                report
                    .problems
                    .push(format!("{bad} damaged counters in the {name} tree"));
            }
        }
        let (bad, gaps) = s.sources.audit()?;
        for gap in gaps {
            report.problems.push(format!(
                "the referrer and bot counters {} cannot be read ({})",
                gap.describe(hex),
                gap.error
            ));
        }
        if bad > 0 {
            report
                .problems
                .push(format!("{bad} damaged referrer or bot counters"));
        }
        Ok(report)
    }

    /// The links the listing index places in `gap`, a stretch of buckets
    /// sled could not read: ", holding N links by the listing index: …".
    /// The index is read for this alone, so only when there is damage.
    pub(super) fn lost_in(&self, gap: &Gap) -> String {
        let mut named = Vec::new();
        let mut count = 0usize;
        for entry in self.inner.created.newest_first(None).flatten() {
            let Some(slug) = entry.get(8..) else { continue };
            if gap.covers(&bucket_key(slug)) {
                count += 1;
                if named.len() < NAMED {
                    named.push(format!("'{}'", String::from_utf8_lossy(slug)));
                }
            }
        }
        let more = if count > named.len() { ", …" } else { "" };
        match count {
            0 => ", holding no link the listing index knows".to_owned(),
            _ => format!(
                ", holding {count} links by the listing index: {}{more}",
                named.join(", ")
            ),
        }
    }

    /// Matches the tag index against the records: a record tag without an
    /// entry (the link is missing from its tag's listing) is a problem; an
    /// entry whose record does not have the tag is what a crash between the
    /// writes of a change leaves, which listings skip, so only a note.
    fn check_tags(&self, report: &mut CheckReport) -> Result<(), StoreError> {
        let s = &self.inner;
        // A tag entry is whole when the record of its slug has the tag and
        // the entry's time.
        let matches = |tag: &str, entry: &[u8]| -> Result<bool, StoreError> {
            let slug = String::from_utf8_lossy(entry.get(8..).unwrap_or_default()).into_owned();
            Ok(match s.links.get(slug.as_bytes()) {
                Ok(Some(link)) => {
                    entry_key(link.created_at, &slug) == entry && link.tags.iter().any(|t| t == tag)
                }
                Ok(None) | Err(StoreError::Corrupt { .. }) => false,
                Err(e) => return Err(e),
            })
        };
        let mut damaged = 0u64;
        let mut suspects = Vec::new();
        for item in s.tags.entries() {
            match item {
                Ok((tag, entry)) => {
                    if !matches(&tag, &entry)? {
                        suspects.push((tag, entry));
                    }
                }
                Err(StoreError::Corrupt { .. }) => damaged += 1,
                Err(e) => return Err(e),
            }
        }
        let mut missing = Vec::new();
        for item in s.links.iter() {
            // Damaged records are reported by the audit already.
            let Ok((slug, link)) = item else { continue };
            for tag in &link.tags {
                if !s.tags.contains(tag, link.created_at, &slug)? {
                    missing.push((tag.clone(), slug.clone()));
                }
            }
        }
        // A change of tags beside a running server can look like either
        // problem for a moment: look again at what was found with changes
        // of tags held off, and believe only that.
        let _tags = s.tags.lock();
        let mut stale = 0u64;
        for (tag, entry) in &suspects {
            if !matches(tag, entry)? {
                stale += 1;
            }
        }
        let problems = &mut report.problems;
        for (tag, slug) in missing {
            let link = s.links.get(slug.as_bytes())?;
            if let Some(link) = link.filter(|l| l.tags.contains(&tag)) {
                if !s.tags.contains(&tag, link.created_at, &slug)? {
                    problems.push(format!(
                        "tag index: '{slug}' has tag '{tag}' but no index entry"
                    ));
                }
            }
        }
        if damaged > 0 {
            problems.push(format!("tag index: {damaged} damaged entries"));
        }
        if stale > 0 {
            report.notes.push(format!(
                "tag index: {stale} entries whose link does not have the tag, left by a crash; \
                 listings skip them"
            ));
        }
        Ok(())
    }
}

/// A key (or a bound between keys) as hex.
fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}
