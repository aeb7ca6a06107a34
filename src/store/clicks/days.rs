//! The stored day counts of one slug, packed 32 days to a sled key.
//!
//! sled 0.34 keeps an entry in memory for every leaf, about 42 bytes per key
//! at the ~12 keys a leaf holds, for as long as the key exists. One key per
//! slug and day therefore made RAM grow with the click history: 5.7 million
//! clicked slug-days took ~240 MB before anything was read. A block holds
//! the counts of one slug for 32 consecutive days, so a link clicked every
//! day costs a key a month instead of thirty.
//!
//! ```text
//! key   = slug 0x01 block (u32 big-endian, = day / 32)
//! value = version (1 byte, = 1) bincode([(day - 32 * block (u8), count (u64))])
//!         sorted by day, no repeats, no zero counts
//! ```
//!
//! Slugs never hold bytes below `-`, so a slug's blocks are one key range,
//! apart from the click journal (keys starting 0x00) and from the per-day
//! counters of layouts before 4 (slug 0x00 day), which are still read and
//! never rewritten: sled would not give their memory back (see
//! `store::migrate`).

use std::ops::RangeInclusive;

/// Days per block.
pub const BLOCK_DAYS: u32 = 32;

const SEPARATOR: u8 = 0x01;
const VERSION_1: u8 = 1;
/// A block holds at most 32 entries of at most 11 bytes each.
const MAX_VALUE: usize = 512;

/// The block a day falls in.
pub fn block_of(day: u32) -> u32 {
    day / BLOCK_DAYS
}

/// The key of `slug`'s block `block`.
pub fn key(slug: &[u8], block: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(slug.len() + 5);
    key.extend_from_slice(slug);
    key.push(SEPARATOR);
    key.extend_from_slice(&block.to_be_bytes());
    key
}

/// The keys of `slug`'s blocks that can hold days `from..=to`.
pub fn range(slug: &[u8], from: u32, to: u32) -> RangeInclusive<Vec<u8>> {
    key(slug, block_of(from))..=key(slug, block_of(to))
}

/// The keys of `slug`'s per-day counters of layouts before 4 (slug 0x00
/// day), which are read as they are.
pub fn old_range(slug: &[u8]) -> RangeInclusive<Vec<u8>> {
    let mut from = slug.to_vec();
    from.extend_from_slice(&[0; 5]);
    let mut to = slug.to_vec();
    to.extend_from_slice(&[0, 0xff, 0xff, 0xff, 0xff]);
    from..=to
}

/// Whether `key` is a block key (as opposed to a journal record or a
/// per-day counter of an older layout).
pub fn is_block_key(key: &[u8]) -> bool {
    key.len() > 5 && key.first() != Some(&0) && key[key.len() - 5] == SEPARATOR
}

/// The block number of a block key.
pub fn block_from_key(key: &[u8]) -> Option<u32> {
    let tail: [u8; 4] = key.get(key.len().checked_sub(4)?..)?.try_into().ok()?;
    Some(u32::from_be_bytes(tail))
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_VALUE>()
}

/// The counts of block `block` as (day, count), in day order; `None` when
/// the value is damaged.
pub fn decode(block: u32, value: &[u8]) -> Option<Vec<(u32, u64)>> {
    let (&VERSION_1, body) = value.split_first()? else {
        return None;
    };
    let (entries, used): (Vec<(u8, u64)>, usize) =
        bincode::serde::decode_from_slice(body, config()).ok()?;
    let in_order = entries.windows(2).all(|w| w[0].0 < w[1].0);
    let valid = entries
        .iter()
        .all(|&(offset, n)| u32::from(offset) < BLOCK_DAYS && n > 0);
    if used != body.len() || !in_order || !valid {
        return None;
    }
    let first = block.checked_mul(BLOCK_DAYS)?;
    Some(
        entries
            .into_iter()
            .map(|(offset, n)| (first + u32::from(offset), n))
            .collect(),
    )
}

