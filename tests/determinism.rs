//! Property: for any store, the output bytes are the same for 1, 2 and 4
//! threads and for tiny and large chunk sizes (SPEC §8.6), in every format,
//! layout and packaging. Runs the library in-process to keep it fast.
//!
//! Each configuration writes its own fresh target, and each output must hold
//! the events its summary counts, at least one: an export with no events
//! leaves its target alone (§8.3), so a shared target would let a setting
//! that lost every event compare equal to the file before it.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use coder_telemetry::config::Layout;
use coder_telemetry::config::Temporality;
use coder_telemetry::config::{Config, FileOutput, Format, Output};
use coder_telemetry::export::{export, Hooks};
use coder_telemetry::range::{Preset, RangeSpec};
use common::*;
use proptest::prelude::*;
use serde_json::json;

#[derive(Clone, Debug)]
struct FileSpec {
    day: u8,
    session: u8,
    part: u8,
    style: u8,
    rows: Vec<(u8, u32, u8)>,
}

fn file_spec() -> impl Strategy<Value = FileSpec> {
    (
        0u8..3,
        0u8..4,
        0u8..2,
        0u8..3,
        prop::collection::vec((0u8..10, 0u32..86_400, 0u8..4), 0..30),
    )
        .prop_map(|(day, session, part, style, rows)| FileSpec {
            day,
            session,
            part,
            style,
            rows,
        })
}

fn line(kind: u8, sec: u32, deploy: u8, session: &str, i: usize, v0: bool) -> String {
    let ts = format!(
        "2026-11-2{}T{:02}:{:02}:{:02}.{:03}Z",
        0,
        sec / 3600,
        sec / 60 % 60,
        sec % 60,
        i % 1000
    );
    let t = "0123456789abcdef0123456789abcdef";
    let extra = match kind {
        0 => json!({"properties": {"k": "v\u{e9}\n"}, "measurements": {"m": 1.5}}),
        1 => json!({"error": {"message": "boom", "code": 7}}),
        2 => {
            json!({"event_name": "a.span", "trace_id": t, "event_id": format!("{:016x}", i + 1), "properties": {"result": "success"}, "measurements": {"durationMs": sec % 1000}})
        }
        3 => json!({"event_name": "a.span.log", "trace_id": t, "parent_event_id": "0000000000000001"}),
        4 => {
            json!({"event_name": "http.requests", "measurements": {"window_seconds": 60, "count_2xx": sec % 50, "count.x": -1, "lat_ms": 0.25}})
        }
        5 => json!({"event_name": "ssh.network.sampled", "measurements": {"rttMs": sec % 300}}),
        6 => json!({"deployment_url": format!("https://d{deploy}.example.com")}),
        7 => return "{\"event_name\": \"truncated".to_string(),
        8 => return String::new(),
        _ => json!({"event_name": "bad.ts", "timestamp": "not a time"}),
    };
    if v0 {
        v0_row(session, "e", &ts, extra)
    } else {
        row("e", &ts, extra)
    }
}

fn build(specs: &[FileSpec]) -> Store {
    let s = Store::new();
    let mut seen = std::collections::HashSet::new();
    for f in specs {
        let session = format!("s{}", f.session);
        let name = if f.part == 0 {
            format!("telemetry-2026-11-2{}-{session}.jsonl", f.day)
        } else {
            format!("telemetry-2026-11-2{}-{session}.{}.jsonl", f.day, f.part)
        };
        if !seen.insert(name.clone()) {
            continue;
        }
        let v0 = f.style == 0;
        let mut lines = Vec::new();
        if !v0 {
            lines.push(header(&session));
        }
        for (i, (kind, sec, deploy)) in f.rows.iter().enumerate() {
            let l = line(*kind, *sec, *deploy, &session, i, v0);
            lines.push(if f.style == 2 { camel_or_keep(&l) } else { l });
        }
        s.file(&name, &lines);
    }
    s
}

fn camel_or_keep(l: &str) -> String {
    if serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v.is_object()) {
        camel(l)
    } else {
        l.to_string()
    }
}

