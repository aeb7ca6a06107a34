//! Link passwords: Argon2id hashing, checking, and recognizing a stored hash.
//!
//! A protected link keeps only the PHC string of its password's Argon2id
//! hash (the `argon2` crate's defaults: m=19456 KiB, t=2, p=1, a random
//! 16-byte salt). Hashing and checking cost tens of milliseconds and
//! 19 MiB of memory each on purpose: callers on the async runtime run them
//! through [`Slots`], on blocking threads, a few at a time.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Bounds how many hashes are made or checked at once. Each takes 19 MiB
/// for its run, and tokio's blocking pool would run hundreds side by side:
/// a flood of password posts (to as many links, from as many addresses as
/// the lockout allows) would then cost gigabytes. Past the bound, requests
/// wait their turn, within the request deadline.
#[derive(Debug)]
pub struct Slots {
    turns: std::sync::Arc<tokio::sync::Semaphore>,
    /// Computations running now, and the most ever seen at once: two
    /// relaxed atomics per hash (which takes milliseconds), for the tests
    /// and `/metrics` to see the bound hold.
    running: std::sync::Arc<Running>,
    size: usize,
}

#[derive(Debug, Default)]
struct Running {
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl Default for Slots {
    /// One slot per CPU core: more would not finish sooner.
    fn default() -> Self {
        Slots::new(std::thread::available_parallelism().map_or(2, usize::from))
    }
}

impl Slots {
    /// Slots for `n` computations at once.
    pub fn new(n: usize) -> Self {
        Slots {
            turns: std::sync::Arc::new(tokio::sync::Semaphore::new(n.max(1))),
            running: std::sync::Arc::default(),
            size: n.max(1),
        }
    }

    /// Runs `work` on a blocking thread once a slot is free; `None` if the
    /// work panicked. The slot is held by the blocking work itself, not by
    /// the caller's future: a request cancelled while its hash runs (a
    /// client resetting its stream) cannot free the slot early, so no more
    /// than `n` computations ever run at once.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        // The semaphore is never closed, so acquiring only waits.
        let slot = self.turns.clone().acquire_owned().await.ok()?;
        let running = self.running.clone();
        tokio::task::spawn_blocking(move || {
            use std::sync::atomic::Ordering::Relaxed;
            let now = running.now.fetch_add(1, Relaxed) + 1;
            running.most.fetch_max(now, Relaxed);
            let done = work();
            running.now.fetch_sub(1, Relaxed);
            drop(slot);
            done
        })
        .await
        .ok()
    }

