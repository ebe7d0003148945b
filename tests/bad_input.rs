//! One test per kind of bad input (SPEC §7.1, §7.4): the exact number of
//! exported events, and the reported file, line and reason; and the tally
//! of many problems by reason and by file, in the summary, `--summary-json`
//! and the manifest.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;

const NAME: &str = "telemetry-2026-11-20-s1.jsonl";

/// Exports `bytes` as the only file of a store; returns (summary, exported events, stderr).
fn run(bytes: &[u8], extra: &[&str]) -> (Value, Vec<Value>, String) {
    let s = Store::new();
    s.raw(NAME, bytes);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("out.json");
    let o = export(
        s.path(),
        &[&["--summary-json", "-o", target.to_str().unwrap()], extra].concat(),
    )
    .assert()
    .success();
    let summary = json(&o.get_output().stdout);
    let events = if target.exists() {
        json(&std::fs::read(&target).unwrap()).as_array().unwrap().clone()
    } else {
        vec![]
    };
    (
        summary,
        events,
        String::from_utf8_lossy(&o.get_output().stderr).into_owned(),
    )
}

fn good(i: u32) -> String {
    row(
        "good.event",
        &format!("2026-11-20T10:00:{i:02}Z"),
        json!({"event_id": format!("{:016x}", i + 1)}),
    )
}

/// A file: header, good row 1, `bad`, good row 2. The bad line is line 3.
fn with_bad_line(bad: &str) -> Vec<u8> {
    format!("{}\n{}\n{}\n{}\n", header("s1"), good(1), bad, good(2)).into_bytes()
}

/// Asserts one skipped line, at line 3, whose reason contains `reason`, and two events exported.
fn assert_line3(bad: &str, reason: &str) {
    let (sum, events, stderr) = run(&with_bad_line(bad), &[]);
    assert_eq!(events.len(), 2, "{bad}: the other events are exported");
    assert_eq!(sum["skipped_lines"], 1, "{bad}");
    let p = &sum["problems"][0];
    assert!(p["file"].as_str().unwrap().ends_with(NAME));
    assert_eq!(p["line"], 3, "{bad}");
    let got = p["reason"].as_str().unwrap();
    assert!(got.contains(reason), "{bad}: reason {got:?} should contain {reason:?}");
    assert!(
        stderr.contains(&format!("{NAME}:3: {got}")),
        "stderr names FILE:LINE: {stderr}"
    );
}

#[test]
fn invalid_json() {
    assert_line3("{\"event_name\": oops}", "invalid JSON");
    assert_line3("{\"a\":1}{\"b\":2}", "invalid JSON");
}

#[test]
fn not_an_object() {
    assert_line3("[1,2,3]", "not a JSON object (found an array)");
    assert_line3("\"just a string\"", "not a JSON object (found a string)");
    assert_line3("42", "not a JSON object (found a number)");
    assert_line3("null", "not a JSON object (found null)");
}

