//! Moving a data directory from an older on-disk layout to the current one.
//!
//! Layout 1 (kurz before buckets) kept one sled key per link: `links`
//! (slug → record) and `by_created` (created_at ‖ slug → empty). Layout 2
//! keeps the same records in `buckets` and the same index entries in
//! `created`. The counters (`clicks`, `daily`) did not change. Layout 3 is
//! layout 2 with room for newer records, so a layout 1 directory goes
//! straight to it. Layout 4 packs the day counters of `daily`, one key per
//! slug and day until then, 32 days to a key (see `clicks::days`).

use std::collections::BTreeMap;

use super::clicks::days;
use super::created::CreatedIndex;
use super::links::Links;
use super::{counter, day_from_key, StoreError};

/// The layout [`from_v1`] leaves: the links moved, the counters not yet.
pub const LAYOUT_3: u8 = 3;

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
        "upgrading the data directory's layout from version 1 to {LAYOUT_3} ({} links)",
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
    meta.insert("schema", &[LAYOUT_3])?;
    db.flush()?;
    db.drop_tree("links")?;
    db.drop_tree("by_created")?;
    db.flush()?;
    tracing::info!("data directory upgraded to layout version {LAYOUT_3}");
    Ok(())
}

/// Most per-day counters moved in one batch.
const PACK_BATCH: usize = 4096;

/// Packs the per-day counters of `daily` (slug 0x00 day → u64) into blocks
/// of 32 days, then records layout `to`. Each batch moves whole slugs (it
/// removes their per-day keys and writes their blocks together), so it is
/// safe to interrupt: a later open packs what is left. A damaged counter
/// is left where it is (it reads as nothing either way, and `kurz check`
/// still reports it).
///
/// # Errors
/// sled errors.
pub fn pack_days(
    db: &sled::Db,
    daily: &sled::Tree,
    meta: &sled::Tree,
    to: u8,
) -> Result<(), StoreError> {
    tracing::info!("upgrading the click counters to layout version {to} (32 days to a key)");
    let started = std::time::Instant::now();
    let mut slug: Vec<u8> = Vec::new();
    let mut counts: BTreeMap<u32, Vec<(u32, u64)>> = BTreeMap::new();
    let mut batch = sled::Batch::default();
    let (mut in_batch, mut moved, mut damaged) = (0usize, 0u64, 0u64);
    for item in daily.iter() {
        let (key, value) = item?;
        // Journal records (0x00 ‖ seq) and blocks stay as they are.
        let per_day = key.len() > 5 && key[0] != 0 && key[key.len() - 5] == 0;
        if !per_day {
            continue;
        }
        let this = &key[..key.len() - 5];
        if this != slug.as_slice() {
            write_blocks(daily, &slug, &mut counts, &mut batch)?;
            if in_batch >= PACK_BATCH {
                daily.apply_batch(std::mem::take(&mut batch))?;
                in_batch = 0;
            }
            slug = this.to_vec();
        }
        match (day_from_key(&key), counter::decode(&value)) {
            (Some(day), Some(n)) => {
                counts
                    .entry(days::block_of(day))
                    .or_default()
                    .push((day, n));
                batch.remove(key);
                in_batch += 1;
                moved += 1;
            }
            _ => {
                damaged += 1;
                tracing::warn!(slug = %String::from_utf8_lossy(this), "a damaged day counter is left unpacked");
            }
        }
    }
    write_blocks(daily, &slug, &mut counts, &mut batch)?;
    daily.apply_batch(batch)?;
    db.flush()?;
    meta.insert("schema", &[to])?;
    db.flush()?;
    tracing::info!(
        moved,
        damaged,
        seconds = started.elapsed().as_secs_f64(),
        "click counters upgraded to layout version {to}"
    );
    Ok(())
}

