//! One line through the whole per-line path (parse, context, route, every
//! encoder and writer), for the fuzz target and the robustness property
//! tests: any input line must yield either a reported problem or records
//! that are valid JSON.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::encode::metrics::Temporality;
use crate::engine::chunk::{ChunkBuf, Header, OwnedHeader};
use crate::engine::sinks::{JsonChunk, OtlpSink};
use crate::engine::worker::{run_chunk_buf, ParseOptions};
use crate::model::{Pools, Signal};
use crate::range::{Preset, RangeSpec};
use crate::route::MetricEvents;
use crate::store::StoreFile;
use crate::write::envelope::{EnvelopeWriter, Layout};
use crate::write::records::RecordWriter;
use crate::write::series::MetricWriter;
use crate::write::sink::{EntryEnd, EntrySink, Spooled};
use crate::write::Writer;

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
struct Memory(Arc<Mutex<Vec<u8>>>);

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
    fn end(&mut self, _: EntryEnd) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(self: Box<Self>) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `line` (without its newline) through parsing and every encoder, as
/// a line of a v1 file (`with_header`) or of a v0 file.
pub fn probe_line(line: &[u8], with_header: bool) -> Probe {
    let file = StoreFile {
        name: "telemetry-2026-11-20-probe.jsonl".into(),
        store: 0,
        day: 0,
        part: 0,
        size: 0,
    };
    let header = Header {
        header: with_header.then(|| OwnedHeader::with_session(1, "probe-session")),
        offset: None,
    };
    let range = RangeSpec::Preset(Preset::AllTime).resolve(chrono::Utc::now());
    let metrics = MetricEvents::default();
    let cancel = AtomicBool::new(false);
    let opts = ParseOptions {
        range: &range,
        metrics: &metrics,
        max_line: usize::MAX,
        cancel: &cancel,
    };
    let chunk = || {
        let mut bytes = line.to_vec();
        bytes.push(b'\n');
        // Not the file start: no BOM handling, no header skipping.
        ChunkBuf::of(&bytes, 1)
    };
    let mut probe = Probe::default();
    let mut json = JsonChunk::with_capacity(line.len());
    let report = run_chunk_buf(&file, &header, &mut chunk(), opts, &mut json);
    if let Some((_, e)) = report.problems.first() {
        probe.problem = Some(e.to_string());
        return probe;
    }
    probe.json = json.data;

    let pools = Arc::new(Pools::new(4, 1 << 20));
    let mut otlp = OtlpSink::new(&[], crate::encode::DEFAULT_ATTRIBUTE_LIMIT, &pools, line.len());
    run_chunk_buf(&file, &header, &mut chunk(), opts, &mut otlp);
    let outs: [Memory; 3] = Default::default();
    let bufs: Vec<_> = outs.iter().map(|m| m.0.clone()).collect();
    let [l, t, m] = outs;
    let envelope = |names, sink: Memory| -> std::io::Result<EnvelopeWriter> {
        Ok(EnvelopeWriter::new(
            names,
            Layout::Single,
            1 << 20,
            Spooled::new("probe", Box::new(sink), false)?,
        ))
    };
    let written = (|| -> std::io::Result<()> {
        let mut lw = RecordWriter::new(envelope(Signal::Log, l)?, pools.clone());
        let mut tw = RecordWriter::new(envelope(Signal::Span, t)?, pools.clone());
        let mut mw = MetricWriter::new(envelope(Signal::Metric, m)?, Temporality::Cumulative, pools.clone());
        lw.write(otlp.batch.logs)?;
        tw.write(otlp.batch.traces)?;
        mw.write(otlp.batch.metrics)?;
        lw.finish()?;
        tw.finish()?;
        mw.finish()?;
        Ok(())
    })();
    if let Err(e) = written {
        probe.problem = Some(format!("writer failed: {e}"));
        return probe;
    }
    let take = |i: usize| bufs[i].lock().map(|v| v.clone()).unwrap_or_default();
    probe.logs = take(0);
    probe.traces = take(1);
    probe.metrics = take(2);
    probe
}
