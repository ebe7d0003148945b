//! The command as people use it (SPEC §6.2, §6.7, §8.3, §8.7, §8.8): the
//! format from the output's name, the default `auto` layout, why an empty
//! export is empty, completions that complete, help and conventions, the
//! OpenTelemetry environment, the manifest, request sizes.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

/// One session a day from the 20th to the 22nd of November 2026.
fn small_store() -> Store {
    let s = Store::new();
    for day in 20..=22 {
        s.file(
            &format!("telemetry-2026-11-{day}-s{day}.jsonl"),
            &[
                header(&format!("s{day}")),
                row("a.log", &format!("2026-11-{day}T10:00:00Z"), json!({})),
                row(
                    "http.requests",
                    &format!("2026-11-{day}T10:01:00Z"),
                    json!({"properties": {"route": "/a"}, "measurements": {"window_seconds": 60, "count.2xx": 3}}),
                ),
            ],
        );
    }
    s
}

fn stderr_of(o: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&o.get_output().stderr).into_owned()
}

// 1. The format follows -o.

#[test]
fn format_follows_the_output_name() {
    let s = small_store();
    let out = tempfile::tempdir().unwrap();
    let p = |n: &str| out.path().join(n);
    export(s.path(), &["-o"]).arg(p("a.json")).assert().success();
    assert!(json(&std::fs::read(p("a.json")).unwrap()).is_array());
    export(s.path(), &["-o"]).arg(p("b.zip")).assert().success();
    assert!(
        read_output(&p("b.zip")).contains_key("manifest.json"),
        "a .zip is an OTLP zip"
    );
    export(s.path(), &["-o", &format!("{}/", p("c").display())])
        .assert()
        .success();
    assert!(p("c").join("logs.json").is_file(), "a trailing / is an OTLP folder");
    // An earlier export folder stays OTLP when exported to again.
    export(s.path(), &["--force", "-o"]).arg(p("c")).assert().success();
    assert!(p("c").join("manifest.json").is_file());
    // Nothing to infer from, no terminal: JSON.
    export(s.path(), &["-o"]).arg(p("plain")).assert().success();
    assert!(json(&std::fs::read(p("plain")).unwrap()).is_array());
}

#[test]
fn a_format_the_name_contradicts_is_a_usage_error_naming_both() {
    let s = small_store();
    let out = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            vec!["--format", "json", "-o", "x.zip"],
            "--format json contradicts -o x.zip",
        ),
        (
            vec!["--format", "json", "-o", "dir/"],
            "--format json contradicts -o dir/",
        ),
        (
            vec!["--format", "otlp", "-o", "x.json"],
            "--format otlp contradicts -o x.json",
        ),
        (vec!["--format", "otlp", "-o", "-"], "--format otlp contradicts -o -"),
        (vec!["--format", "otlp", "-o", "out.tar.gz"], "not a .gz archive"),
        (vec!["-o", "out.json.gz"], "not a .gz archive"),
    ] {
        let o = export(s.path(), &args).current_dir(out.path()).assert().code(2);
        let e = stderr_of(&o);
        assert!(e.starts_with("error: ") && e.contains(says), "{args:?}: {e}");
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

// 2. The auto layout: POSTable at any size.

#[test]
fn auto_layout_splits_a_signal_larger_than_the_request_cap_and_keeps_small_ones_whole() {
    // About 60,000 http.requests rows: metrics far over 16 MiB, logs small.
    let s = Store::new();
    let mut lines = vec![header("s1")];
    for i in 0..60_000u32 {
        lines.push(row(
            "http.requests",
            &format!("2026-11-20T{:02}:{:02}:{:02}Z", i / 3600 % 24, i / 60 % 60, i % 60),
            json!({"properties": {"method": "GET", "route": format!("/api/v2/workspaces/{}", i % 50)},
                   "measurements": {"window_seconds": 60, "count.2xx": i % 7 + 1, "duration.p50_ms": 12.5,
                                    "duration.p95_ms": 40.25, "duration.p99_ms": 80.5}}),
        ));
    }
    lines.push(row("a.log", "2026-11-20T23:00:00Z", json!({})));
    s.file("telemetry-2026-11-20-s1.jsonl", &lines);
    let out = tempfile::tempdir().unwrap();
    let (auto, single) = (out.path().join("auto"), out.path().join("single"));
    export(s.path(), &["-o"])
        .arg(format!("{}/", auto.display()))
        .assert()
        .success();
    export(s.path(), &["--layout", "single", "--format", "otlp", "-o"])
        .arg(&single)
        .assert()
        .success();
    let (a, b) = (read_output(&auto), read_output(&single));
    assert!(
        b["metrics.json"].len() > 16 << 20,
        "metrics exceed 16 MiB: {}",
        b["metrics.json"].len()
    );
    let names: Vec<&String> = a.keys().collect();
    assert!(
        a.contains_key("logs.json") && a.contains_key("traces.json"),
        "{names:?}"
    );
    assert!(
        !a.contains_key("metrics.json") && a.contains_key("metrics.0002.json"),
        "{names:?}"
    );
    for (name, bytes) in &a {
        assert!(bytes.len() <= 16 << 20, "{name} is {} bytes", bytes.len());
    }
    assert_eq!(a["logs.json"], b["logs.json"]);
    // The parts together hold the single file's points.
    let count = |bodies: Vec<Vec<u8>>| -> usize {
        decode_metrics(&bodies)
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| match m.data.as_ref().unwrap() {
                opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(g) => g.data_points.len(),
                opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(s) => s.data_points.len(),
                _ => 0,
            })
            .sum()
    };
    assert_eq!(count(requests(&a, "metrics")), count(requests(&b, "metrics")));
    assert_eq!(count(requests(&a, "metrics")), 60_000 * 4);
    let manifest = json(&a["manifest.json"]);
    assert_eq!(manifest["layout"], "auto");
}

