//! Buffers that travel from workers to writers and back, owned by one run.
//!
//! Every chunk fills a few large buffers (encoded records, point
//! lists) on a worker thread, and a writer thread is done with them once
//! written. Left to the allocator, those hand-offs between threads at
//! ever-changing sizes leave holes in the heap, and on a long run resident
//! memory crept with the amount of data although the live heap stayed flat
//! (SPEC §9.1). The writers hand the buffers back instead
//! ([`RecordPools::recycle`], [`MetricPools::recycle`]),
//! and the next chunk takes them with their capacity.
//!
//! A pool keeps at most as many buffers as the run keeps in flight (the
//! window, plus the writers' queues), lets go of the oldest when full, and
//! of buffers a freak chunk grew past its size limit.

use std::sync::Mutex;

use super::batch::{MetricSegment, PointRec, Segment};
use super::signal::Signal;

/// A free list of `Vec<T>`s.
pub struct Pool<T> {
    free: Mutex<Vec<Vec<T>>>,
    max_kept: usize,
    /// Buffers with more capacity than this many bytes are not kept.
    max_bytes: usize,
}

impl<T> Pool<T> {
    pub fn new(max_kept: usize, max_bytes: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            max_kept,
            max_bytes,
        }
    }

    /// An empty buffer with room for at least `capacity` items: a kept one
    /// whose capacity fits (at most 4x `capacity`, any for 0), newest first,
    /// else a new one.
    pub fn take(&self, capacity: usize) -> Vec<T> {
        let fits = |v: &Vec<T>| v.capacity() >= capacity && (capacity == 0 || v.capacity() / 4 <= capacity);
        let recycled = self.free.lock().ok().and_then(|mut free| {
            let i = free.iter().rposition(fits)?;
            Some(free.swap_remove(i))
        });
        recycled.unwrap_or_else(|| Vec::with_capacity(capacity))
    }

    /// Hands a buffer back; its contents are dropped. A full pool lets its
    /// oldest buffer go, so sizes nobody asks for any more do not linger.
    pub fn give(&self, mut v: Vec<T>) {
        let bytes = v.capacity().saturating_mul(size_of::<T>().max(1));
        if bytes == 0 || bytes > self.max_bytes {
            return;
        }
        v.clear();
        if let Ok(mut free) = self.free.lock() {
            if free.len() >= self.max_kept {
                free.remove(0);
            }
            free.push(v);
        }
    }

    /// Buffers currently kept.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.free.lock().map_or(0, |f| f.len())
    }
}

/// The buffers of one signal's log or span segments.
pub struct RecordPools {
    pub data: Pool<u8>,
    pub ends: Pool<usize>,
}

impl RecordPools {
    fn new(kept: usize, max_bytes: usize) -> Self {
        Self {
            data: Pool::new(kept, max_bytes),
            ends: Pool::new(kept, max_bytes),
        }
    }

    pub fn recycle(&self, s: Segment) {
        self.data.give(s.data);
        self.ends.give(s.ends);
    }
}

/// The buffers of metric segments.
pub struct MetricPools {
    pub attrs: Pool<u8>,
    pub attr_ends: Pool<usize>,
    pub bodies: Pool<u8>,
    pub points: Pool<PointRec>,
}

impl MetricPools {
    fn new(kept: usize, max_bytes: usize) -> Self {
        Self {
            attrs: Pool::new(kept, max_bytes),
            attr_ends: Pool::new(kept, max_bytes),
            bodies: Pool::new(kept, max_bytes),
            points: Pool::new(kept, max_bytes),
        }
    }

    pub fn recycle(&self, m: MetricSegment) {
        self.attrs.give(m.attrs);
        self.bodies.give(m.bodies);
        self.attr_ends.give(m.attr_ends);
        self.points.give(m.points);
    }
}

/// The pools of one run: one per signal and kind of buffer. A buffer
/// keeps the pages its role touched; shared between roles (a chunk's log
/// records, its spans, a metric segment's attributes), every buffer in
/// time grew to the largest role's size, and the small ones crowded out
/// the large ones so that chunks allocated afresh.
pub struct Pools {
    pub logs: RecordPools,
    pub traces: RecordPools,
    pub metrics: MetricPools,
}

