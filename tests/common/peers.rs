//! The peers of the `send` tests: the OpenTelemetry Collector's own OTLP/HTTP
//! receiver (`tests/otlp-receiver`, Go, built on first use), a scripted HTTP
//! server for what the real receiver will not do on demand (429, 503 with
//! Retry-After, redirects, partial success, silence), a slow proxy for
//! killing a send while a request is in flight, and the oracle they are
//! judged by: the records `export --format otlp` writes for the same range.
//! Also the build of tests/otlp-routes, the Collector components that judge
//! the routes of docs/sending.md (tests/routes.rs), as the receiver is built.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;

// ---- the real receiver -------------------------------------------------

/// A running otlp-receiver.
pub struct Receiver {
    child: Child,
    out: tempfile::TempDir,
    /// The OTLP/HTTP port (0 when HTTP is off).
    pub port: u16,
    /// The OTLP/gRPC port, when gRPC is on.
    pub grpc_port: Option<u16>,
    /// Whether it serves TLS (then its URLs are `https://`).
    pub tls: bool,
}

/// How to start the receiver: [`ReceiverOptions::new`], then the builder
/// methods, then [`Receiver::with`].
#[derive(Clone, Debug)]
pub struct ReceiverOptions {
    /// The HTTP protocol's `max_request_body_size` (`-max-request-body-size`).
    pub max_body: u64,
    /// OTLP/HTTP: off, or on a free port, or on this one (`-port`).
    pub http: Listen,
    /// OTLP/gRPC (`-grpc-port`); off by default.
    pub grpc: Listen,
    /// The gRPC protocol's `max_recv_msg_size_mib`; 0 is the Collector's default (4 MiB).
    pub grpc_max_recv_msg_size_mib: u32,
    /// Serve both protocols over TLS with this certificate and key (`-tls-cert`, `-tls-key`).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Require client certificates issued by this CA (`-client-ca`): mTLS.
    pub client_ca: Option<PathBuf>,
}

/// Whether and where a protocol listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen {
    Off,
    /// On a free port of 127.0.0.1, chosen at start (and chosen again if
    /// another process takes it first).
    Free,
    /// On this port of 127.0.0.1.
    On(u16),
}

impl ReceiverOptions {
    /// Plain OTLP/HTTP on a free port, no gRPC, no TLS.
    pub fn new(max_body: u64) -> Self {
        Self {
            max_body,
            http: Listen::Free,
            grpc: Listen::Off,
            grpc_max_recv_msg_size_mib: 0,
            tls: None,
            client_ca: None,
        }
    }

    /// OTLP/HTTP on `port`.
    pub fn http_port(mut self, port: u16) -> Self {
        self.http = Listen::On(port);
        self
    }

    /// No OTLP/HTTP (then gRPC must be on).
    pub fn no_http(mut self) -> Self {
        self.http = Listen::Off;
        self
    }

    /// OTLP/gRPC too, on a free port.
    pub fn grpc(mut self) -> Self {
        self.grpc = Listen::Free;
        self
    }

    /// OTLP/gRPC too, on `port`.
    pub fn grpc_port(mut self, port: u16) -> Self {
        self.grpc = Listen::On(port);
        self
    }

    pub fn grpc_max_recv_msg_size_mib(mut self, mib: u32) -> Self {
        self.grpc_max_recv_msg_size_mib = mib;
        self
    }

    /// TLS with `pki`'s server certificate (issued by `pki.ca`, for 127.0.0.1 and localhost).
    pub fn tls(mut self, pki: &tls::Pki) -> Self {
        self.tls = Some((pki.server_cert.clone(), pki.server_key.clone()));
        self
    }

    /// TLS as [`Self::tls`], and client certificates issued by `pki.ca` required.
    pub fn mtls(self, pki: &tls::Pki) -> Self {
        let mut o = self.tls(pki);
        o.client_ca = Some(pki.ca.clone());
        o
    }
}

/// What the receiver accepted: each record (log record, span, data point)
/// with its resource and scope, as canonical text, sorted.
#[derive(Debug, PartialEq, Eq)]
pub struct Records {
    pub logs: Vec<String>,
    pub spans: Vec<String>,
    pub points: Vec<String>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The receiver's binary (`CODER_TELEMETRY_OTLP_RECEIVER`, or
/// tests/otlp-receiver built as [`go_peer`] builds). Always `Some`.
pub fn receiver_binary() -> Option<PathBuf> {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    Some(
        BUILT
            .get_or_init(|| go_peer("otlp-receiver", "CODER_TELEMETRY_OTLP_RECEIVER"))
            .clone(),
    )
}

/// The binary of tests/otlp-routes (the Collector routes of
/// docs/sending.md; tests/routes.rs), built as [`go_peer`] builds.
pub fn routes_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| go_peer("otlp-routes", "CODER_TELEMETRY_OTLP_ROUTES"))
        .clone()
}

