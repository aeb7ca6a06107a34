//! Everything kurz writes is for its owner alone: directories 0700, files 0600.
//!
//! The data directory holds link targets, password hashes and key digests,
//! and exports hold the same, so none of it is for other users of the
//! machine. The binary sets its umask to 0077 at start ([`umask`]), so every
//! file and directory it or sled creates is its owner's alone; [`tighten`]
//! narrows what an older kurz (or a looser umask) left in an existing data
//! directory, and [`create`] opens an export file as 0600 even when it
//! already existed with a looser mode.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the directories kurz makes.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files kurz writes.
pub const FILE_MODE: u32 = 0o600;

/// Sets the process's umask to 0077: what it creates from now on is its
/// owner's alone. Called once by the binary before anything is opened.
pub fn umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Takes group and other permissions off `dir` and everything below it
/// (directories to at most 0700, files to at most 0600), leaving anything
/// already narrower alone. Symbolic links are not followed.
///
/// # Errors
/// A directory that cannot be read, or a mode that cannot be changed.
pub fn tighten(dir: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    narrow(dir, &meta)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                tighten(&entry.path())?;
            } else if meta.is_file() {
                narrow(&entry.path(), &meta)?;
            }
        }
    }
    Ok(())
}

/// Drops the group and other bits of `path`'s mode, if it has any.
fn narrow(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o077))?;
    }
    Ok(())
}

/// Creates (or truncates) `path` for writing, mode 0600 whatever it was.
///
/// # Errors
/// What opening or changing the mode of `path` fails with.
pub fn create(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    // `mode` applies only to a new file; an existing one keeps its own.
    let meta = file.metadata()?;
    if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn tighten_narrows_what_is_open_and_leaves_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("db/blobs")).unwrap();
        std::fs::write(data.join("db/conf"), "x").unwrap();
        std::fs::write(data.join("db/blobs/1"), "x").unwrap();
        std::fs::write(data.join("narrow"), "x").unwrap();
        for (p, m) in [
            ("", 0o755),
            ("db", 0o755),
            ("db/blobs", 0o775),
            ("db/conf", 0o644),
            ("db/blobs/1", 0o666),
            ("narrow", 0o400),
        ] {
            std::fs::set_permissions(data.join(p), std::fs::Permissions::from_mode(m)).unwrap();
        }
        tighten(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("db")), 0o700);
        assert_eq!(mode(&data.join("db/blobs")), 0o700);
        assert_eq!(mode(&data.join("db/conf")), 0o600);
        assert_eq!(mode(&data.join("db/blobs/1")), 0o600);
        assert_eq!(mode(&data.join("narrow")), 0o400);
    }

    #[test]
    fn create_makes_an_existing_open_file_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.jsonl");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(create(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }
}
