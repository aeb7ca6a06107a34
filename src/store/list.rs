//! Newest-first listing of links, page by page, with opaque cursors.
//!
//! Listing walks the `created` index backwards and joins each entry with
//! its record. An entry whose record is missing or newer (left by a crash
//! between the two writes of a create, or by an earlier link of a reused
//! slug) is skipped, so the index never needs repair to be correct.
//! Listing one tag walks that tag's range of the `tags` index instead (see
//! [`super::tags`]) and also skips a hit whose record no longer has the tag.

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

/// Most links one search call looks at (see [`Store::search`]).
pub const SEARCH_SCAN: usize = 20_000;

impl Store {
    /// Up to `limit` links, newest first, starting after `after`.
    ///
    /// # Errors
    /// sled errors and damaged records.
    pub fn list(&self, limit: usize, after: Option<&Cursor>) -> Result<Page, StoreError> {
        self.search(limit, after, None)
    }

    /// Up to `limit` links whose slug or URL contains `needle` (case
    /// ignored; all of a link when `None`), newest first, starting after
    /// `after`. The URL matches as stored (punycode host, percent-encoded)
    /// and as typed: its host in Unicode, its escapes decoded
    /// ([`crate::target::search_form`]), so `münchen` finds
    /// `https://xn--mnchen-3ya.de/`. A search looks at no more than [`SEARCH_SCAN`] links per
    /// call, so one call stays short on a large database: its page can then
    /// hold fewer than `limit` links, even none, while `next` says where to
    /// go on.
    ///
    /// # Errors
    /// sled errors and damaged records.
    pub fn search(
        &self,
        limit: usize,
        after: Option<&Cursor>,
        needle: Option<&str>,
    ) -> Result<Page, StoreError> {
        self.search_within(limit, after, needle, None, SEARCH_SCAN)
    }

    /// As [`Store::search`], over the links tagged `tag` only (all links
    /// when `None`). `tag` is compared as given: pass it checked and
    /// lower-cased ([`crate::tags::check`]). A tag's listing walks only
    /// that tag's part of the tag index, however many other links exist.
    ///
    /// # Errors
    /// sled errors and damaged records.
    pub fn search_tagged(
        &self,
        limit: usize,
        after: Option<&Cursor>,
        needle: Option<&str>,
        tag: Option<&str>,
    ) -> Result<Page, StoreError> {
        self.search_within(limit, after, needle, tag, SEARCH_SCAN)
    }

    fn search_within(
        &self,
        limit: usize,
        after: Option<&Cursor>,
        needle: Option<&str>,
        tag: Option<&str>,
        scan: usize,
    ) -> Result<Page, StoreError> {
        let needle = needle.map(str::to_lowercase);
        let before = after.map(|c| entry_key(c.created_at, &c.slug));
        let entries: Box<dyn Iterator<Item = Result<Vec<u8>, StoreError>> + '_> = match tag {
            Some(t) => Box::new(self.inner.tags.newest_first(t, before.as_deref())),
            None => Box::new(self.inner.created.newest_first(before.as_deref())),
        };
        let mut links = Vec::with_capacity(limit.min(1024));
        let mut examined = 0usize;
        // Just after the last link looked at: where a next call goes on.
        let mut last: Option<Cursor> = None;
        let mut next = None;
        for item in entries {
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
            // A tag entry left by a crash, or the tag is gone: skip it.
            if tag.is_some_and(|t| !link.tags.iter().any(|l| l == t)) {
                continue;
            }
            if needle.is_some() && examined == scan {
                next = last;
                break;
            }
            examined += 1;
            let hit = needle.as_deref().is_none_or(|n| {
                contains(&slug, n)
                    || contains(&link.target, n)
                    || crate::target::search_form(&link.target)
                        .is_some_and(|u| u.to_lowercase().contains(n))
            });
            if hit {
                if links.len() == limit {
                    next = last;
                    break;
                }
                last = Some(Cursor {
                    created_at: link.created_at,
                    slug: slug.clone(),
                });
                links.push((slug, link));
            } else {
                last = Some(Cursor {
                    created_at: link.created_at,
                    slug,
                });
            }
        }
        Ok(Page { links, next })
    }
}