/// The binary of the Go program in tests/NAME: the path in the variable
/// `var`, or tests/NAME/NAME, built with `go build` when missing or older
/// than its source (under a lock: test binaries run at once). Without Go
/// this fails: the tests that need these peers never skip.
fn go_peer(name: &str, var: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(name);
    let bin = dir.join(name);
    let lock = std::fs::File::create(std::env::temp_dir().join(format!("coder-telemetry-{name}.lock")))
        .expect("the Go peer's build lock");
    // SAFETY: flock on a file this process holds open.
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    // Built when missing, or older than its source (a stale peer would
    // lack the flags the tests pass it).
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let newest_source = ["main.go", "go.mod", "go.sum"]
        .iter()
        .filter_map(|f| modified(&dir.join(f)))
        .max();
    if modified(&bin).is_none_or(|b| newest_source.is_some_and(|s| s > b)) {
        let status = Command::new("go")
            .args(["build", "-o", name, "."])
            .current_dir(&dir)
            .status()
            .unwrap_or_else(|e| panic!("cannot run `go build` in {}: {e} (these tests need Go)", dir.display()));
        assert!(status.success(), "`go build` of {} failed", dir.display());
    }
    bin
}

impl Receiver {
    /// Starts the receiver with `max_request_body_size`: plain OTLP/HTTP on a
    /// free port. Always `Some` (the receiver is built on first use).
    pub fn start(max_body: u64) -> Option<Self> {
        Self::on_port(max_body, free_port())
    }

    /// The same, on `port`.
    pub fn on_port(max_body: u64, port: u16) -> Option<Self> {
        Some(Self::with(ReceiverOptions::new(max_body).http_port(port)))
    }

