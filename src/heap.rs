//! Allocator settings for a long streaming run (SPEC §9.1: memory must not
//! grow with the store).
//!
//! The pipeline's live heap is flat: heaptrack shows the same peak for a
//! 1 GiB and a 10 GiB store. Resident memory is another matter. Workers
//! allocate buffers of changing sizes and another thread frees them; glibc
//! gives each thread its own arena, and over millions of such hand-offs the
//! free holes in those arenas add up. Without the measures here, peak RSS
//! rose with the store: the JSON export's from 45 to 51 MiB between a
//! 1 GiB and a 10 GiB store, the synthetic mix's OTLP folder's from 50 to
//! 68 MiB. The OTLP buffers are recycled besides (`model::Pools`), but
//! their sizes still change from chunk to chunk. So, for every export:
//!
//! - one arena for the whole process, so that what one thread frees the
//!   next allocation on any thread can reuse;
//! - every [`TRIM_EVERY`] bytes of input, `malloc_trim` hands the free
//!   pages inside the heap back to the system (the consumers that take
//!   chunks in order call it: the JSON merge and the ordered consumer).
//!
//! A send allocates besides whole requests (up to `--max-request-bytes`,
//! 4 MiB) on the writer threads, copies and compresses them on the sender
//! threads and, for gRPC, in tonic's buffers. Kept in the heap, their holes
//! took peak RSS to 133 MiB for a live heap of 70 (gRPC, 300 MiB real mix);
//! so a send has blocks of 1 MiB or more mapped and unmapped on their own
//! (102 MiB), at a few percent of its CPU.
//!
//! Both are glibc only; elsewhere these functions do nothing.

/// Input bytes between two trims: a few milliseconds of page faults per
/// trim, once every half second or so of work.
pub const TRIM_EVERY: u64 = 256 << 20;

/// What a run allocates most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Files: chunk buffers, reused.
    Export,
    /// Requests to a receiver: whole request bodies, held across threads.
    Send,
}

/// Sets the allocator up for a run. Call it before any thread starts:
/// the arena limit applies to threads created afterwards.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune(workload: Workload) {
    let mmap_threshold = match workload {
        Workload::Export => 8 << 20,
        Workload::Send => 1 << 20,
    };
    // SAFETY: mallopt only sets allocator parameters.
    unsafe {
        // Chunk buffers (1-4 MiB) are allocated and freed thousands of times
        // per GB. By default glibc serves them with fresh mmaps or trims them
        // back to the OS, and every reuse then faults in and zeroes new
        // pages: about a tenth of the workers' time. Kept in the heap, they
        // are reused; peak memory is bounded by the pipeline anyway.
        libc::mallopt(libc::M_MMAP_THRESHOLD, mmap_threshold);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune(_: Workload) {}

/// Counts input bytes and trims the heap every [`TRIM_EVERY`] of them.
#[derive(Debug, Default)]
pub struct Trim {
    since: u64,
    /// Trims done (for tests).
    pub count: u64,
}

impl Trim {
    /// Records `bytes` more input; trims once enough has passed since the last trim.
    pub fn advance(&mut self, bytes: u64) {
        self.since += bytes;
        if self.since >= TRIM_EVERY {
            self.since = 0;
            self.count += 1;
            trim();
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_per_trim_every_bytes_of_input() {
        let mut t = Trim::default();
        t.advance(TRIM_EVERY - 1);
        assert_eq!(t.count, 0);
        t.advance(1);
        assert_eq!(t.count, 1);
        for _ in 0..4 {
            t.advance(TRIM_EVERY / 2);
        }
        assert_eq!(t.count, 3);
    }
}
