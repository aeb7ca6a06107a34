//! The deployment files in `docs/` work with the real binary: the systemd
//! unit's `kurz serve` flags start a server (on a temporary data directory
//! and a free port instead of the unit's) whose short URLs use the unit's
//! public base URL.

mod real_binary;

use real_binary::{api, get, Sandbox, Server, KEY};

/// The arguments of the unit's `ExecStart=` after the program.
fn exec_start() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/kurz.service");
    let unit = std::fs::read_to_string(path).unwrap();
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
