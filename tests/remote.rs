//! The admin commands through a running server (`--server`), with the real
//! binary on both sides: the same output as offline on the same data, the
//! errors a user meets (no answer, a wrong key, an unknown slug), `add`'s
//! options and password, `check`, and `import`'s refusal to drop what the
//! API cannot take.

mod real_binary;

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use real_binary::{api, get, kurz, run_bounded, Output, Sandbox, Server, KEY};

/// `kurz ARGS --data DATA --server http://ADDR --api-key-file KEYFILE`.
fn remote(sb: &Sandbox, server: &Server, args: &[&str]) -> Output {
    let key_file = sb.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let url = format!("http://{}", server.addr);
    let mut all = args.to_vec();
    all.extend([
        "--server",
        &url,
        "--api-key-file",
        key_file.to_str().unwrap(),
    ]);
    sb.kurz("d", &all)
}

/// `kurz ARGS --data <sandbox>/d` with `stdin` as standard input.
fn with_stdin(sb: &Sandbox, args: &[&str], stdin: &str) -> Output {
    let input = sb.path().join("stdin");
    std::fs::write(&input, stdin).unwrap();
    let mut cmd = kurz(sb.path());
    cmd.args(args)
        .arg("--data")
        .arg(sb.data("d"))
        .stdin(Stdio::from(std::fs::File::open(&input).unwrap()));
    run_bounded(cmd)
}

fn start(sb: &Sandbox) -> Server {
    Server::start_with(
        &sb.data("d"),
        &["--api-key", KEY, "--base-url", "https://s.example/"],
    )
}

#[test]
fn list_stats_and_export_print_the_same_through_the_server_as_offline() {
    let sb = Sandbox::new();
    for (slug, url) in [
        ("one", "https://example.com/1"),
        ("two", "https://example.com/2"),
    ] {
        sb.kurz("d", &["add", url, "--slug", slug, "--tags", "a,b"])
            .ok();
    }
    let server = start(&sb);
    for _ in 0..3 {
        let mut c = real_binary::Conn::open(server.addr).unwrap();
        let r = c
            .send(
                "GET",
                "/one",
                &[("referer", "https://news.example/x")],
                None,
            )
            .unwrap();
        assert_eq!(r.status, 302);
    }
    assert_eq!(get(server.addr, "/two").status, 302);
    let (status, _) = server.terminate();
    assert!(status.success());
    let commands: &[&[&str]] = &[
        &["list"],
        &["list", "--limit", "1"],
        &["stats", "one", "--days", "3"],
        &["stats", "two"],
        &["export"],
        &["export", "--format", "csv"],
    ];
    let offline: Vec<String> = commands
        .iter()
        .map(|args| sb.kurz("d", args).ok().to_owned())
        .collect();
    let server = start(&sb);
    for (args, expected) in commands.iter().zip(&offline) {
        let out = remote(&sb, &server, args);
        assert_eq!(out.ok(), expected, "{args:?}");
    }
    assert!(offline[2].contains("news.example  3"), "{}", offline[2]);
    // -o writes the same file and says how many links.
    let file = sb.path().join("out.jsonl");
    let out = remote(&sb, &server, &["export", "-o", file.to_str().unwrap()]);
    assert!(out.stderr.contains("exported 2 links"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), offline[4]);
}

