//! The encoded output of one chunk of a file, on its way from a worker to the
//! ordered writers: log and span records as final bytes, metric points
//! grouped by series with their bodies already written, all in segments
//! that share a resource block key (SPEC §6.3).
//!
//! A worker does the per-record and per-point work (encoding, grouping);
//! a writer only splices bytes, in the encoding the worker wrote (OTLP/JSON
//! or OTLP/protobuf). A point is written as its event's attribute fields
//! (written once per event, whatever the number of points) and its body
//! (times and value), with the framing the writer puts around them.

use std::sync::Arc;

/// What starts a new resource block: (session, file day, deployment URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockKey {
    pub session: Box<str>,
    /// Days since the epoch of the file's date.
    pub day: i64,
    pub deployment: Option<Box<str>>,
}

/// The resource and scope of a block, from its first event, encoded.
#[derive(Clone, Debug)]
pub struct BlockHead {
    pub resource: Arc<[u8]>,
    pub scope: Arc<[u8]>,
}

/// Log or span records of one block key, in file order.
#[derive(Debug)]
pub struct Segment {
    /// The selected file its records are from (set by the ordered consumer).
    pub file: u32,
    pub key: BlockKey,
    pub head: BlockHead,
    /// Records back to back, joined by `,` in OTLP/JSON (`sep` 1) and by
    /// nothing in OTLP/protobuf (`sep` 0: each carries its own length).
    pub data: Vec<u8>,
    /// End offset of each record in `data`; record `i` starts `sep` bytes after `ends[i-1]`.
    pub ends: Vec<usize>,
    pub sep: usize,
}

impl Segment {
    /// Bytes it holds, about.
    pub fn held(&self) -> usize {
        self.data.len() + self.ends.len() * size_of::<usize>()
    }

    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0usize;
        self.ends.iter().map(move |&e| {
            let r = &self.data[start..e];
            start = e + self.sep;
            r
        })
    }
}

/// Sum or Gauge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Sum,
    Gauge,
}

/// A point's value: `asInt` or `asDouble`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PointValue {
    Int(i64),
    Double(f64),
}

impl PointValue {
    /// The running total of a cumulative series; stays an integer while both are.
    pub fn plus(self, other: PointValue) -> PointValue {
        match (self, other) {
            (PointValue::Int(a), PointValue::Int(b)) => match a.checked_add(b) {
                Some(s) => PointValue::Int(s),
                None => PointValue::Double(a as f64 + b as f64),
            },
            (a, b) => PointValue::Double(a.as_f64() + b.as_f64()),
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            PointValue::Int(v) => v as f64,
            PointValue::Double(v) => v,
        }
    }
}

/// A metric series of a segment: (name, unit, kind) identify it (§6.6).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesDef {
    /// `{event}.{stem}` in [`MetricSegment::names`].
    pub name: (u32, u32),
    /// The event name's length: the description is the name's first bytes.
    pub event_len: u32,
    pub unit: &'static str,
    pub kind: MetricKind,
}

/// One data point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PointRec {
    /// Index into [`MetricSegment::series`].
    pub series: u32,
    /// Index of its event's attribute fields ([`MetricSegment::attr_ends`]).
    pub event: u32,
    /// End of its body in [`MetricSegment::bodies`] (it starts where the previous ends).
    pub body_end: usize,
    /// The value and times, for sums that keep a running total (cumulative
    /// temporality rewrites their bodies).
    pub start: Option<u64>,
    pub time: u64,
    pub value: PointValue,
}

/// Metric points of one block key.
#[derive(Debug)]
pub struct MetricSegment {
    /// The selected file its points are from (set by the ordered consumer).
    pub file: u32,
    pub key: BlockKey,
    pub head: BlockHead,
    /// Each event's attribute fields (`[...]`, then `,"droppedAttributesCount":N`
    /// when some were dropped), back to back.
    pub attrs: Vec<u8>,
    /// End of each event's attribute fields in `attrs`.
    pub attr_ends: Vec<usize>,
    /// Each point's body, back to back.
    pub bodies: Vec<u8>,
    /// Series names, back to back.
    pub names: Vec<u8>,
    /// The segment's series, in order of first appearance.
    pub series: Vec<SeriesDef>,
    /// Points in event order.
    pub points: Vec<PointRec>,
}

impl MetricSegment {
    /// Bytes it holds, about.
    pub fn held(&self) -> usize {
        self.attrs.len()
            + self.attr_ends.len() * size_of::<usize>()
            + self.bodies.len()
            + self.names.len()
            + self.series.len() * size_of::<SeriesDef>()
            + self.points.len() * size_of::<PointRec>()
    }

    /// The attribute fields of event `i`.
    pub fn event_attrs(&self, i: u32) -> &[u8] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.attr_ends[i - 1] };
        &self.attrs[start..self.attr_ends[i]]
    }

    /// The body of point `i`.
    pub fn body(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.points[i - 1].body_end };
        &self.bodies[start..self.points[i].body_end]
    }

    /// `{event}.{stem}` of series `s`.
    pub fn name(&self, s: &SeriesDef) -> &[u8] {
        &self.names[s.name.0 as usize..s.name.1 as usize]
    }
}

/// Everything one chunk sends to the envelope writers (or one part
/// of it, for a chunk whose output outgrew its share).
#[derive(Debug, Default)]
pub struct OtlpBatch {
    pub logs: Vec<Segment>,
    pub traces: Vec<Segment>,
    pub metrics: Vec<MetricSegment>,
}

impl OtlpBatch {
    /// Marks every segment as coming from selected file `file`.
    pub fn set_file(&mut self, file: usize) {
        let file = u32::try_from(file).unwrap_or(u32::MAX);
        self.logs.iter_mut().chain(&mut self.traces).for_each(|s| s.file = file);
        self.metrics.iter_mut().for_each(|s| s.file = file);
    }

    /// Bytes it holds, about.
    pub fn held(&self) -> usize {
        self.logs.iter().chain(&self.traces).map(Segment::held).sum::<usize>()
            + self.metrics.iter().map(MetricSegment::held).sum::<usize>()
    }
}
