//! The JSON array (SPEC §5.3): a k-way merge of per-session streams by
//! timestamp, fed on demand.
//!
//! A session stream is every selected file with the same `{session}` name
//! part, in (date, part) order. Each stream is cut into chunks that the
//! workers parse and encode into elements with their merge keys. The merger
//! keeps, per stream, only the chunk it is consuming plus a bounded number
//! parsed ahead; chunks are requested in the order the streams run out of
//! data, which is merge order. The chunk size shrinks as the number of
//! streams grows, so the bytes held stay under a fixed budget whether there
//! are 2 sessions in range or 2,000.
//!
//! Ties on the timestamp go to the smaller `context.session_id`, then to the
//! stream that comes first in canonical order, so the output never depends
//! on the thread count or the chunk size.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::unbounded;

use super::chunk::{jobs_for, ChunkJob, FilePlan};
use super::work::{ChunkReport, Counts, EventSink};
use super::{panic_message, run_job, LineNumbers, PipelineError, Shared};
use crate::encode::json::{write_context, write_element_head};
use crate::encode::metrics::for_each_point;
use crate::encode::Event;
use crate::report::Problems;
use crate::route::Signal;
use crate::row::ctx;

/// Input bytes the merge may hold across all streams (chunks being consumed
/// and parsed ahead); the encoded elements take about 1.5-2x that.
const MERGE_BUDGET: u64 = 24 * 1024 * 1024;
/// The smallest merge chunk: a few dozen typical lines.
const MIN_MERGE_CHUNK: u64 = 16 * 1024;

/// Encoded elements of one chunk with their merge keys.
#[derive(Default)]
pub struct JsonChunk {
    /// Each element preceded by `,\n`, so that a run of consecutive
    /// elements is one slice the merger writes at once.
    pub data: Vec<u8>,
    /// End of each element in `data`.
    pub ends: Vec<u32>,
    /// (timestamp ns, index into `sids`) of each element.
    pub keys: Vec<(i64, u32)>,
    /// Distinct session ids, in order of appearance.
    pub sids: Vec<Arc<str>>,
    /// The context bytes of header-context rows, by deployment URL.
    context: Option<(Option<Box<str>>, Vec<u8>)>,
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

