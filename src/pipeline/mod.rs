//! The parallel, ordered, memory-bounded pipeline.
//!
//! ```text
//! dispatcher --(job n, after taking a window token)--> rayon workers
//! workers: read chunk -> split lines -> parse -> route -> encode  (work.rs)
//!        --(seq, batches)--> sequencer: reorder window, problems, counts
//!        --(bounded)--> one writer thread per envelope (output::layout)
//! ```
//! Memory is bounded by construction: at most `window` chunks are between
//! the dispatcher and the sequencer (the sequencer hands a token back as each
//! leaves in order), writer channels are bounded, and no stage holds more
//! than a chunk of any file. The JSON array takes a different route through
//! the same workers: [`merge`].
//!
//! Cancellation (Ctrl-C, a failed writer, `--strict`) sets a shared flag and
//! drops channels; every stage notices and stops, and the caller removes the
//! temporary output. A worker panic is caught and turned into an error.

pub mod batch;
pub mod chunk;
pub mod merge;
pub mod order;
pub mod pool;
pub mod probe;
pub mod work;

use std::cell::RefCell;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{bounded, unbounded, RecvTimeoutError};

use crate::output::layout::{MetricWriter, RecordWriter, WriterSummary};
use crate::report::{Problems, StrictAbort};
use batch::{OtlpBatch, OtlpSink};
use chunk::{jobs_for, read_chunk_into, ChunkJob, FilePlan};
use order::Reorder;
use work::{ChunkReport, Counts, ParseOptions, Parser};

thread_local! {
    /// Each worker thread keeps its parser buffers from one chunk to the next.
    static PARSER: RefCell<Parser> = RefCell::new(Parser::default());
    /// And its read buffer: no allocation per chunk, no heap fragmentation.
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Read buffers grown past this (by a very long line) are not kept.
const KEEP_READ_BUF: usize = 4 << 20;

/// Why the pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("interrupted")]
    Cancelled,
    #[error(transparent)]
    Strict(#[from] StrictAbort),
    #[error("writing the output failed: {0}")]
    Write(io::Error),
    #[error("internal error while processing {file}: {message}")]
    Panic { file: String, message: String },
}

impl From<io::Error> for PipelineError {
    fn from(e: io::Error) -> Self {
        PipelineError::Write(e)
    }
}

impl PipelineError {
    /// The reader of our stdout went away (`| head`): not worth an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, PipelineError::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// What the pipeline needs besides the files.
pub struct Shared<'a> {
    pub plans: &'a [FilePlan],
    pub opts: ParseOptions<'a>,
    pub chunk_bytes: u64,
    pub pool: &'a rayon::ThreadPool,
    pub cancel: &'a AtomicBool,
    /// Called with the number of input bytes each finished chunk covered.
    pub progress: &'a (dyn Fn(u64) + Sync),
}

impl Shared<'_> {
    /// Chunks between the dispatcher and the ordered stage: enough for every
    /// worker to have one in hand and one finished while the writers catch up.
    pub fn window(&self) -> usize {
        2 * self.pool.current_num_threads() + 2
    }

    pub fn path(&self, file: usize) -> String {
        self.plans[file].file.path.display().to_string()
    }
}

/// Event counts of the whole export and of each file (for the manifest).
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub total: Counts,
    /// By plan index.
    pub per_file: Vec<Counts>,
}

impl Tally {
    pub fn new(files: usize) -> Self {
        Self {
            total: Counts::default(),
            per_file: vec![Counts::default(); files],
        }
    }

    pub fn add(&mut self, file: usize, c: &Counts) {
        self.total.add(c);
        if let Some(f) = self.per_file.get_mut(file) {
            f.add(c);
        }
    }
}

/// Turns a chunk's problems into numbered lines of their file, in order.
#[derive(Default)]
pub struct LineNumbers {
    file: Option<usize>,
    base: u64,
    /// The file whose read error or shrinking was reported: once per file.
    file_problem_reported: Option<usize>,
}

