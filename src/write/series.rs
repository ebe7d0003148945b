//! Groups metric points into one entry per series inside each resource
//! block (SPEC §6.6), splicing bytes the workers wrote.
//!
//! A point is its event's attribute fields and its body, both written by a
//! worker (the attribute fields once per event), framed here: by
//! `{"attributes":` in OTLP/JSON, by its length in OTLP/protobuf; the
//! writer walks each segment's points in event order, ties each to its
//! series (one hash lookup per series per segment, not per point) and
//! collects references to it. Once the references stand for
//! [`FLUSH_BYTES`] of output, or the block ends, every series with pending
//! points is written as a metric entry, split when a request cap needs it
//! ("a bounded buffer may flush early, continuing the series in a new
//! entry"). Flushes fall on points, not on chunk boundaries, so the output
//! does not depend on how the input was cut.
//!
//! Memory is bounded by the flush: the segments still holding pending
//! points, and a few words per pending point. With cumulative temporality
//! the running total of each series (name, unit, type and point
//! attributes) is kept per block, at most [`MAX_RUNNING`] of them: past
//! that, the totals restart, as a reset in OTel terms.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::io;
use std::sync::Arc;

use hashbrown::HashTable;

use super::envelope::{EnvelopeWriter, WriterSummary};
use super::Writer;
use crate::encode::metrics::{
    metric_overhead, write_metric_close, write_metric_open, write_point_body, PointTimes, Temporality, POINT_OPEN,
};
use crate::encode::{protobuf, Encoding};
use crate::model::{BlockKey, MetricKind, MetricSegment, PointValue, Pools, RecordId, Tracker};

/// Output bytes of pending points that make a flush. The segments that
/// hold them take about twice that (their point records and attribute
/// fields besides the bodies): at 4 MiB a long resource block of the
/// synthetic mix held 12 segments, its 1 GiB store peaked 25% above its
/// 100 MiB one (SPEC §9.1 allows 20% for 10x); at 2 MiB it holds 7, and
/// the extra cuts add less than 0.1% to the output.
pub const FLUSH_BYTES: usize = 2 << 20;

/// A point after the first of its metric: the separator and the point's
/// opening, [`POINT_OPEN`] after a `,`.
const NEXT_POINT_OPEN: &[u8] = b",{\"attributes\":";

/// What a new series costs the writer besides its points' output bytes
/// (its entry, name and index slot), counted towards [`FLUSH_BYTES`] in
/// OTLP/protobuf: its points are about half as long as in OTLP/JSON, and
/// without this a flush held twice as many series (a row of 1,000,000
/// keys took a send over 128 MiB). OTLP/JSON files keep their cuts.
const PROTOBUF_SERIES_COST: usize = 128;
/// Cumulative series whose running totals a block keeps.
pub const MAX_RUNNING: usize = 1 << 16;

/// A segment whose points are not all written yet.
struct Held {
    seg: MetricSegment,
    /// The id of its first point (its file's numbering), for a send.
    origin: RecordId,
    /// Points accounted so far (from the first).
    next: usize,
    /// Segment series -> (flush generation, entry).
    local: Vec<(u32, u32)>,
}

/// A pending point: segment (absolute number), point, and for a cumulative
/// sum its rewritten body in `cum_bodies`.
#[derive(Clone, Copy)]
struct PointRef {
    seg: u64,
    point: u32,
    cum: Option<(u32, u32)>,
}

/// A series with pending points.
struct Entry {
    name: Box<[u8]>,
    event_len: usize,
    unit: &'static str,
    kind: MetricKind,
    points: Vec<PointRef>,
}

/// The running total of a cumulative series.
struct Running {
    key: Box<[u8]>,
    total: PointValue,
    /// The start time every point of the series carries: its first point's.
    start: u64,
}

