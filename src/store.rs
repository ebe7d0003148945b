//! The store (SPEC §1): telemetry file names, canonical order, selection by
//! range from the name alone, and probing for the default store folder.
//!
//! Selection never opens a file: a file outside the range costs nothing, even
//! when it cannot be read. Only selected files are `stat`ed for their size.

use std::path::{Path, PathBuf};

use crate::range::{parse_day, DateRange};
use crate::timestamp::days_from_civil;
use chrono::Datelike;

/// One telemetry file, by its name. Kept small: an archive can hold
/// 300,000 of them, and the name alone says the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreFile {
    /// `telemetry-YYYY-MM-DD-{session}[.{part}].jsonl`, as checked by [`parse_name`].
    pub name: Box<str>,
    /// Which store it is in: the position of its folder among those given.
    pub store: usize,
    /// The day in its name, as days since the epoch.
    pub day: i64,
    pub part: u64,
    /// Size in bytes when selected (0 until [`stat_sizes`]).
    pub size: u64,
}

impl StoreFile {
    /// `YYYY-MM-DD`, the UTC day the file was written.
    pub fn date(&self) -> &str {
        &self.name[10..20]
    }

    /// The `{session}` part of the name.
    pub fn session(&self) -> &str {
        let tail = &self.name[21..self.name.len() - ".jsonl".len()];
        tail.split_once('.').map_or(tail, |(s, _)| s)
    }

    /// Its path, in `stores` (the folders given, by position).
    pub fn path(&self, stores: &[PathBuf]) -> PathBuf {
        stores
            .get(self.store)
            .map_or_else(PathBuf::new, |s| s.join(&*self.name))
    }
}

/// The parts of a telemetry file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameParts {
    pub date: String,
    pub day: i64,
    pub session: String,
    pub part: u64,
}

/// Why a name that looks like a telemetry file cannot be read as one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the rotation part number {0} is too large")]
    PartTooLarge(String),
    #[error("the file name is not valid UTF-8")]
    NotUtf8,
}

impl NameError {
    /// The reason without the particulars, for the tally by reason.
    pub fn kind(&self) -> &'static str {
        match self {
            NameError::PartTooLarge(_) => "part number too large",
            NameError::NotUtf8 => "file name not UTF-8",
        }
    }
}

/// `telemetry-YYYY-MM-DD-` and `.jsonl` around a non-empty session part:
/// returns the day and the rest (`{session}[.{part}]`).
fn split_name(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = name.strip_prefix(b"telemetry-")?.strip_suffix(b".jsonl")?;
    let (date, tail) = (rest.get(..10)?, rest.get(10..)?.strip_prefix(b"-")?);
    Some((date, tail))
}

fn day_of(date: &str) -> Option<i64> {
    let d = parse_day("file name", date).ok()?;
    Some(days_from_civil(i64::from(d.year()), d.month(), d.day()))
}

/// Parses `telemetry-YYYY-MM-DD-{session}[.{part}].jsonl`. `Ok(None)`: not a
/// telemetry name (ignored, §1.1); `Err`: a telemetry name that cannot be
/// read as one (reported), with its day.
pub fn parse_name(name: &str) -> Result<Option<NameParts>, (i64, NameError)> {
    let Some((date, tail)) = split_name(name.as_bytes()) else {
        return Ok(None);
    };
    // Both are ASCII-delimited slices of a `str`.
    let (date, tail) = (String::from_utf8_lossy(date), String::from_utf8_lossy(tail));
    let Some(day) = day_of(&date) else {
        return Ok(None);
    };
    let (session, part) = match tail.split_once('.') {
        None => (&*tail, 0),
        Some((s, p)) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(None);
            }
            match p.parse() {
                Ok(n) => (s, n),
                Err(_) if !s.is_empty() => return Err((day, NameError::PartTooLarge(p.to_string()))),
                Err(_) => return Ok(None),
            }
        }
    };
    if session.is_empty() {
        return Ok(None);
    }
    Ok(Some(NameParts {
        date: date.into_owned(),
        day,
        session: session.to_string(),
        part,
    }))
}

/// Why the store could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read the store folder {path}: {error}")]
    Unreadable { path: PathBuf, error: std::io::Error },
    #[error("the store {0} is not a folder")]
    NotAFolder(PathBuf),
}

