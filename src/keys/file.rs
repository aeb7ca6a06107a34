//! The keys file itself: reading it, and changing it (add, revoke) as one
//! read-modify-write under the exclusive lock on `<data>/keys.lock`, the
//! new file written beside it and renamed over it (mode 0600).

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{
    KeysError, NamedKey, Scope, BUILTIN, FILE_NAME, LOCK_NAME, MAX_KEYS, MAX_NAME, USED_FILE,
};
use crate::key::{self, KeyDigest};

/// One line of the keys file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    name: String,
    scope: Scope,
    digest: String,
    created_at: i64,
}

/// Checks a new key's name.
///
/// # Errors
/// [`KeysError::BadName`], or [`KeysError::Builtin`] for `admin`.
pub fn check_name(name: &str) -> Result<(), KeysError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err(KeysError::BadName(name.to_owned()));
    }
    if name == BUILTIN {
        return Err(KeysError::Builtin);
    }
    Ok(())
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> KeysError + '_ {
    move |source| KeysError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The named keys kept in `data`; none when there is no keys file.
///
/// # Errors
/// I/O errors, and [`KeysError::Damaged`] for a line that is not a key.
pub fn read(data: &Path) -> Result<Vec<NamedKey>, KeysError> {
    let path = data.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&path)(e)),
    };
    parse(&path, &text)
}

fn parse(path: &Path, text: &str) -> Result<Vec<NamedKey>, KeysError> {
    let mut keys: Vec<NamedKey> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let damaged = |why: String| KeysError::Damaged {
            path: path.to_owned(),
            line: i + 1,
            why,
        };
        let line: Line = serde_json::from_str(raw).map_err(|e| damaged(e.to_string()))?;
        check_name(&line.name).map_err(|e| damaged(e.to_string()))?;
        if keys.iter().any(|k| k.name == line.name) {
            return Err(damaged(format!("'{}' twice", line.name)));
        }
        let digest = KeyDigest::parse(&line.digest)
            .ok_or_else(|| damaged("the digest is not sha256:<64 hex digits>".into()))?;
        keys.push(NamedKey {
            name: line.name,
            scope: line.scope,
            digest,
            created_at: line.created_at,
        });
    }
    Ok(keys)
}

fn render(keys: &[NamedKey]) -> String {
    let mut out = String::new();
    for k in keys {
        let line = Line {
            name: k.name.clone(),
            scope: k.scope,
            digest: k.digest.to_line(),
            created_at: k.created_at,
        };
        // A struct of strings and numbers always serializes.
        if let Ok(text) = serde_json::to_string(&line) {
            out.push_str(&text);
            out.push('\n');
        }
    }
    out
}

/// Runs `change` on the keys in `data` under the keys lock, and writes back
/// what it leaves (atomically: the file holds the old keys or the new).
fn change<T>(
    data: &Path,
    change: impl FnOnce(&mut Vec<NamedKey>) -> Result<T, KeysError>,
) -> Result<T, KeysError> {
    std::fs::create_dir_all(data).map_err(io(data))?;
    let lock_path = data.join(LOCK_NAME);
    let lock = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    // Released when `lock` is dropped, at the end of this call.
    lock.lock().map_err(io(&lock_path))?;
    let mut keys = read(data)?;
    let out = change(&mut keys)?;
    key::write_private(data, FILE_NAME, &render(&keys)).map_err(|e| match e {
        key::KeyError::Io { path, source } => KeysError::Io { path, source },
        other => KeysError::Io {
            path: data.join(FILE_NAME),
            source: std::io::Error::other(other.to_string()),
        },
    })?;
    drop(lock);
    Ok(out)
}

/// Makes a key named `name` with `scope`; returns it (the key itself, shown
/// once) with what is kept of it.
///
/// # Errors
/// A bad or taken name, too many keys, I/O errors.
pub fn add(
    data: &Path,
    name: &str,
    scope: Scope,
    now: i64,
) -> Result<(NamedKey, String), KeysError> {
    check_name(name)?;
    change(data, |keys| {
        if keys.iter().any(|k| k.name == name) {
            return Err(KeysError::Taken(name.to_owned()));
        }
        if keys.len() >= MAX_KEYS {
            return Err(KeysError::TooMany);
        }
        let secret = key::generate();
        let made = NamedKey {
            name: name.to_owned(),
            scope,
            digest: KeyDigest::of(secret.as_bytes()),
            created_at: now,
        };
        keys.push(made.clone());
        Ok((made, secret))
    })
}

/// Replaces the named keys of `data` with `keys`, written as [`add`] writes
/// them (under the lock, atomically, mode 0600): for `kurz restore`, which
/// has checked them already.
///
/// # Errors
/// I/O errors.
pub fn restore(data: &Path, keys: &[NamedKey]) -> Result<(), KeysError> {
    change(data, |kept| {
        *kept = keys.to_vec();
        Ok(())
    })
}

/// Revokes the key named `name`.
///
/// # Errors
/// [`KeysError::Builtin`] for `admin`, [`KeysError::Unknown`], I/O errors.
pub fn revoke(data: &Path, name: &str) -> Result<(), KeysError> {
    if name == BUILTIN {
        return Err(KeysError::Builtin);
    }
    change(data, |keys| {
        let before = keys.len();
        keys.retain(|k| k.name != name);
        if keys.len() == before {
            return Err(KeysError::Unknown(name.to_owned()));
        }
        Ok(())
    })
}

/// When each key was last used (Unix ms), as a server last wrote it;
/// empty when it never did. A damaged file reads as empty: it only ever
/// holds hints.
pub fn read_used(data: &Path) -> HashMap<String, i64> {
    std::fs::read_to_string(data.join(USED_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}
