#!/usr/bin/env bash
# Peak RSS for a store and one 10x bigger (SPEC §9.1: at most 128 MiB, and
# at most 20% growth for 10x the data). Generates both stores with
# testdata-gen when missing (same days and sessions, so only the volume
# changes), exports each in every format, and prints peak RSS side by side.
#
#   SMALL=1GiB BIG=10GiB OUT=/tmp RUNS=3 scripts/memory-scaling.sh
# Peak RSS depends on timing (how full the bounded queues get), so each
# figure is the highest of RUNS runs. Needs about 11x SMALL of disk for the
# stores, plus the outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=${SMALL:-1GiB}
BIG=${BIG:-10GiB}
OUT=${OUT:-/tmp}
RUNS=${RUNS:-3}
NOW=2026-11-25T00:00:00Z
cargo build --release --workspace --quiet
BIN=target/release/coder-telemetry
for size in "$SMALL" "$BIG"; do
  store=/tmp/ct-bench-$size
  [ -d "$store" ] || target/release/testdata-gen --out "$store" --size "$size" --days 7 --sessions-per-day 8 --seed 42
done

peak() { # store, args... -> highest peak RSS of RUNS runs, in MiB
  local store=$1; shift
  local kb max=0
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT"/ct-scale-out*
    kb=$( { /usr/bin/time -f "%M" "$BIN" export "$store" --now "$NOW" --quiet "$@"; } 2>&1 | tail -n 1)
    [ "$kb" -gt "$max" ] && max=$kb
  done
  rm -rf "$OUT"/ct-scale-out*
  echo $((max / 1024))
}

printf '| %-16s | %9s | %9s | %7s |\n' format "$SMALL" "$BIG" growth
printf '|%s|%s|%s|%s|\n' ------------------ ----------- ----------- ---------
for fmt in json otlp-dir otlp-zip otlp-split-zip; do
  case $fmt in
    json) args=(-o "$OUT/ct-scale-out.json") ;;
    otlp-dir) args=(--format otlp -o "$OUT/ct-scale-out-dir") ;;
    otlp-zip) args=(--format otlp -o "$OUT/ct-scale-out.zip") ;;
    otlp-split-zip) args=(--format otlp --layout split -o "$OUT/ct-scale-out-split.zip") ;;
  esac
  a=$(peak "/tmp/ct-bench-$SMALL" "${args[@]}")
  b=$(peak "/tmp/ct-bench-$BIG" "${args[@]}")
  printf '| %-16s | %5s MiB | %5s MiB | %6s%% |\n' "$fmt" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.0f", (b - a) * 100 / a }')"
done
