//! One input line -> a borrowed [`Row`] or header (SPEC §2, §7.1).
//!
//! simd-json parses the line in place into a tape (a flat list of nodes whose
//! strings borrow from the line buffer); this module walks that tape once,
//! accepting both key styles (snake_case and camelCase, §2.3), and checks
//! every field's type so that encoders never see a malformed value.
//! `properties` and `measurements` stay slices of the tape: no allocation,
//! and input order is kept. Every refusal is a [`RowError`] whose text names
//! the field and what was wrong with it.

use simd_json::{Node, StaticNode};

use crate::model::Num;
use crate::timestamp::{parse_rfc3339_nanos, TimestampError};

/// The highest header `schema_version` this exporter reads (§2.3).
pub const SUPPORTED_SCHEMA_VERSION: u64 = 1;

/// The eight header context fields, snake_case, in output order (§2.1, §5.2).
pub const CONTEXT_KEYS: [&str; 8] = [
    "extension_version",
    "machine_id",
    "session_id",
    "os_type",
    "os_version",
    "host_arch",
    "platform_name",
    "platform_version",
];
const CONTEXT_KEYS_CAMEL: [&str; 8] = [
    "extensionVersion",
    "machineId",
    "sessionId",
    "osType",
    "osVersion",
    "hostArch",
    "platformName",
    "platformVersion",
];

/// A context object: the eight header fields and the deployment URL.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Context<'a> {
    pub extension_version: Option<&'a str>,
    pub machine_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub os_type: Option<&'a str>,
    pub os_version: Option<&'a str>,
    pub host_arch: Option<&'a str>,
    pub platform_name: Option<&'a str>,
    pub platform_version: Option<&'a str>,
    pub deployment_url: Option<&'a str>,
}

impl<'a> Context<'a> {
    /// The eight header fields in [`CONTEXT_KEYS`] order.
    pub fn fields(&self) -> [Option<&'a str>; 8] {
        [
            self.extension_version,
            self.machine_id,
            self.session_id,
            self.os_type,
            self.os_version,
            self.host_arch,
            self.platform_name,
            self.platform_version,
        ]
    }

    /// The field at [`CONTEXT_KEYS`] position `i`.
    fn slot(&mut self, i: usize) -> Option<&mut Option<&'a str>> {
        Some(match i {
            0 => &mut self.extension_version,
            1 => &mut self.machine_id,
            2 => &mut self.session_id,
            3 => &mut self.os_type,
            4 => &mut self.os_version,
            5 => &mut self.host_arch,
            6 => &mut self.platform_name,
            7 => &mut self.platform_version,
            _ => return None,
        })
    }

    /// This context with the fields `over` has replacing this one's.
    pub fn overridden_by(mut self, over: &Context<'a>) -> Self {
        for (i, v) in over.fields().into_iter().enumerate() {
            if let (Some(v), Some(slot)) = (v, self.slot(i)) {
                *slot = Some(v);
            }
        }
        self.deployment_url = over.deployment_url.or(self.deployment_url);
        self
    }
}

/// A scalar property or error-code value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar<'a> {
    Str(&'a str),
    Num(Num),
    Bool(bool),
}

/// The `error` object of a row.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ErrorInfo<'a> {
    pub message: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub code: Option<Scalar<'a>>,
}

/// An object already checked to hold only scalar values: key and value nodes
/// alternate, two nodes per entry, in input order.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pairs<'t>(&'t [Node<'t>]);

impl<'t> Pairs<'t> {
    /// Property entries: values are strings, numbers or booleans.
    pub fn props(&self) -> impl Iterator<Item = (&'t str, Scalar<'t>)> + 't {
        self.0.chunks_exact(2).map(|kv| (key_of(&kv[0]), scalar_of(&kv[1])))
    }

    /// Measurement entries: `None` is a `null` (how JavaScript writes NaN and
    /// Infinity), which has no finite value.
    pub fn measures(&self) -> impl Iterator<Item = (&'t str, Option<Num>)> + 't {
        self.0.chunks_exact(2).map(|kv| (key_of(&kv[0]), num_of(&kv[1])))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.chunks_exact(2).any(|kv| key_of(&kv[0]) == key)
    }
}

