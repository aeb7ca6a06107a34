//! Group commit: one fsync acknowledges every write made before it started.
//!
//! A 201 must mean the link is on disk, but an fsync per request would cap
//! link creation at the disk's fsync rate. Writers take a ticket after their
//! write; whoever holds the lock flushes everything written so far, and the
//! writers queued behind it find their ticket already covered and return
//! without a flush of their own.

use std::sync::atomic::{AtomicU64, Ordering};

use super::StoreError;

/// Shares sled flushes between concurrent writers.
pub struct GroupFlush {
    /// Tickets handed out: one per write awaiting durability.
    requested: AtomicU64,
    /// Highest ticket known to be on disk. A tokio mutex because it is held
    /// across the `.await` of the flush, and its FIFO order keeps waiters fair.
    done: tokio::sync::Mutex<u64>,
}

impl GroupFlush {
    /// A fresh group with nothing pending.
    pub fn new() -> Self {
        GroupFlush {
            requested: AtomicU64::new(0),
            done: tokio::sync::Mutex::new(0),
        }
    }

    /// Returns once every write this task made before the call is on disk.
    ///
    /// # Errors
    /// The flush failed (disk full, I/O error) or its thread panicked.
    pub async fn flush(&self, db: &sled::Db) -> Result<(), StoreError> {
        let mine = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut done = self.done.lock().await;
        if *done >= mine {
            return Ok(());
        }
        // Everything ticketed up to now was written before its ticket.
        let upto = self.requested.load(Ordering::SeqCst);
        let db = db.clone();
        // fsync blocks; keep it off the runtime's worker threads.
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|_| StoreError::TaskFailed)??;
        *done = upto;
        Ok(())
    }
}

impl Default for GroupFlush {
    fn default() -> Self {
        Self::new()
    }
}
