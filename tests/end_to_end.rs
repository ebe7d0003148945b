//! A store seeded with a mix of log, error, span, phase, span-log and metric
//! rows over several sessions and days (v1 with rotated parts, v0, camelCase),
//! exported for a range and checked record by record against a model of
//! the SPEC's rules written independently of the encoders.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::{json, Value};

/// One seeded event, as the model sees it.
#[derive(Clone, Debug)]
struct Seeded {
    session: String,
    date: String,
    deployment: String,
    row: Value,
    nanos: u128,
}

fn nanos(ts: &str) -> u128 {
    let dt = chrono::DateTime::parse_from_rfc3339(ts).unwrap();
    dt.timestamp_nanos_opt().unwrap() as u128
}

fn hex(rng: &mut Rng, digits: usize) -> String {
    (0..digits)
        .map(|_| format!("{:x}", rng.below(16)))
        .collect::<String>()
        .replacen('0', "1", 1)
}

/// Rows for one file: returns the lines (without header) and the seeded events.
fn events(rng: &mut Rng, session: &str, date: &str, n: usize, start_sec: u64) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut t = start_sec;
    let mut trace = hex(rng, 32);
    let mut root = hex(rng, 16);
    for i in 0..n {
        t += 1 + rng.below(20);
        let ts = format!(
            "{date}T{:02}:{:02}:{:02}.{:03}Z",
            t / 3600 % 24,
            t / 60 % 60,
            t % 60,
            rng.below(1000)
        );
        let id = hex(rng, 16);
        let deployment = if rng.below(10) == 0 {
            "https://other.example.com"
        } else {
            "https://coder.example.com"
        };
        let mut r = json!({"event_id": id, "event_name": "x", "timestamp": ts, "event_sequence": i, "properties": {}, "measurements": {}, "deployment_url": deployment});
        match rng.below(8) {
            0 => {
                r["event_name"] = json!("extension.activated");
                r["properties"] =
                    json!({"mode": "remote", "attempt": rng.below(3), "flag": true, "text": "naïve \"quoted\"\n✓"});
                r["measurements"] = json!({"startupMs": rng.below(5000) as f64 / 4.0});
            }
            1 => {
                r["event_name"] = json!("login.failed");
                r["error"] = json!({"message": "401 Unauthorized", "type": "HttpError", "code": "401"});
            }
            2 => {
                trace = hex(rng, 32);
                root = hex(rng, 16);
                r["event_id"] = json!(root);
                r["event_name"] = json!("remote.setup");
                r["trace_id"] = json!(trace);
                let result = ["success", "error", "aborted"][rng.below(3) as usize];
                r["properties"] = json!({ "result": result });
                r["measurements"] = json!({"durationMs": rng.below(100_000) as f64 / 7.0});
                if r["properties"]["result"] == "error" {
                    r["error"] = json!({"message": "connect failed", "code": "ETIMEDOUT"});
                }
            }
            3 => {
                r["event_name"] = json!("remote.setup.phase.resolve");
                r["trace_id"] = json!(trace);
                r["parent_event_id"] = json!(root);
                r["measurements"] = json!({"durationMs": rng.below(3000), "retries": rng.below(3)});
            }
            4 => {
                r["event_name"] = json!("remote.setup.log");
                r["trace_id"] = json!(trace);
                r["parent_event_id"] = json!(root);
                r["properties"] = json!({"message": "retrying"});
            }
            5 => {
                r["event_name"] = json!("http.requests");
                let route = ["/api/v2/users", "/api/v2/workspaces"][rng.below(2) as usize];
                r["properties"] = json!({ "route": route });
                r["measurements"] = json!({"window_seconds": 60, "count_2xx": rng.below(100), "count_5xx": rng.below(3), "latency_p95_ms": rng.below(900) as f64 / 3.0});
            }
            6 => {
                r["event_name"] = json!("ssh.network.sampled");
                r["measurements"] =
                    json!({"latencyMs": rng.below(200), "downloadMbits": rng.below(1000) as f64 / 10.0});
            }
            _ => {
                r["event_name"] = json!("ssh.network.info");
                r["properties"] = json!({"p2p": rng.below(2) == 0});
                r["measurements"] = json!({"windowSeconds": 30, "count.reconnects": rng.below(2)});
            }
        }
        let _ = session;
        rows.push(r);
    }
    rows
}

