//! Problems (bad lines and files, SPEC §7) and the end-of-run summary (§8.4).
//!
//! Problems are kept by their place in the input: (file in canonical order,
//! line), with the entries of the store listing that are not read (a
//! folder, a link, a name that cannot be read) placed among the files by
//! the same order of names (§1.3, §11.1). Whatever order the
//! chunks were consumed in (file order for OTLP, merge order for the JSON
//! array), the problems reported are the first ones in file order: the
//! first [`SHOWN`] are printed, the first [`KEPT`] go to the manifest, the
//! rest are counted: in total, by reason (the reason without its
//! particulars, such as "invalid JSON") and by file, so that the summary
//! and the manifest can say what went wrong most and where ([`Tally`]).
//! A problem's text is built only if it is kept. With `--strict` the first
//! problem met aborts the export; the consumers meet them in file order for
//! that. The summary's counts read in the singular for one ("1 request").

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::model::{Counts, Format, Signal};
pub use crate::model::{DeliverySummary, Failure, SignalStats};
pub use crate::model::{FileProblems, Problem, ReasonCount, Tally};
use crate::range::DateRange;
use crate::timestamp::format_rfc3339;

/// How many problems are printed and kept for the summary.
pub const SHOWN: usize = 20;

/// How many problems are kept for the manifest.
pub const KEPT: usize = 100;

/// How many of the files with the most problems are named.
pub const TOP_FILES: usize = 5;

/// `--strict` met a problem.
#[derive(Debug, Clone, thiserror::Error)]
#[error("--strict: stopped at the first problem: {0}")]
pub struct StrictAbort(pub Problem);

/// Where a problem is: (selected file number, 1, line) for a file's line
/// (0 for the file as a whole); (the number of selected files before it
/// in canonical order, 0, 0) for an entry of the store listing, so that it
/// comes just before the first file after it.
type Place = (usize, u8, u64);

/// The first problems, by place, and counts of all: in total, by reason
/// and by file.
pub struct Problems {
    kept: Vec<(Place, Problem)>,
    lines: u64,
    files: u64,
    strict: bool,
    /// Skipped lines, then skipped files, by reason.
    line_reasons: BTreeMap<Cow<'static, str>, u64>,
    file_reasons: BTreeMap<Cow<'static, str>, u64>,
    /// Problems of each selected file, by its number (grown as needed:
    /// eight bytes per file up to the last one with a problem).
    per_file: Vec<u64>,
    /// The first store entries skipped at listing (by place, then as met),
    /// one problem each: only the first [`TOP_FILES`] can be among the files
    /// with the most.
    listed: Vec<(Listed, String)>,
    /// Store entries skipped at listing so far.
    listings: u64,
}

/// Where an entry of the listing is: its place among the selected files,
/// then the order it was met in.
type Listed = (usize, u64);

/// Adds one to `reason`'s count, allocating only for a reason not met yet.
fn count(map: &mut BTreeMap<Cow<'static, str>, u64>, reason: Cow<'static, str>) {
    match map.get_mut(reason.as_ref()) {
        Some(n) => *n += 1,
        None => {
            map.insert(reason, 1);
        }
    }
}

