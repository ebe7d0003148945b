//! Files -> numbered, newline-aligned chunks of about `chunk_bytes`.
//!
//! A chunk is a byte range `[start, end)` of one file and owns every line whose
//! first byte lies in that range, so chunks can be read and parsed in any
//! order and on any thread: a reader starts one byte early to see whether a
//! line begins at `start`, and reads past `end` only to finish its last line.
//! A line longer than a chunk is read whole by the chunk where it begins; the
//! chunks inside it own nothing and read no further than their own range.
//!
//! Before chunking, each file's first non-blank line is read: a v1 header
//! gives the context every chunk of the file needs (§2.1), and a header with a
//! newer schema version makes the file unreadable (§2.3).
//!
//! Files are opened without following symbolic links and without blocking
//! (a FIFO swapped in after the listing must not hang the export), and only
//! a regular file is read (§7.1). Every chunk compares the file's size with
//! the size it had when selected: a file that got shorter is read as far as
//! it goes and the missing bytes are reported (§7.1), never silently lost.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use crate::row::{parse_tape, Context, Line, SUPPORTED_SCHEMA_VERSION};
use crate::store::StoreFile;

/// Bytes of padding simd-json may read past a line; the next lines of a chunk
/// or this zeroed tail provide them.
pub const PAD: usize = simd_json::INPUT_PADDING;

/// How much more to read at a time while finishing a line that crosses `end`.
const EXTEND: usize = 64 * 1024;

/// A header's context, owned, shared by every chunk of its file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OwnedHeader {
    pub schema_version: u64,
    pub fields: [Option<Box<str>>; 8],
    pub deployment_url: Option<Box<str>>,
}

impl OwnedHeader {
    fn from_context(schema_version: u64, c: &Context<'_>) -> Self {
        Self {
            schema_version,
            fields: c.fields.map(|f| f.map(Box::from)),
            deployment_url: c.deployment_url.map(Box::from),
        }
    }

    pub fn context(&self) -> Context<'_> {
        Context {
            fields: std::array::from_fn(|i| self.fields[i].as_deref()),
            deployment_url: self.deployment_url.as_deref(),
        }
    }
}

/// A selected file, ready to be cut into chunks.
#[derive(Debug)]
pub struct FilePlan {
    pub file: StoreFile,
    /// The header, when the first non-blank line is a valid one.
    pub header: Option<OwnedHeader>,
    /// File offset of the header line, which chunks skip.
    pub header_offset: Option<u64>,
}

/// Why a whole file is skipped.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read file: {0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Shrunk(Shrunk),
    #[error("unsupported schema_version {0} in the header (this exporter reads up to {SUPPORTED_SCHEMA_VERSION})")]
    UnsupportedSchema(u64),
}

/// One unit of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkJob {
    /// Index into the plan list.
    pub file: usize,
    pub start: u64,
    pub end: u64,
}

/// Cuts every file into jobs of about `chunk_bytes`, in file order.
pub fn jobs_for(plans: &[FilePlan], chunk_bytes: u64, file: usize) -> impl Iterator<Item = ChunkJob> + '_ {
    let size = plans[file].file.size;
    let n = size.div_ceil(chunk_bytes.max(1));
    (0..n).map(move |i| ChunkJob {
        file,
        start: i * chunk_bytes,
        end: ((i + 1) * chunk_bytes).min(size),
    })
}

/// A file that got shorter after it was selected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shrunk {
    /// Its size when the export selected it.
    pub selected: u64,
    /// Its size when a chunk of it was read.
    pub now: u64,
}

impl std::fmt::Display for Shrunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the file got shorter while it was read: it had {} bytes when the export started and {} when read; \
             bytes {}..{} were not exported",
            self.selected, self.now, self.now, self.selected
        )
    }
}

/// Opens a store file for reading: never follows a symbolic link, never
/// blocks (on a FIFO), and refuses anything but a regular file.
pub fn open_regular(path: &std::path::Path) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let f = o.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return io::Error::other("it is a symbolic link (not followed)");
        }
        e
    })?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file (skipped without reading it)"));
    }
    Ok(f)
}

