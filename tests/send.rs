//! `send` (SPEC §10) and many stores and shards (§11).
//!
//! Delivery is checked against the OpenTelemetry Collector's own OTLP/HTTP
//! receiver (`tests/otlp-receiver`, built by `.ci/run` with `go build`):
//! what it accepted must equal, as a multiset of records, what `export
//! --format otlp` writes for the same range. Where the real receiver will
//! not misbehave on demand (429, 503 with Retry-After, partial success, a
//! 400, a dead endpoint), a small scripted HTTP server stands in.
//!
//! Without the receiver binary the receiver tests say loudly that they were
//! skipped; `.ci/run` sets CODER_TELEMETRY_REQUIRE_RECEIVER=1, which makes a
//! missing receiver a failure.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

// ---- the real receiver -------------------------------------------------

/// A running otlp-receiver.
struct Receiver {
    child: Child,
    out: tempfile::TempDir,
    port: u16,
}

/// What the receiver accepted: each record (log record, span, data point)
/// with its resource and scope, as canonical text, sorted.
#[derive(Debug, PartialEq, Eq)]
struct Records {
    logs: Vec<String>,
    spans: Vec<String>,
    points: Vec<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn receiver_binary() -> Option<PathBuf> {
    let p = std::env::var_os("CODER_TELEMETRY_OTLP_RECEIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/otlp-receiver/otlp-receiver"));
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("CODER_TELEMETRY_REQUIRE_RECEIVER").as_deref() == Ok("1") {
        panic!(
            "{} is missing: build it with `cd tests/otlp-receiver && go build` (CODER_TELEMETRY_REQUIRE_RECEIVER=1)",
            p.display()
        );
    }
    eprintln!(
        "SKIPPED: the Collector's OTLP receiver is not built ({}); run `cd tests/otlp-receiver && go build` \
         to test delivery against it",
        p.display()
    );
    None
}

impl Receiver {
    /// Starts the receiver with `max_request_body_size`; `None` when it is not built.
    fn start(max_body: u64) -> Option<Self> {
        let bin = receiver_binary()?;
        let out = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = Command::new(bin)
            .args([
                "-port",
                &port.to_string(),
                "-max-request-body-size",
                &max_body.to_string(),
                "-out",
            ])
            .arg(out.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the receiver did not start");
        Some(Self { child, out, port })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops it; returns what it accepted and its counts.
    fn stop(mut self) -> (Records, Value) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        assert!(self.child.wait().unwrap().success(), "the receiver failed");
        let read = |n: &str| std::fs::read(self.out.path().join(n)).unwrap();
        let records = flatten(&[read("logs.json")], &[read("traces.json")], &[read("metrics.json")]);
        (records, json(&read("counts.json")))
        // Dropped here: the receiver has exited, so kill and wait are no-ops.
    }
}

/// A test that failed before `stop` must not leave the receiver running.
impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every record of the given request bodies, decoded by the OTLP protobuf
/// types' serde (so the receiver's pdata JSON and ours compare by meaning).
fn flatten(logs: &[Vec<u8>], traces: &[Vec<u8>], metrics: &[Vec<u8>]) -> Records {
    let mut r = Records {
        logs: Vec::new(),
        spans: Vec::new(),
        points: Vec::new(),
    };
    for req in decode_logs(logs) {
        for rl in &req.resource_logs {
            for sl in &rl.scope_logs {
                for lr in &sl.log_records {
                    r.logs.push(format!("{:?}|{:?}|{lr:?}", rl.resource, sl.scope));
                }
            }
        }
    }
    for req in decode_traces(traces) {
        for rs in &req.resource_spans {
            for ss in &rs.scope_spans {
                for s in &ss.spans {
                    r.spans.push(format!("{:?}|{:?}|{s:?}", rs.resource, ss.scope));
                }
            }
        }
    }
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    for req in decode_metrics(metrics) {
        for rm in &req.resource_metrics {
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    let head = format!(
                        "{:?}|{:?}|{}|{}|{}",
                        rm.resource, sm.scope, m.name, m.unit, m.description
                    );
                    match &m.data {
                        Some(Data::Sum(s)) => {
                            for p in &s.data_points {
                                r.points.push(format!(
                                    "{head}|sum {} {}|{p:?}",
                                    s.aggregation_temporality, s.is_monotonic
                                ));
                            }
                        }
                        Some(Data::Gauge(g)) => {
                            for p in &g.data_points {
                                r.points.push(format!("{head}|gauge|{p:?}"));
                            }
                        }
                        other => panic!("unexpected metric data {other:?}"),
                    }
                }
            }
        }
    }
    r.logs.sort();
    r.spans.sort();
    r.points.sort();
    r
}

