//! Writers around the JSON merge's output. [`Lines`] turns the array into
//! JSON Lines: the same elements in the same order, one per line, without
//! the brackets and the commas between them. [`Stdout`] writes the export
//! to stdout and counts what stdout took, so that an interrupt can say how
//! much of an incomplete export a reader got, and so that a closed pipe is
//! told apart from a failure elsewhere. [`Digest`] counts and, for
//! `--manifest`, hashes what goes through it.
//!
//! [`Lines`] relies on the array's framing (SPEC §5.1: `[` newline, the
//! elements separated by `,` newline, newline `]` newline) and on an element
//! never holding a raw newline (each is one line of compact JSON, strings
//! escaped: a raw newline cannot be in an input line, which is where the
//! element's strings come from). So every newline ends an element, the comma
//! before it is the separator, and a `]` at the start of a line closes the
//! array. Nothing is parsed again: one `memchr` pass and a copy.

use std::io::{self, IoSlice, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sha2::Digest as _;

/// Bytes the export wrote to stdout, and whether stdout's reader went away.
static STDOUT_BYTES: AtomicU64 = AtomicU64::new(0);
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Bytes of the export that stdout took so far (all of them in the pipe or
/// file behind it: [`Stdout`] does not buffer).
pub fn stdout_bytes() -> u64 {
    STDOUT_BYTES.load(Ordering::SeqCst)
}

/// Whether a write to stdout failed because its reader went away (`| head`).
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::SeqCst)
}

/// The process's stdout, written straight to its file descriptor (through
/// a duplicate of it, bypassing the line buffer of [`std::io::Stdout`]),
/// every byte it takes counted in [`stdout_bytes`]. Where there is no
/// descriptor to duplicate, `std::io::Stdout` itself.
pub struct Stdout {
    inner: Box<dyn Write + Send>,
}

impl Stdout {
    pub fn new() -> Self {
        #[cfg(unix)]
        if let Ok(fd) = rustix::io::dup(io::stdout()) {
            return Self {
                inner: Box::new(std::fs::File::from(fd)),
            };
        }
        Self {
            inner: Box::new(io::stdout()),
        }
    }

    fn counted(&self, r: io::Result<usize>) -> io::Result<usize> {
        match &r {
            Ok(n) => {
                STDOUT_BYTES.fetch_add(*n as u64, Ordering::SeqCst);
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => STDOUT_CLOSED.store(true, Ordering::SeqCst),
            Err(_) => {}
        }
        r
    }
}

impl Default for Stdout {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        self.counted(r)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let r = self.inner.write_vectored(bufs);
        self.counted(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        if r.as_ref().is_err_and(|e| e.kind() == io::ErrorKind::BrokenPipe) {
            STDOUT_CLOSED.store(true, Ordering::SeqCst);
        }
        r
    }
}

/// Passes writes on to `inner`, counting the bytes it took and, when asked,
/// hashing them (sha256): what a manifest says of a JSON export's file.
pub struct Digest<W: Write> {
    inner: W,
    hash: Option<sha2::Sha256>,
    bytes: u64,
}

impl<W: Write> Digest<W> {
    /// `hash`: compute the sha256 too (it costs CPU: only for a manifest).
    pub fn new(inner: W, hash: bool) -> Self {
        Self {
            inner,
            hash: hash.then(sha2::Sha256::new),
            bytes: 0,
        }
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The bytes written and their sha256 (zeros when not hashed).
    pub fn finish(self) -> (u64, [u8; 32]) {
        (self.bytes, self.hash.map_or([0; 32], |h| h.finalize().into()))
    }

    fn took(&mut self, bufs: &[IoSlice<'_>], mut n: usize) {
        self.bytes += n as u64;
        if let Some(h) = &mut self.hash {
            for b in bufs {
                if n == 0 {
                    break;
                }
                let part = &b[..n.min(b.len())];
                h.update(part);
                n -= part.len();
            }
        }
    }
}

impl<W: Write> Write for Digest<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.took(&[IoSlice::new(buf)], n);
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = self.inner.write_vectored(bufs)?;
        self.took(bufs, n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Where [`Lines`] is in the array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the newline after `[`.
    Open,
    /// In the elements; `true` at the start of a line.
    Body(bool),
    /// After the closing `]`: the rest is dropped.
    Closed,
}

/// Writes a JSON array, as the merge frames it, to `inner` as JSON Lines.
pub struct Lines<W: Write> {
    inner: W,
    state: State,
    /// A comma ended the last write: the separator if a newline follows.
    comma: bool,
}

impl<W: Write> Lines<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            state: State::Open,
            comma: false,
        }
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn feed(&mut self, mut b: &[u8]) -> io::Result<()> {
        while let Some(&first) = b.first() {
            match self.state {
                State::Closed => return Ok(()),
                State::Open => {
                    self.state = match first {
                        b'[' => State::Open,
                        b'\n' => State::Body(true),
                        b']' => State::Closed,
                        _ => return Err(io::Error::other("the JSON array does not start with [")),
                    };
                    b = &b[1..];
                }
                State::Body(true) if first == b']' => {
                    self.state = State::Closed;
                    b = &b[1..];
                }
                State::Body(_) => match memchr::memchr(b'\n', b) {
                    Some(i) => {
                        let line = &b[..i];
                        if !line.is_empty() && self.comma {
                            // The comma held back was inside the element.
                            self.inner.write_all(b",")?;
                        }
                        self.comma = false;
                        self.inner.write_all(line.strip_suffix(b",").unwrap_or(line))?;
                        self.inner.write_all(b"\n")?;
                        self.state = State::Body(true);
                        b = &b[i + 1..];
                    }
                    None => {
                        if self.comma {
                            self.inner.write_all(b",")?;
                        }
                        let (body, comma) = match b.strip_suffix(b",") {
                            Some(body) => (body, true),
                            None => (b, false),
                        };
                        self.inner.write_all(body)?;
                        self.comma = comma;
                        self.state = State::Body(false);
                        b = &[];
                    }
                },
            }
        }
        Ok(())
    }
}

impl<W: Write> Write for Lines<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.feed(buf)?;
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            self.feed(b)?;
            n += b.len();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `text` to [`Lines`] cut at every `step` bytes.
    fn lines(text: &[u8], step: usize) -> Vec<u8> {
        let mut l = Lines::new(Vec::new());
        for piece in text.chunks(step.max(1)) {
            l.write_all(piece).unwrap();
        }
        l.into_inner().unwrap()
    }

