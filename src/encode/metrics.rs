//! Metric data points (SPEC §6.6).
//!
//! Each measurement of a metric event is one point: `count_`/`count.` keys are
//! monotonic Sums, every other key a Gauge, `window_seconds` is the window and
//! not a metric. Points are produced here as [`Point`]s; a worker writes an
//! event's attribute fields once ([`write_point_attrs`]) and each point's
//! body ([`write_point_body`], which formats the times the event's points
//! share once, not per point), and a writer groups the points per series
//! inside a resource block, splicing `{"attributes":`, the event's attribute
//! fields and the body into each entry ([`write_metric_open`] ... close).

use super::write::{is_integral, write_f64, write_i64, write_str, NanosText};
use super::{write_attr_str, write_prop_attrs, Attrs, Event};

pub use crate::model::{MetricKind, PointValue};

/// `aggregationTemporality` of sums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Temporality {
    #[default]
    Delta,
    Cumulative,
}

impl Temporality {
    pub fn code(self) -> u8 {
        match self {
            Temporality::Delta => 1,
            Temporality::Cumulative => 2,
        }
    }
}

/// One measurement of a metric event, before grouping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point<'t> {
    /// The measurement key without its unit suffix.
    pub stem: &'t str,
    pub unit: &'static str,
    pub kind: MetricKind,
    pub value: PointValue,
    /// `timestamp - window`, or for a delta sum without window the timestamp.
    pub start: Option<u64>,
    pub time: u64,
}

const UNIT_SUFFIXES: [(&str, &str); 8] = [
    ("_ms", "ms"),
    ("Ms", "ms"),
    ("_seconds", "s"),
    ("Seconds", "s"),
    ("_mbits", "Mbit/s"),
    ("Mbits", "Mbit/s"),
    ("_bytes", "By"),
    ("Bytes", "By"),
];

/// Splits a unit suffix off a measurement key: `latency_ms` -> (`latency`, `ms`).
pub fn split_unit(key: &str) -> (&str, Option<&'static str>) {
    for (suffix, unit) in UNIT_SUFFIXES {
        if key.len() > suffix.len() && key.ends_with(suffix) {
            return (&key[..key.len() - suffix.len()], Some(unit));
        }
    }
    (key, None)
}

pub fn is_counter(key: &str) -> bool {
    key.starts_with("count_") || key.starts_with("count.")
}

pub fn is_window(key: &str) -> bool {
    key == "window_seconds" || key == "windowSeconds"
}

/// Calls `f` for each point of a metric event; returns how many measurements
/// were dropped for having no finite value.
pub fn for_each_point<'t>(ev: &Event<'t>, mut f: impl FnMut(Point<'t>)) -> u64 {
    let r = &ev.row;
    let time = ev.time_unix_nano();
    let window = r
        .measures()
        .measures()
        .find(|(k, _)| is_window(k))
        .and_then(|(_, v)| v)
        .map(|n| n.as_f64())
        .filter(|w| w.is_finite() && *w >= 0.0);
    let window_start = window.map(|w| time.saturating_sub((w * 1e9).round() as u64));
    let mut dropped = 0;
    for (key, value) in r.measures().measures() {
        if is_window(key) {
            continue;
        }
        let Some(v) = value.map(|n| n.as_f64()).filter(|v| v.is_finite()) else {
            dropped += 1;
            continue;
        };
        let counter = is_counter(key);
        let (stem, suffix_unit) = split_unit(key);
        let unit = match suffix_unit {
            Some(u) => u,
            None if counter && r.event_name == "http.requests" => "{request}",
            None => "1",
        };
        let point = if counter {
            let v = v.max(0.0);
            Point {
                stem,
                unit,
                kind: MetricKind::Sum,
                value: if is_integral(v) {
                    PointValue::Int(v as i64)
                } else {
                    PointValue::Double(v)
                },
                start: Some(window_start.unwrap_or(time)),
                time,
            }
        } else {
            Point {
                stem,
                unit,
                kind: MetricKind::Gauge,
                value: PointValue::Double(v),
                start: window_start,
                time,
            }
        };
        f(point);
    }
    dropped
}

/// How many points a metric event has and how many measurements were
/// dropped for having no finite value: what [`for_each_point`] would see,
/// without building the points (the JSON array only counts them).
pub fn count_points(ev: &Event<'_>) -> (u64, u64) {
    let (mut points, mut dropped) = (0, 0);
    for (key, value) in ev.row.measures().measures() {
        if is_window(key) {
            continue;
        }
        if value.map(|n| n.as_f64()).is_some_and(f64::is_finite) {
            points += 1;
        } else {
            dropped += 1;
        }
    }
    (points, dropped)
}

