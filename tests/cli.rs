//! The command as a user runs it (SPEC §3, §8): formats and packaging (JSON
//! Lines too), range kinds (open-ended ones too), selection by file name,
//! empty exports, --force, exit codes of usage errors (a flag the format
//! does not take), the summary (which names the format, and says "1
//! request" in the singular), `--manifest` for a JSON export, `paths` and
//! `completions`, and `-h` against `--help`.

mod common;

use std::path::Path;

use common::*;
use predicates::prelude::*;
use serde_json::{json, Value};

/// One session per day from 2026-11-10 to 2026-11-24, one log at noon each day
/// plus one at 23:30 on the 23rd.
fn daily_store() -> Store {
    let s = Store::new();
    for day in 10..=24 {
        let date = format!("2026-11-{day}");
        let mut lines = vec![
            header(&format!("d{day}")),
            row("daily.log", &format!("{date}T12:00:00Z"), json!({})),
        ];
        if day == 23 {
            lines.push(row("late.log", &format!("{date}T23:30:00Z"), json!({})));
        }
        s.file(&format!("telemetry-{date}-d{day}.jsonl"), &lines);
    }
    s
}

fn summary(out: &[u8]) -> Value {
    json(out)
}

/// Exports 2026-11-12..14 to stdout: (stderr, the `--summary-json` object on its last line).
fn export_nov_12_to_14(s: &Store) -> (String, Value) {
    let out = export(
        s.path(),
        &[
            "--from",
            "2026-11-12",
            "--to",
            "2026-11-14",
            "-o",
            "-",
            "--summary-json",
        ],
    )
    .assert()
    .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let sum = summary(stderr.lines().last().unwrap().as_bytes());
    (stderr, sum)
}

fn events_for(store: &Path, args: &[&str]) -> u64 {
    let out = export(store, &[&["-o", "-", "--summary-json", "--quiet"], args].concat())
        .assert()
        .success();
    let stderr = &out.get_output().stderr;
    // With -o - the summary goes to stderr; it is the last line.
    let last = stderr.split(|b| *b == b'\n').rfind(|l| !l.is_empty()).unwrap();
    summary(last)["events"].as_u64().unwrap()
}

#[test]
fn range_presets_are_anchored_at_now() {
    let s = daily_store();
    // NOW is 2026-11-24T12:00:00Z: the window is [now - N days, now).
    assert_eq!(
        events_for(s.path(), &["--range", "last-24-hours"]),
        2,
        "23rd 12:00 and 23:30"
    );
    assert_eq!(
        events_for(s.path(), &["--range", "last-7-days"]),
        8,
        "17th 12:00 .. 23rd"
    );
    assert_eq!(events_for(s.path(), &["--range", "last-30-days"]), 15);
    assert_eq!(events_for(s.path(), &["--range", "all-time"]), 16);
}

#[test]
fn custom_range_days_are_inclusive() {
    let s = daily_store();
    assert_eq!(events_for(s.path(), &["--from", "2026-11-12", "--to", "2026-11-14"]), 3);
    assert_eq!(events_for(s.path(), &["--from", "2026-11-23", "--to", "2026-11-23"]), 2);
}

#[test]
fn without_a_terminal_missing_range_and_format_mean_all_time_json() {
    let s = daily_store();
    let cwd = tempfile::tempdir().unwrap();
    bin()
        .current_dir(cwd.path())
        .arg("export")
        .arg(s.path())
        .args(["--now", NOW])
        .assert()
        .success();
    let out = cwd.path().join("coder-telemetry-all-time-2026-11-24.json");
    assert_eq!(json(&std::fs::read(out).unwrap()).as_array().unwrap().len(), 16);
}

#[test]
fn suggested_names_in_the_current_folder() {
    let s = daily_store();
    let cwd = tempfile::tempdir().unwrap();
    bin()
        .current_dir(cwd.path())
        .arg("export")
        .arg(s.path())
        .args(["--now", NOW, "--range", "last-7-days", "--format", "otlp"])
        .assert()
        .success();
    assert!(cwd
        .path()
        .join("coder-telemetry-last-7-days-2026-11-24.otlp.zip")
        .is_file());
    bin()
        .current_dir(cwd.path())
        .arg("export")
        .arg(s.path())
        .args(["--now", NOW, "--from", "2026-11-01", "--to", "2026-11-30"])
        .assert()
        .success();
    assert!(cwd
        .path()
        .join("coder-telemetry-2026-11-01-to-2026-11-30.json")
        .is_file());
}

