//! Newest-first listing of links, page by page, with opaque cursors.
//!
//! Listing walks the `created` index backwards and joins each entry with
//! its record. An entry whose record is missing or newer (left by a crash
//! between the two writes of a create, or by an earlier link of a reused
//! slug) is skipped, so the index never needs repair to be correct.

use super::{entry_key, Store, StoreError};
use crate::store::Link;

/// Where a newest-first listing continues: just after this link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last link of the previous page.
    pub created_at: i64,
    /// Its slug.
    pub slug: String,
}

impl Cursor {
    /// The cursor as the opaque text clients pass back: `<ms>.<slug>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.slug)
    }

    /// Parses text made by [`Cursor::encode`]; `None` if it is not one.
    pub fn decode(text: &str) -> Option<Cursor> {
        let (ms, slug) = text.split_once('.')?;
        let created_at = ms.parse().ok()?;
        crate::slug::could_exist(slug).then(|| Cursor {
            created_at,
            slug: slug.to_owned(),
        })
    }
}

/// One page of a newest-first listing.
#[derive(Debug, Clone)]
pub struct Page {
    /// Links on this page, newest first.
    pub links: Vec<(String, Link)>,
    /// Where the next page starts, if there is one.
    pub next: Option<Cursor>,
}

impl Store {
    /// Up to `limit` links, newest first, starting after `after`.
    ///
    /// # Errors
    /// sled errors and damaged records.
    pub fn list(&self, limit: usize, after: Option<&Cursor>) -> Result<Page, StoreError> {
        let before = after.map(|c| entry_key(c.created_at, &c.slug));
        let mut links = Vec::with_capacity(limit.min(1024));
        let mut more = false;
        for item in self.inner.created.newest_first(before.as_deref()) {
            let key = match item {
                Ok(key) => key,
                Err(e @ StoreError::Corrupt { .. }) => {
                    tracing::error!(error = %e, "skipping a damaged part of the listing index");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(slug_bytes) = key.get(8..) else {
                continue;
            };
            let slug = String::from_utf8_lossy(slug_bytes).into_owned();
            let link = match self.get(&slug) {
                Ok(Some(link)) => link,
                Ok(None) => continue,
                // One damaged record must not hide every other link.
                Err(e @ StoreError::Corrupt { .. }) => {
                    tracing::error!(error = %e, "skipping a damaged record in a listing");
                    continue;
                }
                Err(e) => return Err(e),
            };
            // An index entry left by a crash, or by an earlier link of the
            // same slug, does not match the record: skip it.
            if entry_key(link.created_at, &slug) != key {
                continue;
            }
            if links.len() == limit {
                more = true;
                break;
            }
            links.push((slug, link));
        }
        let next = match (more, links.last()) {
            (true, Some((slug, link))) => Some(Cursor {
                created_at: link.created_at,
                slug: slug.clone(),
            }),
            _ => None,
        };
        Ok(Page { links, next })
    }
}
