//! Unit tests of the click counters against a temporary sled database.

use super::*;

fn counts() -> (ClickCounts, sled::Db) {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let (c, d, l) = (
        db.open_tree("clicks").unwrap(),
        db.open_tree("daily").unwrap(),
        Links::new(db.open_tree("buckets").unwrap()),
    );
    c.set_merge_operator(counter::add);
    d.set_merge_operator(counter::add);
    l.put(b"s", b"x");
    let d = DailyLog::open(d).unwrap();
    let mut counts = ClickCounts::new(c, d, l);
    // Every round ends with a sweep, so tests see idle entries leave.
    counts.sweep_every = Duration::ZERO;
    (counts, db)
}

#[test]
fn a_limit_set_while_clicks_are_pending_counts_them() {
    let (c, _db) = counts();
    for _ in 0..3 {
        assert_eq!(c.record("s", 1, None).unwrap(), Counted::Yes);
    }
    assert_eq!(c.record("s", 1, Some(4)).unwrap(), Counted::Yes);
    assert_eq!(c.record("s", 1, Some(4)).unwrap(), Counted::LimitReached);
    assert_eq!(c.total("s").unwrap(), 4);
}

#[test]
fn a_limit_counts_clicks_already_in_sled() {
    let (c, _db) = counts();
    c.record("s", 1, None).unwrap();
    c.flush().unwrap();
    c.record("s", 1, None).unwrap();
    c.flush().unwrap();
    c.flush().unwrap(); // idle and clean: the entry leaves memory
    assert!(unpoison(c.totals.read()).is_empty());
    c.clicks.merge("s", counter::encode(3)).unwrap(); // e.g. imported clicks
    assert_eq!(c.total("s").unwrap(), 5);
    assert_eq!(c.record("s", 1, Some(6)).unwrap(), Counted::Yes);
    assert_eq!(c.record("s", 1, Some(6)).unwrap(), Counted::LimitReached);
    c.flush().unwrap();
    assert_eq!(c.total("s").unwrap(), 6);
    assert_eq!(c.daily("s", 0, 2).unwrap(), vec![0, 3, 0]);
}

#[test]
fn hot_entries_stay_in_memory_and_idle_ones_leave() {
    let (c, _db) = counts();
    c.record("s", 1, None).unwrap();
    c.flush().unwrap();
    assert_eq!(unpoison(c.totals.read()).len(), 1, "clicked this round");
    c.flush().unwrap();
    assert!(unpoison(c.totals.read()).is_empty(), "idle for a round");
    assert_eq!(c.total("s").unwrap(), 1);
}

#[test]
fn idle_entries_wait_for_the_next_sweep() {
    let (mut c, _db) = counts();
    c.sweep_every = Duration::from_secs(1);
    c.record("s", 1, None).unwrap();
    c.flush().unwrap(); // the first round sweeps; "s" was clicked
    c.flush().unwrap(); // idle now, but the sweep is not due
    assert_eq!(unpoison(c.totals.read()).len(), 1, "kept until the sweep");
    std::thread::sleep(Duration::from_millis(1_050));
    c.flush().unwrap();
    assert!(unpoison(c.totals.read()).is_empty(), "idle at the sweep");
    assert_eq!(c.total("s").unwrap(), 1);
}

#[test]
fn counts_read_exactly_in_the_middle_of_a_round() {
    let (c, _db) = counts();
    c.links.put(b"t", b"x");
    for (slug, day) in [("s", 1), ("s", 2), ("t", 1), ("s", 1)] {
        c.record(slug, day, None).unwrap();
    }
    c.begin_round();
    // One of the three day counts is stored, the others still pending:
    // reads must not care which.
    assert!(c.flush_some(1).unwrap().is_some());
    assert_eq!(c.total("s").unwrap(), 3);
    assert_eq!(c.daily("s", 0, 2).unwrap(), vec![0, 2, 1]);
    c.record("s", 2, None).unwrap(); // a click during the round
    c.begin_round(); // no-op: the round is unfinished
    assert_eq!(c.daily("s", 0, 2).unwrap(), vec![0, 2, 2]);
    while c.flush_some(1).unwrap().is_some() {}
    assert_eq!((c.total("s").unwrap(), c.total("t").unwrap()), (4, 1));
    c.flush().unwrap();
    assert_eq!(c.daily("s", 0, 2).unwrap(), vec![0, 2, 2]);
    // Counters stay for the next round's clicks, and leave once idle for one.
    assert!(unpoison(c.totals.read()).contains_key(&b"s"[..]));
    c.flush().unwrap();
    assert!(unpoison(c.totals.read()).is_empty());
    assert_eq!(c.daily("s", 0, 2).unwrap(), vec![0, 2, 2]);
}

