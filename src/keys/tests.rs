//! Unit tests of named keys: names, the file, the lock, and the keyring.

use super::*;

#[test]
fn names_follow_the_rule() {
    for ok in ["phone", "ci-bot", "a", "x_1", &"a".repeat(MAX_NAME)] {
        assert!(check_name(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "Phone",
        "-x",
        "_x",
        "a b",
        "é",
        &"a".repeat(MAX_NAME + 1),
    ] {
        assert!(
            matches!(check_name(bad), Err(KeysError::BadName(_))),
            "{bad}"
        );
    }
    assert!(matches!(check_name("admin"), Err(KeysError::Builtin)));
}

#[test]
fn add_list_revoke_and_the_file_keeps_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let ring = Keyring::new(dir.path(), KeyDigest::of(b"builtin-key-0123456789"));
    let (made, secret) = ring.add("phone", Scope::Read, 1_000).unwrap();
    assert_eq!(made.scope, Scope::Read);
    let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
    assert!(!text.contains(&secret));
    assert!(text.contains("\"phone\""));
    let mode = std::fs::metadata(dir.path().join(FILE_NAME))
        .unwrap()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let who = ring.identify(secret.as_bytes(), 5_000).unwrap();
    assert_eq!(
        who,
        Caller {
            name: "phone".into(),
            scope: Scope::Read
        }
    );
    let admin = ring.identify(b"builtin-key-0123456789", 6_000).unwrap();
    assert_eq!(admin.scope, Scope::Admin);
    assert!(ring.identify(b"nope", 6_000).is_none());
    assert!(matches!(
        ring.add("phone", Scope::Admin, 7_000),
        Err(KeysError::Taken(_))
    ));

    let names: Vec<_> = ring
        .list()
        .into_iter()
        .map(|k| (k.name, k.last_used))
        .collect();
    assert_eq!(
        names,
        [("admin".into(), Some(6_000)), ("phone".into(), Some(5_000))]
    );

    ring.flush_used().unwrap();
    assert_eq!(read_used(dir.path()).get("phone"), Some(&5_000));

    ring.revoke("phone").unwrap();
    assert!(ring.identify(secret.as_bytes(), 8_000).is_none());
    assert!(matches!(ring.revoke("phone"), Err(KeysError::Unknown(_))));
    assert!(matches!(ring.revoke("admin"), Err(KeysError::Builtin)));
}

#[test]
fn a_change_by_another_process_is_seen_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ring = Keyring::new(dir.path(), KeyDigest::of(b"builtin-key-0123456789"));
    // As `kurz keys add` would, beside the server.
    let (_, secret) = add(dir.path(), "script", Scope::Write, 1).unwrap();
    assert_eq!(
        ring.identify(secret.as_bytes(), 2).unwrap().scope,
        Scope::Write
    );
    let digest = KeyDigest::of(secret.as_bytes());
    assert_eq!(
        ring.caller_of(&digest, 3).map(|c| c.scope),
        Some(Scope::Write)
    );
    revoke(dir.path(), "script").unwrap();
    assert!(ring.identify(secret.as_bytes(), 4).is_none());
    assert_eq!(ring.caller_of(&digest, 5), None);
}

// A session kept the key's name, so a new key given a revoked key's name
// brought the old key's sessions back with the new key's scope.
#[test]
fn a_revoked_key_stays_revoked_when_a_new_key_takes_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let ring = Keyring::new(dir.path(), KeyDigest::of(b"builtin-key-0123456789"));
    let (_, old) = add(dir.path(), "phone", Scope::Write, 1).unwrap();
    let old = KeyDigest::of(old.as_bytes());
    revoke(dir.path(), "phone").unwrap();
    let (_, new) = add(dir.path(), "phone", Scope::Admin, 2).unwrap();
    assert_eq!(ring.caller_of(&old, 3), None);
    let caller = ring.caller_of(&KeyDigest::of(new.as_bytes()), 3).unwrap();
    assert_eq!(
        (caller.name.as_str(), caller.scope),
        ("phone", Scope::Admin)
    );
}

#[test]
fn a_damaged_file_fails_closed_but_the_builtin_key_works() {
    let dir = tempfile::tempdir().unwrap();
    let (_, secret) = add(dir.path(), "script", Scope::Write, 1).unwrap();
    std::fs::write(dir.path().join(FILE_NAME), "{not json\n").unwrap();
    let ring = Keyring::new(dir.path(), KeyDigest::of(b"builtin-key-0123456789"));
    assert!(ring.identify(secret.as_bytes(), 2).is_none());
    assert!(ring.identify(b"builtin-key-0123456789", 2).is_some());
    assert!(matches!(
        read(dir.path()),
        Err(KeysError::Damaged { line: 1, .. })
    ));
}

#[test]
fn changes_wait_for_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let held = hold_lock(dir.path());
    let path = dir.path().to_owned();
    let writer = std::thread::spawn(move || add(&path, "later", Scope::Read, 1).map(|_| ()));
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(read(dir.path()).unwrap().is_empty(), "wrote past the lock");
    drop(held);
    writer.join().unwrap().unwrap();
    assert_eq!(read(dir.path()).unwrap().len(), 1);
}
