//! `send` over every OTLP transport against the Collector's own receiver
//! (SPEC §10.2, §10.7): OTLP/gRPC with each compression, TLS with a private
//! CA, mTLS, a local CONNECT proxy, and the failures no retry can fix.
//! Each delivery is judged by the records the receiver decoded, against
//! `export --format otlp` of the same range.

mod common;

use std::time::{Duration, Instant};

use common::peers::*;
use common::proxy::Proxy;
use common::tls::Pki;
use common::*;
use serde_json::Value;

const HANG: Duration = Duration::from_secs(120);
const MAX_BODY: u64 = 20 << 20;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn summary_of(o: &std::process::Output) -> Value {
    json(&o.stdout)
}

/// A small real-mix store and what its export holds.
fn store() -> (Store, Records) {
    let (store, _) = real_mix_store("400KB", &[]);
    let want = exported(&[store.path()], &[]);
    assert!(!want.logs.is_empty() && !want.spans.is_empty() && !want.points.is_empty());
    (store, want)
}

#[test]
fn grpc_with_every_compression_delivers_every_record_exactly_once() {
    let (store, want) = store();
    for compression in ["gzip", "zstd", "none"] {
        let rx = Receiver::with(ReceiverOptions::new(MAX_BODY).no_http().grpc());
        // A scheme-less endpoint with --insecure is plaintext gRPC.
        let endpoint = rx.grpc_url().trim_start_matches("http://").to_string();
        let o = send_cmd(
            store.path(),
            &["--protocol", "grpc", "--insecure", "--endpoint", &endpoint],
        )
        .args(["--compression", compression, "--max-request-bytes", "64KiB"])
        .timeout(HANG)
        .output()
        .unwrap();
        assert!(o.status.success(), "{compression}: {}", text(&o.stderr));
        let summary = summary_of(&o);
        assert_eq!(summary["delivery"]["protocol"], "grpc");
        assert!(total(&summary, "requests") > 3, "{summary}");
        let (got, _) = rx.stop();
        assert_same(&got, &want, &format!("grpc {compression}"));
    }
}

#[test]
fn every_protocol_over_tls_with_a_private_ca_delivers_every_record() {
    let (store, want) = store();
    let pki = Pki::new();
    let ca = pki.ca.to_str().unwrap();
    for protocol in ["http/protobuf", "http/json", "grpc"] {
        let rx = Receiver::with(ReceiverOptions::new(MAX_BODY).grpc().tls(&pki));
        let url = if protocol == "grpc" { rx.grpc_url() } else { rx.url() };
        assert!(url.starts_with("https://"), "{url}");
        let o = send_cmd(
            store.path(),
            &["--protocol", protocol, "--endpoint", &url, "--certificate", ca],
        )
        .timeout(HANG)
        .output()
        .unwrap();
        assert!(o.status.success(), "{protocol}: {}", text(&o.stderr));
        let (got, _) = rx.stop();
        assert_same(&got, &want, &format!("{protocol} over TLS"));
    }
}

