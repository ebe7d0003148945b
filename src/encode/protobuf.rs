//! The OTLP/protobuf codec (SPEC §10.3): the same records as the OTLP/JSON
//! encoders write, in the protobuf wire format that `http/protobuf` (the
//! OTel default) and gRPC carry, written by the workers straight from the
//! events (no JSON in between, no object tree), and the responses a
//! receiver answers in it (partial success, `google.rpc.Status`,
//! `RetryInfo`), read without trusting their lengths.
//!
//! Times are fixed64, ids raw bytes, `asInt` sfixed64. A nested message
//! whose length is only known once written (a record) gets one byte
//! reserved for its length, widened in place when it is 128 bytes or more;
//! small ones (attributes) have their lengths computed first. Every value a
//! record holds is written, the empty string of a oneof included, so a
//! receiver decodes a protobuf body to the same records as the JSON one.
//! The levels around the records (request, resource block, scope, metric)
//! are framed by the envelope and metric writers with [`block_head`] and
//! [`metric_open`], once their contents' lengths are known.

use super::metrics::{MetricKind, PointValue, Temporality};
use super::resource::{built_in, SCOPE_NAME, SERVICE_NAME};
use super::spans::{span_name, start_time, status_code, STATUS_ERROR};
use super::write::with_num_text;
use super::{exception_attr_count, Attrs, Event};
use crate::model::{HexId, SpanIds};
use crate::row::{Context, ErrorInfo, Pairs, Scalar};

/// Field numbers of the OTLP messages this codec writes.
mod field {
    // LogRecord
    pub const LOG_TIME: u32 = 1;
    pub const LOG_SEVERITY_NUMBER: u32 = 2;
    pub const LOG_SEVERITY_TEXT: u32 = 3;
    pub const LOG_BODY: u32 = 5;
    pub const LOG_ATTRIBUTES: u32 = 6;
    pub const LOG_DROPPED: u32 = 7;
    pub const LOG_TRACE_ID: u32 = 9;
    pub const LOG_SPAN_ID: u32 = 10;
    pub const LOG_OBSERVED_TIME: u32 = 11;
    // Span
    pub const SPAN_TRACE_ID: u32 = 1;
    pub const SPAN_ID: u32 = 2;
    pub const SPAN_PARENT: u32 = 4;
    pub const SPAN_NAME: u32 = 5;
    pub const SPAN_KIND: u32 = 6;
    pub const SPAN_START: u32 = 7;
    pub const SPAN_END: u32 = 8;
    pub const SPAN_ATTRIBUTES: u32 = 9;
    pub const SPAN_DROPPED: u32 = 10;
    pub const SPAN_EVENTS: u32 = 11;
    pub const SPAN_STATUS: u32 = 15;
    // Span.Event
    pub const EVENT_TIME: u32 = 1;
    pub const EVENT_NAME: u32 = 2;
    pub const EVENT_ATTRIBUTES: u32 = 3;
    // Status
    pub const STATUS_MESSAGE: u32 = 2;
    pub const STATUS_CODE: u32 = 3;
    // Metric, Sum, Gauge
    pub const METRIC_NAME: u32 = 1;
    pub const METRIC_DESCRIPTION: u32 = 2;
    pub const METRIC_UNIT: u32 = 3;
    pub const METRIC_GAUGE: u32 = 5;
    pub const METRIC_SUM: u32 = 7;
    pub const DATA_POINTS: u32 = 1;
    pub const SUM_TEMPORALITY: u32 = 2;
    pub const SUM_MONOTONIC: u32 = 3;
    // NumberDataPoint
    pub const POINT_START: u32 = 2;
    pub const POINT_TIME: u32 = 3;
    pub const POINT_DOUBLE: u32 = 4;
    pub const POINT_INT: u32 = 6;
    pub const POINT_ATTRIBUTES: u32 = 7;
    // Resource, InstrumentationScope, and the levels around records:
    // Export*ServiceRequest.resource_*, Resource*.resource, Scope*.scope = 1;
    // Resource*.scope_*, Scope*.records = 2.
    pub const FIRST: u32 = 1;
    pub const SECOND: u32 = 2;
    // KeyValue, AnyValue
    pub const KEY: u32 = 1;
    pub const VALUE: u32 = 2;
    pub const STRING_VALUE: u32 = 1;
    pub const DOUBLE_VALUE: u32 = 4;
}

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const BYTES: u32 = 2;

