//! The JSON array of events (§5), or the same elements as JSON Lines, to a
//! file or to stdout. The engine's JSON merge writes it (through
//! [`Lines`] for JSON Lines): to stdout through a buffer and a counting
//! writer ([`Stdout`]), to a device or pipe in place, and to a file through
//! a staged temporary file that replaces the target only when the export
//! succeeded and matched something (§8.3).

use std::io::{BufWriter, Write};

use super::{Destination, ExportError, Written};
use crate::config::{Config, FileOutput, Format, Output};
use crate::engine::worker::Discard;
use crate::engine::{merge, ordered, Books, Run};
use crate::output::atomic::{self, Inputs, OutputError};
use crate::output::stream::{Lines, Stdout};
use crate::report::Problems;

/// The JSON array or JSON Lines of an export.
pub struct EventsFile<'a> {
    cfg: &'a Config,
    out: &'a FileOutput,
}

impl<'a> EventsFile<'a> {
    pub fn new(cfg: &'a Config, out: &'a FileOutput) -> Self {
        Self { cfg, out }
    }
}

impl Destination for EventsFile<'_> {
    fn prepare(&mut self, inputs: &Inputs) -> Result<Vec<String>, ExportError> {
        match &self.out.output {
            Output::Path(p) if !atomic::is_special(p) => Ok(atomic::prepare_target(p, self.out.force, inputs)?),
            _ => Ok(Vec::new()),
        }
    }

    fn write(&mut self, run: &Run<'_>, inputs: &Inputs, problems: &mut Problems) -> Result<Written, ExportError> {
        let (cfg, out) = (self.cfg, self.out);
        if cfg.strict {
            // The merge meets problems out of file order: check every line in
            // file order first, so that --strict stops at the first problem of
            // the store, as it does for OTLP.
            ordered::run(run, |_| Discard, problems, |_, ()| Ok(()))?;
        }
        match &out.output {
            Output::Stdout => {
                let books = merge_into(out.format, run, problems, Stdout::new(), true)?;
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
                let books = merge_into(out.format, run, problems, &file, false)?;
                Ok(Written::new(books, Some(target.display().to_string())))
            }
            Output::Path(target) => {
                let tmp = atomic::temp_file(target)?;
                let books = merge_into(out.format, run, problems, tmp.as_file(), false)?;
                if books.total.events == 0 {
                    return Ok(Written::new(books, None));
                }
                atomic::commit_file(tmp, target, out.force, inputs)?;
                Ok(Written::new(books, Some(target.display().to_string())))
            }
        }
    }

    fn format(&self) -> Option<Format> {
        Some(self.out.format)
    }

    fn untouched(&self) -> Option<String> {
        existing(self.out)
    }
}

/// Runs the JSON merge into `out`: the array as it is, or through
/// [`Lines`] for JSON Lines. `buffered` puts a buffer before `out`
/// (stdout); JSON Lines is always buffered, its lines being short writes,
/// while the array goes unbuffered, the merge writing large vectored runs
/// itself.
fn merge_into<W: Write>(
    format: Format,
    run: &Run<'_>,
    problems: &mut Problems,
    mut out: W,
    buffered: bool,
) -> Result<Books, ExportError> {
    if format == Format::Jsonl {
        let mut lines = Lines::new(BufWriter::with_capacity(1 << 20, &mut out));
        let books = merge::run(run, &mut lines, problems)?;
        lines.into_inner()?;
        Ok(books)
    } else if buffered {
        let mut b = BufWriter::with_capacity(1 << 20, &mut out);
        let books = merge::run(run, &mut b, problems)?;
        b.flush()?;
        Ok(books)
    } else {
        Ok(merge::run(run, &mut out, problems)?)
    }
}

/// The existing target that an empty `--force` export left as it was.
pub(super) fn existing(out: &FileOutput) -> Option<String> {
    match (out.force, &out.output) {
        (true, Output::Path(p)) if p.symlink_metadata().is_ok() => {
            Some(format!("the existing {} was left as it was", p.display()))
        }
        _ => None,
    }
}