/// Adds `slug`'s collected `counts` into its blocks in `batch`.
fn write_blocks(
    daily: &sled::Tree,
    slug: &[u8],
    counts: &mut BTreeMap<u32, Vec<(u32, u64)>>,
    batch: &mut sled::Batch,
) -> Result<(), StoreError> {
    for (block, adds) in std::mem::take(counts) {
        let key = days::key(slug, block);
        // Blocks left by an interrupted upgrade are whole slugs' blocks,
        // which have no per-day keys left; adding is right either way.
        let old = daily.get(&key)?;
        batch.insert(key, days::add(block, old.as_deref(), &adds));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{counter, daily_key, entry_key, Link, Store};
    use super::days;

    /// `sled::open`, waiting while a store this test just dropped still
    /// holds sled's file lock (see `store::open_sled`).
    fn reopen(path: &std::path::Path) -> sled::Db {
        let started = std::time::Instant::now();
        loop {
            match sled::open(path) {
                Err(e)
                    if e.to_string().contains("could not acquire lock")
                        && started.elapsed() < std::time::Duration::from_secs(5) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => return other.unwrap(),
            }
        }
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
            let db = sled::open(dir.path().join("db")).unwrap();
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
                let db = sled::open(dir.path().join("db")).unwrap();
                let meta = db.open_tree("meta").unwrap();
                meta.insert("schema", &[schema]).unwrap();
                db.flush().unwrap();
            }
            let store = Store::open(dir.path(), 1 << 20);
            assert_eq!(store.is_ok(), opens, "layout {schema}");
            if let Ok(store) = store {
                assert_eq!(store.get("s42").unwrap(), Some(link(42)));
                drop(store);
                let db = sled::open(dir.path().join("db")).unwrap();
                let meta = db.open_tree("meta").unwrap();
                assert_eq!(meta.get("schema").unwrap().as_deref(), Some(&[4][..]));
            }
        }
    }

    #[test]
    fn day_counters_are_packed_on_open_even_after_an_interrupted_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let link = Link::plain("https://example.com/".into());
        let today = 20_419;
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            for slug in ["a", "b", "c"] {
                store.create(slug, &link).unwrap().unwrap();
            }
        }
        let per_day = |i: u32| u64::from(i) + 1;
        {
            // Layout 3's per-day counters: 41 days of "a" over three blocks,
            // one day of "b" and a damaged one; "c" was packed by an upgrade
            // that stopped before the layout number changed.
            let db = reopen(&dir.path().join("db"));
            let daily = db.open_tree("daily").unwrap();
            for i in 0..=40 {
                let key = daily_key(b"a", today - 40 + i);
                daily.insert(key, &counter::encode(per_day(i))).unwrap();
            }
            daily
                .insert(daily_key(b"b", today), &counter::encode(7))
                .unwrap();
            daily.insert(daily_key(b"b", today - 1), b"bad").unwrap();
            let block = days::block_of(today);
            daily
                .insert(
                    days::key(b"c", block),
                    days::add(block, None, &[(today, 3)]),
                )
                .unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert("schema", &[3]).unwrap();
            db.flush().unwrap();
        }
        let all: u64 = (0..=40).map(per_day).sum();
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let want: Vec<u64> = (0..=40).map(per_day).collect();
            assert_eq!(store.daily("a", today - 40, today).unwrap(), want);
            assert_eq!(store.daily("a", today - 1, today + 1).unwrap(), [40, 41, 0]);
            assert_eq!(store.clicks("a").unwrap(), all);
            assert_eq!(store.clicks("b").unwrap(), 7);
            assert_eq!(store.clicks("c").unwrap(), 3);
            let report = store.check().unwrap();
            assert_eq!(
                report.problems,
                ["1 damaged counters in the daily tree"],
                "the damaged counter is still reported"
            );
            // Deleting a link takes its leftover per-day key with it.
            assert!(store.delete("b").unwrap());
            assert!(store.check().unwrap().problems.is_empty());
        }
        let db = reopen(&dir.path().join("db"));
        let daily = db.open_tree("daily").unwrap();
        let keys: Vec<_> = daily.iter().keys().map(Result::unwrap).collect();
        assert!(keys.iter().all(|k| days::is_block_key(k)), "{keys:?}");
        // 41 days of "a" fall in 2 or 3 blocks of 32, "c" in one.
        assert!((3..=4).contains(&keys.len()), "{keys:?}");
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(meta.get("schema").unwrap().as_deref(), Some(&[4][..]));
    }
}
