//! Criterion benchmarks of each stage, in MB of input per second
//! (`Throughput::Bytes`), on a 1 MiB chunk of each of testdata-gen's mixes
//! (`real`: what the extension writes, 78% `http.requests`; `synthetic`:
//! the broad catalogue), so that a change is seen on what users run:
//!
//! - `parse/{mix}`: simd-json's raw tape (the floor any parse pays) beside
//!   our rows (tape + row walk + context + route + range);
//! - `encode/{mix}`: parse plus encoding into the JSON-array and OTLP sinks;
//! - `write/{mix}`: the chunk's encoded OTLP through the envelope writers:
//!   log and span records per layout and through deflate into a zip, and
//!   metric points through the metric writer (series grouping); and the
//!   two per-byte costs of the output alone, `sha256` (the manifest's) and
//!   `deflate-1` (a zip's), in MB of the chunk's whole OTLP output per
//!   second (`scripts/bench.sh` takes its floors' parse and deflate rates
//!   from these two and the `parse` tape row);
//! - `export/{mix}`: the whole export per format, one id per thread count,
//!   beside a `sequential` baseline that runs the same work in one loop
//!   without the pipeline (so its own cost and its scaling are both visible).
//!
//! `cargo bench --bench pipeline`; `BENCH_STORE_SIZE=256MiB` for larger stores.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser as _;
use coder_telemetry::config::{Config, FileOutput, Format, Layout, Output, Temporality, DEFAULT_ATTRIBUTE_LIMIT};
use coder_telemetry::engine::chunk::{chunks_of, read_chunk, read_header, Chunk, ChunkBuf, Header};
use coder_telemetry::engine::sinks::{JsonChunk, OtlpSink};
use coder_telemetry::engine::worker::{run_chunk_buf, Discard, ParseOptions};
use coder_telemetry::export::{export, Hooks};
use coder_telemetry::model::{Pools, Segment, Signal};
use coder_telemetry::range::{Preset, RangeSpec};
use coder_telemetry::route::MetricEvents;
use coder_telemetry::store::{self, StoreFile};
use coder_telemetry::tape::Plain;
use coder_telemetry::write::envelope::EnvelopeWriter;
use coder_telemetry::write::records::RecordWriter;
use coder_telemetry::write::series::MetricWriter;
use coder_telemetry::write::sink::{EntryEnd, EntrySink, Spooled, ZipSink, ZipStyle};
use coder_telemetry::write::Writer;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

/// The chunk size the export uses with two threads.
const CHUNK: u64 = 1 << 20;
/// No line limit in the stage benches.
const MAX_LINE: usize = 16 << 20;

struct Fixture {
    _dir: tempfile::TempDir,
    store: PathBuf,
    files: Vec<StoreFile>,
    bytes: u64,
    out: tempfile::TempDir,
}

/// A store of testdata-gen's `mix` ("real" or "synthetic").
fn fixture(mix: &str) -> Fixture {
    let size = std::env::var("BENCH_STORE_SIZE").unwrap_or_else(|_| "64MiB".into());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut argv = vec![
        "testdata-gen",
        "--out",
        dir.path().to_str().expect("utf-8 path"),
        "--mix",
        mix,
        "--size",
        &size,
        "--days",
        "2",
        "--quiet",
    ];
    if mix == "synthetic" {
        argv.extend(["--sessions-per-day", "4"]);
    }
    let args = testdata_gen::Args::parse_from(argv);
    testdata_gen::generate(&args).expect("generate the store");
    let stores = vec![dir.path().to_path_buf()];
    let mut files = store::list(dir.path()).expect("list store").files;
    store::stat_sizes(&mut files, &stores);
    let bytes = files.iter().map(|f| f.size).sum();
    // Outputs on tmpfs when there is one: measure the exporter, not the disk.
    let out = if Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm")
    } else {
        tempfile::tempdir()
    }
    .expect("output dir");
    Fixture {
        store: dir.path().to_path_buf(),
        _dir: dir,
        files,
        bytes,
        out,
    }
}

