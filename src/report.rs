//! Problems (bad lines and files, SPEC §7) and the end-of-run summary (§8.4).
//!
//! Problems are kept by their place in the input: entries of the store
//! listing first, then (file in canonical order, line). Whatever order the
//! units were consumed in (file order for OTLP, merge order for the JSON
//! array), the problems reported are the first ones in file order: the
//! first [`SHOWN`] are printed, the first [`KEPT`] go to the manifest, the
//! rest are counted. A problem's text is built only if it is kept. With
//! `--strict` the first problem met aborts the export; the consumers meet
//! them in file order for that. The summary's counts read in the singular
//! for one ("1 request").

use serde_json::{json, Value};

pub use crate::model::Problem;
use crate::model::{Counts, Format, Signal};
pub use crate::model::{DeliverySummary, Failure, SignalStats};
use crate::range::DateRange;
use crate::timestamp::format_rfc3339;

/// How many problems are printed and kept for the summary.
pub const SHOWN: usize = 20;

/// How many problems are kept for the manifest.
pub const KEPT: usize = 100;

/// `--strict` met a problem.
#[derive(Debug, Clone, thiserror::Error)]
#[error("--strict: stopped at the first problem: {0}")]
pub struct StrictAbort(pub Problem);

/// Where a problem is: the listing (before every file), or a file's line
/// (0 for the file as a whole).
type Place = (u8, usize, u64);

/// The first problems, by place, and counts of all.
pub struct Problems {
    kept: Vec<(Place, Problem)>,
    lines: u64,
    files: u64,
    strict: bool,
}

impl Problems {
    pub fn new(strict: bool) -> Self {
        Self {
            kept: Vec::new(),
            lines: 0,
            files: 0,
            strict,
        }
    }

    fn add(&mut self, place: Place, make: impl FnOnce() -> Problem) -> Result<(), StrictAbort> {
        if self.strict {
            return Err(StrictAbort(make()));
        }
        // After any kept problem at the same place: the order they were met.
        let at = self.kept.partition_point(|(p, _)| *p <= place);
        if at < KEPT {
            self.kept.insert(at, (place, make()));
            self.kept.truncate(KEPT);
        }
        Ok(())
    }

    /// An entry of the store listing that is not read (SPEC §7.1).
    pub fn listing(&mut self, path: &str, reason: String) -> Result<(), StrictAbort> {
        self.files += 1;
        self.add((0, 0, 0), || Problem {
            file: path.to_string(),
            line: None,
            reason,
        })
    }

    /// Line `line` (1-based) of selected file number `file`, at `path`.
    pub fn line(
        &mut self,
        file: usize,
        line: u64,
        path: impl FnOnce() -> String,
        reason: &dyn std::fmt::Display,
    ) -> Result<(), StrictAbort> {
        self.lines += 1;
        self.add((1, file, line), || Problem {
            file: path(),
            line: Some(line),
            reason: reason.to_string(),
        })
    }

    /// Selected file number `file` as a whole: skipped, or partly unreadable.
    pub fn file(&mut self, file: usize, path: impl FnOnce() -> String, reason: String) -> Result<(), StrictAbort> {
        self.files += 1;
        self.add((1, file, 0), || Problem {
            file: path(),
            line: None,
            reason,
        })
    }

    pub fn skipped_lines(&self) -> u64 {
        self.lines
    }

    pub fn skipped_files(&self) -> u64 {
        self.files
    }

    /// The first problems, as printed.
    pub fn shown(&self) -> Vec<Problem> {
        self.kept.iter().take(SHOWN).map(|(_, p)| p.clone()).collect()
    }

