#!/usr/bin/env python3
"""Load benchmark for kurz: redirects against a bare-hyper baseline, durable
link creation, and behaviour at scale.

How to run (from anywhere; it finds the repository from its own path):

    python3 benches/load.py                   # default mode, about 2 minutes
    python3 benches/load.py --links 1000000 --shape zipf --runs 5
    python3 benches/load.py --scale 10000000  # scale mode: 10M links (the first
                                              # run builds them: ~10 minutes, ~16 GB)
    python3 benches/load.py --help

Needs: cargo, wrk, taskset, python3 (standard library only), two CPUs, and
loopback networking. It builds the release binaries itself, keeps generated
link sets under target/load-data/ (reused by later runs), logs of every server
and wrk run under target/load-logs/, and writes every raw and median figure to
target/load-results.json. It stops by itself and kills every process it
started, also on Ctrl-C or an error. Exit status 1 means a run had errors.

Set-up: the server under test runs pinned to CPU 1 (`taskset -c 1`, so its
tokio runtime has one worker thread), the client is one wrk thread pinned to
CPU 0 with 64 keep-alive connections. Each server is warmed up for 2 s first.
wrk is closed-loop: it keeps 64 requests in flight, so throughput is the
saturation throughput and latencies are latencies at saturation.

Default mode (one row each; every figure is the median over --runs runs):

  kurz redirect   GET /l<i>, i drawn over all N stored links (--links, default
                  10,000) uniformly or Zipf (--shape); each click is counted.
  baseline        a bare hyper 1.x server answering every request with a fixed
                  302 (examples/baseline.rs), fed the same script: the ceiling.
  kurz create     POST /api/links with a new url each time; a 201 means the link
                  was fsync'd (concurrent creators share one fsync). Runs on a
                  copy of the N-link data directory, so that one stays at N.

Scale mode (--scale N): builds N links, then reports the data directory's size
on disk, the start-up time (spawn of `kurz serve` to the first 302 of a random
slug, polled every 10 ms, median of 3 starts), and redirect throughput, CPU per
request and RSS under load for uniform and Zipf traffic, at N links and at
10,000 links, with the ratios N / 10,000.

The figures:

  req/s        requests wrk completed / run time.
  p50, p99     wrk's latency percentiles (request written -> response read).
  CPU µs/req   the server's user + system CPU time (from /proc/PID/stat)
               from the start of the run until it is idle again after it
               (kurz merges the last counted clicks up to 500 ms later) /
               completed requests: the server's cost per request, whichever
               side was the bottleneck. The fairest figure to compare.
  RSS MiB      the server's VmRSS at the end of the run. Runs begin once
               kurz's start-up integrity check has passed (it reads the
               whole database once: 15–30 s and a 300–550 MiB peak at 10M links).
  server CPU   the server's CPU time / wall time: 100% means CPU 1 was busy
               all the time; less means it waited (for the client, a lock, a
               disk flush).
  wrk CPU      the client's CPU time / wall time: near 100% means the client
               was the bottleneck, and req/s is a floor for that server.
  errors       socket errors + responses >= 400 (for creates: + every answer
               that is not a 201, counted by the Lua script). Any error is
               printed loudly and makes the exit status 1.

Also in target/load-results.json and the progress lines (stderr), per run:

  busy after   seconds the server kept using CPU after wrk stopped. kurz
               stores counted clicks as journal records every 500 ms and
               folds the journal into per-day counters in the background (at
               most 100 ms per 500 ms); a large figure means the fold fell
               behind the load (noted in the report). The clicks themselves
               are in the journal, on disk, within the usual ~1 s.
  other, steal CPU time the two CPUs spent on anything but the server and wrk
               (another build, the hypervisor); above 5% the report warns
               that the figures are disturbed.

Checks (default mode, up to 1M links): after kurz stops (SIGTERM, which must
exit 0) the clicks stored in its data must have grown by at least the
redirects wrk completed and at most that plus what could have been in flight
when wrk stopped; the create copy must hold at least N + the 201s received.

Each data set is compacted (`kurz compact`) right after its import, as the
import's summary advises; a set imported before compaction existed is
compacted on its first reuse. Data sets are reused between runs, and the
redirect runs' clicks are stored in them: "on disk now" (scale mode) grows
from run to run, "on disk after import" and "after kurz compact" do not. Delete target/load-data/ to start from scratch (and when
kurz's on-disk layout changes). With --links above 1M the create runs copy
the whole data directory first (about 2.3 GB at 10M links, compacted).
"""

import argparse
import ctypes
import fcntl
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
KURZ = TARGET / "release" / "kurz"
BASELINE = TARGET / "release" / "examples" / "baseline"
GENLINKS = TARGET / "release" / "examples" / "genlinks"
LUA_DIR = Path(__file__).resolve().parent / "wrk"
REDIRECT_LUA = LUA_DIR / "redirect.lua"
CREATE_LUA = LUA_DIR / "create.lua"
DATA_ROOT = TARGET / "load-data"
LOG_DIR = TARGET / "load-logs"
RESULTS = TARGET / "load-results.json"

