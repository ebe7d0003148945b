//! The two OpenTelemetry Collector routes of docs/sending.md, judged by the
//! Collector's own components (tests/otlp-routes, Go): RED metrics from the
//! spans through the spanmetrics connector, and Prometheus through the
//! prometheusremotewrite exporter. Each runs the guide's own YAML on an
//! export of the sample store (testdata/real-store), and what the components
//! emit is checked against the records of the export files themselves, so
//! the guide's claims (every span counted, which sums Prometheus refuses and
//! which route keeps every point) hold for the real components.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::peers::routes_binary;
use common::*;
use serde_json::Value;

/// The first ```yaml block of docs/sending.md's section `heading`, written
/// to a file in `dir`.
fn guide_yaml(heading: &str, dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sending.md")).unwrap();
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("docs/sending.md: a {heading:?} section"));
    let section = &text[start + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .unwrap_or_else(|| panic!("docs/sending.md: a yaml block under {heading:?}"));
    let slug: String = heading.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let path = dir.join(format!("{slug}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    path
}

/// An OTLP export of the sample store, all time, into a folder: the folder
/// and its entries.
fn sample_export(args: &[&str]) -> (tempfile::TempDir, BTreeMap<String, Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/");
    let store = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/real-store");
    export(&store, &["--format", "otlp", "--range", "all-time", "--quiet", "-o"])
        .arg(&out)
        .args(args)
        .assert()
        .success();
    let entries = read_output(&out);
    (dir, entries)
}

/// otlp-routes on the export in `dir`/out with `flags`: its JSON.
fn routes(dir: &Path, flags: &[&std::ffi::OsStr]) -> Value {
    let o = std::process::Command::new(routes_binary())
        .args(flags)
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "otlp-routes: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    json(&o.stdout)
}

fn str_attr(attrs: &Value, key: &str) -> String {
    attr(attrs, key)
        .and_then(|v| v["stringValue"].as_str())
        .unwrap_or_else(|| panic!("a string attribute {key} in {attrs}"))
        .to_string()
}

/// What the connector counted per (span name, status, coder.event_name),
/// over its flushes: the last flush of a cumulative sum, all of a delta one.
fn counted(flushes: &[Value], what: &str) -> BTreeMap<(String, String, String), u64> {
    let cumulative = flushes[0]["calls_temporality"] == 2;
    let used = if cumulative {
        &flushes[flushes.len() - 1..]
    } else {
        flushes
    };
    let mut by = BTreeMap::new();
    for f in used {
        for p in f[what].as_array().unwrap() {
            let a = &p["attributes"];
            let key = (
                a["span.name"].as_str().unwrap().to_string(),
                a["status.code"].as_str().unwrap().to_string(),
                a["coder.event_name"].as_str().unwrap_or_default().to_string(),
            );
            *by.entry(key).or_default() += p["value"].as_u64().unwrap();
        }
    }
    by.retain(|_, n| *n > 0);
    by
}

#[test]
fn the_guides_spanmetrics_connector_counts_every_span_by_name_status_and_event_name() {
    let (dir, entries) = sample_export(&[]);
    let spans = records(&requests(&entries, "traces"), "resourceSpans", "scopeSpans", "spans");
    assert!(spans.len() > 100, "the sample store has spans: {}", spans.len());
    // The export's spans by the connector's dimensions: span.name,
    // status.code (as the connector names the codes), and the guide's
    // coder.event_name.
    let mut want: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for s in &spans {
        let status = match s["status"]["code"].as_u64().unwrap_or(0) {
            0 => "STATUS_CODE_UNSET",
            1 => "STATUS_CODE_OK",
            2 => "STATUS_CODE_ERROR",
            c => panic!("status code {c}"),
        };
        let key = (
            s["name"].as_str().unwrap().to_string(),
            status.to_string(),
            str_attr(&s["attributes"], "coder.event_name"),
        );
        *want.entry(key).or_default() += 1;
    }
    assert!(
        want.keys().any(|k| k.1 == "STATUS_CODE_ERROR"),
        "the sample has error spans"
    );

    let config = guide_yaml("## RED metrics from spans", dir.path());
    let got = routes(dir.path(), &["-spanmetrics".as_ref(), config.as_os_str()]);
    assert_eq!(
        got["spans"].as_u64().unwrap(),
        spans.len() as u64,
        "spans the connector read"
    );
    let flushes = got["spanmetrics"]["flushes"].as_array().unwrap();
    assert_eq!(
        counted(flushes, "calls"),
        want,
        "calls per span name, status and event name"
    );
    assert_eq!(counted(flushes, "durations"), want, "duration histogram counts");
    // What the guide says of the connector's default cumulative calls: a
    // new series is 0 in the first flush, its count from the second on.
    assert_eq!(flushes[0]["calls_temporality"], 2);
    let first: u64 = flushes[0]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_u64().unwrap())
        .sum();
    assert_eq!(first, 0, "the first flush's calls");
}

/// The metrics of an export: all data points, and, of its delta sums (what
/// Prometheus refuses), the metrics[] entries, their distinct names and
/// their points.
struct MetricCounts {
    points: u64,
    delta_entries: u64,
    delta_names: BTreeSet<String>,
    delta_points: u64,
}

fn metric_counts(entries: &BTreeMap<String, Vec<u8>>) -> MetricCounts {
    let mut c = MetricCounts {
        points: 0,
        delta_entries: 0,
        delta_names: BTreeSet::new(),
        delta_points: 0,
    };
    for m in records(
        &requests(entries, "metrics"),
        "resourceMetrics",
        "scopeMetrics",
        "metrics",
    ) {
        let (data, delta) = match (&m["sum"], &m["gauge"]) {
            (Value::Object(_), _) => (&m["sum"], m["sum"]["aggregationTemporality"] == 1),
            (_, Value::Object(_)) => (&m["gauge"], false),
            _ => panic!("a sum or a gauge: {m}"),
        };
        let n = data["dataPoints"].as_array().unwrap().len() as u64;
        c.points += n;
        if delta {
            c.delta_entries += 1;
            c.delta_names.insert(m["name"].as_str().unwrap().to_string());
            c.delta_points += n;
        }
    }
    c
}

fn names(route: &Value) -> BTreeSet<String> {
    route["refused_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// A route that delivered every point of the export as one sample each.
fn assert_every_point(route: &Value, points: u64, what: &str) {
    assert_eq!(route["refused_metrics"], 0, "{what}: refused: {route}");
    assert_eq!(route["other_errors"].as_array().unwrap().len(), 0, "{what}: {route}");
    assert_eq!(route["points_to_exporter"].as_u64().unwrap(), points, "{what}: {route}");
    assert_eq!(route["samples"].as_u64().unwrap(), points, "{what}: samples: {route}");
}

#[test]
fn prometheus_remote_write_refuses_the_default_exports_delta_sums_and_the_guides_routes_keep_every_point() {
    let (delta_dir, delta) = sample_export(&[]);
    let (cumulative_dir, cumulative) = sample_export(&["--temporality", "cumulative"]);
    let d = metric_counts(&delta);
    let c = metric_counts(&cumulative);
    assert_eq!(d.points, c.points, "both exports hold the same points");
    assert!(
        d.delta_entries > 0 && d.delta_points > 0,
        "the default export has delta sums"
    );
    assert_eq!(c.delta_entries, 0, "the cumulative export has none");

    let config = guide_yaml("## Prometheus (remote write)", delta_dir.path());
    let flags = ["-prometheus".as_ref(), config.as_os_str()];

    // Straight into the exporter, the default export loses every delta sum:
    // each of its metrics[] entries refused, and its points not sent.
    let got = routes(delta_dir.path(), &flags);
    assert_eq!(got["points"].as_u64().unwrap(), d.points);
    let direct = &got["prometheus"]["exporter"];
    assert_eq!(direct["refused_metrics"].as_u64().unwrap(), d.delta_entries, "{direct}");
    assert_eq!(names(direct), d.delta_names);
    assert_eq!(
        direct["samples"].as_u64().unwrap(),
        d.points - d.delta_points,
        "samples of the gauges alone: {direct}"
    );
    // The guide's pipeline (deltatocumulative first) keeps every point.
    assert_every_point(
        &got["prometheus"]["pipeline"],
        d.points,
        "default export, the guide's pipeline",
    );

    // An export with --temporality cumulative keeps every point either way.
    let got = routes(cumulative_dir.path(), &flags);
    assert_every_point(
        &got["prometheus"]["exporter"],
        c.points,
        "cumulative export, exporter alone",
    );
    assert_every_point(
        &got["prometheus"]["pipeline"],
        c.points,
        "cumulative export, the guide's pipeline",
    );
}
