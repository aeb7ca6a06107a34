//! Named API keys with scopes, kept in `<data>/keys`.
//!
//! Besides the built-in key (`<data>/api-key`, `--api-key`, `KURZ_API_KEY`:
//! the key named `admin`), a user can hand out keys with a name and a
//! scope: `read` (GET under `/api/`), `write` (also changing links) or
//! `admin` (also managing keys and taking exports). Like the built-in key,
//! only a key's SHA-256 digest is kept, so the file gives no key away.
//!
//! The file is JSON Lines, one key per line, replaced whole through a
//! temporary file and a rename (mode 0600) under an exclusive lock on
//! `<data>/keys.lock`, so `kurz keys` and a running server's `/api/keys`
//! can both change it: the lock orders their read-modify-write, and a
//! server notices a changed file at its next authorized request
//! ([`Keyring`]), so a revoked key stops working at once, no restart.
//!
//! When a key was last used is counted in memory on every request and
//! written to `<data>/keys-used` by the server now and then (and when it
//! stops), never once per request.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::key::{self, KeyDigest};

mod file;

pub use file::{add, check_name, read, read_used, restore, revoke};

/// The keys file inside the data directory.
pub const FILE_NAME: &str = "keys";
/// The lock file that orders changes to the keys file.
const LOCK_NAME: &str = "keys.lock";
/// When each key was last used, as the server last wrote it.
pub const USED_FILE: &str = "keys-used";
/// The built-in key's name: reserved, and never revoked over HTTP.
pub const BUILTIN: &str = "admin";
/// Most named keys kept: each request compares against all of them.
pub const MAX_KEYS: usize = 1000;
/// Longest key name.
pub const MAX_NAME: usize = 32;

/// What a key may do. Ordered: each scope may do all the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `GET` (and `HEAD`) under `/api/`, and `/metrics`.
    Read,
    /// Also creating, changing and deleting links.
    Write,
    /// Also managing keys and taking exports.
    Admin,
}

impl Scope {
    /// The scope's name, as the API and the command line write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    /// The scope named `name`, if any.
    pub fn parse(name: &str) -> Option<Scope> {
        match name {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// Problems with named keys.
#[derive(Debug, Error)]
pub enum KeysError {
    /// Reading or writing a file failed.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The keys file holds a line that is not a key.
    #[error("{path} is damaged at line {line}: {why}")]
    Damaged {
        /// The keys file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// A name outside the rule.
    #[error("a key name is 1 to {MAX_NAME} of a-z, 0-9, '-' and '_', starting with a letter or digit; {0:?} is not")]
    BadName(String),
    /// The built-in key's name.
    #[error("'{BUILTIN}' is the built-in key's name: replace that key with `kurz key --new`")]
    Builtin,
    /// A key of that name exists.
    #[error("a key named '{0}' exists: revoke it first, or choose another name")]
    Taken(String),
    /// No key of that name.
    #[error("no key named '{0}'")]
    Unknown(String),
    /// [`MAX_KEYS`] keys exist.
    #[error("{MAX_KEYS} keys exist already: revoke some first")]
    TooMany,
}

/// A named key, as kept: never the key itself.
#[derive(Debug, Clone)]
pub struct NamedKey {
    /// Its name, unique.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// The SHA-256 of the key.
    pub digest: KeyDigest,
    /// When it was made, Unix ms.
    pub created_at: i64,
}

/// Who a request is: the key's name and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's name (`admin` for the built-in key).
    pub name: String,
    /// What it may do.
    pub scope: Scope,
}

/// A key as listed: never the key or its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// Its name.
    pub name: String,
    /// Its scope.
    pub scope: Scope,
    /// When it was made, Unix ms; `None` for the built-in key.
    pub created_at: Option<i64>,
    /// When it was last used, Unix ms, if known.
    pub last_used: Option<i64>,
    /// Whether it is the built-in key.
    pub builtin: bool,
}

/// The keys file as a server last read it, and how to tell it changed.
struct Loaded {
    stamp: Option<Stamp>,
    keys: Vec<NamedKey>,
}

/// What tells a replaced file from the one read: a rename gives a new inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        ino: m.ino(),
        len: m.len(),
        modified: m.modified().ok(),
    })
}

/// A server's keys: the built-in one and the named ones, reread when the
/// file changes, with when each was last used.
pub struct Keyring {
    data: PathBuf,
    builtin: KeyDigest,
    loaded: RwLock<Loaded>,
    used: Mutex<HashMap<String, i64>>,
    dirty: Mutex<bool>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("data", &self.data).finish()
    }
}

impl Keyring {
    /// The keys of the data directory `data`, with the built-in key's digest.
    pub fn new(data: &Path, builtin: KeyDigest) -> Keyring {
        let ring = Keyring {
            data: data.to_owned(),
            builtin,
            loaded: RwLock::new(Loaded {
                stamp: None,
                keys: Vec::new(),
            }),
            used: Mutex::new(read_used(data)),
            dirty: Mutex::new(false),
        };
        ring.refresh();
        ring
    }

