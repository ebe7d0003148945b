//! OTLP/JSON envelopes in a folder or a zip (§6): the shared envelope
//! writers, each writing its files into a sink of the target's kind (a
//! staged folder, or a temporary zip per signal), then the manifest (§6.7),
//! then the staged output committed atomically: the folder renamed into
//! place, or the signals' zips assembled into one file with the manifest.
//! Nothing is committed when nothing matched (§8.3).

use std::io::BufWriter;
use std::path::PathBuf;

use super::envelopes::{self, Requests};
use super::{events, Destination, ExportError, Written};
use crate::config::{Config, FileOutput, Format, Output};
use crate::encode::metrics::Temporality;
use crate::encode::Encoding;
use crate::engine::Run;
use crate::model::Signal;
use crate::output::atomic::{self, Inputs, OutputError};
use crate::output::manifest::{write_manifest, ManifestData, Options};
use crate::report::Problems;
use crate::write::sink::{assemble_zip, EntrySink, FolderSink, Spooled, ZipPart, ZipSink, ZipStyle};

/// The OTLP export of a run, to a folder or a `.zip`.
pub struct OtlpFiles<'a> {
    cfg: &'a Config,
    out: &'a FileOutput,
    target: PathBuf,
}

impl<'a> OtlpFiles<'a> {
    /// Refuses stdout: OTLP is several files.
    pub fn new(cfg: &'a Config, out: &'a FileOutput) -> Result<Self, ExportError> {
        match &out.output {
            Output::Stdout => Err(ExportError::OtlpToStdout),
            Output::Path(p) => Ok(Self {
                cfg,
                out,
                target: p.clone(),
            }),
        }
    }
}

impl Destination for OtlpFiles<'_> {
    fn prepare(&mut self, inputs: &Inputs) -> Result<Vec<String>, ExportError> {
        if atomic::is_special(&self.target) {
            return Err(OutputError::Special(self.target.clone()).into());
        }
        Ok(atomic::prepare_target(&self.target, self.out.force, inputs)?)
    }

    fn write(&mut self, run: &Run<'_>, inputs: &Inputs, problems: &mut Problems) -> Result<Written, ExportError> {
        let (cfg, out, target) = (self.cfg, self.out, &self.target);
        // A folder target is staged as a folder; a zip is staged as per-signal
        // temporary zips in a work folder, merged into one file at the end.
        let work = atomic::temp_dir(target)?;
        let zip = out.is_zip();
        let style = ZipStyle::new(out.compression_level, &cfg.now);
        let part = |s: Signal| work.path().join(format!("{}.zip", s.name()));
        // Hashing and writing on a thread each only when more than two
        // cores are at work ([`Spooled::new`]).
        let split = run.budget.workers > 2;
        let sink = |s: Signal| -> Result<Spooled, ExportError> {
            let inner: Box<dyn EntrySink> = if zip {
                Box::new(ZipSink::create(&part(s), style)?)
            } else {
                Box::new(FolderSink::new(work.path()))
            };
            Ok(Spooled::new(s.name(), inner, split)?)
        };
        let requests = Requests {
            layout: out.layout,
            cap: out.max_request_bytes,
            encodings: [Encoding::Json; 3],
            delivered: None,
        };
        let (books, summaries) = envelopes::run(cfg, run, problems, requests, sink)?;
        let files: Vec<_> = summaries.iter().flat_map(|s| s.files.iter().cloned()).collect();
        let mut written = Written::new(books, None);
        written.oversize = summaries.iter().map(|s| s.oversize).sum();
        if written.books.total.events == 0 {
            return Ok(written);
        }
        let manifest_path = work.path().join("manifest.json");
        let manifest = ManifestData {
            format: "otlp",
            range: &cfg.range,
            exported_at: cfg.exported_at(),
            stores: cfg.stores.iter().map(|s| s.display().to_string()).collect(),
            sources: run.files,
            source_counts: &written.books.per_file,
            counts: written.books.total,
            skipped_lines: problems.skipped_lines(),
            skipped_files: problems.skipped_files(),
            oversize_records: written.oversize,
            problems: &problems.kept(),
            tally: &problems.tally(|f| run.path(f).display().to_string()),
            options: Options {
                layout: Some(out.layout.name()),
                temporality: Some(match cfg.temporality {
                    Temporality::Delta => "delta",
                    Temporality::Cumulative => "cumulative",
                }),
                max_request_bytes: Some(out.max_request_bytes as u64),
                compression_level: zip.then_some(out.compression_level),
                metric_events: cfg.metric_events.names(),
                resource_attrs: Some(&cfg.resource_attrs),
                late_days: cfg.late_days,
                attribute_count_limit: Some(cfg.attr_limit),
            },
            files: &files,
        };
        write_manifest(BufWriter::new(std::fs::File::create(&manifest_path)?), &manifest)?;
        if zip {
            let parts: Vec<ZipPart> = Signal::ALL
                .iter()
                .zip(&summaries)
                .map(|(s, w)| ZipPart {
                    path: part(*s),
                    names: w.files.iter().map(|f| f.name.clone()).collect(),
                })
                .collect();
            let tmp = atomic::temp_file(target)?;
            assemble_zip(tmp.as_file(), &parts, ("manifest.json", &manifest_path), style)?;
            atomic::commit_file(tmp, target, out.force, inputs)?;
        } else {
            // `auto` names a signal's only part at the end: give it that name.
            for f in files.iter().filter(|f| f.name != f.written) {
                std::fs::rename(work.path().join(&f.written), work.path().join(&f.name))?;
            }
            atomic::commit_dir(work, target, out.force, inputs)?;
        }
        written.output = Some(target.display().to_string());
        Ok(written)
    }

    fn format(&self) -> Option<Format> {
        Some(Format::Otlp)
    }

    fn untouched(&self) -> Option<String> {
        events::existing(self.out)
    }
}
