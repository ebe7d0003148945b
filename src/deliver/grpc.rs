//! The OTLP/gRPC transport (SPEC §10.3): the unary `Export` call of
//! `opentelemetry.proto.collector.{logs,trace,metrics}.v1`, through tonic
//! (the Rust gRPC stack) on a small tokio runtime that this transport owns.
//!
//! The request is the protobuf body the codec wrote; a raw codec hands the
//! bytes to tonic as they are, so there is no second encoding. Headers
//! become metadata; gzip and zstd are gRPC's message compression. The
//! status is mapped as §10.4 says: UNAVAILABLE, CANCELLED,
//! DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE and DATA_LOSS are retried
//! (honouring `RetryInfo`), RESOURCE_EXHAUSTED with `RetryInfo` too; a
//! message over the server's limit is halved like a 413; anything else,
//! and a TLS or name failure, fails at once. tonic reads no proxy
//! variables: a proxy chosen as curl would (`proxy.rs`) is reached through
//! an HTTP CONNECT tunnel that this module opens, and TLS runs inside it.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};

use super::attempt::{bounded_text, redact_url, tls_words, Attempt, MAX_RESPONSE};
use super::settings::Compression;
use super::tls::Tls;
use crate::encode::protobuf;
use crate::model::Signal;

/// Bytes in, bytes out: the body is already protobuf (shared with the
/// sender, not copied, until tonic frames it).
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = Vec::with_capacity(src.remaining());
        while src.has_remaining() {
            let chunk = src.chunk();
            out.extend_from_slice(chunk);
            let n = chunk.len();
            src.advance(n);
        }
        Ok(Some(out))
    }
}

/// The method of each signal.
const METHODS: [&str; 3] = [
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
];

/// A gRPC client per signal, on one runtime.
pub(super) struct Grpc {
    runtime: tokio::runtime::Runtime,
    channels: [Option<Channel>; 3],
    /// For a TLS endpoint, whether a client certificate was given.
    tls_client: [Option<bool>; 3],
}

/// The URL tonic connects to: `http://` is plaintext, `https://` TLS, and a
/// scheme-less `host:port` TLS unless `insecure`.
pub fn server_url(url: &str, insecure: bool) -> String {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        url.to_string()
    } else if insecure {
        format!("http://{url}")
    } else {
        format!("https://{url}")
    }
}

