//! The link store: the only code that touches sled.
//!
//! [`Store`] owns the data directory: the sled database (trees `buckets`,
//! `created`, `tags`, `clicks`, `daily`, `meta`; see [`links`] and
//! [`created`] for why links are grouped, [`tags`] for the tag index), the
//! link cache in front of `buckets`, the pending click counters (their
//! store-level methods are in [`counting`]; creating, changing and deleting
//! links in [`write`]), and an exclusive lock file so two processes never
//! open the same data. It knows nothing of HTTP;
//! expected outcomes (a taken slug, a missing link) are values, faults are
//! [`StoreError`]s.

pub mod bucket;
mod cache;
mod check;
mod clicks;
mod compact;
/// The layout of the day-count blocks, public for the fuzz targets.
pub use clicks::days;
mod counter;
mod counting;
mod created;
mod durable;
pub mod health;
mod links;
mod list;
mod migrate;
mod record;
mod sources;
mod tags;
mod transfer;
mod walk;
mod write;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

pub use cache::CachedLink;
pub use check::CheckReport;
pub use clicks::{Counted, Tally};
pub use compact::{compact, CompactProgress, CompactReport};
pub use links::BUCKET_BITS;
pub use list::{Cursor, Page, SEARCH_SCAN};
pub use record::{Link, RecordError};
pub use sources::{SourceCounts, MAX_HOSTS, MAX_PENDING};
pub use transfer::{ExportRecord, ImportOutcome, MAX_IMPORTED_COUNT, REDIRECT_STATUSES};

use cache::LinkCache;
use clicks::ClickCounts;
use created::{entry_key, CreatedIndex};
use durable::GroupFlush;
use health::Health;
use links::Links;
use sources::Sources;
use tags::TagIndex;

/// Version of the on-disk layout, kept in `meta` under `schema`. Version 1
/// kept one sled key per link (trees `links`, `by_created`); version 2
/// groups them (`buckets`, `created`); version 3 writes records of format
/// 2 (creator, password hash, tags), which a kurz of layout 2 cannot read,
/// so it must refuse the directory rather than fail link by link.
/// [`migrate`] moves 1 to 3 on open; 2 needs no change but the number.
/// Version 4 stores new day counts 32 days to a key, which older versions
/// would not see; it reads their per-day counters as they are.
const SCHEMA: u8 = 4;

/// How many fresh slugs to try before giving up on a crowded slug space.
const GENERATE_TRIES: u32 = 16;

/// Faults of the store. Expected outcomes are not errors.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Another process (usually a running `kurz serve`) holds the data dir.
    #[error("the data directory {0} is in use by another kurz process (is `kurz serve` running?)")]
    Locked(PathBuf),
    /// The data directory or its lock file could not be opened.
    #[error("cannot open {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// sled reported an error (I/O, or damage it noticed).
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// Stored data is damaged: a value that does not decode, or a stretch
    /// of a tree sled cannot read. Walks over everything (listing, export,
    /// check) report it and go on past it.
    #[error("{detail}")]
    Corrupt {
        /// What is damaged, in plain words: "the stored record of 's3' is
        /// damaged", or which stretch could not be read and what it holds.
        detail: String,
    },
    /// The data was written by a newer kurz with another layout.
    #[error("the data directory has layout version {0}; this kurz understands {SCHEMA}")]
    Schema(u8),
    /// No free slug was found.
    #[error("no free slug found in {GENERATE_TRIES} tries; raise --slug-length")]
    SlugSpace,
    /// The disk holding the data directory has less free space than the
    /// reserve; nothing was written.
    #[error("only {free_mib} MiB free on the disk of {dir}, below the {min_mib} MiB kept in reserve (`kurz serve --min-free-mb`)")]
    DiskFull {
        /// The data directory.
        dir: PathBuf,
        /// Free MiB.
        free_mib: u64,
        /// The reserve, in MiB.
        min_mib: u64,
    },
    /// There is no database in the data directory to work on.
    #[error("there is no kurz database in {0}")]
    NoDatabase(PathBuf),
    /// The data directory does not exist (and [`OpenMode::Existing`] does
    /// not create it).
    #[error("the data directory {0} does not exist")]
    NoDataDirectory(PathBuf),
    /// A copy of the database did not read back as it was written; the
    /// original is left as it was.
    #[error("the compacted copy did not match the original ({0}); the original is unchanged")]
    CopyMismatch(String),
    /// A background thread doing store work panicked.
    #[error("a storage task failed")]
    TaskFailed,
}

