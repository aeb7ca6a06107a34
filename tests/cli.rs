//! The command line as a user meets it: the real `kurz` binary, run in a
//! fresh temporary directory per test.
//!
//! Covers the offline admin commands (`add`, `list`, `stats`, `delete`,
//! `export`, `import`, `key`), their refusal to touch a data directory a
//! server holds, the API key file written on first start, and the usage
//! errors clap reports for bad settings. Clicks in the export round trip are
//! real clicks on a real server, stopped with SIGTERM.

mod real_binary;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use real_binary::{api, get, run, utc_today, Output, Server};

/// A temporary directory with a data directory path inside it (not created:
/// kurz must create it itself).
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn data(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// `kurz ARGS --data <sandbox>/NAME`.
    fn kurz(&self, data: &str, args: &[&str]) -> Output {
        let data = self.data(data);
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--data", data.to_str().expect("utf-8 temp path")]);
        run(self.path(), &all)
    }

    /// The `list` output of data dir `name`, as rows of tab-separated fields.
    fn list(&self, name: &str, extra: &[&str]) -> Vec<Vec<String>> {
        let mut args = vec!["list"];
        args.extend(extra);
        self.kurz(name, &args)
            .ok()
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }

    fn slugs(&self, name: &str) -> Vec<String> {
        self.list(name, &[])
            .into_iter()
            .map(|r| r[0].clone())
            .collect()
    }
}

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
    assert!(sb.list("d", &[]).is_empty());
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
    ];
    for r in &records {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = fields.to_vec();
        want.sort_unstable();
        assert_eq!(keys, want, "{r}");
    }
    let one = record(&records, "one");
    assert_eq!(one["url"], "https://example.com/one");
    assert_eq!(one["clicks"], 3);
    assert_daily_today(one, 3, &day_before, &day_after);
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
            .any(|l| l.split_whitespace().eq(["clicks:", "3"])),
        "{}",
        stats.stdout
    );

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

/// The key a server printed in its first-start banner.
fn printed_key(server: &Server) -> String {
    let banner = server.banner.join("\n");
    let lines: Vec<&str> = banner.lines().filter(|l| l.starts_with("    ")).collect();
    assert_eq!(lines.len(), 1, "{banner}");
    lines[0].trim().to_owned()
}

/// Whether the server accepts `key` for the API.
fn accepts(server: &Server, key: &str) -> bool {
    let auth = format!("Bearer {key}");
    let r = real_binary::Conn::open(server.addr)
        .and_then(|mut c| c.send("GET", "/api/links", &[("authorization", &auth)], None))
        .unwrap();
    assert!(r.status == 200 || r.status == 401, "{}", r.text());
    r.status == 200
}

#[test]
fn first_start_generates_a_private_api_key_once() {
    let sb = Sandbox::new();
    let data = sb.data("d");
    let server = Server::start_with(&data, &[]);
    let key = printed_key(&server);
    assert!(key.len() >= 16, "{key:?}");

    // The file keeps only the digest, readable by its owner alone.
    let key_file = data.join("api-key");
    let stored = std::fs::read_to_string(&key_file).unwrap();
    assert!(stored.starts_with("sha256:"), "{stored}");
    assert!(!stored.contains(&key));
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");

    // The printed key is the one the API accepts, and the only one.
    assert!(accepts(&server, &key));
    assert!(!accepts(&server, "another-key-0123456789"));
    assert_eq!(api(server.addr, "GET", "/api/links", None).status, 401);
    let (status, rest) = server.terminate();
    assert!(status.success(), "{status}");
    assert!(!rest.join("\n").contains(&key));

    let again = Server::start_with(&data, &[]);
    assert!(accepts(&again, &key));
    let banner = again.banner.join("\n");
    let (status, rest) = again.terminate();
    assert!(status.success(), "{status}");
    let printed = banner + &rest.join("\n");
    assert!(!printed.contains(&key), "key printed again: {printed}");

    // `kurz key` cannot show it, and says what to do instead.
    let err = sb.kurz("d", &["key"]).failed().to_owned();
    assert!(
        err.contains("kurz key --new") && !err.contains(&key),
        "{err}"
    );
}

#[test]
fn key_new_replaces_the_key_at_the_next_start() {
    let sb = Sandbox::new();
    let data = sb.data("d");
    let server = Server::start_with(&data, &[]);
    let old = printed_key(&server);
    let new = sb.kurz("d", &["key", "--new"]).ok().trim().to_owned();
    assert!(new.len() >= 16 && new != old, "{new:?}");
    assert!(!std::fs::read_to_string(data.join("api-key"))
        .unwrap()
        .contains(&new));
    // The running server keeps the key it started with...
    assert!(accepts(&server, &old) && !accepts(&server, &new));
    assert!(server.terminate().0.success());
    // ...and the next start takes the new one.
    let server = Server::start_with(&data, &[]);
    assert!(server
        .banner
        .join("\n")
        .lines()
        .all(|l| !l.starts_with("    ")));
    assert!(accepts(&server, &new) && !accepts(&server, &old));
    assert!(server.terminate().0.success());
}