#[test]
fn errors_through_the_server_say_what_to_fix() {
    let sb = Sandbox::new();
    let server = start(&sb);
    let url = format!("http://{}", server.addr);
    // An unknown slug.
    for args in [&["stats", "nope"][..], &["delete", "nope"][..]] {
        let err = remote(&sb, &server, args).failed().to_owned();
        assert!(err.contains("no link with slug 'nope'"), "{args:?}: {err}");
    }
    // A wrong key; the key is never quoted back.
    let wrong = "wrong-key-0123456789abcdef";
    let out = sb.kurz("d", &["list", "--server", &url, "--api-key", wrong]);
    let err = out.failed();
    assert!(
        err.contains("401") && err.contains("refused the API key"),
        "{err}"
    );
    assert!(!err.contains(wrong), "{err}");
    // A key without the scope: the server's own reason, and exit 1.
    let read_key = sb.kurz("d", &["keys", "add", "reader", "--scope", "read"]);
    let read_key = read_key.ok().trim().to_owned();
    let out = sb.kurz(
        "d",
        &["delete", "x", "--server", &url, "--api-key", &read_key],
    );
    let err = out.failed();
    assert!(
        err.contains("answered 403") && err.contains("write"),
        "{err}"
    );
    assert!(!err.contains(&read_key), "{err}");
    // No key at all.
    let err = sb
        .kurz("d", &["list", "--server", &url])
        .failed()
        .to_owned();
    assert!(err.contains("--api-key-file"), "{err}");
    // HTTPS is refused at once with what to do instead.
    let err = sb
        .kurz("d", &["list", "--server", "https://s.example/"])
        .failed()
        .to_owned();
    assert!(err.contains("plain HTTP"), "{err}");
    // Nobody listening.
    let (status, _) = server.terminate();
    assert!(status.success());
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let out = sb.kurz("d", &["list", "--server", &gone, "--api-key", KEY]);
    let err = out.failed();
    assert!(
        err.contains(&format!("cannot reach the kurz server at {gone}")),
        "{err}"
    );
}