impl Pools {
    /// Pools that keep `kept` buffers of each kind, none over `max_bytes`.
    pub fn new(kept: usize, max_bytes: usize) -> Self {
        Self {
            logs: RecordPools::new(kept, max_bytes),
            traces: RecordPools::new(kept, max_bytes),
            metrics: MetricPools::new(kept, max_bytes),
        }
    }

    /// The pools of a log or span segment (a metric has [`Self::metrics`]).
    pub fn records(&self, signal: Signal) -> &RecordPools {
        match signal {
            Signal::Log => &self.logs,
            Signal::Span | Signal::Metric => &self.traces,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_comes_back_empty_with_its_capacity() {
        let pool: Pool<u8> = Pool::new(4, 1 << 20);
        let mut v = pool.take(1000);
        v.extend_from_slice(b"abc");
        let cap = v.capacity();
        pool.give(v);
        assert_eq!(pool.kept(), 1);
        let again = pool.take(500);
        assert!(again.is_empty());
        assert_eq!(again.capacity(), cap);
        assert_eq!(pool.kept(), 0);
    }

    #[test]
    fn oversized_and_empty_buffers_are_not_kept() {
        let pool: Pool<u8> = Pool::new(2, 1024);
        pool.give(Vec::with_capacity(4096));
        pool.give(Vec::new());
        assert_eq!(pool.kept(), 0);
    }

    #[test]
    fn a_full_pool_lets_its_oldest_buffer_go() {
        let pool: Pool<u8> = Pool::new(2, 1 << 20);
        for cap in [100, 200, 300] {
            pool.give(Vec::with_capacity(cap));
        }
        assert_eq!(pool.kept(), 2);
        let caps = [pool.take(0).capacity(), pool.take(0).capacity()];
        assert_eq!(caps, [300, 200]);
    }

    #[test]
    fn take_skips_buffers_far_too_big_or_too_small() {
        let pool: Pool<u8> = Pool::new(8, 1 << 20);
        pool.give(Vec::with_capacity(64));
        pool.give(Vec::with_capacity(100_000));
        let v = pool.take(1000);
        assert!(v.capacity() >= 1000 && v.capacity() < 100_000);
        assert_eq!(pool.kept(), 2);
        assert_eq!(pool.take(30_000).capacity(), 100_000);
        assert_eq!(pool.kept(), 1);
    }

    #[test]
    fn size_limit_counts_bytes_not_items() {
        let pool: Pool<u64> = Pool::new(2, 1024);
        pool.give(Vec::with_capacity(200)); // 1600 bytes
        assert_eq!(pool.kept(), 0);
        pool.give(Vec::with_capacity(100)); // 800 bytes
        assert_eq!(pool.kept(), 1);
    }

    #[test]
    fn small_metric_buffers_do_not_crowd_out_the_records_buffers() {
        // One shared pool kept 40 buffers, most of them a metric segment's
        // few hundred KiB; a log segment asks for a chunk's worth, found
        // none that fit, and every chunk allocated afresh.
        let pools = Pools::new(2, 8 << 20);
        let mut records = Vec::with_capacity((1 << 20) + 4096);
        records.extend_from_slice(b"{}");
        let (records_cap, records_at) = (records.capacity(), records.as_ptr());
        pools.logs.data.give(records);
        for _ in 0..4 {
            pools.metrics.attrs.give(Vec::with_capacity(64 << 10));
            pools.metrics.bodies.give(Vec::with_capacity(128 << 10));
        }
        let again = pools.records(Signal::Log).data.take(1 << 20);
        assert_eq!((again.capacity(), again.as_ptr()), (records_cap, records_at));
        assert!(again.is_empty());
        // Spans have buffers of their own size.
        assert_eq!(pools.records(Signal::Span).data.kept(), 0);
        assert_eq!(pools.metrics.attrs.kept(), 2);
    }
}