HOST = "127.0.0.1"  # loopback only, always
WARMUP_S = 2
SMALL = 10_000  # scale mode compares against this many links
STARTS = 3  # scale mode: start-up time is the median of this many starts
CHECK_MAX_LINKS = 1_000_000  # the export-based checks read every link
CLK_TCK = os.sysconf("SC_CLK_TCK")

# --------------------------------------------------------------------------
# Child processes: every one is registered, and stop_all() ends them.
# --------------------------------------------------------------------------

_children = []
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _die_with_us():
    """Runs in each child between fork and exec: should load.py itself be
    killed (kill -9, OOM), the kernel sends the child SIGKILL, so nothing is
    left behind even when our finally blocks never run."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(cmd, **kwargs):
    """Starts cmd in its own session (so a Ctrl-C reaches only us and we shut
    children down in order) and registers it for stop_all()."""
    p = subprocess.Popen([str(c) for c in cmd], start_new_session=True,
                         preexec_fn=_die_with_us, **kwargs)
    _children.append(p)
    return p


def stop(p, timeout=20.0):
    """SIGTERM, wait up to `timeout` (kurz drains for up to 10 s), then
    SIGKILL. Returns the exit status (negative: killed by that signal)."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            warn(f"pid {p.pid} ignored SIGTERM for {timeout:.0f} s; killing it")
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                warn(f"pid {p.pid} survived SIGKILL for 5 s")
    if p in _children:
        _children.remove(p)
    return p.returncode


def stop_all():
    # A second Ctrl-C must not cut the clean-up short; each wait is bounded.
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    for p in reversed(list(_children)):
        stop(p, timeout=12.0)


def _raise_interrupt(signum, _frame):
    # SIGTERM/SIGHUP take the same path as Ctrl-C: unwind through finally.
    raise KeyboardInterrupt(f"signal {signum}")


def lock_or_exit():
    """One load.py at a time: two would share the data directories and the
    CPUs. The lock goes when the process does, however it ends."""
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    f = open(DATA_ROOT / "load.lock", "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit("load.py: another load.py is running on this checkout; wait for it to finish")
    return f


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def log(msg):
    """Progress goes to stderr, so stdout carries only the report."""
    print(f"[load] {msg}", file=sys.stderr, flush=True)


def warn(msg):
    print(f"[load] WARNING: {msg}", file=sys.stderr, flush=True)


def free_port():
    """A port the kernel considers free right now (tiny race, accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def new_key():
    return os.urandom(16).hex()  # 32 visible ASCII characters


def new_seed():
    return int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF


def http_status(port, path, timeout=1.0):
    """Status of GET path, or None if there was no HTTP answer."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_quiet(cmd, timeout=10):
    """First output line of a short informational command, or '?'. The exit
    status is ignored: `wrk --version` prints its version and exits 1."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def disk_usage(path):
    """Bytes allocated on disk under path, like `du -s` (not apparent size)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass  # vanished while walking
    return total


def proc_cpu_seconds(pid):
    """utime + stime of the whole process, in seconds. Fields 14 and 15 of
    /proc/PID/stat; the command name (field 2) may contain spaces and
    parentheses, so split after the last ')': field 3 is then index 0."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status(pid, key):
    """A numeric field of /proc/PID/status (kB for the Vm* fields)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def cpu_times(cpus):
    """(busy, steal) seconds summed over the given CPUs, from /proc/stat:
    busy is user + nice + system + irq + softirq, whoever ran."""
    busy = steal = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *ticks = line.split()
            if name.startswith("cpu") and name[3:] in cpus:
                t = [int(x) for x in ticks]
                busy += t[0] + t[1] + t[2] + t[5] + t[6]
                steal += t[7] if len(t) > 7 else 0
    return busy / CLK_TCK, steal / CLK_TCK


def machine_facts():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpus_allowed": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "kernel": os.uname().release,
        "wrk": run_quiet(["wrk", "--version"]).split(" Copyright")[0],
        "rustc": run_quiet(["rustc", "--version"]),
        "commit": run_quiet(["git", "describe", "--always", "--dirty"]),
    }


# --------------------------------------------------------------------------
# Build and data sets
# --------------------------------------------------------------------------


