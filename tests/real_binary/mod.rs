//! Helpers for tests that run the real `kurz` binary as a child process.
//!
//! Every child gets a scrubbed environment (no `KURZ_*` variable of the
//! developer's shell, `HOME` and the working directory inside the test's
//! temporary directory), every wait is bounded, and a server child is killed
//! when its guard drops, so a failing test never leaves a process behind.
//! The HTTP client is a few lines of HTTP/1.1 over a loopback `TcpStream`:
//! enough to read statuses, headers and JSON bodies, nothing more.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// The API key servers are started with (at least 16 characters).
pub const KEY: &str = "cli-test-key-0123456789";

/// Upper bound of any single wait: a command, a server start or stop, a
/// socket read. Generous for a loaded 2-core machine, yet a hang still
/// fails the test instead of stalling the suite.
pub const WAIT: Duration = Duration::from_secs(20);

/// A `kurz` command whose environment cannot leak the developer's settings.
pub fn kurz(cwd: &Path) -> Command {
    scrubbed(Command::new(env!("CARGO_BIN_EXE_kurz")), cwd)
}

/// A `kurz` command that runs with a file size limit of `kib` KiB (bash's
/// `ulimit -f`) and SIGXFSZ ignored, so every write past the limit fails
/// with EFBIG, as writes do on a full disk. The limit holds for every file
/// the process writes, its log file included.
pub fn kurz_with_file_limit(cwd: &Path, kib: u64) -> Command {
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        "trap '' XFSZ; ulimit -f \"$1\"; shift; exec \"$@\"",
        "bash",
    ])
    .arg(kib.to_string())
    .arg(env!("CARGO_BIN_EXE_kurz"));
    scrubbed(cmd, cwd)
}

fn scrubbed(mut cmd: Command, cwd: &Path) -> Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KURZ_") {
            cmd.env_remove(&name);
        }
    }
    // The default data directory is relative (./kurz-data): a test that
    // forgot --data must still stay inside its temporary directory. Under
    // systemd it would be $STATE_DIRECTORY instead.
    cmd.env_remove("STATE_DIRECTORY");
    cmd.current_dir(cwd)
        .env("HOME", cwd)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    cmd
}

/// What a finished command printed, and how it exited.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Asserts exit code 0 and returns stdout.
    pub fn ok(&self) -> &str {
        assert!(self.success(), "expected success, got {self:#?}");
        &self.stdout
    }

    /// Asserts a non-zero exit and returns stderr.
    pub fn failed(&self) -> &str {
        assert!(!self.success(), "expected failure, got {self:#?}");
        assert!(
            self.status.code().is_some(),
            "killed by a signal: {self:#?}"
        );
        &self.stderr
    }
}

/// Runs `kurz ARGS` in `cwd` to completion, within [`WAIT`].
pub fn run(cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = kurz(cwd);
    cmd.args(args);
    run_bounded(cmd)
}

/// Runs `cmd` to completion, killing it if it outlives [`WAIT`].
pub fn run_bounded(mut cmd: Command) -> Output {
    let what = format!("{:?}", cmd.get_args().collect::<Vec<_>>());
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the kurz binary");
    // Both pipes are drained concurrently: a child blocked on a full pipe
    // would otherwise look like a hang.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let Some(status) = wait_bounded(&mut child, WAIT) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("kurz {what} did not finish within {WAIT:?}");
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_string(&mut text);
        }
        text
    })
}

/// Polls `child` until it exits or `timeout` passes.
pub fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A running `kurz serve`; killed (SIGKILL) if dropped while still running.
pub struct Server {
    child: Option<Child>,
    /// Where it listens, parsed from its "kurz listening on" line.
    pub addr: SocketAddr,
    /// Lines printed on stdout before the listening line.
    pub banner: Vec<String>,
    stdout: Receiver<String>,
    /// Its stderr (the log), appended to across restarts on one data dir.
    pub log: PathBuf,
}

impl Server {
    /// Starts `kurz serve` on `data` with the test [`KEY`].
    pub fn start(data: &Path) -> Server {
        Server::start_with(data, &["--api-key", KEY])
    }

    /// Starts `kurz serve --listen 127.0.0.1:0 --data DATA EXTRA...` and
    /// waits for its listening line.
    pub fn start_with(data: &Path, extra: &[&str]) -> Server {
        let cwd = data.parent().expect("data dir has a parent");
        Server::launch(kurz(cwd), data, extra)
    }

    /// As [`Server::start_with`], listening on `listen` instead.
    pub fn start_listening(data: &Path, listen: &str, extra: &[&str]) -> Server {
        let cwd = data.parent().expect("data dir has a parent");
        Server::launch_on(kurz(cwd), listen, data, extra)
    }

    /// As [`Server::start_with`], with `cmd` (from [`kurz`] or
    /// [`kurz_with_file_limit`]) as the program.
    pub fn launch(cmd: Command, data: &Path, extra: &[&str]) -> Server {
        Server::launch_on(cmd, "127.0.0.1:0", data, extra)
    }

