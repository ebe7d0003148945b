//! The ordering engine: numbered chunks of the selected files, parsed by a
//! bounded number of workers, with one cancellation and panic path, sized
//! from one memory budget; and its two consumers, which ask it for chunks in
//! the order they need them:
//!
//! ```text
//! chunks (file order) --submit--> rayon workers: read, parse, route, encode
//!                    <--receive-- (tag, report, batch), any order
//! ordered::run   the OTLP envelopes: in file order -> one writer per signal
//! merge::run     the JSON array: per session stream, on demand -> k-way merge
//! ```
//!
//! Memory is bounded by construction ([`Budget`]): at most `window` chunks
//! are between submission and consumption, each of about `chunk` bytes of
//! input and a few times that of output; the chunk size shrinks as the
//! thread count grows so that the window fits the budget, and there are
//! never more workers than the window can keep busy. Nothing grows with the
//! store, the number of files or sessions, or `--threads`.
//!
//! Problems are kept by (file, line) in [`Problems`], so whatever order the
//! chunks were consumed in, the first ones reported are the first in file
//! order, for every format.

pub mod chunk;
pub mod merge;
pub mod ordered;
mod runs;
pub mod sinks;
pub mod worker;

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};

use crate::model::{Counts, FileCounts};
use crate::report::{Problems, StrictAbort};
use crate::store::StoreFile;
use chunk::Chunk;
use worker::{run_chunk, EventSink, ParseOptions, ChunkReport};

/// Memory the engine plans for (SPEC §9.1 caps peak RSS at 128 MiB; the
/// rest is the program, thread stacks and the allocator's slack). It is
/// spent as: 40 MiB for chunks in flight (input and encoded output), 12 MiB
/// of input for the JSON merge's parsed chunks and heads, about three times
/// that with their elements ([`merge`]), the metric writer's pending points
/// ([`crate::write::series`]) and the writers' queues, the rest for the
/// parser's tape of a long line.
pub const MEMORY_BUDGET: u64 = 96 << 20;
/// The share of it for chunks in flight: their input and encoded output.
const CHUNKS_SHARE: u64 = MEMORY_BUDGET / 12 * 5;
/// A chunk in flight holds its input and its output, about this many times
/// its input (the real mix's OTLP is 2.9x its input).
const CHUNK_FOOTPRINT: u64 = 4;
/// Chunks are not cut smaller than this, whatever the thread count.
const MIN_CHUNK: u64 = 64 << 10;

/// How the budget is spent for a thread count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Parse workers: never more than the window keeps busy.
    pub workers: usize,
    /// Chunks between submission and consumption.
    pub window: usize,
    /// Input bytes of a chunk.
    pub chunk: u64,
}

impl Budget {
    /// The budget for `threads` cores, with chunks of at most `chunk_cap` bytes.
    pub fn new(threads: usize, chunk_cap: u64) -> Self {
        let threads = threads.max(1);
        let chunk_cap = chunk_cap.max(1);
        // Every worker with one chunk in hand and one done, plus two.
        let want = 2 * threads as u64 + 2;
        let chunk = (CHUNKS_SHARE / (CHUNK_FOOTPRINT * want)).clamp(MIN_CHUNK.min(chunk_cap), chunk_cap);
        let window = (CHUNKS_SHARE / (CHUNK_FOOTPRINT * chunk)).clamp(2, want) as usize;
        Self {
            workers: threads.min((window / 2).max(1)),
            window,
            chunk,
        }
    }

    /// Output a chunk may hold before it hands it on in parts: its share of
    /// the chunks' budget. Typical chunks stay well within it.
    pub fn part_bytes(&self) -> usize {
        usize::try_from(CHUNK_FOOTPRINT * self.chunk).unwrap_or(usize::MAX)
    }

    /// The largest buffer worth keeping for reuse: twice what a chunk's
    /// output usually needs. A chunk with a freak line grows buffers past
    /// it, and those go back to the allocator rather than stay in a pool.
    pub fn kept_buffer_bytes(&self) -> usize {
        usize::try_from(2 * CHUNK_FOOTPRINT * self.chunk).unwrap_or(usize::MAX)
    }
}

/// Why the engine stopped.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("interrupted")]
    Cancelled,
    #[error(transparent)]
    Strict(#[from] StrictAbort),
    #[error("writing the output failed: {0}")]
    Write(io::Error),
    #[error("internal error while processing {file}: {message}")]
    Panic { file: String, message: String },
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl From<io::Error> for EngineError {
    fn from(e: io::Error) -> Self {
        EngineError::Write(e)
    }
}

impl EngineError {
    /// The reader of our stdout went away (`| head`): not worth an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, EngineError::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// What one run of the engine works on.
pub struct Run<'a> {
    /// The store folders, by position (files name theirs).
    pub stores: &'a [PathBuf],
    /// The selected files, in canonical order.
    pub files: &'a [StoreFile],
    pub opts: ParseOptions<'a>,
    pub budget: Budget,
    pub pool: &'a rayon::ThreadPool,
    pub cancel: &'a AtomicBool,
    /// Called with the input bytes of each consumed chunk.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Called with the input bytes of each chunk a worker reads.
    pub read: &'a (dyn Fn(u64) + Sync),
}

impl Run<'_> {
    pub fn path(&self, file: usize) -> PathBuf {
        self.files[file].path(self.stores)
    }

    /// Every chunk of file `file`.
    pub fn chunks(&self, file: usize) -> impl Iterator<Item = Chunk> {
        chunk::chunks_of(file, self.files[file].size, self.budget.chunk)
    }
}

