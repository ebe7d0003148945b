//! OTLP requests to an endpoint (`send`, §10). The shared envelope writers
//! cut each signal's records into requests of at most
//! `--max-request-bytes` (the `split` layout) in the body encoding of the
//! signal's protocol, numbering every record and leaving out those the
//! journal holds; their sinks hand each request to `deliver`'s senders,
//! which retry, compress and send it, and journal what was acknowledged.
//! There is no file and no manifest: the summary's delivery says what
//! happened to every record.

use super::envelopes::{self, Requests};
use super::{Destination, ExportError, Written};
use crate::config::{Config, Layout};
use crate::deliver::journal::{Binding, Journal};
use crate::deliver::{Dispatcher, Protocol, SendError, SendHooks, Settings};
use crate::engine::{Books, Run};
use crate::model::Signal;
use crate::output::atomic::Inputs;
use crate::report::Problems;
use crate::write::sink::Spooled;

/// A send of a run's records to the endpoints of `settings`.
pub struct Receiver<'a> {
    cfg: &'a Config,
    settings: &'a Settings,
    hooks: SendHooks<'a>,
}

impl<'a> Receiver<'a> {
    pub fn new(cfg: &'a Config, settings: &'a Settings, hooks: SendHooks<'a>) -> Self {
        Self {
            cfg,
            settings,
            hooks,
        }
    }
}

impl Destination for Receiver<'_> {
    fn prepare(&mut self, _inputs: &Inputs) -> Result<Vec<String>, ExportError> {
        // The journal is opened with the files selected (`write`): it is
        // bound to them.
        Ok(Vec::new())
    }

    /// Sends the records of every signal, leaving out those the journal
    /// holds. A send the senders stopped (no progress for --max-elapsed, or
    /// a journal that cannot be written) still says what it delivered.
    fn write(&mut self, run: &Run<'_>, inputs: &Inputs, problems: &mut Problems) -> Result<Written, ExportError> {
        let (cfg, settings) = (self.cfg, self.settings);
        let hooks = self.hooks;
        let binding = Binding::new(&settings.endpoints, cfg);
        let journal = match &settings.journal {
            Some(p) if settings.dry_run => Journal::peek(p, &binding, run.files).map_err(SendError::from)?,
            Some(p) => Journal::open(p, &binding, run.files, inputs).map_err(SendError::from)?,
            None => Journal::none(run.files),
        };
        let delivered = [0, 1, 2].map(|i| journal.delivered(i));
        let dispatcher = Dispatcher::new(settings, settings.max_request_bytes);
        std::thread::scope(move |scope| {
            let finish = dispatcher.run(scope, settings, run.cancel, journal, hooks)?;
            let sink = |s: Signal| Ok(Spooled::inline(Box::new(dispatcher.queue(s.index()))));
            let requests = Requests {
                layout: Layout::Split,
                cap: settings.max_request_bytes,
                encodings: settings.protocols.map(Protocol::encoding),
                delivered: Some(delivered),
            };
            let result = envelopes::run(cfg, run, problems, requests, sink);
            // The writers dropped their sinks; with the dispatcher gone too, the
            // senders' queue closes and they finish.
            drop(dispatcher);
            let mut delivery = finish();
            let (books, summaries) = match result {
                Ok(r) => r,
                // The senders stopped the run: what was sent is in the summary.
                Err(e) if e.is_cancelled() && delivery.stopped.is_some() => {
                    (Books::new(run.files.len()), Default::default())
                }
                Err(e) => return Err(e),
            };
            for (stats, s) in delivery.signals.iter_mut().zip(&summaries) {
                stats.journalled = s.journalled;
            }
            let mut written = Written::new(books, None);
            written.oversize = summaries.iter().map(|s| s.oversize).sum();
            written.delivery = Some(delivery);
            Ok(written)
        })
    }
}
