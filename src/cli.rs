//! The command line: clap definitions, and their translation into a
//! validated [`Config`] (the only place clap is used). Usage errors carry the
//! flag's name and what it accepts, and exit with code 2. When a terminal is
//! attached, missing range, format and output are asked for (§8.5).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use coder_telemetry::config::{
    default_max_request_bytes, merge_resource_attrs, parse_otel_resource_attributes, parse_resource_attr, parse_size,
    Config, Format, Output, DEFAULT_CHUNK_BYTES, DEFAULT_LATE_DAYS, MAX_THREADS,
};
use coder_telemetry::encode::metrics::Temporality;
use coder_telemetry::encode::DEFAULT_ATTRIBUTE_LIMIT;
use coder_telemetry::output::layout::Layout;
use coder_telemetry::range::{Preset, RangeSpec};
use coder_telemetry::route::MetricEvents;
use coder_telemetry::store;

#[derive(Parser, Debug)]
#[command(
    name = "coder-telemetry",
    version,
    about = "Export the Coder VS Code extension's local telemetry as a JSON array or OTLP/JSON",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Export a date range of a telemetry store.
    Export(Box<ExportArgs>),
    /// List the candidate default stores and which exist.
    Paths,
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Json,
    Otlp,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LayoutArg {
    Single,
    Split,
    Jsonl,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TemporalityArg {
    Delta,
    Cumulative,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct ExportArgs {
    /// The store folder [default: the first existing candidate of `coder-telemetry paths`]
    pub store: Option<PathBuf>,
    /// last-24-hours, last-7-days, last-30-days or all-time
    #[arg(long, value_name = "PRESET")]
    pub range: Option<String>,
    /// First day of a custom range, inclusive (UTC)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<String>,
    /// Last day of a custom range, inclusive (UTC)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<String>,
    /// Anchor presets and the manifest at this instant instead of the clock
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Also read files dated up to N days after the range: the extension names
    /// a file by the day it flushed it, so late events sit in the next day's file
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LATE_DAYS)]
    pub late_days: u32,
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Output path: a .zip gets a zip, any other path a folder (otlp) or file (json); - is stdout (json)
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Overwrite an existing output
    #[arg(long)]
    pub force: bool,
    /// Abort on the first bad line or file (exit 1, no output)
    #[arg(long)]
    pub strict: bool,
    #[arg(long, value_enum, default_value = "single")]
    pub layout: LayoutArg,
    /// Largest request (split) or line (jsonl): bytes, or with KiB/MiB [default: 16MiB split, 1MiB jsonl]
    #[arg(long, value_name = "N")]
    pub max_request_bytes: Option<String>,
    /// Deflate level for zip output, 0 (store) to 9
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub compression_level: i64,
    #[arg(long, value_enum, default_value = "delta")]
    pub temporality: TemporalityArg,
    /// Also export this event name as metrics (repeatable)
    #[arg(long = "metric-event", value_name = "NAME")]
    pub metric_events: Vec<String>,
    /// Add a resource attribute to every resource (repeatable); OTEL_RESOURCE_ATTRIBUTES is read too
    #[arg(long = "resource-attr", value_name = "KEY=VALUE")]
    pub resource_attrs: Vec<String>,
    /// Use at most N cores (1 to 1024): N parse workers, with writers sharing those cores [default: all cores]
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar and no summary line
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the summary as one JSON object on stdout (stderr with -o -)
    #[arg(long)]
    pub summary_json: bool,
    /// Input chunk size for the workers (tuning and tests)
    #[arg(long, value_name = "N", hide = true)]
    pub chunk_bytes: Option<String>,
}

/// A usage error: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// Whether prompts can be shown.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// What the person chose at the prompts.
#[derive(Default)]
struct Answers {
    range: Option<RangeSpec>,
    format: Option<Format>,
    output: Option<PathBuf>,
}