fn config(
    store: &Path,
    out: PathBuf,
    format: Format,
    layout: Layout,
    threads: usize,
    chunk: u64,
) -> (Config, FileOutput) {
    let now = chrono::DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let cfg = Config {
        temporality: Temporality::Cumulative,
        threads,
        chunk_bytes: chunk,
        now_given: Some(NOW.to_string()),
        ..Config::new(
            vec![store.to_path_buf()],
            RangeSpec::Preset(Preset::AllTime).resolve(now),
            now,
        )
    };
    let out = FileOutput {
        force: true,
        layout,
        max_request_bytes: 4096,
        ..FileOutput::new(format, Output::Path(out))
    };
    (cfg, out)
}

/// Exports `cfg` to its (fresh) target; returns the target's entries, after
/// checking that it exists and holds the events the summary counts, at
/// least one.
fn run((cfg, out): &(Config, FileOutput)) -> BTreeMap<String, Vec<u8>> {
    let cancel = AtomicBool::new(false);
    let summary = export(cfg, out, &cancel, Hooks::default()).expect("export succeeds");
    let Output::Path(p) = &out.output else { unreachable!() };
    assert!(
        summary.counts.events > 0,
        "{}: the store holds events, and this export found none",
        p.display()
    );
    assert!(p.exists(), "{}: nothing written", p.display());
    let (entries, held) = if p.is_file() && out.format == Format::Json {
        let bytes = std::fs::read(p).unwrap();
        let n = serde_json::from_slice::<Vec<serde_json::Value>>(&bytes)
            .expect("a JSON array")
            .len() as u64;
        (BTreeMap::from([("file".to_string(), bytes)]), n)
    } else {
        let entries = read_output(p);
        let n = otlp_records(&entries);
        (entries, n)
    };
    let c = &summary.counts;
    let want = if out.format == Format::Json {
        c.events
    } else {
        c.logs + c.spans + c.metric_points
    };
    assert_eq!(
        held,
        want,
        "{}: records in the output, against the summary",
        p.display()
    );
    entries
}

/// Log records, spans and metric data points in an OTLP output.
fn otlp_records(entries: &BTreeMap<String, Vec<u8>>) -> u64 {
    let logs = records(&requests(entries, "logs"), "resourceLogs", "scopeLogs", "logRecords").len();
    let spans = records(&requests(entries, "traces"), "resourceSpans", "scopeSpans", "spans").len();
    let points: usize = records(
        &requests(entries, "metrics"),
        "resourceMetrics",
        "scopeMetrics",
        "metrics",
    )
    .iter()
    .map(|m| {
        ["sum", "gauge", "histogram"]
            .iter()
            .map(|k| m[*k]["dataPoints"].as_array().map_or(0, Vec::len))
            .sum::<usize>()
    })
    .sum();
    (logs + spans + points) as u64
}

