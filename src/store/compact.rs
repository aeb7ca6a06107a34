//! Compaction: the sled database rewritten in key order into a new
//! directory, checked, and swapped in for the old one.
//!
//! sled 0.34 reclaims the space of rewritten pages lazily and never merges
//! the half-empty leaves that random inserts leave behind: after importing
//! 10M links the database takes ~21 GB on disk for ~2 GB of live data, and
//! its leaves are scattered through the log. A copy made key by key in
//! order packs each tree into consecutive leaves, so the copy is small, and
//! a read that misses the caches costs less (README, Performance).
//!
//! [`compact`] never changes the old database. It copies every tree into
//! `db.compact`, flushes and reopens the copy, and compares it with what it
//! read (number of keys and a SHA-256 over every tree, key and value).
//! Only a copy that matches is swapped in, by two renames:
//!
//! 1. `db` → `db.old`
//! 2. `db.compact` → `db`
//! 3. `db.old` is removed.
//!
//! [`recover`] runs before every open of the database and finishes or
//! undoes a compaction stopped between any two of these steps.
//!
//! Only trees are copied: sled's own id counter (`Db::generate_id`) starts
//! over in the copy, which is safe because kurz never uses it; code that
//! starts to must carry it over here.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{lock_dir, open_sled, StoreError};

/// Keys written per sled batch while copying.
const BATCH_KEYS: usize = 1024;

/// sled's page cache for each database while copying: every leaf is
/// read once and written once, in order, so a cache buys nothing, and a
/// small one keeps memory down (at 10M links the peak RSS went from 890 to
/// 372 MB with 64 MiB caches and 8 MiB ones, 58 s either way; 1 MiB gave
/// 353 MB and took 66 s).
const COPY_CACHE: u64 = 8 << 20;

/// Where the progress of a compaction is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactProgress {
    /// `true` while reading the copy back, `false` while copying.
    pub checking: bool,
    /// The tree being worked on.
    pub tree: String,
    /// Keys done so far, over all trees.
    pub keys: u64,
    /// Bytes of keys and values done so far, over all trees.
    pub bytes: u64,
}

impl CompactProgress {
    /// Nothing done yet, copying or (`checking`) reading the copy back.
    fn start(checking: bool) -> CompactProgress {
        CompactProgress {
            checking,
            tree: String::new(),
            keys: 0,
            bytes: 0,
        }
    }
}

/// What a finished compaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactReport {
    /// Trees copied (sled's default tree included).
    pub trees: usize,
    /// Keys copied, over all trees.
    pub keys: u64,
    /// Bytes of keys and values copied.
    pub bytes: u64,
    /// Disk space the database took before, in bytes.
    pub before: u64,
    /// Disk space it takes now, in bytes.
    pub after: u64,
    /// How long it took, copy and check included.
    pub took: Duration,
}

/// The number of keys and a digest of one tree's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TreeSum {
    keys: u64,
    digest: [u8; 32],
}

/// The database's directory and the two beside it during a compaction.
struct Paths {
    db: PathBuf,
    copy: PathBuf,
    old: PathBuf,
}

impl Paths {
    fn of(dir: &Path) -> Paths {
        Paths {
            db: dir.join("db"),
            copy: dir.join("db.compact"),
            old: dir.join("db.old"),
        }
    }
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Makes the renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}

