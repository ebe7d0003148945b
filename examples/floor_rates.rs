//! The two rates of SPEC §9.3's floor that no shell tool measures, on one
//! core, in MB/s: simd-json's raw tape of every line of telemetry files (no
//! DOM, no output), and level-1 deflate of envelope files as the zip writer
//! runs it (zlib-rs through flate2). `scripts/bench.sh` runs this in the
//! same run as the exports it compares with the floor, on the same store and
//! on the export's own output, so the rates are this machine's at that hour.
//!
//! ```text
//! floor_rates tape FILE...       telemetry files, line by line
//! floor_rates deflate FILE...    envelope files, whole
//! ```
//!
//! Each rate is the best of three passes over all the files (noise only
//! slows a pass down); the files are read before the clock starts.

use std::io::Write;
use std::time::{Duration, Instant};

const PASSES: usize = 3;

fn main() {
    let mut args = std::env::args().skip(1);
    let rate: fn(&[Vec<u8>]) -> Duration = match args.next().as_deref() {
        Some("tape") => tape,
        Some("deflate") => deflate,
        _ => {
            eprintln!("usage: floor_rates tape|deflate FILE...");
            std::process::exit(2);
        }
    };
    let data: Vec<Vec<u8>> = args
        .map(|f| std::fs::read(&f).unwrap_or_else(|e| panic!("reading {f}: {e}")))
        .collect();
    let bytes: usize = data.iter().map(Vec::len).sum();
    let best = (0..PASSES).map(|_| rate(&data)).min().unwrap_or_default();
    println!("{:.0}", bytes as f64 / 1e6 / best.as_secs_f64().max(1e-9));
}

/// Every line of every file into a tape, in place as the workers parse
/// (the parser rewrites strings with escapes, so each pass gets a copy).
fn tape(files: &[Vec<u8>]) -> Duration {
    let mut copies: Vec<Vec<u8>> = files
        .iter()
        .map(|f| {
            let mut c = f.clone();
            c.resize(f.len() + simd_json::INPUT_PADDING, 0);
            c
        })
        .collect();
    let mut buffers = simd_json::Buffers::new(64 * 1024);
    let mut kept: Option<simd_json::Tape<'static>> = None;
    let start = Instant::now();
    for (buf, len) in copies.iter_mut().zip(files.iter().map(Vec::len)) {
        let mut pos = 0;
        while pos < len {
            let end = memchr::memchr(b'\n', &buf[pos..len]).map_or(len, |i| pos + i);
            if end > pos {
                let mut tape = kept.take().unwrap_or_else(simd_json::Tape::null).reset();
                let _ = simd_json::fill_tape_padded(&mut buf[pos..], end - pos, &mut buffers, &mut tape);
                kept = Some(tape.reset());
            }
            pos = end + 1;
        }
    }
    start.elapsed()
}

/// Every file through a level-1 deflate stream, as a zip entry is written.
fn deflate(files: &[Vec<u8>]) -> Duration {
    let start = Instant::now();
    for f in files {
        let mut z = flate2::write::DeflateEncoder::new(std::io::sink(), flate2::Compression::new(1));
        z.write_all(f).expect("deflate into a sink");
        z.finish().expect("deflate into a sink");
    }
    start.elapsed()
}