impl StoreError {
    fn corrupt(slug: &[u8], what: &str) -> Self {
        StoreError::Corrupt {
            detail: format!(
                "the stored {what} of '{}' is damaged",
                String::from_utf8_lossy(slug)
            ),
        }
    }

    /// A read of `slug`'s data that sled could not do because the bytes
    /// on disk are damaged is damage of that slug; anything else as it is.
    fn reading(slug: &[u8], what: &str, e: StoreError) -> Self {
        match e {
            StoreError::Sled(e @ sled::Error::Corruption { .. }) => StoreError::Corrupt {
                detail: format!(
                    "the stored {what} of '{}' cannot be read ({e})",
                    String::from_utf8_lossy(slug)
                ),
            },
            other => other,
        }
    }

    /// True for faults where the disk refused a write (the server answers
    /// 503 rather than 500).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Sled(sled::Error::Io(_))
                | StoreError::Io { .. }
                | StoreError::DiskFull { .. }
        )
    }
}

/// The custom slug is already taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlugTaken;

/// What a click on a resolved link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClickOutcome {
    /// Counted; redirect.
    Counted,
    /// Past `expires_at`; not counted.
    Expired,
    /// `max_clicks` already reached; not counted.
    LimitReached,
}

/// A change to a link; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkPatch {
    /// New normalized target.
    pub target: Option<String>,
    /// New expiry (Unix ms), or clear it.
    pub expires_at: Option<Option<i64>>,
    /// New click limit, or clear it.
    pub max_clicks: Option<Option<u64>>,
    /// New redirect status, or follow the server default again.
    pub redirect_status: Option<Option<u16>>,
    /// New tags (already checked: sorted, no repeats), replacing the old
    /// ones; `Some(vec![])` clears them.
    pub tags: Option<Vec<String>>,
    /// New password hash (an Argon2id PHC string, never the password), or
    /// remove the password.
    pub password: Option<Option<String>>,
}

/// Key of a day counter of layouts before 4, and in the click journal's
/// first record format: slug ‖ 0x00 ‖ day (u32 big-endian).
fn daily_key(slug: &[u8], day: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(slug.len() + 5);
    key.extend_from_slice(slug);
    key.push(0);
    key.extend_from_slice(&day.to_be_bytes());
    key
}

/// The day of a key made by [`daily_key`]; `None` for a key too short to be one.
fn day_from_key(key: &[u8]) -> Option<u32> {
    let tail: [u8; 4] = key.get(key.len().checked_sub(4)?..)?.try_into().ok()?;
    Some(u32::from_be_bytes(tail))
}

/// How long [`open_sled`] waits for a just-closed database in this process
/// to let go of sled's own file lock.
const SLED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens sled at `path`. We hold `kurz.lock`, so no other process has this
/// database; if sled's own file lock is still taken, it is by a `Db` of this
/// process that was just dropped and whose background threads have not yet
/// let go (found by the store model fuzz target: close, then reopen at once).
/// That passes within milliseconds, so wait for it rather than fail.
fn open_sled(path: &Path, cache_capacity: u64) -> Result<sled::Db, StoreError> {
    let started = std::time::Instant::now();
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(cache_capacity)
            .flush_every_ms(Some(500))
            .open()
        {
            // sled 0.34.7 reports its lock as an `Other` I/O error with this text.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < SLED_LOCK_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}

/// Takes the OS lock on `dir/kurz.lock`, held while the returned file is
/// open, so that two processes never open the same data.
fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let lock_path = dir.join("kurz.lock");
    let io = |source| StoreError::Io {
        path: lock_path.clone(),
        source,
    };
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io)?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(dir.into())),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// What [`Store::click`] counted since the store was opened, for
/// monitoring. Plain atomics: one relaxed increment per click.
#[derive(Default)]
struct ActivityCounts {
    clicks: std::sync::atomic::AtomicU64,
    bot_visits: std::sync::atomic::AtomicU64,
}