/// Builds the [`Config`] of an export, asking for what is missing when a terminal is attached.
pub fn config(a: &ExportArgs) -> Result<(Config, Option<String>), UsageError> {
    let now = match &a.now {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map_err(|e| {
                usage(format!(
                    "--now {s:?}: {e}; expected RFC 3339 such as 2026-11-24T12:00:00Z"
                ))
            })?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let spec = RangeSpec::from_flags(a.range.as_deref(), a.from.as_deref(), a.to.as_deref())
        .map_err(|e| usage(e.to_string()))?;
    let format = a.format.map(|f| match f {
        FormatArg::Json => Format::Json,
        FormatArg::Otlp => Format::Otlp,
    });
    let mut answers = Answers::default();
    if interactive() && (spec.is_none() || format.is_none() || a.output.is_none()) {
        answers = ask(spec, format, a.output.is_none(), now)?;
    }
    let spec = spec.or(answers.range).unwrap_or(RangeSpec::Preset(Preset::AllTime));
    let format = format.or(answers.format).unwrap_or(Format::Json);
    let range = spec.resolve(now);

    let output = match a.output.clone().or(answers.output) {
        Some(p) if p.as_os_str() == "-" => {
            if format == Format::Otlp {
                return Err(usage(
                    "-o - writes a json export to stdout; --format otlp needs a folder or .zip path",
                ));
            }
            Output::Stdout
        }
        Some(p) => Output::Path(p),
        None => Output::Path(PathBuf::from(range.suggested_name(format == Format::Otlp))),
    };

    let layout = match a.layout {
        LayoutArg::Single => Layout::Single,
        LayoutArg::Split => Layout::Split,
        LayoutArg::Jsonl => Layout::Jsonl,
    };
    let max_request_bytes = match &a.max_request_bytes {
        None => default_max_request_bytes(layout),
        Some(s) => match parse_size(s) {
            // Any positive size: a record that cannot fit is written alone and counted.
            Some(n) if (1..=(1u64 << 32)).contains(&n) => n as usize,
            _ => {
                return Err(usage(format!(
                    "--max-request-bytes {s:?}: expected a size from 1 byte to 4GiB, such as 1048576 or 16MiB"
                )))
            }
        },
    };
    if !(0..=9).contains(&a.compression_level) {
        return Err(usage(format!(
            "--compression-level {}: expected 0 (store) to 9 (smallest)",
            a.compression_level
        )));
    }
    let threads = match a.threads {
        Some(n) if !(1..=MAX_THREADS).contains(&n) => {
            return Err(usage(format!("--threads {n}: expected 1 to {MAX_THREADS}")))
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
    };
    let attr_limit = match std::env::var("OTEL_ATTRIBUTE_COUNT_LIMIT") {
        Ok(v) => v.trim().parse::<usize>().map_err(|_| {
            usage(format!(
                "OTEL_ATTRIBUTE_COUNT_LIMIT={v:?}: expected a whole number of attributes (default {DEFAULT_ATTRIBUTE_LIMIT})"
            ))
        })?,
        Err(_) => DEFAULT_ATTRIBUTE_LIMIT,
    };
    let chunk_bytes = match &a.chunk_bytes {
        None => DEFAULT_CHUNK_BYTES,
        Some(s) => parse_size(s)
            .filter(|n| *n > 0)
            .ok_or_else(|| usage(format!("--chunk-bytes {s:?}: expected a size")))?,
    };
    let env_attrs = match std::env::var("OTEL_RESOURCE_ATTRIBUTES") {
        Ok(v) => parse_otel_resource_attributes(&v).map_err(|e| usage(e.to_string()))?,
        Err(_) => Vec::new(),
    };
    let flag_attrs = a
        .resource_attrs
        .iter()
        .map(|s| parse_resource_attr(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(e.to_string()))?;

    let (store, store_note) =
        match &a.store {
            Some(s) => (s.clone(), None),
            None => match store::default_store() {
                Some(c) => {
                    let note = format!("using the store of {}: {}", c.source, c.path.display());
                    (c.path, Some(note))
                }
                None => return Err(usage(
                    "no store given and no default store found (see `coder-telemetry paths`); pass the store folder",
                )),
            },
        };

    let cfg = Config {
        store,
        range,
        format,
        output,
        force: a.force,
        strict: a.strict,
        layout,
        max_request_bytes,
        compression_level: a.compression_level,
        temporality: match a.temporality {
            TemporalityArg::Delta => Temporality::Delta,
            TemporalityArg::Cumulative => Temporality::Cumulative,
        },
        metric_events: MetricEvents::with_extra(a.metric_events.iter().cloned()),
        resource_attrs: merge_resource_attrs(env_attrs, flag_attrs),
        threads,
        chunk_bytes,
        late_days: a.late_days,
        attr_limit,
        now,
        now_given: a.now.clone(),
    };
    Ok((cfg, store_note))
}

/// Asks for the range, format and output that were not given (§8.5).
fn ask(
    range: Option<RangeSpec>,
    format: Option<Format>,
    ask_output: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Answers, UsageError> {
    use dialoguer::console::Term;
    use dialoguer::{Input, Select};
    let term = Term::stderr();
    let cancelled = |e: dialoguer::Error| usage(format!("prompt cancelled: {e}"));
    let mut answers = Answers::default();
    let range = match range {
        Some(r) => r,
        None => {
            let mut items: Vec<&str> = Preset::ALL.iter().map(|p| p.label()).collect();
            items.push("Custom range...");
            let i = Select::new()
                .with_prompt("Date range")
                .items(&items)
                .default(1)
                .interact_on(&term)
                .map_err(cancelled)?;
            let r = if i < Preset::ALL.len() {
                RangeSpec::Preset(Preset::ALL[i])
            } else {
                let day = |prompt: &str, flag: &'static str| {
                    Input::<String>::new()
                        .with_prompt(prompt)
                        .validate_with(move |s: &String| -> Result<(), String> {
                            coder_telemetry::range::parse_day(flag, s)
                                .map(|_| ())
                                .map_err(|e| e.to_string())
                        })
                        .interact_text_on(&term)
                };
                let from = day("From (YYYY-MM-DD, UTC)", "--from").map_err(cancelled)?;
                let to = day("To (YYYY-MM-DD, UTC, inclusive)", "--to").map_err(cancelled)?;
                RangeSpec::days(&from, &to).map_err(|e| usage(e.to_string()))?
            };
            answers.range = Some(r);
            r
        }
    };
    let format = match format {
        Some(f) => f,
        None => {
            let i = Select::new()
                .with_prompt("Format")
                .items([
                    "JSON array (for people and review)",
                    "OTLP/JSON zip (for OpenTelemetry backends)",
                ])
                .default(0)
                .interact_on(&term)
                .map_err(cancelled)?;
            let f = if i == 0 { Format::Json } else { Format::Otlp };
            answers.format = Some(f);
            f
        }
    };
    if ask_output {
        let suggested = range.resolve(now).suggested_name(format == Format::Otlp);
        let path = Input::<String>::new()
            .with_prompt("Output")
            .default(suggested)
            .interact_text_on(&term)
            .map_err(cancelled)?;
        answers.output = Some(PathBuf::from(path));
    }
    Ok(answers)
}