/// An entry sink that keeps what it is given, for the per-byte benches.
struct Collect(Arc<std::sync::Mutex<Vec<u8>>>);
impl EntrySink for Collect {
    fn start(&mut self, _: &str) -> std::io::Result<()> {
        Ok(())
    }
    fn write(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.0.lock().expect("collect").extend_from_slice(b);
        Ok(())
    }
    fn end(&mut self, _: EntryEnd) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(self: Box<Self>) -> std::io::Result<()> {
        Ok(())
    }
}

/// An entry sink that drops everything: the writer's own cost only.
struct NullSink;
impl EntrySink for NullSink {
    fn start(&mut self, _: &str) -> std::io::Result<()> {
        Ok(())
    }
    fn write(&mut self, b: &[u8]) -> std::io::Result<()> {
        std::hint::black_box(b);
        Ok(())
    }
    fn end(&mut self, _: EntryEnd) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(self: Box<Self>) -> std::io::Result<()> {
        Ok(())
    }
}

fn clone_segments(segs: &[Segment]) -> Vec<Segment> {
    segs.iter()
        .map(|s| Segment {
            file: 0,
            key: s.key.clone(),
            head: s.head.clone(),
            data: s.data.clone(),
            ends: s.ends.clone(),
            sep: s.sep,
        })
        .collect()
}

/// As an export on two cores spools: hashing and writing on one thread.
fn spooled(sink: impl EntrySink + 'static) -> Spooled {
    Spooled::new("bench", Box::new(sink), false).expect("spool")
}

/// The first 1 MiB chunk of the largest file, as a worker sees it, with its header.
fn sample_chunk(f: &Fixture) -> (usize, Header, ChunkBuf) {
    let (i, file) = f.files.iter().enumerate().max_by_key(|(_, p)| p.size).expect("a file");
    let path = file.path(std::slice::from_ref(&f.store));
    let first: Chunk = chunks_of(i, file.size, CHUNK).next().expect("a chunk");
    let header = read_header(&path, file.size, MAX_LINE).expect("a header");
    let chunk = read_chunk(&path, first, file.size, MAX_LINE, Vec::new()).expect("read");
    (i, header, chunk)
}

fn clone_chunk(c: &ChunkBuf) -> ChunkBuf {
    ChunkBuf {
        buf: c.buf.clone(),
        len: c.len,
        first: c.first,
        limit: c.limit,
        base: c.base,
        at_eof: c.at_eof,
        shrunk: c.shrunk,
        oversize: c.oversize,
    }
}

fn stages(c: &mut Criterion) {
    for mix in ["real", "synthetic"] {
        stages_of(c, mix);
    }
}