/// The bytes of one chunk, with the lines it owns located.
pub struct ChunkBuf {
    /// Data followed by [`PAD`] zero bytes.
    pub buf: Vec<u8>,
    /// Length of the data (without padding).
    pub len: usize,
    /// Offset in `buf` of the first owned line.
    pub first: usize,
    /// Lines starting at or after this offset belong to the next chunk.
    pub limit: usize,
    /// File offset of `buf[0]`.
    pub base: u64,
    /// Whether the data runs to the end of the file (the last line may lack a newline).
    pub at_eof: bool,
    /// Set when the file is now shorter than when it was selected.
    pub shrunk: Option<Shrunk>,
}

impl ChunkBuf {
    fn empty(base: u64, shrunk: Option<Shrunk>) -> Self {
        ChunkBuf {
            buf: vec![0; PAD],
            len: 0,
            first: 0,
            limit: 0,
            base,
            at_eof: false,
            shrunk,
        }
    }
}

fn read_up_to(f: &mut File, buf: &mut Vec<u8>, n: usize) -> io::Result<usize> {
    let before = buf.len();
    f.take(n as u64).read_to_end(buf)?;
    Ok(buf.len() - before)
}

/// Reads the lines a job owns, up to the file's selected size.
pub fn read_chunk(path: &std::path::Path, start: u64, end: u64, size: u64) -> io::Result<ChunkBuf> {
    read_chunk_into(path, start, end, size, Vec::new())
}

/// [`read_chunk`] into a buffer the caller reuses from chunk to chunk.
pub fn read_chunk_into(
    path: &std::path::Path,
    start: u64,
    end: u64,
    size: u64,
    mut buf: Vec<u8>,
) -> io::Result<ChunkBuf> {
    let mut f = open_regular(path)?;
    let now = f.metadata()?.len();
    // A file that shrank is read as far as it goes, and says so.
    let shrunk = (now < size).then_some(Shrunk { selected: size, now });
    let size = size.min(now);
    let from = start.saturating_sub(1);
    if from >= size {
        return Ok(ChunkBuf::empty(from, shrunk));
    }
    f.seek(SeekFrom::Start(from))?;
    let want = (end.min(size) - from) as usize;
    buf.clear();
    buf.reserve(want + EXTEND + PAD);
    let got = read_up_to(&mut f, &mut buf, want)?;
    // It may still shrink while being read: what is there is read.
    let shrunk = match shrunk {
        None if got < want => Some(Shrunk {
            selected: size,
            now: from + got as u64,
        }),
        s => s,
    };
    let end = from + got as u64;
    let first = if start == 0 {
        0
    } else {
        match memchr::memchr(b'\n', &buf) {
            Some(i) => i + 1,
            None => return Ok(ChunkBuf::empty(from, shrunk)),
        }
    };
    let limit = (end - from) as usize;
    if first >= limit {
        return Ok(ChunkBuf::empty(from, shrunk));
    }
    // Finish the last owned line.
    let mut pos = from + got as u64;
    while buf.last() != Some(&b'\n') && pos < size {
        let scan_from = buf.len();
        let n = read_up_to(&mut f, &mut buf, EXTEND.min((size - pos) as usize))?;
        if n == 0 {
            break;
        }
        pos += n as u64;
        if let Some(i) = memchr::memchr(b'\n', &buf[scan_from..]) {
            buf.truncate(scan_from + i + 1);
            pos = from + buf.len() as u64;
            break;
        }
    }
    let len = buf.len();
    buf.resize(len + PAD, 0);
    Ok(ChunkBuf {
        buf,
        len,
        first,
        limit,
        base: from,
        at_eof: pos >= size,
        shrunk,
    })
}

/// Reads the header of a file, if its first non-blank line is one.
pub fn prepare(file: StoreFile) -> Result<FilePlan, Box<(StoreFile, FileError)>> {
    match read_header(&file) {
        Ok((header, header_offset)) => Ok(FilePlan {
            file,
            header,
            header_offset,
        }),
        Err(e) => Err(Box::new((file, e))),
    }
}

