//! OTLP/protobuf bodies (SPEC §10.3): a request the envelope writer laid
//! out as OTLP/JSON, written again in the protobuf wire format that
//! `http/protobuf` (the OTel default) and gRPC carry.
//!
//! The JSON request is read once, front to back, by a small cursor (no
//! tape, no object tree: strings are borrowed unless they hold escapes),
//! against static tables of the OTLP messages: each JSON field becomes its proto
//! field (times as fixed64, ids as raw bytes, `asInt` as sfixed64, nested
//! messages length-delimited). A message's length is known only after its
//! fields are written: one byte is reserved and the varint widened in
//! place when the message is 128 bytes or more. Every field is written
//! that the JSON holds, zero values included (they decode the same, and a
//! oneof needs its member even when empty). A field the tables do not know
//! is an error, never silently dropped: the JSON is this tool's own.

use std::borrow::Cow;

/// Why a body could not be written as protobuf (a bug, not bad input).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("the request is not JSON: {0}")]
    Json(String),
    #[error("field {field:?} of {message} has no protobuf mapping")]
    Unknown { message: &'static str, field: String },
    #[error("field {field:?} of {message}: {why}")]
    Value {
        message: &'static str,
        field: String,
        why: &'static str,
    },
}

/// How a JSON field is written.
#[derive(Clone, Copy)]
enum Kind {
    Msg(&'static Schema),
    Msgs(&'static Schema),
    Str,
    /// Lowercase hex in JSON, raw bytes in protobuf (trace and span ids).
    Hex,
    /// Base64 in JSON (`bytesValue`).
    Base64,
    Fixed64,
    Fixed32,
    SFixed64,
    Double,
    /// Enums and unsigned counts.
    Varint,
    /// `intValue`: int64, a JSON string or number.
    Int64,
    Bool,
}

struct Schema {
    name: &'static str,
    fields: &'static [(&'static str, u32, Kind)],
}

use Kind::*;

static KEY_VALUE: Schema = Schema {
    name: "KeyValue",
    fields: &[("key", 1, Str), ("value", 2, Msg(&ANY_VALUE))],
};
static ANY_VALUE: Schema = Schema {
    name: "AnyValue",
    fields: &[
        ("stringValue", 1, Str),
        ("boolValue", 2, Bool),
        ("intValue", 3, Int64),
        ("doubleValue", 4, Double),
        ("arrayValue", 5, Msg(&ARRAY_VALUE)),
        ("kvlistValue", 6, Msg(&KEY_VALUE_LIST)),
        ("bytesValue", 7, Base64),
    ],
};
static ARRAY_VALUE: Schema = Schema {
    name: "ArrayValue",
    fields: &[("values", 1, Msgs(&ANY_VALUE))],
};
static KEY_VALUE_LIST: Schema = Schema {
    name: "KeyValueList",
    fields: &[("values", 1, Msgs(&KEY_VALUE))],
};
static RESOURCE: Schema = Schema {
    name: "Resource",
    fields: &[("attributes", 1, Msgs(&KEY_VALUE)), ("droppedAttributesCount", 2, Varint)],
};
static SCOPE: Schema = Schema {
    name: "InstrumentationScope",
    fields: &[
        ("name", 1, Str),
        ("version", 2, Str),
        ("attributes", 3, Msgs(&KEY_VALUE)),
        ("droppedAttributesCount", 4, Varint),
    ],
};