/// Whether `hay` contains `needle` (already lower case), ASCII case ignored:
/// slugs and stored URLs are ASCII, so no lower-case copy is needed.
fn contains(hay: &str, needle: &str) -> bool {
    needle.is_empty()
        || hay
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(n: i64) -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        for i in 0..n {
            let target = if i % 3 == 0 {
                "https://Example.com/Three"
            } else {
                "https://other.example/"
            };
            let link = Link {
                target: format!("{target}{i}"),
                created_at: i + 1,
                expires_at: None,
                max_clicks: None,
                redirect_status: None,
                created_by: None,
                password: None,
                tags: Vec::new(),
            };
            store.create(&format!("s{i}"), &link).unwrap().unwrap();
        }
        (store, dir)
    }

    fn slugs(page: &Page) -> Vec<&str> {
        page.links.iter().map(|(s, _)| s.as_str()).collect()
    }

    #[test]
    fn search_matches_slug_or_url_ignoring_case_and_pages_on() {
        let (store, _dir) = store_with(10);
        let page = store.search(2, None, Some("example.COM/three")).unwrap();
        assert_eq!(slugs(&page), ["s9", "s6"]);
        let page = store
            .search(2, page.next.as_ref(), Some("example.COM/three"))
            .unwrap();
        assert_eq!(slugs(&page), ["s3", "s0"]);
        assert!(page.next.is_none());
        let page = store.search(50, None, Some("S1")).unwrap();
        assert_eq!(slugs(&page), ["s1"]);
        assert!(store
            .search(50, None, Some("nowhere"))
            .unwrap()
            .links
            .is_empty());
    }

    // URLs are stored ASCII (punycode host, percent-encoded path) and the
    // needle was compared with that alone, so `münchen` found nothing.
    #[test]
    fn a_unicode_needle_finds_a_punycode_host_and_an_encoded_path() {
        let (store, _dir) = store_with(2);
        let rules = crate::target::TargetRules::new(None);
        for (slug, raw) in [
            ("m", "https://www.München.de/"),
            ("g", "https://a.example/Straße/Größe?s=Ünïcode"),
            ("space", "https://a.example/a%20b"),
        ] {
            let mut link = store.get("s0").unwrap().unwrap();
            link.target = rules.check(raw).unwrap().into();
            link.created_at += 10;
            store.create(slug, &link).unwrap().unwrap();
        }
        let find = |n: &str| slugs(&store.search(50, None, Some(n)).unwrap()).join(",");
        assert_eq!(find("münchen"), "m");
        assert_eq!(find("MÜNCHEN.DE"), "m");
        assert_eq!(find("xn--mnchen-3ya"), "m");
        assert_eq!(find("straße/größe"), "g");
        assert_eq!(find("GRÖSSE"), "");
        assert_eq!(find("ünïcode"), "g");
        assert_eq!(find("%c3%9F"), "g");
        assert_eq!(find("a b"), "space");
    }

    #[test]
    fn a_search_stops_after_its_scan_budget_and_says_where_to_go_on() {
        let (store, _dir) = store_with(10);
        // Hits are s9, s6, s3, s0. Four links looked at (s9..s6), then the
        // budget is spent: the page is short, and goes on after s6.
        let page = store
            .search_within(50, None, Some("three"), None, 4)
            .unwrap();
        assert_eq!(slugs(&page), ["s9", "s6"]);
        let next = page.next.clone().unwrap();
        assert_eq!(next.slug, "s6");
        let page = store
            .search_within(50, Some(&next), Some("three"), None, 4)
            .unwrap();
        assert_eq!(slugs(&page), ["s3"]);
        assert_eq!(page.next.clone().unwrap().slug, "s2");
        let page = store
            .search_within(50, page.next.as_ref(), Some("three"), None, 4)
            .unwrap();
        assert_eq!(slugs(&page), ["s0"]);
        assert!(page.next.is_none());
    }

    fn tag(store: &Store, t: &str, limit: usize, after: Option<&Cursor>) -> Page {
        store.search_tagged(limit, after, None, Some(t)).unwrap()
    }

    fn set_tags(store: &Store, slug: &str, tags: &[&str]) {
        let patch = crate::store::LinkPatch {
            tags: Some(tags.iter().map(|t| t.to_string()).collect()),
            ..Default::default()
        };
        store.update(slug, &patch).unwrap().unwrap();
    }

    #[test]
    fn a_tag_lists_its_links_newest_first_and_follows_changes() {
        let (store, _dir) = store_with(7);
        for i in [0, 2, 3, 5, 6] {
            set_tags(&store, &format!("s{i}"), &["odd-one", "t"]);
        }
        let page = tag(&store, "t", 2, None);
        assert_eq!(slugs(&page), ["s6", "s5"]);
        let page = tag(&store, "t", 2, page.next.as_ref());
        assert_eq!(slugs(&page), ["s3", "s2"]);
        let page = tag(&store, "t", 2, page.next.as_ref());
        assert_eq!(slugs(&page), ["s0"]);
        assert!(page.next.is_none());

        set_tags(&store, "s5", &["u"]);
        store.delete("s6").unwrap();
        assert_eq!(slugs(&tag(&store, "t", 10, None)), ["s3", "s2", "s0"]);
        assert_eq!(slugs(&tag(&store, "u", 10, None)), ["s5"]);
        // A search within a tag: s0, s3 and s6 point to Example.com/Three.
        let page = store
            .search_tagged(10, None, Some("three"), Some("t"))
            .unwrap();
        assert_eq!(slugs(&page), ["s3", "s0"]);
        set_tags(&store, "s3", &[]);
        assert_eq!(slugs(&tag(&store, "t", 10, None)), ["s2", "s0"]);
        assert!(store.check().unwrap().is_clean());
    }

    /// What a crash between the index write and the record write leaves:
    /// an entry whose record does not have the tag. Listings skip it, and
    /// `kurz check` notes it without calling the store damaged (the server
    /// would otherwise say it is degraded after every such crash).
    #[test]
    fn an_entry_without_its_record_tag_is_skipped_and_noted() {
        let (store, _dir) = store_with(3);
        set_tags(&store, "s1", &["t"]);
        let s2 = store.get("s2").unwrap().unwrap();
        store
            .inner
            .tags
            .insert(&["t"], s2.created_at, "s2")
            .unwrap();
        store.inner.tags.insert(&["t"], 1, "gone").unwrap();
        assert_eq!(slugs(&tag(&store, "t", 10, None)), ["s1"]);
        let report = store.check().unwrap();
        assert!(report.is_clean(), "{:?}", report.problems);
        assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
        assert!(report.notes[0].contains("2 entries"), "{:?}", report.notes);

        // And the other way round: a record tag whose entry was lost.
        let s1 = store.get("s1").unwrap().unwrap();
        store
            .inner
            .tags
            .remove(&["t"], s1.created_at, "s1")
            .unwrap();
        let report = store.check().unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("'s1' has tag 't'")),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn a_taken_slug_leaves_no_tag_entry_of_the_loser() {
        let (store, _dir) = store_with(1);
        let mut link = store.get("s0").unwrap().unwrap();
        link.created_at += 5;
        link.tags = vec!["lost".into()];
        assert!(store.create("s0", &link).unwrap().is_err());
        assert_eq!(store.inner.tags.entries().count(), 0);
    }
}
