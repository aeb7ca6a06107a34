#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS seconds; exits non-zero if
# any target crashed (reproducers land in fuzz/artifacts/<target>/).
#
#   bash fuzz/run.sh SECONDS [TARGET...]     # default: all targets, one after another
#
# Needs no standard input. Installs cargo-fuzz if it is missing. Uses the
# nightly toolchain when rustup has one, else stable with RUSTC_BOOTSTRAP=1
# (cargo-fuzz passes nightly-only -Z flags). New inputs a run finds go to a
# temporary directory, removed at the end; the checked-in seeds in
# fuzz/corpus/<target>/ are only read. Set KURZ_FUZZ_KEEP=DIR to keep them in
# DIR instead, KURZ_FUZZ_SANITIZER=none to build without AddressSanitizer.
set -euo pipefail

usage() {
  echo "usage: bash fuzz/run.sh SECONDS [TARGET...]" >&2
  exit 2
}
[[ $# -ge 1 && $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || usage
secs=$1
shift

cd "$(dirname "$0")/.."
exec </dev/null

all_targets=(target_url slug json_bodies router record bucket store_model visit day_blocks)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

# Longest input per target: past the 8 KiB URL cap and the 16 KiB record cap.
max_len() {
  case $1 in
    target_url) echo 9000 ;;
    record) echo 20000 ;;
    *) echo 4096 ;;
  esac
}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

if command -v rustup >/dev/null 2>&1 && rustup toolchain list | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
  echo "== toolchain: nightly"
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
  echo "== toolchain: stable with RUSTC_BOOTSTRAP=1"
fi
sanitizer=${KURZ_FUZZ_SANITIZER:-address}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/kurz-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# The router target opens its store under $TMPDIR; keep it inside the scratch
# directory so it goes away with it.
mkdir -p "$scratch/tmp"
export TMPDIR=$scratch/tmp
found=${KURZ_FUZZ_KEEP:-$scratch/found}

echo "== building ${targets[*]} (sanitizer: $sanitizer)"
for t in "${targets[@]}"; do
  "${fuzz[@]}" build -s "$sanitizer" "$t"
done

failed=()
summary=()
for t in "${targets[@]}"; do
  echo "== $t: ${secs}s"
  mkdir -p "$found/$t"
  log=$scratch/$t.log
  status=ok
  if ! "${fuzz[@]}" run -s "$sanitizer" "$t" "$found/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=30 \
      -print_final_stats=1 2>&1 | tee "$log"; then
    status=CRASHED
    failed+=("$t")
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  summary+=("$(printf '%-12s %-8s %12s execs %8s exec/s' "$t" "$status" "${runs:-?}" "${rate:-?}")")
done

echo
echo "== summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "crashed: ${failed[*]} (reproducers in fuzz/artifacts/)" >&2
  exit 1
fi
