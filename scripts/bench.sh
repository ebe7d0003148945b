#!/usr/bin/env bash
# End-to-end benchmark (SPEC §9): generates (or reuses) a store of at least
# 1 GB with testdata-gen, warms the page cache, then runs each format (json,
# otlp to a folder, otlp to a zip) with --threads 1 and 2 and prints MB/s of
# input, events/s and peak RSS (from /usr/bin/time), and the speedup from 1
# to 2 threads, next to the time of a plain `cat | wc -l` of the same files
# as the floor. (`--threads N` confines the whole export to N cores.)
#
# Environment:
#   SIZE=1GiB            store size to generate
#   STORE=/tmp/ct-bench-$SIZE   store folder (reused when it exists)
#   OUT=/dev/shm/ct-bench      where outputs go (tmpfs when available, so the
#                              figures measure the exporter, not the disk)
#   RUNS=3               runs per row; the median time and the highest RSS are shown
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${SIZE:-1GiB}
STORE=${STORE:-/tmp/ct-bench-$SIZE}
RUNS=${RUNS:-3}
if [ -z "${OUT:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then OUT=/dev/shm/ct-bench; else OUT=/tmp/ct-bench-out; fi
fi
NOW=2026-11-25T00:00:00Z

command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
cargo build --release --workspace --quiet
BIN=target/release/coder-telemetry

if [ ! -d "$STORE" ]; then
  echo "generating a $SIZE store in $STORE ..." >&2
  target/release/testdata-gen --out "$STORE" --size "$SIZE" --days 7 --sessions-per-day 8 --seed 42
fi
mkdir -p "$OUT"
BYTES=$(cat "$STORE"/telemetry-*.jsonl | wc -c)
MB=$(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1e6 }')

cat "$STORE"/telemetry-*.jsonl > /dev/null   # warm the page cache
EVENTS=$("$BIN" export "$STORE" --now "$NOW" --quiet --summary-json -o - 2>&1 >/dev/null | tail -n 1 |
         sed -E 's/.*"events":([0-9]+).*/\1/')

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

floor_s=$( { for _ in $(seq "$RUNS"); do
  /usr/bin/time -f "%e" sh -c "cat '$STORE'/telemetry-*.jsonl | wc -l > /dev/null" 2>&1 | tail -n 1
done; } | median)

echo
echo "store: $STORE, $MB MB, $EVENTS events, $(ls "$STORE"/telemetry-*.jsonl | wc -l) files; output in $OUT; $(nproc) cores"
echo
printf '| %-9s | %-7s | %7s | %7s | %10s | %9s | %7s |\n' format threads "time s" "MB/s" "events/s" "peak RSS" speedup
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ----------- --------- --------- --------- ------------ ----------- ---------
printf '| %-9s | %-7s | %7s | %7s | %10s | %9s | %7s |\n' "cat|wc -l" 1 "$floor_s" \
  "$(awk -v m="$MB" -v s="$floor_s" 'BEGIN { printf "%.0f", m / s }')" - - -

ONE=0
row() {
  local fmt=$1 threads=$2 args
  case $fmt in
    json) args=(-o "$OUT/out.json") ;;
    otlp-dir) args=(--format otlp -o "$OUT/out-dir") ;;
    otlp-zip) args=(--format otlp -o "$OUT/out.zip") ;;
  esac
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    rm -rf "${OUT:?}"/out*
    local line
    line=$( { /usr/bin/time -f "%e %M" "$BIN" export "$STORE" --now "$NOW" --quiet \
              --threads "$threads" "${args[@]}"; } 2>&1 | tail -n 1)
    times+=("${line%% *}")
    local r=${line##* }
    [ "$r" -gt "$rss" ] && rss=$r
  done
  rm -rf "${OUT:?}"/out*
  local t speedup=-
  t=$(printf '%s\n' "${times[@]}" | median)
  if [ "$threads" = 1 ]; then ONE=$t; else speedup=$(awk -v a="$ONE" -v b="$t" 'BEGIN { printf "%.2fx", a / b }'); fi
  printf '| %-9s | %-7s | %7s | %7s | %10s | %5s MiB | %7s |\n' "$fmt" "$threads" "$t" \
    "$(awk -v m="$MB" -v s="$t" 'BEGIN { printf "%.0f", m / s }')" \
    "$(awk -v e="$EVENTS" -v s="$t" 'BEGIN { printf "%.2fM", e / s / 1e6 }')" \
    "$((rss / 1024))" "$speedup"
}

for fmt in json otlp-dir otlp-zip; do
  row "$fmt" 1
  row "$fmt" 2
done