/// Most first, then by name.
fn by_count(map: &BTreeMap<Cow<'static, str>, u64>) -> Vec<ReasonCount> {
    let mut v: Vec<ReasonCount> = map
        .iter()
        .map(|(r, n)| ReasonCount {
            reason: r.to_string(),
            count: *n,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    v
}

impl Problems {
    pub fn new(strict: bool) -> Self {
        Self {
            kept: Vec::new(),
            lines: 0,
            files: 0,
            strict,
            line_reasons: BTreeMap::new(),
            file_reasons: BTreeMap::new(),
            per_file: Vec::new(),
            listed: Vec::new(),
            listings: 0,
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

    fn count_file(&mut self, file: usize) {
        if file >= self.per_file.len() {
            self.per_file.resize(file + 1, 0);
        }
        self.per_file[file] += 1;
    }

    /// An entry of the store listing that is not read (SPEC §7.1), which
    /// canonical order places after `before` of the selected files; `kind`
    /// is the reason without the particulars, for the tally.
    pub fn listing(
        &mut self,
        before: usize,
        path: &str,
        kind: &'static str,
        reason: String,
    ) -> Result<(), StrictAbort> {
        self.files += 1;
        count(&mut self.file_reasons, Cow::Borrowed(kind));
        let at = (before, self.listings);
        self.listings += 1;
        let i = self.listed.partition_point(|(p, _)| *p <= at);
        if i < TOP_FILES {
            self.listed.insert(i, (at, path.to_string()));
            self.listed.truncate(TOP_FILES);
        }
        self.add((before, 0, 0), || Problem {
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
        kind: Cow<'static, str>,
        reason: &dyn std::fmt::Display,
    ) -> Result<(), StrictAbort> {
        self.lines += 1;
        count(&mut self.line_reasons, kind);
        self.count_file(file);
        self.add((file, 1, line), || Problem {
            file: path(),
            line: Some(line),
            reason: reason.to_string(),
        })
    }

    /// Selected file number `file` as a whole: skipped, or partly unreadable.
    pub fn file(
        &mut self,
        file: usize,
        path: impl FnOnce() -> String,
        kind: &'static str,
        reason: String,
    ) -> Result<(), StrictAbort> {
        self.files += 1;
        count(&mut self.file_reasons, Cow::Borrowed(kind));
        self.count_file(file);
        self.add((file, 1, 0), || Problem {
            file: path(),
            line: None,
            reason,
        })
    }

    /// Every problem by reason, and the [`TOP_FILES`] files with the most
    /// (ties in file order); `path_of` names selected file number `f`.
    pub fn tally(&self, path_of: impl Fn(usize) -> String) -> Tally {
        // (problems, place): a listing entry (0, its number in `listed`)
        // before the file it comes before, a selected file (1, 0).
        let mut top: Vec<(u64, (usize, u8, usize))> = self
            .listed
            .iter()
            .enumerate()
            .map(|(i, ((before, _), _))| (1, (*before, 0, i)))
            .collect();
        for (f, &n) in self.per_file.iter().enumerate() {
            if n == 0 {
                continue;
            }
            top.push((n, (f, 1, 0)));
            if top.len() > 4 * TOP_FILES {
                top.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                top.truncate(TOP_FILES);
            }
        }
        top.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        top.truncate(TOP_FILES);
        Tally {
            lines: by_count(&self.line_reasons),
            files: by_count(&self.file_reasons),
            top_files: top
                .into_iter()
                .map(|(problems, (f, kind, i))| FileProblems {
                    file: if kind == 0 {
                        self.listed[i].1.clone()
                    } else {
                        path_of(f)
                    },
                    problems,
                })
                .collect(),
        }
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

/// Reasons and their counts, as `--summary-json` and the manifest list them.
pub fn reasons_json(v: &[ReasonCount]) -> Value {
    Value::Array(
        v.iter()
            .map(|r| json!({"reason": r.reason, "count": r.count}))
            .collect(),
    )
}

/// The files with the most problems, as `--summary-json` and the manifest list them.
pub fn top_files_json(v: &[FileProblems]) -> Value {
    Value::Array(
        v.iter()
            .map(|f| json!({"file": f.file, "problems": f.problems}))
            .collect(),
    )
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
    /// Every problem by reason, and the files with the most.
    pub tally: Tally,
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
            "skipped_lines_by_reason": reasons_json(&self.tally.lines),
            "skipped_files_by_reason": reasons_json(&self.tally.files),
            "files_with_most_problems": top_files_json(&self.tally.top_files),
        });
        if let (Some(d), Some(o)) = (&self.delivery, v.as_object_mut()) {
            o.insert("delivery".to_string(), d.json());
        }
        v
    }

    /// The tally of problems, as printed before the summary line when
    /// there is more than one: skipped lines and files by reason, and,
    /// when they are in more than one file, the files with the most.
    pub fn tally_lines(&self) -> Vec<String> {
        let t = &self.tally;
        if self.skipped_lines + self.skipped_files < 2 {
            return Vec::new();
        }
        let reasons = |v: &[ReasonCount]| {
            v.iter()
                .map(|r| format!("{} {}", thousands(r.count), r.reason))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = Vec::new();
        if !t.lines.is_empty() {
            out.push(format!("skipped lines by reason: {}", reasons(&t.lines)));
        }
        if !t.files.is_empty() {
            out.push(format!("skipped files by reason: {}", reasons(&t.files)));
        }
        if t.top_files.len() > 1 {
            let files: Vec<String> = t
                .top_files
                .iter()
                .map(|f| format!("{} ({})", f.file, thousands(f.problems)))
                .collect();
            out.push(format!("files with the most problems: {}", files.join(", ")));
        }
        out
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
            let bytes = counted(total(|s| s.bytes), "byte", "bytes");
            // gRPC's compression is tonic's, done as a message is sent.
            let size = if d.grpc_compresses {
                format!("{bytes}, compressed by gRPC as they are sent")
            } else {
                format!("{bytes}, {} compressed", n(total(|s| s.wire_bytes)))
            };
            format!(
                "dry run: would send {events} from {from} as {} ({size}) to {}",
                per.join(", "),
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
                "exported {} ({}, {}, {} -> {}) from {} to {}{} in {:.2}s",
                counted(c.events, "event", "events"),
                counted(c.logs, "log", "logs"),
                counted(c.spans, "span", "spans"),
                counted(c.metric_events, "metric event", "metric events"),
                counted(c.metric_points, "point", "points"),
                counted(self.files_read, "file", "files"),
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
                "; skipped {} and {}",
                counted(self.skipped_lines, "line", "lines"),
                counted(self.skipped_files, "file", "files")
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
            p.line(2, i + 1, || "b.jsonl".into(), "bad".into(), &"bad").unwrap();
        }
        for i in 0..80u64 {
            p.line(1, i + 1, || "a.jsonl".into(), "bad".into(), &"bad").unwrap();
        }
        p.file(1, || "a.jsonl".into(), "cut short", "cut short".into()).unwrap();
        p.listing(0, "x.jsonl", "a folder", "a folder".into()).unwrap();
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
    fn tally_counts_every_problem_by_reason_and_names_the_files_with_the_most() {
        let mut p = Problems::new(false);
        let name = |f: usize| format!("f{f}.jsonl");
        // File 3 has 250 problems (more than are kept), file 1 has 2, file 7 one.
        for i in 0..250u64 {
            let kind = if i % 5 == 0 {
                "invalid JSON"
            } else {
                "missing timestamp"
            };
            p.line(3, i + 1, || name(3), kind.into(), &"x").unwrap();
        }
        p.line(1, 4, || name(1), "invalid JSON".into(), &"x").unwrap();
        p.file(1, || name(1), "file got shorter while read", "cut".into())
            .unwrap();
        p.file(7, || name(7), "cannot read file", "gone".into()).unwrap();
        // Named before every selected file.
        p.listing(0, "x.jsonl", "not a regular file", "a folder".into())
            .unwrap();
        let t = p.tally(name);
        let reasons = |v: &[ReasonCount]| v.iter().map(|r| (r.reason.clone(), r.count)).collect::<Vec<_>>();
        assert_eq!(
            reasons(&t.lines),
            [("missing timestamp".to_string(), 200), ("invalid JSON".to_string(), 51)]
        );
        assert_eq!(
            reasons(&t.files),
            [
                ("cannot read file".to_string(), 1),
                ("file got shorter while read".to_string(), 1),
                ("not a regular file".to_string(), 1)
            ]
        );
        let top: Vec<(String, u64)> = t.top_files.iter().map(|f| (f.file.clone(), f.problems)).collect();
        // Ties in file order: the listing's entry (named before the selected files) first.
        assert_eq!(
            top,
            [
                ("f3.jsonl".to_string(), 250),
                ("f1.jsonl".to_string(), 2),
                ("x.jsonl".to_string(), 1),
                ("f7.jsonl".to_string(), 1)
            ]
        );
        // At most TOP_FILES, the most first.
        let mut many = Problems::new(false);
        for f in 0..40usize {
            for l in 0..(f as u64 % 7 + 1) {
                many.line(f, l + 1, || name(f), "invalid JSON".into(), &"x").unwrap();
            }
        }
        let top = many.tally(name).top_files;
        assert_eq!(top.len(), TOP_FILES);
        let got: Vec<(String, u64)> = top.iter().map(|f| (f.file.clone(), f.problems)).collect();
        assert_eq!(
            got,
            [
                ("f6.jsonl".to_string(), 7),
                ("f13.jsonl".to_string(), 7),
                ("f20.jsonl".to_string(), 7),
                ("f27.jsonl".to_string(), 7),
                ("f34.jsonl".to_string(), 7)
            ]
        );
    }

    #[test]
    fn listing_entries_take_their_place_among_the_files_everywhere() {
        // Files 0..3 selected; a folder and a link named between files 1 and
        // 2 (met in that order), every file with one problem but file 0.
        let name = |f: usize| format!("f{f}.jsonl");
        let mut p = Problems::new(false);
        p.listing(2, "dir.jsonl", "not a regular file", "a folder".into())
            .unwrap();
        p.listing(2, "link.jsonl", "not a regular file", "a link".into())
            .unwrap();
        p.line(3, 4, || name(3), "invalid JSON".into(), &"bad").unwrap();
        p.line(2, 9, || name(2), "invalid JSON".into(), &"bad").unwrap();
        p.line(1, 7, || name(1), "invalid JSON".into(), &"bad").unwrap();
        let kept: Vec<String> = p.kept().iter().map(|x| x.to_string()).collect();
        assert_eq!(
            kept,
            [
                "f1.jsonl:7: bad",
                "dir.jsonl: a folder",
                "link.jsonl: a link",
                "f2.jsonl:9: bad",
                "f3.jsonl:4: bad"
            ]
        );
        assert_eq!(p.shown(), p.kept());
        let top: Vec<String> = p.tally(name).top_files.into_iter().map(|f| f.file).collect();
        assert_eq!(top, ["f1.jsonl", "dir.jsonl", "link.jsonl", "f2.jsonl", "f3.jsonl"]);

        // Only the first TOP_FILES entries by place can be named, whatever
        // the order they were met in; ties with files in file order.
        let mut p = Problems::new(false);
        for (before, n) in [(9, "z1"), (9, "z2"), (0, "a"), (3, "c"), (9, "z3"), (9, "z4"), (1, "b")] {
            p.listing(before, n, "not a regular file", "a folder".into()).unwrap();
        }
        p.line(0, 1, || name(0), "invalid JSON".into(), &"bad").unwrap();
        p.line(2, 1, || name(2), "invalid JSON".into(), &"bad").unwrap();
        let top: Vec<String> = p.tally(name).top_files.into_iter().map(|f| f.file).collect();
        assert_eq!(top, ["a", "f0.jsonl", "b", "f2.jsonl", "c"]);
        let first: Vec<String> = p.kept().iter().take(7).map(|x| x.file.clone()).collect();
        assert_eq!(first, ["a", "f0.jsonl", "b", "f2.jsonl", "c", "z1", "z2"]);
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
        // Over gRPC with compression, tonic compresses as it sends.
        d.grpc_compresses = true;
        let line = s.send_line(&d);
        assert!(line.contains("(1 byte, compressed by gRPC as they are sent)"), "{line}");
    }

    #[test]
    fn strict_aborts_on_the_first_problem() {
        let mut p = Problems::new(true);
        let e = p
            .line(
                0,
                3,
                || "f.jsonl".into(),
                "missing event_name".into(),
                &"missing event_name",
            )
            .unwrap_err();
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
    fn summary_line_says_one_event_one_file_one_line_in_the_singular() {
        let mut s = Summary {
            files_read: 1,
            skipped_lines: 1,
            output: Some("out.json".to_string()),
            format: Some(Format::Json),
            elapsed_s: 0.5,
            ..Summary::default()
        };
        s.counts.events = 1;
        s.counts.logs = 1;
        assert_eq!(
            s.line(),
            "exported 1 event (1 log, 0 spans, 0 metric events -> 0 points) from 1 file to out.json \
             as a JSON array in 0.50s; skipped 1 line and 0 files"
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
