//! Stores with planted faults (SPEC §7.1, §7.2): every planted fault is
//! reported, and every valid event is in the output exactly once.

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::Value;

fn generate(wire: &str, faults: f64, seed: u64) -> (Store, Value) {
    let (faults, seed) = (faults.to_string(), seed.to_string());
    generated_store(
        "3MiB",
        3,
        4,
        &[
            "--rotate", "200KiB", "--wire", wire, "--faults", &faults, "--seed", &seed,
        ],
    )
}

fn summary_of(stdout: &[u8]) -> Value {
    json(stdout)
}

#[test]
fn generated_faults_are_all_reported_and_every_other_event_exported() {
    for (wire, seed) in [("v1", 1), ("v0", 2), ("camel", 3), ("mixed", 4)] {
        let (store, expected) = generate(wire, 0.03, seed);
        assert!(expected["fault_lines"].as_u64().unwrap() > 20, "the store has faults");
        let out = tempfile::tempdir().unwrap();
        for (fmt, name) in [("json", "a.json"), ("otlp", "a.zip")] {
            let o = export(store.path(), &["--format", fmt, "--summary-json", "--quiet", "-o"])
                .arg(out.path().join(name))
                .assert()
                .success();
            let s = summary_of(&o.get_output().stdout);
            assert_eq!(s["events"], expected["events"], "{wire} {fmt}");
            assert_eq!(s["skipped_lines"], expected["fault_lines"], "{wire} {fmt}");
            assert_eq!(s["skipped_files"], 0);
        }
        let exported = json(&std::fs::read(out.path().join("a.json")).unwrap());
        let n = exported.as_array().unwrap().len() as u64;
        assert_eq!(n, expected["events"].as_u64().unwrap());
    }
}

#[test]
fn every_tenth_line_corrupted_loses_no_valid_event() {
    let (store, _) = generate("mixed", 0.0, 11);
    let mut rng = Rng(0x5eed);
    let mut valid_ids: HashMap<String, u32> = HashMap::new();
    let mut corrupted = 0u64;
    for entry in std::fs::read_dir(store.path()).unwrap() {
        let path = entry.unwrap().path();
        if !path.file_name().unwrap().to_str().unwrap().starts_with("telemetry-") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            let is_header = line.contains("\"kind\":\"header\"");
            if i % 10 == 9 && !is_header {
                // Cut the line at a random point and add junk: never valid JSON.
                let cut = (rng.next() as usize) % line.len();
                let mut cut_at = cut;
                while !line.is_char_boundary(cut_at) {
                    cut_at -= 1;
                }
                out.push_str(&line[..cut_at]);
                out.push_str("#\u{1}");
                corrupted += 1;
            } else {
                out.push_str(line);
                if !is_header {
                    // Not serde_json: the store holds lone surrogate escapes, which it refuses.
                    let at = line
                        .find("\"event_id\":\"")
                        .map(|p| p + 12)
                        .or(line.find("\"eventId\":\"").map(|p| p + 11))
                        .unwrap();
                    let id = line[at..at + 16].to_string();
                    *valid_ids.entry(id).or_default() += 1;
                }
            }
            out.push('\n');
        }
        std::fs::write(&path, out).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("all.json");
    let o = export(store.path(), &["--summary-json", "--quiet", "--threads", "2", "-o"])
        .arg(&target)
        .assert()
        .success();
    let s = summary_of(&o.get_output().stdout);
    assert_eq!(s["skipped_lines"].as_u64().unwrap(), corrupted);
    let exported = json(&std::fs::read(&target).unwrap());
    let mut seen: HashMap<String, u32> = HashMap::new();
    for e in exported.as_array().unwrap() {
        *seen.entry(e["event_id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(seen, valid_ids, "every valid event exactly once");
}
