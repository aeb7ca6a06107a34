//! The credentials record of a `kurz backup` file: what the data directory
//! keeps of the keys, read, checked and written back.
//!
//! A backup is a JSON Lines export of the links whose first line is this
//! record: `{"kurz_backup":1,"credentials":{...}}` with the built-in key's
//! digest (`sha256:<hex>`, as `<data>/api-key` keeps it), the named keys
//! (name, scope, digest, created, as `<data>/keys` keeps them) and the
//! YOURLS signature token (in clear, as `<data>/yourls-token` keeps it: a
//! signature cannot be checked against a digest). Never a key itself:
//! kurz never has one after showing it once. `kurz import` skips the
//! record ([`crate::formats::Records::backup_header`]); `kurz restore`
//! checks all of it before it writes anything, then writes the files as
//! kurz itself writes them (mode 0600, through a temporary file and a
//! rename). When each key was last used is not part of it: those are hints.

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::key::{self, KeyDigest, KeyError};
use crate::keys::{self, KeysError, NamedKey, Scope, MAX_KEYS};

/// The version of the backup format this kurz writes and reads.
pub const VERSION: u32 = 1;

/// Problems with the credentials of a backup.
#[derive(Debug, Error)]
pub enum BackupError {
    /// The record is not one this kurz reads; nothing was written.
    #[error("the credentials record is damaged: {0}")]
    Damaged(String),
    /// Reading or writing the key file or the YOURLS token file.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Reading or writing the named keys.
    #[error(transparent)]
    Keys(#[from] KeysError),
}

/// The first line of a backup file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    kurz_backup: u32,
    credentials: Record,
}

/// The credentials as written in the file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// `sha256:<hex>`; `null` when the server only ever ran with
    /// `--api-key` (or `KURZ_API_KEY`), so no key file was kept.
    api_key: Option<String>,
    keys: Vec<KeyRecord>,
    yourls_token: Option<String>,
}

/// A named key as written in the file: the fields of `<data>/keys`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRecord {
    name: String,
    scope: Scope,
    digest: String,
    created_at: i64,
}

/// The credentials of a data directory, read from it or checked from a
/// backup's first line.
pub struct Credentials {
    /// The built-in key's digest, if a key file is kept.
    pub api_key: Option<KeyDigest>,
    /// The named keys.
    pub keys: Vec<NamedKey>,
    /// The YOURLS signature token, if one was made.
    yourls_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: it never goes into a log or a message.
        f.debug_struct("Credentials")
            .field("api_key", &self.api_key.is_some())
            .field("keys", &self.keys.len())
            .field("yourls_token", &self.yourls_token.is_some())
            .finish()
    }
}

