//! Collector-ready layouts (SPEC §6.2, §6.3): `split` parts and `jsonl` lines
//! within `--max-request-bytes`, each a complete request that decodes, their
//! records together equal to the `single` layout's; resource attributes from
//! flags and `OTEL_RESOURCE_ATTRIBUTES`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::{json, Value};

fn generated() -> Store {
    generated_store("1MiB", 2, 3, &["--wire", "each"]).0
}

fn run(store: &Path, target: &Path, args: &[&str]) -> Value {
    let o = export(
        store,
        &[
            &[
                "--format",
                "otlp",
                "--summary-json",
                "--quiet",
                "-o",
                target.to_str().unwrap(),
            ],
            args,
        ]
        .concat(),
    )
    .assert()
    .success();
    json(&o.get_output().stdout)
}

/// Every log record and span, with its resource, in order.
fn flat(entries: &BTreeMap<String, Vec<u8>>, signal: &str) -> Vec<Value> {
    let (r, s, i) = match signal {
        "logs" => ("resourceLogs", "scopeLogs", "logRecords"),
        "traces" => ("resourceSpans", "scopeSpans", "spans"),
        _ => unreachable!(),
    };
    records(&requests(entries, signal), r, s, i)
}

/// Every metric point with its resource, metric name, unit and kind, in order.
fn points(entries: &BTreeMap<String, Vec<u8>>) -> Vec<Value> {
    let mut out = Vec::new();
    for body in requests(entries, "metrics") {
        for block in json(&body)["resourceMetrics"].as_array().unwrap() {
            for m in block["scopeMetrics"][0]["metrics"].as_array().unwrap() {
                let (kind, data) = if m.get("sum").is_some() {
                    ("sum", &m["sum"])
                } else {
                    ("gauge", &m["gauge"])
                };
                for p in data["dataPoints"].as_array().unwrap() {
                    out.push(json!({"resource": block["resource"], "name": m["name"], "unit": m["unit"], "kind": kind, "point": p}));
                }
            }
        }
    }
    out
}

/// Sorts points by series then time: a cap may split a series into more
/// entries, but never reorders the points of one series.
fn by_series(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|p| format!("{}|{}|{}|{}", p["resource"], p["name"], p["unit"], p["kind"]));
    v
}

