//! The fuzz invariant, as property tests that run in CI: any input line
//! yields either a reported problem or records that are valid JSON (and
//! valid OTLP), never a panic.

mod common;

use coder_telemetry::harness::{probe_line, Probe};
use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};

fn check(line: &[u8]) -> Result<Probe, TestCaseError> {
    for with_header in [true, false] {
        let p = probe_line(line, with_header);
        if p.problem.is_some() {
            prop_assert!(p.json.is_empty());
            continue;
        }
        if p.json.is_empty() {
            // Nothing exported and nothing reported: only a blank line may do that.
            prop_assert!(
                line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')),
                "silently dropped: {:?}",
                String::from_utf8_lossy(line)
            );
            return Ok(p);
        }
        let element = p.json.strip_prefix(b",\n").unwrap_or(&p.json);
        let v: Value =
            serde_json::from_slice(element).map_err(|e| TestCaseError::fail(format!("element is not JSON: {e}")))?;
        prop_assert!(v.is_object());
        decode_logs(std::slice::from_ref(&p.logs));
        decode_traces(std::slice::from_ref(&p.traces));
        decode_metrics(std::slice::from_ref(&p.metrics));
        if !with_header {
            return Ok(p);
        }
    }
    Ok(probe_line(line, true))
}

/// Strings that stress escaping: controls, quotes, backslashes, non-ASCII,
/// and raw `\u` escapes including lone surrogates (written into JSON text as is).
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z.]{0,12}",
        "\\PC{0,20}",
        prop::collection::vec(
            prop_oneof![
                Just("\\ud800"),
                Just("\\udfff"),
                Just("\\ud83d\\ude00"),
                Just("\\\\"),
                Just("\\\""),
                Just("\\n"),
                Just("x"),
                Just("\\u0000")
            ],
            0..6
        )
        .prop_map(|v| v.concat()),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        Just("123456789012345678901234567890".to_string()),
        Just("-0".to_string()),
        Just("1e999".to_string()),
        Just("null".to_string()),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        nasty_string().prop_map(|s| format!("\"{s}\"")),
        number(),
        Just("true".to_string()),
        Just("{\"a\":[1,{\"b\":null}]}".to_string()),
        Just("[]".to_string()),
    ]
}

/// A row in text form, with random field values (the keys are real ones).
fn row_text() -> impl Strategy<Value = String> {
    let ts = prop_oneof![
        Just("\"2026-11-20T10:00:00.123456789Z\"".to_string()),
        Just("\"2026-11-20T10:00:00+05:30\"".to_string()),
        value()
    ];
    let id = prop_oneof![Just("\"0123456789abcdef\"".to_string()), value()];
    let trace = prop_oneof![Just("\"0123456789abcdef0123456789ABCDEF\"".to_string()), value()];
    (
        nasty_string(),
        ts,
        id,
        trace,
        prop::collection::vec((nasty_string(), value()), 0..4),
        prop::collection::vec((prop_oneof![Just("durationMs".to_string()), Just("count_x".to_string()), Just("window_seconds".to_string()), nasty_string()], number()), 0..4),
        prop::sample::select(vec!["", "http.requests", "ssh.network.sampled"]),
        any::<bool>(),
    )
        .prop_map(|(name, ts, id, trace, props, meas, metric, camel)| {
            let name = if metric.is_empty() { name } else { metric.to_string() };
            let p: Vec<String> = props.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let m: Vec<String> = meas.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let (en, ei, ti) = if camel { ("eventName", "eventId", "traceId") } else { ("event_name", "event_id", "trace_id") };
            format!(
                "{{\"{ei}\":{id},\"{en}\":\"{name}\",\"timestamp\":{ts},\"{ti}\":{trace},\"properties\":{{{}}},\"measurements\":{{{}}},\"error\":{{\"message\":\"m\",\"code\":7}}}}",
                p.join(","),
                m.join(",")
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_crash(bytes in prop::collection::vec(any::<u8>().prop_map(|b| if b == b'\n' { b' ' } else { b }), 0..200)) {
        check(&bytes)?;
    }

    #[test]
    fn random_rows_give_a_problem_or_valid_records(text in row_text()) {
        check(text.as_bytes())?;
    }

    #[test]
    fn mutated_valid_rows_give_a_problem_or_valid_records(cut in 0usize..400, insert in any::<u8>(), at in 0usize..400) {
        let base = row("remote.setup", "2026-11-20T10:00:00Z", json!({
            "trace_id": "0123456789abcdef0123456789abcdef",
            "properties": {"result": "error", "text": "é\"\\\n"},
            "measurements": {"durationMs": 12.5},
            "error": {"message": "boom", "type": "E"}
        }));
        let mut b = base.into_bytes();
        let cut = cut % b.len();
        b.truncate(b.len() - cut.min(b.len() - 1));
        if insert != b'\n' {
            let at = at % (b.len() + 1);
            b.insert(at, insert);
        }
        check(&b)?;
    }
}

#[test]
fn fuzz_crash_backslash_at_end_of_line_after_surrogate_escape() {
    let crash = b"}\x005\x06\xca\xca\xca\x9a\xca\xcb\\\x00\x00\x00\x00\x00\x00\\uD\xff\xff\xff\xff\xff\xff\xff\xff\\\\\\\\\\\\uD\xff\xff\xff\xff\xff\xff\xff\xff\\555E36\\";
    let p = check(crash).unwrap();
    assert!(p.problem.is_some());
}

#[test]
fn a_valid_row_passes_through_every_encoder() {
    let p = check(row("a.b", "2026-11-20T10:00:00Z", json!({})).as_bytes()).unwrap();
    assert!(p.problem.is_none());
    assert!(!p.json.is_empty() && p.logs.starts_with(b"{\"resourceLogs\":[{"));
}