/// Fails with a short account of the difference: how many records of each
/// signal are missing or extra (the whole lists would be megabytes).
#[track_caller]
fn assert_same(got: &Records, want: &Records, what: &str) {
    use std::collections::BTreeMap;
    let diff = |g: &[String], w: &[String]| {
        let mut m: BTreeMap<&str, i64> = BTreeMap::new();
        for x in g {
            *m.entry(x).or_default() += 1;
        }
        for x in w {
            *m.entry(x).or_default() -= 1;
        }
        let extra: i64 = m.values().filter(|v| **v > 0).sum();
        let missing: i64 = -m.values().filter(|v| **v < 0).sum::<i64>();
        (g.len(), w.len(), extra, missing)
    };
    let d = [
        diff(&got.logs, &want.logs),
        diff(&got.spans, &want.spans),
        diff(&got.points, &want.points),
    ];
    assert!(
        d.iter().all(|(_, _, e, m)| *e == 0 && *m == 0),
        "{what}: (got, want, extra, missing) for logs, spans, points: {d:?}"
    );
}

/// The records `export --format otlp` writes for `store` with `args`.
fn exported(stores: &[&Path], args: &[&str]) -> Records {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("o");
    bin()
        .arg("export")
        .args(stores)
        .args([
            "--now", NOW, "--range", "all-time", "--format", "otlp", "--layout", "single", "--quiet", "-o",
        ])
        .arg(&dir)
        .args(args)
        .assert()
        .success();
    let e = read_output(&dir);
    flatten(&requests(&e, "logs"), &requests(&e, "traces"), &requests(&e, "metrics"))
}

/// `coder-telemetry send STORE --now NOW --range all-time --quiet --summary-json ARGS`.
fn send_cmd(store: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut c = bin();
    c.arg("send")
        .arg(store)
        .args(["--now", NOW, "--range", "all-time", "--quiet", "--summary-json"])
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_HEADERS")
        .env_remove("OTEL_EXPORTER_OTLP_COMPRESSION")
        .env_remove("OTEL_EXPORTER_OTLP_TIMEOUT");
    c
}

/// Sends `store` to the receiver with `--compression` and
/// `--max-request-bytes` as given; asserts success, returns the summary.
fn send_ok(store: &Path, rx: &Receiver, compression: &str, max_request_bytes: &str) -> Value {
    let args = [
        "--endpoint",
        &rx.url(),
        "--compression",
        compression,
        "--max-request-bytes",
        max_request_bytes,
    ];
    let o = send_cmd(store, &args).assert().success();
    json(&o.get_output().stdout)
}

/// Per signal (logs, traces, metrics) `field` of a send's summary.
fn per_signal(summary: &Value, field: &str) -> [u64; 3] {
    ["logs", "traces", "metrics"].map(|s| summary["delivery"]["signals"][s][field].as_u64().unwrap())
}

fn total(summary: &Value, field: &str) -> u64 {
    per_signal(summary, field).iter().sum()
}

fn delivers_every_record_once(compression: &str) {
    let (store, _) = real_mix_store("2MB", &[]);
    let Some(rx) = Receiver::start(20 << 20) else {
        return;
    };
    let summary = send_ok(store.path(), &rx, compression, "256KiB");
    let (got, counts) = rx.stop();
    let want = exported(&[store.path()], &[]);
    assert!(!want.logs.is_empty() && !want.spans.is_empty() && !want.points.is_empty());
    assert_same(&got, &want, "what the receiver accepted is what export writes");
    assert_eq!(
        per_signal(&summary, "records"),
        [
            want.logs.len() as u64,
            want.spans.len() as u64,
            want.points.len() as u64
        ]
    );
    assert!(
        counts["metrics_requests"].as_u64().unwrap() > 1,
        "several requests: {counts}"
    );
    assert_eq!(
        counts["metrics_requests"].as_u64(),
        Some(per_signal(&summary, "requests")[2])
    );
    let (bytes, wire) = (total(&summary, "bytes"), total(&summary, "wire_bytes"));
    if compression == "gzip" {
        assert!(wire * 3 < bytes, "gzip: {wire} of {bytes}");
    } else {
        assert_eq!(wire, bytes);
    }
}

#[test]
fn send_gzip_delivers_every_record_of_a_real_mix_store_exactly_once() {
    delivers_every_record_once("gzip");
}

