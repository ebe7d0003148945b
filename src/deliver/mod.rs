//! Delivery (`send`, SPEC §10): the envelope writers' requests sent to an
//! OTLP endpoint (OTLP/HTTP or gRPC) instead of written to files.
//!
//! Each signal's envelope writer lays its records out as the `split`
//! layout does (requests of at most `--max-request-bytes`), in the body
//! encoding of the signal's protocol ([`Protocol::encoding`]), numbering each
//! record and leaving out those the journal holds; its sink here,
//! [`HttpSink`], hands every finished request, with the records it holds,
//! to a bounded queue that `--concurrency` sender threads ([`Dispatcher`])
//! take from. So at most `concurrency` requests are in flight and one more
//! waits per signal: memory is a few requests, whatever the store.
//!
//! A sender retries 408, 429, 502, 503, 504 and connection errors with
//! exponential backoff and jitter (honouring `Retry-After`, bounded by what
//! is left of `--max-elapsed`), halves a request that got 413 (`split.rs`),
//! counts partial successes, and records the records of every acknowledged
//! request in the journal ([`journal`]). Redirects are never followed, and
//! errors no retry can fix (an unknown host, TLS, any other status) fail
//! the request at once. When no request has been acknowledged for
//! `--max-elapsed`, or the journal cannot be written, the whole send stops
//! and says what was not sent. Header values and URL passwords are never
//! printed, logged or journalled: every message made from the network is
//! scrubbed of them.

mod attempt;
pub mod grpc;
pub mod journal;
pub mod proxy;
mod settings;
mod split;
pub mod tls;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use serde_json::Value;

use bytes::Bytes;

use crate::config::percent_decode;
use crate::encode::protobuf;
use crate::model::Origins;
pub use crate::model::{DeliverySummary, Failure, Signal, SignalStats, Unrecorded};
use crate::write::sink::{EntryEnd, EntrySink};
pub use attempt::redact_url;
use attempt::{bounded_text, tls_words, Attempt, MAX_RESPONSE};
use journal::{Journal, JournalError};
pub use settings::{Compression, Protocol, Settings};

/// Default `--max-request-bytes` for `send` (§10.3).
pub const DEFAULT_SEND_REQUEST_BYTES: usize = 4 << 20;
/// Default `--concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Default `--timeout`, per request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--max-elapsed`.
pub const DEFAULT_MAX_ELAPSED: Duration = Duration::from_secs(300);
/// `--timeout` and `--max-elapsed` (and their variables) take at most this.
pub const MAX_SECONDS: u64 = 86_400;
/// The first retry waits about this long; each next one twice as long.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Retries are never further apart than this (unless `Retry-After` says so).
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Distinct messages of partial successes kept for the summary.
const MAX_WARNINGS: usize = 20;

/// A header name is an HTTP token, at most this long.
const MAX_HEADER_NAME: usize = 256;

/// A header name as it may be shown in a message: bounded, and in quotes
/// when it is not a token.
fn shown_key(key: &str) -> String {
    let k: String = key.chars().take(64).collect();
    let more = if key.chars().count() > 64 { "..." } else { "" };
    format!("{k:?}{more}")
}

/// Parses an OTLP headers list, `k=v,k2=v2`, with percent-encoded values
/// (as `OTEL_EXPORTER_OTLP_HEADERS` is written). A malformed entry is left
/// out and described by its key (never its value), as the OTel SDKs do.
pub fn parse_headers(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let (mut out, mut bad) = (Vec::new(), Vec::new());
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((k, v)) = item.split_once('=') else {
            bad.push(format!("the entry {} has no '=value'", shown_key(item)));
            continue;
        };
        let Some(key) = percent_decode(k.trim()) else {
            bad.push(format!(
                "the name {} is not valid percent-encoding",
                shown_key(k.trim())
            ));
            continue;
        };
        let Some(value) = percent_decode(v.trim()) else {
            bad.push(format!(
                "the value of {} is not valid percent-encoding",
                shown_key(&key)
            ));
            continue;
        };
        match check_header(&key, &value) {
            Ok(()) => out.push((key, value)),
            Err(e) => bad.push(e),
        }
    }
    (out, bad)
}