#[test]
fn add_takes_the_apis_options_and_a_password_from_stdin_never_argv() {
    let sb = Sandbox::new();
    let server = start(&sb);
    let url = format!("http://{}", server.addr);
    let args = [
        "add",
        "https://example.com/locked",
        "--slug",
        "locked",
        "--tags",
        "Docs,rust",
        "--expires",
        "2099-01-01T00:00:00Z",
        "--max-clicks",
        "5",
        "--password",
        "--server",
        &url,
        "--api-key",
        KEY,
    ];
    let out = with_stdin(&sb, &args, "s3cret-pw\n");
    // The server's own base URL, not 127.0.0.1:8080.
    assert_eq!(out.ok(), "https://s.example/locked\n");
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
    let link = api(server.addr, "GET", "/api/links/locked", None).json();
    assert_eq!(link["tags"], serde_json::json!(["docs", "rust"]));
    assert_eq!(link["max_clicks"], 5);
    assert_eq!(link["expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(link["protected"], true);
    // The API's validation and messages, offline and through the server.
    for (extra, message) in [
        (
            &["--expires", "2001-01-01T00:00:00Z"][..],
            "expires_at: must be in the future",
        ),
        (&["--max-clicks", "0"][..], "max_clicks"),
        (&["--tags", "no spaces"][..], "tags"),
    ] {
        let mut through = vec!["add", "https://example.com/bad"];
        through.extend(extra);
        let online = remote(&sb, &server, &through);
        assert!(
            online.failed().contains(message),
            "{extra:?}: {}",
            online.stderr
        );
        assert!(online.stdout.is_empty());
    }
    let (status, _) = server.terminate();
    assert!(status.success());
    let out = with_stdin(
        &sb,
        &[
            "add",
            "https://example.com/off",
            "--slug",
            "off",
            "--password",
            "--tags",
            "x",
        ],
        "other-pw\n",
    );
    assert_eq!(out.ok(), "https://s.example/off\n");
    let out = sb.kurz("d", &["add", "https://example.com/", "--max-clicks", "0"]);
    assert!(out.failed().contains("max_clicks"), "{}", out.stderr);
    let export = sb.kurz("d", &["export"]).ok().to_owned();
    let off: Value = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["slug"] == "off")
        .unwrap();
    assert!(off["password_hash"]
        .as_str()
        .unwrap()
        .starts_with("$argon2id$"));
    assert_eq!(off["tags"], serde_json::json!(["x"]));
    assert!(!export.contains("other-pw"));
    // An empty stdin is not a password.
    let out = with_stdin(&sb, &["add", "https://example.com/e", "--password"], "");
    assert!(out.failed().contains("--password"), "{}", out.stderr);
}

#[test]
fn delete_and_check_work_through_the_server() {
    let sb = Sandbox::new();
    sb.kurz("d", &["add", "https://example.com/1", "--slug", "one"])
        .ok();
    let server = start(&sb);
    let out = remote(&sb, &server, &["check"]);
    let text = out.ok();
    assert!(text.contains("ok: 1 links"), "{text}");
    assert!(text.contains("bookkeeping"), "{text}");
    // KURZ_SERVER and KURZ_API_KEY instead of the flags.
    let mut cmd = kurz(sb.path());
    cmd.args(["list", "--data"])
        .arg(sb.data("d"))
        .env("KURZ_SERVER", format!("http://{}", server.addr))
        .env("KURZ_API_KEY", KEY);
    let listed = run_bounded(cmd);
    assert!(listed.ok().starts_with("one\t0\t"), "{listed:#?}");
    assert_eq!(
        remote(&sb, &server, &["delete", "one"]).ok(),
        "deleted one\n"
    );
    assert_eq!(remote(&sb, &server, &["list"]).ok(), "");
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn import_through_the_server_refuses_what_the_api_cannot_take_unless_partial() {
    let sb = Sandbox::new();
    let server = start(&sb);
    let list = write(
        sb.path(),
        "list.txt",
        "https://example.com/a,a\nhttps://example.com/b,b\n",
    );
    let out = remote(&sb, &server, &["import", &list]);
    assert!(out.success(), "{out:#?}");
    assert!(
        out.stderr.contains("imported 2, skipped 0"),
        "{}",
        out.stderr
    );
    let history = concat!(
        r#"{"slug":"old","url":"https://example.com/old","created_at":"2020-01-01T00:00:00Z","clicks":4,"daily":{"2020-01-02":4}}"#,
        "\n",
        r#"{"slug":"pw","url":"https://example.com/pw","created_at":"2020-01-01T00:00:00Z","password_hash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0000000000000000000000000000000000000000000"}"#,
        "\n",
        r#"{"slug":"a","url":"https://example.com/a","created_at":"2020-01-01T00:00:00Z"}"#,
        "\n",
    );
    let file = write(sb.path(), "backup.jsonl", history);
    let out = remote(&sb, &server, &["import", &file]);
    let err = out.failed();
    assert!(
        err.contains("line 1: rejected: the API cannot take its clicks, created_at"),
        "{err}"
    );
    assert!(err.contains("line 2: rejected: its password_hash"), "{err}");
    assert!(err.contains("line 3: rejected"), "{err}");
    assert!(!err.contains("argon2id$"), "{err}");
    let out = remote(&sb, &server, &["import", &file, "--partial"]);
    let err = out.failed();
    assert!(
        err.contains("line 1: imported without its clicks, created_at"),
        "{err}"
    );
    assert!(err.contains("line 2: rejected: its password_hash"), "{err}");
    assert!(err.contains("line 3: slug 'a' exists, skipped"), "{err}");
    assert!(
        err.contains(
            "imported 1 (1 without what the API cannot take), skipped 1 existing, rejected 1"
        ),
        "{err}"
    );
    let slugs: Vec<String> = remote(&sb, &server, &["list"])
        .ok()
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect();
    assert_eq!(slugs.len(), 3, "{slugs:?}");
    assert!(!slugs.contains(&"pw".to_owned()));
}

#[test]
fn the_password_prompt_on_a_terminal_does_not_echo() {
    let sb = Sandbox::new();
    let data = sb.data("d");
    // `script` gives kurz a terminal; the password is typed a moment after
    // start, once the prompt has turned echo off (typed earlier, the
    // terminal would echo it, and the prompt's flush would drop it).
    let inner = format!(
        "{} add https://example.com/t --slug t --password --data {}",
        env!("CARGO_BIN_EXE_kurz"),
        data.display()
    );
    let mut cmd = std::process::Command::new("bash");
    cmd.args([
        "-c",
        "(sleep 2; printf 'typed-pw-123\\n'; sleep 1) | script -qec \"$1\" /dev/null",
        "bash",
        &inner,
    ])
    .current_dir(sb.path())
    .env("HOME", sb.path());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KURZ_") {
            cmd.env_remove(&name);
        }
    }
    let out = run_bounded(cmd);
    let transcript = out.ok();
    assert!(
        transcript.contains("Password for the link:"),
        "{transcript}"
    );
    assert!(
        transcript.contains("http://127.0.0.1:8080/t"),
        "{transcript}"
    );
    assert!(!transcript.contains("typed-pw-123"), "echoed: {transcript}");
    let export = sb.kurz("d", &["export"]).ok().to_owned();
    assert!(
        export.contains("\"password_hash\":\"$argon2id$"),
        "{export}"
    );
}
