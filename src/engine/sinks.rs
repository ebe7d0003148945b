//! What workers encode each event into: the OTLP batch of a chunk
//! ([`OtlpSink`]) or the JSON-array elements of a chunk with their merge keys
//! ([`JsonChunk`]).
//!
//! All per-record and per-point work happens here, in parallel: log and
//! span records are written whole; a metric event's attribute fields are
//! written once however many points it has, each point's body (times and
//! value) is written as it will appear, and points are tied to their series
//! through a hash table, so that the ordered writers only splice bytes.
//! Each signal is encoded in its request's body encoding (OTLP/JSON, or
//! OTLP/protobuf for a send that speaks it) straight from the event. A
//! JSON element's context is written once per file (header) or per run of
//! rows with the same inline context, and copied into the others.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;

use super::worker::EventSink;
use super::{Handoff, ChunkSink};
use crate::encode::json::{write_context, write_element_head};
use crate::encode::metrics::{count_points, for_each_point, write_point_attrs, write_point_body, PointTimes};
use crate::encode::resource::{write_resource, write_scope};
use crate::encode::{logs, protobuf, spans, Encoding, Event};
use crate::row::Context;
use crate::model::{BlockHead, BlockKey, MetricKind, MetricSegment, OtlpBatch, PointRec, Pools, Segment, SeriesDef, Signal};
use crate::store::StoreFile;

/// The OTLP [`EventSink`]: encodes each event into the chunk's batch.
///
/// A batch that outgrows `part_bytes` (a chunk of freak rows: a metric row
/// with a million keys is 100 MB of points) is handed on in parts
/// ([`Handoff`]): between events, or between the points of one event.
/// The writers continue the block and the series where the part ended,
/// so the output is the same as if it had come whole.
pub struct OtlpSink<'a> {
    pub batch: OtlpBatch,
    /// Each signal's body encoding (logs, traces, metrics).
    encodings: [Encoding; 3],
    resource_attrs: &'a [(String, String)],
    /// Attributes per record or point (`OTEL_ATTRIBUTE_COUNT_LIMIT`).
    attr_limit: usize,
    pools: &'a Pools,
    /// Initial capacity of a segment's record bytes.
    capacity: usize,
    /// The metric segment's series index, by (name, unit, kind).
    index: HashTable<u32>,
    handoff: Option<Handoff<OtlpBatch>>,
    /// Output held before the next hand-off.
    part_bytes: usize,
    /// The same, once the chunk has handed output on.
    later_parts: usize,
    /// The consumer stopped taking parts: the rest is dropped (the export
    /// is failing or cancelled).
    stopped: bool,
    /// The last point's times, written.
    times: PointTimes,
}

impl<'a> OtlpSink<'a> {
    /// A sink for a chunk of `input` bytes that keeps its whole output.
    pub fn new(resource_attrs: &'a [(String, String)], attr_limit: usize, pools: &'a Pools, input: usize) -> Self {
        Self {
            batch: OtlpBatch::default(),
            encodings: [Encoding::Json; 3],
            resource_attrs,
            attr_limit,
            pools,
            capacity: input.clamp(4096, 4 << 20),
            index: HashTable::new(),
            handoff: None,
            part_bytes: usize::MAX,
            later_parts: usize::MAX,
            stopped: false,
            times: PointTimes::default(),
        }
    }

    /// Hands the batch on through `handoff` whenever it holds more than
    /// `part_bytes` (a quarter of that after the first time).
    pub fn in_parts(self, handoff: Handoff<OtlpBatch>, part_bytes: usize) -> Self {
        Self {
            handoff: Some(handoff),
            part_bytes: part_bytes.max(4),
            later_parts: part_bytes.max(4) / 4,
            ..self
        }
    }

    /// Encodes logs, traces and metrics as `encodings` say (OTLP/JSON by default).
    pub fn encoded(self, encodings: [Encoding; 3]) -> Self {
        Self { encodings, ..self }
    }

