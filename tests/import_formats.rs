//! `kurz import` of other shorteners' exports and `kurz export --format csv`,
//! through the real binary in a fresh directory per test.
//!
//! Sample files are written by each test with the headers YOURLS, Shlink
//! and Bitly exports carry; the checks read back what was stored with
//! `kurz export` (JSON Lines, which shows every field).

mod real_binary;

use serde_json::Value;

use real_binary::Sandbox;

fn write(sb: &Sandbox, name: &str, text: &str) -> String {
    let path = sb.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The JSON Lines export of data dir `name`, by slug.
fn exported(sb: &Sandbox, name: &str) -> Vec<Value> {
    let mut records: Vec<Value> = sb
        .kurz(name, &["export"])
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    records.sort_by(|a, b| a["slug"].as_str().cmp(&b["slug"].as_str()));
    records
}

/// The line numbers of `line N: ...` reports on stderr.
fn reported(stderr: &str) -> Vec<u64> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("line ")?.split_once(':')?.0.parse().ok())
        .collect()
}

fn brief(rec: &Value) -> (String, String, String, u64) {
    (
        rec["slug"].as_str().unwrap().to_owned(),
        rec["url"].as_str().unwrap().to_owned(),
        rec["created_at"].as_str().unwrap().to_owned(),
        rec["clicks"].as_u64().unwrap(),
    )
}

fn row(slug: &str, url: &str, created: &str, clicks: u64) -> (String, String, String, u64) {
    (slug.into(), url.into(), created.into(), clicks)
}

#[test]
fn a_yourls_export_keeps_keywords_times_and_clicks() {
    let sb = Sandbox::new();
    let file = write(
        &sb,
        "yourls.csv",
        "keyword,url,title,timestamp,ip,clicks\n\
         gh,https://github.com/,GitHub,2019-03-04 05:06:07,127.0.0.1,42\n\
         \"manual\",\"https://example.com/a,b\",\"A \"\"quoted\"\" title\",2020-01-01 00:00:00,10.0.0.1,0\n",
    );
    let out = sb.kurz("d", &["import", &file]);
    assert!(out.stderr.contains("as a YOURLS export"), "{}", out.stderr);
    assert!(out.stderr.contains("imported 2, skipped 0"), "{}", out.ok());
    let records = exported(&sb, "d");
    assert_eq!(
        records.iter().map(brief).collect::<Vec<_>>(),
        [
            row("gh", "https://github.com/", "2019-03-04T05:06:07Z", 42),
            row(
                "manual",
                "https://example.com/a,b",
                "2020-01-01T00:00:00Z",
                0
            ),
        ]
    );
    // Clicks from elsewhere have no day: they count, in no day bucket.
    assert_eq!(records[0]["daily"], serde_json::json!({}));
}

#[test]
fn a_shlink_export_takes_the_slug_from_the_short_url() {
    let sb = Sandbox::new();
    let file = write(
        &sb,
        "shlink.csv",
        "createdAt,title,shortUrl,longUrl,tags,visits\n\
         2023-05-06T07:08:09+02:00,One,https://s.test/abc12,https://example.com/one,a|b,7\n\
         2023-05-07T00:00:00+00:00,,https://s.test/xyz/,https://example.com/two,,0\n",
    );
    let out = sb.kurz("d", &["import", &file]);
    assert!(out.stderr.contains("as a Shlink export"), "{}", out.ok());
    assert_eq!(
        exported(&sb, "d").iter().map(brief).collect::<Vec<_>>(),
        [
            row(
                "abc12",
                "https://example.com/one",
                "2023-05-06T05:08:09Z",
                7
            ),
            row("xyz", "https://example.com/two", "2023-05-07T00:00:00Z", 0),
        ]
    );

    // Newer Shlink versions add the domain and the short code itself.
    let newer = write(
        &sb,
        "shlink2.csv",
        "createdAt,title,shortUrl,domain,shortCode,longUrl,tags,visits\n\
         2024-01-02T03:04:05+00:00,,https://other.test/code3,other.test,code3,https://example.com/3,,2\n",
    );
    sb.kurz("d", &["import", &newer]).ok();
    let records = exported(&sb, "d");
    assert_eq!(
        brief(&records[1]),
        row("code3", "https://example.com/3", "2024-01-02T03:04:05Z", 2)
    );
}