    fn launch_on(mut cmd: Command, listen: &str, data: &Path, extra: &[&str]) -> Server {
        let log = data.with_extension("log");
        // A file, not a pipe, for the log: the server logs every request it
        // creates a link for, and a pipe nobody reads would block it.
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the server log");
        cmd.args(["serve", "--listen", listen, "--data"])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log_file);
        let mut child = cmd.spawn().expect("cannot start kurz serve");
        let stdout = lines_of(child.stdout.take().expect("piped stdout"));
        let mut server = Server {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            banner: Vec::new(),
            stdout,
            log,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match server.stdout.recv_timeout(left) {
                Ok(line) => match parse_listening(&line) {
                    Some(addr) => {
                        server.addr = addr;
                        return server;
                    }
                    None => server.banner.push(line),
                },
                Err(e) => {
                    let status = server.child.as_mut().and_then(|c| c.try_wait().ok());
                    panic!(
                        "kurz serve never said where it listens ({e:?}, exit {status:?}); stdout {:?}; log:\n{}",
                        server.banner,
                        server.log_tail()
                    );
                }
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Sends SIGTERM, waits for the exit, and returns its status and any
    /// further stdout lines.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("cannot run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let mut child = self.child.take().expect("running");
        let Some(status) = wait_bounded(&mut child, WAIT) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "kurz serve ignored SIGTERM for {WAIT:?}; log:\n{}",
                self.log_tail()
            );
        };
        // The child has exited, so its stdout reaches EOF and the reader
        // thread hangs up soon; the bound only guards against a stray
        // grandchild holding the pipe.
        let mut rest = Vec::new();
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => rest.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stdout of kurz serve stayed open"),
            }
        }
        (status, rest)
    }

    /// SIGKILL: no drain, no flush, no chance to tidy up.
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL kurz serve");
            child.wait().expect("reap kurz serve");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The last 40 lines of a log file: enough to see why a server failed
/// without burying the assertion under thousands of request lines.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn lines_of(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The address in `kurz listening on http://ADDR (short links: ...)`.
fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = line.strip_prefix("kurz listening on http://")?;
    let (addr, _) = rest.split_once(' ')?;
    addr.parse().ok()
}

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One keep-alive HTTP/1.1 connection to a loopback server.
pub struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, WAIT)?;
        stream.set_read_timeout(Some(WAIT))?;
        stream.set_write_timeout(Some(WAIT))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    /// Sends one request and reads its whole response.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.host);
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = body.unwrap_or_default();
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        self.stream.get_mut().write_all(&request)?;
        self.read_response(method == "HEAD")
    }

    fn read_response(&mut self, head_only: bool) -> io::Result<Response> {
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
        let status_line = self.line()?;
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            let (k, v) = line
                .split_once(':')
                .ok_or_else(|| bad(format!("bad header line {line:?}")))?;
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if head_only {
            return Ok(resp);
        }
        if resp.header("transfer-encoding").is_some() {
            // kurz answers every body with a known length; anything else is
            // a change this client should be taught about, not guess at.
            return Err(bad("chunked responses are not supported here".into()));
        }
        match resp.header("content-length") {
            Some(n) => {
                let n: usize = n.parse().map_err(|_| bad(format!("content-length {n}")))?;
                resp.body.resize(n, 0);
                self.stream.read_exact(&mut resp.body)?;
            }
            None => {
                self.stream.read_to_end(&mut resp.body)?;
            }
        }
        Ok(resp)
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.stream.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }

    /// `GET path`, unauthenticated (the redirect side).
    pub fn get(&mut self, path: &str) -> io::Result<Response> {
        self.send("GET", path, &[], None)
    }

    /// An API request with the test [`KEY`] and, with a body, a JSON content type.
    pub fn api(&mut self, method: &str, path: &str, json: Option<&str>) -> io::Result<Response> {
        let auth = format!("Bearer {KEY}");
        let mut headers = vec![("authorization", auth.as_str())];
        if json.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.send(method, path, &headers, json.map(str::as_bytes))
    }
}

/// `GET path` on a fresh connection; panics on I/O errors.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    Conn::open(addr)
        .and_then(|mut c| c.get(path))
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// An API request on a fresh connection; panics on I/O errors.
pub fn api(addr: SocketAddr, method: &str, path: &str, json: Option<&str>) -> Response {
    Conn::open(addr)
        .and_then(|mut c| c.api(method, path, json))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Today's UTC date as `YYYY-MM-DD`, the key of kurz's daily click counts.
pub fn utc_today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A temporary directory with a data directory path inside it (not created:
/// kurz must create it itself).
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// `kurz ARGS --data <sandbox>/NAME`.
    pub fn kurz(&self, data: &str, args: &[&str]) -> Output {
        let data = self.data(data);
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--data", data.to_str().expect("utf-8 temp path")]);
        run(self.path(), &all)
    }

    /// The `list` output of data dir `name`, as rows of tab-separated fields.
    pub fn list(&self, name: &str, extra: &[&str]) -> Vec<Vec<String>> {
        let mut args = vec!["list"];
        args.extend(extra);
        self.kurz(name, &args)
            .ok()
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }

    pub fn slugs(&self, name: &str) -> Vec<String> {
        self.list(name, &[])
            .into_iter()
            .map(|r| r[0].clone())
            .collect()
    }
}
