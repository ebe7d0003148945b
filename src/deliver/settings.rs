//! Where and how to send ([`Settings`]): per signal, the endpoint,
//! headers, protocol ([`Protocol`]: the transport and the body encoding),
//! compression ([`Compression`]), TLS material and proxy, and the limits of
//! the whole send. The command line validates them; the layers read them.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use super::attempt::userinfo;
use super::tls;
use crate::encode::Encoding;
use crate::model::Signal;

/// The OTLP transport and body encoding (`--protocol`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/HTTP with protobuf bodies: the OpenTelemetry default.
    #[default]
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies.
    HttpJson,
    /// OTLP/gRPC: protobuf messages in the unary `Export` call.
    Grpc,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        }
    }

    pub(super) fn content_type(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf | Protocol::Grpc => "application/x-protobuf",
            Protocol::HttpJson => "application/json",
        }
    }

    /// The body encoding its requests are written in.
    pub fn encoding(self) -> Encoding {
        match self {
            Protocol::HttpJson => Encoding::Json,
            Protocol::HttpProtobuf | Protocol::Grpc => Encoding::Protobuf,
        }
    }
}

/// Request body compression (`--compression`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
    None,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }

    /// `body` compressed into `out`; `false` for none (send `body` itself).
    pub(super) fn apply(self, body: &[u8], out: &mut Vec<u8>) -> io::Result<bool> {
        out.clear();
        match self {
            Compression::None => return Ok(false),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(std::mem::take(out), flate2::Compression::fast());
                e.write_all(body)?;
                *out = e.finish()?;
            }
            Compression::Zstd => {
                let mut e = zstd::stream::write::Encoder::new(std::mem::take(out), 1)?;
                e.write_all(body)?;
                *out = e.finish()?;
            }
        }
        Ok(true)
    }
}

/// Where and how to send: validated by the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The full URL per signal (logs, traces, metrics).
    pub endpoints: [String; 3],
    /// Headers sent with every request of a signal (common ones first).
    pub headers: [Vec<(String, String)>; 3],
    /// Per signal (a signal's own variable may differ).
    pub protocols: [Protocol; 3],
    pub compressions: [Compression; 3],
    /// Trusted CAs and the client certificate, per signal.
    pub tls: [tls::Tls; 3],
    /// The proxy each signal's requests go through (`proxy::for_target`).
    pub proxies: [Option<String>; 3],
    /// The largest request body before compression (`--max-request-bytes`).
    pub max_request_bytes: usize,
    pub timeout: Duration,
    pub concurrency: usize,
    pub max_elapsed: Duration,
    pub journal: Option<PathBuf>,
    pub dry_run: bool,
}

impl Settings {
    /// The protocols in use, as shown: one name, or one per signal.
    pub(super) fn protocol_names(&self) -> String {
        let names = self.protocols.map(Protocol::name);
        if names.iter().all(|n| *n == names[0]) {
            names[0].to_string()
        } else {
            Signal::ALL
                .map(Signal::name)
                .iter()
                .zip(names)
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// What no message may show: header values and URL passwords.
    pub(super) fn secrets(&self) -> Vec<String> {
        let mut s: Vec<String> = self.headers.iter().flatten().map(|(_, v)| v.clone()).collect();
        s.extend(self.endpoints.iter().filter_map(|e| userinfo(e).map(str::to_string)));
        s.extend(
            self.proxies
                .iter()
                .flatten()
                .filter_map(|p| userinfo(p).map(str::to_string)),
        );
        // Short values would scrub ordinary words; none of them is a key.
        s.retain(|v| v.len() >= 4);
        s.sort_by_key(|v| std::cmp::Reverse(v.len()));
        s.dedup();
        s
    }
}
