//! `send`'s flags and the OTLP exporter environment (§10.2) into validated
//! [`Settings`]: per signal, the flag, else the signal's own variable, else
//! the common one, as the OpenTelemetry SDKs read them. A malformed
//! variable is a warning and its default is used; a malformed flag, a base
//! URL ending in /v1/<signal>, bad PEM or a journal started for another
//! destination is a usage error, before anything is sent.

use std::path::PathBuf;
use std::time::Duration;

use coder_telemetry::deliver::grpc::server_url as grpc_server_url;
use coder_telemetry::deliver::tls::{Tls, TlsFiles};
use coder_telemetry::deliver::{
    journal, parse_header_flag, parse_headers, proxy, redact_url, Compression, Protocol, Settings, Signal,
    DEFAULT_SEND_REQUEST_BYTES, DEFAULT_TIMEOUT, MAX_SECONDS,
};
use coder_telemetry::range::{Preset, RangeSpec};

use super::{
    check_url, parse_now, range_spec, size_flag, stores, usage, valid_uri, CompressionArg, ConfigError, PreparedSend,
    Run, SendArgs, UsageError,
};

/// The signals' names in variable names, in [`Signal::ALL`]'s order.
const NAMES: [&str; 3] = ["LOGS", "TRACES", "METRICS"];

/// Per-signal values: logs, traces, metrics.
type PerSignal<T> = [T; 3];

/// Builds a `send` from its flags and the OTLP exporter environment.
pub fn config(a: &SendArgs) -> Result<PreparedSend, ConfigError> {
    let mut warnings = Vec::new();
    let protocols = protocols(a, &mut warnings)?;
    let compressions = compressions(a, &mut warnings);
    let endpoints = endpoints(a, &protocols, &mut warnings)?;
    let headers = headers(a, &mut warnings)?;
    let tls = tls(a)?;
    let timeout = timeout(a, &mut warnings)?;
    // Each once, in order (a common variable warns for every signal).
    let mut seen = std::collections::HashSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    if !(1..=64).contains(&a.concurrency) {
        return Err(usage(format!("--concurrency {}: expected 1 to 64", a.concurrency)).into());
    }
    let max_elapsed = seconds("--max-elapsed", a.max_elapsed)?;
    let max_request_bytes = match &a.max_request_bytes {
        None => DEFAULT_SEND_REQUEST_BYTES,
        Some(s) => size_flag("--max-request-bytes", s, 1 << 32)? as usize,
    };
    // A resume finishes the window its journal was started for: the range
    // is anchored at the journal's instant unless --now is given.
    let started = a.journal.as_deref().and_then(journal::binding_of);
    let now_given = match (&started, &a.sel.now) {
        (Some(b), None) => Some(b.now.clone()),
        (_, given) => given.clone(),
    };
    let now = match &now_given {
        Some(s) => parse_now(s)?,
        None => chrono::Utc::now(),
    };
    // `send` never prompts: without a range it sends all time.
    let range = range_spec(&a.sel, now)?
        .unwrap_or(RangeSpec::Preset(Preset::AllTime))
        .resolve(now);
    let run = Run {
        sel: &a.sel,
        report: &a.report,
        encode: &a.encode,
        tune: &a.tune,
    };
    let mut prepared = run.config(range, now, now_given, stores(&a.sel.stores)?, warnings)?;
    if let (Some(b), Some(path)) = (&started, &a.journal) {
        if let Some(why) = b.mismatch(&journal::Binding::new(&endpoints, &prepared.cfg)) {
            return Err(usage(format!(
                "--journal {}: {why}; run the command that started it again (the same endpoint, stores, \
                 shard and range), or use another --journal for this send",
                path.display()
            ))
            .into());
        }
        if a.sel.now.is_none() {
            prepared.notes.push(format!(
                "resuming {}: the range is anchored at {}, when this journal was started",
                path.display(),
                b.now
            ));
        }
    }
    let proxies = endpoints
        .clone()
        .map(|e| proxy::for_target(&e, |k| std::env::var(k).ok()));
    Ok(PreparedSend {
        run: prepared,
        settings: Settings {
            endpoints,
            headers,
            protocols,
            compressions,
            tls,
            proxies,
            max_request_bytes,
            timeout,
            concurrency: a.concurrency,
            max_elapsed,
            journal: a.journal.clone(),
            dry_run: a.dry_run,
        },
    })
}

