//! Envelope writers: records in, complete OTLP/JSON requests out, in the
//! layout asked for (SPEC §6.2).
//!
//! - `auto` (the default): written as `split`; a signal that ended within
//!   its first request is then named `logs.json`, as `single` names it. Every
//!   file can be POSTed, at any store size.
//! - `single`: one request per signal (`logs.json`).
//! - `split`: numbered parts (`logs.0001.json`), each a complete request of at
//!   most `max_request_bytes`.
//! - `jsonl`: `logs.jsonl`, one complete request per line, each line (newline
//!   included) at most `max_request_bytes`.
//!
//! A resource block that does not fit is closed and continued in the next
//! request with the same resource and scope. A record that cannot fit even
//! alone is written alone in its own request and counted as oversize. Each
//! file's records are counted here and its bytes and sha256 by the sink
//! (§6.7). A name decided only at the end (`auto`) is reported beside the
//! name the file was written under; packaging renames it.
//!
//! A send's requests may be OTLP/protobuf instead ([`Encoding`]): the same
//! cuts, with each request assembled in memory (it is at most the cap), as
//! a block's length prefixes are only known once its last record is in.

use std::io;

use super::sink::Spooled;
use crate::encode::{protobuf, Encoding};
use crate::model::{BlockHead, Origins, RecordId, Signal};

/// `--layout`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    #[default]
    Auto,
    Single,
    Split,
    Jsonl,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Auto => "auto",
            Layout::Single => "single",
            Layout::Split => "split",
            Layout::Jsonl => "jsonl",
        }
    }

    /// Whether requests are cut at the request cap.
    pub fn limited(self) -> bool {
        self != Layout::Single
    }
}

const BLOCK_CLOSE: &[u8] = b"]}]}";
const REQUEST_CLOSE: &[u8] = b"]}\n";

/// One file of an export, as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    /// Its name in the export.
    pub name: String,
    /// The name it was written under (differs for `auto`'s single file).
    pub written: String,
    pub bytes: u64,
    /// Log records, spans or data points in it.
    pub records: u64,
    pub sha256: [u8; 32],
}

impl EntryInfo {
    pub fn sha256_hex(&self) -> String {
        super::sink::sha256_hex(&self.sha256)
    }
}

/// What a finished writer reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriterSummary {
    /// Files written, in order.
    pub files: Vec<EntryInfo>,
    /// Requests written.
    pub requests: u64,
    /// Records larger than the request cap, written alone.
    pub oversize: u64,
    /// Records left out because the journal of a send holds them.
    pub journalled: u64,
}

/// Where the writer is in the stream of requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No request open.
    Between,
    /// A request is open with `blocks` blocks, the last one still open or not.
    Request {
        bytes: usize,
        records: usize,
        blocks: usize,
        block_open: bool,
    },
}

/// Writes one signal's requests into a sink.
pub struct EnvelopeWriter {
    signal: Signal,
    layout: Layout,
    cap: usize,
    sink: Spooled,
    state: State,
    /// The head of the current block, written when its first record is.
    head: Option<BlockHead>,
    /// Name and records of the file being written, for `jsonl` across requests.
    entry: Option<(String, u64)>,
    /// Files done: (name, records).
    entries: Vec<(String, u64)>,
    requests: u64,
    oversize: u64,
    /// The records of the open entry, when they are tracked (`send`).
    origins: Option<Origins>,
    encoding: Encoding,
    /// OTLP/protobuf: the request being assembled, and where the open
    /// block's reserved head starts in it.
    request: Vec<u8>,
    block_at: usize,
}

impl EnvelopeWriter {
    pub fn new(signal: Signal, layout: Layout, max_request_bytes: usize, sink: Spooled) -> Self {
        Self {
            signal,
            layout,
            cap: max_request_bytes,
            sink,
            state: State::Between,
            head: None,
            entry: None,
            entries: Vec::new(),
            requests: 0,
            oversize: 0,
            origins: None,
            encoding: Encoding::Json,
            request: Vec::new(),
            block_at: 0,
        }
    }

