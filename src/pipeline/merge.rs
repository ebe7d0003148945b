//! The JSON array (SPEC §5.3): a k-way merge of per-session streams by
//! timestamp, fed on demand.
//!
//! A session stream is every selected file with the same `{session}` name
//! part, in (date, part) order. Each stream is cut into chunks that the
//! workers parse and encode into elements with their merge keys. A stream
//! starts with one small head chunk (enough to know its first key); once it
//! emits, it is *active* and gets full chunks plus a bounded number parsed
//! ahead. Chunks are cut when requested, sized so that the active streams
//! together stay under a fixed budget, and requested in the order streams run
//! out of data, which is merge order. Head chunks share a budget too: past
//! it (thousands of sessions, a fleet archive), a stream whose first key is
//! known is *parked*: its head chunk is let go and read again when the
//! merge gets near that key. So memory stays bounded whether 2 or 20,000
//! sessions are in range, and sessions of different days (which never
//! overlap) do not shrink each other's chunks.
//!
//! Ties on the timestamp go to the smaller `context.session_id`, then to the
//! stream that comes first in canonical order, so the output never depends
//! on the thread count or the chunk size.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, IoSlice, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::unbounded;

use super::chunk::{ChunkJob, FilePlan};
use super::work::{ChunkReport, EventSink};
use super::{panic_message, run_job, LineNumbers, PipelineError, Shared, Tally};
use crate::encode::json::{write_context, write_element_head};
use crate::encode::metrics::count_points;
use crate::encode::Event;
use crate::heap::Trim;
use crate::report::Problems;
use crate::route::Signal;
use crate::row::ctx;

/// Input bytes the active streams may hold (chunks being consumed and parsed
/// ahead); the encoded elements take about twice that.
const MERGE_BUDGET: u64 = 8 * 1024 * 1024;
/// Input bytes of all head chunks held together (streams not started yet).
const HEAD_BUDGET: u64 = 8 * 1024 * 1024;
/// And at most this many chunks' worth, so that small test chunks exercise
/// parking too.
const HEAD_BUDGET_CHUNKS: u64 = 8;
/// The smallest merge chunk: a dozen typical lines.
const MIN_MERGE_CHUNK: u64 = 8 * 1024;
/// Head chunks: small, but enough for a header and a first event.
const MIN_HEAD_CHUNK: u64 = 2 * 1024;
const MAX_HEAD_CHUNK: u64 = 64 * 1024;

/// A header context this long or longer is not copied into each element but
/// written from one shared buffer: a file's rows all carry it, and a large
/// one (a 400 KB `os_version`) would otherwise make a chunk's output
/// thousands of times its input.
const SHARED_CONTEXT: usize = 4096;

/// Encoded elements of one chunk with their merge keys.
#[derive(Default)]
pub struct JsonChunk {
    /// Each element preceded by `,\n`, so that a run of consecutive
    /// elements is one slice the merger writes at once.
    pub data: Vec<u8>,
    /// End of each element in `data`.
    pub ends: Vec<usize>,
    /// Large shared contexts, each written at its offset of `data` (the end
    /// of the element it closes), in offset order.
    pub splices: Vec<(usize, Arc<[u8]>)>,
    /// (timestamp ns, index into `sids`) of each element.
    pub keys: Vec<(i64, u32)>,
    /// Distinct session ids, in order of appearance.
    pub sids: Vec<Arc<str>>,
    /// The context bytes of header-context rows, and their deployment URL.
    context: Option<CachedContext>,
}

/// A header context's bytes, for the deployment URL they were written with.
struct CachedContext {
    deployment: Option<Box<str>>,
    bytes: Arc<[u8]>,
}

/// The separator written before every element but the first.
pub const SEP: &[u8] = b",\n";

impl JsonChunk {
    /// A chunk sink sized for `input` bytes of rows.
    pub fn with_capacity(input: usize) -> Self {
        Self {
            data: Vec::with_capacity(2 * input),
            ..Self::default()
        }
    }

