//! Atomic output and what an export may replace (SPEC §8.2).
//!
//! Everything is written to a temporary file or folder beside the target and
//! renamed into place only when complete. Temporaries are named
//! `.{target}.coder-telemetry-{pid}-{random}.tmp`, so that a later run can
//! tell its own stale ones from anything else: those whose process is gone
//! (a SIGKILL, a power cut) are removed by the next export into the same
//! folder ([`clean_stale`]), and nothing else is ever touched. Live
//! temporaries are kept in a process-wide registry, so that an interrupt
//! that cannot wait for the pipeline still removes them ([`abandon_all`]).
//!
//! The final rename never replaces a target that appeared while the export
//! ran, unless `--force` allowed it (`renameat2` with `RENAME_NOREPLACE`).
//! `--force` replaces only a regular file that is not an input, or a folder
//! that is an earlier export of this tool: it holds this tool's
//! `manifest.json` and nothing the manifest does not list. The store, a
//! folder inside or around it, an input file, a symbolic link or any other
//! folder is refused and left untouched ([`check_target`]); the check is made
//! before any work and again just before the rename. A folder target is
//! swapped in with `RENAME_EXCHANGE`, so the old export is never missing.
//!
//! An existing target that is neither a regular file nor a folder
//! (`/dev/null`, a named pipe, a terminal) is never replaced, whatever
//! `--force` says: a JSON export streams into it, like `-o -`. A target that
//! must be a file (`--manifest`) refuses a folder and a special file alike.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tempfile::{NamedTempFile, TempDir};

/// The tool's name in temporaries and in the manifest.
pub const TOOL: &str = "coder-telemetry";

/// What `--force` may replace, in words, for messages.
const FORCE_RULE: &str = "--force replaces only a regular file that is not an input, or a folder that is an \
                          earlier export of coder-telemetry";

/// Why output could not be staged or committed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0} already exists (use --force to overwrite it)")]
    Exists(PathBuf),
    #[error("{0} appeared while the export ran and was left as it is (use --force to overwrite it)")]
    AppearedMeanwhile(PathBuf),
    #[error("refusing to replace {path}: {why}; {FORCE_RULE}")]
    WontReplace { path: PathBuf, why: String },
    #[error("{0} is not a regular file or folder; --format otlp writes a folder or a .zip file")]
    Special(PathBuf),
    #[error("the folder {0} does not exist")]
    NoParent(PathBuf),
    #[error(
        "refusing to write {0}: it is named like a telemetry file and lies in the store, where later exports would \
         read it as telemetry; give it another name or folder"
    )]
    TelemetryNameInStore(PathBuf),
    #[error("cannot write in {path}: {error}")]
    Io { path: PathBuf, error: io::Error },
    #[error("--manifest {0}: it is a folder or not a regular file; --manifest writes a file, give it a file name")]
    NotAFile(PathBuf),
    #[error("--manifest {0} names the output itself; give the manifest its own name")]
    ManifestIsOutput(PathBuf),
    #[error("{output} was written, but its manifest was not: {error}")]
    ManifestNotWritten { output: String, error: Box<OutputError> },
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

fn file_name(target: &Path) -> String {
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `.{name}.coder-telemetry-{pid}-`: the start of this process's temporaries.
fn temp_prefix(target: &Path) -> String {
    format!(".{}.{TOOL}-{}-", file_name(target), std::process::id())
}

/// Whether `target` exists and is neither a regular file nor a folder
/// (following symlinks): a device, a named pipe or a socket.
pub fn is_special(target: &Path) -> bool {
    std::fs::metadata(target).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// What the export reads: an output must never be one of these.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// The store folders, canonical.
    pub stores: Vec<PathBuf>,
    /// (device, inode) of every input file.
    pub files: HashSet<(u64, u64)>,
}

impl Inputs {
    pub fn new(stores: &[PathBuf], files: impl IntoIterator<Item = (u64, u64)>) -> Self {
        Self {
            stores: stores.iter().filter_map(|s| s.canonicalize().ok()).collect(),
            files: files.into_iter().collect(),
        }
    }
}

/// An existing target that `--force` may replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replaceable {
    Nothing,
    File,
    Export,
}

