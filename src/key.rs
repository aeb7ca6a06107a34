//! The API key: its digest, and the key file `<data>/api-key` that keeps
//! only that digest.
//!
//! On the first start without `--api-key`, kurz makes a 43-character random
//! key (about 256 bits from the OS random source), prints it once, and
//! writes just its SHA-256 digest, as `sha256:<hex>`, with mode 0600: a
//! copy of the data directory (a backup, a stolen disk) does not hand out
//! the key. `kurz key --new` replaces it. A file written by an earlier kurz,
//! holding the key itself, is rewritten to its digest when it is next read.
//!
//! The YOURLS-compatible API (`/yourls-api.php`) also needs a secret the
//! server can read back: a timestamped YOURLS signature is a hash of the
//! timestamp and the secret, which a digest cannot reproduce. That secret is
//! the YOURLS signature token, kept in clear in `<data>/yourls-token` (mode
//! 0600) and made by `kurz key --yourls` on first need, like YOURLS's own
//! signature token, which is not the password either.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The file name of the key inside the data directory.
pub const FILE_NAME: &str = "api-key";
/// What precedes the hex digest in the key file.
const PREFIX: &str = "sha256:";

/// Problems with the key file.
#[derive(Debug, Error)]
pub enum KeyError {
    /// Reading or writing the file failed.
    #[error("cannot access the API key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file exists but holds no usable key or digest.
    #[error("the API key file {0} is empty or damaged; make a new key with `kurz key --new`")]
    Invalid(PathBuf),
    /// The YOURLS token file exists but holds no usable token.
    #[error(
        "the YOURLS signature token file {0} is empty or damaged: it must hold {YOURLS_TOKEN_MIN} \
         to {YOURLS_TOKEN_MAX} letters and digits; make a new one with `kurz key --yourls --new`"
    )]
    InvalidToken(PathBuf),
    /// There is no key file yet.
    #[error(
        "no API key yet: {0} does not exist (start `kurz serve` once, or run `kurz key --new`)"
    )]
    Missing(PathBuf),
}

/// The file name of the YOURLS signature token inside the data directory.
pub const YOURLS_TOKEN_FILE: &str = "yourls-token";
/// Length of a generated YOURLS signature token (hex digits; YOURLS's own
/// are 32 hex digits too).
const YOURLS_TOKEN_LEN: usize = 32;
/// Shortest token accepted from the file: an existing YOURLS signature of
/// an older YOURLS (10 hex digits) may be put there to keep scripts working.
const YOURLS_TOKEN_MIN: usize = 10;
/// Longest token accepted from the file.
const YOURLS_TOKEN_MAX: usize = 128;

/// The SHA-256 digest of an API key: all the server keeps of it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    /// The digest of `key`.
    pub fn of(key: &[u8]) -> KeyDigest {
        KeyDigest(Sha256::digest(key).into())
    }

    /// Whether `key` has this digest, in time independent of both (so
    /// timing reveals neither a partial match nor the key's length).
    pub fn matches(&self, key: &[u8]) -> bool {
        bool::from(KeyDigest::of(key).0.ct_eq(&self.0))
    }

    /// Whether two digests are equal, in constant time.
    pub fn same_as(&self, other: &KeyDigest) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }

    /// The digest as kept in files: `sha256:<hex>`.
    pub fn to_line(&self) -> String {
        format!("{PREFIX}{}", self.to_hex())
    }

    /// Reads what [`KeyDigest::to_line`] writes.
    pub fn parse(text: &str) -> Option<KeyDigest> {
        KeyDigest::from_hex(text.strip_prefix(PREFIX)?)
    }

    /// The digest as 64 lower-case hex digits.
    fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads 64 hex digits.
    fn from_hex(text: &str) -> Option<KeyDigest> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        let digits: Option<Vec<u8>> = text
            .chars()
            .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
            .collect();
        for (byte, pair) in out.iter_mut().zip(digits?.chunks(2)) {
            *byte = pair[0] << 4 | pair[1];
        }
        Some(KeyDigest(out))
    }
}

impl std::fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not even the digest goes into logs.
        f.write_str("KeyDigest(..)")
    }
}

/// The key a server checks against, as found in (or just written to) the
/// key file.
#[derive(Debug, Clone)]
pub struct StoredKey {
    /// The digest the server compares with.
    pub digest: KeyDigest,
    /// The key itself, only when this call generated it: print it once.
    pub new_key: Option<String>,
    /// True when the file held the key in clear and now holds its digest.
    pub converted: bool,
    /// Where it is kept.
    pub path: PathBuf,
}

/// Path of the key file in `data`.
pub fn path_in(data: &Path) -> PathBuf {
    data.join(FILE_NAME)
}

