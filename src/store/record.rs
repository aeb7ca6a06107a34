//! The `Link` record and its on-disk encoding.
//!
//! This is the only file that knows the encoding of a record: one format
//! version byte, then bincode 2 (serde) of [`Link`]. bincode is pinned and no
//! longer maintained, so keeping it behind the version byte here means a later
//! format can be added as version 2 without touching the rest of kurz.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The format version written in front of every record.
const VERSION_1: u8 = 1;

/// Largest record accepted on decode. Targets are capped at 8 KiB, so a
/// larger length prefix can only come from damage; the limit keeps a
/// corrupted length from turning into a huge allocation.
const MAX_RECORD: usize = 16 * 1024;

/// One short link as stored in the `links` tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The normalized target URL (ASCII, as the `url` crate serializes it).
    pub target: String,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// After this instant (Unix ms) the link answers 410.
    pub expires_at: Option<i64>,
    /// Once this many clicks are counted the link answers 410.
    pub max_clicks: Option<u64>,
    /// This link's redirect status; `None` follows the server default.
    pub redirect_status: Option<u16>,
}

/// Why bytes from the store are not a readable record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    /// The value was empty.
    #[error("empty record")]
    Empty,
    /// The first byte names a format this build does not know.
    #[error("unknown record format version {0}")]
    Version(u8),
    /// The body did not decode.
    #[error("undecodable record: {0}")]
    Decode(String),
    /// The body decoded but left bytes over.
    #[error("record has {0} trailing bytes")]
    Trailing(usize),
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_RECORD>()
}

impl Link {
    /// Encodes the record with its version byte.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION_1];
        // Encoding into a Vec cannot fail for this plain struct; an error here
        // would be a bincode bug, and an empty body then fails loudly on decode.
        if let Ok(body) = bincode::serde::encode_to_vec(self, config()) {
            out.extend_from_slice(&body);
        }
        out
    }

    /// Decodes a record written by [`Link::encode`].
    ///
    /// # Errors
    /// Any damage or unknown version is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Link, RecordError> {
        let (&version, body) = bytes.split_first().ok_or(RecordError::Empty)?;
        if version != VERSION_1 {
            return Err(RecordError::Version(version));
        }
        if body.len() > MAX_RECORD {
            return Err(RecordError::Decode("record too large".into()));
        }
        let (link, used): (Link, usize) = bincode::serde::decode_from_slice(body, config())
            .map_err(|e| RecordError::Decode(e.to_string()))?;
        if used != body.len() {
            return Err(RecordError::Trailing(body.len() - used));
        }
        Ok(link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Link {
        Link {
            target: "https://example.com/".into(),
            created_at: 1_700_000_000_000,
            expires_at: Some(1_800_000_000_000),
            max_clicks: Some(3),
            redirect_status: Some(307),
        }
    }

    #[test]
    fn round_trips() {
        let l = sample();
        assert_eq!(Link::decode(&l.encode()), Ok(l));
    }

    #[test]
    fn damage_is_an_error() {
        let bytes = sample().encode();
        assert_eq!(Link::decode(&[]), Err(RecordError::Empty));
        assert_eq!(Link::decode(&[9]), Err(RecordError::Version(9)));
        assert!(Link::decode(&bytes[..bytes.len() - 3]).is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(Link::decode(&extra), Err(RecordError::Trailing(1)));
        // A length prefix claiming gigabytes must not allocate them.
        assert!(Link::decode(&[1, 0xfc, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