    /// Most computations at once (at least 1).
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many computations run now.
    pub fn running(&self) -> usize {
        self.running.now.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The most computations that ever ran at once.
    pub fn most_at_once(&self) -> usize {
        self.running.most.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Most memory a stored hash may ask for, in KiB (64 MiB: RFC 9106's
/// second recommended setting). The default asks for 19 MiB.
pub const MAX_MEMORY_KIB: u32 = 65_536;
/// Most passes a stored hash may ask for.
pub const MAX_PASSES: u32 = 10;
/// Most lanes a stored hash may ask for.
pub const MAX_LANES: u32 = 4;
/// Most memory × passes a stored hash may ask for (64 MiB × 3, RFC 9106's
/// second setting): about five times the default's work. A hash is checked
/// once per password try, one per core at a time, so this bounds what one
/// anonymous wrong password can cost the server.
pub const MAX_COST: u64 = 65_536 * 3;

/// Longest password accepted, in bytes: enough for any passphrase, and
/// short enough that hashing one costs what hashing any other does.
pub const MAX_LEN: usize = 1024;

/// A password as a client sent it. Its `Debug` hides it, so a request
/// logged or shown in a panic message never carries it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Why a password or a stored hash was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// The password is the empty string.
    #[error("must not be empty")]
    Empty,
    /// The password is longer than [`MAX_LEN`] bytes.
    #[error("must be at most {MAX_LEN} bytes")]
    TooLong,
    /// A stored hash is not an Argon2id PHC string.
    #[error("is not an Argon2id PHC string ($argon2id$v=19$...)")]
    NotArgon2id,
    /// A stored hash asks for more work than a check may cost.
    #[error("asks for m={memory} KiB, t={passes}, p={lanes}: at most m={MAX_MEMORY_KIB}, t={MAX_PASSES}, p={MAX_LANES} and m×t={MAX_COST} are accepted")]
    TooCostly {
        /// Its memory, in KiB.
        memory: u32,
        /// Its passes.
        passes: u32,
        /// Its lanes.
        lanes: u32,
    },
    /// The hasher failed (no randomness for a salt, or bad parameters).
    #[error("cannot be hashed")]
    Hashing,
}

/// Checks that `password` may be set on a link.
///
/// # Errors
/// [`PasswordError::Empty`] or [`PasswordError::TooLong`].
pub fn check(password: &str) -> Result<(), PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    if password.len() > MAX_LEN {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// The Argon2id PHC string of `password`, with a fresh random salt.
/// Slow by design: run it off the async runtime.
///
/// # Errors
/// What [`check`] refuses, and [`PasswordError::Hashing`].
pub fn hash(password: &str) -> Result<String, PasswordError> {
    check(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// Whether `password` matches the stored PHC string `phc`. A damaged hash
/// matches nothing. Slow by design: run it off the async runtime.
///
/// A hash whose parameters ask for more than [`MAX_COST`] (and the other
/// bounds) matches nothing and is never run: one stored before those bounds
/// existed cannot make a wrong password cost gigabytes.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) if is_argon2id(&parsed) && within_bounds(&parsed).is_ok() => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        _ => false,
    }
}

/// Checks the cost parameters of a parsed hash against the bounds above.
fn within_bounds(parsed: &PasswordHash<'_>) -> Result<argon2::Params, PasswordError> {
    let params = argon2::Params::try_from(parsed).map_err(|_| PasswordError::NotArgon2id)?;
    let (memory, passes, lanes) = (params.m_cost(), params.t_cost(), params.p_cost());
    let cost = u64::from(memory) * u64::from(passes);
    if memory > MAX_MEMORY_KIB || passes > MAX_PASSES || lanes > MAX_LANES || cost > MAX_COST {
        return Err(PasswordError::TooCostly {
            memory,
            passes,
            lanes,
        });
    }
    Ok(params)
}

/// Checks that `phc`, from an import, is a well-formed Argon2id PHC string
/// with a salt and a hash.
///
/// # Errors
/// [`PasswordError::NotArgon2id`], and [`PasswordError::TooCostly`] for
/// parameters past the bounds ([`MAX_COST`] and the others).
pub fn check_stored(phc: &str) -> Result<(), PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::NotArgon2id)?;
    if !is_argon2id(&parsed) || parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(PasswordError::NotArgon2id);
    }
    // Parameters the hasher would refuse (m=0, t=0, ...) make a link no
    // password can ever open; absurd ones would make every try cost
    // gigabytes or seconds.
    within_bounds(&parsed)?;
    Ok(())
}

fn is_argon2id(parsed: &PasswordHash<'_>) -> bool {
    parsed.algorithm == argon2::Algorithm::Argon2id.ident()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slots_bound_how_many_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let slots = Arc::new(Slots::new(2));
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (slots, now, most) = (slots.clone(), now.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                slots
                    .run(move || {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Some(()));
        }
        // Without the bound all 8 would overlap (the pool has threads for them).
        let most = most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} at once");
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify("correct horse", &phc));
        assert!(!verify("wrong horse", &phc));
        assert_eq!(check_stored(&phc), Ok(()));
    }

    #[test]
    fn debug_hides_the_password_and_the_hash() {
        let secret: Secret = serde_json::from_str(r#""hunter2""#).unwrap();
        assert_eq!(secret.0, "hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        let link = crate::store::Link {
            target: "https://example.com/".into(),
            created_at: 0,
            expires_at: None,
            max_clicks: None,
            redirect_status: None,
            created_by: None,
            password: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
            tags: Vec::new(),
        };
        assert!(!format!("{link:?}").contains("argon2"), "{link:?}");
    }

    #[test]
    fn bad_passwords_and_hashes_are_refused() {
        assert_eq!(hash(""), Err(PasswordError::Empty));
        assert_eq!(hash(&"x".repeat(MAX_LEN + 1)), Err(PasswordError::TooLong));
        assert!(check("x".repeat(MAX_LEN).as_str()).is_ok());
        for bad in [
            "",
            "secret",
            "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0",
            "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert_eq!(check_stored(bad), Err(PasswordError::NotArgon2id), "{bad}");
            assert!(!verify("secret", bad));
        }
    }

    // Import took any parameters the hasher accepts: m=268435455 (256 GiB)
    // drove RSS past 10 GiB on one wrong password, t=4000000 held a thread
    // for 14 s.
    #[test]
    fn hashes_asking_for_absurd_work_are_refused_and_never_run() {
        let salt = "c2FsdHNhbHRzYWx0";
        let tail = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        for params in [
            "m=268435455,t=2,p=1",
            "m=19456,t=4000000,p=1",
            "m=19456,t=2,p=64",
            "m=65537,t=1,p=1",
            "m=65536,t=4,p=1",
        ] {
            let phc = format!("$argon2id$v=19${params}${salt}${tail}");
            let e = check_stored(&phc).unwrap_err();
            assert!(
                matches!(e, PasswordError::TooCostly { .. }),
                "{params}: {e:?}"
            );
            assert!(e.to_string().contains("at most m=65536"), "{e}");
            // Returns at once: a run at these costs would take seconds or gigabytes.
            assert!(!verify("x", &phc));
        }
        for params in ["m=65536,t=3,p=4", "m=19456,t=10,p=1", "m=7168,t=5,p=1"] {
            let phc = format!("$argon2id$v=19${params}${salt}${tail}");
            assert_eq!(check_stored(&phc), Ok(()), "{params}");
        }
    }
}
