//! The worker's loop over one chunk: split lines (memchr), parse (simd-json,
//! in place), resolve context, route, filter by range, and hand each event to
//! a sink that encodes it. Problems are collected with chunk-relative line
//! numbers; the ordered stage turns them into file line numbers.

use std::sync::atomic::{AtomicBool, Ordering};

use simd_json::{Buffers, Tape};

use super::chunk::{line_at, ChunkBuf, FilePlan, Shrunk};
use crate::encode::Event;
use crate::range::DateRange;
use crate::route::{check_span_ids, route, MetricEvents, Signal};
use crate::row::{parse_tape, Line, RowError};

/// What the workers need to know about the export.
#[derive(Clone, Copy)]
pub struct ParseOptions<'a> {
    pub range: &'a DateRange,
    pub metrics: &'a MetricEvents,
    /// Set on Ctrl-C or a failure elsewhere: a worker stops inside its chunk.
    pub cancel: &'a AtomicBool,
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
    /// The earliest and latest timestamp exported (ns), if any event was.
    pub first: Option<i64>,
    pub last: Option<i64>,
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
        self.first = min_some(self.first, o.first);
        self.last = o.last.max(self.last);
    }

    /// Counts one exported event at `time` (ns).
    fn saw(&mut self, time: i64) {
        self.events += 1;
        self.first = min_some(self.first, Some(time));
        self.last = self.last.max(Some(time));
    }
}

fn min_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
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
    /// The file was shorter than when it was selected.
    pub shrunk: Option<Shrunk>,
    /// The worker stopped early because the export was cancelled.
    pub cancelled: bool,
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
        let mut report = ChunkReport {
            shrunk: chunk.shrunk,
            ..ChunkReport::default()
        };
        let mut pos = chunk.first;
        let mut index = 0;
        while pos < chunk.limit && pos < chunk.len {
            if opts.cancel.load(Ordering::Relaxed) {
                report.cancelled = true;
                break;
            }
            let (a, b, next) = line_at(chunk, pos);
            let line = index;
            index += 1;
            let is_header = plan.header_offset == Some(chunk.base + pos as u64);
            if a != b && !is_header {
                if let Err(e) = self.line(plan, chunk, a, b, opts, sink, &mut report.counts) {
                    // A last line without newline that fails to parse was cut off.
                    let unterminated = next == chunk.len && chunk.at_eof && chunk.buf[chunk.len - 1] != b'\n';
                    let e = match e {
                        RowError::Json(_) | RowError::TruncatedLine if unterminated => RowError::Truncated,
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
        let parsed = simd_json::fill_tape_padded(&mut chunk.buf[a..], b - a, &mut self.buffers, &mut tape);
        let result = match parsed {
            Ok(()) => event(plan, &tape.0, opts, sink, counts),
            Err(_) => Ok(()),
        };
        self.tape = Some(tape.reset());
        match parsed {
            Err(e) => Err(json_error(&e, &chunk.buf[a..b])),
            Ok(()) => result,
        }
    }
}

/// What a user can act on, from simd-json's error and the line: the kind
/// of mistake and the byte column (1-based) where it is.
///
/// simd-json parses in place: by the time its second stage fails, strings
/// with escapes before the failure were rewritten, so the line is looked at
/// only where that cannot matter. A line that opens an object and does not
/// end with `}` was cut off (a byte outside every string is never
/// rewritten). A first-stage failure ("syntax error" at column 1: a raw
/// control character, unbalanced quotes), or a line without escapes, is as
/// it was, and serde_json parses it again to say what it found. Only bad
/// lines take these paths.
fn json_error(e: &simd_json::Error, line: &[u8]) -> RowError {
    use simd_json::ErrorType as T;
    let col = e.index() + 1;
    let trimmed = line.trim_ascii();
    let cut_off = trimmed.first() == Some(&b'{') && trimmed.last() != Some(&b'}');
    let reason = match e.error() {
        T::InvalidUtf8 => "the line is not valid UTF-8".to_string(),
        _ if cut_off => return RowError::TruncatedLine,
        T::InvalidNumber | T::InvalidExponent => {
            format!("malformed number, or one beyond the range of a double, at column {col}")
        }
        // simd-json points at a structural character near the string, not the escape.
        T::InvalidEscape | T::InvalidUnicodeEscape | T::InvalidUnicodeCodepoint => {
            "invalid escape sequence in a string".to_string()
        }
        T::DepthLimitExceeded => format!(
            "too deeply nested: more than {} levels of arrays and objects",
            simd_json::DEFAULT_MAX_DEPTH
        ),
        T::KeyMustBeAString => format!("object key is not a string at column {col}"),
        // Unchanged by the parser: a first-stage failure, or no escapes at all.
        _ if (e.index() == 0 && e.character().is_none()) || memchr::memchr(b'\\', line).is_none() => {
            match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
                Err(e) if e.classify() == serde_json::error::Category::Eof => return RowError::TruncatedLine,
                Err(e) => {
                    // "trailing characters at line 1 column 9" -> "trailing characters at column 9"
                    let text = e.to_string();
                    let what = text.split(" at line ").next().unwrap_or(&text).to_string();
                    format!("{what} at column {}", e.column())
                }
                Ok(_) => "syntax error".to_string(),
            }
        }
        _ => match e.character() {
            Some(c) if !c.is_control() => format!("syntax error at column {col} (at {c:?})"),
            _ => format!("syntax error at column {col}"),
        },
    };
    RowError::Json(reason)
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
    counts.saw(ev.row.time_nanos);
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
