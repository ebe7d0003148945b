//! testdata-gen's real mix against the store the extension's own sink wrote
//! (`testdata/real-store`, described in `testdata/REAL-WRITER.md`): the same event
//! shares within 2 points, the same shapes, and an export with no problems.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::Value;

/// A row; serde_json refuses the lone surrogates JavaScript writes, so
/// they are read as U+FFFD, as the exporter reads them.
fn parse(line: &str) -> Value {
    serde_json::from_str(&line.replace("\\ud83d\"", "\\ufffd\"")).unwrap()
}

/// Shares (in %) of http.requests, ssh.network.sampled, spans and logs,
/// routed as SPEC §4 routes them.
fn shares(dir: &Path) -> (u64, BTreeMap<&'static str, f64>) {
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut n = 0u64;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if !p.file_name().unwrap().to_string_lossy().starts_with("telemetry-") {
            continue;
        }
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            let v = parse(line);
            if v["kind"] == "header" {
                continue;
            }
            n += 1;
            let kind = match v["event_name"].as_str().unwrap() {
                "http.requests" => "http.requests",
                "ssh.network.sampled" => "ssh.network.sampled",
                _ if v["trace_id"].is_string()
                    && (v["properties"].get("result").is_some() || v["measurements"].get("durationMs").is_some()) =>
                {
                    "spans"
                }
                _ => "logs",
            };
            *counts.entry(kind).or_default() += 1;
        }
    }
    (
        n,
        counts
            .into_iter()
            .map(|(k, c)| (k, c as f64 * 100.0 / n as f64))
            .collect(),
    )
}

/// The real store's own shares (`testdata/real-store`, in the repository).
fn real_shares() -> BTreeMap<&'static str, f64> {
    shares(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/real-store")).1
}

#[test]
fn real_mix_event_shares_are_the_real_stores_within_2_points() {
    let want = real_shares();
    for size in ["8MiB", "64MiB"] {
        let (s, expected) = real_mix_store(size, &[]);
        let (n, got) = shares(s.path());
        assert_eq!(expected["events"], n);
        for (k, w) in &want {
            let g = got.get(k).copied().unwrap_or(0.0);
            assert!((g - w).abs() <= 2.0, "{size}: {k} {g:.2}% vs the real store's {w:.2}%");
        }
    }
}

#[test]
fn real_mix_has_the_real_writers_shapes_and_exports_with_no_problems() {
    let (s, expected) = real_mix_store("64MiB", &["--rotate", "1MiB"]);
    let (mut late, mut long_windows, mut nulls, mut lone, mut parts) = (0, 0, 0, 0, 0);
    let mut spans_before_parent = 0;
    for e in std::fs::read_dir(s.path()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("telemetry-") {
            continue;
        }
        // telemetry-YYYY-MM-DD-{8 hex}[.{part}].jsonl
        let session = &name[21..29];
        assert!(session.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
        parts += usize::from(&name[29..] != ".jsonl");
        let day = &name[10..20];
        let text = std::fs::read_to_string(&p).unwrap();
        let mut lines = text.lines();
        let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(
            (&header["kind"], &header["schema_version"]),
            (&"header".into(), &1.into()),
            "{name}"
        );
        assert!(header["context"]["session_id"].as_str().unwrap().starts_with(session));
        let mut seen_ids = std::collections::HashSet::new();
        for line in lines {
            lone += usize::from(line.contains("\\ud83d"));
            let v = parse(line);
            // v1 rows, snake_case, string property values.
            assert!(v.get("event_name").is_some() && v.get("eventName").is_none(), "{line}");
            assert!(
                v["properties"].as_object().unwrap().values().all(Value::is_string),
                "{line}"
            );
            late += usize::from(&v["timestamp"].as_str().unwrap()[..10] < day);
            let m = v["measurements"].as_object().unwrap();
            long_windows += usize::from(m.get("window_seconds").and_then(Value::as_u64).unwrap_or(0) > 3600);
            nulls += m.values().filter(|x| x.is_null()).count();
            if let Some(parent) = v["parent_event_id"].as_str() {
                // Children are written before their parent.
                spans_before_parent += usize::from(!seen_ids.contains(parent));
            }
            seen_ids.insert(v["event_id"].as_str().unwrap().to_string());
        }
    }
    assert!(late > 0, "events flushed into the next day's file");
    assert!(long_windows > 0, "a window spanning a sleep");
    assert!(nulls > 0 && lone > 0, "NaN as null, a lone surrogate");
    assert!(parts > 0, "rotated parts");
    assert!(spans_before_parent > 0, "children before their parent");
    let out = tempfile::tempdir().unwrap();
    let o = export(s.path(), &["--range", "all-time", "--summary-json", "-o"])
        .arg(out.path().join("out.zip"))
        .assert()
        .success();
    let sum = json(&o.get_output().stdout);
    assert_eq!((&sum["skipped_lines"], &sum["skipped_files"]), (&0.into(), &0.into()));
    assert_eq!(sum["events"], expected["events"]);
    assert_eq!(
        sum["dropped_values"].as_u64(),
        Some(nulls as u64),
        "each null measurement is dropped and counted"
    );
}
