//! Envelope writers: records in, complete OTLP/JSON requests out, in the
//! layout asked for (SPEC §6.2).
//!
//! - `auto` (the default): written as `split`; a signal that ended within
//!   its first request is then named `logs.json`, as `single` names it. Every
//!   file can be POSTed, at any store size.
//! - `single`: one request per signal (`logs.json`).
//! - `split`: numbered parts (`logs.0001.json`), each a complete request of at
//!   most `max_request_bytes`.
//! - `jsonl`: `logs.jsonl`, one complete request per line, each line (newline
//!   included) at most `max_request_bytes`.
//!
//! Each file's bytes, records and sha256 are counted as it is written, for
//! the manifest (§6.7). A name decided only at the end (`auto`) is reported
//! beside the name the file was written under; packaging renames it.
//!
//! A resource block that does not fit is closed and continued in the next
//! request with the same resource and scope. A record that cannot fit even
//! alone is written alone in its own request and counted as oversize.
//! [`MetricWriter`] sits in front of an [`EnvelopeWriter`] and groups the
//! points of a block into one metric entry per series (§6.6).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io;

use hashbrown::HashTable;

use super::sink::EntrySink;
use crate::encode::metrics::{
    metric_overhead, write_metric_close, write_metric_open, write_point, MetricKind, PointValue, Temporality,
};
use crate::pipeline::batch::{BlockHead, BlockKey, MetricSegment, Segment};

/// `--layout`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    #[default]
    Auto,
    Single,
    Split,
    Jsonl,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Auto => "auto",
            Layout::Single => "single",
            Layout::Split => "split",
            Layout::Jsonl => "jsonl",
        }
    }

    /// Whether requests are cut at the request cap.
    fn limited(self) -> bool {
        self != Layout::Single
    }
}

/// The JSON field names and file name of one signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalNames {
    pub file: &'static str,
    pub resources: &'static str,
    pub scopes: &'static str,
    pub records: &'static str,
}

pub const LOGS: SignalNames = SignalNames {
    file: "logs",
    resources: "resourceLogs",
    scopes: "scopeLogs",
    records: "logRecords",
};
pub const TRACES: SignalNames = SignalNames {
    file: "traces",
    resources: "resourceSpans",
    scopes: "scopeSpans",
    records: "spans",
};
pub const METRICS: SignalNames = SignalNames {
    file: "metrics",
    resources: "resourceMetrics",
    scopes: "scopeMetrics",
    records: "metrics",
};

const BLOCK_CLOSE: &[u8] = b"]}]}";
const REQUEST_CLOSE: &[u8] = b"]}\n";

/// One file of an export, as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    /// Its name in the export.
    pub name: String,
    /// The name it was written under (differs for `auto`'s single file).
    pub written: String,
    pub bytes: u64,
    /// Log records, spans or data points in it.
    pub records: u64,
    pub sha256: [u8; 32],
}

impl EntryInfo {
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a finished writer reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriterSummary {
    /// Files written, in order.
    pub files: Vec<EntryInfo>,
    /// Requests written.
    pub requests: u64,
    /// Records larger than the request cap, written alone.
    pub oversize: u64,
}

/// The file being written.
struct OpenEntry {
    name: String,
    hasher: sha2::Sha256,
    bytes: u64,
    records: u64,
}

/// Writes one signal's requests into an [`EntrySink`].
pub struct EnvelopeWriter {
    names: SignalNames,
    layout: Layout,
    cap: usize,
    sink: Box<dyn EntrySink>,
    head: Option<BlockHead>,
    in_request: bool,
    entry: Option<OpenEntry>,
    block_open: bool,
    request_bytes: usize,
    request_records: usize,
    blocks_in_request: usize,
    summary: WriterSummary,
}

impl EnvelopeWriter {
    pub fn new(names: SignalNames, layout: Layout, max_request_bytes: usize, sink: Box<dyn EntrySink>) -> Self {
        Self {
            names,
            layout,
            cap: max_request_bytes,
            sink,
            head: None,
            in_request: false,
            entry: None,
            block_open: false,
            request_bytes: 0,
            request_records: 0,
            blocks_in_request: 0,
            summary: WriterSummary::default(),
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        use sha2::Digest;
        self.request_bytes += bytes.len();
        if let Some(e) = &mut self.entry {
            e.hasher.update(bytes);
            e.bytes += bytes.len() as u64;
        }
        self.sink.write(bytes)
    }

    fn start_entry(&mut self, name: String) -> io::Result<()> {
        use sha2::Digest;
        self.sink.start(&name)?;
        self.entry = Some(OpenEntry {
            name,
            hasher: sha2::Sha256::new(),
            bytes: 0,
            records: 0,
        });
        Ok(())
    }

    fn end_entry(&mut self) -> io::Result<()> {
        use sha2::Digest;
        if let Some(e) = self.entry.take() {
            self.sink.end()?;
            self.summary.files.push(EntryInfo {
                name: e.name.clone(),
                written: e.name,
                bytes: e.bytes,
                records: e.records,
                sha256: e.hasher.finalize().into(),
            });
        }
        Ok(())
    }

    fn count_records(&mut self, n: usize) {
        self.request_records += n;
        if let Some(e) = &mut self.entry {
            e.records += n as u64;
        }
    }

    fn block_sep(&self) -> &'static [u8] {
        if self.layout == Layout::Jsonl {
            b","
        } else {
            b",\n"
        }
    }

