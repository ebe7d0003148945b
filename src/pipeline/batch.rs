//! Per-chunk OTLP output: already encoded records, grouped into segments that
//! share a resource block key (SPEC §6.3), one batch per signal.
//!
//! Log and span records are final bytes, joined by `,` so that a `single`
//! writer copies a whole segment at once while `split`/`jsonl` writers can
//! still cut between records. Metric points stay structured ([`PointRec`])
//! because the writer groups them per series and may keep running totals.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::chunk::FilePlan;
use super::pool;
use super::work::EventSink;
use crate::encode::metrics::{for_each_point, write_point_attrs, MetricKind, PointValue};
use crate::encode::resource::{write_resource, write_scope};
use crate::encode::{logs, spans, Event};
use crate::route::Signal;

/// What starts a new resource block: (session, file date, deployment URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockKey {
    pub session: String,
    pub date: String,
    pub deployment: Option<String>,
}

/// The resource and scope JSON of a block, from its first event.
#[derive(Clone, Debug, Default)]
pub struct BlockHead {
    pub resource: Vec<u8>,
    pub scope: Vec<u8>,
}

/// Log or span records of one block key, in file order.
#[derive(Debug)]
pub struct Segment {
    pub key: BlockKey,
    pub head: BlockHead,
    /// Records joined by `,`.
    pub data: Vec<u8>,
    /// End offset of each record in `data`; record `i` starts after `ends[i-1]` and its comma.
    pub ends: Vec<usize>,
}

/// The buffers go back to the pool for the next chunk.
impl Drop for Segment {
    fn drop(&mut self) {
        pool::RECORDS.give(std::mem::take(&mut self.data));
        pool::ENDS.give(std::mem::take(&mut self.ends));
    }
}

impl Segment {
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0usize;
        self.ends.iter().map(move |&e| {
            let r = &self.data[start..e];
            start = e + 1;
            r
        })
    }
}

/// A metric series of a segment: (name, unit, kind) identify it (§6.6).
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesDef {
    pub name: String,
    pub description: String,
    pub unit: &'static str,
    pub kind: MetricKind,
}

/// One data point, waiting for its series entry.
#[derive(Clone, Copy, Debug)]
pub struct PointRec {
    pub series: u32,
    /// Range of the point's attribute fields in [`MetricSegment::attrs`].
    pub attrs: (usize, usize),
    pub start: Option<u64>,
    pub time: u64,
    pub value: PointValue,
}

/// Metric points of one block key.
#[derive(Debug)]
pub struct MetricSegment {
    pub key: BlockKey,
    pub head: BlockHead,
    pub attrs: Vec<u8>,
    pub series: Vec<SeriesDef>,
    /// Index of `series` by (name, unit, kind): constant time per point,
    /// however many distinct keys a row has.
    index: HashTable<u32>,
    pub points: Vec<PointRec>,
}

impl Drop for MetricSegment {
    fn drop(&mut self) {
        pool::ATTRS.give(std::mem::take(&mut self.attrs));
        pool::POINTS.give(std::mem::take(&mut self.points));
    }
}

/// Everything one chunk sends to the envelope writers.
#[derive(Debug, Default)]
pub struct OtlpBatch {
    pub logs: Vec<Segment>,
    pub traces: Vec<Segment>,
    pub metrics: Vec<MetricSegment>,
}

/// The OTLP [`EventSink`]: encodes each event into the batch.
pub struct OtlpSink<'a> {
    pub batch: OtlpBatch,
    pub resource_attrs: &'a [(String, String)],
    /// Attributes per record or point (`OTEL_ATTRIBUTE_COUNT_LIMIT`).
    attr_limit: usize,
    /// Initial capacity of a segment's record bytes.
    capacity: usize,
}

impl<'a> OtlpSink<'a> {
    /// A sink for a chunk of `input` bytes.
    pub fn new(resource_attrs: &'a [(String, String)], attr_limit: usize, input: usize) -> Self {
        Self {
            batch: OtlpBatch::default(),
            resource_attrs,
            attr_limit,
            capacity: input.clamp(4096, 4 << 20),
        }
    }
}

fn key_and_head(plan: &FilePlan, ev: &Event<'_>, extra: &[(String, String)]) -> (BlockKey, BlockHead) {
    let mut head = BlockHead::default();
    write_resource(&mut head.resource, &ev.ctx, extra);
    write_scope(&mut head.scope, &ev.ctx);
    let key = BlockKey {
        session: plan.file.session.clone(),
        date: plan.file.date.clone(),
        deployment: ev.ctx.deployment_url.map(str::to_string),
    };
    (key, head)
}