/// A sink a chunk is encoded into, and what it becomes.
pub trait ChunkSink: EventSink {
    type Out: Send;
    fn finish(self) -> Self::Out;
}

impl ChunkSink for worker::Discard {
    type Out = ();
    fn finish(self) {}
}

/// A consumed chunk.
pub struct Done<T> {
    pub chunk: Chunk,
    pub report: ChunkReport,
    pub out: T,
}

/// What comes back from a worker.
enum Msg<T> {
    /// A chunk is done: its report and the rest of its output.
    Done(u64, Chunk, std::thread::Result<(ChunkReport, T)>),
    /// Output of the consumer's next chunk, handed on before the chunk is done.
    Part(u64, T),
}

/// What [`Engine::receive`] got.
pub enum Received<T> {
    Done(u64, Done<T>),
    Part(u64, T),
}

/// Whose turn it is to hand output on early, and how many parts the
/// consumer took: a chunk whose output outgrows its share of the budget
/// (one metric row with a million keys) passes it on in parts, but only
/// once every chunk before it is consumed, and one part at a time.
#[derive(Default)]
pub struct Turn {
    state: Mutex<TurnState>,
    cv: Condvar,
}

#[derive(Default)]
struct TurnState {
    /// The chunk the consumer waits for.
    next: u64,
    /// Parts delivered so far.
    acked: u64,
    /// The consumer stopped: nobody waits for parts any more.
    stopped: bool,
}

impl Turn {
    fn lock(&self) -> MutexGuard<'_, TurnState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut TurnState)) {
        f(&mut self.lock());
        self.cv.notify_all();
    }

    /// The consumer now waits for chunk `next`.
    pub fn advance(&self, next: u64) {
        self.update(|st| st.next = next);
    }

    /// The consumer delivered a part.
    pub fn ack(&self) {
        self.update(|st| st.acked += 1);
    }

    /// The consumer stopped (an error, or cancellation).
    pub fn stop(&self) {
        self.update(|st| st.stopped = true);
    }

    /// Waits until `done` holds; `None` once the consumer stopped.
    fn wait(&self, done: impl Fn(&TurnState) -> bool) -> Option<MutexGuard<'_, TurnState>> {
        let mut st = self.lock();
        while !done(&st) {
            if st.stopped {
                return None;
            }
            st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        Some(st)
    }
}

/// A worker's way to hand its chunk's output on in parts ([`Turn`]).
pub struct Handoff<T> {
    tag: u64,
    turn: Arc<Turn>,
    tx: Sender<Msg<T>>,
}

impl<T> Handoff<T> {
    /// Waits for the chunk's turn, hands `part` to the consumer and waits
    /// until it is delivered. False if the consumer stopped meanwhile (the
    /// part is dropped).
    pub fn send(&self, part: T) -> bool {
        let Some(st) = self.turn.wait(|st| st.next == self.tag) else {
            return false;
        };
        let want = st.acked + 1;
        drop(st);
        if self.tx.send(Msg::Part(self.tag, part)).is_err() {
            return false;
        }
        self.turn.wait(|st| st.acked >= want).is_some()
    }
}

/// Submits chunks to the workers and receives them back, at most `window`
/// at a time.
pub struct Engine<'r, 'a, T> {
    run: &'r Run<'a>,
    turn: Arc<Turn>,
    tx: Sender<Msg<T>>,
    rx: Receiver<Msg<T>>,
    inflight: usize,
}

impl<'r, 'a: 'r, T: Send + 'r> Engine<'r, 'a, T> {
    pub fn new(run: &'r Run<'a>, turn: Arc<Turn>) -> Self {
        let (tx, rx) = unbounded();
        Self {
            run,
            turn,
            tx,
            rx,
            inflight: 0,
        }
    }

    pub fn run(&self) -> &'r Run<'a> {
        self.run
    }

    /// Whether another chunk may be submitted.
    pub fn has_room(&self) -> bool {
        self.inflight < self.run.budget.window
    }

    pub fn inflight(&self) -> usize {
        self.inflight
    }