    /// Bytes that opening the current block would write.
    fn block_open_len(&self) -> usize {
        let h = self.head.as_ref().map_or(0, |h| h.resource.len() + h.scope.len());
        let sep = if self.blocks_in_request > 0 {
            self.block_sep().len()
        } else {
            0
        };
        sep + h + self.names.scopes.len() + self.names.records.len() + 32
    }

    /// Bytes a block costs around its records: open and close.
    pub fn block_framing(&self) -> usize {
        self.block_open_len() + BLOCK_CLOSE.len() + REQUEST_CLOSE.len() + self.names.resources.len() + 8
    }

    /// `logs.json`: the name of a signal's only document.
    fn single_name(&self) -> String {
        format!("{}.json", self.names.file)
    }

    fn open_request(&mut self) -> io::Result<()> {
        match self.layout {
            Layout::Single => self.start_entry(self.single_name())?,
            Layout::Split | Layout::Auto => {
                let name = format!("{}.{:04}.json", self.names.file, self.summary.requests + 1);
                self.start_entry(name)?;
            }
            Layout::Jsonl if self.entry.is_none() => self.start_entry(format!("{}.jsonl", self.names.file))?,
            Layout::Jsonl => {}
        }
        self.in_request = true;
        self.request_bytes = 0;
        self.request_records = 0;
        self.blocks_in_request = 0;
        let open = format!("{{\"{}\":[", self.names.resources);
        self.put(open.as_bytes())
    }

    fn close_request(&mut self) -> io::Result<()> {
        self.close_block()?;
        self.put(REQUEST_CLOSE)?;
        self.in_request = false;
        self.summary.requests += 1;
        if self.layout != Layout::Jsonl {
            self.end_entry()?;
        }
        Ok(())
    }

    fn open_block(&mut self) -> io::Result<()> {
        if self.blocks_in_request > 0 {
            self.put(self.block_sep())?;
        }
        let head = self.head.take().unwrap_or_default();
        self.put(b"{\"resource\":")?;
        self.put(&head.resource)?;
        let mid = format!(",\"{}\":[{{\"scope\":", self.names.scopes);
        self.put(mid.as_bytes())?;
        self.put(&head.scope)?;
        let rec = format!(",\"{}\":[", self.names.records);
        self.put(rec.as_bytes())?;
        self.head = Some(head);
        self.block_open = true;
        self.blocks_in_request += 1;
        Ok(())
    }

    fn close_block(&mut self) -> io::Result<()> {
        if self.block_open {
            self.put(BLOCK_CLOSE)?;
            self.block_open = false;
        }
        Ok(())
    }

    /// Opens the request and block as needed, or separates from the previous record.
    fn before_records(&mut self) -> io::Result<()> {
        if !self.in_request {
            self.open_request()?;
        }
        if self.block_open {
            self.put(b",")
        } else {
            self.open_block()
        }
    }

    /// Starts a new resource block; it is written when its first record is.
    pub fn begin_block(&mut self, head: BlockHead) -> io::Result<()> {
        self.close_block()?;
        self.head = Some(head);
        Ok(())
    }

    /// Appends one record to the current block.
    pub fn record(&mut self, rec: &[u8]) -> io::Result<()> {
        self.record_of(rec, 1)
    }

