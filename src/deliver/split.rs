//! Halving an OTLP request by records, for a receiver that answered 413
//! (SPEC §10.4), in either body encoding. The request is parsed, its
//! records (log records, spans, or data points) are numbered in order, and
//! the first half and the second half are rebuilt with the same resources,
//! scopes and metric descriptions around them. Both halves keep the
//! records' document order, so the request's origins split at the same
//! count ([`crate::model::Origins::split_at`]) name exactly the records of
//! each.

use serde_json::{Map, Value};

use crate::encode::{protobuf, Encoding};

/// The field names of a signal's levels.
struct Levels {
    resources: &'static str,
    scopes: &'static str,
    records: &'static str,
}

fn levels(signal: &str) -> Option<Levels> {
    let (resources, scopes, records) = match signal {
        "logs" => ("resourceLogs", "scopeLogs", "logRecords"),
        "traces" => ("resourceSpans", "scopeSpans", "spans"),
        "metrics" => ("resourceMetrics", "scopeMetrics", "metrics"),
        _ => return None,
    };
    Some(Levels {
        resources,
        scopes,
        records,
    })
}

/// A metric's data points, whichever its type.
fn points_mut(metric: &mut Map<String, Value>) -> Option<&mut Vec<Value>> {
    ["sum", "gauge", "histogram", "exponentialHistogram", "summary"]
        .iter()
        .find_map(|k| metric.get(*k).map(|_| *k))
        .and_then(|k| metric.get_mut(k))
        .and_then(|d| d.get_mut("dataPoints"))
        .and_then(Value::as_array_mut)
}

/// The records a signal counts in one item of its record list: a metric
/// counts its data points, a log record or span counts one.
fn weight(signal: &str, item: &Value) -> u64 {
    if signal != "metrics" {
        return 1;
    }
    let mut m = item.as_object().cloned().unwrap_or_default();
    points_mut(&mut m).map_or(0, |p| p.len() as u64)
}

/// Counts the records of a request body.
pub fn count(signal: &str, body: &[u8]) -> Option<u64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let l = levels(signal)?;
    let mut n = 0;
    for r in v.get(l.resources)?.as_array()? {
        for s in r.get(l.scopes).and_then(Value::as_array).into_iter().flatten() {
            for item in s.get(l.records).and_then(Value::as_array).into_iter().flatten() {
                n += weight(signal, item);
            }
        }
    }
    Some(n)
}

/// Keeps records `[from, to)` of the request (in document order) and
/// drops scopes and resources left empty.
fn keep(signal: &str, l: &Levels, mut v: Value, from: u64, to: u64) -> Value {
    let mut at = 0u64;
    if let Some(resources) = v.get_mut(l.resources).and_then(Value::as_array_mut) {
        resources.retain_mut(|r| {
            if let Some(scopes) = r.get_mut(l.scopes).and_then(Value::as_array_mut) {
                scopes.retain_mut(|s| {
                    if let Some(items) = s.get_mut(l.records).and_then(Value::as_array_mut) {
                        items.retain_mut(|item| {
                            if signal == "metrics" {
                                let Some(points) = item.as_object_mut().and_then(points_mut) else {
                                    return false;
                                };
                                let first = at;
                                at += points.len() as u64;
                                let mut i = first;
                                points.retain(|_| {
                                    let k = (from..to).contains(&i);
                                    i += 1;
                                    k
                                });
                                !points.is_empty()
                            } else {
                                let k = (from..to).contains(&at);
                                at += 1;
                                k
                            }
                        });
                        !items.is_empty()
                    } else {
                        false
                    }
                });
                !scopes.is_empty()
            } else {
                false
            }
        });
    }
    v
}

/// The two halves of a request in `encoding` and their record counts, or
/// `None` when it holds one record or fewer (or is not a request of `signal`).
pub fn halve(signal: &str, encoding: Encoding, body: &[u8]) -> Option<[(Vec<u8>, u64); 2]> {
    match encoding {
        Encoding::Json => halve_json(signal, body),
        Encoding::Protobuf => halve_protobuf(signal, body),
    }
}