    /// Starts `chunk` on a worker, encoded into the sink `make` builds (it
    /// may hand output on early through the [`Handoff`] it is given); `tag`
    /// comes back with it. A panic is caught and comes back too.
    pub fn submit<S, F>(&mut self, scope: &rayon::ScopeFifo<'r>, tag: u64, chunk: Chunk, make: F)
    where
        S: ChunkSink<Out = T>,
        F: FnOnce(Handoff<T>) -> S + Send + 'r,
    {
        self.inflight += 1;
        let tx = self.tx.clone();
        let handoff = Handoff {
            tag,
            turn: self.turn.clone(),
            tx: self.tx.clone(),
        };
        let run = self.run;
        scope.spawn_fifo(move |_| {
            (run.read)(chunk.bytes());
            let result = catch_unwind(AssertUnwindSafe(|| {
                let mut sink = make(handoff);
                let file = &run.files[chunk.file];
                let report = run_chunk(file, &file.path(run.stores), chunk, run.opts, &mut sink);
                (report, sink.finish())
            }));
            let _ = tx.send(Msg::Done(tag, chunk, result));
        });
    }

    /// Waits for a chunk, or a part of the next one, to come back; stops on
    /// cancellation, and turns a worker's panic into an error naming the file.
    pub fn receive(&mut self) -> Result<Received<T>, EngineError> {
        loop {
            match self.rx.recv_timeout(Duration::from_millis(50)) {
                _ if self.run.cancel.load(Ordering::Relaxed) => return Err(EngineError::Cancelled),
                Ok(Msg::Part(tag, part)) => return Ok(Received::Part(tag, part)),
                Ok(Msg::Done(tag, chunk, result)) => {
                    self.inflight -= 1;
                    return match result {
                        Ok((report, out)) => Ok(Received::Done(tag, Done { chunk, report, out })),
                        Err(p) => Err(EngineError::Panic {
                            file: self.run.path(chunk.file).display().to_string(),
                            message: panic_message(p),
                        }),
                    };
                }
                Err(RecvTimeoutError::Timeout) => continue,
                // Cannot happen while `self.tx` lives; treated as a stop.
                Err(RecvTimeoutError::Disconnected) => return Err(EngineError::Cancelled),
            }
        }
    }

}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "worker panicked".to_string())
}

/// The accounts of a run: each chunk's problems numbered as lines of its
/// file, counts per file and in all. Chunks of one file must be recorded in
/// order (both consumers do); files may interleave.
pub struct Books {
    /// Lines of each file recorded so far.
    lines: Vec<u64>,
    /// Whether the file's own problem (unreadable, cut short) was reported.
    file_reported: Vec<bool>,
    /// Whether a chunk of the file was read.
    read: Vec<bool>,
    pub total: Counts,
    pub per_file: Vec<FileCounts>,
}

impl Books {
    pub fn new(files: usize) -> Self {
        Self {
            lines: vec![0; files],
            file_reported: vec![false; files],
            read: vec![false; files],
            total: Counts::default(),
            per_file: vec![FileCounts::default(); files],
        }
    }

    /// Records a consumed chunk: its problems, counts and progress.
    pub fn record(&mut self, run: &Run<'_>, chunk: Chunk, report: &ChunkReport, problems: &mut Problems) -> Result<(), StrictAbort> {
        let f = chunk.file;
        let path = || run.path(f).display().to_string();
        let base = self.lines[f];
        for (rel, reason) in &report.problems {
            problems.line(f, base + rel + 1, path, reason.kind(), reason)?;
        }
        if let Some(p) = &report.file_problem {
            if !self.file_reported[f] {
                self.file_reported[f] = true;
                problems.file(f, path, p.kind, p.reason.clone())?;
            }
        }
        // A file is skipped as a whole while none of its chunks was read
        // and one could not be: its first chunk, or every one, says why.
        if report.read {
            self.read[f] = true;
            self.per_file[f].skipped = false;
        } else if report.file_problem.is_some() && !self.read[f] {
            self.per_file[f].skipped = true;
        }
        self.lines[f] += report.lines;
        self.total.add(&report.counts);
        self.per_file[f].add(&report.counts);
        (run.progress)(report.bytes);
        Ok(())
    }

    /// The source files read, if only in part: every selected file but
    /// those skipped as a whole.
    pub fn files_read(&self) -> u64 {
        self.per_file.iter().filter(|c| !c.skipped).count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_chunks_in_flight_within_their_share_whatever_the_threads() {
        for threads in [1, 2, 4, 16, 64, 1024] {
            let b = Budget::new(threads, 1 << 20);
            assert!(b.window as u64 * b.chunk * CHUNK_FOOTPRINT <= CHUNKS_SHARE, "{threads}: {b:?}");
            assert!(b.workers >= 1 && b.workers <= threads && b.workers <= b.window, "{threads}: {b:?}");
            assert!(b.chunk >= MIN_CHUNK && b.chunk <= 1 << 20, "{threads}: {b:?}");
        }
        assert_eq!(Budget::new(2, 1 << 20), Budget { workers: 2, window: 6, chunk: 1 << 20 });
        // 1,024 threads: as many workers as a window of 64 KiB chunks keeps busy.
        let b = Budget::new(1024, 1 << 20);
        assert_eq!((b.chunk, b.window, b.workers), (64 << 10, 160, 80));
        // Tests cut tiny chunks: the cap wins.
        assert_eq!(Budget::new(4, 61).chunk, 61);
    }
}
