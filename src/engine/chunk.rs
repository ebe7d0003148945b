//! Chunks: byte ranges of the selected files, each parsed by one worker,
//! read as newline-aligned buffers with their file's header.
//!
//! A chunk is a range `[start, end)` of one file and owns every line whose
//! first byte lies in it, so chunks can be read and parsed in any order and
//! on any thread: a reader starts one byte early to see whether a line
//! begins at `start`, and reads past `end` only to finish its last line. A
//! line longer than a chunk is read whole by the chunk where it begins, up to
//! `--max-line-bytes`: a longer one is skipped and reported without being
//! held (SPEC §7.1, §9.1); the chunks inside it own nothing.
//!
//! Every chunk reads its file's header itself (the first non-blank line): a
//! v1 header gives the context its rows need (§2.1), and a header with a
//! newer schema version makes the file unreadable (§2.3). Nothing is kept
//! per file between chunks, so 300,000 files cost no more than 3.
//!
//! Files are opened without following symbolic links and without blocking
//! (a FIFO swapped in after the listing must not hang the export), and only
//! a regular file is read (§7.1). Every chunk compares the file's size with
//! the size it had when selected: a file that got shorter is read as far as
//! it goes and the missing bytes are reported (§7.1), never silently lost.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::Path;

use crate::row::{parse_tape, Context, Line, SUPPORTED_SCHEMA_VERSION};

/// Bytes of padding simd-json may read past a line; the next lines of a chunk
/// or this zeroed tail provide them.
pub const PAD: usize = simd_json::INPUT_PADDING;

/// The most to read at a time while finishing a line that crosses `end`
/// (from [`FIRST_EXTEND`], doubling).
const EXTEND: usize = 64 * 1024;
/// The first read past a chunk's end, to finish its last line.
const FIRST_EXTEND: usize = 1024;

/// One chunk: a byte range of one file, read and parsed by one worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Index into the selected files.
    pub file: usize,
    pub start: u64,
    pub end: u64,
}

impl Chunk {
    pub fn bytes(&self) -> u64 {
        self.end - self.start
    }
}

/// Cuts a file of `size` bytes into chunks of about `chunk_bytes` bytes.
pub fn chunks_of(file: usize, size: u64, chunk_bytes: u64) -> impl Iterator<Item = Chunk> {
    let chunk_bytes = chunk_bytes.max(1);
    (0..size.div_ceil(chunk_bytes)).map(move |i| Chunk {
        file,
        start: i * chunk_bytes,
        end: ((i + 1) * chunk_bytes).min(size),
    })
}

/// A header's context, owned, for the rows of its file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OwnedHeader {
    pub schema_version: u64,
    fields: [Option<Box<str>>; 8],
    deployment_url: Option<Box<str>>,
}

impl OwnedHeader {
    fn from_context(schema_version: u64, c: &Context<'_>) -> Self {
        Self {
            schema_version,
            fields: c.fields().map(|f| f.map(Box::from)),
            deployment_url: c.deployment_url.map(Box::from),
        }
    }

    /// A header of `schema_version` whose only field is `session_id`.
    #[cfg(any(test, feature = "internals"))]
    pub fn with_session(schema_version: u64, session_id: &str) -> Self {
        let mut h = Self {
            schema_version,
            ..Self::default()
        };
        h.fields[2] = Some(session_id.into());
        h
    }

    pub fn context(&self) -> Context<'_> {
        let f = |i: usize| self.fields[i].as_deref();
        Context {
            extension_version: f(0),
            machine_id: f(1),
            session_id: f(2),
            os_type: f(3),
            os_version: f(4),
            host_arch: f(5),
            platform_name: f(6),
            platform_version: f(7),
            deployment_url: self.deployment_url.as_deref(),
        }
    }
}

/// A file's header, as a chunk sees it.
#[derive(Clone, Debug, Default)]
pub struct Header {
    /// The context, when the first non-blank line is a valid header.
    pub header: Option<OwnedHeader>,
    /// File offset of the header line, which the chunk holding it skips.
    pub offset: Option<u64>,
}

/// Why a whole file is skipped.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read file: {0}")]
    Io(#[from] io::Error),
    #[error("unsupported schema_version {0} in the header (this exporter reads up to {SUPPORTED_SCHEMA_VERSION})")]
    UnsupportedSchema(u64),
    #[error("{0}")]
    Shrunk(Shrunk),
}

impl FileError {
    /// The reason without the particulars, for the tally by reason.
    pub fn kind(&self) -> &'static str {
        match self {
            FileError::Io(_) => "cannot read file",
            FileError::UnsupportedSchema(_) => "unsupported schema_version",
            FileError::Shrunk(_) => "file got shorter while read",
        }
    }
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
/// blocks (on a FIFO), and refuses anything but a regular file. Returns the
/// file and its size now (one `fstat` for both).
pub fn open_regular(path: &Path) -> io::Result<(File, u64)> {
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
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file (skipped without reading it)"));
    }
    Ok((f, meta.len()))
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
    /// The chunk owns one more line after the data, longer than
    /// `--max-line-bytes`: it was not read.
    pub oversize: bool,
}