/// Appends `v` as a varint.
#[inline]
pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes of `v` as a varint.
#[inline]
pub fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
fn tag(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from(field << 3 | wire));
}

#[inline]
fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, BYTES);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Bytes [`bytes`] writes for `len` bytes (fields below 16: one-byte tags).
#[inline]
fn bytes_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

#[inline]
fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A double; -0.0 is written as 0.0, as the JSON (which has no -0) reads.
#[inline]
fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    let v = if v == 0.0 { 0.0 } else { v };
    fixed64(out, field, v.to_bits());
}

#[inline]
fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, VARINT);
    varint(out, v);
}

/// Writes field `field` as a message whose fields `body` writes: one byte
/// is reserved for the length and widened once the length is known.
#[inline]
pub fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    tag(out, field, BYTES);
    let at = out.len();
    out.push(0);
    body(out);
    let end = out.len();
    let len = end - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
        return;
    }
    let n = varint_len(len as u64);
    out.resize(end + n - 1, 0);
    out.copy_within(at + 1..end, at + n);
    let mut v = len as u64;
    for b in &mut out[at..at + n] {
        *b = (v as u8 & 0x7f) | if v >= 0x80 { 0x80 } else { 0 };
        v >>= 7;
    }
}

/// A lowercase or uppercase hex id as its raw bytes.
fn hex_id<const N: usize>(out: &mut Vec<u8>, field: u32, id: HexId<'_, N>) {
    let digits = id.as_str().as_bytes();
    tag(out, field, BYTES);
    varint(out, (N / 2) as u64);
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10) & 0x0f,
    };
    out.extend(digits.chunks_exact(2).map(|p| nibble(p[0]) << 4 | nibble(p[1])));
}

/// `KeyValue { key, value: AnyValue { string_value } }` as field `field`.
#[inline]
fn kv_str(out: &mut Vec<u8>, field: u32, key: &str, value: &[u8]) {
    let any = bytes_len(value.len());
    let kv = bytes_len(key.len()) + bytes_len(any);
    tag(out, field, BYTES);
    varint(out, kv as u64);
    bytes(out, field::KEY, key.as_bytes());
    tag(out, field::VALUE, BYTES);
    varint(out, any as u64);
    bytes(out, field::STRING_VALUE, value);
}

/// A property value as a string attribute (numbers in shortest form,
/// booleans as `true`/`false`, §2.5), as the JSON encoders write it.
#[inline]
fn kv_scalar(out: &mut Vec<u8>, field: u32, key: &str, value: Scalar<'_>) {
    match value {
        Scalar::Str(s) => kv_str(out, field, key, s.as_bytes()),
        Scalar::Num(n) => with_num_text(n, |t| kv_str(out, field, key, t)),
        Scalar::Bool(true) => kv_str(out, field, key, b"true"),
        Scalar::Bool(false) => kv_str(out, field, key, b"false"),
    }
}

/// `KeyValue { key, value: AnyValue { double_value } }`.
#[inline]
fn kv_double(out: &mut Vec<u8>, field: u32, key: &str, value: f64) {
    let any = 9;
    let kv = bytes_len(key.len()) + bytes_len(any);
    tag(out, field, BYTES);
    varint(out, kv as u64);
    bytes(out, field::KEY, key.as_bytes());
    tag(out, field::VALUE, BYTES);
    varint(out, any as u64);
    double(out, field::DOUBLE_VALUE, value);
}

/// Properties as string attributes, in input order, within the limit.
fn prop_attrs(out: &mut Vec<u8>, field: u32, attrs: &mut Attrs, props: Pairs<'_>) {
    for (k, v) in props.props() {
        if attrs.admit() {
            kv_scalar(out, field, k, v);
        }
    }
}

