//! One export from start to finish: list and select the files of every
//! store, check the target, read the headers, run the pipeline into staged
//! output, write the manifest, and commit the output atomically, or drop it
//! and say why when nothing matched (§8.3).

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rayon::prelude::*;

use crate::config::{Config, Format, Output};
use crate::encode::metrics::Temporality;
use crate::output::atomic::{self, Inputs, OutputError};
use crate::output::layout::{EntryInfo, EnvelopeWriter, MetricWriter, RecordWriter, LOGS, METRICS, TRACES};
use crate::output::manifest::{manifest_bytes, ManifestData, Options, SourceFile};
use crate::output::sink::{assemble_zip, EntrySink, FolderSink, ZipPart, ZipSink, ZipStyle};
use crate::pipeline::chunk::{prepare, FilePlan};
use crate::pipeline::merge::run_json;
use crate::pipeline::work::ParseOptions;
use crate::pipeline::{run_otlp, PipelineError, Shared, Tally};
use crate::report::{Printer, Problems, StrictAbort, Summary};
use crate::store::{self, StoreError, StoreStats};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    #[error("--format otlp writes a folder or a .zip, not stdout")]
    OtlpToStdout,
}

impl ExportError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, ExportError::Pipeline(PipelineError::Cancelled))
    }

    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, ExportError::Pipeline(p) if p.is_broken_pipe())
    }
}

impl From<StrictAbort> for ExportError {
    fn from(e: StrictAbort) -> Self {
        ExportError::Pipeline(PipelineError::Strict(e))
    }
}

impl From<io::Error> for ExportError {
    fn from(e: io::Error) -> Self {
        ExportError::Pipeline(PipelineError::Write(e))
    }
}

/// How the export talks to the person running it.
pub struct Hooks {
    /// Prints a problem (the first ones only).
    pub problem: Option<Printer>,
    /// Told the total input bytes once the files are known.
    pub start: Box<dyn Fn(u64)>,
    /// Told the input bytes of each finished chunk.
    pub progress: Box<dyn Fn(u64) + Sync>,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            problem: None,
            start: Box::new(|_| {}),
            progress: Box::new(|_| {}),
        }
    }
}

/// What the pipeline wrote: its counts, the envelope files, and the
/// records written alone for being larger than the request cap.
struct Written {
    tally: Tally,
    files: Vec<EntryInfo>,
    oversize: u64,
}