    /// Appends one record that holds `count` records of the signal (a
    /// metric entry holds its points).
    pub fn record_of(&mut self, rec: &[u8], count: usize) -> io::Result<()> {
        if self.layout.limited() && self.in_request && self.request_records > 0 {
            let framing = if self.block_open { 1 } else { self.block_open_len() };
            let need = framing + rec.len() + BLOCK_CLOSE.len() + REQUEST_CLOSE.len();
            if self.request_bytes + need > self.cap {
                self.close_request()?;
            }
        }
        self.before_records()?;
        self.put(rec)?;
        let first = self.request_records == 0;
        self.count_records(count);
        if self.layout.limited() && first && self.request_bytes + BLOCK_CLOSE.len() + REQUEST_CLOSE.len() > self.cap {
            self.summary.oversize += 1;
        }
        Ok(())
    }

    /// Appends a segment's records (joined by `,`) to the current block.
    pub fn segment_records(&mut self, seg: &Segment) -> io::Result<()> {
        if seg.ends.is_empty() {
            return Ok(());
        }
        if self.layout == Layout::Single {
            // Whole segment at once: it is already comma-joined.
            self.before_records()?;
            self.count_records(seg.ends.len());
            return self.put(&seg.data);
        }
        for r in seg.records() {
            self.record(r)?;
        }
        Ok(())
    }

    /// Closes everything; `single` and `auto` always write a file, even
    /// empty, and `auto` names a signal's only request as `single` does.
    pub fn finish(mut self) -> io::Result<WriterSummary> {
        let whole = matches!(self.layout, Layout::Single | Layout::Auto);
        if whole && !self.in_request && self.summary.requests == 0 {
            if self.layout == Layout::Auto {
                // Nothing to split: the empty document under its single name.
                self.layout = Layout::Single;
            }
            self.open_request()?;
        }
        if self.in_request {
            self.close_request()?;
        }
        self.end_entry()?;
        if self.layout == Layout::Auto && self.summary.requests == 1 {
            let name = self.single_name();
            if let Some(only) = self.summary.files.first_mut() {
                only.name = name;
            }
        }
        self.sink.finish()?;
        Ok(self.summary)
    }
}

/// Log and span segments -> an envelope, one resource block per key run.
pub struct RecordWriter {
    out: EnvelopeWriter,
    key: Option<BlockKey>,
}

impl RecordWriter {
    pub fn new(out: EnvelopeWriter) -> Self {
        Self { out, key: None }
    }

    pub fn segments(&mut self, segs: Vec<Segment>) -> io::Result<()> {
        for seg in segs {
            if self.key.as_ref() != Some(&seg.key) {
                self.out.begin_block(seg.head.clone())?;
                self.key = Some(seg.key.clone());
            }
            self.out.segment_records(&seg)?;
        }
        Ok(())
    }

    pub fn finish(self) -> io::Result<WriterSummary> {
        self.out.finish()
    }
}

/// Points buffered for one metric entry (name, unit, kind) of the current block.
struct SeriesState {
    name: String,
    description: String,
    unit: &'static str,
    kind: MetricKind,
    /// Encoded points joined by `,`, and the end of each.
    points: Vec<u8>,
    ends: Vec<usize>,
}

/// The running total of one cumulative series: a metric entry and one set
/// of point attributes (§6.6: each `route` of `http.requests` keeps its own).
struct Running {
    entry: usize,
    attrs: Box<[u8]>,
    total: PointValue,
    /// The start time every point of the series carries: its first point's.
    start: u64,
}

fn running_hash(entry: usize, attrs: &[u8]) -> u64 {
    static STATE: std::sync::LazyLock<hashbrown::DefaultHashBuilder> = std::sync::LazyLock::new(Default::default);
    STATE.hash_one((entry, attrs))
}

/// Buffered metric points of a block are flushed past this many bytes.
const METRIC_FLUSH_BYTES: usize = 1024 * 1024;

/// Groups metric points per series inside each resource block.
pub struct MetricWriter {
    out: EnvelopeWriter,
    temporality: Temporality,
    key: Option<BlockKey>,
    series: Vec<SeriesState>,
    index: HashMap<(String, &'static str, MetricKind), usize>,
    /// Cumulative totals of the current block, by (entry, point attributes).
    running: HashTable<Running>,
    buffered: usize,
    entry: Vec<u8>,
}

impl MetricWriter {
    pub fn new(out: EnvelopeWriter, temporality: Temporality) -> Self {
        Self {
            out,
            temporality,
            key: None,
            series: Vec::new(),
            index: HashMap::new(),
            running: HashTable::new(),
            buffered: 0,
            entry: Vec::new(),
        }
    }