// 3. An empty export says why.

#[test]
fn an_empty_export_says_why() {
    let s = small_store();
    let parent = tempfile::tempdir().unwrap();
    let store = parent.path().join("telemetry");
    std::fs::create_dir(&store).unwrap();
    for e in std::fs::read_dir(s.path()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), store.join(e.file_name())).unwrap();
    }
    let empty = Store::new();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("x.json");
    let says = |store: &Path, args: &[&str]| -> String {
        let o = export(store, args).arg("-o").arg(&target).assert().success();
        assert!(!target.exists());
        stderr_of(&o)
    };
    let e = says(parent.path(), &[]);
    assert!(
        e.contains("holds no telemetry files")
            && e.contains(&format!("its subfolder {} looks like the store", store.display())),
        "{e}"
    );
    let e = says(empty.path(), &["--quiet"]);
    assert!(
        e.contains(&format!("{} holds no telemetry files", empty.path().display())),
        "{e}"
    );
    let e = says(&store, &["--from", "2020-01-01", "--to", "2020-01-02"]);
    assert!(
        e.contains("no event falls in 2020-01-01T00:00:00Z to 2020-01-03T00:00:00Z (UTC)"),
        "{e}"
    );
    assert!(
        e.contains("holds 3 telemetry files, dated 2026-11-20 to 2026-11-22"),
        "{e}"
    );
    // Two days after the newest file.
    let o = bin()
        .arg("export")
        .arg(&store)
        .args(["--range", "last-24-hours", "--now", "2026-11-24T12:00:00Z", "-o"])
        .arg(&target)
        .assert()
        .success();
    let e = stderr_of(&o);
    assert!(
        e.contains("no event falls in 2026-11-23T12:00:00Z to 2026-11-24T12:00:00Z (UTC)"),
        "{e}"
    );
    // With --force, an existing target is left as it was, and the message says so.
    std::fs::write(&target, "mine").unwrap();
    let o = export(&store, &["--from", "2020-01-01", "--to", "2020-01-02", "--force", "-o"])
        .arg(&target)
        .assert()
        .success();
    assert!(stderr_of(&o).contains("was left as it was"), "{}", stderr_of(&o));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "mine");
    // To stdout: an empty array, and the reason on stderr.
    let o = export(&store, &["--from", "2020-01-01", "--to", "2020-01-02", "-o", "-"])
        .assert()
        .success();
    assert_eq!(o.get_output().stdout, b"[]\n");
    assert!(
        stderr_of(&o).contains("wrote an empty array to stdout"),
        "{}",
        stderr_of(&o)
    );
}

// 5. Completions that complete.

