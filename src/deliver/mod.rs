//! Delivery (`send`, SPEC §10): the envelope writers' requests POSTed to
//! an OTLP/HTTP endpoint instead of written to files.
//!
//! Each signal's envelope writer lays its records out as the `split`
//! layout does (requests of at most `--max-request-bytes`); its sink here,
//! [`HttpSink`], hands every finished request to a bounded queue that
//! `--concurrency` sender threads ([`Dispatcher`]) take from. So at most
//! `concurrency` requests are in flight and one more waits per signal:
//! memory is a few requests, whatever the store. A sender retries 429, 502,
//! 503, 504 and connection errors with exponential backoff and jitter
//! (honouring `Retry-After`) until `--max-elapsed`, halves a request that
//! got 413 (`split.rs`), counts partial successes, and records every
//! acknowledged request in the journal ([`journal`]) so that a later run
//! skips it. Header values are never printed, logged or journalled.

pub mod journal;
mod split;

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use serde_json::{json, Value};
use sha2::Digest;

use crate::config::percent_decode;
use crate::output::atomic::Inputs;
use crate::write::sink::{sha256_hex, EntrySink};
use journal::{Journal, JournalError};

/// The signals, in the order of every per-signal array here.
pub const SIGNALS: [&str; 3] = ["logs", "traces", "metrics"];

/// Default `--max-request-bytes` for `send` (§10.3).
pub const DEFAULT_SEND_REQUEST_BYTES: usize = 4 << 20;
/// Default `--concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Default `--timeout`, per request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--max-elapsed`, per request.
pub const DEFAULT_MAX_ELAPSED: Duration = Duration::from_secs(300);
/// The first retry waits about this long; each next one twice as long.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Retries are never further apart than this (unless `Retry-After` says so).
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// What is kept of a response body for a message.
const MAX_RESPONSE: u64 = 64 << 10;

/// Where and how to send: validated by the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The full URL per signal (logs, traces, metrics).
    pub endpoints: [String; 3],
    /// Headers sent with every request of a signal (common ones first).
    pub headers: [Vec<(String, String)>; 3],
    pub gzip: bool,
    pub timeout: Duration,
    pub concurrency: usize,
    pub max_elapsed: Duration,
    pub journal: Option<PathBuf>,
    pub dry_run: bool,
}

/// Parses an OTLP headers list, `k=v,k2=v2`, with percent-encoded values
/// (as `OTEL_EXPORTER_OTLP_HEADERS` is written). Errors never echo a value.
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((k, v)) = item.split_once('=') else {
            return Err("expected key=value pairs separated by commas".to_string());
        };
        let key = percent_decode(k.trim()).ok_or("a header name is not valid percent-encoding")?;
        let value =
            percent_decode(v.trim()).ok_or_else(|| format!("the value of {key} is not valid percent-encoding"))?;
        check_header(&key, &value)?;
        out.push((key, value));
    }
    Ok(out)
}

/// A header name must be an HTTP token; a value must not hold control
/// characters (it would end the header).
pub fn check_header(key: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if key.is_empty() || !key.chars().all(token) {
        return Err(format!("{key:?} is not a valid header name"));
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
}

/// What happened to one signal's requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalStats {
    /// Requests acknowledged (2xx), halves of a split request included.
    pub requests: u64,
    /// Records in acknowledged requests, less those the endpoint rejected.
    pub records: u64,
    /// Records an endpoint acknowledged but rejected (partial success).
    pub rejected: u64,
    /// Attempts that were retried.
    pub retried: u64,
    /// Requests (and their records) the journal says were delivered before.
    pub skipped_requests: u64,
    pub skipped_records: u64,
    /// Requests that failed, and their records.
    pub failed_requests: u64,
    pub failed_records: u64,
    /// Request bodies before compression, and as sent.
    pub bytes: u64,
    pub wire_bytes: u64,
}

/// A request that was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub signal: &'static str,
    /// The HTTP status, or none for a connection error or timeout.
    pub status: Option<u16>,
    pub records: u64,
    pub message: String,
}

/// The result of a send.
#[derive(Clone, Debug, Default)]
pub struct DeliverySummary {
    pub dry_run: bool,
    pub endpoints: Vec<String>,
    pub signals: [SignalStats; 3],
    pub failures: Vec<Failure>,
    /// Messages of partial successes.
    pub warnings: Vec<String>,
}

impl Failure {
    /// `logs: a request of 120 records failed: 400: message`.
    pub fn describe(&self) -> String {
        let status = self.status.map_or_else(|| "no response".to_string(), |s| s.to_string());
        format!(
            "{}: a request of {} records failed ({status}): {}",
            self.signal, self.records, self.message
        )
    }
}

