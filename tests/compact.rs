//! `kurz compact` through the real binary: everything kept, the server's
//! lock respected, bad directories refused, and a compaction killed at any
//! moment loses nothing.

mod real_binary;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use real_binary::{
    api, get, kurz, kurz_with_file_limit, run_bounded, wait_bounded, Sandbox, Server,
};

/// Imports `n` links with click counts into data dir `name`.
fn import(sandbox: &Sandbox, name: &str, n: usize) {
    let lines: String = (0..n)
        .map(|i| {
            format!(
                "{{\"slug\":\"s{i}\",\"url\":\"https://example.com/{i}\",\
                 \"created_at\":\"2026-01-01T00:00:00Z\",\"clicks\":{i},\"tags\":[\"t{}\"]}}\n",
                i % 3
            )
        })
        .collect();
    let file = sandbox.path().join("links.jsonl");
    std::fs::write(&file, lines).unwrap();
    sandbox.kurz(name, &["import", file.to_str().unwrap()]).ok();
}

fn export(sandbox: &Sandbox, name: &str) -> String {
    sandbox.kurz(name, &["export"]).ok().to_owned()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn compact_keeps_every_link_and_the_server_serves_them() {
    let sandbox = Sandbox::new();
    import(&sandbox, "data", 3000);
    for i in (0..3000).step_by(100) {
        sandbox.kurz("data", &["delete", &format!("s{i}")]).ok();
    }
    let before = export(&sandbox, "data");
    let out = sandbox.kurz("data", &["compact"]);
    assert!(out.ok().starts_with("compacted "), "{out:?}");
    assert!(out.ok().contains(" on disk before, "), "{out:?}");
    assert_eq!(export(&sandbox, "data"), before);
    assert!(sandbox
        .kurz("data", &["check"])
        .ok()
        .contains("ok: 2970 links"));
    let server = Server::start(&sandbox.data("data"));
    let hit = get(server.addr, "/s1");
    assert_eq!(hit.status, 302);
    assert_eq!(hit.header("location"), Some("https://example.com/1"));
    assert_eq!(get(server.addr, "/s100").status, 404);
    let made = api(
        server.addr,
        "POST",
        "/api/links",
        Some(r#"{"url":"https://example.com/after"}"#),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    server.terminate();
}

#[test]
fn compact_refuses_a_running_server_and_a_directory_without_data() {
    let sandbox = Sandbox::new();
    import(&sandbox, "data", 10);
    let server = Server::start(&sandbox.data("data"));
    let out = sandbox.kurz("data", &["compact"]);
    assert!(
        out.failed().contains("in use by a running kurz server"),
        "{out:?}"
    );
    assert_eq!(get(server.addr, "/s3").status, 302);
    server.terminate();
    std::fs::create_dir(sandbox.data("empty")).unwrap();
    let out = sandbox.kurz("empty", &["compact"]);
    assert!(
        out.failed().contains("there is no kurz database in"),
        "{out:?}"
    );
}

#[test]
fn a_disk_too_full_for_the_copy_stops_compact_and_changes_nothing() {
    let sandbox = Sandbox::new();
    import(&sandbox, "data", 3000);
    let before = export(&sandbox, "data");
    // Every file write past 1 MiB fails as on a full disk; the copy needs
    // more than that (the database is 2.5 MiB, its copy 1.5 MiB).
    let mut cmd = kurz_with_file_limit(sandbox.path(), 1024);
    cmd.args(["compact", "--data"]).arg(sandbox.data("data"));
    let out = run_bounded(cmd);
    assert!(
        out.failed()
            .contains("compaction stopped, and the database is as it was"),
        "{out:?}"
    );
    assert_eq!(entries(&sandbox.data("data")), ["db", "kurz.lock"]);
    assert_eq!(export(&sandbox, "data"), before);
    assert!(sandbox
        .kurz("data", &["check"])
        .ok()
        .contains("ok: 3000 links"));
}

/// Kills `kurz compact` (SIGKILL) `after` into its run.
fn kill_compact_after(sandbox: &Sandbox, name: &str, after: Duration) {
    let mut child = kurz(sandbox.path())
        .args(["compact", "--data"])
        .arg(sandbox.data(name))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    child.kill().ok();
    wait_bounded(&mut child, Duration::from_secs(30)).expect("kurz compact did not die");
}

#[test]
fn a_compaction_killed_at_any_moment_loses_nothing() {
    let sandbox = Sandbox::new();
    import(&sandbox, "data", 5_000);
    let before = export(&sandbox, "data");
    // How long a whole run takes here, then kills spread over it: during
    // the copy, the check and the swap.
    let started = Instant::now();
    sandbox.kurz("data", &["compact"]).ok();
    let whole = started.elapsed();
    let mut leftovers = 0;
    for step in 1..=4u32 {
        kill_compact_after(&sandbox, "data", whole * step / 5);
        if entries(&sandbox.data("data")).len() > 2 {
            leftovers += 1;
        }
        assert_eq!(export(&sandbox, "data"), before, "killed at {step}/5");
        assert_eq!(entries(&sandbox.data("data")), ["db", "kurz.lock"]);
    }
    assert!(
        leftovers > 0,
        "no kill left a compaction part way ({whole:?} per run)"
    );
}
