//! The exporter's core promises (SPEC §7.2, §7.4, §8.2): never hand a user a
//! broken export with exit 0, never destroy their files, never lose an event
//! silently. Each test is named after what once broke.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use predicates::prelude::*;
use serde_json::{json, Value};

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn stderr_of(o: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&o.get_output().stderr).into_owned()
}

fn summary_on_stdout(o: &assert_cmd::assert::Assert) -> Value {
    json(&o.get_output().stdout)
}

// 1. Output cut short past 4 GiB per chunk, exit 0.

#[test]
fn json_array_was_cut_short_past_4_gib_of_output_per_chunk() {
    // A 256 KiB os_version in the header and 20,000 short rows: a 1.4 MB
    // file whose chunks each become more than 4 GiB of elements. Every
    // element must be there, whole.
    const ROWS: usize = 20_000;
    let big = "v".repeat(256 * 1024);
    let s = Store::new();
    let mut ctx = context("s1");
    ctx["os_version"] = json!(big);
    let mut lines = vec![
        json!({"kind": "header", "schema_version": 1, "timestamp": "2026-11-20T00:00:00Z", "context": ctx}).to_string(),
    ];
    for i in 0..ROWS {
        lines.push(format!(
            r#"{{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","event_sequence":{i}}}"#
        ));
    }
    s.file("telemetry-2026-11-20-s1.jsonl", &lines);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"))
        .arg("export")
        .arg(s.path())
        .args(["--now", NOW, "--chunk-bytes", "16MiB", "-o", "-", "--quiet"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::with_capacity(1 << 20, child.stdout.take().unwrap());
    let mut line = Vec::new();
    let (mut elements, mut total, mut last) = (0usize, 0u64, Vec::new());
    out.read_until(b'\n', &mut line).unwrap();
    assert_eq!(line, b"[\n");
    loop {
        line.clear();
        if out.read_until(b'\n', &mut line).unwrap() == 0 {
            break;
        }
        total += line.len() as u64;
        if line == b"]\n" {
            last = line.clone();
            break;
        }
        let body = line.strip_suffix(b",\n").or_else(|| line.strip_suffix(b"\n")).unwrap();
        assert!(
            body.starts_with(b"{\"event_name\":\"a\"") && body.ends_with(b"}}"),
            "element {elements} is whole"
        );
        assert!(body.len() > big.len(), "element {elements} carries its context");
        if elements % 4000 == 0 || elements == ROWS - 1 {
            let v: Value = serde_json::from_slice(body).expect("element is valid JSON");
            assert_eq!(v["context"]["os_version"].as_str().map(str::len), Some(big.len()));
            assert_eq!(v["event_sequence"], elements);
        }
        elements += 1;
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(last, b"]\n", "the array is closed");
    assert_eq!(elements, ROWS);
    assert!(total > 5_000_000_000, "more than 5 GB from a 1.4 MB file: {total}");
}

#[test]
fn metric_row_with_11000_properties_and_measurements_gave_a_cut_metrics_json() {
    // 11,000 properties and 11,000 copies of one measurement: 11,000 points
    // of one series, each with the event's properties as attributes.
    let props: Vec<String> = (0..11_000).map(|i| format!(r#""prop{i:05}":"value-{i}""#)).collect();
    let measures = vec![r#""count_2xx":1"#; 11_000];
    let line = format!(
        r#"{{"event_id":"0000000000000001","event_name":"http.requests","timestamp":"2026-11-20T10:00:00Z","properties":{{{}}},"measurements":{{{}}}}}"#,
        props.join(","),
        measures.join(",")
    );
    let s = Store::new();
    s.file("telemetry-2026-11-20-s1.jsonl", &[header("s1"), line]);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("out");
    let o = export(
        s.path(),
        &["--format", "otlp", "--layout", "single", "--summary-json", "-o"],
    )
    .arg(&target)
    .assert()
    .success();
    let sum = summary_on_stdout(&o);
    assert_eq!(sum["metric_points"], 11_000);
    let metrics = json(&std::fs::read(target.join("metrics.json")).unwrap());
    let mut points = 0;
    for m in metrics["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array()
        .unwrap()
    {
        assert_eq!(m["name"], "http.requests.count_2xx");
        for p in m["sum"]["dataPoints"].as_array().unwrap() {
            // OTel SDK limits: 128 attributes, coder.event_name kept, the rest counted.
            let attrs = p["attributes"].as_array().unwrap();
            assert_eq!(attrs.len(), 128);
            assert_eq!(attrs[0]["key"], "prop00000");
            assert_eq!(attrs[127]["key"], "coder.event_name");
            assert_eq!(p["droppedAttributesCount"], 11_000 - 127);
            points += 1;
        }
    }
    assert_eq!(points, 11_000, "every point the summary counts is in the file");
}

#[test]
fn attribute_count_limit_follows_otel_attribute_count_limit() {
    let props: Vec<String> = (0..20).map(|i| format!(r#""p{i}":"v""#)).collect();
    let line = format!(
        r#"{{"event_id":"0000000000000001","event_name":"some.log","timestamp":"2026-11-20T10:00:00Z","properties":{{{}}}}}"#,
        props.join(",")
    );
    let s = Store::new();
    s.file("telemetry-2026-11-20-s1.jsonl", &[header("s1"), line]);
    let out = tempfile::tempdir().unwrap();
    export(s.path(), &["--format", "otlp", "-o"])
        .arg(out.path().join("o"))
        .env("OTEL_ATTRIBUTE_COUNT_LIMIT", "5")
        .assert()
        .success();
    let logs = json(&std::fs::read(out.path().join("o/logs.json")).unwrap());
    let rec = &logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(rec["attributes"].as_array().unwrap().len(), 5);
    assert_eq!(rec["droppedAttributesCount"], 15);
}

// 2. Late-flushed events missing from custom ranges.

#[test]
fn late_flushed_events_were_missing_from_custom_ranges() {
    // The extension flushes every 15 s and names a file by the flush day:
    // the last seconds of the 22nd sit in the 23rd's file.
    let s = Store::new();
    s.file(
        "telemetry-2026-11-22-s1.jsonl",
        &[header("s1"), row("a.log", "2026-11-22T12:00:00Z", json!({}))],
    );
    s.file(
        "telemetry-2026-11-23-s1.jsonl",
        &[
            header("s1"),
            row("late.log", "2026-11-22T23:59:50Z", json!({})),
            row("next.log", "2026-11-23T00:00:05Z", json!({})),
        ],
    );
    let names = |extra: &[&str]| -> Vec<String> {
        let o = export(
            s.path(),
            &[&["--from", "2026-11-22", "--to", "2026-11-22", "-o", "-"], extra].concat(),
        )
        .assert()
        .success();
        json(&o.get_output().stdout)
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&[]), ["a.log", "late.log"], "default --late-days 1");
    assert_eq!(
        names(&["--late-days", "0"]),
        ["a.log"],
        "--late-days 0 reads the range's days alone"
    );
}

// 3. Cumulative sums add up every route together.

#[test]
fn cumulative_sums_added_up_every_route_together() {
    let http = |ts: &str, route: &str, n: u32| {
        row(
            "http.requests",
            ts,
            json!({"properties": {"method": "GET", "route": route}, "measurements": {"window_seconds": 60, "count.2xx": n}}),
        )
    };
    let s = Store::new();
    s.file(
        "telemetry-2026-11-20-s1.jsonl",
        &[
            header("s1"),
            http("2026-11-20T10:01:00Z", "/a", 1),
            http("2026-11-20T10:01:00Z", "/b", 10),
            http("2026-11-20T10:02:00Z", "/a", 2),
            http("2026-11-20T10:02:00Z", "/b", 20),
            http("2026-11-20T10:03:00Z", "/a", 3),
        ],
    );
    let out = tempfile::tempdir().unwrap();
    export(s.path(), &["--format", "otlp", "--temporality", "cumulative", "-o"])
        .arg(out.path().join("o"))
        .assert()
        .success();
    let metrics = json(&std::fs::read(out.path().join("o/metrics.json")).unwrap());
    let m = &metrics["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0];
    assert_eq!(m["sum"]["aggregationTemporality"], 2);
    let seen: Vec<(String, String, String)> = m["sum"]["dataPoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let route = attr(&p["attributes"], "route").unwrap()["stringValue"]
                .as_str()
                .unwrap()
                .to_string();
            (
                route,
                p["asInt"].as_str().unwrap().to_string(),
                p["startTimeUnixNano"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let start = "1795168800000000000"; // 10:00:00, the first window's start
    let s = |r: &str, v: &str| (r.to_string(), v.to_string(), start.to_string());
    assert_eq!(
        seen,
        [s("/a", "1"), s("/b", "10"), s("/a", "3"), s("/b", "30"), s("/a", "6")]
    );
}

// 4. A file that shrinks during the export is exported short, unreported.

#[test]
fn file_that_shrank_during_the_export_was_exported_short_unreported() {
    use coder_telemetry::config::{Config, FileOutput, Format, Output};
    use coder_telemetry::export::{export as run_export, Hooks};
    let s = Store::new();
    let mut lines = vec![header("s1")];
    for i in 0..2000 {
        lines.push(row(
            "log.x",
            &format!("2026-11-20T10:00:{:02}Z", i % 60),
            json!({"event_sequence": i}),
        ));
    }
    let path = s.file("telemetry-2026-11-20-s1.jsonl", &lines);
    let full = std::fs::metadata(&path).unwrap().len();
    let cut = full / 2;
    for format in [Format::Json, Format::Otlp] {
        let out = tempfile::tempdir().unwrap();
        let cfg = Config {
            chunk_bytes: 16 * 1024,
            ..test_config(s.path())
        };
        let target = FileOutput::new(format, Output::Path(out.path().join("o")));
        // The file is cut in half after it was selected and its header read.
        let p = path.clone();
        let hooks = Hooks {
            start: Box::new(move |_| {
                let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
                f.set_len(cut).unwrap();
            }),
            ..Hooks::default()
        };
        let summary = run_export(&cfg, &target, &std::sync::atomic::AtomicBool::new(false), hooks).unwrap();
        assert_eq!(summary.skipped_files, 1, "{format:?}");
        let problem = summary
            .problems
            .iter()
            .find(|p| p.line.is_none())
            .expect("the file is reported");
        assert!(
            problem.reason.contains("got shorter") && problem.reason.contains(&format!("bytes {cut}..{full}")),
            "{format:?}: {}",
            problem.reason
        );
        assert!(summary.counts.events > 0 && summary.counts.events < 2000, "{format:?}");
        // Restore it for the next format.
        s.file("telemetry-2026-11-20-s1.jsonl", &lines);
    }
}

fn test_config(store: &Path) -> coder_telemetry::config::Config {
    use coder_telemetry::range::{Preset, RangeSpec};
    let now = chrono::DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&chrono::Utc);
    coder_telemetry::config::Config {
        now_given: Some(NOW.to_string()),
        ..coder_telemetry::config::Config::new(
            vec![store.to_path_buf()],
            RangeSpec::Preset(Preset::AllTime).resolve(now),
            now,
        )
    }
}

// 5. Concurrent exports to one target.

#[test]
fn concurrent_exports_to_one_target_silently_replaced_each_other() {
    let (s, _) = generated_store("8MiB", 2, 3, &[]);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("same.json");
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"))
            .arg("export")
            .arg(s.path())
            .args(["--now", NOW, "--threads", "1", "--quiet", "-o"])
            .arg(&target)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let ok = [&a, &b].iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 1, "exactly one export wins; the other is refused");
    let loser = if a.status.success() { &b } else { &a };
    let why = String::from_utf8_lossy(&loser.stderr);
    assert_eq!(loser.status.code(), Some(1), "{why}");
    assert!(
        why.contains("appeared while the export ran") || why.contains("already exists"),
        "{why}"
    );
    assert_eq!(entries(out.path()), ["same.json"], "no temporary left");
    let reference = export(s.path(), &["-o", "-"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        std::fs::read(&target).unwrap(),
        reference,
        "the winner's output is whole"
    );
}

// 6. --force deletes whatever the target is.

#[test]
fn force_deleted_whatever_the_target_was() {
    let root = tempfile::tempdir().unwrap();
    let store = root.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let input = store.join("telemetry-2026-11-20-s1.jsonl");
    let lines = [header("s1"), row("a.log", "2026-11-20T10:00:00Z", json!({}))].join("\n") + "\n";
    std::fs::write(&input, &lines).unwrap();
    let precious = root.path().join("precious");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("thesis.tex"), "years of work").unwrap();
    let sub = store.join("archive");
    std::fs::create_dir(&sub).unwrap();
    let hard_link = root.path().join("alias.json");
    std::fs::hard_link(&input, &hard_link).unwrap();
    for (target, format, why) in [
        (&precious, "json", "not an earlier export"),
        (&precious, "otlp", "not an earlier export"),
        (&store, "otlp", "the store being exported"),
        (&root.path().to_path_buf(), "otlp", "holds the store"),
        (&sub, "otlp", "inside the store"),
        // A .jsonl name takes JSON Lines (--format json would be a contradiction, exit 2).
        (&input, "jsonl", "input file"),
        (&hard_link, "json", "input file"),
    ] {
        let o = export(&store, &["--format", format, "--force", "-o"])
            .arg(target)
            .assert()
            .code(1);
        let e = stderr_of(&o);
        assert!(
            e.contains("refusing to replace") && e.contains(why),
            "{}: {e}",
            target.display()
        );
    }
    assert_eq!(
        std::fs::read_to_string(precious.join("thesis.tex")).unwrap(),
        "years of work"
    );
    assert_eq!(std::fs::read_to_string(&input).unwrap(), lines);
    assert_eq!(entries(&store), ["archive", "telemetry-2026-11-20-s1.jsonl"]);
    assert_eq!(entries(root.path()), ["alias.json", "precious", "store"]);
    // What --force may replace: a regular file that is not an input, an earlier export.
    let old = root.path().join("old.json");
    std::fs::write(&old, "old").unwrap();
    export(&store, &["--force", "-o"]).arg(&old).assert().success();
    let dir = root.path().join("export");
    export(&store, &["--format", "otlp", "-o"]).arg(&dir).assert().success();
    export(&store, &["--format", "otlp", "--force", "-o"])
        .arg(&dir)
        .assert()
        .success();
    export(&store, &["--format", "json", "--force", "-o"])
        .arg(&dir)
        .assert()
        .success();
    assert!(dir.is_file(), "an earlier export folder may become a JSON export");
}

// 7. Temporaries left after SIGKILL are never cleaned.

#[test]
fn temporaries_left_after_sigkill_were_never_cleaned() {
    let (s, _) = generated_store("64MiB", 2, 3, &[]);
    let out = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"))
        .arg("export")
        .arg(s.path())
        .args(["--now", NOW, "--threads", "1", "--quiet", "-o"])
        .arg(out.path().join("killed.json"))
        .spawn()
        .unwrap();
    let started = Instant::now();
    while entries(out.path()).is_empty() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = entries(out.path());
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with(".killed.json.coder-telemetry-"), "{left:?}");
    // Not ours, or ours but alive: never touched.
    let theirs = [
        ".killed.json.other-tool-123-abcdef.tmp",
        ".notes",
        &format!(".x.json.coder-telemetry-{}-abcdef.tmp", std::process::id()),
    ];
    for f in theirs {
        std::fs::write(out.path().join(f), "keep").unwrap();
    }
    let o = export(
        s.path(),
        &["--from", "2026-11-24", "--to", "2026-11-24", "--late-days", "0", "-o"],
    )
    .arg(out.path().join("next.json"))
    .assert()
    .success();
    assert!(
        stderr_of(&o).contains("left behind by an export that was killed"),
        "{}",
        stderr_of(&o)
    );
    let mut want: Vec<String> = theirs.iter().map(|s| s.to_string()).collect();
    want.push("next.json".into());
    want.sort();
    assert_eq!(entries(out.path()), want);
}

// 8. A FIFO with a telemetry name in range blocks forever; symlinks are followed.

#[test]
fn fifo_in_range_hung_the_export_and_symlinks_were_followed() {
    let s = Store::new();
    s.file(
        "telemetry-2026-11-20-s1.jsonl",
        &[header("s1"), row("a.log", "2026-11-20T10:00:00Z", json!({}))],
    );
    let fifo = std::ffi::CString::new(s.path().join("telemetry-2026-11-20-fifo.jsonl").to_str().unwrap()).unwrap();
    // SAFETY: a plain libc call with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink("/etc/passwd", s.path().join("telemetry-2026-11-20-passwd.jsonl")).unwrap();
    let other = Store::new();
    let elsewhere = other.file(
        "telemetry-2026-11-20-s2.jsonl",
        &[header("s2"), row("other.store", "2026-11-20T11:00:00Z", json!({}))],
    );
    std::os::unix::fs::symlink(&elsewhere, s.path().join("telemetry-2026-11-20-s2.jsonl")).unwrap();
    let o = export(s.path(), &["-o", "-", "--summary-json"])
        .timeout(Duration::from_secs(20))
        .assert()
        .success();
    let stderr = stderr_of(&o);
    let sum = json(stderr.lines().last().unwrap().as_bytes());
    assert_eq!(
        (sum["events"].as_u64(), sum["skipped_files"].as_u64()),
        (Some(1), Some(3)),
        "{stderr}"
    );
    assert!(
        stderr.contains("telemetry-2026-11-20-fifo.jsonl: a named pipe (FIFO), not a regular file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("telemetry-2026-11-20-passwd.jsonl: a symbolic link"),
        "{stderr}"
    );
    assert!(!stderr.contains("root:"), "{stderr}");
    let out = json(&o.get_output().stdout);
    assert_eq!(
        out.as_array().unwrap().len(),
        1,
        "the other store's file is not exported"
    );
}

// 9. Quadratic metric series lookup; Ctrl-C only checked between chunks.

fn many_keys_row(keys: usize) -> String {
    let measures: Vec<String> = (0..keys).map(|i| format!(r#""gauge_{i}":{i}"#)).collect();
    format!(
        r#"{{"event_id":"0000000000000001","event_name":"http.requests","timestamp":"2026-11-20T10:00:00Z","measurements":{{{}}}}}"#,
        measures.join(",")
    )
}

/// The CPU time of exporting one row of `keys` distinct metric keys (the
/// least of `runs` runs), checking that it succeeds.
fn many_keys_cpu(keys: usize, runs: usize) -> Duration {
    let s = Store::new();
    s.file("telemetry-2026-11-20-s1.jsonl", &[header("s1"), many_keys_row(keys)]);
    let out = tempfile::tempdir().unwrap();
    (0..runs)
        .map(|i| {
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"));
            cmd.arg("export")
                .arg(s.path())
                .args(["--now", NOW, "--format", "otlp", "--max-line-bytes", "64MiB", "-o"])
                .arg(out.path().join(format!("o{i}.zip")));
            let (ok, cpu) = cpu_time(&mut cmd, Duration::from_secs(300));
            assert!(ok, "{keys} keys: the export succeeds");
            cpu
        })
        .min()
        .unwrap()
}

/// Series lookup must not be quadratic: 10x the keys costs about 10x the CPU
/// time (quadratic: 100x). A ratio of two CPU times in one run, so neither
/// the build profile nor a busy machine decides it.
#[test]
fn metric_row_with_many_distinct_keys_was_quadratic() {
    let small = many_keys_cpu(20_000, 3);
    let big = many_keys_cpu(200_000, 3);
    let ratio = big.as_secs_f64() / small.as_secs_f64().max(1e-3);
    assert!(
        ratio < 30.0,
        "10x the keys took {ratio:.1}x the CPU time ({small:?} -> {big:?}): not linear"
    );
}

#[test]
fn metric_row_with_many_distinct_keys_is_one_series_per_key() {
    let s = Store::new();
    s.file("telemetry-2026-11-20-s1.jsonl", &[header("s1"), many_keys_row(100_000)]);
    let out = tempfile::tempdir().unwrap();
    let o = export(
        s.path(),
        &["--format", "otlp", "--layout", "single", "--summary-json", "-o"],
    )
    .arg(out.path().join("o"))
    .assert()
    .success();
    assert_eq!(summary_on_stdout(&o)["metric_points"], 100_000);
    let metrics = json(&std::fs::read(out.path().join("o/metrics.json")).unwrap());
    let names: std::collections::BTreeSet<String> = metrics["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 100_000, "one series per distinct key");
}

#[test]
fn sigterm_during_a_million_key_row_stopped_only_after_minutes() {
    let s = Store::new();
    s.file(
        "telemetry-2026-11-20-s1.jsonl",
        &[header("s1"), many_keys_row(1_000_000)],
    );
    let out = tempfile::tempdir().unwrap();
    for (format, name) in [("otlp", "o.zip"), ("json", "o.json")] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"))
            .arg("export")
            .arg(s.path())
            .args(["--now", NOW, "--format", format, "--max-line-bytes", "64MiB", "-o"])
            .arg(out.path().join(name))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        // Exit 130 and nothing left: interrupted, not finished. Prompt: under
        // a second of the child's own CPU time after the signal (what a busy
        // machine does not stretch), and a generous bound on the wall time.
        let stopped = terminate(&mut child, Duration::from_secs(30));
        assert_eq!(stopped.status.code(), Some(130), "{format}");
        assert!(
            stopped.cpu_after_signal < Duration::from_secs(1) && stopped.wall < Duration::from_secs(10),
            "{format}: stopped after {:?} ({:?} of CPU after the signal)",
            stopped.wall,
            stopped.cpu_after_signal
        );
        assert!(
            entries(out.path()).is_empty(),
            "{format}: left {:?}",
            entries(out.path())
        );
    }
}

// 10. --threads is unbounded.

#[test]
fn threads_20000_aborted_after_minutes() {
    let s = Store::new();
    for n in ["0", "1025", "20000"] {
        let o = export(s.path(), &["--threads", n, "-o", "-"]).assert().code(2);
        assert!(stderr_of(&o).contains("expected 1 to 1024"), "{}", stderr_of(&o));
    }
    export(s.path(), &["-j", "1024", "-o", "-"]).assert().success();
}

// 11. Numbers: whole doubles past 2^53 printed with exact digits.

#[test]
fn whole_doubles_past_2_pow_53_were_printed_with_exact_digits() {
    let s = Store::new();
    s.file(
        "telemetry-2026-11-20-s1.jsonl",
        &[
            header("s1"),
            r#"{"event_id":"0000000000000001","event_name":"a.log","timestamp":"2026-11-20T10:00:00Z","properties":{"n":6.0766121714619592e16},"measurements":{"m":6.0766121714619592e16,"exact":9007199254740993}}"#.to_string(),
        ],
    );
    let o = export(s.path(), &["-o", "-"]).assert().success();
    let text = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    // What JavaScript's String(x) writes (node: String(6.0766121714619592e16)).
    assert!(text.contains(r#""properties":{"n":"60766121714619590"}"#), "{text}");
    assert!(text.contains(r#""m":60766121714619590"#), "{text}");
    // An integer literal keeps every digit.
    assert!(text.contains(r#""exact":9007199254740993"#), "{text}");
}

// 12. Problems that said the wrong thing, said it twice, or nothing.

#[test]
fn problems_named_the_wrong_cause() {
    let s = Store::new();
    let good = || row("a.log", "2026-11-20T10:00:00Z", json!({}));
    let deep = format!(r#"{{"a":{}{}}}"#, "[".repeat(1100), "]".repeat(1100));
    s.file(
        "telemetry-2026-11-20-s1.jsonl",
        &[
            header("s1"),
            r#"{"event_name":"a","timest"#.to_string(),
            r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","properties":{"k":"v""#.to_string(),
            deep,
            "{\"event_name\":\"a\u{1}\",\"timestamp\":\"2026-11-20T10:00:00Z\"}".to_string(),
            r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z"} {"x":1}"#.to_string(),
            good(),
        ],
    );
    let o = export(s.path(), &["-o", "-"]).assert().success();
    let e = stderr_of(&o);
    let f = "telemetry-2026-11-20-s1.jsonl";
    for want in [
        format!("{f}:2: truncated line"),
        format!("{f}:3: truncated line"),
        format!("{f}:4: invalid JSON: too deeply nested"),
        format!("{f}:5: invalid JSON: control character"),
        format!("{f}:6: invalid JSON: trailing characters"),
    ] {
        assert!(e.contains(&want), "{want}\n{e}");
    }
}

#[test]
fn file_names_not_utf8_or_with_a_huge_part_were_skipped_silently() {
    use std::os::unix::ffi::OsStrExt;
    let s = Store::new();
    s.file(
        "telemetry-2026-11-20-s1.jsonl",
        &[header("s1"), row("a.log", "2026-11-20T10:00:00Z", json!({}))],
    );
    let bad = std::ffi::OsStr::from_bytes(b"telemetry-2026-11-20-s\xff.jsonl");
    std::fs::write(s.path().join(bad), "x\n").unwrap();
    s.raw("telemetry-2026-11-20-s1.99999999999999999999.jsonl", b"x\n");
    // Out of range: costs nothing, says nothing.
    s.raw("telemetry-2020-01-01-s1.99999999999999999999.jsonl", b"x\n");
    let o = export(
        s.path(),
        &[
            "--from",
            "2026-11-20",
            "--to",
            "2026-11-20",
            "-o",
            "-",
            "--summary-json",
        ],
    )
    .assert()
    .success();
    let e = stderr_of(&o);
    assert!(e.contains("the file name is not valid UTF-8; skipped"), "{e}");
    assert!(
        e.contains("s1.99999999999999999999.jsonl: the rotation part number"),
        "{e}"
    );
    assert!(!e.contains("2020-01-01"), "{e}");
    assert_eq!(json(e.lines().last().unwrap().as_bytes())["skipped_files"], 2);
}

// 13. Fixtures from the extension's own writer and exporter.

/// The folder that holds `real-store/` and
/// `real-store.extension-export.json.gz` (see `testdata/REAL-WRITER.md`).
fn reference() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

#[test]
fn real_store_json_export_is_byte_identical_to_the_extensions_own_exporter() {
    use std::io::Read;
    let r = reference();
    let mut want = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(r.join("real-store.extension-export.json.gz")).unwrap())
        .read_to_end(&mut want)
        .unwrap();
    for threads in ["1", "2"] {
        let o = bin()
            .arg("export")
            .arg(r.join("real-store"))
            .args([
                "--range",
                "all-time",
                "--now",
                "2026-11-24T00:00:00Z",
                "-j",
                threads,
                "-o",
                "-",
            ])
            .assert()
            .success();
        assert!(
            o.get_output().stdout == want,
            "differs from the extension's export ({threads} threads)"
        );
        assert!(!stderr_of(&o).contains(".jsonl:"), "no problems: {}", stderr_of(&o));
    }
}

#[test]
fn real_store_otlp_export_decodes_and_holds_every_event() {
    let r = reference();
    let store = r.join("real-store");
    // Count the store's events by the routing rules, independently (§4).
    let (mut logs, mut spans, mut metric_events, mut points) = (0u64, 0u64, 0u64, 0u64);
    for e in std::fs::read_dir(&store).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for line in text.lines() {
            let v = json(line.as_bytes());
            if v["kind"] == "header" {
                continue;
            }
            let name = v["event_name"].as_str().unwrap();
            if ["http.requests", "ssh.network.info", "ssh.network.sampled"].contains(&name) {
                metric_events += 1;
                let m = v["measurements"].as_object().unwrap();
                points += m
                    .iter()
                    .filter(|(k, v)| !k.starts_with("window") && v.is_number())
                    .count() as u64;
            } else if v["trace_id"].is_string()
                && (v["properties"].get("result").is_some() || v["measurements"].get("durationMs").is_some())
            {
                spans += 1;
            } else {
                logs += 1;
            }
        }
    }
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("real.otlp.zip");
    let o = bin()
        .arg("export")
        .arg(&store)
        .args(["--range", "all-time", "--format", "otlp", "--summary-json", "-o"])
        .arg(&target)
        .assert()
        .success();
    let sum = summary_on_stdout(&o);
    assert_eq!(sum["skipped_lines"], 0);
    let entries = read_output(&target);
    let l = decode_logs(&requests(&entries, "logs"));
    let t = decode_traces(&requests(&entries, "traces"));
    let m = decode_metrics(&requests(&entries, "metrics"));
    let n_logs: usize = l
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|b| &b.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    let n_spans: usize = t
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|b| &b.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    let n_points: usize = m
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|b| &b.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| match m.data.as_ref().unwrap() {
            opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(g) => g.data_points.len(),
            opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(s) => s.data_points.len(),
            _ => 0,
        })
        .sum();
    assert_eq!((n_logs as u64, n_spans as u64, n_points as u64), (logs, spans, points));
    assert_eq!(
        (
            sum["logs"].as_u64(),
            sum["spans"].as_u64(),
            sum["metric_events"].as_u64(),
            sum["metric_points"].as_u64()
        ),
        (Some(logs), Some(spans), Some(metric_events), Some(points))
    );
    assert_eq!(logs + spans + metric_events, 9178, "the sample's 9,178 events");
}

#[test]
fn zip_on_a_full_disk_printed_drop_errors_and_doubled_messages() {
    use std::os::unix::process::CommandExt;
    let (s, _) = generated_store("2MiB", 2, 3, &[]);
    let out = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"));
    cmd.arg("export")
        .arg(s.path())
        .args(["--now", NOW, "--format", "otlp", "-o"])
        .arg(out.path().join("full.zip"));
    // SAFETY: only async-signal-safe libc calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 64 * 1024,
                rlim_max: 64 * 1024,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(!e.contains("ZipWriter"), "{e}");
    assert!(!e.contains("failed: writing the output failed"), "{e}");
    assert_eq!(e.lines().filter(|l| l.contains("error")).count(), 1, "{e}");
    assert!(entries(out.path()).is_empty());
}

#[test]
fn empty_export_with_force_left_the_target_as_it_was() {
    let s = Store::new();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("keep.json");
    std::fs::write(&target, "mine").unwrap();
    export(s.path(), &["--force", "-o"])
        .arg(&target)
        .assert()
        .success()
        .stderr(predicate::str::contains("no events"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "mine");
}
