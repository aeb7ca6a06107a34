//! Changing links: create, update and delete, with the listing and tag
//! indexes kept in step (index entries go in before a record and come out
//! after it, so a crash leaves at most a stale entry that reads skip).

use super::created::entry_key;
use super::record::Link;
use super::{LinkPatch, SlugTaken, Store, StoreError, GENERATE_TRIES};

impl Store {
    /// Stores a new link under `slug` unless the slug is taken. The check is
    /// a compare-and-swap, so of two concurrent creators exactly one wins.
    /// Not yet durable: call [`Store::sync`] before acknowledging.
    ///
    /// # Errors
    /// sled errors; [`StoreError::DiskFull`] below the free-space reserve.
    pub fn create(&self, slug: &str, link: &Link) -> Result<Result<(), SlugTaken>, StoreError> {
        self.inner.health.check_space()?;
        self.inner.health.watch(self.insert_link(slug, link))
    }

    fn insert_link(&self, slug: &str, link: &Link) -> Result<Result<(), SlugTaken>, StoreError> {
        let s = &self.inner;
        // Index first: a crash between the two writes leaves an index entry
        // without a link, which listing skips, never a link missing from lists.
        let index = entry_key(link.created_at, slug);
        s.created.insert(&index)?;
        s.tags.insert(&link.tags, link.created_at, slug)?;
        match s.links.insert_new(slug.as_bytes(), &link.encode())? {
            Ok(()) => {
                s.cache.invalidate(slug);
                Ok(Ok(()))
            }
            Err(current) => {
                // The index entry we wrote may be the winner's too: same slug,
                // same millisecond (or a re-import of the same record). Only
                // take it back when the stored link does not own it.
                let winner = Link::decode(&current)
                    .ok()
                    .filter(|w| w.created_at == link.created_at);
                if winner.is_none() {
                    s.created.remove(&index)?;
                }
                let winner_tags = winner.map(|w| w.tags).unwrap_or_default();
                let ours: Vec<&String> = link
                    .tags
                    .iter()
                    .filter(|t| !winner_tags.contains(t))
                    .collect();
                s.tags.remove(&ours, link.created_at, slug)?;
                Ok(Err(SlugTaken))
            }
        }
    }

    /// Stores a new link under a fresh random slug of `len` characters.
    ///
    /// # Errors
    /// sled errors; [`StoreError::SlugSpace`] if every try collided.
    pub fn create_generated(&self, len: usize, link: &Link) -> Result<String, StoreError> {
        for _ in 0..GENERATE_TRIES {
            let slug = crate::slug::generate(len);
            if self.create(&slug, link)?.is_ok() {
                return Ok(slug);
            }
        }
        Err(StoreError::SlugSpace)
    }

    /// Applies `patch` to the link of `slug`; `None` if there is no such link.
    /// A compare-and-swap loop, so concurrent patches never lose each other.
    ///
    /// # Errors
    /// sled errors and damaged records; [`StoreError::DiskFull`] below the
    /// free-space reserve.
    pub fn update(&self, slug: &str, patch: &LinkPatch) -> Result<Option<Link>, StoreError> {
        self.inner.health.check_space()?;
        self.inner.health.watch(self.patch_link(slug, patch))
    }

    fn patch_link(&self, slug: &str, patch: &LinkPatch) -> Result<Option<Link>, StoreError> {
        let s = &self.inner;
        let Some(new_tags) = &patch.tags else {
            return self
                .patch_record(slug, patch)
                .map(|u| u.map(|(link, _)| link));
        };
        // Entries for the new tags go in before the record changes, stale
        // ones come out after (see [`tags`]); the lock keeps two changes of
        // tags from removing what the other one just wrote.
        let _tags = s.tags.lock();
        let Some(before) = s.links.get(slug.as_bytes())? else {
            return Ok(None);
        };
        s.tags.insert(new_tags, before.created_at, slug)?;
        let Some((link, old)) = self.patch_record(slug, patch)? else {
            s.tags.remove(new_tags, before.created_at, slug)?;
            return Ok(None);
        };
        if link.created_at != before.created_at {
            // Deleted and made again between the read and the change: the
            // entries written above are not this link's.
            s.tags.remove(new_tags, before.created_at, slug)?;
            s.tags.insert(new_tags, link.created_at, slug)?;
        }
        let stale: Vec<&String> = old.tags.iter().filter(|t| !new_tags.contains(t)).collect();
        s.tags.remove(&stale, old.created_at, slug)?;
        Ok(Some(link))
    }

    /// Applies `patch` to the record alone; the link after and before.
    fn patch_record(
        &self,
        slug: &str,
        patch: &LinkPatch,
    ) -> Result<Option<(Link, Link)>, StoreError> {
        let s = &self.inner;
        let mut old = None;
        let updated = s.links.update(slug.as_bytes(), |link| {
            old = Some(link.clone());
            if let Some(t) = &patch.tags {
                link.tags = t.clone();
            }
            if let Some(t) = &patch.target {
                link.target = t.clone();
            }
            if let Some(e) = patch.expires_at {
                link.expires_at = e;
            }
            if let Some(m) = patch.max_clicks {
                link.max_clicks = m;
            }
            if let Some(r) = patch.redirect_status {
                link.redirect_status = r;
            }
            if let Some(p) = &patch.password {
                link.password = p.clone();
            }
        })?;
        if updated.is_some() {
            s.cache.invalidate(slug);
        }
        Ok(updated.zip(old))
    }

    /// Deletes the link of `slug` and all its counters; false if absent.
    /// Allowed below the free-space reserve: deleting is how space is freed.
    ///
    /// # Errors
    /// sled errors.
    pub fn delete(&self, slug: &str) -> Result<bool, StoreError> {
        self.inner.health.watch(self.remove_link(slug))
    }

    fn remove_link(&self, slug: &str) -> Result<bool, StoreError> {
        let s = &self.inner;
        let Some(old) = s.links.remove(slug.as_bytes())? else {
            return Ok(false);
        };
        s.cache.invalidate(slug);
        if let Ok(link) = Link::decode(&old) {
            s.created.remove(&entry_key(link.created_at, slug))?;
            s.tags.remove(&link.tags, link.created_at, slug)?;
        }
        s.counts.forget(slug)?;
        s.sources.forget(slug)?;
        Ok(true)
    }
}
