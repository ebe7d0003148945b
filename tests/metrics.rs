//! Metric output end to end (SPEC §6.6): one entry per series within a
//! resource block, delta and cumulative sums, gauges, window start times.

mod common;

use common::*;
use serde_json::{json, Value};

fn http(ts: &str, count: f64, p95: f64) -> String {
    row(
        "http.requests",
        ts,
        json!({"properties": {"route": "/api"}, "measurements": {"window_seconds": 60, "count_2xx": count, "latency_p95_ms": p95}}),
    )
}

/// Exports and returns the metric entries of each resource block.
fn blocks(store: &Store, temporality: &str) -> Vec<Vec<Value>> {
    let out = tempfile::tempdir().unwrap();
    let t = out.path().join("m");
    export(store.path(), &["--format", "otlp", "--temporality", temporality, "-o"])
        .arg(&t)
        .assert()
        .success();
    let e = read_output(&t);
    decode_metrics(&requests(&e, "metrics"));
    json(&e["metrics.json"])["resourceMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["scopeMetrics"][0]["metrics"].as_array().unwrap().clone())
        .collect()
}

fn store() -> Store {
    let s = Store::new();
    // Two files of one session and day (rotated parts): one block.
    s.file(
        "telemetry-2026-11-20-a.jsonl",
        &[
            header("a"),
            http("2026-11-20T10:01:00Z", 3.0, 12.5),
            http("2026-11-20T10:02:00Z", 4.0, 10.0),
        ],
    );
    s.file(
        "telemetry-2026-11-20-a.1.jsonl",
        &[header("a"), http("2026-11-20T10:03:00Z", 2.5, 11.0)],
    );
    // Another day: a new block, totals restart.
    s.file(
        "telemetry-2026-11-21-a.jsonl",
        &[header("a"), http("2026-11-21T10:01:00Z", 5.0, 9.0)],
    );
    s
}

fn ns(ts: &str) -> String {
    (chrono::DateTime::parse_from_rfc3339(ts)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap() as u64)
        .to_string()
}

#[test]
fn points_of_a_series_share_one_entry_per_block() {
    let b = blocks(&store(), "delta");
    assert_eq!(b.len(), 2, "one block per (session, date, deployment)");
    let names: Vec<_> = b[0].iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["http.requests.count_2xx", "http.requests.latency_p95"]);
    assert_eq!(b[0][0]["unit"], "{request}");
    assert_eq!(b[0][1]["unit"], "ms");
    assert_eq!(b[0][0]["description"], "http.requests");
    assert_eq!(b[0][0]["sum"]["dataPoints"].as_array().unwrap().len(), 3);
    assert_eq!(b[0][1]["gauge"]["dataPoints"].as_array().unwrap().len(), 3);
}

#[test]
fn delta_sums_carry_each_window() {
    let b = blocks(&store(), "delta");
    let sum = &b[0][0]["sum"];
    assert_eq!(sum["aggregationTemporality"], 1);
    assert_eq!(sum["isMonotonic"], true);
    let p = sum["dataPoints"].as_array().unwrap();
    assert_eq!(p[0]["asInt"], "3");
    assert_eq!(p[1]["asInt"], "4");
    assert_eq!(p[2]["asDouble"], 2.5);
    assert_eq!(p[0]["timeUnixNano"], ns("2026-11-20T10:01:00Z"));
    assert_eq!(p[0]["startTimeUnixNano"], ns("2026-11-20T10:00:00Z"));
    assert_eq!(p[1]["startTimeUnixNano"], ns("2026-11-20T10:01:00Z"));
    let g = &b[0][1]["gauge"]["dataPoints"][0];
    assert_eq!(g["asDouble"], 12.5);
    assert_eq!(g["startTimeUnixNano"], ns("2026-11-20T10:00:00Z"));
}

#[test]
fn cumulative_sums_keep_a_running_total_per_block() {
    let b = blocks(&store(), "cumulative");
    let sum = &b[0][0]["sum"];
    assert_eq!(sum["aggregationTemporality"], 2);
    let p = sum["dataPoints"].as_array().unwrap();
    assert_eq!(p[0]["asInt"], "3");
    assert_eq!(p[1]["asInt"], "7");
    assert_eq!(p[2]["asDouble"], 9.5);
    // One start for the whole series: its first point's window start.
    for point in p {
        assert_eq!(point["startTimeUnixNano"], ns("2026-11-20T10:00:00Z"));
    }
    // A new block starts a new total.
    assert_eq!(b[1][0]["sum"]["dataPoints"][0]["asInt"], "5");
    assert_eq!(
        b[1][0]["sum"]["dataPoints"][0]["startTimeUnixNano"],
        ns("2026-11-21T10:00:00Z")
    );
    // Gauges are not summed.
    assert_eq!(b[0][1]["gauge"]["dataPoints"][1]["asDouble"], 10.0);
}

#[test]
fn metric_event_flag_adds_names_and_window_is_never_a_metric() {
    let s = Store::new();
    s.file(
        "telemetry-2026-11-20-a.jsonl",
        &[
            header("a"),
            row(
                "my.rollup",
                "2026-11-20T10:00:00Z",
                json!({"measurements": {"windowSeconds": 10, "count.hits": 1, "sizeBytes": 2048}}),
            ),
        ],
    );
    let out = tempfile::tempdir().unwrap();
    let t = out.path().join("m");
    export(s.path(), &["--format", "otlp", "--metric-event", "my.rollup", "-o"])
        .arg(&t)
        .assert()
        .success();
    let e = read_output(&t);
    let metrics = &json(&e["metrics.json"])["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
    let got: Vec<(String, String)> = metrics
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["unit"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("my.rollup.count.hits".to_string(), "1".to_string()),
            ("my.rollup.size".to_string(), "By".to_string())
        ]
    );
    assert_eq!(
        json(&e["logs.json"]),
        json!({"resourceLogs": []}),
        "a metric event is not also a log"
    );
}