    /// The byte range of elements `from..to`, separators included before each.
    fn run(&self, from: usize, to: usize) -> (usize, usize) {
        let start = if from == 0 { 0 } else { self.ends[from - 1] };
        (start, self.ends[to - 1])
    }
}

impl EventSink for JsonChunk {
    fn event(&mut self, _plan: &FilePlan, ev: &Event<'_>, signal: Signal) -> (u64, u64) {
        self.data.extend_from_slice(SEP);
        write_element_head(&mut self.data, ev);
        if ev.row.context.is_some() {
            write_context(&mut self.data, &ev.ctx);
        } else {
            // A header context: the same bytes for every row of the file with this deployment.
            let hit = matches!(&self.context, Some(c) if c.deployment.as_deref() == ev.ctx.deployment_url);
            if !hit {
                let mut bytes = Vec::with_capacity(320);
                write_context(&mut bytes, &ev.ctx);
                self.context = Some(CachedContext {
                    deployment: ev.ctx.deployment_url.map(Box::from),
                    bytes: bytes.into(),
                });
            }
            if let Some(CachedContext { bytes, .. }) = &self.context {
                if bytes.len() >= SHARED_CONTEXT {
                    self.splices.push((self.data.len(), Arc::clone(bytes)));
                } else {
                    self.data.extend_from_slice(bytes);
                }
            }
        }
        self.ends.push(self.data.len());
        let sid = ev.ctx.fields[ctx::SESSION_ID].unwrap_or("");
        if self.sids.last().map(|s| &**s) != Some(sid) {
            self.sids.push(Arc::from(sid));
        }
        self.keys.push((ev.row.time_nanos, (self.sids.len() - 1) as u32));
        if signal == Signal::Metric {
            count_points(ev)
        } else {
            (0, 0)
        }
    }
}

struct Parsed {
    job: ChunkJob,
    report: ChunkReport,
    read_error: Option<io::Error>,
    chunk: JsonChunk,
    /// The chunk's element bytes, shared with pending output runs.
    bytes: Arc<Vec<u8>>,
}

/// One piece of output waiting for a vectored write.
enum Piece {
    Static(&'static [u8]),
    Run(Arc<Vec<u8>>, usize, usize),
    Shared(Arc<[u8]>),
}

/// Collects output runs and writes them with `writev`, straight from the
/// parsed chunks: no copy into a buffer. Runs keep their chunk alive until
/// written, so a flush happens after a few distinct chunks to bound memory.
struct Runs<'w> {
    out: &'w mut dyn Write,
    pending: Vec<Piece>,
    bytes: usize,
    chunks: usize,
}

impl Runs<'_> {
    const MAX_PIECES: usize = 512;
    const MAX_BYTES: usize = 1 << 20;
    const MAX_CHUNKS: usize = 8;

    fn push_static(&mut self, b: &'static [u8]) {
        self.bytes += b.len();
        self.pending.push(Piece::Static(b));
    }

    /// Queues `data[start..end]` with the shared contexts spliced into it
    /// (those at offsets in `(start, end]`, see [`JsonChunk::splices`]).
    fn push(
        &mut self,
        data: &Arc<Vec<u8>>,
        splices: &[(usize, Arc<[u8]>)],
        start: usize,
        end: usize,
    ) -> io::Result<()> {
        let first = splices.partition_point(|(at, _)| *at <= start);
        let mut at = start;
        for (offset, context) in splices[first..].iter().take_while(|(o, _)| *o <= end) {
            self.push_piece(data, at, *offset)?;
            self.bytes += context.len();
            self.pending.push(Piece::Shared(Arc::clone(context)));
            at = *offset;
        }
        self.push_piece(data, at, end)
    }

    fn push_piece(&mut self, data: &Arc<Vec<u8>>, start: usize, end: usize) -> io::Result<()> {
        if start < end {
            let same = matches!(self.pending.last(), Some(Piece::Run(d, _, _)) if Arc::ptr_eq(d, data));
            if !same {
                self.chunks += 1;
            }
            self.bytes += end - start;
            self.pending.push(Piece::Run(Arc::clone(data), start, end));
        }
        if self.pending.len() >= Self::MAX_PIECES || self.bytes >= Self::MAX_BYTES || self.chunks >= Self::MAX_CHUNKS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = self
            .pending
            .iter()
            .map(|p| match p {
                Piece::Static(b) => IoSlice::new(b),
                Piece::Run(d, a, b) => IoSlice::new(&d[*a..*b]),
                Piece::Shared(b) => IoSlice::new(b),
            })
            .collect();
        write_all_vectored(self.out, &mut slices)?;
        drop(slices);
        self.pending.clear();
        self.bytes = 0;
        self.chunks = 0;
        Ok(())
    }
}

