//! Shared helpers of the integration tests: temporary stores, realistic rows,
//! running the real binary, reading folder/zip output, and decoding OTLP with
//! the `opentelemetry-proto` crate plus the checks its serde does not make,
//! and the CPU time of child processes (stop after SIGTERM, growth checks).
#![allow(dead_code)]

pub mod peers;
pub mod proxy;
pub mod tls;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use serde_json::{json, Value};

pub const NOW: &str = "2026-11-24T12:00:00Z";

/// A temporary store folder.
pub struct Store {
    pub dir: tempfile::TempDir,
}

impl Store {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `lines`, each followed by a newline.
    pub fn file(&self, name: &str, lines: &[String]) -> PathBuf {
        let mut text = String::new();
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        self.raw(name, text.as_bytes())
    }

    pub fn raw(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).expect("write store file");
        p
    }
}

/// A store of testdata-gen's synthetic mix (every wire format, faults on
/// request): `size`, over `days` days with `sessions` sessions a day;
/// returns it with its `expected.json`.
pub fn generated_store(size: &str, days: u32, sessions: u32, extra: &[&str]) -> (Store, Value) {
    let mut args = vec!["--mix", "synthetic"];
    args.extend_from_slice(extra);
    generate(size, days, sessions, &args)
}

/// A store of testdata-gen's real mix: what the extension's own sink writes.
pub fn real_mix_store(size: &str, extra: &[&str]) -> (Store, Value) {
    generate(size, 7, 2, extra)
}

fn generate(size: &str, days: u32, sessions: u32, extra: &[&str]) -> (Store, Value) {
    use clap::Parser;
    let s = Store::new();
    let (days, sessions) = (days.to_string(), sessions.to_string());
    let mut argv = vec![
        "testdata-gen",
        "--out",
        s.path().to_str().expect("utf-8 temp path"),
        "--size",
        size,
        "--days",
        &days,
        "--sessions-per-day",
        &sessions,
        "--quiet",
    ];
    argv.extend_from_slice(extra);
    let expected = testdata_gen::generate(&testdata_gen::Args::parse_from(argv)).expect("generate a store");
    std::fs::remove_file(s.path().join("expected.json")).expect("generator writes expected.json");
    (s, serde_json::from_str(&expected).expect("expected.json is JSON"))
}

/// A small deterministic generator (xorshift), so test stores are the same every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The eight context fields of a session.
pub fn context(session: &str) -> Value {
    json!({
        "extension_version": "1.9.0",
        "machine_id": format!("machine-{session}"),
        "session_id": session,
        "os_type": "linux",
        "os_version": "6.8.0",
        "host_arch": "x64",
        "platform_name": "Visual Studio Code",
        "platform_version": "1.95.0"
    })
}

/// A v1 header line.
pub fn header(session: &str) -> String {
    json!({"kind": "header", "schema_version": 1, "timestamp": "2026-11-20T00:00:00Z", "context": context(session)})
        .to_string()
}

/// A v1 row: `extra` is merged over a minimal valid row.
pub fn row(name: &str, ts: &str, extra: Value) -> String {
    let mut v = json!({
        "event_id": "0000000000000001",
        "event_name": name,
        "timestamp": ts,
        "event_sequence": 1,
        "properties": {},
        "measurements": {},
        "deployment_url": "https://coder.example.com"
    });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        for (k, val) in e {
            o.insert(k, val);
        }
    }
    v.to_string()
}

/// A v0 row: the same with its whole context inline and no top-level deployment.
pub fn v0_row(session: &str, name: &str, ts: &str, extra: Value) -> String {
    let mut v: Value = serde_json::from_str(&row(name, ts, extra)).expect("row json");
    let mut ctx = context(session);
    ctx["deployment_url"] = v["deployment_url"].take();
    let o = v.as_object_mut().expect("object");
    o.remove("deployment_url");
    o.insert("context".into(), ctx);
    v.to_string()
}

/// Renames the structural keys of a row (and of its context) to camelCase.
pub fn camel(line: &str) -> String {
    let mut v: Value = serde_json::from_str(line).expect("row json");
    fn rename(o: &mut serde_json::Map<String, Value>, pairs: &[(&str, &str)]) {
        for (a, b) in pairs {
            if let Some(x) = o.remove(*a) {
                o.insert(b.to_string(), x);
            }
        }
    }
    let o = v.as_object_mut().expect("object");
    rename(
        o,
        &[
            ("event_id", "eventId"),
            ("event_name", "eventName"),
            ("event_sequence", "eventSequence"),
            ("trace_id", "traceId"),
            ("parent_event_id", "parentEventId"),
            ("deployment_url", "deploymentUrl"),
            ("schema_version", "schemaVersion"),
        ],
    );
    if let Some(Value::Object(c)) = o.get_mut("context") {
        rename(
            c,
            &[
                ("extension_version", "extensionVersion"),
                ("machine_id", "machineId"),
                ("session_id", "sessionId"),
                ("os_type", "osType"),
                ("os_version", "osVersion"),
                ("host_arch", "hostArch"),
                ("platform_name", "platformName"),
                ("platform_version", "platformVersion"),
                ("deployment_url", "deploymentUrl"),
            ],
        );
    }
    v.to_string()
}

