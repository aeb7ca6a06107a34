//! 10,000 concurrent idle connections do not keep a new client from being
//! redirected: the real binary, once with its default connection cap (the
//! longest-idle connections are closed to make room) and once with a cap
//! above the crowd (every idle connection is held, and the newcomer is
//! still served at once).

mod real_binary;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use real_binary::{api, get, Server, WAIT};

/// The crowd the issue asks for.
const CROWD: usize = 10_000;
/// The longest a newcomer may take to be redirected (a liveness bound, far
/// below the idle timeout the servers run with, so no sweep can help).
const NEWCOMER_BOUND: Duration = Duration::from_secs(5);

/// Raises this process's open-file limit and returns how many idle
/// connections it can hold besides its other files.
fn crowd_size() -> usize {
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let room = usize::try_from(files.saturating_sub(256)).unwrap_or(usize::MAX);
    if room < CROWD {
        eprintln!("open-file limit {files}: the crowd shrinks to {room} connections");
    }
    CROWD.min(room)
}

/// Opens `n` connections that never send a byte.
fn open_crowd(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            TcpStream::connect_timeout(&addr, WAIT)
                .unwrap_or_else(|e| panic!("idle connection {i} could not connect: {e}"))
        })
        .collect()
}

/// How many of `crowd` the server has closed.
fn closed_by_server(crowd: &[TcpStream]) -> usize {
    crowd
        .iter()
        .filter(|c| {
            c.set_nonblocking(true).unwrap();
            !matches!(c.peek(&mut [0u8; 1]), Err(e) if e.kind() == ErrorKind::WouldBlock)
        })
        .count()
}

/// Redirects a newcomer on `addr` and returns how long it took.
fn newcomer_is_redirected(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let r = get(addr, "/crowd");
    let took = started.elapsed();
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("https://example.com/crowd"));
    assert!(
        took < NEWCOMER_BOUND,
        "a newcomer waited {took:?} behind idle connections"
    );
    took
}

fn start(dir: &tempfile::TempDir, extra: &[&str]) -> Server {
    let mut args = vec!["--api-key", real_binary::KEY, "--idle-timeout", "600"];
    args.extend_from_slice(extra);
    let server = Server::start_with(&dir.path().join("data"), &args);
    let r = api(
        server.addr,
        "POST",
        "/api/links",
        Some(r#"{"url": "https://example.com/crowd", "slug": "crowd"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    server
}

#[test]
fn ten_thousand_idle_connections_do_not_keep_a_new_client_out() {
    let n = crowd_size();

    // The default cap (4096): the server closes the longest-idle ones.
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir, &[]);
    let t = Instant::now();
    let crowd = open_crowd(server.addr, n);
    eprintln!("opened in {:?}", t.elapsed());
    let took = newcomer_is_redirected(server.addr);
    let closed = closed_by_server(&crowd);
    eprintln!("default cap: newcomer redirected in {took:?}; the server closed {closed} of {n} idle connections");
    // At most the cap is held, plus what still waits in the listen backlog.
    let held_at_most = kurz::http::conns::MAX_CONNECTIONS + 4096;
    assert!(
        n <= held_at_most || closed >= n - held_at_most,
        "only {closed} of {n} closed: the cap was not enforced"
    );
    drop(crowd);
    assert_eq!(get(server.addr, "/healthz").status, 200);
    let t = Instant::now();
    drop(server);
    eprintln!("dropped in {:?}", t.elapsed());

    // A cap above the crowd: every idle connection is held, none closed.
    let dir = tempfile::tempdir().unwrap();
    let cap = (n + 1000).to_string();
    let server = start(&dir, &["--max-connections", &cap]);
    let t = Instant::now();
    let crowd = open_crowd(server.addr, n);
    eprintln!("opened in {:?}", t.elapsed());
    let took = newcomer_is_redirected(server.addr);
    let closed = closed_by_server(&crowd);
    eprintln!(
        "cap {cap}: newcomer redirected in {took:?}; {closed} of {n} idle connections closed"
    );
    if server.log_tail().contains("open-file limit allows fewer") {
        eprintln!("the server's open-file limit lowered its cap; some idle connections were closed to make room");
    } else {
        assert_eq!(closed, 0, "idle connections were closed below the cap");
    }
    drop(crowd);
    assert_eq!(get(server.addr, "/healthz").status, 200);
}