    /// Starts the receiver as `opts` say; panics, with its stderr, when it
    /// does not print "ready" (on a port chosen here that another process
    /// took meanwhile it tries again, with other ports, up to 5 times).
    pub fn with(opts: ReceiverOptions) -> Self {
        let bin = receiver_binary().expect("the receiver's binary");
        let free = [opts.http, opts.grpc].contains(&Listen::Free);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let pick = |l: Listen| match l {
                Listen::Off => 0,
                Listen::Free => free_port(),
                Listen::On(p) => p,
            };
            let (port, grpc_port) = (pick(opts.http), pick(opts.grpc));
            let out = tempfile::tempdir().unwrap();
            let stderr = out.path().join("stderr.txt");
            let mut cmd = Command::new(&bin);
            cmd.args(["-port", &port.to_string(), "-grpc-port", &grpc_port.to_string()])
                .args(["-max-request-body-size", &opts.max_body.to_string()])
                .args([
                    "-grpc-max-recv-msg-size-mib",
                    &opts.grpc_max_recv_msg_size_mib.to_string(),
                ]);
            if let Some((cert, key)) = &opts.tls {
                cmd.arg("-tls-cert").arg(cert).arg("-tls-key").arg(key);
            }
            if let Some(ca) = &opts.client_ca {
                cmd.arg("-client-ca").arg(ca);
            }
            let mut child = cmd
                .arg("-out")
                .arg(out.path())
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(&stderr).unwrap())
                .spawn()
                .unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            if line.trim() == "ready" {
                return Self {
                    child,
                    out,
                    port,
                    grpc_port: (grpc_port != 0).then_some(grpc_port),
                    tls: opts.tls.is_some(),
                };
            }
            let _ = child.wait();
            let err = std::fs::read_to_string(&stderr).unwrap_or_default();
            if free && attempt < 5 && err.contains("address already in use") {
                continue;
            }
            panic!("the receiver did not start ({opts:?}): {}", err.trim());
        }
    }

    fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// The OTLP/HTTP base URL: `http://127.0.0.1:PORT`, or `https://` with TLS.
    pub fn url(&self) -> String {
        assert_ne!(self.port, 0, "the receiver serves no HTTP");
        format!("{}://127.0.0.1:{}", self.scheme(), self.port)
    }

    /// The OTLP/gRPC URL: `http://127.0.0.1:PORT`, or `https://` with TLS.
    pub fn grpc_url(&self) -> String {
        let port = self.grpc_port.expect("the receiver serves no gRPC");
        format!("{}://127.0.0.1:{port}", self.scheme())
    }

    /// Stops it; returns what it accepted and its counts.
    pub fn stop(mut self) -> (Records, Value) {
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
pub fn flatten(logs: &[Vec<u8>], traces: &[Vec<u8>], metrics: &[Vec<u8>]) -> Records {
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
pub fn assert_same(got: &Records, want: &Records, what: &str) {
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
pub fn exported(stores: &[&Path], args: &[&str]) -> Records {
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

/// The machine's own OTLP and proxy variables, which no test may inherit.
fn leaking_vars() -> Vec<String> {
    std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().to_string())
        .filter(|k| {
            ["http_proxy", "https_proxy", "all_proxy", "no_proxy"].contains(&k.to_ascii_lowercase().as_str())
                || k.starts_with("OTEL_EXPORTER_OTLP_")
        })
        .collect()
}

/// `coder-telemetry send STORE --now NOW --range all-time --quiet --summary-json ARGS`.
pub fn send_cmd(store: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut c = bin();
    c.arg("send")
        .arg(store)
        .args(["--now", NOW, "--range", "all-time", "--quiet", "--summary-json"])
        .args(args);
    for k in leaking_vars() {
        c.env_remove(k);
    }
    c
}

/// The same send as a process to start and signal:
/// `send STORE --now NOW --range all-time --quiet ARGS`, output discarded.
pub fn send_process(store: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"));
    c.arg("send")
        .arg(store)
        .args(["--now", NOW, "--range", "all-time", "--quiet"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for k in leaking_vars() {
        c.env_remove(k);
    }
    c
}

/// Sends `store` to the receiver with `--compression` and
/// `--max-request-bytes` as given; asserts success, returns the summary.
pub fn send_ok(store: &Path, rx: &Receiver, compression: &str, max_request_bytes: &str) -> Value {
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
pub fn per_signal(summary: &Value, field: &str) -> [u64; 3] {
    ["logs", "traces", "metrics"].map(|s| summary["delivery"]["signals"][s][field].as_u64().unwrap())
}

pub fn total(summary: &Value, field: &str) -> u64 {
    per_signal(summary, field).iter().sum()
}

/// A proxy in front of the receiver that holds each request `delay`
/// before forwarding it, and forwards nothing for a client that went away
/// meanwhile. A send killed while the proxy holds its request has then
/// certainly not delivered it: the test kills right after an
/// acknowledgement reached the journal, inside that hold.
pub fn slow_proxy(upstream: u16, delay: Duration) -> u16 {
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
pub fn read_http(s: &TcpStream) -> Option<Vec<u8>> {
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

// ---- a scripted server, for what the real receiver will not do on demand ----

/// One scripted response.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// How long the server takes to answer.
    pub delay: Duration,
}

pub fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

/// A request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Answers each request with the next reply of its script (the last one
/// repeats), one connection per request.
pub struct Scripted {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// How a scripted server answers request `i` (from 0), seen as `s`.
pub type Script = Box<dyn Fn(usize, &Seen) -> Reply + Send>;

impl Scripted {
    pub fn start(script: Vec<Reply>) -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    pub fn on(listener: TcpListener, script: Vec<Reply>) -> Self {
        Self::with(
            listener,
            Box::new(move |i, _| script[i.min(script.len() - 1)].clone()),
            usize::MAX,
        )
    }

    /// Answers as `script` says, for at most `limit` connections; then it
    /// closes its port (which another server may then take).
    pub fn with(listener: TcpListener, script: Script, limit: usize) -> Self {
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for (i, conn) in listener.incoming().take(limit).enumerate() {
                let Ok(conn) = conn else { break };
                // Logged before it is answered: a client that has its
                // answer finds its request in `seen()`.
                serve(conn, |s| {
                    log.lock().unwrap().push(s.clone());
                    script(i, s)
                });
            }
        });
        Self { port, seen }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

pub fn serve(conn: TcpStream, answer: impl FnOnce(&Seen) -> Reply) -> Option<Seen> {
    let at = Instant::now();
    let mut reader = BufReader::new(conn.try_clone().ok()?);
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
    let seen = Seen {
        at,
        path,
        headers,
        body,
    };
    let r = answer(&seen);
    std::thread::sleep(r.delay);
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
    Some(seen)
}

/// A store with one log event: one request, to /v1/logs.
pub fn one_log_store() -> Store {
    let s = Store::new();
    s.file(
        "telemetry-2026-11-20-aaaaaaaa.jsonl",
        &[header("a"), row("remote.log", "2026-11-20T10:00:00Z", json!({}))],
    );
    s
}