    pub fn segments(&mut self, segs: Vec<MetricSegment>) -> io::Result<()> {
        for seg in segs {
            self.segment(seg)?;
        }
        Ok(())
    }

    fn segment(&mut self, seg: MetricSegment) -> io::Result<()> {
        if self.key.as_ref() != Some(&seg.key) {
            self.flush()?;
            self.series.clear();
            self.index.clear();
            self.running.clear();
            self.out.begin_block(seg.head.clone())?;
            self.key = Some(seg.key.clone());
        }
        let local: Vec<usize> = seg
            .series
            .iter()
            .map(|d| {
                let k = (d.name.clone(), d.unit, d.kind);
                *self.index.entry(k).or_insert_with(|| {
                    self.series.push(SeriesState {
                        name: d.name.clone(),
                        description: d.description.clone(),
                        unit: d.unit,
                        kind: d.kind,
                        points: Vec::new(),
                        ends: Vec::new(),
                    });
                    self.series.len() - 1
                })
            })
            .collect();
        for p in &seg.points {
            let entry = local[p.series as usize];
            let attrs = &seg.attrs[p.attrs.0..p.attrs.1];
            let cumulative = self.series[entry].kind == MetricKind::Sum && self.temporality == Temporality::Cumulative;
            let (start, value) = if cumulative {
                let (start, total) = self.run_total(entry, attrs, p.start.unwrap_or(p.time), p.value);
                (Some(start), total)
            } else {
                (p.start, p.value)
            };
            let s = &mut self.series[entry];
            let before = s.points.len();
            if !s.ends.is_empty() {
                s.points.push(b',');
            }
            write_point(&mut s.points, attrs, start, p.time, value);
            s.ends.push(s.points.len());
            self.buffered += s.points.len() - before;
        }
        if self.buffered > METRIC_FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Adds `value` to the running total of the series (entry, attrs):
    /// returns the series' start time and its new total.
    fn run_total(&mut self, entry: usize, attrs: &[u8], start: u64, value: PointValue) -> (u64, PointValue) {
        let hash = running_hash(entry, attrs);
        match self.running.find_mut(hash, |r| r.entry == entry && *r.attrs == *attrs) {
            Some(r) => {
                r.total = r.total.plus(value);
                (r.start, r.total)
            }
            None => {
                self.running.insert_unique(
                    hash,
                    Running {
                        entry,
                        attrs: attrs.into(),
                        total: value,
                        start,
                    },
                    |r| running_hash(r.entry, &r.attrs),
                );
                (start, value)
            }
        }
    }

    /// Writes every buffered series as metric entries; running totals stay.
    fn flush(&mut self) -> io::Result<()> {
        let limited = self.out.layout().limited();
        let framing = self.out.block_framing();
        for i in 0..self.series.len() {
            if self.series[i].ends.is_empty() {
                continue;
            }
            let s = &self.series[i];
            let overhead = metric_overhead(&s.name, &s.description, s.unit);
            let budget = self.out.cap().saturating_sub(framing + overhead);
            let mut from = 0usize;
            let mut first = 0usize;
            while first < s.ends.len() {
                // Take points while the entry stays within budget (at least one).
                let mut last = first;
                while last + 1 < s.ends.len() && (!limited || s.ends[last + 1] - from <= budget) {
                    last += 1;
                }
                let to = s.ends[last];
                self.entry.clear();
                write_metric_open(&mut self.entry, &s.name, &s.description, s.unit, s.kind);
                self.entry.extend_from_slice(&s.points[from..to]);
                write_metric_close(&mut self.entry, s.kind, self.temporality);
                self.out.record_of(&self.entry, last + 1 - first)?;
                from = to + 1;
                first = last + 1;
            }
            // Release, not clear: in a long block every series would otherwise
            // keep its own high-water capacity, and memory would grow with
            // the block instead of staying under the flush bound.
            let s = &mut self.series[i];
            s.points = Vec::new();
            s.ends = Vec::new();
        }
        self.buffered = 0;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<WriterSummary> {
        self.flush()?;
        self.out.finish()
    }
}