/// Parses one `--header`: `Name=value`, or curl's `Name: value`. The error
/// names the key, never the value.
pub fn parse_header_flag(text: &str) -> Result<(String, String), String> {
    let colon = text.find(':');
    let equals = text.find('=');
    let (k, v) = match (colon, equals) {
        (Some(c), e) if e.is_none_or(|e| c < e) => (&text[..c], &text[c + 1..]),
        (_, Some(e)) => (&text[..e], &text[e + 1..]),
        _ => {
            return Err(format!(
                "{} is not Name=value or 'Name: value'",
                shown_key(text.split_whitespace().next().unwrap_or(""))
            ))
        }
    };
    let (k, v) = (k.trim(), v.trim());
    check_header(k, v)?;
    Ok((k.to_string(), v.to_string()))
}

/// A header name must be an HTTP token; a value must not hold control
/// characters (it would end the header). Errors never echo a value.
pub fn check_header(key: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if key.is_empty() || key.len() > MAX_HEADER_NAME || !key.chars().all(token) {
        return Err(format!("{} is not a valid header name", shown_key(key)));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("the value of {key} holds a control character"));
    }
    Ok(())
}

/// Why a send could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("cannot start the sender threads: {0}")]
    Threads(io::Error),
    #[error("{0}")]
    Setup(String),
}

impl SendError {
    /// The send was refused before anything was sent (exit 2).
    pub fn is_refusal(&self) -> bool {
        matches!(self, SendError::Journal(j) if j.is_refusal())
    }
}

/// One request waiting for a sender.
struct Job {
    signal: usize,
    body: Vec<u8>,
    origins: Origins,
    /// What it counts against [`IN_FLIGHT_BYTES`] until a sender is done with it.
    held: usize,
}

/// Memory that requests handed to the senders may take at once: their
/// bodies and what sending them costs besides (a compressed copy, gRPC's
/// framed copy). At least one request is always let through, whatever its
/// size. With the default 4 MiB requests, three go at once over HTTP and
/// one over gRPC (small ones beside them up to `--concurrency`).
pub const IN_FLIGHT_BYTES: usize = 12 << 20;

/// Bytes held by requests in flight, and the writers waiting for room.
#[derive(Default)]
struct InFlight {
    used: Mutex<usize>,
    freed: std::sync::Condvar,
}

impl InFlight {
    /// Waits until `n` more bytes fit (or nothing is in flight), then takes them.
    fn acquire(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used > 0 && *used + n > IN_FLIGHT_BYTES {
            used = self.freed.wait(used).unwrap_or_else(PoisonError::into_inner);
        }
        *used += n;
    }

    fn release(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }
}

/// Gives a request's bytes back when its sender is done with it, even if
/// the sender panics.
struct Held<'a>(&'a InFlight, usize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}

/// A signal's sink: collects each request and queues it for the senders.
pub struct HttpSink {
    signal: usize,
    /// The request cap: a body is allocated at it once, not grown by doubling.
    cap: usize,
    body: Vec<u8>,
    jobs: Sender<Job>,
    /// Bodies the senders are done with, to be filled again.
    free: Receiver<Vec<u8>>,
    in_flight: Arc<InFlight>,
    /// What a body costs in flight, in percent of its size.
    weight: usize,
}

impl EntrySink for HttpSink {
    fn start(&mut self, _name: &str) -> io::Result<()> {
        self.body = self.free.try_recv().unwrap_or_else(|_| Vec::with_capacity(self.cap));
        self.body.clear();
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.body.extend_from_slice(bytes);
        Ok(())
    }

    /// A whole request (protobuf): taken, not copied; the writer gets the
    /// emptied body to fill next.
    fn write_owned(&mut self, bytes: &mut Vec<u8>) -> io::Result<()> {
        if self.body.is_empty() {
            std::mem::swap(&mut self.body, bytes);
            return Ok(());
        }
        self.body.extend_from_slice(bytes);
        bytes.clear();
        Ok(())
    }