/// Seeds the store; returns every event with its file, in canonical file order.
fn seed(store: &Store) -> Vec<Seeded> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut all = Vec::new();
    // (date, session, part, style): style 1 = v1, 0 = v0, 2 = v0 camelCase, 3 = v1 camelCase
    let files = [
        ("2026-11-18", "s1", 0, 1),
        ("2026-11-19", "s1", 0, 1),
        ("2026-11-19", "s1", 1, 1),
        ("2026-11-19", "s1", 2, 1),
        ("2026-11-19", "s2", 0, 0),
        ("2026-11-19", "s3", 0, 3),
        ("2026-11-20", "s1", 0, 1),
        ("2026-11-20", "s2", 0, 2),
        ("2026-11-20", "s4", 0, 1),
        ("2026-11-21", "s2", 0, 0),
    ];
    for (fi, (date, session, part, style)) in files.iter().enumerate() {
        let rows = events(
            &mut rng,
            session,
            date,
            40,
            3600 * (fi as u64 % 5) + 60 * *part as u64 * 20,
        );
        let mut lines = Vec::new();
        if *style == 1 || *style == 3 {
            let h = header(session);
            lines.push(if *style == 3 { camel_header(&h) } else { h });
        }
        for r in &rows {
            let line = match style {
                1 => r.to_string(),
                3 => camel(&r.to_string()),
                _ => {
                    let mut v = r.clone();
                    let mut ctx = context(session);
                    ctx["deployment_url"] = v["deployment_url"].take();
                    v.as_object_mut().unwrap().remove("deployment_url");
                    v["context"] = ctx;
                    if *style == 2 {
                        camel(&v.to_string())
                    } else {
                        v.to_string()
                    }
                }
            };
            lines.push(line);
            all.push(Seeded {
                session: session.to_string(),
                date: date.to_string(),
                deployment: r["deployment_url"].as_str().unwrap().to_string(),
                nanos: nanos(r["timestamp"].as_str().unwrap()),
                row: r.clone(),
            });
        }
        let name = if *part == 0 {
            format!("telemetry-{date}-{session}.jsonl")
        } else {
            format!("telemetry-{date}-{session}.{part}.jsonl")
        };
        store.file(&name, &lines);
    }
    all
}

fn camel_header(h: &str) -> String {
    let mut v: Value = serde_json::from_str(h).unwrap();
    let o = v.as_object_mut().unwrap();
    let sv = o.remove("schema_version").unwrap();
    o.insert("schemaVersion".into(), sv);
    let c: Value = serde_json::from_str(&camel(&json!({"context": o["context"].clone()}).to_string())).unwrap();
    o.insert("context".into(), c["context"].clone());
    v.to_string()
}

fn in_range(e: &Seeded) -> bool {
    let lo = nanos("2026-11-19T00:00:00Z");
    let hi = nanos("2026-11-21T00:00:00Z");
    lo <= e.nanos && e.nanos < hi
}

const METRIC_EVENTS: [&str; 3] = ["http.requests", "ssh.network.info", "ssh.network.sampled"];

fn signal(r: &Value) -> &'static str {
    let name = r["event_name"].as_str().unwrap();
    if METRIC_EVENTS.contains(&name) {
        "metric"
    } else if r.get("trace_id").is_some()
        && (r["properties"].get("result").is_some() || r["measurements"].get("durationMs").is_some())
    {
        "span"
    } else {
        "log"
    }
}

fn str_attr(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a property value: {other}"),
    }
}

