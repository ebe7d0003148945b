//! The store (SPEC §1): telemetry file names, canonical order, selection by
//! range from the name alone, and probing for the default store folder.
//!
//! Selection never opens a file: a file outside the range costs nothing, even
//! when it cannot be read. Only selected files are `stat`ed for their size.

use std::path::{Path, PathBuf};

use crate::range::{parse_day, DateRange};
use crate::timestamp::days_from_civil;
use chrono::Datelike;

/// One telemetry file, by its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreFile {
    pub path: PathBuf,
    /// The file name, as reported in problems.
    pub name: String,
    /// `YYYY-MM-DD`, the UTC day the file was written.
    pub date: String,
    /// The same day as days since the epoch.
    pub day: i64,
    pub session: String,
    pub part: u64,
    /// Size in bytes when selected (0 until [`stat_sizes`]).
    pub size: u64,
}

/// Parses `telemetry-YYYY-MM-DD-{session}[.{part}].jsonl` into (date, day, session, part).
pub fn parse_name(name: &str) -> Option<(String, i64, String, u64)> {
    let rest = name.strip_prefix("telemetry-")?.strip_suffix(".jsonl")?;
    let date = rest.get(..10)?;
    let d = parse_day("file name", date).ok()?;
    let tail = rest.get(10..)?.strip_prefix('-')?;
    let (session, part) = match tail.split_once('.') {
        None => (tail, 0),
        Some((s, p)) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (s, p.parse().ok()?)
        }
    };
    if session.is_empty() {
        return None;
    }
    let day = days_from_civil(i64::from(d.year()), d.month(), d.day());
    Some((date.to_string(), day, session.to_string(), part))
}

/// Why the store could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read the store folder {path}: {error}")]
    Unreadable { path: PathBuf, error: std::io::Error },
    #[error("the store {0} is not a folder")]
    NotAFolder(PathBuf),
}

/// Lists the telemetry files of `dir` in canonical order (§1.3), ignoring every other name.
pub fn list(dir: &Path) -> Result<Vec<StoreFile>, StoreError> {
    let unreadable = |error| StoreError::Unreadable {
        path: dir.to_path_buf(),
        error,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(StoreError::NotAFolder(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((date, day, session, part)) = parse_name(name) {
            files.push(StoreFile {
                path: entry.path(),
                name: name.to_string(),
                date,
                day,
                session,
                part,
                size: 0,
            });
        }
    }
    sort_canonical(&mut files);
    Ok(files)
}

/// (date, session, part): strings, strings, integers (§1.3).
pub fn sort_canonical(files: &mut [StoreFile]) {
    files.sort_by(|a, b| (&a.date, &a.session, a.part).cmp(&(&b.date, &b.session, b.part)));
}

/// Keeps the files whose date can hold an event of `range` (§1.2).
pub fn select(files: Vec<StoreFile>, range: &DateRange) -> Vec<StoreFile> {
    files.into_iter().filter(|f| range.holds_day(f.day)).collect()
}

/// Fills in each selected file's size. A file that cannot be `stat`ed keeps
/// size 0 and is reported when the pipeline fails to open it.
pub fn stat_sizes(files: &mut [StoreFile]) {
    for f in files {
        f.size = std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0);
    }
}

/// The extension's folder below a VS Code user-data folder.
pub const EXTENSION_SUFFIX: [&str; 4] = ["User", "globalStorage", "coder.coder-remote", "telemetry"];

/// Editors whose user-data folders are probed, in order (§1.4).
pub const PRODUCTS: [&str; 6] = [
    "Code",
    "Code - Insiders",
    "VSCodium",
    "Cursor",
    "Windsurf",
    "Code - OSS",
];

/// A candidate default store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Where the candidate comes from (`$VSCODE_PORTABLE`, `Code`, `code-server`...).
    pub source: String,
    pub path: PathBuf,
}

/// Which operating system's folders to probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }
}

/// Every candidate store in probe order (§1.4). `env` looks up variables;
/// `home` is the user's home folder.
pub fn candidates(os: Os, home: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Vec<Candidate> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut user_data: Vec<(String, PathBuf)> = Vec::new();
    if let Some(p) = var("VSCODE_PORTABLE") {
        user_data.push(("$VSCODE_PORTABLE".into(), p.join("user-data")));
    }
    if let Some(p) = var("VSCODE_APPDATA") {
        for product in PRODUCTS {
            user_data.push((format!("$VSCODE_APPDATA ({product})"), p.join(product)));
        }
    }
    let config_root = match os {
        Os::Linux => var("XDG_CONFIG_HOME").or_else(|| home.map(|h| h.join(".config"))),
        Os::MacOs => home.map(|h| h.join("Library").join("Application Support")),
        Os::Windows => var("APPDATA"),
    };
    if let Some(root) = config_root {
        for product in PRODUCTS {
            user_data.push((product.to_string(), root.join(product)));
        }
    }
    let data_home = var("XDG_DATA_HOME").or_else(|| home.map(|h| h.join(".local").join("share")));
    if let Some(d) = data_home {
        user_data.push(("code-server".into(), d.join("code-server")));
    }
    if let Some(h) = home {
        for (name, dir) in [
            ("VS Code Server", ".vscode-server"),
            ("OpenVSCode Server", ".openvscode-server"),
            ("Cursor Server", ".cursor-server"),
            ("Windsurf Server", ".windsurf-server"),
        ] {
            user_data.push((name.into(), h.join(dir).join("data")));
        }
    }
    user_data
        .into_iter()
        .map(|(source, p)| Candidate {
            source,
            path: EXTENSION_SUFFIX.iter().fold(p, |acc, s| acc.join(s)),
        })
        .collect()
}