/// A variable of the environment, unless unset or blank.
fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

/// `OTEL_EXPORTER_OTLP_<SIGNAL>_<base>`, else `OTEL_EXPORTER_OTLP_<base>`:
/// the variable found and its value.
fn signal_var(signal: &str, base: &str) -> Option<(String, String)> {
    let own = format!("OTEL_EXPORTER_OTLP_{signal}_{base}");
    env(&own).map(|v| (own, v)).or_else(|| {
        let common = format!("OTEL_EXPORTER_OTLP_{base}");
        env(&common).map(|v| (common, v))
    })
}

/// A value from the environment as a message may show it: bounded.
fn shown(v: &str) -> String {
    let t: String = v.chars().take(40).collect();
    format!("{t:?}")
}

/// `--protocol` and `OTEL_EXPORTER_OTLP_PROTOCOL`, case-insensitive.
fn parse_protocol(v: &str) -> Result<Protocol, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Ok(Protocol::HttpJson),
        "grpc" => Ok(Protocol::Grpc),
        _ => Err("expected http/protobuf, http/json or grpc".to_string()),
    }
}

/// Each signal's protocol; a bad variable is warned about and the default
/// used, as the OTel SDKs do.
fn protocols(a: &SendArgs, warnings: &mut Vec<String>) -> Result<PerSignal<Protocol>, UsageError> {
    let mut protocols = [Protocol::default(); 3];
    for (i, name) in NAMES.iter().enumerate() {
        protocols[i] = match (&a.protocol, signal_var(name, "PROTOCOL")) {
            (Some(p), _) => parse_protocol(p).map_err(|e| usage(format!("--protocol {p:?}: {e}")))?,
            (None, Some((k, v))) => parse_protocol(&v).unwrap_or_else(|e| {
                warnings.push(format!("ignoring {k}={}: {e}; using http/protobuf", shown(&v)));
                Protocol::default()
            }),
            (None, None) => Protocol::default(),
        };
    }
    Ok(protocols)
}

/// Each signal's compression (gzip by default).
fn compressions(a: &SendArgs, warnings: &mut Vec<String>) -> PerSignal<Compression> {
    NAMES.map(|name| match (a.compression, signal_var(name, "COMPRESSION")) {
        (Some(CompressionArg::Gzip), _) => Compression::Gzip,
        (Some(CompressionArg::Zstd), _) => Compression::Zstd,
        (Some(CompressionArg::None), _) => Compression::None,
        (None, Some((k, v))) => match v.trim().to_ascii_lowercase().as_str() {
            "gzip" => Compression::Gzip,
            "zstd" => Compression::Zstd,
            "none" => Compression::None,
            _ => {
                warnings.push(format!(
                    "ignoring {k}={}: expected gzip, zstd or none; using gzip",
                    shown(&v)
                ));
                Compression::Gzip
            }
        },
        (None, None) => Compression::Gzip,
    })
}