impl ChunkBuf {
    fn empty(base: u64, shrunk: Option<Shrunk>, buf: Vec<u8>) -> Self {
        let mut buf = buf;
        buf.clear();
        buf.resize(PAD, 0);
        ChunkBuf {
            buf,
            len: 0,
            first: 0,
            limit: 0,
            base,
            at_eof: false,
            shrunk,
            oversize: false,
        }
    }

    /// A chunk of the bytes of `lines` (for tests and the fuzz probe).
    #[cfg(any(test, feature = "internals"))]
    pub fn of(lines: &[u8], base: u64) -> Self {
        let mut buf = lines.to_vec();
        let len = buf.len();
        buf.resize(len + PAD, 0);
        ChunkBuf {
            buf,
            len,
            first: 0,
            limit: len,
            base,
            at_eof: true,
            shrunk: None,
            oversize: false,
        }
    }
}

fn read_up_to(f: &mut File, buf: &mut Vec<u8>, n: usize) -> io::Result<usize> {
    // One `read` for the usual chunk, straight into the spare capacity:
    // `read_to_end` starts at 8 KiB and doubles (a dozen calls for 1 MiB),
    // and zeroing the bytes first to read into them safely costs a pass
    // over every byte.
    buf.reserve(n);
    let mut got = 0;
    while got < n {
        let spare = &mut buf.spare_capacity_mut()[..n - got];
        match rustix::io::read(&*f, spare) {
            Ok(([], _)) => break,
            Ok((init, _)) => {
                let k = init.len();
                // SAFETY: `read` initialised the first `k` bytes of the
                // spare capacity, which follow the buffer's bytes.
                unsafe { buf.set_len(buf.len() + k) };
                got += k;
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(got)
}

/// Reads the lines a chunk owns, up to the file's selected `size`, into a
/// buffer the caller reuses from chunk to chunk. A line longer than
/// `max_line` is not read (see [`ChunkBuf::oversize`]).
#[cfg(any(test, feature = "internals"))]
pub fn read_chunk(path: &Path, chunk: Chunk, size: u64, max_line: usize, buf: Vec<u8>) -> io::Result<ChunkBuf> {
    let (mut f, now) = open_regular(path)?;
    read_chunk_in(&mut f, now, chunk, size, max_line, buf)
}

/// [`read_chunk`] from a file already open ([`open_regular`]) that holds
/// `now` bytes: a chunk opens its file once for its header and its lines.
pub fn read_chunk_in(f: &mut File, now: u64, chunk: Chunk, size: u64, max_line: usize, buf: Vec<u8>) -> io::Result<ChunkBuf> {
    let mut buf = buf;
    // A file that shrank is read as far as it goes, and says so.
    let shrunk = (now < size).then_some(Shrunk { selected: size, now });
    let size = size.min(now);
    let from = chunk.start.saturating_sub(1);
    if from >= size {
        return Ok(ChunkBuf::empty(from, shrunk, buf));
    }
    f.seek(SeekFrom::Start(from))?;
    let want = (chunk.end.min(size) - from) as usize;
    buf.clear();
    buf.reserve(want + EXTEND + PAD);
    let got = read_up_to(f, &mut buf, want)?;
    // It may still shrink while being read: what is there is read.
    let shrunk = match shrunk {
        None if got < want => Some(Shrunk {
            selected: size,
            now: from + got as u64,
        }),
        s => s,
    };
    let end = from + got as u64;
    let first = if chunk.start == 0 {
        0
    } else {
        match memchr::memchr(b'\n', &buf) {
            Some(i) => i + 1,
            None => return Ok(ChunkBuf::empty(from, shrunk, buf)),
        }
    };
    let limit = (end - from) as usize;
    if first >= limit {
        return Ok(ChunkBuf::empty(from, shrunk, buf));
    }
    // Finish the last owned line, unless it is longer than max_line.
    let last_start = memchr::memrchr(b'\n', &buf[first..limit]).map_or(first, |i| first + i + 1);
    let mut pos = from + got as u64;
    let mut oversize = false;
    // A line is a few hundred bytes: read a little past the chunk first,
    // more only for a longer line (64 KiB past every chunk's end was three
    // times the size of the JSON merge's small chunks).
    let mut extend = FIRST_EXTEND;
    while buf.last() != Some(&b'\n') && pos < size {
        let line = buf.len() - last_start;
        if line > max_line {
            // Past the limit: the line is skipped, the rest not read.
            buf.truncate(last_start);
            oversize = true;
            break;
        }
        let scan_from = buf.len();
        // Never more than one byte past the limit: that byte proves it.
        let step = extend.min((size - pos) as usize).min(max_line + 1 - line);
        extend = (extend * 2).min(EXTEND);
        let n = read_up_to(f, &mut buf, step)?;
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
        limit: limit.min(len),
        base: from,
        at_eof: !oversize && pos >= size,
        shrunk,
        oversize,
    })
}

/// Reads the header of a file of `size` bytes, if its first non-blank line is one.
#[cfg(any(test, feature = "internals"))]
pub fn read_header(path: &Path, size: u64, max_line: usize) -> Result<Header, FileError> {
    let (mut f, now) = open_regular(path)?;
    read_header_in(&mut f, now, size, max_line, &mut Vec::new())
}

/// The first block read for a header: a header line is a few hundred bytes.
const HEAD_BLOCK: u64 = 1024;

/// [`read_header`] from a file already open that holds `now` bytes, read
/// through `scratch` (a buffer the caller keeps from chunk to chunk).
pub fn read_header_in(f: &mut File, now: u64, size: u64, max_line: usize, scratch: &mut Vec<u8>) -> Result<Header, FileError> {
    if size == 0 {
        // The file was opened: an unreadable one is reported by the caller.
        return Ok(Header::default());
    }
    // Block by block until the first non-blank line (a BOM and blank lines
    // may come first); a longer line is read on to its end.
    let mut block = Chunk {
        file: 0,
        start: 0,
        end: size.min(HEAD_BLOCK),
    };
    let mut chunk = read_chunk_in(f, now, block, size, max_line, std::mem::take(scratch))?;
    if let Some(s) = chunk.shrunk.filter(|s| s.now == 0) {
        // Emptied since it was selected: nothing of it can be exported.
        *scratch = chunk.buf;
        return Err(FileError::Shrunk(s));
    }
    let mut pos = chunk.first;
    let header = loop {
        if pos >= chunk.len {
            if chunk.oversize || chunk.at_eof || chunk.base + chunk.len as u64 >= size {
                break Ok(Header::default());
            }
            // Only blank lines so far: read the next block.
            block.start = chunk.base + chunk.len as u64;
            block.end = (block.start + EXTEND as u64).min(size);
            chunk = read_chunk_in(f, now, block, size, max_line, chunk.buf)?;
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
        let buf = &mut chunk.buf;
        crate::row::fix_lone_surrogates(&mut buf[start..end]);
        if simd_json::fill_tape_padded(&mut buf[start..], end - start, &mut buffers, &mut tape).is_err() {
            break Ok(Header::default());
        }
        break match parse_tape(&tape.0) {
            Ok(Line::Header(h)) if h.schema_version > SUPPORTED_SCHEMA_VERSION => {
                Err(FileError::UnsupportedSchema(h.schema_version))
            }
            Ok(Line::Header(h)) => Ok(Header {
                header: Some(OwnedHeader::from_context(h.schema_version, &h.context)),
                offset: Some(offset),
            }),
            _ => Ok(Header::default()),
        };
    };
    *scratch = chunk.buf;
    header
}

/// The line starting at `pos`: (content start, content end, next line start).
/// The content excludes the newline, a `\r` before it, and a BOM at file
/// offset 0; a line of blanks only comes back empty.
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
    if data[start..end].iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
        return (start, start, next);
    }
    (start, end, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_of(path: &Path, size: u64, chunk_bytes: u64, max_line: usize) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        for chunk in chunks_of(0, size, chunk_bytes) {
            let c = read_chunk(path, chunk, size, max_line, Vec::new()).unwrap();
            let mut pos = c.first;
            while pos < c.limit && pos < c.len {
                let (a, b, next) = line_at(&c, pos);
                out.push((c.base + pos as u64, String::from_utf8_lossy(&c.buf[a..b]).into_owned()));
                pos = next;
            }
            if c.oversize {
                out.push((c.base + c.len as u64, "<oversize>".into()));
            }
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
        let whole = lines_of(&p, size, 1 << 20, 1 << 20);
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
        for chunk_bytes in 1..size + 2 {
            assert_eq!(lines_of(&p, size, chunk_bytes, 1 << 20), whole, "chunk size {chunk_bytes}");
        }
    }

    #[test]
    fn a_line_longer_than_the_limit_is_not_read_and_owned_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let long = "y".repeat(10_000);
        let text = format!("a\n{long}\nb\n");
        std::fs::write(&p, &text).unwrap();
        let size = text.len() as u64;
        for chunk_bytes in [1u64, 7, 100, 4096, 1 << 20] {
            let got = lines_of(&p, size, chunk_bytes, 1000);
            let names: Vec<&str> = got
                .iter()
                .map(|x| if x.1.len() > 1000 { "read!" } else { x.1.as_str() })
                .collect();
            // Chunks smaller than the line skip it at the limit; a chunk
            // holding all of it reads it (it is in the chunk already).
            assert!(names == ["a", "<oversize>", "b"] || names == ["a", "read!", "b"], "{chunk_bytes}: {names:?}");
            if chunk_bytes < 1000 {
                assert_eq!(names, ["a", "<oversize>", "b"], "{chunk_bytes}");
            }
        }
    }

    #[test]
    fn reading_stops_at_the_selected_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "a\nbb\nccc\n").unwrap();
        // The file grew after selection: only its first 4 bytes ("a\nbb") were selected.
        let lines = lines_of(&p, 4, 2, 1 << 20);
        assert_eq!(lines.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(), ["a", "bb"]);
    }
}
