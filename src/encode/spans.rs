//! Span (SPEC §6.5): one per span event.
//!
//! The name is the last `.` segment of the event name, with the full name kept
//! in `coder.event_name`; the end is the timestamp and the start is end minus
//! `durationMs`; status follows the `result` property and the `error` object.

use super::write::{write_nanos, write_str, write_str_lower};
use super::{
    write_attr_scalar, write_attr_str, write_exception_attrs, write_measure_attrs, write_prop_attrs, Attrs, Event, Sep,
};
use crate::model::SpanIds;
use crate::row::{Row, Scalar};

/// OTLP status codes.
pub const STATUS_UNSET: u8 = 0;
pub const STATUS_OK: u8 = 1;
pub const STATUS_ERROR: u8 = 2;

/// The span name: the last `.`-separated segment, or the whole name when that
/// segment is empty.
pub fn span_name(event_name: &str) -> &str {
    match event_name.rsplit_once('.') {
        Some((_, leaf)) if !leaf.is_empty() => leaf,
        _ => event_name,
    }
}

/// Start time: end minus `durationMs` in nanoseconds, rounded to nearest; a
/// missing, negative or non-finite duration counts as 0.
pub fn start_time(end: u64, row: &Row<'_>) -> u64 {
    let ms = row
        .measurement("durationMs")
        .flatten()
        .map(|n| n.as_f64())
        .unwrap_or(0.0);
    if !ms.is_finite() || ms <= 0.0 {
        return end;
    }
    let ns = (ms * 1e6).round();
    if ns >= end as f64 {
        0
    } else {
        end - ns as u64
    }
}

/// The status code of a span event.
pub fn status_code(row: &Row<'_>) -> u8 {
    let result = row.property("result");
    let is = |want: &str| matches!(result, Some(Scalar::Str(s)) if s == want);
    if is("success") {
        STATUS_OK
    } else if is("error") {
        STATUS_ERROR
    } else if is("aborted") {
        STATUS_UNSET
    } else if row.error.is_some() {
        STATUS_ERROR
    } else {
        STATUS_UNSET
    }
}