/// Each signal's URL: `--endpoint`, else the signal's own variable (a full
/// URL), else the base variable. A base URL gets /v1/<signal> appended;
/// for gRPC it is the server's URL, the same for every signal, plaintext
/// without a scheme under `--insecure`. Also warns of the usual port
/// mix-up. Without any, only a dry run goes on.
fn endpoints(
    a: &SendArgs,
    protocols: &PerSignal<Protocol>,
    warnings: &mut Vec<String>,
) -> Result<PerSignal<String>, ConfigError> {
    let mut endpoints: PerSignal<String> = Default::default();
    let mut missing = Vec::new();
    for (i, sig) in Signal::ALL.map(Signal::name).iter().enumerate() {
        let insecure = a.insecure
            || signal_var(NAMES[i], "INSECURE").is_some_and(|(k, v)| {
                let v = v.trim();
                if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                    // As the OTel specification asks of a boolean variable.
                    warnings.push(format!(
                        "ignoring {k}={}: expected true or false; using false",
                        shown(v)
                    ));
                }
                v.eq_ignore_ascii_case("true")
            });
        let grpc = protocols[i] == Protocol::Grpc;
        let server = |from: &str, b: &str| grpc_server(from, b, insecure);
        let base = |from: &str, b: &str| {
            if grpc {
                server(from, b)
            } else {
                http_base(from, b, sig)
            }
        };
        let own = format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", NAMES[i]);
        endpoints[i] = match (&a.endpoint, env(&own), env("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            (Some(e), _, _) => base("--endpoint", e)?,
            (None, Some(e), _) if grpc => server(&own, &e)?,
            (None, Some(e), _) => check_url(&own, &e)?,
            (None, None, Some(e)) => base("OTEL_EXPORTER_OTLP_ENDPOINT", &e)?,
            (None, None, None) => {
                missing.push((*sig, own));
                String::new()
            }
        };
        if let Some(w) = port_mixup(&endpoints[i], protocols[i]) {
            warnings.push(w);
        }
    }
    if !missing.is_empty() && !a.dry_run {
        let (sigs, vars): (Vec<&str>, Vec<String>) = missing.into_iter().unzip();
        return Err(usage(format!(
            "no endpoint for {}: pass --endpoint URL (such as http://localhost:4318), or set \
             OTEL_EXPORTER_OTLP_ENDPOINT, or {}",
            sigs.join(", "),
            vars.join(" and ")
        ))
        .into());
    }
    Ok(endpoints)
}

/// A gRPC server's URL, from `from` (a flag or a variable).
fn grpc_server(from: &str, b: &str, insecure: bool) -> Result<String, UsageError> {
    let b = b.trim();
    if b.is_empty() || b.contains(char::is_whitespace) {
        return Err(usage(format!(
            "{from} {}: expected a gRPC server URL, such as http://localhost:4317",
            redact_url(b)
        )));
    }
    let url = grpc_server_url(b, insecure);
    valid_uri(from, &url)?;
    Ok(url)
}

/// An OTLP/HTTP base URL with `/v1/<sig>` appended; one that already ends
/// in a signal's path is refused with the fix.
fn http_base(from: &str, b: &str, sig: &str) -> Result<String, UsageError> {
    let b = check_url(from, b)?;
    let trimmed = b.trim_end_matches('/');
    if let Some(s) = Signal::ALL
        .map(Signal::name)
        .iter()
        .find(|s| trimmed.ends_with(&format!("/v1/{s}")))
    {
        return Err(usage(format!(
            "{from} {}: a base URL gets /v1/logs, /v1/traces and /v1/metrics appended; drop the /v1/{s} \
             (or set OTEL_EXPORTER_OTLP_{}_ENDPOINT for one signal's full URL)",
            redact_url(&b),
            s.to_ascii_uppercase()
        )));
    }
    Ok(format!("{trimmed}/v1/{sig}"))
}

/// The usual mix-up: OTLP/HTTP listens on 4318, OTLP/gRPC on 4317.
fn port_mixup(endpoint: &str, protocol: Protocol) -> Option<String> {
    let port = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .split('/')
        .next()
        .unwrap_or("")
        .rsplit(':')
        .next();
    // Named by scheme, host and port: the same line for every signal.
    let shown = redact_url(endpoint);
    let origin = match shown.find("://") {
        Some(i) => shown[i + 3..].find('/').map_or(&*shown, |j| &shown[..i + 3 + j]),
        None => shown.split('/').next().unwrap_or(&shown),
    };
    match (protocol, port) {
        (Protocol::Grpc, Some("4318")) => Some(format!(
            "{origin} uses port 4318, where OTLP/HTTP usually listens; OTLP/gRPC is on 4317 (or pass --protocol http/protobuf)"
        )),
        (Protocol::HttpProtobuf | Protocol::HttpJson, Some("4317")) => Some(format!(
            "{origin} uses port 4317, where OTLP/gRPC usually listens; OTLP/HTTP is on 4318 (or pass --protocol grpc)"
        )),
        _ => None,
    }
}

