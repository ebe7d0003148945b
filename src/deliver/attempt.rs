//! How one attempt at a request ended ([`Attempt`]), and the words a
//! message from the network may be shown in: bounded and printable, TLS
//! failures named with what to do, URL passwords hidden. Shared by the
//! HTTP and gRPC transports and the journal, so that none of them prints
//! a secret or an unbounded reply.

use std::time::Duration;

/// What is kept of a response body for a message.
pub(super) const MAX_RESPONSE: u64 = 64 << 10;

/// What is shown of a message from the network.
const MAX_MESSAGE: usize = 500;

/// How one attempt ended.
pub(super) enum Attempt {
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
        status: Option<u16>,
        message: String,
    },
    /// The endpoint cannot take any request as configured (TLS, an unknown
    /// host, a refused client certificate): this one fails and the send stops.
    Fatal {
        status: Option<u16>,
        message: String,
    },
}

/// Where a URL's userinfo (`user:password`) ends: the last `@` before the
/// query or fragment, when what precedes it holds a `:` (a password may
/// hold an unencoded `/`, so the first `/` does not end it). Conservative:
/// it may hide a path's `@`, never show a password.
fn userinfo_end(url: &str) -> Option<(usize, usize)> {
    // Without a scheme (`user:pw@host:4318`), from the start.
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let stop = rest.find(['?', '#']).unwrap_or(rest.len());
    let at = rest[..stop].rfind('@')?;
    let host_end = rest[..at].find('/').unwrap_or(at);
    (rest[..at].contains(':') || host_end == at).then_some((start, start + at))
}

/// The `user:password` of a URL, if it has one.
pub(super) fn userinfo(url: &str) -> Option<&str> {
    userinfo_end(url).map(|(a, b)| &url[a..b])
}

/// A URL as it may be shown: its userinfo (`https://user:pw@host`) is
/// replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match userinfo_end(url) {
        Some((a, b)) => format!("{}***{}", &url[..a], &url[b..]),
        None => url.to_string(),
    }
}

/// Text from the network as it may be shown: printable, bounded.
pub(super) fn bounded_text(text: &str) -> String {
    let mut msg: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE)
        .collect();
    msg = msg.trim().to_string();
    if msg.is_empty() {
        msg = "(no message)".to_string();
    }
    msg
}

/// A TLS failure's cause in words, with what to do about it.
pub(super) fn tls_words(text: &str) -> String {
    let known = [
        (
            "UnknownIssuer",
            "the server's certificate is not signed by a trusted CA",
        ),
        ("CaUsedAsEndEntity", "the server presented a CA certificate as its own"),
        (
            "NotValidForName",
            "the server's certificate is not valid for this host name",
        ),
        ("Expired", "the server's certificate has expired"),
        (
            "InvalidContentType",
            "the server did not answer in TLS: for a plaintext endpoint give http://host:port (gRPC: or --insecure)",
        ),
        ("NotValidYet", "the server's certificate is not valid yet"),
        ("BadSignature", "the server's certificate has a bad signature"),
        ("Revoked", "the server's certificate was revoked"),
        (
            "CertificateRequired",
            "the server requires a client certificate: pass --client-certificate and --client-key",
        ),
        ("BadCertificate", "the server refused the client certificate"),
        ("UnknownCA", "the server does not trust the client certificate's CA"),
    ];
    match known.iter().find(|(k, _)| text.contains(k)) {
        Some((_, words)) => format!("TLS: {words}"),
        None => format!("TLS handshake failed: {}", bounded_text(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_never_shown() {
        assert_eq!(
            redact_url("https://u:secret@host:4318/v1/logs"),
            "https://***@host:4318/v1/logs"
        );
        // An unencoded '/' in the password does not end the userinfo.
        assert_eq!(
            redact_url("https://u:se/cr@et@host:4318/v1/logs"),
            "https://***@host:4318/v1/logs"
        );
        assert_eq!(userinfo("https://u:se/cr@et@host/x"), Some("u:se/cr@et"));
        assert_eq!(redact_url("http://host/a@b"), "http://host/a@b");
        assert_eq!(redact_url("u:pw@host:4318"), "***@host:4318");
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
