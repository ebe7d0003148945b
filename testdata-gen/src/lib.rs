//! testdata-gen: writes telemetry stores, fast and reproducibly, in two mixes.
//!
//! - `--mix real` (the default, [`real`]): what the Coder VS Code
//!   extension's own sink writes: v1 rows, 78% `http.requests`, 18%
//!   `ssh.network.sampled`, span trees written children first, files dated
//!   by the day they were flushed and rotated at 5 MiB, sessions that cross
//!   midnight or sleep for hours. `--users N` spreads the sessions over N
//!   machines: a fleet archive.
//! - `--mix synthetic` ([`synthetic`]): the broad catalogue, all three wire
//!   formats, many sessions a day, and with `--faults` planted bad lines.
//!
//! `expected.json` says what an exporter must find: the valid events and
//! the planted faults by kind. Output depends only on the flags: files are
//! generated in parallel but each session from its own seeded random stream.

pub mod real;
pub mod synthetic;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::{Parser, ValueEnum};

/// Which wire formats the files use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Wire {
    V1,
    V0,
    Camel,
    /// Mostly v1, some v0, a few camelCase (chosen per session).
    Mixed,
    /// v1, v0 and camelCase in turn, by session.
    Each,
}

/// Which kind of store to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mix {
    /// What the extension's own sink writes (REAL-WRITER.md).
    Real,
    /// The broad catalogue: all wire formats, many sessions a day, faults.
    Synthetic,
}

/// The generator's options (also its command line).
#[derive(Parser, Debug, Clone)]
#[command(about = "Write a Coder telemetry store: the real writer's mix, or a synthetic catalogue")]
pub struct Args {
    /// Store folder to create or fill
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "real")]
    pub mix: Mix,
    /// Total size, e.g. 200MiB or 4GiB
    #[arg(long, default_value = "64MiB")]
    pub size: String,
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Sessions (VS Code windows) a day [default: real 2 per machine, synthetic 8]
    #[arg(long)]
    pub sessions_per_day: Option<u32>,
    /// Real mix: machines the sessions run on, a fleet archive [default: as many as the size needs]
    #[arg(long, default_value_t = 0)]
    pub users: u64,
    /// Last day of the store (UTC)
    #[arg(long, default_value = "2026-11-24")]
    pub end_date: String,
    /// Synthetic mix: wire formats [default: mixed]
    #[arg(long, value_enum)]
    pub wire: Option<Wire>,
    /// Synthetic mix: fraction of lines replaced by a planted fault (0 to 1)
    #[arg(long, default_value_t = 0.0)]
    pub faults: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Rotate a session's daily file into a new part past this size [default: real 5MiB, synthetic 32MiB]
    #[arg(long)]
    pub rotate: Option<String>,
    /// Writer threads (0: all cores)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No report on stderr
    #[arg(long)]
    pub quiet: bool,
    /// The small sample store shipped in the repo's testdata/: synthetic, 3
    /// days, 3 sessions a day, about 600 KB, rotated parts, all wire formats
    #[arg(long)]
    pub sample: bool,
}

/// Parses `64MiB`, `4GiB`, `1048576`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..split].parse().map_err(|_| format!("bad size {s:?}"))?;
    let m = match s[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("bad size unit {other:?}")),
    };
    Ok(n * m)
}

/// SplitMix64: tiny, fast, good enough, and seedable per file.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut r = Rng(seed ^ 0x9E37_79B9_7F4A_7C15);
        r.next_u64();
        r
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn hex(&mut self, out: &mut Vec<u8>, digits: usize) {
        const H: &[u8; 16] = b"0123456789abcdef";
        let mut v = self.next_u64() | 1;
        for i in 0..digits {
            if i == 16 {
                v = self.next_u64() | 1;
            }
            out.push(H[(v & 15) as usize]);
            v >>= 4;
        }
    }
}

/// Days since the epoch -> (y, m, d).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// Fault kinds planted with `--faults`, as an exporter must report them.
pub const FAULTS: [&str; 9] = [
    "invalid_json",
    "truncated_json",
    "not_an_object",
    "missing_event_name",
    "bad_timestamp",
    "wrong_type",
    "bad_span_id",
    "second_header",
    "unknown_kind",
];

/// What a generator wrote.
#[derive(Default)]
pub struct Tally {
    pub events: u64,
    pub bytes: u64,
    pub files: u64,
    pub lone_surrogates: u64,
    pub faults: [u64; FAULTS.len()],
}