/// Whether field `number` of a message at `depth` holds the next level:
/// request -> resource blocks (1) -> scopes (2) -> records (2); a metric's
/// gauge, sum, histogram, exponential histogram or summary (5, 7, 9, 10,
/// 11) -> its data points (1).
fn is_child(depth: usize, number: u32) -> bool {
    match depth {
        0 => number == 1,
        1 | 2 => number == 2,
        3 => matches!(number, 5 | 7 | 9 | 10 | 11),
        _ => number == 1,
    }
}

/// Rebuilds the protobuf message `b` at `depth` with only the records
/// (the messages at `leaf` depth) numbered `[from, to)`, counting them in
/// `at`; a level left with no record is dropped. Returns whether any was kept.
fn rebuild(b: &[u8], depth: usize, leaf: usize, at: &mut u64, range: (u64, u64), out: &mut Vec<u8>) -> Option<bool> {
    let mut kept = false;
    for f in protobuf::raw_fields(b)? {
        match f.payload {
            Some(p) if is_child(depth, f.number) => {
                if depth + 1 == leaf {
                    let keep = (range.0..range.1).contains(at);
                    *at += 1;
                    if keep {
                        out.extend_from_slice(f.whole);
                        kept = true;
                    }
                } else {
                    let mut inner = Vec::new();
                    if rebuild(p, depth + 1, leaf, at, range, &mut inner)? {
                        protobuf::write_message_bytes(out, f.number, &inner);
                        kept = true;
                    }
                }
            }
            _ => out.extend_from_slice(f.whole),
        }
    }
    Some(kept)
}

fn halve_protobuf(signal: &str, body: &[u8]) -> Option<[(Vec<u8>, u64); 2]> {
    let leaf = match signal {
        "logs" | "traces" => 3,
        "metrics" => 5,
        _ => return None,
    };
    let mut total = 0;
    rebuild(body, 0, leaf, &mut total, (0, 0), &mut Vec::new())?;
    if total < 2 {
        return None;
    }
    let mid = total / 2;
    let half = |range| {
        let mut out = Vec::with_capacity(body.len() / 2 + 64);
        rebuild(body, 0, leaf, &mut 0, range, &mut out).map(|_| out)
    };
    Some([(half((0, mid))?, mid), (half((mid, total))?, total - mid)])
}

