//! One export from start to finish: select the files, read their headers,
//! run the pipeline into staged output, write the manifest, and commit the
//! output atomically (or drop it when nothing matched, §8.3).

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rayon::prelude::*;

use crate::config::{Config, Format, Output};
use crate::encode::metrics::Temporality;
use crate::output::atomic::{self, Inputs, OutputError};
use crate::output::layout::{EnvelopeWriter, MetricWriter, RecordWriter, LOGS, METRICS, TRACES};
use crate::output::manifest::{manifest_bytes, ManifestData};
use crate::output::sink::{assemble_zip, EntrySink, FolderSink, ZipSink, ZipStyle};
use crate::pipeline::chunk::{prepare, FilePlan};
use crate::pipeline::merge::run_json;
use crate::pipeline::work::{Counts, ParseOptions};
use crate::pipeline::{run_otlp, PipelineError, Shared};
use crate::report::{Printer, Problems, StrictAbort, Summary};
use crate::store::{self, StoreError};

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

/// Runs the export described by `cfg`.
pub fn export(cfg: &Config, cancel: &AtomicBool, hooks: Hooks) -> Result<Summary, ExportError> {
    let started = Instant::now();
    if cfg.format == Format::Otlp && cfg.output == Output::Stdout {
        return Err(ExportError::OtlpToStdout);
    }
    let store::Listing { mut files, rejected } = store::select(store::list(&cfg.store)?, &cfg.range, cfg.late_days);
    store::stat_sizes(&mut files);
    let inputs = Inputs::new(std::slice::from_ref(&cfg.store), files.iter().filter_map(|f| f.id));
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
    let (counts, output, oversize) = match cfg.format {
        Format::Json => export_json(cfg, &shared, &inputs, &mut problems)?,
        Format::Otlp => export_otlp(cfg, &shared, &inputs, &mut problems)?,
    };
    Ok(Summary {
        counts,
        files_read: plans.len() as u64,
        skipped_lines: problems.skipped_lines(),
        skipped_files: problems.skipped_files(),
        oversize_records: oversize,
        output,
        elapsed_s: started.elapsed().as_secs_f64(),
        problems: problems.shown().to_vec(),
        notes,
    })
}

type Exported = (Counts, Option<String>, u64);

fn export_json(
    cfg: &Config,
    shared: &Shared<'_>,
    inputs: &Inputs,
    problems: &mut Problems,
) -> Result<Exported, ExportError> {
    match &cfg.output {
        Output::Stdout => {
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
            let counts = run_json(shared, &mut out, problems)?;
            out.flush()?;
            Ok((counts, Some("-".to_string()), 0))
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
            let counts = run_json(shared, &mut &file, problems)?;
            Ok((counts, Some(target.display().to_string()), 0))
        }
        Output::Path(target) => {
            let tmp = atomic::temp_file(target)?;
            // Unbuffered: the merge writes large vectored runs itself.
            let mut out = tmp.as_file();
            let counts = run_json(shared, &mut out, problems)?;
            if counts.events == 0 {
                return Ok((counts, None, 0));
            }
            atomic::commit_file(tmp, target, cfg.force, inputs)?;
            Ok((counts, Some(target.display().to_string()), 0))
        }
    }
}

fn export_otlp(
    cfg: &Config,
    shared: &Shared<'_>,
    inputs: &Inputs,
    problems: &mut Problems,
) -> Result<Exported, ExportError> {
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
    let counts = outcome.counts;
    if counts.events == 0 {
        return Ok((counts, None, 0));
    }
    let mut files = Vec::new();
    for s in [&outcome.logs, &outcome.traces, &outcome.metrics] {
        files.extend(s.files.iter().cloned());
    }
    let oversize = outcome.logs.oversize + outcome.traces.oversize + outcome.metrics.oversize;
    let manifest = manifest_bytes(&ManifestData {
        format: "otlp",
        layout: cfg.layout.name(),
        temporality: match cfg.temporality {
            Temporality::Delta => "delta",
            Temporality::Cumulative => "cumulative",
        },
        range: &cfg.range,
        exported_at: match &cfg.now_given {
            Some(text) => text.clone(),
            None => cfg.now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        },
        source_files: shared.plans.len() as u64,
        counts,
        skipped_lines: problems.skipped_lines(),
        skipped_files: problems.skipped_files(),
        oversize_records: oversize,
        files,
    });
    if zip {
        let parts: Vec<PathBuf> = [LOGS.file, TRACES.file, METRICS.file].iter().map(|n| part(n)).collect();
        let tmp = atomic::temp_file(target)?;
        assemble_zip(tmp.as_file(), &parts, ("manifest.json", &manifest), style)?;
        atomic::commit_file(tmp, target, cfg.force, inputs)?;
    } else {
        write_file(&work.path().join("manifest.json"), &manifest)?;
        atomic::commit_dir(work, target, cfg.force, inputs)?;
    }
    Ok((counts, Some(target.display().to_string()), oversize))
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)
}