static LOGS: Schema = Schema {
    name: "ExportLogsServiceRequest",
    fields: &[("resourceLogs", 1, Msgs(&RESOURCE_LOGS))],
};
static RESOURCE_LOGS: Schema = Schema {
    name: "ResourceLogs",
    fields: &[
        ("resource", 1, Msg(&RESOURCE)),
        ("scopeLogs", 2, Msgs(&SCOPE_LOGS)),
        ("schemaUrl", 3, Str),
    ],
};
static SCOPE_LOGS: Schema = Schema {
    name: "ScopeLogs",
    fields: &[
        ("scope", 1, Msg(&SCOPE)),
        ("logRecords", 2, Msgs(&LOG_RECORD)),
        ("schemaUrl", 3, Str),
    ],
};
static LOG_RECORD: Schema = Schema {
    name: "LogRecord",
    fields: &[
        ("timeUnixNano", 1, Fixed64),
        ("severityNumber", 2, Varint),
        ("severityText", 3, Str),
        ("body", 5, Msg(&ANY_VALUE)),
        ("attributes", 6, Msgs(&KEY_VALUE)),
        ("droppedAttributesCount", 7, Varint),
        ("flags", 8, Fixed32),
        ("traceId", 9, Hex),
        ("spanId", 10, Hex),
        ("observedTimeUnixNano", 11, Fixed64),
        ("eventName", 12, Str),
    ],
};

static TRACES: Schema = Schema {
    name: "ExportTraceServiceRequest",
    fields: &[("resourceSpans", 1, Msgs(&RESOURCE_SPANS))],
};
static RESOURCE_SPANS: Schema = Schema {
    name: "ResourceSpans",
    fields: &[
        ("resource", 1, Msg(&RESOURCE)),
        ("scopeSpans", 2, Msgs(&SCOPE_SPANS)),
        ("schemaUrl", 3, Str),
    ],
};
static SCOPE_SPANS: Schema = Schema {
    name: "ScopeSpans",
    fields: &[("scope", 1, Msg(&SCOPE)), ("spans", 2, Msgs(&SPAN)), ("schemaUrl", 3, Str)],
};
static SPAN: Schema = Schema {
    name: "Span",
    fields: &[
        ("traceId", 1, Hex),
        ("spanId", 2, Hex),
        ("traceState", 3, Str),
        ("parentSpanId", 4, Hex),
        ("name", 5, Str),
        ("kind", 6, Varint),
        ("startTimeUnixNano", 7, Fixed64),
        ("endTimeUnixNano", 8, Fixed64),
        ("attributes", 9, Msgs(&KEY_VALUE)),
        ("droppedAttributesCount", 10, Varint),
        ("events", 11, Msgs(&SPAN_EVENT)),
        ("droppedEventsCount", 12, Varint),
        ("links", 13, Msgs(&SPAN_LINK)),
        ("droppedLinksCount", 14, Varint),
        ("status", 15, Msg(&STATUS)),
        ("flags", 16, Fixed32),
    ],
};
static SPAN_EVENT: Schema = Schema {
    name: "Span.Event",
    fields: &[
        ("timeUnixNano", 1, Fixed64),
        ("name", 2, Str),
        ("attributes", 3, Msgs(&KEY_VALUE)),
        ("droppedAttributesCount", 4, Varint),
    ],
};
static SPAN_LINK: Schema = Schema {
    name: "Span.Link",
    fields: &[
        ("traceId", 1, Hex),
        ("spanId", 2, Hex),
        ("traceState", 3, Str),
        ("attributes", 4, Msgs(&KEY_VALUE)),
        ("droppedAttributesCount", 5, Varint),
        ("flags", 6, Fixed32),
    ],
};
static STATUS: Schema = Schema {
    name: "Status",
    fields: &[("message", 2, Str), ("code", 3, Varint)],
};