/// `write_all` for a list of slices (the std one is not stable yet).
fn write_all_vectored(out: &mut dyn Write, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match out.write_vectored(bufs) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write the whole output",
                ))
            }
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One session's files, cut into chunks as they are requested.
struct Stream {
    /// Plan indices of its files, in (date, part) order.
    files: Vec<usize>,
    /// The file and offset the next chunk starts at.
    file_pos: usize,
    offset: u64,
    /// Chunks requested and consumed so far.
    requested: u64,
    consumed: u64,
    /// Requested, not yet consumed chunks, in order; `None` until parsed.
    /// Boxed: a stream's empty queue then costs a few words, not a few
    /// `Parsed`s of capacity (tens of MiB with 30,000 sessions).
    slots: VecDeque<Option<Box<Parsed>>>,
    /// Next element of the front chunk.
    cursor: usize,
    /// Emitting, and not finished.
    active: bool,
    /// Its first key is known, its head chunk was let go (see [`Merger::park`]).
    parked: bool,
    lines: LineNumbers,
}

impl Stream {
    /// The next chunk of at most `size` bytes, if any is left.
    fn next_job(&mut self, plans: &[FilePlan], size: u64) -> Option<ChunkJob> {
        while let Some(&f) = self.files.get(self.file_pos) {
            let len = plans[f].file.size;
            if self.offset < len {
                let end = (self.offset + size.max(1)).min(len);
                let job = ChunkJob {
                    file: f,
                    start: self.offset,
                    end,
                };
                self.offset = end;
                return Some(job);
            }
            self.file_pos += 1;
            self.offset = 0;
        }
        None
    }

    /// Whether any byte is left to request.
    fn has_more(&self, plans: &[FilePlan]) -> bool {
        self.files[self.file_pos.min(self.files.len())..]
            .iter()
            .enumerate()
            .any(|(i, &f)| plans[f].file.size > if i == 0 { self.offset } else { 0 })
    }
}

type HeapKey = Reverse<(i64, Arc<str>, u32)>;