    /// Writes the requests in `encoding` (OTLP/JSON by default).
    pub fn encoded(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Tracks which records each entry holds ([`Self::note`]); its sink is
    /// told at the end of each entry.
    pub fn tracking_origins(mut self) -> Self {
        self.origins = Some(Origins::default());
        self
    }

    /// The record just written is `id` (only when tracking).
    pub fn note(&mut self, id: RecordId) {
        if let Some(o) = &mut self.origins {
            o.push(id);
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.put_parts(&[bytes], bytes.len())
    }

    /// Appends `parts`, `len` bytes in all, to the request: a metric
    /// entry is a few small pieces per point, handed over in one call.
    fn put_parts(&mut self, parts: &[&[u8]], len: usize) -> io::Result<()> {
        debug_assert_eq!(len, parts.iter().map(|p| p.len()).sum::<usize>());
        if let State::Request { bytes: b, .. } = &mut self.state {
            *b += len;
        }
        match self.encoding {
            Encoding::Json => self.sink.write_parts(parts),
            Encoding::Protobuf => {
                self.request.reserve(len);
                for p in parts {
                    self.request.extend_from_slice(p);
                }
                Ok(())
            }
        }
    }

    /// Bytes between two records of a block.
    fn record_sep_len(&self) -> usize {
        match self.encoding {
            Encoding::Json => 1,
            Encoding::Protobuf => 0,
        }
    }

    /// Bytes that closing a block and its request write.
    fn close_len(&self) -> usize {
        match self.encoding {
            Encoding::Json => BLOCK_CLOSE.len() + REQUEST_CLOSE.len(),
            Encoding::Protobuf => 0,
        }
    }

    fn block_sep(&self) -> &'static [u8] {
        if self.layout == Layout::Jsonl {
            b","
        } else {
            b",\n"
        }
    }

    /// Bytes that opening the current block would write.
    fn block_open_len(&self) -> usize {
        let h = self.head.as_ref().map_or(0, |h| h.resource.len() + h.scope.len());
        if self.encoding == Encoding::Protobuf {
            return h + protobuf::BLOCK_HEAD_MAX;
        }
        let sep = match self.state {
            State::Request { blocks, .. } if blocks > 0 => self.block_sep().len(),
            _ => 0,
        };
        sep + h + self.signal.scopes_field().len() + self.signal.records_field().len() + 32
    }

    /// Bytes a block costs around its records: open and close.
    pub fn block_framing(&self) -> usize {
        match self.encoding {
            Encoding::Json => self.block_open_len() + self.close_len() + self.signal.resources_field().len() + 8,
            Encoding::Protobuf => self.block_open_len(),
        }
    }

    /// The signal whose requests this writes.
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// `logs.json`: the name of a signal's only document.
    fn single_name(&self) -> String {
        format!("{}.json", self.signal.name())
    }

    fn start_entry(&mut self, name: String) -> io::Result<()> {
        self.sink.start(&name)?;
        self.entry = Some((name, 0));
        Ok(())
    }

    fn end_entry(&mut self) -> io::Result<()> {
        if let Some(e) = self.entry.take() {
            let origins = self.origins.as_mut().map(std::mem::take).unwrap_or_default();
            self.sink.end(e.1, origins)?;
            self.entries.push(e);
        }
        Ok(())
    }

    fn open_request(&mut self) -> io::Result<()> {
        match self.layout {
            Layout::Single => self.start_entry(self.single_name())?,
            Layout::Split | Layout::Auto => {
                let name = format!("{}.{:04}.json", self.signal.name(), self.requests + 1);
                self.start_entry(name)?;
            }
            Layout::Jsonl if self.entry.is_none() => self.start_entry(format!("{}.jsonl", self.signal.name()))?,
            Layout::Jsonl => {}
        }
        self.state = State::Request {
            bytes: 0,
            records: 0,
            blocks: 0,
            block_open: false,
        };
        if self.encoding == Encoding::Protobuf {
            return Ok(());
        }
        let open = format!("{{\"{}\":[", self.signal.resources_field());
        self.put(open.as_bytes())
    }

    fn close_block(&mut self) -> io::Result<()> {
        if let State::Request { block_open: true, .. } = self.state {
            match self.encoding {
                Encoding::Json => self.put(BLOCK_CLOSE)?,
                Encoding::Protobuf => self.frame_block()?,
            }
            if let State::Request { block_open, .. } = &mut self.state {
                *block_open = false;
            }
        }
        Ok(())
    }

    /// OTLP/protobuf: writes the open block's head into the room reserved
    /// for it before its records, now that their length is known.
    fn frame_block(&mut self) -> io::Result<()> {
        let Some(head) = &self.head else {
            return Err(io::Error::other("a block closed without its resource"));
        };
        let reserved = head.resource.len() + head.scope.len() + protobuf::BLOCK_HEAD_MAX;
        let records = self.block_at + reserved;
        let mut framed = Vec::with_capacity(reserved);
        protobuf::block_head(&mut framed, &head.resource, &head.scope, self.request.len() - records);
        let end = self.request.len();
        self.request.copy_within(records..end, self.block_at + framed.len());
        self.request[self.block_at..self.block_at + framed.len()].copy_from_slice(&framed);
        self.request.truncate(end - (reserved - framed.len()));
        Ok(())
    }

    fn close_request(&mut self) -> io::Result<()> {
        self.close_block()?;
        match self.encoding {
            Encoding::Json => self.put(REQUEST_CLOSE)?,
            Encoding::Protobuf => {
                self.sink.write_owned(&mut self.request)?;
            }
        }
        self.state = State::Between;
        self.requests += 1;
        if self.layout != Layout::Jsonl {
            self.end_entry()?;
        }
        Ok(())
    }

    fn open_block(&mut self) -> io::Result<()> {
        if self.encoding == Encoding::Protobuf {
            // Room for the head, written once the records are in.
            let Some(head) = &self.head else {
                return Err(io::Error::other("a record came before its block's resource"));
            };
            let reserved = head.resource.len() + head.scope.len() + protobuf::BLOCK_HEAD_MAX;
            self.block_at = self.request.len();
            self.request.resize(self.block_at + reserved, 0);
            if let State::Request {
                bytes,
                blocks,
                block_open,
                ..
            } = &mut self.state
            {
                *bytes += reserved;
                *blocks += 1;
                *block_open = true;
            }
            return Ok(());
        }
        if let State::Request { blocks, .. } = self.state {
            if blocks > 0 {
                self.put(self.block_sep())?;
            }
        }
        let Some(head) = self.head.take() else {
            return Err(io::Error::other("a record came before its block's resource"));
        };
        self.put(b"{\"resource\":")?;
        self.put(&head.resource)?;
        let mid = format!(",\"{}\":[{{\"scope\":", self.signal.scopes_field());
        self.put(mid.as_bytes())?;
        self.put(&head.scope)?;
        let rec = format!(",\"{}\":[", self.signal.records_field());
        self.put(rec.as_bytes())?;
        self.head = Some(head);
        if let State::Request { blocks, block_open, .. } = &mut self.state {
            *blocks += 1;
            *block_open = true;
        }
        Ok(())
    }

    /// Opens the request and block as needed, or separates from the previous record.
    fn before_records(&mut self) -> io::Result<()> {
        if self.state == State::Between {
            self.open_request()?;
        }
        match self.state {
            State::Request { block_open: true, .. } if self.encoding == Encoding::Json => self.put(b","),
            State::Request { block_open: true, .. } => Ok(()),
            _ => self.open_block(),
        }
    }

    fn count(&mut self, n: usize) {
        if let State::Request { records, .. } = &mut self.state {
            *records += n;
        }
        if let Some((_, r)) = &mut self.entry {
            *r += n as u64;
        }
    }

    /// Starts a new resource block; it is written when its first record is.
    pub fn begin_block(&mut self, head: BlockHead) -> io::Result<()> {
        self.close_block()?;
        self.head = Some(head);
        Ok(())
    }

    /// Appends one record (written from `parts`, `len` bytes in all) that
    /// holds `count` records of the signal (a metric entry holds its points).
    pub fn record_parts(&mut self, parts: &[&[u8]], len: usize, count: usize) -> io::Result<()> {
        if let (true, State::Request { bytes, records, block_open, .. }) = (self.layout.limited(), self.state) {
            if records > 0 {
                let framing = if block_open {
                    self.record_sep_len()
                } else {
                    self.block_open_len()
                };
                if bytes + framing + len + self.close_len() > self.cap {
                    self.close_request()?;
                }
            }
        }
        self.before_records()?;
        self.put_parts(parts, len)?;
        if let State::Request { bytes, records: 0, .. } = self.state {
            if self.layout.limited() && bytes + self.close_len() > self.cap {
                self.oversize += 1;
            }
        }
        self.count(count);
        Ok(())
    }

    /// Appends one record to the current block.
    pub fn record(&mut self, rec: &[u8]) -> io::Result<()> {
        self.record_parts(&[rec], rec.len(), 1)
    }

    /// Appends `n` records already joined by `,` as one run: only for
    /// `single`, where nothing is cut.
    pub fn joined_records(&mut self, data: &[u8], n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.before_records()?;
        self.count(n);
        self.put(data)
    }

    /// Closes everything; `single` and `auto` always write a file, even
    /// empty, and `auto` names a signal's only request as `single` does.
    pub fn finish(mut self) -> io::Result<WriterSummary> {
        let whole = matches!(self.layout, Layout::Single | Layout::Auto);
        if whole && self.state == State::Between && self.requests == 0 {
            if self.layout == Layout::Auto {
                // Nothing to split: the empty document under its single name.
                self.layout = Layout::Single;
            }
            self.open_request()?;
        }
        if self.state != State::Between {
            self.close_request()?;
        }
        self.end_entry()?;
        let single = (self.layout == Layout::Auto && self.requests == 1).then(|| self.single_name());
        let (entries, requests, oversize) = (std::mem::take(&mut self.entries), self.requests, self.oversize);
        let stats = self.sink.finish()?;
        if stats.len() != entries.len() {
            return Err(io::Error::other("the output's writer lost an entry"));
        }
        let files = entries
            .into_iter()
            .zip(stats)
            .map(|((name, records), st)| EntryInfo {
                name: single.clone().unwrap_or_else(|| name.clone()),
                written: name,
                bytes: st.bytes,
                records,
                sha256: st.sha256,
            })
            .collect();
        Ok(WriterSummary {
            files,
            requests,
            oversize,
            journalled: 0,
        })
    }
}