/// A fresh target for one configuration, named after it.
fn target(out: &Path, name: &str, threads: usize, chunk: u64) -> PathBuf {
    out.join(format!("t{threads}-c{chunk}-{name}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn output_does_not_depend_on_threads_or_chunk_size(specs in prop::collection::vec(file_spec(), 1..6)) {
        // One valid log row in the first file, which is always kept: every
        // store has events to lose.
        let mut specs = specs;
        specs[0].rows.push((0, 43_200, 0));
        let store = build(&specs);
        let out = tempfile::tempdir().unwrap();
        let targets: [(Format, Layout, &str); 4] = [
            (Format::Json, Layout::Single, "out.json"),
            (Format::Otlp, Layout::Single, "otlp.zip"),
            (Format::Otlp, Layout::Split, "split"),
            (Format::Otlp, Layout::Jsonl, "jsonl"),
        ];
        for (format, layout, name) in targets {
            let mut first: Option<BTreeMap<String, Vec<u8>>> = None;
            for threads in [1, 2, 4] {
                for chunk in [61, 1 << 20] {
                    let cfg = config(store.path(), target(out.path(), name, threads, chunk), format, layout, threads, chunk);
                    let got = run(&cfg);
                    match &first {
                        None => first = Some(got),
                        Some(f) => prop_assert!(f == &got, "{name}: {threads} threads, chunk {chunk} differs"),
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// The same over generated stores of both mixes (SPEC §9): the real
    /// writer's (flush-day files, 5 MiB rotation made small here, busy and
    /// quiet sessions) and the synthetic catalogue (every wire format, many
    /// sessions a day, planted faults).
    #[test]
    fn generated_stores_of_both_mixes_give_the_same_bytes_whatever_threads_and_chunks(
        seed in 1u64..1_000_000,
        real in any::<bool>(),
        faults in 0u32..4,
    ) {
        let seed = seed.to_string();
        let faults = format!("0.0{faults}");
        let (store, _) = if real {
            real_mix_store("160KiB", &["--seed", &seed, "--rotate", "24KiB"])
        } else {
            generated_store("160KiB", 3, 6, &["--seed", &seed, "--rotate", "24KiB", "--faults", &faults])
        };
        let out = tempfile::tempdir().unwrap();
        let targets: [(Format, Layout, &str); 3] = [
            (Format::Json, Layout::Single, "out.json"),
            (Format::Otlp, Layout::Auto, "otlp.zip"),
            (Format::Otlp, Layout::Split, "split"),
        ];
        for (format, layout, name) in targets {
            let mut first: Option<BTreeMap<String, Vec<u8>>> = None;
            for threads in [1, 2, 4] {
                for chunk in [509, 1 << 20] {
                    let cfg = config(store.path(), target(out.path(), name, threads, chunk), format, layout, threads, chunk);
                    let got = run(&cfg);
                    match &first {
                        None => first = Some(got),
                        Some(f) => prop_assert!(f == &got, "{name}: {threads} threads, chunk {chunk} differs (real: {real})"),
                    }
                }
            }
        }
    }
}

/// With thousands of sessions the merge keeps only a budget of head chunks
/// and parks the other streams (first key only), re-reading them when the
/// merge nears them. A 61-byte chunk makes that budget 8 heads, so 30
/// sessions park most streams; a 1 MiB chunk parks none. Both must give the
/// same bytes and report every bad line once.
#[test]
fn parked_session_streams_merge_like_held_ones() {
    let mut rng = Rng(7);
    let specs: Vec<FileSpec> = (0..30u8)
        .map(|i| FileSpec {
            day: i % 3,
            session: i,
            part: 0,
            style: i % 3,
            rows: (0..12)
                .map(|_| ((rng.next() % 10) as u8, (rng.next() % 86_400) as u32, 0))
                .collect(),
        })
        .collect();
    let store = build(&specs);
    let out = tempfile::tempdir().unwrap();
    let mut first: Option<(Vec<u8>, u64, usize)> = None;
    for threads in [1, 2] {
        for chunk in [61, 1 << 20] {
            let path = target(out.path(), "out.json", threads, chunk);
            let (cfg, file) = config(store.path(), path.clone(), Format::Json, Layout::Single, threads, chunk);
            let cancel = AtomicBool::new(false);
            let summary = export(&cfg, &file, &cancel, Hooks::default()).expect("export succeeds");
            let bytes = std::fs::read(&path).unwrap();
            let got = (bytes, summary.skipped_lines, summary.problems.len());
            match &first {
                None => first = Some(got),
                Some(f) => assert!(f == &got, "{threads} threads, chunk {chunk} differs"),
            }
        }
    }
    let (bytes, skipped, _) = first.unwrap();
    let events: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
    assert!(events.len() > 100, "a real merge: {} events", events.len());
    assert!(skipped > 10, "bad lines are reported: {skipped}");
}

/// 30 sessions interleaved on one day with 61-byte chunks: every stream is
/// active at once, the chunks they hold exceed the merge's budget, and
/// active streams park (next key and place in their front chunk kept) and
/// are re-read. The bytes must be those of an unparked merge.
#[test]
fn parked_active_streams_merge_like_held_ones() {
    let mut rng = Rng(11);
    let specs: Vec<FileSpec> = (0..30u8)
        .map(|i| FileSpec {
            day: 0,
            session: i,
            part: 0,
            style: i % 3,
            rows: (0..12)
                .map(|_| ((rng.next() % 10) as u8, (rng.next() % 86_400) as u32, 0))
                .collect(),
        })
        .collect();
    let store = build(&specs);
    let out = tempfile::tempdir().unwrap();
    let mut first: Option<(Vec<u8>, u64, usize)> = None;
    for threads in [1, 2] {
        for chunk in [1 << 20, 61, 200] {
            let path = target(out.path(), "out.json", threads, chunk);
            let (cfg, file) = config(store.path(), path.clone(), Format::Json, Layout::Single, threads, chunk);
            let cancel = AtomicBool::new(false);
            let summary = export(&cfg, &file, &cancel, Hooks::default()).expect("export succeeds");
            let bytes = std::fs::read(&path).unwrap();
            let got = (bytes, summary.skipped_lines, summary.problems.len());
            match &first {
                None => first = Some(got),
                Some(f) => assert!(f == &got, "{threads} threads, chunk {chunk} differs"),
            }
        }
    }
    let (bytes, skipped, _) = first.unwrap();
    let events: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
    assert!(events.len() > 100, "a real merge: {} events", events.len());
    assert!(skipped > 10, "bad lines are reported: {skipped}");
}

/// A few long sessions interleaved on one day, cut into small chunks: the
/// merge reads ahead within its budget but leaves room in it for the chunks
/// it needs next (a stream starting, a stream whose chunk ahead was
/// refused). When reading ahead could take it all, such a chunk pushed the
/// merge over its budget, and the stream emitting parked, was read again
/// at once, and parked again: the synthetic mix's JSON export read its
/// store 4.5 times over. Each chunk is read about once here.
#[test]
fn streams_are_not_parked_and_read_again_over_and_over_when_reading_ahead_fills_the_budget() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let mut rng = Rng(23);
    let specs: Vec<FileSpec> = (0..8u8)
        .map(|i| {
            let mut secs: Vec<u32> = (0..400).map(|_| (rng.next() % 86_400) as u32).collect();
            secs.sort_unstable();
            FileSpec {
                day: 0,
                session: i,
                part: 0,
                style: 1,
                rows: secs.into_iter().map(|s| ([0, 4, 5][s as usize % 3], s, 0)).collect(),
            }
        })
        .collect();
    let store = build(&specs);
    let store_bytes: u64 = std::fs::read_dir(store.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let out = tempfile::tempdir().unwrap();
    let mut first: Option<Vec<u8>> = None;
    for threads in [1, 2] {
        for chunk in [1 << 20, 512, 2048, 8192] {
            let path = target(out.path(), "out.json", threads, chunk);
            let (cfg, file) = config(store.path(), path.clone(), Format::Json, Layout::Single, threads, chunk);
            let read = Arc::new(AtomicU64::new(0));
            let counter = read.clone();
            let hooks = Hooks {
                read: Box::new(move |n| {
                    counter.fetch_add(n, Ordering::Relaxed);
                }),
                ..Hooks::default()
            };
            export(&cfg, &file, &AtomicBool::new(false), hooks).expect("export succeeds");
            let read = read.load(Ordering::Relaxed);
            // Heads are small and read again when their streams start; the rest once.
            assert!(
                read <= store_bytes + store_bytes / 4,
                "{threads} threads, chunk {chunk}: read {read} bytes of a {store_bytes}-byte store"
            );
            let bytes = std::fs::read(&path).unwrap();
            match &first {
                None => first = Some(bytes),
                Some(f) => assert!(f == &bytes, "{threads} threads, chunk {chunk} differs"),
            }
        }
    }
    let events: Vec<serde_json::Value> = serde_json::from_slice(&first.unwrap()).unwrap();
    assert_eq!(events.len(), 8 * 400);
}
