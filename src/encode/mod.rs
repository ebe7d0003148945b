//! Encoders: one validated event -> the bytes of one output record.
//!
//! `json` writes the JSON-array element (SPEC §5.2); `resource`, `logs`,
//! `spans` and `metrics` write the OTLP/JSON pieces (§6.3-6.6). They all write
//! into a caller's `Vec<u8>` with the helpers in `write`, so a worker reuses its
//! buffers from one event to the next and no intermediate value tree exists.
//! `protobuf` is the other body codec of an OTLP request: the same records
//! in the protobuf wire format (`send`, §10.3), written as directly.

pub mod json;
pub mod logs;
pub mod metrics;
pub mod protobuf;
pub mod resource;
pub mod spans;
pub mod write;

use crate::row::{Context, Pairs, RawLine, Row, Scalar};
use write::{write_f64, write_str};

/// An event ready to encode: the row, its full context (header or inline,
/// plus `deployment_url`), its checked ids when it is a span, its
/// effective schema version (§2.4), and the line as read when the sink
/// asked for it ([`RawLine`]).
#[derive(Clone, Copy, Debug)]
pub struct Event<'t> {
    /// Borrowed: a row is a few hundred bytes, and the event is built per row.
    pub row: &'t Row<'t>,
    pub ctx: Context<'t>,
    pub ids: Option<crate::model::SpanIds<'t>>,
    pub schema_version: u64,
    pub raw: Option<RawLine<'t>>,
}

impl Event<'_> {
    /// Nanoseconds since the epoch; validated non-negative by the row parser.
    pub fn time_unix_nano(&self) -> u64 {
        self.row.time_nanos as u64
    }
}

/// The body encoding of an OTLP request: OTLP/JSON (files, `http/json`)
/// or OTLP/protobuf (`http/protobuf`, gRPC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    #[default]
    Json,
    Protobuf,
}

/// Attributes per record or data point, as the OpenTelemetry SDKs limit
/// them by default (`OTEL_ATTRIBUTE_COUNT_LIMIT`, SPEC §9.1).
pub const DEFAULT_ATTRIBUTE_LIMIT: usize = 128;

/// Writes a `,` before every item of a JSON list but the first.
#[derive(Default)]
pub struct Sep(bool);

impl Sep {
    #[inline]
    pub fn next(&mut self, out: &mut Vec<u8>) {
        if self.0 {
            out.push(b',');
        }
        self.0 = true;
    }
}

/// Writes a property value as a string: numbers in shortest form, booleans as
/// `true`/`false` (§2.5).
#[inline]
pub fn write_scalar_as_str(out: &mut Vec<u8>, v: Scalar<'_>) {
    match v {
        Scalar::Str(s) => write_str(out, s),
        Scalar::Num(n) => write::write_num_as_str(out, n),
        Scalar::Bool(true) => out.extend_from_slice(b"\"true\""),
        Scalar::Bool(false) => out.extend_from_slice(b"\"false\""),
    }
}

/// `{"key":K,"value":{"stringValue":V}}`
#[inline]
pub fn write_attr_str(out: &mut Vec<u8>, sep: &mut Sep, key: &str, value: &str) {
    write_attr_scalar(out, sep, key, Scalar::Str(value));
}

#[inline]
pub fn write_attr_scalar(out: &mut Vec<u8>, sep: &mut Sep, key: &str, value: Scalar<'_>) {
    sep.next(out);
    out.extend_from_slice(b"{\"key\":");
    write_str(out, key);
    out.extend_from_slice(b",\"value\":{\"stringValue\":");
    write_scalar_as_str(out, value);
    out.extend_from_slice(b"}}");
}

/// `{"key":K,"value":{"doubleValue":N}}`; callers pass finite values only.
#[inline]
pub fn write_attr_double(out: &mut Vec<u8>, sep: &mut Sep, key: &str, value: f64) {
    sep.next(out);
    out.extend_from_slice(b"{\"key\":");
    write_str(out, key);
    out.extend_from_slice(b",\"value\":{\"doubleValue\":");
    write_f64(out, value);
    out.extend_from_slice(b"}}");
}

/// An attribute list being written within the attribute count limit. The
/// event's own properties and measurements share what the limit leaves
/// after the exporter's attributes (`coder.event_name`, `error.type`,
/// `exception.*`), which are always kept; the ones beyond it are dropped
/// and counted, as an SDK does.
pub struct Attrs {
    pub sep: Sep,
    /// Event attributes that still fit.
    left: usize,
    /// Event attributes dropped for the limit.
    pub dropped: u64,
}

