//! The `Link` record and its on-disk encoding.
//!
//! This is the only file that knows the encoding of a record: one format
//! version byte, then bincode 2 (serde) of [`Link`]. bincode is pinned and no
//! longer maintained, so keeping it behind the version byte here means a later
//! format can be added without touching the rest of kurz. Version 2 added who
//! made a link, its password hash and its tags; version 1 records (written by
//! kurz before them) still decode, as links with none of the three.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The first format: target, times, limits, status.
const VERSION_1: u8 = 1;
/// The format written now: version 1 plus `created_by`, `password`, `tags`.
const VERSION_2: u8 = 2;

/// Largest record accepted on decode. Targets are capped at 8 KiB, so a
/// larger length prefix can only come from damage; the limit keeps a
/// corrupted length from turning into a huge allocation.
const MAX_RECORD: usize = 16 * 1024;

/// One short link as stored in the `links` tree. Its `Debug` leaves the
/// password hash out, so no log line or panic message can carry it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The name of the API key that made it; `None` for links made before
    /// kurz had named keys, or imported without one.
    pub created_by: Option<String>,
    /// The Argon2id hash (PHC string) of the link's password, if it has one.
    /// Never the password itself.
    pub password: Option<String>,
    /// The link's tags, sorted, without repeats.
    pub tags: Vec<String>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("target", &self.target)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("max_clicks", &self.max_clicks)
            .field("redirect_status", &self.redirect_status)
            .field("created_by", &self.created_by)
            .field("password", &self.password.as_ref().map(|_| "<hash>"))
            .field("tags", &self.tags)
            .finish()
    }
}

/// A version 1 record, as kurz wrote it before version 2.
#[derive(Deserialize)]
struct LinkV1 {
    target: String,
    created_at: i64,
    expires_at: Option<i64>,
    max_clicks: Option<u64>,
    redirect_status: Option<u16>,
}

impl From<LinkV1> for Link {
    fn from(v1: LinkV1) -> Link {
        Link {
            target: v1.target,
            created_at: v1.created_at,
            expires_at: v1.expires_at,
            max_clicks: v1.max_clicks,
            redirect_status: v1.redirect_status,
            created_by: None,
            password: None,
            tags: Vec::new(),
        }
    }
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
    /// A link to `target` created now by the built-in admin key, with no
    /// expiry, limit, password or tags: what the CLI's `add` and YOURLS's
    /// `shorturl` make.
    pub fn plain(target: String) -> Link {
        Link {
            target,
            created_at: crate::clock::now_ms(),
            expires_at: None,
            max_clicks: None,
            redirect_status: None,
            created_by: Some(crate::keys::BUILTIN.to_owned()),
            password: None,
            tags: Vec::new(),
        }
    }

    /// Encodes the record with its version byte.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION_2];
        // Encoding into a Vec cannot fail for this plain struct; an error here
        // would be a bincode bug, and an empty body then fails loudly on decode.
        if let Ok(body) = bincode::serde::encode_to_vec(self, config()) {
            out.extend_from_slice(&body);
        }
        out
    }

    /// The record as format 1 wrote it (dropping what format 1 cannot hold),
    /// for tests of older data directories.
    #[cfg(test)]
    pub(crate) fn encode_v1(&self) -> Vec<u8> {
        let body = (
            &self.target,
            self.created_at,
            self.expires_at,
            self.max_clicks,
            self.redirect_status,
        );
        let mut out = vec![VERSION_1];
        out.extend(bincode::serde::encode_to_vec(body, config()).unwrap_or_default());
        out
    }

    /// Decodes a record written by [`Link::encode`].
    ///
    /// # Errors
    /// Any damage or unknown version is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Link, RecordError> {
        let (&version, body) = bytes.split_first().ok_or(RecordError::Empty)?;
        match version {
            VERSION_2 => decode_body::<Link>(body),
            VERSION_1 => decode_body::<LinkV1>(body).map(Link::from),
            other => Err(RecordError::Version(other)),
        }
    }
}

/// Decodes a whole record body of type `T`.
fn decode_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, RecordError> {
    if body.len() > MAX_RECORD {
        return Err(RecordError::Decode("record too large".into()));
    }
    let (value, used): (T, usize) = bincode::serde::decode_from_slice(body, config())
        .map_err(|e| RecordError::Decode(e.to_string()))?;
    if used != body.len() {
        return Err(RecordError::Trailing(body.len() - used));
    }
    Ok(value)
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
            created_by: Some("phone".into()),
            password: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
            tags: vec!["news".into(), "work".into()],
        }
    }

    #[test]
    fn round_trips() {
        let l = sample();
        assert_eq!(Link::decode(&l.encode()), Ok(l));
    }

    #[test]
    fn version_1_records_still_decode() {
        // Bytes as kurz wrote them before version 2 (encoded by hand here so
        // the test does not lean on the code it checks).
        let mut v1 = vec![VERSION_1];
        let body = (
            "https://example.com/",
            1_700_000_000_000_i64,
            Some(1_800_000_000_000_i64),
            Some(3_u64),
            Some(307_u16),
        );
        v1.extend(bincode::serde::encode_to_vec(body, config()).unwrap());
        let want = Link {
            created_by: None,
            password: None,
            tags: Vec::new(),
            ..sample()
        };
        assert_eq!(Link::decode(&v1), Ok(want));
        // Damage in a version 1 record is still an error.
        assert!(Link::decode(&v1[..v1.len() - 2]).is_err());
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
        assert!(Link::decode(&[2, 0xfc, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
