//! The JSON array of events (§5), or the same elements as JSON Lines, to a
//! file or to stdout. The engine's JSON merge writes it (through
//! [`Lines`] for JSON Lines): to stdout through a buffer and a counting
//! writer ([`Stdout`]), to a device or pipe in place, and to a file through
//! a staged temporary file that replaces the target only when the export
//! succeeded and matched something (§8.3). With `--manifest`, the manifest
//! an OTLP export holds is written beside, listing the output as its one
//! file (bytes, sha256, events): staged, then committed after the output.

use std::io::{BufWriter, Write};
use std::path::Path;

use super::{Destination, ExportError, Written};
use crate::config::{Config, FileOutput, Format, ManifestFile, Output};
use crate::engine::worker::Discard;
use crate::engine::{merge, ordered, Books, Run};
use crate::output::atomic::{self, Inputs, OutputError, StagedFile};
use crate::output::manifest::{write_manifest, ManifestData, Options};
use crate::output::stream::{Digest, Lines, Stdout};
use crate::report::Problems;
use crate::write::envelope::EntryInfo;

/// The JSON array or JSON Lines of an export.
pub struct EventsFile<'a> {
    cfg: &'a Config,
    out: &'a FileOutput,
}

impl<'a> EventsFile<'a> {
    pub fn new(cfg: &'a Config, out: &'a FileOutput) -> Self {
        Self { cfg, out }
    }

    /// Stages the `--manifest` of a finished export whose output, named
    /// `name`, is `digest` (its bytes and sha256); `None` without one.
    fn stage_manifest(
        &self,
        run: &Run<'_>,
        books: &Books,
        problems: &Problems,
        name: &str,
        digest: (u64, [u8; 32]),
    ) -> Result<Option<StagedFile>, ExportError> {
        let (cfg, out) = (self.cfg, self.out);
        let Some(ManifestFile { path, .. }) = &out.manifest else {
            return Ok(None);
        };
        let files = [EntryInfo {
            name: name.to_string(),
            written: name.to_string(),
            bytes: digest.0,
            records: books.total.events,
            sha256: digest.1,
        }];
        let data = ManifestData {
            format: out.format.name(),
            range: &cfg.range,
            exported_at: cfg.exported_at(),
            stores: cfg.stores.iter().map(|s| s.display().to_string()).collect(),
            sources: run.files,
            source_counts: &books.per_file,
            counts: books.total,
            skipped_lines: problems.skipped_lines(),
            skipped_files: problems.skipped_files(),
            oversize_records: 0,
            problems: &problems.kept(),
            tally: &problems.tally(|f| run.path(f).display().to_string()),
            options: Options {
                layout: None,
                temporality: None,
                max_request_bytes: None,
                compression_level: None,
                metric_events: cfg.metric_events.names(),
                resource_attrs: None,
                late_days: cfg.late_days,
                attribute_count_limit: None,
            },
            files: &files,
        };
        let tmp = atomic::temp_file(path)?;
        let mut w = BufWriter::new(tmp.as_file());
        write_manifest(&mut w, &data)?;
        drop(w);
        Ok(Some(tmp))
    }

    /// Commits a staged `--manifest`, once the output it describes is in
    /// place (`output`, as the summary names it).
    fn commit_manifest(&self, staged: Option<StagedFile>, output: &str, inputs: &Inputs) -> Result<(), ExportError> {
        let (Some(tmp), Some(m)) = (staged, &self.out.manifest) else {
            return Ok(());
        };
        atomic::commit_file_only(tmp, &m.path, m.force, inputs).map_err(|error| {
            OutputError::ManifestNotWritten {
                output: if output == "-" { "stdout" } else { output }.to_string(),
                error: Box::new(error),
            }
            .into()
        })
    }

    /// Streams the export into `w` (stdout, a device or a pipe: written in
    /// place, never staged), then writes its manifest, if asked for and if
    /// anything matched.
    fn stream<W: Write>(
        &self,
        run: &Run<'_>,
        inputs: &Inputs,
        problems: &mut Problems,
        w: W,
        buffered: bool,
        name: &str,
    ) -> Result<Written, ExportError> {
        let mut w = Digest::new(w, self.out.manifest.is_some());
        let books = merge_into(self.out.format, run, problems, &mut w, buffered)?;
        if books.total.events > 0 {
            let staged = self.stage_manifest(run, &books, problems, name, w.finish())?;
            self.commit_manifest(staged, name, inputs)?;
        }
        Ok(Written::new(books, Some(name.to_string())))
    }
}

impl Destination for EventsFile<'_> {
    fn prepare(&mut self, inputs: &Inputs) -> Result<Vec<String>, ExportError> {
        let mut notes = match &self.out.output {
            Output::Path(p) if !atomic::is_special(p) => atomic::prepare_target(p, self.out.force, inputs)?,
            _ => Vec::new(),
        };
        if let Some(m) = &self.out.manifest {
            if let Output::Path(p) = &self.out.output {
                if same_file(p, &m.path) {
                    return Err(OutputError::ManifestIsOutput(m.path.clone()).into());
                }
            }
            atomic::check_file_target(&m.path, m.force, inputs)?;
            notes.extend(atomic::prepare_target(&m.path, m.force, inputs)?);
        }
        Ok(notes)
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
            Output::Stdout => self.stream(run, inputs, problems, Stdout::new(), true, "-"),
            Output::Path(target) if atomic::is_special(target) => {
                // `/dev/null`, a pipe: written in place, never replaced.
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(target)
                    .map_err(|error| OutputError::Io {
                        path: target.clone(),
                        error,
                    })?;
                self.stream(run, inputs, problems, &file, false, &target.display().to_string())
            }
            Output::Path(target) => {
                let tmp = atomic::temp_file(target)?;
                let mut w = Digest::new(tmp.as_file(), out.manifest.is_some());
                let books = merge_into(out.format, run, problems, &mut w, false)?;
                if books.total.events == 0 {
                    return Ok(Written::new(books, None));
                }
                let name = target.display().to_string();
                let manifest = self.stage_manifest(run, &books, problems, &name, w.finish())?;
                if let Some(m) = &out.manifest {
                    // Checked again just before the output goes into place,
                    // so that the manifest is unlikely to fail after it.
                    atomic::check_file_target(&m.path, m.force, inputs)?;
                }
                atomic::commit_file(tmp, target, out.force, inputs)?;
                self.commit_manifest(manifest, &name, inputs)?;
                Ok(Written::new(books, Some(name)))
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

/// Whether `a` and `b` name the same file: the same path once made
/// absolute, or, both existing, the same file.
fn same_file(a: &Path, b: &Path) -> bool {
    let abs = |p: &Path| std::path::absolute(p).ok();
    if abs(a).is_some() && abs(a) == abs(b) {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => {
            crate::store::file_id(&x).is_some() && crate::store::file_id(&x) == crate::store::file_id(&y)
        }
        _ => false,
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
