//! The worker's loop over one chunk: split lines (memchr), parse (simd-json,
//! in place), resolve context, route, filter by range, and hand each event to
//! a sink that encodes it. Problems are collected with chunk-relative line
//! numbers; the ordered stage turns them into file line numbers.

use simd_json::{Buffers, Tape};

use super::chunk::{line_at, ChunkBuf, FilePlan};
use crate::encode::Event;
use crate::range::DateRange;
use crate::route::{check_span_ids, route, MetricEvents, Signal};
use crate::row::{parse_tape, Line, RowError};

/// What the workers need to know about the export.
#[derive(Clone, Copy)]
pub struct ParseOptions<'a> {
    pub range: &'a DateRange,
    pub metrics: &'a MetricEvents,
}

/// Receives each exported event; returns (points written, values dropped)
/// for metric events, (0, 0) otherwise.
pub trait EventSink {
    fn event(&mut self, plan: &FilePlan, ev: &Event<'_>, signal: Signal) -> (u64, u64);
}

/// Event counts of a chunk, or of a whole export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Valid events in range (exported).
    pub events: u64,
    pub logs: u64,
    pub spans: u64,
    pub metric_events: u64,
    pub metric_points: u64,
    /// Metric measurements dropped for having no finite value.
    pub dropped_values: u64,
    /// Valid events of selected files whose timestamp is outside the range.
    pub out_of_range: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.events += o.events;
        self.logs += o.logs;
        self.spans += o.spans;
        self.metric_events += o.metric_events;
        self.metric_points += o.metric_points;
        self.dropped_values += o.dropped_values;
        self.out_of_range += o.out_of_range;
    }
}

/// What a chunk produced besides records.
#[derive(Debug, Default)]
pub struct ChunkReport {
    /// Lines whose first byte lies in the chunk.
    pub lines: u64,
    /// (chunk-relative line index, reason).
    pub problems: Vec<(u64, RowError)>,
    pub counts: Counts,
    /// Bytes of the job's range (for progress).
    pub bytes: u64,
}

/// A worker's reusable parser state.
pub struct Parser {
    tape: Option<Tape<'static>>,
    buffers: Buffers,
}

impl Default for Parser {
    fn default() -> Self {
        Self {
            tape: Some(Tape::null().reset()),
            buffers: Buffers::new(64 * 1024),
        }
    }
}

impl Parser {
    /// Processes every line `chunk` owns.
    pub fn process<S: EventSink>(
        &mut self,
        plan: &FilePlan,
        chunk: &mut ChunkBuf,
        opts: ParseOptions<'_>,
        sink: &mut S,
    ) -> ChunkReport {
        let mut report = ChunkReport::default();
        let mut pos = chunk.first;
        let mut index = 0;
        while pos < chunk.limit && pos < chunk.len {
            let (a, b, next) = line_at(chunk, pos);
            let line = index;
            index += 1;
            let is_header = plan.header_offset == Some(chunk.base + pos as u64);
            if a != b && !is_header {
                if let Err(e) = self.line(plan, chunk, a, b, opts, sink, &mut report.counts) {
                    // A last line without newline that fails to parse was cut off.
                    let unterminated = next == chunk.len && chunk.at_eof && chunk.buf[chunk.len - 1] != b'\n';
                    let e = match e {
                        RowError::Json(_) if unterminated => RowError::Truncated,
                        e => e,
                    };
                    report.problems.push((line, e));
                }
            }
            pos = next;
        }
        report.lines = index;
        report
    }

    #[allow(clippy::too_many_arguments)]
    fn line<S: EventSink>(
        &mut self,
        plan: &FilePlan,
        chunk: &mut ChunkBuf,
        a: usize,
        b: usize,
        opts: ParseOptions<'_>,
        sink: &mut S,
        counts: &mut Counts,
    ) -> Result<(), RowError> {
        crate::row::fix_lone_surrogates(&mut chunk.buf[a..b]);
        let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        let result = match simd_json::fill_tape_padded(&mut chunk.buf[a..], b - a, &mut self.buffers, &mut tape) {
            Ok(()) => event(plan, &tape.0, opts, sink, counts),
            Err(e) => Err(RowError::Json(json_error(&e))),
        };
        self.tape = Some(tape.reset());
        result
    }
}

/// What a user can act on, from simd-json's error: the kind of mistake and
/// the byte column (1-based) where the parser gave up.
fn json_error(e: &simd_json::Error) -> String {
    use simd_json::ErrorType as T;
    let col = e.index() + 1;
    match e.error() {
        T::InvalidUtf8 => "the line is not valid UTF-8".to_string(),
        T::InvalidNumber | T::InvalidExponent => {
            format!("malformed number, or one beyond the range of a double, at column {col}")
        }
        // simd-json points at a structural character near the string, not the escape.
        T::InvalidEscape | T::InvalidUnicodeEscape | T::InvalidUnicodeCodepoint => {
            "invalid escape sequence in a string".to_string()
        }
        T::KeyMustBeAString => format!("object key is not a string at column {col}"),
        T::Eof => "the line ends inside a value".to_string(),
        _ => match e.character() {
            Some(c) if !c.is_control() => format!("syntax error at column {col} (at {c:?})"),
            _ => format!("syntax error at column {col}"),
        },
    }
}

fn event<S: EventSink>(
    plan: &FilePlan,
    nodes: &[simd_json::Node<'_>],
    opts: ParseOptions<'_>,
    sink: &mut S,
    counts: &mut Counts,
) -> Result<(), RowError> {
    let row = match parse_tape(nodes)? {
        Line::Header(_) if plan.header.is_some() => return Err(RowError::SecondHeader),
        Line::Header(_) => return Err(RowError::LateHeader),
        Line::Event(row) => row,
    };
    let header = plan.header.as_ref();
    let mut ctx = match (row.context, header) {
        // A row of a headed file may still carry some context: its fields win.
        (Some(inline), Some(h)) => {
            let mut c = h.context();
            for (slot, v) in c.fields.iter_mut().zip(inline.fields) {
                if v.is_some() {
                    *slot = v;
                }
            }
            c.deployment_url = inline.deployment_url.or(c.deployment_url);
            c
        }
        (Some(c), None) => c,
        (None, Some(h)) => h.context(),
        (None, None) => return Err(RowError::NoContext),
    };
    if row.deployment_url.is_some() {
        ctx.deployment_url = row.deployment_url;
    }
    let signal = route(&row, opts.metrics);
    if !opts.range.contains(row.time_nanos) {
        counts.out_of_range += 1;
        return Ok(());
    }
    if signal == Signal::Span {
        check_span_ids(&row)?;
    }
    let schema_version = row.schema_version.or(header.map(|h| h.schema_version)).unwrap_or(0);
    let ev = Event {
        row,
        ctx,
        schema_version,
    };
    let (points, dropped) = sink.event(plan, &ev, signal);
    counts.events += 1;
    match signal {
        Signal::Log => counts.logs += 1,
        Signal::Span => counts.spans += 1,
        Signal::Metric => {
            counts.metric_events += 1;
            counts.metric_points += points;
            counts.dropped_values += dropped;
        }
    }
    Ok(())
}
