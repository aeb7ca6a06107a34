//! The API key file: `<data>/api-key`, generated once, readable only by its owner.
//!
//! On the first start without `--api-key`, kurz makes a 43-character random
//! key (about 256 bits from the OS random source) and writes it with mode
//! 0600. Later starts read it back. `kurz key` prints it.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The file name of the key inside the data directory.
pub const FILE_NAME: &str = "api-key";

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
    /// The file exists but holds no usable key.
    #[error("the API key file {0} is empty or damaged; delete it to generate a new key")]
    Invalid(PathBuf),
    /// There is no key file yet.
    #[error("no API key yet: {0} does not exist (start `kurz serve` once to generate it)")]
    Missing(PathBuf),
}

/// A key and whether it was just generated.
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// The key itself.
    pub key: String,
    /// True when this call created the file.
    pub generated: bool,
    /// Where it is kept.
    pub path: PathBuf,
}

/// Path of the key file in `data`.
pub fn path_in(data: &Path) -> PathBuf {
    data.join(FILE_NAME)
}

/// Reads the key in `data`.
///
/// # Errors
/// [`KeyError::Missing`] if there is none yet; I/O errors; damaged content.
pub fn read(data: &Path) -> Result<String, KeyError> {
    let path = path_in(data);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(KeyError::Missing(path)),
        Err(source) => return Err(KeyError::Io { path, source }),
    };
    let key = text.trim();
    crate::config::parse_api_key(key).map_err(|_| KeyError::Invalid(path.clone()))
}

/// Reads the key in `data`, generating and storing a new one if there is none.
///
/// # Errors
/// I/O errors, or a damaged existing file.
pub fn load_or_create(data: &Path) -> Result<ApiKey, KeyError> {
    let path = path_in(data);
    match read(data) {
        Ok(key) => {
            return Ok(ApiKey {
                key,
                generated: false,
                path,
            })
        }
        Err(KeyError::Missing(_)) => {}
        Err(e) => return Err(e),
    }
    let io = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data).map_err(io)?;
    // Same alphabet as slugs: safe in headers, files and shells.
    let key = nanoid::nanoid!(43, &crate::slug::ALPHABET);
    // create_new: if another process won the race, use its key instead.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path);
    match file {
        Ok(mut f) => {
            f.write_all(format!("{key}\n").as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            Ok(ApiKey {
                key,
                generated: true,
                path,
            })
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(ApiKey {
            key: read(data)?,
            generated: false,
            path,
        }),
        Err(e) => Err(io(e)),
    }
}