static METRICS: Schema = Schema {
    name: "ExportMetricsServiceRequest",
    fields: &[("resourceMetrics", 1, Msgs(&RESOURCE_METRICS))],
};
static RESOURCE_METRICS: Schema = Schema {
    name: "ResourceMetrics",
    fields: &[
        ("resource", 1, Msg(&RESOURCE)),
        ("scopeMetrics", 2, Msgs(&SCOPE_METRICS)),
        ("schemaUrl", 3, Str),
    ],
};
static SCOPE_METRICS: Schema = Schema {
    name: "ScopeMetrics",
    fields: &[
        ("scope", 1, Msg(&SCOPE)),
        ("metrics", 2, Msgs(&METRIC)),
        ("schemaUrl", 3, Str),
    ],
};
static METRIC: Schema = Schema {
    name: "Metric",
    fields: &[
        ("name", 1, Str),
        ("description", 2, Str),
        ("unit", 3, Str),
        ("gauge", 5, Msg(&GAUGE)),
        ("sum", 7, Msg(&SUM)),
    ],
};
static GAUGE: Schema = Schema {
    name: "Gauge",
    fields: &[("dataPoints", 1, Msgs(&NUMBER_POINT))],
};
static SUM: Schema = Schema {
    name: "Sum",
    fields: &[
        ("dataPoints", 1, Msgs(&NUMBER_POINT)),
        ("aggregationTemporality", 2, Varint),
        ("isMonotonic", 3, Bool),
    ],
};
static NUMBER_POINT: Schema = Schema {
    name: "NumberDataPoint",
    fields: &[
        ("startTimeUnixNano", 2, Fixed64),
        ("timeUnixNano", 3, Fixed64),
        ("asDouble", 4, Double),
        ("asInt", 6, SFixed64),
        ("attributes", 7, Msgs(&KEY_VALUE)),
        ("flags", 8, Varint),
    ],
};

/// The request message of a signal (`logs`, `traces`, `metrics`).
fn request(signal: &str) -> Option<&'static Schema> {
    match signal {
        "logs" => Some(&LOGS),
        "traces" => Some(&TRACES),
        "metrics" => Some(&METRICS),
        _ => None,
    }
}

/// Writes the OTLP/JSON request `json` of `signal` as protobuf into `out`
/// (cleared first).
pub fn json_to_protobuf(signal: &str, json: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
    let schema = request(signal).ok_or(CodecError::Json(format!("no signal {signal:?}")))?;
    out.clear();
    let mut cur = Cursor { b: json, i: 0 };
    fields(&mut cur, schema, out, 0)?;
    cur.ws();
    if cur.i != json.len() {
        return Err(cur.err("trailing bytes after the request"));
    }
    Ok(())
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from(field << 3 | wire));
}

/// Writes a length-delimited message whose fields `body` writes.
fn nested(
    out: &mut Vec<u8>,
    field: u32,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), CodecError>,
) -> Result<(), CodecError> {
    key(out, field, 2);
    let at = out.len();
    out.push(0);
    body(out)?;
    let len = (out.len() - at - 1) as u64;
    if len < 0x80 {
        out[at] = len as u8;
    } else {
        let mut v = Vec::with_capacity(10);
        varint(&mut v, len);
        out.splice(at..at + 1, v);
    }
    Ok(())
}

/// Nested values (arrays in arrays) deeper than this are refused.
const MAX_DEPTH: usize = 64;

