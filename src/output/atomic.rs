//! Atomic output (SPEC §8.2): everything is written to a temporary file or
//! folder beside the target and renamed into place only when complete. The
//! temporaries are removed when dropped, so a failure, an early return or a
//! Ctrl-C (which unwinds through the normal error path) leaves nothing behind.
//!
//! An existing target that is neither a regular file nor a folder
//! (`/dev/null`, a named pipe, a terminal) is never replaced, whatever
//! `--force` says: a JSON export streams into it, like `-o -`.

use std::io;
use std::path::{Path, PathBuf};

use tempfile::{NamedTempFile, TempDir};

/// Why output could not be staged or committed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0} already exists (use --force to overwrite it)")]
    Exists(PathBuf),
    #[error("{0} is not a regular file or folder; --format otlp writes a folder or a .zip file")]
    Special(PathBuf),
    #[error("the output folder {0} does not exist")]
    NoParent(PathBuf),
    #[error("cannot write in {path}: {error}")]
    Io { path: PathBuf, error: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |error| OutputError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// The folder the target lives in (`.` for a bare name).
pub fn parent_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.")
}

/// Whether `target` exists and is neither a regular file nor a folder
/// (following symlinks): a device, a named pipe or a socket.
pub fn is_special(target: &Path) -> bool {
    std::fs::metadata(target).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Refuses an existing target without `--force` and a missing parent folder.
pub fn check_target(target: &Path, force: bool) -> Result<(), OutputError> {
    if target.symlink_metadata().is_ok() && !force {
        return Err(OutputError::Exists(target.to_path_buf()));
    }
    let parent = parent_of(target);
    if !parent.is_dir() {
        return Err(OutputError::NoParent(parent));
    }
    Ok(())
}

/// Temporaries are private by default; the output they become gets the
/// permissions of any new file (`0666`/`0777` less the umask).
fn set_mode(b: &mut tempfile::Builder<'_, '_>, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (b, mode);
}

/// A temporary file beside `target`.
pub fn temp_file(target: &Path) -> Result<NamedTempFile, OutputError> {
    let parent = parent_of(target);
    let name = prefix(target);
    let mut b = tempfile::Builder::new();
    b.prefix(&name).suffix(".tmp");
    set_mode(&mut b, 0o666);
    b.tempfile_in(&parent).map_err(io_err(&parent))
}

/// A temporary folder beside `target`.
pub fn temp_dir(target: &Path) -> Result<TempDir, OutputError> {
    let parent = parent_of(target);
    let name = prefix(target);
    let mut b = tempfile::Builder::new();
    b.prefix(&name).suffix(".tmp");
    set_mode(&mut b, 0o777);
    b.tempdir_in(&parent).map_err(io_err(&parent))
}

/// Moves an existing target aside (for `--force`), to be removed once the new one is in place.
fn move_aside(target: &Path) -> Result<Option<PathBuf>, OutputError> {
    if target.symlink_metadata().is_err() {
        return Ok(None);
    }
    let aside = parent_of(target).join(format!("{}old-{}", prefix(target), std::process::id()));
    std::fs::rename(target, &aside).map_err(io_err(target))?;
    Ok(Some(aside))
}

fn remove(path: &Path) {
    let _ = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
}

/// Renames a finished temporary file onto the target.
pub fn commit_file(tmp: NamedTempFile, target: &Path) -> Result<(), OutputError> {
    let aside = if target.is_dir() { move_aside(target)? } else { None };
    match tmp.persist(target) {
        Ok(_) => {
            if let Some(a) = aside {
                remove(&a);
            }
            Ok(())
        }
        Err(e) => {
            if let Some(a) = aside {
                let _ = std::fs::rename(&a, target);
            }
            Err(io_err(target)(e.error))
        }
    }
}

/// Renames a finished temporary folder onto the target.
pub fn commit_dir(tmp: TempDir, target: &Path) -> Result<(), OutputError> {
    let aside = move_aside(target)?;
    let path = tmp.keep();
    match std::fs::rename(&path, target) {
        Ok(()) => {
            if let Some(a) = aside {
                remove(&a);
            }
            Ok(())
        }
        Err(e) => {
            remove(&path);
            if let Some(a) = aside {
                let _ = std::fs::rename(&a, target);
            }
            Err(io_err(target)(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn existing_target_needs_force() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("out.json");
        std::fs::write(&t, "old").unwrap();
        assert!(matches!(check_target(&t, false), Err(OutputError::Exists(_))));
        assert!(check_target(&t, true).is_ok());
        assert!(matches!(
            check_target(&d.path().join("no/such/out.json"), true),
            Err(OutputError::NoParent(_))
        ));
    }

    #[test]
    fn committed_file_replaces_target_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("out.json");
        std::fs::write(&t, "old").unwrap();
        let mut tmp = temp_file(&t).unwrap();
        tmp.write_all(b"new").unwrap();
        commit_file(tmp, &t).unwrap();
        assert_eq!(std::fs::read_to_string(&t).unwrap(), "new");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn outputs_get_ordinary_permissions_not_the_temporaries_private_ones() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("out.json");
        commit_file(temp_file(&f).unwrap(), &f).unwrap();
        let dir = d.path().join("out");
        commit_dir(temp_dir(&dir).unwrap(), &dir).unwrap();
        // Whatever the umask, group/other get at least what the umask allows,
        // and never less than a file created with File::create would.
        let plain = d.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&f), mode(&plain));
        assert_eq!(mode(&dir) & 0o666, mode(&plain));
    }

    #[test]
    fn dropped_temporaries_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("out");
        drop(temp_file(&t).unwrap());
        drop(temp_dir(&t).unwrap());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn committed_folder_replaces_an_existing_folder() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("out");
        std::fs::create_dir(&t).unwrap();
        std::fs::write(t.join("stale.json"), "x").unwrap();
        let tmp = temp_dir(&t).unwrap();
        std::fs::write(tmp.path().join("logs.json"), "{}").unwrap();
        commit_dir(tmp, &t).unwrap();
        assert!(t.join("logs.json").exists() && !t.join("stale.json").exists());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
