//! The JSON array's consumer (SPEC §5.3): a k-way merge of per-session
//! streams by timestamp, asking the engine for chunks as the merge needs them.
//!
//! A session stream is every selected file with the same `{session}` name
//! part, in (date, part) order. A stream starts with one small head chunk
//! (enough to know its first key); once it emits, it is *active* and gets
//! full chunks plus a bounded number parsed ahead. Chunks are cut when
//! requested, sized so that the active streams together stay under
//! [`MERGE_BUDGET`], and requested in the order streams run out of data,
//! which is merge order. Head chunks share [`HEAD_BUDGET`] too: past it (tens
//! of thousands of sessions, a fleet archive), a stream whose first key is
//! known is *parked*: its head is let go and read again when the merge
//! gets near that key. An active stream parks the same way once the chunks
//! requested and held exceed both budgets (30,000 sessions interleaved on
//! one day are all active at once, each holding a chunk): it keeps its next
//! key and its place in its front chunk, which is cut again exactly as
//! before and re-read, earliest key first, as the budget frees up.
//!
//! Two rules keep both cores busy without reading anything twice. The next
//! few streams to start (by first key) are *primed*: they request their
//! first full chunk before they emit, so the merge does not wait on a worker
//! at each session's start. And reading ahead stops short of the budget by
//! two chunks, room for what the merge needs next; a stream refused asks
//! again once the budget frees up (without that room, each needed chunk
//! pushed the merge over, a stream parked and was read again at once).
//!
//! So memory is bounded whether 2 or 30,000 sessions are in range: parsed
//! chunks within MERGE_BUDGET plus HEAD_BUDGET of input (and about twice
//! that of elements), the engine's window, and per stream a few words plus
//! its next key while parked. Ties on the timestamp go to the smaller
//! `context.session_id`, then to the stream that comes first in canonical
//! order, so the output never depends on the thread count or the chunk size.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::num::NonZeroU64;
use std::io::Write;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::sinks::{JsonChunk, SEP};
use super::chunk::Chunk;
use super::{Books, Done, Engine, EngineError, Received, Run, Turn, ChunkSink};
use crate::heap::Trim;
use crate::report::Problems;
use super::runs::Runs;

/// Input bytes the active streams may hold (chunks being consumed and parsed
/// ahead); the encoded elements take about twice that. Small, because the
/// merge fills it whatever the number of sessions, in a few large chunks
/// or in many small ones, and the many small ones cost more resident
/// memory: at 8 MiB, the real mix's 1 GiB store (68 sessions active at
/// once) peaked 38% above its 100 MiB store (10), against SPEC §9.1's 20%
/// for 10x the data; at 4 MiB, 16-21%; at 3 MiB, the same growth from
/// 4 MiB less (26 -> 31 MiB), for the same CPU.
pub const MERGE_BUDGET: u64 = super::MEMORY_BUDGET / 32;
/// Input bytes of all head chunks held together (streams not started yet).
pub const HEAD_BUDGET: u64 = super::MEMORY_BUDGET / 12;
/// And at most this many chunks' worth, so that small test chunks exercise
/// parking too.
pub const HEAD_BUDGET_CHUNKS: u64 = 8;
/// A parsed head holds about this many times its input: elements carry
/// their context, plus the chunk's keys, offsets and report.
const HEAD_FOOTPRINT: u64 = 4;
/// Streams not started that may request their first chunk ahead
/// ([`Merger::prime`]).
const PRIMED_STREAMS: usize = 4;
/// The smallest merge chunk: a dozen typical lines.
const MIN_MERGE_CHUNK: u64 = 8 << 10;
/// Head chunks: small, but enough for a header and a first event.
const MIN_HEAD_CHUNK: u64 = 2 << 10;
const MAX_HEAD_CHUNK: u64 = 64 << 10;

impl ChunkSink for JsonChunk {
    type Out = Box<Parsed>;
    fn finish(mut self) -> Box<Parsed> {
        let bytes = Arc::new(std::mem::take(&mut self.data));
        Box::new(Parsed { chunk: self, bytes })
    }
}

/// A parsed chunk: its elements, shared with pending output runs.
pub struct Parsed {
    chunk: JsonChunk,
    bytes: Arc<Vec<u8>>,
}

