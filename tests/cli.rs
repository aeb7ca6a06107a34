//! The command line as a user meets it: the real `kurz` binary, run in a
//! fresh temporary directory per test.
//!
//! Covers the offline admin commands (`add`, `list`, `stats`, `delete`,
//! `export`, `import`), their refusal to touch a data directory a server
//! holds or that has no database, the default data directory, a key given
//! on the command line, the `--listen` forms, I/O errors and SIGTERM. The API
//! key file and `kurz key` are in `tests/api_key.rs`, usage errors and
//! `--help` in `tests/usage.rs`. Clicks in the export round trip are
//! real clicks on a real server, stopped with SIGTERM.

mod real_binary;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use real_binary::{api, get, utc_today, Conn, Sandbox, Server};

/// The slug at the end of a printed short URL, checking the prefix.
fn slug_of<'a>(printed: &'a str, base: &str) -> &'a str {
    let line = printed.trim_end();
    assert_eq!(printed.lines().count(), 1, "one line expected: {printed:?}");
    line.strip_prefix(base)
        .and_then(|s| s.strip_prefix('/'))
        .unwrap_or_else(|| panic!("{line:?} does not start with {base}/"))
}

fn is_generated_slug(s: &str) -> bool {
    s.len() == 7 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn parse_lines(jsonl: &str) -> Vec<Value> {
    jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line ({e}): {l}")))
        .collect()
}

fn record<'a>(records: &'a [Value], slug: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["slug"] == slug)
        .unwrap_or_else(|| panic!("no record for {slug} in {records:#?}"))
}

#[test]
fn add_prints_a_short_url_with_a_generated_slug() {
    let sb = Sandbox::new();
    let out = sb.kurz("d", &["add", "https://example.com/x"]);
    let slug = slug_of(out.ok(), "http://127.0.0.1:8080");
    assert!(is_generated_slug(slug), "{slug:?}");
    let rows = sb.list("d", &[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], slug);
    assert_eq!(rows[0][3], "https://example.com/x");
}

#[test]
fn add_uses_a_custom_slug_and_base_url() {
    let sb = Sandbox::new();
    let out = sb.kurz("d", &["add", "https://example.com/x", "--slug", "mine"]);
    assert_eq!(out.ok(), "http://127.0.0.1:8080/mine\n");

    let out = sb.kurz(
        "d",
        &[
            "add",
            "https://example.com/y",
            "--base-url",
            "https://s.example",
        ],
    );
    assert!(is_generated_slug(slug_of(out.ok(), "https://s.example")));
}

#[test]
fn add_refuses_a_taken_slug() {
    let sb = Sandbox::new();
    sb.kurz("d", &["add", "https://example.com/1", "--slug", "mine"])
        .ok();
    let out = sb.kurz("d", &["add", "https://example.com/2", "--slug", "mine"]);
    let err = out.failed();
    assert!(err.contains("'mine'") && err.contains("taken"), "{err}");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    // The first link keeps its target.
    let rows = sb.list("d", &[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][3], "https://example.com/1");
}

