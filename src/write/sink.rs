//! Where an envelope writer's bytes go: files in a folder, or entries of a
//! per-signal temporary zip that is merged into the final archive at the
//! end; and [`Spooled`], which does that on threads of its own (or, for a
//! send's requests, on the writer's: [`Spooled::inline`]).
//!
//! The envelope writer of a signal only assembles bytes; its [`Spooled`]
//! sink hands them in buffers to a thread that hashes each entry (sha256,
//! for the manifest) and writes it into the page cache or deflates it into
//! the signal's temporary zip, so the costs that grow with the output run
//! beside the assembling. With more than two workers the hashing and the
//! writing get a thread each ([`Spooled::new`]'s `split`): on the real mix
//! the metric envelope is 2.9x the input, and its hash and its deflate on
//! one thread are the longest serial stage of a zip export on many cores.
//! On two cores the extra thread and hand-off cost 2-4% more CPU and saved
//! no time, so there they share one.
//! No envelope file is ever held in memory whole (a send's request, at
//! most `--max-request-bytes`, is: it goes to the senders in one piece).
//!
//! Nothing is fsynced: like other command-line tools the exporter leaves
//! flushing to the OS (an fsync of GBs would cost more than the export).
//! Atomicity against failures and Ctrl-C comes from the rename in `atomic`.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};
use sha2::Digest;
use zip::write::SimpleFileOptions;

use crate::model::Origins;
use zip::{CompressionMethod, ZipWriter};

const BUFFER: usize = 256 * 1024;

/// Buffers queued for a signal's hashing thread; half as many wait for its
/// I/O thread when there is one. With the one being filled, hashed and
/// written, at most 9 x 256 KiB per signal.
const SPOOL_DEPTH: usize = 4;

/// What a sink reports of each entry it wrote, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryStats {
    pub bytes: u64,
    pub sha256: [u8; 32],
}

/// What the envelope writer sends the hashing thread.
enum Cmd {
    Start(String),
    Data(Vec<u8>),
    /// The entry is complete; it holds this many records, from these origins.
    End(u64, Origins),
}

/// What the hashing thread hands the writing: the same (the hashes stay
/// with the hashing thread, for the manifest).
enum Io {
    Start(String),
    Data(Vec<u8>),
    End { records: u64, origins: Origins },
}

/// The hashes of a signal's entries, as their bytes go by.
#[derive(Default)]
struct Hashes {
    stats: Vec<EntryStats>,
    open: Option<(sha2::Sha256, u64)>,
}

impl Hashes {
    fn hash(&mut self, cmd: Cmd) -> Io {
        match cmd {
            Cmd::Start(name) => {
                self.open = Some((sha2::Sha256::new(), 0));
                Io::Start(name)
            }
            Cmd::Data(b) => {
                if let Some((hash, bytes)) = &mut self.open {
                    hash.update(&b);
                    *bytes += b.len() as u64;
                }
                Io::Data(b)
            }
            Cmd::End(records, origins) => {
                let (hash, bytes) = self.open.take().unwrap_or_default();
                let sha256: [u8; 32] = hash.finalize().into();
                self.stats.push(EntryStats { bytes, sha256 });
                Io::End { records, origins }
            }
        }
    }
}

/// Writes into the sink; a written buffer goes back to be refilled.
fn write_io(inner: &mut dyn EntrySink, io: Io, free: &Sender<Vec<u8>>) -> io::Result<()> {
    match io {
        Io::Start(name) => inner.start(&name),
        Io::Data(mut b) => {
            inner.write(&b)?;
            b.clear();
            let _ = free.try_send(b);
            Ok(())
        }
        Io::End { records, origins } => inner.end(EntryEnd { records, origins }),
    }
}

/// A sha256 as the manifest writes it: lowercase hex.
pub fn sha256_hex(sha256: &[u8; 32]) -> String {
    sha256.iter().map(|b| format!("{b:02x}")).collect()
}

type Handle<T> = Option<std::thread::JoinHandle<io::Result<T>>>;