/// A parsed chunk with what it reported, waiting in its stream.
struct Slot {
    done: Done<Box<Parsed>>,
}

/// One session's files, cut into chunks as they are requested.
struct Stream {
    /// Its files: positions in [`Merger::order`], in (date, part) order.
    files: Range<usize>,
    /// The file (position) and offset the next chunk starts at.
    file_pos: usize,
    offset: u64,
    /// Chunks requested and consumed so far (modulo 2^32: tags carry 32 bits).
    requested: u32,
    consumed: u32,
    /// Requested, not yet consumed chunks, in order; `None` until parsed.
    slots: Slots,
    /// Next element of the front chunk.
    cursor: usize,
    /// Emitting, and not finished.
    active: bool,
    /// Its next key is known, its front chunk was let go (see [`Merger::park`]).
    parked: bool,
    /// Not started, and among the next to start: it may request its first
    /// chunk after its head ([`Merger::prime`]).
    primed: bool,
    /// Refused a chunk ahead for the budget; asks again once it frees up.
    deferred: bool,
    /// While parked (and until re-requested): the end of the chunk let go,
    /// which starts at `offset`, so that it is cut again exactly as before
    /// and `cursor` still points at the stream's next element.
    redo_end: Option<NonZeroU64>,
}

type HeapKey = Reverse<(i64, Arc<str>, u32)>;

/// A parked stream's place: its first timestamp, then its number. Ties
/// need not follow the session id here: this only orders re-reading.
type ParkKey = Reverse<(i64, u32)>;

/// A stream's queue of chunks, boxed: most of a fleet's streams are parked
/// or done at any time, and hold one word instead of four.
#[derive(Default)]
#[allow(clippy::box_collection)] // the point: one word inline, not four
struct Slots(Option<Box<VecDeque<Option<Box<Slot>>>>>);

impl Slots {
    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |q| q.len())
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every chunk queued is parsed (none is in flight).
    fn all_parsed(&self) -> bool {
        self.0.as_ref().is_none_or(|q| q.iter().all(Option::is_some))
    }

    fn front(&self) -> Option<&Option<Box<Slot>>> {
        self.0.as_ref()?.front()
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut Option<Box<Slot>>> {
        self.0.as_mut()?.get_mut(i)
    }

    fn push_back(&mut self, slot: Option<Box<Slot>>) {
        self.0.get_or_insert_default().push_back(slot);
    }

    /// The front chunk; the queue is let go once empty.
    fn pop_front(&mut self) -> Option<Option<Box<Slot>>> {
        let q = self.0.as_mut()?;
        let front = q.pop_front();
        if q.is_empty() {
            self.0 = None;
        }
        front
    }

    fn clear(&mut self) {
        self.0 = None;
    }
}

/// Prefetch depth and chunk size for `active` streams: enough parsed ahead
/// to keep every worker busy when few streams are open, and all of it
/// within [`MERGE_BUDGET`].
fn merge_shape(active: usize, workers: usize, chunk_bytes: u64) -> (u64, usize) {
    let active = active.max(1);
    let depth = if active >= 2 * workers {
        1
    } else {
        (2 * workers).div_ceil(active) + 1
    };
    let per_stream = MERGE_BUDGET / (active as u64 * (depth as u64 + 1));
    let size = per_stream.max(MIN_MERGE_CHUNK).min(chunk_bytes.max(1));
    (size, depth)
}

/// Input bytes that active streams' chunks may hold together: at most
/// twice the engine's window of chunks, so that small test chunks exercise
/// the parking of active streams too.
fn merge_budget(window: usize, chunk_bytes: u64) -> u64 {
    MERGE_BUDGET.min(2 * window as u64 * chunk_bytes.max(1))
}

/// Input bytes that head chunks may hold together.
fn head_budget(chunk_bytes: u64) -> u64 {
    HEAD_BUDGET.min(HEAD_BUDGET_CHUNKS * chunk_bytes.max(1))
}

/// The size of every stream's head chunk.
fn head_chunk(streams: usize, chunk_bytes: u64) -> u64 {
    (head_budget(chunk_bytes) / streams.max(1) as u64)
        .clamp(MIN_HEAD_CHUNK, MAX_HEAD_CHUNK)
        .min(chunk_bytes.max(1))
}