#[test]
fn add_refuses_invalid_urls_and_slugs_and_stores_nothing() {
    let sb = Sandbox::new();
    let cases: &[(&[&str], &str)] = &[
        (&["javascript:alert(1)"], "invalid url"),
        (&["https://user:pw@evil.example/"], "user name or password"),
        (&["not a url"], "invalid url"),
        (&["https://example.com/", "--slug", "a/b"], "invalid slug"),
        (&["https://example.com/", "--slug", "api"], "reserved"),
        (
            &[
                "https://example.com/",
                "--base-url",
                "https://s.example?q=1",
            ],
            "query",
        ),
        (
            &["https://example.com/", "--base-url", "ftp://s.example/"],
            "http",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["add"];
        all.extend(*args);
        let out = sb.kurz("d", &all);
        let err = out.failed();
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed {}", out.stdout);
    }
    // Nothing stored, not even a database (`list` refuses a directory
    // without one, so it can no longer show an empty list here).
    assert!(
        !sb.data("d").exists(),
        "a refused add made a data directory"
    );
}

#[test]
fn list_is_newest_first_and_tab_separated() {
    let sb = Sandbox::new();
    let before = OffsetDateTime::now_utc();
    for n in 1..=3 {
        let url = format!("https://example.com/{n}");
        let slug = format!("s{n}");
        sb.kurz("d", &["add", &url, "--slug", &slug]).ok();
    }
    let after = OffsetDateTime::now_utc();

    let rows = sb.list("d", &[]);
    let slugs: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(slugs, ["s3", "s2", "s1"]);
    for (row, n) in rows.iter().zip([3, 2, 1]) {
        assert_eq!(row.len(), 4, "{row:?}");
        assert_eq!(row[1], "0");
        let created = OffsetDateTime::parse(&row[2], &Rfc3339)
            .unwrap_or_else(|e| panic!("{:?} is not RFC 3339: {e}", row[2]));
        // Millisecond precision: allow the truncation at both ends.
        let slack = time::Duration::milliseconds(1);
        assert!(
            before - slack <= created && created <= after + slack,
            "{row:?}"
        );
        assert_eq!(row[3], format!("https://example.com/{n}"));
    }

    let rows = sb.list("d", &["--limit", "1"]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "s3");
}

#[test]
fn stats_prints_clicks_and_refuses_unknown_slugs() {
    let sb = Sandbox::new();
    sb.kurz("d", &["add", "https://example.com/", "--slug", "s"])
        .ok();
    let out = sb.kurz("d", &["stats", "s"]);
    let text = out.ok();
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().eq(["clicks:", "0"])),
        "{text}"
    );
    assert!(text.contains("https://example.com/"), "{text}");

    let err = sb.kurz("d", &["stats", "nope"]).failed().to_owned();
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn delete_removes_a_link_once() {
    let sb = Sandbox::new();
    sb.kurz("d", &["add", "https://example.com/1", "--slug", "gone"])
        .ok();
    sb.kurz("d", &["add", "https://example.com/2", "--slug", "kept"])
        .ok();
    sb.kurz("d", &["delete", "gone"]).ok();
    assert_eq!(sb.slugs("d"), ["kept"]);

    let err = sb.kurz("d", &["delete", "gone"]).failed().to_owned();
    assert!(err.contains("gone"), "{err}");
    sb.kurz("d", &["stats", "gone"]).failed();
    assert_eq!(sb.slugs("d"), ["kept"]);
}

/// Clicks `/slug` `n` times and checks each answer redirects to `target`.
fn click(server: &Server, slug: &str, n: usize, status: u16, target: &str) {
    for _ in 0..n {
        let r = get(server.addr, &format!("/{slug}"));
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(r.header("location"), Some(target));
    }
}