#[test]
fn missing_event_name() {
    assert_line3(r#"{"timestamp":"2026-11-20T10:00:00Z"}"#, "missing event_name");
}

#[test]
fn missing_or_invalid_timestamp() {
    assert_line3(r#"{"event_name":"x"}"#, "missing timestamp");
    assert_line3(
        r#"{"event_name":"x","timestamp":"2026-11-20 10:00:00"}"#,
        "invalid timestamp \"2026-11-20 10:00:00\"",
    );
    assert_line3(
        r#"{"event_name":"x","timestamp":"2026-02-30T10:00:00Z"}"#,
        "not a valid calendar date",
    );
    assert_line3(
        r#"{"event_name":"x","timestamp":1732400000}"#,
        "timestamp is a number, expected a string",
    );
}

#[test]
fn wrongly_typed_fields_name_the_field() {
    for (field, bad, reason) in [
        (
            "properties",
            json!({"k": {"nested": true}}),
            "properties.k is an object",
        ),
        (
            "properties",
            json!("text"),
            "properties is a string, expected an object",
        ),
        (
            "measurements",
            json!({"m": "12"}),
            "measurements.m is a string, expected a number",
        ),
        ("event_sequence", json!("7"), "event_sequence is a string"),
        ("error", json!(["boom"]), "error is an array, expected an object"),
        ("trace_id", json!(12), "trace_id is a number, expected a string"),
        ("deployment_url", json!(true), "deployment_url is a boolean"),
    ] {
        let mut v: Value = serde_json::from_str(&good(9)).unwrap();
        v[field] = bad;
        assert_line3(&v.to_string(), reason);
    }
}

#[test]
fn invalid_ids_on_a_span() {
    let span = |trace: &str, id: &str| {
        row(
            "a.span",
            "2026-11-20T10:00:05Z",
            json!({"trace_id": trace, "event_id": id, "properties": {"result": "success"}}),
        )
    };
    assert_line3(&span("xyz", "0123456789abcdef"), "span has an invalid trace_id \"xyz\"");
    assert_line3(
        &span("0123456789abcdef0123456789abcdef", "123"),
        "span has an invalid event_id \"123\"",
    );
    assert_line3(
        &span("00000000000000000000000000000000", "0123456789abcdef"),
        "invalid trace_id",
    );
}

#[test]
fn second_header_and_unknown_kind() {
    assert_line3(&header("s1"), "second header line");
    assert_line3(
        r#"{"kind":"footer","event_name":"x","timestamp":"2026-11-20T10:00:00Z"}"#,
        "unknown kind \"footer\"",
    );
}

#[test]
fn rows_before_a_required_header() {
    // A v1 row (no inline context) with no header before it.
    let text = format!(
        "{}\n{}\n",
        good(1),
        v0_row("s1", "v0.ok", "2026-11-20T10:00:02Z", json!({}))
    );
    let (sum, events, _) = run(text.as_bytes(), &[]);
    assert_eq!(events.len(), 1, "the v0 row with its own context is kept");
    assert_eq!(sum["problems"][0]["line"], 1);
    assert!(sum["problems"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("before the file header"));
    // A header that comes late does not count as the file's header.
    let text = format!("{}\n{}\n{}\n", good(1), header("s1"), good(2));
    let (sum, events, _) = run(text.as_bytes(), &[]);
    assert_eq!(events.len(), 0);
    assert_eq!(sum["skipped_lines"], 3);
    assert!(sum["problems"][1]["reason"]
        .as_str()
        .unwrap()
        .contains("not the first line"));
}

#[test]
fn inline_context_in_a_headed_file_is_merged_with_the_header() {
    let line = row(
        "x",
        "2026-11-20T10:00:03Z",
        json!({"context": {"os_version": "override", "deployment_url": "https://inline"}}),
    );
    let (sum, events, _) = run(&with_bad_line(&line), &[]);
    assert_eq!(sum["skipped_lines"], 0);
    let e = events.iter().find(|e| e["event_name"] == "x").unwrap();
    assert_eq!(e["context"]["os_version"], "override");
    assert_eq!(e["context"]["session_id"], "s1", "header fields stay");
    // The row's own deployment_url (v1) wins over the inline context's.
    assert_eq!(e["context"]["deployment_url"], "https://coder.example.com");
}

#[test]
fn truncated_last_line() {
    let text = format!("{}\n{}\n{}", header("s1"), good(1), &good(2)[..40]);
    let (sum, events, _) = run(text.as_bytes(), &[]);
    assert_eq!(events.len(), 1);
    assert_eq!(sum["problems"][0]["line"], 3);
    assert!(sum["problems"][0]["reason"].as_str().unwrap().contains("truncated"));
    // A complete last line without newline is fine.
    let text = format!("{}\n{}\n{}", header("s1"), good(1), good(2));
    let (sum, events, _) = run(text.as_bytes(), &[]);
    assert_eq!((events.len(), sum["skipped_lines"].as_u64()), (2, Some(0)));
}

#[test]
fn unsupported_schema_version_skips_the_file() {
    let mut h: Value = serde_json::from_str(&header("s1")).unwrap();
    h["schema_version"] = json!(2);
    let text = format!("{h}\n{}\n", good(1));
    let (sum, events, stderr) = run(text.as_bytes(), &[]);
    assert_eq!(events.len(), 0);
    assert_eq!(
        (sum["skipped_files"].as_u64(), sum["skipped_lines"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(
        stderr.contains(&format!("{NAME}: unsupported schema_version 2")),
        "{stderr}"
    );
    assert!(sum["problems"][0]["line"].is_null());
}

#[test]
fn crlf_bom_and_blank_lines_are_not_problems() {
    let text = format!("\u{feff}{}\r\n\r\n{}\r\n   \n\n{}\r\n", header("s1"), good(1), good(2));
    let (sum, events, _) = run(text.as_bytes(), &[]);
    assert_eq!((events.len(), sum["skipped_lines"].as_u64()), (2, Some(0)));
    // v0 file starting with a BOM.
    let text = format!("\u{feff}{}\n", v0_row("s1", "v0", "2026-11-20T10:00:00Z", json!({})));
    let (_, events, _) = run(text.as_bytes(), &[]);
    assert_eq!(events.len(), 1);
}

#[test]
fn lone_surrogate_becomes_replacement_character_and_event_is_kept() {
    let bad = r#"{"event_id":"00000000000000aa","event_name":"x\ud800y","timestamp":"2026-11-20T10:00:03Z","properties":{"p":"\udfff","ok":"\ud83d\ude00"},"deployment_url":"https://d"}"#;
    let (sum, events, _) = run(&with_bad_line(bad), &[]);
    assert_eq!((events.len(), sum["skipped_lines"].as_u64()), (3, Some(0)));
    let e = events.iter().find(|e| e["event_id"] == "00000000000000aa").unwrap();
    assert_eq!(e["event_name"], "x\u{fffd}y");
    assert_eq!(e["properties"]["p"], "\u{fffd}");
    assert_eq!(e["properties"]["ok"], "😀");
}

#[test]
fn numbers_beyond_u64_are_kept_as_doubles() {
    let line = r#"{"event_name":"big","timestamp":"2026-11-20T10:00:03Z","measurements":{"huge":123456789012345678901234567890,"neg":-99999999999999999999},"event_sequence":18446744073709551615}"#;
    let (sum, events, _) = run(&with_bad_line(line), &[]);
    assert_eq!(sum["skipped_lines"], 0);
    let e = events.iter().find(|e| e["event_name"] == "big").unwrap();
    assert!((e["measurements"]["huge"].as_f64().unwrap() - 1.2345678901234568e29).abs() < 1e14);
    assert!(e["measurements"]["neg"].as_f64().unwrap() < -9.9e19);
    assert_eq!(e["event_sequence"], json!(18446744073709551615u64));
}

#[test]
fn very_long_line_works() {
    let long = "x".repeat(30 * 1024 * 1024);
    let line = row(
        "long.line",
        "2026-11-20T10:00:03Z",
        json!({"properties": {"blob": long}}),
    );
    // Small chunks: the long line spans many of them.
    let (sum, events, _) = run(
        &with_bad_line(&line),
        &["--chunk-bytes", "1MiB", "--max-line-bytes", "64MiB"],
    );
    assert_eq!((events.len(), sum["skipped_lines"].as_u64()), (3, Some(0)));
    let long = events.iter().find(|e| e["event_name"] == "long.line").unwrap();
    assert_eq!(long["properties"]["blob"].as_str().unwrap().len(), 30 * 1024 * 1024);
}

#[test]
fn a_line_longer_than_max_line_bytes_is_skipped_and_reported_by_its_line_number() {
    let line = row(
        "long.line",
        "2026-11-20T10:00:03Z",
        json!({"properties": {"blob": "x".repeat(3000)}}),
    );
    for chunk in ["1KiB", "1MiB"] {
        let (sum, events, _) = run(
            &with_bad_line(&line),
            &["--chunk-bytes", chunk, "--max-line-bytes", "2KiB"],
        );
        assert_eq!((events.len(), sum["skipped_lines"].as_u64()), (2, Some(1)), "{chunk}");
        let p = &sum["problems"][0];
        assert_eq!(p["line"].as_u64(), Some(3), "{p}");
        assert!(p["reason"].as_str().unwrap().contains("--max-line-bytes"), "{p}");
    }
}

#[test]
fn invalid_utf8_is_a_reported_bad_line() {
    let mut bytes = format!("{}\n{}\n", header("s1"), good(1)).into_bytes();
    bytes.extend_from_slice(b"{\"event_name\":\"bad \xff\xfe\",\"timestamp\":\"2026-11-20T10:00:00Z\"}\n");
    bytes.extend_from_slice(format!("{}\n", good(2)).as_bytes());
    let (sum, events, stderr) = run(&bytes, &[]);
    let ids: Vec<&str> = events.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["0000000000000002", "0000000000000003"], "the good rows around it");
    assert_eq!(sum["skipped_lines"], 1);
    assert_eq!(sum["problems"].as_array().unwrap().len(), 1);
    let p = &sum["problems"][0];
    assert_eq!(
        (p["line"].as_u64(), p["reason"].as_str()),
        (Some(3), Some("invalid JSON: the line is not valid UTF-8"))
    );
    assert!(
        stderr.contains(&format!("{NAME}:3: invalid JSON: the line is not valid UTF-8")),
        "{stderr}"
    );
}

#[test]
fn a_folder_with_a_telemetry_name_is_skipped_and_reported() {
    let s = Store::new();
    s.file(NAME, &[header("s1"), good(1)]);
    std::fs::create_dir(s.path().join("telemetry-2026-11-20-dir.jsonl")).unwrap();
    let o = export(s.path(), &["--summary-json", "-o", "-"]).assert().success();
    let stderr = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(
        stderr.contains("telemetry-2026-11-20-dir.jsonl: a folder, not a regular file; skipped without opening it"),
        "{stderr}"
    );
    let sum = json(stderr.lines().last().unwrap().as_bytes());
    assert_eq!(
        (sum["events"].as_u64(), sum["skipped_files"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn strict_stops_at_the_first_problem_and_writes_nothing() {
    let s = Store::new();
    s.raw(NAME, &with_bad_line("{broken"));
    let out = tempfile::tempdir().unwrap();
    for (fmt, name) in [("json", "s.json"), ("otlp", "s.zip"), ("otlp", "s-dir")] {
        let target = out.path().join(name);
        export(s.path(), &["--strict", "--format", fmt, "-o", target.to_str().unwrap()])
            .assert()
            .code(1)
            .stderr(predicates::str::contains(format!("{NAME}:3:")).and(predicates::str::contains("--strict")));
        assert!(!target.exists());
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "no temporaries left");
    // Without problems, --strict exports normally.
    let clean = Store::new();
    clean.file(NAME, &[header("s1"), good(1)]);
    export(
        clean.path(),
        &["--strict", "-o", out.path().join("ok.json").to_str().unwrap()],
    )
    .assert()
    .success();
}

use predicates::prelude::PredicateBooleanExt;

#[test]
fn many_problems_print_the_first_and_count_the_rest() {
    let mut text = format!("{}\n", header("s1"));
    for _ in 0..50 {
        text.push_str("{bad\n");
    }
    text.push_str(&good(1));
    text.push('\n');
    let (sum, events, stderr) = run(text.as_bytes(), &[]);
    assert_eq!(events.len(), 1);
    assert_eq!(sum["skipped_lines"], 50);
    assert_eq!(sum["problems"].as_array().unwrap().len(), 20);
    assert_eq!(stderr.lines().filter(|l| l.contains(NAME)).count(), 20);
    assert!(stderr.contains("30 more problems"), "{stderr}");
}

#[test]
fn problems_are_tallied_by_reason_and_the_files_with_the_most_are_named() {
    let s = Store::new();
    let mut a = vec![header("s1")];
    // More problems than are listed (20 printed, 100 in the manifest).
    a.extend((0..120).map(|_| "{\"event_name\": oops}".to_string()));
    a.push(json!({"event_name": "no.time"}).to_string());
    a.push("[1]".to_string());
    a.push(good(1));
    s.file(NAME, &a);
    let b_name = "telemetry-2026-11-20-s2.jsonl";
    s.file(b_name, &[header("s2"), "{\"event_name\": oops}".to_string(), good(2)]);
    let dir_name = "telemetry-2026-11-20-dir.jsonl";
    std::fs::create_dir(s.path().join(dir_name)).unwrap();
    let path = |n: &str| s.path().join(n).display().to_string();

    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("t.zip");
    let o = export(s.path(), &["--summary-json", "-o", target.to_str().unwrap()])
        .assert()
        .success();
    let sum = json(&o.get_output().stdout);
    let lines = json!([
        {"reason": "invalid JSON", "count": 121},
        {"reason": "missing timestamp", "count": 1},
        {"reason": "not a JSON object", "count": 1}
    ]);
    let files = json!([{"reason": "not a regular file", "count": 1}]);
    // Ties in file order: the store's listing comes before the files read.
    let most = json!([
        {"file": path(NAME), "problems": 122},
        {"file": path(dir_name), "problems": 1},
        {"file": path(b_name), "problems": 1}
    ]);
    assert_eq!((&sum["skipped_lines"], &sum["skipped_files"]), (&json!(123), &json!(1)));
    assert_eq!(sum["skipped_lines_by_reason"], lines);
    assert_eq!(sum["skipped_files_by_reason"], files);
    assert_eq!(sum["files_with_most_problems"], most);
    assert_eq!(
        sum["problems"].as_array().unwrap().len(),
        20,
        "the first problems, as before"
    );

    let stderr = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    for want in [
        "skipped lines by reason: 121 invalid JSON, 1 missing timestamp, 1 not a JSON object".to_string(),
        "skipped files by reason: 1 not a regular file".to_string(),
        format!(
            "files with the most problems: {} (122), {} (1), {} (1)",
            path(NAME),
            path(dir_name),
            path(b_name)
        ),
    ] {
        assert!(stderr.contains(&want), "want {want:?} in {stderr}");
    }
    // The tally comes after the problems and the count of the rest, before the summary line.
    let at = |needle: &str| stderr.find(needle).unwrap_or_else(|| panic!("{needle:?} in {stderr}"));
    assert!(at("more problems not shown") < at("skipped lines by reason"));
    assert!(at("files with the most problems") < at("exported "));

    let m = json(&read_output(&target)["manifest.json"]);
    let skipped = &m["skipped"];
    assert_eq!(skipped["problems"].as_array().unwrap().len(), 100);
    assert_eq!(skipped["linesByReason"], lines);
    assert_eq!(skipped["filesByReason"], files);
    assert_eq!(skipped["filesWithMostProblems"], most);
    let keys: Vec<&str> = skipped.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "lines",
            "files",
            "nonFiniteValues",
            "oversizeRecords",
            "problems",
            "linesByReason",
            "filesByReason",
            "filesWithMostProblems"
        ]
    );

    // --quiet: the problems still, but no tally (it belongs to the summary).
    let quiet = export(s.path(), &["--quiet", "-o", "-"]).assert().success();
    let stderr = String::from_utf8_lossy(&quiet.get_output().stderr).into_owned();
    assert!(
        stderr.contains("more problems not shown") && !stderr.contains("by reason"),
        "{stderr}"
    );

    // Nothing skipped: no tally printed, empty in --summary-json, absent from the manifest.
    let clean = Store::new();
    clean.file(NAME, &[header("s1"), good(1)]);
    let target = out.path().join("clean.zip");
    let o = export(clean.path(), &["--summary-json", "-o", target.to_str().unwrap()])
        .assert()
        .success();
    let sum = json(&o.get_output().stdout);
    assert_eq!(sum["skipped_lines_by_reason"], json!([]));
    assert_eq!(sum["skipped_files_by_reason"], json!([]));
    assert_eq!(sum["files_with_most_problems"], json!([]));
    assert!(!String::from_utf8_lossy(&o.get_output().stderr).contains("by reason"));
    let m = json(&read_output(&target)["manifest.json"]);
    let keys: Vec<&str> = m["skipped"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["lines", "files", "nonFiniteValues", "oversizeRecords", "problems"]
    );
}

/// The source files a manifest lists, by name.
fn source_names(m: &Value) -> Vec<String> {
    m["sourceFiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

/// Exports `store` into every format (JSON and JSON Lines with a manifest,
/// OTLP in a zip and a folder) and sends it dry; asserts that each read
/// `read` files, skipped `skipped` as a whole, and that the manifests list
/// only `read`.
fn assert_files_read(store: &Path, extra: &[&str], read: &[&str], skipped: &str) {
    let out = tempfile::tempdir().unwrap();
    let p = |n: &str| out.path().join(n).to_str().unwrap().to_string();
    let n = read.len();
    let from = format!("from {n} file{} to", if n == 1 { "" } else { "s" });
    for (fmt, target, manifest) in [
        ("json", p("x.json"), Some(p("x-manifest.json"))),
        ("jsonl", p("x.jsonl"), Some(p("l-manifest.json"))),
        ("otlp", p("x.zip"), None),
        ("otlp", p("x-dir"), None),
    ] {
        let mut args = vec!["--summary-json", "--format", fmt, "-o", &target];
        if let Some(m) = &manifest {
            args.extend(["--manifest", m.as_str()]);
        }
        args.extend(extra);
        let o = export(store, &args).assert().success();
        let sum = json(&o.get_output().stdout);
        let stderr = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
        assert_eq!(sum["files_read"], n, "{fmt}: {sum}");
        assert_eq!(sum["skipped_files"], 1, "{fmt}: {sum}");
        assert!(sum["problems"][0]["file"].as_str().unwrap().ends_with(skipped), "{sum}");
        assert!(stderr.contains(&from), "{fmt}: {stderr}");
        let m = match &manifest {
            Some(m) => json(&std::fs::read(m).unwrap()),
            None => json(&read_output(Path::new(&target))["manifest.json"]),
        };
        assert_eq!(source_names(&m), read, "{fmt}");
        assert_eq!(m["skipped"]["files"], 1, "{fmt}");
        assert!(m["skipped"]["problems"][0]["file"].as_str().unwrap().ends_with(skipped));
    }
    let url = format!("http://127.0.0.1:{}", peers::free_port());
    let o = peers::send_cmd(store, &[&["--endpoint", &url, "--dry-run"], extra].concat())
        .assert()
        .success();
    let sum = json(&o.get_output().stdout);
    assert_eq!(
        (&sum["files_read"], &sum["skipped_files"]),
        (&json!(n), &json!(1)),
        "send: {sum}"
    );
}

#[test]
fn a_file_with_an_unsupported_schema_version_is_skipped_not_read_in_every_format() {
    let s = Store::new();
    s.file(NAME, &[header("s1"), good(1)]);
    let mut h: Value = serde_json::from_str(&header("s2")).unwrap();
    h["schema_version"] = json!(99);
    // Many chunks: only the first says why, none of them is read.
    let bad = "telemetry-2026-11-20-s2.jsonl";
    let rows: Vec<String> = std::iter::once(h.to_string()).chain((0..40).map(good)).collect();
    s.file(bad, &rows);
    let late = "telemetry-2026-11-21-s3.jsonl";
    s.file(late, &[header("s3"), good(3)]);
    for chunk in ["1MiB", "256"] {
        assert_files_read(s.path(), &["--chunk-bytes", chunk], &[NAME, late], bad);
    }
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_skipped_not_read_in_every_format() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: a plain libc call.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: root reads a file of mode 000");
        return;
    }
    let s = Store::new();
    s.file(NAME, &[header("s1"), good(1)]);
    let bad = "telemetry-2026-11-20-s2.jsonl";
    let path = s.file(bad, &[header("s2"), good(2)]);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    assert_files_read(s.path(), &[], &[NAME], bad);
}

#[cfg(unix)]
#[test]
fn problems_and_the_files_with_the_most_follow_the_store_order_with_entries_not_read_among_the_files() {
    let s = Store::new();
    let bad_at_2 = |session: &str| vec![header(session), "{broken".to_string(), good(1)];
    let early = "telemetry-2026-11-17-zz.jsonl";
    let real = "telemetry-2026-11-18-97b8234a.1.jsonl";
    s.file(early, &bad_at_2("zz"));
    s.file(real, &bad_at_2("97b8234a"));
    // Named like telemetry files, dated on and after the real ones: four,
    // enough to push a real file out of the five most if they came first.
    let dir = "telemetry-2026-11-18-dir.jsonl";
    let link = "telemetry-2026-11-18-link.jsonl";
    let dir2 = "telemetry-2026-11-19-dir.jsonl";
    let link2 = "telemetry-2026-11-20-link.jsonl";
    for d in [dir, dir2] {
        std::fs::create_dir(s.path().join(d)).unwrap();
    }
    for l in [link, link2] {
        std::os::unix::fs::symlink(s.path().join(real), s.path().join(l)).unwrap();
    }
    let path = |n: &str| s.path().join(n).display().to_string();
    let order = [early, real, dir, link, dir2, link2];
    let out = tempfile::tempdir().unwrap();
    let (target, manifest) = (out.path().join("x.json"), out.path().join("m.json"));
    let zip = out.path().join("x.zip");
    for args in [
        vec!["-o", target.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()],
        vec!["-o", zip.to_str().unwrap()],
    ] {
        let o = export(s.path(), &[&["--summary-json"], &args[..]].concat())
            .assert()
            .success();
        let sum = json(&o.get_output().stdout);
        let stderr = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
        let files = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|p| p["file"].as_str().unwrap().to_string())
                .collect()
        };
        let all: Vec<String> = order.iter().map(|n| path(n)).collect();
        assert_eq!(files(&sum["problems"]), all, "{sum}");
        assert_eq!(sum["problems"][0]["line"], 2);
        assert_eq!(sum["problems"][1]["line"], 2);
        assert_eq!(files(&sum["files_with_most_problems"]), all[..5], "{sum}");
        let at = |n: &str| {
            stderr
                .find(&format!("{}:", path(n)))
                .unwrap_or_else(|| panic!("{n} in {stderr}"))
        };
        for w in order.windows(2) {
            assert!(at(w[0]) < at(w[1]), "{} before {}: {stderr}", w[0], w[1]);
        }
        let names: Vec<String> = all[..5].iter().map(|p| format!("{p} (1)")).collect();
        assert!(
            stderr.contains(&format!("files with the most problems: {}", names.join(", "))),
            "{stderr}"
        );
        let m = if zip.exists() {
            json(&read_output(&zip)["manifest.json"])
        } else {
            json(&std::fs::read(&manifest).unwrap())
        };
        assert_eq!(files(&m["skipped"]["problems"]), all);
        assert_eq!(files(&m["skipped"]["filesWithMostProblems"]), all[..5]);
    }
}
