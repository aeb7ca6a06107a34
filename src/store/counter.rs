//! Click counters on disk: the u64 encoding and sled's merge operator.
//!
//! Counters in the `clicks` and `daily` trees are 8-byte little-endian u64s,
//! changed only by merging a delta, so sled applies the addition atomically
//! and no read-modify-write race can lose a count.

/// Encodes a counter value or delta.
pub fn encode(n: u64) -> [u8; 8] {
    n.to_le_bytes()
}

/// Decodes a counter; `None` when the bytes are not 8 long (damage).
pub fn decode(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// sled merge operator: adds the delta to the stored value.
///
/// A damaged stored value (wrong length) counts as zero rather than panicking
/// inside sled; the delta still lands, so new clicks are never dropped.
pub fn add(_key: &[u8], old: Option<&[u8]>, delta: &[u8]) -> Option<Vec<u8>> {
    let old = old.and_then(decode).unwrap_or(0);
    let delta = decode(delta).unwrap_or(0);
    Some(encode(old.saturating_add(delta)).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_and_tolerates_damage() {
        assert_eq!(add(b"k", None, &encode(2)), Some(encode(2).to_vec()));
        assert_eq!(
            add(b"k", Some(&encode(5)), &encode(2)),
            Some(encode(7).to_vec())
        );
        assert_eq!(
            add(b"k", Some(b"bad"), &encode(2)),
            Some(encode(2).to_vec())
        );
        assert_eq!(decode(b"short"), None);
    }
}