    fn end(&mut self, end: EntryEnd) -> io::Result<()> {
        let body = std::mem::take(&mut self.body);
        if end.records == 0 {
            return Ok(());
        }
        if end.origins.len() != end.records {
            return Err(io::Error::other("a request's records were not all numbered"));
        }
        // Back-pressure by memory: the writer waits here for room.
        let held = body.len().saturating_mul(self.weight) / 100;
        self.in_flight.acquire(held);
        let job = Job {
            signal: self.signal,
            body,
            origins: end.origins,
            held,
        };
        self.jobs.send(job).map_err(|_| {
            self.in_flight.release(held);
            io::Error::other("the senders stopped")
        })
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

/// How a send tells the person running it how it goes.
#[derive(Clone, Copy)]
pub struct SendHooks<'a> {
    /// Told the counts after each change.
    pub progress: &'a (dyn Fn(&[SignalStats; 3]) + Sync),
    /// Told the first failure of the run, at once (§10.4).
    pub first_failure: &'a (dyn Fn(&Failure) + Sync),
}

/// What the senders share.
struct Shared<'a> {
    settings: &'a Settings,
    /// One HTTP client per signal (each may have its own TLS material).
    agents: [ureq::Agent; 3],
    /// The gRPC clients, when a signal speaks gRPC.
    grpc: Option<grpc::Grpc>,
    /// Stops the whole send (the engine and the senders).
    cancel: &'a AtomicBool,
    journal: Mutex<Journal>,
    summary: Mutex<DeliverySummary>,
    hooks: SendHooks<'a>,
    /// Header values and URL passwords, longest first.
    secrets: Vec<String>,
    /// When a request was last acknowledged (or the send started).
    last_ack: Mutex<Instant>,
}

/// The sender threads of one send, in a thread scope.
///
/// Request bodies go round: a sink fills one, a sender sends it and hands
/// it back emptied. Without that, every 4 MiB body would be allocated on a
/// writer thread and freed on a sender thread, and glibc's per-thread
/// arenas would keep the holes (peak RSS 136 MiB on a 200 MiB store,
/// against 100 with recycling).
pub struct Dispatcher {
    jobs: Sender<Job>,
    rx: Receiver<Job>,
    free: (Sender<Vec<u8>>, Receiver<Vec<u8>>),
    /// The request cap (`--max-request-bytes`).
    cap: usize,
    in_flight: Arc<InFlight>,
    /// Per signal, what a body costs in flight, in percent of its size.
    weights: [usize; 3],
}

impl Dispatcher {
    /// Senders of requests of at most `cap` bytes (but for a record
    /// larger alone).
    pub fn new(settings: &Settings, cap: usize) -> Self {
        // A request is handed over only when a sender takes it: the writers
        // block behind busy senders (back-pressure, not memory: a waiting
        // 4 MiB request was a sixth of a send's own memory).
        let (jobs, rx) = bounded(0);
        // Every body that can exist at once: one per sink, one per sender
        // (at most 64).
        let weights = std::array::from_fn(|i| match (settings.protocols[i], settings.compressions[i]) {
            // tonic frames (and compresses) a copy of the message.
            (Protocol::Grpc, _) => 200,
            (_, Compression::None) => 100,
            _ => 125,
        });
        Self {
            jobs,
            rx,
            free: bounded(3 + 64),
            cap,
            in_flight: Arc::default(),
            weights,
        }
    }

    /// The sink for signal `i` (0 logs, 1 traces, 2 metrics).
    pub fn sink(&self, signal: usize) -> HttpSink {
        HttpSink {
            signal,
            cap: self.cap,
            body: Vec::new(),
            jobs: self.jobs.clone(),
            free: self.free.1.clone(),
            in_flight: Arc::clone(&self.in_flight),
            weight: self.weights[signal],
        }
    }