/// Measurements as double attributes, as [`super::write_measure_attrs`] selects them.
fn measure_attrs(out: &mut Vec<u8>, field: u32, attrs: &mut Attrs, measures: Pairs<'_>, skip: Option<&str>) {
    for (k, v) in measures.measures() {
        if Some(k) == skip {
            continue;
        }
        if let Some(v) = v.map(|n| n.as_f64()).filter(|v| v.is_finite()) {
            if attrs.admit() {
                kv_double(out, field, k, v);
            }
        }
    }
}

/// `exception.message`, `exception.type`, `exception.code`, each only if present.
fn exception_attrs(out: &mut Vec<u8>, field: u32, e: &ErrorInfo<'_>) {
    if let Some(m) = e.message {
        kv_str(out, field, "exception.message", m.as_bytes());
    }
    if let Some(t) = e.kind {
        kv_str(out, field, "exception.type", t.as_bytes());
    }
    if let Some(c) = e.code {
        kv_scalar(out, field, "exception.code", c);
    }
}

/// The `LogRecord` fields of a log event (SPEC §6.4), as
/// [`super::logs::write_log_record`] writes them in JSON.
pub fn log_record(out: &mut Vec<u8>, ev: &Event<'_>, attr_limit: usize) {
    let r = &ev.row;
    let t = ev.time_unix_nano();
    fixed64(out, field::LOG_TIME, t);
    fixed64(out, field::LOG_OBSERVED_TIME, t);
    let (number, text): (u64, &[u8]) = if r.error.is_some() { (17, b"ERROR") } else { (9, b"INFO") };
    uint(out, field::LOG_SEVERITY_NUMBER, number);
    bytes(out, field::LOG_SEVERITY_TEXT, text);
    let name = r.event_name.as_bytes();
    tag(out, field::LOG_BODY, BYTES);
    varint(out, bytes_len(name.len()) as u64);
    bytes(out, field::STRING_VALUE, name);
    let mut attrs = Attrs::new(attr_limit, r.error.as_ref().map_or(0, exception_attr_count));
    prop_attrs(out, field::LOG_ATTRIBUTES, &mut attrs, r.props());
    measure_attrs(out, field::LOG_ATTRIBUTES, &mut attrs, r.measures(), None);
    if let Some(e) = &r.error {
        exception_attrs(out, field::LOG_ATTRIBUTES, e);
    }
    if attrs.dropped > 0 {
        uint(out, field::LOG_DROPPED, attrs.dropped);
    }
    if let Some(tid) = r.trace_id.and_then(HexId::<32>::parse) {
        hex_id(out, field::LOG_TRACE_ID, tid);
        if let Some(sid) = r.parent_event_id.and_then(HexId::<16>::parse) {
            hex_id(out, field::LOG_SPAN_ID, sid);
        }
    }
}

