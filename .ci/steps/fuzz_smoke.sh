#!/usr/bin/env bash
# Fuzz smoke run (STYLE R23): every cargo-fuzz target in fuzz/ for CPJ_FUZZ_SECONDS
# (default 15) seconds, starting from its checked-in corpus. Needs a nightly toolchain
# and cargo-fuzz (installed from crates.io if missing); without them it prints a note
# and exits 0. The corpora are also replayed on stable by tests/fuzz_corpus_replay.rs.
# Budget: about 4 minutes to build the targets the first time, then 15 s per target.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${CPJ_FUZZ_SECONDS:-15}
# Every [[bin]] of fuzz/Cargo.toml, so a new target is smoke-run without editing this.
targets=$(grep -A1 '^\[\[bin\]\]' fuzz/Cargo.toml | sed -n 's/^name = "\(.*\)"/\1/p')
[ -n "$targets" ] || { echo "error: no fuzz targets found in fuzz/Cargo.toml"; exit 1; }

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "note: no nightly toolchain; fuzz smoke run skipped (corpus replay still runs on stable)"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing; installing it from crates.io"
  if ! timeout 900 cargo install --locked cargo-fuzz; then
    echo "note: cargo-fuzz could not be installed; fuzz smoke run skipped"
    exit 0
  fi
fi

cd fuzz
target_dir=${CPJ_FUZZ_TARGET_DIR:-target}
if ! timeout 1200 cargo +nightly fuzz build --target-dir "$target_dir"; then
  echo "note: the fuzz targets did not build with this nightly; fuzz smoke run skipped"
  exit 0
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in $targets; do
  mkdir -p "$scratch/$t"
  echo "--- $t: ${seconds}s from corpus/$t"
  # New inputs go to the scratch corpus (first directory); the checked-in one is only read.
  if ! cargo +nightly fuzz run --target-dir "$target_dir" "$t" "$scratch/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 2>"$scratch/$t.log"; then
    tail -n 60 "$scratch/$t.log"
    echo "error: fuzz target $t failed; the input is in fuzz/artifacts/$t/" >&2
    echo "add it to fuzz/corpus/$t/ once the bug is fixed"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$scratch/$t.log" || true
done
