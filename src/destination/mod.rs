//! Where the ordered records go. Each destination implements
//! [`Destination`], and the run ([`crate::export`]) drives every one the
//! same way: it is prepared before any input is read (a target the
//! `--force` rules refuse, a journal bound to another send, fail there),
//! then fed the run's records through the engine, and says what it wrote.
//!
//! - [`events::EventsFile`]: the JSON array (§5) or JSON Lines, to a file
//!   or stdout;
//! - [`files::OtlpFiles`]: OTLP/JSON envelopes and a manifest, in a folder
//!   or a zip, in a layout (§6);
//! - [`receiver::Receiver`]: OTLP requests to an endpoint (§10), through
//!   `deliver`'s layers (split to size, journal, retry, compress, transport).
//!
//! The two OTLP destinations share their front (`envelopes.rs`): the
//! engine's encoded batches go to one envelope writer per signal, which
//! cuts them into requests; only the sink behind the writers differs.

mod envelopes;
pub mod events;
pub mod files;
pub mod receiver;

use std::io;

use crate::deliver::SendError;
use crate::engine::{Books, EngineError, Run};
use crate::model::{DeliverySummary, Format};
use crate::output::atomic::{Inputs, OutputError};
use crate::report::{Problems, StrictAbort};
use crate::store::StoreError;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("--format otlp writes a folder or a .zip, not stdout")]
    OtlpToStdout,
}

impl ExportError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, ExportError::Engine(EngineError::Cancelled))
    }

    /// Refused before anything was done (exit 2): a journal bound to another send, or in use.
    pub fn is_refusal(&self) -> bool {
        matches!(self, ExportError::Send(s) if s.is_refusal())
    }

    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, ExportError::Engine(p) if p.is_broken_pipe())
    }
}

impl From<StrictAbort> for ExportError {
    fn from(e: StrictAbort) -> Self {
        ExportError::Engine(EngineError::Strict(e))
    }
}

impl From<io::Error> for ExportError {
    fn from(e: io::Error) -> Self {
        ExportError::Engine(EngineError::Write(e))
    }
}

/// What a destination did with a run's records.
pub struct Written {
    /// The engine's books: counts in total and per file.
    pub books: Books,
    /// Records written alone for being larger than the request cap.
    pub oversize: u64,
    /// What was written, as the summary names it; `None` when nothing was.
    pub output: Option<String>,
    /// What a send delivered.
    pub delivery: Option<DeliverySummary>,
}

impl Written {
    fn new(books: Books, output: Option<String>) -> Self {
        Self {
            books,
            oversize: 0,
            output,
            delivery: None,
        }
    }
}

/// A place the run's records go.
pub trait Destination {
    /// Checks the target before any input is read, and cleans up what a
    /// killed run left; returns what the person should be told of.
    fn prepare(&mut self, inputs: &Inputs) -> Result<Vec<String>, ExportError>;

    /// Feeds it the run's records, in order, and finishes it.
    fn write(&mut self, run: &Run<'_>, inputs: &Inputs, problems: &mut Problems) -> Result<Written, ExportError>;

    /// The format it writes, as the summary names it (`None` for a send).
    fn format(&self) -> Option<Format> {
        None
    }

    /// When nothing matched: what was left as it was, if anything.
    fn untouched(&self) -> Option<String> {
        None
    }
}