/// An entry with a telemetry name that is skipped without being opened (§7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub path: PathBuf,
    /// Which store it is in: the position of its folder among those given.
    pub store: usize,
    /// The day in its name, for selection by range.
    pub day: i64,
    /// The session name part, when the name could be read (for `--shard`).
    pub session: Option<String>,
    /// Why, without the particulars (for the tally by reason).
    pub kind: &'static str,
    pub reason: String,
}

/// The telemetry entries of one or several stores.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// Regular files, in canonical order (§1.3, §11.1).
    pub files: Vec<StoreFile>,
    /// Everything else with a telemetry name, in path order.
    pub rejected: Vec<Rejected>,
}

/// What a store holds, for the message of an empty export (§8.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreStats {
    pub path: PathBuf,
    /// Telemetry entries (files, and what was rejected).
    pub files: usize,
    /// The oldest and newest day in their names.
    pub oldest: Option<String>,
    pub newest: Option<String>,
    /// A subfolder that looks like the store, when the folder has no telemetry files.
    pub hint: Option<PathBuf>,
}

impl StoreStats {
    pub fn of(path: &Path, listing: &Listing) -> Self {
        let mut days: Vec<&str> = listing.files.iter().map(|f| f.date()).collect();
        days.sort_unstable();
        let files = listing.files.len() + listing.rejected.len();
        let hint = (files == 0)
            .then(|| {
                [
                    path.join("telemetry"),
                    EXTENSION_SUFFIX.iter().fold(path.to_path_buf(), |p, s| p.join(s)),
                ]
                .into_iter()
                .find(|p| p.is_dir())
            })
            .flatten();
        Self {
            path: path.to_path_buf(),
            files,
            oldest: days.first().map(|d| d.to_string()),
            newest: days.last().map(|d| d.to_string()),
            hint,
        }
    }
}

/// What kind of entry `t` is, in words, when it is not a regular file.
fn not_regular(t: std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_block_device() || t.is_char_device() {
            return Some("a device");
        }
    }
    if t.is_symlink() {
        Some("a symbolic link")
    } else if t.is_dir() {
        Some("a folder")
    } else if t.is_file() {
        None
    } else {
        Some("not a regular file")
    }
}

/// Lists the telemetry entries of several stores together, in canonical
/// order by (date, session, part, store position) (§11.1), with each
/// store's own listing statistics.
pub fn list_all(dirs: &[PathBuf]) -> Result<(Listing, Vec<StoreStats>), StoreError> {
    let mut all = Listing::default();
    let mut stats = Vec::with_capacity(dirs.len());
    for (i, dir) in dirs.iter().enumerate() {
        let mut l = list(dir)?;
        stats.push(StoreStats::of(dir, &l));
        for f in &mut l.files {
            f.store = i;
        }
        for r in &mut l.rejected {
            r.store = i;
        }
        all.files.append(&mut l.files);
        all.rejected.append(&mut l.rejected);
    }
    sort_canonical(&mut all.files);
    Ok((all, stats))
}

/// Lists the telemetry entries of `dir`, ignoring every other name. Types
/// come from the directory listing itself: nothing is opened or followed.
pub fn list(dir: &Path) -> Result<Listing, StoreError> {
    let unreadable = |error| StoreError::Unreadable {
        path: dir.to_path_buf(),
        error,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(StoreError::NotAFolder(dir.to_path_buf()));
    }
    let mut out = Listing::default();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let os_name = entry.file_name();
        let parsed = match os_name.to_str() {
            Some(name) => parse_name(name),
            None => {
                // Not UTF-8: still a telemetry file if the name has that shape.
                let bytes = os_name.as_encoded_bytes();
                match split_name(bytes).and_then(|(d, _)| day_of(std::str::from_utf8(d).ok()?)) {
                    Some(day) => Err((day, NameError::NotUtf8)),
                    None => Ok(None),
                }
            }
        };
        let reject = |day, session: Option<&str>, kind: &'static str, reason: String| Rejected {
            path: entry.path(),
            store: 0,
            day,
            session: session.map(str::to_string),
            kind,
            reason,
        };
        match parsed {
            Ok(None) => {}
            Err((day, e)) => out.rejected.push(reject(day, None, e.kind(), format!("{e}; skipped"))),
            Ok(Some(p)) => match entry.file_type().map(not_regular) {
                Ok(Some(what)) => out.rejected.push(reject(
                    p.day,
                    Some(&p.session),
                    "not a regular file",
                    format!("{what}, not a regular file; skipped without opening it"),
                )),
                Err(e) => out.rejected.push(reject(
                    p.day,
                    Some(&p.session),
                    "cannot read file",
                    format!("cannot read file: {e}"),
                )),
                Ok(None) => out.files.push(StoreFile {
                    name: os_name.to_string_lossy().into(),
                    store: 0,
                    day: p.day,
                    part: p.part,
                    size: 0,
                }),
            },
        }
    }
    sort_canonical(&mut out.files);
    out.rejected.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// (date, session, part, store): strings, strings, integers, positions (§1.3, §11.1).