fn halve_json(signal: &str, body: &[u8]) -> Option<[(Vec<u8>, u64); 2]> {
    let l = levels(signal)?;
    let total = count(signal, body)?;
    if total < 2 {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let mid = total / 2;
    let first = keep(signal, &l, v.clone(), 0, mid);
    let second = keep(signal, &l, v, mid, total);
    Some([
        (serde_json::to_vec(&first).ok()?, mid),
        (serde_json::to_vec(&second).ok()?, total - mid),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_halved_by_records_keeping_resources_and_scopes() {
        let body = br#"{"resourceLogs":[
            {"resource":{"attributes":[{"key":"a","value":{"stringValue":"1"}}]},"scopeLogs":[{"scope":{"name":"s"},"logRecords":[{"body":{"stringValue":"r1"}},{"body":{"stringValue":"r2"}}]}]},
            {"resource":{"attributes":[{"key":"a","value":{"stringValue":"2"}}]},"scopeLogs":[{"scope":{"name":"s"},"logRecords":[{"body":{"stringValue":"r3"}}]}]}]}"#;
        let [(a, na), (b, nb)] = halve("logs", Encoding::Json, body).unwrap();
        assert_eq!((na, nb), (1, 2));
        assert_eq!(count("logs", &a), Some(1));
        assert_eq!(count("logs", &b), Some(2));
        let b: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(b["resourceLogs"].as_array().unwrap().len(), 2);
        assert_eq!(
            b["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["body"]["stringValue"],
            "r2"
        );
        assert_eq!(
            b["resourceLogs"][1]["resource"]["attributes"][0]["value"]["stringValue"],
            "2"
        );
        let a: Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(a["resourceLogs"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn one_metric_with_many_points_is_halved_by_points() {
        let body = br#"{"resourceMetrics":[{"resource":{},"scopeMetrics":[{"scope":{},"metrics":[
            {"name":"m","unit":"ms","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"asDouble":1},{"asDouble":2},{"asDouble":3},{"asDouble":4}]}}]}]}]}"#;
        let [(a, na), (b, nb)] = halve("metrics", Encoding::Json, body).unwrap();
        assert_eq!((na, nb), (2, 2));
        let a: Value = serde_json::from_slice(&a).unwrap();
        let b: Value = serde_json::from_slice(&b).unwrap();
        let m = |v: &Value| v["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0].clone();
        assert_eq!(m(&a)["name"], "m");
        assert_eq!(m(&a)["sum"]["isMonotonic"], true);
        assert_eq!(m(&a)["sum"]["dataPoints"][1]["asDouble"], 2);
        assert_eq!(m(&b)["sum"]["dataPoints"][0]["asDouble"], 3);
    }

    #[test]
    fn one_record_cannot_be_halved() {
        let body = br#"{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{},"spans":[{"name":"x"}]}]}]}"#;
        assert!(halve("traces", Encoding::Json, body).is_none());
        assert!(halve("traces", Encoding::Json, b"not json").is_none());
    }

    #[test]
    fn a_protobuf_request_is_halved_by_points_keeping_resources_scopes_and_metrics() {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest as M;
        use prost::Message;
        let body = br#"{"resourceMetrics":[
            {"resource":{"attributes":[{"key":"a","value":{"stringValue":"1"}}]},"scopeMetrics":[{"scope":{"name":"s"},"metrics":[
              {"name":"m","unit":"ms","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"asDouble":1},{"asDouble":2},{"asDouble":3}]}}]}]},
            {"resource":{"attributes":[{"key":"a","value":{"stringValue":"2"}}]},"scopeMetrics":[{"scope":{"name":"s"},"metrics":[
              {"name":"g","gauge":{"dataPoints":[{"asInt":"4"},{"asInt":"5"}]}}]}]}]}"#;
        let req: M = serde_json::from_slice(body).unwrap();
        let [(a, na), (b, nb)] = halve("metrics", Encoding::Protobuf, &req.encode_to_vec()).unwrap();
        assert_eq!((na, nb), (2, 3));
        let (a, b) = (M::decode(&a[..]).unwrap(), M::decode(&b[..]).unwrap());
        let json = |m: &M| serde_json::to_value(m).unwrap();
        let (a, b) = (json(&a), json(&b));
        let m = |v: &Value, r: usize| v["resourceMetrics"][r]["scopeMetrics"][0]["metrics"][0].clone();
        assert_eq!(a["resourceMetrics"].as_array().unwrap().len(), 1);
        assert_eq!(m(&a, 0)["sum"]["dataPoints"].as_array().unwrap().len(), 2);
        assert_eq!(m(&a, 0)["sum"]["isMonotonic"], true);
        assert_eq!(b["resourceMetrics"].as_array().unwrap().len(), 2);
        assert_eq!(m(&b, 0)["name"], "m");
        assert_eq!(m(&b, 0)["unit"], "ms");
        assert_eq!(m(&b, 0)["sum"]["dataPoints"][0]["asDouble"], 3.0);
        assert_eq!(m(&b, 1)["gauge"]["dataPoints"].as_array().unwrap().len(), 2);
        assert_eq!(
            b["resourceMetrics"][1]["resource"]["attributes"][0]["value"]["stringValue"],
            "2"
        );
    }

    #[test]
    fn a_protobuf_request_of_one_record_or_not_protobuf_cannot_be_halved() {
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest as L;
        use prost::Message;
        let one: L = serde_json::from_str(
            r#"{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{},"logRecords":[{"body":{"stringValue":"x"}}]}]}]}"#,
        )
        .unwrap();
        assert!(halve("logs", Encoding::Protobuf, &one.encode_to_vec()).is_none());
        assert!(halve("logs", Encoding::Protobuf, &[0x0a, 0x7f, 1]).is_none());
    }
}
