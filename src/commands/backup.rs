//! `kurz backup` and `kurz restore`: the whole server in one file, and back.
//!
//! A backup is the JSON Lines export of every link (what `kurz export`
//! writes) after one first line holding the credentials the data directory
//! keeps ([`crate::backup`]): so a restored server takes the old admin key,
//! the named keys with their scopes and the YOURLS signatures. It is
//! written while the server is stopped (the store's lock says so), so links
//! and keys are one consistent snapshot. A restore goes only into an empty
//! or new directory, and is built beside it and renamed into place once
//! every line was read and stored: a damaged file leaves nothing behind.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::transfer::{
    damage_reported, each_stored, import_records, output_file, serving_base, Counts,
};
use super::{io_err, open, open_for_scan, CommandError};
use crate::backup::Credentials;
use crate::formats::{Format, FormatError, Records, JSONL_EXPORT};

/// `kurz backup FILE` (`-` for standard output).
pub(super) fn backup(data: &Path, file: &Path) -> Result<ExitCode, CommandError> {
    // The store first: it refuses while a server runs, so the keys read
    // next cannot change under the export.
    let store = open_for_scan(data)?;
    let credentials = Credentials::read(data)?;
    let stdout = file.as_os_str() == "-";
    // 0600 whatever the file was: it holds digests and the token.
    let (what, sink) = output_file((!stdout).then_some(file))?;
    let mut out = BufWriter::new(sink);
    out.write_all(credentials.header_line().as_bytes())
        .map_err(io_err(what.clone()))?;
    let (n, damaged) = each_stored(&store, "backed up", |rec| {
        serde_json::to_writer(&mut out, rec)
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            .map_err(io_err(what.clone()))
    })?;
    out.flush().map_err(io_err(what.clone()))?;
    if !stdout {
        drop(out);
        // A backup that a crash can take back is no backup.
        File::open(file)
            .and_then(|f| f.sync_all())
            .map_err(io_err(what))?;
        eprintln!(
            "backed up {n} links and {} to {} (keep it as private as the data directory)",
            credentials.summary(),
            file.display()
        );
    }
    Ok(damage_reported(damaged, "backed up"))
}

/// `kurz restore FILE` into the empty or missing data directory `data`.
pub(super) fn restore(
    data: &Path,
    file: &Path,
    base_url: Option<url::Url>,
) -> Result<ExitCode, CommandError> {
    refuse_unless_empty(data)?;
    let stdin = file.as_os_str() == "-";
    let what = format!("reading {}", file.display());
    let (reader, size): (Box<dyn BufRead>, Option<u64>) = if stdin {
        (Box::new(BufReader::new(io::stdin().lock())), None)
    } else {
        let f = File::open(file).map_err(io_err(what.clone()))?;
        let size = f.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::new(f)), size)
    };
    let records = Records::open(reader, Format::Auto).map_err(|e| match e {
        FormatError::Io(source) => CommandError::Io {
            what: what.clone(),
            source,
        },
        FormatError::Unknown(why) => CommandError::Invalid(format!("{}: {why}", file.display())),
    })?;
    let credentials = match (&records.backup_header, records.read_as) {
        (Some(header), _) => Some(Credentials::parse(&header.text).map_err(|e| {
            CommandError::Invalid(format!(
                "{} line {}: {e}; nothing was restored",
                file.display(),
                header.line
            ))
        })?),
        (None, Some(JSONL_EXPORT)) => {
            eprintln!(
                "kurz: {} is a plain export, without the credentials of a `kurz backup`: \
                 restoring the links only; the server makes a new admin key when it starts, \
                 and named keys and the YOURLS token are not restored",
                file.display()
            );
            None
        }
        (None, None) => {
            return Err(CommandError::Invalid(format!(
                "{} is empty: no backup to restore; nothing was restored",
                file.display()
            )))
        }
        (None, Some(other)) => {
            return Err(CommandError::Invalid(format!(
                "{} reads as a {other}: `kurz restore` reads what `kurz backup` or \
                 `kurz export` writes; `kurz import` reads the other formats",
                file.display()
            )))
        }
    };
    let base = match base_url {
        Some(base) => base,
        None => serving_base()?,
    };
    let staging = staging_dir(data)?;
    let built = build(&staging, records, credentials.as_ref(), &base, size, &what);
    let counts = match built {
        Ok(counts) => counts,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if counts.invalid > 0 || counts.duplicates > 0 {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(CommandError::Invalid(format!(
            "{} is damaged: {} lines rejected and {} slugs found twice (above); nothing was \
             restored into {}",
            file.display(),
            counts.invalid,
            counts.duplicates,
            data.display()
        )));
    }
    // rename(2) replaces an empty directory, and fails on one that filled
    // up meanwhile: then nothing of it is touched.
    if let Err(e) = std::fs::rename(&staging, data) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(io_err(format!(
            "moving the restore into {}",
            data.display()
        ))(e));
    }
    if let Some(parent) = parent_of(data) {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io_err(format!("syncing {}", parent.display())))?;
    }
    let keys = credentials
        .as_ref()
        .map_or_else(|| "no credentials".to_owned(), Credentials::summary);
    eprintln!(
        "restored {} links and {keys} into {}",
        counts.imported,
        data.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Imports the links into `staging`, then writes the credentials there.
fn build(
    staging: &Path,
    records: Records,
    credentials: Option<&Credentials>,
    base: &url::Url,
    size: Option<u64>,
    what: &str,
) -> Result<Counts, CommandError> {
    let store = open(staging)?;
    let counts = import_records(&store, records, base, size, what)?;
    store.flush_all()?;
    // Closed before the rename: sled holds a lock in the directory.
    drop(store);
    if let Some(c) = credentials {
        c.write(staging)?;
    }
    Ok(counts)
}

/// The parent of `data`, if it names one (`kurz-data` has `.`).
fn parent_of(data: &Path) -> Option<&Path> {
    match data.parent() {
        Some(p) if p.as_os_str().is_empty() => Some(Path::new(".")),
        other => other,
    }
}

/// Refuses a `data` that is something other than a missing path or an
/// empty directory: a restore never overwrites.
fn refuse_unless_empty(data: &Path) -> Result<(), CommandError> {
    let what = format!("reading {}", data.display());
    let mut entries = match std::fs::read_dir(data) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(what)(e)),
    };
    match entries.next() {
        None => Ok(()),
        Some(entry) => {
            let name = entry
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .unwrap_or_else(|_| "something".to_owned());
            Err(CommandError::Invalid(format!(
                "{} is not empty (it holds '{name}'): `kurz restore` goes only into an empty or \
                 new data directory, so that nothing is overwritten; nothing was changed",
                data.display()
            )))
        }
    }
}

/// A new directory beside `data` to build the restore in (on the same file
/// system, so it can be renamed into place).
fn staging_dir(data: &Path) -> Result<PathBuf, CommandError> {
    let parent = parent_of(data).unwrap_or(Path::new("."));
    let name = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kurz-data".to_owned());
    std::fs::create_dir_all(parent).map_err(io_err(format!("creating {}", parent.display())))?;
    let staging = parent.join(format!(".{name}.restore-{}", std::process::id()));
    std::fs::create_dir(&staging).map_err(io_err(format!("creating {}", staging.display())))?;
    Ok(staging)
}