/// The segment for `ev`: the last one when its key matches, else a new one.
/// Within a chunk (one file) only the deployment URL can change.
fn segment<'s>(
    segs: &'s mut Vec<Segment>,
    plan: &FilePlan,
    ev: &Event<'_>,
    extra: &[(String, String)],
    capacity: usize,
) -> &'s mut Segment {
    let same = segs
        .last()
        .is_some_and(|s| s.key.deployment.as_deref() == ev.ctx.deployment_url);
    if !same {
        let (key, head) = key_and_head(plan, ev, extra);
        segs.push(Segment {
            key,
            head,
            data: pool::RECORDS.take(capacity),
            ends: pool::ENDS.take(0),
        });
    }
    let last = segs.len() - 1;
    &mut segs[last]
}

impl EventSink for OtlpSink<'_> {
    fn event(&mut self, plan: &FilePlan, ev: &Event<'_>, signal: Signal) -> (u64, u64) {
        let extra = self.resource_attrs;
        match signal {
            Signal::Log | Signal::Span => {
                let segs = if signal == Signal::Log {
                    &mut self.batch.logs
                } else {
                    &mut self.batch.traces
                };
                let seg = segment(segs, plan, ev, extra, self.capacity);
                if !seg.ends.is_empty() {
                    seg.data.push(b',');
                }
                if signal == Signal::Log {
                    logs::write_log_record(&mut seg.data, ev, self.attr_limit);
                } else {
                    spans::write_span(&mut seg.data, ev, self.attr_limit);
                }
                seg.ends.push(seg.data.len());
                (0, 0)
            }
            Signal::Metric => {
                let segs = &mut self.batch.metrics;
                let same = segs
                    .last()
                    .is_some_and(|s| s.key.deployment.as_deref() == ev.ctx.deployment_url);
                if !same {
                    let (key, head) = key_and_head(plan, ev, extra);
                    segs.push(MetricSegment {
                        key,
                        head,
                        attrs: pool::ATTRS.take(0),
                        series: Vec::new(),
                        index: HashTable::new(),
                        points: pool::POINTS.take(0),
                    });
                }
                let Some(seg) = segs.last_mut() else {
                    return (0, 0);
                };
                let a0 = seg.attrs.len();
                write_point_attrs(&mut seg.attrs, ev, self.attr_limit);
                let attrs = (a0, seg.attrs.len());
                let name = ev.row.event_name;
                let mut points = 0;
                let dropped = for_each_point(ev, |p| {
                    let series = find_series(seg, name, p.stem, p.unit, p.kind);
                    seg.points.push(PointRec {
                        series,
                        attrs,
                        start: p.start,
                        time: p.time,
                        value: p.value,
                    });
                    points += 1;
                });
                (points, dropped)
            }
        }
    }
}

/// Hashes a series identity; `{event}.{stem}` is hashed in its two parts
/// so that a lookup needs no formatted name.
fn series_hash(event: &str, stem: &str, unit: &str, kind: MetricKind) -> u64 {
    static STATE: std::sync::LazyLock<hashbrown::DefaultHashBuilder> = std::sync::LazyLock::new(Default::default);
    STATE.hash_one((event, stem, unit, kind))
}

/// Index of the series `{event}.{stem}` with this unit and kind, added if new.
fn find_series(seg: &mut MetricSegment, event: &str, stem: &str, unit: &'static str, kind: MetricKind) -> u32 {
    let matches = |s: &SeriesDef| {
        s.unit == unit
            && s.kind == kind
            && s.name.len() == event.len() + 1 + stem.len()
            && s.name.starts_with(event)
            && s.name.ends_with(stem)
            && s.name.as_bytes()[event.len()] == b'.'
    };
    let hash = series_hash(event, stem, unit, kind);
    let series = &mut seg.series;
    if let Some(&i) = seg.index.find(hash, |&i| matches(&series[i as usize])) {
        return i;
    }
    series.push(SeriesDef {
        name: format!("{event}.{stem}"),
        description: event.to_string(),
        unit,
        kind,
    });
    let i = (series.len() - 1) as u32;
    seg.index.insert_unique(hash, i, |&j| {
        let d = &series[j as usize];
        let (event, stem) = d.name.split_at(d.description.len());
        series_hash(event, &stem[1..], d.unit, d.kind)
    });
    i
}
