//! The validated description of one run: what it reads and how it encodes
//! it ([`Config`], for `export` and `send`), and where an export's files go
//! ([`FileOutput`]). The command line (the only clap user) builds them,
//! tests start from [`Config::new`] and [`FileOutput::new`]; the engine and
//! the destinations read them. Everything here has already been checked,
//! so no stage meets a usage error. The option types they hold are
//! re-exported here, so that a user of the library needs this module and
//! [`crate::export`] alone.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

pub use crate::encode::metrics::Temporality;
pub use crate::encode::DEFAULT_ATTRIBUTE_LIMIT;
pub use crate::model::Format;
use crate::range::DateRange;
pub use crate::route::MetricEvents;
pub use crate::store::Shard;
pub use crate::write::envelope::Layout;

/// Where the export goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// `-o -` (JSON or JSON Lines only).
    Stdout,
    /// A `.zip` path gets a zip; any other path a folder (OTLP) or a file (JSON).
    Path(PathBuf),
}

/// Default `--max-request-bytes` per layout (§6.2): the Collector's
/// `otlpjsonfile` line limit for `jsonl`, 16 MiB (under the OTLP/HTTP
/// receiver's 20 MiB) for requests.
pub fn default_max_request_bytes(layout: Layout) -> usize {
    match layout {
        Layout::Jsonl => 1024 * 1024,
        _ => 16 * 1024 * 1024,
    }
}

/// Default input chunk size for the workers.
pub const DEFAULT_CHUNK_BYTES: u64 = 1024 * 1024;

/// Default `--late-days`: the extension flushes every 15 s, so events of the
/// range's last minutes may sit in the next day's file (§1.2).
pub const DEFAULT_LATE_DAYS: u32 = 1;

/// `--threads` accepts 1 to this (§8.7).
pub const MAX_THREADS: usize = 1024;

/// Default `--max-line-bytes` (§9.1).
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;

/// What a run reads and how it encodes it: the stores, the window, and
/// every setting of parsing and encoding, for `export` and `send` alike.
/// Where the records go is the destination's own: [`FileOutput`] for
/// `export`, [`crate::deliver::Settings`] for `send`.
#[derive(Clone, Debug)]
pub struct Config {
    /// The store folders, in the order given (§11.1).
    pub stores: Vec<PathBuf>,
    /// `--shard K/N`: only the sessions of shard K of N (§11.2).
    pub shard: Option<Shard>,
    pub range: DateRange,
    pub strict: bool,
    pub temporality: Temporality,
    pub metric_events: MetricEvents,
    pub resource_attrs: Vec<(String, String)>,
    pub threads: usize,
    pub chunk_bytes: u64,
    /// Files dated up to this many days after the range are read too (§1.2).
    pub late_days: u32,
    /// Lines longer than this are skipped and reported without being held (§7.1).
    pub max_line_bytes: usize,
    /// Attributes per record or data point (`OTEL_ATTRIBUTE_COUNT_LIMIT`).
    pub attr_limit: usize,
    /// The `--now` value, or the clock.
    pub now: DateTime<Utc>,
    /// The `--now` text exactly as given: the manifest's `exportedAt`.
    pub now_given: Option<String>,
}

impl Config {
    /// The manifest's `exportedAt`: the `--now` text as given, or the clock.
    pub fn exported_at(&self) -> String {
        match &self.now_given {
            Some(text) => text.clone(),
            None => self.now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        }
    }

    /// A run over `stores` and `range`, every other option at the command
    /// line's default.
    pub fn new(stores: Vec<PathBuf>, range: DateRange, now: DateTime<Utc>) -> Self {
        Self {
            stores,
            shard: None,
            range,
            strict: false,
            temporality: Temporality::Delta,
            metric_events: MetricEvents::default(),
            resource_attrs: Vec::new(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            late_days: DEFAULT_LATE_DAYS,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            attr_limit: DEFAULT_ATTRIBUTE_LIMIT,
            now,
            now_given: None,
        }
    }
}

/// Where an export's files go and how they are laid out (`export`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOutput {
    pub format: Format,
    pub output: Output,
    /// Replace an earlier output (§8.2).
    pub force: bool,
    /// How OTLP envelopes are cut into files (§6.2).
    pub layout: Layout,
    /// The largest OTLP request (or `jsonl` line) of a file.
    pub max_request_bytes: usize,
    /// Deflate level of a zip, 0 to 9.
    pub compression_level: i64,
    /// `--manifest`: where a JSON or JSON Lines export also writes its
    /// manifest (an OTLP export holds its own).
    pub manifest: Option<ManifestFile>,
}

