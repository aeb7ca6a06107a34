//! Fuzzes `kurz::store::bucket`, the layout of the link buckets read off the disk.
//!
//! The input is the first byte choosing a slug length, that many bytes of
//! slug, then the raw bytes of a stored bucket. Invariants checked:
//! - reading the entries, finding the slug and rewriting the bucket never
//!   panic, whatever the bytes;
//! - `find` agrees with a walk over `entries`: the same record when the slug
//!   is there, `None` when the walk ended cleanly without it;
//! - on a bucket that reads cleanly, `with` never fails for a short slug and
//!   gives a bucket that reads cleanly, holds the new record under the slug,
//!   keeps every other entry unchanged, and, removing it again, gives back
//!   the original bucket exactly (or none when the slug was its only entry).

#![no_main]

use kurz::store::bucket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let len = usize::from(len % 65).min(rest.len());
    let (slug, raw) = rest.split_at(len);

    let Ok(entries) = bucket::entries(raw) else {
        assert!(bucket::find(raw, slug).is_err());
        assert!(bucket::with(Some(raw), slug, Some(b"r")).is_err());
        return;
    };
    let mut all = Vec::new();
    let mut clean = true;
    for e in entries {
        match e {
            Ok((s, r)) => all.push((s.to_vec(), r.to_vec())),
            Err(_) => {
                clean = false;
                break;
            }
        }
    }
    let walked = all
        .iter()
        .find(|(s, _)| s == slug)
        .map(|(_, r)| r.as_slice());
    match bucket::find(raw, slug) {
        Ok(found) => {
            assert_eq!(found, walked);
            if found.is_none() {
                // A clean miss means no entry sorts after the slug before
                // the damage, or there is no damage at all.
                assert!(clean || all.iter().any(|(s, _)| s.as_slice() > slug));
            }
        }
        Err(_) => assert!(!clean && walked.is_none()),
    }
    if !clean {
        assert!(bucket::with(Some(raw), slug, Some(b"r")).is_err());
        return;
    }

    let record = b"new record".as_slice();
    let added = bucket::with(Some(raw), slug, Some(record))
        .expect("a clean bucket takes any short slug")
        .expect("a bucket with an entry is not empty");
    let after: Vec<(Vec<u8>, Vec<u8>)> = bucket::entries(&added)
        .expect("a written bucket has a known version")
        .map(|e| e.map(|(s, r)| (s.to_vec(), r.to_vec())))
        .collect::<Result<_, _>>()
        .expect("a written bucket reads cleanly");
    assert_eq!(bucket::find(&added, slug), Ok(Some(record)));
    let others = |v: &[(Vec<u8>, Vec<u8>)]| -> Vec<(Vec<u8>, Vec<u8>)> {
        v.iter().filter(|(s, _)| s != slug).cloned().collect()
    };
    assert_eq!(others(&after), others(&all));

    let removed = bucket::with(Some(&added), slug, None).expect("a clean bucket can lose an entry");
    let without = bucket::with(Some(raw), slug, None).expect("a clean bucket can lose an entry");
    assert_eq!(removed, without);
    if walked.is_none() {
        match removed {
            Some(b) => assert_eq!(b, raw),
            None => assert!(all.is_empty()),
        }
    }
});