/// The attribute fields shared by every point of an event: `[...]` with the
/// properties and `coder.event_name`, at most `attr_limit` of them, and
/// `,"droppedAttributesCount":N` after the list when some were dropped.
pub fn write_point_attrs(out: &mut Vec<u8>, ev: &Event<'_>, attr_limit: usize) {
    out.push(b'[');
    let mut attrs = Attrs::new(attr_limit, 1);
    write_prop_attrs(out, &mut attrs, ev.row.props());
    write_attr_str(out, &mut attrs.sep, "coder.event_name", ev.row.event_name);
    attrs.close(out);
}

/// What every data point object starts with, before its attribute fields.
pub const POINT_OPEN: &[u8] = b"{\"attributes\":";

/// The texts of the last start and time [`write_point_body`] wrote.
#[derive(Clone, Copy, Debug, Default)]
pub struct PointTimes {
    start: NanosText,
    time: NanosText,
}

/// Writes what follows a point's attribute fields: its times and value,
/// closing the object. `times` keeps the times' texts for the next point.
pub fn write_point_body(out: &mut Vec<u8>, times: &mut PointTimes, start: Option<u64>, time: u64, value: PointValue) {
    if let Some(s) = start {
        out.extend_from_slice(b",\"startTimeUnixNano\":");
        times.start.write(out, s);
    }
    out.extend_from_slice(b",\"timeUnixNano\":");
    times.time.write(out, time);
    match value {
        PointValue::Int(v) => {
            out.extend_from_slice(b",\"asInt\":\"");
            write_i64(out, v);
            out.extend_from_slice(b"\"}");
        }
        PointValue::Double(v) => {
            out.extend_from_slice(b",\"asDouble\":");
            write_f64(out, v);
            out.push(b'}');
        }
    }
}

/// Opens a metric entry up to its `dataPoints` list.
pub fn write_metric_open(out: &mut Vec<u8>, name: &str, description: &str, unit: &str, kind: MetricKind) {
    out.extend_from_slice(b"{\"name\":");
    write_str(out, name);
    out.extend_from_slice(b",\"description\":");
    write_str(out, description);
    out.extend_from_slice(b",\"unit\":");
    write_str(out, unit);
    match kind {
        MetricKind::Sum => out.extend_from_slice(b",\"sum\":{\"dataPoints\":["),
        MetricKind::Gauge => out.extend_from_slice(b",\"gauge\":{\"dataPoints\":["),
    }
}

/// Closes a metric entry opened by [`write_metric_open`].
pub fn write_metric_close(out: &mut Vec<u8>, kind: MetricKind, temporality: Temporality) {
    match kind {
        MetricKind::Sum => {
            out.extend_from_slice(b"],\"aggregationTemporality\":");
            out.push(b'0' + temporality.code());
            out.extend_from_slice(b",\"isMonotonic\":true}}");
        }
        MetricKind::Gauge => out.extend_from_slice(b"]}}"),
    }
}

