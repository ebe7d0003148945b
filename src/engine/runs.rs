//! The JSON array's writer: runs of encoded elements written with `writev`
//! straight from the parsed chunks' buffers, with no copy into a buffer.
//! A run keeps its chunk alive until written. The chunks the merge still
//! holds cost nothing more; those it let go (*retired*) do, so a flush
//! happens once retired chunks hold [`Runs::MAX_RETIRED`] bytes, or after
//! [`Runs::MAX_CHUNKS`] distinct chunks, a `writev`'s worth of pieces or
//! [`Runs::MAX_BYTES`]. Few, long `writev`s: with eight sessions
//! interleaved, flushing after every eight distinct chunks made a call per
//! 25 KB and cost a tenth more system time than 1 MiB calls. Each flush
//! first looks at the cancel flag: a chunk whose elements carry a megabyte
//! context each can expand to hundreds of megabytes, and Ctrl-C must stop
//! it within a second (SPEC §9.2).

use std::io::{self, IoSlice, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One piece of output waiting for a vectored write.
enum Piece {
    Static(&'static [u8]),
    /// Bytes `start..end` of pending chunk `chunk` ([`Runs::chunks`]).
    Run { chunk: usize, start: usize, end: usize },
    Shared(Arc<[u8]>),
}

/// Collects output runs and writes them with `writev`.
pub struct Runs<'w> {
    out: &'w mut dyn Write,
    cancel: &'w AtomicBool,
    pending: Vec<Piece>,
    bytes: usize,
    /// The distinct chunks the pending runs keep alive.
    chunks: Vec<Arc<Vec<u8>>>,
}

impl<'w> Runs<'w> {
    /// IOV_MAX on Linux: one `writev` takes them all.
    const MAX_PIECES: usize = 1024;
    const MAX_BYTES: usize = 1 << 20;
    const MAX_CHUNKS: usize = 64;
    /// Bytes of chunks kept alive only by pending runs.
    const MAX_RETIRED: usize = 4 << 20;

    pub fn new(out: &'w mut dyn Write, cancel: &'w AtomicBool) -> Self {
        Self {
            out,
            cancel,
            pending: Vec::with_capacity(Self::MAX_PIECES),
            bytes: 0,
            chunks: Vec::with_capacity(Self::MAX_CHUNKS),
        }
    }

    pub fn push_static(&mut self, b: &'static [u8]) {
        self.bytes += b.len();
        self.pending.push(Piece::Static(b));
    }

    /// Queues `data[start..end]` with the shared contexts spliced into it
    /// (those at offsets in `(start, end]`: each closes the element that
    /// ends there).
    pub fn push(
        &mut self,
        data: &Arc<Vec<u8>>,
        splices: &[(usize, Arc<[u8]>)],
        start: usize,
        end: usize,
    ) -> io::Result<()> {
        let first = splices.partition_point(|(at, _)| *at <= start);
        let mut at = start;
        for (offset, context) in splices[first..].iter().take_while(|(o, _)| *o <= end) {
            self.push_piece(data, at, *offset)?;
            self.bytes += context.len();
            self.pending.push(Piece::Shared(Arc::clone(context)));
            at = *offset;
            self.flush_if_full(false)?;
        }
        self.push_piece(data, at, end)
    }

    fn push_piece(&mut self, data: &Arc<Vec<u8>>, start: usize, end: usize) -> io::Result<()> {
        if start >= end {
            return Ok(());
        }
        // Most runs follow one from the same chunk: look at the last first.
        let known = self.chunks.iter().rposition(|c| Arc::ptr_eq(c, data));
        let joined = known.is_none();
        let chunk = known.unwrap_or_else(|| {
            self.chunks.push(Arc::clone(data));
            self.chunks.len() - 1
        });
        self.bytes += end - start;
        self.pending.push(Piece::Run { chunk, start, end });
        self.flush_if_full(joined)
    }

    /// Flushes when a bound is reached; the chunks' bounds are looked at
    /// when a chunk `joined` the pending ones.
    fn flush_if_full(&mut self, joined: bool) -> io::Result<()> {
        let full = self.pending.len() >= Self::MAX_PIECES
            || self.bytes >= Self::MAX_BYTES
            || (joined && (self.chunks.len() >= Self::MAX_CHUNKS || self.retired() > Self::MAX_RETIRED));
        if full {
            self.flush()?;
        }
        Ok(())
    }

    /// Bytes of the pending chunks that nothing else holds any more.
    fn retired(&self) -> usize {
        self.chunks
            .iter()
            .filter(|c| Arc::strong_count(c) == 1)
            .map(|c| c.capacity())
            .sum()
    }

    /// Writes what is pending; fails with [`io::ErrorKind::Interrupted`]
    /// once the export is cancelled.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        let mut slices: Vec<IoSlice<'_>> = self
            .pending
            .iter()
            .map(|p| match p {
                Piece::Static(b) => IoSlice::new(b),
                Piece::Run { chunk, start, end } => IoSlice::new(&self.chunks[*chunk][*start..*end]),
                Piece::Shared(b) => IoSlice::new(b),
            })
            .collect();
        write_all_vectored(self.out, &mut slices)?;
        drop(slices);
        self.pending.clear();
        self.bytes = 0;
        self.chunks.clear();
        Ok(())
    }
}