/// Reads the key file in `data`; a file holding the key in clear (written
/// by an earlier kurz) is rewritten to hold only the digest.
///
/// # Errors
/// [`KeyError::Missing`] if there is none yet; I/O errors; damaged content.
pub fn read(data: &Path) -> Result<StoredKey, KeyError> {
    let path = path_in(data);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(KeyError::Missing(path)),
        Err(source) => return Err(KeyError::Io { path, source }),
    };
    let text = text.trim();
    if let Some(hex) = text.strip_prefix(PREFIX) {
        let digest = KeyDigest::from_hex(hex).ok_or_else(|| KeyError::Invalid(path.clone()))?;
        return Ok(StoredKey {
            digest,
            new_key: None,
            converted: false,
            path,
        });
    }
    let key = crate::config::parse_api_key(text).map_err(|_| KeyError::Invalid(path.clone()))?;
    let digest = KeyDigest::of(key.as_bytes());
    write_digest(data, &digest)?;
    Ok(StoredKey {
        digest,
        new_key: None,
        converted: true,
        path,
    })
}

/// Reads the key file in `data`, generating a key and storing its digest
/// if there is none.
///
/// # Errors
/// I/O errors, or a damaged existing file.
pub fn load_or_create(data: &Path) -> Result<StoredKey, KeyError> {
    match read(data) {
        Err(KeyError::Missing(_)) => {}
        other => return other,
    }
    let path = path_in(data);
    let io = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data).map_err(io)?;
    let key = generate();
    let digest = KeyDigest::of(key.as_bytes());
    // create_new: if another process won the race, use its key instead.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path);
    match file {
        Ok(mut f) => {
            f.write_all(line_of(&digest).as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            Ok(StoredKey {
                digest,
                new_key: Some(key),
                converted: false,
                path,
            })
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => read(data),
        Err(e) => Err(io(e)),
    }
}

/// Makes a new key, replaces the key file's digest with its digest (atomic:
/// the file holds the old digest or the new one, never neither), and
/// returns the key. A running server goes on with the key it started with.
///
/// # Errors
/// I/O errors.
pub fn replace(data: &Path) -> Result<String, KeyError> {
    std::fs::create_dir_all(data).map_err(|source| KeyError::Io {
        path: path_in(data),
        source,
    })?;
    let key = generate();
    write_digest(data, &KeyDigest::of(key.as_bytes()))?;
    Ok(key)
}

/// Writes `digest` as the key file of `data`, as kurz writes it (mode
/// 0600, through a temporary file and a rename): for `kurz restore`, which
/// brings back the digest of a key kurz never had in clear.
///
/// # Errors
/// I/O errors.
pub fn restore_digest(data: &Path, digest: &KeyDigest) -> Result<(), KeyError> {
    write_digest(data, digest)
}

/// A fresh key, in the slug alphabet: safe in headers, files and shells.
pub fn generate() -> String {
    nanoid::nanoid!(43, &crate::slug::ALPHABET)
}

fn line_of(digest: &KeyDigest) -> String {
    format!("{PREFIX}{}\n", digest.to_hex())
}

/// Writes `digest` to the key file through a temporary file and a rename.
fn write_digest(data: &Path, digest: &KeyDigest) -> Result<(), KeyError> {
    write_private(data, FILE_NAME, &line_of(digest))
}

/// Replaces file `name` in `data` with `contents`, mode 0600, through a
/// temporary file and a rename: it holds the old contents or the new,
/// never neither.
pub fn write_private(data: &Path, name: &str, contents: &str) -> Result<(), KeyError> {
    let path = data.join(name);
    let temp = data.join(format!("{name}.new"));
    let io = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    // A leftover from an interrupted replace holds nothing of value.
    match std::fs::remove_file(&temp) {
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io)?;
    f.write_all(contents.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&temp, &path).map_err(io)?;
    // The rename itself must survive a crash.
    std::fs::File::open(data)
        .and_then(|d| d.sync_all())
        .map_err(io)
}

/// Path of the YOURLS signature token file in `data`.
pub fn yourls_token_path(data: &Path) -> PathBuf {
    data.join(YOURLS_TOKEN_FILE)
}

/// The YOURLS signature token kept in `data`; `None` when there is none yet
/// (the server only reads it: a file appears only when an admin asks).
///
/// # Errors
/// I/O errors; [`KeyError::InvalidToken`] for damaged content.
pub fn read_yourls_token(data: &Path) -> Result<Option<String>, KeyError> {
    let path = yourls_token_path(data);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(KeyError::Io { path, source }),
    };
    let token = text.trim();
    if !is_yourls_token(token) {
        return Err(KeyError::InvalidToken(path));
    }
    Ok(Some(token.to_owned()))
}