#[test]
fn otlp_records_match_the_model_one_by_one() {
    let store = Store::new();
    let seeded = seed(&store);
    let expected: Vec<&Seeded> = seeded.iter().filter(|e| in_range(e)).collect();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("out");
    export(
        store.path(),
        &[
            "--from",
            "2026-11-19",
            "--to",
            "2026-11-20",
            "--format",
            "otlp",
            "--threads",
            "2",
            "-o",
        ],
    )
    .arg(&target)
    .assert()
    .success();
    let entries = read_output(&target);

    // Logs, in file order.
    let logs = records(&requests(&entries, "logs"), "resourceLogs", "scopeLogs", "logRecords");
    let want: Vec<&&Seeded> = expected.iter().filter(|e| signal(&e.row) == "log").collect();
    assert_eq!(logs.len(), want.len());
    for (got, e) in logs.iter().zip(&want) {
        let r = &e.row;
        assert_eq!(got["timeUnixNano"], e.nanos.to_string());
        assert_eq!(got["observedTimeUnixNano"], e.nanos.to_string());
        assert_eq!(got["body"]["stringValue"], r["event_name"]);
        let (sev, text) = if r.get("error").is_some() {
            (17, "ERROR")
        } else {
            (9, "INFO")
        };
        assert_eq!(
            (got["severityNumber"].as_u64(), got["severityText"].as_str()),
            (Some(sev), Some(text))
        );
        for (k, v) in r["properties"].as_object().unwrap() {
            assert_eq!(
                attr(&got["attributes"], k).unwrap()["stringValue"],
                str_attr(v),
                "property {k}"
            );
        }
        for (k, v) in r["measurements"].as_object().unwrap() {
            assert_eq!(
                attr(&got["attributes"], k).unwrap()["doubleValue"].as_f64(),
                v.as_f64(),
                "measurement {k}"
            );
        }
        if let Some(err) = r.get("error") {
            assert_eq!(
                attr(&got["attributes"], "exception.message").unwrap()["stringValue"],
                err["message"]
            );
        }
        match r.get("trace_id") {
            Some(t) => {
                assert_eq!(&got["traceId"], t);
                assert_eq!(&got["spanId"], &r["parent_event_id"]);
            }
            None => assert!(got.get("traceId").is_none()),
        }
        assert_eq!(
            attr(&got["_resource"], "service.instance.id").unwrap()["stringValue"],
            e.session.as_str()
        );
        assert_eq!(
            attr(&got["_resource"], "coder.deployment.url").unwrap()["stringValue"],
            e.deployment.as_str()
        );
    }

    // Spans, in file order.
    let spans = records(&requests(&entries, "traces"), "resourceSpans", "scopeSpans", "spans");
    let want: Vec<&&Seeded> = expected.iter().filter(|e| signal(&e.row) == "span").collect();
    assert_eq!(spans.len(), want.len());
    for (got, e) in spans.iter().zip(&want) {
        let r = &e.row;
        let name = r["event_name"].as_str().unwrap();
        assert_eq!(got["name"], name.rsplit('.').next().unwrap());
        assert_eq!(
            attr(&got["attributes"], "coder.event_name").unwrap()["stringValue"],
            name
        );
        assert_eq!(got["traceId"], r["trace_id"]);
        assert_eq!(got["spanId"], r["event_id"]);
        assert_eq!(got.get("parentSpanId"), r.get("parent_event_id"));
        assert_eq!(got["kind"], 1);
        let end = e.nanos;
        let dur = r["measurements"]["durationMs"].as_f64().unwrap_or(0.0);
        let start = end - (dur * 1e6).round() as u128;
        assert_eq!(got["endTimeUnixNano"], end.to_string());
        assert_eq!(got["startTimeUnixNano"], start.to_string());
        assert!(attr(&got["attributes"], "durationMs").is_none());
        let code = match r["properties"].get("result").and_then(|v| v.as_str()) {
            Some("success") => 1,
            Some("error") => 2,
            Some("aborted") => 0,
            _ if r.get("error").is_some() => 2,
            _ => 0,
        };
        assert_eq!(got["status"]["code"], code);
        if code == 2 {
            assert!(attr(&got["attributes"], "error.type").is_some());
        }
        assert_eq!(got.get("events").is_some(), r.get("error").is_some());
    }

    // Metric points: per resource block, the multiset of points.
    let metrics_json = requests(&entries, "metrics");
    let mut got_points: BTreeMap<String, u32> = BTreeMap::new();
    for b in &metrics_json {
        for block in json(b)["resourceMetrics"].as_array().unwrap() {
            let session = attr(&block["resource"]["attributes"], "service.instance.id").unwrap()["stringValue"].clone();
            for m in block["scopeMetrics"][0]["metrics"].as_array().unwrap() {
                let (kind, data) = if m.get("sum").is_some() {
                    ("sum", &m["sum"])
                } else {
                    ("gauge", &m["gauge"])
                };
                for p in data["dataPoints"].as_array().unwrap() {
                    let value = p
                        .get("asInt")
                        .map(|v| v.as_str().unwrap().parse::<f64>().unwrap())
                        .or(p["asDouble"].as_f64())
                        .unwrap();
                    let key = format!(
                        "{session}|{}|{}|{kind}|{value}|{}|{}",
                        m["name"], m["unit"], p["timeUnixNano"], p["startTimeUnixNano"]
                    );
                    *got_points.entry(key).or_default() += 1;
                }
            }
        }
    }
    let mut want_points: BTreeMap<String, u32> = BTreeMap::new();
    for e in expected.iter().filter(|e| signal(&e.row) == "metric") {
        let r = &e.row;
        let name = r["event_name"].as_str().unwrap();
        let m = r["measurements"].as_object().unwrap();
        let window = m
            .get("window_seconds")
            .or(m.get("windowSeconds"))
            .and_then(|v| v.as_f64());
        for (k, v) in m {
            if k == "window_seconds" || k == "windowSeconds" {
                continue;
            }
            let counter = k.starts_with("count_") || k.starts_with("count.");
            let (stem, unit) = [
                ("_ms", "ms"),
                ("Ms", "ms"),
                ("_mbits", "Mbit/s"),
                ("Mbits", "Mbit/s"),
                ("_bytes", "By"),
                ("Bytes", "By"),
            ]
            .iter()
            .find(|(s, _)| k.ends_with(s))
            .map(|(s, u)| (&k[..k.len() - s.len()], *u))
            .unwrap_or((
                k.as_str(),
                if counter && name == "http.requests" {
                    "{request}"
                } else {
                    "1"
                },
            ));
            let start = match window {
                Some(w) => json!((e.nanos - (w * 1e9) as u128).to_string()),
                None if counter => json!(e.nanos.to_string()),
                None => Value::Null,
            };
            let key = format!(
                "{}|\"{name}.{stem}\"|\"{unit}\"|{}|{}|\"{}\"|{}",
                json!(e.session),
                if counter { "sum" } else { "gauge" },
                v.as_f64().unwrap(),
                e.nanos,
                start
            );
            *want_points.entry(key).or_default() += 1;
        }
    }
    let only_got: Vec<_> = got_points
        .iter()
        .filter(|(k, v)| want_points.get(*k) != Some(v))
        .collect();
    let only_want: Vec<_> = want_points
        .iter()
        .filter(|(k, v)| got_points.get(*k) != Some(v))
        .collect();
    assert!(
        only_got.is_empty() && only_want.is_empty(),
        "points differ:\n  written: {only_got:?}\n  expected: {only_want:?}"
    );

    // One resource block per (session, date, deployment) run, per signal.
    let blocks = json(&entries["logs.json"])["resourceLogs"].as_array().unwrap().len();
    let mut runs = 0;
    let mut last = None;
    for e in expected.iter().filter(|e| signal(&e.row) == "log") {
        let k = (&e.session, &e.date, &e.deployment);
        if last != Some(k) {
            runs += 1;
            last = Some(k);
        }
    }
    assert_eq!(blocks, runs);

    let manifest = json(&entries["manifest.json"]);
    assert_eq!(manifest["sourceEvents"], expected.len());
    assert_eq!(manifest["range"]["label"], "2026-11-19 to 2026-11-20");
    assert_eq!(manifest["range"]["start"], "2026-11-19T00:00:00Z");
    assert_eq!(manifest["range"]["end"], "2026-11-21T00:00:00Z");
    assert_eq!(manifest["exportedAt"], NOW);
    // The --now value exactly as given, offsets included.
    let again = out.path().join("again");
    export(
        store.path(),
        &["--format", "otlp", "--now", "2026-11-24T14:00:00+02:00", "-o"],
    )
    .arg(&again)
    .assert()
    .success();
    assert_eq!(
        json(&read_output(&again)["manifest.json"])["exportedAt"],
        "2026-11-24T14:00:00+02:00"
    );
}