impl LineNumbers {
    /// Reports a finished chunk's problems and advances past its lines.
    pub fn report(
        &mut self,
        shared: &Shared<'_>,
        file: usize,
        report: &ChunkReport,
        read_error: Option<&io::Error>,
        problems: &mut Problems,
    ) -> Result<(), StrictAbort> {
        if self.file != Some(file) {
            self.file = Some(file);
            self.base = 0;
        }
        let file_problem = match (read_error, report.shrunk) {
            (Some(e), _) => Some(format!("cannot read file: {e}")),
            (None, Some(s)) => Some(s.to_string()),
            (None, None) => None,
        };
        // Lines before the point where the file was cut come first.
        for (rel, reason) in &report.problems {
            problems.line(&shared.path(file), self.base + rel + 1, reason.to_string())?;
        }
        if let Some(reason) = file_problem {
            if self.file_problem_reported != Some(file) {
                self.file_problem_reported = Some(file);
                problems.file(&shared.path(file), reason)?;
            }
        }
        self.base += report.lines;
        Ok(())
    }
}

/// The output of one chunk job.
pub struct ChunkOut<B> {
    pub job: ChunkJob,
    pub report: ChunkReport,
    pub read_error: Option<io::Error>,
    pub batch: B,
}

/// Reads and parses one job with the thread's parser, feeding `sink`.
pub fn run_job<S: work::EventSink>(
    shared: &Shared<'_>,
    job: ChunkJob,
    mut sink: S,
) -> (ChunkReport, Option<io::Error>, S) {
    let plan = &shared.plans[job.file];
    let bytes = job.end - job.start;
    let buf = READ_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    match read_chunk_into(&plan.file.path, job.start, job.end, plan.file.size, buf) {
        Err(e) => (
            ChunkReport {
                bytes,
                ..Default::default()
            },
            Some(e),
            sink,
        ),
        Ok(mut c) => {
            let mut report = PARSER.with(|p| p.borrow_mut().process(plan, &mut c, shared.opts, &mut sink));
            report.bytes = bytes;
            if c.buf.capacity() <= KEEP_READ_BUF {
                READ_BUF.with(|b| *b.borrow_mut() = c.buf);
            }
            (report, None, sink)
        }
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "worker panicked".to_string())
}

/// What the OTLP pipeline produced.
pub struct OtlpOutcome {
    pub tally: Tally,
    pub logs: WriterSummary,
    pub traces: WriterSummary,
    pub metrics: WriterSummary,
}

