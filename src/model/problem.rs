//! One skipped line or file (SPEC §7), as the person reads it, and the
//! tally of all of them by reason and by file.

/// A skipped line (with its 1-based number) or file (without).
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

/// How many skipped lines (or files) one reason accounts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReasonCount {
    pub reason: String,
    pub count: u64,
}

/// A file (or store entry) and how many problems it had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProblems {
    pub file: String,
    pub problems: u64,
}

/// Problems by reason and the files with the most, beside the first
/// problems themselves. Reasons are sorted by count (most first), then by
/// name; files by count, then in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Skipped lines by reason.
    pub lines: Vec<ReasonCount>,
    /// Skipped files by reason (unreadable, not regular files, cut short).
    pub files: Vec<ReasonCount>,
    /// The files with the most problems, at most a few.
    pub top_files: Vec<FileProblems>,
}
