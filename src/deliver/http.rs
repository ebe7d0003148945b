//! The OTLP/HTTP transport: one `ureq` client per signal (its TLS
//! material, and the proxy chosen as curl chooses it, `proxy.rs`), and one
//! POST of a request body, whose reply becomes an [`Attempt`]: delivered
//! (with a partial success's rejections), retry (408, 429, 502-504 with
//! `Retry-After`, connection errors), too large (413, or the Collector's
//! 400 "request body too large"), or failed, at once for what no retry can
//! fix (TLS, an unknown host). Redirects are answered, never followed, and
//! nothing of a reply is read past [`MAX_RESPONSE`].

use std::io;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use super::attempt::{bounded_text, redact_url, tls_words, Attempt, MAX_RESPONSE};
use super::settings::{Compression, Settings};
use crate::encode::protobuf;
use crate::model::Signal;

/// The HTTP clients of a send, one per signal.
pub(super) struct Http {
    agents: [ureq::Agent; 3],
}

impl Http {
    /// A client per signal, through its proxy, if any.
    pub(super) fn new(settings: &Settings) -> Result<Self, String> {
        let mut proxies: [Option<ureq::Proxy>; 3] = Default::default();
        for (i, p) in settings.proxies.iter().enumerate() {
            if let Some(p) = p {
                let proxy = ureq::Proxy::new(p)
                    .map_err(|e| format!("the proxy {} for {}: {e}", redact_url(p), Signal::ALL[i].name()))?;
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
        Ok(Self {
            agents: [agent(0), agent(1), agent(2)],
        })
    }

    /// One POST of `payload` (encoded and compressed as `settings` say for
    /// `signal`) within `timeout`.
    pub(super) fn export(&self, signal: usize, settings: &Settings, payload: &Bytes, timeout: Duration) -> Attempt {
        let url = &settings.endpoints[signal];
        let shown = redact_url(url);
        let mut req = self.agents[signal]
            .post(url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Content-Type", settings.protocols[signal].content_type());
        let compression = settings.compressions[signal];
        if compression != Compression::None {
            req = req.header("Content-Encoding", compression.name());
        }
        for (k, v) in &settings.headers[signal] {
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
        reply(signal, status, wait, location, proto, &body)
    }
}

/// What an HTTP reply means for the request.
fn reply(
    signal: usize,
    status: u16,
    wait: Option<Duration>,
    location: Option<String>,
    proto: bool,
    body: &[u8],
) -> Attempt {
    match status {
        200..=299 => {
            let (rejected, message) = if proto {
                let (r, m) = protobuf::partial_success(body).unwrap_or((0, None));
                (r, m.map(|m| bounded_text(&m)))
            } else {
                partial_success(Signal::ALL[signal].name(), body)
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
        413 => Attempt::TooLarge(format!("413: {}", message_of(body, proto))),
        // The Collector's OTLP/HTTP receiver (v0.165) answers a body over
        // its max_request_body_size with 400 and Go's MaxBytesReader
        // message, not 413: the same remedy applies.
        400 if message_of(body, proto).contains("request body too large") => {
            Attempt::TooLarge(format!("400: {}", message_of(body, proto)))
        }
        408 | 429 | 502 | 503 | 504 => Attempt::Retry {
            wait,
            why: format!("{status}: {}", message_of(body, proto)),
            status: Some(status),
        },
        _ => Attempt::Failed {
            status: Some(status),
            message: message_of(body, proto),
        },
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
        // An HTTP/2-only port (OTLP/gRPC's 4317) answers in frames, not HTTP/1.1.
        ureq::Error::Protocol(_) => fail(format!(
            "the endpoint did not answer in HTTP/1.1 ({}): if it is an OTLP/gRPC port, use --protocol grpc",
            bounded_text(&e.to_string())
        )),
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn partial_success_counts_strings_and_numbers() {
        let b = br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}"#;
        assert_eq!(partial_success("logs", b), (2, Some("too old".to_string())));
        let b = br#"{"partialSuccess":{"rejectedDataPoints":5}}"#;
        assert_eq!(partial_success("metrics", b), (5, None));
        assert_eq!(partial_success("traces", b"{}"), (0, None));
    }
}