/// Rewrites the database of the data directory `dir` in key order and
/// swaps it in (see the module docs). `progress` is called every few
/// thousand keys. Takes the directory's lock, so it fails with
/// [`StoreError::Locked`] while a server runs on it.
///
/// # Errors
/// [`StoreError::NoDatabase`] when `dir` holds none; I/O and sled errors
/// (a full disk among them); [`StoreError::CopyMismatch`] when the copy
/// does not read back as written. In every error case the database is
/// left as it was and the partial copy is removed.
pub fn compact(
    dir: &Path,
    progress: &mut dyn FnMut(&CompactProgress),
) -> Result<CompactReport, StoreError> {
    let started = Instant::now();
    let _lock = lock_dir(dir)?;
    recover(dir)?;
    let paths = Paths::of(dir);
    if !holds_database(dir) {
        return Err(StoreError::NoDatabase(dir.to_owned()));
    }
    let before = disk_usage(&paths.db)?;
    let (copied, bytes) = match copy_checked(&paths, progress) {
        Ok(done) => done,
        Err(e) => {
            // Best effort: `recover` removes it at the next open anyway.
            let _ = fs::remove_dir_all(&paths.copy);
            return Err(e);
        }
    };
    fs::rename(&paths.db, &paths.old).map_err(io_at(&paths.db))?;
    sync_dir(dir)?;
    fs::rename(&paths.copy, &paths.db).map_err(io_at(&paths.copy))?;
    sync_dir(dir)?;
    fs::remove_dir_all(&paths.old).map_err(io_at(&paths.old))?;
    sync_dir(dir)?;
    Ok(CompactReport {
        trees: copied.len(),
        keys: copied.values().map(|s| s.keys).sum(),
        bytes,
        before,
        after: disk_usage(&paths.db)?,
        took: started.elapsed(),
    })
}

/// Copies `paths.db` into `paths.copy` and reads the copy back after
/// reopening it; returns the sums of the copy and the bytes copied.
fn copy_checked(
    paths: &Paths,
    progress: &mut dyn FnMut(&CompactProgress),
) -> Result<(BTreeMap<Vec<u8>, TreeSum>, u64), StoreError> {
    if paths.copy.exists() {
        fs::remove_dir_all(&paths.copy).map_err(io_at(&paths.copy))?;
    }
    let (read, bytes) = {
        let old = open_sled(&paths.db, COPY_CACHE)?;
        let new = open_sled(&paths.copy, COPY_CACHE)?;
        let read = copy(&old, &new, progress)?;
        new.flush()?;
        read
    };
    let new = open_sled(&paths.copy, COPY_CACHE)?;
    let written = sum_all(&new, progress)?;
    if written != read {
        let differs = read
            .keys()
            .chain(written.keys())
            .find(|name| read.get(*name) != written.get(*name))
            .map_or_else(String::new, |name| {
                String::from_utf8_lossy(name).into_owned()
            });
        return Err(StoreError::CopyMismatch(format!("tree '{differs}'")));
    }
    Ok((written, bytes))
}

/// Feeds one key and value into a tree's digest, each with its length so
/// that no two different trees hash alike.
fn absorb(hasher: &mut Sha256, key: &[u8], value: &[u8]) {
    hasher.update((key.len() as u64).to_le_bytes());
    hasher.update(key);
    hasher.update((value.len() as u64).to_le_bytes());
    hasher.update(value);
}

/// Reads `tree` in key order, handing each key and value to `each`, and
/// returns its sum; `at` counts what was read, and `progress` hears of it
/// every [`BATCH_KEYS`] keys.
fn sum_tree(
    tree: &sled::Tree,
    at: &mut CompactProgress,
    progress: &mut dyn FnMut(&CompactProgress),
    mut each: impl FnMut(sled::IVec, sled::IVec) -> Result<(), StoreError>,
) -> Result<TreeSum, StoreError> {
    at.tree = String::from_utf8_lossy(&tree.name()).into_owned();
    let mut hasher = Sha256::new();
    let mut keys = 0u64;
    for item in tree.iter() {
        let (key, value) = item?;
        absorb(&mut hasher, &key, &value);
        keys += 1;
        at.keys += 1;
        at.bytes += (key.len() + value.len()) as u64;
        each(key, value)?;
        if at.keys.is_multiple_of(BATCH_KEYS as u64) {
            progress(at);
        }
    }
    progress(at);
    Ok(TreeSum {
        keys,
        digest: hasher.finalize().into(),
    })
}

