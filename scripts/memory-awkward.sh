#!/usr/bin/env bash
# Peak RSS on the awkward inputs of SPEC §9.1, each at most 128 MiB whatever
# the input: 30,000 sessions interleaved in time on one day (the JSON merge),
# 300,000 tiny files, a 300 MB line, a header whose context is 1 MB, a row
# with 3,000 properties and 3,000 measurements, a metric row with 1,000,000
# distinct keys, and --threads 1024 on a 1 GiB real-mix store. Each input is
# generated once (python3) under $STORES, exported as json and as an otlp
# zip and sent (`send`, http/protobuf with gzip, every request built and
# compressed: --dry-run; and over gRPC to the Collector's receiver with
# -discard when tests/otlp-receiver/otlp-receiver is built), and the
# highest peak RSS of RUNS runs is printed with the time and
# the export's own summary (events, skipped lines). GRPC=0 leaves the gRPC
# rows out. A peak over LIMIT_MIB
# (SPEC §9.1: 128) or a failed export is marked FAIL, and the script then
# exits 1 after the table.
#
#   STORES=/tmp/ct-awkward OUT=/tmp RUNS=1 scripts/memory-awkward.sh [CASE...]
#
# PROFILE=dev measures the test build's binary (target/debug) instead of
# the release one: the same allocations, without the release build's time
# (.ci/run runs a cheap subset that way). THREADS_SIZE sets the size of the
# threads-1024 case's store (default 1GiB).
set -euo pipefail
cd "$(dirname "$0")/.."
STORES=${STORES:-/tmp/ct-awkward}
OUT=${OUT:-/tmp}
RUNS=${RUNS:-1}
LIMIT_MIB=${LIMIT_MIB:-128}
PROFILE=${PROFILE:-release}
THREADS_SIZE=${THREADS_SIZE:-1GiB}
NOW=2026-11-25T00:00:00Z
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "needs python3 (it writes the inputs)" >&2; exit 1; }
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
case $PROFILE in
  release) cargo build --release --workspace --quiet; TARGET=$TARGET/release ;;
  dev) cargo build --workspace --quiet; TARGET=$TARGET/debug ;;
  *) echo "PROFILE is release or dev" >&2; exit 2 ;;
esac
BIN=$TARGET/coder-telemetry
mkdir -p "$OUT"
mkdir -p "$STORES"