#[test]
fn a_click_trailing_a_delete_is_not_stored() {
    let (c, _db) = counts();
    c.record("s", 1, None).unwrap();
    c.links.remove(b"s").unwrap();
    c.forget("s").unwrap();
    c.record("s", 1, None).unwrap(); // resolved just before the delete
    c.flush().unwrap();
    assert_eq!(c.total("s").unwrap(), 0);
    assert_eq!(c.daily("s", 0, 2).unwrap(), vec![0, 0, 0]);
}

#[test]
fn a_cached_tally_keeps_its_entry_and_counts_without_the_map() {
    let (c, _db) = counts();
    let tally = c.tally("s");
    for _ in 0..3 {
        assert_eq!(c.count(&tally, 1, None).unwrap(), Counted::Yes);
    }
    c.flush().unwrap();
    c.flush().unwrap();
    c.flush().unwrap();
    // Idle for rounds, but a cached link holds it: the next click must
    // still land in the entry readers find.
    assert_eq!(unpoison(c.totals.read()).len(), 1);
    c.count(&tally, 1, None).unwrap();
    assert_eq!(c.total("s").unwrap(), 4);
    drop(tally);
    c.flush().unwrap();
    c.flush().unwrap();
    assert!(unpoison(c.totals.read()).is_empty());
    assert_eq!(c.total("s").unwrap(), 4);
    assert_eq!(c.daily("s", 0, 2).unwrap(), vec![0, 4, 0]);
}

#[test]
fn a_new_day_spills_the_old_days_clicks_exactly() {
    let (c, _db) = counts();
    let tally = c.tally("s");
    c.count(&tally, 1, None).unwrap();
    c.count(&tally, 1, None).unwrap();
    c.count(&tally, 2, None).unwrap(); // midnight
    assert_eq!(c.daily("s", 0, 3).unwrap(), vec![0, 2, 1, 0]);
    c.begin_round();
    assert_eq!(c.daily("s", 0, 3).unwrap(), vec![0, 2, 1, 0]);
    c.count(&tally, 3, None).unwrap(); // a click during the round, next day
    assert!(c.flush_some(1).unwrap().is_some());
    assert_eq!(c.daily("s", 0, 3).unwrap(), vec![0, 2, 1, 1]);
    c.flush().unwrap();
    assert_eq!(c.daily("s", 0, 3).unwrap(), vec![0, 2, 1, 1]);
    assert_eq!(c.total("s").unwrap(), 4);
}

#[test]
fn a_nearly_full_round_word_spills_instead_of_wrapping() {
    let (c, _db) = counts();
    let tally = c.tally("s");
    c.count(&tally, 1, None).unwrap();
    // As if SPILL_AT clicks had come in one round (a long disk-full spell).
    tally.0.round.store(pack(1, SPILL_AT), Ordering::SeqCst);
    tally.0.count.store(SPILL_AT, Ordering::SeqCst);
    c.count(&tally, 1, None).unwrap();
    assert_eq!(unpack(tally.0.round.load(Ordering::SeqCst)), (1, 1));
    assert_eq!(c.daily("s", 1, 1).unwrap(), vec![SPILL_AT + 1]);
    c.flush().unwrap();
    assert_eq!(c.daily("s", 1, 1).unwrap(), vec![SPILL_AT + 1]);
    assert_eq!(c.total("s").unwrap(), SPILL_AT + 1);
}