def build():
    cmd = ["cargo", "build", "--release", "--bin", "kurz",
           "--example", "baseline", "--example", "genlinks"]
    log("building: " + " ".join(cmd))
    # A fresh clone compiles everything; an hour bounds even a slow machine.
    r = subprocess.run(cmd, cwd=ROOT, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(f"cargo build failed (exit {r.returncode})")


def links_dir(n):
    return DATA_ROOT / f"links-{n}"


def marker_of(d):
    # Kept beside the data directory, not in it: kurz owns what is inside.
    return d.with_name(d.name + ".complete.json")


def ensure_links(n):
    """The data directory holding links l0..l<n-1>, imported once and reused
    while its completion marker exists. Returns the marker's facts."""
    d = links_dir(n)
    marker = marker_of(d)
    if d.is_dir() and marker.is_file():
        info = json.loads(marker.read_text())
        if info.get("links") == n:
            log(f"reusing {d.relative_to(ROOT)} ({n:,} links, imported {info['created']})")
            if "compact_seconds" not in info:
                # Imported by a kurz before `kurz compact`: compact it once.
                info.update(compact_links(n, d))
                marker.write_text(json.dumps(info, indent=2) + "\n")
            return info
    # Missing, or left half-built by an interrupted run: start over.
    partial = d.with_name(d.name + ".partial")
    for stale in (d, partial):
        shutil.rmtree(stale, ignore_errors=True)
    marker.unlink(missing_ok=True)
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    import_links(n, partial)
    seconds = time.monotonic() - started
    info = {
        "links": n,
        "import_seconds": round(seconds, 2),
        "bytes_after_import": disk_usage(partial),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    info.update(compact_links(n, partial))
    partial.rename(d)
    marker.write_text(json.dumps(info, indent=2) + "\n")
    log(f"imported {n:,} links in {seconds:.1f} s "
        f"({n / seconds:,.0f}/s, {info['bytes_after_import'] / 2**20:,.0f} MiB on disk)")
    return info


def import_links(n, dest):
    """genlinks N | kurz import - --data dest, streamed through us so we can
    print progress and no JSONL file ever touches the disk."""
    log(f"generating and importing {n:,} links into {dest.relative_to(ROOT)}")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    import_log = LOG_DIR / f"import-{n}.log"
    # ~75k links/s expected; allow 15x slower before calling it stuck.
    timeout = 120 + n / 5_000
    with open(import_log, "wb") as out:
        gen = spawn([GENLINKS, n], stdout=subprocess.PIPE)
        imp = spawn([KURZ, "import", "-", "--data", dest],
                    stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        # The pipe reads and writes below block; a watchdog bounds them.
        watchdog = threading.Timer(timeout, lambda: (gen.kill(), imp.kill()))
        watchdog.start()
        try:
            fed = pump(gen.stdout, imp.stdin, n)
            imp.stdin.close()
            gen_rc = gen.wait(timeout)
            imp_rc = imp.wait(timeout)
        except BrokenPipeError:
            imp_rc = imp.wait(timeout)
            raise RuntimeError(f"kurz import stopped early (exit {imp_rc}):\n{tail(import_log)}")
        finally:
            watchdog.cancel()
            stop(gen, 5)
            stop(imp, 5)
    summary = re.search(r"imported (\d+), skipped (\d+) existing, rejected (\d+) invalid",
                        import_log.read_text(errors="replace"))
    if gen_rc != 0 or imp_rc != 0 or not summary or int(summary.group(1)) != n:
        raise RuntimeError(
            f"import of {n:,} links failed (genlinks exit {gen_rc}, import exit {imp_rc}, "
            f"{fed:,} lines fed):\n{tail(import_log)}")


def compact_links(n, dest):
    """kurz compact on a data set, as the import's summary advises: the
    figures are those of a directory its owner has compacted."""
    log(f"compacting {dest.relative_to(ROOT)}")
    started = time.monotonic()
    r = subprocess.run([KURZ, "compact", "--data", dest], capture_output=True,
                       timeout=120 + n / 20_000)
    if r.returncode != 0:
        raise RuntimeError(f"kurz compact failed: {r.stderr.decode(errors='replace')}")
    info = {"compact_seconds": round(time.monotonic() - started, 2),
            "bytes_after_compact": disk_usage(dest)}
    log(f"compacted in {info['compact_seconds']:.1f} s: "
        f"{info['bytes_after_compact'] / 2**20:,.0f} MiB on disk")
    return info


def pump(src, dst, n):
    """Copies src to dst in 1 MiB chunks, printing progress every 5 s."""
    fed, started = 0, time.monotonic()
    next_report = started + 5
    while True:
        chunk = src.read1(1 << 20)
        if not chunk:
            return fed
        dst.write(chunk)
        fed += chunk.count(b"\n")
        now = time.monotonic()
        if now >= next_report:
            rate = fed / (now - started)
            log(f"  {fed:,} / {n:,} links ({100 * fed / n:.0f}%, {rate:,.0f}/s, "
                f"about {(n - fed) / rate:.0f} s to go)")
            next_report = now + 5


def export_totals(data, n_hint):
    """(links, total clicks) of a stopped server's data, via `kurz export`."""
    r = subprocess.run([KURZ, "export", "--data", data], capture_output=True,
                       timeout=60 + n_hint / 20_000)
    if r.returncode != 0:
        raise RuntimeError(f"kurz export failed: {r.stderr.decode(errors='replace')}")
    links = clicks = 0
    for line in r.stdout.splitlines():
        if line.strip():
            links += 1
            clicks += json.loads(line)["clicks"]
    return links, clicks


# --------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------


class Server:
    """A server process pinned to the server CPU, with its port and log."""

    def __init__(self, name, cmd, port, cpu, graceful=True):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name, self.port = name, port
        self.graceful = graceful  # must exit 0 on SIGTERM
        self.log = LOG_DIR / f"{name}.log"
        env = dict(os.environ, RUST_LOG="info")  # never per-request debug logs
        with open(self.log, "wb") as out:
            self.proc = spawn(["taskset", "-c", cpu, *cmd],
                              stdout=out, stderr=subprocess.STDOUT, env=env)
        self.pid = self.proc.pid  # taskset execs the server: same pid
        self.completed = 0  # redirects wrk completed here, for the click check
        self.acknowledged = 0  # 201s received here, for the create check

    def wait_until(self, ready, timeout, interval=0.05):
        """Polls ready() until true; returns the seconds waited. Fails at
        once if the server exits, and after `timeout` seconds."""
        started = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} while starting "
                    f"(if kurz's data layout changed, delete {DATA_ROOT}):\n{tail(self.log)}")
            if ready():
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n{tail(self.log)}")
            time.sleep(interval)

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid)

    def settle(self, quiet=0.6, timeout=60.0):
        """Waits until the server is idle: less than 5% CPU over `quiet`
        seconds. Returns the seconds it stayed busy. kurz finishes a run's
        work after it (pending clicks are merged into sled every 500 ms, or
        later when the merging falls behind); that work must neither leak into
        the next run of another server nor be dropped from this one's cost."""
        started = time.monotonic()
        last = self.cpu_seconds()
        while time.monotonic() - started < timeout:
            time.sleep(quiet)
            now = self.cpu_seconds()
            if now - last < 0.05 * quiet:
                return max(0.0, time.monotonic() - started - quiet)
            last = now
        warn(f"{self.name} still busy {timeout:.0f} s after the run")
        return timeout

    def rss_mib(self):
        return proc_status(self.pid, "VmRSS") / 1024

    def stop(self):
        code = stop(self.proc)
        # The baseline has no signal handler: SIGTERM ends it with -15.
        expected = 0 if self.graceful else -signal.SIGTERM
        if code != expected:
            problem(f"{self.name} exited with status {code} on SIGTERM (expected {expected}):\n{tail(self.log)}")
        return code


