//! The JSON array of events (§5), to a file or to stdout. The engine's JSON
//! merge writes it: to stdout through a buffer, to a device or pipe in
//! place, and to a file through a staged temporary file that replaces the
//! target only when the export succeeded and matched something (§8.3).

use std::io::{self, BufWriter, Write};

use super::{Destination, ExportError, Written};
use crate::config::{Config, Output};
use crate::engine::worker::Discard;
use crate::engine::{merge, ordered, Run};
use crate::output::atomic::{self, Inputs, OutputError};
use crate::report::Problems;

/// The JSON array of an export.
pub struct EventsFile<'a> {
    cfg: &'a Config,
}

impl<'a> EventsFile<'a> {
    pub fn new(cfg: &'a Config) -> Self {
        Self { cfg }
    }
}

impl Destination for EventsFile<'_> {
    fn prepare(&mut self, inputs: &Inputs) -> Result<Vec<String>, ExportError> {
        match &self.cfg.output {
            Output::Path(p) if !atomic::is_special(p) => Ok(atomic::prepare_target(p, self.cfg.force, inputs)?),
            _ => Ok(Vec::new()),
        }
    }

    fn write(&mut self, run: &Run<'_>, inputs: &Inputs, problems: &mut Problems) -> Result<Written, ExportError> {
        let cfg = self.cfg;
        if cfg.strict {
            // The merge meets problems out of file order: check every line in
            // file order first, so that --strict stops at the first problem of
            // the store, as it does for OTLP.
            ordered::run(run, |_| Discard, problems, |_, ()| Ok(()))?;
        }
        match &cfg.output {
            Output::Stdout => {
                let stdout = io::stdout();
                let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
                let books = merge::run(run, &mut out, problems)?;
                out.flush()?;
                Ok(Written::new(books, Some("-".to_string())))
            }
            Output::Path(target) if atomic::is_special(target) => {
                // `/dev/null`, a pipe: written in place, never replaced.
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(target)
                    .map_err(|error| OutputError::Io {
                        path: target.clone(),
                        error,
                    })?;
                let books = merge::run(run, &mut &file, problems)?;
                Ok(Written::new(books, Some(target.display().to_string())))
            }
            Output::Path(target) => {
                let tmp = atomic::temp_file(target)?;
                // Unbuffered: the merge writes large vectored runs itself.
                let mut out = tmp.as_file();
                let books = merge::run(run, &mut out, problems)?;
                if books.total.events == 0 {
                    return Ok(Written::new(books, None));
                }
                atomic::commit_file(tmp, target, cfg.force, inputs)?;
                Ok(Written::new(books, Some(target.display().to_string())))
            }
        }
    }

    fn untouched(&self) -> Option<String> {
        existing(self.cfg)
    }
}

/// The existing target that an empty `--force` export left as it was.
pub(super) fn existing(cfg: &Config) -> Option<String> {
    match (cfg.force, &cfg.output) {
        (true, Output::Path(p)) if p.symlink_metadata().is_ok() => {
            Some(format!("the existing {} was left as it was", p.display()))
        }
        _ => None,
    }
}