/// What bash offers for `line` (the words typed so far, the last one being completed).
fn bash_completions(script: &Path, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let cword = words.len() - 1;
    let program = format!(
        r#"source {script}
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE={line:?}
COMP_POINT=${{#COMP_LINE}}
_coder__telemetry coder-telemetry "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script = script.display(),
        words = words.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(" "),
    );
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(program)
        .output()
        .expect("bash");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_completions_offer_flags_and_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("coder-telemetry.bash");
    let o = bin().args(["completions", "bash"]).assert().success();
    std::fs::write(&script, &o.get_output().stdout).unwrap();
    let flags = bash_completions(&script, "coder-telemetry export --");
    for f in [
        "--range",
        "--from",
        "--format",
        "--output",
        "--layout",
        "--late-days",
        "--threads",
        "--shard",
    ] {
        assert!(flags.iter().any(|x| x == f), "{f} in {flags:?}");
    }
    assert_eq!(
        bash_completions(&script, "coder-telemetry export --range "),
        ["last-24-hours", "last-7-days", "last-30-days", "all-time"]
    );
    assert_eq!(
        bash_completions(&script, "coder-telemetry export --format "),
        ["json", "jsonl", "otlp"]
    );
    assert_eq!(
        bash_completions(&script, "coder-telemetry export --layout s"),
        ["single", "split"]
    );
    assert_eq!(
        bash_completions(&script, "coder-telemetry export --temporality "),
        ["delta", "cumulative"]
    );
    assert!(bash_completions(&script, "coder-telemetry ").contains(&"export".to_string()));
    for shell in ["zsh", "fish"] {
        let o = bin().args(["completions", shell]).assert().success();
        let text = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
        assert!(text.contains("last-7-days") && text.contains("late-days"), "{shell}");
    }
}

// 6. Help and conventions.

#[test]
fn help_shows_examples_exit_codes_and_environment() {
    let o = bin().args(["export", "--help"]).assert().success();
    let h = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    for want in [
        "Usage: coder-telemetry export [OPTIONS] [STORE]...",
        "Examples:",
        "-o week.json",
        "Exit codes:",
        "130",
        "Environment:",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_SERVICE_NAME",
        "-j, --threads <N>",
    ] {
        assert!(h.contains(want), "{want}\n{h}");
    }
    let o = bin().args(["export", "--version"]).assert().success();
    assert_eq!(
        String::from_utf8_lossy(&o.get_output().stdout).trim(),
        format!("coder-telemetry {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_error_has_one_prefix_and_says_what_is_accepted() {
    let s = small_store();
    for (args, says) in [
        (
            vec!["--now", "2026-11-24"],
            "expected a date and time with its UTC offset (RFC 3339)",
        ),
        (vec!["--range", "last-2-days"], "last-24-hours"),
        (vec!["--shard", "4/3"], "K/N with 1 <= K <= N"),
        (vec!["--max-request-bytes", "16M"], "MB"),
        (vec!["--bogus"], "--bogus"),
    ] {
        let o = export(s.path(), &args).assert().code(2);
        let e = stderr_of(&o);
        assert!(e.starts_with("error: ") && e.contains(says), "{args:?}: {e}");
        assert!(!e.contains("coder-telemetry: error"), "{e}");
    }
    // A failed export too, without temporary names.
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("x.json"), "").unwrap();
    let o = export(s.path(), &["-o"])
        .arg(out.path().join("x.json"))
        .assert()
        .code(1);
    let e = stderr_of(&o);
    assert!(e.starts_with("error: ") && !e.contains(".coder-telemetry-"), "{e}");
}

#[test]
fn strict_prints_its_problem_once() {
    let s = small_store();
    s.raw("telemetry-2026-11-20-bad.jsonl", b"{broken\n");
    let o = export(s.path(), &["--strict", "-o", "-"]).assert().code(1);
    let e = stderr_of(&o);
    assert_eq!(e.matches("telemetry-2026-11-20-bad.jsonl:1").count(), 1, "{e}");
}

#[test]
fn summary_uses_thousands_separators_and_says_what_was_written_alone() {
    let s = Store::new();
    let mut lines = vec![header("s1")];
    for i in 0..1500 {
        lines.push(row(
            "a.log",
            &format!("2026-11-20T10:{:02}:{:02}Z", i / 60 % 60, i % 60),
            json!({}),
        ));
    }
    lines.push(row(
        "big.log",
        "2026-11-20T11:00:00Z",
        json!({"properties": {"blob": "x".repeat(5000)}}),
    ));
    s.file("telemetry-2026-11-20-s1.jsonl", &lines);
    let out = tempfile::tempdir().unwrap();
    let o = export(s.path(), &["--layout", "split", "--max-request-bytes", "4KiB", "-o"])
        .arg(out.path().join("o/"))
        .assert()
        .success();
    let e = stderr_of(&o);
    assert!(e.contains("exported 1,501 events (1,501 logs"), "{e}");
    assert!(
        e.contains("1 records larger than --max-request-bytes were written alone"),
        "{e}"
    );
}

#[test]
fn request_caps_over_the_collectors_limit_warn() {
    let s = small_store();
    let out = tempfile::tempdir().unwrap();
    let o = export(s.path(), &["--max-request-bytes", "32MiB", "-o"])
        .arg(out.path().join("o.zip"))
        .assert()
        .success();
    assert!(
        stderr_of(&o).contains("warning: --max-request-bytes 32MiB: the OpenTelemetry Collector"),
        "{}",
        stderr_of(&o)
    );
    // 20 MB is under 20 MiB: no warning.
    let o = export(s.path(), &["--max-request-bytes", "20MB", "-o"])
        .arg(out.path().join("p.zip"))
        .assert()
        .success();
    assert!(!stderr_of(&o).contains("warning"), "{}", stderr_of(&o));
    assert_eq!(
        json(&read_output(&out.path().join("p.zip"))["manifest.json"])["options"]["maxRequestBytes"],
        20_000_000
    );
}

#[test]
fn several_default_stores_name_the_others() {
    let home = tempfile::tempdir().unwrap();
    let tail = "User/globalStorage/coder.coder-remote/telemetry";
    for product in ["Code", "Cursor"] {
        let d = home.path().join(".config").join(product).join(tail);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("telemetry-2026-11-20-s1.jsonl"),
            [header("s1"), row("a.log", "2026-11-20T10:00:00Z", json!({}))].join("\n") + "\n",
        )
        .unwrap();
    }
    let o = bin()
        .env_clear()
        .env("HOME", home.path())
        .args(["export", "--now", NOW, "-o", "-"])
        .assert()
        .success();
    let e = stderr_of(&o);
    assert!(e.contains("using the store of Code"), "{e}");
    assert!(
        e.contains("other stores found, not exported") && e.contains("(Cursor)"),
        "{e}"
    );
}

// 7. The environment, as the OpenTelemetry SDKs read it.

fn resource_of(entries: &std::collections::BTreeMap<String, Vec<u8>>) -> Value {
    json(&entries["logs.json"])["resourceLogs"][0]["resource"]["attributes"].clone()
}

#[test]
fn otel_environment_is_read_as_the_sdks_read_it() {
    let s = small_store();
    let out = tempfile::tempdir().unwrap();
    // A malformed OTEL_RESOURCE_ATTRIBUTES is a warning; the run goes on, for JSON too.
    for target in ["bad.json", "bad.zip"] {
        let o = export(s.path(), &["-o"])
            .arg(out.path().join(target))
            .env("OTEL_RESOURCE_ATTRIBUTES", "team=a,broken")
            .assert()
            .success();
        assert!(
            stderr_of(&o).contains("warning: ignoring OTEL_RESOURCE_ATTRIBUTES"),
            "{}",
            stderr_of(&o)
        );
    }
    let attrs = resource_of(&read_output(&out.path().join("bad.zip")));
    assert!(
        attr(&attrs, "team").is_none(),
        "the malformed variable is ignored as a whole"
    );
    // OTEL_SERVICE_NAME replaces service.name, over OTEL_RESOURCE_ATTRIBUTES; flags win over both.
    export(s.path(), &["-o"])
        .arg(out.path().join("named.zip"))
        .env("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,team=a")
        .env("OTEL_SERVICE_NAME", "laptops")
        .assert()
        .success();
    let attrs = resource_of(&read_output(&out.path().join("named.zip")));
    assert_eq!(attr(&attrs, "service.name").unwrap()["stringValue"], "laptops");
    assert_eq!(attr(&attrs, "team").unwrap()["stringValue"], "a");
    export(s.path(), &["--resource-attr", "service.name=flag", "-o"])
        .arg(out.path().join("flag.zip"))
        .env("OTEL_SERVICE_NAME", "laptops")
        .assert()
        .success();
    let attrs = resource_of(&read_output(&out.path().join("flag.zip")));
    assert_eq!(attr(&attrs, "service.name").unwrap()["stringValue"], "flag");
    assert_eq!(
        attrs
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["key"] == "service.name")
            .count(),
        1
    );
}

// 8. A manifest a reviewer can audit.

#[test]
fn manifest_lists_sources_problems_options_and_checksums_that_match_the_files() {
    use sha2::Digest;
    let s = small_store();
    s.raw("telemetry-2026-11-21-bad.jsonl", b"{broken\n");
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("m.zip");
    let o = export(
        s.path(),
        &[
            "--summary-json",
            "--temporality",
            "cumulative",
            "--resource-attr",
            "env=prod",
            "-o",
        ],
    )
    .arg(&target)
    .assert()
    .success();
    let sum = json(&o.get_output().stdout);
    assert_eq!(sum["store"], json!([s.path().display().to_string()]));
    assert_eq!(sum["range"]["label"], "All time");
    let e = read_output(&target);
    let m = json(&e["manifest.json"]);
    assert_eq!(m["stores"], json!([s.path().display().to_string()]));
    let sources = m["sourceFiles"].as_array().unwrap();
    assert_eq!(sources.len(), 4);
    assert_eq!(sources[0]["name"], "telemetry-2026-11-20-s20.jsonl");
    assert_eq!(
        sources[0]["bytes"],
        std::fs::metadata(s.path().join("telemetry-2026-11-20-s20.jsonl"))
            .unwrap()
            .len()
    );
    assert_eq!(sources[0]["firstEvent"], "2026-11-20T10:00:00Z");
    assert_eq!(sources[0]["lastEvent"], "2026-11-20T10:01:00Z");
    assert_eq!(
        (&m["firstEvent"], &m["lastEvent"]),
        (&json!("2026-11-20T10:00:00Z"), &json!("2026-11-22T10:01:00Z"))
    );
    assert_eq!(
        m["skipped"]["problems"][0]["file"],
        s.path().join("telemetry-2026-11-21-bad.jsonl").display().to_string()
    );
    assert_eq!(m["skipped"]["problems"][0]["line"], 1);
    assert_eq!(m["options"]["temporality"], "cumulative");
    assert_eq!(
        m["options"]["resourceAttributes"],
        json!([{"key": "env", "value": "prod"}])
    );
    assert_eq!(m["options"]["lateDays"], 1);
    for f in m["files"].as_array().unwrap() {
        let bytes = &e[f["name"].as_str().unwrap()];
        assert_eq!(f["bytes"], bytes.len());
        let hex: String = sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(f["sha256"], hex, "{}", f["name"]);
    }
    let records: Vec<u64> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["records"].as_u64().unwrap())
        .collect();
    assert_eq!(records, [3, 0, 3], "3 logs, no spans, 3 points");
}