def start_timeout(n):
    # sled opens big databases more slowly; be generous, but bounded.
    return 60 + n / 50_000


def start_kurz(name, data, key, n, cpu):
    port = free_port()
    s = Server(name, [KURZ, "serve", "--listen", f"{HOST}:{port}", "--data", data,
                      "--api-key", key], port, cpu)
    s.wait_until(lambda: http_status(port, "/healthz") == 200, start_timeout(n))
    # kurz reads the whole database once after start (its integrity check:
    # 15–30 s and a 300–550 MiB peak at 10M links). Measuring during it would charge a
    # one-off to the steady state, so runs begin once it has passed.
    waited = s.wait_until(lambda: check_finished(s), start_timeout(n) + n / 50_000, interval=0.2)
    if waited > 1:
        log(f"{name}: waited {waited:.0f} s for the start-up integrity check to finish")
    return s


def check_finished(s):
    """Whether kurz's log says its start-up integrity check passed; fails
    if it says the check found problems or could not run."""
    log = s.log.read_text(errors="replace")
    if "integrity check passed" in log:
        return True
    if "INTEGRITY CHECK" in log:
        raise RuntimeError(f"{s.name}: the start-up integrity check failed:\n{tail(s.log)}")
    return False


def start_baseline(cpu):
    port = free_port()
    s = Server("baseline", [BASELINE, f"{HOST}:{port}"], port, cpu, graceful=False)
    # It answers every path with 302; any HTTP answer means it is up.
    s.wait_until(lambda: http_status(port, "/") is not None, 30)
    return s


def check_redirects(s, n):
    """The data set is what the Lua script assumes: l0 and l<n-1> redirect,
    l<n> does not exist."""
    for path, want in (("/l0", 302), (f"/l{n - 1}", 302), (f"/l{n}", 404)):
        got = http_status(s.port, path, timeout=10)
        if got != want:
            raise RuntimeError(f"{s.name}: GET {path} gave {got}, expected {want}")
    s.completed += 2  # two clicks counted by these probes


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------

