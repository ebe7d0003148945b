//! The questions asked when a terminal is attached and the range, format or
//! output is missing (SPEC §8.5), as the extension's own pickers ask them.
//!
//! Esc or Ctrl-C at any prompt cancels the export (exit 130) and leaves the
//! terminal as it was, cursor visible (inquire restores it). A date that is
//! not a calendar day, or a last day before the first, is asked again with
//! the reason; spaces around an answer are ignored. An output name that
//! exists is replaced only if the person says so and `--force` could replace
//! it (§8.2); otherwise another name is asked for.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use coder_telemetry::config::Format;
use coder_telemetry::output::atomic::{self, Inputs};
use coder_telemetry::range::{parse_day, Preset, RangeSpec};
use inquire::validator::Validation;
use inquire::{Confirm, InquireError, Select, Text};

use super::{check_contradiction, format_of_name, usage, Cancelled, ConfigError};

/// What is known before asking; `None` is asked for.
pub struct Questions {
    pub range: Option<RangeSpec>,
    pub format: Option<Format>,
    pub output: Option<PathBuf>,
    /// `-o` as given (an existing name is asked about again).
    pub given_output: Option<PathBuf>,
    pub stores: Vec<PathBuf>,
    pub now: DateTime<Utc>,
}

/// What the person chose.
#[derive(Default)]
pub struct Answers {
    pub range: Option<RangeSpec>,
    pub format: Option<Format>,
    pub output: Option<PathBuf>,
    /// They agreed to replace the existing output.
    pub replace: bool,
}

fn answer<T>(r: Result<T, InquireError>) -> Result<T, ConfigError> {
    match r {
        Ok(v) => Ok(v),
        Err(InquireError::OperationCanceled | InquireError::OperationInterrupted) => Err(Cancelled.into()),
        Err(e) => Err(usage(format!("cannot ask for the missing options ({e}); give them as flags")).into()),
    }
}

/// A day as typed: trimmed, then a real calendar day.
fn day(s: &str) -> Result<NaiveDate, String> {
    parse_day("day", s.trim()).map_err(|_| {
        format!(
            "{:?} is not a calendar day written YYYY-MM-DD, such as 2026-11-01",
            s.trim()
        )
    })
}

fn ask_range() -> Result<RangeSpec, ConfigError> {
    let mut items: Vec<&str> = Preset::ALL.iter().map(|p| p.label()).collect();
    items.push("Custom range...");
    let chosen = answer(Select::new("Date range", items).with_starting_cursor(1).raw_prompt())?;
    if let Some(p) = Preset::ALL.get(chosen.index) {
        return Ok(RangeSpec::Preset(*p));
    }
    let from = answer(
        Text::new("First day (YYYY-MM-DD, UTC)")
            .with_validator(|s: &str| {
                Ok(day(s)
                    .err()
                    .map_or(Validation::Valid, |e| Validation::Invalid(e.into())))
            })
            .prompt(),
    )?;
    let first = day(&from).map_err(usage)?;
    let to = answer(
        Text::new("Last day (YYYY-MM-DD, UTC, inclusive)")
            .with_validator(move |s: &str| {
                Ok(match day(s) {
                    Err(e) => Validation::Invalid(e.into()),
                    Ok(last) if last < first => {
                        Validation::Invalid(format!("the last day cannot be before the first day, {first}").into())
                    }
                    Ok(_) => Validation::Valid,
                })
            })
            .prompt(),
    )?;
    RangeSpec::days(from.trim(), to.trim()).map_err(|e| usage(e.to_string()).into())
}

fn ask_format() -> Result<Format, ConfigError> {
    let items = vec![
        "JSON array (for people and review)",
        "OTLP/JSON zip (for OpenTelemetry backends)",
    ];
    let chosen = answer(Select::new("Format", items).raw_prompt())?;
    Ok(if chosen.index == 0 { Format::Json } else { Format::Otlp })
}

/// Why `name` cannot be the output of a `format` export, if it cannot.
fn unfit(name: &str, format: Format) -> Option<String> {
    let name = name.trim();
    if name.is_empty() {
        return Some("type a file name".into());
    }
    if name == "-" {
        return Some("type a file name (stdout is for -o -)".into());
    }
    let path = Path::new(name);
    if let Err(e) = check_contradiction(format, path).and_then(|()| format_of_name(path).map(|_| ())) {
        return Some(
            e.to_string()
                .replace("--format json contradicts -o", "a JSON export cannot go to")
                .replace("--format otlp contradicts -o", "an OTLP export cannot go to"),
        );
    }
    let parent = atomic::parent_of(path);
    if !parent.is_dir() {
        return Some(format!("the folder {} does not exist", parent.display()));
    }
    None
}

/// Asks for the output until it is one that can be written: a new name, or
/// an existing one the person agrees to replace and `--force` could.
fn ask_output(suggested: String, format: Format, stores: &[PathBuf]) -> Result<(PathBuf, bool), ConfigError> {
    let inputs = Inputs::new(stores, []);
    loop {
        let typed = answer(
            Text::new("Output")
                .with_default(&suggested)
                .with_validator(move |s: &str| {
                    Ok(unfit(s, format).map_or(Validation::Valid, |e| Validation::Invalid(e.into())))
                })
                .prompt(),
        )?;
        let path = PathBuf::from(typed.trim());
        if path.symlink_metadata().is_err() {
            return Ok((path, false));
        }
        match atomic::check_target(&path, true, &inputs) {
            Err(e) => eprintln!("{e}"),
            Ok(_) => {
                let replace = answer(
                    Confirm::new(&format!("{} exists. Replace it?", path.display()))
                        .with_default(false)
                        .with_help_message("no: type another name")
                        .prompt(),
                )?;
                if replace {
                    return Ok((path, true));
                }
            }
        }
    }
}

/// Asks what `q` leaves open.
pub fn ask(q: &Questions) -> Result<Answers, ConfigError> {
    let mut a = Answers::default();
    let range = match q.range {
        Some(r) => r,
        None => {
            let r = ask_range()?;
            a.range = Some(r);
            r
        }
    };
    let format = match q.format {
        Some(f) => f,
        None => {
            let f = ask_format()?;
            a.format = Some(f);
            f
        }
    };
    if q.output.is_none() {
        let suggested = match &q.given_output {
            Some(g) => g.display().to_string(),
            None => range.resolve(q.now).suggested_name(format.extension()),
        };
        let (path, replace) = ask_output(suggested, format, &q.stores)?;
        a.output = Some(path);
        a.replace = replace;
    }
    Ok(a)
}