/// The binary, with a fixed `--now` added by [`export`].
pub fn bin() -> Command {
    let mut c = Command::cargo_bin("coder-telemetry").expect("binary built");
    c.env_remove("OTEL_RESOURCE_ATTRIBUTES");
    c
}

/// `coder-telemetry export STORE --now NOW ARGS...`
pub fn export(store: &Path, args: &[&str]) -> Command {
    let mut c = bin();
    c.arg("export").arg(store).args(["--now", NOW]).args(args);
    c
}

/// The entries of a folder or zip output, by name.
pub fn read_output(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if path.is_dir() {
        for e in std::fs::read_dir(path).expect("read output folder") {
            let e = e.expect("entry");
            out.insert(
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read entry"),
            );
        }
    } else {
        let mut z = zip::ZipArchive::new(std::fs::File::open(path).expect("open zip")).expect("valid zip");
        for i in 0..z.len() {
            let mut f = z.by_index(i).expect("zip entry");
            let mut v = Vec::new();
            f.read_to_end(&mut v).expect("read zip entry");
            let name = f.name().expect("utf-8 entry name").to_string();
            out.insert(name, v);
        }
    }
    out
}

/// The requests of one signal in an output: the `single` file, the `split`
/// parts, or each line of the `jsonl` file, in order.
pub fn requests(entries: &BTreeMap<String, Vec<u8>>, signal: &str) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    if let Some(b) = entries.get(&format!("{signal}.json")) {
        v.push(b.clone());
    }
    for (name, b) in entries {
        if name.starts_with(&format!("{signal}.")) && name.ends_with(".json") && name != &format!("{signal}.json") {
            v.push(b.clone());
        }
    }
    if let Some(b) = entries.get(&format!("{signal}.jsonl")) {
        for line in b.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
            v.push(line.to_vec());
        }
    }
    v
}

/// Decodes logs requests and checks what the proto's serde does not.
pub fn decode_logs(bodies: &[Vec<u8>]) -> Vec<ExportLogsServiceRequest> {
    bodies
        .iter()
        .map(|b| {
            let r: ExportLogsServiceRequest = serde_json::from_slice(b).expect("logs request decodes");
            for rl in &r.resource_logs {
                assert!(rl.resource.is_some(), "every block has a resource");
                for sl in &rl.scope_logs {
                    assert!(sl.scope.is_some(), "every block has a scope");
                    for lr in &sl.log_records {
                        assert!(
                            lr.trace_id.is_empty() || lr.trace_id.len() == 16,
                            "trace id is 16 bytes"
                        );
                        assert!(lr.span_id.is_empty() || lr.span_id.len() == 8, "span id is 8 bytes");
                        assert!(
                            lr.body.as_ref().and_then(|b| b.value.as_ref()).is_some(),
                            "body decoded"
                        );
                        assert!(lr.time_unix_nano > 0);
                    }
                }
            }
            r
        })
        .collect()
}

pub fn decode_traces(bodies: &[Vec<u8>]) -> Vec<ExportTraceServiceRequest> {
    bodies
        .iter()
        .map(|b| {
            let r: ExportTraceServiceRequest = serde_json::from_slice(b).expect("traces request decodes");
            for rs in &r.resource_spans {
                assert!(rs.resource.is_some());
                for ss in &rs.scope_spans {
                    assert!(ss.scope.is_some());
                    for s in &ss.spans {
                        assert_eq!(s.trace_id.len(), 16, "trace id is 16 bytes");
                        assert_eq!(s.span_id.len(), 8, "span id is 8 bytes");
                        assert!(s.parent_span_id.is_empty() || s.parent_span_id.len() == 8);
                        assert!(s.start_time_unix_nano <= s.end_time_unix_nano);
                        assert!(s.status.is_some(), "status decoded");
                        for a in &s.attributes {
                            assert!(
                                a.value.as_ref().and_then(|v| v.value.as_ref()).is_some(),
                                "attribute value decoded"
                            );
                        }
                    }
                }
            }
            r
        })
        .collect()
}