/// Checks `target` before any work: a missing parent folder is refused; an
/// existing target needs `force`, and then must be replaceable under §8.2.
pub fn check_target(target: &Path, force: bool, inputs: &Inputs) -> Result<Replaceable, OutputError> {
    let parent = parent_of(target);
    if !parent.is_dir() {
        return Err(OutputError::NoParent(parent));
    }
    match replaceable(target, inputs)? {
        Replaceable::Nothing => refuse_telemetry_name_in_store(target, inputs).map(|()| Replaceable::Nothing),
        _ if !force => Err(OutputError::Exists(target.to_path_buf())),
        r => Ok(r),
    }
}

/// Checks a target that must be a file (`--manifest`) as [`check_target`]
/// does; a folder or a special file there is refused, whatever `--force`
/// says (not even an earlier export folder is replaced by a file).
pub fn check_file_target(target: &Path, force: bool, inputs: &Inputs) -> Result<Replaceable, OutputError> {
    match target.symlink_metadata() {
        Ok(m) if m.is_dir() || is_special(target) => Err(OutputError::NotAFile(target.to_path_buf())),
        _ => check_target(target, force, inputs),
    }
}

/// Renames a finished temporary file onto a target that must be a file
/// (`--manifest`), re-checked as [`check_file_target`] does.
pub fn commit_file_only(staged: StagedFile, target: &Path, force: bool, inputs: &Inputs) -> Result<(), OutputError> {
    if target.symlink_metadata().is_ok_and(|m| m.is_dir()) || is_special(target) {
        return Err(OutputError::NotAFile(target.to_path_buf()));
    }
    commit_file(staged, target, force, inputs)
}

/// Checks `target` as [`check_target`] does, then removes what killed
/// exports left beside it ([`clean_stale`]); returns a note for each.
pub fn prepare_target(target: &Path, force: bool, inputs: &Inputs) -> Result<Vec<String>, OutputError> {
    check_target(target, force, inputs)?;
    Ok(clean_stale(&parent_of(target))
        .into_iter()
        .map(|stale| format!("removed {}, left behind by an export that was killed", stale.display()))
        .collect())
}

/// A new file or folder named like a telemetry file (`telemetry-DATE-...`)
/// inside a store would be read back by every later export of it (or
/// reported as a bad file each time): refused (an existing one is refused
/// by [`replaceable`]).
fn refuse_telemetry_name_in_store(target: &Path, inputs: &Inputs) -> Result<(), OutputError> {
    if crate::store::parse_name(&file_name(target)) == Ok(None) {
        return Ok(());
    }
    let Ok(parent) = parent_of(target).canonicalize() else {
        return Ok(());
    };
    if inputs.stores.iter().any(|s| parent.starts_with(s)) {
        return Err(OutputError::TelemetryNameInStore(target.to_path_buf()));
    }
    Ok(())
}

/// What is at `target` now, and whether `--force` may replace it.
fn replaceable(target: &Path, inputs: &Inputs) -> Result<Replaceable, OutputError> {
    let refuse = |why: &str| OutputError::WontReplace {
        path: target.to_path_buf(),
        why: why.to_string(),
    };
    let meta = match target.symlink_metadata() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Replaceable::Nothing),
        Err(e) => return Err(io_err(target)(e)),
        Ok(m) => m,
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("it is a symbolic link"));
    }
    let canonical = target.canonicalize().map_err(io_err(target))?;
    let in_store = inputs.stores.iter().find(|s| canonical.starts_with(s));
    if meta.is_file() {
        if crate::store::file_id(&meta).is_some_and(|id| inputs.files.contains(&id)) {
            return Err(refuse("it is an input file of this export"));
        }
        let telemetry_name = crate::store::parse_name(&file_name(target)) != Ok(None);
        if in_store.is_some() && telemetry_name {
            return Err(refuse("it is a telemetry file of the store"));
        }
        return Ok(Replaceable::File);
    }
    if !meta.is_dir() {
        return Err(refuse("it is not a regular file or folder"));
    }
    if let Some(s) = in_store {
        return Err(refuse(if *s == canonical {
            "it is the store being exported"
        } else {
            "it is a folder inside the store"
        }));
    }
    if inputs.stores.iter().any(|s| s.starts_with(&canonical)) {
        return Err(refuse("it holds the store being exported"));
    }
    match earlier_export(target) {
        Ok(()) => Ok(Replaceable::Export),
        Err(why) => Err(refuse(&why)),
    }
}