/// Clicks and bot visits counted since the store was opened (see
/// [`Store::activity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Activity {
    /// Clicks counted: redirects of people, and every redirect served on a
    /// link with a click limit (bots included, as they count against it).
    pub clicks: u64,
    /// Bot visits counted apart from clicks.
    pub bot_visits: u64,
}

struct Inner {
    db: sled::Db,
    links: Links,
    created: CreatedIndex,
    tags: TagIndex,
    clicks_tree: sled::Tree,
    daily_tree: sled::Tree,
    cache: LinkCache,
    counts: ClickCounts,
    sources: Sources,
    group: GroupFlush,
    health: Health,
    /// Clicks and bot visits counted since the store was opened.
    activity: ActivityCounts,
    /// Held for the store's lifetime: the OS lock on `kurz.lock`.
    _lock: File,
}

/// Whether [`Store::open_with`] may create a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the directory and an empty database if there is none (what
    /// the server and the commands that add links need).
    CreateIfMissing,
    /// Open only a database that is there, creating nothing when it is not:
    /// for commands that read, where an empty database made on a mistyped
    /// path would answer "0 links" as if that were true.
    Existing,
}

/// The link store. Cheap to clone; clones share one database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Opens (creating if needed) the data directory `dir`, giving about
    /// `cache_bytes` of memory to the link cache and sled's page cache together.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process has the directory open;
    /// I/O and sled errors; [`StoreError::Schema`] for a newer layout.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        Store::open_with(dir, cache_bytes, OpenMode::CreateIfMissing)
    }

    /// Opens the database in `dir` only if there is one (see
    /// [`OpenMode::Existing`]).
    ///
    /// # Errors
    /// [`StoreError::NoDataDirectory`] and [`StoreError::NoDatabase`], with
    /// nothing created; otherwise as [`Store::open`].
    pub fn open_existing(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        Store::open_with(dir, cache_bytes, OpenMode::Existing)
    }

    /// [`Store::open`] or [`Store::open_existing`], as `mode` says.
    ///
    /// # Errors
    /// As those two.
    pub fn open_with(dir: &Path, cache_bytes: u64, mode: OpenMode) -> Result<Store, StoreError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, source }
        };
        match mode {
            OpenMode::CreateIfMissing => std::fs::create_dir_all(dir).map_err(io(dir))?,
            OpenMode::Existing => {
                if !dir.is_dir() {
                    return Err(StoreError::NoDataDirectory(dir.to_owned()));
                }
                // Checked before the lock file is made; a stopped compaction
                // may have left the database under its other names.
                if !compact::holds_database(dir) {
                    return Err(StoreError::NoDatabase(dir.to_owned()));
                }
            }
        }
        let lock = lock_dir(dir)?;
        compact::recover(dir)?;
        if mode == OpenMode::Existing && !compact::holds_database(dir) {
            return Err(StoreError::NoDatabase(dir.to_owned()));
        }
        // Targets and password hashes are not for other users of the machine,
        // whatever an older kurz or a looser umask left.
        crate::private::tighten(dir).map_err(io(dir))?;
        let db = open_sled(&dir.join("db"), cache_bytes / 2)?;
        let meta = db.open_tree("meta")?;
        let links = Links::new(db.open_tree("buckets")?);
        let created = CreatedIndex::new(db.open_tree("created")?);
        let tags = TagIndex::new(db.open_tree("tags")?);
        let clicks_tree = db.open_tree("clicks")?;
        let daily_tree = db.open_tree("daily")?;
        let sources_tree = db.open_tree("sources")?;
        clicks_tree.set_merge_operator(counter::add);
        daily_tree.set_merge_operator(counter::add);
        sources_tree.set_merge_operator(counter::add);
        match meta.get("schema")?.as_deref() {
            None => {
                meta.insert("schema", &[SCHEMA])?;
            }
            Some([SCHEMA]) => {}
            // Layout 2's records are all format 1, which still decodes, and
            // layout 3's per-day counters are still read.
            Some([2 | 3]) => {
                meta.insert("schema", &[SCHEMA])?;
                db.flush()?;
            }
            Some([1]) => migrate::from_v1(&db, &links, &created, &meta)?,
            Some(other) => return Err(StoreError::Schema(other.first().copied().unwrap_or(0))),
        }
        if links.book()?.is_none() {
            // A data directory from before the bookkeeping, or a new one.
            links.rebuild_book()?;
        }
        let daily = clicks::DailyLog::open(daily_tree.clone())?;
        let counts = ClickCounts::new(clicks_tree.clone(), daily, links.clone());
        let sources = Sources::new(sources_tree, links.clone());
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                links,
                created,
                tags,
                clicks_tree,
                daily_tree,
                cache: LinkCache::new(cache_bytes / 2),
                counts,
                sources,
                group: GroupFlush::new(),
                health: Health::new(dir.to_owned()),
                activity: ActivityCounts::default(),
                _lock: lock,
            }),
        })
    }

    /// The data directory the store was opened on.
    pub fn dir(&self) -> &Path {
        self.inner.health.dir()
    }

    /// Sets the free disk space writes keep in reserve (see [`health`]).
    pub fn set_min_free(&self, bytes: u64) {
        self.inner.health.set_min_free(bytes);
    }

    /// Why the store cannot take writes, if it cannot: the disk is below the
    /// reserve, or a write failed since the store was opened.
    pub fn problem(&self) -> Option<String> {
        self.inner.health.problem()
    }

    /// Waits until every write made before the call is on disk. Concurrent
    /// callers share one flush.
    ///
    /// # Errors
    /// The flush failed.
    pub async fn sync(&self) -> Result<(), StoreError> {
        let synced = self.inner.group.flush(&self.inner.db).await;
        self.inner.health.watch(synced)
    }

    /// Moves pending clicks into sled and flushes everything to disk.
    /// Blocking: call from a blocking context.
    ///
    /// # Errors
    /// sled errors.
    pub fn flush_all(&self) -> Result<(), StoreError> {
        let flushed = self.inner.counts.flush().and_then(|_| {
            self.inner.sources.flush()?;
            self.inner.db.flush()?;
            Ok(())
        });
        self.inner.health.watch(flushed)
    }

    /// Reads and decodes the record of `slug` from sled.
    ///
    /// # Errors
    /// sled errors, or [`StoreError::Corrupt`] if the record is damaged.
    pub fn get(&self, slug: &str) -> Result<Option<Link>, StoreError> {
        // A read can fail for a failed write: sled restructures as it reads.
        self.inner
            .health
            .watch(self.inner.links.get(slug.as_bytes()))
    }

    /// The link of `slug` for serving a redirect, from the cache when it can.
    ///
    /// # Errors
    /// As [`Store::get`].
    pub fn resolve(&self, slug: &str) -> Result<Option<Arc<CachedLink>>, StoreError> {
        let cache = &self.inner.cache;
        if let Some(hit) = cache.get(slug) {
            return Ok(Some(hit));
        }
        let ticket = cache.ticket();
        let Some(link) = self.get(slug)? else {
            return Ok(None);
        };
        let cached = Arc::new(CachedLink::new(link, self.inner.counts.tally(slug)));
        cache.insert(slug, cached.clone(), ticket);
        Ok(Some(cached))
    }

    /// Number of stored links as the bookkeeping says: one sled read, cheap
    /// at any size. `None` when the bookkeeping is missing or damaged
    /// (`kurz check` tells).
    ///
    /// # Errors
    /// sled errors.
    pub fn link_count(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.inner.links.book()?.map(|b| b.count))
    }

    /// Bytes the database takes on disk (sled's own figure: its main file
    /// and blob files). Blocking: it reads file metadata, so call it from a
    /// blocking context and not on every request.
    ///
    /// # Errors
    /// The files cannot be read.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk()?)
    }

    /// Clicks and bot visits counted since the store was opened.
    pub fn activity(&self) -> Activity {
        let a = &self.inner.activity;
        Activity {
            clicks: a.clicks.load(std::sync::atomic::Ordering::Relaxed),
            bot_visits: a.bot_visits.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Number of stored links (a walk over all of them).
    pub fn len(&self) -> usize {
        self.inner.links.count()
    }

    /// True when no link is stored.
    pub fn is_empty(&self) -> bool {
        self.inner.links.is_empty()
    }
}