/// The `Span` fields of a span event (SPEC §6.5), as
/// [`super::spans::write_span`] writes them in JSON.
pub fn span(out: &mut Vec<u8>, ev: &Event<'_>, ids: SpanIds<'_>, attr_limit: usize) {
    let r = &ev.row;
    let end = ev.time_unix_nano();
    let code = status_code(r);
    hex_id(out, field::SPAN_TRACE_ID, ids.trace);
    hex_id(out, field::SPAN_ID, ids.span);
    if let Some(p) = ids.parent {
        hex_id(out, field::SPAN_PARENT, p);
    }
    bytes(out, field::SPAN_NAME, span_name(r.event_name).as_bytes());
    uint(out, field::SPAN_KIND, 1);
    fixed64(out, field::SPAN_START, start_time(end, r));
    fixed64(out, field::SPAN_END, end);
    let props = r.props();
    let add_error_type = code == STATUS_ERROR && !props.contains_key("error.type");
    let mut attrs = Attrs::new(attr_limit, 1 + usize::from(add_error_type));
    prop_attrs(out, field::SPAN_ATTRIBUTES, &mut attrs, props);
    measure_attrs(out, field::SPAN_ATTRIBUTES, &mut attrs, r.measures(), Some("durationMs"));
    kv_str(out, field::SPAN_ATTRIBUTES, "coder.event_name", r.event_name.as_bytes());
    if add_error_type {
        let e = r.error.unwrap_or_default();
        let value = match (e.kind, e.code) {
            (Some(t), _) => Scalar::Str(t),
            (None, Some(c)) => c,
            (None, None) => Scalar::Str("_OTHER"),
        };
        kv_scalar(out, field::SPAN_ATTRIBUTES, "error.type", value);
    }
    if attrs.dropped > 0 {
        uint(out, field::SPAN_DROPPED, attrs.dropped);
    }
    if let Some(e) = &r.error {
        message(out, field::SPAN_EVENTS, |o| {
            fixed64(o, field::EVENT_TIME, end);
            bytes(o, field::EVENT_NAME, b"exception");
            exception_attrs(o, field::EVENT_ATTRIBUTES, e);
        });
    }
    message(out, field::SPAN_STATUS, |o| {
        if code == STATUS_ERROR {
            if let Some(m) = r.error.and_then(|e| e.message) {
                bytes(o, field::STATUS_MESSAGE, m.as_bytes());
            }
        }
        if code != 0 {
            uint(o, field::STATUS_CODE, u64::from(code));
        }
    });
}

/// A record (log record or span) as field 2 of its scope: the record
/// message that `body` writes, length-delimited.
pub fn record(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    message(out, field::SECOND, body);
}

/// The `resource` field of a block (field 1 of `Resource*`), as
/// [`super::resource::write_resource`] writes it in JSON.
pub fn resource(out: &mut Vec<u8>, c: &Context<'_>, extra: &[(String, String)]) {
    let overridden = |k: &str| extra.iter().any(|(ek, _)| ek == k);
    message(out, field::FIRST, |o| {
        if !overridden("service.name") {
            kv_str(o, field::FIRST, "service.name", SERVICE_NAME.as_bytes());
        }
        for (key, value) in built_in(c) {
            if let Some(v) = value {
                if !overridden(key) {
                    kv_str(o, field::FIRST, key, v.as_bytes());
                }
            }
        }
        for (k, v) in extra {
            kv_str(o, field::FIRST, k, v.as_bytes());
        }
    });
}

/// The `scope` field of a block (field 1 of `Scope*`).
pub fn scope(out: &mut Vec<u8>, c: &Context<'_>) {
    message(out, field::FIRST, |o| {
        bytes(o, field::FIRST, SCOPE_NAME.as_bytes());
        if let Some(v) = c.extension_version {
            bytes(o, field::SECOND, v.as_bytes());
        }
    });
}

/// Bytes [`block_head`] writes at most around a block's records, besides
/// its resource and scope.
pub const BLOCK_HEAD_MAX: usize = 2 * (1 + 10);

/// Frames a resource block whose records (fields 2 of its scope) take
/// `records` bytes: `Resource* { resource, Scope* { scope, <records> } }`
/// as field 1 of the request, up to where the records start.
pub fn block_head(out: &mut Vec<u8>, resource: &[u8], scope: &[u8], records: usize) {
    let scope_len = scope.len() + records;
    let block_len = resource.len() + 1 + varint_len(scope_len as u64) + scope_len;
    tag(out, field::FIRST, BYTES);
    varint(out, block_len as u64);
    out.extend_from_slice(resource);
    tag(out, field::SECOND, BYTES);
    varint(out, scope_len as u64);
    out.extend_from_slice(scope);
}

/// The attributes shared by every point of a metric event: fields 7 of a
/// `NumberDataPoint` (properties and `coder.event_name`, within the limit;
/// a data point has no count of dropped attributes).
pub fn point_attrs(out: &mut Vec<u8>, ev: &Event<'_>, attr_limit: usize) {
    let mut attrs = Attrs::new(attr_limit, 1);
    prop_attrs(out, field::POINT_ATTRIBUTES, &mut attrs, ev.row.props());
    kv_str(out, field::POINT_ATTRIBUTES, "coder.event_name", ev.row.event_name.as_bytes());
}