impl DeliverySummary {
    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }

    pub fn json(&self) -> Value {
        let signals: serde_json::Map<String, Value> = SIGNALS
            .iter()
            .zip(&self.signals)
            .map(|(name, s)| {
                (
                    name.to_string(),
                    json!({
                        "requests": s.requests,
                        "records": s.records,
                        "rejected": s.rejected,
                        "retried": s.retried,
                        "skipped_requests": s.skipped_requests,
                        "skipped_records": s.skipped_records,
                        "failed_requests": s.failed_requests,
                        "failed_records": s.failed_records,
                        "bytes": s.bytes,
                        "wire_bytes": s.wire_bytes,
                    }),
                )
            })
            .collect();
        json!({
            "dry_run": self.dry_run,
            "endpoints": self.endpoints,
            "signals": signals,
            "failures": self.failures.iter().map(|f| json!({
                "signal": f.signal,
                "status": f.status,
                "records": f.records,
                "message": f.message,
            })).collect::<Vec<_>>(),
        })
    }
}

/// One request waiting for a sender.
struct Job {
    signal: usize,
    body: Vec<u8>,
    records: u64,
    /// The body's sha256 (the journal's key), hashed by the spooled sink.
    sha256: [u8; 32],
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

    fn end(&mut self, records: u64, sha256: &[u8; 32]) -> io::Result<()> {
        let body = std::mem::take(&mut self.body);
        if records == 0 {
            return Ok(());
        }
        self.jobs
            .send(Job {
                signal: self.signal,
                body,
                records,
                sha256: *sha256,
            })
            .map_err(|_| io::Error::other("the senders stopped"))
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

/// How one attempt ended.
enum Attempt {
    Delivered {
        rejected: u64,
        message: Option<String>,
    },
    Retry {
        wait: Option<Duration>,
        why: String,
        status: Option<u16>,
    },
    TooLarge(String),
    Failed {
        status: u16,
        message: String,
    },
}

/// What the senders share.
struct Shared<'a> {
    settings: &'a Settings,
    agent: ureq::Agent,
    cancel: &'a AtomicBool,
    journal: Mutex<Journal>,
    journal_error: Mutex<Option<JournalError>>,
    summary: Mutex<DeliverySummary>,
    progress: &'a (dyn Fn(&[SignalStats; 3]) + Sync),
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
}

impl Dispatcher {
    /// Senders of requests of at most `cap` bytes (but for a record
    /// larger alone).
    pub fn new(cap: usize) -> Self {
        // One request waits while the senders are busy; the writers block
        // behind it (back-pressure, not memory).
        let (jobs, rx) = bounded(1);
        // Every body that can exist at once: one per sink, the queued one,
        // one per sender (at most 64).
        Self {
            jobs,
            rx,
            free: bounded(3 + 1 + 64),
            cap,
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
        inputs: &'e Inputs,
        progress: &'e (dyn Fn(&[SignalStats; 3]) + Sync),
    ) -> Result<Box<dyn FnOnce() -> Result<DeliverySummary, SendError> + 's>, SendError> {
        let journal = match &settings.journal {
            Some(p) if settings.dry_run => Journal::peek(p)?,
            Some(p) => Journal::open(p, inputs)?,
            None => Journal::none(),
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(settings.timeout))
            .user_agent(concat!("coder-telemetry/", env!("CARGO_PKG_VERSION")))
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                    .build(),
            )
            .build()
            .into();
        let shared = Arc::new(Shared {
            settings,
            agent,
            cancel,
            journal: Mutex::new(journal),
            journal_error: Mutex::new(None),
            summary: Mutex::new(DeliverySummary {
                dry_run: settings.dry_run,
                endpoints: shown_endpoints(&settings.endpoints),
                ..Default::default()
            }),
            progress,
        });
        let (rx, recycle, self_cap) = (&self.rx, &self.free.0, self.cap);
        let handles: Vec<_> = (0..settings.concurrency.max(1))
            .map(|i| {
                let rx = rx.clone();
                let shared = Arc::clone(&shared);
                let recycle = recycle.clone();
                let cap = self_cap;
                std::thread::Builder::new()
                    .name(format!("ct-send-{i}"))
                    .spawn_scoped(scope, move || {
                        for mut job in rx {
                            let sha = sha256_hex(&job.sha256);
                            shared.deliver(job.signal, &job.body, job.records, sha, None);
                            // A body grown past twice the cap (a record larger
                            // than a request) goes back to the allocator.
                            if job.body.capacity() <= 2 * cap {
                                job.body.clear();
                                let _ = recycle.try_send(job.body);
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
            let shared = Arc::try_unwrap(shared).map_err(|_| ()).ok();
            let Some(shared) = shared else {
                return Ok(DeliverySummary::default());
            };
            if let Some(e) = shared
                .journal_error
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
            {
                return Err(e.into());
            }
            Ok(shared.summary.into_inner().unwrap_or_else(PoisonError::into_inner))
        }))
    }
}

/// The endpoints as they may be shown: without passwords, and as their
/// common base URL when all three are the base's `/v1/{signal}`.
fn shown_endpoints(endpoints: &[String; 3]) -> Vec<String> {
    let base = endpoints[0].strip_suffix("/v1/logs");
    match base {
        Some(b) if endpoints[1] == format!("{b}/v1/traces") && endpoints[2] == format!("{b}/v1/metrics") => {
            vec![redact_url(b)]
        }
        _ => endpoints.iter().map(|e| redact_url(e)).collect(),
    }
}

/// A URL as it may be shown: a password in it (`https://user:pw@host`) is
/// replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let after = &url[scheme_end + 3..];
    let host_end = after.find('/').unwrap_or(after.len());
    match after[..host_end].rfind('@') {
        Some(at) => format!("{}://***@{}", &url[..scheme_end], &after[at + 1..]),
        None => url.to_string(),
    }
}

/// A half's journal key (whole requests come hashed from the spooled sink).
fn hash_of(body: &[u8]) -> String {
    sha256_hex(&sha2::Sha256::digest(body).into())
}

fn gzip(body: &[u8]) -> io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    e.write_all(body)?;
    e.finish()
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = (at.timestamp_millis() - chrono::Utc::now().timestamp_millis()).max(0);
    Some(Duration::from_millis(ms as u64))
}

/// The wait before retry `n` (0 = the first): exponential from 1 s, at
/// most 30 s, with full jitter over its upper half.
fn backoff(n: u32) -> Duration {
    let base = FIRST_BACKOFF.saturating_mul(1u32 << n.min(5)).min(MAX_BACKOFF);
    base.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// The message of an error response: OTLP's `Status.message`, or the text.
fn message_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let msg = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| text.trim().to_string());
    let mut msg: String = msg.chars().take(500).collect();
    if msg.is_empty() {
        msg = "(no message)".to_string();
    }
    msg
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
        .map(str::to_string);
    (rejected, message)
}