impl Credentials {
    /// What `data` keeps of the keys. A key file holding the key in clear
    /// (from an earlier kurz) is rewritten to its digest first, as every
    /// read of it does.
    ///
    /// # Errors
    /// I/O errors, damaged key files.
    pub fn read(data: &Path) -> Result<Credentials, BackupError> {
        let api_key = match key::read(data) {
            Ok(stored) => Some(stored.digest),
            Err(KeyError::Missing(_)) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(Credentials {
            api_key,
            keys: keys::read(data)?,
            yourls_token: key::read_yourls_token(data)?,
        })
    }

    /// What a running server backs up: `builtin`, the key it runs with
    /// (`--api-key`'s when given, which no file keeps), and the named keys
    /// and the YOURLS token kept in `data`.
    ///
    /// # Errors
    /// I/O errors, damaged key files.
    pub fn with_builtin(builtin: KeyDigest, data: &Path) -> Result<Credentials, BackupError> {
        Ok(Credentials {
            api_key: Some(builtin),
            keys: keys::read(data)?,
            yourls_token: key::read_yourls_token(data)?,
        })
    }

    /// The first line of a backup file, with its newline.
    pub fn header_line(&self) -> String {
        let header = Header {
            kurz_backup: VERSION,
            credentials: Record {
                api_key: self.api_key.as_ref().map(KeyDigest::to_line),
                keys: self
                    .keys
                    .iter()
                    .map(|k| KeyRecord {
                        name: k.name.clone(),
                        scope: k.scope,
                        digest: k.digest.to_line(),
                        created_at: k.created_at,
                    })
                    .collect(),
                yourls_token: self.yourls_token.clone(),
            },
        };
        // Strings, numbers and lists of them always serialize.
        let mut line = serde_json::to_string(&header).unwrap_or_default();
        line.push('\n');
        line
    }

    /// Reads and checks a backup's first line, all of it: the version, the
    /// digests, the key names (as `kurz keys add` checks them, none twice,
    /// at most [`MAX_KEYS`]) and the token.
    ///
    /// # Errors
    /// [`BackupError::Damaged`], saying what is wrong (never the token).
    pub fn parse(text: &str) -> Result<Credentials, BackupError> {
        let damaged = |why: String| BackupError::Damaged(why);
        let header: Header = serde_json::from_str(text).map_err(|e| damaged(e.to_string()))?;
        if header.kurz_backup != VERSION {
            return Err(damaged(format!(
                "it is of backup format {}, and this kurz reads format {VERSION}",
                header.kurz_backup
            )));
        }
        let record = header.credentials;
        let api_key = match record.api_key {
            Some(line) => Some(
                KeyDigest::parse(&line)
                    .ok_or_else(|| damaged("api_key is not sha256:<64 hex digits>".to_owned()))?,
            ),
            None => None,
        };
        if record.keys.len() > MAX_KEYS {
            return Err(damaged(format!("more than {MAX_KEYS} named keys")));
        }
        let mut named: Vec<NamedKey> = Vec::with_capacity(record.keys.len());
        for k in record.keys {
            keys::check_name(&k.name).map_err(|e| damaged(format!("keys: {e}")))?;
            if named.iter().any(|n| n.name == k.name) {
                return Err(damaged(format!("keys: '{}' twice", k.name)));
            }
            let digest = KeyDigest::parse(&k.digest).ok_or_else(|| {
                damaged(format!(
                    "keys: the digest of '{}' is not sha256:<64 hex digits>",
                    k.name
                ))
            })?;
            named.push(NamedKey {
                name: k.name,
                scope: k.scope,
                digest,
                created_at: k.created_at,
            });
        }
        if let Some(token) = &record.yourls_token {
            if !key::is_yourls_token(token) {
                return Err(damaged(
                    "yourls_token is not 10 to 128 letters and digits".to_owned(),
                ));
            }
        }
        Ok(Credentials {
            api_key,
            keys: named,
            yourls_token: record.yourls_token,
        })
    }

    /// Writes the key file, the keys file and the token file into `data`,
    /// each as kurz writes it; a file for something the backup does not
    /// hold is not written.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write(&self, data: &Path) -> Result<(), BackupError> {
        if let Some(digest) = &self.api_key {
            key::restore_digest(data, digest)?;
        }
        if !self.keys.is_empty() {
            keys::restore(data, &self.keys)?;
        }
        if let Some(token) = &self.yourls_token {
            key::restore_yourls_token(data, token)?;
        }
        Ok(())
    }

    /// What is there, in words: "the admin key's digest, 2 named keys and
    /// the YOURLS token".
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.api_key.is_some() {
            parts.push("the admin key's digest".to_owned());
        }
        match self.keys.len() {
            0 => {}
            1 => parts.push("1 named key".to_owned()),
            n => parts.push(format!("{n} named keys")),
        }
        if self.yourls_token.is_some() {
            parts.push("the YOURLS token".to_owned());
        }
        match parts.len() {
            0 => "no credentials".to_owned(),
            1 => parts.remove(0),
            _ => {
                let last = parts.pop().unwrap_or_default();
                format!("{} and {last}", parts.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_reads_back_as_written_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let made = key::load_or_create(dir.path()).unwrap().new_key.unwrap();
        let (_, secret) = keys::add(dir.path(), "ci", Scope::Write, 5).unwrap();
        let token = key::yourls_token(dir.path()).unwrap();
        let line = Credentials::read(dir.path()).unwrap().header_line();
        assert!(line.starts_with(crate::formats::BACKUP_MARK), "{line}");
        assert!(!line.contains(&made) && !line.contains(&secret));
        let back = Credentials::parse(line.trim()).unwrap();
        assert!(back.api_key.as_ref().unwrap().matches(made.as_bytes()));
        assert_eq!(back.keys.len(), 1);
        assert!(back.keys[0].digest.matches(secret.as_bytes()));
        assert_eq!(back.yourls_token.as_deref(), Some(token.as_str()));
        assert!(!format!("{back:?}").contains(&token));

        let bad = [
            line.replace("\"kurz_backup\":1", "\"kurz_backup\":2"),
            line.replace("sha256:", "sha1:"),
            line.replace("\"ci\"", "\"C I\""),
            line.replace(&token, "short"),
            line[..line.len() / 2].to_owned(),
        ];
        for text in bad {
            assert!(
                matches!(Credentials::parse(&text), Err(BackupError::Damaged(_))),
                "{text}"
            );
        }
    }
}