fn hash_of<T: std::hash::Hash>(v: T) -> u64 {
    static STATE: std::sync::LazyLock<hashbrown::DefaultHashBuilder> = std::sync::LazyLock::new(Default::default);
    STATE.hash_one(v)
}

/// A cumulative series' key: name, unit, kind and point attributes.
fn running_key(name: &[u8], unit: &str, kind: MetricKind, attrs: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + unit.len() + attrs.len() + 3);
    k.extend_from_slice(name);
    k.push(0);
    k.extend_from_slice(unit.as_bytes());
    k.push(0);
    k.push(kind as u8);
    k.extend_from_slice(attrs);
    k
}

pub struct MetricWriter {
    out: EnvelopeWriter,
    temporality: Temporality,
    pools: Arc<Pools>,
    key: Option<BlockKey>,
    held: VecDeque<Held>,
    /// Absolute number of `held`'s front.
    held_base: u64,
    entries: Vec<Entry>,
    index: HashTable<u32>,
    /// Bumped at each flush: entries start afresh.
    generation: u32,
    pending: usize,
    cum_bodies: Vec<u8>,
    running: HashTable<Running>,
    /// For a send: numbering, and the points the journal holds.
    tracker: Option<Tracker>,
    /// The last rewritten point's times, written.
    times: PointTimes,
}

impl MetricWriter {
    pub fn new(out: EnvelopeWriter, temporality: Temporality, pools: Arc<Pools>) -> Self {
        Self {
            out,
            temporality,
            pools,
            key: None,
            held: VecDeque::new(),
            held_base: 0,
            entries: Vec::new(),
            index: HashTable::new(),
            generation: 0,
            pending: 0,
            cum_bodies: Vec::new(),
            running: HashTable::new(),
            tracker: None,
            times: PointTimes::default(),
        }
    }

    /// Numbers the points and leaves out those `tracker`'s journal holds
    /// (they still count in cumulative totals).
    pub fn tracked(self, tracker: Tracker) -> Self {
        Self {
            out: self.out.tracking_origins(),
            tracker: Some(tracker),
            ..self
        }
    }

    fn segment(&mut self, seg: MetricSegment) -> io::Result<()> {
        if self.key.as_ref() != Some(&seg.key) {
            self.flush()?;
            self.running.clear();
            self.out.begin_block(seg.head.clone())?;
            self.key = Some(seg.key.clone());
        }
        if seg.points.is_empty() {
            self.pools.metrics.recycle(seg);
            return Ok(());
        }
        let local = vec![(u32::MAX, 0); seg.series.len()];
        let origin = match &mut self.tracker {
            Some(t) => t.reserve(seg.file, seg.points.len() as u64),
            None => RecordId { file: 0, ordinal: 0 },
        };
        self.held.push_back(Held {
            seg,
            origin,
            next: 0,
            local,
        });
        self.account()
    }

    /// The entry of segment `h`'s series `s`, created if new in this flush.
    fn entry_of(&mut self, h: usize, s: u32) -> u32 {
        let (gen, e) = self.held[h].local[s as usize];
        if gen == self.generation {
            return e;
        }
        let seg = &self.held[h].seg;
        let def = seg.series[s as usize];
        let name = seg.name(&def);
        let hash = hash_of((name, def.unit, def.kind));
        let entries = &self.entries;
        let found = self.index.find(hash, |&i| {
            let x = &entries[i as usize];
            x.unit == def.unit && x.kind == def.kind && &*x.name == name
        });
        let e = match found {
            Some(&i) => i,
            None => {
                if self.out.encoding() == Encoding::Protobuf {
                    self.pending += PROTOBUF_SERIES_COST + name.len();
                }
                let i = self.entries.len() as u32;
                self.entries.push(Entry {
                    name: name.into(),
                    event_len: def.event_len as usize,
                    unit: def.unit,
                    kind: def.kind,
                    points: Vec::new(),
                });
                let entries = &self.entries;
                self.index.insert_unique(hash, i, |&j| {
                    let x = &entries[j as usize];
                    hash_of((&*x.name, x.unit, x.kind))
                });
                i
            }
        };
        self.held[h].local[s as usize] = (self.generation, e);
        e
    }

