//! Recycled buffers for the records that travel from workers to writers.
//!
//! Every chunk fills a few large buffers (encoded records, point lists) on a
//! worker thread, and a writer thread frees them once written. Left to the
//! allocator, those hand-offs between threads at ever-changing sizes leave
//! holes in the heap, and on a long run the holes add up: resident memory
//! crept with the amount of data although the live heap stayed flat (SPEC
//! §9.1 asks for memory that does not grow with the store; see also
//! [`crate::heap`]). Buffers go back to a pool instead, and the next chunk
//! takes them with their capacity: after the first chunks nothing is
//! allocated, so the heap stops moving.
//!
//! A pool keeps at most [`KEPT`] buffers of a kind, in practice as many as
//! the pipeline had in flight at once (bounded by the reorder window and the
//! writer channels). It lets go of the oldest when full, and of buffers that
//! a freak chunk grew past its size limit.

use std::sync::Mutex;

use super::batch::PointRec;

/// A free list of `Vec<T>`s.
pub struct Pool<T> {
    free: Mutex<Vec<Vec<T>>>,
    /// Buffers kept at most.
    max_kept: usize,
    /// Buffers with more capacity than this many bytes are not kept.
    max_bytes: usize,
}

impl<T> Pool<T> {
    pub const fn new(max_kept: usize, max_bytes: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            max_kept,
            max_bytes,
        }
    }

    fn bytes(capacity: usize) -> usize {
        capacity.saturating_mul(size_of::<T>().max(1))
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
        let bytes = Self::bytes(v.capacity());
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
    pub fn kept(&self) -> usize {
        self.free.lock().map_or(0, |f| f.len())
    }
}

/// How many buffers of a kind are kept: more than the pipeline keeps in
/// flight at 16 threads (window 34, plus the writer channels).
const KEPT: usize = 64;

/// Encoded log and span records of a chunk.
pub static RECORDS: Pool<u8> = Pool::new(KEPT, 16 << 20);
/// Encoded metric point attributes of a chunk.
pub static ATTRS: Pool<u8> = Pool::new(KEPT, 16 << 20);
/// Record end offsets.
pub static ENDS: Pool<usize> = Pool::new(KEPT, 8 << 20);
/// Metric points of a chunk.
pub static POINTS: Pool<PointRec> = Pool::new(KEPT, 16 << 20);

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
    fn take_with_no_size_takes_any_kept_buffer() {
        let pool: Pool<u32> = Pool::new(4, 1 << 20);
        pool.give(Vec::with_capacity(2));
        assert_eq!(pool.take(0).capacity(), 2);
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
        // A 1,000-byte request takes neither a 100 KB buffer nor a 64-byte one.
        let v = pool.take(1000);
        assert!(v.capacity() >= 1000 && v.capacity() < 100_000);
        assert_eq!(pool.kept(), 2);
        // Within 4x, the kept buffer is taken.
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
}