#[test]
fn export_then_import_reproduces_links_and_clicks() {
    let sb = Sandbox::new();
    sb.kurz("src", &["add", "https://example.com/one", "--slug", "one"])
        .ok();
    let out = sb.kurz("src", &["add", "https://example.com/two"]);
    let two = slug_of(out.ok(), "http://127.0.0.1:8080").to_owned();

    // Settings only the API can give, so the export has every field filled.
    let day_before = utc_today();
    let server = Server::start(&sb.data("src"));
    let body = r#"{"url":"https://example.com/lim","slug":"lim","max_clicks":100,
                   "redirect_status":307,"expires_at":"2099-01-01T00:00:00Z"}"#;
    let r = api(server.addr, "POST", "/api/links", Some(body));
    assert_eq!(r.status, 201, "{}", r.text());
    click(&server, "one", 3, 302, "https://example.com/one");
    click(&server, "lim", 2, 307, "https://example.com/lim");
    // Where clicks came from: one more click from a page, and a bot's visit.
    let mut c = Conn::open(server.addr).unwrap();
    for header in [
        ("Referer", "https://News.example/post?id=1"),
        (
            "User-Agent",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        ),
    ] {
        assert_eq!(c.send("GET", "/one", &[header], None).unwrap().status, 302);
    }
    let (status, _) = server.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    let day_after = utc_today();

    let file = sb.path().join("export.jsonl");
    let out = sb.kurz("src", &["export", "-o", file.to_str().unwrap()]);
    out.ok();
    assert!(out.stdout.is_empty(), "-o must keep stdout free");
    let exported = std::fs::read_to_string(&file).unwrap();
    assert_eq!(sb.kurz("src", &["export"]).ok(), exported);

    let records = parse_lines(&exported);
    assert_eq!(records.len(), 3, "{exported}");
    let fields = [
        "slug",
        "url",
        "created_at",
        "expires_at",
        "max_clicks",
        "redirect_status",
        "clicks",
        "daily",
        // `kurz add` makes links as the built-in key's owner.
        "created_by",
    ];
    for r in &records {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = fields.to_vec();
        if r["slug"] == "one" {
            // Only links with referrers or bots carry them.
            want.extend(["referrers", "bots"]);
        }
        want.sort_unstable();
        assert_eq!(keys, want, "{r}");
    }
    let one = record(&records, "one");
    assert_eq!(one["url"], "https://example.com/one");
    assert_eq!(one["clicks"], 4, "the bot's visit is not a click");
    assert_daily_today(one, 4, &day_before, &day_after);
    assert_eq!(one["referrers"], serde_json::json!({"news.example": 1}));
    assert_eq!(one["bots"], serde_json::json!({"Slack": 1}));
    let lim = record(&records, "lim");
    assert_eq!(lim["clicks"], 2);
    assert_eq!(lim["max_clicks"], 100);
    assert_eq!(lim["redirect_status"], 307);
    assert_eq!(lim["expires_at"], "2099-01-01T00:00:00Z");
    assert_daily_today(lim, 2, &day_before, &day_after);
    let two = record(&records, &two);
    assert_eq!(two["clicks"], 0);
    assert_eq!(two["daily"], serde_json::json!({}));
    assert_eq!(two["expires_at"], Value::Null);

    // Into an empty data directory: the export comes back byte for byte.
    let file_arg = file.to_str().unwrap();
    let out = sb.kurz("dst", &["import", file_arg]);
    out.ok();
    assert!(out.stderr.contains("imported 3"), "{}", out.stderr);
    assert_eq!(sb.kurz("dst", &["export"]).ok(), exported);
    let stats = sb.kurz("dst", &["stats", "one"]);
    assert!(
        stats
            .ok()
            .lines()
            .any(|l| l.split_whitespace().eq(["clicks:", "4"])),
        "{}",
        stats.stdout
    );
    for line in [["news.example", "1"], ["Slack", "1"]] {
        assert!(
            stats.stdout.lines().any(|l| l.split_whitespace().eq(line)),
            "{}",
            stats.stdout
        );
    }

    // Again: every slug exists, is reported, and nothing is counted twice.
    let out = sb.kurz("dst", &["import", file_arg]);
    out.ok();
    for r in &records {
        let slug = r["slug"].as_str().unwrap();
        assert!(
            out.stderr.contains(&format!("'{slug}'")) && out.stderr.contains("skipped"),
            "{slug} not reported: {}",
            out.stderr
        );
    }
    assert_eq!(sb.kurz("dst", &["export"]).ok(), exported);
}

/// The record's `daily` map holds `n` clicks on today's UTC date (either
/// reading, should the test straddle midnight).
fn assert_daily_today(rec: &Value, n: u64, before: &str, after: &str) {
    let daily = rec["daily"].as_object().expect("daily is an object");
    let total: u64 = daily.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, n, "{rec}");
    assert!(
        daily.keys().all(|k| k == before || k == after),
        "days other than today ({before}) in {rec}"
    );
}

