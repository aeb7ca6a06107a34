//! Moving a data directory from an older on-disk layout to the current one.
//!
//! Layout 1 (kurz before buckets) kept one sled key per link: `links`
//! (slug → record) and `by_created` (created_at ‖ slug → empty). Layout 2
//! keeps the same records in `buckets` and the same index entries in
//! `created`. The counters (`clicks`, `daily`) did not change. Layout 3 is
//! layout 2 with room for newer records, so a layout 1 directory goes
//! straight to it. Layout 4 stores new day counts in blocks of 32 days
//! (see `clicks::days`) and still reads the per-day counters of the layouts
//! before it, which it leaves where they are: rewriting them would not give
//! their memory back (sled 0.34 keeps the leaves it empties; a directory
//! with 6 million per-day counters needed 310 MB at open after they were
//! packed, 194 MB before). Layouts 1 to 3 only change their number, but an
//! older kurz must not open layout 4: it would not see the blocks.

use super::created::CreatedIndex;
use super::links::Links;
use super::{StoreError, SCHEMA};

/// Copies layout 1 into layout 3, then records the new version and drops
/// the old trees. Safe to interrupt: until `schema` says 3, the old trees
/// are untouched and a later open starts the copy again from scratch.
///
/// # Errors
/// sled errors. A damaged old record is copied as it is (it stays as
/// damaged as it was, and is reported when read), never dropped.
pub fn from_v1(
    db: &sled::Db,
    links: &Links,
    created: &CreatedIndex,
    meta: &sled::Tree,
) -> Result<(), StoreError> {
    let old_links = db.open_tree("links")?;
    let old_index = db.open_tree("by_created")?;
    tracing::info!(
        "upgrading the data directory's layout from version 1 to {SCHEMA} ({} links)",
        old_links.len()
    );
    // Leftovers of an interrupted upgrade.
    db.open_tree("buckets")?.clear()?;
    db.open_tree("created")?.clear()?;
    links.rebuild_book()?;
    for item in old_links.iter() {
        let (slug, record) = item?;
        // Slugs were unique keys of the old tree, so this never finds one taken.
        let _ = links.insert_new(&slug, &record)?;
    }
    for item in old_index.iter() {
        let (entry, _) = item?;
        created.insert(&entry)?;
    }
    db.flush()?;
    meta.insert("schema", &[SCHEMA])?;
    db.flush()?;
    db.drop_tree("links")?;
    db.drop_tree("by_created")?;
    db.flush()?;
    tracing::info!("data directory upgraded to layout version {SCHEMA}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{counter, daily_key, entry_key, open_sled, Link, Store};

    #[test]
    fn day_counters_of_layout_3_are_read_with_the_new_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let link = Link::plain("https://example.com/".into());
        let today = crate::clock::day_of(crate::clock::now_ms());
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            for slug in ["a", "b"] {
                store.create(slug, &link).unwrap().unwrap();
            }
        }
        {
            // What layout 3 stored: one counter per slug and day (41 days
            // of "a", today's among them), one damaged.
            let db = open_sled(&dir.path().join("db"), 1 << 20).unwrap();
            let daily = db.open_tree("daily").unwrap();
            for i in 0..=40 {
                let key = daily_key(b"a", today - 40 + i);
                daily
                    .insert(key, &counter::encode(u64::from(i) + 1))
                    .unwrap();
            }
            daily.insert(daily_key(b"b", today - 1), b"bad").unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert("schema", &[3]).unwrap();
            db.flush().unwrap();
        }
        let old: u64 = (1..=41).sum();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let want: Vec<u64> = (1..=41).collect();
        assert_eq!(store.daily("a", today - 40, today).unwrap(), want);
        assert_eq!(store.clicks("a").unwrap(), old);
        // New clicks on a day that has an old counter add up with it.
        let a = store.resolve("a").unwrap().unwrap();
        let visit = crate::visit::Visit::from_headers(None, None);
        for _ in 0..3 {
            store
                .click("a", &a, crate::clock::now_ms(), &visit)
                .unwrap();
        }
        store.flush_all().unwrap();
        let day = crate::clock::day_of(crate::clock::now_ms());
        let last = store.daily("a", day, day).unwrap();
        assert!(
            last == [44] || last == [3],
            "{last:?} (44 unless the day just changed)"
        );
        assert_eq!(store.clicks("a").unwrap(), old + 3);
        let report = store.check().unwrap();
        assert_eq!(report.problems, ["1 damaged counters in the daily tree"]);
        // Deleting a link takes its old counters with it.
        assert!(store.delete("b").unwrap());
        assert!(store.check().unwrap().problems.is_empty());
        drop(store);
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(store.clicks("a").unwrap(), old + 3);
    }

    #[test]
    fn layout_1_and_2_directories_are_upgraded_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let link = |i: i64| Link {
            target: format!("https://example.com/{i}"),
            created_at: 1_700_000_000_000 + i,
            expires_at: None,
            max_clicks: None,
            redirect_status: None,
            created_by: None,
            password: None,
            tags: Vec::new(),
        };
        {
            // What kurz with layout 1 wrote.
            let db = open_sled(&dir.path().join("db"), 1 << 20).unwrap();
            let (links, index) = (
                db.open_tree("links").unwrap(),
                db.open_tree("by_created").unwrap(),
            );
            for i in 0..300 {
                let slug = format!("s{i}");
                links.insert(&slug, link(i).encode_v1()).unwrap();
                index
                    .insert(entry_key(link(i).created_at, &slug), &[])
                    .unwrap();
            }
            let daily = db.open_tree("daily").unwrap();
            daily
                .insert(daily_key(b"s7", 20_000), &counter::encode(5))
                .unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert("schema", &[1])
                .unwrap();
            db.flush().unwrap();
        }
        for _ in 0..2 {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            assert_eq!(store.len(), 300);
            assert_eq!(store.get("s42").unwrap(), Some(link(42)));
            assert_eq!(store.clicks("s7").unwrap(), 5);
            let page = store.list(3, None).unwrap();
            let slugs: Vec<_> = page.links.iter().map(|(s, _)| s.as_str()).collect();
            assert_eq!(slugs, ["s299", "s298", "s297"]);
        }
        // Layout 2 is layout 3 with only format 1 records: only the number
        // changes. An unknown layout is refused, not guessed at.
        for (schema, opens) in [(2, true), (9, false)] {
            {
                let db = open_sled(&dir.path().join("db"), 1 << 20).unwrap();
                let meta = db.open_tree("meta").unwrap();
                meta.insert("schema", &[schema]).unwrap();
                db.flush().unwrap();
            }
            let store = Store::open(dir.path(), 1 << 20);
            assert_eq!(store.is_ok(), opens, "layout {schema}");
            if let Ok(store) = store {
                assert_eq!(store.get("s42").unwrap(), Some(link(42)));
                drop(store);
                let db = open_sled(&dir.path().join("db"), 1 << 20).unwrap();
                let meta = db.open_tree("meta").unwrap();
                assert_eq!(meta.get("schema").unwrap().as_deref(), Some(&[4][..]));
            }
        }
    }
}