    fn key_and_head(&self, file: &StoreFile, ev: &Event<'_>, encoding: Encoding) -> (BlockKey, BlockHead) {
        let mut resource = Vec::with_capacity(512);
        let mut scope = Vec::with_capacity(96);
        match encoding {
            Encoding::Json => {
                write_resource(&mut resource, &ev.ctx, self.resource_attrs);
                write_scope(&mut scope, &ev.ctx);
            }
            Encoding::Protobuf => {
                protobuf::resource(&mut resource, &ev.ctx, self.resource_attrs);
                protobuf::scope(&mut scope, &ev.ctx);
            }
        }
        let key = BlockKey {
            session: file.session().into(),
            day: file.day,
            deployment: ev.ctx.deployment_url.map(Box::from),
        };
        (
            key,
            BlockHead {
                resource: resource.into(),
                scope: scope.into(),
            },
        )
    }

    /// Hands the batch so far on, when there is a consumer to take it.
    fn hand_off(&mut self) {
        let Some(h) = &self.handoff else {
            return;
        };
        let part = std::mem::take(&mut self.batch);
        self.stopped |= !h.send(part);
        // The chunk is the consumer's next now: smaller parts cost no
        // waiting, and hold less while they queue for the writers.
        self.part_bytes = self.later_parts;
    }

    fn metric_event(&mut self, file: &StoreFile, ev: &Event<'_>) -> (u64, u64) {
        let encoding = self.encodings[2];
        if !same_block(self.batch.metrics.last().map(|s| &s.key), ev) {
            let (key, head) = self.key_and_head(file, ev, encoding);
            self.batch.metrics.push(self.metric_segment(key, head));
            self.index.clear();
        }
        let Some(seg) = self.batch.metrics.last_mut() else {
            return (0, 0);
        };
        match encoding {
            Encoding::Json => write_point_attrs(&mut seg.attrs, ev, self.attr_limit),
            Encoding::Protobuf => protobuf::point_attrs(&mut seg.attrs, ev, self.attr_limit),
        }
        seg.attr_ends.push(seg.attrs.len());
        let mut event = (seg.attr_ends.len() - 1) as u32;
        let name = ev.row.event_name;
        let mut points = 0;
        let dropped = for_each_point(ev, |p| {
            if self.stopped {
                return;
            }
            let Some(seg) = self.batch.metrics.last_mut() else {
                return;
            };
            let series = find_series(seg, &mut self.index, name, p.stem, p.unit, p.kind);
            match encoding {
                Encoding::Json => write_point_body(&mut seg.bodies, &mut self.times, p.start, p.time, p.value),
                Encoding::Protobuf => protobuf::point_body(&mut seg.bodies, p.start, p.time, p.value),
            }
            seg.points.push(PointRec {
                series,
                event,
                body_end: seg.bodies.len(),
                start: p.start,
                time: p.time,
                value: p.value,
            });
            points += 1;
            if self.handoff.is_some() && seg.held() > self.part_bytes {
                // Mid-event: the next part starts with this event's attributes.
                let (key, head, attrs) = (seg.key.clone(), seg.head.clone(), seg.event_attrs(event).to_vec());
                self.hand_off();
                let mut next = self.metric_segment(key, head);
                next.attrs.extend_from_slice(&attrs);
                next.attr_ends.push(next.attrs.len());
                self.batch.metrics.push(next);
                self.index.clear();
                event = 0;
            }
        });
        (points, dropped)
    }

    fn metric_segment(&self, key: BlockKey, head: BlockHead) -> MetricSegment {
        MetricSegment {
            file: 0,
            key,
            head,
            attrs: self.pools.metrics.attrs.take(0),
            attr_ends: self.pools.metrics.attr_ends.take(0),
            bodies: self.pools.metrics.bodies.take(0),
            names: Vec::new(),
            series: Vec::new(),
            points: self.pools.metrics.points.take(0),
        }
    }
}