#[test]
fn each_format_and_packaging() {
    let s = daily_store();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("a.json");
    export(s.path(), &["-o"]).arg(&file).assert().success();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("[\n{") && text.ends_with("}\n]\n"),
        "JSON array framing"
    );
    assert_eq!(json(text.as_bytes()).as_array().unwrap().len(), 16);

    let stdout = export(s.path(), &["-o", "-", "--quiet"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(stdout, text.as_bytes(), "stdout gets the same bytes as the file");

    let folder = out.path().join("otlp");
    export(s.path(), &["--format", "otlp", "-o"])
        .arg(&folder)
        .assert()
        .success();
    let zip = out.path().join("otlp.zip");
    export(s.path(), &["--format", "otlp", "-o"])
        .arg(&zip)
        .assert()
        .success();
    let (f, z) = (read_output(&folder), read_output(&zip));
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        ["logs.json", "manifest.json", "metrics.json", "traces.json"]
    );
    let same = |m: &std::collections::BTreeMap<String, Vec<u8>>| {
        m.iter()
            .filter(|(k, _)| *k != "manifest.json")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(same(&f), same(&z), "zip and folder hold the same bytes");
    assert_eq!(json(&f["manifest.json"])["files"], json(&z["manifest.json"])["files"]);
    assert_eq!(json(&f["traces.json"]), json!({"resourceSpans": []}));
    assert_eq!(json(&f["metrics.json"]), json!({"resourceMetrics": []}));
    let names: Vec<Value> = json(&f["manifest.json"])["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].clone())
        .collect();
    assert_eq!(names, ["logs.json", "traces.json", "metrics.json"]);
}

#[test]
fn compression_level_changes_size_not_content() {
    let s = daily_store();
    let out = tempfile::tempdir().unwrap();
    let (a, b) = (out.path().join("a.zip"), out.path().join("b.zip"));
    export(s.path(), &["--format", "otlp", "--compression-level", "0", "-o"])
        .arg(&a)
        .assert()
        .success();
    export(s.path(), &["--format", "otlp", "--compression-level", "9", "-o"])
        .arg(&b)
        .assert()
        .success();
    let (mut ea, mut eb) = (read_output(&a), read_output(&b));
    let (ma, mb) = (
        json(&ea.remove("manifest.json").unwrap()),
        json(&eb.remove("manifest.json").unwrap()),
    );
    assert_eq!(ea, eb);
    assert_eq!(
        (&ma["options"]["compressionLevel"], &mb["options"]["compressionLevel"]),
        (&json!(0), &json!(9))
    );
    assert_eq!(ma["files"], mb["files"], "the same envelope files, byte for byte");
    assert!(std::fs::metadata(&a).unwrap().len() > std::fs::metadata(&b).unwrap().len());
}

#[test]
fn files_are_selected_by_name_only() {
    let s = daily_store();
    // Outside the range and unreadable: must not matter.
    std::os::unix::fs::symlink("/nonexistent/target", s.path().join("telemetry-2026-10-01-gone.jsonl")).unwrap();
    std::fs::create_dir(s.path().join("telemetry-2026-10-02-dir.jsonl")).unwrap();
    // Not telemetry names: ignored.
    s.raw("notes.txt", b"hello");
    s.raw("telemetry-2026-11-12-x.jsonl.bak", b"garbage");
    s.raw("telemetry-2026-13-12-x.jsonl", b"garbage");
    let (stderr, sum) = export_nov_12_to_14(&s);
    assert!(!stderr.contains("gone") && !stderr.contains("garbage"), "{stderr}");
    // The 12th to the 14th, and the 15th for events flushed after midnight (--late-days 1).
    assert_eq!(
        (sum["files_read"].as_u64(), sum["skipped_files"].as_u64()),
        (Some(4), Some(0))
    );
}

#[test]
fn symbolic_link_in_range_is_reported_and_not_followed() {
    let s = daily_store();
    std::os::unix::fs::symlink("/nonexistent/target", s.path().join("telemetry-2026-11-12-gone.jsonl")).unwrap();
    let (stderr, sum) = export_nov_12_to_14(&s);
    assert!(
        stderr.contains(
            "telemetry-2026-11-12-gone.jsonl: a symbolic link, not a regular file; skipped without opening it"
        ),
        "{stderr}"
    );
    assert_eq!(
        (sum["events"].as_u64(), sum["skipped_files"].as_u64()),
        (Some(3), Some(1))
    );
}

#[test]
fn empty_export_writes_no_file_and_says_so() {
    let s = daily_store();
    let out = tempfile::tempdir().unwrap();
    for (fmt, name) in [("json", "e.json"), ("otlp", "e.zip"), ("otlp", "e-dir")] {
        let target = out.path().join(name);
        export(
            s.path(),
            &["--from", "2020-01-01", "--to", "2020-01-02", "--format", fmt, "-o"],
        )
        .arg(&target)
        .assert()
        .success()
        .stderr(predicate::str::contains("no events matched"));
        assert!(!target.exists(), "{name}");
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "no temporaries left");
    // Quiet still says why there is no file.
    export(
        s.path(),
        &["--from", "2020-01-01", "--to", "2020-01-02", "--quiet", "-o"],
    )
    .arg(out.path().join("q.json"))
    .assert()
    .success()
    .stderr(predicate::str::contains("no events matched"));
    // An empty store, too.
    let empty = Store::new();
    export(empty.path(), &["-o"])
        .arg(out.path().join("x.json"))
        .assert()
        .success();
    assert!(!out.path().join("x.json").exists());
}

#[test]
fn existing_output_needs_force() {
    let s = daily_store();
    let out = tempfile::tempdir().unwrap();
    for (fmt, name) in [("json", "f.json"), ("otlp", "f.zip"), ("otlp", "f-dir")] {
        let target = out.path().join(name);
        if name.ends_with("dir") {
            // An earlier export: --force may replace it.
            export(s.path(), &["--format", fmt, "-o"])
                .arg(&target)
                .assert()
                .success();
            std::fs::write(target.join("logs.json"), "old").unwrap();
        } else {
            std::fs::write(&target, "old").unwrap();
        }
        export(s.path(), &["--format", fmt, "-o"])
            .arg(&target)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("already exists").and(predicate::str::contains("--force")));
        export(s.path(), &["--format", fmt, "--force", "-o"])
            .arg(&target)
            .assert()
            .success();
        if name.ends_with("dir") {
            assert_ne!(std::fs::read(target.join("logs.json")).unwrap(), b"old");
        } else {
            assert_ne!(std::fs::read(&target).unwrap(), b"old");
        }
    }
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        3,
        "no temporaries or old copies left"
    );
}