impl Attrs {
    /// A list of at most `limit` attributes, `reserved` of them the exporter's.
    pub fn new(limit: usize, reserved: usize) -> Self {
        Self {
            sep: Sep::default(),
            left: limit.saturating_sub(reserved),
            dropped: 0,
        }
    }

    /// Whether one more event attribute fits; counts it as dropped if not.
    #[inline]
    pub fn admit(&mut self) -> bool {
        if self.left == 0 {
            self.dropped += 1;
            return false;
        }
        self.left -= 1;
        true
    }

    /// Closes the list: `]`, then `,"droppedAttributesCount":N` if any were dropped.
    pub fn close(self, out: &mut Vec<u8>) {
        out.push(b']');
        if self.dropped > 0 {
            out.extend_from_slice(b",\"droppedAttributesCount\":");
            write::write_u64(out, self.dropped);
        }
    }
}

/// Properties as string attributes, in input order, within the limit.
pub fn write_prop_attrs(out: &mut Vec<u8>, attrs: &mut Attrs, props: Pairs<'_>) {
    for (k, v) in props.props() {
        if attrs.admit() {
            write_attr_scalar(out, &mut attrs.sep, k, v);
        }
    }
}

/// Measurements as double attributes, in input order, within the limit,
/// leaving out `skip` and values with no finite number (`null`, overflowed
/// doubles).
pub fn write_measure_attrs(out: &mut Vec<u8>, attrs: &mut Attrs, measures: Pairs<'_>, skip: Option<&str>) {
    for (k, v) in measures.measures() {
        if Some(k) == skip {
            continue;
        }
        if let Some(v) = v.map(|n| n.as_f64()).filter(|v| v.is_finite()) {
            if attrs.admit() {
                write_attr_double(out, &mut attrs.sep, k, v);
            }
        }
    }
}

/// How many `exception.*` attributes an error has.
pub fn exception_attr_count(e: &crate::row::ErrorInfo<'_>) -> usize {
    usize::from(e.message.is_some()) + usize::from(e.kind.is_some()) + usize::from(e.code.is_some())
}

/// `exception.message`, `exception.type`, `exception.code`, each only if present.
pub fn write_exception_attrs(out: &mut Vec<u8>, sep: &mut Sep, e: &crate::row::ErrorInfo<'_>) {
    if let Some(m) = e.message {
        write_attr_str(out, sep, "exception.message", m);
    }
    if let Some(t) = e.kind {
        write_attr_str(out, sep, "exception.type", t);
    }
    if let Some(c) = e.code {
        write_attr_scalar(out, sep, "exception.code", c);
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builds [`Event`]s from JSON text for encoder tests.
    use super::Event;
    use crate::row::tests::with_line;
    use crate::row::{Context, Line};

    /// The header context the encoder tests use.
    pub fn header_ctx() -> Context<'static> {
        Context {
            extension_version: Some("1.9.0"),
            machine_id: Some("machine-1"),
            session_id: Some("sess-1"),
            os_type: Some("linux"),
            os_version: Some("6.8.0"),
            host_arch: Some("x64"),
            platform_name: Some("Visual Studio Code"),
            platform_version: Some("1.95.0"),
            deployment_url: None,
        }
    }

    /// Parses `text` as a v1 row under [`header_ctx`] and hands `f` the event.
    pub fn with_event<R>(text: &str, f: impl FnOnce(&Event<'_>) -> R) -> R {
        with_line(text, |l| match l {
            Ok(Line::Event(row)) => {
                let mut ctx: Context<'_> = row.context.unwrap_or(header_ctx());
                ctx.deployment_url = row.deployment_url.or(ctx.deployment_url);
                let ev = Event {
                    row: &row,
                    ctx,
                    ids: crate::route::span_ids(&row).ok(),
                    schema_version: row.schema_version.unwrap_or(1),
                    raw: None,
                };
                f(&ev)
            }
            other => panic!("expected an event: {other:?}"),
        })
    }

    pub fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).expect("encoders write UTF-8")
    }

    /// Pretty-prints encoder output for snapshots (and proves it is valid JSON).
    pub fn pretty(bytes: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(bytes).expect("encoder output is valid JSON");
        serde_json::to_string_pretty(&v).expect("re-serialize")
    }
}