/// Whether `key` starts no new block after the last segment's: within a
/// chunk (all in one file) only the deployment URL can change.
fn same_block(key: Option<&BlockKey>, ev: &Event<'_>) -> bool {
    key.is_some_and(|k| k.deployment.as_deref() == ev.ctx.deployment_url)
}

impl EventSink for OtlpSink<'_> {
    fn event(&mut self, file: &StoreFile, ev: &Event<'_>, signal: Signal) -> (u64, u64) {
        if self.stopped {
            return (0, 0);
        }
        let counted = match signal {
            Signal::Log | Signal::Span => {
                let is_log = signal == Signal::Log;
                let encoding = self.encodings[usize::from(!is_log)];
                let segs = if is_log { &self.batch.logs } else { &self.batch.traces };
                if !same_block(segs.last().map(|s| &s.key), ev) {
                    let (key, head) = self.key_and_head(file, ev, encoding);
                    let pools = self.pools.records(signal);
                    let seg = Segment {
                        file: 0,
                        key,
                        head,
                        data: pools.data.take(self.capacity),
                        ends: pools.ends.take(0),
                        sep: usize::from(encoding == Encoding::Json),
                    };
                    let segs = if is_log { &mut self.batch.logs } else { &mut self.batch.traces };
                    segs.push(seg);
                }
                let segs = if is_log { &mut self.batch.logs } else { &mut self.batch.traces };
                let Some(seg) = segs.last_mut() else {
                    return (0, 0);
                };
                let limit = self.attr_limit;
                match (encoding, ev.ids) {
                    (Encoding::Json, ids) => {
                        if !seg.ends.is_empty() {
                            seg.data.push(b',');
                        }
                        match ids {
                            Some(ids) if !is_log => spans::write_span(&mut seg.data, ev, ids, limit),
                            _ => logs::write_log_record(&mut seg.data, ev, limit),
                        }
                    }
                    (Encoding::Protobuf, Some(ids)) if !is_log => {
                        protobuf::record(&mut seg.data, |o| protobuf::span(o, ev, ids, limit))
                    }
                    (Encoding::Protobuf, _) => protobuf::record(&mut seg.data, |o| protobuf::log_record(o, ev, limit)),
                }
                seg.ends.push(seg.data.len());
                (0, 0)
            }
            Signal::Metric => self.metric_event(file, ev),
        };
        if self.handoff.is_some() && self.batch.held() > self.part_bytes {
            self.hand_off();
        }
        counted
    }
}

impl ChunkSink for OtlpSink<'_> {
    type Out = OtlpBatch;
    fn finish(self) -> OtlpBatch {
        self.batch
    }
}

/// Hashes a series identity; `{event}.{stem}` is hashed in its two parts
/// so that a lookup needs no formatted name.
fn series_hash(event: &[u8], stem: &[u8], unit: &str, kind: MetricKind) -> u64 {
    static STATE: std::sync::LazyLock<hashbrown::DefaultHashBuilder> = std::sync::LazyLock::new(Default::default);
    STATE.hash_one((event, stem, unit, kind))
}

