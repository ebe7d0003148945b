//! One run from start to finish, whatever its destination: list and select
//! the files of every store, prepare the destination (the target checked,
//! a journal opened), run the engine into it, and sum up what was done, or
//! why nothing matched (§8.3). [`export`] writes files (a JSON array, JSON
//! Lines, or OTLP in a folder or a zip); [`send`] delivers OTLP to an endpoint (§10).
//! Both are one run into another [`Destination`].

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::config::{Config, FileOutput, Format};
use crate::deliver::{SendHooks, Settings};
use crate::destination::events::EventsFile;
use crate::destination::files::OtlpFiles;
use crate::destination::receiver::Receiver;
use crate::destination::Destination;
pub use crate::destination::ExportError;
use crate::engine::worker::ParseOptions;
use crate::engine::{Budget, Run};
use crate::model::Counts;
use crate::output::atomic::Inputs;
use crate::report::{Problems, Summary};
use crate::store::{self, StoreStats};

/// How the export tells the person running it how far it got.
pub struct Hooks {
    /// Told the total input bytes once the files are known.
    pub start: Box<dyn Fn(u64)>,
    /// Told the input bytes of each finished chunk.
    pub progress: Box<dyn Fn(u64) + Sync>,
    /// Told the input bytes of each chunk a worker reads: in all, more than
    /// the store's when the JSON merge let chunks go and read them again.
    pub read: Box<dyn Fn(u64) + Sync>,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            start: Box::new(|_| {}),
            progress: Box::new(|_| {}),
            read: Box::new(|_| {}),
        }
    }
}

/// Exports the run described by `cfg` into the files `out` describes:
/// its format picks the destination.
pub fn export(cfg: &Config, out: &FileOutput, cancel: &AtomicBool, hooks: Hooks) -> Result<Summary, ExportError> {
    match out.format {
        Format::Json | Format::Jsonl => run(cfg, &mut EventsFile::new(cfg, out), cancel, hooks),
        Format::Otlp => run(cfg, &mut OtlpFiles::new(cfg, out)?, cancel, hooks),
    }
}

/// Sends the OTLP records of the run described by `cfg` to the endpoints
/// of `settings` (§10).
/// The summary's `delivery` says what was delivered and what failed.
pub fn send(
    cfg: &Config,
    settings: &Settings,
    cancel: &AtomicBool,
    hooks: Hooks,
    send_hooks: SendHooks<'_>,
) -> Result<Summary, ExportError> {
    run(cfg, &mut Receiver::new(cfg, settings, send_hooks), cancel, hooks)
}

/// Selects the files of `cfg`, prepares `dest`, and runs the engine into it.
fn run(cfg: &Config, dest: &mut dyn Destination, cancel: &AtomicBool, hooks: Hooks) -> Result<Summary, ExportError> {
    let started = Instant::now();
    let (listing, stats) = store::list_all(&cfg.stores)?;
    let store::Listing {
        mut files,
        mut rejected,
    } = store::select(listing, &cfg.range, cfg.late_days, cfg.shard);
    // Met in canonical order, among the files (for --strict, the first).
    rejected.sort_by(|a, b| a.key().cmp(&b.key()));
    let ids = store::stat_sizes(&mut files, &cfg.stores);
    let inputs = Inputs::new(&cfg.stores, ids);
    let notes = dest.prepare(&inputs)?;

    let budget = Budget::new(cfg.threads, cfg.chunk_bytes);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(budget.workers)
        .thread_name(|i| format!("ct-worker-{i}"))
        .build()
        .map_err(|e| ExportError::Threads(e.to_string()))?;
    let mut problems = Problems::new(cfg.strict);
    for r in &rejected {
        problems.listing(
            r.position(&files),
            &r.path.display().to_string(),
            r.kind,
            r.reason.clone(),
        )?;
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
        read: &*hooks.read,
    };
    let written = dest.write(&run, &inputs, &mut problems)?;
    let counts = written.books.total;
    let read = written.books.files_read();
    // A send that stopped part way did not count what it did not read.
    let stopped = written.delivery.as_ref().is_some_and(|d| d.stopped.is_some());
    let empty = (counts.events == 0 && !stopped).then(|| {
        let mut why = why_empty(cfg, &stats, read, &counts);
        if let Some(kept) = dest.untouched() {
            why.push_str("; ");
            why.push_str(&kept);
        }
        why
    });
    Ok(Summary {
        counts,
        stores: given(&cfg.stores),
        range: Some(cfg.range.clone()),
        files_read: read,
        skipped_lines: problems.skipped_lines(),
        skipped_files: problems.skipped_files(),
        oversize_records: written.oversize,
        output: written.output,
        elapsed_s: started.elapsed().as_secs_f64(),
        format: dest.format(),
        problems: problems.shown(),
        tally: problems.tally(|f| files[f].path(&cfg.stores).display().to_string()),
        notes,
        empty,
        delivery: written.delivery,
    })
}

/// The store folders as the person gave them.
fn given(stores: &[PathBuf]) -> Vec<String> {
    stores.iter().map(|s| s.display().to_string()).collect()
}

/// Why an export matched no events (§8.3): the window, and what each store
/// holds (how many telemetry files, from which day to which), or that it
/// holds none and which subfolder looks like the store.
fn why_empty(cfg: &Config, stats: &[StoreStats], read: u64, counts: &Counts) -> String {
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
    s
}