    /// Runs the senders in `scope` until the dispatcher and every sink it
    /// made are dropped; the returned closure joins them and gives the
    /// summary.
    #[allow(clippy::type_complexity)]
    pub fn run<'s, 'e: 's>(
        &self,
        scope: &'s std::thread::Scope<'s, 'e>,
        settings: &'e Settings,
        cancel: &'e AtomicBool,
        journal: Journal,
        hooks: SendHooks<'e>,
    ) -> Result<Box<dyn FnOnce() -> DeliverySummary + 's>, SendError> {
        let mut proxies: [Option<ureq::Proxy>; 3] = Default::default();
        for (i, p) in settings.proxies.iter().enumerate() {
            if let Some(p) = p {
                let proxy = ureq::Proxy::new(p).map_err(|e| {
                    SendError::Setup(format!(
                        "the proxy {} for {}: {e}",
                        redact_url(p),
                        Signal::ALL[i].name()
                    ))
                })?;
                proxies[i] = Some(proxy);
            }
        }
        let agent = |i: usize| -> ureq::Agent {
            ureq::Agent::config_builder()
                // Chosen as curl does (proxy.rs), never from the client's own reading.
                .proxy(proxies[i].clone())
                .http_status_as_error(false)
                // A redirect is answered, never followed (§10.4).
                .max_redirects(0)
                .timeout_global(Some(settings.timeout))
                .user_agent(concat!("coder-telemetry/", env!("CARGO_PKG_VERSION")))
                .tls_config(settings.tls[i].ureq_config())
                .build()
                .into()
        };
        let agents = [agent(0), agent(1), agent(2)];
        let use_grpc = settings.protocols.map(|p| p == Protocol::Grpc);
        let grpc = match use_grpc.contains(&true) && !settings.dry_run {
            true => Some(
                grpc::Grpc::new(
                    &settings.endpoints,
                    &settings.tls,
                    &settings.proxies,
                    use_grpc,
                    settings.timeout,
                )
                .map_err(SendError::Setup)?,
            ),
            false => None,
        };
        let summary = DeliverySummary {
            dry_run: settings.dry_run,
            protocol: settings.protocol_names(),
            endpoints: shown_endpoints(&settings.endpoints),
            journal_damaged: journal.damaged,
            ..Default::default()
        };
        let shared = Arc::new(Shared {
            settings,
            agents,
            grpc,
            cancel,
            journal: Mutex::new(journal),
            summary: Mutex::new(summary),
            hooks,
            secrets: settings.secrets(),
            last_ack: Mutex::new(Instant::now()),
        });
        let (rx, recycle, self_cap, in_flight) = (&self.rx, &self.free.0, self.cap, &self.in_flight);
        let handles: Vec<_> = (0..settings.concurrency.max(1))
            .map(|i| {
                let rx = rx.clone();
                let shared = Arc::clone(&shared);
                let recycle = recycle.clone();
                let cap = self_cap;
                let in_flight = Arc::clone(in_flight);
                std::thread::Builder::new()
                    .name(format!("ct-send-{i}"))
                    .spawn_scoped(scope, move || {
                        for job in rx {
                            let _held = Held(&in_flight, job.held);
                            let body = Bytes::from(job.body);
                            shared.deliver(job.signal, &body, job.origins, None);
                            // Back to the sinks once no attempt holds it; a body
                            // grown past twice the cap (a record larger than a
                            // request) goes back to the allocator.
                            if let Ok(b) = body.try_into_mut() {
                                let mut body = Vec::from(b);
                                if body.capacity() <= 2 * cap {
                                    body.clear();
                                    let _ = recycle.try_send(body);
                                }
                            }
                        }
                    })
            })
            .collect::<Result<_, _>>()
            .map_err(SendError::Threads)?;
        Ok(Box::new(move || {
            for h in handles {
                let _ = h.join();
            }
            let mut summary = shared.summary.lock().unwrap_or_else(PoisonError::into_inner).clone();
            // Every rejection is reported, with or without a message.
            for (name, s) in Signal::ALL.map(Signal::name).iter().zip(&summary.signals) {
                if s.rejected > 0 {
                    let n = s.rejected;
                    summary.warnings.push(format!(
                        "{name}: {n} records were rejected by the endpoint (partial success)"
                    ));
                }
            }
            summary
        }))
    }
}

/// The endpoints as they may be shown: without passwords, and as their
/// common base URL when all three are the base's `/v1/{signal}`.
fn shown_endpoints(endpoints: &[String; 3]) -> Vec<String> {
    if endpoints.iter().all(|e| e.is_empty()) {
        // A dry run needs no endpoint.
        return vec!["(no endpoint given)".to_string()];
    }
    if endpoints.iter().all(|e| *e == endpoints[0]) {
        return vec![redact_url(&endpoints[0])];
    }
    let base = endpoints[0].strip_suffix("/v1/logs");
    match base {
        Some(b) if endpoints[1] == format!("{b}/v1/traces") && endpoints[2] == format!("{b}/v1/metrics") => {
            vec![redact_url(b)]
        }
        _ => endpoints.iter().map(|e| redact_url(e)).collect(),
    }
}