/// Bytes a closed metric entry adds around its points (for request size budgets).
pub fn metric_overhead(name: &str, description: &str, unit: &str) -> usize {
    // {"name":,"description":,"unit":,"gauge":{"dataPoints":[ ... ],"aggregationTemporality":2,"isMonotonic":true}}
    110 + 2 * (name.len() + description.len() + unit.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::with_event;

    type Seen = (String, &'static str, MetricKind, PointValue, Option<u64>, u64);

    fn points(measurements: &str) -> (Vec<Seen>, u64) {
        let line = format!(
            r#"{{"event_name":"http.requests","timestamp":"2026-11-20T10:01:00Z","properties":{{"route":"/api"}},"measurements":{measurements}}}"#
        );
        with_event(&line, |ev| {
            let mut v = Vec::new();
            let dropped = for_each_point(ev, |p| {
                v.push((p.stem.to_string(), p.unit, p.kind, p.value, p.start, p.time))
            });
            (v, dropped)
        })
    }

    const T: u64 = 1_795_168_860_000_000_000;

    #[test]
    fn counters_are_sums_and_others_gauges() {
        let (p, _) = points(r#"{"count_2xx":5,"count.errors":1,"latency_p95_ms":12.5}"#);
        assert_eq!(p[0].2, MetricKind::Sum);
        assert_eq!(p[1].2, MetricKind::Sum);
        assert_eq!(p[2].2, MetricKind::Gauge);
        assert_eq!(p[0].3, PointValue::Int(5));
        assert_eq!(p[2].3, PointValue::Double(12.5));
    }

    #[test]
    fn unit_suffixes_in_both_styles() {
        let (p, _) = points(
            r#"{"a_ms":1,"aMs":1,"b_seconds":1,"bSeconds":1,"c_mbits":1,"cMbits":1,"d_bytes":1,"dBytes":1,"plain":1,"count_x":1}"#,
        );
        let got: Vec<_> = p.iter().map(|x| (x.0.as_str(), x.1)).collect();
        assert_eq!(
            got,
            [
                ("a", "ms"),
                ("a", "ms"),
                ("b", "s"),
                ("b", "s"),
                ("c", "Mbit/s"),
                ("c", "Mbit/s"),
                ("d", "By"),
                ("d", "By"),
                ("plain", "1"),
                ("count_x", "{request}")
            ]
        );
        assert_eq!(split_unit("_ms"), ("_ms", None));
        assert_eq!(split_unit("items"), ("items", None));
    }

    #[test]
    fn counters_of_other_events_have_unit_one() {
        let line = r#"{"event_name":"ssh.network.info","timestamp":"2026-11-20T10:01:00Z","measurements":{"count_reconnects":2}}"#;
        let units: Vec<_> = with_event(line, |ev| {
            let mut u = Vec::new();
            for_each_point(ev, |p| u.push(p.unit));
            u
        });
        assert_eq!(units, ["1"]);
    }

    #[test]
    fn window_sets_start_time_and_is_not_a_metric() {
        let (p, _) = points(r#"{"window_seconds":60,"count_2xx":3,"rtt_ms":4}"#);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].4, Some(T - 60_000_000_000));
        assert_eq!(p[1].4, Some(T - 60_000_000_000));
        assert!(p.iter().all(|x| x.5 == T));
        let (p, _) = points(r#"{"windowSeconds":1.5,"x":1}"#);
        assert_eq!(p[0].4, Some(T - 1_500_000_000));
    }

    #[test]
    fn without_window_delta_sums_start_at_time_and_gauges_have_no_start() {
        let (p, _) = points(r#"{"count_2xx":3,"rtt_ms":4}"#);
        assert_eq!(p[0].4, Some(T));
        assert_eq!(p[1].4, None);
    }

    #[test]
    fn negative_and_fractional_counts() {
        let (p, _) = points(r#"{"count_a":-3,"count_b":2.5,"count_c":-0.5,"count_d":7.0}"#);
        assert_eq!(p[0].3, PointValue::Int(0));
        assert_eq!(p[1].3, PointValue::Double(2.5));
        assert_eq!(p[2].3, PointValue::Int(0));
        assert_eq!(p[3].3, PointValue::Int(7));
    }

    #[test]
    fn non_finite_values_are_dropped_and_counted() {
        let (p, dropped) = points(r#"{"a":null,"b":1}"#);
        assert_eq!(p.len(), 1);
        assert_eq!(dropped, 1);
    }

    #[test]
    fn counting_points_agrees_with_making_them() {
        for m in [
            r#"{"a":null,"b":1,"window_seconds":60,"count.2xx":3,"windowSeconds":1,"c_ms":2.5}"#,
            r#"{}"#,
            r#"{"x":-0.0,"count_y":-5}"#,
        ] {
            let line =
                format!(r#"{{"event_name":"http.requests","timestamp":"2026-11-20T10:01:00Z","measurements":{m}}}"#);
            with_event(&line, |ev| {
                let mut made = 0;
                let dropped = for_each_point(ev, |_| made += 1);
                assert_eq!(count_points(ev), (made, dropped), "{m}");
            });
        }
    }

    #[test]
    fn running_totals_stay_integral_until_a_double_arrives() {
        let t = PointValue::Int(2).plus(PointValue::Int(3));
        assert_eq!(t, PointValue::Int(5));
        assert_eq!(t.plus(PointValue::Double(0.5)), PointValue::Double(5.5));
        assert_eq!(
            PointValue::Int(i64::MAX).plus(PointValue::Int(1)).as_f64(),
            i64::MAX as f64 + 1.0
        );
    }
}
