//! Date ranges (SPEC §3): presets anchored at "now", custom inclusive UTC
//! days, open-ended ranges (`--from` alone runs to now, `--to` alone from
//! the beginning, `--since 36h` is the last 36 hours), their labels and the
//! suggested output file name.
//!
//! A range is a half-open UTC window `[start, end)` in nanoseconds; `None`
//! means unbounded. The same window selects files by their date (§1.2) and
//! events by their timestamp (§3.3).

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::timestamp::{days_from_civil, days_in_month};

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// A named range anchored at "now".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Last24Hours,
    Last7Days,
    Last30Days,
    AllTime,
}

impl Preset {
    pub const ALL: [Preset; 4] = [
        Preset::Last24Hours,
        Preset::Last7Days,
        Preset::Last30Days,
        Preset::AllTime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Last24Hours => "last-24-hours",
            Preset::Last7Days => "last-7-days",
            Preset::Last30Days => "last-30-days",
            Preset::AllTime => "all-time",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Preset::Last24Hours => "Last 24 hours",
            Preset::Last7Days => "Last 7 days",
            Preset::Last30Days => "Last 30 days",
            Preset::AllTime => "All time",
        }
    }

    fn days(self) -> Option<i64> {
        match self {
            Preset::Last24Hours => Some(1),
            Preset::Last7Days => Some(7),
            Preset::Last30Days => Some(30),
            Preset::AllTime => None,
        }
    }
}

/// The unit of an [`Age`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgeUnit {
    Hours,
    Days,
    Weeks,
}

impl AgeUnit {
    fn nanos(self) -> i64 {
        match self {
            AgeUnit::Hours => 3_600 * 1_000_000_000,
            AgeUnit::Days => NANOS_PER_DAY,
            AgeUnit::Weeks => 7 * NANOS_PER_DAY,
        }
    }

    fn name(self, count: u32) -> &'static str {
        match (self, count) {
            (AgeUnit::Hours, 1) => "hour",
            (AgeUnit::Hours, _) => "hours",
            (AgeUnit::Days, 1) => "day",
            (AgeUnit::Days, _) => "days",
            (AgeUnit::Weeks, 1) => "week",
            (AgeUnit::Weeks, _) => "weeks",
        }
    }
}

/// How far back from now `--since` reaches: `36h`, `7d`, `2w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Age {
    pub count: u32,
    pub unit: AgeUnit,
}

impl Age {
    /// Parses `36h`, `7d`, `2w` (also `36 hours`, `1 day`, `2 weeks`, any
    /// case); `None` when it is not an age, or one too long to represent.
    pub fn parse(s: &str) -> Option<Age> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit())?;
        let (num, unit) = s.split_at(split);
        let count: u32 = num.parse().ok().filter(|n| *n > 0)?;
        let unit = match unit.trim().to_ascii_lowercase().as_str() {
            "h" | "hour" | "hours" => AgeUnit::Hours,
            "d" | "day" | "days" => AgeUnit::Days,
            "w" | "week" | "weeks" => AgeUnit::Weeks,
            _ => return None,
        };
        let age = Age { count, unit };
        age.nanos().map(|_| age)
    }

    fn nanos(self) -> Option<i64> {
        i64::from(self.count).checked_mul(self.unit.nanos())
    }
}

/// What the user asked for, before it is anchored at "now".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeSpec {
    Preset(Preset),
    /// Both days inclusive.
    Days {
        from: NaiveDate,
        to: NaiveDate,
    },
    /// From the start of a day to now: `--from` alone, or `--since DAY`.
    FromDay(NaiveDate),
    /// Everything up to the end of a day: `--to` alone.
    ToDay(NaiveDate),
    /// The last hours, days or weeks before now: `--since 36h`.
    Last(Age),
}

/// Why a range could not be built; each message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("unknown range {0:?}: expected one of last-24-hours, last-7-days, last-30-days, all-time")]
    UnknownPreset(String),
    #[error("invalid date {value:?} for {flag}: expected a real calendar day written YYYY-MM-DD, such as 2026-11-01")]
    BadDate { flag: &'static str, value: String },
    #[error("--to {to} is before --from {from}: the range must run forwards")]
    Backwards { from: String, to: String },
    #[error(
        "--since {0:?}: expected how far back from now, such as 36h, 7d or 2w (hours, days, weeks), \
         or a first day written YYYY-MM-DD"
    )]
    BadSince(String),
    #[error("--range, --since and --from/--to each choose the range: use one of them")]
    Both,
    #[error("{flag} {day} is after now ({now}): the range would run backwards; give --to as well, or an earlier day")]
    FromAfterNow {
        flag: &'static str,
        day: NaiveDate,
        now: String,
    },
}