/// Index of the series `{event}.{stem}` with this unit and kind in `seg`,
/// added if new: constant time, however many distinct keys a row has.
fn find_series(
    seg: &mut MetricSegment,
    index: &mut HashTable<u32>,
    event: &str,
    stem: &str,
    unit: &'static str,
    kind: MetricKind,
) -> u32 {
    let (event_b, stem_b) = (event.as_bytes(), stem.as_bytes());
    let hash = series_hash(event_b, stem_b, unit, kind);
    let (names, series) = (&seg.names, &seg.series);
    let matches = |&i: &u32| {
        let s = &series[i as usize];
        let n = &names[s.name.0 as usize..s.name.1 as usize];
        s.unit == unit
            && s.kind == kind
            && s.event_len as usize == event_b.len()
            && n.len() == event_b.len() + 1 + stem_b.len()
            && n.starts_with(event_b)
            && n.ends_with(stem_b)
    };
    if let Some(&i) = index.find(hash, matches) {
        return i;
    }
    let start = seg.names.len() as u32;
    seg.names.extend_from_slice(event_b);
    seg.names.push(b'.');
    seg.names.extend_from_slice(stem_b);
    seg.series.push(SeriesDef {
        name: (start, seg.names.len() as u32),
        event_len: event_b.len() as u32,
        unit,
        kind,
    });
    let i = (seg.series.len() - 1) as u32;
    let (names, series) = (&seg.names, &seg.series);
    index.insert_unique(hash, i, |&j| {
        let s = &series[j as usize];
        let n = &names[s.name.0 as usize..s.name.1 as usize];
        let (e, rest) = n.split_at(s.event_len as usize);
        series_hash(e, &rest[1..], s.unit, s.kind)
    });
    i
}

/// A header context this long or longer is not copied into each element but
/// written from one shared buffer: a file's rows all carry it, and a large
/// one (a 400 KB `os_version`) would otherwise make a chunk's output
/// thousands of times its input.
const SHARED_CONTEXT: usize = 4096;

/// The separator written before every element but the first.
pub const SEP: &[u8] = b",\n";

/// Encoded JSON-array elements of one chunk with their merge keys.
#[derive(Default)]
pub struct JsonChunk {
    /// Each element preceded by `,\n`, so that a run of consecutive
    /// elements is one slice the merge writes at once.
    pub data: Vec<u8>,
    /// End of each element in `data`.
    pub ends: Vec<usize>,
    /// Large shared contexts, each written at its offset of `data` (the end
    /// of the element it closes), in offset order.
    pub splices: Vec<(usize, Arc<[u8]>)>,
    /// (timestamp ns, index into `sids`) of each element.
    pub keys: Vec<(i64, u32)>,
    /// Distinct session ids, in order of appearance.
    pub sids: Vec<Arc<str>>,
    /// The context bytes of header-context rows, and their deployment URL.
    context: Option<CachedContext>,
    /// The last inline (v0) context written, when short: a file's rows
    /// mostly repeat the same one.
    inline: InlineContext,
}

/// A header context's bytes, for the deployment URL they were written with.
struct CachedContext {
    deployment: Option<Box<str>>,
    bytes: Arc<[u8]>,
}

/// An inline context's fields (the eight and the deployment URL, their
/// text one after the other) and the bytes written for them; `bytes` is
/// empty when nothing is cached.
#[derive(Default)]
struct InlineContext {
    lens: [Option<u32>; 9],
    text: Vec<u8>,
    bytes: Vec<u8>,
}

impl InlineContext {
    fn fields<'a>(ctx: &Context<'a>) -> [Option<&'a str>; 9] {
        let [a, b, c, d, e, f, g, h] = ctx.fields();
        [a, b, c, d, e, f, g, h, ctx.deployment_url]
    }

    /// The bytes written for `ctx`, if they are the cached ones.
    fn get(&self, ctx: &Context<'_>) -> Option<&[u8]> {
        if self.bytes.is_empty() {
            return None;
        }
        let mut at = 0;
        for (field, len) in Self::fields(ctx).into_iter().zip(self.lens) {
            match (field, len) {
                (None, None) => {}
                (Some(v), Some(n)) if v.len() == n as usize && self.text.get(at..at + v.len()) == Some(v.as_bytes()) => {
                    at += v.len();
                }
                _ => return None,
            }
        }
        Some(&self.bytes)
    }

    /// Keeps `bytes`, written for `ctx`, when they are short.
    fn put(&mut self, ctx: &Context<'_>, bytes: &[u8]) {
        self.bytes.clear();
        self.text.clear();
        if bytes.len() >= SHARED_CONTEXT {
            return;
        }
        for (field, len) in Self::fields(ctx).into_iter().zip(self.lens.iter_mut()) {
            *len = field.map(|v| v.len() as u32);
            self.text.extend_from_slice(field.unwrap_or("").as_bytes());
        }
        self.bytes.extend_from_slice(bytes);
    }
}