/// Runs every chunk of `shared.plans` in file order into the three writers.
#[allow(clippy::too_many_arguments)]
pub fn run_otlp(
    shared: &Shared<'_>,
    resource_attrs: &[(String, String)],
    attr_limit: usize,
    logs: RecordWriter,
    traces: RecordWriter,
    metrics: MetricWriter,
    problems: &mut Problems,
) -> Result<OtlpOutcome, PipelineError> {
    let window = shared.window();
    let (token_tx, token_rx) = bounded::<()>(window);
    for _ in 0..window {
        let _ = token_tx.send(());
    }
    let (result_tx, result_rx) = unbounded::<(u64, std::thread::Result<ChunkOut<OtlpBatch>>)>();
    let (logs_tx, logs_rx) = bounded(2);
    let (traces_tx, traces_rx) = bounded(2);
    let (metrics_tx, metrics_rx) = bounded(2);
    let cancel = shared.cancel;

    std::thread::scope(|scope| {
        let named = |name: &str| std::thread::Builder::new().name(name.to_string());
        let log_writer = named("ct-write-logs").spawn_scoped(scope, move || -> io::Result<WriterSummary> {
            let mut w = logs;
            for segs in logs_rx {
                w.segments(segs)?;
            }
            w.finish()
        })?;
        let trace_writer = named("ct-write-traces").spawn_scoped(scope, move || -> io::Result<WriterSummary> {
            let mut w = traces;
            for segs in traces_rx {
                w.segments(segs)?;
            }
            w.finish()
        })?;
        let metric_writer = named("ct-write-metrics").spawn_scoped(scope, move || -> io::Result<WriterSummary> {
            let mut w = metrics;
            for segs in metrics_rx {
                w.segments(segs)?;
            }
            w.finish()
        })?;

        // Dispatcher: number the jobs and start each once a window token is free.
        scope.spawn(move || {
            shared.pool.in_place_scope(|s| {
                let mut seq = 0u64;
                for file in 0..shared.plans.len() {
                    for job in jobs_for(shared.plans, shared.chunk_bytes, file) {
                        if token_rx.recv().is_err() || cancel.load(Ordering::Relaxed) {
                            return;
                        }
                        let tx = result_tx.clone();
                        let n = seq;
                        seq += 1;
                        s.spawn(move |_| {
                            let out = catch_unwind(AssertUnwindSafe(|| {
                                let hint = (job.end - job.start) as usize;
                                let (report, read_error, sink) =
                                    run_job(shared, job, OtlpSink::new(resource_attrs, attr_limit, hint));
                                ChunkOut {
                                    job,
                                    report,
                                    read_error,
                                    batch: sink.batch,
                                }
                            }));
                            let _ = tx.send((n, out));
                        });
                    }
                }
            });
            drop(result_tx);
        });

        // Sequencer: restore order, report, count, and feed the writers.
        let mut tally = Tally::new(shared.plans.len());
        let mut reorder = Reorder::default();
        let mut lines = LineNumbers::default();
        let sequenced: Result<(), PipelineError> = (|| loop {
            match result_rx.recv_timeout(Duration::from_millis(100)) {
                Ok((seq, out)) => reorder.push(seq, out),
                Err(RecvTimeoutError::Timeout) => {
                    if cancel.load(Ordering::Relaxed) {
                        return Err(PipelineError::Cancelled);
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return if cancel.load(Ordering::Relaxed) || reorder.waiting() > 0 {
                        Err(PipelineError::Cancelled)
                    } else {
                        Ok(())
                    };
                }
            }
            while let Some(out) = reorder.pop() {
                let _ = token_tx.send(());
                let out = out.map_err(|p| PipelineError::Panic {
                    file: "a chunk".to_string(),
                    message: panic_message(p),
                })?;
                lines.report(shared, out.job.file, &out.report, out.read_error.as_ref(), problems)?;
                tally.add(out.job.file, &out.report.counts);
                (shared.progress)(out.report.bytes);
                let b = out.batch;
                let sent = (b.logs.is_empty() || logs_tx.send(b.logs).is_ok())
                    && (b.traces.is_empty() || traces_tx.send(b.traces).is_ok())
                    && (b.metrics.is_empty() || metrics_tx.send(b.metrics).is_ok());
                if !sent {
                    // A writer stopped: its own error is collected below.
                    return Err(PipelineError::Write(io::Error::other("an envelope writer stopped")));
                }
            }
        })();
        if sequenced.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        drop(result_rx);
        drop(token_tx);
        drop((logs_tx, traces_tx, metrics_tx));
        let join = |h: std::thread::ScopedJoinHandle<'_, io::Result<WriterSummary>>| match h.join() {
            Ok(r) => r.map_err(PipelineError::Write),
            Err(p) => Err(PipelineError::Panic {
                file: "an envelope writer".to_string(),
                message: panic_message(p),
            }),
        };
        let (l, t, m) = (join(log_writer), join(trace_writer), join(metric_writer));
        match sequenced {
            // A writer's own error explains a failed send better than the send does.
            Err(PipelineError::Write(e)) => Err([l, t, m]
                .into_iter()
                .find_map(Result::err)
                .unwrap_or(PipelineError::Write(e))),
            Err(e) => Err(e),
            Ok(()) => Ok(OtlpOutcome {
                tally,
                logs: l?,
                traces: t?,
                metrics: m?,
            }),
        }
    })
}