/// Waits for a thread: its result, or why it has none.
fn join<T>(handle: &mut Handle<T>) -> io::Result<T> {
    match handle.take().map(|h| h.join()) {
        Some(Ok(r)) => r,
        Some(Err(_)) => Err(io::Error::other("the output's writer thread panicked")),
        None => Err(io::Error::other("the output's writer thread stopped")),
    }
}

/// An entry sink run on a thread of its own ("ct-hash-{signal}", and a
/// "ct-io-{signal}" after it when split), fed through bounded queues of
/// buffers that come back (emptied) to be refilled.
pub struct Spooled {
    /// A sink written on the caller's thread instead, with each entry's bytes.
    inline: Option<(Box<dyn EntrySink>, Vec<EntryStats>)>,
    tx: Option<Sender<Cmd>>,
    free: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    hasher: Handle<Vec<EntryStats>>,
    io: Handle<()>,
}

impl Spooled {
    /// A sink whose entries are hashed for the manifest and written on a
    /// thread of their own, or, `split`, on two: one hashes, one writes.
    pub fn new(signal: &str, inner: Box<dyn EntrySink>, split: bool) -> io::Result<Self> {
        Self::spawn(signal, inner, split)
    }

    /// A sink written on the caller's thread, whose entries nobody lists
    /// (`send`'s requests): no sha256 (it was a tenth of a send's CPU), and
    /// no queue of buffers beside the requests' own (a queue of whole
    /// 4 MiB requests took 41 MiB).
    pub fn inline(inner: Box<dyn EntrySink>) -> Self {
        let (_, free) = bounded(0);
        Self {
            inline: Some((inner, Vec::new())),
            tx: None,
            free,
            buf: Vec::new(),
            hasher: None,
            io: None,
        }
    }

    fn spawn(signal: &str, inner: Box<dyn EntrySink>, split: bool) -> io::Result<Self> {
        let (tx, rx) = bounded::<Cmd>(SPOOL_DEPTH);
        let (free_tx, free) = bounded::<Vec<u8>>(SPOOL_DEPTH + SPOOL_DEPTH / 2 + 3);
        let hash_thread = std::thread::Builder::new().name(format!("ct-hash-{signal}"));
        if !split {
            let hasher = hash_thread.spawn(move || -> io::Result<Vec<EntryStats>> {
                let mut inner = inner;
                let mut hashes = Hashes::default();
                for cmd in rx {
                    write_io(&mut *inner, hashes.hash(cmd), &free_tx)?;
                }
                inner.finish()?;
                Ok(hashes.stats)
            })?;
            return Ok(Self::on_threads(tx, free, hasher, None));
        }
        let (io_tx, io_rx) = bounded::<Io>(SPOOL_DEPTH / 2);
        let io = std::thread::Builder::new()
            .name(format!("ct-io-{signal}"))
            .spawn(move || -> io::Result<()> {
                let mut inner = inner;
                for io in io_rx {
                    write_io(&mut *inner, io, &free_tx)?;
                }
                inner.finish()
            })?;
        let hasher = hash_thread.spawn(move || -> io::Result<Vec<EntryStats>> {
            let mut hashes = Hashes::default();
            for cmd in rx {
                if io_tx.send(hashes.hash(cmd)).is_err() {
                    // The I/O thread stopped; its own error says why.
                    return Err(io::Error::other("the output's writer thread stopped"));
                }
            }
            Ok(hashes.stats)
        })?;
        Ok(Self::on_threads(tx, free, hasher, Some(io)))
    }

    fn on_threads(
        tx: Sender<Cmd>,
        free: Receiver<Vec<u8>>,
        hasher: std::thread::JoinHandle<io::Result<Vec<EntryStats>>>,
        io: Handle<()>,
    ) -> Self {
        Self {
            inline: None,
            tx: Some(tx),
            free,
            buf: Vec::with_capacity(BUFFER),
            hasher: Some(hasher),
            io,
        }
    }