impl Tally {
    pub fn add(&mut self, t: &Tally) {
        self.events += t.events;
        self.bytes += t.bytes;
        self.files += t.files;
        self.lone_surrogates += t.lone_surrogates;
        for (a, b) in self.faults.iter_mut().zip(t.faults) {
            *a += b;
        }
    }
}

/// Writes `s` as a JSON string (escaping what the generators put in strings).
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Writes the store described by `args`; returns `expected.json`'s text.
pub fn generate(args: &Args) -> Result<String, String> {
    let sample;
    let args = if args.sample {
        sample = Args {
            mix: Mix::Synthetic,
            size: "600KiB".into(),
            days: 3,
            sessions_per_day: Some(3),
            end_date: "2026-11-24".into(),
            wire: Some(Wire::Each),
            faults: 0.0,
            seed: 7,
            rotate: Some("48KiB".into()),
            threads: 1,
            ..args.clone()
        };
        &sample
    } else {
        args
    };
    let size = parse_size(&args.size)?;
    if !(0.0..=1.0).contains(&args.faults) {
        return Err("--faults is a fraction from 0 to 1".into());
    }
    if args.mix == Mix::Real && (args.wire.is_some() || args.faults > 0.0) {
        return Err("--wire and --faults are for --mix synthetic: the real writer writes v1 rows only".into());
    }
    let rotate = parse_size(args.rotate.as_deref().unwrap_or(match args.mix {
        Mix::Real => "5MiB",
        Mix::Synthetic => "32MiB",
    }))?;
    let b = args.end_date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(format!("--end-date {:?}: expected YYYY-MM-DD", args.end_date));
    }
    let num = |r: std::ops::Range<usize>| {
        args.end_date[r]
            .parse::<u32>()
            .map_err(|_| "bad --end-date".to_string())
    };
    let end = days_from(i64::from(num(0..4)?), num(5..7)?, num(8..10)?);
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let threads = if args.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        args.threads
    };
    let started = std::time::Instant::now();
    let t = match args.mix {
        Mix::Real => {
            let plans = real::plans(
                size,
                args.days,
                args.users,
                args.sessions_per_day.unwrap_or(2),
                end,
                args.seed,
                rotate,
            );
            real::write_all(&args.out, &plans, threads).map_err(|e| format!("{}: {e}", args.out.display()))?
        }
        Mix::Synthetic => synthetic_store(args, size, rotate, end, threads),
    };
    let secs = started.elapsed().as_secs_f64();
    let faults: Vec<String> = FAULTS
        .iter()
        .zip(t.faults)
        .map(|(k, n)| format!("\"{k}\":{n}"))
        .collect();
    let expected = format!(
        "{{\"events\":{},\"faults\":{{{}}},\"fault_lines\":{},\"lone_surrogates\":{},\"files\":{},\"bytes\":{}}}\n",
        t.events,
        faults.join(","),
        t.faults.iter().sum::<u64>(),
        t.lone_surrogates,
        t.files,
        t.bytes
    );
    std::fs::write(args.out.join("expected.json"), &expected).map_err(|e| e.to_string())?;
    if !args.quiet {
        eprintln!(
            "testdata-gen: wrote {} files, {:.1} MB, {} events in {:.2}s ({:.0} MB/s)",
            t.files,
            t.bytes as f64 / 1e6,
            t.events,
            secs,
            t.bytes as f64 / 1e6 / secs.max(1e-9)
        );
    }
    Ok(expected)
}

/// The synthetic mix: `sessions_per_day` sessions on each day, each a share of `size`.
fn synthetic_store(args: &Args, size: u64, rotate: u64, end: i64, threads: usize) -> Tally {
    let per_day = args.sessions_per_day.unwrap_or(8);
    let jobs: Vec<(i64, u32)> = (0..args.days)
        .flat_map(|d| (0..per_day).map(move |s| (end - i64::from(args.days - 1 - d), s)))
        .collect();
    let budget = size / jobs.len().max(1) as u64;
    let wire = args.wire.unwrap_or(Wire::Mixed);
    let next = AtomicUsize::new(0);
    let total = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(day, si)) = jobs.get(i) else { break };
                match synthetic::write_session_day(&args.out, args.seed, day, si, budget, rotate, wire, args.faults) {
                    Ok(t) => total.lock().unwrap_or_else(|p| p.into_inner()).add(&t),
                    Err(e) => eprintln!("testdata-gen: writing day {day} session {si}: {e}"),
                }
            });
        }
    });
    total.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// The generator is the oracle of the fault and real-mix tests, so what it