/// A point's times and value: the rest of its `NumberDataPoint`.
pub fn point_body(out: &mut Vec<u8>, start: Option<u64>, time: u64, value: PointValue) {
    if let Some(s) = start {
        fixed64(out, field::POINT_START, s);
    }
    fixed64(out, field::POINT_TIME, time);
    match value {
        PointValue::Int(v) => fixed64(out, field::POINT_INT, v as u64),
        PointValue::Double(v) => double(out, field::POINT_DOUBLE, v),
    }
}

/// Bytes a point of `len` bytes (attributes and body) takes in its metric.
pub fn framed_point_len(len: usize) -> usize {
    bytes_len(len)
}

/// Frames a point of `len` bytes: field 1 (`data_points`) of its Sum or Gauge.
pub fn point_head(out: &mut Vec<u8>, len: usize) {
    tag(out, field::DATA_POINTS, BYTES);
    varint(out, len as u64);
}

/// Bytes [`metric_close`] writes.
fn metric_close_len(kind: MetricKind) -> usize {
    match kind {
        MetricKind::Sum => 4,
        MetricKind::Gauge => 0,
    }
}

/// Opens a metric (field 2 of `ScopeMetrics`) whose framed points take
/// `points` bytes, up to its first point.
pub fn metric_open(out: &mut Vec<u8>, name: &str, description: &str, unit: &str, kind: MetricKind, points: usize) {
    let data = points + metric_close_len(kind);
    let metric = bytes_len(name.len()) + bytes_len(description.len()) + bytes_len(unit.len()) + bytes_len(data);
    tag(out, field::SECOND, BYTES);
    varint(out, metric as u64);
    bytes(out, field::METRIC_NAME, name.as_bytes());
    bytes(out, field::METRIC_DESCRIPTION, description.as_bytes());
    bytes(out, field::METRIC_UNIT, unit.as_bytes());
    let data_field = match kind {
        MetricKind::Sum => field::METRIC_SUM,
        MetricKind::Gauge => field::METRIC_GAUGE,
    };
    tag(out, data_field, BYTES);
    varint(out, data as u64);
}

/// Closes a metric opened by [`metric_open`] after its points.
pub fn metric_close(out: &mut Vec<u8>, kind: MetricKind, temporality: Temporality) {
    if kind == MetricKind::Sum {
        uint(out, field::SUM_TEMPORALITY, u64::from(temporality.code()));
        uint(out, field::SUM_MONOTONIC, 1);
    }
}

/// Bytes a metric adds around its points, at most.
pub fn metric_overhead(name: &str, description: &str, unit: &str) -> usize {
    3 * 11 + name.len() + description.len() + unit.len() + 2 * 11 + 4
}

/// The partial success of an OTLP/protobuf `Export*ServiceResponse`:
/// (rejected records, error message). Both are field 1 and 2 of field 1
/// for every signal.
pub fn partial_success(body: &[u8]) -> Option<(u64, Option<String>)> {
    let inner = field_bytes(body, 1)?;
    let rejected = field_varint(inner, 1).unwrap_or(0);
    let message = field_bytes(inner, 2)
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .filter(|m| !m.is_empty());
    Some((rejected, message))
}

/// The `message` (field 2) of a `google.rpc.Status`.
pub fn status_message(body: &[u8]) -> Option<String> {
    field_bytes(body, 2).map(|m| String::from_utf8_lossy(m).into_owned())
}