#[test]
fn import_reports_invalid_lines_and_keeps_valid_ones() {
    let sb = Sandbox::new();
    let good = |slug: &str| {
        format!(
            r#"{{"slug":"{slug}","url":"https://example.com/{slug}","created_at":"2026-01-02T03:04:05.006Z","expires_at":null,"max_clicks":null,"redirect_status":null,"clicks":4,"daily":{{"2026-01-02":4}}}}"#
        )
    };
    let evil = r#"{"slug":"evil","url":"javascript:alert(1)","created_at":"2026-01-02T03:04:05Z"}"#;
    let file = sb.path().join("in.jsonl");
    // The days of a record must not add up to more than its clicks.
    let inflated = r#"{"slug":"infl","url":"https://example.com/i","created_at":"2026-01-02T03:04:05Z","clicks":2,"daily":{"2026-01-02":5}}"#;
    let text = [
        good("first"),
        "{not json".into(),
        evil.into(),
        inflated.into(),
        good("last"),
    ]
    .join("\n");
    std::fs::write(&file, text + "\n").unwrap();

    let out = sb.kurz("d", &["import", file.to_str().unwrap()]);
    let err = out.failed();
    let reported: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix("line ")?.split_once(':'))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(reported, ["2", "3", "4"], "{err}");
    let mut slugs = sb.slugs("d");
    slugs.sort();
    assert_eq!(slugs, ["first", "last"]);
    let records = parse_lines(sb.kurz("d", &["export"]).ok());
    assert_eq!(record(&records, "last")["clicks"], 4);
    assert_eq!(record(&records, "last")["daily"]["2026-01-02"], 4);
}

/// `kurz import` and `kurz export` carry a link's password as its hash;
/// a `password_hash` that is not Argon2id is reported by line number.
#[test]
fn import_and_export_keep_password_hashes_and_refuse_bad_ones() {
    let sb = Sandbox::new();
    let hash = kurz::password::hash("s3cret").unwrap();
    let line = |slug: &str, hash: &str| {
        format!(
            r#"{{"slug":"{slug}","url":"https://example.com/{slug}","created_at":"2026-01-02T03:04:05Z","password_hash":"{hash}"}}"#
        )
    };
    let file = sb.path().join("in.jsonl");
    let text = [
        line("locked", &hash),
        line("plainpw", "s3cret"),
        line("argon2i", &hash.replace("$argon2id$", "$argon2i$")),
    ]
    .join("\n");
    std::fs::write(&file, text + "\n").unwrap();
    let out = sb.kurz("d", &["import", file.to_str().unwrap()]);
    let err = out.failed();
    let reported: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix("line ")?.split_once(':'))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(reported, ["2", "3"], "{err}");
    assert!(err.contains("password_hash"), "{err}");
    assert!(
        !err.contains("s3cret"),
        "a password or hash in the report: {err}"
    );
    assert_eq!(sb.slugs("d"), ["locked"]);
    let export = sb.kurz("d", &["export"]);
    let exported = export.ok();
    let records = parse_lines(exported);
    assert_eq!(record(&records, "locked")["password_hash"], hash.as_str());
    assert!(!exported.contains("s3cret"));
}

#[test]
fn admin_commands_refuse_a_data_dir_held_by_the_server() {
    let sb = Sandbox::new();
    let server = Server::start(&sb.data("d"));
    for args in [
        &["list"][..],
        &["add", "https://example.com/while-running"][..],
    ] {
        let out = sb.kurz("d", args);
        let err = out.failed();
        assert!(
            err.contains("in use by a running kurz server"),
            "{args:?}: {err}"
        );
        assert!(err.contains("HTTP API"), "{args:?}: {err}");
    }
    // The server was not disturbed, and the refused add wrote nothing.
    let r = api(server.addr, "GET", "/api/links", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["links"], serde_json::json!([]));
    let (status, _) = server.terminate();
    assert!(status.success(), "{status}");
    assert!(sb.list("d", &[]).is_empty());
}