    /// Closes the queue and waits for its threads; the I/O thread's error
    /// comes first (a hasher beside it only stops because of it).
    fn stop(&mut self) -> io::Result<Vec<EntryStats>> {
        self.tx = None;
        let hashed = join(&mut self.hasher);
        if self.io.is_some() {
            join(&mut self.io)?;
        }
        hashed
    }

    fn send(&mut self, cmd: Cmd) -> io::Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(cmd).is_ok());
        if sent {
            return Ok(());
        }
        // The threads stopped: their own error says why.
        match self.stop() {
            Err(e) => Err(e),
            Ok(_) => Err(io::Error::other("the output's writer thread stopped")),
        }
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut fresh = self.free.try_recv().unwrap_or_else(|_| Vec::with_capacity(BUFFER));
        fresh.clear();
        let full = std::mem::replace(&mut self.buf, fresh);
        self.send(Cmd::Data(full))
    }

    pub fn start(&mut self, name: &str) -> io::Result<()> {
        if let Some((inner, stats)) = &mut self.inline {
            stats.push(EntryStats {
                bytes: 0,
                sha256: [0; 32],
            });
            return inner.start(name);
        }
        self.flush_buf()?;
        self.send(Cmd::Start(name.to_string()))
    }

    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some((inner, stats)) = &mut self.inline {
            if let Some(s) = stats.last_mut() {
                s.bytes += bytes.len() as u64;
            }
            return inner.write(bytes);
        }
        // Every buffer but an entry's last is full: what the next thread
        // gets (and a deflate stream is fed) depends on the entry's bytes,
        // not on how the writer cut them.
        let mut rest = bytes;
        while self.buf.len() + rest.len() >= BUFFER {
            let (now, later) = rest.split_at(BUFFER - self.buf.len());
            self.buf.extend_from_slice(now);
            self.flush_buf()?;
            rest = later;
        }
        self.buf.extend_from_slice(rest);
        Ok(())
    }

    /// [`Self::write`] of each of `parts`: each copied straight into the
    /// 256 KiB buffer while it fits, without the cutting `write` does: a
    /// metric entry is a few small pieces per point, and `write` per piece
    /// cost 4% more instructions of the real mix's folder export (callgrind).
    pub fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        if self.inline.is_some() {
            for p in parts {
                self.write(p)?;
            }
            return Ok(());
        }
        for p in parts {
            if self.buf.len() + p.len() < BUFFER {
                self.buf.extend_from_slice(p);
            } else {
                self.write(p)?;
            }
        }
        Ok(())
    }

    /// Writes `bytes` and leaves it empty (a sink on the caller's thread
    /// may take the buffer: a request handed over without a copy).
    pub fn write_owned(&mut self, bytes: &mut Vec<u8>) -> io::Result<()> {
        if let Some((inner, stats)) = &mut self.inline {
            if let Some(s) = stats.last_mut() {
                s.bytes += bytes.len() as u64;
            }
            return inner.write_owned(bytes);
        }
        self.write(bytes)?;
        bytes.clear();
        Ok(())
    }

    /// Ends the entry, which holds `records` records (from `origins`,
    /// when the writer tracks them).
    pub fn end(&mut self, records: u64, origins: Origins) -> io::Result<()> {
        if let Some((inner, _)) = &mut self.inline {
            return inner.end(EntryEnd { records, origins });
        }
        self.flush_buf()?;
        self.send(Cmd::End(records, origins))
    }

    /// Waits for every entry to be written; returns what each held.
    pub fn finish(mut self) -> io::Result<Vec<EntryStats>> {
        if let Some((inner, stats)) = self.inline.take() {
            inner.finish()?;
            return Ok(stats);
        }
        self.flush_buf()?;
        self.stop()
    }
}

