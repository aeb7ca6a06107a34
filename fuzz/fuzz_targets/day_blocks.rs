//! Fuzzes `kurz::store::days`, the blocks of day counts read off the disk.
//!
//! The input is a block number (4 bytes, little-endian), a day offset and a
//! count to add (1 + 8 bytes), then the raw bytes of a stored block.
//! Invariants checked:
//! - decoding never panics, whatever the bytes;
//! - a block that decodes holds days of that block only, in order, without
//!   repeats or zero counts, and reads back the same once rewritten;
//! - adding a count changes that day alone, by exactly that much (saturating),
//!   and a damaged block starts over from what is added.

#![no_main]

use kurz::store::days;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 13 {
        return;
    }
    let block = u32::from_le_bytes(data[..4].try_into().unwrap()) % (u32::MAX / days::BLOCK_DAYS);
    let first = block * days::BLOCK_DAYS;
    let day = first + u32::from(data[4]) % days::BLOCK_DAYS;
    let n = u64::from_le_bytes(data[5..13].try_into().unwrap()).max(1);
    let raw = &data[13..];

    let before = days::decode(block, raw);
    if let Some(entries) = &before {
        assert!(entries.windows(2).all(|w| w[0].0 < w[1].0), "{entries:?}");
        assert!(entries
            .iter()
            .all(|&(d, c)| (first..first + days::BLOCK_DAYS).contains(&d) && c > 0));
        let rewritten = days::add(block, Some(raw), &[]);
        assert_eq!(days::decode(block, &rewritten).as_ref(), Some(entries));
    }

    let added = days::add(block, Some(raw), &[(day, n)]);
    let after = days::decode(block, &added).expect("an added block reads back");
    let mut want = before.unwrap_or_default();
    match want.iter_mut().find(|(d, _)| *d == day) {
        Some((_, c)) => *c = c.saturating_add(n),
        None => {
            want.push((day, n));
            want.sort_unstable();
        }
    }
    assert_eq!(after, want);
});