/// Appends one Span object with its checked `ids` and at most `attr_limit` attributes.
pub fn write_span(out: &mut Vec<u8>, ev: &Event<'_>, ids: SpanIds<'_>, attr_limit: usize) {
    let r = &ev.row;
    let end = ev.time_unix_nano();
    let code = status_code(r);
    out.extend_from_slice(b"{\"traceId\":");
    write_str_lower(out, ids.trace.as_str());
    out.extend_from_slice(b",\"spanId\":");
    write_str_lower(out, ids.span.as_str());
    if let Some(p) = ids.parent {
        out.extend_from_slice(b",\"parentSpanId\":");
        write_str_lower(out, p.as_str());
    }
    out.extend_from_slice(b",\"name\":");
    write_str(out, span_name(r.event_name));
    out.extend_from_slice(b",\"kind\":1,\"startTimeUnixNano\":");
    write_nanos(out, start_time(end, r));
    out.extend_from_slice(b",\"endTimeUnixNano\":");
    write_nanos(out, end);
    out.extend_from_slice(b",\"attributes\":[");
    let props = r.props();
    let add_error_type = code == STATUS_ERROR && !props.contains_key("error.type");
    let mut attrs = Attrs::new(attr_limit, 1 + usize::from(add_error_type));
    write_prop_attrs(out, &mut attrs, props);
    write_measure_attrs(out, &mut attrs, r.measures(), Some("durationMs"));
    write_attr_str(out, &mut attrs.sep, "coder.event_name", r.event_name);
    if add_error_type {
        let e = r.error.unwrap_or_default();
        let value = match (e.kind, e.code) {
            (Some(t), _) => Scalar::Str(t),
            (None, Some(c)) => c,
            (None, None) => Scalar::Str("_OTHER"),
        };
        write_attr_scalar(out, &mut attrs.sep, "error.type", value);
    }
    attrs.close(out);
    if let Some(e) = &r.error {
        out.extend_from_slice(b",\"events\":[{\"timeUnixNano\":");
        write_nanos(out, end);
        out.extend_from_slice(b",\"name\":\"exception\",\"attributes\":[");
        write_exception_attrs(out, &mut Sep::default(), e);
        out.extend_from_slice(b"]}]");
    }
    out.extend_from_slice(b",\"status\":{");
    if code == STATUS_ERROR {
        if let Some(m) = r.error.and_then(|e| e.message) {
            out.extend_from_slice(b"\"message\":");
            write_str(out, m);
            out.push(b',');
        }
    }
    out.extend_from_slice(b"\"code\":");
    out.push(b'0' + code);
    out.extend_from_slice(b"}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::{pretty, text, with_event};
    use serde_json::{json, Value};

    const IDS: &str = r#""trace_id":"0123456789abcdef0123456789abcdef","event_id":"aaaaaaaaaaaaaaaa""#;

    fn span(rest: &str) -> Value {
        let line = format!(r#"{{"event_name":"remote.setup.connect","timestamp":"2026-11-20T10:00:00Z",{IDS}{rest}}}"#);
        let s = with_event(&line, |ev| {
            text(|o| write_span(o, ev, crate::route::span_ids(ev.row).unwrap(), crate::encode::DEFAULT_ATTRIBUTE_LIMIT))
        });
        serde_json::from_str(&s).unwrap()
    }

    fn attr<'v>(span: &'v Value, key: &str) -> Option<&'v Value> {
        span["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| &a["value"])
    }

    #[test]
    fn snapshot_success_and_error_spans() {
        let ok = with_event(
            &format!(
                r#"{{"event_name":"remote.setup.connect","timestamp":"2026-11-20T10:00:00.25Z",{IDS},"parent_event_id":"bbbbbbbbbbbbbbbb","properties":{{"result":"success","phase":"dial"}},"measurements":{{"durationMs":1500.5,"attempts":2}}}}"#
            ),
            |ev| text(|o| write_span(o, ev, crate::route::span_ids(ev.row).unwrap(), crate::encode::DEFAULT_ATTRIBUTE_LIMIT)),
        );
        let err = with_event(
            &format!(
                r#"{{"event_name":"remote.setup","timestamp":"2026-11-20T10:00:05Z",{IDS},"properties":{{"result":"error"}},"measurements":{{"durationMs":10}},"error":{{"message":"connection refused","type":"NetworkError","code":"ECONNREFUSED"}}}}"#
            ),
            |ev| text(|o| write_span(o, ev, crate::route::span_ids(ev.row).unwrap(), crate::encode::DEFAULT_ATTRIBUTE_LIMIT)),
        );
        insta::assert_snapshot!(format!("{}\n{}", pretty(&ok), pretty(&err)));
    }

    #[test]
    fn name_is_the_leaf_and_full_name_is_an_attribute() {
        let s = span(r#","properties":{"result":"success"}"#);
        assert_eq!(s["name"], "connect");
        assert_eq!(
            attr(&s, "coder.event_name").unwrap()["stringValue"],
            "remote.setup.connect"
        );
        assert_eq!(span_name("plain"), "plain");
        assert_eq!(span_name("trailing."), "trailing.");
    }

    #[test]
    fn parent_is_omitted_on_roots() {
        let root = span(r#","properties":{"result":"success"}"#);
        assert!(root.get("parentSpanId").is_none());
        let child = span(r#","parent_event_id":"BBBBBBBBBBBBBBBB","properties":{"result":"success"}"#);
        assert_eq!(child["parentSpanId"], "bbbbbbbbbbbbbbbb");
    }

    #[test]
    fn start_is_end_minus_duration_rounded_to_nearest() {
        let s = span(r#","measurements":{"durationMs":1.0000005}"#);
        let end: u64 = s["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
        let start: u64 = s["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
        assert_eq!(end - start, 1_000_001);
        let s = span(r#","measurements":{"durationMs":0.0000004}"#);
        assert_eq!(s["startTimeUnixNano"], s["endTimeUnixNano"]);
    }

    #[test]
    fn start_equals_end_when_duration_is_absent_negative_or_not_finite() {
        for m in [
            r#","properties":{"result":"success"}"#,
            r#","measurements":{"durationMs":-5}"#,
            r#","measurements":{"durationMs":null}"#,
        ] {
            let s = span(m);
            assert_eq!(s["startTimeUnixNano"], s["endTimeUnixNano"], "{m}");
        }
    }

    #[test]
    fn duration_is_not_an_attribute() {
        let s = span(r#","measurements":{"durationMs":5,"bytes":7}"#);
        assert!(attr(&s, "durationMs").is_none());
        assert_eq!(attr(&s, "bytes").unwrap()["doubleValue"], json!(7));
    }

    #[test]
    fn status_for_each_result() {
        let code = |rest: &str| span(rest)["status"].clone();
        assert_eq!(code(r#","properties":{"result":"success"}"#), json!({"code":1}));
        assert_eq!(code(r#","properties":{"result":"error"}"#), json!({"code":2}));
        assert_eq!(
            code(r#","properties":{"result":"error"},"error":{"message":"bad"}"#),
            json!({"code":2,"message":"bad"})
        );
        assert_eq!(code(r#","properties":{"result":"aborted"}"#), json!({"code":0}));
        assert_eq!(
            code(r#","measurements":{"durationMs":1},"error":{"message":"no result"}"#),
            json!({"code":2,"message":"no result"})
        );
        assert_eq!(code(r#","measurements":{"durationMs":1}"#), json!({"code":0}));
        // Success wins over an attached error; the exception event is still added.
        let s = span(r#","properties":{"result":"success"},"error":{"message":"m"}"#);
        assert_eq!(s["status"], json!({"code":1}));
        assert_eq!(s["events"][0]["name"], "exception");
    }

    #[test]
    fn error_adds_an_exception_event() {
        let s = span(r#","properties":{"result":"error"},"error":{"message":"m","type":"T","code":"C"}"#);
        let events = s["events"].as_array().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["timeUnixNano"], s["endTimeUnixNano"]);
        let keys: Vec<_> = events[0]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["exception.message", "exception.type", "exception.code"]);
        assert!(span(r#","properties":{"result":"success"}"#).get("events").is_none());
    }

    #[test]
    fn error_type_is_backfilled_from_type_then_code_then_other() {
        let t = |rest: &str| attr(&span(rest), "error.type").map(|v| v["stringValue"].clone());
        assert_eq!(
            t(r#","properties":{"result":"error"},"error":{"type":"T","code":"C"}"#),
            Some(json!("T"))
        );
        assert_eq!(
            t(r#","properties":{"result":"error"},"error":{"code":503}"#),
            Some(json!("503"))
        );
        assert_eq!(t(r#","properties":{"result":"error"}"#), Some(json!("_OTHER")));
        assert_eq!(
            t(r#","properties":{"result":"error","error.type":"mine"}"#),
            Some(json!("mine"))
        );
        assert_eq!(t(r#","properties":{"result":"success"}"#), None);
    }
}