/// `write_all` for a list of slices (the std one is not stable yet).
fn write_all_vectored(out: &mut dyn Write, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match out.write_vectored(bufs) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write the whole output",
                ))
            }
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_export_stops_inside_a_run_of_big_contexts() {
        // Ten elements of 1 MiB context each: the writer flushes after the
        // first megabyte and sees the flag, not after the whole run.
        let data = Arc::new(b",\n{a,\n{b,\n{c,\n{d,\n{e,\n{f,\n{g,\n{h,\n{i,\n{j".to_vec());
        let ctx: Arc<[u8]> = Arc::from(vec![b'x'; 1 << 20]);
        let splices: Vec<_> = (1..=10).map(|i| (i * 4, ctx.clone())).collect();
        let cancel = AtomicBool::new(true);
        let mut out = Vec::new();
        let mut runs = Runs::new(&mut out, &cancel);
        let err = runs.push(&data, &splices, 0, 40).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        drop(runs);
        assert!(out.is_empty());
    }

    /// A chunk of `cap` bytes' capacity holding `text`.
    fn chunk(text: &[u8], cap: usize) -> Arc<Vec<u8>> {
        let mut v = Vec::with_capacity(cap);
        v.extend_from_slice(text);
        Arc::new(v)
    }

    #[test]
    fn runs_of_chunks_the_merge_still_holds_wait_for_one_long_writev() {
        // Twenty sessions interleaved: the merge holds every chunk.
        let held: Vec<_> = (0..20u8).map(|i| chunk(&[b'a' + i; 10], 2 << 20)).collect();
        let mut out = Vec::new();
        let cancel = AtomicBool::new(false);
        let mut runs = Runs::new(&mut out, &cancel);
        for round in 0..5 {
            for c in &held {
                runs.push(c, &[], 2 * round, 2 * round + 2).unwrap();
            }
        }
        assert_eq!(runs.chunks.len(), 20);
        assert_eq!(runs.pending.len(), 100, "nothing written before the flush");
        runs.flush().unwrap();
        drop(runs);
        assert_eq!(out.len(), 200);
        assert_eq!(&out[..4], b"aabb");
    }

    #[test]
    fn chunks_only_the_writer_holds_are_written_soon() {
        let mut out = Vec::new();
        let cancel = AtomicBool::new(false);
        let mut runs = Runs::new(&mut out, &cancel);
        // Each chunk is let go by the merge once its run is queued.
        for i in 0..2u8 {
            let c = chunk(&[b'a' + i; 10], 3 << 20);
            runs.push(&c, &[], 0, 10).unwrap();
        }
        // One retired chunk (3 MiB) waits...
        assert_eq!(runs.pending.len(), 2);
        // ...two (6 MiB) are over the bound: the next chunk flushes all.
        let c = chunk(b"cccccccccc", 3 << 20);
        runs.push(&c, &[], 0, 10).unwrap();
        assert!(runs.pending.is_empty() && runs.chunks.is_empty());
        drop(runs);
        assert_eq!(out, b"aaaaaaaaaabbbbbbbbbbcccccccccc");
    }

    #[test]
    fn shared_contexts_are_spliced_where_their_elements_end() {
        let data = Arc::new(b",\n{a,\n{b,\n{c".to_vec());
        let ctx: Arc<[u8]> = Arc::from(&b"<ctx>}"[..]);
        // Elements end at 4, 8 and 12; each closes with the shared context.
        let splices = vec![(4, ctx.clone()), (8, ctx.clone()), (12, ctx)];
        let mut out = Vec::new();
        {
            let cancel = AtomicBool::new(false);
            let mut runs = Runs::new(&mut out, &cancel);
            runs.push(&data, &splices, 2, 8).unwrap();
            runs.push(&data, &splices, 8, 12).unwrap();
            runs.flush().unwrap();
        }
        assert_eq!(out, b"{a<ctx>},\n{b<ctx>},\n{c<ctx>}");
    }
}