struct Merger<'e, 'r, 'a> {
    engine: Engine<'r, 'a, Box<Parsed>>,
    books: &'e mut Books,
    problems: &'e mut Problems,
    /// File indices, grouped by stream.
    order: Vec<usize>,
    streams: Vec<Stream>,
    head_chunk: u64,
    /// Streams emitting and not finished.
    active: usize,
    /// Streams not started that hold their parsed head, and the most that
    /// may: with thousands of sessions the others are parked.
    held: usize,
    max_held: usize,
    /// First keys of parked streams, to take them back in merge order.
    parked: BinaryHeap<ParkKey>,
    /// Streams that may want a chunk, in the order they asked.
    queue: VecDeque<usize>,
    /// First keys of streams whose head is parsed, to prime them in the
    /// order they start; entries go stale (the stream parked or started)
    /// and are skipped.
    upcoming: BinaryHeap<ParkKey>,
    /// Streams primed and not started yet.
    primed: usize,
    /// Streams refused a chunk ahead for the budget, in the order they asked.
    deferred: Vec<usize>,
    /// Input bytes of chunks requested and not yet consumed or let go.
    requested_bytes: u64,
    /// The most `requested_bytes` may reach by parsing ahead.
    max_requested: u64,
    trim: Trim,
}

impl<'e, 'r, 'a: 'r> Merger<'e, 'r, 'a> {
    fn run(&self) -> &'r Run<'a> {
        self.engine.run()
    }

    fn has_more(&self, s: usize) -> bool {
        let st = &self.streams[s];
        let files = self.run().files;
        self.order[st.files.clone()]
            .iter()
            .skip(st.file_pos)
            .enumerate()
            .any(|(i, &f)| files[f].size > if i == 0 { st.offset } else { 0 })
    }

    /// The next chunk of stream `s`, of at most `size` bytes, if any is left.
    fn next_chunk(&mut self, s: usize, size: u64) -> Option<Chunk> {
        let files = self.run().files;
        let st = &mut self.streams[s];
        if let Some(end) = st.redo_end.take() {
            let chunk = Chunk {
                file: self.order[st.files.clone()][st.file_pos],
                start: st.offset,
                end: end.get(),
            };
            st.offset = chunk.end;
            return Some(chunk);
        }
        while let Some(&f) = self.order[st.files.clone()].get(st.file_pos) {
            let len = files[f].size;
            if st.offset < len {
                let end = (st.offset + size.max(1)).min(len);
                let chunk = Chunk {
                    file: f,
                    start: st.offset,
                    end,
                };
                st.offset = end;
                return Some(chunk);
            }
            st.file_pos += 1;
            st.offset = 0;
        }
        None
    }

    /// Whether stream `s` may have another chunk requested: a stream not yet
    /// started holds only its head; an active one parses ahead.
    fn eligible(&self, s: usize) -> bool {
        let st = &self.streams[s];
        if st.parked {
            return false;
        }
        let depth = if st.active {
            merge_shape(self.active, self.run().budget.workers, self.run().budget.chunk).1
        } else {
            usize::from(st.primed)
        };
        st.slots.len() <= depth && self.has_more(s)
    }

    /// Lets go of the parsed chunks of stream `s`, keeping only its next key:
    /// the stream is rewound to its front chunk, which is read again (cut
    /// exactly as before, its cursor kept) when the merge gets near that
    /// key. A stream not started parks its head this way; an active one
    /// once the chunks held exceed the budget ([`Merger::over_budget`]).
    /// The front chunk's problems were not recorded yet, so they are
    /// recorded once, on the second reading. Only a stream with no chunk
    /// in flight is parked (its tags restart at the front chunk).
    fn park(&mut self, s: usize, next: i64) {
        let st = &mut self.streams[s];
        if let Some(Some(slot)) = st.slots.front() {
            let chunk = slot.done.chunk;
            if let Some(pos) = self.order[st.files.clone()].iter().position(|&f| f == chunk.file) {
                st.file_pos = pos;
            }
            st.offset = chunk.start;
            st.redo_end = NonZeroU64::new(chunk.end);
            st.requested = st.consumed;
        }
        while let Some(slot) = st.slots.pop_front() {
            if let Some(slot) = slot {
                self.requested_bytes -= slot.done.chunk.bytes();
            }
        }
        st.parked = true;
        if std::mem::take(&mut st.primed) {
            self.primed -= 1;
        }
        self.parked.push(Reverse((next, s as u32)));
        self.retry();
    }

    /// Whether the chunks requested and held exceed what the merge may
    /// hold: with tens of thousands of sessions interleaved, every stream
    /// is active and holds a chunk, so active streams park too.
    fn over_budget(&self) -> bool {
        self.requested_bytes > self.max_requested
    }

    /// Whether stream `s` holds only parsed chunks (none in flight): it may park.
    fn parkable(&self, s: usize) -> bool {
        let st = &self.streams[s];
        !st.parked && !st.slots.is_empty() && st.slots.all_parsed()
    }

    /// Makes parked stream `s` request its head again.
    fn unpark(&mut self, scope: &rayon::ScopeFifo<'r>, s: usize) {
        self.streams[s].parked = false;
        self.queue.push_back(s);
        self.pump(scope);
    }

    /// Re-reads parked streams, earliest first, while the budgets allow:
    /// heads while fewer than `max_held` are held, active streams while
    /// the chunks requested take less than half of `max_requested`.
    fn refill(&mut self, scope: &rayon::ScopeFifo<'r>) {
        while let Some(&Reverse((_, s))) = self.parked.peek() {
            let s = s as usize;
            if !self.streams[s].parked {
                self.parked.pop();
            } else if self.streams[s].active {
                if self.requested_bytes >= self.max_requested / 2 {
                    break;
                }
                self.parked.pop();
                self.unpark(scope, s);
            } else {
                if self.held >= self.max_held {
                    break;
                }
                self.parked.pop();
                self.held += 1;
                self.unpark(scope, s);
            }
        }
    }

    /// Marks stream `s` as emitting; it may now parse ahead.
    fn activate(&mut self, scope: &rayon::ScopeFifo<'r>, s: usize) {
        if !self.streams[s].active {
            let st = &mut self.streams[s];
            st.active = true;
            if std::mem::take(&mut st.primed) {
                self.primed -= 1;
            }
            self.active += 1;
            self.queue.push_back(s);
            self.pump(scope);
            self.prime(scope);
        }
    }

    /// Lets the next streams to start, in the order of their first keys,
    /// request their first chunk after the head. A stream's head is small
    /// (a few KiB when hundreds of sessions are in range); requested only
    /// once the stream started, its next chunk was not parsed when the
    /// merge reached the head's end, and both cores waited for it, once
    /// per session. The budget still bounds what is read ahead.
    fn prime(&mut self, scope: &rayon::ScopeFifo<'r>) {
        while self.primed < PRIMED_STREAMS {
            let Some(Reverse((_, s))) = self.upcoming.pop() else {
                break;
            };
            let s = s as usize;
            let st = &mut self.streams[s];
            if st.active || st.parked || st.primed || !matches!(st.slots.front(), Some(Some(_))) {
                continue;
            }
            st.primed = true;
            self.primed += 1;
            self.queue.push_back(s);
        }
        self.pump(scope);
    }

    /// Starts queued requests while the engine has room.
    fn pump(&mut self, scope: &rayon::ScopeFifo<'r>) {
        while self.engine.has_room() {
            let Some(s) = self.queue.pop_front() else {
                break;
            };
            if !self.eligible(s) || self.run().cancel.load(Ordering::Relaxed) {
                continue;
            }
            let size = if self.streams[s].active || self.streams[s].primed {
                let b = self.run().budget;
                merge_shape(self.active, b.workers, b.chunk).0
            } else {
                self.head_chunk
            };
            // A stream's next chunk is always read (the merge needs it);
            // reading ahead leaves room in the budget for two chunks of the
            // largest size for those. When reading ahead took it all, each
            // of them pushed the merge over and made a stream park, be read
            // again soon after, and park again (3x the CPU). A stream
            // refused asks again as soon as the budget frees up.
            let ahead = !self.streams[s].slots.is_empty();
            let reserve = 2 * self.run().budget.chunk;
            if ahead && self.requested_bytes + size + reserve > self.max_requested {
                let st = &mut self.streams[s];
                if !std::mem::replace(&mut st.deferred, true) {
                    self.deferred.push(s);
                }
                continue;
            }
            let Some(chunk) = self.next_chunk(s, size) else {
                continue;
            };
            self.requested_bytes += chunk.bytes();
            let st = &mut self.streams[s];
            let tag = (s as u64) << 32 | u64::from(st.requested);
            st.requested = st.requested.wrapping_add(1);
            st.slots.push_back(None);
            let hint = chunk.bytes() as usize;
            self.engine.submit(scope, tag, chunk, move |_| JsonChunk::with_capacity(hint));
            if self.eligible(s) {
                self.queue.push_back(s);
            }
        }
    }

    /// Queues again the streams refused a chunk ahead: the budget freed up.
    fn retry(&mut self) {
        for s in self.deferred.drain(..) {
            self.streams[s].deferred = false;
            self.queue.push_back(s);
        }
    }

    /// Waits for one parsed chunk and files it in its stream's slot.
    fn receive(&mut self, scope: &rayon::ScopeFifo<'r>) -> Result<(), EngineError> {
        let received = self.engine.receive()?;
        self.file(scope, received)
    }

    /// Files a parsed chunk in its stream's slot and requests more.
    fn file(&mut self, scope: &rayon::ScopeFifo<'r>, received: Received<Box<Parsed>>) -> Result<(), EngineError> {
        // Elements are small (a line's worth): chunks never hand parts on.
        let Received::Done(tag, done) = received else {
            return Err(EngineError::Internal("a JSON chunk handed its output on in parts"));
        };
        let (s, seq) = ((tag >> 32) as usize, tag & 0xFFFF_FFFF);
        let st = &mut self.streams[s];
        let at = (seq as u32).wrapping_sub(st.consumed) as usize;
        match st.slots.get_mut(at) {
            Some(slot) => {
                // A head of a stream that is held, not parked: it may be
                // primed once its turn nears. (A fleet's heads are mostly
                // parked: a place for each would grow with the sessions.)
                if at == 0 && !st.active && self.held <= self.max_held && self.upcoming.len() < 2 * self.max_held {
                    if let Some(&(t, _)) = done.out.chunk.keys.first() {
                        self.upcoming.push(Reverse((t, s as u32)));
                    }
                }
                *slot = Some(Box::new(Slot { done }));
            }
            // Its stream was parked meanwhile: the chunk is read again later.
            None => {
                self.requested_bytes -= done.chunk.bytes();
                self.retry();
            }
        }
        if self.eligible(s) {
            self.queue.push_back(s);
        }
        self.pump(scope);
        Ok(())
    }

    /// The merge key of stream `s`'s next element, consuming finished chunks
    /// (and recording them) on the way; `None` when it is done.
    fn head(&mut self, scope: &rayon::ScopeFifo<'r>, s: usize) -> Result<Option<HeapKey>, EngineError> {
        loop {
            let st = &self.streams[s];
            match st.slots.front() {
                None if !self.has_more(s) => {
                    let st = &mut self.streams[s];
                    st.slots.clear();
                    if st.active {
                        st.active = false;
                        self.active -= 1;
                    }
                    return Ok(None);
                }
                None => {
                    self.queue.push_front(s);
                    self.pump(scope);
                    if self.streams[s].slots.is_empty() {
                        self.receive(scope)?;
                    }
                }
                Some(None) => self.receive(scope)?,
                Some(Some(slot)) if st.cursor < slot.done.out.chunk.keys.len() => {
                    let c = &slot.done.out.chunk;
                    let (t, sid) = c.keys[st.cursor];
                    return Ok(Some(Reverse((t, c.sids[sid as usize].clone(), s as u32))));
                }
                Some(Some(_)) => self.consume_front(scope, s)?,
            }
        }
    }

    /// Drops the finished front chunk of stream `s`, recording what it found.
    fn consume_front(&mut self, scope: &rayon::ScopeFifo<'r>, s: usize) -> Result<(), EngineError> {
        let st = &mut self.streams[s];
        if let Some(Some(slot)) = st.slots.pop_front() {
            self.requested_bytes -= slot.done.chunk.bytes();
            st.cursor = 0;
            st.consumed = st.consumed.wrapping_add(1);
            let run = self.engine.run();
            self.books.record(run, slot.done.chunk, &slot.done.report, self.problems)?;
            self.trim.advance(slot.done.report.bytes);
        }
        if self.eligible(s) {
            self.queue.push_back(s);
        }
        self.retry();
        self.pump(scope);
        Ok(())
    }
}

