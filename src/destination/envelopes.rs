//! The front the two OTLP destinations share: the engine's encoded batches
//! go, in order, to one envelope writer per signal on its own thread (logs
//! and traces through [`RecordWriter`], metrics through [`MetricWriter`],
//! which groups points into series), each cutting its records into
//! requests in a layout and writing them into the sink its destination
//! made for it (a file entry, or a request queued for the senders).

use std::io;
use std::sync::Arc;

use super::ExportError;
use crate::config::{Config, Layout};
use crate::encode::Encoding;
use crate::engine::sinks::OtlpSink;
use crate::engine::{ordered, Books, EngineError, Run};
use crate::model::{Delivered, OtlpBatch, Pools, Signal, Tracker};
use crate::report::Problems;
use crate::write::envelope::EnvelopeWriter;
use crate::write::series::MetricWriter;
use crate::write::records::RecordWriter;
use crate::write::sink::Spooled;
use crate::write::WriterSummary;

/// How the writers lay out and encode their requests.
pub(super) struct Requests {
    pub layout: Layout,
    /// The request cap (`--max-request-bytes`).
    pub cap: usize,
    /// Each signal's body encoding.
    pub encodings: [Encoding; 3],
    /// For a send: what its journal holds per signal. The writers then
    /// number every record and leave those out.
    pub delivered: Option<[Arc<Delivered>; 3]>,
}

/// Runs the OTLP encoders into one envelope writer per signal, each
/// writing into the sink `sink` makes for it; returns the books and what
/// each writer wrote.
pub(super) fn run(
    cfg: &Config,
    run: &Run<'_>,
    problems: &mut Problems,
    requests: Requests,
    sink: impl Fn(Signal) -> Result<Spooled, ExportError>,
) -> Result<(Books, [WriterSummary; 3]), ExportError> {
    // Every buffer in flight can come back: the window's, the writers' queues.
    let pools = Arc::new(Pools::new(4 * run.budget.window + 16, run.budget.kept_buffer_bytes()));
    let Requests {
        layout,
        cap,
        encodings,
        delivered,
    } = requests;
    let envelope = |s: Signal| -> Result<EnvelopeWriter, ExportError> {
        Ok(EnvelopeWriter::new(s, layout, cap, sink(s)?).encoded(encodings[s.index()]))
    };
    let mut logs = RecordWriter::new(envelope(Signal::Log)?, pools.clone());
    let mut traces = RecordWriter::new(envelope(Signal::Span)?, pools.clone());
    let mut metrics = MetricWriter::new(envelope(Signal::Metric)?, cfg.temporality, pools.clone());
    if let Some([l, t, m]) = delivered {
        logs = logs.tracked(Tracker::new(l));
        traces = traces.tracked(Tracker::new(t));
        metrics = metrics.tracked(Tracker::new(m));
    }

    std::thread::scope(|scope| -> Result<(Books, [WriterSummary; 3]), ExportError> {
        let (logs_tx, logs_h) = crate::write::spawn(scope, "ct-write-logs", logs)?;
        let (traces_tx, traces_h) = crate::write::spawn(scope, "ct-write-traces", traces)?;
        let (metrics_tx, metrics_h) = crate::write::spawn(scope, "ct-write-metrics", metrics)?;
        let stopped = || EngineError::Write(io::Error::other("an envelope writer stopped"));
        let part = run.budget.part_bytes();
        let make = |handoff| {
            OtlpSink::new(&cfg.resource_attrs, cfg.attr_limit, &pools, run.budget.chunk as usize)
                .encoded(encodings)
                .in_parts(handoff, part)
        };
        let books = ordered::run(run, make, problems, |file, mut b: OtlpBatch| {
            b.set_file(file);
            let sent = (b.logs.is_empty() || logs_tx.send(b.logs).is_ok())
                && (b.traces.is_empty() || traces_tx.send(b.traces).is_ok())
                && (b.metrics.is_empty() || metrics_tx.send(b.metrics).is_ok());
            if sent {
                Ok(())
            } else {
                Err(stopped())
            }
        });
        drop((logs_tx, traces_tx, metrics_tx));
        let join = |h: std::thread::ScopedJoinHandle<'_, io::Result<WriterSummary>>| match h.join() {
            Ok(r) => r.map_err(EngineError::Write),
            Err(_) => Err(EngineError::Panic {
                file: "an envelope writer".into(),
                message: "the writer thread panicked".into(),
            }),
        };
        let (l, t, m) = (join(logs_h), join(traces_h), join(metrics_h));
        match books {
            // A writer's own error explains a failed send better than the send does.
            Err(EngineError::Write(e)) => Err([l, t, m]
                .into_iter()
                .find_map(Result::err)
                .unwrap_or(EngineError::Write(e))
                .into()),
            Err(e) => Err(e.into()),
            Ok(books) => Ok((books, [l?, t?, m?])),
        }
    })
}
