//! Export and import: every link with its counters, as JSON Lines.
//!
//! One [`ExportRecord`] per line. The format is the backup format of kurz
//! (`kurz export`, `kurz import`), so it carries everything needed to restore
//! a link exactly: its settings, its creation time, its total and its daily
//! click counts. Import validates a whole line before writing any of it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::links::{describe_gap, Walked};
use super::{counter, Link, SourceCounts, Store, StoreError, MAX_HOSTS};
use crate::clock;
use crate::target::TargetRules;

/// One link in the export format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRecord {
    /// The short code.
    pub slug: String,
    /// The target URL.
    pub url: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Expiry, RFC 3339, if any.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Click limit, if any.
    #[serde(default)]
    pub max_clicks: Option<u64>,
    /// The link's own redirect status, if it has one.
    #[serde(default)]
    pub redirect_status: Option<u16>,
    /// Total clicks.
    #[serde(default)]
    pub clicks: u64,
    /// Clicks per UTC day, `YYYY-MM-DD` → count; days without clicks omitted.
    #[serde(default)]
    pub daily: BTreeMap<String, u64>,
    /// Clicks by referrer host, at most [`MAX_HOSTS`] hosts; omitted when
    /// empty (and in exports from before referrers were counted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub referrers: BTreeMap<String, u64>,
    /// Clicks from referrer hosts beyond the first [`MAX_HOSTS`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_referrers: u64,
    /// Bot visits by bot name (not part of `clicks`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bots: BTreeMap<String, u64>,
    /// The name of the API key that made the link, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The link's tags; omitted when it has none (and in exports from
    /// before tags), checked on import as the API checks them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The Argon2id hash (PHC string) of the link's password, so a restore
    /// keeps the protection; omitted when the link has none. Never the
    /// password itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What importing one record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The link and its counters were stored.
    Imported,
    /// A link with this slug already exists; nothing was written.
    Duplicate,
    /// The record is invalid, for the reason given; nothing was written.
    Invalid(String),
}

/// The redirect statuses a link may use.
pub const REDIRECT_STATUSES: [u16; 4] = [301, 302, 307, 308];

/// The largest count an import accepts, in `clicks`, a day, a referrer or
/// a bot: 2^53, where JSON readers that hold numbers as doubles stop being
/// exact, and far beyond any real link. Near `u64::MAX` a stored total
/// could only saturate, never count on.
pub const MAX_IMPORTED_COUNT: u64 = 1 << 53;

impl Store {
    /// Every link with its counters, bucket by bucket: an order that is the
    /// same for the same set of slugs, in any data directory.
    ///
    /// # Errors
    /// Each item may be a sled error, which ends the walk, or damage
    /// ([`StoreError::Corrupt`]): a damaged record or counter, named by its
    /// slug, or a stretch of buckets sled cannot read, named with the links
    /// the listing index places there. The walk goes on past damage, so an
    /// export holds every link that can be read.
    pub fn export(&self) -> impl Iterator<Item = Result<ExportRecord, StoreError>> + '_ {
        self.inner.links.walk().map(move |item| match item? {
            Walked::Link(slug, link) => self
                .export_one(slug.clone(), link)
                .map_err(|e| StoreError::reading(slug.as_bytes(), "click counts", e)),
            Walked::Unreadable(gap) => Err(StoreError::Corrupt {
                detail: format!("{}{}", describe_gap(&gap), self.lost_in(&gap)),
            }),
        })
    }

    /// The export record of one link, its counters as one view: pending
    /// counts are in all of them (see `ClickCounts::snapshot`).
    fn export_one(&self, slug: String, link: Link) -> Result<ExportRecord, StoreError> {
        // Sources first: a click is counted before its referrer, so the
        // referrers read here are always within the clicks read after.
        let sources = self.sources(&slug)?;
        let (dayless, days) = self.inner.counts.snapshot(&slug)?;
        let clicks = days.values().fold(dayless, |a, n| a.saturating_add(*n));
        let daily = days
            .into_iter()
            .map(|(day, n)| (clock::format_day(day), n))
            .collect();
        Ok(ExportRecord {
            referrers: sources.referrers.into_iter().collect(),
            other_referrers: sources.other_referrers,
            bots: sources.bots.into_iter().collect(),
            clicks,
            url: link.target,
            created_at: clock::format_ms(link.created_at),
            expires_at: link.expires_at.map(clock::format_ms),
            max_clicks: link.max_clicks,
            redirect_status: link.redirect_status,
            created_by: link.created_by,
            tags: link.tags,
            password_hash: link.password,
            daily,
            slug,
        })
    }

    /// Imports one record: validated whole first, then stored with its
    /// counters unless the slug exists.
    ///
    /// # Errors
    /// sled errors. Invalid records and duplicates are outcomes, not errors.
    pub fn import(
        &self,
        rec: &ExportRecord,
        rules: &TargetRules,
    ) -> Result<ImportOutcome, StoreError> {
        let link = match validate(rec, rules) {
            Ok(link) => link,
            Err(why) => return Ok(ImportOutcome::Invalid(why)),
        };
        let mut days = Vec::with_capacity(rec.daily.len());
        for (day, n) in &rec.daily {
            match clock::parse_day(day) {
                Ok(d) => days.push((d, *n)),
                Err(why) => return Ok(ImportOutcome::Invalid(format!("daily: {why}"))),
            }
        }
        if self.create(&rec.slug, &link)?.is_err() {
            return Ok(ImportOutcome::Duplicate);
        }
        // A link's total is its day buckets plus clicks known without a day;
        // validation guaranteed the days do not add up to more than `clicks`.
        let dayless = rec.clicks - days.iter().map(|(_, n)| n).sum::<u64>();
        if dayless > 0 {
            self.inner
                .clicks_tree
                .merge(rec.slug.as_bytes(), counter::encode(dayless))?;
        }
        self.inner.counts.import_days(rec.slug.as_bytes(), &days)?;
        let sources = SourceCounts {
            referrers: rec.referrers.clone().into_iter().collect(),
            other_referrers: rec.other_referrers,
            bots: rec.bots.clone().into_iter().collect(),
        };
        if sources != SourceCounts::default() {
            self.inner.sources.import(&rec.slug, &sources)?;
        }
        Ok(ImportOutcome::Imported)
    }
}