    /// Rereads the keys file if it changed since it was read. A damaged or
    /// unreadable file leaves no named key working (failing closed: the
    /// built-in key still works, so its owner can repair things), logged.
    fn refresh(&self) {
        let path = self.data.join(FILE_NAME);
        let now = stamp(&path);
        let same = self
            .loaded
            .read()
            .map(|l| l.stamp == now && now.is_some())
            .unwrap_or(false);
        if same {
            return;
        }
        let keys = match read(&self.data) {
            Ok(keys) => keys,
            Err(e) => {
                if now.is_some() {
                    tracing::error!("named keys refused until repaired: {e}");
                }
                Vec::new()
            }
        };
        if let Ok(mut l) = self.loaded.write() {
            *l = Loaded { stamp: now, keys };
        }
    }

    /// Who presents `given`, if it is a key: compared by digest in constant
    /// time against every key, so timing tells nothing of which or how
    /// close. Counts the key as used at `now` (Unix ms).
    pub fn identify(&self, given: &[u8], now: i64) -> Option<Caller> {
        self.refresh();
        let digest = KeyDigest::of(given);
        let mut found = None;
        if digest.same_as(&self.builtin) {
            found = Some(Caller {
                name: BUILTIN.to_owned(),
                scope: Scope::Admin,
            });
        }
        if let Ok(l) = self.loaded.read() {
            for k in &l.keys {
                if digest.same_as(&k.digest) {
                    found = Some(Caller {
                        name: k.name.clone(),
                        scope: k.scope,
                    });
                }
            }
        }
        if let Some(c) = &found {
            self.used_at(&c.name, now);
        }
        found
    }

    /// Who the key with `digest` is now: its name and scope, or `None` once
    /// it is revoked. A browser session keeps the digest of the key it
    /// signed in with, never its name: a name can be given to a new key
    /// after a revoke, a digest cannot, so a session ends with its key for good.
    pub fn caller_of(&self, digest: &KeyDigest, now: i64) -> Option<Caller> {
        let found = if digest.same_as(&self.builtin) {
            Some(Caller {
                name: BUILTIN.to_owned(),
                scope: Scope::Admin,
            })
        } else {
            self.refresh();
            self.loaded
                .read()
                .ok()?
                .keys
                .iter()
                .find(|k| k.digest.same_as(digest))
                .map(|k| Caller {
                    name: k.name.clone(),
                    scope: k.scope,
                })
        }?;
        self.used_at(&found.name, now);
        Some(found)
    }

    fn used_at(&self, name: &str, now: i64) {
        if let Ok(mut used) = self.used.lock() {
            let at = used.entry(name.to_owned()).or_insert(now);
            *at = (*at).max(now);
        }
        if let Ok(mut d) = self.dirty.lock() {
            *d = true;
        }
    }

    /// Every key, the built-in one first, then by name.
    pub fn list(&self) -> Vec<KeyInfo> {
        self.refresh();
        let used = self.used.lock().map(|u| u.clone()).unwrap_or_default();
        let mut out = vec![KeyInfo {
            name: BUILTIN.to_owned(),
            scope: Scope::Admin,
            created_at: None,
            last_used: used.get(BUILTIN).copied(),
            builtin: true,
        }];
        if let Ok(l) = self.loaded.read() {
            let mut named: Vec<KeyInfo> = l
                .keys
                .iter()
                .map(|k| KeyInfo {
                    name: k.name.clone(),
                    scope: k.scope,
                    created_at: Some(k.created_at),
                    last_used: used.get(&k.name).copied(),
                    builtin: false,
                })
                .collect();
            named.sort_by(|a, b| a.name.cmp(&b.name));
            out.extend(named);
        }
        out
    }

    /// Makes a named key (see [`add`]) and takes it into use at once.
    ///
    /// # Errors
    /// As [`add`].
    pub fn add(&self, name: &str, scope: Scope, now: i64) -> Result<(NamedKey, String), KeysError> {
        let made = add(&self.data, name, scope, now)?;
        self.refresh();
        Ok(made)
    }

    /// Revokes a named key (see [`revoke`]); it stops working at once.
    ///
    /// # Errors
    /// As [`revoke`].
    pub fn revoke(&self, name: &str) -> Result<(), KeysError> {
        revoke(&self.data, name)?;
        self.refresh();
        if let Ok(mut used) = self.used.lock() {
            used.remove(name);
        }
        Ok(())
    }

    /// Writes when each key was last used to `<data>/keys-used`, if that
    /// changed since the last write.
    ///
    /// # Errors
    /// I/O errors (the times stay in memory for the next try).
    pub fn flush_used(&self) -> Result<(), KeysError> {
        let was_dirty = self
            .dirty
            .lock()
            .map(|mut d| std::mem::replace(&mut *d, false))
            .unwrap_or(false);
        if !was_dirty {
            return Ok(());
        }
        let used = self.used.lock().map(|u| u.clone()).unwrap_or_default();
        let text = serde_json::to_string(&used).unwrap_or_else(|_| "{}".into());
        key::write_private(&self.data, USED_FILE, &text).map_err(|e| {
            if let Ok(mut d) = self.dirty.lock() {
                *d = true;
            }
            KeysError::Io {
                path: self.data.join(USED_FILE),
                source: std::io::Error::other(e.to_string()),
            }
        })
    }
}

/// Opens (creating) a file only to hold the keys lock; for tests that
/// check the lock orders writers.
#[cfg(test)]
fn hold_lock(data: &Path) -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(data.join(LOCK_NAME))
        .unwrap();
    f.lock().unwrap();
    f
}

#[cfg(test)]
mod tests;