#[test]
fn a_bitly_export_takes_the_slug_from_the_bitlink() {
    let sb = Sandbox::new();
    let file = write(
        &sb,
        "bitly.csv",
        "created,link,long_url,title,clicks\n\
         2022-02-03T04:05:06+0000,https://bit.ly/3AbCdEf,https://example.com/b,Bee,1234\n\
         2022-02-04T00:00:00+0000,bit.ly/my-launch,https://example.com/l,,5\n",
    );
    let out = sb.kurz("d", &["import", &file]);
    assert!(out.stderr.contains("as a Bitly export"), "{}", out.ok());
    assert_eq!(
        exported(&sb, "d").iter().map(brief).collect::<Vec<_>>(),
        [
            row(
                "3AbCdEf",
                "https://example.com/b",
                "2022-02-03T04:05:06Z",
                1234
            ),
            row(
                "my-launch",
                "https://example.com/l",
                "2022-02-04T00:00:00Z",
                5
            ),
        ]
    );
}

#[test]
fn a_plain_list_imports_with_or_without_a_header_and_slug() {
    let sb = Sandbox::new();
    let headerless = write(
        &sb,
        "plain.csv",
        "https://example.com/1,one\nhttps://example.com/2\n",
    );
    let out = sb.kurz("d", &["import", &headerless]);
    assert!(out.stderr.contains("as a url[,slug] list"), "{}", out.ok());
    let with_header = write(&sb, "h.csv", "URL,Slug\nhttps://example.com/3,three\n");
    sb.kurz("d", &["import", &with_header]).ok();

    let records = exported(&sb, "d");
    assert_eq!(records.len(), 3);
    let urls = |slug: &str| {
        records
            .iter()
            .find(|r| r["slug"] == slug)
            .map(|r| r["url"].clone())
    };
    assert_eq!(urls("one").unwrap(), "https://example.com/1");
    assert_eq!(urls("three").unwrap(), "https://example.com/3");
    let generated = records
        .iter()
        .find(|r| r["url"] == "https://example.com/2")
        .unwrap();
    let slug = generated["slug"].as_str().unwrap();
    assert!(
        slug.len() == 7 && slug.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{slug}"
    );
}