/// The writer stops with `Interrupted` once the export is cancelled.
fn written_or_cancelled(e: std::io::Error) -> EngineError {
    if e.kind() == std::io::ErrorKind::Interrupted {
        EngineError::Cancelled
    } else {
        EngineError::Write(e)
    }
}

/// The files in session streams: canonical order is (date, session, part,
/// store), so a stable sort by session keeps each stream in (date, part)
/// order. Returns the sorted file indexes and one stream per session.
fn session_streams(run: &Run<'_>) -> (Vec<usize>, Vec<Stream>) {
    let mut order: Vec<usize> = (0..run.files.len()).collect();
    order.sort_by(|&a, &b| run.files[a].session().cmp(run.files[b].session()));
    // Counted first: a fleet archive has hundreds of thousands of sessions,
    // and a growing vector would copy (and hold twice) all of them.
    let boundary = |start: usize, i: usize| i == order.len() || run.files[order[i]].session() != run.files[order[start]].session();
    let count = (1..order.len()).filter(|&i| boundary(i - 1, i)).count() + usize::from(!order.is_empty());
    let mut streams = Vec::with_capacity(count);
    let mut start = 0;
    for i in 1..=order.len() {
        if boundary(start, i) {
            streams.push(Stream {
                files: start..i,
                file_pos: 0,
                offset: 0,
                requested: 0,
                consumed: 0,
                slots: Slots::default(),
                cursor: 0,
                active: false,
                parked: false,
                primed: false,
                deferred: false,
                redo_end: None,
            });
            start = i;
        }
    }
    (order, streams)
}

