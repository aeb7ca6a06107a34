//! `kurz backup` and `kurz restore` through the real binary: a restored
//! server takes the old admin key, the old named keys with their scopes,
//! a browser sign-in with the old key and the old YOURLS signatures, and
//! keeps every link, count and password hash; damaged input, a directory
//! in use and a plain export are handled without writing anything wrong.

mod real_binary;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;

use md5::{Digest, Md5};
use real_binary::{Conn, Response, Sandbox, Server};

/// A request with `key` as the bearer key.
fn with_key(addr: SocketAddr, key: &str, method: &str, path: &str, json: Option<&str>) -> Response {
    let auth = format!("Bearer {key}");
    let mut headers = vec![("authorization", auth.as_str())];
    if json.is_some() {
        headers.push(("content-type", "application/json"));
    }
    Conn::open(addr)
        .and_then(|mut c| c.send(method, path, &headers, json.map(str::as_bytes)))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// The links of data directory `name` as `kurz export` writes them.
fn exported(s: &Sandbox, name: &str) -> String {
    s.kurz(name, &["export"]).ok().to_owned()
}

/// A data directory with links (one with a password, one clicked), the
/// admin key, a named write key and the YOURLS token; returns (admin key,
/// named key, token) as they were shown once.
fn populated(s: &Sandbox) -> (String, String, String) {
    let admin = s.kurz("d", &["key", "--new"]).ok().trim().to_owned();
    let named = s
        .kurz("d", &["keys", "add", "ci", "--scope", "write"])
        .ok()
        .trim()
        .to_owned();
    let token = s.kurz("d", &["key", "--yourls"]).ok().trim().to_owned();
    let server = Server::start_with(&s.data("d"), &[]);
    let made = with_key(
        server.addr,
        &admin,
        "POST",
        "/api/links",
        Some(r#"{"url":"https://example.com/open","slug":"open"}"#),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let made = with_key(
        server.addr,
        &admin,
        "POST",
        "/api/links",
        Some(r#"{"url":"https://example.com/shut","slug":"shut","password":"sesame-123"}"#),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    for _ in 0..3 {
        assert_eq!(real_binary::get(server.addr, "/open").status, 302);
    }
    let (status, _) = server.terminate();
    assert!(status.success());
    (admin, named, token)
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_restored_backup_takes_the_old_keys_and_keeps_every_link() {
    let s = Sandbox::new();
    let (admin, named, token) = populated(&s);
    let before = exported(&s, "d");
    assert!(before.contains("\"clicks\":3") && before.contains("password_hash"));

    let file = s.path().join("kurz.backup");
    s.kurz("d", &["backup", file.to_str().unwrap()]).ok();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(&admin) && !text.contains(&named),
        "a key in clear"
    );

    let out = s.kurz("r", &["restore", file.to_str().unwrap()]);
    assert!(out.ok().is_empty());
    assert!(out.stderr.contains("restored 2 links"), "{}", out.stderr);
    let restored = s.data("r");
    for f in ["api-key", "keys", "yourls-token"] {
        let mode = std::fs::metadata(restored.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let mode = std::fs::metadata(&restored).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    assert_eq!(exported(&s, "r"), before, "links, counts, hashes");

    let server = Server::start_with(&restored, &[]);
    let addr = server.addr;
    // No new key was made: the banner shows none.
    assert!(
        !server.banner.join("\n").contains("API key"),
        "{:?}",
        server.banner
    );
    assert_eq!(with_key(addr, &admin, "GET", "/api/keys", None).status, 200);
    assert_eq!(
        with_key(addr, "not-the-key-0123456789", "GET", "/api/links", None).status,
        401
    );
    // The named key: write, and no more.
    let r = with_key(
        addr,
        &named,
        "POST",
        "/api/links",
        Some(r#"{"url":"https://example.com/new","slug":"new"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(with_key(addr, &named, "GET", "/api/keys", None).status, 403);
    // A browser sign-in with the old admin key.
    let body = format!(r#"{{"key":"{admin}"}}"#);
    let r = Conn::open(addr)
        .and_then(|mut c| {
            c.send(
                "POST",
                "/api/session",
                &[("content-type", "application/json")],
                Some(body.as_bytes()),
            )
        })
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    let cookie = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let r = Conn::open(addr)
        .and_then(|mut c| c.send("GET", "/api/keys", &[("cookie", &cookie)], None))
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // A YOURLS request signed with the old token and a timestamp.
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let sig = md5_hex(&format!("{ts}{token}"));
    let path = format!("/yourls-api.php?action=version&format=json&timestamp={ts}&signature={sig}");
    let r = real_binary::get(addr, &path);
    assert_eq!(r.status, 200, "{}", r.text());
    // The password still guards its link.
    assert_ne!(real_binary::get(addr, "/shut").status, 302);
    assert_eq!(real_binary::get(addr, "/open").status, 302);
    let (status, _) = server.terminate();
    assert!(status.success());
}

#[test]
fn restore_refuses_a_directory_in_use_and_damaged_files_and_writes_nothing() {
    let s = Sandbox::new();
    s.kurz("d", &["add", "https://example.com/a", "--slug", "a"])
        .ok();
    s.kurz("d", &["keys", "add", "ci", "--scope", "read"]).ok();
    let file = s.path().join("kurz.backup");
    s.kurz("d", &["backup", file.to_str().unwrap()]).ok();
    let text = std::fs::read_to_string(&file).unwrap();
    let listing = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    // Into a directory that holds a database and keys: refused, unchanged.
    let before = listing(&s.data("d"));
    let err = s
        .kurz("d", &["restore", file.to_str().unwrap()])
        .failed()
        .to_owned();
    assert!(
        err.contains("is not empty") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(listing(&s.data("d")), before);

    // A damaged credentials record, a link line cut short, an empty file.
    let header_end = text.find('\n').unwrap();
    let cases = [
        (
            "bad-digest",
            text.replacen("sha256:", "sha256:zz", 1),
            "credentials record is damaged",
        ),
        (
            "cut-header",
            text[..header_end / 2].to_owned(),
            "credentials record is damaged",
        ),
        ("cut-link", text[..text.len() - 10].to_owned(), "is damaged"),
        ("empty", String::new(), "is empty"),
    ];
    let top = listing(s.path());
    for (name, content, says) in cases {
        let bad = s.path().join(name);
        std::fs::write(&bad, content).unwrap();
        let err = s
            .kurz("r", &["restore", bad.to_str().unwrap()])
            .failed()
            .to_owned();
        assert!(
            err.contains(says) && err.contains("nothing was restored"),
            "{name}: {err}"
        );
        assert!(!s.data("r").exists(), "{name}: a restore was left behind");
        std::fs::remove_file(&bad).unwrap();
        assert_eq!(
            listing(s.path()),
            top,
            "{name}: a staging directory was left"
        );
    }

    // A plain export: links only, and it says so.
    let export = s.path().join("plain.jsonl");
    s.kurz("d", &["export", "-o", export.to_str().unwrap()])
        .ok();
    let out = s.kurz("r", &["restore", export.to_str().unwrap()]);
    out.ok();
    assert!(
        out.stderr.contains("plain export") && out.stderr.contains("links only"),
        "{}",
        out.stderr
    );
    assert_eq!(s.slugs("r"), ["a"]);
    assert!(!s.data("r").join("keys").exists() && !s.data("r").join("api-key").exists());

    // A plain import reads a backup as links, and says what it skipped.
    let out = s.kurz("i", &["import", file.to_str().unwrap()]);
    out.ok();
    assert!(
        out.stderr.contains("not imported: `kurz restore`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("imported 1,") && out.stderr.contains("rejected 0"),
        "{}",
        out.stderr
    );
    assert!(!s.data("i").join("keys").exists());
}

/// `GET path` as HTTP/1.0 with `key`: the whole answer until the server
/// closes, head and body (no chunked coding to undo).
fn get_1_0(addr: SocketAddr, key: &str, path: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, real_binary::WAIT).unwrap();
    s.set_read_timeout(Some(real_binary::WAIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nauthorization: Bearer {key}\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&all[..end]).to_ascii_lowercase();
    (head, all[end + 4..].to_vec())
}

#[test]
fn a_running_server_is_backed_up_over_http_for_an_admin_only() {
    let s = Sandbox::new();
    let (admin, named, token) = populated(&s);
    let server = Server::start_with(&s.data("d"), &[]);
    let (head, _) = get_1_0(server.addr, &named, "/api/backup");
    assert!(head.starts_with("http/1.0 403"), "{head}");
    let (head, body) = get_1_0(server.addr, &admin, "/api/backup");
    assert!(head.starts_with("http/1.0 200"), "{head}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(head.contains("kurz-backup-"), "{head}");
    let (status, _) = server.terminate();
    assert!(status.success());
    let file = s.path().join("http.backup");
    std::fs::write(&file, &body).unwrap();
    s.kurz("r", &["restore", file.to_str().unwrap()]).ok();
    assert_eq!(exported(&s, "r"), exported(&s, "d"));

    let server = Server::start_with(&s.data("r"), &[]);
    assert_eq!(
        with_key(server.addr, &admin, "GET", "/api/keys", None).status,
        200
    );
    assert_eq!(
        with_key(server.addr, &named, "GET", "/api/links", None).status,
        200
    );
    let r = real_binary::get(
        server.addr,
        &format!("/yourls-api.php?action=version&format=json&signature={token}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (status, _) = server.terminate();
    assert!(status.success());
}