make_case() { # name -> creates $STORES/name when missing
  local dir=$STORES/$1
  [ -d "$dir" ] && return
  mkdir -p "$dir.tmp"
  python3 - "$1" "$dir.tmp" <<'PY'
import json, os, sys
case, d = sys.argv[1], sys.argv[2]
def header(sid, **ctx):
    c = {"extension_version": "1.15.1", "machine_id": "m", "session_id": sid, "os_type": "linux",
         "os_version": "6.8", "host_arch": "x64", "platform_name": "Visual Studio Code", "platform_version": "1.105.1"}
    c.update(ctx)
    return json.dumps({"kind": "header", "schema_version": 1, "timestamp": "2026-11-20T00:00:00.000Z", "context": c})
def row(i, t, name="http.requests", **extra):
    r = {"event_id": "%016x" % (i + 1), "event_name": name, "timestamp": t, "event_sequence": i,
         "properties": {"method": "GET", "route": "/api/v2/buildinfo"},
         "measurements": {"window_seconds": 60, "count.2xx": 1, "duration.p50_ms": 12}}
    r.update(extra)
    return json.dumps(r)
def ts(s):
    return "2026-11-20T%02d:%02d:%02d.%03dZ" % (s // 3600 % 24, s // 60 % 60, s % 60, 0)
if case == "sessions-30000":
    # 30,000 sessions, each 4 events spread over the day: all interleaved.
    for s in range(30000):
        sid = "%08x" % (0x10000000 + s * 7919)
        with open(f"{d}/telemetry-2026-11-20-{sid}.jsonl", "w") as f:
            f.write(header(sid + "0" * 24) + "\n")
            for k in range(4):
                f.write(row(k, ts((s * 3 + k * 21600) % 86400)) + "\n")
elif case == "tiny-files-300000":
    for s in range(300000):
        sid = "%08x" % (0x20000000 + s)
        with open(f"{d}/telemetry-2026-11-{20 + s % 3}-{sid}.jsonl", "w") as f:
            f.write(header(sid + "0" * 24) + "\n" + row(0, ts(s % 86400)) + "\n")
elif case == "line-300MB":
    with open(f"{d}/telemetry-2026-11-20-aaaaaaaa.jsonl", "w") as f:
        f.write(header("a" * 32) + "\n" + row(0, ts(1)) + "\n")
        f.write(row(1, ts(2), name="big.log", properties={"blob": "x" * 300_000_000}) + "\n")
        f.write(row(2, ts(3)) + "\n")
elif case == "context-1MB":
    with open(f"{d}/telemetry-2026-11-20-bbbbbbbb.jsonl", "w") as f:
        f.write(header("b" * 32, os_version="v" * 1_000_000) + "\n")
        for i in range(20000):
            f.write(row(i, ts(i % 86400)) + "\n")
elif case == "props-3000-x-3000":
    props = {"p%04d" % i: "value-%d" % i for i in range(3000)}
    meas = {"m%04d_ms" % i: i + 0.5 for i in range(3000)}
    with open(f"{d}/telemetry-2026-11-20-cccccccc.jsonl", "w") as f:
        f.write(header("c" * 32) + "\n")
        f.write(row(0, ts(1), properties=props, measurements=meas) + "\n")
elif case == "metric-keys-1000000":
    # "k%d":1 keeps the line (11 MB) under the default --max-line-bytes.
    meas = ",".join('"k%d":1' % i for i in range(1_000_000))
    with open(f"{d}/telemetry-2026-11-20-dddddddd.jsonl", "w") as f:
        f.write(header("d" * 32) + "\n")
        f.write('{"event_id":"0000000000000001","event_name":"http.requests","timestamp":"2026-11-20T10:00:00.000Z","event_sequence":0,"properties":{},"measurements":{' + meas + '}}\n')
PY
  mv "$dir.tmp" "$dir"
}

failed=()

measure() { # label store args... -> one table row; a miss goes in $failed
  local label=$1 store=$2; shift 2
  local max=0 line kb secs summary verdict=ok
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT"/ct-awk-out*
    # GNU time's last line: elapsed and peak RSS; with pipefail, the
    # export's own failure fails the assignment, caught as a miss.
    if ! line=$( { /usr/bin/time -f "%e %M" "$BIN" "${CMD:-export}" "$store" --now "$NOW" --quiet --summary-json "$@" \
              > "$OUT/ct-awk-summary.json"; } 2>&1 | tail -n 1); then
      verdict="FAIL (export failed: $line)"
      break
    fi
    secs=${line%% *}
    kb=${line##* }
    [ "$kb" -gt "$max" ] && max=$kb
  done
  summary=$(tail -n 1 "$OUT/ct-awk-summary.json" 2>/dev/null | sed -E 's/.*"events":([0-9]+).*"skipped_lines":([0-9]+).*/\1 events, \2 skipped lines/')
  rm -rf "$OUT"/ct-awk-out* "$OUT/ct-awk-summary.json"
  [ "$verdict" = ok ] && [ "$max" -gt $((LIMIT_MIB * 1024)) ] && verdict="FAIL (over $LIMIT_MIB MiB)"
  [ "$verdict" = ok ] || failed+=("$label $FMT: $verdict")
  printf '| %-22s | %-8s | %6s | %5s MiB | %s | %s |\n' "$label" "$FMT" "${secs:-?}" "$((max / 1024))" "$summary" "$verdict"
}

RECEIVER=tests/otlp-receiver/otlp-receiver
GRPC_PORT=${GRPC_PORT:-14327}
if [ "${GRPC:-1}" = 1 ] && [ -x "$RECEIVER" ]; then
  "$RECEIVER" -port 0 -grpc-port "$GRPC_PORT" -grpc-max-recv-msg-size-mib 64 -discard > "$OUT/ct-awk-receiver.log" 2>&1 &
  RECEIVER_PID=$!
  trap 'kill $RECEIVER_PID 2>/dev/null || true' EXIT
  for _ in $(seq 100); do grep -q ready "$OUT/ct-awk-receiver.log" 2>/dev/null && break; sleep 0.1; done
fi

CASES=${*:-sessions-30000 tiny-files-300000 line-300MB context-1MB props-3000-x-3000 metric-keys-1000000 threads-1024}
printf '| %-22s | %-8s | %6s | %9s | %s | %s |\n' input format "time s" "peak RSS" "summary" "<= $LIMIT_MIB MiB"
printf '|%s|%s|%s|%s|%s|%s|\n' ------------------------ ---------- -------- ----------- ------------------ ------
for c in $CASES; do
  if [ "$c" = threads-1024 ]; then
    store=$STORES/threads-real-$THREADS_SIZE
    [ -d "$store" ] || "$TARGET/testdata-gen" --out "$store" --mix real --size "$THREADS_SIZE" --days 7 --seed 42
    extra=(--threads 1024)
  else
    make_case "$c"
    store=$STORES/$c
    extra=()
  fi
  FMT=json measure "$c" "$store" "${extra[@]}" -o "$OUT/ct-awk-out.json"
  FMT=otlp-zip measure "$c" "$store" "${extra[@]}" -o "$OUT/ct-awk-out.zip"
  CMD=send FMT=send-pb measure "$c" "$store" "${extra[@]}" --range all-time --dry-run
  if [ -n "${RECEIVER_PID:-}" ]; then
    CMD=send FMT=send-grpc measure "$c" "$store" "${extra[@]}" --range all-time --protocol grpc \
      --endpoint "http://127.0.0.1:$GRPC_PORT"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'memory-awkward: FAIL: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "memory-awkward: every peak at most $LIMIT_MIB MiB"
