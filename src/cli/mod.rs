//! The command line: clap definitions, and their translation into a
//! validated [`Config`] (the only place clap is used). Options are shown in
//! groups (Range, Output, Delivery, OTLP, Performance), `-h` one line each
//! and `--help` with the details, the examples, the exit codes and the
//! environment; `send`'s delivery settings are read in [`send`]. Usage
//! errors name the flag and what it accepts, and exit with code 2; so does
//! a flag that does not apply to the format (an OTLP layout for a JSON
//! export). The format follows the output's name (§8.7); when a terminal
//! is attached and the range, format or output is missing, they are asked
//! for (§8.5, [`prompt`]). Environment variables are read as the
//! OpenTelemetry SDKs read them (§8.8): a malformed one is a warning,
//! never a failed run.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use coder_telemetry::config::{
    default_max_request_bytes, merge_resource_attrs, parse_otel_resource_attributes, parse_resource_attr, parse_size,
    Config, FileOutput, Format, Layout, ManifestFile, MetricEvents, Output, Shard, Temporality,
    DEFAULT_ATTRIBUTE_LIMIT, DEFAULT_CHUNK_BYTES, DEFAULT_LATE_DAYS, DEFAULT_MAX_LINE_BYTES, MAX_THREADS,
};
use coder_telemetry::deliver::{redact_url, Settings};
use coder_telemetry::output::atomic;
use coder_telemetry::range::{DateRange, Preset, RangeSpec};
use coder_telemetry::store;

pub mod prompt;
pub mod send;

const ABOUT: &str = "Export the Coder VS Code extension's local telemetry as JSON, JSON Lines or OTLP";

/// The option groups of `--help`, in the order they are shown: what is
/// read, then where it goes, then the finer settings.
const RANGE: &str = "Range";
const OUTPUT: &str = "Output";
const DELIVERY: &str = "Delivery";
const OTLP: &str = "OTLP";
const PERFORMANCE: &str = "Performance";
const HELP: &str = "Help";

/// The end of `-h`: where the rest is.
const SHORT_AFTER: &str = "Examples, exit codes and environment variables: --help";