/// Runs the export described by `cfg`.
pub fn export(cfg: &Config, cancel: &AtomicBool, hooks: Hooks) -> Result<Summary, ExportError> {
    let started = Instant::now();
    if cfg.format == Format::Otlp && cfg.output == Output::Stdout {
        return Err(ExportError::OtlpToStdout);
    }
    let (listing, stats) = store::list_all(&cfg.stores)?;
    let store::Listing { mut files, rejected } = store::select(listing, &cfg.range, cfg.late_days, cfg.shard);
    store::stat_sizes(&mut files);
    let inputs = Inputs::new(&cfg.stores, files.iter().filter_map(|f| f.id));
    let mut notes = Vec::new();
    if let Output::Path(p) = &cfg.output {
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

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .thread_name(|i| format!("ct-worker-{i}"))
        .build()
        .map_err(|e| ExportError::Threads(e.to_string()))?;
    let mut problems = Problems::new(cfg.strict, hooks.problem);
    for r in &rejected {
        problems.file(&r.path.display().to_string(), r.reason.clone())?;
    }

    // Headers, in parallel; unreadable files are reported in canonical order.
    let prepared: Vec<_> = pool.install(|| files.into_par_iter().map(prepare).collect());
    let mut plans: Vec<FilePlan> = Vec::with_capacity(prepared.len());
    for p in prepared {
        match p {
            Ok(plan) => plans.push(plan),
            Err(bad) => problems.file(&bad.0.path.display().to_string(), bad.1.to_string())?,
        }
    }
    (hooks.start)(plans.iter().map(|p| p.file.size).sum());

    let shared = Shared {
        plans: &plans,
        opts: ParseOptions {
            range: &cfg.range,
            metrics: &cfg.metric_events,
            cancel,
        },
        chunk_bytes: cfg.chunk_bytes,
        pool: &pool,
        cancel,
        progress: &*hooks.progress,
    };
    let (written, output) = match cfg.format {
        Format::Json => export_json(cfg, &shared, &inputs, &mut problems)?,
        Format::Otlp => export_otlp(cfg, &shared, &inputs, &mut problems)?,
    };
    let counts = written.tally.total;
    let empty = (counts.events == 0).then(|| why_empty(cfg, &stats, plans.len(), &counts));
    Ok(Summary {
        counts,
        stores: given(&cfg.stores),
        range: Some(cfg.range.clone()),
        files_read: plans.len() as u64,
        skipped_lines: problems.skipped_lines(),
        skipped_files: problems.skipped_files(),
        oversize_records: written.oversize,
        output,
        elapsed_s: started.elapsed().as_secs_f64(),
        problems: problems.shown().to_vec(),
        notes,
        empty,
    })
}

/// The store folders as the person gave them.
fn given(stores: &[PathBuf]) -> Vec<String> {
    stores.iter().map(|s| s.display().to_string()).collect()
}

/// Why an export matched no events (§8.3): the window, and what each store
/// holds (how many telemetry files, from which day to which), or that it
/// holds none and which subfolder looks like the store.
fn why_empty(cfg: &Config, stats: &[StoreStats], read: usize, counts: &crate::pipeline::work::Counts) -> String {
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
    shared: &Shared<'_>,
    inputs: &Inputs,
    problems: &mut Problems,
) -> Result<(Written, Option<String>), ExportError> {
    let written = |tally| Written {
        tally,
        files: Vec::new(),
        oversize: 0,
    };
    match &cfg.output {
        Output::Stdout => {
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
            let tally = run_json(shared, &mut out, problems)?;
            out.flush()?;
            Ok((written(tally), Some("-".to_string())))
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
            let tally = run_json(shared, &mut &file, problems)?;
            Ok((written(tally), Some(target.display().to_string())))
        }
        Output::Path(target) => {
            let tmp = atomic::temp_file(target)?;
            // Unbuffered: the merge writes large vectored runs itself.
            let mut out = tmp.as_file();
            let tally = run_json(shared, &mut out, problems)?;
            if tally.total.events == 0 {
                return Ok((written(tally), None));
            }
            atomic::commit_file(tmp, target, cfg.force, inputs)?;
            Ok((written(tally), Some(target.display().to_string())))
        }
    }
}

fn export_otlp(
    cfg: &Config,
    shared: &Shared<'_>,
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
    let sink = |name: &str| -> Result<Box<dyn EntrySink>, ExportError> {
        Ok(if zip {
            Box::new(ZipSink::create(&part(name), style)?)
        } else {
            Box::new(FolderSink::new(work.path()))
        })
    };
    let envelope = |names, s| EnvelopeWriter::new(names, cfg.layout, cfg.max_request_bytes, s);
    let outcome = run_otlp(
        shared,
        &cfg.resource_attrs,
        cfg.attr_limit,
        RecordWriter::new(envelope(LOGS, sink(LOGS.file)?)),
        RecordWriter::new(envelope(TRACES, sink(TRACES.file)?)),
        MetricWriter::new(envelope(METRICS, sink(METRICS.file)?), cfg.temporality),
        problems,
    )?;
    let signals = [&outcome.logs, &outcome.traces, &outcome.metrics];
    let written = Written {
        files: signals.iter().flat_map(|s| s.files.iter().cloned()).collect(),
        oversize: signals.iter().map(|s| s.oversize).sum(),
        tally: outcome.tally,
    };
    if written.tally.total.events == 0 {
        return Ok((written, None));
    }
    let manifest = manifest_bytes(&ManifestData {
        format: "otlp",
        range: &cfg.range,
        exported_at: match &cfg.now_given {
            Some(text) => text.clone(),
            None => cfg.now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        },
        stores: given(&cfg.stores),
        sources: shared
            .plans
            .iter()
            .zip(&written.tally.per_file)
            .map(|(p, c)| SourceFile {
                name: &p.file.name,
                store: p.file.store,
                bytes: p.file.size,
                counts: *c,
            })
            .collect(),
        counts: written.tally.total,
        skipped_lines: problems.skipped_lines(),
        skipped_files: problems.skipped_files(),
        oversize_records: written.oversize,
        problems: problems.kept(),
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
    });
    if zip {
        let parts: Vec<ZipPart> = [LOGS.file, TRACES.file, METRICS.file]
            .iter()
            .zip(signals)
            .map(|(n, s)| ZipPart {
                path: part(n),
                names: s.files.iter().map(|f| f.name.clone()).collect(),
            })
            .collect();
        let tmp = atomic::temp_file(target)?;
        assemble_zip(tmp.as_file(), &parts, ("manifest.json", &manifest), style)?;
        atomic::commit_file(tmp, target, cfg.force, inputs)?;
    } else {
        // `auto` names a signal's only part at the end: give it that name.
        for f in written.files.iter().filter(|f| f.name != f.written) {
            std::fs::rename(work.path().join(&f.written), work.path().join(&f.name))?;
        }
        write_file(&work.path().join("manifest.json"), &manifest)?;
        atomic::commit_dir(work, target, cfg.force, inputs)?;
    }
    Ok((written, Some(target.display().to_string())))
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)
}
