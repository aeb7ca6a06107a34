//! `kurz check` against damage sled does not report: keys dropped, records
//! garbled, bytes flipped in a copy of a real data directory.

mod real_binary;

use std::path::Path;

use kurz::store::{bucket, Link, Store};
use real_binary::run;

/// A data directory with `n` links, made by `kurz import`.
fn data_dir_with(root: &Path, n: usize) -> std::path::PathBuf {
    let data = root.join("data");
    let lines: String = (0..n)
        .map(|i| {
            format!(
                "{{\"slug\":\"s{i}\",\"url\":\"https://example.com/{i}\",\
                 \"created_at\":\"2026-01-01T00:00:00Z\",\"clicks\":{i}}}\n"
            )
        })
        .collect();
    let file = root.join("links.jsonl");
    std::fs::write(&file, lines).unwrap();
    run(
        root,
        &[
            "import",
            file.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
    )
    .ok();
    data
}

fn check(root: &Path, data: &Path) -> real_binary::Output {
    run(root, &["check", "--data", data.to_str().unwrap()])
}

fn export(root: &Path, data: &Path) -> real_binary::Output {
    run(root, &["export", "--data", data.to_str().unwrap()])
}

#[test]
fn an_intact_directory_checks_clean() {
    let root = tempfile::tempdir().unwrap();
    let data = data_dir_with(root.path(), 200);
    let out = check(root.path(), &data);
    assert!(out.ok().contains("ok: 200 links"), "{out:?}");
    // Deleting keeps the bookkeeping right.
    run(
        root.path(),
        &["delete", "s7", "--data", data.to_str().unwrap()],
    )
    .ok();
    assert!(check(root.path(), &data).ok().contains("ok: 199 links"));
}

#[test]
fn a_key_sled_silently_dropped_is_reported_missing() {
    let root = tempfile::tempdir().unwrap();
    let data = data_dir_with(root.path(), 200);
    {
        // What sled does with a damaged page: the key is just gone.
        let db = sled::open(data.join("db")).unwrap();
        let buckets = db.open_tree("buckets").unwrap();
        let (key, _) = buckets.iter().next().unwrap().unwrap();
        buckets.remove(key).unwrap();
        db.flush().unwrap();
    }
    let out = check(root.path(), &data);
    out.failed();
    assert!(
        out.stdout
            .contains("200 links are recorded but 199 can be read"),
        "{out:?}"
    );
}

#[test]
fn a_garbled_record_is_reported_by_slug() {
    let root = tempfile::tempdir().unwrap();
    let data = data_dir_with(root.path(), 50);
    {
        let db = sled::open(data.join("db")).unwrap();
        let buckets = db.open_tree("buckets").unwrap();
        let (key, old) = buckets
            .iter()
            .map(Result::unwrap)
            .find(|(_, b)| bucket::find(b, b"s3").unwrap().is_some())
            .unwrap();
        let garbled = bucket::with(Some(&old), b"s3", Some(&[1, 0xff, 0xff]))
            .unwrap()
            .unwrap();
        buckets.insert(key, garbled).unwrap();
        db.flush().unwrap();
    }
    let out = check(root.path(), &data);
    out.failed();
    assert!(out.stdout.contains("undecodable record: s3"), "{out:?}");
    // The store still serves the rest.
    let store = Store::open(&data, 1 << 20).unwrap();
    assert!(matches!(store.get("s4"), Ok(Some(Link { .. }))));
}

#[test]
fn flipped_bytes_in_a_copied_data_dir_never_pass_as_intact() {
    let root = tempfile::tempdir().unwrap();
    let data = data_dir_with(root.path(), 3000);
    let original = export(root.path(), &data).ok().to_owned();
    let db_file = data.join("db").join("db");
    let size = std::fs::metadata(&db_file).unwrap().len() as usize;
    let mut caught = 0;
    // From a few scattered bytes to a whole stretch of the file.
    for (trial, (at, len)) in [(size / 3, 16), (size / 2, 4096), (size / 4, size / 2)]
        .into_iter()
        .enumerate()
    {
        let copy = root.path().join(format!("copy{trial}"));
        copy_dir(&data, &copy);
        let file = copy.join("db").join("db");
        let mut bytes = std::fs::read(&file).unwrap();
        for b in &mut bytes[at..at + len] {
            *b ^= 0x5a;
        }
        std::fs::write(&file, bytes).unwrap();
        let out = check(root.path(), &copy);
        eprintln!(
            "trial {trial}: {len} bytes flipped at {at} of {size}: check {}\n{}{}",
            if out.success() { "passed" } else { "failed" },
            out.stdout,
            out.stderr.lines().last().unwrap_or_default()
        );
        if out.success() {
            // Passing is only allowed when nothing readable changed.
            assert_eq!(
                export(root.path(), &copy).ok(),
                original,
                "trial {trial}: {out:?}"
            );
        } else {
            caught += 1;
        }
    }
    assert!(caught >= 1, "no trial was caught");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Damages, in the sled file of `data`, the leaf holding one of the first
/// buckets in key order, and returns the slugs that bucket holds.
///
/// sled keeps each leaf of a tree as checksummed bytes in its file and
/// reads it when first needed, so one flipped byte in a live leaf (the
/// tester's damage) makes every read of that leaf fail with `Corruption`.
/// A byte at a fixed offset is not deterministic: where sled puts a page
/// depends on when its background flush and its segment cleaner ran. So
/// this finds a bucket's stored bytes instead and flips one in the middle
/// of one copy at a time, keeping the first flip after which sled opens
/// the database but cannot read all of its buckets. sled leaves superseded
/// copies in its file (flipping one changes nothing), and a byte flipped
/// in the log's newest segment is caught by sled's recovery, which then
/// refuses to open at all (a failure of its own, not this one). The
/// buckets tried come first in key order, so that a walk giving up there
/// misses nearly every link.
fn damage_an_early_bucket(data: &Path) -> Vec<String> {
    let early: Vec<Vec<u8>> = {
        let db = sled::open(data.join("db")).unwrap();
        let buckets = db.open_tree("buckets").unwrap();
        buckets
            .iter()
            .take(200)
            .map(|item| item.unwrap().1.to_vec())
            .collect()
    };
    let file = data.join("db").join("db");
    let pristine = std::fs::read(&file).unwrap();
    for value in &early {
        let copies = pristine
            .windows(value.len())
            .enumerate()
            .filter(|(_, w)| w == value)
            .map(|(at, _)| at);
        for at in copies {
            let mut bytes = pristine.clone();
            bytes[at + value.len() / 2] ^= 0xff;
            std::fs::write(&file, bytes).unwrap();
            if leaf_unreadable(data) {
                return bucket::entries(value)
                    .unwrap()
                    .map(|e| String::from_utf8(e.unwrap().0.to_vec()).unwrap())
                    .collect();
            }
        }
    }
    panic!(
        "no flip in the first {} buckets made a leaf unreadable",
        early.len()
    );
}

/// Whether sled opens `data` but meets damage walking its buckets.
fn leaf_unreadable(data: &Path) -> bool {
    let Ok(db) = sled::open(data.join("db")) else {
        return false;
    };
    let buckets = db.open_tree("buckets").unwrap();
    buckets
        .iter()
        .any(|item| matches!(item, Err(sled::Error::Corruption { .. })))
}

/// Regression: one unreadable leaf hid every link after it from `kurz
/// list`, `kurz export`, `kurz check` and the HTTP API, because sled's
/// iterator returns the same `Corruption` error on every call once it meets
/// such a leaf, and every walk gave up at the first error.
#[test]
fn a_damaged_leaf_hides_only_its_own_links() {
    let root = tempfile::tempdir().unwrap();
    let n = 3000;
    let data = data_dir_with(root.path(), n);
    let lost = damage_an_early_bucket(&data);
    let d = data.to_str().unwrap();

    let out = check(root.path(), &data);
    out.failed();
    assert!(out.stdout.contains("cannot be read"), "{out:?}");
    for slug in &lost {
        assert!(out.stdout.contains(&format!("'{slug}'")), "{slug}: {out:?}");
    }

    // Every link but the leaf's is exported, and what could not be is said.
    let out = export(root.path(), &data);
    let stderr = out.failed();
    assert!(stderr.contains("not exported: the link buckets"), "{out:?}");
    let exported: std::collections::BTreeSet<String> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["slug"].to_string())
        .map(|s| s.trim_matches('"').to_owned())
        .collect();
    for slug in &lost {
        assert!(stderr.contains(&format!("'{slug}'")), "{slug}: {stderr}");
    }
    // A leaf holds a few dozen links at most; the rest must all be there.
    assert!(exported.len() > n - 100, "{} exported", exported.len());
    let unaccounted: Vec<String> = (0..n)
        .map(|i| format!("s{i}"))
        .filter(|s| !exported.contains(s) && !stderr.contains(&format!("'{s}'")))
        .collect();
    assert!(
        unaccounted.is_empty(),
        "neither exported nor named: {unaccounted:?}"
    );

    let out = run(root.path(), &["list", "--data", d]);
    assert_eq!(out.ok().lines().count(), exported.len(), "{}", out.stderr);

    // The server lists the same.
    let server = real_binary::Server::start(&data);
    let mut listed = 0;
    let mut cursor = String::new();
    loop {
        let page = real_binary::api(
            server.addr,
            "GET",
            &format!("/api/links?limit=1000{cursor}"),
            None,
        );
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        listed += page["links"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(listed, exported.len());
    // The HTTP export walks to the end too: it names what it left out, then
    // cuts the body short so a backup client sees a failed transfer (which
    // can cost the client the last bytes in flight, so they are not counted).
    let body = raw_get(server.addr, "/api/export");
    assert!(
        !body.ends_with(b"0\r\n\r\n"),
        "the export ended as if whole"
    );
    let deadline = std::time::Instant::now() + real_binary::WAIT;
    let log = || std::fs::read_to_string(&server.log).unwrap_or_default();
    while !log().contains("body cut short") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = log();
    assert!(
        log.contains("damaged links left out, body cut short"),
        "{log}"
    );
    assert!(!log.contains("stopped by a store fault"), "{log}");
    assert!(log.contains(&format!("'{}'", lost[0])), "{log}");
}

/// The raw bytes of a `GET` with the test key, read until the server
/// closes the connection.
fn raw_get(addr: std::net::SocketAddr, path: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(real_binary::WAIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
        real_binary::KEY
    )
    .unwrap();
    let mut body = Vec::new();
    let _ = s.read_to_end(&mut body);
    body
}
