//! The deployment files in `docs/` work with the real binary: the systemd
//! unit's `kurz serve` flags start a server (on a temporary data directory
//! and a free port instead of the unit's) whose short URLs use the unit's
//! public base URL, and the unit's command for reading the API key from the
//! journal yields exactly the key a real first start printed. What ships is
//! checked too: release builds are stripped, and the license files that
//! `Cargo.toml` names are there.

mod real_binary;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use real_binary::{api, get, Sandbox, Server, KEY, WAIT};

fn unit() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/kurz.service")).unwrap()
}

/// The arguments of the unit's `ExecStart=` after the program.
fn exec_start() -> Vec<String> {
    let unit = unit();
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart= line");
    let mut words = line.split_whitespace().map(str::to_owned);
    assert_eq!(words.next().as_deref(), Some("/usr/local/bin/kurz"));
    words.collect()
}

#[test]
fn the_systemd_unit_starts_a_working_server() {
    let args = exec_start();
    assert_eq!(args.first().map(String::as_str), Some("serve"));
    // The unit's own --listen and --data are replaced by the test's.
    let mut rest = Vec::new();
    let mut base = None;
    let mut words = args[1..].iter();
    while let Some(flag) = words.next() {
        let value = words.next().expect("every flag in the unit has a value");
        match flag.as_str() {
            "--listen" | "--data" => {}
            other => {
                if other == "--base-url" {
                    base = Some(value.clone());
                }
                rest.push(flag.clone());
                rest.push(value.clone());
            }
        }
    }
    let base = base.expect("the unit sets --base-url");
    rest.extend(["--api-key".to_owned(), KEY.to_owned()]);
    let extra: Vec<&str> = rest.iter().map(String::as_str).collect();

    let sb = Sandbox::new();
    let server = Server::start_with(&sb.data("d"), &extra);
    assert_eq!(get(server.addr, "/healthz").status, 200);
    let r = api(
        server.addr,
        "POST",
        "/api/links",
        Some(r#"{"url":"https://example.com/deployed"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let short = r.json()["short_url"].as_str().unwrap().to_owned();
    assert!(short.starts_with(&format!("{base}/")), "{short}");
    let (status, _) = server.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
}

/// What `journalctl -u kurz -o cat` would show of a first start: the
/// messages of stdout and stderr, both of which the unit sends to the
/// journal, one per line and without the journal's prefix.
fn first_start_journal(sb: &Sandbox) -> String {
    let journal = sb.path().join("journal");
    let out = std::fs::File::create(&journal).unwrap();
    let mut child = real_binary::kurz(sb.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(sb.data("d"))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let text = loop {
        let text = std::fs::read_to_string(&journal).unwrap();
        if text.contains("kurz listening on") {
            break text;
        }
        assert!(Instant::now() < deadline, "no listening line:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    text
}

/// Regression: the unit said `journalctl -u kurz | grep -A1 'API key'`,
/// which shows the blank line after the notice, not the key below it.
#[test]
fn the_units_journal_command_prints_exactly_the_first_start_key() {
    let unit = unit();
    let command = unit
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(str::trim)
        .find(|l| l.starts_with("journalctl -u kurz"))
        .expect("the unit says how to read the key from the journal");
    // `-o cat` is what makes the journal's lines the program's own.
    let filter = command
        .strip_prefix("journalctl -u kurz -o cat |")
        .unwrap_or_else(|| panic!("not a filter of `journalctl -u kurz -o cat`: {command}"));

    let sb = Sandbox::new();
    let journal = first_start_journal(&sb);
    let key = journal
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .next()
        .unwrap_or_else(|| panic!("no key in the first start:\n{journal}"));
    assert!(key.len() >= 16 && !key.contains(' '), "{key:?}");

    let mut sh = Command::new("/bin/sh")
        .args(["-c", filter])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    sh.stdin
        .take()
        .unwrap()
        .write_all(journal.as_bytes())
        .unwrap();
    let out = sh.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{key}\n"),
        "{journal}"
    );

    // The README gives the same command.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains(command), "README does not say `{command}`");
}

/// The `key = value` lines of the `[name]` table of `Cargo.toml`.
fn cargo_table(manifest: &str, name: &str) -> Vec<(String, String)> {
    let header = format!("[{name}]");
    manifest
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Regression: the release profile kept `debug = 1`, so the shipped binary
/// was 59.6 MB (8.5 MB stripped), and `Cargo.toml` named license files that
/// were not in the repository.
#[test]
fn release_builds_are_stripped_and_the_named_licenses_exist() {
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap();
    let release = cargo_table(&manifest, "profile.release");
    let get = |table: &[(String, String)], key: &str| {
        table.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    assert!(
        matches!(
            get(&release, "strip").as_deref(),
            Some("true" | "\"symbols\"")
        ),
        "release must strip symbols: {release:?}"
    );
    assert!(
        matches!(
            get(&release, "debug").as_deref(),
            None | Some("false" | "0")
        ),
        "release must carry no debug info: {release:?}"
    );
    // Perf work has its own profile: the release code, with symbols.
    let profiling = cargo_table(&manifest, "profile.profiling");
    assert_eq!(get(&profiling, "inherits").as_deref(), Some("\"release\""));
    assert_eq!(get(&profiling, "debug").as_deref(), Some("1"));
    assert_eq!(get(&profiling, "strip").as_deref(), Some("false"));

    let package = cargo_table(&manifest, "package");
    assert_eq!(
        get(&package, "license").as_deref(),
        Some("\"MIT OR Apache-2.0\""),
        "the license files below are those of this expression"
    );
    let mit = std::fs::read_to_string(format!("{root}/LICENSE-MIT")).unwrap();
    assert!(
        mit.contains("Copyright (c) 2026 the kurz developers"),
        "{mit}"
    );
    assert!(mit.contains("Permission is hereby granted, free of charge"));
    assert!(mit.contains("THE SOFTWARE IS PROVIDED \"AS IS\""));
    let apache = std::fs::read_to_string(format!("{root}/LICENSE-APACHE")).unwrap();
    for part in [
        "Apache License",
        "Version 2.0, January 2004",
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        "9. Accepting Warranty or Additional Liability.",
        "END OF TERMS AND CONDITIONS",
    ] {
        assert!(apache.contains(part), "LICENSE-APACHE lacks {part:?}");
    }
}
