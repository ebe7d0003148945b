//! The command line: clap definitions, and their translation into a
//! validated [`Config`] (the only place clap is used). Usage errors name the
//! flag and what it accepts, and exit with code 2. The format follows the
//! output's name (§8.7); when a terminal is attached and the range, format
//! or output is missing, they are asked for (§8.5, [`prompt`]).
//! Environment variables are read as the OpenTelemetry SDKs read them
//! (§8.8): a malformed one is a warning, never a failed run.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use coder_telemetry::config::{
    default_max_request_bytes, merge_resource_attrs, parse_otel_resource_attributes, parse_resource_attr, parse_size,
    Config, Format, Layout, MetricEvents, Output, Shard, Temporality, DEFAULT_ATTRIBUTE_LIMIT, DEFAULT_CHUNK_BYTES,
    DEFAULT_LATE_DAYS, DEFAULT_MAX_LINE_BYTES, MAX_THREADS,
};
use coder_telemetry::deliver::grpc::server_url as grpc_server_url;
use coder_telemetry::deliver::journal;
use coder_telemetry::deliver::proxy;
use coder_telemetry::deliver::tls::{Tls, TlsFiles};
use coder_telemetry::deliver::{
    parse_header_flag, parse_headers, redact_url, Compression, Protocol, Settings, Signal, DEFAULT_SEND_REQUEST_BYTES,
    DEFAULT_TIMEOUT, MAX_SECONDS,
};
use coder_telemetry::output::atomic;
use coder_telemetry::range::{Preset, RangeSpec};
use coder_telemetry::store;

pub mod prompt;

const ABOUT: &str = "Export the Coder VS Code extension's local telemetry as JSON, JSON Lines or OTLP";

