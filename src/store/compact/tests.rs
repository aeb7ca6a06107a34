use std::fs;
use std::path::Path;

use super::super::{ExportRecord, Link, Store, StoreError};
use super::{compact, copy_checked, Paths};

/// A store with `n` links, every third one deleted again, and clicks on
/// some (flushed, so they are in the `clicks` and `daily` trees).
fn fill(dir: &Path, n: usize) {
    let store = Store::open(dir, 1 << 20).unwrap();
    let visit = crate::visit::Visit::from_headers(None, None);
    for i in 0..n {
        let mut link = Link::plain(format!("https://example.com/{i}"));
        link.tags = vec![format!("t{}", i % 4)];
        store.create(&format!("s{i}"), &link).unwrap().unwrap();
        if i % 5 == 0 {
            let cached = store.resolve(&format!("s{i}")).unwrap().unwrap();
            for _ in 0..=i % 7 {
                store
                    .click(&format!("s{i}"), &cached, crate::clock::now_ms(), &visit)
                    .unwrap();
            }
        }
    }
    for i in (0..n).step_by(3) {
        assert!(store.delete(&format!("s{i}")).unwrap());
    }
    store.flush_all().unwrap();
}

/// Everything a user could get out of the store, in a fixed order.
fn contents(dir: &Path) -> Vec<ExportRecord> {
    let store = Store::open(dir, 1 << 20).unwrap();
    let report = store.check().unwrap();
    assert!(report.is_clean(), "{report:?}");
    let mut all: Vec<ExportRecord> = store.export().map(Result::unwrap).collect();
    all.sort_by(|a, b| a.slug.cmp(&b.slug));
    all
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn compaction_keeps_every_link_counter_and_tag() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 400);
    let before = contents(dir.path());
    assert_eq!(before.len(), 266);
    assert!(before.iter().any(|r| r.clicks > 0));
    let mut seen = Vec::new();
    let report = compact(dir.path(), &mut |p| seen.push(p.clone())).unwrap();
    assert!(report.keys > 266, "{report:?}");
    assert!(report.after > 0 && report.before > 0, "{report:?}");
    assert!(seen.iter().any(|p| !p.checking) && seen.iter().any(|p| p.checking));
    assert_eq!(names(dir.path()), ["db", "kurz.lock"]);
    assert_eq!(contents(dir.path()), before);
    // The compacted store takes new links and clicks as before.
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    store
        .create("new", &Link::plain("https://example.com/new".into()))
        .unwrap()
        .unwrap();
    drop(store);
    assert_eq!(contents(dir.path()).len(), 267);
}

#[test]
fn compaction_is_refused_while_the_store_is_open_and_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        compact(dir.path(), &mut |_| {}),
        Err(StoreError::NoDatabase(_))
    ));
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    assert!(matches!(
        compact(dir.path(), &mut |_| {}),
        Err(StoreError::Locked(_))
    ));
    drop(store);
}

/// Makes a checked copy as [`compact`] does, without swapping it in.
fn checked_copy(dir: &Path) -> Paths {
    let paths = Paths::of(dir);
    copy_checked(&paths, &mut |_| {}).unwrap();
    paths
}

#[test]
fn an_unfinished_copy_is_dropped_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 60);
    let before = contents(dir.path());
    // A copy stopped part way: a sled directory holding only some trees.
    let paths = Paths::of(dir.path());
    {
        let partial = sled::open(&paths.copy).unwrap();
        partial.open_tree("buckets").unwrap();
        partial.flush().unwrap();
    }
    assert_eq!(contents(dir.path()), before);
    assert!(!paths.copy.exists());
}

#[test]
fn a_swap_stopped_after_moving_the_old_database_aside_is_finished() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 60);
    let before = contents(dir.path());
    let paths = checked_copy(dir.path());
    fs::rename(&paths.db, &paths.old).unwrap();
    // A link only in the old database tells which one the store opens.
    {
        let store_dir = tempfile::tempdir().unwrap();
        fs::rename(&paths.old, store_dir.path().join("db")).unwrap();
        let store = Store::open(store_dir.path(), 1 << 20).unwrap();
        store
            .create("only-old", &Link::plain("https://example.com/".into()))
            .unwrap()
            .unwrap();
        drop(store);
        fs::rename(store_dir.path().join("db"), &paths.old).unwrap();
    }
    assert_eq!(contents(dir.path()), before);
    assert_eq!(names(dir.path()), ["db", "kurz.lock"]);
}

#[test]
fn a_swap_stopped_before_removing_the_old_database_is_finished() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 60);
    let before = contents(dir.path());
    let paths = checked_copy(dir.path());
    fs::rename(&paths.db, &paths.old).unwrap();
    fs::rename(&paths.copy, &paths.db).unwrap();
    assert_eq!(contents(dir.path()), before);
    assert_eq!(names(dir.path()), ["db", "kurz.lock"]);
}

#[test]
fn a_mix_no_compaction_leaves_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 10);
    let paths = checked_copy(dir.path());
    fs::create_dir(&paths.old).unwrap();
    let err = Store::open(dir.path(), 1 << 20).err().unwrap();
    assert!(err.to_string().contains("no compaction leaves"), "{err}");
    assert_eq!(
        names(dir.path()),
        ["db", "db.compact", "db.old", "kurz.lock"]
    );
    // Alone, the old one is refused too: it may not be the newest data.
    fs::remove_dir_all(&paths.copy).unwrap();
    fs::remove_dir_all(&paths.db).unwrap();
    assert!(Store::open(dir.path(), 1 << 20).is_err());
    assert!(paths.old.exists() && !paths.db.exists());
}