#[test]
fn json_array_is_the_k_way_merge_of_session_streams() {
    let store = Store::new();
    let seeded = seed(&store);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("out.json");
    export(
        store.path(),
        &[
            "--from",
            "2026-11-19",
            "--to",
            "2026-11-20",
            "--chunk-bytes",
            "700",
            "-o",
        ],
    )
    .arg(&target)
    .assert()
    .success();
    let got = json(&std::fs::read(&target).unwrap());
    let got = got.as_array().unwrap();

    // Model: streams per session in (date, part) order, merged by (timestamp, session id).
    let mut streams: BTreeMap<&str, Vec<&Seeded>> = BTreeMap::new();
    for e in seeded.iter().filter(|e| in_range(e)) {
        streams.entry(&e.session).or_default().push(e);
    }
    let mut cursors: Vec<(usize, &Vec<&Seeded>)> = streams.values().map(|v| (0, v)).collect();
    let mut want = Vec::new();
    loop {
        let best = cursors
            .iter()
            .enumerate()
            .filter(|(_, (i, v))| *i < v.len())
            .min_by(|a, b| {
                let ea = a.1 .1[a.1 .0];
                let eb = b.1 .1[b.1 .0];
                (ea.nanos, &ea.session).cmp(&(eb.nanos, &eb.session))
            })
            .map(|(k, _)| k);
        let Some(k) = best else { break };
        want.push(cursors[k].1[cursors[k].0]);
        cursors[k].0 += 1;
    }
    assert_eq!(got.len(), want.len());
    for (g, e) in got.iter().zip(&want) {
        assert_eq!(g["event_id"], e.row["event_id"]);
        assert_eq!(g["timestamp"], e.row["timestamp"]);
        assert_eq!(g["event_name"], e.row["event_name"]);
        assert_eq!(g["context"]["session_id"], e.session.as_str());
        assert_eq!(g["context"]["deployment_url"], e.deployment.as_str());
        assert!(g.get("deployment_url").is_none(), "deployment_url only inside context");
        for k in ["trace_id", "parent_event_id", "error"] {
            assert_eq!(g.get(k), e.row.get(k), "{k}");
        }
        let as_f64 = |v: &Value| -> BTreeMap<String, Option<f64>> {
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_f64()))
                .collect()
        };
        assert_eq!(as_f64(&g["measurements"]), as_f64(&e.row["measurements"]));
        let props: BTreeMap<String, String> = e.row["properties"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), str_attr(v)))
            .collect();
        let got_props: BTreeMap<String, String> = g["properties"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        assert_eq!(got_props, props);
    }
}