/// Whether `token` is one the token file may hold: [`YOURLS_TOKEN_MIN`] to
/// [`YOURLS_TOKEN_MAX`] ASCII letters and digits.
pub fn is_yourls_token(token: &str) -> bool {
    (YOURLS_TOKEN_MIN..=YOURLS_TOKEN_MAX).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Writes `token` as the YOURLS signature token of `data`, as kurz writes
/// a token it makes (mode 0600, through a temporary file and a rename):
/// for `kurz restore`.
///
/// # Errors
/// [`KeyError::InvalidToken`] for a token the file may not hold; I/O errors.
pub fn restore_yourls_token(data: &Path, token: &str) -> Result<(), KeyError> {
    if !is_yourls_token(token) {
        return Err(KeyError::InvalidToken(yourls_token_path(data)));
    }
    write_private(data, YOURLS_TOKEN_FILE, &format!("{token}\n"))
}

/// The YOURLS signature token kept in `data`, made and stored (mode 0600)
/// if there is none yet.
///
/// # Errors
/// I/O errors, or a damaged existing file.
pub fn yourls_token(data: &Path) -> Result<String, KeyError> {
    if let Some(token) = read_yourls_token(data)? {
        return Ok(token);
    }
    let path = yourls_token_path(data);
    let io = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data).map_err(io)?;
    let token = generate_token();
    // create_new: if a server or another command won the race, use theirs.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path);
    match file {
        Ok(mut f) => {
            f.write_all(format!("{token}\n").as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            Ok(token)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            read_yourls_token(data)?.ok_or_else(|| KeyError::InvalidToken(path.clone()))
        }
        Err(e) => Err(io(e)),
    }
}

/// Makes a new YOURLS signature token, replaces the stored one (atomic:
/// through a temporary file and a rename) and returns it. A running server
/// goes on with the token it read until it restarts.
///
/// # Errors
/// I/O errors.
pub fn replace_yourls_token(data: &Path) -> Result<String, KeyError> {
    std::fs::create_dir_all(data).map_err(|source| KeyError::Io {
        path: yourls_token_path(data),
        source,
    })?;
    let token = generate_token();
    write_private(data, YOURLS_TOKEN_FILE, &format!("{token}\n"))?;
    Ok(token)
}

/// A fresh YOURLS signature token: lower-case hex, like YOURLS's own.
fn generate_token() -> String {
    const HEX: [char; 16] = [
        '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
    ];
    nanoid::nanoid!(YOURLS_TOKEN_LEN, &HEX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_file_holds_only_the_digest_and_matches_the_printed_key() {
        let dir = tempfile::tempdir().unwrap();
        let made = load_or_create(dir.path()).unwrap();
        let key = made.new_key.unwrap();
        let text = std::fs::read_to_string(&made.path).unwrap();
        assert!(!text.contains(&key));
        assert!(
            text.starts_with("sha256:") && text.trim().len() == 71,
            "{text}"
        );
        let mode = std::fs::metadata(&made.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(dir.path()).unwrap();
        assert!(again.new_key.is_none());
        assert!(again.digest.matches(key.as_bytes()));
        assert!(!again.digest.matches(b"another-key-0123456789"));
    }

    #[test]
    fn a_key_in_clear_is_converted_to_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        std::fs::write(&path, "old-key-in-clear-0123456789\n").unwrap();
        let read_back = read(dir.path()).unwrap();
        assert!(read_back.converted);
        assert!(read_back.digest.matches(b"old-key-in-clear-0123456789"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("old-key"), "{text}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!read(dir.path()).unwrap().converted);
    }

    #[test]
    fn replace_changes_the_key_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap().new_key.unwrap();
        let second = replace(dir.path()).unwrap();
        let now = read(dir.path()).unwrap().digest;
        assert!(now.matches(second.as_bytes()) && !now.matches(first.as_bytes()));
        let plus = format!("sha256:+{}", "0".repeat(63));
        for bad in ["sha256:zz", "sha256:", "short", "", &plus] {
            std::fs::write(path_in(dir.path()), bad).unwrap();
            assert!(
                matches!(read(dir.path()), Err(KeyError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_yourls_token_is_made_once_private_and_replaceable() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_yourls_token(dir.path()).unwrap().is_none());
        let token = yourls_token(dir.path()).unwrap();
        assert_eq!(token.len(), 32);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(yourls_token(dir.path()).unwrap(), token);
        let path = yourls_token_path(dir.path());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let newer = replace_yourls_token(dir.path()).unwrap();
        assert_ne!(newer, token);
        assert_eq!(read_yourls_token(dir.path()).unwrap(), Some(newer));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // An older YOURLS's 10-digit signature may be kept to keep scripts working.
        std::fs::write(&path, "0123abcdef\n").unwrap();
        assert_eq!(
            read_yourls_token(dir.path()).unwrap().unwrap(),
            "0123abcdef"
        );
        for bad in ["", "short", "has space in it", "ünïcödé-token-123"] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                matches!(
                    read_yourls_token(dir.path()),
                    Err(KeyError::InvalidToken(_))
                ),
                "{bad}"
            );
        }
    }
}
