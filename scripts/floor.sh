#!/usr/bin/env bash
# The floor under SPEC §9.3's throughput targets on this machine: the CPU
# time that any exporter producing the SPEC's output must spend, whatever
# its design, next to the CPU time the target leaves on the machine's cores.
#
# For each mix and format it exports once (to learn how big the output is)
# and then measures, without the exporter:
#   read    `cat` of the store's files into a pipe (page cache to user space;
#           the exporter reads the same bytes)
#   write   writing as many bytes as the output holds into $OUT with `dd`
#           from /dev/zero, 256 KiB at a time (user space to page cache)
#   sha256  the envelope bytes at the rate `openssl speed -evp sha256` gives
#           for 256 KiB buffers (SHA-NI where the CPU has it): the manifest
#           lists the sha256 of every envelope file (§6.7)
#   parse   the store's bytes at simd-json's raw tape rate (PARSE_MBS, MB/s
#           on one core; default the `parse/<mix>/simd_json_tape` row of
#           `cargo bench --bench pipeline`, which the README shows)
#   deflate for a zip: the envelope bytes at zlib-rs's level-1 deflate rate
#           (DEFLATE_MBS, MB/s of output on one core; default the
#           `write/<mix>/deflate-1` row of the criterion benches)
# and prints them beside the budget: cores x input MB / target MB/s. What is
# left of the budget is all that encoding (and, for a zip, deflating) the
# output may take. It also runs the export itself with every core and
# prints its CPU time (user + sys). Every CPU time is the least of RUNS
# runs: this is a floor, and a shared VM only ever makes work slower.
#
# Environment: MIXES, SIZE, STORES, OUT, RUNS as in bench.sh;
#   PARSE_MBS_real=740 PARSE_MBS_synthetic=800      simd-json tape MB/s, one core
#   DEFLATE_MBS_real=660 DEFLATE_MBS_synthetic=465  deflate level 1 MB/s, one core
# (the defaults are the README's criterion figures:
#  BENCH_STORE_SIZE=16MiB cargo bench --bench pipeline -- --quick 'parse|deflate-1')
set -euo pipefail
cd "$(dirname "$0")/.."

MIXES=${MIXES:-real synthetic}
SIZE=${SIZE:-1GiB}
STORES=${STORES:-/tmp}
RUNS=${RUNS:-3}
if [ -z "${OUT:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then OUT=/dev/shm/ct-floor; else OUT=/tmp/ct-floor-out; fi
fi
NOW=2026-11-25T00:00:00Z
CORES=$(nproc)

command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "needs openssl (for the sha256 rate)" >&2; exit 1; }
cargo build --release --workspace --quiet
BIN=target/release/coder-telemetry
mkdir -p "$OUT"

# cpu CMD... -> least user+sys seconds of RUNS runs of CMD
cpu() {
  local f
  f=$(mktemp)
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -o "$f" -f "%U %S" "$@" >/dev/null 2>&1
    awk '{ printf "%.2f\n", $1 + $2 }' "$f"
  done | sort -g | head -n 1
  rm -f "$f"
}
write_cpu() { # bytes -> CPU seconds to write that many bytes into $OUT
  local blocks=$(($1 / 262144 + 1))
  cpu sh -c "dd if=/dev/zero of='$OUT/floor-write' bs=256k count=$blocks status=none; rm -f '$OUT/floor-write'"
}
bytes_of() { find "$@" -type f ! -name manifest.json -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1e6 }'; }

# sha256 bytes per second, 256 KiB buffers, one core.
sha_rate=$(openssl speed -evp sha256 -bytes 262144 -seconds 2 2>/dev/null |
  awk '/^sha256/ { v = $NF; sub(/k$/, "", v); print v * 1000 }')
echo "sha256: $(mb "$sha_rate") MB/s on one core (openssl speed -evp sha256, 256 KiB buffers); $CORES cores"

