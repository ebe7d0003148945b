//! The delivery journal (`--journal`, SPEC §10.5): which requests an
//! endpoint acknowledged, by signal and sha256 of the uncompressed body,
//! with their record counts. It is JSON lines: a first line that marks it
//! as this tool's, then one line per acknowledged request, appended with a
//! single `write` as soon as the acknowledgement arrives. A process killed
//! at any moment leaves whole lines (the page cache outlives the process);
//! a last line cut short by a power loss is dropped when the journal is
//! next opened (it is rewritten without it, atomically). Appending keeps
//! the cost per request constant, whatever the number of requests. It holds
//! no endpoint and no header: nothing secret is ever written here.
//!
//! A file that is not a journal of this tool is never overwritten.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::output::atomic::{self, Inputs, OutputError};

/// The first line of every journal.
const MARK: &str = "coder_telemetry_journal";

/// Why a journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("--journal {path}: cannot read it: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("--journal {path}: not a coder-telemetry journal ({why}); it was left as it was")]
    Foreign { path: PathBuf, why: String },
    #[error("--journal {0}: {1}")]
    Write(PathBuf, OutputError),
}

/// The journal: what it holds, and the file appended to.
pub struct Journal {
    file: Option<(PathBuf, File)>,
    done: Done,
}

/// (signal, sha256 hex) -> records.
type Done = BTreeMap<(String, String), u64>;

fn header() -> String {
    format!("{}\n", json!({ MARK: 1 }))
}

fn line(signal: &str, sha: &str, records: u64) -> String {
    format!("{}\n", json!({"signal": signal, "sha256": sha, "records": records}))
}

impl Journal {
    /// No journal: nothing is skipped or recorded.
    pub fn none() -> Self {
        Self {
            file: None,
            done: BTreeMap::new(),
        }
    }

    /// Reads an existing journal: what it holds, and whether it is whole
    /// (`false`: its last line was cut short). `None` when there is none.
    fn read(path: &Path) -> Result<Option<(Done, bool)>, JournalError> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(JournalError::Read {
                    path: path.to_path_buf(),
                    error,
                })
            }
        };
        let foreign = |why: &str| JournalError::Foreign {
            path: path.to_path_buf(),
            why: why.to_string(),
        };
        let mut lines = text.split(|b| *b == b'\n');
        let first: Value = lines
            .next()
            .and_then(|l| serde_json::from_slice(l).ok())
            .ok_or_else(|| foreign("its first line is not JSON"))?;
        if first.get(MARK).and_then(Value::as_u64) != Some(1) {
            return Err(foreign("no \"coder_telemetry_journal\": 1 on its first line"));
        }
        let mut done = Done::new();
        let mut whole = true;
        let ends_cleanly = text.ends_with(b"\n");
        let lines: Vec<&[u8]> = lines.filter(|l| !l.is_empty()).collect();
        for (i, l) in lines.iter().enumerate() {
            let e: Option<(String, String, u64)> = serde_json::from_slice::<Value>(l).ok().and_then(|e| {
                Some((
                    e.get("signal")?.as_str()?.to_string(),
                    e.get("sha256")?.as_str()?.to_string(),
                    e.get("records")?.as_u64()?,
                ))
            });
            match e {
                Some((sig, sha, n)) if i + 1 < lines.len() || ends_cleanly => {
                    done.insert((sig, sha), n);
                }
                // The last line, cut short: that request is sent again.
                _ if i + 1 == lines.len() => whole = false,
                _ => return Err(foreign("a line that is not a delivered request")),
            }
        }
        Ok(Some((done, whole)))
    }

    /// Opens `path`: an existing journal is read and appended to; a missing
    /// one is created (atomically, with its first line).
    pub fn open(path: &Path, inputs: &Inputs) -> Result<Self, JournalError> {
        let write_err = |e: OutputError| JournalError::Write(path.to_path_buf(), e);
        let io_err = |error: std::io::Error| {
            JournalError::Write(
                path.to_path_buf(),
                OutputError::Io {
                    path: path.to_path_buf(),
                    error,
                },
            )
        };
        let (done, whole) = Self::read(path)?.unwrap_or_default();
        if !whole {
            // New, or with a torn last line: written out whole first.
            let staged = atomic::temp_file(path).map_err(write_err)?;
            let mut text = header();
            for ((sig, sha), n) in &done {
                text.push_str(&line(sig, sha, *n));
            }
            staged.as_file().write_all(text.as_bytes()).map_err(io_err)?;
            atomic::commit_file(staged, path, true, inputs).map_err(write_err)?;
        }
        let file = OpenOptions::new().append(true).open(path).map_err(io_err)?;
        Ok(Self {
            file: Some((path.to_path_buf(), file)),
            done,
        })
    }

    /// Reads `path` without ever writing it (`--dry-run`): a missing
    /// journal is empty.
    pub fn peek(path: &Path) -> Result<Self, JournalError> {
        let done = Self::read(path)?.map(|(done, _)| done).unwrap_or_default();
        Ok(Self { file: None, done })
    }

    pub fn contains(&self, signal: &str, sha256: &str) -> bool {
        self.done.contains_key(&(signal.to_string(), sha256.to_string()))
    }

    /// Records an acknowledged request: one line, one `write`.
    pub fn record(&mut self, signal: &str, sha256: &str, records: u64) -> Result<(), JournalError> {
        self.done.insert((signal.to_string(), sha256.to_string()), records);
        let Some((path, file)) = &mut self.file else {
            return Ok(());
        };
        file.write_all(line(signal, sha256, records).as_bytes())
            .map_err(|error| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_is_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.json");
        let inputs = Inputs::new(&[], []);
        let mut j = Journal::open(&path, &inputs).unwrap();
        assert!(!j.contains("logs", "ab"));
        j.record("logs", "ab", 3).unwrap();
        j.record("metrics", "cd", 7).unwrap();
        drop(j);
        let again = Journal::open(&path, &inputs).unwrap();
        assert!(again.contains("logs", "ab") && again.contains("metrics", "cd"));
        assert!(!again.contains("traces", "ab"));
        // Only the journal is there: the temporaries were renamed.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_last_line_cut_short_is_dropped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let inputs = Inputs::new(&[], []);
        let text = format!("{}{}{{\"signal\":\"logs\",\"sha", header(), line("logs", "ab", 3));
        std::fs::write(&path, text).unwrap();
        let mut j = Journal::open(&path, &inputs).unwrap();
        assert!(j.contains("logs", "ab"));
        j.record("traces", "ef", 1).unwrap();
        drop(j);
        let again = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            again,
            format!("{}{}{}", header(), line("logs", "ab", 3), line("traces", "ef", 1))
        );
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "my notes").unwrap();
        let inputs = Inputs::new(&[], []);
        assert!(matches!(
            Journal::open(&path, &inputs),
            Err(JournalError::Foreign { .. })
        ));
        std::fs::write(&path, r#"{"other": 1}"#).unwrap();
        assert!(matches!(
            Journal::open(&path, &inputs),
            Err(JournalError::Foreign { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"{"other": 1}"#);
    }
}