#[test]
fn usage_errors_exit_2_and_say_what_is_accepted() {
    let s = daily_store();
    let cases: &[(&[&str], &str)] = &[
        (&["--from", "2026-02-30", "--to", "2026-03-01"], "YYYY-MM-DD"),
        (&["--from", "2026-1-5", "--to", "2026-03-01"], "YYYY-MM-DD"),
        (&["--from", "2026-03-02", "--to", "2026-03-01"], "before"),
        (&["--since", "7x"], "36h, 7d or 2w"),
        (&["--since", "7d", "--from", "2026-03-02"], "--since"),
        (
            &["--range", "last-2-days"],
            "last-24-hours, last-7-days, last-30-days, all-time",
        ),
        (
            &["--range", "all-time", "--from", "2026-03-02", "--to", "2026-03-03"],
            "--range",
        ),
        (&["--now", "yesterday"], "RFC 3339"),
        (&["--format", "otlp", "-o", "-"], "stdout"),
        (&["--format", "xml"], "json"),
        (&["--layout", "zigzag"], "single"),
        (&["--max-request-bytes", "12 parsecs"], "--max-request-bytes"),
        (&["--max-request-bytes", "0"], "--max-request-bytes"),
        (&["--compression-level", "12"], "--compression-level"),
        (&["--threads", "0"], "--threads"),
        (&["--resource-attr", "novalue"], "KEY=VALUE"),
        (&["--temporality", "sideways"], "cumulative"),
        (&["--no-such-flag"], "--no-such-flag"),
    ];
    for (args, says) in cases {
        export(s.path(), args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(*says));
    }
    bin().arg("frobnicate").assert().code(2);
}

