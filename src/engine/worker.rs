//! A worker's loop over one chunk: read its file's header and the chunk's
//! bytes, split lines (memchr), parse (a plain line in one pass, any other
//! with simd-json, in place, or in a copy for a sink that reads the line
//! as read), resolve context, route, filter by range, and hand each event
//! to a sink that encodes it ([`super::sinks`]). Problems are collected
//! with chunk-relative line numbers; the ordered stage turns them into
//! file line numbers.
//!
//! A chunk opens its file once, for its header and its lines. The worker
//! checks for cancellation between lines, and keeps its parser and read
//! buffers from one chunk to the next unless a very long line grew
//! them (then they are let go, so a 16 MiB line does not cost its memory
//! for the rest of the run).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};

use simd_json::{Buffers, Tape};

use super::chunk::{line_at, open_regular, read_chunk_in, read_header_in, Chunk, ChunkBuf, FileError, Header, PAD};
use crate::encode::Event;
use crate::model::{Counts, Signal};
use crate::range::DateRange;
use crate::route::{route, span_ids, MetricEvents};
use crate::row::{parse_tape, Line, RawLine, RowError};
use crate::store::StoreFile;
use crate::tape::Plain;

/// What the workers need to know about the export.
#[derive(Clone, Copy)]
pub struct ParseOptions<'a> {
    pub range: &'a DateRange,
    pub metrics: &'a MetricEvents,
    /// Lines longer than this are skipped and reported without being held.
    pub max_line: usize,
    /// Set on Ctrl-C or a failure elsewhere: a worker stops inside its chunk.
    pub cancel: &'a AtomicBool,
}

/// Receives each exported event; returns (points written, values dropped)
/// for metric events, (0, 0) otherwise.
pub trait EventSink {
    /// Whether the sink reads [`Event::raw`]: then a line is parsed in a
    /// copy, and the line as read goes with its event.
    const WANTS_RAW: bool = false;

    fn event(&mut self, file: &StoreFile, ev: &Event<'_>, signal: Signal) -> (u64, u64);
}

/// What a chunk found besides its records.
#[derive(Debug, Default)]
pub struct ChunkReport {
    /// Lines whose first byte lies in the chunk.
    pub lines: u64,
    /// (chunk-relative line index, reason).
    pub problems: Vec<(u64, RowError)>,
    pub counts: Counts,
    /// Bytes of the chunk's range (for progress).
    pub bytes: u64,
    /// The whole file is skipped or was cut short; reported once per file.
    pub file_problem: Option<FileProblem>,
    /// The chunk's bytes were read (if only in part, from a file that got
    /// shorter): false when its file could not be opened, its header read
    /// or its schema_version is unsupported.
    pub read: bool,
    /// The worker stopped early because the export was cancelled.
    pub cancelled: bool,
}

/// Why a file as a whole was skipped or cut short: its kind (for the
/// tally by reason) and what the person reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProblem {
    pub kind: &'static str,
    pub reason: String,
}

impl From<FileError> for FileProblem {
    fn from(e: FileError) -> Self {
        Self {
            kind: e.kind(),
            reason: e.to_string(),
        }
    }
}

/// Read buffers grown past this many times the chunk (by a long line) are not kept.
const KEEP_FACTOR: usize = 4;
/// A tape grown past this many nodes (by a long line) is not kept.
const KEEP_TAPE: usize = 1 << 20;
/// A line longer than this leaves simd-json's scratch buffers (about six
/// bytes per input byte for a row of many short keys) as soon as it is parsed.
const KEEP_BUFFERS_LINE: usize = 1 << 20;
/// Lines up to this long go with their event as read, for sinks that want
/// them ([`EventSink::WANTS_RAW`]): the copy they are parsed in stays small.
const RAW_LINE: usize = 64 << 10;
/// A header buffer grown past this (by a long header line) is not kept.
const KEEP_HEAD_BUF: usize = 256 << 10;

