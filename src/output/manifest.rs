//! `manifest.json` (SPEC §6.7): what a reviewer audits an export by. The
//! exporter, the range, the store and every source file read (with its size
//! and the first and last event taken from it), what was skipped and the
//! first problems, the options that shaped the output, and every envelope
//! file with its size, sha256 and record count. Key order is fixed and the
//! time is the `--now` value when given, so reruns produce identical bytes.

use serde_json::{json, Value};

use crate::output::layout::EntryInfo;
use crate::pipeline::work::Counts;
use crate::range::DateRange;
use crate::report::Problem;
use crate::timestamp::format_rfc3339;

/// How many problems the manifest lists.
pub const MANIFEST_PROBLEMS: usize = 100;

/// One source file read.
pub struct SourceFile<'a> {
    pub name: &'a str,
    /// Index into [`ManifestData::stores`].
    pub store: usize,
    pub bytes: u64,
    pub counts: Counts,
}

/// The options that shaped the output.
pub struct Options<'a> {
    pub layout: &'a str,
    pub temporality: &'a str,
    pub max_request_bytes: u64,
    pub compression_level: Option<i64>,
    pub metric_events: &'a [String],
    pub resource_attrs: &'a [(String, String)],
    pub late_days: u32,
    pub attribute_count_limit: usize,
}

/// Everything the manifest reports.
pub struct ManifestData<'a> {
    pub format: &'a str,
    pub range: &'a DateRange,
    pub exported_at: String,
    /// The store folders as given.
    pub stores: Vec<String>,
    pub sources: Vec<SourceFile<'a>>,
    pub counts: Counts,
    pub skipped_lines: u64,
    pub skipped_files: u64,
    pub oversize_records: u64,
    pub problems: &'a [Problem],
    pub options: Options<'a>,
    pub files: &'a [EntryInfo],
}

fn time(t: Option<i64>) -> Value {
    t.map_or(Value::Null, |t| Value::String(format_rfc3339(t)))
}

pub fn manifest(d: &ManifestData<'_>) -> Value {
    let c = &d.counts;
    let o = &d.options;
    json!({
        "exporter": {"name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")},
        "format": d.format,
        "layout": o.layout,
        "range": {
            "label": d.range.label,
            "start": d.range.start.map(format_rfc3339),
            "end": d.range.end.map(format_rfc3339),
        },
        "exportedAt": d.exported_at,
        "stores": d.stores,
        "sourceFiles": d.sources.iter().map(|s| json!({
            "name": s.name,
            "store": s.store,
            "bytes": s.bytes,
            "events": s.counts.events,
            "firstEvent": time(s.counts.first),
            "lastEvent": time(s.counts.last),
        })).collect::<Vec<_>>(),
        "firstEvent": time(c.first),
        "lastEvent": time(c.last),
        "sourceEvents": c.events,
        "eventsOutsideRange": c.out_of_range,
        "signals": {
            "logs": {"events": c.logs, "records": c.logs},
            "traces": {"events": c.spans, "records": c.spans},
            "metrics": {"events": c.metric_events, "records": c.metric_points},
        },
        "skipped": {
            "lines": d.skipped_lines,
            "files": d.skipped_files,
            "nonFiniteValues": c.dropped_values,
            "oversizeRecords": d.oversize_records,
            "problems": d.problems.iter().take(MANIFEST_PROBLEMS).map(|p| json!({
                "file": p.file,
                "line": p.line,
                "reason": p.reason,
            })).collect::<Vec<_>>(),
        },
        "options": {
            "layout": o.layout,
            "temporality": o.temporality,
            "maxRequestBytes": o.max_request_bytes,
            "compressionLevel": o.compression_level,
            "metricEvents": o.metric_events,
            "resourceAttributes": o.resource_attrs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
            "lateDays": o.late_days,
            "attributeCountLimit": o.attribute_count_limit,
        },
        "files": d.files.iter().map(|f| json!({
            "name": f.name,
            "bytes": f.bytes,
            "sha256": f.sha256_hex(),
            "records": f.records,
        })).collect::<Vec<_>>(),
    })
}

/// The manifest as pretty-printed bytes with a final newline.
pub fn manifest_bytes(d: &ManifestData<'_>) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(&manifest(d)).unwrap_or_default();
    v.push(b'\n');
    v
}