fn key_of<'t>(n: &Node<'t>) -> &'t str {
    match n {
        Node::String(s) => s,
        _ => "",
    }
}

fn scalar_of<'t>(n: &Node<'t>) -> Scalar<'t> {
    match *n {
        Node::String(s) => Scalar::Str(s),
        Node::Static(StaticNode::Bool(b)) => Scalar::Bool(b),
        Node::Static(s) => Scalar::Num(static_num(s).unwrap_or(Num::Float(f64::NAN))),
        _ => Scalar::Str(""),
    }
}

fn num_of(n: &Node<'_>) -> Option<Num> {
    match *n {
        Node::Static(s) => static_num(s),
        _ => None,
    }
}

fn static_num(s: StaticNode) -> Option<Num> {
    match s {
        StaticNode::I64(v) => Some(Num::Int(v)),
        StaticNode::U64(v) => Some(Num::UInt(v)),
        StaticNode::F64(v) => Some(Num::Float(v)),
        _ => None,
    }
}

/// A line's bytes as read, kept beside its parse, so that an encoder may
/// copy a run of it instead of writing it again (`encode::json`). Each
/// string of the row lies where its token began in the bytes that were
/// parsed (which began at address `parsed_at`): a copy of the line, whose
/// strings with escapes simd-json wrote over with their unescaped text,
/// or, for a plain line (`crate::tape`), the line itself.
#[derive(Clone, Copy, Debug)]
pub struct RawLine<'a> {
    pub bytes: &'a [u8],
    pub parsed_at: usize,
    /// Where the line's `\` are, when it has one (some string may then
    /// differ from its token): the first, and one past the last.
    pub escapes: Option<(usize, usize)>,
}

impl RawLine<'_> {
    /// The span of `line` from its first `\` to past its last, if any.
    pub fn escape_span(line: &[u8]) -> Option<(usize, usize)> {
        let first = memchr::memchr(b'\\', line)?;
        let last = memchr::memrchr(b'\\', line).unwrap_or(first);
        Some((first, last + 1))
    }

    /// Whether `s`, a string of this line's row, is the whole content of
    /// the string token at byte `offset - 1` of the line, as it stands (no
    /// escape in it).
    #[inline]
    pub fn holds_at(&self, s: &str, offset: usize) -> bool {
        let end = offset + s.len();
        s.as_ptr() as usize == self.parsed_at.wrapping_add(offset)
            && offset > 0
            && self.bytes.get(offset - 1) == Some(&b'"')
            && self.bytes.get(end) == Some(&b'"')
            // Without a `\` the token ends at the first `"`, which is at `end`.
            && !matches!(self.escapes, Some((first, last))
                if offset < last && first < end && memchr::memchr(b'\\', &self.bytes[offset..end]).is_some())
    }
}

/// One event row, borrowed from the line buffer and its tape.
#[derive(Clone, Copy, Debug)]
pub struct Row<'t> {
    pub event_id: Option<&'t str>,
    pub event_name: &'t str,
    /// The timestamp string exactly as read.
    pub timestamp: &'t str,
    /// The timestamp in UTC nanoseconds since the epoch.
    pub time_nanos: i64,
    pub event_sequence: Option<Num>,
    /// `None` when the row has no `properties` (or it is `null`).
    pub properties: Option<Pairs<'t>>,
    pub measurements: Option<Pairs<'t>>,
    pub trace_id: Option<&'t str>,
    pub parent_event_id: Option<&'t str>,
    pub error: Option<ErrorInfo<'t>>,
    /// The row's own top-level `deployment_url` (v1).
    pub deployment_url: Option<&'t str>,
    pub schema_version: Option<u64>,
    /// The row's inline `context` (v0).
    pub context: Option<Context<'t>>,
}