thread_local! {
    /// Each worker thread keeps its parser and read buffer from one chunk to
    /// the next: no allocation per chunk, no heap fragmentation.
    static PARSER: RefCell<Parser> = RefCell::new(Parser::default());
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// And the buffer it reads its file's header through.
    static HEAD_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads and parses `chunk` of `file` (at `path`) into `sink`.
pub fn run_chunk<S: EventSink>(
    file: &StoreFile,
    path: &std::path::Path,
    chunk: Chunk,
    opts: ParseOptions<'_>,
    sink: &mut S,
) -> ChunkReport {
    let mut report = ChunkReport {
        bytes: chunk.bytes(),
        ..ChunkReport::default()
    };
    // One open (and one fstat) per chunk, for its header and its lines.
    let (mut f, now) = match open_regular(path) {
        Ok(x) => x,
        Err(e) => {
            report.file_problem = Some(FileError::Io(e).into());
            return report;
        }
    };
    let mut scratch = HEAD_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let header = read_header_in(&mut f, now, file.size, opts.max_line, &mut scratch);
    if scratch.capacity() <= KEEP_HEAD_BUF {
        HEAD_BUF.with(|b| *b.borrow_mut() = scratch);
    }
    // Only the first chunk of a file says why the whole file is skipped.
    let header = match header {
        Ok(h) => h,
        Err(FileError::Io(e)) => {
            report.file_problem = Some(FileError::Io(e).into());
            return report;
        }
        Err(e) => {
            if chunk.start == 0 {
                report.file_problem = Some(e.into());
            }
            return report;
        }
    };
    let buf = READ_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let mut data = match read_chunk_in(&mut f, now, chunk, file.size, opts.max_line, buf) {
        Ok(c) => c,
        Err(e) => {
            report.file_problem = Some(FileError::Io(e).into());
            return report;
        }
    };
    drop(f);
    report.read = true;
    PARSER.with(|p| p.borrow_mut().process(file, &header, &mut data, opts, sink, &mut report));
    if let Some(s) = data.shrunk {
        report.file_problem = Some(FileError::Shrunk(s).into());
    }
    if data.buf.capacity() <= KEEP_FACTOR * (chunk.bytes() as usize + (64 << 10)) {
        READ_BUF.with(|b| *b.borrow_mut() = data.buf);
    }
    report
}

/// Like [`run_chunk`], for a chunk already in memory (the fuzz probe and tests).
#[cfg(any(test, feature = "internals"))]
pub fn run_chunk_buf<S: EventSink>(
    file: &StoreFile,
    header: &Header,
    chunk: &mut ChunkBuf,
    opts: ParseOptions<'_>,
    sink: &mut S,
) -> ChunkReport {
    let mut report = ChunkReport {
        read: true,
        ..ChunkReport::default()
    };
    Parser::default().process(file, header, chunk, opts, sink, &mut report);
    report
}

/// A worker's reusable parser state.
pub struct Parser {
    tape: Option<Tape<'static>>,
    buffers: Buffers,
    /// Where a line is parsed when its bytes as read must stay as they were.
    copy: Vec<u8>,
    /// The one-pass parser of plain lines; simd-json takes the others.
    plain: Plain,
}

impl Default for Parser {
    fn default() -> Self {
        Self {
            tape: Some(Tape::null().reset()),
            buffers: Buffers::new(64 * 1024),
            copy: Vec::new(),
            plain: Plain::default(),
        }
    }
}

impl Parser {
    /// Processes every line `chunk` owns.
    fn process<S: EventSink>(
        &mut self,
        file: &StoreFile,
        header: &Header,
        chunk: &mut ChunkBuf,
        opts: ParseOptions<'_>,
        sink: &mut S,
        report: &mut ChunkReport,
    ) {
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
            let is_header = header.offset == Some(chunk.base + pos as u64);
            if b - a > opts.max_line {
                report.problems.push((line, RowError::TooLong(opts.max_line)));
            } else if a != b && !is_header {
                if let Err(e) = self.line(file, header, chunk, a, b, opts, sink, &mut report.counts) {
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
        if chunk.oversize && !report.cancelled {
            report.problems.push((index, RowError::TooLong(opts.max_line)));
            index += 1;
        }
        report.lines = index;
        if self.tape.as_ref().is_some_and(|t| t.0.capacity() > KEEP_TAPE) {
            *self = Parser::default();
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn line<S: EventSink>(
        &mut self,
        file: &StoreFile,
        header: &Header,
        chunk: &mut ChunkBuf,
        a: usize,
        b: usize,
        opts: ParseOptions<'_>,
        sink: &mut S,
        counts: &mut Counts,
    ) -> Result<(), RowError> {
        let len = b - a;
        let mut plain = self.tape.take().unwrap_or_else(Tape::null).reset();
        let in_copy = S::WANTS_RAW && len <= RAW_LINE;
        if self.plain.parse(&chunk.buf[a..b], &mut plain.0) {
            // A plain line: its strings are the line's own bytes, where
            // their tokens are, and it has no `\`.
            let raw = in_copy.then(|| RawLine {
                bytes: &chunk.buf[a..b],
                parsed_at: chunk.buf[a..b].as_ptr() as usize,
                escapes: None,
            });
            let result = event(file, header, &plain.0, raw, opts, sink, counts);
            self.tape = Some(plain.reset());
            return result;
        }
        let mut tape = plain.reset();
        let (parsed, raw) = if in_copy {
            let escapes = RawLine::escape_span(&chunk.buf[a..b]);
            // The parser writes a string with escapes over itself, so it
            // parses a copy: the line stays as read, and each string of
            // the copy is where its token is in the line.
            self.copy.clear();
            self.copy.extend_from_slice(&chunk.buf[a..b]);
            if escapes.is_some() {
                crate::row::fix_lone_surrogates(&mut self.copy);
            }
            self.copy.resize(len + PAD, 0);
            let parsed_at = self.copy.as_ptr() as usize;
            let parsed = simd_json::fill_tape_padded(&mut self.copy, len, &mut self.buffers, &mut tape);
            let raw = RawLine {
                bytes: &chunk.buf[a..b],
                parsed_at,
                escapes,
            };
            (parsed, Some(raw))
        } else {
            if memchr::memchr(b'\\', &chunk.buf[a..b]).is_some() {
                crate::row::fix_lone_surrogates(&mut chunk.buf[a..b]);
            }
            let parsed = simd_json::fill_tape_padded(&mut chunk.buf[a..], len, &mut self.buffers, &mut tape);
            (parsed, None)
        };
        if b - a > KEEP_BUFFERS_LINE {
            // The tape borrows the line, not these: let them go now, not
            // after the event, which a row of many keys hands to the
            // writers in parts while the tape is held.
            self.buffers = Buffers::new(64 * 1024);
        }
        let result = match parsed {
            Ok(()) => event(file, header, &tape.0, raw, opts, sink, counts),
            Err(_) => Ok(()),
        };
        self.tape = Some(tape.reset());
        match parsed {
            Err(e) if in_copy => Err(json_error(&e, &self.copy[..len])),
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
    file: &StoreFile,
    header: &Header,
    nodes: &[simd_json::Node<'_>],
    raw: Option<RawLine<'_>>,
    opts: ParseOptions<'_>,
    sink: &mut S,
    counts: &mut Counts,
) -> Result<(), RowError> {
    let line = parse_tape(nodes)?;
    let row = match &line {
        Line::Header(_) if header.header.is_some() => return Err(RowError::SecondHeader),
        Line::Header(_) => return Err(RowError::LateHeader),
        Line::Event(row) => row,
    };
    let head = header.header.as_ref();
    let mut ctx = match (row.context, head) {
        // A row of a headed file may still carry some context: its fields win.
        (Some(inline), Some(h)) => h.context().overridden_by(&inline),
        (Some(c), None) => c,
        (None, Some(h)) => h.context(),
        (None, None) => return Err(RowError::NoContext),
    };
    if row.deployment_url.is_some() {
        ctx.deployment_url = row.deployment_url;
    }
    let signal = route(row, opts.metrics);
    if !opts.range.contains(row.time_nanos) {
        counts.out_of_range += 1;
        return Ok(());
    }
    let ids = match signal {
        Signal::Span => Some(span_ids(row)?),
        _ => None,
    };
    let schema_version = row.schema_version.or(head.map(|h| h.schema_version)).unwrap_or(0);
    let ev = Event {
        row,
        ctx,
        ids,
        schema_version,
        raw,
    };
    let (points, dropped) = sink.event(file, &ev, signal);
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

/// A sink that keeps nothing: parse and route only (strict validation, benches).
pub struct Discard;

impl EventSink for Discard {
    fn event(&mut self, _: &StoreFile, _: &Event<'_>, _: Signal) -> (u64, u64) {
        (0, 0)
    }
}
