#!/usr/bin/env bash
# User-space instructions per redirect, kurz against the bare-hyper baseline,
# counted by valgrind's callgrind: unlike CPU time, the count does not move
# with other tenants of a shared machine, so a change of a few percent shows.
# Kernel work (the socket reads and writes, the same for both servers) is not
# counted, so the ratio is higher than the CPU-time ratio of benches/load.py.
#
#   bash benches/instructions.sh            # about 1 minute
#   BROWSER_HEADERS=1 bash benches/instructions.sh
#                                           # each request as a browser sends it, with a
#                                           # Chrome User-Agent and a Referer (kurz then
#                                           # sorts bots and counts the referrer host)
#   PROFILE=profiling bash benches/instructions.sh
#                                           # the same code built with symbols (Cargo.toml,
#                                           # [profile.profiling]); keeps the callgrind
#                                           # dumps in target/callgrind/ for callgrind_annotate
#
# Counting needs no symbols, so by default it measures the stripped release
# binary, the one that ships.
#
# With BROWSER_HEADERS the figure overstates the cost at full speed: every 2 s
# kurz stores one referrer counter per link clicked (~5 us each, see
# `cargo bench --bench store -- flush_sources`), and under callgrind about 50
# times fewer requests share that work.
#
# Needs valgrind, wrk and curl, and the 10,000-link data set that
# `python3 benches/load.py` builds under target/load-data/ (run it once).
# Each server runs under callgrind, is warmed up for 8 s (so the link cache
# holds every link), then its counters are zeroed, wrk sends uniform random
# redirects for 10 s, and the count is divided by the requests wrk completed.
set -euo pipefail
exec </dev/null
cd "$(dirname "$0")/.."

for tool in valgrind callgrind_control wrk curl; do
  command -v "$tool" >/dev/null || { echo "instructions.sh: needs $tool" >&2; exit 2; }
done
data=target/load-data/links-10000
[[ -d $data ]] || { echo "instructions.sh: no $data; run python3 benches/load.py once" >&2; exit 2; }
profile=${PROFILE:-release}
cargo build --profile "$profile" -q --bin kurz --example baseline
bin=target/$profile

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# count NAME PROGRAM ARGS... : prints "NAME requests instructions/request"
count() {
  local name=$1; shift
  local port; port=$(free_port)
  local args=("$@")
  args=("${args[@]//PORT/$port}")
  valgrind --tool=callgrind --fair-sched=yes --callgrind-out-file="$work/$name.%p" \
    "${args[@]}" >"$work/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 240); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.5
  done
  local lua=benches/wrk/redirect.lua url="http://127.0.0.1:$port"
  local headers=()
  if [[ -n ${BROWSER_HEADERS:-} ]]; then
    headers=(-H "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
      -H "Referer: https://news.ycombinator.com/item?id=42")
  fi
  wrk -t1 -c64 -d8s "${headers[@]}" -s "$lua" "$url" -- 10000 uniform 1 >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  local out; out=$(wrk -t1 -c64 -d10s "${headers[@]}" -s "$lua" "$url" -- 10000 uniform 2)
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local requests; requests=$(awk '/requests in/ {print $1}' <<<"$out")
  local dump; dump=$(ls "$work/$name".*.1)
  if [[ $profile != release ]]; then
    mkdir -p target/callgrind && cp "$dump" "target/callgrind/$name.out"
  fi
  local ir; ir=$(awk '/^summary:/ {print $2}' "$dump")
  echo "$name $requests $((ir / requests))"
}

cp -rL "$data" "$work/data"
kurz=$(count kurz "$bin/kurz" serve --listen 127.0.0.1:PORT --data "$work/data" \
  --api-key bench-key-0123456789 --skip-startup-check)
base=$(count baseline "$bin/examples/baseline" 127.0.0.1:PORT)
read -r _ kreq kir <<<"$kurz"
read -r _ breq bir <<<"$base"
echo "| server | requests counted | instructions / request |"
echo "|---|--:|--:|"
echo "| kurz redirect, 10,000 links, uniform | $kreq | $kir |"
echo "| baseline (bare hyper, fixed 302) | $breq | $bir |"
python3 -c "print(f'kurz / baseline: {$kir / $bir:.2f}x instructions per request')"