/// Whether folder `dir` is an earlier export of this tool: a `manifest.json`
/// written by it, and no entry the manifest does not list. `Err` says why not.
pub fn earlier_export(dir: &Path) -> Result<(), String> {
    let not = "it is a folder that is not an earlier export of coder-telemetry";
    let text = std::fs::read(dir.join("manifest.json")).map_err(|_| format!("{not} (no manifest.json)"))?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&text).map_err(|_| format!("{not} (its manifest.json is not this tool's)"))?;
    if manifest["exporter"]["name"] != TOOL {
        return Err(format!("{not} (its manifest.json is not this tool's)"));
    }
    // Envelope files are listed by name, as strings or as {"name": ...} objects.
    let listed: HashSet<&str> = manifest["files"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().or_else(|| f["name"].as_str()))
                .collect()
        })
        .unwrap_or_default();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("it cannot be read: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("it cannot be read: {e}"))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !is_file || (name != "manifest.json" && !listed.contains(&*name)) {
            return Err(format!("it holds {name:?}, which its manifest does not list"));
        }
    }
    Ok(())
}

/// The temporaries this process has not committed or removed yet.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

fn forget(path: &Path) {
    live().retain(|p| p != path);
}

/// Best effort: what cannot be removed now is a stale temporary that the
/// next run into the same folder removes (`clean_stale`).
fn remove(path: &Path) {
    let _ = match path.symlink_metadata() {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    };
}

/// Removes every temporary of this process and returns with the registry
/// locked, so that no commit can start: for an interrupt that exits at
/// once instead of waiting for the pipeline to stop.
pub fn abandon_all() -> MutexGuard<'static, Vec<PathBuf>> {
    let mut guard = live();
    for p in guard.drain(..) {
        remove(&p);
    }
    guard
}

/// Removes the temporaries that earlier exports into `dir` left behind when
/// they were killed: entries named like this tool's temporaries whose
/// process no longer exists. Returns what was removed.
pub fn clean_stale(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(stale_pid) else {
            continue;
        };
        if pid != std::process::id() && !process_exists(pid) {
            let path = entry.path();
            remove(&path);
            removed.push(path);
        }
    }
    removed
}

/// The pid in a temporary's name `.{target}.coder-telemetry-{pid}-{random}.tmp`.
fn stale_pid(name: &str) -> Option<u32> {
    let body = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (_, tail) = body.rsplit_once(&format!(".{TOOL}-"))?;
    let (pid, random) = tail.split_once('-')?;
    let ok = !random.is_empty() && random.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| pid.parse().ok()).flatten()
}

#[cfg(unix)]
fn process_exists(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return false;
    };
    // EPERM: it exists but belongs to someone else.
    !matches!(rustix::process::test_kill_process(pid), Err(rustix::io::Errno::SRCH))
}