// The examples are copied and pasted: every line fits in 80 columns, so
// that no terminal of that width wraps one (a test checks).
const EXPORT_HELP: &str = "\
Examples:
  # The last week of the default store, as one JSON array
  coder-telemetry export --range last-7-days -o week.json
  # The last 36 hours, one event per line (JSON Lines)
  coder-telemetry export --since 36h -o recent.jsonl
  # From a day until now, as OTLP in a zip (the format follows the name)
  coder-telemetry export ~/store --from 2026-11-01 -o nov.otlp.zip
  # OTLP envelopes in a folder, every file POSTable to a Collector
  coder-telemetry export ~/store -o otlp/
  # JSON to stdout
  coder-telemetry export ~/store --range all-time -o - | jq length
  # Shard 2 of 3 of an archive of several stores
  coder-telemetry export archive/*/ --shard 2/3 -o part-2.otlp.zip

Exit codes:
  0    exported, or nothing matched (and nothing was written); skipped
       lines are reported, not failures
  1    the export failed; nothing was left behind
  2    usage error
  130  interrupted (Ctrl-C, SIGTERM, Esc at a prompt); nothing was left
       behind

Environment:
  OTEL_RESOURCE_ATTRIBUTES    key=value,... added to every resource
  OTEL_SERVICE_NAME           replaces service.name in every resource
  OTEL_ATTRIBUTE_COUNT_LIMIT  attributes per record or point [default: 128]
  HOME, XDG_CONFIG_HOME, XDG_DATA_HOME, APPDATA, VSCODE_PORTABLE,
  VSCODE_APPDATA              where the default store is looked for
                              (see `coder-telemetry paths`)";

const SEND_HELP: &str = "\
Examples:
  # A local OpenTelemetry Collector (OTLP/HTTP on 4318)
  coder-telemetry send ~/store --since 7d --endpoint http://localhost:4318
  # The same over OTLP/gRPC (4317), plaintext
  coder-telemetry send ~/store --protocol grpc --insecure \\
      --endpoint localhost:4317
  # TLS with a private CA, and a client certificate (mTLS)
  coder-telemetry send ~/store --endpoint https://otel.internal:4318 \\
      --certificate ca.pem \\
      --client-certificate client.pem --client-key client-key.pem
  # Honeycomb
  coder-telemetry send ~/store --endpoint https://api.honeycomb.io \\
      --header x-honeycomb-team=$KEY
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

Environment (flags win; each OTEL_EXPORTER_OTLP_X also as
OTEL_EXPORTER_OTLP_{LOGS,TRACES,METRICS}_X):
  OTEL_EXPORTER_OTLP_PROTOCOL     http/protobuf, http/json or grpc
  OTEL_EXPORTER_OTLP_ENDPOINT     http/*: base URL, /v1/{logs,traces,metrics}
                                  appended; grpc: the server's URL (host:port)
  OTEL_EXPORTER_OTLP_{LOGS,TRACES,METRICS}_ENDPOINT
                                  a signal's URL, used as given
  OTEL_EXPORTER_OTLP_HEADERS      key=value,... (percent-encoded)
  OTEL_EXPORTER_OTLP_COMPRESSION  gzip, zstd or none
  OTEL_EXPORTER_OTLP_TIMEOUT      per request, in milliseconds (at most
                                  86400000)
  OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY
                                  PEM files (TLS, mTLS)
  OTEL_EXPORTER_OTLP_INSECURE     true: a scheme-less gRPC endpoint is
                                  plaintext
  https_proxy, http_proxy, all_proxy, no_proxy (either case)
                                  as curl reads them
  OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME, OTEL_ATTRIBUTE_COUNT_LIMIT
                                  as for export";

#[derive(Parser, Debug)]
#[command(name = "coder-telemetry", version, about = ABOUT, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Export a date range of telemetry stores as a JSON array, JSON Lines or OTLP.
    #[command(
        display_name = "coder-telemetry",
        disable_help_flag = true,
        disable_version_flag = true,
        after_help = SHORT_AFTER,
        after_long_help = EXPORT_HELP
    )]
    Export(Box<ExportArgs>),
    /// Send a date range straight to an OTLP endpoint over HTTP or gRPC.
    #[command(
        display_name = "coder-telemetry",
        disable_help_flag = true,
        disable_version_flag = true,
        after_help = SHORT_AFTER,
        after_long_help = SEND_HELP
    )]
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

/// `-h` (a summary) and `--help` (all of it), and `-V`, shown last.
#[derive(Args, Debug, Clone)]
pub struct HelpArgs {
    /// Print help (-h: a summary; --help: all, with examples)
    #[arg(short = 'h', long = "help", action = ArgAction::Help, help_heading = HELP)]
    help: Option<bool>,
    /// Print version
    #[arg(short = 'V', long = "version", action = ArgAction::Version, help_heading = HELP)]
    version: Option<bool>,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct ExportArgs {
    #[command(flatten)]
    pub sel: SelectArgs,
    /// NAME.json, .jsonl, .zip, NAME/ or - (stdout)
    ///
    /// Where the export goes; its name picks the format: NAME.json (or -,
    /// stdout) a JSON array; NAME.jsonl or NAME.ndjson JSON Lines, one event
    /// per line; NAME.zip or NAME/ OTLP in a zip or a folder. Without -o: the
    /// suggested name, such as coder-telemetry-last-7-days-2026-11-24.json,
    /// in the current folder.
    #[arg(short, long, value_name = "PATH", help_heading = OUTPUT)]
    pub output: Option<PathBuf>,
    /// json, jsonl or otlp [default: from -o's name]
    ///
    /// json: one JSON array of events; jsonl: the same events as JSON Lines,
    /// one per line, in the same order; otlp: OTLP/JSON logs, traces and
    /// metrics with a manifest, in a zip or a folder. A format the name of
    /// -o contradicts is a usage error.
    #[arg(long, value_enum, hide_possible_values = true, help_heading = OUTPUT)]
    pub format: Option<FormatArg>,
    /// Replace an earlier output of this tool
    ///
    /// Replaces a regular file that is not an input of the export, or a
    /// folder that is an earlier export of this tool; anything else is
    /// refused, even with --force.
    #[arg(long, help_heading = OUTPUT)]
    pub force: bool,
    /// Also write a manifest here (JSON, JSON Lines)
    ///
    /// The manifest.json an OTLP export holds, for a JSON or JSON Lines
    /// export: the sources, counts, problems, and the output's size and
    /// sha256. Written atomically once the export is; an existing file is
    /// replaced only with --force. An OTLP export holds its own manifest.
    #[arg(long, value_name = "PATH", help_heading = OUTPUT)]
    pub manifest: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
    /// auto, single, split or jsonl [default: auto]
    ///
    /// How OTLP envelopes are cut into files: auto (one per signal, split
    /// when larger than --max-request-bytes), single (one per signal,
    /// whatever its size), split (parts of at most --max-request-bytes) or
    /// jsonl (one request per line, the Collector's file format). OTLP only.
    #[arg(long, value_enum, hide_possible_values = true, help_heading = OTLP)]
    pub layout: Option<LayoutArg>,
    /// Request cap [default: 16MiB, jsonl 1MiB]
    ///
    /// The largest request (auto, split) or line (jsonl): bytes, kB/MB/GB or
    /// KiB/MiB/GiB. A record larger than it is written alone. OTLP only.
    #[arg(long, value_name = "N", help_heading = OTLP)]
    pub max_request_bytes: Option<String>,
    /// Zip deflate level, 0 to 9 [default: 1]
    #[arg(long, value_name = "N", help_heading = OTLP)]
    pub compression_level: Option<i64>,
    #[command(flatten)]
    pub encode: EncodeArgs,
    #[command(flatten)]
    pub tune: TuneArgs,
    #[command(flatten)]
    pub help: HelpArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
    None,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct SendArgs {
    #[command(flatten)]
    pub sel: SelectArgs,
    /// Base URL, such as http://localhost:4318
    ///
    /// /v1/logs, /v1/traces and /v1/metrics are appended; for grpc, the
    /// server's URL (or host:port). [env: OTEL_EXPORTER_OTLP_ENDPOINT]
    #[arg(long, value_name = "URL", help_heading = DELIVERY)]
    pub endpoint: Option<String>,
    /// Add a request header (repeatable)
    ///
    /// As KEY=VALUE or 'Name: value'; the value is sent as written and never
    /// printed. Wins over OTEL_EXPORTER_OTLP_HEADERS.
    #[arg(long = "header", value_name = "KEY=VALUE", help_heading = DELIVERY)]
    pub headers: Vec<String>,
    /// http/protobuf (default), http/json or grpc
    ///
    /// The OTLP transport and body encoding. [env: OTEL_EXPORTER_OTLP_PROTOCOL]
    /// [default: http/protobuf]
    #[arg(long, value_name = "NAME", help_heading = DELIVERY)]
    pub protocol: Option<String>,
    /// gzip, zstd or none [default: gzip]
    ///
    /// Request body compression. [env: OTEL_EXPORTER_OTLP_COMPRESSION]
    #[arg(long, value_enum, value_name = "ALGO", hide_possible_values = true, help_heading = DELIVERY)]
    pub compression: Option<CompressionArg>,
    /// Seconds to wait for one response [default: 10]
    ///
    /// [env: OTEL_EXPORTER_OTLP_TIMEOUT, in milliseconds]
    #[arg(long, value_name = "SECONDS", help_heading = DELIVERY)]
    pub timeout: Option<f64>,
    /// Largest body, uncompressed [default: 4MiB]
    ///
    /// The largest request body before compression: bytes, kB/MB/GB or
    /// KiB/MiB/GiB.
    #[arg(long, value_name = "N", help_heading = DELIVERY)]
    pub max_request_bytes: Option<String>,
    /// PEM bundle of the CAs to trust for the server
    ///
    /// In place of the system's roots. [env: OTEL_EXPORTER_OTLP_CERTIFICATE]
    #[arg(long, value_name = "PEM", help_heading = DELIVERY)]
    pub certificate: Option<PathBuf>,
    /// PEM client certificate, for mTLS
    ///
    /// [env: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE]
    #[arg(long, value_name = "PEM", help_heading = DELIVERY)]
    pub client_certificate: Option<PathBuf>,
    /// PEM private key of the client certificate
    ///
    /// [env: OTEL_EXPORTER_OTLP_CLIENT_KEY]
    #[arg(long, value_name = "PEM", help_heading = DELIVERY)]
    pub client_key: Option<PathBuf>,
    /// gRPC: a host:port endpoint is plaintext
    ///
    /// A scheme-less gRPC endpoint (host:port) is plaintext, not TLS.
    /// [env: OTEL_EXPORTER_OTLP_INSECURE=true]
    #[arg(long, help_heading = DELIVERY)]
    pub insecure: bool,
    /// Requests in flight, 1 to 64
    #[arg(long, value_name = "N", default_value_t = coder_telemetry::deliver::DEFAULT_CONCURRENCY, help_heading = DELIVERY)]
    pub concurrency: usize,
    /// Stop after this long stuck
    ///
    /// Give up on a request still retried after this many seconds, and stop
    /// the send when nothing was acknowledged for as long.
    #[arg(long, value_name = "SECONDS", default_value_t = coder_telemetry::deliver::DEFAULT_MAX_ELAPSED.as_secs_f64(), help_heading = DELIVERY)]
    pub max_elapsed: f64,
    /// Record what was acknowledged, to resume
    ///
    /// Records the records of acknowledged requests here; the same command
    /// run again sends only the rest.
    #[arg(long, value_name = "PATH", help_heading = DELIVERY)]
    pub journal: Option<PathBuf>,
    /// Report what would be sent, without connecting
    ///
    /// Builds every request and reports counts and sizes.
    #[arg(long, help_heading = DELIVERY)]
    pub dry_run: bool,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub encode: EncodeArgs,
    #[command(flatten)]
    pub tune: TuneArgs,
    #[command(flatten)]
    pub help: HelpArgs,
}

/// What to read: the stores and the range (`export` and `send`).
#[derive(Args, Debug, Clone)]
pub struct SelectArgs {
    /// Store folders [default: see `coder-telemetry paths`]
    #[arg(value_name = "STORE")]
    pub stores: Vec<PathBuf>,
    /// last-24-hours, last-7-days, last-30-days or all-time
    ///
    /// A range ending now (or at --now). Without --range, --since, --from
    /// or --to, the range is asked for at a terminal, and is all-time
    /// without one.
    #[arg(long, value_enum, value_name = "PRESET", hide_possible_values = true, help_heading = RANGE)]
    pub range: Option<RangeArg>,
    /// From AGE ago (36h, 7d, 2w) or from DAY, to now
    ///
    /// The last hours (h), days (d) or weeks (w) before now (or --now):
    /// --since 7d is --range last-7-days. A day (YYYY-MM-DD) is that day's
    /// start (UTC), as --from alone.
    #[arg(long, value_name = "AGE|DAY", help_heading = RANGE)]
    pub since: Option<String>,
    /// First day, inclusive (UTC); alone: until now
    #[arg(long, value_name = "YYYY-MM-DD", help_heading = RANGE)]
    pub from: Option<String>,
    /// Last day, inclusive (UTC); alone: from the first
    #[arg(long, value_name = "YYYY-MM-DD", help_heading = RANGE)]
    pub to: Option<String>,
    /// Anchor the range and the manifest at this instant
    ///
    /// In place of the clock, for reproducible runs: a date and time with its
    /// offset, such as 2026-11-24T12:00:00Z.
    #[arg(long, value_name = "RFC3339", help_heading = RANGE)]
    pub now: Option<String>,
    /// Also read files up to N days late
    ///
    /// Also read the files dated up to N days after the range: the extension
    /// names a file by the day it flushed it, so late events sit in the next
    /// day's file.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LATE_DAYS, help_heading = RANGE)]
    pub late_days: u32,
}

/// What is printed, and what a bad line does (`export` and `send`).
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Stop at the first bad line or file (exit 1)
    ///
    /// Abort on the first bad line or file, with exit 1 and no output.
    #[arg(long, help_heading = OUTPUT)]
    pub strict: bool,
    /// No progress bar and no summary line
    #[arg(short, long, help_heading = OUTPUT)]
    pub quiet: bool,
    /// Print the summary as one JSON object
    ///
    /// On stdout, or on stderr when -o - writes the export to stdout.
    #[arg(long, help_heading = OUTPUT)]
    pub summary_json: bool,
}

/// How events become OTLP (`export` and `send`).
#[derive(Args, Debug, Clone)]
pub struct EncodeArgs {
    /// delta or cumulative sums
    ///
    /// Sums as deltas per window (delta), or as running totals (cumulative).
    #[arg(long, value_enum, value_name = "KIND", default_value = "delta", hide_possible_values = true, help_heading = OTLP)]
    pub temporality: TemporalityArg,
    /// Export this event as metrics too (repeatable)
    #[arg(long = "metric-event", value_name = "NAME", help_heading = OTLP)]
    pub metric_events: Vec<String>,
    /// Add a resource attribute (repeatable)
    ///
    /// Added to every resource; wins over OTEL_RESOURCE_ATTRIBUTES and
    /// OTEL_SERVICE_NAME.
    #[arg(long = "resource-attr", value_name = "KEY=VALUE", help_heading = OTLP)]
    pub resource_attrs: Vec<String>,
}

/// How the work is spread (`export` and `send`).
#[derive(Args, Debug, Clone)]
pub struct TuneArgs {
    /// Use at most N cores, 1 to 1024 [default: all]
    #[arg(short = 'j', long, value_name = "N", help_heading = PERFORMANCE)]
    pub threads: Option<usize>,
    /// Only the sessions of shard K of N
    ///
    /// For N machines exporting disjoint parts of one archive: a session is
    /// in shard K when the FNV-1a hash of the session part of its file names
    /// is K-1 modulo N.
    #[arg(long, value_name = "K/N", help_heading = PERFORMANCE)]
    pub shard: Option<String>,
    /// Skip longer lines unread [default: 16MiB]
    ///
    /// Lines longer than this are skipped and reported without being read
    /// into memory: bytes, kB/MB/GB or KiB/MiB/GiB.
    #[arg(long, value_name = "N", help_heading = PERFORMANCE)]
    pub max_line_bytes: Option<String>,
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

/// A validated run (`export` or `send`), with what to tell the person
/// before it starts.
pub struct Prepared {
    pub cfg: Config,
    /// Which default store was used, and which others exist.
    pub notes: Vec<String>,
    /// Settings that were ignored (malformed environment variables) or are risky.
    pub warnings: Vec<String>,
}

/// A validated export: the run, and where its files go.
pub struct PreparedExport {
    pub run: Prepared,
    pub out: FileOutput,
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
pub fn config(a: &ExportArgs) -> Result<PreparedExport, ConfigError> {
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

/// The OTLP file settings: `--layout`, `--max-request-bytes` and
/// `--compression-level`, each a usage error for a format it does not
/// apply to (the JSON ones).
struct OtlpFiles {
    layout: Layout,
    max_request_bytes: usize,
    compression_level: i64,
}

fn otlp_files(
    a: &ExportArgs,
    format: Format,
    output: &Output,
    warnings: &mut Vec<String>,
) -> Result<OtlpFiles, UsageError> {
    let layout = a.layout.map_or(Layout::Auto, layout_of);
    let max_request_bytes = match &a.max_request_bytes {
        None => default_max_request_bytes(layout),
        // Any positive size: a record that cannot fit is written alone and counted.
        Some(s) => size_flag("--max-request-bytes", s, 1 << 32)? as usize,
    };
    let compression_level = a.compression_level.unwrap_or(1);
    if !(0..=9).contains(&compression_level) {
        return Err(usage(format!(
            "--compression-level {compression_level}: expected 0 (store) to 9 (smallest)"
        )));
    }
    if format != Format::Otlp {
        let given = [
            a.layout.map(|l| format!("--layout {}", layout_of(l).name())),
            a.max_request_bytes.as_ref().map(|n| format!("--max-request-bytes {n}")),
            a.compression_level.map(|n| format!("--compression-level {n}")),
        ];
        if let Some(flag) = given.into_iter().flatten().next() {
            let to = match output {
                Output::Stdout => "stdout".to_string(),
                Output::Path(p) => p.display().to_string(),
            };
            return Err(usage(format!(
                "{flag} applies to OTLP output only (a .zip or a folder NAME/), and this export writes {} to {to}; \
                 drop the flag, or export OTLP",
                format.description()
            )));
        }
    }
    if format == Format::Otlp && layout != Layout::Jsonl && max_request_bytes as u64 > COLLECTOR_LIMIT {
        warnings.push(format!(
            "--max-request-bytes {}: the OpenTelemetry Collector's OTLP/HTTP receiver refuses request bodies \
             over 20 MiB by default",
            a.max_request_bytes.as_deref().unwrap_or_default()
        ));
    }
    Ok(OtlpFiles {
        layout,
        max_request_bytes,
        compression_level,
    })
}

/// `--manifest PATH`: for a JSON or JSON Lines export only (an OTLP export
/// holds its own manifest), a file name, and not the output's.
fn manifest_flag(m: Option<&Path>, format: Format, output: &Output) -> Result<Option<PathBuf>, UsageError> {
    let Some(m) = m else {
        return Ok(None);
    };
    let text = m.display();
    if format == Format::Otlp {
        return Err(usage(format!(
            "--manifest {text}: an OTLP export writes its manifest.json inside its folder or zip; --manifest is for a \
             JSON or JSON Lines export"
        )));
    }
    let name = m.as_os_str().to_string_lossy();
    if name.is_empty() || name == "-" || name.ends_with('/') || name.ends_with(std::path::MAIN_SEPARATOR) {
        return Err(usage(format!(
            "--manifest {text:?}: expected the name of a file to write, such as export.manifest.json"
        )));
    }
    if let Output::Path(p) = output {
        let abs = |p: &Path| std::path::absolute(p).ok();
        if abs(p).is_some() && abs(p) == abs(m) {
            return Err(usage(format!(
                "--manifest {text} names the output itself; give the manifest its own name"
            )));
        }
    }
    Ok(Some(m.to_path_buf()))
}

fn layout_of(l: LayoutArg) -> Layout {
    match l {
        LayoutArg::Auto => Layout::Auto,
        LayoutArg::Single => Layout::Single,
        LayoutArg::Split => Layout::Split,
        LayoutArg::Jsonl => Layout::Jsonl,
    }
}

fn config_with(a: &ExportArgs, ask: bool) -> Result<PreparedExport, ConfigError> {
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
    let files = otlp_files(a, format, &output, &mut warnings)?;
    // Only --force itself replaces a manifest: a yes at the prompt was to
    // replacing the output.
    let manifest =
        manifest_flag(a.manifest.as_deref(), format, &output)?.map(|path| ManifestFile { path, force: a.force });
    let out = FileOutput {
        format,
        output,
        force,
        layout: files.layout,
        max_request_bytes: files.max_request_bytes,
        compression_level: files.compression_level,
        manifest,
    };
    let run = Run {
        sel: &a.sel,
        report: &a.report,
        encode: &a.encode,
        tune: &a.tune,
    };
    let prepared = run.config(range, now, a.sel.now.clone(), stores, warnings)?;
    Ok(PreparedExport { run: prepared, out })
}

/// The flags every run reads (`export` and `send`).
struct Run<'a> {
    sel: &'a SelectArgs,
    report: &'a ReportArgs,
    encode: &'a EncodeArgs,
    tune: &'a TuneArgs,
}

impl Run<'_> {
    /// The [`Config`] of a run over `range` of `stores`; `now_given` is the
    /// `--now` text (the manifest's `exportedAt`).
    fn config(
        &self,
        range: DateRange,
        now: chrono::DateTime<chrono::Utc>,
        now_given: Option<String>,
        stores: Stores,
        mut warnings: Vec<String>,
    ) -> Result<Prepared, UsageError> {
        let Self {
            sel,
            report,
            encode,
            tune,
        } = *self;
        let threads = match tune.threads {
            Some(n) if !(1..=MAX_THREADS).contains(&n) => {
                return Err(usage(format!("--threads {n}: expected 1 to {MAX_THREADS}")))
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
        };
        let max_line_bytes = match &tune.max_line_bytes {
            None => DEFAULT_MAX_LINE_BYTES,
            Some(s) => size_flag("--max-line-bytes", s, 1 << 32)? as usize,
        };
        let chunk_bytes = match &tune.chunk_bytes {
            None => DEFAULT_CHUNK_BYTES,
            Some(s) => size_flag("--chunk-bytes", s, 1 << 32)?,
        };
        let shard = match &tune.shard {
            None => None,
            Some(s) => Some(Shard::parse(s).ok_or_else(|| {
                usage(format!(
                    "--shard {s:?}: expected K/N with 1 <= K <= N, such as 2/3 (shard 2 of 3)"
                ))
            })?),
        };
        let (resource_attrs, attr_limit) = resource_settings(encode, &mut warnings)?;
        let cfg = Config {
            stores: stores.paths,
            shard,
            range,
            strict: report.strict,
            temporality: match encode.temporality {
                TemporalityArg::Delta => Temporality::Delta,
                TemporalityArg::Cumulative => Temporality::Cumulative,
            },
            metric_events: MetricEvents::with_extra(encode.metric_events.iter().cloned()),
            resource_attrs,
            threads,
            chunk_bytes,
            late_days: sel.late_days,
            max_line_bytes,
            attr_limit,
            now,
            now_given,
        };
        Ok(Prepared {
            cfg,
            notes: stores.notes,
            warnings,
        })
    }
}

/// The resource attributes (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`,
/// then `--resource-attr`) and the attribute limit (`OTEL_ATTRIBUTE_COUNT_LIMIT`);
/// a malformed variable is a warning (§8.8).
fn resource_settings(e: &EncodeArgs, warnings: &mut Vec<String>) -> Result<(Vec<(String, String)>, usize), UsageError> {
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
    let flag_attrs = e
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
    Ok((merge_resource_attrs(env_attrs, flag_attrs), attr_limit))
}

/// A validated `send`: the run it streams, and where to.
pub struct PreparedSend {
    pub run: Prepared,
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
    valid_uri(from, u)?;
    Ok(u.to_string())
}

/// A URL the HTTP stack can use: checked now, so that a space or another
/// character no URL holds is a usage error, not a failure per request.
fn valid_uri(from: &str, u: &str) -> Result<(), UsageError> {
    match u.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(usage(format!(
            "{from} {}: not a valid URL (a space, or a character a URL cannot hold, in its host or path?)",
            redact_url(u)
        ))),
    }
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