    /// Walks the newest segment's points, flushing whenever enough is pending.
    fn account(&mut self) -> io::Result<()> {
        let cumulative = self.temporality == Temporality::Cumulative;
        loop {
            // The newest segment; a flush may have let older ones go.
            let Some(h) = self.held.len().checked_sub(1) else {
                return Ok(());
            };
            if self.held[h].next >= self.held[h].seg.points.len() {
                return Ok(());
            }
            let seg_no = self.held_base + h as u64;
            let i = self.held[h].next;
            self.held[h].next += 1;
            let p = self.held[h].seg.points[i];
            let e = self.entry_of(h, p.series);
            let seg = &self.held[h].seg;
            let attrs_len = seg.event_attrs(p.event).len();
            let entry = &self.entries[e as usize];
            let (body_len, cum) = if cumulative && entry.kind == MetricKind::Sum {
                let key = running_key(&entry.name, entry.unit, entry.kind, seg.event_attrs(p.event));
                let (start, total) = self.run_total(key, p.start.unwrap_or(p.time), p.value);
                let from = self.cum_bodies.len();
                match self.out.encoding() {
                    Encoding::Json => write_point_body(&mut self.cum_bodies, &mut self.times, Some(start), p.time, total),
                    Encoding::Protobuf => protobuf::point_body(&mut self.cum_bodies, Some(start), p.time, total),
                }
                (self.cum_bodies.len() - from, Some((from as u32, self.cum_bodies.len() as u32)))
            } else {
                (seg.body(i).len(), None)
            };
            if let Some(t) = &mut self.tracker {
                let o = self.held[h].origin;
                if !t.fresh(RecordId {
                    file: o.file,
                    ordinal: o.ordinal + i as u64,
                }) {
                    continue;
                }
            }
            self.entries[e as usize].points.push(PointRef {
                seg: seg_no,
                point: i as u32,
                cum,
            });
            self.pending += POINT_OPEN.len() + attrs_len + body_len + 1;
            if self.pending >= FLUSH_BYTES {
                self.flush()?;
            }
        }
    }

    /// Adds `value` to the running total of the series `key`: returns the
    /// series' start time and its new total.
    fn run_total(&mut self, key: Vec<u8>, start: u64, value: PointValue) -> (u64, PointValue) {
        let hash = hash_of(&key[..]);
        if let Some(r) = self.running.find_mut(hash, |r| *r.key == key[..]) {
            r.total = r.total.plus(value);
            return (r.start, r.total);
        }
        if self.running.len() >= MAX_RUNNING {
            self.running.clear();
        }
        self.running.insert_unique(
            hash,
            Running {
                key: key.into(),
                total: value,
                start,
            },
            |r| hash_of(&r.key[..]),
        );
        (start, value)
    }

