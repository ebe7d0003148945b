//! Problems (bad lines and files, SPEC §7) and the end-of-run summary (§8.4).
//!
//! Problems are reported in file order as the ordered stage meets them: the
//! first ones are printed as `FILE:LINE: reason` (through a printer the
//! command supplies, so they do not tear the progress bar), the rest are
//! counted. With `--strict` the first problem aborts the export.

use serde_json::{json, Value};

use crate::pipeline::work::Counts;
use crate::range::DateRange;
use crate::timestamp::format_rfc3339;

/// How many problems are printed and kept for the summary.
pub const SHOWN: usize = 20;

/// How many problems are kept for the manifest.
pub const KEPT: usize = 100;

/// One skipped line (with its 1-based number) or file (without).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: Option<u64>,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

/// `--strict` met a problem.
#[derive(Debug, Clone, thiserror::Error)]
#[error("--strict: stopped at the first problem: {0}")]
pub struct StrictAbort(pub Problem);

/// Prints one problem for the person running the export.
pub type Printer = Box<dyn FnMut(&Problem) + Send>;

/// Collects problems in the order they are met.
pub struct Problems {
    kept: Vec<Problem>,
    lines: u64,
    files: u64,
    strict: bool,
    printer: Option<Printer>,
}

impl Problems {
    pub fn new(strict: bool, printer: Option<Printer>) -> Self {
        Self {
            kept: Vec::new(),
            lines: 0,
            files: 0,
            strict,
            printer,
        }
    }

    fn add(&mut self, p: Problem) -> Result<(), StrictAbort> {
        if self.strict {
            // The error names it: printing it too would say it twice.
            return Err(StrictAbort(p));
        }
        if self.kept.len() < SHOWN {
            if let Some(print) = &mut self.printer {
                print(&p);
            }
        }
        if self.kept.len() < KEPT {
            self.kept.push(p);
        }
        Ok(())
    }

    /// A skipped line.
    pub fn line(&mut self, file: &str, line: u64, reason: String) -> Result<(), StrictAbort> {
        self.lines += 1;
        self.add(Problem {
            file: file.to_string(),
            line: Some(line),
            reason,
        })
    }

    /// A skipped (or partly unreadable) file.
    pub fn file(&mut self, file: &str, reason: String) -> Result<(), StrictAbort> {
        self.files += 1;
        self.add(Problem {
            file: file.to_string(),
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

    /// The first problems met, as printed.
    pub fn shown(&self) -> &[Problem] {
        &self.kept[..self.kept.len().min(SHOWN)]
    }

    /// The first [`KEPT`] problems met.
    pub fn kept(&self) -> &[Problem] {
        &self.kept
    }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    pub problems: Vec<Problem>,
    /// Things done besides the export that the person should know of.
    pub notes: Vec<String>,
    /// Why nothing was written, when nothing was (§8.3).
    pub empty: Option<String>,
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
        json!({
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
            "elapsed_s": (self.elapsed_s * 1000.0).round() / 1000.0,
            "problems": self.problems.iter().map(|p| json!({"file": p.file, "line": p.line, "reason": p.reason})).collect::<Vec<_>>(),
        })
    }

    /// The one-line summary.
    pub fn line(&self) -> String {
        let c = &self.counts;
        let n = thousands;
        let mut s = match &self.output {
            Some(o) if self.empty.is_some() => format!(
                "no events matched; wrote an empty array to {}: {}",
                if o == "-" { "stdout" } else { o },
                self.empty.as_deref().unwrap_or_default()
            ),
            Some(o) => format!(
                "exported {} events ({} logs, {} spans, {} metric events -> {} points) from {} files to {o} in {:.2}s",
                n(c.events),
                n(c.logs),
                n(c.spans),
                n(c.metric_events),
                n(c.metric_points),
                n(self.files_read),
                self.elapsed_s
            ),
            None => format!(
                "no events matched, nothing was written: {}",
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
    use std::sync::{Arc, Mutex};

    #[test]
    fn prints_the_first_problems_and_counts_the_rest() {
        let printed = Arc::new(Mutex::new(Vec::new()));
        let sink = printed.clone();
        let mut p = Problems::new(
            false,
            Some(Box::new(move |p: &Problem| sink.lock().unwrap().push(p.to_string()))),
        );
        for i in 0..(SHOWN as u64 + 5) {
            p.line("f.jsonl", i + 1, "bad".into()).unwrap();
        }
        p.file("g.jsonl", "cannot read file: denied".into()).unwrap();
        assert_eq!(printed.lock().unwrap().len(), SHOWN);
        assert_eq!(printed.lock().unwrap()[0], "f.jsonl:1: bad");
        assert_eq!((p.skipped_lines(), p.skipped_files()), (SHOWN as u64 + 5, 1));
        assert_eq!((p.shown().len(), p.kept().len()), (SHOWN, SHOWN + 6));
    }

    #[test]
    fn strict_aborts_on_the_first_problem_without_printing_it_as_well() {
        let printed = Arc::new(Mutex::new(0));
        let count = printed.clone();
        let mut p = Problems::new(true, Some(Box::new(move |_: &Problem| *count.lock().unwrap() += 1)));
        let e = p.line("f.jsonl", 3, "missing event_name".into()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--strict: stopped at the first problem: f.jsonl:3: missing event_name"
        );
        assert_eq!(*printed.lock().unwrap(), 0);
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
            "elapsed_s",
            "problems",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
    }

    #[test]
    fn summary_line_names_counts_output_and_skips_or_says_nothing_was_written() {
        let mut s = Summary {
            files_read: 3,
            skipped_lines: 2,
            output: Some("out.json".to_string()),
            elapsed_s: 1.234,
            ..Summary::default()
        };
        s.counts.events = 7_001;
        s.counts.logs = 4_000;
        s.counts.spans = 3_001;
        assert_eq!(
            s.line(),
            "exported 7,001 events (4,000 logs, 3,001 spans, 0 metric events -> 0 points) from 3 files to out.json \
             in 1.23s; skipped 2 lines and 0 files"
        );
        s.output = None;
        s.empty = Some("why".into());
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