/// The element the binary writes for the one event of a one-file store
/// (`[`, the element, `]`, each on its own line: SPEC §5.1).
fn only_element(file: &str, lines: &[String]) -> String {
    let s = Store::new();
    s.file(file, lines);
    let o = export(s.path(), &["--range", "all-time", "--format", "json", "-o", "-"])
        .assert()
        .success();
    let out = String::from_utf8(o.get_output().stdout.clone()).unwrap();
    let inner = out.strip_prefix("[\n").and_then(|r| r.strip_suffix("\n]\n"));
    inner.unwrap_or_else(|| panic!("one element: {out}")).to_string()
}

/// Element bytes as SPEC §5.2 spells them: snake_case keys in order,
/// properties as strings, ids lower-cased, the timestamp as read, the
/// header's context with the row's deployment_url inside it.
#[test]
fn json_element_of_a_full_v1_row_is_spelled_as_the_spec_says() {
    let row = r#"{"event_id":"A1B2C3D4E5F60718","event_name":"remote.ssh.connect","timestamp":"2026-11-20T10:00:00.123456789+02:00","event_sequence":7,"properties":{"result":"error","port":22,"tls":true,"note":"line\nbreak \"q\" é"},"measurements":{"durationMs":12.5,"n":3,"whole":4.0},"trace_id":"0123456789ABCDEF0123456789abcdef","parent_event_id":"1111111111111111","error":{"message":"boom","type":"Error","code":404},"deployment_url":"https://coder.example.com"}"#;
    assert_eq!(
        only_element("telemetry-2026-11-20-s1.jsonl", &[header("s1"), row.to_string()]),
        concat!(
            r#"{"event_id":"a1b2c3d4e5f60718","event_name":"remote.ssh.connect","timestamp":"2026-11-20T10:00:00.123456789+02:00","#,
            r#""event_sequence":7,"properties":{"result":"error","port":"22","tls":"true","note":"line\nbreak \"q\" é"},"#,
            r#""measurements":{"durationMs":12.5,"n":3,"whole":4},"trace_id":"0123456789abcdef0123456789abcdef","#,
            r#""parent_event_id":"1111111111111111","error":{"message":"boom","type":"Error","code":404},"schema_version":1,"#,
            r#""context":{"extension_version":"1.9.0","machine_id":"machine-s1","session_id":"s1","os_type":"linux","#,
            r#""os_version":"6.8.0","host_arch":"x64","platform_name":"Visual Studio Code","platform_version":"1.95.0","#,
            r#""deployment_url":"https://coder.example.com"}}"#
        )
    );
}

