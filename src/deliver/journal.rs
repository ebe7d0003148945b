//! The delivery journal (`--journal`, SPEC §10.5): which records an
//! endpoint acknowledged, bound to what they were sent for.
//!
//! It is JSON lines. The first line marks the file as this tool's and
//! holds its [`Binding`]: the destination, the stores, the shard, the
//! resolved window and the instant it was anchored at, and the options that
//! decide which records there are. Each later line is one acknowledged
//! request: its signal and its records, as ranges of record ordinals per
//! file (`model::origin`), appended with a single `write` as soon as the
//! acknowledgement arrives. So a resume sends exactly the records not yet
//! acknowledged, whatever the request size, concurrency, compression or
//! protocol now are, and after requests were halved for a 413.
//!
//! A process killed at any moment leaves whole lines; a line cut short
//! (power loss) or otherwise damaged costs only its own records, which are
//! sent again, and the run says so (the journal is then rewritten without
//! it, atomically). An empty file is a new journal. A file that is not a
//! journal of this tool is never written to. A send holds an exclusive
//! lock on the journal for as long as it runs: a second send on it is
//! refused. It holds no header and no URL password: nothing secret is
//! ever written here.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::attempt::redact_url;
use crate::config::Config;
use crate::model::{Delivered, Origins, Signal};
use crate::output::atomic::{self, Inputs, OutputError};
use crate::store::StoreFile;

/// The key of the first line, and the version of the format.
const MARK: &str = "coder_telemetry_journal";
const VERSION: u64 = 2;
/// A line longer than this is damaged (read without holding it).
const MAX_LINE: usize = 64 << 20;

/// What a journal is bound to: a resume must match all of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The endpoint of each signal, without any password.
    pub endpoints: Vec<String>,
    /// The store folders, canonical, in the order given.
    pub stores: Vec<String>,
    /// `K/N`, or none.
    pub shard: Option<String>,
    /// The range as given (`all-time`, `2026-11-01..2026-11-30`).
    pub range: String,
    /// The resolved window, ns since the epoch (`start <= t < end`).
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// The instant the range was anchored at (`--now`, or the clock of the first run).
    pub now: String,
    /// Options that decide which records there are and how they are numbered.
    pub metric_events: Vec<String>,
    pub max_line_bytes: u64,
}

impl Binding {
    /// What a send of `cfg` to `endpoints` is bound to.
    pub fn new(endpoints: &[String; 3], cfg: &Config) -> Self {
        Self {
            endpoints: endpoints.iter().map(|e| redact_url(e)).collect(),
            stores: cfg
                .stores
                .iter()
                .map(|s| s.canonicalize().unwrap_or_else(|_| s.clone()).display().to_string())
                .collect(),
            shard: cfg.shard.map(|s| format!("{}/{}", s.k, s.n)),
            range: cfg.range.label.clone(),
            start: cfg.range.start,
            end: cfg.range.end,
            now: now_text(&cfg.now),
            metric_events: cfg.metric_events.names().to_vec(),
            max_line_bytes: cfg.max_line_bytes as u64,
        }
    }

    /// Why `self` (the journal's) does not fit `now` (this run's), in words.
    pub fn mismatch(&self, now: &Binding) -> Option<String> {
        let list = |v: &[String]| {
            let mut shown: Vec<&str> = Vec::new();
            for x in v {
                if !shown.contains(&x.as_str()) {
                    shown.push(x);
                }
            }
            shown.join(", ")
        };
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_string());
        let window = |b: &Binding| format!("{} ({} to {})", b.range, at(b.start), at(b.end));
        if self.endpoints != now.endpoints {
            return Some(format!(
                "it records deliveries to {}, not {}",
                list(&self.endpoints),
                list(&now.endpoints)
            ));
        }
        if self.stores != now.stores {
            return Some(format!(
                "it records the stores {}, not {}",
                list(&self.stores),
                list(&now.stores)
            ));
        }
        if self.shard != now.shard {
            return Some(format!(
                "it records shard {}, not {}",
                opt(&self.shard),
                opt(&now.shard)
            ));
        }
        if self.now != now.now {
            return Some(format!("its range was anchored at --now {}, not {}", self.now, now.now));
        }
        if (&self.range, self.start, self.end) != (&now.range, now.start, now.end) {
            return Some(format!("it records the range {}, not {}", window(self), window(now)));
        }
        if self.metric_events != now.metric_events || self.max_line_bytes != now.max_line_bytes {
            return Some(format!(
                "it was sent with --metric-event {} and --max-line-bytes {}, not {} and {}",
                list(&self.metric_events),
                self.max_line_bytes,
                list(&now.metric_events),
                now.max_line_bytes
            ));
        }
        None
    }
}