fn validate(rec: &ExportRecord, rules: &TargetRules) -> Result<Link, String> {
    crate::slug::validate(&rec.slug).map_err(|e| format!("slug: {e}"))?;
    let target = rules.check(&rec.url).map_err(|e| format!("url: {e}"))?;
    let created_at =
        clock::parse_rfc3339(&rec.created_at).map_err(|e| format!("created_at: {e}"))?;
    let expires_at = match &rec.expires_at {
        Some(t) => Some(clock::parse_rfc3339(t).map_err(|e| format!("expires_at: {e}"))?),
        None => None,
    };
    let absurd = |what: &str, n: u64| {
        (n > MAX_IMPORTED_COUNT).then(|| format!("{what}: {n} is more than {MAX_IMPORTED_COUNT}"))
    };
    let counts = std::iter::once(("clicks", rec.clicks))
        .chain(rec.daily.values().map(|n| ("daily", *n)))
        .chain(rec.referrers.values().map(|n| ("referrers", *n)))
        .chain(std::iter::once(("other_referrers", rec.other_referrers)))
        .chain(rec.bots.values().map(|n| ("bots", *n)));
    if let Some(why) = counts.into_iter().find_map(|(what, n)| absurd(what, n)) {
        return Err(why);
    }
    let daily_sum = rec.daily.values().try_fold(0u64, |a, n| a.checked_add(*n));
    if daily_sum.is_none_or(|sum| sum > rec.clicks) {
        return Err("daily: the days add up to more than clicks".into());
    }
    if rec.referrers.len() > MAX_HOSTS {
        return Err(format!("referrers: more than {MAX_HOSTS} hosts"));
    }
    if let Some(host) = rec.referrers.keys().find(|h| !crate::visit::is_host(h)) {
        return Err(format!("referrers: '{host}' is not a lowercase host name"));
    }
    let referred = rec
        .referrers
        .values()
        .try_fold(rec.other_referrers, |a, n| a.checked_add(*n));
    if referred.is_none_or(|sum| sum > rec.clicks) {
        return Err("referrers: they add up to more than clicks".into());
    }
    if let Some(name) = rec.bots.keys().find(|b| !crate::visit::is_bot_name(b)) {
        return Err(format!("bots: '{name}' is not a bot name kurz counts"));
    }
    if rec.max_clicks == Some(0) {
        return Err("max_clicks: must be at least 1".into());
    }
    if let Some(s) = rec
        .redirect_status
        .filter(|s| !REDIRECT_STATUSES.contains(s))
    {
        return Err(format!(
            "redirect_status: {s} is not one of 301, 302, 307, 308"
        ));
    }
    if let Some(by) = rec
        .created_by
        .as_deref()
        .filter(|by| *by != crate::keys::BUILTIN && crate::keys::check_name(by).is_err())
    {
        return Err(format!("created_by: {by:?} is not a key name"));
    }
    let tags = crate::tags::normalize(&rec.tags).map_err(|e| format!("tags: {e}"))?;
    if let Some(phc) = &rec.password_hash {
        crate::password::check_stored(phc).map_err(|e| format!("password_hash: {e}"))?;
    }
    Ok(Link {
        target: target.into(),
        created_at,
        expires_at,
        max_clicks: rec.max_clicks,
        redirect_status: rec.redirect_status,
        created_by: rec.created_by.clone(),
        password: rec.password_hash.clone(),
        tags,
    })
}