impl Grpc {
    /// Clients for the signals whose protocol is gRPC (`use_grpc[i]`), each
    /// through its proxy, if any.
    pub(super) fn new(
        endpoints: &[String; 3],
        tls: &[Tls; 3],
        proxies: &[Option<String>; 3],
        use_grpc: [bool; 3],
        timeout: Duration,
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ct-grpc")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the gRPC runtime: {e}"))?;
        let mut channels: [Option<Channel>; 3] = Default::default();
        let mut tls_client = [None; 3];
        for i in (0..3).filter(|&i| use_grpc[i]) {
            let url = &endpoints[i];
            let shown = redact_url(url);
            let mut endpoint = Endpoint::from_shared(url.clone())
                .map_err(|e| format!("{shown}: not a gRPC endpoint URL ({e})"))?
                .connect_timeout(timeout)
                .user_agent(concat!("coder-telemetry/", env!("CARGO_PKG_VERSION")))
                .map_err(|e| format!("{shown}: {e}"))?;
            if url.to_ascii_lowercase().starts_with("https://") {
                let mut config = ClientTlsConfig::new();
                config = match &tls[i].ca_pem {
                    Some(ca) => config.ca_certificate(Certificate::from_pem(ca)),
                    None => config.with_native_roots(),
                };
                if let Some((cert, key)) = &tls[i].client_pem {
                    config = config.identity(Identity::from_pem(cert, key));
                }
                endpoint = endpoint.tls_config(config).map_err(|e| format!("{shown}: {e}"))?;
                tls_client[i] = Some(tls[i].client_pem.is_some());
            }
            let _guard = runtime.enter();
            channels[i] = Some(match &proxies[i] {
                Some(p) => endpoint.connect_with_connector_lazy(tunnel(Proxy::parse(p)?)),
                None => endpoint.connect_lazy(),
            });
        }
        Ok(Self {
            runtime,
            channels,
            tls_client,
        })
    }

    /// One `Export` call of `body` (protobuf) for signal `i`, within `timeout`.
    pub(super) fn export(
        &self,
        i: usize,
        body: Bytes,
        compression: Compression,
        headers: &[(String, String)],
        timeout: Duration,
    ) -> Attempt {
        let Some(channel) = self.channels[i].clone() else {
            return Attempt::Failed {
                status: None,
                message: format!("no gRPC client for {}", Signal::ALL[i].name()),
            };
        };
        let mut request = Request::new(body);
        for (k, v) in headers {
            let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes());
            let value = MetadataValue::try_from(v.as_str());
            match (key, value) {
                (Ok(key), Ok(value)) => {
                    request.metadata_mut().insert(key, value);
                }
                _ => {
                    return Attempt::Failed {
                        status: None,
                        message: format!("the header {k} cannot be gRPC metadata (not ASCII)"),
                    }
                }
            }
        }
        let call = async move {
            let mut client = tonic::client::Grpc::new(channel).max_decoding_message_size(MAX_RESPONSE as usize);
            client = match compression {
                Compression::Gzip => client.send_compressed(CompressionEncoding::Gzip),
                Compression::Zstd => client.send_compressed(CompressionEncoding::Zstd),
                Compression::None => client,
            };
            client = client
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd);
            client.ready().await.map_err(|e| Status::unavailable(chain(&e)))?;
            let path = http::uri::PathAndQuery::from_static(METHODS[i]);
            client.unary(request, path, Raw).await
        };
        match self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, call).await })
        {
            Err(_) => Attempt::Retry {
                wait: None,
                why: "no response within --timeout".to_string(),
                status: None,
            },
            Ok(Ok(response)) => {
                let (rejected, message) = protobuf::partial_success(response.get_ref()).unwrap_or((0, None));
                Attempt::Delivered {
                    rejected,
                    message: message.map(|m| bounded_text(&m)),
                }
            }
            Ok(Err(status)) => classify(&status, self.tls_client[i]),
        }
    }
}

/// An HTTP proxy: where it is, and its `Proxy-Authorization`.
#[derive(Clone)]
struct Proxy {
    host: String,
    port: u16,
    auth: Option<String>,
}

impl Proxy {
    /// `http://[user:password@]host[:port]` (port 1080 when none, as curl).
    fn parse(url: &str) -> Result<Self, String> {
        let shown = redact_url(url);
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some(_) => {
                return Err(format!(
                    "the proxy {shown}: only http:// proxies are supported for gRPC"
                ))
            }
            None => url,
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse().map_err(|_| format!("the proxy {shown}: a bad port"))?)
            }
            _ => (host_port, 1080),
        };
        let auth = userinfo.map(|u| {
            let decoded = crate::config::percent_decode(u).unwrap_or_else(|| u.to_string());
            format!("Basic {}", base64(decoded.as_bytes()))
        });
        Ok(Self {
            host: host.trim_start_matches('[').trim_end_matches(']').to_string(),
            port,
            auth,
        })
    }
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = u32::from(c[0]) << 16 | u32::from(*c.get(1).unwrap_or(&0)) << 8 | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(ABC[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A connector that reaches every target through an HTTP CONNECT tunnel.
fn tunnel(
    proxy: Proxy,
) -> impl tower::Service<
    http::Uri,
    Response = hyper_util::rt::TokioIo<tokio::net::TcpStream>,
    Error = std::io::Error,
    Future = impl std::future::Future<Output = std::io::Result<hyper_util::rt::TokioIo<tokio::net::TcpStream>>> + Send,
> + Clone
       + Send {
    tower::service_fn(move |uri: http::Uri| {
        let proxy = proxy.clone();
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let bad = |why: String| std::io::Error::other(why);
            let host = uri.host().ok_or_else(|| bad("no host in the endpoint".into()))?;
            let https = uri.scheme_str() == Some("https");
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let target = format!("{host}:{port}");
            let mut s = tokio::net::TcpStream::connect((proxy.host.as_str(), proxy.port)).await?;
            let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
            if let Some(a) = &proxy.auth {
                head.push_str(&format!("Proxy-Authorization: {a}\r\n"));
            }
            head.push_str("\r\n");
            s.write_all(head.as_bytes()).await?;
            // The proxy's answer, up to its blank line (bounded).
            let mut answer = Vec::with_capacity(256);
            while !answer.ends_with(b"\r\n\r\n") {
                if answer.len() >= 16 << 10 {
                    return Err(bad("the proxy's answer to CONNECT is too long".into()));
                }
                let mut b = [0u8; 1];
                if s.read(&mut b).await? == 0 {
                    return Err(bad("the proxy closed the connection".into()));
                }
                answer.push(b[0]);
            }
            let status = String::from_utf8_lossy(&answer);
            let line = status.lines().next().unwrap_or("");
            if line.split_whitespace().nth(1) != Some("200") {
                return Err(bad(format!(
                    "the proxy refused CONNECT {target}: {}",
                    bounded_text(line)
                )));
            }
            Ok(hyper_util::rt::TokioIo::new(s))
        }
    })
}

/// `text`, then each source's words that it does not already hold.
fn with_sources(mut text: String, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}

/// An error and its sources, in words.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    with_sources(e.to_string(), e.source())
}