/// An instant as the journal keeps it, to the nanosecond.
pub fn now_text(now: &chrono::DateTime<chrono::Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn at(t: Option<i64>) -> String {
    t.map_or_else(
        || "open".to_string(),
        |t| chrono::DateTime::from_timestamp_nanos(t).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    )
}

/// Why a journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("--journal {path}: cannot read it: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("--journal {path}: not a coder-telemetry journal ({why}); it was left as it was")]
    Foreign { path: PathBuf, why: String },
    #[error("--journal {path}: another send is using it; wait for it to finish, or use another journal")]
    Busy { path: PathBuf },
    #[error(
        "--journal {path}: {why}; run the command that started it (the same endpoint, stores, shard and range), \
         or use another --journal for this send"
    )]
    Bound { path: PathBuf, why: String },
    #[error("--journal {path}: it lies in the store folder {store}; keep it outside the store")]
    InStore { path: PathBuf, store: PathBuf },
    #[error("--journal {0}: {1}")]
    Write(PathBuf, OutputError),
}

impl JournalError {
    /// The journal cannot be used as given (exit 2): nothing was sent.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            JournalError::Busy { .. } | JournalError::Bound { .. } | JournalError::InStore { .. }
        )
    }
}

/// Ordinal ranges `[from, to)`.
type Ranges = Vec<(u64, u64)>;
/// One file's records in a journal line: store position, file name, ranges.
type FileRanges = (usize, String, Ranges);

/// What reading a journal found.
#[derive(Debug, Default)]
struct Contents {
    binding: Option<Binding>,
    /// Per signal: (store, name) -> ordinal ranges.
    done: [HashMap<(usize, String), Ranges>; 3],
    /// Lines that are not an acknowledged request (cut short, or garbage).
    damaged: u64,
    /// Whether the file ends with a newline (or is empty).
    terminated: bool,
    /// Whether it is empty.
    empty: bool,
}

/// An acknowledged request, as a journal line holds it.
#[derive(Serialize, Deserialize)]
struct Line {
    signal: String,
    records: u64,
    /// `[store, name, [[from, to], ...]]` per file.
    files: Vec<FileRanges>,
}

/// Reads one line of at most [`MAX_LINE`] bytes into `buf`; `Ok(false)` at
/// the end. A longer line is consumed and `buf` left holding nothing.
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    let mut any = false;
    let mut over = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any);
        }
        any = true;
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !over && buf.len() + take <= MAX_LINE + 1 {
            buf.extend_from_slice(&chunk[..take]);
        } else {
            over = true;
            buf.clear();
        }
        r.consume(take);
        if done {
            return Ok(true);
        }
    }
}

fn parse(file: &mut File, path: &Path) -> Result<Contents, JournalError> {
    let read_err = |error| JournalError::Read {
        path: path.to_path_buf(),
        error,
    };
    let foreign = |why: &str| JournalError::Foreign {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    file.rewind().map_err(read_err)?;
    let mut r = BufReader::new(file);
    let mut buf = Vec::new();
    let mut out = Contents {
        terminated: true,
        empty: true,
        ..Contents::default()
    };
    if !read_line(&mut r, &mut buf).map_err(read_err)? {
        return Ok(out);
    }
    out.empty = false;
    let first: Value = serde_json::from_slice(&buf).map_err(|_| foreign("its first line is not JSON"))?;
    match first.get(MARK).and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(1) => {
            return Err(foreign(
                "it is a journal of an older version, which recorded request bytes, not records; \
                 start a new journal",
            ))
        }
        _ => return Err(foreign("no \"coder_telemetry_journal\": 2 on its first line")),
    }
    let binding: Binding = first
        .get("binding")
        .cloned()
        .and_then(|b| serde_json::from_value(b).ok())
        .ok_or_else(|| foreign("its first line has no valid binding"))?;
    out.binding = Some(binding);
    out.terminated = buf.ends_with(b"\n");
    while read_line(&mut r, &mut buf).map_err(read_err)? {
        out.terminated = buf.ends_with(b"\n");
        let line = serde_json::from_slice::<Line>(&buf).ok().filter(|l| {
            out.terminated
                && l.records
                    == l.files
                        .iter()
                        .flat_map(|f| &f.2)
                        .map(|r| r.1.saturating_sub(r.0))
                        .sum::<u64>()
        });
        let signal = line.as_ref().and_then(|l| Signal::named(&l.signal).map(Signal::index));
        match (line, signal) {
            (Some(line), Some(i)) => {
                for (store, name, ranges) in line.files {
                    out.done[i].entry((store, name)).or_default().extend(ranges);
                }
            }
            _ if buf.trim_ascii().is_empty() && out.terminated => {}
            _ => out.damaged += 1,
        }
    }
    Ok(out)
}