pub fn decode_metrics(bodies: &[Vec<u8>]) -> Vec<ExportMetricsServiceRequest> {
    bodies
        .iter()
        .map(|b| {
            let r: ExportMetricsServiceRequest = serde_json::from_slice(b).expect("metrics request decodes");
            for rm in &r.resource_metrics {
                assert!(rm.resource.is_some());
                for sm in &rm.scope_metrics {
                    for m in &sm.metrics {
                        let points = match m.data.as_ref().expect("metric data decoded (gauge or sum)") {
                            Data::Gauge(g) => &g.data_points,
                            Data::Sum(s) => {
                                assert!(s.is_monotonic);
                                assert!(s.aggregation_temporality == 1 || s.aggregation_temporality == 2);
                                &s.data_points
                            }
                            other => panic!("unexpected metric data {other:?}"),
                        };
                        assert!(!points.is_empty());
                        for p in points {
                            assert!(p.value.is_some(), "every point decoded to a value");
                        }
                    }
                }
            }
            r
        })
        .collect()
}

/// Parses bytes as JSON.
pub fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

/// The value of attribute `key` in an OTLP/JSON attribute list.
pub fn attr<'a>(attrs: &'a Value, key: &str) -> Option<&'a Value> {
    attrs.as_array()?.iter().find(|a| a["key"] == key).map(|a| &a["value"])
}

/// All records of a signal across requests and blocks, as JSON values,
/// each with its block's resource attributes under `"_resource"`.
pub fn records(bodies: &[Vec<u8>], resources: &str, scopes: &str, items: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for b in bodies {
        let v = json(b);
        for block in v[resources].as_array().expect("resources array") {
            for scope in block[scopes].as_array().expect("scopes array") {
                for rec in scope[items].as_array().expect("records array") {
                    let mut r = rec.clone();
                    r["_resource"] = block["resource"]["attributes"].clone();
                    out.push(r);
                }
            }
        }
    }
    out
}

/// How a child stopped after SIGTERM: its status, the wall time from the
/// signal to its exit, and the CPU time (user + system, all threads) it
/// spent after the signal. CPU time is the process's own work: a busy
/// shared machine stretches wall time, not that.
pub struct Stopped {
    pub status: std::process::ExitStatus,
    pub wall: std::time::Duration,
    pub cpu_after_signal: std::time::Duration,
}

/// The CPU time (user + system, all threads) a live process has used so far.
fn cpu_so_far(pid: u32) -> std::time::Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the command name (which may hold spaces) in parentheses:
    // state is field 3, utime and stime fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    std::time::Duration::from_nanos(ticks * 1_000_000_000 / hz)
}

/// Waits for `pid` (polling, panicking past `limit` after `since`); returns
/// its raw status and its total CPU time (user + system, all threads).
fn reap(pid: u32, since: std::time::Instant, limit: std::time::Duration) -> (i32, std::time::Duration) {
    loop {
        let mut status = 0;
        // SAFETY: zeroed rusage is a valid value to be filled in.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waiting for our own child, with valid out-pointers.
        let r = unsafe { libc::wait4(pid as i32, &mut status, libc::WNOHANG, &mut ru) };
        assert!(r >= 0, "wait4: {}", std::io::Error::last_os_error());
        if r == pid as i32 {
            let tv = |t: libc::timeval| std::time::Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
            return (status, tv(ru.ru_utime) + tv(ru.ru_stime));
        }
        if since.elapsed() > limit {
            // SAFETY: signalling our own, unreaped child.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("still running {limit:?} on");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Sends SIGTERM to `child` and waits for it (panicking after `limit`).
/// The child is reaped here: do not wait for it again.
pub fn terminate(child: &mut std::process::Child, limit: std::time::Duration) -> Stopped {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id();
    let before = cpu_so_far(pid);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let signalled = std::time::Instant::now();
    let (status, cpu) = reap(pid, signalled, limit);
    Stopped {
        status: std::process::ExitStatus::from_raw(status),
        wall: signalled.elapsed(),
        cpu_after_signal: cpu.saturating_sub(before),
    }
}

/// Runs `cmd` to its end (stdout and stderr discarded, panicking past
/// `limit`); returns whether it succeeded and the CPU time it used (user +
/// system, all threads). For growth checks: the ratio of two such times in
/// one run, not a bound on either.
pub fn cpu_time(cmd: &mut std::process::Command, limit: std::time::Duration) -> (bool, std::time::Duration) {
    // Reaped by `reap` (wait4, for the CPU time), not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let (status, cpu) = reap(child.id(), std::time::Instant::now(), limit);
    (libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, cpu)
}