pub fn sort_canonical(files: &mut [StoreFile]) {
    files.sort_by(|a, b| (a.date(), a.session(), a.part, a.store).cmp(&(b.date(), b.session(), b.part, b.store)));
}

/// Where an entry with a telemetry name falls in canonical order (§1.3,
/// §11.1): (date, session, part as an integer, store), then the name itself.
/// Read from the name's bytes alone, so that an entry that is not read (a
/// folder, a link, a name that is not UTF-8, a part too large for a number)
/// is placed among the files by the same rule as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CanonicalKey<'a> {
    date: &'a [u8],
    session: &'a [u8],
    /// The part's digits without leading zeros, by (length, digits): its
    /// value, however large; no part reads as 0.
    part: (usize, &'a [u8]),
    store: usize,
    name: &'a [u8],
}

/// The canonical key of the entry named `name` in store number `store`.
pub fn canonical_key(name: &[u8], store: usize) -> CanonicalKey<'_> {
    let (date, tail) = split_name(name).unwrap_or((b"", name));
    let (session, part) = match tail.iter().position(|&b| b == b'.') {
        Some(i) => (&tail[..i], &tail[i + 1..]),
        None => (tail, &b""[..]),
    };
    let zeros = part.iter().take_while(|&&b| b == b'0').count();
    let part = &part[zeros..];
    CanonicalKey {
        date,
        session,
        part: (part.len(), part),
        store,
        name,
    }
}

impl StoreFile {
    /// Its place in canonical order, comparable with a [`Rejected`] entry's.
    pub fn key(&self) -> CanonicalKey<'_> {
        canonical_key(self.name.as_bytes(), self.store)
    }
}

impl Rejected {
    /// Its place in canonical order, comparable with a [`StoreFile`]'s.
    pub fn key(&self) -> CanonicalKey<'_> {
        let name = self.path.file_name().unwrap_or(self.path.as_os_str());
        canonical_key(name.as_encoded_bytes(), self.store)
    }

    /// How many of `files` (in canonical order) come before it.
    pub fn position(&self, files: &[StoreFile]) -> usize {
        let key = self.key();
        files.partition_point(|f| f.key() < key)
    }
}

/// `--shard K/N`: sessions whose name part hashes (FNV-1a 64) to K-1 mod N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub k: u64,
    pub n: u64,
}

impl Shard {
    /// Parses `K/N` with 1 <= K <= N.
    pub fn parse(s: &str) -> Option<Shard> {
        let (k, n) = s.trim().split_once('/')?;
        let (k, n): (u64, u64) = (k.trim().parse().ok()?, n.trim().parse().ok()?);
        (1 <= k && k <= n).then_some(Shard { k, n })
    }

    /// Whether the session name part `session` belongs to this shard.
    pub fn holds(&self, session: &str) -> bool {
        fnv1a64(session.as_bytes()) % self.n == self.k - 1
    }
}