impl<'t> Row<'t> {
    /// Properties, empty when absent.
    pub fn props(&self) -> Pairs<'t> {
        self.properties.unwrap_or_default()
    }

    /// Measurements, empty when absent.
    pub fn measures(&self) -> Pairs<'t> {
        self.measurements.unwrap_or_default()
    }

    /// The value of measurement `key`, if the row has it (`Some(None)` for `null`).
    pub fn measurement(&self, key: &str) -> Option<Option<Num>> {
        self.measures().measures().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The value of property `key`, if the row has it.
    pub fn property(&self, key: &str) -> Option<Scalar<'t>> {
        self.props().props().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// A `{"kind":"header",...}` line.
#[derive(Clone, Copy, Debug)]
pub struct HeaderRow<'t> {
    pub schema_version: u64,
    pub context: Context<'t>,
}

/// What one non-blank line holds. Lives on the stack for one line only, so
/// the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug)]
pub enum Line<'t> {
    Header(HeaderRow<'t>),
    Event(Row<'t>),
}

/// Why a line was skipped (§7.1). The text is what the user reads after `FILE:LINE: `.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RowError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("truncated last line (no newline at end of file and incomplete JSON)")]
    Truncated,
    #[error("truncated line: the JSON ends before its object is complete")]
    TruncatedLine,
    #[error("the line is longer than --max-line-bytes ({0} bytes); skipped without reading it")]
    TooLong(usize),
    #[error("not a JSON object (found {0})")]
    NotObject(&'static str),
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("{field} is {found}, expected {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("invalid timestamp {value:?}: {why}")]
    BadTimestamp { value: String, why: TimestampError },
    #[error("unknown kind {0:?} (expected \"header\" or an event row)")]
    UnknownKind(String),
    #[error("span has an invalid {field} {value:?} (expected {digits} hex digits, not all zero)")]
    BadSpanId {
        field: &'static str,
        value: String,
        digits: usize,
    },
    #[error("event row before the file header (no header line and no inline context)")]
    NoContext,
    #[error("second header line in the file")]
    SecondHeader,
    #[error("header line is not the first line of the file")]
    LateHeader,
}

impl RowError {
    /// The reason without the line's particulars (column, value, field of
    /// the properties), for tallies of skipped lines by reason: a few
    /// dozen kinds at most, whatever the input.
    pub fn kind(&self) -> std::borrow::Cow<'static, str> {
        use std::borrow::Cow;
        match self {
            RowError::Json(why) if why.starts_with("the line is not valid UTF-8") => Cow::Borrowed("invalid UTF-8"),
            RowError::Json(_) => Cow::Borrowed("invalid JSON"),
            RowError::Truncated => Cow::Borrowed("truncated last line"),
            RowError::TruncatedLine => Cow::Borrowed("truncated line"),
            RowError::TooLong(_) => Cow::Borrowed("line longer than --max-line-bytes"),
            RowError::NotObject(_) => Cow::Borrowed("not a JSON object"),
            RowError::Missing(field) => Cow::Owned(format!("missing {field}")),
            RowError::WrongType { .. } => Cow::Borrowed("wrongly typed field"),
            RowError::Empty(field) => Cow::Owned(format!("empty {field}")),
            RowError::BadTimestamp { .. } => Cow::Borrowed("invalid timestamp"),
            RowError::UnknownKind(_) => Cow::Borrowed("unknown kind"),
            RowError::BadSpanId { field, .. } => Cow::Owned(format!("invalid span {field}")),
            RowError::NoContext => Cow::Borrowed("event row before the file header"),
            RowError::SecondHeader => Cow::Borrowed("second header line"),
            RowError::LateHeader => Cow::Borrowed("header line not first"),
        }
    }
}

fn type_name(n: &Node<'_>) -> &'static str {
    match n {
        Node::String(_) => "a string",
        Node::Object { .. } => "an object",
        Node::Array { .. } => "an array",
        Node::Static(StaticNode::Null) => "null",
        Node::Static(StaticNode::Bool(_)) => "a boolean",
        Node::Static(_) => "a number",
    }
}

fn wrong(field: &str, expected: &'static str, n: &Node<'_>) -> RowError {
    RowError::WrongType {
        field: field.to_string(),
        expected,
        found: type_name(n),
    }
}

/// Index of the node after the value starting at `i`.
#[inline]
fn skip(nodes: &[Node<'_>], i: usize) -> usize {
    match nodes[i] {
        Node::Object { count, .. } | Node::Array { count, .. } => i + 1 + count,
        _ => i + 1,
    }
}

#[inline]
fn is_null(n: &Node<'_>) -> bool {
    matches!(n, Node::Static(StaticNode::Null))
}

/// A string field; `null` counts as absent.
#[inline]
fn opt_str<'t>(field: &str, n: &Node<'t>) -> Result<Option<&'t str>, RowError> {
    match *n {
        Node::String(s) => Ok(Some(s)),
        Node::Static(StaticNode::Null) => Ok(None),
        _ => Err(wrong(field, "a string", n)),
    }
}

/// An object of scalars (`props`) or numbers (`!props`); `null` counts as absent.
fn pairs<'t>(field: &str, nodes: &'t [Node<'t>], i: usize, props: bool) -> Result<Option<Pairs<'t>>, RowError> {
    match nodes[i] {
        Node::Object { count, .. } => {
            let body = &nodes[i + 1..i + 1 + count];
            for kv in body.chunks(2) {
                let v = kv.get(1).unwrap_or(&kv[0]);
                let ok = match v {
                    Node::String(_) => props,
                    Node::Static(StaticNode::Bool(_)) => props,
                    // null measurements are JavaScript's NaN/Infinity; kept as "no value".
                    Node::Static(StaticNode::Null) => !props,
                    Node::Static(_) => true,
                    _ => false,
                };
                // A nested value makes the slice longer than two nodes per entry.
                if !ok || kv.len() != 2 {
                    let key = format!("{field}.{}", key_of(&kv[0]));
                    let expected = if props {
                        "a string, number or boolean"
                    } else {
                        "a number"
                    };
                    return Err(wrong(&key, expected, v));
                }
            }
            Ok(Some(Pairs(body)))
        }
        Node::Static(StaticNode::Null) => Ok(None),
        ref n => Err(wrong(field, "an object", n)),
    }
}

fn context<'t>(field: &str, nodes: &'t [Node<'t>], i: usize) -> Result<Context<'t>, RowError> {
    let Node::Object { len, .. } = nodes[i] else {
        return Err(wrong(field, "an object", &nodes[i]));
    };
    let mut c = Context::default();
    let mut j = i + 1;
    for _ in 0..len {
        let k = key_of(&nodes[j]);
        let v = j + 1;
        if let Some(slot) = context_slot(k).and_then(|i| c.slot(i)) {
            *slot = opt_str(k, &nodes[v])?;
        } else if k == "deployment_url" || k == "deploymentUrl" {
            c.deployment_url = opt_str(k, &nodes[v])?;
        }
        j = skip(nodes, v);
    }
    Ok(c)
}

fn context_slot(k: &str) -> Option<usize> {
    CONTEXT_KEYS
        .iter()
        .position(|c| *c == k)
        .or_else(|| CONTEXT_KEYS_CAMEL.iter().position(|c| *c == k))
}

fn error_info<'t>(nodes: &'t [Node<'t>], i: usize) -> Result<Option<ErrorInfo<'t>>, RowError> {
    let len = match nodes[i] {
        Node::Object { len, .. } => len,
        Node::Static(StaticNode::Null) => return Ok(None),
        ref n => return Err(wrong("error", "an object", n)),
    };
    let mut e = ErrorInfo::default();
    let mut j = i + 1;
    for _ in 0..len {
        let k = key_of(&nodes[j]);
        let v = j + 1;
        match k {
            "message" => e.message = opt_str("error.message", &nodes[v])?,
            "type" => e.kind = opt_str("error.type", &nodes[v])?,
            "code" => {
                e.code = match nodes[v] {
                    Node::String(s) => Some(Scalar::Str(s)),
                    Node::Static(StaticNode::Null) => None,
                    Node::Static(StaticNode::Bool(_)) => {
                        return Err(wrong("error.code", "a string or number", &nodes[v]))
                    }
                    Node::Static(s) => static_num(s).map(Scalar::Num),
                    ref n => return Err(wrong("error.code", "a string or number", n)),
                }
            }
            _ => {}
        }
        j = skip(nodes, v);
    }
    Ok(Some(e))
}

fn schema_version(field: &str, n: &Node<'_>) -> Result<Option<u64>, RowError> {
    match *n {
        Node::Static(StaticNode::U64(v)) => Ok(Some(v)),
        Node::Static(StaticNode::I64(v)) if v >= 0 => Ok(Some(v as u64)),
        Node::Static(StaticNode::Null) => Ok(None),
        _ => Err(wrong(field, "a non-negative integer", n)),
    }
}

/// Walks a parsed line's tape into a [`Line`].
pub fn parse_tape<'t>(nodes: &'t [Node<'t>]) -> Result<Line<'t>, RowError> {
    let Some(Node::Object { len, .. }) = nodes.first() else {
        return Err(RowError::NotObject(nodes.first().map_or("nothing", type_name)));
    };
    let mut kind = None;
    let mut event_id = None;
    let mut event_name = None;
    let mut timestamp = None;
    let mut event_sequence = None;
    let mut properties = None;
    let mut measurements = None;
    let mut trace_id = None;
    let mut parent_event_id = None;
    let mut error = None;
    let mut deployment_url = None;
    let mut schema = None;
    let mut ctx = None;

    let mut i = 1;
    for _ in 0..*len {
        let k = key_of(&nodes[i]);
        let v = i + 1;
        let n = &nodes[v];
        match k {
            "event_name" | "eventName" => event_name = opt_str(k, n)?,
            "timestamp" => timestamp = opt_str(k, n)?,
            "event_id" | "eventId" => event_id = opt_str(k, n)?,
            "properties" => properties = pairs(k, nodes, v, true)?,
            "measurements" => measurements = pairs(k, nodes, v, false)?,
            "event_sequence" | "eventSequence" => {
                event_sequence = match *n {
                    Node::Static(StaticNode::Null) => None,
                    Node::Static(s) => Some(static_num(s).ok_or_else(|| wrong(k, "a number", n))?),
                    _ => return Err(wrong(k, "a number", n)),
                }
            }
            "trace_id" | "traceId" => trace_id = opt_str(k, n)?,
            "parent_event_id" | "parentEventId" => parent_event_id = opt_str(k, n)?,
            "error" => error = error_info(nodes, v)?,
            "deployment_url" | "deploymentUrl" => deployment_url = opt_str(k, n)?,
            "schema_version" | "schemaVersion" => schema = schema_version(k, n)?,
            "context" => {
                ctx = if is_null(n) { None } else { Some(context(k, nodes, v)?) };
            }
            "kind" => kind = opt_str(k, n)?,
            _ => {}
        }
        i = skip(nodes, v);
    }

    match kind {
        Some("header") => {
            return Ok(Line::Header(HeaderRow {
                schema_version: schema.unwrap_or(0),
                context: ctx.unwrap_or_default(),
            }))
        }
        None | Some("event") => {}
        Some(other) => return Err(RowError::UnknownKind(other.to_string())),
    }

    let event_name = event_name.ok_or(RowError::Missing("event_name"))?;
    if event_name.is_empty() {
        return Err(RowError::Empty("event_name"));
    }
    let timestamp = timestamp.ok_or(RowError::Missing("timestamp"))?;
    let time_nanos = parse_rfc3339_nanos(timestamp).map_err(|why| RowError::BadTimestamp {
        value: timestamp.to_string(),
        why,
    })?;
    Ok(Line::Event(Row {
        event_id,
        event_name,
        timestamp,
        time_nanos,
        event_sequence,
        properties,
        measurements,
        trace_id,
        parent_event_id,
        error,
        deployment_url,
        schema_version: schema,
        context: ctx,
    }))
}

/// Rewrites lone UTF-16 surrogate escapes (`\ud800` without its pair) to
/// `\ufffd` in place, same length, so the parser accepts the line (§7.4).
/// Returns whether anything was rewritten.
pub fn fix_lone_surrogates(line: &mut [u8]) -> bool {
    // Fast exit: no `\uD...` escape at all (the common case). The finder is
    // built once; building it per line costs more than the search.
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\\u"));
    if !FINDER
        .find_iter(line)
        .any(|p| matches!(line.get(p + 2), Some(b'd' | b'D')))
    {
        return false;
    }
    // Exactly four hex digits (`from_str_radix` alone would accept a sign).
    let hex4 = |b: &[u8], at: usize| -> Option<u32> {
        let digits = b.get(at..at + 4)?;
        digits
            .iter()
            .try_fold(0u32, |acc, &d| Some(acc * 16 + (d as char).to_digit(16)?))
    };
    let mut changed = false;
    let mut i = 0;
    while let Some(off) = line.get(i..).and_then(|rest| memchr::memchr(b'\\', rest)) {
        let p = i + off;
        if line.get(p + 1) != Some(&b'u') {
            i = p + 2; // a two-character escape such as \\ or \"
            continue;
        }
        let Some(v) = hex4(line, p + 2) else {
            i = p + 2;
            continue;
        };
        let paired = (0xD800..=0xDBFF).contains(&v)
            && line.get(p + 6) == Some(&b'\\')
            && line.get(p + 7) == Some(&b'u')
            && hex4(line, p + 8).is_some_and(|w| (0xDC00..=0xDFFF).contains(&w));
        if paired {
            i = p + 12;
        } else if (0xD800..=0xDFFF).contains(&v) {
            line[p + 2..p + 6].copy_from_slice(b"fffd");
            changed = true;
            i = p + 6;
        } else {
            i = p + 6;
        }
    }
    changed
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses `text` with the same simd-json call the pipeline uses.
    pub(crate) fn with_line<R>(text: &str, f: impl FnOnce(Result<Line<'_>, RowError>) -> R) -> R {
        let mut buf = text.as_bytes().to_vec();
        fix_lone_surrogates(&mut buf);
        let len = buf.len();
        buf.resize(len + simd_json::INPUT_PADDING, 0);
        let mut buffers = simd_json::Buffers::new(len);
        let mut tape = simd_json::Tape::null();
        match simd_json::fill_tape_padded(&mut buf, len, &mut buffers, &mut tape) {
            Ok(()) => f(parse_tape(&tape.0)),
            Err(e) => f(Err(RowError::Json(e.to_string()))),
        }
    }

    fn event<R>(text: &str, f: impl FnOnce(&Row<'_>) -> R) -> R {
        with_line(text, |l| match l {
            Ok(Line::Event(r)) => f(&r),
            other => panic!("expected an event, got {other:?}"),
        })
    }

    fn error(text: &str) -> String {
        with_line(text, |l| match l {
            Err(e) => e.to_string(),
            Ok(other) => panic!("expected an error, got {other:?}"),
        })
    }

    const V1: &str = r#"{"event_id":"a1b2c3d4e5f60718","event_name":"remote.ssh.connect","timestamp":"2026-11-20T10:00:00.5Z","event_sequence":7,"properties":{"result":"success","port":22,"tls":true},"measurements":{"durationMs":12.5,"n":3},"trace_id":"0123456789ABCDEF0123456789abcdef","parent_event_id":"1111111111111111","error":{"message":"boom","type":"Error","code":"ECONN"},"deployment_url":"https://coder.example.com","schema_version":1,"extra":{"ignored":[1,2,{"x":1}]}}"#;

    #[test]
    fn parses_a_full_v1_row() {
        event(V1, |r| {
            assert_eq!(r.event_id, Some("a1b2c3d4e5f60718"));
            assert_eq!(r.event_name, "remote.ssh.connect");
            assert_eq!(r.timestamp, "2026-11-20T10:00:00.5Z");
            assert_eq!(r.event_sequence, Some(Num::UInt(7)));
            let props: Vec<_> = r.props().props().collect();
            assert_eq!(
                props,
                vec![
                    ("result", Scalar::Str("success")),
                    ("port", Scalar::Num(Num::UInt(22))),
                    ("tls", Scalar::Bool(true))
                ]
            );
            let m: Vec<_> = r.measures().measures().collect();
            assert_eq!(
                m,
                vec![("durationMs", Some(Num::Float(12.5))), ("n", Some(Num::UInt(3)))]
            );
            assert_eq!(r.trace_id, Some("0123456789ABCDEF0123456789abcdef"));
            assert_eq!(r.error.unwrap().code, Some(Scalar::Str("ECONN")));
            assert_eq!(r.deployment_url, Some("https://coder.example.com"));
            assert_eq!(r.schema_version, Some(1));
            assert!(r.context.is_none());
        });
    }

    #[test]
    fn parses_camel_case_and_inline_context() {
        let line = r#"{"eventId":"a1","eventName":"x.y","timestamp":"2026-11-20T10:00:00Z","eventSequence":1,"traceId":"t","parentEventId":"p","context":{"extensionVersion":"1.2.3","machineId":"m","sessionId":"s","osType":"linux","osVersion":"6","hostArch":"x64","platformName":"VS Code","platformVersion":"1.95","deploymentUrl":"https://d"},"properties":{"someKey":"v"}}"#;
        event(line, |r| {
            assert_eq!(r.event_id, Some("a1"));
            assert_eq!(r.trace_id, Some("t"));
            assert_eq!(r.parent_event_id, Some("p"));
            let c = r.context.unwrap();
            assert_eq!(c.extension_version, Some("1.2.3"));
            assert_eq!(c.platform_version, Some("1.95"));
            assert_eq!(c.deployment_url, Some("https://d"));
            // Keys inside properties are the caller's and are not renamed.
            assert!(r.props().contains_key("someKey"));
        });
    }

    #[test]
    fn parses_a_header() {
        let line = r#"{"kind":"header","schema_version":1,"timestamp":"2026-11-20T10:00:00Z","context":{"session_id":"s1","os_type":"darwin"}}"#;
        with_line(line, |l| match l {
            Ok(Line::Header(h)) => {
                assert_eq!(h.schema_version, 1);
                assert_eq!(h.context.session_id, Some("s1"));
                assert_eq!(h.context.os_type, Some("darwin"));
            }
            other => panic!("{other:?}"),
        });
    }

    #[test]
    fn nulls_in_optional_fields_count_as_absent() {
        let line = r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","trace_id":null,"error":null,"properties":null,"measurements":{"x":null}}"#;
        event(line, |r| {
            assert!(r.trace_id.is_none() && r.error.is_none() && r.properties.is_none());
            assert_eq!(r.measures().measures().collect::<Vec<_>>(), vec![("x", None)]);
        });
    }

    #[test]
    fn reports_each_kind_of_bad_row() {
        assert!(error("{not json").starts_with("invalid JSON"));
        assert_eq!(error("[1,2]"), "not a JSON object (found an array)");
        assert_eq!(error("42"), "not a JSON object (found a number)");
        assert_eq!(error(r#"{"timestamp":"2026-11-20T10:00:00Z"}"#), "missing event_name");
        assert_eq!(error(r#"{"event_name":"a"}"#), "missing timestamp");
        assert_eq!(
            error(r#"{"event_name":"","timestamp":"2026-11-20T10:00:00Z"}"#),
            "event_name is empty"
        );
        assert_eq!(
            error(r#"{"event_name":"a","timestamp":"yesterday"}"#),
            "invalid timestamp \"yesterday\": not RFC 3339 (expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM))"
        );
        assert_eq!(
            error(r#"{"event_name":5,"timestamp":"2026-11-20T10:00:00Z"}"#),
            "event_name is a number, expected a string"
        );
        assert_eq!(
            error(r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","properties":{"k":{"x":1}}}"#),
            "properties.k is an object, expected a string, number or boolean"
        );
        assert_eq!(
            error(r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","properties":{"k":null}}"#),
            "properties.k is null, expected a string, number or boolean"
        );
        assert_eq!(
            error(r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","measurements":{"k":"12"}}"#),
            "measurements.k is a string, expected a number"
        );
        assert_eq!(
            error(r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","measurements":[1]}"#),
            "measurements is an array, expected an object"
        );
        assert_eq!(
            error(r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","eventSequence":"1"}"#),
            "eventSequence is a string, expected a number"
        );
        assert_eq!(
            error(r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","error":"boom"}"#),
            "error is a string, expected an object"
        );
        assert_eq!(
            error(r#"{"kind":"footer","event_name":"a","timestamp":"2026-11-20T10:00:00Z"}"#),
            "unknown kind \"footer\" (expected \"header\" or an event row)"
        );
        assert_eq!(
            error(r#"{"kind":"header","schema_version":"1"}"#),
            "schema_version is a string, expected a non-negative integer"
        );
    }

    #[test]
    fn big_integers_become_doubles() {
        event(
            r#"{"event_name":"a","timestamp":"2026-11-20T10:00:00Z","measurements":{"big":123456789012345678901234567890}}"#,
            |r| match r.measures().measures().next() {
                Some(("big", Some(Num::Float(v)))) => {
                    assert!((v - 1.2345678901234568e29).abs() < 1e15)
                }
                other => panic!("{other:?}"),
            },
        );
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let line = r#"{"event_name":"a\ud800b","timestamp":"2026-11-20T10:00:00Z","properties":{"k":"\udc00","pair":"\ud83d\ude00","esc":"\\ud800"}}"#;
        event(line, |r| {
            assert_eq!(r.event_name, "a\u{fffd}b");
            let p: Vec<_> = r.props().props().collect();
            assert_eq!(p[0].1, Scalar::Str("\u{fffd}"));
            assert_eq!(p[1].1, Scalar::Str("😀"));
            assert_eq!(p[2].1, Scalar::Str("\\ud800"));
        });
    }

    #[test]
    fn trailing_high_surrogate_at_end_of_string() {
        event(r#"{"event_name":"x\uD834","timestamp":"2026-11-20T10:00:00Z"}"#, |r| {
            assert_eq!(r.event_name, "x\u{fffd}")
        });
    }

    #[test]
    fn backslash_at_the_end_of_a_line_does_not_panic() {
        // Found by the fuzzer: a `\uD` escape, then a backslash as the last byte.
        let mut line = b"}\x005\x06\\\x00\\uD\xff\\5".to_vec();
        assert!(!fix_lone_surrogates(&mut line));
        let mut line = br#""\ud800\"#.to_vec();
        assert!(fix_lone_surrogates(&mut line));
        assert_eq!(&line, br#""\ufffd\"#);
        let mut line = br#""\u+800 \ud+00""#.to_vec();
        assert!(!fix_lone_surrogates(&mut line), "not hex escapes");
    }

}
