#!/usr/bin/env bash
# End-to-end benchmark (SPEC §9.3, §9.4) on both of testdata-gen's mixes:
# `real` (what the extension's own sink writes: 78% http.requests, v1 only,
# 5 MiB rotation, files dated by flush day) and `synthetic` (the broad
# catalogue, all wire formats, many sessions a day). For each it generates
# (or reuses) a store of at least 1 GB, warms the page cache, runs each format
# (json, otlp to a folder, otlp to a zip) with --threads 1 and 2, and prints
# MB/s of input, events/s, metric points/s and peak RSS (from /usr/bin/time),
# and the speedup from 1 to 2 threads, next to the time of a plain
# `cat | wc -l` of the same files as the floor. (`--threads N` confines the
# whole export to N cores.)
#
# Environment:
#   MIXES="real synthetic"   which mixes to run
#   SIZE=1GiB                store size to generate
#   STORES=/tmp              stores go to $STORES/ct-bench-$mix-$SIZE (reused when they exist)
#   OUT=/dev/shm/ct-bench    where outputs go (tmpfs when available, so the
#                            figures measure the exporter, not the disk)
#   RUNS=3                   runs per row; the median time and the highest RSS are shown
#   THREADS="1 2"            thread counts (the speedup is against the first)
set -euo pipefail
cd "$(dirname "$0")/.."

MIXES=${MIXES:-real synthetic}
SIZE=${SIZE:-1GiB}
STORES=${STORES:-/tmp}
RUNS=${RUNS:-3}
THREADS=${THREADS:-1 2}
if [ -z "${OUT:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then OUT=/dev/shm/ct-bench; else OUT=/tmp/ct-bench-out; fi
fi
NOW=2026-11-25T00:00:00Z

command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
cargo build --release --workspace --quiet
BIN=target/release/coder-telemetry
mkdir -p "$OUT"

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
json_field() { sed -E "s/.*\"$1\":([0-9]+).*/\1/"; }

bench_mix() {
  local mix=$1 store="$STORES/ct-bench-$1-$SIZE"
  if [ ! -d "$store" ]; then
    echo "generating a $SIZE $mix store in $store ..." >&2
    local extra=()
    [ "$mix" = synthetic ] && extra=(--sessions-per-day 8)
    target/release/testdata-gen --out "$store" --mix "$mix" --size "$SIZE" --days 7 --seed 42 "${extra[@]}"
  fi
  local bytes mb files summary events points floor_s
  bytes=$(cat "$store"/telemetry-*.jsonl | wc -c)
  mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
  files=$(find "$store" -name 'telemetry-*.jsonl' | wc -l)
  cat "$store"/telemetry-*.jsonl > /dev/null   # warm the page cache
  summary=$("$BIN" export "$store" --now "$NOW" --quiet --summary-json -o - 2>&1 >/dev/null | tail -n 1)
  events=$(echo "$summary" | json_field events)
  points=$(echo "$summary" | json_field metric_points)
  floor_s=$( { for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e" sh -c "cat '$store'/telemetry-*.jsonl | wc -l > /dev/null" 2>&1 | tail -n 1
  done; } | median)

  echo
  echo "$mix mix: $store, $mb MB, $files files, $events events, $points metric points; output in $OUT; $(nproc) cores"
  echo
  printf '| %-9s | %-7s | %7s | %7s | %9s | %9s | %9s | %7s |\n' format threads "time s" "MB/s" "events/s" "points/s" "peak RSS" speedup
  printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ----------- --------- --------- --------- ----------- ----------- ----------- ---------
  printf '| %-9s | %-7s | %7s | %7s | %9s | %9s | %9s | %7s |\n' "cat|wc -l" 1 "$floor_s" \
    "$(awk -v m="$mb" -v s="$floor_s" 'BEGIN { printf "%.0f", m / s }')" - - - -

  local fmt threads args first
  for fmt in json otlp-dir otlp-zip; do
    case $fmt in
      json) args=(-o "$OUT/out.json") ;;
      otlp-dir) args=(-o "$OUT/out-dir/") ;;
      otlp-zip) args=(-o "$OUT/out.zip") ;;
    esac
    first=
    for threads in $THREADS; do
      local times=() rss=0 line r t speedup=-
      for _ in $(seq "$RUNS"); do
        rm -rf "${OUT:?}"/out*
        line=$( { /usr/bin/time -f "%e %M" "$BIN" export "$store" --now "$NOW" --quiet \
                  --threads "$threads" "${args[@]}"; } 2>&1 | tail -n 1)
        times+=("${line%% *}")
        r=${line##* }
        [ "$r" -gt "$rss" ] && rss=$r
      done
      rm -rf "${OUT:?}"/out*
      t=$(printf '%s\n' "${times[@]}" | median)
      if [ -z "$first" ]; then first=$t; else speedup=$(awk -v a="$first" -v b="$t" 'BEGIN { printf "%.2fx", a / b }'); fi
      printf '| %-9s | %-7s | %7s | %7s | %9s | %9s | %5s MiB | %7s |\n' "$fmt" "$threads" "$t" \
        "$(awk -v m="$mb" -v s="$t" 'BEGIN { printf "%.0f", m / s }')" \
        "$(awk -v e="$events" -v s="$t" 'BEGIN { printf "%.2fM", e / s / 1e6 }')" \
        "$(awk -v e="$points" -v s="$t" 'BEGIN { printf "%.2fM", e / s / 1e6 }')" \
        "$((rss / 1024))" "$speedup"
    done
  done
}

for mix in $MIXES; do
  bench_mix "$mix"
done