    /// Bytes `from..to` elements as one slice, separators included before each.
    fn run(&self, from: usize, to: usize) -> &[u8] {
        let start = if from == 0 { 0 } else { self.ends[from - 1] as usize };
        &self.data[start..self.ends[to - 1] as usize]
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
            let hit = matches!(&self.context, Some((d, _)) if d.as_deref() == ev.ctx.deployment_url);
            if !hit {
                let mut bytes = Vec::with_capacity(320);
                write_context(&mut bytes, &ev.ctx);
                self.context = Some((ev.ctx.deployment_url.map(Box::from), bytes));
            }
            if let Some((_, bytes)) = &self.context {
                self.data.extend_from_slice(bytes);
            }
        }
        self.ends.push(self.data.len() as u32);
        let sid = ev.ctx.fields[ctx::SESSION_ID].unwrap_or("");
        if self.sids.last().map(|s| &**s) != Some(sid) {
            self.sids.push(Arc::from(sid));
        }
        self.keys.push((ev.row.time_nanos, (self.sids.len() - 1) as u32));
        if signal == Signal::Metric {
            let mut points = 0;
            let dropped = for_each_point(ev, |_| points += 1);
            (points, dropped)
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
}

/// One session's files, consumed chunk by chunk.
struct Stream {
    jobs: Vec<ChunkJob>,
    /// Jobs requested so far.
    requested: usize,
    /// Requested, not yet consumed chunks, in order; `None` until parsed.
    slots: VecDeque<Option<Parsed>>,
    /// Next element of the front chunk.
    cursor: usize,
    lines: LineNumbers,
}

type HeapKey = Reverse<(i64, Arc<str>, u32)>;

/// How the merge cuts and prefetches, from the number of streams.
fn merge_shape(streams: usize, threads: usize, chunk_bytes: u64) -> (u64, usize) {
    let streams = streams.max(1);
    // Enough parsed ahead to keep every worker busy when few streams are open.
    let depth = if streams >= 2 * threads {
        1
    } else {
        (2 * threads).div_ceil(streams) + 1
    };
    let per_stream = MERGE_BUDGET / (streams as u64 * (depth as u64 + 1));
    let size = per_stream.max(MIN_MERGE_CHUNK).min(chunk_bytes.max(1));
    (size, depth)
}

struct Merger<'s, 'a> {
    shared: &'s Shared<'a>,
    streams: Vec<Stream>,
    depth: usize,
    max_inflight: usize,
    inflight: usize,
    queue: VecDeque<usize>,
    tx: crossbeam_channel::Sender<(usize, std::thread::Result<Parsed>)>,
    rx: crossbeam_channel::Receiver<(usize, std::thread::Result<Parsed>)>,
    counts: Counts,
}

impl<'s, 'a> Merger<'s, 'a> {
    fn eligible(&self, s: usize) -> bool {
        let st = &self.streams[s];
        st.requested < st.jobs.len() && st.slots.len() <= self.depth
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
            let st = &mut self.streams[s];
            let job = st.jobs[st.requested];
            st.requested += 1;
            st.slots.push_back(None);
            self.inflight += 1;
            let tx = self.tx.clone();
            let shared = self.shared;
            scope.spawn(move |_| {
                let parsed = catch_unwind(AssertUnwindSafe(|| {
                    let hint = (job.end - job.start) as usize;
                    let (report, read_error, chunk) = run_job(shared, job, JsonChunk::with_capacity(hint));
                    Parsed {
                        job,
                        report,
                        read_error,
                        chunk,
                    }
                }));
                let _ = tx.send((s, parsed));
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
        let (s, parsed) = loop {
            match self.rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(m) => break m,
                Err(_) if self.shared.cancel.load(Ordering::Relaxed) => return Err(PipelineError::Cancelled),
                Err(_) => continue,
            }
        };
        self.inflight -= 1;
        let parsed = parsed.map_err(|p| PipelineError::Panic {
            file: self.shared.path(self.streams[s].jobs[0].file),
            message: panic_message(p),
        })?;
        let st = &mut self.streams[s];
        let consumed = st.requested - st.slots.len();
        let at = st.jobs[consumed..].iter().position(|j| *j == parsed.job).unwrap_or(0);
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
                None if st.requested == st.jobs.len() => return Ok(None),
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
            st.lines
                .report(self.shared, p.job.file, &p.report, p.read_error.as_ref(), problems)?;
            self.counts.add(&p.report.counts);
            (self.shared.progress)(p.report.bytes);
        }
        if self.eligible(s) {
            self.queue.push_back(s);
        }
        self.pump(scope);
        Ok(())
    }
}

/// Writes the merged JSON array to `out`; returns the counts.
pub fn run_json(shared: &Shared<'_>, out: &mut dyn Write, problems: &mut Problems) -> Result<Counts, PipelineError> {
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
    let (chunk, depth) = merge_shape(groups.len(), threads, shared.chunk_bytes);
    let streams: Vec<Stream> = groups
        .iter()
        .map(|g| Stream {
            jobs: g.iter().flat_map(|&f| jobs_for(shared.plans, chunk, f)).collect(),
            requested: 0,
            slots: VecDeque::new(),
            cursor: 0,
            lines: LineNumbers::default(),
        })
        .collect();
    let (tx, rx) = unbounded();
    let mut m = Merger {
        shared,
        queue: (0..streams.len()).collect(),
        streams,
        depth,
        max_inflight: 2 * threads + 2,
        inflight: 0,
        tx,
        rx,
        counts: Counts::default(),
    };

    let result = shared.pool.in_place_scope(|scope| -> Result<(), PipelineError> {
        m.pump(scope);
        let mut heap: BinaryHeap<HeapKey> = BinaryHeap::with_capacity(m.streams.len());
        for s in 0..m.streams.len() {
            if let Some(k) = m.head(scope, s, problems)? {
                heap.push(k);
            }
        }
        let mut written = 0u64;
        while let Some(Reverse((t, sid, s32))) = heap.pop() {
            let s = s32 as usize;
            {
                // Emit the run of this stream's elements that come before the
                // next stream's head, as one slice of its chunk.
                let st = &mut m.streams[s];
                let Some(Some(p)) = st.slots.front() else {
                    unreachable!("a stream in the heap has its front chunk parsed")
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
                let run = p.chunk.run(from, to);
                if written == 0 {
                    out.write_all(b"[\n")?;
                    out.write_all(&run[SEP.len()..])?;
                } else {
                    out.write_all(run)?;
                }
                written += (to - from) as u64;
                st.cursor = to;
            }
            let _ = (t, sid);
            if let Some(k) = m.head(scope, s, problems)? {
                heap.push(k);
            }
        }
        out.write_all(if written == 0 { b"[]\n" } else { b"\n]\n" })?;
        Ok(())
    });
    if result.is_err() {
        shared.cancel.store(true, Ordering::Relaxed);
    }
    result?;
    Ok(m.counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_keeps_the_budget_with_many_streams() {
        let (size, depth) = merge_shape(1, 2, 1 << 20);
        assert_eq!((size, depth), (1 << 20, 5));
        let (size, depth) = merge_shape(500, 2, 1 << 20);
        assert_eq!(depth, 1);
        assert!(size * 500 * 2 <= MERGE_BUDGET.max(MIN_MERGE_CHUNK * 1000));
        assert_eq!(merge_shape(100_000, 2, 1 << 20).0, MIN_MERGE_CHUNK);
        assert_eq!(merge_shape(3, 2, 100).0, 100);
    }
}