fn read_header(file: &StoreFile) -> Result<(Option<OwnedHeader>, Option<u64>), FileError> {
    if file.size == 0 {
        // Still prove the file can be opened: an unreadable file is reported.
        open_regular(&file.path)?;
        return Ok((None, None));
    }
    // Read block by block until the first non-blank line (a BOM and blank lines may come first).
    let mut chunk = read_chunk(&file.path, 0, file.size.min(EXTEND as u64), file.size)?;
    if let Some(s) = chunk.shrunk.filter(|s| s.now == 0) {
        // Emptied since it was selected: nothing of it can be exported.
        return Err(FileError::Shrunk(s));
    }
    let mut pos = 0;
    loop {
        if pos >= chunk.len {
            if chunk.at_eof || chunk.base + chunk.len as u64 >= file.size {
                return Ok((None, None));
            }
            // Only blank lines so far: read the next block.
            let next = chunk.base + chunk.len as u64;
            chunk = read_chunk(&file.path, next, (next + EXTEND as u64).min(file.size), file.size)?;
            pos = chunk.first;
            continue;
        }
        let (start, end, next) = line_at(&chunk, pos);
        if start == end {
            pos = next;
            continue;
        }
        let offset = chunk.base + pos as u64;
        let mut tape = simd_json::Tape::null();
        let mut buffers = simd_json::Buffers::new(end - start);
        let mut buf = chunk.buf;
        crate::row::fix_lone_surrogates(&mut buf[start..end]);
        if simd_json::fill_tape_padded(&mut buf[start..], end - start, &mut buffers, &mut tape).is_err() {
            return Ok((None, None));
        }
        return match parse_tape(&tape.0) {
            Ok(Line::Header(h)) if h.schema_version > SUPPORTED_SCHEMA_VERSION => {
                Err(FileError::UnsupportedSchema(h.schema_version))
            }
            Ok(Line::Header(h)) => Ok((
                Some(OwnedHeader::from_context(h.schema_version, &h.context)),
                Some(offset),
            )),
            _ => Ok((None, None)),
        };
    }
}

/// The line starting at `pos`: (content start, content end, next line start).
/// The content excludes the newline, a `\r` before it, a leading BOM at file
/// offset 0 and surrounding blanks are left for the caller to judge.
#[inline]
pub fn line_at(c: &ChunkBuf, pos: usize) -> (usize, usize, usize) {
    let data = &c.buf[..c.len];
    let (mut end, next) = match memchr::memchr(b'\n', &data[pos..]) {
        Some(i) => (pos + i, pos + i + 1),
        None => (c.len, c.len),
    };
    if end > pos && data[end - 1] == b'\r' {
        end -= 1;
    }
    let mut start = pos;
    if c.base + pos as u64 == 0 && data[pos..end].starts_with(b"\xEF\xBB\xBF") {
        start += 3;
    }
    // Whitespace-only lines are blank.
    if data[start..end].iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
        return (start, start, next);
    }
    (start, end, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_of(path: &std::path::Path, size: u64, chunk: u64) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        let mut s = 0;
        while s < size {
            let e = (s + chunk).min(size);
            let c = read_chunk(path, s, e, size).unwrap();
            let mut pos = c.first;
            while pos < c.limit && pos < c.len {
                let (a, b, next) = line_at(&c, pos);
                out.push((c.base + pos as u64, String::from_utf8_lossy(&c.buf[a..b]).into_owned()));
                pos = next;
            }
            s = e;
        }
        out
    }

    #[test]
    fn every_line_is_owned_by_exactly_one_chunk_whatever_the_chunk_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let text =
            "\u{feff}first\r\n\nsecond line\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx long\n\nlast-no-newline";
        std::fs::File::create(&p).unwrap().write_all(text.as_bytes()).unwrap();
        let size = text.len() as u64;
        let whole = lines_of(&p, size, 1 << 20);
        assert_eq!(
            whole.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(),
            [
                "first",
                "",
                "second line",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx long",
                "",
                "last-no-newline"
            ]
        );
        for chunk in 1..size + 2 {
            assert_eq!(lines_of(&p, size, chunk), whole, "chunk size {chunk}");
        }
    }

    #[test]
    fn reading_stops_at_the_selected_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "a\nbb\nccc\n").unwrap();
        // The file grew after selection: only its first 4 bytes ("a\nbb") were selected.
        let lines = lines_of(&p, 4, 2);
        assert_eq!(lines.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(), ["a", "bb"]);
    }
}