/// Prefetch depth and chunk size for `active` streams: enough parsed ahead to
/// keep every worker busy when few streams are open, and all of it within
/// [`MERGE_BUDGET`].
fn merge_shape(active: usize, threads: usize, chunk_bytes: u64) -> (u64, usize) {
    let active = active.max(1);
    let depth = if active >= 2 * threads {
        1
    } else {
        (2 * threads).div_ceil(active) + 1
    };
    let per_stream = MERGE_BUDGET / (active as u64 * (depth as u64 + 1));
    let size = per_stream.max(MIN_MERGE_CHUNK).min(chunk_bytes.max(1));
    (size, depth)
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

/// A parsed chunk on its way back: (stream, request number, result).
type Arrival = (usize, u64, std::thread::Result<Box<Parsed>>);

struct Merger<'s, 'a> {
    shared: &'s Shared<'a>,
    streams: Vec<Stream>,
    threads: usize,
    head_chunk: u64,
    /// Streams emitting and not finished.
    active: usize,
    /// Streams not started that hold their parsed head chunk, and the most
    /// that may: with thousands of sessions the others are parked.
    held: usize,
    max_held: usize,
    /// First keys of parked streams, to take them back in merge order.
    parked: BinaryHeap<HeapKey>,
    max_inflight: usize,
    inflight: usize,
    queue: VecDeque<usize>,
    tx: crossbeam_channel::Sender<Arrival>,
    rx: crossbeam_channel::Receiver<Arrival>,
    tally: Tally,
    trim: Trim,
}

impl<'s, 'a> Merger<'s, 'a> {
    /// Whether stream `s` may have another chunk requested: a stream not yet
    /// started holds only its head chunk; an active one parses ahead.
    fn eligible(&self, s: usize) -> bool {
        let st = &self.streams[s];
        if st.parked {
            return false;
        }
        let depth = if st.active {
            merge_shape(self.active, self.threads, self.shared.chunk_bytes).1
        } else {
            0
        };
        st.slots.len() <= depth && st.has_more(self.shared.plans)
    }

    /// Lets go of the parsed head chunk of stream `s` (not started), keeping
    /// only its first key: the stream is rewound to that chunk's start and
    /// re-reads it when the merge gets near it ([`Merger::refill`]). Its
    /// problems were not reported yet, so they are reported once, on the
    /// second reading.
    fn park(&mut self, s: usize, key: HeapKey) {
        let st = &mut self.streams[s];
        if let Some(Some(p)) = st.slots.pop_front() {
            if let Some(pos) = st.files.iter().position(|&f| f == p.job.file) {
                st.file_pos = pos;
            }
            st.offset = p.job.start;
            st.requested = st.consumed;
            st.cursor = 0;
        }
        st.slots = VecDeque::new();
        st.parked = true;
        self.parked.push(key);
    }

    /// Makes parked stream `s` request its head chunk again.
    fn unpark<'scope>(&mut self, scope: &rayon::Scope<'scope>, s: usize)
    where
        's: 'scope,
        'a: 'scope,
    {
        self.streams[s].parked = false;
        self.queue.push_back(s);
        self.pump(scope);
    }

    /// Re-reads parked heads, earliest first, while the held budget allows.
    fn refill<'scope>(&mut self, scope: &rayon::Scope<'scope>)
    where
        's: 'scope,
        'a: 'scope,
    {
        while self.held < self.max_held {
            let Some(Reverse((_, _, s))) = self.parked.pop() else {
                break;
            };
            if self.streams[s as usize].parked {
                self.held += 1;
                self.unpark(scope, s as usize);
            }
        }
    }

    /// Marks stream `s` as emitting; it may now parse ahead.
    fn activate<'scope>(&mut self, scope: &rayon::Scope<'scope>, s: usize)
    where
        's: 'scope,
        'a: 'scope,
    {
        if !self.streams[s].active {
            self.streams[s].active = true;
            self.active += 1;
            self.queue.push_back(s);
            self.pump(scope);
        }
    }

    /// Starts queued requests while workers have room.
    fn pump<'scope>(&mut self, scope: &rayon::Scope<'scope>)
    where
        's: 'scope,
        'a: 'scope,
    {
        while self.inflight < self.max_inflight {
            let Some(s) = self.queue.pop_front() else {
                break;
            };
            if !self.eligible(s) || self.shared.cancel.load(Ordering::Relaxed) {
                continue;
            }
            let size = if self.streams[s].active {
                merge_shape(self.active, self.threads, self.shared.chunk_bytes).0
            } else {
                self.head_chunk
            };
            let st = &mut self.streams[s];
            let Some(job) = st.next_job(self.shared.plans, size) else {
                continue;
            };
            let seq = st.requested;
            st.requested += 1;
            st.slots.push_back(None);
            self.inflight += 1;
            let tx = self.tx.clone();
            let shared = self.shared;
            scope.spawn(move |_| {
                let parsed = catch_unwind(AssertUnwindSafe(|| {
                    let hint = (job.end - job.start) as usize;
                    let (report, read_error, mut chunk) = run_job(shared, job, JsonChunk::with_capacity(hint));
                    let bytes = Arc::new(std::mem::take(&mut chunk.data));
                    Box::new(Parsed {
                        job,
                        report,
                        read_error,
                        chunk,
                        bytes,
                    })
                }));
                let _ = tx.send((s, seq, parsed));
            });
            if self.eligible(s) {
                self.queue.push_back(s);
            }
        }
    }

    /// Waits for one parsed chunk and files it in its stream's slot.
    fn receive<'scope>(&mut self, scope: &rayon::Scope<'scope>) -> Result<(), PipelineError>
    where
        's: 'scope,
        'a: 'scope,
    {
        let (s, seq, parsed) = loop {
            match self.rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(m) => break m,
                Err(_) if self.shared.cancel.load(Ordering::Relaxed) => return Err(PipelineError::Cancelled),
                Err(_) => continue,
            }
        };
        self.inflight -= 1;
        let parsed = parsed.map_err(|p| PipelineError::Panic {
            file: self.shared.path(self.streams[s].files[0]),
            message: panic_message(p),
        })?;
        let st = &mut self.streams[s];
        let at = (seq - st.consumed) as usize;
        st.slots[at] = Some(parsed);
        if self.eligible(s) {
            self.queue.push_back(s);
        }
        self.pump(scope);
        Ok(())
    }

    /// The merge key of stream `s`'s next element, consuming finished chunks
    /// (and reporting their problems) on the way; `None` when it is done.
    fn head<'scope>(
        &mut self,
        scope: &rayon::Scope<'scope>,
        s: usize,
        problems: &mut Problems,
    ) -> Result<Option<HeapKey>, PipelineError>
    where
        's: 'scope,
        'a: 'scope,
    {
        loop {
            let st = &self.streams[s];
            match st.slots.front() {
                None if !st.has_more(self.shared.plans) => {
                    let st = &mut self.streams[s];
                    st.slots = VecDeque::new();
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
                Some(Some(p)) if st.cursor < p.chunk.keys.len() => {
                    let (t, sid) = p.chunk.keys[st.cursor];
                    return Ok(Some(Reverse((t, p.chunk.sids[sid as usize].clone(), s as u32))));
                }
                Some(Some(_)) => self.consume_front(scope, s, problems)?,
            }
        }
    }

    /// Drops the finished front chunk of stream `s`, reporting what it found.
    fn consume_front<'scope>(
        &mut self,
        scope: &rayon::Scope<'scope>,
        s: usize,
        problems: &mut Problems,
    ) -> Result<(), PipelineError>
    where
        's: 'scope,
        'a: 'scope,
    {
        let st = &mut self.streams[s];
        if let Some(Some(p)) = st.slots.pop_front() {
            st.cursor = 0;
            st.consumed += 1;
            st.lines
                .report(self.shared, p.job.file, &p.report, p.read_error.as_ref(), problems)?;
            self.tally.add(p.job.file, &p.report.counts);
            (self.shared.progress)(p.report.bytes);
            self.trim.advance(p.report.bytes);
        }
        if self.eligible(s) {
            self.queue.push_back(s);
        }
        self.pump(scope);
        Ok(())
    }
}

