//! One export from start to finish: list and select the files of every
//! store, check the target, run the engine into staged output (the JSON
//! merge, as an array or as JSON Lines, or the OTLP envelopes through their
//! writers), write the manifest,
//! and commit the output atomically, or drop it and say why when nothing
//! matched (§8.3). `send` (§10) is the same run with the OTLP envelope
//! writers' sinks replaced by `deliver`'s HTTP sinks (no file, no
//! manifest), and the writers numbering records for the journal.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, Format, Layout, Output};
use crate::deliver::journal::{Binding, Journal};
use crate::deliver::{DeliverySummary, Dispatcher, SendError, SendHooks, Settings, SIGNALS};
use crate::encode::metrics::Temporality;
use crate::engine::sinks::OtlpSink;
use crate::engine::worker::{Discard, ParseOptions};
use crate::engine::{merge, ordered, Books, Budget, EngineError, Run};
use crate::model::{Counts, Delivered, OtlpBatch, Pools, Tracker};
use crate::output::atomic::{self, Inputs, OutputError};
use crate::output::manifest::{write_manifest, ManifestData, Options};
use crate::output::stream::Lines;
use crate::report::{Problems, StrictAbort, Summary};
use crate::store::{self, StoreError, StoreStats};
use crate::write::envelope::{EntryInfo, EnvelopeWriter, LOGS, METRICS, TRACES};
use crate::write::metrics::MetricWriter;
use crate::write::records::RecordWriter;
use crate::write::sink::{assemble_zip, EntrySink, FolderSink, Spooled, ZipPart, ZipSink, ZipStyle};
use crate::write::WriterSummary;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("--format otlp writes a folder or a .zip, not stdout")]
    OtlpToStdout,
}

impl ExportError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, ExportError::Engine(EngineError::Cancelled))
    }

    /// Refused before anything was done (exit 2): a journal bound to another send, or in use.
    pub fn is_refusal(&self) -> bool {
        matches!(self, ExportError::Send(s) if s.is_refusal())
    }

    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, ExportError::Engine(p) if p.is_broken_pipe())
    }
}

impl From<StrictAbort> for ExportError {
    fn from(e: StrictAbort) -> Self {
        ExportError::Engine(EngineError::Strict(e))
    }
}

impl From<io::Error> for ExportError {
    fn from(e: io::Error) -> Self {
        ExportError::Engine(EngineError::Write(e))
    }
}

/// How the export tells the person running it how far it got.
pub struct Hooks {
    /// Told the total input bytes once the files are known.
    pub start: Box<dyn Fn(u64)>,
    /// Told the input bytes of each finished unit.
    pub progress: Box<dyn Fn(u64) + Sync>,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            start: Box::new(|_| {}),
            progress: Box::new(|_| {}),
        }
    }
}

/// What the engine wrote: its books, the envelope files, and the records
/// written alone for being larger than the request cap.
struct Written {
    books: Books,
    files: Vec<EntryInfo>,
    oversize: u64,
}

/// Runs the export described by `cfg`.
pub fn export(cfg: &Config, cancel: &AtomicBool, hooks: Hooks) -> Result<Summary, ExportError> {
    run_export(cfg, cancel, hooks, None)
}

/// Sends the OTLP records of the export described by `cfg` (its format,
/// output and layout are not used) to the endpoint of `settings` (§10).
/// The summary's `delivery` says what was delivered and what failed.
pub fn send(
    cfg: &Config,
    settings: &Settings,
    cancel: &AtomicBool,
    hooks: Hooks,
    send_hooks: SendHooks<'_>,
) -> Result<Summary, ExportError> {
    run_export(cfg, cancel, hooks, Some((settings, send_hooks)))
}

/// Where a run's records go: files (`None`), or an endpoint.
type Delivery<'a> = Option<(&'a Settings, SendHooks<'a>)>;