#[test]
fn send_uncompressed_delivers_every_record_of_a_real_mix_store_exactly_once() {
    delivers_every_record_once("none");
}

#[test]
fn requests_over_the_receivers_body_limit_are_halved_until_all_are_delivered() {
    let (store, _) = real_mix_store("1MB", &[]);
    let Some(rx) = Receiver::start(48 << 10) else {
        return;
    };
    let summary = send_ok(store.path(), &rx, "none", "512KiB");
    let (got, counts) = rx.stop();
    assert_same(&got, &exported(&[store.path()], &[]), "after halving");
    assert_eq!(total(&summary, "failed_requests"), 0);
    // Each refused request came back as two or more.
    assert!(
        counts["metrics_requests"].as_u64().unwrap() > 2 * (1 << 20) / (512 << 10),
        "{counts}"
    );
}

/// A proxy in front of the receiver that holds each request `delay`
/// before forwarding it, and forwards nothing for a client that went away
/// meanwhile. A send killed while the proxy holds its request has then
/// certainly not delivered it: the test kills right after an
/// acknowledgement reached the journal, inside that hold.
fn slow_proxy(upstream: u16, delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(client) = conn else { break };
            std::thread::spawn(move || {
                let Some(request) = read_http(&client) else { return };
                std::thread::sleep(delay);
                // Gone? A closed socket reads as end of file at once.
                client.set_nonblocking(true).ok();
                let mut probe = [0u8; 1];
                if matches!((&client).read(&mut probe), Ok(0)) {
                    return;
                }
                client.set_nonblocking(false).ok();
                let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                up.write_all(&request).unwrap();
                let Some(response) = read_http(&up) else { return };
                // One request per connection: the client must not reuse it.
                let text = String::from_utf8_lossy(&response).replacen("\r\n", "\r\nConnection: close\r\n", 1);
                let _ = (&client).write_all(text.as_bytes());
            });
        }
    });
    port
}

/// One HTTP message (head and Content-Length body) read from `s`.
fn read_http(s: &TcpStream) -> Option<Vec<u8>> {
    let mut r = BufReader::new(s);
    let mut head = Vec::new();
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    head.extend_from_slice(&body);
    Some(head)
}

#[test]
fn a_send_killed_part_way_and_rerun_with_its_journal_delivers_each_record_once() {
    let (store, _) = real_mix_store("2MB", &[]);
    let Some(rx) = Receiver::start(20 << 20) else {
        return;
    };
    let proxy = format!("http://127.0.0.1:{}", slow_proxy(rx.port, Duration::from_millis(150)));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("sent.journal");
    let args = |c: &mut Command, endpoint: &str| {
        c.arg("send")
            .arg(store.path())
            .args(["--now", NOW, "--range", "all-time", "--quiet", "--concurrency", "1"])
            .args(["--max-request-bytes", "64KiB", "--endpoint", endpoint, "--journal"])
            .arg(&journal);
    };
    let mut first = Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"));
    args(&mut first, &proxy);
    let mut child = first.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // SIGKILL once the journal holds 5 requests: the 6th is in the proxy.
    let started = Instant::now();
    loop {
        let n = std::fs::read_to_string(&journal).map_or(0, |t| t.lines().count().saturating_sub(1));
        if n >= 5 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the send ended before it could be killed"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let recorded = std::fs::read_to_string(&journal).unwrap().lines().count() - 1;
    let mut again = Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"));
    args(&mut again, &rx.url());
    let o = again.arg("--summary-json").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = json(&o.stdout);
    assert_eq!(total(&summary, "skipped_records"), recorded as u64, "{summary}");
    assert!(total(&summary, "requests") > 0, "the rest was sent: {summary}");
    let (got, _) = rx.stop();
    assert_same(&got, &exported(&[store.path()], &[]), "every record exactly once");
    // No temporaries of the journal are left beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["sent.journal"]);
}

// ---- a scripted server, for what the real receiver will not do on demand ----

/// One scripted response.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    /// How long the server takes to answer.
    delay: Duration,
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

/// A request the server saw.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Answers each request with the next reply of its script (the last one
/// repeats), one connection per request.
struct Scripted {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    fn start(script: Vec<Reply>) -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    fn on(listener: TcpListener, script: Vec<Reply>) -> Self {
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for (i, conn) in listener.incoming().enumerate() {
                let Ok(conn) = conn else { break };
                let r = script[i.min(script.len() - 1)].clone();
                if let Some(s) = serve(conn, &r) {
                    log.lock().unwrap().push(s);
                }
            }
        });
        Self { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(conn: TcpStream, r: &Reply) -> Option<Seen> {
    let at = Instant::now();
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    std::thread::sleep(r.delay);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers.iter().find(|(k, _)| k == "content-length")?.1.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let mut out = conn;
    let mut text = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        r.body.len()
    );
    for (k, v) in &r.headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(&r.body);
    out.write_all(text.as_bytes()).ok()?;
    Some(Seen {
        at,
        path,
        headers,
        body,
    })
}

/// A store with one log event: one request, to /v1/logs.
fn one_log_store() -> Store {
    let s = Store::new();
    s.file(
        "telemetry-2026-11-20-aaaaaaaa.jsonl",
        &[header("a"), row("remote.log", "2026-11-20T10:00:00Z", json!({}))],
    );
    s
}

#[test]
fn http_429_and_503_are_retried_honouring_retry_after() {
    let s = one_log_store();
    let mut r429 = reply(429, "{}");
    r429.headers.push(("Retry-After", "1".into()));
    let mut r503 = reply(503, "{}");
    r503.headers.push(("Retry-After", "0".into()));
    let srv = Scripted::start(vec![r429, r503, reply(200, "{}")]);
    let o = send_cmd(s.path(), &["--endpoint", &srv.url()]).assert().success();
    let summary = json(&o.get_output().stdout);
    assert_eq!(per_signal(&summary, "retried"), [2, 0, 0]);
    assert_eq!(per_signal(&summary, "records"), [1, 0, 0]);
    let seen = srv.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|x| x.path == "/v1/logs"));
    let waited = seen[1].at - seen[0].at;
    assert!(waited >= Duration::from_millis(950), "Retry-After: 1 waited {waited:?}");
    assert!(
        seen[0]
            .headers
            .iter()
            .any(|(k, v)| k == "content-encoding" && v == "gzip"),
        "gzip by default"
    );
    assert!(seen[0]
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v == "application/json"));
}

