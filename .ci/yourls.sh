#!/usr/bin/env bash
# YOURLS client conformance: the PyPI `yourls` client (a Python YOURLS
# client) drives the real `kurz serve` through /yourls-api.php: shorten,
# expand, url-stats, stats, db-stats and the auth forms
# (tests/yourls_client.py). Needs no standard input; exits non-zero on any
# failure; the server and the throwaway virtualenv go on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
mkdir -p target
work="$(mktemp -d target/yourls-conformance.XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A virtualenv of its own; Debian's python3 needs python3-venv for it.
if ! python3 -m venv "$work/venv" >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends python3-venv
  rm -rf "$work/venv"
  python3 -m venv "$work/venv"
fi
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check yourls

cargo build -q --bin kurz
kurz="$target/debug/kurz"
data="$work/data"
key="yourls-conformance-key-0123456789"
token="$("$kurz" key --yourls --data "$data" 2>/dev/null)"

# Port 0: the system picks a free loopback port, and kurz says which.
"$kurz" serve --listen 127.0.0.1:0 --data "$data" --api-key "$key" \
  >"$work/stdout" 2>"$work/log" </dev/null &
server_pid=$!
url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/^kurz listening on \(http:[^ ]*\).*/\1/p' "$work/stdout")"
  if [ -n "$url" ]; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "kurz serve did not start; its log:" >&2
  cat "$work/log" >&2
  exit 1
fi
echo "kurz serving at $url"

if ! KURZ_URL="$url" KURZ_KEY="$key" KURZ_YOURLS_TOKEN="$token" \
  timeout 60 "$work/venv/bin/python" tests/yourls_client.py </dev/null; then
  echo "YOURLS client conformance failed; the server's log:" >&2
  tail -n 40 "$work/log" >&2
  exit 1
fi