#[test]
fn missing_store_fails_with_exit_1() {
    export(Path::new("/nonexistent/store"), &["-o", "-"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/nonexistent/store"));
}

#[test]
fn summary_json_has_the_documented_keys() {
    let s = daily_store();
    s.raw("telemetry-2026-11-11-bad.jsonl", b"{broken\n");
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("s.json");
    let o = export(s.path(), &["--summary-json", "-o"])
        .arg(&target)
        .assert()
        .success();
    let sum = summary(&o.get_output().stdout);
    for k in [
        "events",
        "logs",
        "spans",
        "metric_events",
        "metric_points",
        "files_read",
        "skipped_lines",
        "skipped_files",
        "output",
        "elapsed_s",
        "problems",
    ] {
        assert!(sum.get(k).is_some(), "{k} in {sum}");
    }
    assert_eq!(sum["events"], 16);
    assert_eq!(sum["logs"], 16);
    assert_eq!(sum["files_read"], 16);
    assert_eq!(sum["skipped_lines"], 1);
    assert_eq!(sum["output"], target.display().to_string());
    let p = &sum["problems"][0];
    assert!(p["file"].as_str().unwrap().ends_with("telemetry-2026-11-11-bad.jsonl"));
    assert_eq!(p["line"], 1);
    assert!(
        p["reason"].as_str().unwrap().contains("truncated") || p["reason"].as_str().unwrap().contains("invalid JSON")
    );
}

#[test]
fn one_line_summary_on_stderr_and_quiet_silences_it() {
    let s = daily_store();
    let out = tempfile::tempdir().unwrap();
    export(s.path(), &["-o"])
        .arg(out.path().join("a.json"))
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("exported 16 events"));
    export(s.path(), &["--quiet", "-o"])
        .arg(out.path().join("b.json"))
        .assert()
        .success()
        .stdout("")
        .stderr("");
}

/// The binary with only `HOME` pointing at `home` among the probed variables.
fn with_home(home: &Path) -> assert_cmd::Command {
    let mut c = bin();
    c.env("HOME", home);
    for v in ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "VSCODE_PORTABLE", "VSCODE_APPDATA"] {
        c.env_remove(v);
    }
    c
}

#[test]
fn paths_lists_candidates_and_marks_the_default() {
    let home = tempfile::tempdir().unwrap();
    let found = home
        .path()
        .join(".vscode-server/data/User/globalStorage/coder.coder-remote/telemetry");
    std::fs::create_dir_all(&found).unwrap();
    let out = with_home(home.path()).arg("paths").assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.contains(".config/Code/User/globalStorage/coder.coder-remote/telemetry"),
        "{text}"
    );
    let default_line = text.lines().find(|l| l.starts_with("default")).expect("a default line");
    assert!(default_line.contains(".vscode-server/data"), "{text}");

    // Export without a store uses it and says which.
    let s = daily_store();
    for e in std::fs::read_dir(s.path()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), found.join(e.file_name())).unwrap();
    }
    with_home(home.path())
        .args(["export", "--now", NOW, "-o", "-"])
        .assert()
        .success()
        .stderr(predicate::str::contains("using the store of VS Code Server"));
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        bin()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("export"));
    }
}