/// The candidates of this machine, from the real environment.
pub fn system_candidates() -> Vec<Candidate> {
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from);
    candidates(Os::current(), home.as_deref(), &|k| std::env::var(k).ok())
}

/// The first candidate that exists.
pub fn default_store() -> Option<Candidate> {
    system_candidates().into_iter().find(|c| c.path.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::RangeSpec;

    #[test]
    fn parses_file_names() {
        assert_eq!(
            parse_name("telemetry-2026-11-20-abc.jsonl"),
            Some(("2026-11-20".into(), 20777, "abc".into(), 0))
        );
        assert_eq!(
            parse_name("telemetry-2026-11-20-1f2e-33aa.12.jsonl").map(|x| (x.2, x.3)),
            Some(("1f2e-33aa".into(), 12))
        );
        for bad in [
            "telemetry-2026-11-20.jsonl",
            "telemetry-2026-11-20-.jsonl",
            "telemetry-2026-11-20-a.b.c.jsonl",
            "telemetry-2026-11-20-a.x.jsonl",
            "telemetry-2026-11-20-a.jsonl.bak",
            "telemetry-2026-02-30-a.jsonl",
            "telemetry-2026-1-20-a.jsonl",
            "other-2026-11-20-a.jsonl",
            "telemetry-2026-11-20-a.-1.jsonl",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    fn file(name: &str) -> StoreFile {
        let (date, day, session, part) = parse_name(name).unwrap();
        StoreFile {
            path: PathBuf::from(name),
            name: name.into(),
            date,
            day,
            session,
            part,
            size: 0,
        }
    }

    #[test]
    fn canonical_order_compares_parts_as_integers() {
        let mut v: Vec<_> = [
            "telemetry-2026-11-21-a.jsonl",
            "telemetry-2026-11-20-b.jsonl",
            "telemetry-2026-11-20-a.10.jsonl",
            "telemetry-2026-11-20-a.2.jsonl",
            "telemetry-2026-11-20-a.jsonl",
        ]
        .into_iter()
        .map(file)
        .collect();
        sort_canonical(&mut v);
        let names: Vec<_> = v.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "telemetry-2026-11-20-a.jsonl",
                "telemetry-2026-11-20-a.2.jsonl",
                "telemetry-2026-11-20-a.10.jsonl",
                "telemetry-2026-11-20-b.jsonl",
                "telemetry-2026-11-21-a.jsonl"
            ]
        );
    }

    #[test]
    fn selection_is_by_date_only() {
        let files: Vec<_> = [
            "telemetry-2026-10-31-a.jsonl",
            "telemetry-2026-11-01-a.jsonl",
            "telemetry-2026-11-08-a.jsonl",
        ]
        .into_iter()
        .map(file)
        .collect();
        let now = chrono::Utc::now();
        let r = RangeSpec::days("2026-11-01", "2026-11-07").unwrap().resolve(now);
        let sel = select(files, &r);
        assert_eq!(sel.len(), 1);
        assert_eq!(sel[0].date, "2026-11-01");
    }

    #[test]
    fn probes_in_the_documented_order() {
        let env = |k: &str| match k {
            "VSCODE_PORTABLE" => Some("/portable".to_string()),
            "XDG_CONFIG_HOME" => Some("/xdg".to_string()),
            _ => None,
        };
        let c = candidates(Os::Linux, Some(Path::new("/home/u")), &env);
        let tail = "User/globalStorage/coder.coder-remote/telemetry";
        assert_eq!(c[0].path, PathBuf::from(format!("/portable/user-data/{tail}")));
        assert_eq!(c[1].path, PathBuf::from(format!("/xdg/Code/{tail}")));
        assert_eq!(c[2].path, PathBuf::from(format!("/xdg/Code - Insiders/{tail}")));
        assert_eq!(c[6].path, PathBuf::from(format!("/xdg/Code - OSS/{tail}")));
        assert_eq!(
            c[7].path,
            PathBuf::from(format!("/home/u/.local/share/code-server/{tail}"))
        );
        assert_eq!(c[8].path, PathBuf::from(format!("/home/u/.vscode-server/data/{tail}")));
        assert_eq!(
            c.last().unwrap().path,
            PathBuf::from(format!("/home/u/.windsurf-server/data/{tail}"))
        );
        let mac = candidates(Os::MacOs, Some(Path::new("/Users/u")), &|_| None);
        assert_eq!(
            mac[0].path,
            PathBuf::from(format!("/Users/u/Library/Application Support/Code/{tail}"))
        );
        let appdata = |k: &str| (k == "VSCODE_APPDATA").then(|| "/appdata".to_string());
        let c = candidates(Os::Linux, None, &appdata);
        assert_eq!(c[0].path, PathBuf::from(format!("/appdata/Code/{tail}")));
    }
}
