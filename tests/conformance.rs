//! Every OTLP envelope the tool writes decodes with `opentelemetry-proto`,
//! in every layout and packaging, with ids of the right length and a value
//! in every metric point (that crate's serde turns a bad oneof into `None`
//! silently, so the decoders in `common` check it).

mod common;

use common::*;
use serde_json::json;

/// A store with every kind of row in all three wire formats.
fn mixed_store() -> Store {
    let s = Store::new();
    let t = "0123456789abcdef0123456789abcdef";
    s.file(
        "telemetry-2026-11-20-alpha.jsonl",
        &[
            header("alpha"),
            row("extension.activated", "2026-11-20T09:00:00Z", json!({"properties": {"mode": "remote", "n": 3, "ok": true}, "measurements": {"startupMs": 812.5}})),
            row("remote.setup", "2026-11-20T09:00:05.123456789Z", json!({"event_id": "1111111111111111", "trace_id": t, "properties": {"result": "success"}, "measurements": {"durationMs": 5123.4}})),
            row("remote.setup.phase.dial", "2026-11-20T09:00:02Z", json!({"event_id": "2222222222222222", "trace_id": t, "parent_event_id": "1111111111111111", "properties": {"result": "error"}, "measurements": {"durationMs": 900}, "error": {"message": "refused", "type": "NetErr", "code": "ECONNREFUSED"}})),
            row("remote.setup.log", "2026-11-20T09:00:03Z", json!({"trace_id": t, "parent_event_id": "1111111111111111", "properties": {"step": "retry"}})),
            row("http.requests", "2026-11-20T09:01:00Z", json!({"properties": {"route": "/api/v2"}, "measurements": {"window_seconds": 60, "count_2xx": 41, "count_5xx": 2.5, "latency_p95_ms": 12.25}})),
            row("ssh.network.sampled", "2026-11-20T09:01:30+02:00", json!({"measurements": {"latencyMs": 33, "downloadMbits": 95.5, "rxBytes": 1024}})),
            row("auth.failed", "2026-11-20T09:02:00Z", json!({"error": {"message": "401 Unauthorized", "code": 401}})),
        ],
    );
    s.file(
        "telemetry-2026-11-20-beta.jsonl",
        &[
            v0_row("beta", "extension.activated", "2026-11-20T09:00:01Z", json!({})),
            camel(&v0_row("beta", "ssh.network.info", "2026-11-20T09:03:00Z", json!({"measurements": {"windowSeconds": 30, "count.reconnects": 1, "rttMs": 12}}))),
            camel(&v0_row("beta", "workspace.start", "2026-11-20T09:04:00Z", json!({"event_id": "3333333333333333", "trace_id": "FEDCBA9876543210FEDCBA9876543210", "properties": {"result": "aborted"}}))),
        ],
    );
    s
}

fn check_all(out: &std::path::Path) -> (usize, usize, usize) {
    let entries = read_output(out);
    assert!(entries.contains_key("manifest.json"));
    let logs = decode_logs(&requests(&entries, "logs"));
    let traces = decode_traces(&requests(&entries, "traces"));
    let metrics = decode_metrics(&requests(&entries, "metrics"));
    let n_logs = logs
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    let n_spans = traces
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    let n_points = metrics
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| match &m.data {
            Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(g)) => g.data_points.len(),
            Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(s)) => s.data_points.len(),
            _ => 0,
        })
        .sum();
    (n_logs, n_spans, n_points)
}

#[test]
fn every_layout_and_packaging_decodes() {
    let store = mixed_store();
    let out = tempfile::tempdir().unwrap();
    for layout in ["single", "split", "jsonl"] {
        for temporality in ["delta", "cumulative"] {
            for pkg in ["dir", "zip"] {
                let target = out.path().join(format!("{layout}-{temporality}.{pkg}"));
                let target = if pkg == "dir" {
                    target.with_extension("d")
                } else {
                    target
                };
                export(
                    store.path(),
                    &[
                        "--format",
                        "otlp",
                        "--layout",
                        layout,
                        "--temporality",
                        temporality,
                        "--max-request-bytes",
                        "2048",
                        "-o",
                    ],
                )
                .arg(&target)
                .assert()
                .success();
                let counts = check_all(&target);
                // 4 logs (activated x2, span log, auth.failed), 3 spans, 3 + 3 + 2 points.
                assert_eq!(counts, (4, 3, 8), "{layout} {temporality} {pkg}");
            }
        }
    }
}