/// Copies every tree of `old` into `new` in key order, in batches of
/// [`BATCH_KEYS`]; returns what was read (per tree) and the bytes copied.
fn copy(
    old: &sled::Db,
    new: &sled::Db,
    progress: &mut dyn FnMut(&CompactProgress),
) -> Result<(BTreeMap<Vec<u8>, TreeSum>, u64), StoreError> {
    let mut sums = BTreeMap::new();
    let mut at = CompactProgress::start(false);
    for name in old.tree_names() {
        let to = new.open_tree(&name)?;
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        let sum = sum_tree(&old.open_tree(&name)?, &mut at, progress, |key, value| {
            batch.insert(key, value);
            pending += 1;
            if pending == BATCH_KEYS {
                to.apply_batch(std::mem::take(&mut batch))?;
                pending = 0;
            }
            Ok(())
        })?;
        to.apply_batch(batch)?;
        sums.insert(name.to_vec(), sum);
    }
    Ok((sums, at.bytes))
}

/// Reads every tree of `db` and sums it as [`copy`] does.
fn sum_all(
    db: &sled::Db,
    progress: &mut dyn FnMut(&CompactProgress),
) -> Result<BTreeMap<Vec<u8>, TreeSum>, StoreError> {
    let mut sums = BTreeMap::new();
    let mut at = CompactProgress::start(true);
    for name in db.tree_names() {
        let sum = sum_tree(&db.open_tree(&name)?, &mut at, progress, |_, _| Ok(()))?;
        sums.insert(name.to_vec(), sum);
    }
    Ok(sums)
}

/// Disk space taken by the files under `path`, in bytes (allocated
/// blocks, so sparse files count for what they hold).
fn disk_usage(path: &Path) -> Result<u64, StoreError> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in fs::read_dir(path).map_err(io_at(path))? {
        let entry = entry.map_err(io_at(path))?;
        let meta = entry.metadata().map_err(io_at(&entry.path()))?;
        total += if meta.is_dir() {
            disk_usage(&entry.path())?
        } else {
            meta.blocks() * 512
        };
    }
    Ok(total)
}

/// Whether `dir` holds a database: sled's `conf` in `db/`, or in the copy
/// or the old database a stopped compaction leaves (which [`recover`] puts
/// back in place).
pub(super) fn holds_database(dir: &Path) -> bool {
    let paths = Paths::of(dir);
    [&paths.db, &paths.copy, &paths.old]
        .iter()
        .any(|db| db.join("conf").exists())
}

/// Finishes or undoes a compaction of `dir` that was stopped part way, so
/// that `dir/db` is the one database to open. Called with the directory's
/// lock held.
///
/// - `db.compact` beside `db`: the copy was not finished or not checked; it
///   is removed.
/// - `db.old` and `db.compact` without `db`: the copy was checked and the
///   old one moved aside (step 1); the copy is moved in (step 2).
/// - `db.old` beside `db`: the swap was done; the old one is removed.
///
/// # Errors
/// I/O errors; and a refusal, touching nothing, for any other mix of the
/// three, which no compaction leaves behind (all three, for instance, when
/// a kurz without compaction made a new, empty `db` after step 1).
pub(super) fn recover(dir: &Path) -> Result<(), StoreError> {
    let paths = Paths::of(dir);
    let remove = |path: &Path| {
        tracing::warn!(path = %path.display(), "removing what a stopped compaction left");
        fs::remove_dir_all(path).map_err(io_at(path))
    };
    match (paths.db.exists(), paths.copy.exists(), paths.old.exists()) {
        (_, false, false) => return Ok(()),
        (true, true, false) => remove(&paths.copy)?,
        (true, false, true) => remove(&paths.old)?,
        (false, true, true) => {
            tracing::warn!(dir = %dir.display(), "finishing a compaction that was stopped part way");
            fs::rename(&paths.copy, &paths.db).map_err(io_at(&paths.copy))?;
            sync_dir(dir)?;
            remove(&paths.old)?;
        }
        _ => {
            return Err(StoreError::Io {
                path: dir.to_owned(),
                source: std::io::Error::other(format!(
                    "it holds {}, which no compaction leaves behind; keep the directory \
                     holding your links as {} and move the others away",
                    [&paths.db, &paths.copy, &paths.old]
                        .iter()
                        .filter(|p| p.exists())
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" and "),
                    paths.db.display()
                )),
            })
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests;