/// Why [`emit`] wrote nothing.
enum Emit {
    /// The stream's head chunk is not there (a bug, reported as a panic).
    Lost,
    Write(std::io::Error),
}

/// Writes the run of stream `s`'s elements that come before `next` (the
/// next stream's head; all of them without one) as one slice of its chunk,
/// after the array's `[` when `first`. Returns the elements written.
fn emit(st: &mut Stream, s: u32, next: Option<&HeapKey>, first: bool, runs: &mut Runs<'_>) -> Result<u64, Emit> {
    let Some(Some(slot)) = st.slots.front() else {
        return Err(Emit::Lost);
    };
    let p = &slot.done.out;
    let from = st.cursor;
    let mut to = from + 1;
    if let Some(Reverse(next)) = next {
        while to < p.chunk.keys.len() {
            let (t2, sid2) = p.chunk.keys[to];
            if (t2, &*p.chunk.sids[sid2 as usize], s) >= (next.0, &*next.1, next.2) {
                break;
            }
            to += 1;
        }
    } else {
        to = p.chunk.keys.len();
    }
    let (a, b) = p.chunk.run(from, to);
    if first {
        runs.push_static(b"[\n");
        runs.push(&p.bytes, &p.chunk.splices, a + SEP.len(), b).map_err(Emit::Write)?;
    } else {
        runs.push(&p.bytes, &p.chunk.splices, a, b).map_err(Emit::Write)?;
    }
    st.cursor = to;
    Ok((to - from) as u64)
}

