//! The API key file and `kurz key`, through the real binary: the key is
//! printed once when made, the file keeps only its digest (mode 0600), a
//! file in clear from an earlier kurz is converted, `kurz key --new`
//! replaces the key at the next start, and `kurz key` says why it cannot
//! show it.

mod real_binary;

use real_binary::{api, Sandbox, Server};
use std::os::unix::fs::PermissionsExt;

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

/// Regression: the key was made and printed before the port was bound, so a
/// start on a busy port used up its one display and the next start showed none.
#[test]
fn a_start_on_a_busy_port_does_not_use_up_the_key_display() {
    let sb = Sandbox::new();
    let data = sb.data("d");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let out = sb.kurz("d", &["serve", "--listen", &busy]);
    let err = out.failed();
    assert!(err.contains(&format!("cannot listen on {busy}")), "{err}");
    assert!(!out.stdout.contains("API key"), "{out:#?}");
    assert!(!data.join("api-key").exists(), "a key file was written");
    drop(taken);

    // The next start is still the first: it makes and shows the key.
    let server = Server::start_with(&data, &[]);
    let key = printed_key(&server);
    assert!(accepts(&server, &key));
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

/// Every directory and file under `root` (itself included) with its mode.
fn modes(root: &std::path::Path) -> Vec<(std::path::PathBuf, u32)> {
    let mut out = vec![];
    let mut todo = vec![root.to_owned()];
    while let Some(p) = todo.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        out.push((p.clone(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    out
}

fn assert_private(root: &std::path::Path) {
    for (path, mode) in modes(root) {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} is {mode:o}", path.display());
    }
}

// The data directory was 0755 and `db/*` and `kurz export -o` files 0644,
// so any user of the machine could read targets and password hashes.
#[test]
fn the_data_directory_and_exports_are_for_their_owner_alone() {
    let sb = Sandbox::new();
    let data = sb.data("d");
    let server = Server::start_with(&data, &[]);
    let key = printed_key(&server);
    let auth = format!("Bearer {key}");
    let body = r#"{"url":"https://example.com/private","slug":"p","password":"s3cret-pass"}"#;
    let r = real_binary::Conn::open(server.addr)
        .and_then(|mut c| {
            c.send(
                "POST",
                "/api/links",
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                Some(body.as_bytes()),
            )
        })
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let (status, _) = server.terminate();
    assert!(status.success(), "{status}");
    assert_private(&data);

    // An export file is private even when it existed with a looser mode.
    let out = sb.path().join("backup.jsonl");
    std::fs::write(&out, "").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exported = sb.kurz("d", &["export", "-o", out.to_str().unwrap()]);
    assert!(exported.success(), "{exported:#?}");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "export is {mode:o}");
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("\"slug\":\"p\""));

    // What an older kurz left open is narrowed on the next open.
    for (path, _) in modes(&data) {
        let loose = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
    }
    assert!(sb.kurz("d", &["list"]).success());
    assert_private(&data);
}