/// The value holding `days` (day, count) of one block, which must be in
/// day order without repeats; zero counts are left out.
fn encode(days: &[(u32, u64)]) -> Vec<u8> {
    let entries: Vec<(u8, u64)> = days
        .iter()
        .filter(|&&(_, n)| n > 0)
        .map(|&(day, n)| ((day % BLOCK_DAYS) as u8, n))
        .collect();
    let mut out = vec![VERSION_1];
    // Encoding into a Vec cannot fail for these types; were it to, the
    // block would read as damaged, never as other counts.
    out.extend(bincode::serde::encode_to_vec(&entries, config()).unwrap_or_default());
    out
}

/// Block `block`'s value `old` (none yet, or damaged: then the counts start
/// over from what is added, rather than blocking every later fold) with
/// `adds` (day, count) added, days in any order, all in that block.
pub fn add(block: u32, old: Option<&[u8]>, adds: &[(u32, u64)]) -> Vec<u8> {
    let mut days = old.and_then(|v| decode(block, v)).unwrap_or_default();
    for &(day, n) in adds {
        match days.binary_search_by_key(&day, |&(d, _)| d) {
            Ok(i) => days[i].1 = days[i].1.saturating_add(n),
            Err(i) => days.insert(i, (day, n)),
        }
    }
    encode(&days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_add_up_and_read_back() {
        let block = block_of(20_419);
        let first = block * BLOCK_DAYS;
        let v = add(block, None, &[(first + 5, 2), (first, 1)]);
        assert_eq!(decode(block, &v), Some(vec![(first, 1), (first + 5, 2)]));
        let v = add(block, Some(&v), &[(first + 5, 3), (first + 31, u64::MAX)]);
        assert_eq!(
            decode(block, &v),
            Some(vec![(first, 1), (first + 5, 5), (first + 31, u64::MAX)])
        );
        // Saturates rather than wrapping.
        let v = add(block, Some(&v), &[(first + 31, 1)]);
        assert_eq!(decode(block, &v).unwrap()[2], (first + 31, u64::MAX));
        // A day clicked once takes three bytes, the version one.
        assert_eq!(add(block, None, &[(first, 1)]).len(), 4);
        assert_eq!(decode(block, &add(block, None, &[])), Some(vec![]));
    }

    #[test]
    fn keys_sort_by_slug_then_block_and_keep_apart_from_other_keys() {
        assert!(key(b"a", 7) < key(b"a", 8));
        assert!(key(b"a", u32::MAX) < key(b"a-", 0));
        assert!(key(b"a", u32::MAX) < key(b"aa", 0));
        assert!(is_block_key(&key(b"a", 3)));
        assert_eq!(block_from_key(&key(b"ab", 640)), Some(640));
        // Per-day keys of older layouts and journal records are not blocks.
        assert!(!is_block_key(&super::super::super::daily_key(b"a", 3)));
        assert!(!is_block_key(&[0, 0, 0, 0, 0, 0, 0, 0, 1]));
        assert_eq!(range(b"s", 31, 32), key(b"s", 0)..=key(b"s", 1));
    }

    #[test]
    fn damaged_blocks_are_refused_and_start_over() {
        let block = 3;
        let good = add(block, None, &[(96, 4), (100, 1)]);
        for cut in 0..good.len() {
            assert_eq!(decode(block, &good[..cut]), None, "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(decode(block, &trailing), None);
        let mut version = good.clone();
        version[0] = 2;
        assert_eq!(decode(block, &version), None);
        let out_of_order = [vec![VERSION_1], vec![2, 4, 4, 0, 1]].concat();
        assert_eq!(decode(block, &out_of_order), None);
        let offset_too_big = [vec![VERSION_1], vec![1, 32, 1]].concat();
        assert_eq!(decode(block, &offset_too_big), None);
        let zero = [vec![VERSION_1], vec![1, 0, 0]].concat();
        assert_eq!(decode(block, &zero), None);
        assert_eq!(decode(u32::MAX, &good), None, "first day overflows");
        // A damaged block restarts from what is added.
        assert_eq!(
            decode(block, &add(block, Some(b"junk"), &[(97, 2)])),
            Some(vec![(97, 2)])
        );
    }
}
