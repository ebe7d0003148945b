//! Delivery (`send`, SPEC §10): the layers a request goes through from an
//! envelope writer to an OTLP receiver, as the Collector's exporterhelper
//! layers an exporter:
//!
//! ```text
//! RequestQueue (one per signal)  a finished request, its records numbered; waits
//!                                for room in IN_FLIGHT_BYTES (back-pressure)
//! Dispatcher: --concurrency sender threads
//!   journal (journal.rs)         records of acknowledged requests, never sent again
//!   retry                        408, 429, 502-504, connection errors: backoff with
//!                                jitter, Retry-After, within --max-elapsed
//!   split (split.rs)             a 413 halves the request in its own encoding
//!   compress (settings.rs)       gzip or zstd (gRPC compresses its own messages)
//!   transport                    OTLP/HTTP (http.rs, ureq) or OTLP/gRPC (grpc.rs, tonic)
//! ```
//!
//! The body encoding (OTLP/JSON or OTLP/protobuf) is the workers' own
//! ([`Protocol::encoding`]): a request arrives here encoded. An attempt
//! ends as an `Attempt` (attempt.rs); errors no retry can fix (an unknown
//! host, TLS, a status other than the retried ones) fail the request at
//! once and stop the send. When no request has been acknowledged for
//! `--max-elapsed`, or the journal cannot be written, the send stops and
//! says what was not sent. Header values and URL passwords are never
//! printed, logged or journalled: every message made from the network is
//! scrubbed of them.

mod attempt;
pub mod grpc;
mod http;
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

use bytes::Bytes;

