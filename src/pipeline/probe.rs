//! One line through the whole per-line path (parse, context, route, every
//! encoder), for the fuzz target and the property tests: any input line must
//! yield either a reported problem or records that are valid JSON.

use super::batch::OtlpSink;
use super::chunk::{ChunkBuf, FilePlan, OwnedHeader, PAD};
use super::merge::JsonChunk;
use super::work::{ParseOptions, Parser};
use crate::output::layout::{EnvelopeWriter, MetricWriter, RecordWriter, LOGS, METRICS, TRACES};
use crate::output::sink::EntrySink;
use crate::range::{Preset, RangeSpec};
use crate::route::MetricEvents;
use crate::store::StoreFile;

/// What one line produced.
#[derive(Debug, Default)]
pub struct Probe {
    /// The reason the line was skipped, if it was.
    pub problem: Option<String>,
    /// The JSON-array element bytes (with its leading separator).
    pub json: Vec<u8>,
    /// The three OTLP envelopes (single layout), when the line was exported.
    pub logs: Vec<u8>,
    pub traces: Vec<u8>,
    pub metrics: Vec<u8>,
}

/// An [`EntrySink`] into memory.
#[derive(Default)]
struct Memory(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
impl EntrySink for Memory {
    fn start(&mut self, _: &str) -> std::io::Result<()> {
        Ok(())
    }
    fn write(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(b);
        Ok(())
    }
    fn end(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(self: Box<Self>) -> std::io::Result<()> {
        Ok(())
    }
}

fn plan(with_header: bool) -> FilePlan {
    let mut header = OwnedHeader {
        schema_version: 1,
        ..OwnedHeader::default()
    };
    header.fields[2] = Some("probe-session".into());
    FilePlan {
        file: StoreFile {
            path: "probe.jsonl".into(),
            store: 0,
            name: "probe.jsonl".into(),
            date: "2026-11-20".into(),
            day: 0,
            session: "probe".into(),
            part: 0,
            size: 0,
            id: None,
        },
        header: with_header.then_some(header),
        header_offset: None,
    }
}

/// Runs `line` (without its newline) through parsing and every encoder, as
/// a line of a v1 file (`with_header`) or of a v0 file.
pub fn probe_line(line: &[u8], with_header: bool) -> Probe {
    let plan = plan(with_header);
    let range = RangeSpec::Preset(Preset::AllTime).resolve(chrono::Utc::now());
    let metrics = MetricEvents::default();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let opts = ParseOptions {
        range: &range,
        metrics: &metrics,
        cancel: &cancel,
    };
    let chunk = |line: &[u8]| {
        let mut buf = line.to_vec();
        buf.push(b'\n');
        let len = buf.len();
        buf.resize(len + PAD, 0);
        ChunkBuf {
            buf,
            len,
            first: 0,
            limit: len,
            base: 1, // not the file start: no BOM handling, no header skipping
            at_eof: true,
            shrunk: None,
        }
    };
    let mut parser = Parser::default();
    let mut probe = Probe::default();

    let mut json = JsonChunk::with_capacity(line.len());
    let report = parser.process(&plan, &mut chunk(line), opts, &mut json);
    if let Some((_, e)) = report.problems.first() {
        probe.problem = Some(e.to_string());
        return probe;
    }
    probe.json = json.data;

    let mut otlp = OtlpSink::new(&[], crate::encode::DEFAULT_ATTRIBUTE_LIMIT, line.len());
    parser.process(&plan, &mut chunk(line), opts, &mut otlp);
    let bufs: [Memory; 3] = Default::default();
    let outs: Vec<_> = bufs.iter().map(|m| m.0.clone()).collect();
    let [l, t, m] = bufs;
    let envelope = |names, sink: Memory| {
        EnvelopeWriter::new(names, crate::output::layout::Layout::Single, 1 << 20, Box::new(sink))
    };
    let mut lw = RecordWriter::new(envelope(LOGS, l));
    let mut tw = RecordWriter::new(envelope(TRACES, t));
    let mut mw = MetricWriter::new(envelope(METRICS, m), crate::encode::metrics::Temporality::Cumulative);
    let written = lw
        .segments(otlp.batch.logs)
        .and_then(|_| tw.segments(otlp.batch.traces))
        .and_then(|_| mw.segments(otlp.batch.metrics));
    let finished = written
        .and_then(|_| lw.finish())
        .and_then(|_| tw.finish())
        .and_then(|_| mw.finish());
    if let Err(e) = finished {
        probe.problem = Some(format!("writer failed: {e}"));
        return probe;
    }
    let take = |i: usize| outs[i].lock().map(|v| v.clone()).unwrap_or_default();
    probe.logs = take(0);
    probe.traces = take(1);
    probe.metrics = take(2);
    probe
}