#[test]
fn bad_lines_are_reported_by_number_and_the_rest_is_imported() {
    let sb = Sandbox::new();
    sb.kurz("d", &["add", "https://example.com/old", "--slug", "taken"])
        .ok();
    let file = write(
        &sb,
        "yourls.csv",
        "keyword,url,title,timestamp,ip,clicks\n\
         good1,https://example.com/1,,2020-01-01 00:00:00,,1\n\
         badurl,javascript:alert(1),,2020-01-01 00:00:00,,1\n\
         bad/slug,https://example.com/3,,2020-01-01 00:00:00,,1\n\
         badtime,https://example.com/4,,last tuesday,,1\n\
         taken,https://example.com/5,,2020-01-01 00:00:00,,1\n\
         badclicks,https://example.com/6,,2020-01-01 00:00:00,,many\n\
         api,https://example.com/7,,2020-01-01 00:00:00,,1\n\
         good2,https://example.com/8,,2020-01-01 00:00:00,,1\n",
    );
    let out = sb.kurz("d", &["import", &file]);
    let err = out.failed();
    assert_eq!(reported(err), [3, 4, 5, 6, 7, 8], "{err}");
    for (line, why) in [
        ("line 3: rejected: url:", ""),
        ("line 4: rejected: slug:", ""),
        ("line 5: rejected: created:", "last tuesday"),
        ("line 6: slug 'taken' exists, skipped", ""),
        ("line 7: rejected: clicks:", "many"),
        ("line 8: rejected: slug:", "reserved"),
    ] {
        let found = err.lines().find(|l| l.starts_with(line));
        assert!(
            found.is_some_and(|l| l.contains(why)),
            "{line} ... {why}\n{err}"
        );
    }
    assert!(
        err.contains("imported 2, skipped 1 existing, rejected 5 invalid"),
        "{err}"
    );
    let slugs: Vec<String> = exported(&sb, "d")
        .iter()
        .map(|r| r["slug"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(slugs, ["good1", "good2", "taken"]);
    // The existing link was left as it was.
    let taken = &exported(&sb, "d")[2];
    assert_eq!(taken["url"], "https://example.com/old");
}

#[test]
fn format_overrides_detection() {
    let sb = Sandbox::new();
    // A YOURLS table dumped without a header: nothing to detect it by.
    let file = write(
        &sb,
        "dump.csv",
        "gh,https://github.com/,GitHub,2019-03-04 05:06:07,127.0.0.1,42\n",
    );
    let err = sb.kurz("d", &["import", &file]).failed().to_owned();
    assert!(err.contains("cannot tell the format"), "{err}");
    assert!(err.contains("--format"), "{err}");

    let out = sb.kurz("d", &["import", &file, "--format", "yourls"]);
    assert!(out.stderr.contains("imported 1"), "{}", out.ok());
    assert_eq!(
        exported(&sb, "d").iter().map(brief).collect::<Vec<_>>(),
        [row("gh", "https://github.com/", "2019-03-04T05:06:07Z", 42)]
    );

    // A Bitly header read as a Shlink export lacks Shlink's columns.
    let bitly = write(&sb, "b.csv", "created,link,long_url,title,clicks\n");
    let err = sb
        .kurz("e", &["import", &bitly, "--format", "shlink"])
        .failed()
        .to_owned();
    assert!(err.contains("lacks the columns"), "{err}");
}

/// Links with every setting and with clicks on days, from a JSON Lines file.
fn seed(sb: &Sandbox, name: &str) {
    let lines = [
        r#"{"slug":"full","url":"https://example.com/f?a=1,2","created_at":"2026-01-02T03:04:05.006Z","expires_at":"2030-01-01T00:00:00Z","max_clicks":100,"redirect_status":301,"clicks":9,"daily":{"2026-01-02":4,"2026-01-03":3}}"#,
        r#"{"slug":"bare","url":"https://example.com/b","created_at":"2025-06-07T08:09:10Z","clicks":0}"#,
        r#"{"slug":"Quo-te_","url":"https://example.com/\"q\"","created_at":"2024-01-01T00:00:00Z","redirect_status":307,"clicks":1}"#,
    ];
    let file = write(sb, "seed.jsonl", &(lines.join("\n") + "\n"));
    sb.kurz(name, &["import", &file]).ok();
}

#[test]
fn csv_and_jsonl_exports_round_trip_through_an_empty_data_dir() {
    let sb = Sandbox::new();
    seed(&sb, "src");
    for format in ["csv", "jsonl"] {
        let first = sb.path().join(format!("first.{format}"));
        let first_arg = first.to_str().unwrap();
        sb.kurz("src", &["export", "--format", format, "-o", first_arg])
            .ok();
        let dst = format!("dst-{format}");
        let out = sb.kurz(&dst, &["import", first_arg]);
        assert!(out.stderr.contains("imported 3, skipped 0"), "{}", out.ok());
        let again = sb.kurz(&dst, &["export", "--format", format]);
        assert_eq!(
            again.ok(),
            std::fs::read_to_string(&first).unwrap(),
            "{format}"
        );
    }
    let csv = std::fs::read_to_string(sb.path().join("first.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("slug,url,created_at,expires_at,max_clicks,redirect_status,clicks")
    );
    assert!(
        csv.contains(
            "full,\"https://example.com/f?a=1,2\",2026-01-02T03:04:05.006Z,\
             2030-01-01T00:00:00Z,100,301,9\n"
        ),
        "{csv}"
    );
    assert!(
        csv.contains("bare,https://example.com/b,2025-06-07T08:09:10Z,,,,0\n"),
        "{csv}"
    );
    // The CSV keeps the total, not the days: imported clicks have no day.
    let from_csv = exported(&sb, "dst-csv");
    let full = from_csv.iter().find(|r| r["slug"] == "full").unwrap();
    assert_eq!(full["clicks"], 9);
    assert_eq!(full["max_clicks"], 100);
    assert_eq!(full["redirect_status"], 301);
    assert_eq!(full["expires_at"], "2030-01-01T00:00:00Z");
}

/// Regression: `kurz import` took a `clicks` of u64::MAX (a total that
/// wrapped to 0 on the next click), ended the whole import at a JSON line
/// that was not UTF-8 (read as a `String`, the decoding error was a read
/// error), and skipped the loop check the API makes (it had no base URL).
#[test]
fn absurd_counts_bad_utf8_and_loops_are_rejected_by_line_alone() {
    let sb = Sandbox::new();
    let line = |slug: &str, url: &str, extra: &str| {
        format!(
            "{{\"slug\":\"{slug}\",\"url\":\"{url}\",\"created_at\":\"2026-01-01T00:00:00Z\"{extra}}}\n"
        )
    };
    let mut bytes = line("ok1", "https://example.com/1", "").into_bytes();
    bytes.extend(
        line(
            "huge",
            "https://example.com/2",
            ",\"clicks\":18446744073709551615",
        )
        .bytes(),
    );
    bytes.extend(
        line(
            "bots",
            "https://example.com/3",
            ",\"bots\":{\"Googlebot\":18446744073709551615}",
        )
        .bytes(),
    );
    bytes.extend(b"{\"slug\":\"bad\xff\",\"url\":\"https://example.com/4\"}\n");
    bytes.extend(line("loop", "https://s.example.org/abc", "").bytes());
    bytes.extend(line("local", "http://127.0.0.1:8080/abc", "").bytes());
    bytes.extend(
        line(
            "ok2",
            "https://example.com/5",
            ",\"clicks\":9007199254740992",
        )
        .bytes(),
    );
    let file = sb.path().join("in.jsonl");
    std::fs::write(&file, bytes).unwrap();
    let file = file.to_str().unwrap();

    let mut cmd = real_binary::kurz(sb.path());
    cmd.env("KURZ_BASE_URL", "https://s.example.org")
        .args(["import", file, "--data"])
        .arg(sb.data("d"));
    let out = real_binary::run_bounded(cmd);
    let stderr = out.failed();
    assert_eq!(reported(stderr), [2, 3, 4, 5], "{stderr}");
    assert!(
        stderr.contains("line 2: rejected: clicks: 18446744073709551615 is more than"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 3: rejected: bots: 18446744073709551615 is more than"),
        "{stderr}"
    );
    assert!(stderr.contains("line 4: rejected: not UTF-8"), "{stderr}");
    assert!(
        stderr.contains("line 5: rejected: url: the url points back"),
        "{stderr}"
    );
    assert!(stderr.contains("imported 3,"), "{stderr}");
    let slugs: Vec<String> = exported(&sb, "d")
        .iter()
        .map(|r| r["slug"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(slugs, ["local", "ok1", "ok2"]);

    // Without a base URL, the one `kurz serve` would use by default.
    let file2 = write(
        &sb,
        "local.jsonl",
        &line("local", "http://127.0.0.1:8080/abc", ""),
    );
    let out = sb.kurz("e", &["import", &file2]);
    assert!(
        out.failed()
            .contains("line 1: rejected: url: the url points back"),
        "{out:?}"
    );

    // `--base-url`, as the server is given it on its command line.
    let file3 = write(
        &sb,
        "flag.jsonl",
        &line("flag", "https://t.example/abc", ""),
    );
    let out = sb.kurz("f", &["import", &file3, "--base-url", "https://t.example"]);
    assert!(
        out.failed()
            .contains("line 1: rejected: url: the url points back"),
        "{out:?}"
    );
    let out = sb.kurz("f", &["import", &file3, "--base-url", "not a url"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
