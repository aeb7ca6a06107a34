//! Usage as clap reports it, through the real binary: bad settings exit 2
//! with a message naming the flag, `--data` goes before or after a
//! subcommand while server settings do not, and `--help` describes every
//! command without showing the API key from the environment.

mod real_binary;

use real_binary::{run, Output, Sandbox};

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

/// Regression: `--listen` took only `IP:PORT`, so `localhost:8080` and
/// `:8080` were refused with std's "invalid socket address syntax".
#[test]
fn bad_listen_addresses_are_refused_in_plain_words() {
    let sb = Sandbox::new();
    for (listen, says) in [
        ("localhost", "has no port"),
        ("localhost:99999", "a number from 0 to 65535"),
        ("::1:8080", "IPv6 address in brackets"),
        ("no_such host:80", "neither an IP address nor a host name"),
    ] {
        let out = sb.kurz("d", &["serve", "--listen", listen]);
        assert_usage_error(&out, "--listen");
        assert!(out.stderr.contains(says), "{listen}: {out:#?}");
        assert!(out.stderr.contains(":PORT"), "{listen}: {out:#?}");
        assert!(!out.stderr.contains("socket address syntax"), "{out:#?}");
    }
    // The environment twin is read the same way.
    let mut cmd = real_binary::kurz(sb.path());
    cmd.env("KURZ_LISTEN", "localhost")
        .args(["serve", "--data", "d"]);
    let out = real_binary::run_bounded(cmd);
    assert_usage_error(&out, "--listen");
    assert!(out.stderr.contains("has no port"), "{out:#?}");
    assert!(
        !sb.data("d").exists(),
        "a refused start must not create data"
    );
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

// clap's error for a refused value quotes it ("invalid value '…' for
// '--api-key'"), so a key one character short landed whole in journald.
#[test]
fn a_refused_api_key_is_never_echoed() {
    let sb = Sandbox::new();
    for secret in ["shortkey-123456", "has spaces in it, sixteen+"] {
        let out = sb.kurz(
            "d",
            &["serve", "--listen", "127.0.0.1:0", "--api-key", secret],
        );
        assert_eq!(out.status.code(), Some(2), "{out:#?}");
        assert!(out.stderr.contains("--api-key"), "{}", out.stderr);
        assert!(
            !out.stderr.contains(secret),
            "the key was echoed: {}",
            out.stderr
        );
        assert!(
            !out.stdout.contains(secret),
            "the key was echoed: {}",
            out.stdout
        );

        let mut cmd = real_binary::kurz(sb.path());
        cmd.args(["--data", "d", "serve", "--listen", "127.0.0.1:0"])
            .env("KURZ_API_KEY", secret);
        let out = real_binary::run_bounded(cmd);
        assert_eq!(out.status.code(), Some(2), "{out:#?}");
        assert!(out.stderr.contains("KURZ_API_KEY"), "{}", out.stderr);
        assert!(
            !out.stderr.contains(secret),
            "the key was echoed: {}",
            out.stderr
        );
    }
    assert!(
        !sb.data("d").exists(),
        "a refused start must not create data"
    );
}