/// A JSON scalar, borrowed from the request where it can be.
enum Scalar<'a> {
    Str(Cow<'a, str>),
    /// A number's text.
    Num(&'a str),
    Bool(bool),
    Null,
}

/// A cursor over one JSON document (the request this tool wrote: valid
/// JSON, but every byte is checked all the same).
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, why: &str) -> CodecError {
        CodecError::Json(format!("{why} at byte {}", self.i))
    }

    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Result<(), CodecError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), CodecError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("not JSON"))
        }
    }

    /// A string; the cursor is at its opening quote.
    fn string(&mut self) -> Result<Cow<'a, str>, CodecError> {
        self.expect(b'"')?;
        let start = self.i;
        let Some(end) = memchr::memchr2(b'"', b'\\', &self.b[start..]).map(|k| start + k) else {
            return Err(self.err("an unterminated string"));
        };
        if self.b[end] == b'"' {
            self.i = end + 1;
            let s = std::str::from_utf8(&self.b[start..end]).map_err(|_| self.err("a string that is not UTF-8"))?;
            return Ok(Cow::Borrowed(s));
        }
        // Escapes: decoded into an owned string.
        let mut bytes = self.b[start..end].to_vec();
        self.i = end;
        loop {
            match self.b.get(self.i).copied() {
                None => return Err(self.err("an unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    let c = *self.b.get(self.i + 1).ok_or_else(|| self.err("a cut escape"))?;
                    self.i += 2;
                    let simple = match c {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(8),
                        b'f' => Some(12),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return Err(self.err("a bad escape")),
                    };
                    if let Some(x) = simple {
                        bytes.push(x);
                        continue;
                    }
                    let hi = self.hex4()?;
                    let ch = if (0xD800..0xDC00).contains(&hi) && self.b[self.i..].starts_with(b"\\u") {
                        let save = self.i;
                        self.i += 2;
                        let lo = self.hex4()?;
                        if (0xDC00..0xE000).contains(&lo) {
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        } else {
                            self.i = save;
                            None
                        }
                    } else {
                        char::from_u32(hi)
                    };
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(ch.unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes());
                }
                Some(c) => {
                    bytes.push(c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(bytes).map(Cow::Owned).map_err(|_| self.err("a string that is not UTF-8"))
    }

    fn hex4(&mut self) -> Result<u32, CodecError> {
        let digits = self.b.get(self.i..self.i + 4).ok_or_else(|| self.err("a cut \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.err("a bad \\u escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.err("a bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    fn scalar(&mut self) -> Result<Scalar<'a>, CodecError> {
        match self.peek() {
            Some(b'"') => Ok(Scalar::Str(self.string()?)),
            Some(b't') => self.literal(b"true").map(|()| Scalar::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|()| Scalar::Bool(false)),
            Some(b'n') => self.literal(b"null").map(|()| Scalar::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while matches!(self.b.get(self.i), Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
                    self.i += 1;
                }
                // ASCII by construction.
                Ok(Scalar::Num(std::str::from_utf8(&self.b[start..self.i]).unwrap_or("")))
            }
            _ => Err(self.err("expected a value")),
        }
    }
}

/// Writes the fields of the JSON object at the cursor as message `schema`.
fn fields(cur: &mut Cursor<'_>, schema: &'static Schema, out: &mut Vec<u8>, depth: usize) -> Result<(), CodecError> {
    if depth > MAX_DEPTH {
        return Err(cur.err("values nested too deep"));
    }
    cur.expect(b'{')?;
    if cur.eat(b'}') {
        return Ok(());
    }
    loop {
        let name = cur.string()?;
        cur.expect(b':')?;
        let Some(&(_, number, kind)) = schema.fields.iter().find(|f| f.0 == name) else {
            return Err(CodecError::Unknown {
                message: schema.name,
                field: name.into_owned(),
            });
        };
        let bad = |why| CodecError::Value {
            message: schema.name,
            field: name.to_string(),
            why,
        };
        if cur.peek() == Some(b'n') {
            cur.literal(b"null")?;
        } else {
            match kind {
                Msg(inner) => nested(out, number, |out| fields(cur, inner, out, depth + 1))?,
                Msgs(inner) => {
                    cur.expect(b'[')?;
                    if !cur.eat(b']') {
                        loop {
                            nested(out, number, |out| fields(cur, inner, out, depth + 1))?;
                            if !cur.eat(b',') {
                                cur.expect(b']')?;
                                break;
                            }
                        }
                    }
                }
                _ => {
                    let v = cur.scalar()?;
                    scalar(out, number, kind, &v).map_err(bad)?;
                }
            }
        }
        if !cur.eat(b',') {
            return cur.expect(b'}');
        }
    }
}

/// A JSON number or decimal string as u64 / i64.
fn unsigned(v: &Scalar<'_>) -> Option<u64> {
    match v {
        Scalar::Str(s) => s.parse().ok(),
        Scalar::Num(n) => n.parse().ok().or_else(|| {
            let f: f64 = n.parse().ok()?;
            (f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64).then_some(f as u64)
        }),
        _ => None,
    }
}

fn signed(v: &Scalar<'_>) -> Option<i64> {
    match v {
        Scalar::Str(s) => s.parse().ok(),
        Scalar::Num(n) => n.parse().ok().or_else(|| {
            let f: f64 = n.parse().ok()?;
            (f.fract() == 0.0 && f.abs() < i64::MAX as f64).then_some(f as i64)
        }),
        _ => None,
    }
}

fn float(v: &Scalar<'_>) -> Option<f64> {
    match v {
        Scalar::Num(n) => n.parse().ok(),
        // OTLP/JSON writes the special values as strings.
        Scalar::Str(s) => match &**s {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            s => s.parse().ok(),
        },
        _ => None,
    }
}

fn hex(s: &str, out: &mut Vec<u8>) -> Option<()> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    for pair in b.chunks_exact(2) {
        out.push(digit(pair[0])? << 4 | digit(pair[1])?);
    }
    Some(())
}

fn base64(s: &str, out: &mut Vec<u8>) -> Option<()> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (k, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * k);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        match chunk.len() {
            4 => out.extend_from_slice(&bytes),
            3 => out.extend_from_slice(&bytes[..2]),
            2 => out.push(bytes[0]),
            _ => return None,
        }
    }
    Some(())
}

fn scalar(out: &mut Vec<u8>, number: u32, kind: Kind, node: &Scalar<'_>) -> Result<(), &'static str> {
    match kind {
        Str => {
            let Scalar::Str(s) = node else {
                return Err("expected a string");
            };
            key(out, number, 2);
            varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Hex | Base64 => {
            let Scalar::Str(s) = node else {
                return Err("expected a string");
            };
            let mut bytes = Vec::with_capacity(s.len());
            let ok = if matches!(kind, Hex) {
                hex(s, &mut bytes)
            } else {
                base64(s, &mut bytes)
            };
            ok.ok_or("not valid hex or base64")?;
            key(out, number, 2);
            varint(out, bytes.len() as u64);
            out.extend_from_slice(&bytes);
        }
        Fixed64 => {
            let v = unsigned(node).ok_or("expected an unsigned 64-bit number")?;
            key(out, number, 1);
            out.extend_from_slice(&v.to_le_bytes());
        }
        SFixed64 => {
            let v = signed(node).ok_or("expected a signed 64-bit number")?;
            key(out, number, 1);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Fixed32 => {
            let v = unsigned(node)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or("expected an unsigned 32-bit number")?;
            key(out, number, 5);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Double => {
            let v = float(node).ok_or("expected a number")?;
            key(out, number, 1);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Varint => {
            // Enums and counts; a negative enum is sign-extended, as protobuf does.
            let v = signed(node).ok_or("expected an integer")?;
            key(out, number, 0);
            varint(out, v as u64);
        }
        Int64 => {
            let v = signed(node).ok_or("expected a 64-bit integer")?;
            key(out, number, 0);
            varint(out, v as u64);
        }
        Bool => {
            let Scalar::Bool(b) = node else {
                return Err("expected a boolean");
            };
            key(out, number, 0);
            out.push(u8::from(*b));
        }
        Msg(_) | Msgs(_) => return Err("a message is not a scalar"),
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pb(signal: &str, json: &str) -> Vec<u8> {
        let mut out = Vec::new();
        json_to_protobuf(signal, json.as_bytes(), &mut out).unwrap();
        out
    }

    #[test]
    fn a_log_record_is_written_as_the_wire_format_with_literal_bytes() {
        let out = pb(
            "logs",
            r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"k","value":{"stringValue":"v"}}]},
            "scopeLogs":[{"scope":{"name":"s"},"logRecords":[{"timeUnixNano":"1","severityNumber":9,
            "body":{"stringValue":""},"traceId":"0a0b"}]}]}]}"#,
        );
        // resourceLogs(1) { resource(1) { attributes(1) { key "k", value { stringValue "v" } } },
        //   scopeLogs(2) { scope(1) { name "s" }, logRecords(2) { time fixed64 1, severity 9,
        //   body { stringValue "" }, traceId 0a0b } } }
        let want: Vec<u8> = vec![
            0x0a, 40, // ResourceLogs
            0x0a, 10, 0x0a, 8, 0x0a, 1, b'k', 0x12, 3, 0x0a, 1, b'v', // Resource
            0x12, 26, // ScopeLogs
            0x0a, 3, 0x0a, 1, b's', // scope
            0x12, 19, // LogRecord
            0x09, 1, 0, 0, 0, 0, 0, 0, 0, // timeUnixNano
            0x10, 9, // severityNumber
            0x2a, 2, 0x0a, 0, // body: an empty string is still set
            0x4a, 2, 0x0a, 0x0b, // traceId
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn as_int_is_sfixed64_and_as_double_a_double() {
        let out = pb(
            "metrics",
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[
            {"timeUnixNano":"2","asInt":"-1"},{"asDouble":0.5}],"aggregationTemporality":1,"isMonotonic":true}}]}]}]}"#,
        );
        let minus_one = (-1i64).to_le_bytes();
        assert!(out.windows(9).any(|w| w[0] == 0x31 && w[1..] == minus_one), "{out:02x?}");
        let half = 0.5f64.to_le_bytes();
        assert!(out.windows(9).any(|w| w[0] == 0x21 && w[1..] == half), "{out:02x?}");
    }

    #[test]
    fn a_message_of_128_bytes_or_more_gets_a_wider_length() {
        let long = "x".repeat(300);
        let out = pb(
            "logs",
            &format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"scope":{{"name":"{long}"}}}}]}}]}}"#),
        );
        // ResourceLogs { ScopeLogs { scope { name: 300 bytes } } }: lengths 309, 306, 303.
        assert_eq!(&out[..3], &[0x0a, 0xb5, 0x02]);
        assert_eq!(out.len(), 3 + 309);
    }

    #[test]
    fn escapes_and_surrogate_pairs_are_decoded_and_a_lone_surrogate_replaced() {
        let out = pb(
            "logs",
            r#"{"resourceLogs":[{"scopeLogs":[{"scope":{"name":"a\"b\\c\n\u00e9\ud83d\ude00\ud800x"}}]}]}"#,
        );
        let name = "a\"b\\c\né😀\u{FFFD}x".as_bytes();
        assert!(out.ends_with(name), "{out:02x?}");
        assert_eq!(out[out.len() - name.len() - 1] as usize, name.len());
    }

    #[test]
    fn malformed_or_trailing_json_is_an_error_never_a_panic() {
        let mut o = Vec::new();
        for bad in [
            &b"{"[..],
            b"",
            br#"{"resourceLogs":[}"#,
            br#"{"resourceLogs":[]} x"#,
            br#"{"resourceLogs":[{"scopeLogs":[{"scope":{"name":"\u12"}}]}]}"#,
            br#"{"resourceLogs":[{"scopeLogs":[{"scope":{"name":"cut"#,
        ] {
            assert!(json_to_protobuf("logs", bad, &mut o).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = format!(
            r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{}"x"{}}}]}}]}}]}}"#,
            r#"{"arrayValue":{"values":[{"arrayValue":{"values":["#.repeat(40),
            "]}}]}}".repeat(40)
        );
        assert!(json_to_protobuf("logs", deep.as_bytes(), &mut o).is_err());
    }

    #[test]
    fn an_unknown_field_is_an_error_not_a_loss() {
        let mut o = Vec::new();
        let e = json_to_protobuf("logs", br#"{"resourceLogs":[{"bogus":1}]}"#, &mut o).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
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
    }
}
