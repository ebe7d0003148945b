//! Where an envelope writer's bytes go: files in a folder, or entries of a
//! per-signal temporary zip that is merged into the final archive at the end.
//!
//! Each envelope writer owns one sink on its own thread, so the three signals
//! are compressed in parallel and no envelope is ever held in memory: a zip
//! entry is deflated as it streams into its temporary archive.
//!
//! Nothing is fsynced: like other command-line tools the exporter leaves
//! flushing to the OS (an fsync of GBs would cost more than the export).
//! Atomicity against failures and Ctrl-C comes from the rename in `atomic`.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const BUFFER: usize = 256 * 1024;

/// A sequence of named entries written one after another.
pub trait EntrySink: Send {
    fn start(&mut self, name: &str) -> io::Result<()>;
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
    fn end(&mut self) -> io::Result<()>;
    /// Flushes everything; the entries are complete on disk afterwards.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Writes entries as files of a folder.
pub struct FolderSink {
    dir: PathBuf,
    current: Option<BufWriter<File>>,
}

impl FolderSink {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            current: None,
        }
    }
}

impl EntrySink for FolderSink {
    fn start(&mut self, name: &str) -> io::Result<()> {
        self.end()?;
        self.current = Some(BufWriter::with_capacity(BUFFER, File::create(self.dir.join(name))?));
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.current {
            Some(w) => w.write_all(bytes),
            None => Err(io::Error::other("write before start of entry")),
        }
    }

    fn end(&mut self) -> io::Result<()> {
        if let Some(mut w) = self.current.take() {
            w.flush()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.end()
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

/// Writes entries into a temporary zip (one per signal).
pub struct ZipSink {
    zip: ZipFile<File>,
    failed: Arc<AtomicBool>,
    options: SimpleFileOptions,
    buf: Vec<u8>,
}

impl ZipSink {
    pub fn create(path: &Path, style: ZipStyle) -> io::Result<Self> {
        let (zip, failed) = zip_over(File::create(path)?);
        Ok(Self {
            zip,
            failed,
            options: zip_options(style),
            buf: Vec::with_capacity(BUFFER),
        })
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.zip.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl EntrySink for ZipSink {
    fn start(&mut self, name: &str) -> io::Result<()> {
        self.flush_buf()?;
        self.zip.start_file(name, self.options).map_err(io::Error::other)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.buf.len() + bytes.len() > BUFFER {
            self.flush_buf()?;
            if bytes.len() >= BUFFER {
                return self.zip.write_all(bytes);
            }
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    fn end(&mut self) -> io::Result<()> {
        self.flush_buf()
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.flush_buf()?;
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
/// names) and a last small entry.
pub fn assemble_zip(file: &File, parts: &[ZipPart], last: (&str, &[u8]), style: ZipStyle) -> io::Result<()> {
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
    zip.write_all(last.1)?;
    finish_zip(zip, &failed)
}