#[test]
fn a_key_file_in_clear_from_an_earlier_kurz_is_converted_to_its_digest() {
    let sb = Sandbox::new();
    let data = sb.data("d");
    std::fs::create_dir_all(&data).unwrap();
    let key = "earlier-kurz-key-0123456789";
    std::fs::write(data.join("api-key"), format!("{key}\n")).unwrap();
    let server = Server::start_with(&data, &[]);
    assert!(accepts(&server, key));
    let stored = std::fs::read_to_string(data.join("api-key")).unwrap();
    assert!(
        stored.starts_with("sha256:") && !stored.contains(key),
        "{stored}"
    );
    let (status, rest) = server.terminate();
    assert!(status.success(), "{status}");
    assert!(!rest.join("\n").contains(key));
}

#[test]
fn key_without_a_key_file_says_how_to_make_one() {
    let sb = Sandbox::new();
    let err = sb.kurz("d", &["key"]).failed().to_owned();
    assert!(err.contains("kurz serve"), "{err}");
}

#[test]
fn bad_settings_exit_with_a_usage_message() {
    let sb = Sandbox::new();
    // --listen 127.0.0.1:0 so a setting that wrongly passes cannot take a
    // real port; the run bound then turns the hang into a failure.
    let serve = ["serve", "--listen", "127.0.0.1:0"];
    let cases: &[(&[&str], &str)] = &[
        (&["--api-key", "short"], "--api-key"),
        (&["--api-key", "has spaces in it, sixteen+"], "--api-key"),
        (&["--redirect-status", "303"], "--redirect-status"),
        (&["--slug-length", "2"], "--slug-length"),
    ];
    for (args, flag) in cases {
        for prefix in [&serve[..], &serve[1..]] {
            let mut all = prefix.to_vec();
            all.extend(*args);
            assert_usage_error(&sb.kurz("d", &all), flag);
        }
    }
    let out = sb.kurz("d", &["add", "https://example.com/", "--slug-length", "2"]);
    assert_usage_error(&out, "--slug-length");
    assert!(
        !sb.data("d").exists(),
        "a refused start must not create data"
    );
}

#[test]
fn data_goes_before_or_after_a_subcommand_and_server_flags_do_not() {
    let sb = Sandbox::new();
    let data = sb.data("d");
    let data = data.to_string_lossy();
    let added = run(
        sb.path(),
        &[
            "--data",
            &data,
            "add",
            "https://example.com/x",
            "--slug",
            "x",
        ],
    );
    assert!(added.success(), "{added:#?}");
    let before = run(sb.path(), &["--data", &data, "list"]);
    let after = run(sb.path(), &["list", "--data", &data]);
    assert!(before.ok().contains("https://example.com/x"));
    assert_eq!(before.ok(), after.ok());
    // A server setting would be ignored by an admin command: refused instead.
    for args in [
        &["--listen", "127.0.0.1:0", "list", "--data", &data][..],
        &["--skip-startup-check", "serve", "--listen", "127.0.0.1:0"][..],
    ] {
        let out = run(sb.path(), args);
        assert_usage_error(&out, args[0]);
        assert!(out.stderr.contains("server setting"), "{out:#?}");
    }
}

fn assert_usage_error(out: &Output, flag: &str) {
    // clap's usage errors exit 2, name the flag and point at --help.
    assert_eq!(out.status.code(), Some(2), "{out:#?}");
    assert!(out.stderr.contains(flag), "{out:#?}");
    assert!(out.stderr.contains("--help"), "{out:#?}");
    assert!(out.stdout.is_empty(), "{out:#?}");
}

#[test]
fn help_describes_the_commands() {
    let sb = Sandbox::new();
    let help = run(sb.path(), &["--help"]);
    let text = help.ok();
    for command in [
        "serve", "key", "add", "list", "stats", "delete", "export", "import",
    ] {
        // A command line of clap's list: the name, then its description.
        let described = text.lines().any(|l| {
            l.trim_start()
                .strip_prefix(command)
                .is_some_and(|rest| rest.starts_with("  ") && rest.trim().len() > 5)
        });
        assert!(described, "--help does not describe {command}: {text}");
    }
    assert!(text.contains("--data"), "{text}");

    let add = run(sb.path(), &["add", "--help"]);
    let text = add.ok();
    for word in ["Shorten", "<URL>", "--slug", "--base-url", "--slug-length"] {
        assert!(text.contains(word), "add --help lacks {word}: {text}");
    }
}

#[test]
fn help_does_not_show_the_api_key_from_the_environment() {
    let sb = Sandbox::new();
    let secret = "secret-from-env-0123456789";
    let mut cmd = real_binary::kurz(sb.path());
    cmd.arg("--help").env("KURZ_API_KEY", secret);
    let out = real_binary::run_bounded(cmd);
    assert!(out.ok().contains("KURZ_API_KEY"), "{}", out.stdout);
    assert!(!out.stdout.contains(secret), "{}", out.stdout);
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