#[test]
fn the_ca_may_come_from_the_otel_variable_per_signal() {
    let (store, want) = store();
    let pki = Pki::new();
    let rx = Receiver::with(ReceiverOptions::new(MAX_BODY).tls(&pki));
    let o = send_cmd(store.path(), &["--endpoint", &rx.url()])
        .env("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.ca)
        .timeout(HANG)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (got, _) = rx.stop();
    assert_same(&got, &want, "the CA from OTEL_EXPORTER_OTLP_CERTIFICATE");
}

#[test]
fn an_unknown_ca_fails_at_once_in_words_not_retried() {
    let s = one_log_store();
    let pki = Pki::new();
    for protocol in ["http/protobuf", "grpc"] {
        let rx = Receiver::with(ReceiverOptions::new(MAX_BODY).grpc().tls(&pki));
        let url = if protocol == "grpc" { rx.grpc_url() } else { rx.url() };
        let started = Instant::now();
        // The system roots, or another CA: neither knows the server's.
        for extra in [vec![], vec!["--certificate", pki.other_ca.to_str().unwrap()]] {
            let o = send_cmd(s.path(), &["--protocol", protocol, "--endpoint", &url])
                .args(&extra)
                .timeout(HANG)
                .output()
                .unwrap();
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{protocol}: {err}");
            assert!(err.contains("TLS") && err.contains("trusted CA"), "{protocol}: {err}");
            assert!(
                !err.contains("Other(") && !err.contains("Error {"),
                "no debug dump: {err}"
            );
            assert_eq!(total(&summary_of(&o), "retried"), 0, "{protocol}: not retried");
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{protocol}: at once");
        let (got, _) = rx.stop();
        assert!(got.logs.is_empty());
    }
}

#[test]
fn mtls_delivers_with_the_client_certificate_and_fails_at_once_without() {
    let (store, want) = store();
    let pki = Pki::new();
    let (ca, cert, key) = (
        pki.ca.to_str().unwrap(),
        pki.client_cert.to_str().unwrap(),
        pki.client_key.to_str().unwrap(),
    );
    for protocol in ["http/protobuf", "grpc"] {
        let rx = Receiver::with(ReceiverOptions::new(MAX_BODY).grpc().mtls(&pki));
        let url = if protocol == "grpc" { rx.grpc_url() } else { rx.url() };
        let o = send_cmd(
            store.path(),
            &["--protocol", protocol, "--endpoint", &url, "--certificate", ca],
        )
        .args(["--client-certificate", cert, "--client-key", key])
        .timeout(HANG)
        .output()
        .unwrap();
        assert!(o.status.success(), "{protocol}: {}", text(&o.stderr));
        let started = Instant::now();
        let o = send_cmd(
            store.path(),
            &["--protocol", protocol, "--endpoint", &url, "--certificate", ca],
        )
        .args(["--max-elapsed", "20"])
        .timeout(HANG)
        .output()
        .unwrap();
        assert_eq!(o.status.code(), Some(1), "{protocol}: {}", text(&o.stderr));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{protocol}: refused at once"
        );
        let (got, _) = rx.stop();
        assert_same(
            &got,
            &want,
            &format!("{protocol} mTLS: only the run with the certificate"),
        );
    }
}

#[test]
fn bad_tls_files_are_usage_errors_before_anything_is_sent() {
    let s = one_log_store();
    let pki = Pki::new();
    let srv = Scripted::start(vec![reply(200, "{}")]);
    let url = srv.url();
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not PEM at all").unwrap();
    let cert = pki.client_cert.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--certificate", "/nonexistent/ca.pem"], "/nonexistent/ca.pem"),
        (vec!["--certificate", junk.to_str().unwrap()], "holds no certificate"),
        (vec!["--client-certificate", cert], "needs --client-key"),
        (
            vec![
                "--client-certificate",
                cert,
                "--client-key",
                pki.mismatched_key.to_str().unwrap(),
            ],
            "does not fit",
        ),
    ];
    for (args, what) in cases {
        let o = send_cmd(s.path(), &["--endpoint", &url]).args(&args).output().unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(what), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(srv.seen().is_empty(), "nothing was sent");
}

#[test]
fn every_protocol_goes_through_the_proxy_the_environment_names_unless_no_proxy() {
    let (store, want) = store();
    let pki = Pki::new();
    let ca = pki.ca.to_str().unwrap();
    for (protocol, tls) in [
        ("http/protobuf", false),
        ("http/json", true),
        ("grpc", true),
        ("grpc", false),
    ] {
        let mut opts = ReceiverOptions::new(MAX_BODY).grpc();
        if tls {
            opts = opts.tls(&pki);
        }
        let rx = Receiver::with(opts);
        let proxy = Proxy::start();
        let url = if protocol == "grpc" { rx.grpc_url() } else { rx.url() };
        let var = if tls { "HTTPS_PROXY" } else { "http_proxy" };
        let o = send_cmd(
            store.path(),
            &["--protocol", protocol, "--endpoint", &url, "--certificate", ca],
        )
        .env(var, proxy.url())
        .timeout(HANG)
        .output()
        .unwrap();
        let what = format!("{protocol} tls={tls} via {var}");
        assert!(o.status.success(), "{what}: {}", text(&o.stderr));
        assert!(proxy.tunnels() + proxy.forwarded() > 0, "{what}: the proxy carried it");
        let port = url.rsplit(':').next().unwrap().to_string();
        assert!(
            proxy.targets().iter().all(|t| t.ends_with(&port)),
            "{what}: {:?}",
            proxy.targets()
        );
        // NO_PROXY: straight to the receiver.
        let quiet = Proxy::start();
        let o = send_cmd(
            store.path(),
            &["--protocol", protocol, "--endpoint", &url, "--certificate", ca],
        )
        .env(var, quiet.url())
        .env("NO_PROXY", "localhost,127.0.0.1")
        .timeout(HANG)
        .output()
        .unwrap();
        assert!(o.status.success(), "{what}: {}", text(&o.stderr));
        assert!(quiet.targets().is_empty(), "{what}: NO_PROXY bypasses it");
        let (got, _) = rx.stop();
        let twice = Records {
            logs: [want.logs.clone(), want.logs.clone()].concat(),
            spans: [want.spans.clone(), want.spans.clone()].concat(),
            points: [want.points.clone(), want.points.clone()].concat(),
        };
        let mut sorted = twice;
        sorted.logs.sort();
        sorted.spans.sort();
        sorted.points.sort();
        assert_same(&got, &sorted, &what);
    }
}

#[test]
fn a_grpc_endpoint_not_yet_up_is_retried_until_it_is() {
    let (store, want) = store();
    let port = free_port();
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        Receiver::with(ReceiverOptions::new(MAX_BODY).no_http().grpc_port(port))
    });
    let o = send_cmd(
        store.path(),
        &["--protocol", "grpc", "--endpoint", &format!("http://127.0.0.1:{port}")],
    )
    .timeout(HANG)
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(total(&summary_of(&o), "retried") >= 1);
    let (got, _) = late.join().unwrap().stop();
    assert_same(&got, &want, "after the retries");
}