#[test]
fn json_element_of_a_camel_case_v0_row_is_snake_case() {
    let row = r#"{"eventId":"00000000000000a1","eventName":"log.x","timestamp":"2026-11-20T10:00:00Z","eventSequence":1,"properties":{},"measurements":{},"context":{"extensionVersion":"1.0","sessionId":"s0","deploymentUrl":"https://d"},"schemaVersion":0}"#;
    assert_eq!(
        only_element("telemetry-2026-11-20-s0.jsonl", &[row.to_string()]),
        r#"{"event_id":"00000000000000a1","event_name":"log.x","timestamp":"2026-11-20T10:00:00Z","event_sequence":1,"properties":{},"measurements":{},"schema_version":0,"context":{"extension_version":"1.0","session_id":"s0","deployment_url":"https://d"}}"#
    );
}

#[test]
fn json_element_leaves_out_the_keys_a_row_lacks_and_keeps_null_measurements() {
    let row = r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","measurements":{"x":null,"y":1e2}}"#;
    assert_eq!(
        only_element("telemetry-2026-11-20-s2.jsonl", &[header("s2"), row.to_string()]),
        concat!(
            r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","measurements":{"x":null,"y":100},"schema_version":1,"#,
            r#""context":{"extension_version":"1.9.0","machine_id":"machine-s2","session_id":"s2","os_type":"linux","#,
            r#""os_version":"6.8.0","host_arch":"x64","platform_name":"Visual Studio Code","platform_version":"1.95.0"}}"#
        )
    );
}

/// SPEC §6.6 on one `http.requests` row, through the binary: a `count_`
/// key is a monotonic delta Sum in `{request}`, an `_ms` key a Gauge in
/// `ms` without its suffix, both starting `window_seconds` before the row,
/// each point with the row's properties and `coder.event_name`.
#[test]
fn metric_entries_of_an_http_requests_row_are_a_sum_and_a_gauge() {
    let s = Store::new();
    s.file(
        "telemetry-2026-11-20-s1.jsonl",
        &[
            header("s1"),
            r#"{"event_id":"0000000000000001","event_name":"http.requests","timestamp":"2026-11-20T10:01:00Z","properties":{"route":"/api","method":"GET"},"measurements":{"window_seconds":60,"count_2xx":41,"latency_p95_ms":12.25}}"#.to_string(),
        ],
    );
    let out = tempfile::tempdir().unwrap();
    export(
        s.path(),
        &["--range", "all-time", "--format", "otlp", "--layout", "single", "-o"],
    )
    .arg(out.path().join("o"))
    .assert()
    .success();
    let metrics = json(&std::fs::read(out.path().join("o/metrics.json")).unwrap());
    let attrs = json!([
        {"key": "route", "value": {"stringValue": "/api"}},
        {"key": "method", "value": {"stringValue": "GET"}},
        {"key": "coder.event_name", "value": {"stringValue": "http.requests"}}
    ]);
    // 2026-11-20T10:01:00Z and 60 s before it, in ns since the epoch.
    let (start, time) = ("1795168800000000000", "1795168860000000000");
    assert_eq!(
        metrics["resourceMetrics"][0]["scopeMetrics"][0]["metrics"],
        json!([
            {"name": "http.requests.count_2xx", "description": "http.requests", "unit": "{request}",
             "sum": {"dataPoints": [{"attributes": attrs, "startTimeUnixNano": start, "timeUnixNano": time, "asInt": "41"}],
                     "aggregationTemporality": 1, "isMonotonic": true}},
            {"name": "http.requests.latency_p95", "description": "http.requests", "unit": "ms",
             "gauge": {"dataPoints": [{"attributes": attrs, "startTimeUnixNano": start, "timeUnixNano": time, "asDouble": 12.25}]}}
        ])
    );
}
