//! Date ranges (SPEC §3): presets anchored at "now", custom inclusive UTC
//! days, their labels and the suggested output file name.
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

/// What the user asked for, before it is anchored at "now".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeSpec {
    Preset(Preset),
    /// Both days inclusive.
    Days {
        from: NaiveDate,
        to: NaiveDate,
    },
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
    #[error("--{0} needs --{1} as well: a custom range is --from YYYY-MM-DD --to YYYY-MM-DD")]
    HalfCustom(&'static str, &'static str),
    #[error("--range cannot be combined with --from/--to: use one or the other")]
    Both,
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
    /// Builds a spec from the command line's `--range`, `--from`, `--to`.
    pub fn from_flags(range: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<Option<Self>, RangeError> {
        match (range, from, to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(RangeError::Both),
            (Some(r), None, None) => Ok(Some(RangeSpec::Preset(r.parse()?))),
            (None, Some(f), Some(t)) => Self::days(f, t).map(Some),
            (None, Some(_), None) => Err(RangeError::HalfCustom("from", "to")),
            (None, None, Some(_)) => Err(RangeError::HalfCustom("to", "from")),
            (None, None, None) => Ok(None),
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

    /// `coder-telemetry-{part}.json` or `coder-telemetry-{part}.otlp.zip` (§3.4).
    pub fn suggested_name(&self, otlp: bool) -> String {
        if otlp {
            format!("coder-telemetry-{}.otlp.zip", self.file_part)
        } else {
            format!("coder-telemetry-{}.json", self.file_part)
        }
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
        assert_eq!(r.suggested_name(true), "coder-telemetry-all-time-2026-11-24.otlp.zip");
    }

    #[test]
    fn custom_days_are_inclusive() {
        let r = RangeSpec::days("2026-11-01", "2026-11-07").unwrap().resolve(now());
        assert_eq!(r.start, Some(ns("2026-11-01T00:00:00Z")));
        assert_eq!(r.end, Some(ns("2026-11-08T00:00:00Z")));
        assert_eq!(r.label, "2026-11-01 to 2026-11-07");
        assert_eq!(r.suggested_name(false), "coder-telemetry-2026-11-01-to-2026-11-07.json");
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
        let e = RangeSpec::from_flags(Some("last-2-days"), None, None).unwrap_err();
        assert!(e
            .to_string()
            .contains("last-24-hours, last-7-days, last-30-days, all-time"));
        assert_eq!(
            RangeSpec::from_flags(None, Some("2026-11-01"), None),
            Err(RangeError::HalfCustom("from", "to"))
        );
        assert_eq!(
            RangeSpec::from_flags(Some("all-time"), Some("2026-11-01"), None),
            Err(RangeError::Both)
        );
        assert!(parse_day("x", "2024-02-29").is_ok());
    }
}