/// Writes the merged JSON array to `out`; returns the counts.
pub fn run_json(shared: &Shared<'_>, out: &mut dyn Write, problems: &mut Problems) -> Result<Tally, PipelineError> {
    // Session streams: canonical order is (date, session, part), so a stable
    // sort by session keeps each stream in (date, part) order.
    let mut files: Vec<usize> = (0..shared.plans.len()).collect();
    files.sort_by(|a, b| shared.plans[*a].file.session.cmp(&shared.plans[*b].file.session));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for f in files {
        match groups.last_mut() {
            Some(g) if shared.plans[g[0]].file.session == shared.plans[f].file.session => g.push(f),
            _ => groups.push(vec![f]),
        }
    }
    let threads = shared.pool.current_num_threads();
    let streams: Vec<Stream> = groups
        .into_iter()
        .map(|files| Stream {
            files,
            file_pos: 0,
            offset: 0,
            requested: 0,
            consumed: 0,
            slots: VecDeque::new(),
            cursor: 0,
            active: false,
            parked: false,
            lines: LineNumbers::default(),
        })
        .collect();
    let (tx, rx) = unbounded();
    let head_chunk = head_chunk(streams.len(), shared.chunk_bytes);
    let mut m = Merger {
        shared,
        queue: (0..streams.len()).collect(),
        head_chunk,
        streams,
        threads,
        active: 0,
        held: 0,
        max_held: (head_budget(shared.chunk_bytes) / head_chunk).max(1) as usize,
        parked: BinaryHeap::new(),
        max_inflight: 2 * threads + 2,
        inflight: 0,
        tx,
        rx,
        tally: Tally::new(shared.plans.len()),
        trim: Trim::default(),
    };

    let mut runs = Runs {
        out,
        pending: Vec::with_capacity(Runs::MAX_PIECES),
        bytes: 0,
        chunks: 0,
    };
    let result = shared.pool.in_place_scope(|scope| -> Result<(), PipelineError> {
        m.pump(scope);
        let mut heap: BinaryHeap<HeapKey> = BinaryHeap::with_capacity(m.streams.len());
        for s in 0..m.streams.len() {
            if let Some(k) = m.head(scope, s, problems)? {
                if m.held < m.max_held {
                    m.held += 1;
                } else {
                    m.park(s, k.clone());
                }
                heap.push(k);
            }
        }
        let mut written = 0u64;
        while let Some(Reverse((t, sid, s32))) = heap.pop() {
            let s = s32 as usize;
            if m.streams[s].parked {
                // Needed before its turn to be re-read came: read it now.
                m.unpark(scope, s);
            } else if !m.streams[s].active {
                m.held = m.held.saturating_sub(1);
            }
            if !matches!(m.streams[s].slots.front(), Some(Some(_))) {
                // A head being re-read: wait for it (same chunk, same first key).
                m.head(scope, s, problems)?;
            }
            m.activate(scope, s);
            m.refill(scope);
            {
                // Emit the run of this stream's elements that come before the
                // next stream's head, as one slice of its chunk.
                let st = &mut m.streams[s];
                // A stream in the heap has its front chunk parsed (head() put it there).
                let Some(Some(p)) = st.slots.front() else {
                    return Err(PipelineError::Panic {
                        file: shared.path(st.files[0]),
                        message: "merge lost the head of a session stream".into(),
                    });
                };
                let from = st.cursor;
                let mut to = from + 1;
                if let Some(Reverse(next)) = heap.peek() {
                    while to < p.chunk.keys.len() {
                        let (t2, sid2) = p.chunk.keys[to];
                        let key = (t2, &*p.chunk.sids[sid2 as usize], s32);
                        if key >= (next.0, &*next.1, next.2) {
                            break;
                        }
                        to += 1;
                    }
                } else {
                    to = p.chunk.keys.len();
                }
                let (a, b) = p.chunk.run(from, to);
                if written == 0 {
                    runs.push_static(b"[\n");
                    runs.push(&p.bytes, &p.chunk.splices, a + SEP.len(), b)?;
                } else {
                    runs.push(&p.bytes, &p.chunk.splices, a, b)?;
                }
                written += (to - from) as u64;
                st.cursor = to;
            }
            let _ = (t, sid);
            if let Some(k) = m.head(scope, s, problems)? {
                heap.push(k);
            }
        }
        runs.push_static(if written == 0 { b"[]\n" } else { b"\n]\n" });
        runs.flush()?;
        Ok(())
    });
    if result.is_err() {
        shared.cancel.store(true, Ordering::Relaxed);
    }
    result?;
    Ok(m.tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_keeps_the_budget_with_many_active_streams() {
        let (size, depth) = merge_shape(1, 2, 1 << 20);
        assert_eq!((size, depth), (1 << 20, 5));
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
    fn head_budget_is_a_few_chunks_at_most() {
        assert_eq!(head_budget(1 << 20), HEAD_BUDGET);
        assert_eq!(head_budget(100), 800);
    }
}
