//! `manifest.json` (SPEC §6.7): what was exported, from where, and what was
//! skipped, so an archive explains itself. Key order is fixed, and the time
//! is the `--now` value when given, so reruns produce identical bytes.

use serde_json::{json, Value};

use crate::pipeline::work::Counts;
use crate::range::DateRange;
use crate::timestamp::format_rfc3339;

/// Everything the manifest reports.
pub struct ManifestData<'a> {
    pub format: &'a str,
    pub layout: &'a str,
    pub temporality: &'a str,
    pub range: &'a DateRange,
    pub exported_at: String,
    pub source_files: u64,
    pub counts: Counts,
    pub skipped_lines: u64,
    pub skipped_files: u64,
    pub oversize_records: u64,
    pub files: Vec<String>,
}

pub fn manifest(d: &ManifestData<'_>) -> Value {
    let c = &d.counts;
    json!({
        "exporter": {"name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")},
        "format": d.format,
        "layout": d.layout,
        "temporality": d.temporality,
        "range": {
            "label": d.range.label,
            "start": d.range.start.map(format_rfc3339),
            "end": d.range.end.map(format_rfc3339),
        },
        "exportedAt": d.exported_at,
        "sourceFiles": d.source_files,
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
        },
        "files": d.files,
    })
}

/// The manifest as pretty-printed bytes with a final newline.
pub fn manifest_bytes(d: &ManifestData<'_>) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(&manifest(d)).unwrap_or_default();
    v.push(b'\n');
    v
}
