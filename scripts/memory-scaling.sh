#!/usr/bin/env bash
# Peak RSS for a store and one 10x bigger, on both of testdata-gen's mixes
# (SPEC §9.1: at most 128 MiB, and at most 20% growth for 10x the data).
# Generates the stores when missing (same days and generator settings, so
# only the volume changes), exports each in every format, and prints peak
# RSS side by side.
#
#   MIXES="real synthetic" FORMATS="json otlp-dir otlp-zip otlp-split-zip" \
#     SMALL=1GiB BIG=10GiB STORES=/tmp OUT=/tmp RUNS=3 scripts/memory-scaling.sh
# Peak RSS depends on timing (how full the bounded queues get), so each
# figure is the highest of RUNS runs. Needs about 11x SMALL of disk per mix
# for the stores, plus the outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
MIXES=${MIXES:-real synthetic}
FORMATS=${FORMATS:-json otlp-dir otlp-zip otlp-split-zip}
SMALL=${SMALL:-1GiB}
BIG=${BIG:-10GiB}
STORES=${STORES:-/tmp}
OUT=${OUT:-/tmp}
RUNS=${RUNS:-3}
NOW=2026-11-25T00:00:00Z
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
cargo build --release --workspace --quiet
BIN=target/release/coder-telemetry

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

for mix in $MIXES; do
  extra=()
  [ "$mix" = synthetic ] && extra=(--sessions-per-day 8)
  for size in "$SMALL" "$BIG"; do
    store=$STORES/ct-bench-$mix-$size
    [ -d "$store" ] || target/release/testdata-gen --out "$store" --mix "$mix" --size "$size" --days 7 --seed 42 "${extra[@]}"
  done
  echo
  echo "$mix mix"
  echo
  printf '| %-16s | %9s | %9s | %7s |\n' format "$SMALL" "$BIG" growth
  printf '|%s|%s|%s|%s|\n' ------------------ ----------- ----------- ---------
  for fmt in $FORMATS; do
    case $fmt in
      json) args=(-o "$OUT/ct-scale-out.json") ;;
      otlp-dir) args=(-o "$OUT/ct-scale-out-dir/") ;;
      otlp-zip) args=(-o "$OUT/ct-scale-out.zip") ;;
      otlp-split-zip) args=(--layout split -o "$OUT/ct-scale-out-split.zip") ;;
    esac
    a=$(peak "$STORES/ct-bench-$mix-$SMALL" "${args[@]}")
    b=$(peak "$STORES/ct-bench-$mix-$BIG" "${args[@]}")
    printf '| %-16s | %5s MiB | %5s MiB | %6s%% |\n' "$fmt" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.0f", (b - a) * 100 / a }')"
  done
done