/// Each signal's headers: the base variable, the signal's own, then the
/// flags; a later one replaces an earlier one of the same name.
fn headers(a: &SendArgs, warnings: &mut Vec<String>) -> Result<PerSignal<Vec<(String, String)>>, UsageError> {
    let mut flags = Vec::new();
    for (n, h) in a.headers.iter().enumerate() {
        let which = if a.headers.len() > 1 {
            format!(" (the {})", ordinal(n + 1))
        } else {
            String::new()
        };
        flags.push(parse_header_flag(h).map_err(|e| usage(format!("--header{which}: {e}")))?);
    }
    let mut from_env = |var: &str| match env(var) {
        Some(v) => {
            let (ok, bad) = parse_headers(&v);
            warnings.extend(bad.into_iter().map(|b| format!("{var}: {b}; that entry is ignored")));
            ok
        }
        None => Vec::new(),
    };
    let common = from_env("OTEL_EXPORTER_OTLP_HEADERS");
    let own = NAMES.map(|name| from_env(&format!("OTEL_EXPORTER_OTLP_{name}_HEADERS")));
    Ok(own.map(|own| {
        let mut h: Vec<(String, String)> = Vec::new();
        for (k, v) in common.iter().chain(&own).chain(&flags) {
            h.retain(|(k2, _)| !k2.eq_ignore_ascii_case(k));
            h.push((k.clone(), v.clone()));
        }
        h
    }))
}

/// `1` -> `1st`, `2` -> `2nd`: which of several flags.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Each signal's TLS material: the flag, else the signal's own variable,
/// else the common one; read and checked now, before anything is sent.
fn tls(a: &SendArgs) -> Result<PerSignal<Tls>, UsageError> {
    let mut tls: PerSignal<Tls> = Default::default();
    for (i, name) in NAMES.iter().enumerate() {
        let file = |flag: &str, given: &Option<PathBuf>, base: &str| match given {
            Some(p) => Some((flag.to_string(), p.clone())),
            None => signal_var(name, base).map(|(k, v)| (k, PathBuf::from(v))),
        };
        let files = TlsFiles {
            ca: file("--certificate", &a.certificate, "CERTIFICATE"),
            client_cert: file("--client-certificate", &a.client_certificate, "CLIENT_CERTIFICATE"),
            client_key: file("--client-key", &a.client_key, "CLIENT_KEY"),
        };
        tls[i] = files.load().map_err(usage)?;
    }
    Ok(tls)
}

/// Seconds from a flag: more than 0, at most [`MAX_SECONDS`].
fn seconds(flag: &str, v: f64) -> Result<Duration, UsageError> {
    if v.is_finite() && v > 0.0 && v <= MAX_SECONDS as f64 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(usage(format!(
            "{flag} {v}: expected seconds, more than 0 and at most {MAX_SECONDS}"
        )))
    }
}

/// `--timeout` in seconds, else `OTEL_EXPORTER_OTLP_TIMEOUT` in
/// milliseconds (capped, as the flag is), else 10 s.
fn timeout(a: &SendArgs, warnings: &mut Vec<String>) -> Result<Duration, UsageError> {
    Ok(match (a.timeout, env("OTEL_EXPORTER_OTLP_TIMEOUT")) {
        (Some(t), _) => seconds("--timeout", t)?,
        (None, Some(ms)) => match ms.trim().parse::<u64>() {
            Ok(ms) if ms > 0 && ms <= MAX_SECONDS * 1000 => Duration::from_millis(ms),
            Ok(ms) if ms > 0 => {
                warnings.push(format!(
                    "OTEL_EXPORTER_OTLP_TIMEOUT={ms}: more than {MAX_SECONDS} s; using {MAX_SECONDS} s"
                ));
                Duration::from_secs(MAX_SECONDS)
            }
            _ => {
                warnings.push(format!(
                    "ignoring OTEL_EXPORTER_OTLP_TIMEOUT={ms:?}: expected milliseconds; using 10 s"
                ));
                DEFAULT_TIMEOUT
            }
        },
        (None, None) => DEFAULT_TIMEOUT,
    })
}
