//! The delivery journal (`--journal`, SPEC §10.5): which requests an
//! endpoint acknowledged, by signal and sha256 of the uncompressed body,
//! with their record counts. It is rewritten as a whole, atomically (a
//! temporary beside it, then a rename), after every acknowledgement, so a
//! send killed at any moment leaves either the old or the new journal. It
//! holds no endpoint and no header: nothing secret is ever written here.
//!
//! A file that is not a journal of this tool is never overwritten.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::output::atomic::{self, Inputs, OutputError};

/// The first key of every journal, and its version.
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

/// One acknowledged request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub records: u64,
}

/// The journal in memory; [`Journal::record`] writes it out.
pub struct Journal {
    path: Option<PathBuf>,
    /// (signal, sha256 hex) -> entry.
    done: BTreeMap<(String, String), Entry>,
}

impl Journal {
    /// No journal: nothing is skipped or recorded.
    pub fn none() -> Self {
        Self {
            path: None,
            done: BTreeMap::new(),
        }
    }

    /// Opens `path`: an existing journal is read; a missing one starts empty
    /// (and is created at the first acknowledgement).
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let mut j = Self {
            path: Some(path.to_path_buf()),
            done: BTreeMap::new(),
        };
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(j),
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
        let v: Value = serde_json::from_slice(&text).map_err(|_| foreign("not JSON"))?;
        if v.get(MARK).and_then(Value::as_u64) != Some(1) {
            return Err(foreign("no \"coder_telemetry_journal\": 1"));
        }
        for e in v.get("delivered").and_then(Value::as_array).into_iter().flatten() {
            let (Some(signal), Some(sha), Some(records)) = (
                e.get("signal").and_then(Value::as_str),
                e.get("sha256").and_then(Value::as_str),
                e.get("records").and_then(Value::as_u64),
            ) else {
                return Err(foreign("an entry without signal, sha256 or records"));
            };
            j.done.insert((signal.to_string(), sha.to_string()), Entry { records });
        }
        Ok(j)
    }

    pub fn contains(&self, signal: &str, sha256: &str) -> bool {
        self.done.contains_key(&(signal.to_string(), sha256.to_string()))
    }

    /// Records an acknowledged request and writes the journal out.
    pub fn record(&mut self, signal: &str, sha256: &str, records: u64, inputs: &Inputs) -> Result<(), JournalError> {
        self.done
            .insert((signal.to_string(), sha256.to_string()), Entry { records });
        let Some(path) = &self.path else {
            return Ok(());
        };
        let delivered: Vec<Value> = self
            .done
            .iter()
            .map(|((signal, sha), e)| json!({"signal": signal, "sha256": sha, "records": e.records}))
            .collect();
        let doc = json!({ MARK: 1, "delivered": delivered });
        let fail = |e: OutputError| JournalError::Write(path.clone(), e);
        let staged = atomic::temp_file(path).map_err(fail)?;
        let written = serde_json::to_vec_pretty(&doc)
            .map_err(std::io::Error::other)
            .and_then(|b| staged.as_file().write_all(&b));
        if let Err(error) = written {
            return Err(fail(OutputError::Io {
                path: staged.path().to_path_buf(),
                error,
            }));
        }
        atomic::commit_file(staged, path, true, inputs).map_err(fail)
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
        let mut j = Journal::open(&path).unwrap();
        assert!(!j.contains("logs", "ab"));
        j.record("logs", "ab", 3, &inputs).unwrap();
        j.record("metrics", "cd", 7, &inputs).unwrap();
        let again = Journal::open(&path).unwrap();
        assert!(again.contains("logs", "ab") && again.contains("metrics", "cd"));
        assert!(!again.contains("traces", "ab"));
        // Only the journal is there: the temporaries were renamed.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "my notes").unwrap();
        assert!(matches!(Journal::open(&path), Err(JournalError::Foreign { .. })));
        std::fs::write(&path, r#"{"other": 1}"#).unwrap();
        assert!(matches!(Journal::open(&path), Err(JournalError::Foreign { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"{"other": 1}"#);
    }
}