const EXPORT_HELP: &str = "\
Examples:
  # The last week of the default store, as one JSON array
  coder-telemetry export --range last-7-days -o week.json
  # A fixed window as OTLP in a zip (the format follows the name)
  coder-telemetry export ~/store --from 2026-11-01 --to 2026-11-07 -o nov.otlp.zip
  # OTLP envelopes in a folder, every file POSTable to a Collector
  coder-telemetry export ~/store -o otlp/
  # JSON to stdout
  coder-telemetry export ~/store --range all-time -o - | jq length
  # Shard 2 of 3 of an archive of several stores
  coder-telemetry export archive/*/ --shard 2/3 -o part-2.otlp.zip

Exit codes:
  0    exported, or nothing matched (and nothing was written); skipped lines are reported
  1    the export failed; nothing was left behind
  2    usage error
  130  interrupted (Ctrl-C, SIGTERM, Esc at a prompt); nothing was left behind

Environment:
  OTEL_RESOURCE_ATTRIBUTES    key=value,... added to every resource (percent-encoded)
  OTEL_SERVICE_NAME           replaces service.name in every resource
  OTEL_ATTRIBUTE_COUNT_LIMIT  attributes per record or data point [default: 128]
  HOME, XDG_CONFIG_HOME, XDG_DATA_HOME, APPDATA, VSCODE_PORTABLE, VSCODE_APPDATA
                              where the default store is looked for (see `coder-telemetry paths`)";

const SEND_HELP: &str = "\
Examples:
  # A local OpenTelemetry Collector (OTLP/HTTP on 4318)
  coder-telemetry send ~/store --range last-7-days --endpoint http://localhost:4318
  # The same over OTLP/gRPC (4317), plaintext
  coder-telemetry send ~/store --protocol grpc --insecure --endpoint localhost:4317
  # TLS with a private CA, and a client certificate (mTLS)
  coder-telemetry send ~/store --endpoint https://otel.internal:4318 --certificate ca.pem \\
      --client-certificate client.pem --client-key client-key.pem
  # Honeycomb
  coder-telemetry send ~/store --endpoint https://api.honeycomb.io --header x-honeycomb-team=$KEY
  # Resumable: run the same command again after a failure or Ctrl-C
  coder-telemetry send ~/store --range all-time \\
      --endpoint http://localhost:4318 --journal send.journal
  # What would be sent, without connecting
  coder-telemetry send ~/store --endpoint http://localhost:4318 --dry-run

Exit codes:
  0    every request was delivered (or nothing matched)
  1    a request failed (each is listed with its status), the send stopped
       (nothing acknowledged for --max-elapsed, or the journal could not be
       written), or it could not run
  2    usage error, or a --journal that belongs to another send or is in use
  130  interrupted (Ctrl-C, SIGTERM); the journal keeps what was acknowledged

Environment (flags win; each OTEL_EXPORTER_OTLP_X also as OTEL_EXPORTER_OTLP_{LOGS,TRACES,METRICS}_X):
  OTEL_EXPORTER_OTLP_PROTOCOL                 http/protobuf, http/json or grpc
  OTEL_EXPORTER_OTLP_ENDPOINT                 http/*: base URL, /v1/{logs,traces,metrics} appended
                                              grpc: the server's URL (or host:port)
  OTEL_EXPORTER_OTLP_{LOGS,TRACES,METRICS}_ENDPOINT   a signal's URL, used as given
  OTEL_EXPORTER_OTLP_HEADERS                  key=value,... (percent-encoded)
  OTEL_EXPORTER_OTLP_COMPRESSION              gzip, zstd or none
  OTEL_EXPORTER_OTLP_TIMEOUT                  per request, in milliseconds (at most 86400000)
  OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY   PEM files (TLS, mTLS)
  OTEL_EXPORTER_OTLP_INSECURE                 true: a scheme-less gRPC endpoint is plaintext
  https_proxy, http_proxy, all_proxy, no_proxy (either case)   as curl reads them
  OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME, OTEL_ATTRIBUTE_COUNT_LIMIT   as for export";

#[derive(Parser, Debug)]
#[command(name = "coder-telemetry", version, about = ABOUT, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Export a date range of telemetry stores as a JSON array, JSON Lines or OTLP.
    #[command(display_name = "coder-telemetry", after_help = EXPORT_HELP)]
    Export(Box<ExportArgs>),
    /// Send a date range straight to an OTLP endpoint over HTTP or gRPC (a Collector, Honeycomb, Grafana Cloud, ...).
    #[command(display_name = "coder-telemetry", after_help = SEND_HELP)]
    Send(Box<SendArgs>),
    /// List the candidate default stores and which exist.
    #[command(display_name = "coder-telemetry")]
    Paths,
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    #[command(display_name = "coder-telemetry")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RangeArg {
    #[value(name = "last-24-hours")]
    Last24Hours,
    #[value(name = "last-7-days")]
    Last7Days,
    #[value(name = "last-30-days")]
    Last30Days,
    #[value(name = "all-time")]
    AllTime,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Json,
    #[value(alias = "ndjson")]
    Jsonl,
    Otlp,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LayoutArg {
    Auto,
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
    #[command(flatten)]
    pub sel: SelectArgs,
    /// json, jsonl or otlp [default: from the output's name, else json]
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// NAME.json: a JSON array; NAME.jsonl or NAME.ndjson: JSON Lines; NAME.zip or NAME/: OTLP in a zip or a folder; -: JSON to stdout
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Replace an existing output: a regular file that is not an input, or an earlier export folder
    #[arg(long)]
    pub force: bool,
    /// OTLP files: auto (one per signal, split when larger than --max-request-bytes), single, split or jsonl
    #[arg(long, value_enum, default_value = "auto")]
    pub layout: LayoutArg,
    /// Largest request (auto, split) or line (jsonl): bytes, kB/MB/GB or KiB/MiB/GiB [default: 16MiB, jsonl 1MiB]
    #[arg(long, value_name = "N")]
    pub max_request_bytes: Option<String>,
    /// Deflate level for zip output, 0 (store) to 9
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub compression_level: i64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
    None,
}

/// `--protocol` and `OTEL_EXPORTER_OTLP_PROTOCOL`, case-insensitive.
fn parse_protocol(v: &str) -> Result<Protocol, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Ok(Protocol::HttpJson),
        "grpc" => Ok(Protocol::Grpc),
        _ => Err("expected http/protobuf, http/json or grpc".to_string()),
    }
}

/// A value from the environment as a message may show it: bounded.
fn shown(v: &str) -> String {
    let t: String = v.chars().take(40).collect();
    format!("{t:?}")
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct SendArgs {
    #[command(flatten)]
    pub sel: SelectArgs,
    /// Base URL: /v1/logs, /v1/traces, /v1/metrics are appended (grpc: the server's URL) [env: OTEL_EXPORTER_OTLP_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Add a request header, as KEY=VALUE or 'Name: value' (repeatable; the value as written, never printed); wins over OTEL_EXPORTER_OTLP_HEADERS
    #[arg(long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// OTLP transport and body encoding: http/protobuf, http/json or grpc [env: OTEL_EXPORTER_OTLP_PROTOCOL] [default: http/protobuf]
    #[arg(long, value_name = "PROTOCOL")]
    pub protocol: Option<String>,
    /// Request body compression [env: OTEL_EXPORTER_OTLP_COMPRESSION] [default: gzip]
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,
    /// Seconds to wait for one response [env: OTEL_EXPORTER_OTLP_TIMEOUT, in ms] [default: 10]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Largest request body before compression: bytes, kB/MB/GB or KiB/MiB/GiB [default: 4MiB]
    #[arg(long, value_name = "N")]
    pub max_request_bytes: Option<String>,
    /// PEM bundle of the CAs to trust for the server, in place of the system's [env: OTEL_EXPORTER_OTLP_CERTIFICATE]
    #[arg(long, value_name = "PEM")]
    pub certificate: Option<PathBuf>,
    /// PEM client certificate, for mTLS [env: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE]
    #[arg(long, value_name = "PEM")]
    pub client_certificate: Option<PathBuf>,
    /// PEM private key of the client certificate [env: OTEL_EXPORTER_OTLP_CLIENT_KEY]
    #[arg(long, value_name = "PEM")]
    pub client_key: Option<PathBuf>,
    /// gRPC: a scheme-less endpoint (host:port) is plaintext, not TLS [env: OTEL_EXPORTER_OTLP_INSECURE=true]
    #[arg(long)]
    pub insecure: bool,
    /// Requests in flight at once, 1 to 64
    #[arg(long, value_name = "N", default_value_t = coder_telemetry::deliver::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Give up on a request still retried after this many seconds; stop the send when nothing was acknowledged for as long
    #[arg(long, value_name = "SECONDS", default_value_t = coder_telemetry::deliver::DEFAULT_MAX_ELAPSED.as_secs_f64())]
    pub max_elapsed: f64,
    /// Record the records of acknowledged requests here; the same command run again sends only the rest (resume)
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Build every request and report counts and sizes, without connecting
    #[arg(long)]
    pub dry_run: bool,
}

/// What to read and how: the flags `export` and `send` share.
#[derive(Args, Debug, Clone)]
pub struct SelectArgs {
    /// Store folders [default: the first existing candidate of `coder-telemetry paths`]
    #[arg(value_name = "STORE")]
    pub stores: Vec<PathBuf>,
    /// A range ending now (or at --now)
    #[arg(long, value_enum, value_name = "PRESET")]
    pub range: Option<RangeArg>,
    /// From AGE ago (36h, 7d, 2w) or from DAY, to now
    #[arg(long, value_name = "AGE|DAY")]
    pub since: Option<String>,
    /// First day, inclusive (UTC); alone: until now
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<String>,
    /// Last day, inclusive (UTC); alone: from the first
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<String>,
    /// Anchor presets and the manifest at this instant instead of the clock
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Also read files dated up to N days after the range: the extension names
    /// a file by the day it flushed it, so late events sit in the next day's file
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LATE_DAYS)]
    pub late_days: u32,
    /// Only the sessions of shard K of N (FNV-1a of the session part of the file names)
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Skip and report lines longer than this, without reading them [default: 16MiB]
    #[arg(long, value_name = "N")]
    pub max_line_bytes: Option<String>,
    /// Abort on the first bad line or file (exit 1, no output)
    #[arg(long)]
    pub strict: bool,
    /// Sums as deltas per window, or as running totals
    #[arg(long, value_enum, default_value = "delta")]
    pub temporality: TemporalityArg,
    /// Also export this event name as metrics (repeatable)
    #[arg(long = "metric-event", value_name = "NAME")]
    pub metric_events: Vec<String>,
    /// Add a resource attribute to every resource (repeatable); wins over OTEL_RESOURCE_ATTRIBUTES
    #[arg(long = "resource-attr", value_name = "KEY=VALUE")]
    pub resource_attrs: Vec<String>,
    /// Use at most N cores, 1 to 1024 [default: all cores]
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

pub fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// The person left a prompt (Esc, Ctrl-C): exit code 130.
#[derive(Debug, thiserror::Error)]
#[error("cancelled; nothing was written")]
pub struct Cancelled;

/// Why no [`Config`] came out of the command line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// Whether prompts can be shown.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// A validated export, with what to tell the person before it starts.
pub struct Prepared {
    pub cfg: Config,
    /// Which default store was used, and which others exist.
    pub notes: Vec<String>,
    /// Settings that were ignored (malformed environment variables) or are risky.
    pub warnings: Vec<String>,
}

/// Archives this tool does not write: a name ending so would mislead.
const OTHER_ARCHIVES: [&str; 9] = [".gz", ".tgz", ".tar", ".bz2", ".xz", ".zst", ".7z", ".rar", ".lz4"];

/// What `-o` says of the format: its name (see [`format_named`]), or, for
/// an earlier export folder, OTLP.
pub fn format_of_name(output: &Path) -> Result<Option<Format>, UsageError> {
    let named = format_named(output)?;
    if named.is_none() && output.is_dir() && atomic::earlier_export(output).is_ok() {
        return Ok(Some(Format::Otlp));
    }
    Ok(named)
}

/// What the name alone says: `.json` and `-` are JSON; `.jsonl` and
/// `.ndjson` JSON Lines; `.zip` and a trailing `/` are OTLP; anything else
/// says nothing. Archives this tool does not write are refused.
fn format_named(output: &Path) -> Result<Option<Format>, UsageError> {
    let text = output.as_os_str().to_string_lossy();
    let lower = text.to_ascii_lowercase();
    if text == "-" || lower.ends_with(".json") {
        return Ok(Some(Format::Json));
    }
    if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        return Ok(Some(Format::Jsonl));
    }
    if lower.ends_with(".zip") || text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR) {
        return Ok(Some(Format::Otlp));
    }
    if let Some(ext) = OTHER_ARCHIVES.iter().find(|e| lower.ends_with(*e)) {
        return Err(usage(format!(
            "-o {text}: coder-telemetry writes a JSON file (.json), JSON Lines (.jsonl), an OTLP zip (.zip) or \
             an OTLP folder (NAME/), not a {ext} archive; compress the output afterwards"
        )));
    }
    Ok(None)
}

/// Refuses a `--format` that the output's name contradicts (§8.7).
pub fn check_contradiction(format: Format, output: &Path) -> Result<(), UsageError> {
    let Some(named) = format_named(output)? else {
        return Ok(());
    };
    let text = output.display();
    let stdout = output.as_os_str() == "-";
    let flag = format.name();
    let why = match (format, named) {
        (f, n) if f == n => return Ok(()),
        // stdout takes either kind of JSON.
        (Format::Jsonl, _) if stdout => return Ok(()),
        (Format::Otlp, _) if stdout => {
            return Err(usage(
                "--format otlp contradicts -o -: stdout takes a JSON or JSON Lines export; OTLP needs a .zip or \
                 a folder (NAME/)",
            ))
        }
        (_, Format::Otlp) => format!(
            "a .zip or a folder (NAME/) holds an OTLP export; use --format otlp, or a name ending in {}",
            format.extension()
        ),
        (Format::Otlp, Format::Json) => {
            "a .json name holds a JSON export; use a name ending in .zip or / for OTLP, or --format json".to_string()
        }
        (Format::Otlp, Format::Jsonl) => "a .jsonl or .ndjson name holds JSON Lines of events; use a name ending in \
             .zip or / for OTLP (--layout jsonl writes OTLP requests one per line into a folder), or --format jsonl"
            .to_string(),
        (_, Format::Jsonl) => {
            "a .jsonl or .ndjson name holds JSON Lines; use --format jsonl, or a name ending in .json".to_string()
        }
        (_, Format::Json) => {
            "a .json name holds a JSON array; use --format json, or a name ending in .jsonl".to_string()
        }
    };
    Err(usage(format!("--format {flag} contradicts -o {text}: {why}")))
}

/// Parses `--now`: RFC 3339 with an offset.
fn parse_now(s: &str) -> Result<chrono::DateTime<chrono::Utc>, UsageError> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            usage(format!(
                "--now {s:?}: expected a date and time with its UTC offset (RFC 3339), such as 2026-11-24T12:00:00Z \
                 or 2026-11-24T14:00:00+02:00"
            ))
        })
}

/// Parses a byte size flag: `1048576`, `16MiB`, `20MB` (MB = 10^6, MiB = 2^20).
fn size_flag(flag: &str, s: &str, max: u64) -> Result<u64, UsageError> {
    match parse_size(s) {
        Some(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(usage(format!(
            "{flag} {s:?}: expected a size of 1 byte to {max} bytes, as bytes or with a unit: \
             kB, MB, GB (10^3, 10^6, 10^9) or KiB, MiB, GiB (2^10, 2^20, 2^30), such as 16MiB"
        ))),
    }
}

/// The Collector's OTLP/HTTP receiver refuses request bodies over this.
const COLLECTOR_LIMIT: u64 = 20 << 20;

/// Builds the [`Config`] of an export, asking for what is missing when a terminal is attached.
pub fn config(a: &ExportArgs) -> Result<Prepared, ConfigError> {
    config_with(a, interactive())
}

/// The range the flags choose, if they choose one, checked against `now`.
fn range_spec(sel: &SelectArgs, now: chrono::DateTime<chrono::Utc>) -> Result<Option<RangeSpec>, UsageError> {
    let preset = sel.range.map(|r| match r {
        RangeArg::Last24Hours => Preset::Last24Hours,
        RangeArg::Last7Days => Preset::Last7Days,
        RangeArg::Last30Days => Preset::Last30Days,
        RangeArg::AllTime => Preset::AllTime,
    });
    let spec = RangeSpec::from_flags(
        preset.map(Preset::name),
        sel.since.as_deref(),
        sel.from.as_deref(),
        sel.to.as_deref(),
    )
    .map_err(|e| usage(e.to_string()))?;
    if let Some(s) = spec {
        let flag = if sel.since.is_some() { "--since" } else { "--from" };
        s.check(now, flag).map_err(|e| usage(e.to_string()))?;
    }
    Ok(spec)
}

fn config_with(a: &ExportArgs, ask: bool) -> Result<Prepared, ConfigError> {
    let mut warnings = Vec::new();
    let now = match &a.sel.now {
        Some(s) => parse_now(s)?,
        None => chrono::Utc::now(),
    };
    let spec = range_spec(&a.sel, now)?;
    let explicit = a.format.map(|f| match f {
        FormatArg::Json => Format::Json,
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Otlp => Format::Otlp,
    });
    if let (Some(f), Some(o)) = (explicit, &a.output) {
        check_contradiction(f, o)?;
    }
    let named = match &a.output {
        Some(o) => format_of_name(o)?,
        None => None,
    };
    let format = explicit.or(named);
    let stores = stores(&a.sel.stores)?;
    let mut force = a.force;

    let mut answers = prompt::Answers::default();
    let existing_output = a
        .output
        .as_ref()
        .is_some_and(|o| o.as_os_str() != "-" && o.symlink_metadata().is_ok());
    let ask_output = a.output.is_none() || (existing_output && !force);
    if ask && (spec.is_none() || format.is_none() || a.output.is_none()) {
        answers = prompt::ask(&prompt::Questions {
            range: spec,
            format,
            output: a.output.clone().filter(|_| !ask_output),
            given_output: a.output.clone(),
            stores: stores.paths.clone(),
            now,
        })?;
        force |= answers.replace;
    }
    let spec = spec.or(answers.range).unwrap_or(RangeSpec::Preset(Preset::AllTime));
    let format = format.or(answers.format).unwrap_or(Format::Json);
    let range = spec.resolve(now);

    let output = match answers.output.or_else(|| a.output.clone()) {
        Some(p) if p.as_os_str() == "-" => Output::Stdout,
        Some(p) => Output::Path(p),
        None => Output::Path(PathBuf::from(range.suggested_name(format.extension()))),
    };
    if let Output::Path(p) = &output {
        check_contradiction(format, p)?;
    }

    let layout = match a.layout {
        LayoutArg::Auto => Layout::Auto,
        LayoutArg::Single => Layout::Single,
        LayoutArg::Split => Layout::Split,
        LayoutArg::Jsonl => Layout::Jsonl,
    };
    let max_request_bytes = match &a.max_request_bytes {
        None => default_max_request_bytes(layout),
        // Any positive size: a record that cannot fit is written alone and counted.
        Some(s) => size_flag("--max-request-bytes", s, 1 << 32)? as usize,
    };
    if format == Format::Otlp && layout != Layout::Jsonl && max_request_bytes as u64 > COLLECTOR_LIMIT {
        warnings.push(format!(
            "--max-request-bytes {}: the OpenTelemetry Collector's OTLP/HTTP receiver refuses request bodies \
             over 20 MiB by default",
            a.max_request_bytes.as_deref().unwrap_or_default()
        ));
    }
    if !(0..=9).contains(&a.compression_level) {
        return Err(usage(format!(
            "--compression-level {}: expected 0 (store) to 9 (smallest)",
            a.compression_level
        ))
        .into());
    }
    let threads = match a.sel.threads {
        Some(n) if !(1..=MAX_THREADS).contains(&n) => {
            return Err(usage(format!("--threads {n}: expected 1 to {MAX_THREADS}")).into())
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
    };
    let max_line_bytes = match &a.sel.max_line_bytes {
        None => DEFAULT_MAX_LINE_BYTES,
        Some(s) => size_flag("--max-line-bytes", s, 1 << 32)? as usize,
    };
    let chunk_bytes = match &a.sel.chunk_bytes {
        None => DEFAULT_CHUNK_BYTES,
        Some(s) => size_flag("--chunk-bytes", s, 1 << 32)?,
    };
    let shard = match &a.sel.shard {
        None => None,
        Some(s) => Some(Shard::parse(s).ok_or_else(|| {
            usage(format!(
                "--shard {s:?}: expected K/N with 1 <= K <= N, such as 2/3 (shard 2 of 3)"
            ))
        })?),
    };

    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let mut env_attrs = match env("OTEL_RESOURCE_ATTRIBUTES") {
        Some(v) => parse_otel_resource_attributes(&v).unwrap_or_else(|e| {
            warnings.push(format!("ignoring OTEL_RESOURCE_ATTRIBUTES: {e}"));
            Vec::new()
        }),
        None => Vec::new(),
    };
    if let Some(name) = env("OTEL_SERVICE_NAME") {
        env_attrs.retain(|(k, _)| k != "service.name");
        env_attrs.push(("service.name".to_string(), name.trim().to_string()));
    }
    let flag_attrs = a
        .sel
        .resource_attrs
        .iter()
        .map(|s| parse_resource_attr(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(e.to_string()))?;
    let attr_limit = match env("OTEL_ATTRIBUTE_COUNT_LIMIT") {
        Some(v) => v.trim().parse::<usize>().unwrap_or_else(|_| {
            warnings.push(format!(
                "ignoring OTEL_ATTRIBUTE_COUNT_LIMIT={v:?}: expected a whole number; using {DEFAULT_ATTRIBUTE_LIMIT}"
            ));
            DEFAULT_ATTRIBUTE_LIMIT
        }),
        None => DEFAULT_ATTRIBUTE_LIMIT,
    };

    let cfg = Config {
        stores: stores.paths,
        shard,
        range,
        format,
        output,
        force,
        strict: a.sel.strict,
        layout,
        max_request_bytes,
        compression_level: a.compression_level,
        temporality: match a.sel.temporality {
            TemporalityArg::Delta => Temporality::Delta,
            TemporalityArg::Cumulative => Temporality::Cumulative,
        },
        metric_events: MetricEvents::with_extra(a.sel.metric_events.iter().cloned()),
        resource_attrs: merge_resource_attrs(env_attrs, flag_attrs),
        threads,
        chunk_bytes,
        late_days: a.sel.late_days,
        max_line_bytes,
        attr_limit,
        now,
        now_given: a.sel.now.clone(),
    };
    Ok(Prepared {
        cfg,
        notes: stores.notes,
        warnings,
    })
}

/// A validated `send`: the export it streams, and where to.
pub struct PreparedSend {
    pub export: Prepared,
    pub settings: Settings,
}

/// A URL the OTLP exporters accept: http or https.
fn check_url(from: &str, url: &str) -> Result<String, UsageError> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"));
    if !rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) {
        return Err(usage(format!(
            "{from} {}: expected an http:// or https:// URL, such as http://localhost:4318",
            redact_url(u)
        )));
    }
    Ok(u.to_string())
}

/// Builds a `send` from its flags and the OTLP exporter environment (§10.2).
pub fn send_config(a: &SendArgs) -> Result<PreparedSend, ConfigError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let mut warnings = Vec::new();
    let names = ["LOGS", "TRACES", "METRICS"];
    // Protocol and compression: the flag, else a signal's own variable,
    // else the common one (§10.2); a bad variable is warned about and the
    // default used, as the OTel SDKs do.
    let mut protocols = [Protocol::default(); 3];
    let mut compressions = [Compression::default(); 3];
    for (i, name) in names.iter().enumerate() {
        let var = |base: &str| {
            let own = format!("OTEL_EXPORTER_OTLP_{name}_{base}");
            env(&own).map(|v| (own, v)).or_else(|| {
                let common = format!("OTEL_EXPORTER_OTLP_{base}");
                env(&common).map(|v| (common, v))
            })
        };
        protocols[i] = match (&a.protocol, var("PROTOCOL")) {
            (Some(p), _) => parse_protocol(p).map_err(|e| usage(format!("--protocol {p:?}: {e}")))?,
            (None, Some((k, v))) => match parse_protocol(&v) {
                Ok(p) => p,
                Err(e) => {
                    warnings.push(format!("ignoring {k}={}: {e}; using http/protobuf", shown(&v)));
                    Protocol::default()
                }
            },
            (None, None) => Protocol::default(),
        };
        compressions[i] = match (a.compression, var("COMPRESSION")) {
            (Some(CompressionArg::Gzip), _) => Compression::Gzip,
            (Some(CompressionArg::Zstd), _) => Compression::Zstd,
            (Some(CompressionArg::None), _) => Compression::None,
            (None, Some((k, v))) => match v.trim().to_ascii_lowercase().as_str() {
                "gzip" => Compression::Gzip,
                "zstd" => Compression::Zstd,
                "none" => Compression::None,
                _ => {
                    warnings.push(format!(
                        "ignoring {k}={}: expected gzip, zstd or none; using gzip",
                        shown(&v)
                    ));
                    Compression::Gzip
                }
            },
            (None, None) => Compression::Gzip,
        };
    }
    warnings.dedup();
    // --insecure: a scheme-less gRPC endpoint is plaintext.
    let insecure: [bool; 3] = std::array::from_fn(|i| {
        a.insecure
            || [
                format!("OTEL_EXPORTER_OTLP_{}_INSECURE", names[i]),
                "OTEL_EXPORTER_OTLP_INSECURE".to_string(),
            ]
            .iter()
            .find_map(|k| env(k))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    });
    // Endpoints: the flag, else a signal's own variable, else the base variable.
    let mut endpoints: [String; 3] = Default::default();
    let mut missing = Vec::new();
    for (i, sig) in Signal::ALL.map(Signal::name).iter().enumerate() {
        let grpc = protocols[i] == Protocol::Grpc;
        // gRPC: the server's URL, the same for every signal.
        let server = |from: &str, b: &str| -> Result<String, UsageError> {
            let b = b.trim();
            if b.is_empty() || b.contains(char::is_whitespace) {
                return Err(usage(format!(
                    "{from} {}: expected a gRPC server URL, such as http://localhost:4317",
                    redact_url(b)
                )));
            }
            Ok(grpc_server_url(b, insecure[i]))
        };
        let base = |from: &str, b: &str| -> Result<String, UsageError> {
            if grpc {
                return server(from, b);
            }
            let b = check_url(from, b)?;
            let trimmed = b.trim_end_matches('/');
            if let Some(s) = Signal::ALL
                .map(Signal::name)
                .iter()
                .find(|s| trimmed.ends_with(&format!("/v1/{s}")))
            {
                return Err(usage(format!(
                    "{from} {}: a base URL gets /v1/logs, /v1/traces and /v1/metrics appended; drop the /v1/{s} \
                     (or set OTEL_EXPORTER_OTLP_{}_ENDPOINT for one signal's full URL)",
                    redact_url(&b),
                    s.to_ascii_uppercase()
                )));
            }
            Ok(format!("{trimmed}/v1/{sig}"))
        };
        let own = format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", names[i]);
        endpoints[i] = match (&a.endpoint, env(&own), env("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            (Some(e), _, _) => base("--endpoint", e)?,
            (None, Some(e), _) if grpc => server(&own, &e)?,
            (None, Some(e), _) => check_url(&own, &e)?,
            (None, None, Some(e)) => base("OTEL_EXPORTER_OTLP_ENDPOINT", &e)?,
            (None, None, None) => {
                missing.push((*sig, own));
                String::new()
            }
        };
    }
    // The usual mix-up: OTLP/HTTP listens on 4318, OTLP/gRPC on 4317.
    for (i, e) in endpoints.iter().enumerate() {
        let port = e
            .split("://")
            .nth(1)
            .unwrap_or(e)
            .split('/')
            .next()
            .unwrap_or("")
            .rsplit(':')
            .next();
        let (grpc, http) = (protocols[i] == Protocol::Grpc, protocols[i] != Protocol::Grpc);
        if http && port == Some("4317") {
            warnings.push(format!(
                "{} uses port 4317, where OTLP/gRPC usually listens; OTLP/HTTP is on 4318 (or pass --protocol grpc)",
                redact_url(e)
            ));
        } else if grpc && port == Some("4318") {
            warnings.push(format!(
                "{} uses port 4318, where OTLP/HTTP usually listens; OTLP/gRPC is on 4317 (or pass --protocol http/protobuf)",
                redact_url(e)
            ));
        }
    }
    warnings.dedup();
    if !missing.is_empty() && !a.dry_run {
        let (sigs, vars): (Vec<&str>, Vec<String>) = missing.into_iter().unzip();
        return Err(usage(format!(
            "no endpoint for {}: pass --endpoint URL (such as http://localhost:4318), or set \
             OTEL_EXPORTER_OTLP_ENDPOINT, or {}",
            sigs.join(", "),
            vars.join(" and ")
        ))
        .into());
    }
    // Headers: the base variable, a signal's own, then the flags; a later
    // one replaces an earlier one of the same name.
    let mut flag_headers = Vec::new();
    for h in &a.headers {
        flag_headers.push(parse_header_flag(h).map_err(|e| usage(format!("--header: {e}")))?);
    }
    let from_env = |var: &str, warnings: &mut Vec<String>| match env(var) {
        Some(v) => {
            let (ok, bad) = parse_headers(&v);
            warnings.extend(bad.into_iter().map(|b| format!("{var}: {b}; that entry is ignored")));
            ok
        }
        None => Vec::new(),
    };
    let common = from_env("OTEL_EXPORTER_OTLP_HEADERS", &mut warnings);
    let mut headers: [Vec<(String, String)>; 3] = Default::default();
    for (i, name) in names.iter().enumerate() {
        let own = from_env(&format!("OTEL_EXPORTER_OTLP_{name}_HEADERS"), &mut warnings);
        let mut h: Vec<(String, String)> = Vec::new();
        for (k, v) in common.iter().chain(&own).chain(&flag_headers) {
            h.retain(|(k2, _)| !k2.eq_ignore_ascii_case(k));
            h.push((k.clone(), v.clone()));
        }
        headers[i] = h;
    }
    // TLS material: the flag, else a signal's own variable, else the common
    // one; read and checked now, before anything is sent.
    let mut tls: [Tls; 3] = Default::default();
    for (i, name) in names.iter().enumerate() {
        let file = |flag: &str, given: &Option<PathBuf>, base: &str| {
            let own = format!("OTEL_EXPORTER_OTLP_{name}_{base}");
            let common = format!("OTEL_EXPORTER_OTLP_{base}");
            match given {
                Some(p) => Some((flag.to_string(), p.clone())),
                None => env(&own)
                    .map(|v| (own, PathBuf::from(v)))
                    .or_else(|| env(&common).map(|v| (common, PathBuf::from(v)))),
            }
        };
        let files = TlsFiles {
            ca: file("--certificate", &a.certificate, "CERTIFICATE"),
            client_cert: file("--client-certificate", &a.client_certificate, "CLIENT_CERTIFICATE"),
            client_key: file("--client-key", &a.client_key, "CLIENT_KEY"),
        };
        tls[i] = files.load().map_err(usage)?;
    }
    let seconds = |flag: &str, v: f64| -> Result<std::time::Duration, UsageError> {
        if v.is_finite() && v > 0.0 && v <= MAX_SECONDS as f64 {
            Ok(std::time::Duration::from_secs_f64(v))
        } else {
            Err(usage(format!(
                "{flag} {v}: expected seconds, more than 0 and at most {MAX_SECONDS}"
            )))
        }
    };
    let timeout = match (a.timeout, env("OTEL_EXPORTER_OTLP_TIMEOUT")) {
        (Some(t), _) => seconds("--timeout", t)?,
        (None, Some(ms)) => match ms.trim().parse::<u64>() {
            Ok(ms) if ms > 0 && ms <= MAX_SECONDS * 1000 => std::time::Duration::from_millis(ms),
            Ok(ms) if ms > 0 => {
                warnings.push(format!(
                    "OTEL_EXPORTER_OTLP_TIMEOUT={ms}: more than {MAX_SECONDS} s; using {MAX_SECONDS} s"
                ));
                std::time::Duration::from_secs(MAX_SECONDS)
            }
            _ => {
                warnings.push(format!(
                    "ignoring OTEL_EXPORTER_OTLP_TIMEOUT={ms:?}: expected milliseconds; using 10 s"
                ));
                DEFAULT_TIMEOUT
            }
        },
        (None, None) => DEFAULT_TIMEOUT,
    };
    if !(1..=64).contains(&a.concurrency) {
        return Err(usage(format!("--concurrency {}: expected 1 to 64", a.concurrency)).into());
    }
    let max_elapsed = seconds("--max-elapsed", a.max_elapsed)?;
    let max_request_bytes = match &a.max_request_bytes {
        None => DEFAULT_SEND_REQUEST_BYTES,
        Some(s) => size_flag("--max-request-bytes", s, 1 << 32)? as usize,
    };
    let export = ExportArgs {
        sel: a.sel.clone(),
        format: Some(FormatArg::Otlp),
        // Never written: a send has no output file.
        output: Some(PathBuf::from("send/")),
        force: false,
        layout: LayoutArg::Split,
        max_request_bytes: Some(max_request_bytes.to_string()),
        compression_level: 1,
    };
    // A resume finishes the window its journal was started for: the range
    // is anchored at the journal's instant unless --now is given.
    let mut export = export;
    let started = a.journal.as_deref().and_then(journal::binding_of);
    if let (Some(b), None) = (&started, &a.sel.now) {
        export.sel.now = Some(b.now.clone());
    }
    let mut prepared = config_with(&export, false)?;
    prepared.warnings.extend(warnings);
    if let (Some(b), Some(path)) = (&started, &a.journal) {
        if let Some(why) = b.mismatch(&journal::Binding::new(&endpoints, &prepared.cfg)) {
            return Err(usage(format!(
                "--journal {}: {why}; run the command that started it again (the same endpoint, stores, \
                 shard and range), or use another --journal for this send",
                path.display()
            ))
            .into());
        }
        if a.sel.now.is_none() {
            prepared.notes.push(format!(
                "resuming {}: the range is anchored at {}, when this journal was started",
                path.display(),
                b.now
            ));
        }
    }
    let proxies = endpoints
        .clone()
        .map(|e| proxy::for_target(&e, |k| std::env::var(k).ok()));
    Ok(PreparedSend {
        export: prepared,
        settings: Settings {
            endpoints,
            headers,
            protocols,
            compressions,
            tls,
            proxies,
            timeout,
            concurrency: a.concurrency,
            max_elapsed,
            journal: a.journal.clone(),
            dry_run: a.dry_run,
        },
    })
}

/// The stores to read, and what to say about a default one.
struct Stores {
    paths: Vec<PathBuf>,
    notes: Vec<String>,
}

fn stores(given: &[PathBuf]) -> Result<Stores, UsageError> {
    if !given.is_empty() {
        return Ok(Stores {
            paths: given.to_vec(),
            notes: Vec::new(),
        });
    }
    let found: Vec<store::Candidate> = store::system_candidates()
        .into_iter()
        .filter(|c| c.path.is_dir())
        .collect();
    let Some(first) = found.first() else {
        return Err(usage(
            "no store given and no default store found (see `coder-telemetry paths`); pass the store folder",
        ));
    };
    let mut notes = vec![format!("using the store of {}: {}", first.source, first.path.display())];
    if found.len() > 1 {
        let others: Vec<String> = found[1..]
            .iter()
            .map(|c| format!("{} ({})", c.path.display(), c.source))
            .collect();
        notes.push(format!(
            "other stores found, not exported: {}; pass them as STORE arguments to export them too",
            others.join(", ")
        ));
    }
    Ok(Stores {
        paths: vec![first.path.clone()],
        notes,
    })
}

/// The bash script clap_complete writes for a hyphenated binary name labels
/// its cases `coder__subcmd__telemetry__...` but matches `coder__telemetry__...`
/// (clap_complete 4.6): nothing completes. The labels are put right here.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "coder-telemetry", &mut out);
    if shell == clap_complete::Shell::Bash {
        let text = String::from_utf8_lossy(&out).replace("coder__subcmd__telemetry", "coder__telemetry");
        out = text.into_bytes();
    }
    out
}