use crate::config::percent_decode;
use crate::model::Origins;
pub use crate::model::{DeliverySummary, Failure, Signal, SignalStats, Unrecorded};
use crate::write::sink::{EntryEnd, EntrySink};
pub use attempt::redact_url;
use attempt::Attempt;
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
    for (n, item) in text.split(',').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
        let (k, v) = match item.split_once('=') {
            Some((k, v)) if !k.contains(':') => (k, v),
            // Without '=' nothing tells the name from the value, and in
            // `Name: value=...` the part before '=' holds a value: only a
            // curl-style `Name:` is named, never what follows it.
            split => {
                let (part, what) = match split {
                    None => (item, "has no '=value'"),
                    Some((k, _)) => (k, "is not Name=value"),
                };
                bad.push(match curl_name(part) {
                    Some(name) => format!(
                        "entry {} ({name}: ...) {what}; the variable takes Name=value pairs",
                        n + 1
                    ),
                    None => format!("entry {} {what}", n + 1),
                });
                continue;
            }
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

/// The name of a curl-style `Name: value` entry, when what comes before
/// the colon is a header name; never any of what follows it.
fn curl_name(entry: &str) -> Option<&str> {
    let (name, _) = entry.split_once(':')?;
    let name = name.trim();
    check_header(name, "").is_ok().then_some(name)
}

/// Parses one `--header`: `Name=value`, or curl's `Name: value`. The error
/// names the key, never the value.
pub fn parse_header_flag(text: &str) -> Result<(String, String), String> {
    let colon = text.find(':');
    let equals = text.find('=');
    let (k, v) = match (colon, equals) {
        (Some(c), e) if e.is_none_or(|e| c < e) => (&text[..c], &text[c + 1..]),
        (_, Some(e)) => (&text[..e], &text[e + 1..]),
        // Nothing tells the name from the value: show neither.
        _ => return Err("expected Name=value or 'Name: value'".to_string()),
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

/// A signal's request queue (its envelope writer's entry sink): collects
/// each request and queues it for the senders.
pub struct RequestQueue {
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

impl EntrySink for RequestQueue {
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
    /// The HTTP clients, one per signal (each may have its own TLS material).
    http: http::Http,
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

    /// The request queue of `signal` (its index in [`Signal::ALL`]).
    pub fn queue(&self, signal: usize) -> RequestQueue {
        RequestQueue {
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
        let http = http::Http::new(settings).map_err(SendError::Setup)?;
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
            grpc_compresses: (0..3)
                .any(|i| settings.protocols[i] == Protocol::Grpc && settings.compressions[i] != Compression::None),
            endpoints: shown_endpoints(&settings.endpoints),
            journal_damaged: journal.damaged,
            ..Default::default()
        };
        let shared = Arc::new(Shared {
            settings,
            http,
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
                    .spawn_scoped(scope, move || serve(&rx, &shared, &recycle, cap, &in_flight))
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

/// A sender thread: delivers the requests it takes until the queue closes,
/// and hands each body back to the sinks once no attempt holds it.
fn serve(rx: &Receiver<Job>, shared: &Shared<'_>, recycle: &Sender<Vec<u8>>, cap: usize, in_flight: &InFlight) {
    for job in rx {
        let _held = Held(in_flight, job.held);
        let body = Bytes::from(job.body);
        shared.deliver(job.signal, &body, job.origins, None);
        // A body grown past twice the cap (a record larger than a request)
        // goes back to the allocator.
        if let Ok(b) = body.try_into_mut() {
            let mut body = Vec::from(b);
            if body.capacity() <= 2 * cap {
                body.clear();
                let _ = recycle.try_send(body);
            }
        }
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

/// The wait before retry `n` (0 = the first): exponential from 1 s, at
/// most 30 s, with full jitter over its upper half.
fn backoff(n: u32) -> Duration {
    let base = FIRST_BACKOFF.saturating_mul(1u32 << n.min(5)).min(MAX_BACKOFF);
    base.mul_f64(0.5 + fastrand::f64() * 0.5)
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
        let Some(payload) = self.compressed(signal, body, records) else {
            return false;
        };
        let sizes = (body.len() as u64, payload.len() as u64);
        if self.settings.dry_run {
            self.acknowledged(signal, &origins, 0, None, sizes);
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
                let why = "no time left".to_string();
                self.give_up(signal, records, stall <= deadline, why, None, retries);
                return false;
            }
            match self.attempt(signal, &payload, self.settings.timeout.min(left)) {
                Attempt::Delivered { rejected, message } => {
                    *self.last_ack.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
                    self.acknowledged(signal, &origins, rejected, message, sizes);
                    return true;
                }
                Attempt::TooLarge(message) => {
                    drop(payload);
                    return self.halved(signal, body, origins, message, deadline);
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

    /// The body as sent: compressed as the signal's settings say (gRPC
    /// compresses its messages itself), or shared as it is. `None` when
    /// compressing failed (the request is counted failed).
    fn compressed(&self, signal: usize, body: &Bytes, records: u64) -> Option<Bytes> {
        let compression = match self.settings.protocols[signal] {
            Protocol::Grpc => Compression::None,
            _ => self.settings.compressions[signal],
        };
        let mut out = Vec::new();
        // Shared, not copied, by every attempt (gRPC's request owns it).
        match compression.apply(body, &mut out) {
            Ok(true) => Some(Bytes::from(out)),
            Ok(false) => Some(body.clone()),
            Err(e) => {
                self.fail(signal, None, records, format!("compressing the request failed: {e}"));
                None
            }
        }
    }

    /// Counts an acknowledged request (`sizes`: its body before and after
    /// compression) and journals its records.
    fn acknowledged(
        &self,
        signal: usize,
        origins: &Origins,
        rejected: u64,
        message: Option<String>,
        sizes: (u64, u64),
    ) {
        let records = origins.len();
        self.update(signal, |st, s| {
            st.requests += 1;
            st.records += records.saturating_sub(rejected);
            st.rejected += rejected.min(records);
            st.bytes += sizes.0;
            st.wire_bytes += sizes.1;
            if let Some(m) = message {
                let w = format!("{}: {rejected} records rejected: {m}", Signal::ALL[signal].name());
                if s.warnings.len() < MAX_WARNINGS && !s.warnings.contains(&w) {
                    s.warnings.push(w);
                }
            }
        });
        if !self.settings.dry_run {
            self.remember(signal, origins);
        }
    }

    /// After a 413: the request's two halves, each delivered (and halved
    /// again) on its own, within the same `deadline`.
    fn halved(&self, signal: usize, body: &Bytes, origins: Origins, message: String, deadline: Instant) -> bool {
        let records = origins.len();
        let encoding = self.settings.protocols[signal].encoding();
        let halves = split::halve(Signal::ALL[signal].name(), encoding, body).filter(|[a, b]| a.1 + b.1 == records);
        let Some([(a, na), (b, _)]) = halves else {
            let why = format!("{message} (a request of one record cannot be split further)");
            self.fail(signal, Some(413), records, why);
            return false;
        };
        let (oa, ob) = origins.split_at(na);
        let first = self.deliver(signal, &Bytes::from(a), oa, Some(deadline));
        let second = self.deliver(signal, &Bytes::from(b), ob, Some(deadline));
        first && second
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

    /// One attempt over the signal's transport.
    fn attempt(&self, signal: usize, payload: &Bytes, timeout: Duration) -> Attempt {
        let settings = self.settings;
        match (settings.protocols[signal], &self.grpc) {
            (Protocol::Grpc, Some(g)) => g.export(
                signal,
                payload.clone(),
                settings.compressions[signal],
                &settings.headers[signal],
                timeout,
            ),
            _ => self.http.export(signal, settings, payload, timeout),
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
        assert!(bad[0].contains("entry 2 has no '=value'"), "{bad:?}");
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
        assert!(e.contains("Name=value") && !e.contains("SECRET"), "{e}");
    }

    #[test]
    fn a_headers_entry_without_a_name_separator_never_echoes_its_text() {
        let (h, bad) = parse_headers("Authorization: Bearer SECRET1,SECRET2,Authorization: Basic SECRET3=,k=v");
        assert_eq!(h, vec![("k".to_string(), "v".to_string())]);
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad.iter().all(|b| !b.contains("SECRET")), "{bad:?}");
        assert!(bad[0].contains("entry 1 (Authorization: ...)"), "{bad:?}");
        assert!(bad[1].contains("entry 2 has no '=value'"), "{bad:?}");
        assert!(bad[2].contains("entry 3 (Authorization: ...)"), "{bad:?}");
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
}
