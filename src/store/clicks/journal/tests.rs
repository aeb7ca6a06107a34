//! Unit tests of the click journal: its record format and its folds.

use super::super::super::{counter, daily_key};
use super::*;

/// Opens sled the way the store does, waiting while the database this
/// test just dropped still holds sled's file lock.
fn reopen(path: &std::path::Path) -> sled::Db {
    crate::store::open_sled(path, 1 << 20).unwrap()
}

fn daily(db: &sled::Db) -> sled::Tree {
    let daily = db.open_tree("daily").unwrap();
    daily.set_merge_operator(counter::add);
    daily
}

fn sum(log: &DailyLog, slug: &[u8]) -> u64 {
    let mut total = 0;
    log.for_each(slug, 0, 9, |_, n| total += n).unwrap();
    total
}

fn records(tree: &sled::Tree) -> usize {
    tree.range(record_key(0)..=record_key(u64::MAX)).count()
}

#[test]
fn counts_read_the_same_before_during_and_after_a_fold() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let tree = daily(&db);
    let log = DailyLog::open(tree.clone()).unwrap();
    log.import(b"a", &[(3, 5)]).unwrap();
    let slugs: Vec<Vec<u8>> = (0..10).map(|i| format!("s{i}").into_bytes()).collect();
    for s in &slugs {
        log.append(&[(s, 3, 2), (b"a", 3, 1)]).unwrap();
    }
    assert_eq!(sum(&log, b"a"), 15);
    assert!(log.fold_step(3).unwrap(), "more to fold");
    log.append(&[(b"s1", 3, 1)]).unwrap(); // a round during the fold
    assert_eq!(sum(&log, b"a"), 15);
    assert_eq!(slugs.iter().map(|s| sum(&log, s)).sum::<u64>(), 21);
    log.fold_all().unwrap();
    assert_eq!(sum(&log, b"a"), 15);
    assert_eq!(slugs.iter().map(|s| sum(&log, s)).sum::<u64>(), 21);
    assert_eq!(records(&tree), 0);
    log.remove(b"a").unwrap();
    assert_eq!(sum(&log, b"a"), 0);
}

#[test]
fn a_crash_in_the_middle_of_a_fold_counts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = reopen(dir.path());
        let log = DailyLog::open(daily(&db)).unwrap();
        for i in 0..50 {
            log.append(&[(format!("s{i}").as_bytes(), 3, 3)]).unwrap();
        }
        assert!(log.fold_step(7).unwrap());
        assert!(log.fold_step(7).unwrap());
        log.append(&[(b"s0", 3, 1)]).unwrap();
        db.flush().unwrap();
        // Dropped in the middle of the fold, as a crash would.
    }
    let db = reopen(dir.path());
    let tree = daily(&db);
    let log = DailyLog::open(tree.clone()).unwrap();
    let total: u64 = (0..50).map(|i| sum(&log, format!("s{i}").as_bytes())).sum();
    assert_eq!(total, 151);
    assert_eq!(records(&tree), 0, "opening folded the journal");
}

#[test]
fn records_take_about_ten_bytes_per_count_and_read_back() {
    let today = 20_419;
    let entries: Vec<Entry<'_>> = vec![
        (b"Ab3xK9q", today, 1),
        (b"Zz", today + 1, 300),
        (b"x", today, u64::MAX),
    ];
    let record = encode(ADD, &entries);
    assert_eq!(decode(&record), Some((true, entries.clone())));
    assert_eq!(decode(&encode(SUBTRACT, &entries)), Some((false, entries)));
    // A day count of a 7-byte slug clicked once today: 10 bytes.
    let one = encode(ADD, &[(b"Ab3xK9q", today, 1)]);
    let two = encode(ADD, &[(b"Ab3xK9q", today, 1), (b"Bb3xK9q", today, 1)]);
    assert_eq!(two.len() - one.len(), 10);
    assert_eq!(decode(&encode(ADD, &[])), Some((true, vec![])));
}

#[test]
fn first_format_records_still_read() {
    // What the first format wrote for ("k", day 3, 7).
    let key = daily_key(b"k", 3);
    let mut v1 = vec![b'+', key.len() as u8];
    v1.extend_from_slice(&key);
    v1.extend_from_slice(&7u64.to_le_bytes());
    let k: &[u8] = b"k";
    assert_eq!(decode(&v1), Some((true, vec![(k, 3, 7)])));
    v1[0] = b'-';
    assert_eq!(decode(&v1), Some((false, vec![(k, 3, 7)])));
    assert_eq!(decode(b"+"), Some((true, vec![])));
}

#[test]
fn a_journal_of_the_first_format_is_folded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = reopen(dir.path());
        let tree = daily(&db);
        for (seq, n) in [(0u64, 4u64), (1, 5)] {
            let key = daily_key(b"old", 3);
            let mut v1 = vec![b'+', key.len() as u8];
            v1.extend_from_slice(&key);
            v1.extend_from_slice(&n.to_le_bytes());
            tree.insert(record_key(seq), v1).unwrap();
        }
        db.flush().unwrap();
    }
    let db = reopen(dir.path());
    let tree = daily(&db);
    let log = DailyLog::open(tree.clone()).unwrap();
    assert_eq!(sum(&log, b"old"), 9);
    assert_eq!(records(&tree), 0);
    log.append(&[(b"old", 3, 1)]).unwrap();
    assert_eq!(sum(&log, b"old"), 10);
}

#[test]
fn damaged_journal_records_are_refused() {
    let k: &[u8] = b"k";
    let good = encode(ADD, &[(k, 3, 7)]);
    assert!(decode(&good).is_some());
    for cut in 1..good.len() {
        assert_eq!(decode(&good[..cut]), None, "cut at {cut}");
    }
    let mut long = good.clone();
    long.push(0);
    assert_eq!(decode(&long), None, "trailing bytes");
    // A day offset that overflows the base day.
    let body =
        bincode::serde::encode_to_vec((u32::MAX, vec![(SlugBytes(k), 1u32, 1u64)]), config())
            .unwrap();
    assert_eq!(decode(&[&[ADD][..], &body].concat()), None);
    // A length prefix claiming far more than there is.
    assert_eq!(decode(&[ADD, 3, 0xfc, 0xff, 0xff, 0xff, 0x0f]), None);
    assert_eq!(decode(&[b'+', 3, b'k']), None);
    assert_eq!(decode(&[b'-', 1, b'k', 1, 2]), None);
    assert_eq!(decode(b"?"), None);
    assert_eq!(decode(b""), None);
}