/// The delay a `google.rpc.Status` (gRPC's `grpc-status-details-bin`)
/// asks for in its `google.rpc.RetryInfo` detail, if it has one.
pub fn retry_info(status: &[u8]) -> Option<std::time::Duration> {
    let mut found = None;
    walk(status, |number, f| {
        if let (3, Field::Bytes(any)) = (number, f) {
            let url = field_bytes(any, 1).unwrap_or_default();
            if url.ends_with(b"google.rpc.RetryInfo") {
                let delay = field_bytes(any, 2).and_then(|info| field_bytes(info, 1)).unwrap_or_default();
                let secs = field_varint(delay, 1).unwrap_or(0);
                let nanos = field_varint(delay, 2).unwrap_or(0).min(999_999_999);
                // A negative duration (two's complement) is "now".
                let secs = if secs > i64::MAX as u64 { 0 } else { secs };
                found = Some(std::time::Duration::new(secs, nanos as u32));
                return false;
            }
        }
        true
    })?;
    found
}

/// Reads a varint at `*i`.
fn read_varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Walks the fields of a message: (number, wire type, payload range or varint).
fn walk<'a>(b: &'a [u8], mut f: impl FnMut(u32, Field<'a>) -> bool) -> Option<()> {
    let mut i = 0;
    while i < b.len() {
        let k = read_varint(b, &mut i)?;
        let (number, wire) = ((k >> 3) as u32, k & 7);
        let field = match wire {
            0 => Field::Varint(read_varint(b, &mut i)?),
            1 => {
                i = i.checked_add(8).filter(|e| *e <= b.len())?;
                Field::Other
            }
            2 => {
                let len = usize::try_from(read_varint(b, &mut i)?).ok()?;
                let end = i.checked_add(len).filter(|e| *e <= b.len())?;
                let bytes = &b[i..end];
                i = end;
                Field::Bytes(bytes)
            }
            5 => {
                i = i.checked_add(4).filter(|e| *e <= b.len())?;
                Field::Other
            }
            _ => return None,
        };
        if !f(number, field) {
            return Some(());
        }
    }
    Some(())
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

fn field_bytes(b: &[u8], n: u32) -> Option<&[u8]> {
    let mut found = None;
    walk(b, |number, f| match f {
        Field::Bytes(x) if number == n => {
            found = Some(x);
            false
        }
        _ => true,
    })?;
    found
}

fn field_varint(b: &[u8], n: u32) -> Option<u64> {
    let mut found = None;
    walk(b, |number, f| match f {
        Field::Varint(x) if number == n => {
            found = Some(x);
            false
        }
        _ => true,
    })?;
    found
}


/// One field of a message as it lies in the bytes.
pub struct RawField<'a> {
    pub number: u32,
    /// The whole field: tag, length and payload.
    pub whole: &'a [u8],
    /// The payload of a length-delimited field.
    pub payload: Option<&'a [u8]>,
}

/// The fields of a message in order, or `None` when it is not well formed.
pub fn raw_fields(b: &[u8]) -> Option<Vec<RawField<'_>>> {
    let mut fields = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let k = read_varint(b, &mut i)?;
        let (number, wire) = ((k >> 3) as u32, k & 7);
        let mut payload = None;
        match wire {
            0 => {
                read_varint(b, &mut i)?;
            }
            1 => i = i.checked_add(8).filter(|e| *e <= b.len())?,
            2 => {
                let len = usize::try_from(read_varint(b, &mut i)?).ok()?;
                let end = i.checked_add(len).filter(|e| *e <= b.len())?;
                payload = Some(&b[i..end]);
                i = end;
            }
            5 => i = i.checked_add(4).filter(|e| *e <= b.len())?,
            _ => return None,
        }
        fields.push(RawField {
            number,
            whole: &b[start..i],
            payload,
        });
    }
    Some(fields)
}