#[test]
fn a_refused_connection_is_retried_until_the_endpoint_is_up() {
    let s = one_log_store();
    let port = free_port();
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        Scripted::on(TcpListener::bind(("127.0.0.1", port)).unwrap(), vec![reply(200, "{}")])
    });
    let o = send_cmd(s.path(), &["--endpoint", &format!("http://127.0.0.1:{port}")])
        .assert()
        .success();
    let summary = json(&o.get_output().stdout);
    assert!(per_signal(&summary, "retried")[0] >= 1, "{summary}");
    assert_eq!(per_signal(&summary, "records"), [1, 0, 0]);
    assert_eq!(late.join().unwrap().seen().len(), 1);
}

#[test]
fn a_partial_success_is_counted_and_its_message_shown() {
    let s = one_log_store();
    let srv = Scripted::start(vec![reply(
        200,
        r#"{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"timestamp too old"}}"#,
    )]);
    let o = send_cmd(s.path(), &["--endpoint", &srv.url()]).assert().success();
    let summary = json(&o.get_output().stdout);
    assert_eq!(per_signal(&summary, "rejected"), [1, 0, 0]);
    assert_eq!(per_signal(&summary, "records"), [0, 0, 0]);
    assert!(String::from_utf8_lossy(&o.get_output().stderr).contains("timestamp too old"));
}