/// FNV-1a, 64 bits.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Keeps the entries whose date can hold an event of `range`, reading files
/// dated up to `late_days` after its end (§1.2: a file is named by the day it
/// was flushed, which can be after its events' day), and, with a shard, the
/// sessions of that shard (§11.2). An entry whose session cannot be read
/// is reported by shard 1 alone.
pub fn select(listing: Listing, range: &DateRange, late_days: u32, shard: Option<Shard>) -> Listing {
    let keep = |day: i64| range.holds_day(day, late_days);
    let in_shard = |session: Option<&str>| match (shard, session) {
        (None, _) => true,
        (Some(s), Some(session)) => s.holds(session),
        (Some(s), None) => s.k == 1,
    };
    Listing {
        files: listing
            .files
            .into_iter()
            .filter(|f| keep(f.day) && in_shard(Some(f.session())))
            .collect(),
        rejected: listing
            .rejected
            .into_iter()
            .filter(|r| keep(r.day) && in_shard(r.session.as_deref()))
            .collect(),
    }
}

/// Fills in each selected file's size; returns their identities (device,
/// inode), so that an output path can be told apart from every input,
/// whatever name it is reached by. A file that cannot be `stat`ed keeps
/// size 0 and is reported when the pipeline fails to open it.
pub fn stat_sizes(files: &mut [StoreFile], stores: &[PathBuf]) -> Vec<(u64, u64)> {
    let mut ids = Vec::with_capacity(files.len());
    for f in files {
        if let Ok(m) = std::fs::symlink_metadata(f.path(stores)) {
            f.size = m.len();
            ids.extend(file_id(&m));
        }
    }
    ids
}

