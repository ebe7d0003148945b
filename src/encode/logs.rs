//! LogRecord (SPEC §6.4): one per log event, span-attached logs included.

use super::write::{write_nanos, write_str, write_str_lower};
use super::{exception_attr_count, write_exception_attrs, write_measure_attrs, write_prop_attrs, Attrs, Event};
use crate::model::HexId;

/// Appends one LogRecord object with at most `attr_limit` attributes.
pub fn write_log_record(out: &mut Vec<u8>, ev: &Event<'_>, attr_limit: usize) {
    let r = &ev.row;
    let t = ev.time_unix_nano();
    out.extend_from_slice(b"{\"timeUnixNano\":");
    write_nanos(out, t);
    out.extend_from_slice(b",\"observedTimeUnixNano\":");
    write_nanos(out, t);
    if r.error.is_some() {
        out.extend_from_slice(b",\"severityNumber\":17,\"severityText\":\"ERROR\"");
    } else {
        out.extend_from_slice(b",\"severityNumber\":9,\"severityText\":\"INFO\"");
    }
    out.extend_from_slice(b",\"body\":{\"stringValue\":");
    write_str(out, r.event_name);
    out.extend_from_slice(b"},\"attributes\":[");
    let mut attrs = Attrs::new(attr_limit, r.error.as_ref().map_or(0, exception_attr_count));
    write_prop_attrs(out, &mut attrs, r.props());
    write_measure_attrs(out, &mut attrs, r.measures(), None);
    if let Some(e) = &r.error {
        write_exception_attrs(out, &mut attrs.sep, e);
    }
    attrs.close(out);
    // Span-attached logs carry their span's ids; ids OTLP cannot hold are left out.
    if let Some(tid) = r.trace_id.and_then(HexId::<32>::parse) {
        out.extend_from_slice(b",\"traceId\":");
        write_str_lower(out, tid.as_str());
        if let Some(sid) = r.parent_event_id.and_then(HexId::<16>::parse) {
            out.extend_from_slice(b",\"spanId\":");
            write_str_lower(out, sid.as_str());
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::{pretty, text, with_event};

    fn record(line: &str) -> serde_json::Value {
        let s = with_event(line, |ev| {
            text(|o| write_log_record(o, ev, crate::encode::DEFAULT_ATTRIBUTE_LIMIT))
        });
        serde_json::from_str(&s).unwrap()
    }

    #[test]
    fn snapshot_info_and_error_logs() {
        let info = with_event(
            r#"{"event_name":"extension.activated","timestamp":"2026-11-20T10:00:00.000000001Z","properties":{"mode":"remote","n":5},"measurements":{"startupMs":812.25}}"#,
            |ev| text(|o| write_log_record(o, ev, crate::encode::DEFAULT_ATTRIBUTE_LIMIT)),
        );
        let error = with_event(
            r#"{"event_name":"login.failed","timestamp":"2026-11-20T10:00:01Z","error":{"message":"401 Unauthorized","type":"HttpError","code":"401"}}"#,
            |ev| text(|o| write_log_record(o, ev, crate::encode::DEFAULT_ATTRIBUTE_LIMIT)),
        );
        insta::assert_snapshot!(format!("{}\n{}", pretty(&info), pretty(&error)));
    }

    #[test]
    fn severity_is_info_without_error_and_error_with_one() {
        let info = record(r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z"}"#);
        assert_eq!(
            (info["severityNumber"].as_u64(), info["severityText"].as_str()),
            (Some(9), Some("INFO"))
        );
        let err = record(r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","error":{"message":"m"}}"#);
        assert_eq!(
            (err["severityNumber"].as_u64(), err["severityText"].as_str()),
            (Some(17), Some("ERROR"))
        );
    }

    #[test]
    fn body_is_the_event_name_and_times_are_the_timestamp() {
        let r = record(r#"{"event_name":"a.b.c","timestamp":"2026-11-20T10:00:00.5Z"}"#);
        assert_eq!(r["body"]["stringValue"], "a.b.c");
        assert_eq!(r["timeUnixNano"], "1795168800500000000");
        assert_eq!(r["observedTimeUnixNano"], r["timeUnixNano"]);
    }

    #[test]
    fn exception_attributes_only_when_present() {
        let r = record(r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","error":{"message":"m"}}"#);
        let keys: Vec<_> = r["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].clone())
            .collect();
        assert_eq!(keys, vec![serde_json::json!("exception.message")]);
    }

    #[test]
    fn attributes_beyond_the_limit_are_dropped_and_counted_exception_attributes_kept() {
        let props: Vec<String> = (0..10).map(|i| format!(r#""p{i}":"v""#)).collect();
        let line = format!(
            r#"{{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","properties":{{{}}},"measurements":{{"m":1}},"error":{{"message":"m","code":"E"}}}}"#,
            props.join(",")
        );
        let r: serde_json::Value =
            serde_json::from_str(&with_event(&line, |ev| text(|o| write_log_record(o, ev, 5)))).unwrap();
        let keys: Vec<_> = r["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(keys, ["p0", "p1", "p2", "exception.message", "exception.code"]);
        assert_eq!(r["droppedAttributesCount"], 8);
        let plain = record(r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z"}"#);
        assert!(plain.get("droppedAttributesCount").is_none());
    }

    #[test]
    fn span_logs_carry_trace_and_span_ids() {
        let r = record(
            r#"{"event_name":"a.step","timestamp":"2026-11-20T10:00:00Z","trace_id":"0123456789ABCDEF0123456789ABCDEF","parent_event_id":"89ABCDEF01234567"}"#,
        );
        assert_eq!(r["traceId"], "0123456789abcdef0123456789abcdef");
        assert_eq!(r["spanId"], "89abcdef01234567");
        let plain = record(r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z"}"#);
        assert!(plain.get("traceId").is_none() && plain.get("spanId").is_none());
    }
}