#[test]
fn a_grpc_message_over_the_servers_limit_is_halved_until_every_record_is_delivered() {
    let (store, want) = store();
    // The receiver takes messages of at most 1 MiB; requests are cut at 4 MiB of JSON.
    let rx = Receiver::with(
        ReceiverOptions::new(MAX_BODY)
            .no_http()
            .grpc()
            .grpc_max_recv_msg_size_mib(1),
    );
    let big = real_mix_store("3MB", &[]).0;
    let o = send_cmd(big.path(), &["--protocol", "grpc", "--endpoint", &rx.grpc_url()])
        .args(["--compression", "none", "--max-request-bytes", "8MiB"])
        .timeout(HANG)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let dry = send_cmd(
        big.path(),
        &["--protocol", "grpc", "--dry-run", "--max-request-bytes", "8MiB"],
    )
    .output()
    .unwrap();
    let (sent, whole) = (total(&summary_of(&o), "requests"), total(&summary_of(&dry), "requests"));
    assert!(
        sent > whole,
        "requests were halved: {sent} acknowledged, {whole} before halving"
    );
    let (got, _) = rx.stop();
    assert_same(&got, &exported(&[big.path()], &[]), "halved for RESOURCE_EXHAUSTED");
    drop((store, want));
}

/// An OTLP/HTTP send to a gRPC port (4317 for 4318) fails at once, saying
/// to use --protocol grpc, instead of retrying a reply no retry can read.
#[test]
fn http_to_a_grpc_port_fails_at_once_and_names_protocol_grpc() {
    let (store, _) = store();
    let rx = Receiver::with(ReceiverOptions::new(MAX_BODY).no_http().grpc());
    let o = send_cmd(
        store.path(),
        &["--protocol", "http/protobuf", "--endpoint", &rx.grpc_url()],
    )
    .timeout(HANG)
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("use --protocol grpc"), "{err}");
    // The first such failure stops the send (a request whose connection
    // the server dropped first may have been retried once meanwhile).
    let summary = summary_of(&o);
    let stopped = summary["delivery"]["stopped"].as_str().unwrap_or_default();
    assert!(stopped.contains("use --protocol grpc"), "{summary}");
    assert_eq!(total(&summary, "requests"), 0, "{summary}");
}

/// The other way round: gRPC to an OTLP/HTTP port fails at once and says
/// to use --protocol http/protobuf.
#[test]
fn grpc_to_an_http_port_fails_at_once_and_names_protocol_http() {
    let (store, _) = store();
    let rx = Receiver::with(ReceiverOptions::new(MAX_BODY));
    let o = send_cmd(store.path(), &["--protocol", "grpc", "--endpoint", &rx.url()])
        .timeout(HANG)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("use --protocol http/protobuf"), "{err}");
    let summary = summary_of(&o);
    let stopped = summary["delivery"]["stopped"].as_str().unwrap_or_default();
    assert!(stopped.contains("use --protocol http/protobuf"), "{summary}");
}

/// TLS to a plaintext port fails at once, in words, with the fix.
#[test]
fn tls_to_a_plaintext_port_fails_at_once_naming_the_fix() {
    let (store, _) = store();
    let rx = Receiver::with(ReceiverOptions::new(MAX_BODY).grpc());
    for (protocol, url) in [
        ("http/protobuf", rx.url().replacen("http://", "https://", 1)),
        ("grpc", rx.grpc_url().trim_start_matches("http://").to_string()),
    ] {
        let o = send_cmd(store.path(), &["--protocol", protocol, "--endpoint", &url])
            .timeout(HANG)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{protocol}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains("did not answer in TLS"), "{protocol}: {err}");
        let summary = summary_of(&o);
        let stopped = summary["delivery"]["stopped"].as_str().unwrap_or_default();
        assert!(stopped.contains("did not answer in TLS"), "{protocol}: {summary}");
    }
}