/// Dropped unfinished (an export that failed): the threads are stopped
/// and waited for, so nothing writes into a temporary being removed.
impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A sequence of named entries written one after another.
pub trait EntrySink: Send {
    fn start(&mut self, name: &str) -> io::Result<()>;
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Writes `bytes` and leaves it empty; a sink that keeps whole entries
    /// in memory may take the buffer instead of copying it.
    fn write_owned(&mut self, bytes: &mut Vec<u8>) -> io::Result<()> {
        self.write(bytes)?;
        bytes.clear();
        Ok(())
    }
    /// The entry is complete ([`EntryEnd`]).
    fn end(&mut self, end: EntryEnd) -> io::Result<()>;
    /// Flushes everything; the entries are complete on disk afterwards.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// What a sink is told at the end of an entry.
pub struct EntryEnd {
    /// Log records, spans or data points in it.
    pub records: u64,
    /// Which records it holds, when the writer tracks them (`send`).
    pub origins: Origins,
}

/// Writes entries as files of a folder. The bytes come in the spool's
/// buffers of about 256 KiB each, so each is written as it is: a
/// `BufWriter` here copied most of them once more.
pub struct FolderSink {
    dir: PathBuf,
    current: Option<File>,
}

impl FolderSink {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            current: None,
        }
    }
}

impl FolderSink {
    fn close(&mut self) -> io::Result<()> {
        self.current = None;
        Ok(())
    }
}

impl EntrySink for FolderSink {
    fn start(&mut self, name: &str) -> io::Result<()> {
        self.close()?;
        self.current = Some(File::create(self.dir.join(name))?);
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.current {
            Some(w) => w.write_all(bytes),
            None => Err(io::Error::other("write before start of entry")),
        }
    }

    fn end(&mut self, _: EntryEnd) -> io::Result<()> {
        self.close()
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.close()
    }
}

/// How entries are stored: the deflate level, and the time every entry
/// carries (the export's "now", so that a zip with `--now` fixed is the same
/// byte for byte, and unzipped files show when they were exported).
#[derive(Clone, Copy, Debug)]
pub struct ZipStyle {
    pub level: i64,
    pub modified: zip::DateTime,
}

impl ZipStyle {
    /// Entry times are UTC; zip cannot store times before 1980 or after 2107
    /// (those get zip's default, 1980-01-01).
    pub fn new(level: i64, now: &chrono::DateTime<chrono::Utc>) -> Self {
        use chrono::{Datelike, Timelike};
        let modified = u16::try_from(now.year())
            .ok()
            .and_then(|y| {
                zip::DateTime::from_date_and_time(
                    y,
                    now.month() as u8,
                    now.day() as u8,
                    now.hour() as u8,
                    now.minute() as u8,
                    now.second() as u8,
                )
                .ok()
            })
            .unwrap_or_default();
        Self { level, modified }
    }
}

/// Deflate options for every entry: large-file mode, since an envelope can
/// exceed 4 GiB.
pub fn zip_options(style: ZipStyle) -> SimpleFileOptions {
    let level = style.level;
    let method = if level == 0 {
        CompressionMethod::Stored
    } else {
        CompressionMethod::Deflated
    };
    SimpleFileOptions::default()
        .compression_method(method)
        .compression_level((level > 0).then_some(level))
        .large_file(true)
        .last_modified_time(style.modified)
}

/// The file under a zip writer. After its first write error it discards
/// what it is given: the zip crate finishes an archive when it is dropped,
/// and would otherwise print its own failure to stderr for every archive
/// (the export already has the error, and removes the temporary). The
/// shared flag lets the owner refuse to call such an archive complete.
struct Latch<W> {
    inner: W,
    failed: Arc<AtomicBool>,
}

impl<W: Write> Write for Latch<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        self.inner.write(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                self.failed.store(true, Ordering::Relaxed);
            }
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.failed.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.inner
            .flush()
            .inspect_err(|_| self.failed.store(true, Ordering::Relaxed))
    }
}

impl<W: Seek> Seek for Latch<W> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

type ZipFile<F> = ZipWriter<BufWriter<Latch<F>>>;