#[test]
fn open_ended_ranges_run_to_now_from_the_beginning_or_over_an_age() {
    let s = daily_store();
    // NOW is 2026-11-24T12:00:00Z, the 24th's noon event is at NOW: outside.
    assert_eq!(events_for(s.path(), &["--from", "2026-11-20"]), 5, "20th .. 23rd 23:30");
    assert_eq!(events_for(s.path(), &["--since", "2026-11-20"]), 5);
    assert_eq!(events_for(s.path(), &["--to", "2026-11-12"]), 3, "10th .. 12th");
    assert_eq!(events_for(s.path(), &["--since", "36h"]), 2, "23rd 12:00 and 23:30");
    assert_eq!(
        events_for(s.path(), &["--since", "7d"]),
        events_for(s.path(), &["--range", "last-7-days"])
    );
    let o = export(
        s.path(),
        &["--from", "2026-11-20", "-o", "-", "--summary-json", "--quiet"],
    )
    .assert()
    .success();
    let stderr = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    let sum = summary(stderr.lines().last().unwrap().as_bytes());
    assert_eq!(
        sum["range"],
        json!({"label": "2026-11-20 to now", "start": "2026-11-20T00:00:00Z", "end": NOW})
    );
    // The suggested name follows the range.
    let cwd = tempfile::tempdir().unwrap();
    bin()
        .current_dir(cwd.path())
        .arg("export")
        .arg(s.path())
        .args(["--now", NOW, "--since", "36h"])
        .assert()
        .success();
    assert!(cwd
        .path()
        .join("coder-telemetry-last-36-hours-2026-11-24.json")
        .is_file());
    // A day after now cannot start a range that ends now.
    export(s.path(), &["--from", "2026-11-25", "-o", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--from 2026-11-25 is after now (2026-11-24T12:00:00Z)",
        ));
    export(s.path(), &["--since", "2026-12-01", "-o", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--since 2026-12-01 is after now"));
}

/// The array's elements, each as written (the array is one element a line).
fn elements(array: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(array).unwrap();
    let body = text.strip_prefix("[\n").unwrap().strip_suffix("\n]\n").unwrap();
    body.split(",\n").map(str::to_string).collect()
}

#[test]
fn jsonl_output_is_the_arrays_elements_one_per_line_in_the_same_order() {
    let (gen, _) = generated_store("2MiB", 3, 3, &[]);
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/real-store");
    let out = tempfile::tempdir().unwrap();
    for (i, store) in [gen.path(), real.as_path()].into_iter().enumerate() {
        let array = out.path().join(format!("{i}.json"));
        export(store, &["-o"]).arg(&array).assert().success();
        let want: String = elements(&std::fs::read(&array).unwrap())
            .iter()
            .map(|e| format!("{e}\n"))
            .collect();
        assert!(want.lines().count() > 100, "{i}: {} events", want.lines().count());
        for (name, extra) in [
            ("a.jsonl", &[][..]),
            ("b.NDJSON", &[][..]),
            // Tiny chunks and one thread: the merge's writes cut differently.
            ("c.jsonl", &["--chunk-bytes", "3000", "--threads", "1"][..]),
            ("d", &["--format", "jsonl"][..]),
        ] {
            let target = out.path().join(format!("{i}-{name}"));
            let o = export(store, extra).arg("-o").arg(&target).assert().success();
            let got = std::fs::read_to_string(&target).unwrap();
            assert!(got == want, "{i} {name}: JSON Lines differ from the array's elements");
            let stderr = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
            assert!(stderr.contains(" as JSON Lines in "), "{stderr}");
        }
        let o = export(store, &["--format", "jsonl", "-o", "-", "--quiet"])
            .assert()
            .success();
        assert!(o.get_output().stdout == want.as_bytes(), "{i}: stdout");
    }
    // Each line is one event object.
    for line in std::fs::read_to_string(out.path().join("1-a.jsonl")).unwrap().lines() {
        assert!(json(line.as_bytes())["event_name"].is_string(), "{line}");
    }
    // Nothing matched: no lines on stdout, and no file.
    let empty = ["--from", "2020-01-01", "--to", "2020-01-02"];
    let o = export(
        real.as_path(),
        &[&empty[..], &["--format", "jsonl", "-o", "-"]].concat(),
    )
    .assert()
    .success()
    .stderr(predicate::str::contains("no events matched; wrote no lines to stdout"));
    assert!(o.get_output().stdout.is_empty());
    export(real.as_path(), &empty)
        .arg("-o")
        .arg(out.path().join("none.jsonl"))
        .assert()
        .success();
    assert!(!out.path().join("none.jsonl").exists());
}

#[test]
fn the_summary_names_the_format_it_wrote() {
    let s = daily_store();
    let out = tempfile::tempdir().unwrap();
    for (name, says) in [
        ("a.json", " as a JSON array in "),
        ("a.jsonl", " as JSON Lines in "),
        ("a.zip", " as OTLP/JSON in "),
        ("dir/", " as OTLP/JSON in "),
    ] {
        export(s.path(), &["-o", &format!("{}/{name}", out.path().display())])
            .assert()
            .success()
            .stderr(predicate::str::contains(says));
    }
    let o = export(s.path(), &["-o", "-", "--format", "jsonl", "--summary-json", "--quiet"])
        .assert()
        .success();
    let sum = summary(o.get_output().stderr.split(|b| *b == b'\n').next().unwrap());
    assert_eq!((&sum["format"], &sum["output"]), (&json!("jsonl"), &json!("-")));
}

#[test]
fn a_flag_of_another_format_is_a_usage_error_naming_it() {
    let s = daily_store();
    let out = tempfile::tempdir().unwrap();
    let o = |n: &str| format!("{}/{n}", out.path().display());
    for (args, says) in [
        (
            vec!["--layout", "split", "-o", &o("x.json")],
            "--layout split applies to OTLP output only",
        ),
        (
            vec!["--layout", "auto", "-o", &o("x.jsonl")],
            "--layout auto applies to OTLP output only",
        ),
        (
            vec!["--max-request-bytes", "1MiB", "-o", "-"],
            "--max-request-bytes 1MiB applies to OTLP",
        ),
        (
            vec!["--compression-level", "3", "-o", &o("x.json")],
            "--compression-level 3 applies to OTLP",
        ),
        (
            vec!["--format", "json", "-o", &o("x.jsonl")],
            "--format json contradicts -o",
        ),
        (
            vec!["--format", "otlp", "-o", &o("x.ndjson")],
            "a .jsonl or .ndjson name holds JSON Lines",
        ),
        (
            vec!["--format", "jsonl", "-o", &o("x.zip")],
            "--format jsonl contradicts -o",
        ),
        (
            vec!["--format", "jsonl", "-o", &o("x.json")],
            "--format jsonl contradicts -o",
        ),
    ] {
        let a = export(s.path(), &args).assert().code(2);
        let e = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(e.starts_with("error: ") && e.contains(says), "{args:?}: {e}");
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "nothing written");
    // Where they apply, they are taken.
    export(s.path(), &["--layout", "split", "--compression-level", "3", "-o"])
        .arg(out.path().join("y.zip"))
        .assert()
        .success();
}

/// The lines of the option groups of `-h` or `--help` (before the text after them).
fn help_of(args: &[&str], columns: &str) -> String {
    let o = bin().args(args).env("COLUMNS", columns).assert().success();
    String::from_utf8_lossy(&o.get_output().stdout).into_owned()
}

#[test]
fn short_help_groups_the_options_one_line_each_and_long_help_has_the_rest() {
    for (cmd, groups) in [
        ("export", &["Range:", "Output:", "OTLP:", "Performance:", "Help:"][..]),
        (
            "send",
            &["Range:", "Delivery:", "Output:", "OTLP:", "Performance:", "Help:"][..],
        ),
    ] {
        let short = help_of(&[cmd, "-h"], "80");
        let headings: Vec<&str> = short
            .lines()
            .filter(|l| l.ends_with(':') && !l.starts_with(' '))
            .filter(|l| *l != "Arguments:")
            .collect();
        assert_eq!(headings, groups, "{cmd}\n{short}");
        // One line a flag: nothing wrapped onto a next line, nothing past 80 columns.
        let options = short.split("Range:").nth(1).unwrap();
        for line in options.lines() {
            assert!(line.chars().count() <= 80, "{cmd}: {line:?}");
            assert!(
                !line.starts_with("        "),
                "{cmd}: a wrapped help line {line:?}\n{short}"
            );
        }
        assert!(!short.contains("Examples:") && short.contains("--help"), "{short}");
        let long = help_of(&[cmd, "--help"], "80");
        for want in ["Examples:", "Exit codes:", "Environment"] {
            assert!(long.contains(want), "{cmd} --help: {want}");
        }
        assert!(long.len() > 2 * short.len());
    }
    let short = help_of(&["export", "-h"], "80");
    let range = short.split("Range:").nth(1).unwrap();
    assert!(
        range.find("--since").unwrap() < range.find("Output:").unwrap(),
        "{short}"
    );
}

#[test]
fn help_examples_are_not_wrapped_at_80_columns_so_they_paste_as_written() {
    for cmd in ["export", "send"] {
        let at = |columns| {
            let h = help_of(&[cmd, "--help"], columns);
            h.split("Examples:")
                .nth(1)
                .unwrap()
                .split("Exit codes:")
                .next()
                .unwrap()
                .to_string()
        };
        let (narrow, wide) = (at("80"), at("200"));
        assert_eq!(narrow, wide, "{cmd}: clap wrapped an example at 80 columns");
        let mut continued = false;
        for line in narrow
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            assert!(
                continued || line.starts_with("coder-telemetry "),
                "{cmd}: {line:?} is neither a command nor a continuation"
            );
            continued = line.ends_with('\\');
        }
        assert!(!continued, "{cmd}: the last example ends in a continuation");
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn manifest_of_a_json_export_lists_its_sources_and_the_output_as_its_one_file() {
    let s = daily_store();
    let out = tempfile::tempdir().unwrap();
    for (format, name) in [("json", "week.json"), ("jsonl", "week.jsonl")] {
        let target = out.path().join(name);
        let manifest = out.path().join(format!("{name}.manifest.json"));
        let args = ["--from", "2026-11-20", "--to", "2026-11-23"];
        export(
            s.path(),
            &[
                &args[..],
                &["-o", target.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()],
            ]
            .concat(),
        )
        .assert()
        .success();
        let written = std::fs::read(&target).unwrap();
        // The output is what it is without --manifest, byte for byte.
        let plain = export(s.path(), &[&args[..], &["--format", format, "-o", "-"]].concat())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(written, plain, "{format}");
        let m = json(&std::fs::read(&manifest).unwrap());
        assert_eq!(m["exporter"]["name"], "coder-telemetry");
        assert_eq!(m["format"], format);
        assert_eq!(m["layout"], Value::Null);
        assert_eq!(m["exportedAt"], NOW);
        assert_eq!(m["range"]["start"], "2026-11-20T00:00:00Z");
        assert_eq!(m["stores"], json!([s.path().display().to_string()]));
        // 20..23, and the 24th for the late days.
        assert_eq!(m["sourceFiles"].as_array().unwrap().len(), 5);
        assert_eq!(m["sourceEvents"], 5);
        assert_eq!(m["signals"]["logs"]["events"], 5);
        assert_eq!(m["options"]["temporality"], Value::Null);
        assert_eq!(m["options"]["lateDays"], 1);
        let files = m["files"].as_array().unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0]["name"], target.display().to_string());
        assert_eq!(files[0]["bytes"], written.len());
        assert_eq!(files[0]["sha256"], sha256_hex(&written));
        assert_eq!(files[0]["records"], 5);
        assert_eq!(m["skipped"]["lines"], 0);
    }
    // To stdout: the manifest describes what stdout got.
    let manifest = out.path().join("stdout.manifest.json");
    let o = export(
        s.path(),
        &[
            "--range",
            "all-time",
            "-o",
            "-",
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    )
    .assert()
    .success();
    let stdout = o.get_output().stdout.clone();
    let m = json(&std::fs::read(&manifest).unwrap());
    assert_eq!(
        m["files"],
        json!([{"name": "-", "bytes": stdout.len(), "sha256": sha256_hex(&stdout), "records": 16}])
    );
    // Nothing matched: no output, and no manifest either.
    let none = out.path().join("none.manifest.json");
    export(
        s.path(),
        &[
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-02",
            "-o",
            out.path().join("none.json").to_str().unwrap(),
        ],
    )
    .arg("--manifest")
    .arg(&none)
    .assert()
    .success();
    assert!(!none.exists() && !out.path().join("none.json").exists());
}

#[test]
fn manifest_follows_the_force_rules_and_is_refused_for_otlp() {
    let s = daily_store();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("out.json");
    let manifest = out.path().join("m.json");
    let t = target.to_str().unwrap();
    let m = manifest.to_str().unwrap();
    // An existing manifest path is an export failure without --force, and
    // nothing is written: not the output either.
    std::fs::write(&manifest, "mine").unwrap();
    export(s.path(), &["-o", t, "--manifest", m])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists").and(predicate::str::contains("--force")));
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), "mine");
    assert!(!target.exists());
    // --force replaces a regular file.
    export(s.path(), &["-o", t, "--manifest", m, "--force"])
        .assert()
        .success();
    assert_eq!(json(&std::fs::read(&manifest).unwrap())["format"], "json");
    // A folder is never replaced by a manifest, even an earlier export with --force.
    let folder = out.path().join("otlp-export");
    export(s.path(), &["-o", &format!("{}/", folder.display())])
        .assert()
        .success();
    let before = read_output(&folder);
    export(s.path(), &["-o", t, "--force", "--manifest", folder.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--manifest writes a file"));
    assert_eq!(read_output(&folder), before);
    // Nor is an input of the export.
    let input = s.path().join("telemetry-2026-11-20-d20.jsonl");
    let input_bytes = std::fs::read(&input).unwrap();
    export(s.path(), &["-o", t, "--force", "--manifest", input.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("refusing to replace"));
    assert_eq!(std::fs::read(&input).unwrap(), input_bytes);
    // Usage errors: the output itself, and an OTLP export (its manifest is inside).
    export(s.path(), &["-o", t, "--force", "--manifest", t])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("names the output itself"));
    for otlp in ["out.zip", "outdir/"] {
        let o = out.path().join(otlp);
        export(
            s.path(),
            &[
                "-o",
                o.to_str().unwrap(),
                "--manifest",
                out.path().join("x.json").to_str().unwrap(),
            ],
        )
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--manifest").and(predicate::str::contains("inside its folder or zip")));
    }
    assert!(!out.path().join("x.json").exists() && !out.path().join("out.zip").exists());
    // No temporaries left beside either.
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["m.json", "otlp-export", "out.json"]);
}

#[test]
fn an_output_or_manifest_named_like_a_telemetry_file_inside_the_store_was_read_back_by_later_exports() {
    let s = daily_store();
    let before = events_for(s.path(), &[]);
    let out = tempfile::tempdir().unwrap();
    let elsewhere = out.path().join("out.json");
    for (output, manifest) in [
        (s.path().join("telemetry-2030-01-02-yy.jsonl"), None),
        (elsewhere.clone(), Some(s.path().join("telemetry-2030-01-01-mm.jsonl"))),
    ] {
        let mut args = vec!["-o".to_string(), output.display().to_string()];
        if let Some(m) = &manifest {
            args.extend(["--manifest".to_string(), m.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        export(s.path(), &args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("named like a telemetry file"));
        assert!(
            !output.exists() && manifest.as_ref().is_none_or(|m| !m.exists()),
            "{args:?}"
        );
    }
    // The store reads as it did; another name in the store is fine.
    assert_eq!(events_for(s.path(), &[]), before);
    let plain = s.path().join("export.json");
    export(s.path(), &["-o", plain.to_str().unwrap()]).assert().success();
    assert_eq!(events_for(s.path(), &[]), before);
}

#[test]
fn the_port_4317_warning_was_printed_once_per_signal() {
    let s = daily_store();
    let out = bin()
        .args(["send", s.path().to_str().unwrap(), "--now", NOW, "--dry-run", "--quiet"])
        .args(["--endpoint", "http://localhost:4317"])
        .assert()
        .success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert_eq!(err.matches("uses port 4317").count(), 1, "{err}");
    assert!(err.contains("http://localhost:4317 uses port 4317"), "{err}");
    // A malformed boolean is warned about (once), as the OTel spec asks.
    let out = bin()
        .args(["send", s.path().to_str().unwrap(), "--now", NOW, "--dry-run", "--quiet"])
        .args(["--protocol", "grpc", "--endpoint", "localhost:4318"])
        .env("OTEL_EXPORTER_OTLP_INSECURE", "maybe")
        .assert()
        .success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert_eq!(err.matches("OTEL_EXPORTER_OTLP_INSECURE=\"maybe\"").count(), 1, "{err}");
    assert_eq!(err.matches("uses port 4318").count(), 1, "{err}");
}

#[test]
fn an_endpoint_with_a_space_in_its_host_failed_per_request_instead_of_a_usage_error() {
    let s = daily_store();
    for (protocol, endpoint) in [
        ("http/protobuf", "http://u:PASSWX@local host:4318"),
        ("grpc", "http://u:PASSWX@bad^host:4317"),
    ] {
        bin()
            .args(["send", s.path().to_str().unwrap(), "--now", NOW, "--quiet"])
            .args(["--protocol", protocol, "--endpoint", endpoint])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("not a valid URL").and(predicate::str::contains("PASSWX").not()));
    }
}

#[test]
fn the_send_line_says_one_request_and_one_record_in_the_singular() {
    let s = Store::new();
    s.file(
        "telemetry-2026-11-20-one.jsonl",
        &[header("one"), row("one.log", "2026-11-20T10:00:00Z", json!({}))],
    );
    let o = bin()
        .arg("send")
        .arg(s.path())
        .args([
            "--now",
            NOW,
            "--range",
            "all-time",
            "--dry-run",
            "--endpoint",
            "http://localhost:4318",
        ])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(
        stderr.contains(
            "dry run: would send 1 event from 1 file as logs 1 request / 1 record, traces 0 requests / 0 records, \
             metrics 0 requests / 0 records ("
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains(" 1 requests") && !stderr.contains(" 1 records"),
        "{stderr}"
    );
}