/// A status in words: its message, then each source's (its Display would
/// hold a debug dump of the transport error).
fn status_text(status: &Status) -> String {
    with_sources(status.message().to_string(), std::error::Error::source(status))
}

/// What a gRPC status means for the request (§10.4); `tls_client` is
/// whether a client certificate was given for a TLS endpoint.
fn classify(status: &Status, tls: Option<bool>) -> Attempt {
    let code = status.code();
    let detail = status_text(status);
    let why = format!("{}: {}", code.description(), bounded_text(&detail));
    let wait = protobuf::retry_info(status.details());
    let lower = detail.to_ascii_lowercase();
    let grpc_status = Some(code as u16);
    match code {
        Code::Unavailable
            if lower.contains("certificate")
                || lower.contains("tls")
                || lower.contains("handshake")
                || lower.contains("invalidcontenttype") =>
        {
            Attempt::Fatal {
                status: grpc_status,
                message: tls_words(&detail),
            }
        }
        Code::Unavailable if lower.contains("dns error") || lower.contains("failed to lookup address") => {
            Attempt::Fatal {
                status: grpc_status,
                message: "the host name was not found (check --endpoint)".to_string(),
            }
        }
        // TLS 1.3 reports a refused client certificate after the handshake:
        // the connection just breaks.
        Code::Unknown | Code::Unavailable if tls == Some(false) && lower.contains("broken pipe") => Attempt::Fatal {
            status: grpc_status,
            message: format!(
                "{why} (the server may require a client certificate: pass --client-certificate and --client-key)"
            ),
        },
        // A plaintext HTTP/1.1 server (OTLP/HTTP's 4318) answers HTTP/2's
        // first bytes with a 400 and closes the connection.
        Code::Unknown if tls.is_none() && (lower.contains("broken pipe") || lower.contains("http2 error")) => {
            Attempt::Fatal {
                status: grpc_status,
                message: format!("{why} (if it is an OTLP/HTTP port, use --protocol http/protobuf)"),
            }
        }
        Code::Unavailable
        | Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss => Attempt::Retry {
            wait,
            why,
            status: grpc_status,
        },
        Code::ResourceExhausted if wait.is_some() => Attempt::Retry {
            wait,
            why,
            status: grpc_status,
        },
        Code::ResourceExhausted if lower.contains("larger than max") => Attempt::TooLarge(why),
        _ => Attempt::Failed {
            status: grpc_status,
            message: why,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_url_gives_host_port_and_basic_auth() {
        let p = Proxy::parse("http://user:pa%40ss@proxy.local:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.local", 3128));
        assert_eq!(p.auth.as_deref(), Some("Basic dXNlcjpwYUBzcw=="));
        let p = Proxy::parse("proxy.local").unwrap();
        assert_eq!((p.host.as_str(), p.port, p.auth), ("proxy.local", 1080, None));
        assert!(Proxy::parse("socks5://p:1").is_err());
    }

    #[test]
    fn scheme_less_grpc_endpoints_are_tls_unless_insecure() {
        assert_eq!(server_url("collector:4317", false), "https://collector:4317");
        assert_eq!(server_url("collector:4317", true), "http://collector:4317");
        assert_eq!(server_url("http://c:4317", false), "http://c:4317");
    }
}