#[test]
fn an_explicit_api_key_writes_no_key_file() {
    // A key given on the command line must not be shadowed by, or leak
    // into, a generated key file; the links still reach the offline tools.
    let sb = Sandbox::new();
    let server = Server::start(&sb.data("d"));
    let r = api(
        server.addr,
        "POST",
        "/api/links",
        Some(r#"{"url":"https://example.com/api","slug":"viaapi"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let (status, _) = server.terminate();
    assert!(status.success());
    assert!(!sb.data("d").join("api-key").exists());
    assert_eq!(sb.slugs("d"), ["viaapi"]);
}

/// Regression: I/O errors printed their OS error twice, once in our message
/// and again from the error's source chain.
#[test]
fn io_errors_name_their_cause_once() {
    let sb = Sandbox::new();
    let out = sb.kurz("d", &["import", "no-such-file.jsonl"]);
    let err = out.failed();
    assert!(err.contains("no-such-file.jsonl"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

/// Regression: the signal handlers were installed only when the accept loop
/// first polled them, after the "listening" line; a SIGTERM sent as soon as
/// that line appeared killed the process without the final flush.
#[test]
fn sigterm_right_after_the_listening_line_exits_cleanly() {
    let sb = Sandbox::new();
    let data = sb.data("d");
    for _ in 0..5 {
        let server = Server::start_with(&data, &["--api-key", "sixteen-chars-key!"]);
        let (status, _) = server.terminate();
        assert!(status.success(), "{status}");
    }
}

/// The short URL the API gives for a new link on `server`, reached at `at`.
fn shorten(at: std::net::SocketAddr) -> String {
    let r = api(
        at,
        "POST",
        "/api/links",
        Some(r#"{"url":"https://example.com/l"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["short_url"].as_str().unwrap().to_owned()
}

/// Regression: `--listen` took only `IP:PORT`, so `localhost:8080` was
/// refused; a host name is now resolved at start, its IPv4 address first.
#[test]
fn listen_takes_a_host_name_and_short_links_keep_it() {
    let sb = Sandbox::new();
    let server = Server::start_listening(
        &sb.data("d"),
        "localhost:0",
        &["--api-key", real_binary::KEY],
    );
    assert_eq!(
        server.addr.ip().to_string(),
        "127.0.0.1",
        "{:?}",
        server.addr
    );
    let short = shorten(server.addr);
    let base = format!("http://localhost:{}/", server.addr.port());
    assert!(short.starts_with(&base), "{short}");
    assert!(!std::fs::read_to_string(&server.log)
        .unwrap()
        .contains("your.host"));
    assert!(server.terminate().0.success());
}

/// Regression: `:8080` was refused, and `0.0.0.0:8080` without `--base-url`
/// gave short links on `http://0.0.0.0:8080` without a word.
#[test]
fn listen_on_every_interface_warns_about_an_unreachable_base_url() {
    let sb = Sandbox::new();
    let key = ["--api-key", real_binary::KEY];
    let server = Server::start_listening(&sb.data("d"), ":0", &key);
    assert_eq!(server.addr.ip().to_string(), "0.0.0.0", "{:?}", server.addr);
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], server.addr.port()));
    let short = shorten(local);
    assert!(
        short.starts_with(&format!("http://{}/", server.addr)),
        "{short}"
    );
    let log = std::fs::read_to_string(&server.log).unwrap();
    let warning = log
        .lines()
        .find(|l| l.contains("WARN") && l.contains("every interface"))
        .unwrap_or_else(|| panic!("no warning in:\n{log}"));
    assert!(
        warning.contains("pass --base-url https://your.host"),
        "{warning}"
    );
    assert!(server.terminate().0.success());

    // A loopback base URL is as unreachable; a public one is what it takes.
    for (base, warns) in [
        ("http://127.0.0.1:8080", true),
        ("https://s.example.org", false),
    ] {
        let sb = Sandbox::new();
        let server = Server::start_listening(
            &sb.data("d"),
            "0.0.0.0:0",
            &[key[0], key[1], "--base-url", base],
        );
        let log = std::fs::read_to_string(&server.log).unwrap();
        assert_eq!(
            log.contains("pass --base-url https://your.host"),
            warns,
            "{base}: {log}"
        );
        assert!(server.terminate().0.success());
    }
}

/// Regression: the read commands opened `--data` creating it, so a mistyped
/// path answered "ok: 0 links" (and an export of nothing) with exit 0.
#[test]
fn read_commands_refuse_a_data_dir_without_a_database_and_create_nothing() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.data("empty")).unwrap();
    let out_file = sb.path().join("backup.jsonl");
    let out_arg = out_file.to_str().unwrap();
    let commands: &[&[&str]] = &[
        &["list"],
        &["stats", "s"],
        &["export"],
        &["export", "-o", out_arg],
        &["check"],
        &["delete", "s"],
    ];
    for (name, says) in [
        ("dtaa", "does not exist"),
        ("empty", "there is no kurz database in"),
    ] {
        let dir = sb.data(name);
        for args in commands {
            let out = sb.kurz(name, args);
            let err = out.failed();
            assert!(
                err.contains(says) && err.contains(dir.to_str().unwrap()) && err.contains("--data"),
                "{args:?} on {name}: {err}"
            );
            assert!(out.stdout.is_empty(), "{args:?} on {name}: {out:#?}");
            assert!(!out_file.exists(), "{args:?} on {name} wrote {out_arg}");
        }
    }
    assert!(
        !sb.data("dtaa").exists(),
        "a missing data directory was created"
    );
    let left: Vec<_> = std::fs::read_dir(sb.data("empty")).unwrap().collect();
    assert!(left.is_empty(), "{left:?} made in an empty directory");

    // The commands that add links still make the database, and then the
    // read commands open it.
    sb.kurz("dtaa", &["add", "https://example.com/a", "--slug", "a"])
        .ok();
    assert!(sb.kurz("dtaa", &["check"]).ok().contains("ok: 1 links"));
}

/// The default data directory is systemd's `$STATE_DIRECTORY` when set, so
/// a service does not depend on its working directory; `--data` and
/// `KURZ_DATA` still win.
#[test]
fn state_directory_is_the_default_data_dir() {
    let sb = Sandbox::new();
    let state = sb.data("state");
    let with_state = |args: &[&str]| {
        let mut cmd = real_binary::kurz(sb.path());
        cmd.env("STATE_DIRECTORY", &state).args(args);
        real_binary::run_bounded(cmd)
    };
    with_state(&["add", "https://example.com/s", "--slug", "s"]).ok();
    assert!(state.join("db").is_dir(), "not in $STATE_DIRECTORY");
    assert!(!sb.data("kurz-data").exists(), "made ./kurz-data as well");
    assert!(with_state(&["list"]).ok().contains("https://example.com/s"));
    // Without it, ./kurz-data (which has no database here).
    let err = real_binary::run(sb.path(), &["list"]);
    assert!(err.failed().contains("kurz-data"), "{err:#?}");
    // KURZ_DATA wins over it.
    let mut cmd = real_binary::kurz(sb.path());
    cmd.env("STATE_DIRECTORY", &state)
        .env("KURZ_DATA", sb.data("other"))
        .arg("list");
    let out = real_binary::run_bounded(cmd);
    assert!(out.failed().contains("other"), "{out:#?}");
}

#[test]
fn the_running_hint_names_the_real_address_and_offline_add_keeps_the_base_url() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let server = Server::start_with(
        &sb.data("d"),
        &[
            "--api-key",
            real_binary::KEY,
            "--base-url",
            "https://s.example/",
        ],
    );
    let recorded = sb.data("d").join("server.json");
    let mode = std::fs::metadata(&recorded).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let err = sb.kurz("d", &["list"]).failed().to_owned();
    let real = format!("http://{}", server.addr);
    assert!(err.contains(&format!("{real}/api/links")), "{err}");
    assert!(err.contains(&format!("--server {real}")), "{err}");
    assert!(!err.contains("127.0.0.1:8080"), "{err}");
    let (status, _) = server.terminate();
    assert!(status.success(), "{status}");
    let stopped: Value = serde_json::from_slice(&std::fs::read(&recorded).unwrap()).unwrap();
    assert_eq!(stopped["listening"], Value::Null, "{stopped}");
    // Offline, short URLs are printed on the base URL the server ran with.
    let out = sb.kurz("d", &["add", "https://example.com/base", "--slug", "b"]);
    assert_eq!(out.ok(), "https://s.example/b\n");
    // A killed server cannot mark its record; the base URL still holds,
    // and the stale address is not named.
    let server = Server::start_with(
        &sb.data("d"),
        &[
            "--api-key",
            real_binary::KEY,
            "--base-url",
            "https://s.example/",
        ],
    );
    server.kill();
    let out = sb.kurz("d", &["add", "https://example.com/killed", "--slug", "k"]);
    assert_eq!(out.ok(), "https://s.example/k\n");
}