/// Appends field `number` holding the message `payload`.
pub fn write_message_bytes(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    bytes(out, number, payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::{header_ctx, with_event};
    use crate::encode::{logs, metrics, resource, spans, DEFAULT_ATTRIBUTE_LIMIT as LIMIT};
    use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::LogRecord;
    use opentelemetry_proto::tonic::metrics::v1::NumberDataPoint;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::Span;
    use prost::Message;

    /// The payload of the one length-delimited field `b` holds.
    fn payload(b: &[u8]) -> &[u8] {
        let f = raw_fields(b).unwrap();
        assert_eq!(f.len(), 1, "one field");
        f[0].payload.unwrap()
    }

    fn json<T: serde::de::DeserializeOwned>(b: &[u8]) -> T {
        serde_json::from_slice(b).unwrap()
    }

    const ROWS: [&str; 6] = [
        r#"{"event_name":"extension.activated","timestamp":"2026-11-20T10:00:00.000000001Z","properties":{"mode":"remote","n":5,"big":1e300,"neg":-0.0,"ok":true,"empty":""},"measurements":{"startupMs":812.25,"zero":-0.0,"nul":null}}"#,
        r#"{"event_name":"login.failed","timestamp":"2026-11-20T10:00:01Z","error":{"message":"401 \"Unauthorized\"\n","type":"HttpError","code":401}}"#,
        r#"{"event_name":"remote.setup.log","timestamp":"2026-11-20T10:00:02Z","trace_id":"0123456789ABCDEF0123456789abcdef","parent_event_id":"89ABCDEF01234567","properties":{"é":"ü😀"}}"#,
        r#"{"event_name":"remote.setup.connect","timestamp":"2026-11-20T10:00:00.25Z","trace_id":"0123456789ABCDEF0123456789abcdef","event_id":"aaaaaaaaaaaaaaaa","parent_event_id":"bbbbbbbbbbbbbbbb","properties":{"result":"success"},"measurements":{"durationMs":1500.5,"attempts":2}}"#,
        r#"{"event_name":"remote.setup","timestamp":"2026-11-20T10:00:05Z","trace_id":"0123456789ABCDEF0123456789abcdef","event_id":"cccccccccccccccc","properties":{"result":"error"},"measurements":{"durationMs":10},"error":{"message":"connection refused","code":"ECONNREFUSED"}}"#,
        r#"{"event_name":"workspace.start","timestamp":"2026-11-20T10:00:06Z","trace_id":"0123456789ABCDEF0123456789abcdef","event_id":"dddddddddddddddd","properties":{"result":"aborted"}}"#,
    ];

    #[test]
    fn a_log_record_decodes_to_what_its_json_decodes_to() {
        for (i, row) in ROWS.iter().enumerate().take(3) {
            for limit in [LIMIT, 2] {
                with_event(row, |ev| {
                    let mut pb = Vec::new();
                    record(&mut pb, |o| log_record(o, ev, limit));
                    let mut js = Vec::new();
                    logs::write_log_record(&mut js, ev, limit);
                    let got = LogRecord::decode(payload(&pb)).unwrap();
                    assert_eq!(got, json::<LogRecord>(&js), "row {i}, limit {limit}");
                    assert!(i != 2 || got.trace_id.len() == 16 && got.span_id.len() == 8);
                });
            }
        }
    }

    #[test]
    fn a_span_decodes_to_what_its_json_decodes_to() {
        for (i, row) in ROWS.iter().enumerate().skip(3) {
            for limit in [LIMIT, 1] {
                with_event(row, |ev| {
                    let ids = crate::route::span_ids(ev.row).unwrap();
                    let mut pb = Vec::new();
                    record(&mut pb, |o| span(o, ev, ids, limit));
                    let mut js = Vec::new();
                    spans::write_span(&mut js, ev, ids, limit);
                    assert_eq!(Span::decode(payload(&pb)).unwrap(), json::<Span>(&js), "row {i}, limit {limit}");
                });
            }
        }
    }

    #[test]
    fn resource_scope_and_point_attributes_decode_to_what_their_json_decodes_to() {
        let mut c = header_ctx();
        c.deployment_url = Some("https://coder.example.com");
        let extra = [("host.id".to_string(), "mine".to_string()), ("k".to_string(), "v".to_string())];
        let (mut pb, mut js) = (Vec::new(), Vec::new());
        super::resource(&mut pb, &c, &extra);
        resource::write_resource(&mut js, &c, &extra);
        assert_eq!(Resource::decode(payload(&pb)).unwrap(), json::<Resource>(&js));
        let (mut pb, mut js) = (Vec::new(), Vec::new());
        scope(&mut pb, &c);
        resource::write_scope(&mut js, &c);
        assert_eq!(
            InstrumentationScope::decode(payload(&pb)).unwrap(),
            json::<InstrumentationScope>(&js)
        );
        with_event(ROWS[0], |ev| {
            let (mut pb, mut js) = (Vec::new(), Vec::new());
            point_attrs(&mut pb, ev, LIMIT);
            point_body(&mut pb, Some(5), 7, PointValue::Int(-3));
            js.extend_from_slice(metrics::POINT_OPEN);
            metrics::write_point_attrs(&mut js, ev, LIMIT);
            metrics::write_point_body(&mut js, &mut Default::default(), Some(5), 7, PointValue::Int(-3));
            let got = NumberDataPoint::decode(&pb[..]).unwrap();
            assert_eq!(got, json::<NumberDataPoint>(&js));
            let keys: Vec<&str> = got.attributes.iter().map(|a: &KeyValue| a.key.as_str()).collect();
            assert_eq!(keys.last(), Some(&"coder.event_name"));
        });
    }

    #[test]
    fn a_message_of_128_bytes_or_more_gets_a_wider_length() {
        for n in [0usize, 1, 126, 127, 128, 300, 20_000] {
            let mut out = vec![7];
            message(&mut out, 2, |o| o.extend(std::iter::repeat_n(b'x', n)));
            let mut want = vec![7, 0x12];
            varint(&mut want, n as u64);
            want.extend(std::iter::repeat_n(b'x', n));
            assert_eq!(out, want, "{n}");
            assert_eq!(varint_len(n as u64), want.len() - 2 - n);
        }
    }

    #[test]
    fn a_block_head_frames_records_as_a_decoder_reads_them() {
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
        let c = header_ctx();
        let (mut res, mut sc, mut recs) = (Vec::new(), Vec::new(), Vec::new());
        super::resource(&mut res, &c, &[]);
        scope(&mut sc, &c);
        for row in &ROWS[..3] {
            with_event(row, |ev| record(&mut recs, |o| log_record(o, ev, LIMIT)));
        }
        let mut req = Vec::new();
        block_head(&mut req, &res, &sc, recs.len());
        req.extend_from_slice(&recs);
        let got = ExportLogsServiceRequest::decode(&req[..]).unwrap();
        assert_eq!(got.resource_logs.len(), 1);
        assert_eq!(got.resource_logs[0].scope_logs[0].log_records.len(), 3);
        assert_eq!(
            got.resource_logs[0].scope_logs[0].scope.as_ref().map(|s| s.name.as_str()),
            Some(SCOPE_NAME)
        );
        assert!(BLOCK_HEAD_MAX >= req.len() - recs.len() - res.len() - sc.len());
    }

    #[test]
    fn responses_are_read_without_trusting_their_lengths() {
        // ExportLogsServiceResponse { partial_success { rejected 3, message "old" } }
        let body = [0x0a, 7, 0x08, 3, 0x12, 3, b'o', b'l', b'd'];
        assert_eq!(partial_success(&body), Some((3, Some("old".to_string()))));
        assert_eq!(partial_success(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), None);
        assert_eq!(status_message(&[0x08, 5, 0x12, 2, b'n', b'o']), Some("no".to_string()));
        // Status { details: [Any { type_url: ".../google.rpc.RetryInfo", value: RetryInfo { retry_delay: 3s } }] }
        let url = b"type.googleapis.com/google.rpc.RetryInfo";
        let mut any = vec![0x0a, url.len() as u8];
        any.extend_from_slice(url);
        any.extend_from_slice(&[0x12, 4, 0x0a, 2, 0x08, 3]);
        let mut status = vec![0x08, 14, 0x1a, any.len() as u8];
        status.extend_from_slice(&any);
        assert_eq!(retry_info(&status), Some(std::time::Duration::from_secs(3)));
        assert_eq!(retry_info(&[0x08, 14]), None);
        assert!(raw_fields(&[0x0a, 0x05, 1]).is_none());
    }
}