impl JsonChunk {
    /// A sink for a chunk of `input` bytes of rows.
    pub fn with_capacity(input: usize) -> Self {
        Self {
            data: Vec::with_capacity(2 * input),
            ..Self::default()
        }
    }

    /// The byte range of elements `from..to`, separators included before each.
    pub fn run(&self, from: usize, to: usize) -> (usize, usize) {
        let start = if from == 0 { 0 } else { self.ends[from - 1] };
        (start, self.ends[to - 1])
    }
}

impl EventSink for JsonChunk {
    const WANTS_RAW: bool = true;

    fn event(&mut self, _file: &StoreFile, ev: &Event<'_>, signal: Signal) -> (u64, u64) {
        self.data.extend_from_slice(SEP);
        write_element_head(&mut self.data, ev);
        if ev.row.context.is_some() {
            match self.inline.get(&ev.ctx) {
                Some(bytes) => self.data.extend_from_slice(bytes),
                None => {
                    let start = self.data.len();
                    write_context(&mut self.data, &ev.ctx);
                    self.inline.put(&ev.ctx, &self.data[start..]);
                }
            }
        } else {
            // A header context: the same bytes for every row of the file with this deployment.
            let hit = matches!(&self.context, Some(c) if c.deployment.as_deref() == ev.ctx.deployment_url);
            if !hit {
                let mut bytes = Vec::with_capacity(320);
                write_context(&mut bytes, &ev.ctx);
                self.context = Some(CachedContext {
                    deployment: ev.ctx.deployment_url.map(Box::from),
                    bytes: bytes.into(),
                });
            }
            if let Some(CachedContext { bytes, .. }) = &self.context {
                if bytes.len() >= SHARED_CONTEXT {
                    self.splices.push((self.data.len(), Arc::clone(bytes)));
                } else {
                    self.data.extend_from_slice(bytes);
                }
            }
        }
        self.ends.push(self.data.len());
        let sid = ev.ctx.session_id.unwrap_or("");
        if self.sids.last().map(|s| &**s) != Some(sid) {
            self.sids.push(Arc::from(sid));
        }
        self.keys.push((ev.row.time_nanos, (self.sids.len() - 1) as u32));
        if signal == Signal::Metric {
            count_points(ev)
        } else {
            (0, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(ext: Option<&'a str>, machine: Option<&'a str>, url: Option<&'a str>) -> Context<'a> {
        Context {
            extension_version: ext,
            machine_id: machine,
            deployment_url: url,
            ..Context::default()
        }
    }

    #[test]
    fn an_inline_context_is_reused_only_for_the_same_fields() {
        let a = ctx(Some("ab"), Some("c"), Some("u"));
        let mut cache = InlineContext::default();
        assert_eq!(cache.get(&a), None, "nothing cached yet");
        cache.put(&a, b"A");
        assert_eq!(cache.get(&ctx(Some("ab"), Some("c"), Some("u"))), Some(&b"A"[..]));
        // Same text one after the other, cut elsewhere.
        assert_eq!(cache.get(&ctx(Some("a"), Some("bc"), Some("u"))), None);
        // Absent is not empty, and the deployment URL counts.
        assert_eq!(cache.get(&ctx(Some("ab"), Some("c"), None)), None);
        assert_eq!(cache.get(&ctx(Some("ab"), Some("c"), Some(""))), None);
        assert_eq!(cache.get(&ctx(Some("ab"), Some("c"), Some("v"))), None);
        assert_eq!(cache.get(&ctx(Some("ab"), None, Some("cu"))), None);
        // A long context is not kept.
        cache.put(&a, &vec![b'x'; SHARED_CONTEXT]);
        assert_eq!(cache.get(&a), None);
    }
}