#[test]
fn manifest_lists_the_first_100_problems() {
    let s = small_store();
    let bad: Vec<String> = (0..150).map(|_| "{broken".to_string()).collect();
    s.file("telemetry-2026-11-20-bad.jsonl", &bad);
    let out = tempfile::tempdir().unwrap();
    export(s.path(), &["-o"]).arg(out.path().join("m/")).assert().success();
    let m = json(&std::fs::read(out.path().join("m/manifest.json")).unwrap());
    assert_eq!(m["skipped"]["lines"], 150);
    assert_eq!(m["skipped"]["problems"].as_array().unwrap().len(), 100);
    assert_eq!(m["skipped"]["problems"][99]["line"], 100);
}

// The documentation's examples run as written.

/// The command lines of the ```sh blocks of the section of `file` (relative
/// to the crate) under `heading`, up to the next `## ` heading; continuation
/// lines joined, comments and blank lines left out.
fn doc_commands(file: &str, heading: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let section = text
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("{file}: a {heading:?} section"))
        .split("\n## ")
        .next()
        .unwrap();
    section
        .split("```sh")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .flat_map(|b| b.replace("\\\n", " ").lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect()
}

#[test]
fn readme_and_doc_examples_run_as_written_against_the_sample_store() {
    let mut commands = doc_commands("docs/usage.md", "## Examples");
    assert!(commands.len() >= 8, "{commands:?}");
    // The README's export recipes; its `send` recipes run in tests/send.rs.
    let recipes: Vec<String> = doc_commands("README.md", "## Recipes")
        .into_iter()
        .filter(|c| !c.contains("coder-telemetry send"))
        .collect();
    assert!(recipes.len() >= 4, "{recipes:?}");
    commands.extend(recipes);
    // HOME holds the sample store as the default store and as ~/store.
    let home = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let default = home
        .path()
        .join(".config/Code/User/globalStorage/coder.coder-remote/telemetry");
    for dir in [&default, &home.path().join("store")] {
        std::fs::create_dir_all(dir).unwrap();
        for e in std::fs::read_dir(&sample).unwrap() {
            let e = e.unwrap();
            // The sample's files; not real-store/, another store in the folder.
            if e.file_type().unwrap().is_dir() {
                continue;
            }
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    let bin_dir = assert_cmd::cargo::cargo_bin("coder-telemetry")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    for c in &commands {
        let o = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("set -eo pipefail; {c}"))
            .current_dir(home.path())
            .env("HOME", home.path())
            .env("PATH", &path)
            .env_remove("OTEL_RESOURCE_ATTRIBUTES")
            .output()
            .unwrap();
        assert!(o.status.success(), "{c}\n{}", String::from_utf8_lossy(&o.stderr));
    }
}