fn run_export(cfg: &Config, cancel: &AtomicBool, hooks: Hooks, delivery: Delivery<'_>) -> Result<Summary, ExportError> {
    let started = Instant::now();
    if delivery.is_none() && cfg.format == Format::Otlp && cfg.output == Output::Stdout {
        return Err(ExportError::OtlpToStdout);
    }
    let (listing, stats) = store::list_all(&cfg.stores)?;
    let store::Listing { mut files, rejected } = store::select(listing, &cfg.range, cfg.late_days, cfg.shard);
    let ids = store::stat_sizes(&mut files, &cfg.stores);
    let inputs = Inputs::new(&cfg.stores, ids);
    let mut notes = Vec::new();
    if let (None, Output::Path(p)) = (delivery, &cfg.output) {
        if !atomic::is_special(p) {
            atomic::check_target(p, cfg.force, &inputs)?;
            for stale in atomic::clean_stale(&atomic::parent_of(p)) {
                notes.push(format!(
                    "removed {}, left behind by an export that was killed",
                    stale.display()
                ));
            }
        } else if cfg.format == Format::Otlp {
            return Err(OutputError::Special(p.clone()).into());
        }
    }

    let budget = Budget::new(cfg.threads, cfg.chunk_bytes);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(budget.workers)
        .thread_name(|i| format!("ct-worker-{i}"))
        .build()
        .map_err(|e| ExportError::Threads(e.to_string()))?;
    let mut problems = Problems::new(cfg.strict);
    for r in &rejected {
        problems.listing(&r.path.display().to_string(), r.reason.clone())?;
    }
    (hooks.start)(files.iter().map(|f| f.size).sum());
    let run = Run {
        stores: &cfg.stores,
        files: &files,
        opts: ParseOptions {
            range: &cfg.range,
            metrics: &cfg.metric_events,
            max_line: cfg.max_line_bytes,
            cancel,
        },
        budget,
        pool: &pool,
        cancel,
        progress: &*hooks.progress,
    };
    let mut delivered = None;
    let sending = delivery.is_some();
    let (written, output) = match (delivery, cfg.format) {
        (Some((settings, send_hooks)), _) => {
            let (written, d) = send_otlp(cfg, &run, &inputs, &mut problems, settings, send_hooks)?;
            delivered = Some(d);
            (written, None)
        }
        (None, Format::Json | Format::Jsonl) => export_json(cfg, &run, &inputs, &mut problems)?,
        (None, Format::Otlp) => export_otlp(cfg, &run, &inputs, &mut problems)?,
    };
    let counts = written.books.total;
    // A send that stopped part way did not count what it did not read.
    let stopped = delivered.as_ref().is_some_and(|d| d.stopped.is_some());
    let empty = (counts.events == 0 && !stopped).then(|| why_empty(cfg, &stats, files.len(), &counts));
    Ok(Summary {
        counts,
        stores: given(&cfg.stores),
        range: Some(cfg.range.clone()),
        files_read: files.len() as u64,
        skipped_lines: problems.skipped_lines(),
        skipped_files: problems.skipped_files(),
        oversize_records: written.oversize,
        output,
        elapsed_s: started.elapsed().as_secs_f64(),
        format: (!sending).then_some(cfg.format),
        problems: problems.shown(),
        notes,
        empty,
        delivery: delivered,
    })
}

/// The store folders as the person gave them.
fn given(stores: &[PathBuf]) -> Vec<String> {
    stores.iter().map(|s| s.display().to_string()).collect()
}