impl std::str::FromStr for Preset {
    type Err = RangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| RangeError::UnknownPreset(s.to_string()))
    }
}

/// Parses a strict `YYYY-MM-DD` calendar day (`2026-1-5` and `2026-02-30` are refused).
pub fn parse_day(flag: &'static str, s: &str) -> Result<NaiveDate, RangeError> {
    let bad = || RangeError::BadDate {
        flag,
        value: s.to_string(),
    };
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, RangeError> {
        let part = &s[r];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if m == 0 || m > 12 || d == 0 || d > days_in_month(i64::from(y), m) {
        return Err(bad());
    }
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(bad)
}

impl RangeSpec {
    /// Builds a spec from the command line's `--range`, `--since`, `--from`
    /// and `--to`: one way of choosing, and `--from` or `--to` alone leave
    /// that end open (to now, from the beginning).
    pub fn from_flags(
        range: Option<&str>,
        since: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Option<Self>, RangeError> {
        let ways = [range.is_some(), since.is_some(), from.is_some() || to.is_some()];
        if ways.iter().filter(|w| **w).count() > 1 {
            return Err(RangeError::Both);
        }
        if let Some(r) = range {
            return Ok(Some(RangeSpec::Preset(r.parse()?)));
        }
        if let Some(s) = since {
            if let Some(age) = Age::parse(s) {
                return Ok(Some(RangeSpec::Last(age)));
            }
            return match parse_day("--since", s.trim()) {
                Ok(d) => Ok(Some(RangeSpec::FromDay(d))),
                Err(_) => Err(RangeError::BadSince(s.to_string())),
            };
        }
        match (from, to) {
            (Some(f), Some(t)) => Self::days(f, t).map(Some),
            (Some(f), None) => Ok(Some(RangeSpec::FromDay(parse_day("--from", f)?))),
            (None, Some(t)) => Ok(Some(RangeSpec::ToDay(parse_day("--to", t)?))),
            (None, None) => Ok(None),
        }
    }

    /// Refuses a range that starts after `now` and ends there: a day in
    /// the future given to `flag` (`--from` or `--since`) alone.
    pub fn check(self, now: DateTime<Utc>, flag: &'static str) -> Result<(), RangeError> {
        match self {
            RangeSpec::FromDay(day) if day_start(day) > now.timestamp_nanos_opt().unwrap_or(i64::MAX) => {
                Err(RangeError::FromAfterNow {
                    flag,
                    day,
                    now: now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                })
            }
            _ => Ok(()),
        }
    }

    pub fn days(from: &str, to: &str) -> Result<Self, RangeError> {
        let f = parse_day("--from", from)?;
        let t = parse_day("--to", to)?;
        if t < f {
            return Err(RangeError::Backwards {
                from: from.to_string(),
                to: to.to_string(),
            });
        }
        Ok(RangeSpec::Days { from: f, to: t })
    }

    /// Anchors the spec at `now`.
    pub fn resolve(self, now: DateTime<Utc>) -> DateRange {
        let now_ns = now.timestamp_nanos_opt().unwrap_or(i64::MAX);
        let today = now.date_naive().format("%Y-%m-%d");
        match self {
            RangeSpec::Preset(p) => DateRange {
                start: p.days().map(|d| now_ns - d * NANOS_PER_DAY),
                end: p.days().map(|_| now_ns),
                label: p.label().to_string(),
                file_part: format!("{}-{today}", p.name()),
            },
            RangeSpec::Days { from, to } => DateRange {
                start: Some(day_start(from)),
                end: Some(day_start(to) + NANOS_PER_DAY),
                label: format!("{from} to {to}"),
                file_part: format!("{from}-to-{to}"),
            },
            RangeSpec::FromDay(from) => DateRange {
                start: Some(day_start(from)),
                end: Some(now_ns),
                label: format!("{from} to now"),
                file_part: format!("{from}-to-{today}"),
            },
            RangeSpec::ToDay(to) => DateRange {
                start: None,
                end: Some(day_start(to) + NANOS_PER_DAY),
                label: format!("Up to {to}"),
                file_part: format!("up-to-{to}"),
            },
            RangeSpec::Last(age) => {
                // Age::parse keeps the age representable; now - age cannot overflow.
                let back = age.nanos().unwrap_or(i64::MAX);
                let (n, unit) = (age.count, age.unit.name(age.count));
                DateRange {
                    start: Some(now_ns.saturating_sub(back)),
                    end: Some(now_ns),
                    label: format!("Last {n} {unit}"),
                    file_part: format!("last-{n}-{unit}-{today}"),
                }
            }
        }
    }
}

fn day_start(d: NaiveDate) -> i64 {
    days_from_civil(i64::from(d.year()), d.month(), d.day()) * NANOS_PER_DAY
}

/// A resolved half-open window `[start, end)` with its label and file-name part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateRange {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub label: String,
    pub file_part: String,
}

impl DateRange {
    /// `start <= t < end` (§3.3).
    #[inline]
    pub fn contains(&self, t: i64) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t < e)
    }

    /// Whether a file dated `day` (days since the epoch) can hold an event of
    /// the range: its day overlaps the range, or lies at most `late_days`
    /// after it (a file is dated by the day it was flushed, §1.2).
    pub fn holds_day(&self, day: i64, late_days: u32) -> bool {
        let (lo, hi) = (day * NANOS_PER_DAY, (day + 1) * NANOS_PER_DAY);
        let late = i64::from(late_days) * NANOS_PER_DAY;
        self.start.is_none_or(|s| s < hi) && self.end.is_none_or(|e| lo < e.saturating_add(late))
    }

    /// `coder-telemetry-{part}{extension}` (§3.4), the extension being
    /// `.json`, `.jsonl` or `.otlp.zip`.
    pub fn suggested_name(&self, extension: &str) -> String {
        format!("coder-telemetry-{}{extension}", self.file_part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T05:35:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ns(s: &str) -> i64 {
        crate::timestamp::parse_rfc3339_nanos(s).unwrap()
    }

    #[test]
    fn presets_end_now_and_start_n_days_before() {
        let r = RangeSpec::Preset(Preset::Last7Days).resolve(now());
        assert_eq!(r.end, Some(ns("2026-11-24T05:35:00Z")));
        assert_eq!(r.start, Some(ns("2026-11-17T05:35:00Z")));
        assert_eq!(r.label, "Last 7 days");
        assert_eq!(r.file_part, "last-7-days-2026-11-24");
        let r = RangeSpec::Preset(Preset::Last24Hours).resolve(now());
        assert_eq!(r.start, Some(ns("2026-11-23T05:35:00Z")));
        let r = RangeSpec::Preset(Preset::Last30Days).resolve(now());
        assert_eq!(r.start, Some(ns("2026-10-25T05:35:00Z")));
    }

    #[test]
    fn all_time_is_unbounded() {
        let r = RangeSpec::Preset(Preset::AllTime).resolve(now());
        assert_eq!((r.start, r.end), (None, None));
        assert!(r.contains(0) && r.holds_day(0, 0));
        assert_eq!(
            r.suggested_name(".otlp.zip"),
            "coder-telemetry-all-time-2026-11-24.otlp.zip"
        );
    }

    #[test]
    fn custom_days_are_inclusive() {
        let r = RangeSpec::days("2026-11-01", "2026-11-07").unwrap().resolve(now());
        assert_eq!(r.start, Some(ns("2026-11-01T00:00:00Z")));
        assert_eq!(r.end, Some(ns("2026-11-08T00:00:00Z")));
        assert_eq!(r.label, "2026-11-01 to 2026-11-07");
        assert_eq!(
            r.suggested_name(".json"),
            "coder-telemetry-2026-11-01-to-2026-11-07.json"
        );
        assert!(r.contains(ns("2026-11-07T23:59:59.999999999Z")));
        assert!(!r.contains(ns("2026-11-08T00:00:00Z")));
        assert!(r.contains(ns("2026-11-01T00:00:00Z")));
        assert!(!r.contains(ns("2026-10-31T23:59:59.999999999Z")));
    }

    #[test]
    fn file_days_are_selected_by_overlap() {
        let r = RangeSpec::Preset(Preset::Last24Hours).resolve(now());
        let day = |s: &str| {
            let d = parse_day("x", s).unwrap();
            days_from_civil(i64::from(d.year()), d.month(), d.day())
        };
        assert!(!r.holds_day(day("2026-11-22"), 0));
        assert!(r.holds_day(day("2026-11-23"), 0));
        assert!(r.holds_day(day("2026-11-24"), 0));
        assert!(!r.holds_day(day("2026-11-25"), 0));
        assert!(r.holds_day(day("2026-11-25"), 1));
        assert!(!r.holds_day(day("2026-11-26"), 1));
        // Late days never reach before the range.
        assert!(!r.holds_day(day("2026-11-22"), 5));
    }

    #[test]
    fn invalid_dates_and_names_are_refused_with_what_is_accepted() {
        for bad in [
            "2026-02-30",
            "2026-1-5",
            "2026-13-01",
            "26-11-01",
            "2026/11/01",
            "2026-11-0a",
        ] {
            let e = RangeSpec::days(bad, "2026-12-01").unwrap_err();
            assert!(e.to_string().contains("YYYY-MM-DD"), "{bad}: {e}");
        }
        let e = RangeSpec::days("2026-11-07", "2026-11-01").unwrap_err();
        assert!(matches!(e, RangeError::Backwards { .. }));
        let e = RangeSpec::from_flags(Some("last-2-days"), None, None, None).unwrap_err();
        assert!(e
            .to_string()
            .contains("last-24-hours, last-7-days, last-30-days, all-time"));
        for (range, since, from, to) in [
            (Some("all-time"), None, Some("2026-11-01"), None),
            (Some("all-time"), Some("7d"), None, None),
            (None, Some("7d"), None, Some("2026-11-01")),
        ] {
            assert_eq!(RangeSpec::from_flags(range, since, from, to), Err(RangeError::Both));
        }
        for bad in ["7", "d", "0d", "7x", "7 months", "-7d", "2026-11", "99999999999w"] {
            let e = RangeSpec::from_flags(None, Some(bad), None, None).unwrap_err();
            assert_eq!(e, RangeError::BadSince(bad.to_string()));
            assert!(e.to_string().contains("36h, 7d or 2w"), "{e}");
        }
        assert!(parse_day("x", "2024-02-29").is_ok());
    }

    fn spec(since: Option<&str>, from: Option<&str>, to: Option<&str>) -> RangeSpec {
        RangeSpec::from_flags(None, since, from, to).unwrap().unwrap()
    }

    #[test]
    fn from_alone_runs_to_now_and_to_alone_from_the_beginning() {
        let r = spec(None, Some("2026-11-20"), None).resolve(now());
        assert_eq!(r.start, Some(ns("2026-11-20T00:00:00Z")));
        assert_eq!(r.end, Some(ns("2026-11-24T05:35:00Z")));
        assert_eq!(r.label, "2026-11-20 to now");
        assert_eq!(
            r.suggested_name(".json"),
            "coder-telemetry-2026-11-20-to-2026-11-24.json"
        );
        assert_eq!(
            spec(Some("2026-11-20"), None, None),
            spec(None, Some("2026-11-20"), None)
        );
        let r = spec(None, None, Some("2026-11-07")).resolve(now());
        assert_eq!((r.start, r.end), (None, Some(ns("2026-11-08T00:00:00Z"))));
        assert_eq!(r.label, "Up to 2026-11-07");
        assert_eq!(r.suggested_name(".jsonl"), "coder-telemetry-up-to-2026-11-07.jsonl");
        // Today is fine; tomorrow would run backwards.
        assert_eq!(spec(None, Some("2026-11-24"), None).check(now(), "--from"), Ok(()));
        let e = spec(None, Some("2026-11-25"), None).check(now(), "--from").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--from 2026-11-25 is after now (2026-11-24T05:35:00Z): the range would run backwards; \
             give --to as well, or an earlier day"
        );
    }

    #[test]
    fn since_an_age_is_the_same_window_as_the_preset_of_that_length() {
        for (age, preset) in [
            ("24h", Preset::Last24Hours),
            ("7d", Preset::Last7Days),
            ("30 days", Preset::Last30Days),
        ] {
            assert_eq!(
                spec(Some(age), None, None).resolve(now()),
                RangeSpec::Preset(preset).resolve(now()),
                "{age}"
            );
        }
        let r = spec(Some("36h"), None, None).resolve(now());
        assert_eq!(r.start, Some(ns("2026-11-22T17:35:00Z")));
        assert_eq!(r.end, Some(ns("2026-11-24T05:35:00Z")));
        assert_eq!(
            (r.label.as_str(), r.file_part.as_str()),
            ("Last 36 hours", "last-36-hours-2026-11-24")
        );
        let r = spec(Some("2W"), None, None).resolve(now());
        assert_eq!(r.start, Some(ns("2026-11-10T05:35:00Z")));
        assert_eq!(spec(Some("1d"), None, None).resolve(now()).label, "Last 1 day");
    }
}