#[cfg(not(unix))]
fn process_exists(_pid: u32) -> bool {
    true
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

fn builder(target: &Path, mode: u32) -> (tempfile::Builder<'static, 'static>, String) {
    let mut b = tempfile::Builder::new();
    let prefix = temp_prefix(target);
    b.suffix(".tmp").rand_bytes(8);
    set_mode(&mut b, mode);
    (b, prefix)
}

/// A temporary file beside its target; removed unless committed.
pub struct StagedFile {
    tmp: Option<NamedTempFile>,
}

impl StagedFile {
    pub fn as_file(&self) -> &std::fs::File {
        // Present until commit consumes self.
        self.tmp
            .as_ref()
            .map(|t| t.as_file())
            .expect("a staged file before commit")
    }

    pub fn path(&self) -> &Path {
        self.tmp.as_ref().map(|t| t.path()).unwrap_or(Path::new(""))
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if let Some(t) = self.tmp.take() {
            forget(t.path());
        }
    }
}

/// A temporary folder beside its target; removed unless committed.
pub struct StagedDir {
    tmp: Option<TempDir>,
}

impl StagedDir {
    pub fn path(&self) -> &Path {
        self.tmp.as_ref().map(|t| t.path()).unwrap_or(Path::new(""))
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if let Some(t) = self.tmp.take() {
            forget(t.path());
        }
    }
}

/// A temporary file beside `target`.
pub fn temp_file(target: &Path) -> Result<StagedFile, OutputError> {
    let parent = parent_of(target);
    let (mut b, prefix) = builder(target, 0o666);
    let tmp = b.prefix(&prefix).tempfile_in(&parent).map_err(io_err(&parent))?;
    live().push(tmp.path().to_path_buf());
    Ok(StagedFile { tmp: Some(tmp) })
}

/// A temporary folder beside `target`.
pub fn temp_dir(target: &Path) -> Result<StagedDir, OutputError> {
    let parent = parent_of(target);
    let (mut b, prefix) = builder(target, 0o777);
    let tmp = b.prefix(&prefix).tempdir_in(&parent).map_err(io_err(&parent))?;
    live().push(tmp.path().to_path_buf());
    Ok(StagedDir { tmp: Some(tmp) })
}

/// How a finished temporary goes into place.
enum Rename {
    /// The target must not exist.
    NoReplace,
    /// A regular file is replaced in one step.
    Replace,
    /// The target and the temporary swap places; the old one is then removed.
    Exchange,
}

#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
fn rename_with(from: &Path, to: &Path, how: &Rename) -> io::Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    let flags = match how {
        Rename::NoReplace => RenameFlags::NOREPLACE,
        Rename::Exchange => RenameFlags::EXCHANGE,
        Rename::Replace => return std::fs::rename(from, to).map(|()| true),
    };
    match renameat_with(CWD, from, CWD, to, flags) {
        Ok(()) => Ok(true),
        // The file system cannot: the caller falls back.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS | rustix::io::Errno::NOTSUP) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn rename_with(from: &Path, to: &Path, how: &Rename) -> io::Result<bool> {
    match how {
        Rename::Replace => std::fs::rename(from, to).map(|()| true),
        _ => Ok(false),
    }
}

/// Moves `tmp` onto `target` under the `--force` rules, re-checked now.
fn commit(tmp: &Path, target: &Path, force: bool, inputs: &Inputs) -> Result<(), OutputError> {
    let how = match replaceable(target, inputs)? {
        Replaceable::Nothing => {
            refuse_telemetry_name_in_store(target, inputs)?;
            Rename::NoReplace
        }
        _ if !force => return Err(OutputError::AppearedMeanwhile(target.to_path_buf())),
        Replaceable::File if tmp.is_file() => Rename::Replace,
        _ => Rename::Exchange,
    };
    let _registry = live();
    let done = rename_with(tmp, target, &how).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => OutputError::AppearedMeanwhile(target.to_path_buf()),
        _ => io_err(target)(e),
    })?;
    if done {
        if let Rename::Exchange = how {
            // The old output now sits at the temporary's name.
            remove(tmp);
        }
        return Ok(());
    }
    // No atomic rename here: check, then rename (a race remains, documented).
    match how {
        Rename::NoReplace => {
            if target.symlink_metadata().is_ok() {
                return Err(OutputError::AppearedMeanwhile(target.to_path_buf()));
            }
            std::fs::rename(tmp, target).map_err(io_err(target))
        }
        _ => {
            let aside = tmp.with_extension("old.tmp");
            std::fs::rename(target, &aside).map_err(io_err(target))?;
            match std::fs::rename(tmp, target) {
                Ok(()) => {
                    remove(&aside);
                    Ok(())
                }
                Err(e) => {
                    let _ = std::fs::rename(&aside, target);
                    Err(io_err(target)(e))
                }
            }
        }
    }
}

