//! What the store knows of its own health: free disk space below the
//! reserve, and write failures.
//!
//! sled 0.34 does not survive a failed write gracefully: after one I/O
//! error while writing its log, every later write fails, and so may reads
//! of data that is not in memory (reading can restructure the tree, which
//! writes). So kurz keeps sled away from a full disk: a write is refused
//! (503) while the disk holding the data directory has less than the
//! reserve free, which leaves the data as it was and lets every cached
//! link go on redirecting. A write failure that still happens (another
//! process filling the disk, a file size limit, a failing disk) is
//! remembered, so `/healthz` reports it until kurz is restarted.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::StoreError;

/// Default free space kept in reserve on the data directory's disk: sled
/// needs room to finish what it has begun (a segment is 512 KiB) and the
/// log lines a full disk causes need room too.
pub const DEFAULT_MIN_FREE: u64 = 64 << 20;

/// The store's view of its disk and of its failed writes.
#[derive(Debug)]
pub struct Health {
    dir: PathBuf,
    min_free: AtomicU64,
    failure: Mutex<Option<String>>,
}

impl Health {
    /// Watches the disk of `dir`, with the default reserve.
    pub fn new(dir: PathBuf) -> Self {
        Health {
            dir,
            min_free: AtomicU64::new(DEFAULT_MIN_FREE),
            failure: Mutex::new(None),
        }
    }

    /// The data directory it watches.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Sets the free space writes keep in reserve, in bytes.
    pub fn set_min_free(&self, bytes: u64) {
        self.min_free.store(bytes, Ordering::Relaxed);
    }

    /// Free bytes for unprivileged writers on the data directory's disk.
    fn free(&self) -> Result<u64, StoreError> {
        let stat = rustix::fs::statvfs(&self.dir).map_err(|e| StoreError::Io {
            path: self.dir.clone(),
            source: e.into(),
        })?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// Refuses a write while the disk has less than the reserve free.
    ///
    /// # Errors
    /// [`StoreError::DiskFull`]; an I/O error if the disk cannot be asked.
    pub fn check_space(&self) -> Result<(), StoreError> {
        let min = self.min_free.load(Ordering::Relaxed);
        if min == 0 {
            return Ok(());
        }
        let free = self.free()?;
        if free < min {
            return Err(StoreError::DiskFull {
                dir: self.dir.clone(),
                free_mib: free >> 20,
                min_mib: min >> 20,
            });
        }
        Ok(())
    }

    /// Passes `result` on, remembering a failure to write (not a refusal
    /// for want of space: that one ends when space is freed).
    pub fn watch<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &result {
            if e.is_unavailable() && !matches!(e, StoreError::DiskFull { .. }) {
                let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
                if failure.is_none() {
                    tracing::error!(error = %e, "STORAGE WRITE FAILED: new links and click counts cannot be saved until kurz is restarted");
                    *failure = Some(e.to_string());
                }
            }
        }
        result
    }

    /// Why the store cannot take writes, if it cannot: a write failed, or
    /// the disk is below the reserve.
    pub fn problem(&self) -> Option<String> {
        let failure = self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(f) = failure {
            return Some(format!(
                "a storage write failed ({f}); free disk space if it is full, then restart kurz"
            ));
        }
        self.check_space().err().map(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_above_the_free_space_refuses_writes_and_zero_turns_it_off() {
        let dir = tempfile::tempdir().unwrap();
        let health = Health::new(dir.path().to_owned());
        assert!(health.check_space().is_ok(), "64 MiB should be free here");
        assert_eq!(health.problem(), None);
        health.set_min_free(u64::MAX);
        let err = health.check_space().unwrap_err();
        assert!(matches!(err, StoreError::DiskFull { .. }), "{err}");
        assert!(err.is_unavailable());
        assert!(health.problem().unwrap().contains("--min-free-mb"));
        health.set_min_free(0);
        assert!(health.check_space().is_ok());
    }

    #[test]
    fn a_failed_write_is_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let health = Health::new(dir.path().to_owned());
        let full = std::io::Error::from_raw_os_error(28);
        let r: Result<(), _> = health.watch(Err(StoreError::Sled(sled::Error::Io(full))));
        assert!(r.is_err());
        assert!(health.problem().unwrap().contains("restart kurz"));
        // A damaged record is not a failed write.
        let health = Health::new(dir.path().to_owned());
        let _ = health.watch::<()>(Err(StoreError::corrupt(b"s", "record")));
        assert_eq!(health.problem(), None);
    }
}