/// `Retry-After`: seconds, or an HTTP date (a date in the past is now).
/// Any number is taken: the caller compares it with the time left.
fn retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is "longer than anything".
        return Some(v.parse::<u64>().map_or(Duration::MAX, Duration::from_secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = at
        .timestamp_millis()
        .saturating_sub(chrono::Utc::now().timestamp_millis())
        .max(0);
    Some(Duration::from_millis(ms as u64))
}

/// The wait before retry `n` (0 = the first): exponential from 1 s, at
/// most 30 s, with full jitter over its upper half.
fn backoff(n: u32) -> Duration {
    let base = FIRST_BACKOFF.saturating_mul(1u32 << n.min(5)).min(MAX_BACKOFF);
    base.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// The message of an error response: OTLP's `Status.message` (protobuf
/// when the response says so, else JSON), or the text.
fn message_of(body: &[u8], proto: bool) -> String {
    let from_proto = proto.then(|| protobuf::status_message(body)).flatten();
    let msg = from_proto
        .or_else(|| {
            serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    bounded_text(&msg)
}

/// `partialSuccess` of a 2xx body: rejected records and the message.
fn partial_success(signal: &str, body: &[u8]) -> (u64, Option<String>) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (0, None);
    };
    let Some(p) = v.get("partialSuccess") else {
        return (0, None);
    };
    let key = match signal {
        "logs" => "rejectedLogRecords",
        "traces" => "rejectedSpans",
        _ => "rejectedDataPoints",
    };
    // int64 fields are strings in OTLP/JSON, numbers from some encoders.
    let rejected = p
        .get(key)
        .and_then(|r| r.as_u64().or_else(|| r.as_str().and_then(|s| s.parse().ok())))
        .unwrap_or(0);
    let message = p
        .get("errorMessage")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(bounded_text);
    (rejected, message)
}

/// How a request that got no response ended: retried or failed at once.
fn classify(e: &ureq::Error, url: &str) -> Attempt {
    use io::ErrorKind as K;
    let retry = |why: String| Attempt::Retry {
        wait: None,
        why,
        status: None,
    };
    let fail = |message: String| Attempt::Fatal { status: None, message };
    match e {
        ureq::Error::Timeout(_) => retry("no response within --timeout".to_string()),
        ureq::Error::ConnectionFailed | ureq::Error::BodyStalled => retry(format!("cannot reach {url}: {e}")),
        ureq::Error::HostNotFound => fail("the host name was not found (check --endpoint)".to_string()),
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused => retry(format!("connection refused by {url}")),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof | K::NotConnected => {
                retry(format!("the connection to {url} was dropped"))
            }
            K::TimedOut | K::WouldBlock | K::Interrupted => retry("no response within --timeout".to_string()),
            // rustls reports a failed handshake as invalid data.
            K::InvalidData => fail(tls_words(&io.to_string())),
            _ => retry(format!("cannot reach {url}: {}", bounded_text(&io.to_string()))),
        },
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => fail(tls_words(&e.to_string())),
        ureq::Error::Other(_) => {
            let text = e.to_string();
            if text.contains("certificate") || text.contains("Certificate") || text.contains("Ca") {
                fail(tls_words(&text))
            } else {
                fail(bounded_text(&text))
            }
        }
        _ => Attempt::Failed {
            status: None,
            message: bounded_text(&e.to_string()),
        },
    }
}

impl Shared<'_> {
    /// `text` without any secret.
    fn scrub(&self, text: String) -> String {
        let mut t = text;
        for s in &self.secrets {
            if t.contains(s.as_str()) {
                t = t.replace(s.as_str(), "***");
            }
        }
        t
    }

    fn update(&self, signal: usize, f: impl FnOnce(&mut SignalStats, &mut DeliverySummary)) {
        let mut s = self.summary.lock().unwrap_or_else(PoisonError::into_inner);
        let mut st = s.signals[signal];
        f(&mut st, &mut s);
        s.signals[signal] = st;
        (self.hooks.progress)(&s.signals);
    }

    fn fail(&self, signal: usize, status: Option<u16>, records: u64, message: String) {
        let message = self.scrub(message);
        let url = redact_url(&self.settings.endpoints[signal]);
        let grpc = self.settings.protocols[signal] == Protocol::Grpc;
        self.update(signal, |st, s| {
            st.failed_requests += 1;
            st.failed_records += records;
            let f = Failure {
                signal: Signal::ALL[signal].name(),
                url,
                status,
                grpc,
                records,
                message,
            };
            if s.failures.is_empty() {
                // The first failure is shown at once, in words (§10.4).
                (self.hooks.first_failure)(&f);
            }
            s.failures.push(f);
        });
    }

    /// A request that was not sent because the send is stopping.
    fn unsent(&self, signal: usize, records: u64) {
        self.update(signal, |st, _| {
            st.unsent_requests += 1;
            st.unsent_records += records;
        });
    }

    /// Stops the whole send: the engine reads no more, queued requests are not sent.
    fn halt(&self, why: String) {
        self.summary
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stopped
            .get_or_insert(why);
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// Records an acknowledged request. When the journal cannot be written,
    /// the send stops at once, and every acknowledgement it could not
    /// record is counted (a resume sends those records again).
    fn remember(&self, signal: usize, origins: &Origins) {
        let result = self
            .journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(signal, origins);
        if let Err(e) = result {
            let error = e.to_string();
            {
                let mut s = self.summary.lock().unwrap_or_else(PoisonError::into_inner);
                let u = s.unrecorded.get_or_insert_with(|| Unrecorded {
                    error,
                    ..Unrecorded::default()
                });
                u.requests += 1;
                u.records += origins.len();
            }
            self.halt("the journal could not be written".to_string());
        }
    }

    /// When the send gives up for want of progress: `--max-elapsed` after
    /// the last acknowledgement.
    fn stall_deadline(&self) -> Instant {
        let last = *self.last_ack.lock().unwrap_or_else(PoisonError::into_inner);
        last.checked_add(self.settings.max_elapsed).unwrap_or(last)
    }

    /// Delivers one request (or, after a 413, its halves) holding the
    /// records `origins`. Returns whether all of it was delivered.
    fn deliver(&self, signal: usize, body: &Bytes, origins: Origins, deadline: Option<Instant>) -> bool {
        let records = origins.len();
        if self.cancel.load(Ordering::Relaxed) {
            self.unsent(signal, records);
            return false;
        }
        // The body is in the protocol's encoding already (the workers wrote it so).
        let mut compressed = Vec::new();
        let protocol = self.settings.protocols[signal];
        let plain: &[u8] = body;
        // gRPC compresses its messages itself (grpc-encoding).
        let compression = match protocol {
            Protocol::Grpc => Compression::None,
            _ => self.settings.compressions[signal],
        };
        // Shared, not copied, by every attempt (gRPC's request owns it).
        let payload: Bytes = match compression.apply(plain, &mut compressed) {
            Ok(true) => Bytes::from(std::mem::take(&mut compressed)),
            Ok(false) => body.clone(),
            Err(e) => {
                self.fail(signal, None, records, format!("compressing the request failed: {e}"));
                return false;
            }
        };
        if self.settings.dry_run {
            self.update(signal, |st, _| {
                st.requests += 1;
                st.records += records;
                st.bytes += plain.len() as u64;
                st.wire_bytes += payload.len() as u64;
            });
            return true;
        }
        let now = Instant::now();
        let deadline = deadline.unwrap_or_else(|| now.checked_add(self.settings.max_elapsed).unwrap_or(now));
        let mut retries = 0u32;
        loop {
            if self.cancel.load(Ordering::Relaxed) {
                self.unsent(signal, records);
                return false;
            }
            let stall = self.stall_deadline();
            let give_up = deadline.min(stall);
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.give_up(
                    signal,
                    records,
                    stall <= deadline,
                    "no time left".to_string(),
                    None,
                    retries,
                );
                return false;
            }
            match self.attempt(signal, &payload, self.settings.timeout.min(left)) {
                Attempt::Delivered { rejected, message } => {
                    *self.last_ack.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
                    self.update(signal, |st, s| {
                        st.requests += 1;
                        st.records += records.saturating_sub(rejected);
                        st.rejected += rejected.min(records);
                        st.bytes += plain.len() as u64;
                        st.wire_bytes += payload.len() as u64;
                        if let Some(m) = message {
                            let w = format!("{}: {rejected} records rejected: {m}", Signal::ALL[signal].name());
                            if s.warnings.len() < MAX_WARNINGS && !s.warnings.contains(&w) {
                                s.warnings.push(w);
                            }
                        }
                    });
                    self.remember(signal, &origins);
                    return true;
                }
                Attempt::TooLarge(message) => {
                    let halves = split::halve(Signal::ALL[signal].name(), protocol.encoding(), body)
                        .filter(|[a, b]| a.1 + b.1 == records);
                    let Some([(a, na), (b, _)]) = halves else {
                        self.fail(
                            signal,
                            Some(413),
                            records,
                            format!("{message} (a request of one record cannot be split further)"),
                        );
                        return false;
                    };
                    drop(compressed);
                    let (oa, ob) = origins.split_at(na);
                    let first = self.deliver(signal, &Bytes::from(a), oa, Some(deadline));
                    let second = self.deliver(signal, &Bytes::from(b), ob, Some(deadline));
                    return first && second;
                }
                Attempt::Failed { status, message } => {
                    self.fail(signal, status, records, message);
                    return false;
                }
                Attempt::Fatal { status, message } => {
                    self.halt(format!("{}: {message}", redact_url(&self.settings.endpoints[signal])));
                    self.fail(signal, status, records, message);
                    return false;
                }
                Attempt::Retry { wait, why, status } => {
                    let wait = wait.unwrap_or_else(|| backoff(retries));
                    let until = Instant::now().checked_add(wait).filter(|u| *u <= give_up);
                    let Some(until) = until else {
                        self.give_up(signal, records, stall <= deadline, why, status, retries);
                        return false;
                    };
                    retries += 1;
                    self.update(signal, |st, _| st.retried += 1);
                    while Instant::now() < until && !self.cancel.load(Ordering::Relaxed) {
                        std::thread::sleep(
                            Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())),
                        );
                    }
                }
            }
        }
    }

    /// A request that ran out of time; when the whole send made no progress
    /// for `--max-elapsed`, the send stops.
    fn give_up(&self, signal: usize, records: u64, stalled: bool, why: String, status: Option<u16>, retries: u32) {
        let secs = self.settings.max_elapsed.as_secs_f64();
        self.fail(
            signal,
            status,
            records,
            format!("{why}; gave up after {retries} retries (--max-elapsed {secs} s)"),
        );
        if stalled {
            self.halt(format!(
                "no request was acknowledged for {secs} s (--max-elapsed): the endpoint is not taking data"
            ));
        }
    }

    fn attempt(&self, signal: usize, payload: &Bytes, timeout: Duration) -> Attempt {
        if let (Protocol::Grpc, Some(g)) = (self.settings.protocols[signal], &self.grpc) {
            let compression = self.settings.compressions[signal];
            return g.export(
                signal,
                payload.clone(),
                compression,
                &self.settings.headers[signal],
                timeout,
            );
        }
        let url = &self.settings.endpoints[signal];
        let shown = redact_url(url);
        let mut req = self.agents[signal]
            .post(url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Content-Type", self.settings.protocols[signal].content_type());
        let compression = self.settings.compressions[signal];
        if compression != Compression::None {
            req = req.header("Content-Encoding", compression.name());
        }
        for (k, v) in &self.settings.headers[signal] {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = match req.send(&payload[..]) {
            Ok(r) => r,
            Err(e) => return classify(&e, &shown),
        };
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let wait = header("retry-after").as_deref().and_then(retry_after);
        let location = header("location");
        let proto = header("content-type").is_some_and(|t| t.contains("protobuf"));
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .unwrap_or_default();
        match status {
            200..=299 => {
                let (rejected, message) = if proto {
                    let (r, m) = protobuf::partial_success(&body).unwrap_or((0, None));
                    (r, m.map(|m| bounded_text(&m)))
                } else {
                    partial_success(Signal::ALL[signal].name(), &body)
                };
                Attempt::Delivered { rejected, message }
            }
            300..=399 => Attempt::Failed {
                status: Some(status),
                message: format!(
                    "the endpoint redirects to {} (redirects are not followed: set --endpoint to where it moved)",
                    location.map_or_else(|| "(no Location)".to_string(), |l| redact_url(&bounded_text(&l)))
                ),
            },
            413 => Attempt::TooLarge(format!("413: {}", message_of(&body, proto))),
            // The Collector's OTLP/HTTP receiver (v0.165) answers a body over
            // its max_request_body_size with 400 and Go's MaxBytesReader
            // message, not 413: the same remedy applies.
            400 if message_of(&body, proto).contains("request body too large") => {
                Attempt::TooLarge(format!("400: {}", message_of(&body, proto)))
            }
            408 | 429 | 502 | 503 | 504 => Attempt::Retry {
                wait,
                why: format!("{status}: {}", message_of(&body, proto)),
                status: Some(status),
            },
            _ => Attempt::Failed {
                status: Some(status),
                message: message_of(&body, proto),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_of_one_base_are_shown_once() {
        let e = ["http://h/v1/logs", "http://h/v1/traces", "http://h/v1/metrics"].map(String::from);
        assert_eq!(shown_endpoints(&e), vec!["http://h"]);
    }

    #[test]
    fn headers_are_percent_decoded_pairs() {
        let (h, bad) = parse_headers("x-honeycomb-team=abc%3D%3D, Authorization=Basic%20dXNlcjpwYXNz");
        assert_eq!(
            h,
            vec![
                ("x-honeycomb-team".to_string(), "abc==".to_string()),
                ("Authorization".to_string(), "Basic dXNlcjpwYXNz".to_string())
            ]
        );
        assert!(bad.is_empty());
    }

    #[test]
    fn a_malformed_headers_entry_is_skipped_by_its_key_and_the_valid_ones_kept() {
        let (h, bad) = parse_headers("x-honeycomb-team=SECRET,x-honeycomb-dataset,bad name=SECRET2,k=SECRET3%0Ax");
        assert_eq!(h, vec![("x-honeycomb-team".to_string(), "SECRET".to_string())]);
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad[0].contains("x-honeycomb-dataset"), "{bad:?}");
        assert!(bad.iter().all(|b| !b.contains("SECRET")), "{bad:?}");
    }

    #[test]
    fn a_header_flag_takes_name_equals_value_or_curls_name_colon_value() {
        assert_eq!(
            parse_header_flag("Authorization: Basic dXNlcjpTRUNSRVQ=").unwrap(),
            ("Authorization".to_string(), "Basic dXNlcjpTRUNSRVQ=".to_string())
        );
        assert_eq!(
            parse_header_flag("x-api-key=a:b").unwrap(),
            ("x-api-key".to_string(), "a:b".to_string())
        );
        let e = parse_header_flag("bad name: SECRET").unwrap_err();
        assert!(!e.contains("SECRET") && e.contains("bad name"), "{e}");
        let e = parse_header_flag("SECRETONLY").unwrap_err();
        assert!(e.contains("Name=value"), "{e}");
    }

    #[test]
    fn retry_after_takes_any_number_of_seconds_or_a_date_without_overflow() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("18446744073709551615"), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(retry_after("99999999999999999999999"), Some(Duration::MAX));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(retry_after("-5"), None);
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn backoff_doubles_from_about_one_second_and_stays_under_thirty() {
        // Literal bounds: [0.5 s, 1 s] for the first retry, [2, 4] for the
        // third, [15, 30] for the sixth on (32 s capped at 30). The jitter
        // is random, so each bound is checked over many draws: one draw per
        // retry let a cap of 60 s (sixth on: [16, 32]) pass more often than
        // not, since only a draw over 30 s shows it.
        const DRAWS: usize = 2000;
        let draws = |n: u32| (0..DRAWS).map(move |_| backoff(n));
        for (n, low, high) in [(0, 500, 1000), (2, 2000, 4000)] {
            for b in draws(n) {
                assert!(
                    b >= Duration::from_millis(low) && b <= Duration::from_millis(high),
                    "{n}: {b:?}"
                );
            }
        }
        for n in [5, 6, 20, u32::MAX] {
            let most = draws(n).max().unwrap();
            for b in draws(n) {
                assert!(
                    b >= Duration::from_secs(15) && b <= Duration::from_secs(30),
                    "{n}: {b:?}"
                );
            }
            // The cap is reached, not a lower one: some draw is near 30 s.
            assert!(most > Duration::from_secs(29), "{n}: at most {most:?}");
        }
    }

    #[test]
    fn partial_success_counts_strings_and_numbers() {
        let b = br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}"#;
        assert_eq!(partial_success("logs", b), (2, Some("too old".to_string())));
        let b = br#"{"partialSuccess":{"rejectedDataPoints":5}}"#;
        assert_eq!(partial_success("metrics", b), (5, None));
        assert_eq!(partial_success("traces", b"{}"), (0, None));
    }

    #[test]
    fn tls_failures_are_named_in_words() {
        assert_eq!(
            tls_words("Other(OtherError(CaUsedAsEndEntity))"),
            "TLS: the server presented a CA certificate as its own"
        );
        assert!(tls_words("invalid peer certificate: UnknownIssuer").contains("trusted CA"));
    }
}