    #[test]
    fn lines_are_the_elements_of_the_array_however_the_writes_are_cut() {
        let array = b"[\n{\"a\":\"x,\\ny\",\"b\":[1,2]},\n{\"c\":\"]\"},\n{\"d\":{}}\n]\n";
        let want = b"{\"a\":\"x,\\ny\",\"b\":[1,2]}\n{\"c\":\"]\"}\n{\"d\":{}}\n";
        for step in 1..=array.len() {
            assert_eq!(
                String::from_utf8(lines(array, step)).unwrap(),
                String::from_utf8(want.to_vec()).unwrap(),
                "cut every {step} bytes"
            );
        }
        // Vectored, the way the merge writes.
        let mut l = Lines::new(Vec::new());
        let parts: Vec<IoSlice<'_>> = array.chunks(7).map(IoSlice::new).collect();
        assert_eq!(l.write_vectored(&parts).unwrap(), array.len());
        assert_eq!(l.into_inner().unwrap(), want);
    }

    #[test]
    fn digest_counts_and_hashes_what_the_inner_writer_took() {
        /// Takes at most 3 bytes a call, as a pipe may.
        struct Short(Vec<u8>);
        impl Write for Short {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = buf.len().min(3);
                self.0.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut d = Digest::new(Short(Vec::new()), true);
        let parts = [IoSlice::new(b"ab"), IoSlice::new(b"cdef")];
        assert_eq!(d.write_vectored(&parts).unwrap(), 2);
        d.write_all(b"cdefgh").unwrap();
        assert_eq!(d.bytes(), 8);
        let want: [u8; 32] = sha2::Sha256::digest(b"abcdefgh").into();
        assert_eq!(d.finish(), (8, want));
        let mut plain = Digest::new(Vec::new(), false);
        plain.write_all(b"abc").unwrap();
        assert_eq!(plain.finish(), (3, [0; 32]));
    }

    #[test]
    fn an_empty_array_is_no_lines_and_one_element_is_one_line() {
        for step in 1..4 {
            assert_eq!(lines(b"[]\n", step), b"");
            assert_eq!(lines(b"[\n{\"a\":1}\n]\n", step), b"{\"a\":1}\n");
        }
    }
}