UNITS_US = {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def run_wrk(port, script, script_args, duration, connections, cpu, tag):
    """Runs one wrk and returns its output and the client's CPU seconds."""
    cmd = ["taskset", "-c", cpu, "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
           "--latency", "-s", script, f"http://{HOST}:{port}", "--", *script_args]
    # wrk is the only child reaped while this runs, so the growth of our
    # children's rusage is exactly wrk's CPU time.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=duration + 30)
    except subprocess.TimeoutExpired:
        stop(p, 5)
        raise RuntimeError(f"wrk did not finish within {duration + 30} s")
    finally:
        if p in _children:
            _children.remove(p)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (LOG_DIR / f"wrk-{tag}.txt").write_text(out)
    if p.returncode != 0:
        raise RuntimeError(f"wrk exited with {p.returncode}:\n{out}")
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, client_cpu


def parse_wrk(out):
    """The figures of one wrk run, latencies in µs."""
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", out, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not m or not rps:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    r = {
        "requests": int(m.group(1)),
        "seconds": float(m.group(2)) * UNITS_US[m.group(3)] / 1e6,
        "rps": float(rps.group(1)),
    }
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M):
        r[f"p{pct}_us"] = float(value) * UNITS_US[unit]
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                  map(int, sock.groups()))) if sock else {}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["status_errors"] = int(bad.group(1)) if bad else 0
    non201 = re.search(r"^non-201 responses: (\d+) \[(.*)\]", out, re.M)
    if non201:
        r["non_201"] = int(non201.group(1))
        r["non_201_by_status"] = non201.group(2)
    # For creates, non-201 already includes every status >= 400 wrk counted.
    r["errors"] = sum(r["socket_errors"].values()) + r.get("non_201", r["status_errors"])
    return r


def measure(s, script, script_args, a, tag, duration=None):
    """One wrk run against server s, with the server's CPU time around it."""
    duration = duration or a.duration
    cpus = (a.server_cpu, a.client_cpu)
    machine0, cpu0, t0 = cpu_times(cpus), s.cpu_seconds(), time.monotonic()
    out, client_cpu = run_wrk(s.port, script, script_args, duration, a.connections, a.client_cpu, tag)
    wall = time.monotonic() - t0
    if s.proc.poll() is not None:
        raise RuntimeError(f"{s.name} died during {tag} (exit {s.proc.returncode}):\n{tail(s.log)}")
    server_cpu = s.cpu_seconds() - cpu0
    machine1 = cpu_times(cpus)
    rss, hwm = s.rss_mib(), proc_status(s.pid, "VmHWM") / 1024
    busy_after = s.settle()
    # The cost per request includes the work the run left behind.
    server_cpu_total = s.cpu_seconds() - cpu0
    # What the two CPUs did besides our server and wrk: another process
    # (a build, a test run) or the hypervisor (steal) distorts the figures.
    other = machine1[0] - machine0[0] - server_cpu - client_cpu
    steal = machine1[1] - machine0[1]
    r = parse_wrk(out)
    s.completed += r["requests"]
    if "non_201" in r:
        s.acknowledged += r["requests"] - r["non_201"]
    r.update({
        "cpu_us_per_req": server_cpu_total * 1e6 / r["requests"] if r["requests"] else None,
        "cpu_after_run_s": server_cpu_total - server_cpu,
        "busy_after_run_s": busy_after,
        "server_cpu_pct": 100 * server_cpu / wall,
        "client_cpu_pct": 100 * client_cpu / wall,
        "other_cpu_pct": 100 * other / wall,
        "steal_pct": 100 * steal / wall,
        "rss_mib": rss,
        "hwm_mib": hwm,
        "threads": proc_status(s.pid, "Threads"),
        "wrk_output": out,
    })
    if r["errors"]:
        problem(f"{tag}: {r['errors']:,} errors in {r['requests']:,} requests "
                f"(socket {r['socket_errors']}, status >= 400: {r['status_errors']}, "
                f"non-201: {r.get('non_201', '-')} {r.get('non_201_by_status', '')})")
    log(f"  {tag}: {r['rps']:,.0f} req/s, p50 {fmt_us(r.get('p50_us'))}, "
        f"p99 {fmt_us(r.get('p99_us'))}, {fmt_num(r['cpu_us_per_req'], 1)} CPU µs/req, "
        f"server CPU {r['server_cpu_pct']:.0f}%, wrk CPU {r['client_cpu_pct']:.0f}%, "
        f"other {r['other_cpu_pct']:.0f}%, steal {r['steal_pct']:.0f}%, "
        f"busy {busy_after:.1f} s after")
    return r


def warm(s, script, script_args, a, tag):
    log(f"warming up {s.name} for {WARMUP_S} s")
    return measure(s, script, script_args, a, f"{tag}-warmup", duration=WARMUP_S)


def redirect_args(n, shape):
    return [n, shape, new_seed()]


def create_args(key, tag):
    return [key, f"{int(time.time())}-{tag}", new_seed()]


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

PROBLEMS = []
NOTES = []
FIGURES = ("rps", "p50_us", "p99_us", "cpu_us_per_req", "rss_mib", "server_cpu_pct",
           "client_cpu_pct", "other_cpu_pct", "steal_pct", "busy_after_run_s", "errors",
           "requests")
DISTURBED_PCT = 5  # other work on the two CPUs beyond this is worth a warning


def problem(msg):
    PROBLEMS.append(msg)
    print(f"\n[load] !!! PROBLEM: {msg}\n", file=sys.stderr, flush=True)


def medians(runs):
    out = {}
    for k in FIGURES:
        values = [r[k] for r in runs if r.get(k) is not None]
        if values:
            out[k] = statistics.median(values)
    out["errors_total"] = sum(r["errors"] for r in runs)
    return out