fn stages_of(c: &mut Criterion, mix: &str) {
    let f = fixture(mix);
    let (i, header, chunk) = sample_chunk(&f);
    let file = &f.files[i];
    let range = RangeSpec::Preset(Preset::AllTime).resolve(chrono::Utc::now());
    let metrics = MetricEvents::default();
    let cancel = AtomicBool::new(false);
    let opts = ParseOptions {
        range: &range,
        metrics: &metrics,
        max_line: MAX_LINE,
        cancel: &cancel,
    };
    let pools = Arc::new(Pools::new(16, 32 << 20));

    let mut g = c.benchmark_group(format!("parse/{mix}"));
    g.throughput(Throughput::Bytes(chunk.len as u64));
    g.bench_function("simd_json_tape", |b| {
        let mut buffers = simd_json::Buffers::new(64 * 1024);
        b.iter_batched_ref(
            || clone_chunk(&chunk),
            |c| {
                let mut pos = c.first;
                let data_len = c.len;
                while pos < data_len {
                    let end = memchr::memchr(b'\n', &c.buf[pos..data_len]).map_or(data_len, |i| pos + i);
                    let mut tape = simd_json::Tape::null();
                    let _ = simd_json::fill_tape_padded(&mut c.buf[pos..], end - pos, &mut buffers, &mut tape);
                    pos = end + 1;
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("plain_tape", |b| {
        let mut plain = Plain::default();
        let mut tape = Vec::new();
        b.iter(|| {
            chunk.buf[chunk.first..chunk.len]
                .split(|&b| b == b'\n')
                .filter(|line| plain.parse(line, &mut tape))
                .count()
        })
    });
    g.bench_function("rows", |b| {
        b.iter_batched_ref(
            || clone_chunk(&chunk),
            |c| run_chunk_buf(file, &header, c, opts, &mut Discard),
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group(format!("encode/{mix}"));
    g.throughput(Throughput::Bytes(chunk.len as u64));
    g.bench_function("json_element", |b| {
        b.iter_batched_ref(
            || clone_chunk(&chunk),
            |c| {
                let mut sink = JsonChunk::with_capacity(c.len);
                run_chunk_buf(file, &header, c, opts, &mut sink);
                sink
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("otlp_records", |b| {
        b.iter_batched_ref(
            || clone_chunk(&chunk),
            |c| {
                let mut sink = OtlpSink::new(&[], DEFAULT_ATTRIBUTE_LIMIT, &pools, c.len);
                run_chunk_buf(file, &header, c, opts, &mut sink);
                sink.batch
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // The write stage: the chunk's OTLP batch, encoded once, written again and again.
    let batch = {
        let mut sink = OtlpSink::new(&[], DEFAULT_ATTRIBUTE_LIMIT, &pools, chunk.len);
        run_chunk_buf(file, &header, &mut clone_chunk(&chunk), opts, &mut sink);
        sink.batch
    };
    let encoded: u64 = batch
        .logs
        .iter()
        .chain(&batch.traces)
        .map(|s| s.data.len() as u64)
        .sum();
    let mut g = c.benchmark_group(format!("write/{mix}"));
    g.throughput(Throughput::Bytes(encoded.max(1)));
    for (id, layout) in [
        ("single", Layout::Single),
        ("split", Layout::Split),
        ("jsonl", Layout::Jsonl),
    ] {
        g.bench_function(id, |b| {
            b.iter(|| {
                let mut w = RecordWriter::new(
                    EnvelopeWriter::new(Signal::Log, layout, 1 << 20, spooled(NullSink)),
                    pools.clone(),
                );
                w.write(clone_segments(&batch.logs)).expect("write");
                w.write(clone_segments(&batch.traces)).expect("write");
                w.finish().expect("finish")
            })
        });
    }
    g.bench_function("zip-deflate-1", |b| {
        let path = f.out.path().join("write-bench.zip");
        b.iter(|| {
            let sink = ZipSink::create(&path, ZipStyle::new(1, &chrono::Utc::now())).expect("zip");
            let mut w = RecordWriter::new(
                EnvelopeWriter::new(Signal::Log, Layout::Single, 1 << 20, spooled(sink)),
                pools.clone(),
            );
            w.write(clone_segments(&batch.logs)).expect("write");
            w.write(clone_segments(&batch.traces)).expect("write");
            w.finish().expect("finish")
        })
    });
    g.finish();

    // Metric points through the metric writer, which groups them per series
    // (on the real mix, metrics are 98% of the OTLP output). The chunk is
    // encoded outside the timing, the writing timed, hashing included on its
    // I/O thread; the throughput is the chunk's input.
    let mut g = c.benchmark_group(format!("write/{mix}"));
    g.throughput(Throughput::Bytes(chunk.len as u64));
    g.bench_function("metrics-points", |b| {
        b.iter_batched(
            || {
                let mut sink = OtlpSink::new(&[], DEFAULT_ATTRIBUTE_LIMIT, &pools, chunk.len);
                run_chunk_buf(file, &header, &mut clone_chunk(&chunk), opts, &mut sink);
                sink.batch.metrics
            },
            |metrics| {
                let out = EnvelopeWriter::new(Signal::Metric, Layout::Single, 1 << 20, spooled(NullSink));
                let mut w = MetricWriter::new(out, Temporality::Delta, pools.clone());
                w.write(metrics).expect("write");
                w.finish().expect("finish")
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // The chunk's whole OTLP output (logs, spans, metric envelope), then the
    // two costs every byte of it pays on the way out: the manifest's sha256
    // and, in a zip, deflate level 1 (zlib-rs, as the zip writer runs it).
    let output = {
        let bytes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut sink = OtlpSink::new(&[], DEFAULT_ATTRIBUTE_LIMIT, &pools, chunk.len);
        run_chunk_buf(file, &header, &mut clone_chunk(&chunk), opts, &mut sink);
        let out = EnvelopeWriter::new(Signal::Log, Layout::Single, 1 << 20, spooled(Collect(bytes.clone())));
        let mut w = RecordWriter::new(out, pools.clone());
        w.write(clone_segments(&sink.batch.logs)).expect("write");
        w.write(clone_segments(&sink.batch.traces)).expect("write");
        w.finish().expect("finish");
        let out = EnvelopeWriter::new(Signal::Metric, Layout::Single, 1 << 20, spooled(Collect(bytes.clone())));
        let mut w = MetricWriter::new(out, Temporality::Delta, pools.clone());
        w.write(sink.batch.metrics).expect("write");
        w.finish().expect("finish");
        let v = std::mem::take(&mut *bytes.lock().expect("collect"));
        v
    };
    let mut g = c.benchmark_group(format!("write/{mix}"));
    g.throughput(Throughput::Bytes(output.len() as u64));
    g.bench_function("sha256", |b| {
        use sha2::Digest;
        b.iter(|| sha2::Sha256::digest(&output))
    });
    g.bench_function("deflate-1", |b| {
        b.iter(|| {
            let mut z = flate2::write::DeflateEncoder::new(std::io::sink(), flate2::Compression::new(1));
            std::io::Write::write_all(&mut z, &output).expect("deflate");
            z.finish().expect("deflate")
        })
    });
    g.finish();

    let mut g = c.benchmark_group(format!("export/{mix}"));
    g.throughput(Throughput::Bytes(f.bytes));
    g.sample_size(10);
    let stores = [f.store.clone()];
    g.bench_function(BenchmarkId::new("otlp", "sequential"), |b| {
        b.iter(|| {
            for (i, file) in f.files.iter().enumerate() {
                let path = file.path(&stores);
                let header = read_header(&path, file.size, MAX_LINE).expect("header");
                for c in chunks_of(i, file.size, CHUNK) {
                    let mut data = read_chunk(&path, c, file.size, MAX_LINE, Vec::new()).expect("read");
                    let mut sink = OtlpSink::new(&[], DEFAULT_ATTRIBUTE_LIMIT, &pools, data.len);
                    run_chunk_buf(file, &header, &mut data, opts, &mut sink);
                }
            }
        })
    });
    let now = chrono::Utc::now();
    for (name, format, target) in [
        ("json", Format::Json, "out.json"),
        ("otlp-dir", Format::Otlp, "out-dir"),
        ("otlp-zip", Format::Otlp, "out.zip"),
    ] {
        for threads in [1usize, 2] {
            let cfg = Config {
                threads,
                ..Config::new(
                    vec![f.store.clone()],
                    RangeSpec::Preset(Preset::AllTime).resolve(now),
                    now,
                )
            };
            let out = FileOutput {
                force: true,
                ..FileOutput::new(format, Output::Path(f.out.path().join(target)))
            };
            g.bench_function(BenchmarkId::new(name, format!("{threads}-threads")), |b| {
                b.iter(|| export(&cfg, &out, &AtomicBool::new(false), Hooks::default()).expect("export"))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
