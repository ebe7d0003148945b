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
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

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

/// Deflate options for every entry: large-file mode, since an envelope can
/// exceed 4 GiB.
pub fn zip_options(level: i64) -> SimpleFileOptions {
    let method = if level == 0 {
        CompressionMethod::Stored
    } else {
        CompressionMethod::Deflated
    };
    SimpleFileOptions::default()
        .compression_method(method)
        .compression_level((level > 0).then_some(level))
        .large_file(true)
}

/// Writes entries into a temporary zip (one per signal).
pub struct ZipSink {
    zip: ZipWriter<BufWriter<File>>,
    options: SimpleFileOptions,
    buf: Vec<u8>,
}

impl ZipSink {
    pub fn create(path: &Path, level: i64) -> io::Result<Self> {
        let file = BufWriter::with_capacity(BUFFER, File::create(path)?);
        Ok(Self {
            zip: ZipWriter::new(file),
            options: zip_options(level),
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
        let mut inner = self.zip.finish().map_err(io::Error::other)?;
        inner.flush()?;
        Ok(())
    }
}

/// Builds the final archive from the per-signal temporary zips (copying their
/// compressed bytes, not recompressing) and a last small entry.
pub fn assemble_zip(target: &Path, parts: &[PathBuf], last: (&str, &[u8]), level: i64) -> io::Result<()> {
    let file = BufWriter::with_capacity(BUFFER, File::create(target)?);
    let mut zip = ZipWriter::new(file);
    for p in parts {
        let archive = zip::ZipArchive::new(File::open(p)?).map_err(io::Error::other)?;
        zip.merge_archive(archive).map_err(io::Error::other)?;
    }
    zip.start_file(last.0, zip_options(level)).map_err(io::Error::other)?;
    zip.write_all(last.1)?;
    let mut inner = zip.finish().map_err(io::Error::other)?;
    inner.flush()?;
    Ok(())
}