/// Why an export matched no events (§8.3): the window, and what each store
/// holds (how many telemetry files, from which day to which), or that it
/// holds none and which subfolder looks like the store.
fn why_empty(cfg: &Config, stats: &[StoreStats], read: usize, counts: &Counts) -> String {
    let at = |t: i64| chrono::DateTime::from_timestamp_nanos(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let window = match (cfg.range.start, cfg.range.end) {
        (None, None) => "all time".to_string(),
        (s, e) => format!(
            "{} to {} (UTC)",
            s.map_or("the beginning".to_string(), at),
            e.map_or("the end".to_string(), at)
        ),
    };
    let stores: Vec<String> = stats
        .iter()
        .map(|st| {
            let path = st.path.display();
            match (&st.oldest, &st.newest, &st.hint) {
                (Some(o), Some(n), _) => format!(
                    "{path} holds {} telemetry files, dated {o} to {n}",
                    crate::report::thousands(st.files as u64)
                ),
                (_, _, Some(h)) => format!(
                    "{path} holds no telemetry files (telemetry-YYYY-MM-DD-*.jsonl); its subfolder {} looks like the store",
                    h.display()
                ),
                _ => format!("{path} holds no telemetry files (telemetry-YYYY-MM-DD-*.jsonl)"),
            }
        })
        .collect();
    let mut s = if stats.iter().all(|st| st.files == 0) {
        stores.join("; ")
    } else {
        format!("no event falls in {window}: {}", stores.join("; "))
    };
    if read > 0 {
        s.push_str(&format!(
            "; the {read} files dated in or just after the window hold {} events outside it",
            crate::report::thousands(counts.out_of_range)
        ));
    }
    if let (true, Output::Path(p)) = (cfg.force, &cfg.output) {
        if p.symlink_metadata().is_ok() {
            s.push_str(&format!("; the existing {} was left as it was", p.display()));
        }
    }
    s
}

fn export_json(
    cfg: &Config,
    run: &Run<'_>,
    inputs: &Inputs,
    problems: &mut Problems,
) -> Result<(Written, Option<String>), ExportError> {
    if cfg.strict {
        // The merge meets problems out of file order: check every line in
        // file order first, so that --strict stops at the first problem of
        // the store, as it does for OTLP.
        ordered::run(run, |_| Discard, problems, |_, ()| Ok(()))?;
    }
    let written = |books| Written {
        books,
        files: Vec::new(),
        oversize: 0,
    };
    match &cfg.output {
        Output::Stdout => {
            let stdout = io::stdout();
            let books = merge_into(cfg, run, problems, stdout.lock(), true)?;
            Ok((written(books), Some("-".to_string())))
        }
        Output::Path(target) if atomic::is_special(target) => {
            // `/dev/null`, a pipe: written in place, never replaced.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(target)
                .map_err(|error| OutputError::Io {
                    path: target.clone(),
                    error,
                })?;
            let books = merge_into(cfg, run, problems, &file, false)?;
            Ok((written(books), Some(target.display().to_string())))
        }
        Output::Path(target) => {
            let tmp = atomic::temp_file(target)?;
            let books = merge_into(cfg, run, problems, tmp.as_file(), false)?;
            if books.total.events == 0 {
                return Ok((written(books), None));
            }
            atomic::commit_file(tmp, target, cfg.force, inputs)?;
            Ok((written(books), Some(target.display().to_string())))
        }
    }
}

/// Runs the JSON merge into `out`: the array as it is, or through
/// [`Lines`] for JSON Lines. `buffered` puts a buffer before `out`
/// (stdout); JSON Lines is always buffered, its lines being short writes,
/// while the array goes unbuffered, the merge writing large vectored runs
/// itself.
fn merge_into<W: Write>(
    cfg: &Config,
    run: &Run<'_>,
    problems: &mut Problems,
    mut out: W,
    buffered: bool,
) -> Result<Books, ExportError> {
    if cfg.format == Format::Jsonl {
        let mut lines = Lines::new(BufWriter::with_capacity(1 << 20, &mut out));
        let books = merge::run(run, &mut lines, problems)?;
        lines.into_inner()?;
        Ok(books)
    } else if buffered {
        let mut b = BufWriter::with_capacity(1 << 20, &mut out);
        let books = merge::run(run, &mut b, problems)?;
        b.flush()?;
        Ok(books)
    } else {
        Ok(merge::run(run, &mut out, problems)?)
    }
}

fn export_otlp(
    cfg: &Config,
    run: &Run<'_>,
    inputs: &Inputs,
    problems: &mut Problems,
) -> Result<(Written, Option<String>), ExportError> {
    let Output::Path(target) = &cfg.output else {
        return Err(ExportError::OtlpToStdout);
    };
    // A folder target is staged as a folder; a zip is staged as per-signal
    // temporary zips in a work folder, merged into one file at the end.
    let work = atomic::temp_dir(target)?;
    let zip = cfg.is_zip();
    let style = ZipStyle::new(cfg.compression_level, &cfg.now);
    let part = |name: &str| work.path().join(format!("{name}.zip"));
    let sink = |name: &str| -> Result<Spooled, ExportError> {
        let inner: Box<dyn EntrySink> = if zip {
            Box::new(ZipSink::create(&part(name), style)?)
        } else {
            Box::new(FolderSink::new(work.path()))
        };
        Ok(Spooled::new(name, inner)?)
    };
    let (books, summaries) = run_signals(cfg, run, problems, cfg.layout, cfg.max_request_bytes, sink, None)?;
    let written = Written {
        files: summaries.iter().flat_map(|s| s.files.iter().cloned()).collect(),
        oversize: summaries.iter().map(|s| s.oversize).sum(),
        books,
    };
    if written.books.total.events == 0 {
        return Ok((written, None));
    }
    let manifest_path = work.path().join("manifest.json");
    let manifest = ManifestData {
        format: "otlp",
        range: &cfg.range,
        exported_at: match &cfg.now_given {
            Some(text) => text.clone(),
            None => cfg.now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        },
        stores: given(&cfg.stores),
        sources: run.files,
        source_counts: &written.books.per_file,
        counts: written.books.total,
        skipped_lines: problems.skipped_lines(),
        skipped_files: problems.skipped_files(),
        oversize_records: written.oversize,
        problems: &problems.kept(),
        options: Options {
            layout: cfg.layout.name(),
            temporality: match cfg.temporality {
                Temporality::Delta => "delta",
                Temporality::Cumulative => "cumulative",
            },
            max_request_bytes: cfg.max_request_bytes as u64,
            compression_level: zip.then_some(cfg.compression_level),
            metric_events: cfg.metric_events.names(),
            resource_attrs: &cfg.resource_attrs,
            late_days: cfg.late_days,
            attribute_count_limit: cfg.attr_limit,
        },
        files: &written.files,
    };
    write_manifest(BufWriter::new(std::fs::File::create(&manifest_path)?), &manifest)?;
    if zip {
        let parts: Vec<ZipPart> = [LOGS.file, TRACES.file, METRICS.file]
            .iter()
            .zip(&summaries)
            .map(|(n, s)| ZipPart {
                path: part(n),
                names: s.files.iter().map(|f| f.name.clone()).collect(),
            })
            .collect();
        let tmp = atomic::temp_file(target)?;
        assemble_zip(tmp.as_file(), &parts, ("manifest.json", &manifest_path), style)?;
        atomic::commit_file(tmp, target, cfg.force, inputs)?;
    } else {
        // `auto` names a signal's only part at the end: give it that name.
        for f in written.files.iter().filter(|f| f.name != f.written) {
            std::fs::rename(work.path().join(&f.written), work.path().join(&f.name))?;
        }
        atomic::commit_dir(work, target, cfg.force, inputs)?;
    }
    Ok((written, Some(target.display().to_string())))
}

/// Sends the records of every signal as `split` requests to the endpoint,
/// leaving out those the journal holds; returns the books and the delivery
/// summary. A send the senders stopped (no progress for --max-elapsed, or
/// a journal that cannot be written) still returns its summary.
fn send_otlp(
    cfg: &Config,
    run: &Run<'_>,
    inputs: &Inputs,
    problems: &mut Problems,
    settings: &Settings,
    hooks: SendHooks<'_>,
) -> Result<(Written, DeliverySummary), ExportError> {
    let binding = Binding::new(&settings.endpoints, cfg);
    let journal = match &settings.journal {
        Some(p) if settings.dry_run => Journal::peek(p, &binding, run.files).map_err(SendError::from)?,
        Some(p) => Journal::open(p, &binding, run.files, inputs).map_err(SendError::from)?,
        None => Journal::none(run.files),
    };
    let delivered = [0, 1, 2].map(|i| journal.delivered(i));
    let dispatcher = Dispatcher::new(cfg.max_request_bytes);
    std::thread::scope(move |scope| {
        let finish = dispatcher.run(scope, settings, run.cancel, journal, hooks)?;
        let sink = |name: &str| -> Result<Spooled, ExportError> {
            let i = SIGNALS
                .iter()
                .position(|s| *s == name)
                .ok_or(EngineError::Internal("a signal without an HTTP sink"))?;
            Ok(Spooled::unhashed(name, Box::new(dispatcher.sink(i)))?)
        };
        let result = run_signals(
            cfg,
            run,
            problems,
            Layout::Split,
            cfg.max_request_bytes,
            sink,
            Some(delivered),
        );
        // The writers dropped their sinks; with the dispatcher gone too, the
        // senders' queue closes and they finish.
        drop(dispatcher);
        let mut delivery = finish();
        let (books, summaries) = match result {
            Ok(r) => r,
            // The senders stopped the run: what was sent is in the summary.
            Err(e) if e.is_cancelled() && delivery.stopped.is_some() => {
                (Books::new(run.files.len()), Default::default())
            }
            Err(e) => return Err(e),
        };
        for (stats, s) in delivery.signals.iter_mut().zip(&summaries) {
            stats.journalled = s.journalled;
        }
        let written = Written {
            files: Vec::new(),
            oversize: summaries.iter().map(|s| s.oversize).sum(),
            books,
        };
        Ok((written, delivery))
    })
}

/// Runs the OTLP encoders into one envelope writer per signal, each
/// writing into the sink `sink` makes for it; returns the books and what
/// each writer wrote.
fn run_signals(
    cfg: &Config,
    run: &Run<'_>,
    problems: &mut Problems,
    layout: Layout,
    cap: usize,
    sink: impl Fn(&str) -> Result<Spooled, ExportError>,
    delivered: Option<[Arc<Delivered>; 3]>,
) -> Result<(Books, [WriterSummary; 3]), ExportError> {
    // Every buffer in flight can come back: the window's, the writers' queues.
    let pools = Arc::new(Pools::new(4 * run.budget.window + 16, run.budget.kept_buffer_bytes()));
    let envelope = |names, s| EnvelopeWriter::new(names, layout, cap, s);
    let mut logs = RecordWriter::new(envelope(LOGS, sink(LOGS.file)?), pools.clone());
    let mut traces = RecordWriter::new(envelope(TRACES, sink(TRACES.file)?), pools.clone());
    let mut metrics = MetricWriter::new(envelope(METRICS, sink(METRICS.file)?), cfg.temporality, pools.clone());
    if let Some([l, t, m]) = delivered {
        // A send numbers every record and leaves out what its journal holds.
        logs = logs.tracked(Tracker::new(l));
        traces = traces.tracked(Tracker::new(t));
        metrics = metrics.tracked(Tracker::new(m));
    }

    std::thread::scope(|scope| -> Result<(Books, [WriterSummary; 3]), ExportError> {
        let (logs_tx, logs_h) = crate::write::spawn(scope, "ct-write-logs", logs)?;
        let (traces_tx, traces_h) = crate::write::spawn(scope, "ct-write-traces", traces)?;
        let (metrics_tx, metrics_h) = crate::write::spawn(scope, "ct-write-metrics", metrics)?;
        let stopped = || EngineError::Write(io::Error::other("an envelope writer stopped"));
        let part = run.budget.part_bytes();
        let make = |handoff| {
            OtlpSink::new(&cfg.resource_attrs, cfg.attr_limit, &pools, run.budget.chunk as usize)
                .in_parts(handoff, part)
        };
        let books = ordered::run(run, make, problems, |file, mut b: OtlpBatch| {
            b.set_file(file);
            let sent = (b.logs.is_empty() || logs_tx.send(b.logs).is_ok())
                && (b.traces.is_empty() || traces_tx.send(b.traces).is_ok())
                && (b.metrics.is_empty() || metrics_tx.send(b.metrics).is_ok());
            if sent {
                Ok(())
            } else {
                Err(stopped())
            }
        });
        drop((logs_tx, traces_tx, metrics_tx));
        let join = |h: std::thread::ScopedJoinHandle<'_, io::Result<WriterSummary>>| match h.join() {
            Ok(r) => r.map_err(EngineError::Write),
            Err(_) => Err(EngineError::Panic {
                file: "an envelope writer".into(),
                message: "the writer thread panicked".into(),
            }),
        };
        let (l, t, m) = (join(logs_h), join(traces_h), join(metrics_h));
        match books {
            // A writer's own error explains a failed send better than the send does.
            Err(EngineError::Write(e)) => Err([l, t, m]
                .into_iter()
                .find_map(Result::err)
                .unwrap_or(EngineError::Write(e))
                .into()),
            Err(e) => Err(e.into()),
            Ok(books) => Ok((books, [l?, t?, m?])),
        }
    })
}