/// says it wrote is checked here against what is on disk, read back
/// independently (serde_json, line by line).
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    fn args(out: &Path, flags: &[&str]) -> Args {
        let mut argv = vec![
            "testdata-gen",
            "--quiet",
            "--threads",
            "2",
            "--out",
            out.to_str().unwrap(),
        ];
        argv.extend_from_slice(flags);
        Args::parse_from(argv)
    }

    /// Every file of a store but expected.json, by name.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name() != "expected.json")
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }

    /// What the files hold: (first-line headers, other lines, event names of
    /// the lines that are objects with an event name).
    fn read_back(files: &BTreeMap<String, Vec<u8>>) -> (u64, u64, Vec<String>) {
        let (mut headers, mut others, mut names) = (0, 0, Vec::new());
        for bytes in files.values() {
            for (i, line) in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
                let v: Option<serde_json::Value> = serde_json::from_slice(line).ok();
                if i == 0 && v.as_ref().is_some_and(|v| v["kind"] == "header") {
                    headers += 1;
                    continue;
                }
                others += 1;
                let name = v.as_ref().and_then(|v| v.get("event_name").or(v.get("eventName")));
                if let Some(n) = name.and_then(|n| n.as_str()) {
                    names.push(n.to_string());
                }
            }
        }
        (headers, others, names)
    }

    fn expected(dir: &Path) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap()
    }

    #[test]
    fn synthetic_counts_equal_the_files_bytes_and_lines_written() {
        let d = tempfile::tempdir().unwrap();
        let flags = [
            "--mix",
            "synthetic",
            "--size",
            "400KiB",
            "--days",
            "2",
            "--sessions-per-day",
            "3",
        ];
        generate(&args(
            d.path(),
            &[&flags[..], &["--wire", "each", "--faults", "0.05", "--rotate", "24KiB"]].concat(),
        ))
        .unwrap();
        let e = expected(d.path());
        let f = files(d.path());
        assert_eq!(e["files"], f.len() as u64);
        assert_eq!(e["bytes"], f.values().map(|b| b.len() as u64).sum::<u64>());
        let (headers, others, _) = read_back(&f);
        assert!(
            headers > 0 && headers < f.len() as u64,
            "v1 files with headers, v0 files without"
        );
        let faults: u64 = e["faults"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(e["fault_lines"], faults);
        assert!(faults > 0, "faults planted at 5%");
        assert_eq!(
            others,
            e["events"].as_u64().unwrap() + faults,
            "every other line is an event or a fault"
        );
    }

    #[test]
    fn real_mix_counts_equal_the_events_written() {
        let d = tempfile::tempdir().unwrap();
        generate(&args(d.path(), &["--size", "1MiB", "--seed", "5"])).unwrap();
        let e = expected(d.path());
        let f = files(d.path());
        assert_eq!(e["files"], f.len() as u64);
        assert_eq!(e["bytes"], f.values().map(|b| b.len() as u64).sum::<u64>());
        assert_eq!(e["fault_lines"], 0);
        let (headers, others, names) = read_back(&f);
        assert_eq!(headers, f.len() as u64, "the real writer heads every file");
        assert_eq!(others, names.len() as u64, "every row an event");
        assert_eq!(e["events"], others);
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        for mix in ["real", "synthetic"] {
            let run = |seed: &str| {
                let d = tempfile::tempdir().unwrap();
                generate(&args(d.path(), &["--mix", mix, "--size", "256KiB", "--seed", seed])).unwrap();
                files(d.path())
            };
            let (a, b, c) = (run("11"), run("11"), run("12"));
            assert!(!a.is_empty(), "{mix}");
            assert!(a == b, "{mix}: seed 11 twice");
            assert!(a != c, "{mix}: seeds 11 and 12");
        }
    }

    /// REAL-WRITER.md's shares of the real store (testdata/real-store):
    /// 77.8% http.requests, 17.7% ssh.network.sampled.
    #[test]
    fn real_mix_has_the_real_stores_event_shares() {
        let d = tempfile::tempdir().unwrap();
        generate(&args(d.path(), &["--size", "4MiB", "--seed", "42"])).unwrap();
        let (_, _, names) = read_back(&files(d.path()));
        let share = |name: &str| names.iter().filter(|n| *n == name).count() as f64 * 100.0 / names.len() as f64;
        let (http, ssh) = (share("http.requests"), share("ssh.network.sampled"));
        assert!((http - 77.8).abs() <= 2.0, "http.requests {http:.1}%");
        assert!((ssh - 17.7).abs() <= 2.0, "ssh.network.sampled {ssh:.1}%");
    }
}