def fmt_us(us):
    if us is None:
        return "-"
    return f"{us:.0f} µs" if us < 1000 else f"{us / 1000:.2f} ms"


def fmt_num(x, digits=0):
    return "-" if x is None else f"{x:,.{digits}f}"


def table(rows):
    """Markdown table of (label, medians) rows."""
    lines = ["| server / scenario | req/s | p50 | p99 | CPU µs/req | RSS MiB "
             "| server CPU | wrk CPU | errors |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for label, m in rows:
        errors = m["errors_total"]
        lines.append(
            f"| {label} | {fmt_num(m.get('rps'))} | {fmt_us(m.get('p50_us'))} "
            f"| {fmt_us(m.get('p99_us'))} | {fmt_num(m.get('cpu_us_per_req'), 1)} "
            f"| {fmt_num(m.get('rss_mib'), 1)} | {fmt_num(m.get('server_cpu_pct'))}% "
            f"| {fmt_num(m.get('client_cpu_pct'))}% | {'**' + str(errors) + '**' if errors else 0} |")
    return "\n".join(lines)


def ratio(a, b):
    return a / b if a and b else None


def note_caveats(label, runs, m):
    if m.get("client_cpu_pct", 0) >= 90:
        NOTES.append(f"{label}: wrk used {m['client_cpu_pct']:.0f}% of its CPU, so the client "
                     f"was (close to) the bottleneck; its req/s is a floor, compare CPU µs/req.")
    lag = max(r["busy_after_run_s"] for r in runs)
    if lag > 1.0:
        NOTES.append(f"{label}: the server kept working up to {lag:.1f} s after wrk stopped, "
                     f"folding the click journal into per-day counters: under this load the "
                     f"fold (a sled read and write per clicked slug and day) fell that far "
                     f"behind. The clicks were already stored in the journal.")
    worst = max(max(r["other_cpu_pct"], r["steal_pct"]) for r in runs)
    if worst > DISTURBED_PCT:
        NOTES.append(f"WARNING {label}: up to {worst:.0f}% of a CPU went to other processes or "
                     f"the hypervisor during a run; the figures are disturbed, rerun on a quiet machine.")


# --------------------------------------------------------------------------
# Default mode
# --------------------------------------------------------------------------


def default_mode(a, results):
    n, shape = a.links, a.shape
    info = ensure_links(n)
    data = links_dir(n)
    check = n <= CHECK_MAX_LINKS
    before = export_totals(data, n) if check else None
    key = new_key()

    kurz = start_kurz(f"kurz-{n}", data, key, n, a.server_cpu)
    base = start_baseline(a.server_cpu)
    check_redirects(kurz, n)
    warm(kurz, REDIRECT_LUA, redirect_args(n, shape), a, "kurz")
    warm(base, REDIRECT_LUA, redirect_args(n, shape), a, "baseline")
    runs = {"kurz": [], "baseline": []}
    for i in range(a.runs):
        # Alternate, so slow drift of the machine hits both alike.
        runs["kurz"].append(measure(kurz, REDIRECT_LUA, redirect_args(n, shape), a, f"kurz-run{i + 1}"))
        runs["baseline"].append(measure(base, REDIRECT_LUA, redirect_args(n, shape), a, f"baseline-run{i + 1}"))
    kurz.stop()
    base.stop()
    if check:
        check_clicks(data, n, before, kurz, a)

    runs["create"] = create_phase(a, n, key)

    label = {"kurz": f"kurz redirect, {n:,} links, {shape}",
             "baseline": "baseline (bare hyper, fixed 302)",
             "create": f"kurz create (durable), {n:,} links"}
    meds = {k: medians(v) for k, v in runs.items()}
    for k in meds:
        note_caveats(label[k], runs[k], meds[k])
    ratios = {
        "rps_kurz_over_baseline": ratio(meds["kurz"].get("rps"), meds["baseline"].get("rps")),
        "cpu_us_per_req_kurz_over_baseline": ratio(meds["kurz"].get("cpu_us_per_req"),
                                                   meds["baseline"].get("cpu_us_per_req")),
    }
    results.update({"dataset": info, "runs": runs, "medians": meds, "ratios": ratios,
                    "labels": label})

    print(f"\n## Medians of {a.runs} run(s) of {a.duration} s, "
          f"{a.connections} connections\n")
    print(table([(label[k], meds[k]) for k in ("kurz", "baseline", "create")]))
    print(f"\nkurz / baseline: req/s {fmt_num(ratios['rps_kurz_over_baseline'], 2)}x, "
          f"CPU µs/req {fmt_num(ratios['cpu_us_per_req_kurz_over_baseline'], 2)}x")


def check_clicks(data, n, before, kurz, a):
    """Every completed redirect was counted, and nothing more than could have
    been in flight when a wrk run stopped."""
    links, clicks = export_totals(data, n)
    counted = clicks - before[1]
    in_flight = a.connections * (a.runs + 1)  # per wrk run, warm-up included
    ok = links == n and kurz.completed <= counted <= kurz.completed + in_flight
    msg = (f"click check: {counted:,} clicks stored for {kurz.completed:,} completed redirects "
           f"(allowed up to {in_flight} more still in flight); {links:,} links")
    (log if ok else problem)(msg + (" - OK" if ok else " - MISMATCH"))
    NOTES.append(msg + (" - OK" if ok else " - MISMATCH"))


def create_phase(a, n, key):
    """Durable creates on a copy of the N-link data, so that one stays at N."""
    src, dst = links_dir(n), DATA_ROOT / "create-tmp"
    shutil.rmtree(dst, ignore_errors=True)
    log(f"copying {src.relative_to(ROOT)} for the create runs")
    shutil.copytree(src, dst)
    kurz = None
    try:
        kurz = start_kurz("kurz-create", dst, key, n, a.server_cpu)
        warm(kurz, CREATE_LUA, create_args(key, "warmup"), a, "create")
        runs = [measure(kurz, CREATE_LUA, create_args(key, f"run{i + 1}"), a, f"create-run{i + 1}")
                for i in range(a.runs)]
        kurz.stop()
        if n <= CHECK_MAX_LINKS:
            links, _ = export_totals(dst, n + kurz.completed)
            created = links - n
            ok = created >= kurz.acknowledged
            msg = (f"create check: {created:,} links created on disk for "
                   f"{kurz.acknowledged:,} 201 answers received")
            (log if ok else problem)(msg + (" - OK" if ok else " - LOST LINKS"))
            NOTES.append(msg + (" - OK" if ok else " - LOST LINKS"))
        return runs
    finally:
        if kurz:  # still running if something above failed
            stop(kurz.proc)
        shutil.rmtree(dst, ignore_errors=True)


# --------------------------------------------------------------------------
# Scale mode
# --------------------------------------------------------------------------


def startup_seconds(data, n, key, cpu):
    """Spawn of `kurz serve` to the first 302 of a random stored slug."""
    port = free_port()
    slug = f"/l{new_seed() % n}"
    t0 = time.monotonic()
    s = Server(f"kurz-{n}-startup", [KURZ, "serve", "--listen", f"{HOST}:{port}", "--data", data,
                                     "--api-key", key], port, cpu)
    s.wait_until(lambda: http_status(port, slug) == 302, start_timeout(n), interval=0.01)
    seconds = time.monotonic() - t0
    s.stop()
    return seconds


def scale_mode(a, results):
    sizes = sorted({SMALL, a.scale})
    key = new_key()
    datasets = {}
    for n in sizes:
        info = dict(ensure_links(n))
        info["bytes_now"] = disk_usage(links_dir(n))
        datasets[n] = info

    startup = {}
    for n in sizes:
        startup[n] = [startup_seconds(links_dir(n), n, key, a.server_cpu) for _ in range(STARTS)]
        log(f"start-up with {n:,} links: " + ", ".join(f"{t * 1000:.0f} ms" for t in startup[n]))

    runs = {}
    for shape in ("uniform", "zipf"):
        # Fresh servers per shape, so RSS and caches reflect this shape only.
        servers = {n: start_kurz(f"kurz-{n}-{shape}", links_dir(n), key, n, a.server_cpu)
                   for n in sizes}
        for n, s in servers.items():
            check_redirects(s, n)
            warm(s, REDIRECT_LUA, redirect_args(n, shape), a, f"{n}-{shape}")
        for i in range(a.runs):
            for n, s in servers.items():  # alternate sizes run by run
                runs.setdefault(f"{n}-{shape}", []).append(
                    measure(s, REDIRECT_LUA, redirect_args(n, shape), a, f"{n}-{shape}-run{i + 1}"))
        for s in servers.values():
            s.stop()

    meds = {k: medians(v) for k, v in runs.items()}
    big, small = a.scale, SMALL
    ratios = {}
    for shape in ("uniform", "zipf"):
        b, s = meds[f"{big}-{shape}"], meds[f"{small}-{shape}"]
        ratios[f"rps_{shape}_{big}_over_{small}"] = ratio(b.get("rps"), s.get("rps"))
        ratios[f"cpu_us_per_req_{shape}_{big}_over_{small}"] = ratio(b.get("cpu_us_per_req"),
                                                                     s.get("cpu_us_per_req"))
    label = {k: f"kurz, {int(k.split('-')[0]):,} links, {k.split('-')[1]}" for k in runs}
    for k in meds:
        note_caveats(label[k], runs[k], meds[k])
    results.update({"datasets": datasets, "startup_seconds": startup, "runs": runs,
                    "medians": meds, "ratios": ratios, "labels": label})

    print(f"\n## Data sets\n")
    print("| links | on disk after import | after `kurz compact` | on disk now | import time "
          "| compact time | start-up (median of 3) |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for n in sizes:
        d = datasets[n]
        print(f"| {n:,} | {d['bytes_after_import'] / 2**20:,.1f} MiB "
              f"| {d['bytes_after_compact'] / 2**20:,.1f} MiB | {d['bytes_now'] / 2**20:,.1f} MiB "
              f"| {d['import_seconds']:.1f} s | {d['compact_seconds']:.1f} s "
              f"| {statistics.median(startup[n]) * 1000:,.0f} ms |")
    print(f"\n## Redirects: medians of {a.runs} run(s) of {a.duration} s, "
          f"{a.connections} connections\n")
    order = [f"{n}-{shape}" for shape in ("uniform", "zipf") for n in sizes]
    print(table([(label[k], meds[k]) for k in order]))
    print()
    for shape in ("uniform", "zipf"):
        print(f"{shape}: throughput({big:,}) / throughput({small:,}) = "
              f"{fmt_num(ratios[f'rps_{shape}_{big}_over_{small}'], 2)}x, "
              f"CPU µs/req ratio {fmt_num(ratios[f'cpu_us_per_req_{shape}_{big}_over_{small}'], 2)}x")


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def parse_args():
    p = argparse.ArgumentParser(
        description="Load benchmark for kurz (see the module docstring for what each figure means).",
        epilog="Examples: python3 benches/load.py | python3 benches/load.py --scale 10000000")
    p.add_argument("--links", type=int, default=10_000, metavar="N",
                   help="links stored for the redirect runs (default 10,000)")
    p.add_argument("--duration", type=int, default=10, metavar="S",
                   help="seconds per measured wrk run (default 10)")
    p.add_argument("--runs", type=int, default=3,
                   help="measured runs per server; medians are reported (default 3)")
    p.add_argument("--shape", choices=("uniform", "zipf"), default="uniform",
                   help="slug popularity for the default mode's redirects (default uniform)")
    p.add_argument("--scale", type=int, metavar="N",
                   help="scale mode: N links against 10,000 (disk, start-up, RSS, "
                        "uniform and Zipf throughput) instead of the default mode")
    p.add_argument("--connections", type=int, default=64,
                   help="wrk keep-alive connections (default 64)")
    p.add_argument("--server-cpu", default="1", help="CPU the server is pinned to (default 1)")
    p.add_argument("--client-cpu", default="0", help="CPU wrk is pinned to (default 0)")
    p.add_argument("--skip-build", action="store_true",
                   help="use the binaries already in target/release")
    a = p.parse_args()
    for name in ("links", "duration", "runs", "connections"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1")
    if a.scale is not None and a.scale < 1:
        p.error("--scale must be at least 1")
    if a.server_cpu == a.client_cpu:
        p.error("server and client must run on different CPUs")
    return a


def preflight(a):
    for tool in ("wrk", "taskset", "cargo"):
        if not shutil.which(tool):
            sys.exit(f"load.py: `{tool}` is not installed (on Debian: apt-get install {tool})")
    allowed = os.sched_getaffinity(0)
    for cpu in (a.server_cpu, a.client_cpu):
        if not cpu.isdigit() or int(cpu) not in allowed:
            sys.exit(f"load.py: CPU {cpu} is not available here (allowed: {sorted(allowed)}); "
                     f"this benchmark needs two CPUs, see --server-cpu/--client-cpu")


def main():
    a = parse_args()
    preflight(a)
    _lock = lock_or_exit()  # held until we exit
    # SIGINT too: a shell starting us in the background may have ignored it.
    for sig in _SIGNALS:
        signal.signal(sig, _raise_interrupt)
    facts = machine_facts()
    print(f"# kurz load benchmark ({'scale ' + format(a.scale, ',') if a.scale else 'default'} mode)\n")
    print(f"- machine: {facts['nproc']} CPUs ({facts['cpu_model']}), Linux {facts['kernel']}")
    print(f"- {facts['wrk']}, {facts['rustc']}, kurz at {facts['commit']}")
    print(f"- server on CPU {a.server_cpu}, one wrk thread on CPU {a.client_cpu}, "
          f"{a.connections} connections, {a.runs} x {a.duration} s runs after a {WARMUP_S} s warm-up",
          flush=True)
    results = {"mode": "scale" if a.scale else "default", "machine": facts,
               "settings": {k: v for k, v in vars(a).items()},
               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        if not a.skip_build:
            build()
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        if a.scale:
            scale_mode(a, results)
        else:
            default_mode(a, results)
    except KeyboardInterrupt:
        log("interrupted; stopping every process started")
        return 130
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        print(f"\nload.py: {e}", file=sys.stderr)
        return 1
    finally:
        stop_all()
    results.update({"problems": PROBLEMS, "notes": NOTES})
    RESULTS.write_text(json.dumps(results, indent=1, default=str) + "\n")
    if NOTES:
        print("\nNotes:")
        for msg in NOTES:
            print(f"- {msg}")
    print(f"\nRaw and median figures: {RESULTS.relative_to(ROOT)}; logs: {LOG_DIR.relative_to(ROOT)}/")
    if PROBLEMS:
        print(f"\n!!! {len(PROBLEMS)} PROBLEM(S) - these figures are not trustworthy as they stand:")
        for msg in PROBLEMS:
            print(f"!!! - {msg}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
