//! Fuzzes one input line through the row parser and every encoder.
//! Invariant: the line is reported as a problem, or is blank, or every
//! record written for it is valid JSON. Run with
//! `cargo fuzz run row` (see fuzz/README.md); not built by CI.
#![no_main]

use coder_telemetry::harness::probe_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line: Vec<u8> = data.iter().map(|&b| if b == b'\n' { b' ' } else { b }).collect();
    for with_header in [true, false] {
        let p = probe_line(&line, with_header);
        if p.problem.is_some() {
            assert!(p.json.is_empty());
            continue;
        }
        if p.json.is_empty() {
            assert!(line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')), "dropped without a problem");
            continue;
        }
        let element = p.json.strip_prefix(b",\n").unwrap_or(&p.json);
        serde_json::from_slice::<serde_json::Value>(element).expect("element is valid JSON");
        for envelope in [&p.logs, &p.traces, &p.metrics] {
            serde_json::from_slice::<serde_json::Value>(envelope).expect("envelope is valid JSON");
        }
    }
});