floor_mix() {
  local mix=$1 store="$STORES/ct-bench-$1-$SIZE"
  [ -d "$store" ] || { echo "no $store: run scripts/bench.sh first (it generates the stores)" >&2; exit 1; }
  local parse_var="PARSE_MBS_$mix" deflate_var="DEFLATE_MBS_$mix" parse_mbs deflate_mbs
  parse_mbs=${!parse_var:-$([ "$mix" = real ] && echo 740 || echo 800)}
  deflate_mbs=${!deflate_var:-$([ "$mix" = real ] && echo 660 || echo 465)}
  local in_bytes read_s parse_s
  in_bytes=$(cat "$store"/telemetry-*.jsonl | wc -c)
  read_s=$(cpu sh -c "cat '$store'/telemetry-*.jsonl > /dev/null")
  parse_s=$(awk -v b="$in_bytes" -v r="$parse_mbs" 'BEGIN { printf "%.2f", b / 1e6 / r }')

  rm -rf "${OUT:?}"/floor-out*
  "$BIN" export "$store" --now "$NOW" --quiet -o "$OUT/floor-out.json"
  "$BIN" export "$store" --now "$NOW" --quiet --format otlp -o "$OUT/floor-out-dir/"
  "$BIN" export "$store" --now "$NOW" --quiet --format otlp -o "$OUT/floor-out.zip"
  local json_b otlp_b zip_b
  json_b=$(bytes_of "$OUT/floor-out.json")
  otlp_b=$(bytes_of "$OUT/floor-out-dir")
  zip_b=$(bytes_of "$OUT/floor-out.zip")
  rm -rf "${OUT:?}"/floor-out*
  local sha_s deflate_s
  sha_s=$(awk -v b="$otlp_b" -v r="$sha_rate" 'BEGIN { printf "%.2f", b / r }')
  deflate_s=$(awk -v b="$otlp_b" -v r="$deflate_mbs" 'BEGIN { printf "%.2f", b / 1e6 / r }')

  echo
  echo "$mix mix: $store, $(mb "$in_bytes") MB in; json $(mb "$json_b") MB out, otlp $(mb "$otlp_b") MB out (zip $(mb "$zip_b") MB)"
  echo "read $read_s CPU-s, parse (simd-json tape at $parse_mbs MB/s) $parse_s CPU-s, deflate at $deflate_mbs MB/s"
  echo
  echo "| format | target MB/s | budget CPU-s | read | parse | write out | sha256 | deflate | floor | left to encode | export CPU-s now |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  local fmt target write_s sha deflate args
  for fmt in json otlp-dir otlp-zip; do
    case $mix/$fmt in
      real/json | real/otlp-dir) target=400 ;;
      synthetic/json | synthetic/otlp-dir) target=500 ;;
      */otlp-zip) target=300 ;;
    esac
    case $fmt in
      json) write_s=$(write_cpu "$json_b") sha=0 deflate=0 args=(-o "$OUT/floor-out.json") ;;
      otlp-dir) write_s=$(write_cpu "$otlp_b") sha=$sha_s deflate=0 args=(--format otlp -o "$OUT/floor-out-dir/") ;;
      otlp-zip) write_s=$(write_cpu "$zip_b") sha=$sha_s deflate=$deflate_s args=(--format otlp -o "$OUT/floor-out.zip") ;;
    esac
    local now_s
    now_s=$(cpu sh -c "rm -rf '$OUT'/floor-out*; '$BIN' export '$store' --now $NOW --quiet ${args[*]}")
    rm -rf "${OUT:?}"/floor-out*
    awk -v f="$fmt" -v t="$target" -v c="$CORES" -v b="$in_bytes" -v r="$read_s" -v p="$parse_s" \
        -v w="$write_s" -v s="$sha" -v z="$deflate" -v n="$now_s" 'BEGIN {
      budget = c * b / 1e6 / t; floor = r + p + w + s + z;
      printf "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
        f, t, budget, r, p, w, s, z, floor, budget - floor, n }'
  done
}

for mix in $MIXES; do
  floor_mix "$mix"
done