/// The journal of a send: what it holds, and the file appended to.
pub struct Journal {
    /// The file, locked, and its path; none without `--journal` or for a dry run.
    file: Option<(PathBuf, File)>,
    /// Store and name of each selected file, by index.
    names: Arc<[(usize, Box<str>)]>,
    delivered: [Arc<Delivered>; 3],
    /// Damaged lines found when it was opened.
    pub damaged: u64,
}

fn names_of(files: &[StoreFile]) -> Arc<[(usize, Box<str>)]> {
    files.iter().map(|f| (f.store, f.name.clone())).collect()
}

/// What the journal holds, by selected file index.
fn delivered_of(read: &Contents, files: &[StoreFile]) -> [Arc<Delivered>; 3] {
    let index: HashMap<(usize, &str), u32> = files
        .iter()
        .enumerate()
        .map(|(i, f)| ((f.store, &*f.name), u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    let mut out: [Delivered; 3] = Default::default();
    for (i, done) in read.done.iter().enumerate() {
        for ((store, name), ranges) in done {
            // A file no longer selected (deleted since) has nothing to send.
            if let Some(&f) = index.get(&(*store, name.as_str())) {
                for &(a, b) in ranges {
                    out[i].insert(f, a, b);
                }
            }
        }
    }
    out.map(Arc::new)
}

fn check_binding(path: &Path, read: &Contents, binding: &Binding) -> Result<(), JournalError> {
    match read.binding.as_ref().and_then(|b| b.mismatch(binding)) {
        Some(why) => Err(JournalError::Bound {
            path: path.to_path_buf(),
            why,
        }),
        None => Ok(()),
    }
}

/// Opens `path` for appending and takes its lock; `None` when it is missing
/// and `create` is false. Retries when the file was replaced meanwhile.
fn open_locked(path: &Path, create: bool) -> Result<Option<File>, JournalError> {
    let io = |error| JournalError::Read {
        path: path.to_path_buf(),
        error,
    };
    loop {
        let file = match OpenOptions::new().read(true).append(true).create(create).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        if !file.metadata().map_err(io)?.is_file() {
            return Err(JournalError::Foreign {
                path: path.to_path_buf(),
                why: "not a regular file".to_string(),
            });
        }
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(JournalError::Busy {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => return Err(io(e.into())),
        }
        // Locked: is it still the file at `path`?
        use std::os::unix::fs::MetadataExt;
        let (held, now) = (file.metadata().map_err(io)?, std::fs::metadata(path));
        if now.is_ok_and(|m| m.ino() == held.ino() && m.dev() == held.dev()) {
            return Ok(Some(file));
        }
    }
}

/// Reads the binding of the journal at `path`, if there is one (for
/// anchoring a resume's range before the run is configured).
pub fn binding_of(path: &Path) -> Option<Binding> {
    let mut file = File::open(path).ok()?;
    parse(&mut file, path).ok()?.binding
}

impl Journal {
    /// No journal: nothing is skipped or recorded.
    pub fn none(files: &[StoreFile]) -> Self {
        Self {
            file: None,
            names: names_of(files),
            delivered: Default::default(),
            damaged: 0,
        }
    }

    /// Opens `path` for a send bound to `binding` over `files`: an existing
    /// journal is checked, read and locked; a missing or empty one is
    /// started with its first line.
    pub fn open(path: &Path, binding: &Binding, files: &[StoreFile], inputs: &Inputs) -> Result<Self, JournalError> {
        let write_err = |e: OutputError| JournalError::Write(path.to_path_buf(), e);
        let io_err = |error: std::io::Error| {
            write_err(OutputError::Io {
                path: path.to_path_buf(),
                error,
            })
        };
        let parent = atomic::parent_of(path).canonicalize().unwrap_or_default();
        if let Some(store) = inputs.stores.iter().find(|s| parent.starts_with(s)) {
            return Err(JournalError::InStore {
                path: path.to_path_buf(),
                store: store.clone(),
            });
        }
        let Some(mut file) = open_locked(path, true)? else {
            return Err(io_err(std::io::ErrorKind::NotFound.into()));
        };
        let read = parse(&mut file, path)?;
        check_binding(path, &read, binding)?;
        let delivered = delivered_of(&read, files);
        if read.empty {
            file.write_all(header(binding).as_bytes()).map_err(io_err)?;
        } else if read.damaged > 0 || !read.terminated {
            // Written out whole without the damaged lines, then locked anew.
            let staged = atomic::temp_file(path).map_err(write_err)?;
            {
                let mut w = std::io::BufWriter::new(staged.as_file());
                w.write_all(header(binding).as_bytes()).map_err(io_err)?;
                for (i, done) in read.done.iter().enumerate() {
                    let mut files: Vec<_> = done.iter().collect();
                    files.sort();
                    for ((store, name), ranges) in files {
                        let count = ranges.iter().map(|r| r.1.saturating_sub(r.0)).sum();
                        let l = Line {
                            signal: Signal::ALL[i].name().to_string(),
                            records: count,
                            files: vec![(*store, name.clone(), ranges.clone())],
                        };
                        w.write_all(&line_bytes(&l)).map_err(io_err)?;
                    }
                }
                w.flush().map_err(io_err)?;
            }
            atomic::commit_file(staged, path, true, inputs).map_err(write_err)?;
            let relocked = open_locked(path, false)?;
            file = relocked.ok_or_else(|| io_err(std::io::ErrorKind::NotFound.into()))?;
        }
        Ok(Self {
            file: Some((path.to_path_buf(), file)),
            names: names_of(files),
            delivered,
            damaged: read.damaged,
        })
    }

    /// Reads `path` without writing or locking it (`--dry-run`): a missing
    /// journal is empty.
    pub fn peek(path: &Path, binding: &Binding, files: &[StoreFile]) -> Result<Self, JournalError> {
        let read = match File::open(path) {
            Ok(mut f) => parse(&mut f, path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Contents::default(),
            Err(error) => {
                return Err(JournalError::Read {
                    path: path.to_path_buf(),
                    error,
                })
            }
        };
        check_binding(path, &read, binding)?;
        Ok(Self {
            file: None,
            names: names_of(files),
            delivered: delivered_of(&read, files),
            damaged: read.damaged,
        })
    }

    /// What the journal holds of signal `i` (0 logs, 1 traces, 2 metrics).
    pub fn delivered(&self, i: usize) -> Arc<Delivered> {
        Arc::clone(&self.delivered[i])
    }

    /// Records an acknowledged request of signal `i`: one line, one `write`.
    pub fn record(&mut self, i: usize, origins: &Origins) -> Result<(), JournalError> {
        let Some((path, file)) = &mut self.file else {
            return Ok(());
        };
        // Runs grouped by file, in order of first appearance.
        let mut files: Vec<FileRanges> = Vec::new();
        let mut at: HashMap<u32, usize> = HashMap::new();
        for &(f, from, to) in origins.runs() {
            let Some((store, name)) = self.names.get(f as usize) else {
                continue;
            };
            let k = *at.entry(f).or_insert_with(|| {
                files.push((*store, name.to_string(), Vec::new()));
                files.len() - 1
            });
            files[k].2.push((from, to));
        }
        let l = Line {
            signal: Signal::ALL[i].name().to_string(),
            records: origins.len(),
            files,
        };
        file.write_all(&line_bytes(&l)).map_err(|error| {
            JournalError::Write(
                path.clone(),
                OutputError::Io {
                    path: path.clone(),
                    error,
                },
            )
        })
    }
}

fn header(binding: &Binding) -> String {
    format!("{}\n", json!({ MARK: VERSION, "binding": binding }))
}

fn line_bytes(l: &Line) -> Vec<u8> {
    let mut v = serde_json::to_vec(l).unwrap_or_default();
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RecordId;

    fn binding() -> Binding {
        Binding {
            endpoints: vec!["http://h".into()],
            stores: vec!["/s".into()],
            shard: None,
            range: "all-time".into(),
            start: None,
            end: None,
            now: "2026-11-24T00:00:00Z".into(),
            metric_events: vec![],
            max_line_bytes: 16,
        }
    }

    fn files() -> Vec<StoreFile> {
        ["telemetry-2026-11-22-aaaa.jsonl", "telemetry-2026-11-23-bbbb.jsonl"]
            .iter()
            .map(|n| StoreFile {
                name: (*n).into(),
                store: 0,
                day: 0,
                part: 0,
                size: 0,
            })
            .collect()
    }

    fn origins(ids: &[(u32, u64)]) -> Origins {
        let mut o = Origins::default();
        for &(file, ordinal) in ids {
            o.push(RecordId { file, ordinal });
        }
        o
    }

    fn id(file: u32, ordinal: u64) -> RecordId {
        RecordId { file, ordinal }
    }

    #[test]
    fn a_journal_records_records_by_file_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let inputs = Inputs::new(&[], []);
        let mut j = Journal::open(&path, &binding(), &files(), &inputs).unwrap();
        j.record(0, &origins(&[(0, 0), (0, 1), (1, 5)])).unwrap();
        j.record(2, &origins(&[(1, 0)])).unwrap();
        drop(j);
        // The files' order changed (one was deleted): names, not indices, count.
        let later = files()[1..].to_vec();
        let again = Journal::open(&path, &binding(), &later, &inputs).unwrap();
        assert!(again.delivered(0).contains(id(0, 5)));
        assert!(!again.delivered(0).contains(id(0, 0)));
        assert!(again.delivered(2).contains(id(0, 0)));
        assert_eq!(again.delivered(1).count(), 0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_empty_file_is_a_new_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "").unwrap();
        let j = Journal::open(&path, &binding(), &files(), &Inputs::new(&[], [])).unwrap();
        drop(j);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), header(&binding()));
    }

    #[test]
    fn a_damaged_line_costs_only_its_records_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let inputs = Inputs::new(&[], []);
        let mut j = Journal::open(&path, &binding(), &files(), &inputs).unwrap();
        j.record(0, &origins(&[(0, 0)])).unwrap();
        j.record(0, &origins(&[(0, 1)])).unwrap();
        drop(j);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(2, "garbage");
        let torn = r#"{"signal":"logs","records":1,"files":[[0,"telemetry-2026-11-22-aaaa.jsonl",[[7,8]"#;
        std::fs::write(&path, format!("{}\n{torn}", lines.join("\n"))).unwrap();
        let j = Journal::open(&path, &binding(), &files(), &inputs).unwrap();
        assert_eq!(j.damaged, 2);
        assert!(j.delivered(0).contains(id(0, 0)) && j.delivered(0).contains(id(0, 1)));
        assert!(!j.delivered(0).contains(id(0, 7)));
        drop(j);
        // Rewritten without them: the next open finds nothing damaged.
        let j = Journal::open(&path, &binding(), &files(), &inputs).unwrap();
        assert_eq!(j.damaged, 0);
        assert_eq!(j.delivered(0).count(), 2);
    }

    #[test]
    fn another_binding_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let inputs = Inputs::new(&[], []);
        drop(Journal::open(&path, &binding(), &files(), &inputs).unwrap());
        let other = Binding {
            endpoints: vec!["http://other".into()],
            ..binding()
        };
        let e = Journal::open(&path, &other, &files(), &inputs).err().unwrap();
        assert!(e.is_refusal());
        assert!(e.to_string().contains("http://other"), "{e}");
        let shard = Binding {
            shard: Some("1/2".into()),
            ..binding()
        };
        assert!(Journal::open(&path, &shard, &files(), &inputs)
            .err()
            .unwrap()
            .to_string()
            .contains("shard"));
    }

    #[test]
    fn a_journal_in_use_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let inputs = Inputs::new(&[], []);
        let held = Journal::open(&path, &binding(), &files(), &inputs).unwrap();
        let e = Journal::open(&path, &binding(), &files(), &inputs).err().unwrap();
        assert!(matches!(e, JournalError::Busy { .. }), "{e}");
        drop(held);
        assert!(Journal::open(&path, &binding(), &files(), &inputs).is_ok());
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        let inputs = Inputs::new(&[], []);
        for text in ["my notes", r#"{"other": 1}"#, "{\"coder_telemetry_journal\":1}\n"] {
            std::fs::write(&path, text).unwrap();
            assert!(matches!(
                Journal::open(&path, &binding(), &files(), &inputs),
                Err(JournalError::Foreign { .. })
            ));
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        }
    }
}