/// Renames a finished temporary file onto the target.
pub fn commit_file(mut staged: StagedFile, target: &Path, force: bool, inputs: &Inputs) -> Result<(), OutputError> {
    let Some(tmp) = staged.tmp.take() else {
        return Ok(());
    };
    let path = tmp.path().to_path_buf();
    // From here the temporary is ours to remove on failure.
    let kept = tmp.into_temp_path();
    let result = commit(&path, target, force, inputs);
    if result.is_ok() {
        let _ = kept.keep();
    } else {
        drop(kept);
    }
    forget(&path);
    result
}

/// Renames a finished temporary folder onto the target.
pub fn commit_dir(mut staged: StagedDir, target: &Path, force: bool, inputs: &Inputs) -> Result<(), OutputError> {
    let Some(tmp) = staged.tmp.take() else {
        return Ok(());
    };
    let path = tmp.keep();
    let result = commit(&path, target, force, inputs);
    if result.is_err() {
        remove(&path);
    }
    forget(&path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn none() -> Inputs {
        Inputs::default()
    }

    #[test]
    fn existing_target_needs_force() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("out.json");
        std::fs::write(&t, "old").unwrap();
        assert!(matches!(check_target(&t, false, &none()), Err(OutputError::Exists(_))));
        assert_eq!(check_target(&t, true, &none()).unwrap(), Replaceable::File);
        assert!(matches!(
            check_target(&d.path().join("no/such/out.json"), true, &none()),
            Err(OutputError::NoParent(_))
        ));
    }

    #[test]
    fn committed_file_replaces_target_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("out.json");
        std::fs::write(&t, "old").unwrap();
        let tmp = temp_file(&t).unwrap();
        tmp.as_file().write_all(b"new").unwrap();
        commit_file(tmp, &t, true, &none()).unwrap();
        assert_eq!(std::fs::read_to_string(&t).unwrap(), "new");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        assert!(live().is_empty());
    }

    #[test]
    fn target_that_appeared_meanwhile_is_not_replaced_without_force() {
        let d = tempfile::tempdir().unwrap();
        for dir in [false, true] {
            let t = d.path().join(format!("out-{dir}"));
            check_target(&t, false, &none()).unwrap();
            // Another export (or the user) creates the target while this one runs.
            let result = if dir {
                let tmp = temp_dir(&t).unwrap();
                std::fs::write(&t, "theirs").unwrap();
                commit_dir(tmp, &t, false, &none())
            } else {
                let tmp = temp_file(&t).unwrap();
                tmp.as_file().write_all(b"ours").unwrap();
                std::fs::write(&t, "theirs").unwrap();
                commit_file(tmp, &t, false, &none())
            };
            assert!(matches!(result, Err(OutputError::AppearedMeanwhile(_))), "{result:?}");
            assert_eq!(std::fs::read_to_string(&t).unwrap(), "theirs");
        }
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2, "no temporaries left");
    }

    #[cfg(unix)]
    #[test]
    fn outputs_get_ordinary_permissions_not_the_temporaries_private_ones() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("out.json");
        commit_file(temp_file(&f).unwrap(), &f, false, &none()).unwrap();
        let dir = d.path().join("out");
        commit_dir(temp_dir(&dir).unwrap(), &dir, false, &none()).unwrap();
        // Whatever the umask, group/other get at least what the umask allows,
        // and never less than a file created with File::create would.
        let plain = d.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&f), mode(&plain));
        assert_eq!(mode(&dir) & 0o666, mode(&plain));
    }

    #[test]
    fn dropped_temporaries_are_removed_and_forgotten() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("out");
        drop(temp_file(&t).unwrap());
        drop(temp_dir(&t).unwrap());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    fn export_folder(dir: &Path, files: &[&str]) {
        std::fs::create_dir(dir).unwrap();
        let names: Vec<_> = files.iter().map(|f| serde_json::json!({"name": f})).collect();
        let m = serde_json::json!({"exporter": {"name": TOOL}, "files": names});
        std::fs::write(dir.join("manifest.json"), m.to_string()).unwrap();
        for f in files {
            std::fs::write(dir.join(f), "{}").unwrap();
        }
    }

    #[test]
    fn force_replaces_an_earlier_export_folder_by_exchange() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("out");
        export_folder(&t, &["logs.json"]);
        assert_eq!(check_target(&t, true, &none()).unwrap(), Replaceable::Export);
        let tmp = temp_dir(&t).unwrap();
        std::fs::write(tmp.path().join("traces.json"), "{}").unwrap();
        commit_dir(tmp, &t, true, &none()).unwrap();
        assert!(t.join("traces.json").exists() && !t.join("logs.json").exists());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn force_refuses_folders_that_are_not_earlier_exports() {
        let d = tempfile::tempdir().unwrap();
        let mine = d.path().join("precious");
        std::fs::create_dir(&mine).unwrap();
        std::fs::write(mine.join("thesis.tex"), "years of work").unwrap();
        let e = check_target(&mine, true, &none()).unwrap_err().to_string();
        assert!(
            e.contains("not an earlier export") && e.contains("--force replaces only"),
            "{e}"
        );
        // An export folder the user added a file to is theirs now.
        let export = d.path().join("export");
        export_folder(&export, &["logs.json"]);
        std::fs::write(export.join("notes.txt"), "mine").unwrap();
        let e = check_target(&export, true, &none()).unwrap_err().to_string();
        assert!(e.contains("notes.txt"), "{e}");
        assert!(mine.join("thesis.tex").exists() && export.join("notes.txt").exists());
    }

    #[test]
    fn force_refuses_the_store_what_is_around_it_and_its_files() {
        let d = tempfile::tempdir().unwrap();
        let store = d.path().join("store");
        std::fs::create_dir(&store).unwrap();
        let input = store.join("telemetry-2026-11-20-a.jsonl");
        std::fs::write(&input, "x").unwrap();
        let id = crate::store::file_id(&std::fs::metadata(&input).unwrap()).unwrap();
        let inputs = Inputs::new(std::slice::from_ref(&store), [id]);
        for (target, why) in [
            (store.clone(), "the store being exported"),
            (d.path().to_path_buf(), "holds the store"),
            (input.clone(), "input file"),
        ] {
            let e = check_target(&target, true, &inputs).unwrap_err().to_string();
            assert!(e.contains(why), "{}: {e}", target.display());
        }
        // A telemetry file of the store that is not selected is still refused.
        let other = store.join("telemetry-2026-11-21-b.jsonl");
        std::fs::write(&other, "y").unwrap();
        assert!(check_target(&other, true, &inputs).is_err());
        // Reached through a hard link, an input is still an input.
        let link = d.path().join("alias.json");
        std::fs::hard_link(&input, &link).unwrap();
        assert!(check_target(&link, true, &inputs)
            .unwrap_err()
            .to_string()
            .contains("input file"));
    }

    #[cfg(unix)]
    #[test]
    fn force_refuses_a_symbolic_link() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("link.json");
        std::os::unix::fs::symlink("/etc/hostname", &t).unwrap();
        let e = check_target(&t, true, &none()).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
    }

    #[test]
    fn stale_temporary_names_carry_the_pid() {
        assert_eq!(stale_pid(".out.json.coder-telemetry-4242-a1B2c3D4.tmp"), Some(4242));
        assert_eq!(stale_pid(".my.dots.zip.coder-telemetry-7-abcdefgh.tmp"), Some(7));
        for other in [
            ".out.json.other-tool-4242-a1B2c3D4.tmp",
            "out.json.coder-telemetry-4242-a1B2c3D4.tmp",
            ".out.json.coder-telemetry-4242-a1B2c3D4.tmp.bak",
            ".out.json.coder-telemetry-x-a1B2c3D4.tmp",
            ".out.json.coder-telemetry-42-.tmp",
        ] {
            assert_eq!(stale_pid(other), None, "{other}");
        }
        let t = temp_file(Path::new("/tmp/x.json")).unwrap();
        let name = t.path().file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(stale_pid(&name), Some(std::process::id()), "{name}");
    }
}
