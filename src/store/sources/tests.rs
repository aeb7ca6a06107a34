//! Unit tests of the referrer and bot counters: bounds, spills, flushes, damage.
use super::*;

fn sources() -> (tempfile::TempDir, sled::Db, Sources) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path()).unwrap();
    let tree = db.open_tree("sources").unwrap();
    tree.set_merge_operator(counter::add);
    let links = Links::new(db.open_tree("buckets").unwrap());
    (dir, db.clone(), Sources::new(tree, links))
}

#[test]
fn keys_split_back() {
    let key = key_of(b"abc", REFERRER, b"example.org");
    assert_eq!(
        split(&key),
        Some((&b"abc"[..], REFERRER, &b"example.org"[..]))
    );
    assert_eq!(split(b"no-zero"), None);
    assert_eq!(split(b"abc\0"), None);
}

#[test]
fn counts_are_pending_until_flushed_and_dropped_for_deleted_links() {
    let (_dir, _db, s) = sources();
    s.count_referrer("gone", "example.org");
    s.count_bot("gone", "Slack");
    let read = s.read("gone").unwrap();
    assert_eq!(read.referrers, vec![("example.org".to_owned(), 1)]);
    assert_eq!(read.bot_visits(), 1);
    s.forget("gone").unwrap();
    assert_eq!(s.read("gone").unwrap(), SourceCounts::default());
    // A click that resolved the link just before it was deleted, counted
    // just after: the flush finds no link and drops it, leaving no orphan.
    s.count_referrer("gone", "late.example");
    s.flush().unwrap();
    assert_eq!(s.read("gone").unwrap(), SourceCounts::default());
    assert_eq!(s.tree.len(), 0);
}

#[test]
fn a_busy_counter_remembers_where_it_is_stored() {
    let (_dir, _db, s) = sources();
    for i in 0..MAX_HOSTS {
        s.count_referrer("a", &format!("h{i:02}.example"));
    }
    s.count_referrer("a", "zz-late.example");
    s.flush().unwrap();
    for (key, w) in unpoison(s.pending.read()).iter() {
        let want = if key.ends_with(b"zz-late.example") {
            HOME_OTHER
        } else {
            HOME_OWN
        };
        assert_eq!(w.home.load(Ordering::Relaxed), want);
    }
    // Clicked again: stored where the first flush put them, no read.
    s.count_referrer("a", "h00.example");
    s.count_referrer("a", "zz-late.example");
    s.flush().unwrap();
    let read = s.read("a").unwrap();
    assert_eq!(read.referrers.len(), MAX_HOSTS);
    assert_eq!(read.referrers[0], ("h00.example".to_owned(), 2));
    assert_eq!(read.other_referrers, 2);
}

#[test]
fn damage_is_found_and_reported() {
    let (_dir, _db, s) = sources();
    s.tree
        .insert(key_of(b"a", BOT, b"Slack"), &counter::encode(3))
        .unwrap();
    assert_eq!(s.damaged().unwrap(), 0);
    s.tree
        .insert(key_of(b"a", REFERRER, b"x.example"), b"bad".to_vec())
        .unwrap();
    s.tree.insert(b"no-zero", &counter::encode(1)).unwrap();
    assert_eq!(s.damaged().unwrap(), 2);
    assert!(matches!(s.read("a"), Err(StoreError::Corrupt { .. })));
}

#[test]
fn a_full_memory_spills_to_other() {
    let (_dir, _db, s) = sources();
    for i in 0..MAX_PENDING {
        s.count_referrer("a", &format!("h{i}.example"));
    }
    s.count_referrer("a", "late.example");
    s.count_referrer("a", "late2.example");
    s.count_bot("a", "Slack");
    // Two spill counters joined the full map, one per kind.
    assert_eq!(unpoison(s.pending.read()).len(), MAX_PENDING + 2);
    let read = s.read("a").unwrap();
    assert_eq!(read.referrers.len(), MAX_HOSTS);
    assert_eq!(read.other_referrers, (MAX_PENDING - MAX_HOSTS + 2) as u64);
    assert_eq!(read.bots, vec![(OTHER_BOT.to_owned(), 1)]);
}