#[test]
fn clicks_racing_the_flusher_are_each_stored_once() {
    let (c, _db) = counts();
    let c = Arc::new(c);
    c.links.put(b"t", b"x");
    let (threads, each) = (4u64, 5_000u64);
    let done = Arc::new(AtomicBool::new(false));
    let flusher = {
        let (c, done) = (c.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                c.begin_round();
                while c.flush_some(3).unwrap().is_some() {}
            }
        })
    };
    let clickers: Vec<_> = (0..threads)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || {
                let tally = c.tally(if i % 2 == 0 { "s" } else { "t" });
                for k in 0..each {
                    // Days change under the flusher's feet too.
                    c.count(&tally, 1 + (k / 1000) as u32, None).unwrap();
                }
            })
        })
        .collect();
    for t in clickers {
        t.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    flusher.join().unwrap();
    let per_slug = threads / 2 * each;
    for slug in ["s", "t"] {
        assert_eq!(c.total(slug).unwrap(), per_slug);
        let days = c.daily(slug, 1, 5).unwrap();
        assert_eq!(days, vec![per_slug / 5; 5]);
    }
    c.flush().unwrap();
    for slug in ["s", "t"] {
        assert_eq!(c.total(slug).unwrap(), per_slug);
        assert_eq!(c.daily(slug, 1, 5).unwrap(), vec![per_slug / 5; 5]);
    }
}

#[test]
fn a_tally_held_across_a_delete_stores_nothing_for_the_gone_link() {
    let (c, _db) = counts();
    let stale = c.tally("s"); // a request resolved the link…
    c.count(&stale, 1, None).unwrap();
    c.links.remove(b"s").unwrap();
    c.forget("s").unwrap(); // …then it was deleted…
    c.count(&stale, 1, None).unwrap(); // …and the request counts its click.
    c.flush().unwrap();
    assert_eq!(c.total("s").unwrap(), 0);
    assert_eq!(c.daily("s", 0, 2).unwrap(), vec![0, 0, 0]);
    // Made again: the new link starts from zero, and its counter is a new one.
    c.links.put(b"s", b"x");
    let fresh = c.tally("s");
    assert!(!Arc::ptr_eq(&fresh.0, &stale.0));
    c.count(&fresh, 2, None).unwrap();
    c.flush().unwrap();
    assert_eq!(c.total("s").unwrap(), 1);
    assert_eq!(c.daily("s", 0, 2).unwrap(), vec![0, 0, 1]);
}

#[test]
fn a_round_takes_its_dirty_entries_step_by_step_and_reads_stay_exact() {
    let (c, _db) = counts();
    for slug in ["a", "b", "c", "d"] {
        c.links.put(slug.as_bytes(), b"x");
        c.record(slug, 1, None).unwrap();
    }
    c.begin_round();
    assert_eq!(unpoison(c.gate.lock()).taken.len(), 4, "taking is one swap");
    // A click on an entry the round has taken but not looked at yet.
    c.record("a", 1, None).unwrap();
    assert_eq!(c.daily("a", 1, 1).unwrap(), vec![2]);
    assert_eq!(c.flush_some(1).unwrap(), Some(1));
    assert_eq!(unpoison(c.gate.lock()).taken.len(), 3, "one entry per step");
    for slug in ["a", "b", "c", "d"] {
        let want = if slug == "a" { 2 } else { 1 };
        assert_eq!(c.total(slug).unwrap(), want, "{slug}");
        assert_eq!(c.daily(slug, 1, 1).unwrap(), vec![want], "{slug}");
    }
    while c.flush_some(1).unwrap().is_some() {}
    c.flush().unwrap();
    assert_eq!(c.daily("a", 1, 1).unwrap(), vec![2]);
    assert_eq!(c.total("d").unwrap(), 1);
}

/// Regression: an imported total of u64::MAX read as 0 after one more
/// click (stored + pending wrapped), so a used-up `max_clicks` link could
/// open again; and as the base of a limited link it read as "not loaded".
#[test]
fn a_total_at_the_top_saturates_instead_of_wrapping() {
    let (c, _db) = counts();
    c.clicks.merge("s", counter::encode(u64::MAX)).unwrap();
    assert_eq!(c.record("s", 1, None).unwrap(), Counted::Yes);
    assert_eq!(c.total("s").unwrap(), u64::MAX);
    assert_eq!(c.daily("s", 1, 1).unwrap(), vec![1]);
    assert_eq!(
        c.record("s", 1, Some(u64::MAX)).unwrap(),
        Counted::LimitReached
    );
    c.flush().unwrap();
    assert_eq!(c.total("s").unwrap(), u64::MAX);
    assert_eq!(c.record("s", 1, Some(5)).unwrap(), Counted::LimitReached);
}