/// A zip writer over `file`, and the flag its latch sets on failure.
fn zip_over<F: Write + Seek>(file: F) -> (ZipFile<F>, Arc<AtomicBool>) {
    let failed = Arc::new(AtomicBool::new(false));
    let latch = Latch {
        inner: file,
        failed: Arc::clone(&failed),
    };
    (ZipWriter::new(BufWriter::with_capacity(BUFFER, latch)), failed)
}

/// Finishes an archive, failing if any write to it failed.
fn finish_zip<F: Write + Seek>(zip: ZipFile<F>, failed: &AtomicBool) -> io::Result<()> {
    let mut inner = zip.finish().map_err(io::Error::other)?;
    inner.flush()?;
    if failed.load(Ordering::Relaxed) {
        return Err(io::Error::other("an earlier write to the archive failed"));
    }
    Ok(())
}

/// Writes entries into a temporary zip (one per signal). The [`Spooled`]
/// thread hands it whole buffers, so it writes them straight to the
/// deflater.
pub struct ZipSink {
    zip: ZipFile<File>,
    failed: Arc<AtomicBool>,
    options: SimpleFileOptions,
}

impl ZipSink {
    pub fn create(path: &Path, style: ZipStyle) -> io::Result<Self> {
        let (zip, failed) = zip_over(File::create(path)?);
        Ok(Self {
            zip,
            failed,
            options: zip_options(style),
        })
    }
}

impl EntrySink for ZipSink {
    fn start(&mut self, name: &str) -> io::Result<()> {
        self.zip.start_file(name, self.options).map_err(io::Error::other)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.zip.write_all(bytes)
    }

    fn end(&mut self, _: EntryEnd) -> io::Result<()> {
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        finish_zip(self.zip, &self.failed)
    }
}

/// A per-signal temporary zip and the final names of its entries, in order
/// (`auto` decides a name only once the signal is written).
pub struct ZipPart {
    pub path: PathBuf,
    pub names: Vec<String>,
}

