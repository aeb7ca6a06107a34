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