#[test]
fn a_400_fails_at_once_with_its_message_and_exit_1() {
    let s = one_log_store();
    let srv = Scripted::start(vec![reply(400, r#"{"code":3,"message":"unknown field \"bogus\""}"#)]);
    let o = send_cmd(
        s.path(),
        &["--endpoint", &srv.url(), "--header", "x-api-key=SECRET-4c1d"],
    )
    .assert()
    .code(1);
    let (out, err) = (
        String::from_utf8_lossy(&o.get_output().stdout),
        String::from_utf8_lossy(&o.get_output().stderr),
    );
    assert!(err.contains("unknown field") && err.contains("400"), "{err}");
    let summary = json(out.as_bytes());
    assert_eq!(per_signal(&summary, "failed_requests"), [1, 0, 0]);
    assert_eq!(srv.seen().len(), 1, "not retried");
    // The header went out; its value is printed nowhere.
    assert!(srv.seen()[0]
        .headers
        .iter()
        .any(|(k, v)| k == "x-api-key" && v == "SECRET-4c1d"));
    assert!(!out.contains("SECRET") && !err.contains("SECRET"));
}

#[test]
fn sigterm_stops_a_send_with_exit_130_and_the_journal_keeps_every_acknowledged_request() {
    let (store, _) = real_mix_store("1MB", &[]);
    let mut slow = reply(200, "{}");
    slow.delay = Duration::from_millis(50);
    let srv = Scripted::start(vec![slow]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"))
        .arg("send")
        .arg(store.path())
        .args([
            "--now",
            NOW,
            "--range",
            "all-time",
            "--quiet",
            "--max-request-bytes",
            "16KiB",
        ])
        .args(["--endpoint", &srv.url(), "--journal"])
        .arg(&journal)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let signalled = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        signalled.elapsed() < Duration::from_millis(1500),
        "{:?}",
        signalled.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    let journalled = std::fs::read_to_string(&journal).unwrap().lines().count() - 1;
    let answered = srv.seen().len();
    assert!(journalled > 0, "some requests were acknowledged before the signal");
    // The server records a request once it has answered it; the sender may
    // have been stopped before reading the last answer (then it is sent again).
    assert!(
        journalled == answered || journalled + 1 == answered,
        "{journalled} of {answered}"
    );
}

/// SPEC §10: the journal keys each acknowledged request by the sha256 of
/// its uncompressed body. The hash now comes from the spooled sink (hashed
/// once for the manifest and the journal alike), so check it against what
/// the endpoint received.
#[test]
fn journal_keys_are_the_sha256_of_each_request_body_sent() {
    use sha2::Digest;
    let (store, _) = real_mix_store("200KB", &[]);
    let srv = Scripted::start(vec![reply(200, "{}")]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    send_cmd(store.path(), &["--endpoint", &srv.url(), "--compression", "none"])
        .args(["--max-request-bytes", "16KiB", "--journal"])
        .arg(&journal)
        .assert()
        .success();
    let mut sent: Vec<String> = srv
        .seen()
        .iter()
        .map(|s| {
            sha2::Sha256::digest(&s.body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect();
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut journalled: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["sha256"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(sent.len() > 3, "several requests: {}", sent.len());
    sent.sort();
    journalled.sort();
    assert_eq!(journalled, sent);
}

#[test]
fn max_elapsed_gives_up_on_an_endpoint_that_stays_unavailable() {
    let s = one_log_store();
    let srv = Scripted::start(vec![reply(503, "{}")]);
    let started = Instant::now();
    let o = send_cmd(s.path(), &["--endpoint", &srv.url(), "--max-elapsed", "2"])
        .assert()
        .code(1);
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = String::from_utf8_lossy(&o.get_output().stderr);
    assert!(err.contains("--max-elapsed") && err.contains("503"), "{err}");
    assert!(srv.seen().len() >= 2, "retried before giving up");
}

#[test]
fn the_otlp_environment_sets_endpoint_headers_and_compression_and_flags_win() {
    let s = one_log_store();
    let srv = Scripted::start(vec![reply(200, "{}")]);
    send_cmd(s.path(), &[])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
        .env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", format!("{}/custom/logs", srv.url()))
        .env("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b,x-team=t1")
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "none")
        .args(["--header", "x-team=t2"])
        .assert()
        .success();
    let seen = srv.seen();
    assert_eq!(seen[0].path, "/custom/logs");
    let h = |k: &str| seen[0].headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(h("api-key").as_deref(), Some("a b"));
    assert_eq!(h("x-team").as_deref(), Some("t2"));
    assert_eq!(h("content-encoding"), None);
    json(&seen[0].body);
}

#[test]
fn send_without_an_endpoint_is_a_usage_error() {
    let s = one_log_store();
    let o = send_cmd(s.path(), &[]).assert().code(2);
    assert!(String::from_utf8_lossy(&o.get_output().stderr).contains("--endpoint"));
    send_cmd(s.path(), &["--endpoint", "localhost:4318"]).assert().code(2);
}

#[test]
fn dry_run_builds_every_request_without_connecting() {
    let (store, _) = real_mix_store("1MB", &[]);
    // Nothing listens there: a connection would fail the send.
    let url = format!("http://127.0.0.1:{}", free_port());
    let o = send_cmd(
        store.path(),
        &["--endpoint", &url, "--dry-run", "--max-request-bytes", "128KiB"],
    )
    .assert()
    .success();
    let summary = json(&o.get_output().stdout);
    assert_eq!(summary["delivery"]["dry_run"], true);
    let want = exported(&[store.path()], &[]);
    assert_eq!(
        per_signal(&summary, "records"),
        [
            want.logs.len() as u64,
            want.spans.len() as u64,
            want.points.len() as u64
        ]
    );
    assert!(per_signal(&summary, "requests")[2] > 4);
}

// ---- many stores and shards (§11) ----------------------------------------

#[test]
fn shards_1_to_3_together_hold_every_record_of_the_unsharded_export_once() {
    let (store, _) = real_mix_store("1MB", &[]);
    let whole = exported(&[store.path()], &[]);
    let mut union = Records {
        logs: Vec::new(),
        spans: Vec::new(),
        points: Vec::new(),
    };
    let mut nonempty = 0;
    for k in 1..=3 {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("o");
        let o = bin()
            .arg("export")
            .arg(store.path())
            .args([
                "--now", NOW, "--range", "all-time", "--format", "otlp", "--layout", "single",
            ])
            .args(["--quiet", "--summary-json", "--shard", &format!("{k}/3"), "-o"])
            .arg(&dir)
            .assert()
            .success();
        if json(&o.get_output().stdout)["events"].as_u64() == Some(0) {
            continue;
        }
        nonempty += 1;
        let e = read_output(&dir);
        let r = flatten(&requests(&e, "logs"), &requests(&e, "traces"), &requests(&e, "metrics"));
        union.logs.extend(r.logs);
        union.spans.extend(r.spans);
        union.points.extend(r.points);
    }
    assert!(nonempty >= 2, "the sessions spread over the shards");
    union.logs.sort();
    union.spans.sort();
    union.points.sort();
    assert_same(&union, &whole, "the union of the shards");
}

#[test]
fn several_stores_export_as_one_store_holding_all_their_files() {
    let (a, _) = real_mix_store("600kB", &[]);
    let (b, _) = real_mix_store("600kB", &["--seed", "7"]);
    let both = Store::new();
    for s in [&a, &b] {
        for e in std::fs::read_dir(s.path()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), both.path().join(e.file_name())).unwrap();
        }
    }
    let merged = exported(&[both.path()], &[]);
    assert!(!merged.logs.is_empty());
    assert_same(&exported(&[a.path(), b.path()], &[]), &merged, "two stores and one");
}

// ---- the README's examples -------------------------------------------------

/// The commands of the README's `send` section that address a local
/// Collector (`localhost:4318`), continuation lines joined.
fn readme_local_examples() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("## Sending to a Collector or a vendor")
        .expect("the send section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut commands = Vec::new();
    let mut current = String::new();
    let mut in_sh = false;
    for line in section.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line == "```sh";
            continue;
        }
        if !in_sh || line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    commands
        .into_iter()
        .filter(|c| c.contains("coder-telemetry send") && c.contains("localhost:4318"))
        .collect()
}

#[test]
fn the_readmes_send_examples_run_as_written_against_a_local_receiver() {
    let examples = readme_local_examples();
    assert!(examples.len() >= 3, "{examples:?}");
    if TcpListener::bind("127.0.0.1:4318").is_err() {
        eprintln!("SKIPPED: port 4318 is taken; the README's examples address localhost:4318");
        return;
    }
    let Some(bin_path) = receiver_binary() else {
        return;
    };
    // The examples' ~/store is the real writer's store; their receiver the
    // Collector's, on the port they name.
    let home = tempfile::tempdir().unwrap();
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/real-store");
    let source = if reference.is_dir() {
        reference
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
    };
    std::fs::create_dir(home.path().join("store")).unwrap();
    for e in std::fs::read_dir(&source).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("telemetry-") {
            std::fs::copy(e.path(), home.path().join("store").join(e.file_name())).unwrap();
        }
    }
    let out = tempfile::tempdir().unwrap();
    let mut rx = Command::new(bin_path)
        .args(["-port", "4318", "-out"])
        .arg(out.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(rx.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let bin_dir = assert_cmd::cargo::cargo_bin("coder-telemetry")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut results = Vec::new();
    for cmd in &examples {
        let o = Command::new("sh")
            .args(["-c", cmd])
            .env("HOME", home.path())
            .env("PATH", &path)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_HEADERS")
            .output()
            .unwrap();
        results.push((
            cmd.clone(),
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(rx.id() as i32, libc::SIGTERM) };
    rx.wait().unwrap();
    for (cmd, code, err) in &results {
        assert_eq!(*code, Some(0), "{cmd}\n{err}");
    }
    let counts = json(&std::fs::read(out.path().join("counts.json")).unwrap());
    assert!(counts["data_points"].as_u64().unwrap() > 0, "{counts}");
}