#[test]
fn split_and_jsonl_stay_within_the_cap_and_hold_the_single_layout_records() {
    let store = generated();
    let out = tempfile::tempdir().unwrap();
    let single = out.path().join("single");
    run(store.path(), &single, &["--layout", "single"]);
    let base = read_output(&single);
    let (logs, spans, pts) = (flat(&base, "logs"), flat(&base, "traces"), points(&base));
    assert!(
        logs.len() > 100 && spans.len() > 100 && pts.len() > 100,
        "a store with every signal"
    );

    for layout in ["split", "jsonl", "auto"] {
        for cap in [4096usize, 64 * 1024] {
            for pkg in ["dir", "zip"] {
                let target = out.path().join(format!("{layout}-{cap}.{pkg}"));
                let summary = run(
                    store.path(),
                    &target,
                    &["--layout", layout, "--max-request-bytes", &cap.to_string()],
                );
                assert_eq!(summary["oversize_records"], 0);
                let e = read_output(&target);
                for (name, bytes) in &e {
                    if name == "manifest.json" {
                        continue;
                    }
                    if layout == "split" {
                        assert!(name.contains(".0") && name.ends_with(".json"), "{name}");
                        assert!(bytes.len() <= cap, "{name}: {} > {cap}", bytes.len());
                    } else if layout == "auto" {
                        // Parts as split writes them; a signal of one request keeps its single name.
                        assert!(name.ends_with(".json"), "{name}");
                        assert!(bytes.len() <= cap, "{name}: {} > {cap}", bytes.len());
                    } else {
                        assert!(name.ends_with(".jsonl"));
                        for line in bytes.split_inclusive(|b| *b == b'\n') {
                            assert!(line.len() <= cap, "{name}: line of {} > {cap}", line.len());
                            assert_eq!(line.last(), Some(&b'\n'));
                        }
                    }
                }
                // Every request decodes; the records are the single layout's, in order.
                decode_logs(&requests(&e, "logs"));
                decode_traces(&requests(&e, "traces"));
                decode_metrics(&requests(&e, "metrics"));
                assert_eq!(flat(&e, "logs"), logs, "{layout} {cap} {pkg}");
                assert_eq!(flat(&e, "traces"), spans, "{layout} {cap} {pkg}");
                assert_eq!(by_series(points(&e)), by_series(pts.clone()), "{layout} {cap} {pkg}");
                // The manifest lists exactly the envelope files.
                let mut listed: Vec<String> = json(&e["manifest.json"])["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["name"].as_str().unwrap().to_string())
                    .collect();
                listed.sort();
                let mut present: Vec<String> = e.keys().filter(|k| *k != "manifest.json").cloned().collect();
                present.sort();
                assert_eq!(listed, present);
                assert_eq!(json(&e["manifest.json"])["layout"], layout);
            }
        }
    }
}

#[test]
fn split_parts_are_numbered_and_jsonl_has_one_file_per_signal() {
    let store = generated();
    let out = tempfile::tempdir().unwrap();
    let t = out.path().join("split");
    run(store.path(), &t, &["--layout", "split", "--max-request-bytes", "16KiB"]);
    let e = read_output(&t);
    assert!(e.contains_key("logs.0001.json") && e.contains_key("logs.0002.json"));
    assert!(e.contains_key("traces.0001.json") && e.contains_key("metrics.0001.json"));
    assert!(!e.contains_key("logs.json"));
    let t = out.path().join("jsonl");
    run(store.path(), &t, &["--layout", "jsonl"]);
    let e = read_output(&t);
    let mut names: Vec<_> = e.keys().cloned().collect();
    names.sort();
    assert_eq!(names, ["logs.jsonl", "manifest.json", "metrics.jsonl", "traces.jsonl"]);
    // With the default 1 MiB cap every line still fits.
    assert!(e["traces.jsonl"]
        .split_inclusive(|b| *b == b'\n')
        .all(|l| l.len() <= 1 << 20));
}

#[test]
fn a_signal_without_records_gets_no_file_in_split_and_jsonl() {
    let s = Store::new();
    s.file(
        "telemetry-2026-11-20-a.jsonl",
        &[header("a"), row("only.a.log", "2026-11-20T10:00:00Z", json!({}))],
    );
    let out = tempfile::tempdir().unwrap();
    for layout in ["split", "jsonl"] {
        let t = out.path().join(layout);
        run(s.path(), &t, &["--layout", layout]);
        let names: Vec<_> = read_output(&t).keys().cloned().collect();
        let want = if layout == "split" {
            "logs.0001.json"
        } else {
            "logs.jsonl"
        };
        assert_eq!(names, [want.to_string(), "manifest.json".to_string()]);
    }
}

#[test]
fn a_record_larger_than_the_cap_is_written_alone_and_reported() {
    let s = Store::new();
    let big = "y".repeat(5000);
    s.file(
        "telemetry-2026-11-20-a.jsonl",
        &[
            header("a"),
            row("small.one", "2026-11-20T10:00:00Z", json!({})),
            row("big.one", "2026-11-20T10:00:01Z", json!({"properties": {"blob": big}})),
            row("small.two", "2026-11-20T10:00:02Z", json!({})),
        ],
    );
    let out = tempfile::tempdir().unwrap();
    for layout in ["split", "jsonl"] {
        let t = out.path().join(layout);
        let summary = run(s.path(), &t, &["--layout", layout, "--max-request-bytes", "2048"]);
        assert_eq!(summary["oversize_records"], 1, "{layout}");
        let e = read_output(&t);
        assert_eq!(json(&e["manifest.json"])["skipped"]["oversizeRecords"], 1);
        let reqs = requests(&e, "logs");
        assert_eq!(reqs.len(), 3, "{layout}: small, big alone, small");
        let decoded = decode_logs(&reqs);
        let counts: Vec<usize> = decoded
            .iter()
            .map(|r| r.resource_logs[0].scope_logs[0].log_records.len())
            .collect();
        assert_eq!(counts, [1, 1, 1]);
        // Each continued block repeats the resource and scope.
        for r in &decoded {
            assert!(!r.resource_logs[0].resource.as_ref().unwrap().attributes.is_empty());
            assert_eq!(
                r.resource_logs[0].scope_logs[0].scope.as_ref().unwrap().name,
                "coder.vscode-coder.telemetry.export"
            );
        }
    }
}

#[test]
fn a_cap_smaller_than_any_record_writes_each_record_alone() {
    let store = generated();
    let out = tempfile::tempdir().unwrap();
    for layout in ["split", "jsonl"] {
        let t = out.path().join(layout);
        let summary = run(store.path(), &t, &["--layout", layout, "--max-request-bytes", "1"]);
        let e = read_output(&t);
        let logs = requests(&e, "logs");
        let spans = requests(&e, "traces");
        let metrics = requests(&e, "metrics");
        // One record (a metric entry holds one point) per request, nothing lost.
        assert_eq!(logs.len() as u64, summary["logs"].as_u64().unwrap(), "{layout}");
        assert_eq!(spans.len() as u64, summary["spans"].as_u64().unwrap(), "{layout}");
        assert_eq!(
            metrics.len() as u64,
            summary["metric_points"].as_u64().unwrap(),
            "{layout}"
        );
        assert_eq!(decode_logs(&logs).len(), logs.len());
        decode_traces(&spans);
        decode_metrics(&metrics);
        let all = logs.len() + spans.len() + metrics.len();
        assert_eq!(summary["oversize_records"].as_u64().unwrap(), all as u64, "{layout}");
    }
}

#[test]
fn zip_entries_carry_the_export_time() {
    // NOW is 2026-11-24T12:00:00Z; entries used to say 1980-01-01.
    let store = generated();
    let out = tempfile::tempdir().unwrap();
    for layout in ["single", "split"] {
        let t = out.path().join(format!("{layout}.zip"));
        run(store.path(), &t, &["--layout", layout]);
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&t).unwrap()).unwrap();
        assert!(zip.len() >= 2);
        for i in 0..zip.len() {
            let e = zip.by_index(i).unwrap();
            let m = e.last_modified().unwrap();
            let when = (m.year(), m.month(), m.day(), m.hour(), m.minute(), m.second());
            assert_eq!(when, (2026, 11, 24, 12, 0, 0), "{layout}: {:?}", e.name());
        }
    }
}