/// Writes the merged JSON array to `out`; returns the books.
pub fn run(run: &Run<'_>, out: &mut dyn Write, problems: &mut Problems) -> Result<Books, EngineError> {
    let (order, streams) = session_streams(run);
    let count = streams.len();
    let chunk_bytes = run.budget.chunk;
    let head_chunk = head_chunk(streams.len(), chunk_bytes);
    let mut books = Books::new(run.files.len());
    let mut runs = Runs::new(out, run.cancel);
    let result = run.pool.in_place_scope_fifo(|scope| -> Result<(), EngineError> {
        let mut m = Merger {
            engine: Engine::new(run, Arc::new(Turn::default())),
            books: &mut books,
            problems,
            order,
            queue: (0..streams.len()).collect(),
            upcoming: BinaryHeap::new(),
            primed: 0,
            deferred: Vec::new(),
            head_chunk,
            streams,
            active: 0,
            held: 0,
            max_held: (head_budget(chunk_bytes) / (head_chunk * HEAD_FOOTPRINT)).max(1) as usize,
            // Reserved, not touched: pages are used as streams park.
            parked: BinaryHeap::with_capacity(count),
            requested_bytes: 0,
            max_requested: merge_budget(run.budget.window, chunk_bytes) + head_budget(chunk_bytes),
            trim: Trim::default(),
        };
        m.pump(scope);
        let mut heap: BinaryHeap<HeapKey> = BinaryHeap::with_capacity(count);
        for s in 0..m.streams.len() {
            if let Some(k) = m.head(scope, s)? {
                if m.held < m.max_held {
                    m.held += 1;
                } else {
                    m.park(s, (k.0).0);
                }
                heap.push(k);
            }
        }
        let mut written = 0u64;
        m.prime(scope);
        while let Some(Reverse((_, _, s32))) = heap.pop() {
            let s = s32 as usize;
            if m.streams[s].parked {
                // Needed before its turn to be re-read came: read it now.
                m.unpark(scope, s);
            } else if !m.streams[s].active {
                m.held = m.held.saturating_sub(1);
            }
            if !matches!(m.streams[s].slots.front(), Some(Some(_))) {
                // A head being re-read: wait for it (same chunk, same first key).
                m.head(scope, s)?;
            }
            m.activate(scope, s);
            m.refill(scope);
            let st = &mut m.streams[s];
            written += emit(st, s32, heap.peek(), written == 0, &mut runs).map_err(|e| match e {
                Emit::Lost => EngineError::Panic {
                    file: run.path(m.order[st.files.start]).display().to_string(),
                    message: "the merge lost the head of a session stream".into(),
                },
                Emit::Write(e) => written_or_cancelled(e),
            })?;
            if let Some(k) = m.head(scope, s)? {
                // Not the stream needed next: parked, it would be read again
                // at once, and again after its next run, while what holds
                // the budget stays held.
                let needed_next = heap.peek().is_none_or(|top| k > *top);
                if !needed_next && m.over_budget() && m.parkable(s) {
                    m.park(s, (k.0).0);
                }
                heap.push(k);
            }
        }
        runs.push_static(if written == 0 { b"[]\n" } else { b"\n]\n" });
        runs.flush().map_err(written_or_cancelled)?;
        Ok(())
    });
    if result.is_err() {
        run.cancel.store(true, Ordering::Relaxed);
    }
    result.map(|()| books)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_keeps_the_budget_with_many_active_streams() {
        let (size, depth) = merge_shape(1, 2, 1 << 20);
        assert_eq!((size, depth), (MERGE_BUDGET / 6, 5));
        for active in [2, 10, 300, 2000] {
            let (size, depth) = merge_shape(active, 2, 1 << 20);
            let held = size * active as u64 * (depth as u64 + 1);
            assert!(
                held <= MERGE_BUDGET.max(MIN_MERGE_CHUNK * active as u64 * 2),
                "{active}: {held}"
            );
        }
        assert_eq!(merge_shape(100_000, 2, 1 << 20).0, MIN_MERGE_CHUNK);
        assert_eq!(merge_shape(3, 2, 100).0, 100);
    }

    #[test]
    fn head_chunks_shrink_with_the_number_of_streams() {
        assert_eq!(head_chunk(1, 1 << 20), MAX_HEAD_CHUNK);
        assert_eq!(head_chunk(1000, 1 << 20), 8 * 1024 * 1024 / 1000);
        assert_eq!(head_chunk(100_000, 1 << 20), MIN_HEAD_CHUNK);
        assert_eq!(head_chunk(10, 100), 100);
    }

    #[test]
    fn the_merge_budget_is_a_few_windows_of_chunks_at_most() {
        assert_eq!(merge_budget(6, 1 << 20), MERGE_BUDGET);
        assert_eq!(merge_budget(160, 64 << 10), MERGE_BUDGET);
        assert_eq!(merge_budget(4, 61), 488);
    }

    #[test]
    fn head_budget_is_a_few_chunks_at_most() {
        assert_eq!(head_budget(1 << 20), HEAD_BUDGET);
        assert_eq!(head_budget(100), 800);
    }
}
