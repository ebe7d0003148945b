//! Which envelope an event goes to (SPEC §4).
//!
//! The metric-eligible list decides metrics, not anything the event says about
//! itself; among the rest, a traced event with a `result` property or a
//! `durationMs` measurement is a span, and everything else (span-attached logs
//! included) is a log.

use crate::model::{HexId, Signal, SpanIds};
use crate::row::{Row, RowError};

/// The default metric-eligible event names (§4.1).
pub const DEFAULT_METRIC_EVENTS: [&str; 3] = ["http.requests", "ssh.network.info", "ssh.network.sampled"];

/// The metric-eligible list: the defaults plus `--metric-event` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricEvents {
    names: Vec<String>,
}

impl Default for MetricEvents {
    fn default() -> Self {
        Self::with_extra(std::iter::empty::<String>())
    }
}

impl MetricEvents {
    pub fn with_extra<S: Into<String>>(extra: impl IntoIterator<Item = S>) -> Self {
        let mut names: Vec<String> = DEFAULT_METRIC_EVENTS.iter().map(|s| s.to_string()).collect();
        for n in extra {
            let n = n.into();
            if !names.contains(&n) {
                names.push(n);
            }
        }
        Self { names }
    }

    pub fn contains(&self, event_name: &str) -> bool {
        self.names.iter().any(|n| n == event_name)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// Routes a row (§4.1-4.3).
pub fn route(row: &Row<'_>, metrics: &MetricEvents) -> Signal {
    if metrics.contains(row.event_name) {
        Signal::Metric
    } else if row.trace_id.is_some() && (row.property("result").is_some() || row.measurement("durationMs").is_some()) {
        Signal::Span
    } else {
        Signal::Log
    }
}

/// A span needs valid ids to be exported (§7.1 "invalid ids on a span"):
/// the checked ids, or why the span is a bad line.
pub fn span_ids<'t>(row: &Row<'t>) -> Result<SpanIds<'t>, RowError> {
    let bad = |field: &'static str, value: Option<&str>, digits: usize| RowError::BadSpanId {
        field,
        value: value.unwrap_or("").to_string(),
        digits,
    };
    let trace = row
        .trace_id
        .and_then(HexId::parse)
        .ok_or_else(|| bad("trace_id", row.trace_id, 32))?;
    let span = row
        .event_id
        .and_then(HexId::parse)
        .ok_or_else(|| bad("event_id", row.event_id, 16))?;
    let parent = match row.parent_event_id {
        None => None,
        Some(p) => Some(HexId::parse(p).ok_or_else(|| bad("parent_event_id", Some(p), 16))?),
    };
    Ok(SpanIds { trace, span, parent })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::tests::with_line;
    use crate::row::Line;

    fn routed(text: &str, metrics: &MetricEvents) -> Result<Signal, RowError> {
        with_line(text, |l| match l {
            Ok(Line::Event(r)) => {
                let s = route(&r, metrics);
                if s == Signal::Span {
                    span_ids(&r)?;
                }
                Ok(s)
            }
            other => panic!("{other:?}"),
        })
    }

    const T: &str = r#""trace_id":"0123456789abcdef0123456789abcdef","event_id":"0123456789abcdef""#;

    #[test]
    fn metric_list_decides_metrics() {
        let m = MetricEvents::default();
        let row = format!(
            r#"{{"event_name":"http.requests","timestamp":"2026-11-20T10:00:00Z",{T},"properties":{{"result":"success"}}}}"#
        );
        assert_eq!(routed(&row, &m), Ok(Signal::Metric));
        let row = r#"{"event_name":"my.metric","timestamp":"2026-11-20T10:00:00Z"}"#;
        assert_eq!(routed(row, &m), Ok(Signal::Log));
        assert_eq!(
            routed(row, &MetricEvents::with_extra(["my.metric"])),
            Ok(Signal::Metric)
        );
    }

    #[test]
    fn traced_events_with_result_or_duration_are_spans() {
        let m = MetricEvents::default();
        let with_result = format!(
            r#"{{"event_name":"a.b","timestamp":"2026-11-20T10:00:00Z",{T},"properties":{{"result":"success"}}}}"#
        );
        let with_duration = format!(
            r#"{{"event_name":"a.b","timestamp":"2026-11-20T10:00:00Z",{T},"measurements":{{"durationMs":5}}}}"#
        );
        assert_eq!(routed(&with_result, &m), Ok(Signal::Span));
        assert_eq!(routed(&with_duration, &m), Ok(Signal::Span));
    }

    #[test]
    fn span_attached_and_untraced_events_are_logs() {
        let m = MetricEvents::default();
        let attached =
            format!(r#"{{"event_name":"a.b","timestamp":"2026-11-20T10:00:00Z",{T},"properties":{{"step":"x"}}}}"#);
        let untraced = r#"{"event_name":"a.b","timestamp":"2026-11-20T10:00:00Z","properties":{"result":"success"},"measurements":{"durationMs":5}}"#;
        assert_eq!(routed(&attached, &m), Ok(Signal::Log));
        assert_eq!(routed(untraced, &m), Ok(Signal::Log));
    }

    #[test]
    fn spans_need_valid_ids() {
        let m = MetricEvents::default();
        let bad_trace = r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","trace_id":"xyz","event_id":"0123456789abcdef","properties":{"result":"success"}}"#;
        let err = routed(bad_trace, &m).unwrap_err().to_string();
        assert_eq!(
            err,
            "span has an invalid trace_id \"xyz\" (expected 32 hex digits, not all zero)"
        );
        let no_event_id = r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","trace_id":"0123456789abcdef0123456789abcdef","properties":{"result":"success"}}"#;
        assert!(routed(no_event_id, &m).unwrap_err().to_string().contains("event_id"));
        let bad_parent = format!(
            r#"{{"event_name":"a","timestamp":"2026-11-20T10:00:00Z",{T},"parent_event_id":"12","properties":{{"result":"success"}}}}"#
        );
        assert!(routed(&bad_parent, &m)
            .unwrap_err()
            .to_string()
            .contains("parent_event_id"));
    }
}