#[test]
fn layouts_are_identical_for_one_and_two_threads() {
    let store = generated();
    let out = tempfile::tempdir().unwrap();
    for layout in ["split", "jsonl"] {
        let mut outputs = Vec::new();
        for threads in ["1", "2"] {
            let t = out.path().join(format!("{layout}-{threads}.zip"));
            run(
                store.path(),
                &t,
                &["--layout", layout, "--max-request-bytes", "8KiB", "--threads", threads],
            );
            outputs.push(std::fs::read(&t).unwrap());
        }
        assert_eq!(
            outputs[0], outputs[1],
            "{layout}: zip bytes differ between 1 and 2 threads"
        );
    }
}

#[test]
fn resource_attributes_from_flags_and_environment_reach_every_resource() {
    let store = generated();
    let out = tempfile::tempdir().unwrap();
    let t = out.path().join("attrs");
    let o = export(
        store.path(),
        &[
            "--format",
            "otlp",
            "--quiet",
            "--resource-attr",
            "deployment.environment=staging",
            "--resource-attr",
            "host.id=fleet-7",
            "-o",
            t.to_str().unwrap(),
        ],
    )
    .env("OTEL_RESOURCE_ATTRIBUTES", "team=dev%20ex,deployment.environment=prod")
    .assert()
    .success();
    drop(o);
    let e = read_output(&t);
    for (signal, r) in [
        ("logs", "resourceLogs"),
        ("traces", "resourceSpans"),
        ("metrics", "resourceMetrics"),
    ] {
        for body in requests(&e, signal) {
            for block in json(&body)[r].as_array().unwrap() {
                let attrs = &block["resource"]["attributes"];
                assert_eq!(attr(attrs, "team").unwrap()["stringValue"], "dev ex");
                assert_eq!(
                    attr(attrs, "deployment.environment").unwrap()["stringValue"],
                    "staging",
                    "flags win"
                );
                assert_eq!(
                    attr(attrs, "host.id").unwrap()["stringValue"],
                    "fleet-7",
                    "flags override built-ins"
                );
                let keys: Vec<_> = attrs
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["key"].as_str().unwrap())
                    .collect();
                let mut dedup = keys.clone();
                dedup.sort();
                dedup.dedup();
                assert_eq!(dedup.len(), keys.len(), "no duplicate keys: {keys:?}");
            }
        }
    }
}
