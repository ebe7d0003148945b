#!/usr/bin/env bash
# Peak RSS for a store and one 10x bigger, on both of testdata-gen's mixes
# (SPEC §9.1: at most 128 MiB, and at most 20% growth for 10x the data).
# Generates the stores when missing (same days and generator settings, so
# only the volume changes), exports each in every format, prints peak RSS
# side by side, and checks both limits: a peak over LIMIT_MIB (128), a
# growth over GROWTH_PCT (20) or a failed export is marked FAIL, and the
# script then exits 1 after the tables.
#
#   MIXES="real synthetic" FORMATS="json otlp-dir otlp-zip otlp-split-zip" \
#     SMALL=1GiB BIG=10GiB STORES=/tmp OUT=/tmp RUNS=3 scripts/memory-scaling.sh
# Peak RSS depends on timing (how full the bounded queues get), so each
# figure is the highest of RUNS runs. Needs about 11x SMALL of disk per mix
# for the stores, plus the outputs. PROFILE=dev measures the test build's
# binary (target/debug) instead of the release one (.ci/run, small stores).
set -euo pipefail
cd "$(dirname "$0")/.."
MIXES=${MIXES:-real synthetic}
FORMATS=${FORMATS:-json otlp-dir otlp-zip otlp-split-zip}
SMALL=${SMALL:-1GiB}
BIG=${BIG:-10GiB}
STORES=${STORES:-/tmp}
OUT=${OUT:-/tmp}
RUNS=${RUNS:-3}
LIMIT_MIB=${LIMIT_MIB:-128}
GROWTH_PCT=${GROWTH_PCT:-20}
PROFILE=${PROFILE:-release}
NOW=2026-11-25T00:00:00Z
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
case $PROFILE in
  release) cargo build --release --workspace --quiet; TARGET=$TARGET/release ;;
  dev) cargo build --workspace --quiet; TARGET=$TARGET/debug ;;
  *) echo "PROFILE is release or dev" >&2; exit 2 ;;
esac
BIN=$TARGET/coder-telemetry
mkdir -p "$OUT"
failed=()

peak() { # store, args... -> highest peak RSS of RUNS runs, in MiB
  local store=$1; shift
  local kb max=0
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT"/ct-scale-out*
    # With pipefail, a failed export fails the assignment: reported as -1.
    kb=$( { /usr/bin/time -f "%M" "$BIN" export "$store" --now "$NOW" --quiet "$@"; } 2>&1 | tail -n 1) || { echo -1; return; }
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
    [ -d "$store" ] || "$TARGET/testdata-gen" --out "$store" --mix "$mix" --size "$size" --days 7 --seed 42 "${extra[@]}"
  done
  echo
  echo "$mix mix"
  echo
  printf '| %-16s | %9s | %9s | %7s | %s |\n' format "$SMALL" "$BIG" growth "<= $LIMIT_MIB MiB, +$GROWTH_PCT%"
  printf '|%s|%s|%s|%s|%s|\n' ------------------ ----------- ----------- --------- ------
  for fmt in $FORMATS; do
    case $fmt in
      json) args=(-o "$OUT/ct-scale-out.json") ;;
      otlp-dir) args=(-o "$OUT/ct-scale-out-dir/") ;;
      otlp-zip) args=(-o "$OUT/ct-scale-out.zip") ;;
      otlp-split-zip) args=(--layout split -o "$OUT/ct-scale-out-split.zip") ;;
    esac
    a=$(peak "$STORES/ct-bench-$mix-$SMALL" "${args[@]}")
    b=$(peak "$STORES/ct-bench-$mix-$BIG" "${args[@]}")
    # (mawk has no %+ flag: the sign is written by hand)
    growth=$(awk -v a="$a" -v b="$b" 'BEGIN { g = a > 0 ? (b - a) * 100 / a : 0; printf "%s%d", (g >= 0 ? "+" : ""), g }')
    verdict=ok
    if [ "$a" -lt 0 ] || [ "$b" -lt 0 ]; then
      verdict="FAIL (export failed)"
    elif [ "$a" -gt "$LIMIT_MIB" ] || [ "$b" -gt "$LIMIT_MIB" ]; then
      verdict="FAIL (over $LIMIT_MIB MiB)"
    elif awk -v a="$a" -v b="$b" -v g="$GROWTH_PCT" 'BEGIN { exit !((b - a) * 100 > g * a) }'; then
      verdict="FAIL (grew over $GROWTH_PCT%)"
    fi
    [ "$verdict" = ok ] || failed+=("$mix $fmt: $verdict")
    printf '| %-16s | %5s MiB | %5s MiB | %6s%% | %s |\n' "$fmt" "$a" "$b" "$growth" "$verdict"
  done
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'memory-scaling: FAIL: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "memory-scaling: every peak at most $LIMIT_MIB MiB, growth at most $GROWTH_PCT% for ${BIG} against ${SMALL}"
