//! A data directory that cannot be written, a disk below the free-space
//! reserve, and writes failing at runtime: start-up fails naming the
//! directory, writes get 503 while redirects go on, `/healthz` says why, and
//! nothing acknowledged is lost. The real binary throughout; a full disk is
//! simulated with a file size limit (`ulimit -f`), which fails writes the
//! same way and needs no privileges.

mod real_binary;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use real_binary::{api, get, kurz, kurz_with_file_limit, run, run_bounded, Server, KEY};

fn serve_args(data: &Path) -> Vec<String> {
    let data = data.to_string_lossy().into_owned();
    [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        KEY,
        "--data",
        &data,
    ]
    .map(String::from)
    .to_vec()
}

fn create(server: &Server, slug: &str, url: &str) -> u16 {
    let body = serde_json::json!({ "url": url, "slug": slug }).to_string();
    api(server.addr, "POST", "/api/links", Some(&body)).status
}

#[test]
fn a_data_dir_that_cannot_be_written_stops_the_start_and_is_named() {
    let dir = tempfile::tempdir().unwrap();

    // No room to write at all.
    let data = dir.path().join("full");
    let mut cmd = kurz_with_file_limit(dir.path(), 0);
    cmd.args(serve_args(&data));
    let err = run_bounded(cmd).failed().to_owned();
    assert!(err.contains(&*data.to_string_lossy()), "{err}");
    assert!(err.contains("File too large"), "{err}");

    // A data path that is a file.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let mut cmd = kurz(dir.path());
    cmd.args(serve_args(&file));
    let err = run_bounded(cmd).failed().to_owned();
    assert!(err.contains(&*file.to_string_lossy()), "{err}");

    // A read-only directory (root ignores file modes, so only for others).
    let probe = dir.path().join("probe");
    std::fs::write(&probe, "").unwrap();
    if std::fs::metadata(&probe).unwrap().uid() != 0 {
        let ro = dir.path().join("read-only");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let mut cmd = kurz(dir.path());
        cmd.args(serve_args(&ro));
        let err = run_bounded(cmd).failed().to_owned();
        assert!(err.contains(&*ro.to_string_lossy()), "{err}");
    }
}

#[test]
fn below_the_disk_reserve_writes_get_503_and_redirects_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    for i in 0..3 {
        assert_eq!(
            create(
                &server,
                &format!("r{i}"),
                &format!("https://example.com/{i}")
            ),
            201
        );
    }
    assert!(server.terminate().0.success());

    // A reserve of 1 TiB: more than this disk has free.
    let server = Server::start_with(&data, &["--api-key", KEY, "--min-free-mb", "1048576"]);
    let health = get(server.addr, "/healthz");
    assert_eq!(health.status, 503);
    assert!(health.text().contains("MiB free"), "{}", health.text());
    let r = api(
        server.addr,
        "POST",
        "/api/links",
        Some(r#"{"url": "https://example.com/new", "slug": "new"}"#),
    );
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(
        r.json()["detail"].as_str().unwrap().contains("disk"),
        "{}",
        r.text()
    );
    let r = api(
        server.addr,
        "PATCH",
        "/api/links/r0",
        Some(r#"{"max_clicks": 5}"#),
    );
    assert_eq!(r.status, 503, "{}", r.text());
    // Reading and redirecting go on; clicks are counted.
    for i in 0..3 {
        let r = get(server.addr, &format!("/r{i}"));
        assert_eq!(r.status, 302);
        assert_eq!(
            r.header("location"),
            Some(&*format!("https://example.com/{i}"))
        );
    }
    let r = api(server.addr, "GET", "/api/links/r0", None);
    assert_eq!(r.json()["clicks"], 1, "{}", r.text());
    // Deleting frees space, so it stays allowed.
    assert_eq!(
        api(server.addr, "DELETE", "/api/links/r2", None).status,
        204
    );
    assert!(server.terminate().0.success());

    // With room again, everything is there, the click included.
    let server = Server::start(&data);
    assert_eq!(get(server.addr, "/healthz").status, 200);
    assert_eq!(
        api(server.addr, "GET", "/api/links/r0", None).json()["clicks"],
        1
    );
    assert_eq!(api(server.addr, "GET", "/api/links/r1", None).status, 200);
    assert_eq!(api(server.addr, "GET", "/api/links/r2", None).status, 404);
    assert_eq!(create(&server, "new", "https://example.com/new"), 201);
    assert!(server.terminate().0.success());
}

#[test]
fn a_write_failing_at_runtime_gives_503_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // 2 MiB per file: room to start and for a few hundred links.
    let server = Server::launch(
        kurz_with_file_limit(dir.path(), 2048),
        &data,
        &["--api-key", KEY],
    );
    let long = "x".repeat(2000);
    let target = |i: usize| format!("https://example.com/{long}/{i}");
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for i in 0..5000 {
        let body = serde_json::json!({ "url": target(i), "slug": format!("w{i}") }).to_string();
        let r = api(server.addr, "POST", "/api/links", Some(&body));
        if r.status == 201 {
            acknowledged.push(i);
            // The first few are redirected once, so they are in the cache.
            if i < 10 {
                assert_eq!(get(server.addr, &format!("/w{i}")).status, 302);
            }
            continue;
        }
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        refused = Some(r.status);
        break;
    }
    assert_eq!(refused, Some(503), "no write failed in 5000 links");
    assert!(acknowledged.len() >= 10, "{} links", acknowledged.len());
    // Still up: cached links redirect, and /healthz says what happened.
    for i in 0..10 {
        let r = get(server.addr, &format!("/w{i}"));
        assert_eq!(r.status, 302, "{}", r.text());
        assert_eq!(r.header("location"), Some(&*target(i)));
    }
    let health = get(server.addr, "/healthz");
    assert_eq!(health.status, 503);
    assert!(health.text().contains("restart kurz"), "{}", health.text());
    let (status, _) = server.terminate();
    assert!(!status.success(), "the final flush cannot have succeeded");

    // Restarted with room: every acknowledged link is there, intact.
    let out = run(dir.path(), &["check", "--data", &data.to_string_lossy()]);
    assert!(out.success(), "{out:#?}");
    let server = Server::start(&data);
    for &i in &acknowledged {
        let r = api(server.addr, "GET", &format!("/api/links/w{i}"), None);
        assert_eq!(r.status, 200, "w{i} lost");
        assert_eq!(r.json()["url"], target(i));
    }
    assert_eq!(create(&server, "after", "https://example.com/after"), 201);
    assert!(server.terminate().0.success());
}