/// Builds the final archive in `file` from the per-signal temporary zips
/// (copying their compressed bytes, not recompressing, under their final
/// names) and a last entry streamed from the file at `last.1` (the
/// manifest, written beside the parts).
pub fn assemble_zip(file: &File, parts: &[ZipPart], last: (&str, &Path), style: ZipStyle) -> io::Result<()> {
    let (mut zip, failed) = zip_over(file);
    for part in parts {
        let mut archive = zip::ZipArchive::new(File::open(&part.path)?).map_err(io::Error::other)?;
        if archive.len() != part.names.len() {
            return Err(io::Error::other("a temporary archive lost entries"));
        }
        for (i, name) in part.names.iter().enumerate() {
            let entry = archive.by_index_raw(i).map_err(io::Error::other)?;
            zip.raw_copy_file_rename(entry, name).map_err(io::Error::other)?;
        }
    }
    zip.start_file(last.0, zip_options(style)).map_err(io::Error::other)?;
    io::copy(&mut File::open(last.1)?, &mut zip)?;
    finish_zip(zip, &failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that fails its third write, as a full disk does.
    struct FailingSink(u32);

    impl EntrySink for FailingSink {
        fn start(&mut self, _name: &str) -> io::Result<()> {
            Ok(())
        }
        fn write(&mut self, _bytes: &[u8]) -> io::Result<()> {
            self.0 += 1;
            if self.0 >= 3 {
                return Err(io::Error::other("No space left on device"));
            }
            Ok(())
        }
        fn end(&mut self, _: EntryEnd) -> io::Result<()> {
            Ok(())
        }
        fn finish(self: Box<Self>) -> io::Result<()> {
            Ok(())
        }
    }

    /// A sink that keeps the length of every write it gets.
    struct CutsSink(Arc<std::sync::Mutex<Vec<usize>>>);

    impl EntrySink for CutsSink {
        fn start(&mut self, _name: &str) -> io::Result<()> {
            Ok(())
        }
        fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.0.lock().unwrap().push(bytes.len());
            Ok(())
        }
        fn end(&mut self, _: EntryEnd) -> io::Result<()> {
            Ok(())
        }
        fn finish(self: Box<Self>) -> io::Result<()> {
            Ok(())
        }
    }

    /// Regression: a zip's deflate stream changed when the writer cut the
    /// same entry into other pieces, because each piece that did not fit
    /// the buffer started a new one. The sink gets full buffers whatever
    /// the pieces.
    #[test]
    fn what_the_sink_gets_does_not_depend_on_how_the_entry_was_cut() {
        let text: Vec<u8> = (0..3 * BUFFER + 12_345).map(|i| (i % 251) as u8).collect();
        let cuts = |piece: usize| {
            let got = Arc::new(std::sync::Mutex::new(Vec::new()));
            let mut s = Spooled::new("test", Box::new(CutsSink(got.clone())), false).unwrap();
            s.start("a.json").unwrap();
            for p in text.chunks(piece) {
                s.write(p).unwrap();
            }
            s.end(0, Origins::default()).unwrap();
            s.finish().unwrap();
            let got = got.lock().unwrap().clone();
            got
        };
        let whole = cuts(text.len());
        assert_eq!(whole, vec![BUFFER, BUFFER, BUFFER, 12_345]);
        for piece in [1, 97, 4096, BUFFER - 1, BUFFER + 1] {
            assert_eq!(cuts(piece), whole, "pieces of {piece}");
        }
    }

    /// The hashing thread stands between the writer and the I/O thread; the
    /// error the writer gets must still be the sink's own, not "stopped".
    #[test]
    fn a_failing_sink_reports_its_own_error_through_the_hashing_thread() {
        for split in [false, true] {
            a_failing_sink_reports_its_own_error(split);
        }
    }

    fn a_failing_sink_reports_its_own_error(split: bool) {
        let mut s = Spooled::new("test", Box::new(FailingSink(0)), split).unwrap();
        s.start("a.json").unwrap();
        let chunk = vec![b'x'; BUFFER];
        let mut err = None;
        for _ in 0..64 {
            if let Err(e) = s.write(&chunk) {
                err = Some(e);
                break;
            }
        }
        let err = match err {
            Some(e) => e,
            None => s.finish().expect_err("64 buffers into a sink that fails its third write"),
        };
        assert!(err.to_string().contains("No space left"), "{err}");
    }

    /// Regression: buffers came back from the I/O thread still full, and
    /// the next entry repeated (and doubled) what was written before.
    #[test]
    fn recycled_spool_buffers_do_not_repeat_earlier_bytes() {
        for split in [false, true] {
            recycled_buffers_do_not_repeat(split);
        }
    }

    fn recycled_buffers_do_not_repeat(split: bool) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spooled::new("test", Box::new(FolderSink::new(dir.path())), split).unwrap();
        let mut want = Vec::new();
        for (e, name) in ["a.json", "b.json", "c.json"].iter().enumerate() {
            s.start(name).unwrap();
            let mut text = Vec::new();
            // Many buffers' worth of small writes, and one write larger than a buffer.
            for i in 0..40_000u32 {
                let piece = format!("{e}:{i},");
                s.write(piece.as_bytes()).unwrap();
                text.extend_from_slice(piece.as_bytes());
            }
            let big = vec![b'x' + e as u8; BUFFER + 7];
            s.write(&big).unwrap();
            text.extend_from_slice(&big);
            s.end(0, Origins::default()).unwrap();
            want.push((name.to_string(), text));
        }
        let stats = s.finish().unwrap();
        assert_eq!(stats.len(), 3);
        for ((name, text), st) in want.iter().zip(stats) {
            let got = std::fs::read(dir.path().join(name)).unwrap();
            assert!(got == *text, "{name}: {} bytes written, {} expected", got.len(), text.len());
            assert_eq!(st.bytes, text.len() as u64);
            assert_eq!(st.sha256, <[u8; 32]>::from(sha2::Sha256::digest(text)));
        }
    }
}