impl Shared<'_> {
    fn update(&self, signal: usize, f: impl FnOnce(&mut SignalStats, &mut DeliverySummary)) {
        let mut s = self.summary.lock().unwrap_or_else(PoisonError::into_inner);
        let mut st = s.signals[signal];
        f(&mut st, &mut s);
        s.signals[signal] = st;
        (self.progress)(&s.signals);
    }

    fn fail(&self, signal: usize, status: Option<u16>, records: u64, message: String) {
        self.update(signal, |st, s| {
            st.failed_requests += 1;
            st.failed_records += records;
            s.failures.push(Failure {
                signal: SIGNALS[signal],
                status,
                records,
                message,
            });
        });
    }

    fn journalled(&self, signal: usize, sha: &str) -> bool {
        self.journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(SIGNALS[signal], sha)
    }

    fn remember(&self, signal: usize, sha: &str, records: u64) {
        let mut j = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = j.record(SIGNALS[signal], sha, records) {
            // Delivery goes on; the send fails at the end, naming the journal.
            self.cancel.store(true, Ordering::Relaxed);
            self.journal_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(e);
        }
    }

    /// Delivers one request (or, after a 413, its halves) whose body hashes
    /// to `sha`. Returns whether all of it was delivered.
    fn deliver(&self, signal: usize, body: &[u8], records: u64, sha: String, deadline: Option<Instant>) -> bool {
        if self.journalled(signal, &sha) {
            self.update(signal, |st, _| {
                st.skipped_requests += 1;
                st.skipped_records += records;
            });
            return true;
        }
        if self.settings.dry_run {
            let wire = if self.settings.gzip {
                gzip(body).map_or(body.len(), |g| g.len())
            } else {
                body.len()
            };
            self.update(signal, |st, _| {
                st.requests += 1;
                st.records += records;
                st.bytes += body.len() as u64;
                st.wire_bytes += wire as u64;
            });
            return true;
        }
        let deadline = deadline.unwrap_or_else(|| Instant::now() + self.settings.max_elapsed);
        // Uncompressed, the body itself is sent: no copy.
        let compressed = if self.settings.gzip {
            match gzip(body) {
                Ok(g) => Some(g),
                Err(e) => {
                    self.fail(signal, None, records, format!("compressing the request failed: {e}"));
                    return false;
                }
            }
        } else {
            None
        };
        let payload: &[u8] = compressed.as_deref().unwrap_or(body);
        let mut retries = 0u32;
        loop {
            if self.cancel.load(Ordering::Relaxed) {
                self.fail(signal, None, records, "interrupted before it was delivered".into());
                return false;
            }
            match self.attempt(signal, payload) {
                Attempt::Delivered { rejected, message } => {
                    self.update(signal, |st, s| {
                        st.requests += 1;
                        st.records += records.saturating_sub(rejected);
                        st.rejected += rejected;
                        st.bytes += body.len() as u64;
                        st.wire_bytes += payload.len() as u64;
                        if let Some(m) = message.filter(|_| rejected > 0 || s.warnings.len() < 20) {
                            s.warnings
                                .push(format!("{}: {rejected} records rejected: {m}", SIGNALS[signal]));
                        }
                    });
                    self.remember(signal, &sha, records);
                    return true;
                }
                Attempt::TooLarge(message) => {
                    let Some([(a, na), (b, nb)]) = split::halve(SIGNALS[signal], body) else {
                        self.fail(
                            signal,
                            Some(413),
                            records,
                            format!("{message} (a request of one record cannot be split further)"),
                        );
                        return false;
                    };
                    drop(compressed);
                    let first = self.deliver(signal, &a, na, hash_of(&a), Some(deadline));
                    let second = self.deliver(signal, &b, nb, hash_of(&b), Some(deadline));
                    if first && second {
                        // A later run skips the whole request without a 413.
                        self.remember(signal, &sha, records);
                    }
                    return first && second;
                }
                Attempt::Failed { status, message } => {
                    self.fail(signal, Some(status), records, message);
                    return false;
                }
                Attempt::Retry { wait, why, status } => {
                    let wait = wait.unwrap_or_else(|| backoff(retries));
                    if Instant::now() + wait > deadline {
                        self.fail(
                            signal,
                            status,
                            records,
                            format!("{why}; gave up after {retries} retries (--max-elapsed)"),
                        );
                        return false;
                    }
                    retries += 1;
                    self.update(signal, |st, _| st.retried += 1);
                    let until = Instant::now() + wait;
                    while Instant::now() < until {
                        if self.cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::sleep(
                            Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())),
                        );
                    }
                }
            }
        }
    }

    fn attempt(&self, signal: usize, payload: &[u8]) -> Attempt {
        let mut req = self
            .agent
            .post(&self.settings.endpoints[signal])
            .header("Content-Type", "application/json");
        if self.settings.gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        for (k, v) in &self.settings.headers[signal] {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = match req.send(payload) {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    wait: None,
                    why: format!("cannot reach {}: {e}", redact_url(&self.settings.endpoints[signal])),
                    status: None,
                }
            }
        };
        let status = resp.status().as_u16();
        let wait = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .unwrap_or_default();
        match status {
            200..=299 => {
                let (rejected, message) = partial_success(SIGNALS[signal], &body);
                Attempt::Delivered { rejected, message }
            }
            413 => Attempt::TooLarge(format!("413: {}", message_of(&body))),
            // The Collector's OTLP/HTTP receiver (v0.165) answers a body over
            // its max_request_body_size with 400 and Go's MaxBytesReader
            // message, not 413: the same remedy applies.
            400 if message_of(&body).contains("request body too large") => {
                Attempt::TooLarge(format!("400: {}", message_of(&body)))
            }
            429 | 502 | 503 | 504 => Attempt::Retry {
                wait,
                why: format!("{status}: {}", message_of(&body)),
                status: Some(status),
            },
            _ => Attempt::Failed {
                status,
                message: message_of(&body),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_percent_decoded_pairs() {
        let h = parse_headers("x-honeycomb-team=abc%3D%3D, Authorization=Basic%20dXNlcjpwYXNz").unwrap();
        assert_eq!(
            h,
            vec![
                ("x-honeycomb-team".to_string(), "abc==".to_string()),
                ("Authorization".to_string(), "Basic dXNlcjpwYXNz".to_string())
            ]
        );
        assert!(parse_headers("novalue").is_err());
        assert!(parse_headers("bad name=x").is_err());
        let e = parse_headers("k=secret%0Avalue").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn passwords_in_urls_are_never_shown() {
        assert_eq!(
            redact_url("https://u:secret@host:4318/v1/logs"),
            "https://***@host:4318/v1/logs"
        );
        assert_eq!(redact_url("http://host/a@b"), "http://host/a@b");
        let e = ["http://h/v1/logs", "http://h/v1/traces", "http://h/v1/metrics"].map(String::from);
        assert_eq!(shown_endpoints(&e), vec!["http://h"]);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_from_one_second_to_thirty_with_jitter() {
        for n in 0..10 {
            let b = backoff(n);
            let base = FIRST_BACKOFF.saturating_mul(1 << n.min(5)).min(MAX_BACKOFF);
            assert!(b >= base / 2 && b <= base, "{n}: {b:?}");
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
}