    /// Writes every pending series as metric entries, then lets go of the
    /// segments that are done.
    fn flush(&mut self) -> io::Result<()> {
        let Self {
            out,
            temporality,
            held,
            held_base,
            entries,
            cum_bodies,
            ..
        } = self;
        let limited = out.layout().limited();
        let framing = out.block_framing();
        let pb = out.encoding() == Encoding::Protobuf;
        // Reused by every entry of the flush.
        let (mut open, mut close, mut heads) = (Vec::with_capacity(256), Vec::with_capacity(64), Vec::new());
        let mut pieces: Vec<[&[u8]; 2]> = Vec::new();
        for entry in entries.iter().filter(|e| !e.points.is_empty()) {
            let name = String::from_utf8_lossy(&entry.name);
            let description = &name[..entry.event_len.min(name.len())];
            let overhead = if pb {
                protobuf::metric_overhead(&name, description, entry.unit)
            } else {
                metric_overhead(&name, description, entry.unit)
            };
            let budget = out.cap().saturating_sub(framing + overhead);
            open.clear();
            close.clear();
            if pb {
                protobuf::metric_close(&mut close, entry.kind, *temporality);
            } else {
                write_metric_open(&mut open, &name, description, entry.unit, entry.kind);
                write_metric_close(&mut close, entry.kind, *temporality);
            }
            // Each point's attribute fields and body, as its worker wrote them.
            pieces.clear();
            pieces.extend(entry.points.iter().map(|r| {
                let seg = &held[(r.seg - *held_base) as usize].seg;
                let p = seg.points[r.point as usize];
                let body = match r.cum {
                    Some((a, b)) => &cum_bodies[a as usize..b as usize],
                    None => seg.body(r.point as usize),
                };
                [seg.event_attrs(p.event), body]
            }));
            let inner = |k: usize| pieces[k][0].len() + pieces[k][1].len();
            // What a point takes in its metric: framing included.
            let size = |k: usize| {
                if pb {
                    protobuf::framed_point_len(inner(k))
                } else {
                    POINT_OPEN.len() + inner(k)
                }
            };
            let sep = usize::from(!pb);
            let mut first = 0;
            while first < entry.points.len() {
                // Take points while the entry stays within budget (at least one).
                let mut last = first;
                let mut bytes = size(first);
                while last + 1 < entry.points.len() {
                    let more = sep + size(last + 1);
                    if limited && bytes + more > budget {
                        break;
                    }
                    bytes += more;
                    last += 1;
                }
                let points = &entry.points[first..=last];
                if pb {
                    open.clear();
                    protobuf::metric_open(&mut open, &name, description, entry.unit, entry.kind, bytes);
                    heads.clear();
                    for k in first..=last {
                        protobuf::point_head(&mut heads, inner(k));
                    }
                }
                let mut parts: Vec<&[u8]> = Vec::with_capacity(3 * points.len() + 2);
                parts.push(&open);
                let mut at = 0;
                for (k, piece) in pieces[first..=last].iter().enumerate() {
                    if pb {
                        let n = inner(first + k);
                        let len = protobuf::framed_point_len(n) - n;
                        parts.push(&heads[at..at + len]);
                        at += len;
                    } else if k > 0 {
                        // One part for both: a part is a copy of its own.
                        parts.push(NEXT_POINT_OPEN);
                    } else {
                        parts.push(POINT_OPEN);
                    }
                    parts.extend(piece);
                }
                parts.push(&close);
                out.record_parts(&parts, open.len() + bytes + close.len(), points.len())?;
                for r in points {
                    let o = held[(r.seg - *held_base) as usize].origin;
                    out.note(RecordId {
                        file: o.file,
                        ordinal: o.ordinal + u64::from(r.point),
                    });
                }
                first = last + 1;
            }
        }
        self.entries.clear();
        self.index.clear();
        self.generation = self.generation.wrapping_add(1);
        self.pending = 0;
        self.cum_bodies.clear();
        // Segments whose every point is now written.
        while self.held.front().is_some_and(|h| h.next == h.seg.points.len()) {
            if let Some(h) = self.held.pop_front() {
                self.pools.metrics.recycle(h.seg);
                self.held_base += 1;
            }
        }
        Ok(())
    }
}

impl Writer for MetricWriter {
    type Batch = Vec<MetricSegment>;

    fn write(&mut self, segs: Vec<MetricSegment>) -> io::Result<()> {
        for seg in segs {
            self.segment(seg)?;
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<WriterSummary> {
        self.flush()?;
        let journalled = self.tracker.map_or(0, |t| t.journalled);
        Ok(WriterSummary {
            journalled,
            ..self.out.finish()?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_point_open_is_a_comma_then_point_open() {
        assert_eq!(NEXT_POINT_OPEN, [b",".as_slice(), POINT_OPEN].concat());
    }
}