/// (device, inode) of a file, where the platform has them.
pub fn file_id(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        None
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::RangeSpec;

    #[test]
    fn parses_file_names() {
        assert_eq!(
            parse_name("telemetry-2026-11-20-abc.jsonl"),
            Ok(Some(NameParts {
                date: "2026-11-20".into(),
                day: 20777,
                session: "abc".into(),
                part: 0
            }))
        );
        assert_eq!(
            parse_name("telemetry-2026-11-20-1f2e-33aa.12.jsonl").map(|x| x.map(|p| (p.session, p.part))),
            Ok(Some(("1f2e-33aa".into(), 12)))
        );
        assert_eq!(
            parse_name("telemetry-2026-11-20-abc.99999999999999999999999.jsonl"),
            Err((20777, NameError::PartTooLarge("99999999999999999999999".into())))
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
            assert_eq!(parse_name(bad), Ok(None), "{bad}");
        }
    }

    fn file(name: &str) -> StoreFile {
        let p = parse_name(name).unwrap().unwrap();
        StoreFile {
            name: name.into(),
            store: 0,
            day: p.day,
            part: p.part,
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
        let names: Vec<_> = v.iter().map(|f| &*f.name).collect();
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

    #[cfg(unix)]
    #[test]
    fn entries_not_read_are_placed_among_the_files_by_the_same_order() {
        let files: Vec<_> = [
            "telemetry-2025-11-17-zz.jsonl",
            "telemetry-2025-11-18-97b8234a.jsonl",
            "telemetry-2025-11-18-97b8234a.2.jsonl",
            "telemetry-2025-11-18-97b8234a.10.jsonl",
            "telemetry-2025-11-18-e.jsonl",
        ]
        .into_iter()
        .map(file)
        .collect();
        let mut sorted = files.clone();
        sort_canonical(&mut sorted);
        assert_eq!(sorted, files);
        let at = |name: &[u8], store| {
            use std::os::unix::ffi::OsStrExt;
            Rejected {
                path: Path::new("/s").join(std::ffi::OsStr::from_bytes(name)),
                store,
                day: 0,
                session: None,
                kind: "not a regular file",
                reason: String::new(),
            }
            .position(&files)
        };
        assert_eq!(at(b"telemetry-2025-11-16-zz.jsonl", 0), 0);
        assert_eq!(at(b"telemetry-2025-11-18-dir.jsonl", 0), 4);
        assert_eq!(at(b"telemetry-2025-11-18-link.jsonl", 0), 5);
        assert_eq!(at(b"telemetry-2025-11-18-97b8234a.3.jsonl", 0), 3);
        // A part too large for a number comes after every part that is one.
        assert_eq!(
            at(b"telemetry-2025-11-18-97b8234a.123456789012345678901234.jsonl", 0),
            4
        );
        // The same name in a later store comes after the file of the first.
        assert_eq!(at(b"telemetry-2025-11-18-97b8234a.2.jsonl", 1), 3);
        assert_eq!(at(b"telemetry-2025-11-18-\xff.jsonl", 0), 5);
        // Parts as integers, leading zeros or not.
        let key = |n: &'static str| canonical_key(n.as_bytes(), 0);
        assert!(key("telemetry-2025-11-18-a.9.jsonl") < key("telemetry-2025-11-18-a.010.jsonl"));
        assert!(key("telemetry-2025-11-18-a.jsonl") < key("telemetry-2025-11-18-a.1.jsonl"));
    }

    #[test]
    fn selection_is_by_date_only() {
        let files: Vec<_> = [
            "telemetry-2026-10-31-a.jsonl",
            "telemetry-2026-11-01-a.jsonl",
            "telemetry-2026-11-08-a.jsonl",
            "telemetry-2026-11-09-a.jsonl",
        ]
        .into_iter()
        .map(file)
        .collect();
        let listing = Listing {
            files,
            rejected: Vec::new(),
        };
        let now = chrono::Utc::now();
        let r = RangeSpec::days("2026-11-01", "2026-11-07").unwrap().resolve(now);
        let dates = |late| -> Vec<String> {
            select(listing.clone(), &r, late, None)
                .files
                .into_iter()
                .map(|f| f.date().to_string())
                .collect()
        };
        assert_eq!(dates(0), ["2026-11-01"]);
        // The day after the range is read for late-flushed events, by default.
        assert_eq!(dates(1), ["2026-11-01", "2026-11-08"]);
        assert_eq!(dates(2), ["2026-11-01", "2026-11-08", "2026-11-09"]);
    }

    #[cfg(unix)]
    #[test]
    fn entries_that_are_not_regular_files_are_rejected_without_opening() {
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str| d.path().join(n);
        std::fs::write(p("telemetry-2026-11-20-a.jsonl"), "").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", p("telemetry-2026-11-20-b.jsonl")).unwrap();
        std::fs::create_dir(p("telemetry-2026-11-20-c.jsonl")).unwrap();
        let fifo = std::ffi::CString::new(p("telemetry-2026-11-20-d.jsonl").to_str().unwrap()).unwrap();
        // SAFETY: a plain libc call with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        std::fs::write(p("telemetry-2026-11-20-e.123456789012345678901234.jsonl"), "").unwrap();
        use std::os::unix::ffi::OsStrExt;
        let bad = std::ffi::OsStr::from_bytes(b"telemetry-2026-11-20-\xff.jsonl");
        std::fs::write(d.path().join(bad), "").unwrap();
        std::fs::write(p("notes.txt"), "").unwrap();
        let l = list(d.path()).unwrap();
        assert_eq!(l.files.len(), 1);
        let reasons: Vec<String> = l
            .rejected
            .iter()
            .map(|r| format!("{}: {}", r.path.file_name().unwrap().to_string_lossy(), r.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                "telemetry-2026-11-20-b.jsonl: a symbolic link, not a regular file; skipped without opening it",
                "telemetry-2026-11-20-c.jsonl: a folder, not a regular file; skipped without opening it",
                "telemetry-2026-11-20-d.jsonl: a named pipe (FIFO), not a regular file; skipped without opening it",
                "telemetry-2026-11-20-e.123456789012345678901234.jsonl: the rotation part number \
                 123456789012345678901234 is too large; skipped",
                "telemetry-2026-11-20-\u{fffd}.jsonl: the file name is not valid UTF-8; skipped",
            ]
        );
    }

    #[test]
    fn fnv1a_64_matches_the_reference_vectors() {
        // From the FNV reference implementation's test suite.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn shards_parse_and_split_sessions() {
        assert_eq!(Shard::parse("2/3"), Some(Shard { k: 2, n: 3 }));
        for bad in ["0/3", "4/3", "1/0", "x/3", "3", ""] {
            assert_eq!(Shard::parse(bad), None, "{bad}");
        }
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { k, n: 3 }).collect();
        for s in ["b254c944", "c7f3691e", "97b8234a", "x"] {
            assert_eq!(shards.iter().filter(|sh| sh.holds(s)).count(), 1, "{s}");
        }
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
