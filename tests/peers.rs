//! The peers of the `send` tests, tested with real clients (curl, openssl)
//! before they judge anything: the Collector's receiver (`tests/otlp-receiver`)
//! over OTLP/HTTP and OTLP/gRPC, in plain text, TLS with a private CA and
//! mTLS; the private CA itself (`common::tls`); and the CONNECT proxy
//! (`common::proxy`). gRPC is spoken by curl over HTTP/2 (a unary call is
//! one POST of a length-prefixed protobuf message, its status in the
//! trailers). Nothing here is skipped: the receiver is built on first use,
//! and a missing curl or openssl fails the test.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};

use common::peers::*;
use common::proxy::{Kind, Proxy};
use common::tls::Pki;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

/// A logs request of `n` records, each with its own body and time.
fn logs_request(n: u64) -> ExportLogsServiceRequest {
    let s = |v: &str| {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_string())),
        })
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: s("peers-test"),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "peers".into(),
                    version: "1".into(),
                    ..Default::default()
                }),
                log_records: (0..n)
                    .map(|i| LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000 + i,
                        severity_number: 9,
                        severity_text: "INFO".into(),
                        body: s(&format!("record {i}")),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// What the receiver must have decoded from `req`, by the same oracle the
/// `send` tests use.
fn records_of(req: &ExportLogsServiceRequest) -> Records {
    flatten(&[serde_json::to_vec(req).unwrap()], &[], &[])
}

/// The gRPC framing of one message: uncompressed flag, big-endian length, bytes.
fn grpc_frame(req: &impl Message) -> Vec<u8> {
    let body = req.encode_to_vec();
    let mut f = vec![0u8];
    f.extend_from_slice(&(body.len() as u32).to_be_bytes());
    f.extend_from_slice(&body);
    f
}

/// Runs curl with `args` (silent, errors shown, 20 s at most), blind to
/// the environment's proxy settings (a proxy is only ever `-x`).
fn curl(args: &[&str]) -> Output {
    let mut c = Command::new("curl");
    for v in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
        c.env_remove(v).env_remove(v.to_ascii_uppercase());
    }
    c.args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("run curl (the peers' tests need it)")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// POSTs `req` as OTLP/HTTP protobuf to `url`/v1/logs with curl and `extra`
/// arguments; returns curl's output (stdout: the HTTP status, then the body).
fn post_logs(url: &str, req: &ExportLogsServiceRequest, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.bin");
    std::fs::write(&body, req.encode_to_vec()).unwrap();
    let data = format!("@{}", s(&body));
    let target = format!("{url}/v1/logs");
    let mut args = vec![
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Content-Type: application/x-protobuf",
        "--data-binary",
        &data,
    ];
    args.extend_from_slice(extra);
    args.push(&target);
    curl(&args)
}

/// Asserts curl got HTTP 200.
#[track_caller]
fn assert_200(o: &Output) {
    assert!(
        o.status.success() && o.stdout == b"200",
        "curl: {:?}, status {:?}, stderr {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Asserts curl failed with one of `codes`, before any HTTP response.
#[track_caller]
fn assert_curl_fails(o: &Output, codes: &[i32], what: &str) {
    let code = o.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code) && (o.stdout.is_empty() || o.stdout == b"000"),
        "{what}: curl exited {code} (want one of {codes:?}), stdout {:?}, stderr {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Makes one unary gRPC `LogsService/Export` call with curl over HTTP/2
/// (`--http2-prior-knowledge` for `http://`, ALPN for `https://`); returns
/// the `grpc-status` the server sent (None when there was none) and
/// curl's output.
fn grpc_export(url: &str, req: &ExportLogsServiceRequest, extra: &[&str]) -> (Option<String>, Output) {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("frame.bin");
    let headers = dir.path().join("headers.txt");
    std::fs::write(&body, grpc_frame(req)).unwrap();
    let data = format!("@{}", s(&body));
    let target = format!("{url}/opentelemetry.proto.collector.logs.v1.LogsService/Export");
    let h2 = if url.starts_with("https://") {
        "--http2"
    } else {
        "--http2-prior-knowledge"
    };
    let mut args = vec![
        h2,
        "-o",
        "/dev/null",
        "-D",
        s(&headers),
        "-H",
        "Content-Type: application/grpc",
        "-H",
        "TE: trailers",
        "--data-binary",
        &data,
    ];
    args.extend_from_slice(extra);
    args.push(&target);
    let o = curl(&args);
    // curl writes the trailers after the headers, where gRPC puts its status.
    let status = std::fs::read_to_string(&headers).ok().and_then(|h| {
        h.lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case("grpc-status"))
            .map(|(_, v)| v.trim().to_string())
            .next_back()
    });
    (status, o)
}

#[track_caller]
fn assert_counts(counts: &serde_json::Value, requests: u64, records: u64) {
    assert_eq!(counts["logs_requests"], requests, "{counts}");
    assert_eq!(counts["log_records"], records, "{counts}");
    assert_eq!(counts["traces_requests"], 0, "{counts}");
    assert_eq!(counts["metrics_requests"], 0, "{counts}");
}

// ---- the receiver ---------------------------------------------------------

#[test]
fn plain_receiver_decodes_http_and_grpc_requests() {
    let rx = Receiver::with(ReceiverOptions::new(20 << 20).grpc());
    assert!(rx.url().starts_with("http://127.0.0.1:"));
    assert!(rx.grpc_url().starts_with("http://127.0.0.1:"));
    let (a, b) = (logs_request(3), logs_request(2));
    assert_200(&post_logs(&rx.url(), &a, &[]));
    let (status, o) = grpc_export(&rx.grpc_url(), &b, &[]);
    assert_eq!(status.as_deref(), Some("0"), "gRPC OK; curl: {o:?}");
    let (got, counts) = rx.stop();
    assert_counts(&counts, 2, 5);
    // Exactly the records sent, by both protocols.
    let mut want = records_of(&a);
    want.logs.extend(records_of(&b).logs);
    want.logs.sort();
    assert_same(&got, &want, "plain HTTP and gRPC");
    assert_eq!(got.logs.len(), 5);
}

#[test]
fn the_old_constructors_still_serve_plain_http_only() {
    let rx = Receiver::start(20 << 20).expect("always built");
    assert_eq!(rx.grpc_port, None);
    assert!(!rx.tls);
    let req = logs_request(1);
    assert_200(&post_logs(&rx.url(), &req, &[]));
    let (got, counts) = rx.stop();
    assert_counts(&counts, 1, 1);
    assert_same(&got, &records_of(&req), "Receiver::start");
}

#[test]
fn a_receiver_body_over_the_limit_is_refused_whole() {
    // The Collector (v0.165.0) answers an over-limit OTLP/HTTP body 400
    // "request body too large" (http.MaxBytesReader), not 413: what `send`
    // must expect from a real Collector.
    let rx = Receiver::with(ReceiverOptions::new(1024));
    let dir = tempfile::tempdir().unwrap();
    let (body, answer) = (dir.path().join("body.bin"), dir.path().join("answer.txt"));
    std::fs::write(&body, logs_request(200).encode_to_vec()).unwrap();
    let o = curl(&[
        "-o",
        s(&answer),
        "-w",
        "%{http_code}",
        "-H",
        "Content-Type: application/x-protobuf",
        "--data-binary",
        &format!("@{}", s(&body)),
        &format!("{}/v1/logs", rx.url()),
    ]);
    let answer = String::from_utf8_lossy(&std::fs::read(&answer).unwrap()).into_owned();
    assert_eq!(o.stdout, b"400", "{o:?} {answer}");
    assert!(answer.contains("request body too large"), "{answer}");
    // Under the limit it is accepted.
    assert_200(&post_logs(&rx.url(), &logs_request(1), &[]));
    let (_, counts) = rx.stop();
    assert_counts(&counts, 1, 1);
}

#[test]
fn a_grpc_message_over_the_limit_is_resource_exhausted() {
    let rx = Receiver::with(
        ReceiverOptions::new(20 << 20)
            .no_http()
            .grpc()
            .grpc_max_recv_msg_size_mib(1),
    );
    let mut big = logs_request(1);
    big.resource_logs[0].scope_logs[0].log_records[0].body = Some(AnyValue {
        value: Some(any_value::Value::StringValue("x".repeat(1 << 20))),
    });
    let (status, o) = grpc_export(&rx.grpc_url(), &big, &[]);
    // 8: RESOURCE_EXHAUSTED, without RetryInfo. grpc-go answers as soon as
    // it has read the length prefix and resets the stream; curl, still
    // uploading, then mostly reports only the reset (92) and drops the
    // trailers it got. Either way nothing is delivered (counted below).
    assert!(
        status.as_deref() == Some("8") || (status.is_none() && o.status.code() == Some(92)),
        "{status:?} {o:?}"
    );
    let small = logs_request(2);
    let (status, o) = grpc_export(&rx.grpc_url(), &small, &[]);
    assert_eq!(status.as_deref(), Some("0"), "{o:?}");
    let (got, counts) = rx.stop();
    assert_counts(&counts, 1, 2);
    assert_same(&got, &records_of(&small), "under the limit");
}

#[test]
fn grpc_only_receiver() {
    let rx = Receiver::with(ReceiverOptions::new(20 << 20).no_http().grpc());
    assert_eq!(rx.port, 0);
    let req = logs_request(4);
    let (status, o) = grpc_export(&rx.grpc_url(), &req, &[]);
    assert_eq!(status.as_deref(), Some("0"), "{o:?}");
    let (got, counts) = rx.stop();
    assert_counts(&counts, 1, 4);
    assert_same(&got, &records_of(&req), "gRPC only");
}

#[test]
fn the_receiver_refuses_bad_flags_with_a_message() {
    let bin = receiver_binary().unwrap();
    for (args, says) in [
        (vec!["-port", "0"], "needs -grpc-port"),
        (vec!["-tls-cert", "x.pem"], "go together"),
        (vec!["-client-ca", "ca.pem"], "needs -tls-cert"),
        (
            vec!["-tls-cert", "/nonexistent.pem", "-tls-key", "/nonexistent.key"],
            "nonexistent",
        ),
    ] {
        let port = free_port().to_string();
        let o = Command::new(&bin).args(["-port", &port]).args(&args).output().unwrap();
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(!o.status.success(), "{args:?}: {o:?}");
        assert!(!out.contains("ready"), "{args:?}: {out}");
        assert!(err.contains("otlp-receiver:") && err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn tls_receiver_serves_both_protocols_to_a_client_that_trusts_the_private_ca() {
    let pki = Pki::new();
    let rx = Receiver::with(ReceiverOptions::new(20 << 20).grpc().tls(&pki));
    assert!(rx.url().starts_with("https://127.0.0.1:"));
    assert!(rx.grpc_url().starts_with("https://127.0.0.1:"));
    let (a, b) = (logs_request(2), logs_request(3));
    assert_200(&post_logs(&rx.url(), &a, &["--cacert", s(&pki.ca)]));
    // localhost is in the certificate too.
    let by_name = rx.url().replace("127.0.0.1", "localhost");
    assert_200(&post_logs(&by_name, &a, &["--cacert", s(&pki.ca)]));
    let (status, o) = grpc_export(&rx.grpc_url(), &b, &["--cacert", s(&pki.ca)]);
    assert_eq!(status.as_deref(), Some("0"), "gRPC over TLS; curl: {o:?}");

    // Not trusted: the system roots, the unrelated CA. 60: peer certificate cannot be authenticated.
    let system = post_logs(&rx.url(), &a, &[]);
    assert_curl_fails(&system, &[60], "the system roots");
    let other = post_logs(&rx.url(), &a, &["--cacert", s(&pki.other_ca)]);
    assert_curl_fails(&other, &[60], "the unrelated CA");
    let (status, o) = grpc_export(&rx.grpc_url(), &b, &["--cacert", s(&pki.other_ca)]);
    assert_eq!(status, None, "gRPC with the unrelated CA");
    assert_curl_fails(&o, &[60], "gRPC with the unrelated CA");
    // Plain text to a TLS port is no OTLP exchange.
    let plain = post_logs(&rx.url().replace("https", "http"), &a, &[]);
    assert!(plain.stdout != b"200", "{plain:?}");

    let (got, counts) = rx.stop();
    assert_counts(&counts, 3, 7);
    let mut want = records_of(&a);
    want.logs.extend(records_of(&a).logs);
    want.logs.extend(records_of(&b).logs);
    want.logs.sort();
    assert_same(&got, &want, "TLS");
}

#[test]
fn mtls_receiver_wants_a_client_certificate_from_its_ca() {
    let pki = Pki::new();
    let rx = Receiver::with(ReceiverOptions::new(20 << 20).grpc().mtls(&pki));
    let req = logs_request(2);
    let ca = ["--cacert", s(&pki.ca)];
    let with = |cert: &Path, key: &Path| {
        let mut v = ca.to_vec();
        v.extend(["--cert", s(cert), "--key", s(key)]);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    fn refs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    // Accepted: the client certificate of the same CA, over both protocols.
    let good = with(&pki.client_cert, &pki.client_key);
    assert_200(&post_logs(&rx.url(), &req, &refs(&good)));
    let (status, o) = grpc_export(&rx.grpc_url(), &req, &refs(&good));
    assert_eq!(status.as_deref(), Some("0"), "gRPC with mTLS; curl: {o:?}");

    // Refused in the handshake: no certificate, one of another CA. curl's
    // code depends on when it notices the server's alert (TLS 1.3 sends it
    // after the client's side of the handshake): 35 SSL connect error, 16
    // HTTP/2 or send failure, 55 failed sending, 56 failure receiving.
    const REFUSED: &[i32] = &[16, 35, 55, 56];
    let none = post_logs(&rx.url(), &req, &ca);
    assert_curl_fails(&none, REFUSED, "no client certificate");
    let (status, o) = grpc_export(&rx.grpc_url(), &req, &ca);
    assert_eq!(status, None, "gRPC without a client certificate: {o:?}");
    assert_curl_fails(&o, REFUSED, "gRPC without a client certificate");
    let other = with(&pki.other_client_cert, &pki.other_client_key);
    let o = post_logs(&rx.url(), &req, &refs(&other));
    assert_curl_fails(&o, REFUSED, "a client certificate of another CA");
    // The mismatched key is no key of the client certificate: the client
    // cannot even use them (58: problem with the local certificate).
    let bad = with(&pki.client_cert, &pki.mismatched_key);
    let o = post_logs(&rx.url(), &req, &refs(&bad));
    assert_curl_fails(&o, &[58], "a key that does not match its certificate");

    let (got, counts) = rx.stop();
    assert_counts(&counts, 2, 4);
    assert_eq!(got.logs.len(), 4);
}

#[test]
fn the_grpc_port_speaks_tls_with_h2_alpn() {
    // What a gRPC client's TLS layer sees, without curl's HTTP/2: openssl
    // verifies the chain against the private CA and gets h2 by ALPN.
    let pki = Pki::new();
    let rx = Receiver::with(ReceiverOptions::new(20 << 20).no_http().grpc().tls(&pki));
    let port = rx.grpc_port.unwrap();
    let o = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-alpn", "h2"])
        .args(["-verify_return_error", "-verify_ip", "127.0.0.1", "-CAfile", s(&pki.ca)])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openssl (the peers' tests need it)");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    assert!(text.contains("ALPN protocol: h2"), "{text}");
    // And the unrelated CA fails verification.
    let o = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-verify_return_error",
        ])
        .args(["-CAfile", s(&pki.other_ca)])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("Verify return code: 0 (ok)"),
        "{o:?}"
    );
}

// ---- the private CA ---------------------------------------------------------

#[test]
fn the_pki_files_are_what_they_say() {
    let pki = Pki::new();
    let verify = |ca: &Path, cert: &Path| {
        Command::new("openssl")
            .args(["verify", "-CAfile", s(ca), s(cert)])
            .output()
            .expect("run openssl")
            .status
            .success()
    };
    assert!(verify(&pki.ca, &pki.server_cert));
    assert!(verify(&pki.ca, &pki.client_cert));
    assert!(verify(&pki.other_ca, &pki.other_client_cert));
    assert!(!verify(&pki.other_ca, &pki.server_cert));
    assert!(!verify(&pki.ca, &pki.other_client_cert));
    // The public key of a certificate, and of a key.
    let pubkey = |args: &[&str]| {
        let o = Command::new("openssl").args(args).output().expect("run openssl");
        assert!(o.status.success(), "{o:?}");
        o.stdout
    };
    let cert_key = |c: &Path| pubkey(&["x509", "-noout", "-pubkey", "-in", s(c)]);
    let key_key = |k: &Path| pubkey(&["pkey", "-pubout", "-in", s(k)]);
    assert_eq!(cert_key(&pki.server_cert), key_key(&pki.server_key));
    assert_eq!(cert_key(&pki.client_cert), key_key(&pki.client_key));
    assert_eq!(cert_key(&pki.other_client_cert), key_key(&pki.other_client_key));
    assert_ne!(cert_key(&pki.client_cert), key_key(&pki.mismatched_key));
    // Each Pki is its own: two CAs never share a key.
    assert_ne!(cert_key(&pki.ca), cert_key(&Pki::new().ca));
    assert!(std::fs::read_to_string(&pki.ca)
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(std::fs::read_to_string(&pki.client_key)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
}

// ---- the proxy ---------------------------------------------------------------

#[test]
fn proxy_forwards_plain_http_in_origin_form() {
    let rx = Receiver::start(20 << 20).unwrap();
    let proxy = Proxy::start();
    let req = logs_request(3);
    assert_200(&post_logs(&rx.url(), &req, &["-x", &proxy.url()]));
    // And a JSON body, which curl (7.x) sends with Expect: 100-continue when large.
    let big = logs_request(300);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big.json");
    std::fs::write(&f, serde_json::to_vec(&big).unwrap()).unwrap();
    let o = curl(&[
        "-x",
        &proxy.url(),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &format!("@{}", s(&f)),
        &format!("{}/v1/logs", rx.url()),
    ]);
    assert_200(&o);
    let seen = proxy.seen();
    assert_eq!(proxy.forwarded(), 2, "{seen:?}");
    assert_eq!(proxy.tunnels(), 0, "{seen:?}");
    let target = format!("127.0.0.1:{}", rx.port);
    assert_eq!(proxy.targets(), vec![target.clone(), target]);
    assert!(seen
        .iter()
        .all(|t| t.kind == Kind::Forward && t.method == "POST" && t.path == "/v1/logs" && !t.refused));
    let (got, counts) = rx.stop();
    assert_counts(&counts, 2, 303);
    let mut want = records_of(&req);
    want.logs.extend(records_of(&big).logs);
    want.logs.sort();
    assert_same(&got, &want, "through the proxy");
}

#[test]
fn proxy_tunnels_tls_and_grpc_with_connect() {
    let pki = Pki::new();
    let rx = Receiver::with(ReceiverOptions::new(20 << 20).grpc().tls(&pki));
    let plain = Receiver::with(ReceiverOptions::new(20 << 20).no_http().grpc());
    let proxy = Proxy::start();
    let req = logs_request(2);
    let via = ["-x", &proxy.url(), "--cacert", s(&pki.ca)];
    assert_200(&post_logs(&rx.url(), &req, &via));
    let (status, o) = grpc_export(&rx.grpc_url(), &req, &via);
    assert_eq!(status.as_deref(), Some("0"), "gRPC over TLS through CONNECT: {o:?}");
    // Plain-text gRPC (h2c) goes through a tunnel too, as gRPC clients do.
    let (status, o) = grpc_export(&plain.grpc_url(), &req, &["-x", &proxy.url(), "--proxytunnel"]);
    assert_eq!(status.as_deref(), Some("0"), "h2c gRPC through CONNECT: {o:?}");
    let seen = proxy.seen();
    assert_eq!(proxy.tunnels(), 3, "{seen:?}");
    assert_eq!(proxy.forwarded(), 0, "{seen:?}");
    assert_eq!(
        proxy.targets(),
        vec![
            format!("127.0.0.1:{}", rx.port),
            format!("127.0.0.1:{}", rx.grpc_port.unwrap()),
            format!("127.0.0.1:{}", plain.grpc_port.unwrap()),
        ]
    );
    assert!(seen.iter().all(|t| t.method == "CONNECT" && t.path.is_empty()));
    let (_, counts) = rx.stop();
    assert_counts(&counts, 2, 4);
    let (_, counts) = plain.stop();
    assert_counts(&counts, 1, 2);
}

#[test]
fn proxy_connects_only_to_127_0_0_1() {
    let proxy = Proxy::start();
    let o = curl(&[
        "-x",
        &proxy.url(),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://192.0.2.1:4318/v1/logs",
    ]);
    assert_eq!(o.stdout, b"403", "{o:?}");
    let o = curl(&["-x", &proxy.url(), "https://example.com:443/"]);
    assert!(!o.status.success(), "{o:?}");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|t| t.refused), "{seen:?}");
    assert_eq!(proxy.targets(), vec!["192.0.2.1:4318", "example.com:443"]);
    assert_eq!((proxy.tunnels(), proxy.forwarded()), (0, 0));
    // A target that is local but closed: 502, counted as a request that went nowhere.
    let closed = free_port();
    let o = curl(&[
        "-x",
        &proxy.url(),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://127.0.0.1:{closed}/"),
    ]);
    assert_eq!(o.stdout, b"502", "{o:?}");
}

#[test]
fn proxy_records_proxy_credentials_and_stops_when_dropped() {
    let rx = Receiver::start(20 << 20).unwrap();
    let proxy = Proxy::start();
    let port = proxy.port;
    let url = format!("http://user:secret@127.0.0.1:{port}");
    assert_200(&post_logs(&rx.url(), &logs_request(1), &["-x", &url]));
    let seen = proxy.seen();
    assert!(
        seen[0]
            .headers
            .iter()
            .any(|(k, v)| k == "proxy-authorization" && v.starts_with("Basic ")),
        "{seen:?}"
    );
    // A tunnel left open is cut too.
    let mut open = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(open, "CONNECT 127.0.0.1:{} HTTP/1.1\r\nHost: x\r\n\r\n", rx.port).unwrap();
    let mut buf = [0u8; 64];
    let n = open.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    drop(proxy);
    open.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    assert_eq!(open.read(&mut buf).unwrap_or(0), 0, "the tunnel is closed");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the proxy's port is closed"
    );
}
