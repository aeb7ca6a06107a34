//! `<data>/server.json`: where the server of a data directory listens, and
//! the base URL it builds short links on.
//!
//! `kurz serve` writes it once it has bound its socket and marks it stopped
//! on a clean exit; the admin commands read it to name the real address in
//! their "the server runs" hint and to print offline short URLs on the
//! configured base URL. A server killed with SIGKILL cannot mark it, so the
//! address is only believed while the data directory's lock is held and the
//! process that wrote it is still alive; the base URL is a setting, not a
//! state, and stays useful after any exit.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

/// The file's name inside the data directory.
pub const FILE: &str = "server.json";

/// What a server recorded about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// `http://IP:PORT`, the address it really bound (port 0 resolved);
    /// `None` once it stopped cleanly.
    pub listening: Option<String>,
    /// The base URL of its short links (`--base-url`, else derived from
    /// the address).
    pub base_url: String,
    /// The server's process id, to tell a live record from a killed
    /// server's.
    pub pid: u32,
}

/// The record's path in `data`.
pub fn path_in(data: &Path) -> PathBuf {
    data.join(FILE)
}

/// Writes `record` to `<data>/server.json`, mode 0600, atomically (a
/// temporary file renamed over it), so a reader never sees half of it.
///
/// # Errors
/// Creating, writing, syncing or renaming the file fails.
pub fn write(data: &Path, record: &Record) -> io::Result<()> {
    let tmp = data.join(format!("{FILE}.tmp"));
    let mut file = crate::private::create(&tmp)?;
    let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
    file.write_all(&bytes)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    fs::rename(&tmp, path_in(data))?;
    // The rename is only durable once the directory is synced; a lost
    // record costs just a vaguer hint, so a failure here is not an error.
    if let Ok(dir) = File::open(data) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Rewrites the record without its address: the server stopped cleanly.
///
/// # Errors
/// As [`write`].
pub fn mark_stopped(data: &Path, record: &Record) -> io::Result<()> {
    write(
        data,
        &Record {
            listening: None,
            ..record.clone()
        },
    )
}

/// The record kept in `data`, if there is a readable one. A damaged or
/// foreign file reads as none: it only ever improves a message.
pub fn read(data: &Path) -> Option<Record> {
    let bytes = fs::read(path_in(data)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The address a running server recorded, if it is believable: the record
/// says it listens, its process is alive, and `kurz.lock` is held by
/// another process (a SIGKILLed server leaves a record that says it
/// listens; a reused pid alone would not free the lock).
pub fn live_address(data: &Path) -> Option<String> {
    let record = read(data)?;
    let addr = record.listening?;
    if !alive(record.pid) || !lock_held_elsewhere(data) {
        return None;
    }
    Some(addr)
}

/// The base URL the last server of `data` built short links on.
pub fn base_url(data: &Path) -> Option<Url> {
    crate::config::parse_base_url(&read(data)?.base_url).ok()
}

fn alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    // Signal 0 checks existence; EPERM means it exists as another user.
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

/// Whether another process holds the OS lock on `<data>/kurz.lock` (the
/// store's; see [`crate::store::Store::open`]). Taken and let go at once
/// when free.
fn lock_held_elsewhere(data: &Path) -> bool {
    let Ok(file) = File::open(data.join("kurz.lock")) else {
        return false;
    };
    matches!(file.try_lock(), Err(fs::TryLockError::WouldBlock))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pid: u32) -> Record {
        Record {
            listening: Some("http://127.0.0.1:4321".into()),
            base_url: "https://s.example/".into(),
            pid,
        }
    }

    #[test]
    fn a_record_reads_back_and_a_stopped_one_has_no_address() {
        let dir = tempfile::tempdir().unwrap();
        let rec = record(std::process::id());
        write(dir.path(), &rec).unwrap();
        assert_eq!(read(dir.path()), Some(rec.clone()));
        assert_eq!(base_url(dir.path()).unwrap().as_str(), "https://s.example/");
        mark_stopped(dir.path(), &rec).unwrap();
        assert_eq!(read(dir.path()).unwrap().listening, None);
        assert!(!dir.path().join("server.json.tmp").exists());
    }

    #[test]
    fn an_address_is_believed_only_while_the_lock_is_held() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &record(std::process::id())).unwrap();
        // No lock file: a killed server's leftover.
        assert_eq!(live_address(dir.path()), None);
        let lock = File::create(dir.path().join("kurz.lock")).unwrap();
        assert_eq!(live_address(dir.path()), None);
        lock.lock().unwrap();
        // flock is per open file: this process's second open sees it held.
        assert_eq!(
            live_address(dir.path()).as_deref(),
            Some("http://127.0.0.1:4321")
        );
    }

    #[test]
    fn a_damaged_record_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(path_in(dir.path()), "{not json").unwrap();
        assert_eq!(read(dir.path()), None);
        assert_eq!(live_address(dir.path()), None);
    }
}
