//! `manifest.json` (SPEC §6.7): what a reviewer audits an export by. The
//! exporter, the range, the stores and every source file read (with its size
//! and the first and last event taken from it), what was skipped and the
//! first problems (and, when anything was, the tally by reason and the files
//! with the most problems), the options that shaped the output, and every
//! envelope file with its size, sha256 and record count. Key order is fixed
//! and the time is the `--now` value when given, so reruns produce identical
//! bytes. A JSON or JSON Lines export writes the same manifest with
//! `--manifest`: its one file is the output, and the OTLP options are null.
//!
//! It is written as it is serialized: the list of source files, which an
//! archive of 300,000 files makes tens of MB long, never exists as a tree.

use std::io::{self, Write};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::json;

use crate::model::{Counts, FileCounts, Problem, ReasonCount, Tally};
use crate::range::DateRange;
use crate::store::StoreFile;
use crate::timestamp::format_rfc3339;
use crate::write::envelope::EntryInfo;

/// The options that shaped the output; `None` (null) for those that do not
/// apply to it (the OTLP ones, for a JSON export).
pub struct Options<'a> {
    pub layout: Option<&'a str>,
    pub temporality: Option<&'a str>,
    pub max_request_bytes: Option<u64>,
    pub compression_level: Option<i64>,
    pub metric_events: &'a [String],
    pub resource_attrs: Option<&'a [(String, String)]>,
    pub late_days: u32,
    pub attribute_count_limit: Option<usize>,
}

/// Everything the manifest reports.
pub struct ManifestData<'a> {
    pub format: &'a str,
    pub range: &'a DateRange,
    pub exported_at: String,
    /// The store folders as given.
    pub stores: Vec<String>,
    /// The source files selected, and what each gave: those skipped as a
    /// whole are not listed (not read).
    pub sources: &'a [StoreFile],
    pub source_counts: &'a [FileCounts],
    pub counts: Counts,
    pub skipped_lines: u64,
    pub skipped_files: u64,
    pub oversize_records: u64,
    pub problems: &'a [Problem],
    /// Every problem by reason, and the files with the most: listed when
    /// anything was skipped.
    pub tally: &'a Tally,
    pub options: Options<'a>,
    pub files: &'a [EntryInfo],
}

fn time(t: Option<i64>) -> serde_json::Value {
    t.map_or(serde_json::Value::Null, |t| {
        serde_json::Value::String(format_rfc3339(t))
    })
}

/// The source files read, serialized one at a time: a file skipped as a
/// whole (unreadable, unsupported schema_version) was not read, and is
/// among the skipped files instead.
struct Sources<'a>(&'a [StoreFile], &'a [FileCounts]);

impl Serialize for Sources<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().zip(self.1).filter(|(_, c)| !c.skipped).map(|(f, c)| {
            json!({
                "name": &*f.name,
                "store": f.store,
                "bytes": f.size,
                "events": c.events,
                "firstEvent": time(c.first),
                "lastEvent": time(c.last),
            })
        }))
    }
}

/// `skipped`: the counts and the first problems; when anything was
/// skipped, also the tally by reason and the files with the most problems
/// (so that an export with nothing skipped keeps its manifest's bytes).
struct Skipped<'a, 'b>(&'a ManifestData<'b>);

impl Serialize for Skipped<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("lines", &d.skipped_lines)?;
        m.serialize_entry("files", &d.skipped_files)?;
        m.serialize_entry("nonFiniteValues", &d.counts.dropped_values)?;
        m.serialize_entry("oversizeRecords", &d.oversize_records)?;
        m.serialize_entry(
            "problems",
            &d.problems
                .iter()
                .map(|p| json!({"file": p.file, "line": p.line, "reason": p.reason}))
                .collect::<Vec<_>>(),
        )?;
        if d.skipped_lines + d.skipped_files > 0 {
            let reasons = |v: &[ReasonCount]| {
                v.iter()
                    .map(|r| json!({"reason": r.reason, "count": r.count}))
                    .collect::<Vec<_>>()
            };
            m.serialize_entry("linesByReason", &reasons(&d.tally.lines))?;
            m.serialize_entry("filesByReason", &reasons(&d.tally.files))?;
            m.serialize_entry(
                "filesWithMostProblems",
                &d.tally
                    .top_files
                    .iter()
                    .map(|f| json!({"file": f.file, "problems": f.problems}))
                    .collect::<Vec<_>>(),
            )?;
        }
        m.end()
    }
}

impl Serialize for ManifestData<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = &self.counts;
        let o = &self.options;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(
            "exporter",
            &json!({"name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")}),
        )?;
        m.serialize_entry("format", self.format)?;
        m.serialize_entry("layout", &o.layout)?;
        m.serialize_entry(
            "range",
            &json!({
                "label": self.range.label,
                "start": self.range.start.map(format_rfc3339),
                "end": self.range.end.map(format_rfc3339),
            }),
        )?;
        m.serialize_entry("exportedAt", &self.exported_at)?;
        m.serialize_entry("stores", &self.stores)?;
        m.serialize_entry("sourceFiles", &Sources(self.sources, self.source_counts))?;
        m.serialize_entry("firstEvent", &time(c.first))?;
        m.serialize_entry("lastEvent", &time(c.last))?;
        m.serialize_entry("sourceEvents", &c.events)?;
        m.serialize_entry("eventsOutsideRange", &c.out_of_range)?;
        m.serialize_entry(
            "signals",
            &json!({
                "logs": {"events": c.logs, "records": c.logs},
                "traces": {"events": c.spans, "records": c.spans},
                "metrics": {"events": c.metric_events, "records": c.metric_points},
            }),
        )?;
        m.serialize_entry("skipped", &Skipped(self))?;
        m.serialize_entry(
            "options",
            &json!({
                "layout": o.layout,
                "temporality": o.temporality,
                "maxRequestBytes": o.max_request_bytes,
                "compressionLevel": o.compression_level,
                "metricEvents": o.metric_events,
                "resourceAttributes": o.resource_attrs.map(|a| a.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()),
                "lateDays": o.late_days,
                "attributeCountLimit": o.attribute_count_limit,
            }),
        )?;
        m.serialize_entry(
            "files",
            &self
                .files
                .iter()
                .map(|f| {
                    json!({
                        "name": f.name,
                        "bytes": f.bytes,
                        "sha256": f.sha256_hex(),
                        "records": f.records,
                    })
                })
                .collect::<Vec<_>>(),
        )?;
        m.end()
    }
}

/// Writes the manifest, pretty-printed with a final newline, into `w`.
pub fn write_manifest(mut w: impl Write, d: &ManifestData<'_>) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut w, d).map_err(io::Error::other)?;
    w.write_all(b"\n")?;
    w.flush()
}