    /// The first [`KEPT`] problems.
    pub fn kept(&self) -> Vec<Problem> {
        self.kept.iter().map(|(_, p)| p.clone()).collect()
    }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1` -> `1 request`, `1234` -> `1,234 requests`: a count and its noun,
/// singular for exactly one.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// The end-of-run summary.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub counts: Counts,
    /// The store folders as given.
    pub stores: Vec<String>,
    pub range: Option<DateRange>,
    pub files_read: u64,
    pub skipped_lines: u64,
    pub skipped_files: u64,
    pub oversize_records: u64,
    /// `None` when nothing was written (empty export).
    pub output: Option<String>,
    pub elapsed_s: f64,
    /// The format written (`None` for a send).
    pub format: Option<Format>,
    pub problems: Vec<Problem>,
    /// Things done besides the export that the person should know of.
    pub notes: Vec<String>,
    /// Why nothing was written, when nothing was (§8.3).
    pub empty: Option<String>,
    /// What `send` delivered.
    pub delivery: Option<DeliverySummary>,
}

impl Summary {
    /// The `--summary-json` object (§8.4).
    pub fn json(&self) -> Value {
        let c = &self.counts;
        let range = self.range.as_ref().map(|r| {
            json!({
                "label": r.label,
                "start": r.start.map(format_rfc3339),
                "end": r.end.map(format_rfc3339),
            })
        });
        let mut v = json!({
            "events": c.events,
            "logs": c.logs,
            "spans": c.spans,
            "metric_events": c.metric_events,
            "metric_points": c.metric_points,
            "files_read": self.files_read,
            "skipped_lines": self.skipped_lines,
            "skipped_files": self.skipped_files,
            "dropped_values": c.dropped_values,
            "events_outside_range": c.out_of_range,
            "oversize_records": self.oversize_records,
            "store": self.stores,
            "range": range,
            "output": self.output,
            "format": self.format.map(Format::name),
            "elapsed_s": (self.elapsed_s * 1000.0).round() / 1000.0,
            "problems": self.problems.iter().map(|p| json!({"file": p.file, "line": p.line, "reason": p.reason})).collect::<Vec<_>>(),
        });
        if let (Some(d), Some(o)) = (&self.delivery, v.as_object_mut()) {
            o.insert("delivery".to_string(), d.json());
        }
        v
    }

    /// The one-line summary of a send (`delivery` holds what it did).
    pub fn send_line(&self, d: &DeliverySummary) -> String {
        let (counts, files, elapsed_s) = (&self.counts, self.files_read, self.elapsed_s);
        let n = thousands;
        let total = |f: fn(&SignalStats) -> u64| d.signals.iter().map(f).sum::<u64>();
        let requests = |x: u64| counted(x, "request", "requests");
        let records = |x: u64| counted(x, "record", "records");
        let per: Vec<String> = Signal::ALL
            .map(Signal::name)
            .iter()
            .zip(&d.signals)
            .map(|(name, s)| format!("{name} {} / {}", requests(s.requests), records(s.records)))
            .collect();
        let events = counted(counts.events, "event", "events");
        let from = counted(files, "file", "files");
        let mut line = if d.dry_run {
            format!(
                "dry run: would send {events} from {from} as {} ({}, {} compressed) to {}",
                per.join(", "),
                counted(total(|s| s.bytes), "byte", "bytes"),
                n(total(|s| s.wire_bytes)),
                d.endpoints.join(", ")
            )
        } else if d.stopped.is_some() {
            format!(
                "sent to {} for {elapsed_s:.2}s, then stopped: delivered {}",
                d.endpoints.join(", "),
                per.join(", ")
            )
        } else {
            format!(
                "{events} from {from} to {} in {elapsed_s:.2}s: delivered {}",
                d.endpoints.join(", "),
                per.join(", ")
            )
        };
        let retried = total(|s| s.retried);
        if retried > 0 {
            line.push_str(&format!("; {}", counted(retried, "retry", "retries")));
        }
        let rejected = total(|s| s.rejected);
        if rejected > 0 {
            line.push_str(&format!("; {} rejected by the endpoint", records(rejected)));
        }
        let journalled = total(|s| s.journalled);
        if journalled > 0 {
            line.push_str(&format!(
                "; {} skipped, already delivered per the journal",
                records(journalled)
            ));
        }
        let failed = (total(|s| s.failed_requests), total(|s| s.failed_records));
        if failed.0 > 0 {
            line.push_str(&format!("; {} ({}) FAILED", requests(failed.0), records(failed.1)));
        }
        let unsent = (total(|s| s.unsent_requests), total(|s| s.unsent_records));
        if let Some(why) = &d.stopped {
            line.push_str(&format!(
                "; STOPPED: {why}; {} more {} ({}) and the rest of the range were not sent",
                n(unsent.0),
                if unsent.0 == 1 { "request" } else { "requests" },
                records(unsent.1)
            ));
        } else if unsent.0 > 0 {
            line.push_str(&format!("; {} ({}) not sent", requests(unsent.0), records(unsent.1)));
        }
        if let Some(u) = &d.unrecorded {
            line.push_str(&format!(
                "; {} ({}) could not be recorded in the journal ({}) and will be sent again by a resume",
                counted(u.requests, "acknowledged request", "acknowledged requests"),
                records(u.records),
                u.error
            ));
        }
        if d.journal_damaged > 0 {
            line.push_str(&format!(
                "; the journal had {}: {} records were sent again",
                counted(d.journal_damaged, "damaged line", "damaged lines"),
                if d.journal_damaged == 1 { "its" } else { "their" }
            ));
        }
        if d.failed() {
            line.push_str("; run the same command again to send what is missing");
        }
        line
    }

    /// The one-line summary.
    pub fn line(&self) -> String {
        let c = &self.counts;
        let n = thousands;
        let to = |o: &str| if o == "-" { "stdout".to_string() } else { o.to_string() };
        let mut s = match &self.output {
            Some(o) if self.empty.is_some() => format!(
                "no events matched; wrote {} to {}: {}",
                match self.format {
                    Some(Format::Jsonl) => "no lines",
                    _ => "an empty array",
                },
                to(o),
                self.empty.as_deref().unwrap_or_default()
            ),
            Some(o) => format!(
                "exported {} events ({} logs, {} spans, {} metric events -> {} points) from {} files to {}{} in {:.2}s",
                n(c.events),
                n(c.logs),
                n(c.spans),
                n(c.metric_events),
                n(c.metric_points),
                n(self.files_read),
                to(o),
                self.format
                    .map_or(String::new(), |f| format!(" as {}", f.description())),
                self.elapsed_s
            ),
            None => format!(
                "no events matched, nothing was {}: {}",
                if self.delivery.is_some() { "sent" } else { "written" },
                self.empty.as_deref().unwrap_or("the range holds no events")
            ),
        };
        if self.skipped_lines + self.skipped_files > 0 {
            s.push_str(&format!(
                "; skipped {} lines and {} files",
                n(self.skipped_lines),
                n(self.skipped_files)
            ));
        }
        if self.oversize_records > 0 {
            s.push_str(&format!(
                "; {} records larger than --max-request-bytes were written alone, each in its own request",
                n(self.oversize_records)
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_problems_in_file_order_whatever_the_order_met() {
        let mut p = Problems::new(false);
        // Met file 2 first, then file 1 (as the JSON merge can meet them).
        for i in (0..60u64).rev() {
            p.line(2, i + 1, || "b.jsonl".into(), &"bad").unwrap();
        }
        for i in 0..80u64 {
            p.line(1, i + 1, || "a.jsonl".into(), &"bad").unwrap();
        }
        p.file(1, || "a.jsonl".into(), "cut short".into()).unwrap();
        p.listing("x.jsonl", "a folder".into()).unwrap();
        assert_eq!((p.skipped_lines(), p.skipped_files()), (140, 2));
        let kept: Vec<String> = p.kept().iter().map(|x| x.to_string()).collect();
        assert_eq!(kept.len(), KEPT);
        assert_eq!(kept[0], "x.jsonl: a folder");
        assert_eq!(kept[1], "a.jsonl: cut short");
        assert_eq!(kept[2], "a.jsonl:1: bad");
        assert_eq!(kept[81], "a.jsonl:80: bad");
        assert_eq!(kept[82], "b.jsonl:1: bad");
        assert_eq!(kept[99], "b.jsonl:18: bad");
        assert_eq!(p.shown().len(), SHOWN);
    }

    #[test]
    fn send_line_says_one_request_and_one_record_in_the_singular() {
        let mut d = DeliverySummary {
            endpoints: vec!["http://localhost:4318/v1/logs".to_string()],
            ..DeliverySummary::default()
        };
        d.signals[0].requests = 1;
        d.signals[0].records = 1;
        d.signals[1].requests = 2;
        d.signals[1].records = 1_234;
        d.signals[0].retried = 1;
        let mut s = Summary {
            files_read: 1,
            ..Summary::default()
        };
        s.counts.events = 1;
        let line = s.send_line(&d);
        assert!(
            line.starts_with("1 event from 1 file to http://localhost:4318/v1/logs in "),
            "{line}"
        );
        assert!(
            line.contains(
                "delivered logs 1 request / 1 record, traces 2 requests / 1,234 records, metrics 0 requests / 0 records; 1 retry"
            ),
            "{line}"
        );
        d.dry_run = true;
        d.signals[2].bytes = 1;
        let line = s.send_line(&d);
        assert!(
            line.starts_with("dry run: would send 1 event from 1 file as logs 1 request"),
            "{line}"
        );
        assert!(line.contains("(1 byte, 0 compressed)"), "{line}");
    }

    #[test]
    fn strict_aborts_on_the_first_problem() {
        let mut p = Problems::new(true);
        let e = p.line(0, 3, || "f.jsonl".into(), &"missing event_name").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--strict: stopped at the first problem: f.jsonl:3: missing event_name"
        );
    }

    #[test]
    fn summary_json_has_the_documented_keys() {
        let v = Summary::default().json();
        for k in [
            "events",
            "logs",
            "spans",
            "metric_events",
            "metric_points",
            "files_read",
            "skipped_lines",
            "skipped_files",
            "output",
            "format",
            "elapsed_s",
            "problems",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
    }

    #[test]
    fn summary_line_names_counts_output_format_and_skips_or_says_nothing_was_written() {
        let mut s = Summary {
            files_read: 3,
            skipped_lines: 2,
            output: Some("out.json".to_string()),
            format: Some(Format::Json),
            elapsed_s: 1.234,
            ..Summary::default()
        };
        s.counts.events = 7_001;
        s.counts.logs = 4_000;
        s.counts.spans = 3_001;
        assert_eq!(
            s.line(),
            "exported 7,001 events (4,000 logs, 3,001 spans, 0 metric events -> 0 points) from 3 files to out.json \
             as a JSON array in 1.23s; skipped 2 lines and 0 files"
        );
        s.output = Some("-".into());
        s.format = Some(Format::Jsonl);
        assert!(s.line().contains(" to stdout as JSON Lines in "), "{}", s.line());
        s.empty = Some("why".into());
        assert!(
            s.line().starts_with("no events matched; wrote no lines to stdout: why"),
            "{}",
            s.line()
        );
        s.output = None;
        assert_eq!(
            s.line(),
            "no events matched, nothing was written: why; skipped 2 lines and 0 files"
        );
    }

    #[test]
    fn thousands_separators() {
        for (n, t) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1234567, "1,234,567"),
            (100000, "100,000"),
        ] {
            assert_eq!(thousands(n), t);
        }
    }
}