/// Where `--manifest` writes a JSON export's manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestFile {
    pub path: PathBuf,
    /// Replace an earlier file there (§8.2): `--force` itself. A yes at the
    /// prompt to replace the output does not extend to the manifest.
    pub force: bool,
}

impl FileOutput {
    /// `format` into `output`, every other option at the command line's default.
    pub fn new(format: Format, output: Output) -> Self {
        Self {
            format,
            output,
            force: false,
            layout: Layout::Auto,
            max_request_bytes: default_max_request_bytes(Layout::Auto),
            compression_level: 1,
            manifest: None,
        }
    }

    /// Whether the output is a zip (a `.zip` path).
    pub fn is_zip(&self) -> bool {
        matches!(&self.output, Output::Path(p) if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")))
    }
}

/// Why a resource attribute was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttrError {
    #[error("--resource-attr {0:?}: expected KEY=VALUE with a non-empty KEY")]
    Flag(String),
    #[error("OTEL_RESOURCE_ATTRIBUTES entry {0:?}: expected key=value with a non-empty key (W3C baggage syntax, values percent-encoded)")]
    Env(String),
}

/// Parses `--resource-attr KEY=VALUE` (taken literally, `=` allowed in the value).
pub fn parse_resource_attr(s: &str) -> Result<(String, String), AttrError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(AttrError::Flag(s.to_string())),
    }
}

/// Decodes `%XX` escapes (the W3C Baggage encoding the OpenTelemetry
/// environment variables use); `None` for a bad escape or non-UTF-8 result.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses `OTEL_RESOURCE_ATTRIBUTES` the way the OpenTelemetry SDKs do:
/// `key1=value1,key2=value2`, surrounding blanks trimmed, percent-decoding.
pub fn parse_otel_resource_attributes(s: &str) -> Result<Vec<(String, String)>, AttrError> {
    let mut out = Vec::new();
    for entry in s.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let bad = || AttrError::Env(entry.to_string());
        let (k, v) = entry.split_once('=').ok_or_else(bad)?;
        let k = percent_decode(k.trim()).ok_or_else(bad)?;
        let v = percent_decode(v.trim()).ok_or_else(bad)?;
        if k.is_empty() {
            return Err(bad());
        }
        out.push((k, v));
    }
    Ok(out)
}

/// Environment attributes first, then flags; a later value for a key replaces
/// an earlier one in place.
pub fn merge_resource_attrs(env: Vec<(String, String)>, flags: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in env.into_iter().chain(flags) {
        match out.iter_mut().find(|(ek, _)| *ek == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

/// Parses a byte size by one rule: `1048576`, decimal `kB`/`MB`/`GB`
/// (10^3, 10^6, 10^9) or binary `KiB`/`MiB`/`GiB` (2^10, 2^20, 2^30),
/// in any letter case. A bare `K`/`M`/`G` is ambiguous and refused.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_attr_flag() {
        assert_eq!(parse_resource_attr("env=prod"), Ok(("env".into(), "prod".into())));
        assert_eq!(parse_resource_attr("k=a=b"), Ok(("k".into(), "a=b".into())));
        assert!(parse_resource_attr("novalue").is_err());
        assert!(parse_resource_attr("=v").is_err());
    }

    #[test]
    fn otel_resource_attributes_with_percent_encoding() {
        let v = parse_otel_resource_attributes(" deployment.environment=prod , team=dev%20ex%2Cops,,k%3D=%E2%9C%93")
            .unwrap();
        assert_eq!(
            v,
            vec![
                ("deployment.environment".into(), "prod".into()),
                ("team".into(), "dev ex,ops".into()),
                ("k=".into(), "✓".into())
            ]
        );
        assert!(parse_otel_resource_attributes("novalue").is_err());
        assert!(parse_otel_resource_attributes("=x").is_err());
        assert!(parse_otel_resource_attributes("k=%zz").is_err());
        assert!(parse_otel_resource_attributes("k=%ff").is_err());
        assert_eq!(parse_otel_resource_attributes("").unwrap(), vec![]);
    }

    #[test]
    fn flags_override_environment() {
        let m = merge_resource_attrs(
            vec![("a".into(), "1".into()), ("b".into(), "2".into())],
            vec![("a".into(), "3".into())],
        );
        assert_eq!(m, vec![("a".into(), "3".into()), ("b".into(), "2".into())]);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("16MiB"), Some(16 << 20));
        assert_eq!(parse_size("4GiB"), Some(4 << 30));
        assert_eq!(parse_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_size("20MB"), Some(20_000_000));
        assert_eq!(parse_size("2 kB"), Some(2_000));
        assert_eq!(parse_size("512k"), None, "ambiguous");
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size(""), None);
    }
}
