//! The `coder-telemetry` binary: parse the command line, run, and turn the
//! outcome into an exit code (0 success, 1 export failed, 2 usage error,
//! 130 interrupted). Every message starts `error:` or `warning:`, as clap's
//! own do. A closed stdout (`| head`) ends a command quietly with 0, as other
//! Unix tools do; an interrupted export to stdout says how many bytes stdout
//! got. Everything else lives in the library.

mod cli;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use coder_telemetry::config::Output;
use coder_telemetry::deliver::SendHooks;
use coder_telemetry::export::{export, send, Hooks};
use coder_telemetry::heap::Workload;
use coder_telemetry::report::{Failure, SignalStats, Summary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use cli::{Cancelled, Cli, Command, ConfigError, UsageError};

static CANCEL: AtomicBool = AtomicBool::new(false);
/// A send is running: an interrupt leaves the journal, not "nothing".
static SENDING: AtomicBool = AtomicBool::new(false);
/// An export to stdout is running: an interrupt leaves what stdout took.
static TO_STDOUT: AtomicBool = AtomicBool::new(false);

/// What an interrupted run leaves.
fn interrupted_message() -> String {
    let written = coder_telemetry::output::stream::stdout_bytes();
    if SENDING.load(Ordering::Relaxed) {
        "interrupted; requests not yet acknowledged were not delivered (the journal, if any, keeps those that were)"
            .to_string()
    } else if TO_STDOUT.load(Ordering::Relaxed) && written > 0 {
        format!(
            "interrupted; the export to stdout is incomplete: {} had been written to it",
            coder_telemetry::report::counted(written, "byte", "bytes")
        )
    } else {
        "interrupted; nothing was written".to_string()
    }
}

/// A closed pipe on stdout (`| head`): the reader has what it wanted, and
/// the command ends quietly with 0, as other Unix tools do.
fn quiet_on_closed_stdout(r: std::io::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        r => Ok(r?),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<UsageError>().is_some() {
                eprintln!("error: {e}\n\nFor more information, try '--help'.");
                return ExitCode::from(2);
            }
            if e.downcast_ref::<Cancelled>().is_some() {
                eprintln!("{e}");
                return ExitCode::from(130);
            }
            let export_error = e.downcast_ref::<coder_telemetry::export::ExportError>();
            if export_error.is_some_and(|x| x.is_refusal()) {
                // A journal bound to another send, or in use: nothing was sent.
                eprintln!("error: {e:#}");
                return ExitCode::from(2);
            }
            let closed_stdout = TO_STDOUT.load(Ordering::Relaxed) && coder_telemetry::output::stream::stdout_closed();
            if closed_stdout && export_error.is_some_and(|x| x.is_broken_pipe()) {
                // `coder-telemetry export -o - | head`: the reader has what it
                // wanted. A broken pipe anywhere else (a named pipe given to
                // -o) is a failure like any other.
                return ExitCode::SUCCESS;
            }
            let cancelled = CANCEL.load(Ordering::Relaxed) && export_error.is_some_and(|x| x.is_cancelled());
            if cancelled {
                eprintln!("{}", interrupted_message());
                return ExitCode::from(130);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Paths => quiet_on_closed_stdout(paths()),
        Command::Completions { shell } => quiet_on_closed_stdout(
            std::io::stdout()
                .write_all(&cli::completion_script(shell))
                .and_then(|()| std::io::stdout().flush())
                .map(|()| ExitCode::SUCCESS),
        ),
        Command::Export(args) => {
            let p = prepared(cli::config(&args))?;
            run_export(p, &args.report, args.tune.threads.is_some())
        }
        Command::Send(args) => {
            let p = prepared(cli::send::config(&args))?;
            run_send(p, &args.report, args.tune.threads.is_some())
        }
    }
}

fn paths() -> std::io::Result<ExitCode> {
    let candidates = coder_telemetry::store::system_candidates();
    let used = candidates.iter().position(|c| c.path.is_dir());
    let mut out = std::io::stdout().lock();
    for (i, c) in candidates.iter().enumerate() {
        let mark = if Some(i) == used {
            "default"
        } else if c.path.is_dir() {
            "exists"
        } else {
            "missing"
        };
        writeln!(out, "{mark:<8} {}  ({})", c.path.display(), c.source)?;
    }
    if used.is_none() {
        writeln!(
            out,
            "no candidate exists: pass the store folder to `coder-telemetry export`"
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `--threads N` means at most N cores: besides N workers, the writer and
/// compression threads are confined to the same N CPUs (Linux).
#[cfg(target_os = "linux")]
fn confine_to_cpus(n: usize) {
    // SAFETY: plain libc calls on a zeroed cpu_set_t that lives on this stack.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return;
        }
        let allowed: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect();
        if n >= allowed.len() {
            return;
        }
        let mut keep: libc::cpu_set_t = std::mem::zeroed();
        for &c in &allowed[..n] {
            libc::CPU_SET(c, &mut keep);
        }
        // Best effort: without it the export is still correct, only less confined.
        let _ = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &keep);
    }
}

#[cfg(not(target_os = "linux"))]
fn confine_to_cpus(_n: usize) {}

/// How long an interrupted export may take to stop on its own (SPEC §9.2:
/// within 1 s).
const STOP_WITHIN: Duration = Duration::from_millis(800);

/// Ctrl-C or SIGTERM: tell the pipeline to stop (workers check between
/// lines, writers between records). Should anything still be busy after
/// [`STOP_WITHIN`], remove the temporaries here and exit; the registry
/// lock taken for that keeps any commit from starting.
fn on_interrupt() {
    CANCEL.store(true, Ordering::SeqCst);
    std::thread::sleep(STOP_WITHIN);
    let _registry = coder_telemetry::output::atomic::abandon_all();
    eprintln!("{}", interrupted_message());
    std::process::exit(130);
}

fn prepared<T>(r: Result<T, ConfigError>) -> anyhow::Result<T> {
    match r {
        Ok(p) => Ok(p),
        Err(ConfigError::Usage(e)) => Err(e.into()),
        Err(ConfigError::Cancelled(c)) => Err(c.into()),
    }
}

/// Runs an export and reports it; `threads`: `--threads` was given.
fn run_export(p: cli::PreparedExport, report: &cli::ReportArgs, threads: bool) -> anyhow::Result<ExitCode> {
    let (cfg, out) = (&p.run.cfg, &p.out);
    TO_STDOUT.store(out.output == Output::Stdout, Ordering::Relaxed);
    let bar = start(&p.run, report, threads, Workload::Export);
    let stores = shown_stores(cfg);
    let summary = export(cfg, out, &CANCEL, hooks(&bar)).with_context(|| format!("exporting {stores}"));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let summary = summary?;
    Ok(finish(&summary, report, out.output == Output::Stdout))
}

/// Runs a send and reports it; `threads`: `--threads` was given.
fn run_send(p: cli::PreparedSend, report: &cli::ReportArgs, threads: bool) -> anyhow::Result<ExitCode> {
    SENDING.store(true, Ordering::Relaxed);
    let (cfg, settings) = (&p.run.cfg, &p.settings);
    let bar = start(&p.run, report, threads, Workload::Send);
    let progress = |s: &[SignalStats; 3]| {
        if let Some(b) = &bar {
            let (req, rec, retried, wire) = s.iter().fold((0, 0, 0, 0), |a, x| {
                (a.0 + x.requests, a.1 + x.records, a.2 + x.retried, a.3 + x.wire_bytes)
            });
            let sent = indicatif::HumanBytes(wire);
            let counted = coder_telemetry::report::counted;
            b.set_message(format!(
                "{}, {}, {sent} sent, {}",
                counted(req, "request", "requests"),
                counted(rec, "record", "records"),
                counted(retried, "retry", "retries")
            ));
        }
    };
    let first_failure = |f: &Failure| {
        let line = format!("error: {}", f.describe());
        match &bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    };
    let send_hooks = SendHooks {
        progress: &progress,
        first_failure: &first_failure,
    };
    let stores = shown_stores(cfg);
    let summary = send(cfg, settings, &CANCEL, hooks(&bar), send_hooks).with_context(|| format!("sending {stores}"));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let summary = summary?;
    if let Some(d) = &summary.delivery {
        report_delivery(d, report.quiet);
    }
    Ok(finish(&summary, report, false))
}

fn shown_stores(cfg: &coder_telemetry::config::Config) -> String {
    let stores: Vec<String> = cfg.stores.iter().map(|s| s.display().to_string()).collect();
    stores.join(", ")
}

/// Before a run: its warnings and notes, the allocator, the cores, the
/// interrupt handler, and the progress bar (on a terminal, unless quiet).
fn start(p: &cli::Prepared, report: &cli::ReportArgs, threads: bool, work: Workload) -> Option<ProgressBar> {
    for w in &p.warnings {
        eprintln!("warning: {w}");
    }
    coder_telemetry::heap::tune(work);
    if threads {
        // Before any thread starts, so that every thread inherits the mask.
        confine_to_cpus(p.cfg.threads);
    }
    let _ = ctrlc::set_handler(on_interrupt);
    if report.quiet {
        return None;
    }
    for note in &p.notes {
        eprintln!("{note}");
    }
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

/// The run's progress, on the bar if there is one.
fn hooks(bar: &Option<ProgressBar>) -> Hooks {
    let (total, done) = (bar.clone(), bar.clone());
    Hooks {
        start: Box::new(move |n| {
            if let Some(b) = &total {
                b.set_length(n)
            }
        }),
        progress: Box::new(move |n| {
            if let Some(b) = &done {
                b.inc(n)
            }
        }),
        read: Box::new(|_| {}),
    }
}

/// What a send left undelivered: failures and rejections are shown even
/// when quiet; the first failure was shown when it happened.
fn report_delivery(d: &coder_telemetry::report::DeliverySummary, quiet: bool) {
    for w in &d.warnings {
        eprintln!("warning: {w}");
    }
    const SHOWN: usize = 10;
    for f in d.failures.iter().skip(1).take(SHOWN - 1) {
        eprintln!("error: {}", f.describe());
    }
    if d.failures.len() > SHOWN {
        eprintln!(
            "... and {} more failed requests (--summary-json lists them all)",
            d.failures.len() - SHOWN
        );
    }
    if let (true, Some(why)) = (quiet, &d.stopped) {
        eprintln!("error: the send stopped: {why}");
    }
    if let (true, Some(u)) = (quiet, &d.unrecorded) {
        eprintln!(
            "error: {} could not be recorded in the journal ({}); a resume sends {} again",
            coder_telemetry::report::counted(u.requests, "acknowledged request", "acknowledged requests"),
            u.error,
            if u.requests == 1 { "it" } else { "them" }
        );
    }
}

/// After a run: its problems, notes and summary, and the exit code.
/// `json_to_stderr`: stdout holds the export itself.
fn finish(summary: &Summary, report: &cli::ReportArgs, json_to_stderr: bool) -> ExitCode {
    // The first problems in file order, whatever the format; then a count.
    for p in &summary.problems {
        eprintln!("{p}");
    }
    let unshown = (summary.skipped_lines + summary.skipped_files).saturating_sub(summary.problems.len() as u64);
    if unshown > 0 {
        eprintln!(
            "... and {} more problems not shown",
            coder_telemetry::report::thousands(unshown)
        );
    }
    if !report.quiet {
        for line in summary.tally_lines() {
            eprintln!("{line}");
        }
        for note in &summary.notes {
            eprintln!("{note}");
        }
        match &summary.delivery {
            Some(d) if summary.empty.is_none() => eprintln!("{}", summary.send_line(d)),
            _ => eprintln!("{}", summary.line()),
        }
    } else if summary.empty.is_some() {
        // Even quiet, say why there is no file (SPEC §8.3).
        eprintln!("{}", summary.line());
    }
    if report.summary_json {
        let text = summary.json().to_string();
        if json_to_stderr {
            eprintln!("{text}");
        } else {
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{text}").and_then(|()| out.flush()) {
                // `--summary-json | head -c 10`: the reader has what it wanted.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("error: cannot write the summary to stdout: {e}");
                    return ExitCode::from(1);
                }
                _ => {}
            }
        }
    }
    let stopped = summary.delivery.as_ref().is_some_and(|d| d.stopped.is_some());
    if CANCEL.load(Ordering::Relaxed) && !stopped {
        eprintln!("{}", interrupted_message());
        return ExitCode::from(130);
    }
    if summary.delivery.as_ref().is_some_and(|d| d.failed()) {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
