//! `send` against hostile and unlucky receivers (SPEC §10.2, §10.4, §10.5):
//! redirects, absurd Retry-After, 413 over a record count, always-5xx,
//! silence, partial success without a message, a full disk under the
//! journal, two sends on one journal, a journal reused elsewhere. Each test
//! is named after what once went wrong; resume exactness is judged by the
//! records the receivers hold, not by the counts in the summary.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::peers::*;
use common::*;
use serde_json::{json, Value};

/// A generous bound on any one command: the tests check events, not speed;
/// this only keeps a regression from hanging the suite.
const HANG: Duration = Duration::from_secs(120);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Journal lines after the first (one per acknowledged request).
fn journal_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every record the scripted server was sent (uncompressed bodies, JSON or
/// protobuf by their Content-Type), per signal, from the requests
/// `acknowledged` picks.
fn records_seen(seen: &[Seen], acknowledged: impl Fn(&Seen) -> bool) -> Records {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest as L;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest as M;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as T;
    use prost::Message;
    let (mut l, mut t, mut m) = (Vec::new(), Vec::new(), Vec::new());
    for s in seen.iter().filter(|s| acknowledged(s)) {
        let proto = s
            .headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.contains("protobuf"));
        let b = &s.body;
        let json = |v: serde_json::Result<Vec<u8>>| v.unwrap();
        match (s.path.as_str(), proto) {
            ("/v1/logs", true) => l.push(json(serde_json::to_vec(&L::decode(&b[..]).unwrap()))),
            ("/v1/traces", true) => t.push(json(serde_json::to_vec(&T::decode(&b[..]).unwrap()))),
            (_, true) => m.push(json(serde_json::to_vec(&M::decode(&b[..]).unwrap()))),
            ("/v1/logs", false) => l.push(b.clone()),
            ("/v1/traces", false) => t.push(b.clone()),
            _ => m.push(b.clone()),
        }
    }
    flatten(&l, &t, &m)
}

/// `a` and `b` together, as one multiset.
fn union(a: Records, b: Records) -> Records {
    let join = |mut x: Vec<String>, y: Vec<String>| {
        x.extend(y);
        x.sort();
        x
    };
    Records {
        logs: join(a.logs, b.logs),
        spans: join(a.spans, b.spans),
        points: join(a.points, b.points),
    }
}

fn count(r: &Records) -> u64 {
    (r.logs.len() + r.spans.len() + r.points.len()) as u64
}

// ---- 1. redirects ----------------------------------------------------------

#[test]
fn a_redirect_fails_at_once_and_no_header_reaches_the_host_it_points_to() {
    let s = one_log_store();
    for status in [301, 302, 307, 308] {
        let other = Scripted::start(vec![reply(200, "{}")]);
        let mut moved = reply(status, "");
        moved.headers.push(("Location", format!("{}/v1/logs", other.url())));
        let srv = Scripted::start(vec![moved]);
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j");
        let o = send_cmd(
            s.path(),
            &["--endpoint", &srv.url(), "--header", "x-honeycomb-team=SECRET-r3d"],
        )
        .arg("--journal")
        .arg(&journal)
        .timeout(HANG)
        .assert()
        .code(1);
        let (out, err) = (text(&o.get_output().stdout), text(&o.get_output().stderr));
        assert!(other.seen().is_empty(), "{status}: the redirect was followed");
        assert_eq!(srv.seen().len(), 1, "{status}: not retried");
        assert!(
            err.contains("redirect") && err.contains(&other.url()),
            "{status}: {err}"
        );
        assert!(!out.contains("SECRET") && !err.contains("SECRET"));
        assert!(journal_lines(&journal).is_empty(), "{status}: nothing is journalled");
        assert_eq!(per_signal(&json(out.as_bytes()), "failed_requests"), [1, 0, 0]);
    }
}

// ---- 2. Retry-After --------------------------------------------------------

#[test]
fn a_retry_after_of_u64_max_gives_up_at_once_instead_of_panicking_a_sender() {
    let s = one_log_store();
    for after in [
        "18446744073709551615",
        "99999999999999999999999",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let mut r = reply(503, "{}");
        r.headers.push(("Retry-After", after.to_string()));
        let srv = Scripted::start(vec![r]);
        let o = send_cmd(s.path(), &["--endpoint", &srv.url(), "--concurrency", "1"])
            .timeout(HANG)
            .assert()
            .code(1);
        let (out, err) = (text(&o.get_output().stdout), text(&o.get_output().stderr));
        assert!(!err.contains("panicked"), "{after}: {err}");
        assert_eq!(srv.seen().len(), 1, "{after}: given up without waiting");
        let summary = json(out.as_bytes());
        assert_eq!(per_signal(&summary, "failed_requests"), [1, 0, 0], "{after}: {summary}");
        assert!(err.contains("--max-elapsed"), "{after}: {err}");
    }
}

#[test]
fn a_negative_retry_after_is_ignored_and_the_backoff_used() {
    let s = one_log_store();
    let mut r = reply(503, "{}");
    r.headers.push(("Retry-After", "-3".to_string()));
    let srv = Scripted::start(vec![r, reply(200, "{}")]);
    let o = send_cmd(s.path(), &["--endpoint", &srv.url()])
        .timeout(HANG)
        .assert()
        .success();
    assert_eq!(per_signal(&json(&o.get_output().stdout), "records"), [1, 0, 0]);
    assert_eq!(srv.seen().len(), 2);
}

// ---- 3 and 4. secrets and headers -------------------------------------------

#[test]
fn a_curl_style_authorization_header_is_sent_and_its_value_never_printed() {
    let s = one_log_store();
    // The server echoes the credential back in its error message.
    let srv = Scripted::start(vec![reply(
        401,
        r#"{"message":"bad credentials: Basic dXNlcjpTRUNSRVQ="}"#,
    )]);
    let o = send_cmd(
        s.path(),
        &[
            "--endpoint",
            &srv.url(),
            "--header",
            "Authorization: Basic dXNlcjpTRUNSRVQ=",
        ],
    )
    .timeout(HANG)
    .assert()
    .code(1);
    let (out, err) = (text(&o.get_output().stdout), text(&o.get_output().stderr));
    assert!(srv.seen()[0]
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == "Basic dXNlcjpTRUNSRVQ="));
    assert!(err.contains("401") && err.contains("bad credentials"), "{err}");
    assert!(
        !out.contains("dXNlcjpTRUNSRVQ") && !err.contains("dXNlcjpTRUNSRVQ"),
        "{err}"
    );
}

#[test]
fn an_invalid_header_flag_is_refused_naming_its_key_never_its_value() {
    let s = one_log_store();
    for h in ["bad name: SECRET-v4l", "x-key=SECRET-v4l\u{7}", "SECRET-v4l"] {
        let o = send_cmd(s.path(), &["--endpoint", "http://127.0.0.1:9", "--header", h])
            .assert()
            .code(2);
        let err = text(&o.get_output().stderr);
        assert!(err.contains("--header"), "{err}");
        if h.starts_with("bad") {
            assert!(err.contains("bad name"), "{err}");
        }
        if h.starts_with("x-key") {
            assert!(err.contains("x-key"), "{err}");
        }
        // Not even a bare `--header TOKEN`: it may be the secret itself.
        assert!(!err.contains("SECRET"), "{h}: {err}");
    }
}

#[test]
fn a_malformed_otel_headers_entry_is_skipped_and_the_valid_api_key_still_sent() {
    let s = one_log_store();
    let srv = Scripted::start(vec![reply(200, "{}")]);
    let o = send_cmd(s.path(), &["--endpoint", &srv.url()])
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-honeycomb-team=SECRET-h7,x-honeycomb-dataset",
        )
        .timeout(HANG)
        .assert()
        .success();
    let err = text(&o.get_output().stderr);
    // A bare token may be the secret itself: named by its place, not echoed.
    assert!(
        err.contains("entry 2 has no '=value'") && err.contains("warning"),
        "{err}"
    );
    assert!(!err.contains("SECRET"), "{err}");
    assert!(srv.seen()[0]
        .headers
        .iter()
        .any(|(k, v)| k == "x-honeycomb-team" && v == "SECRET-h7"));
}

#[test]
fn a_password_with_a_slash_in_the_endpoint_is_never_printed() {
    let s = one_log_store();
    let port = free_port();
    for endpoint in [
        format!("http://user:pa/ss-w0rd@127.0.0.1:{port}"),
        format!("http://user:pass-w0rd@127.0.0.1:{port}"),
    ] {
        let o = send_cmd(s.path(), &["--endpoint", &endpoint, "--max-elapsed", "1"])
            .timeout(HANG)
            .output()
            .unwrap();
        assert_ne!(o.status.code(), Some(0));
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        assert!(!all.contains("w0rd"), "{endpoint}: {all}");
    }
}

// ---- 5. 413 halving and resume ----------------------------------------------

/// A receiver that answers 413 to bodies over `limit` bytes and 200 to the
/// rest, for `connections` connections; then its port closes and the send
/// stops (nothing acknowledged for --max-elapsed). The Collector's receiver
/// then takes the same port, and the resume (with another request size)
/// must deliver exactly the records the first one did not.
#[test]
fn a_resume_after_413_halving_sends_no_record_twice() {
    let (store, _) = real_mix_store("300KB", &[]);
    let want = exported(&[store.path()], &[]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let limit = 24 << 10;
    let first = Scripted::with(
        listener,
        Box::new(move |_, s| {
            if s.body.len() > limit {
                reply(413, r#"{"message":"too large"}"#)
            } else {
                reply(200, "{}")
            }
        }),
        30,
    );
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let endpoint = format!("http://127.0.0.1:{port}");
    // JSON bodies here: the 413 is decided by their size.
    let o = send_cmd(store.path(), &["--endpoint", &endpoint, "--compression", "none"])
        .args([
            "--protocol",
            "http/json",
            "--max-request-bytes",
            "40KiB",
            "--concurrency",
            "1",
            "--max-elapsed",
            "3",
            "--journal",
        ])
        .arg(&journal)
        .timeout(HANG)
        .assert()
        .code(1);
    let summary = json(&o.get_output().stdout);
    assert!(summary["delivery"]["stopped"].is_string(), "{summary}");
    let seen = first.seen();
    assert!(seen.iter().any(|s| s.body.len() > limit), "some requests were halved");
    let acked = records_seen(&seen, |s| s.body.len() <= limit);
    assert!(
        count(&acked) > 0 && count(&acked) < count(&want),
        "a part was delivered"
    );
    let Some(rx) = Receiver::on_port(20 << 20, port) else {
        return;
    };
    // The resume speaks the default protocol, http/protobuf: the journal
    // records records, so another encoding changes nothing.
    let o = send_cmd(store.path(), &["--endpoint", &endpoint, "--compression", "gzip"])
        .args(["--max-request-bytes", "100KiB", "--concurrency", "3", "--journal"])
        .arg(&journal)
        .timeout(HANG)
        .assert()
        .success();
    let summary = json(&o.get_output().stdout);
    assert_eq!(total(&summary, "skipped_records"), count(&acked), "{summary}");
    let (rest, _) = rx.stop();
    assert_same(&union(acked, rest), &want, "every record exactly once");
}

/// The same halving for protobuf bodies (the default protocol): each half
/// is rebuilt from the protobuf request itself, down to the records a
/// receiver takes, and every record arrives exactly once.
#[test]
fn an_http_protobuf_413_is_halved_by_records_until_every_record_is_delivered() {
    let (store, _) = real_mix_store("200KB", &[]);
    let want = exported(&[store.path()], &[]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let limit = 6 << 10;
    let rx = Scripted::with(
        listener,
        Box::new(move |_, s| {
            if s.body.len() > limit {
                reply(413, r#"{"message":"too large"}"#)
            } else {
                reply(200, "{}")
            }
        }),
        10_000,
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    send_cmd(store.path(), &["--endpoint", &endpoint, "--compression", "none"])
        .args(["--max-request-bytes", "64KiB", "--concurrency", "2"])
        .timeout(HANG)
        .assert()
        .success();
    let seen = rx.seen();
    assert!(seen.iter().any(|s| s.body.len() > limit), "some requests were halved");
    let acked = records_seen(&seen, |s| s.body.len() <= limit);
    assert_same(&acked, &want, "every record exactly once, from protobuf halves");
}

// ---- 6 and 7. one journal, one send ------------------------------------------

#[test]
fn two_sends_on_one_journal_at_once_the_second_is_refused() {
    let (store, _) = real_mix_store("200KB", &[]);
    let mut slow = reply(200, "{}");
    slow.delay = Duration::from_millis(200);
    let srv = Scripted::start(vec![slow]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let mut first = send_process(store.path(), &["--max-request-bytes", "16KiB", "--concurrency", "1"])
        .args(["--endpoint", &srv.url(), "--journal"])
        .arg(&journal)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while srv.seen().is_empty() {
        assert!(started.elapsed() < HANG, "the first send never sent");
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = send_cmd(
        store.path(),
        &["--endpoint", &srv.url(), "--max-request-bytes", "16KiB", "--journal"],
    )
    .arg(&journal)
    .timeout(HANG)
    .assert()
    .code(2);
    let err = text(&o.get_output().stderr);
    assert!(err.contains("another send is using it"), "{err}");
    assert!(first.try_wait().unwrap().is_none(), "the first send was still running");
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn a_journal_started_for_one_send_is_refused_for_another_endpoint_store_shard_range_or_now() {
    let (store, _) = real_mix_store("100KB", &[]);
    let a = Scripted::start(vec![reply(200, "{}")]);
    let b = Scripted::start(vec![reply(200, "{}")]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    send_cmd(store.path(), &["--endpoint", &a.url(), "--journal"])
        .arg(&journal)
        .timeout(HANG)
        .assert()
        .success();
    let before = std::fs::read(&journal).unwrap();
    let refused = |extra: &[&str], endpoint: &str, what: &str| {
        let o = send_cmd(store.path(), &["--endpoint", endpoint, "--journal"])
            .arg(&journal)
            .args(extra)
            .timeout(HANG)
            .assert()
            .code(2);
        let err = text(&o.get_output().stderr);
        assert!(err.contains(what), "{what}: {err}");
    };
    refused(&[], &b.url(), &a.url());
    refused(&["--shard", "1/2"], &a.url(), "shard");
    refused(&["--now", "2026-11-25T00:00:00Z"], &a.url(), "--now");
    refused(&["--metric-event", "remote.log"], &a.url(), "--metric-event");
    refused(&["--range", "last-7-days"], &a.url(), "range");
    let other = Store::new();
    refused(&[other.path().to_str().unwrap()], &a.url(), "stores");
    assert!(b.seen().is_empty(), "the other endpoint got nothing");
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        before,
        "the journal was left as it was"
    );
}

#[test]
fn a_resume_without_now_finishes_the_window_its_journal_was_anchored_at() {
    let (store, _) = real_mix_store("100KB", &[]);
    let srv = Scripted::start(vec![reply(200, "{}")]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    // The generated store's days end at NOW: last-7-days from NOW holds events, from today none.
    let run = |now: Option<&str>| {
        let mut c = bin();
        c.arg("send")
            .arg(store.path())
            .args([
                "--range",
                "last-7-days",
                "--summary-json",
                "--endpoint",
                &srv.url(),
                "--journal",
            ])
            .arg(&journal)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .timeout(HANG);
        if let Some(n) = now {
            c.args(["--now", n]);
        }
        c
    };
    let o = run(Some(NOW)).assert().success();
    let sent = total(&json(&o.get_output().stdout), "records");
    assert!(sent > 0);
    let o = run(None).assert().success();
    let err = text(&o.get_output().stderr);
    assert!(err.contains("anchored at 2026-11-24T12:00:00Z"), "{err}");
    let summary = json(&o.get_output().stdout);
    assert_eq!(total(&summary, "skipped_records"), sent, "the same window: {summary}");
    assert_eq!(total(&summary, "requests"), 0, "{summary}");
}

// ---- 8. a full disk under the journal ---------------------------------------

#[test]
fn a_full_disk_under_the_journal_stops_the_send_and_says_what_will_be_sent_again() {
    let (store, _) = real_mix_store("200KB", &[]);
    let want = exported(&[store.path()], &[]);
    let srv = Scripted::start(vec![reply(200, "{}")]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"));
    c.arg("send")
        .arg(store.path())
        .args([
            "--now",
            NOW,
            "--range",
            "all-time",
            "--summary-json",
            "--compression",
            "none",
        ])
        .args([
            "--max-request-bytes",
            "16KiB",
            "--concurrency",
            "1",
            "--endpoint",
            &srv.url(),
            "--journal",
        ])
        .arg(&journal);
    // SAFETY: async-signal-safe calls only, in the child before exec: files
    // it writes stop growing at 3 KB (EFBIG, as a full disk gives ENOSPC).
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 3000,
                rlim_max: 3000,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            Ok(())
        });
    }
    let o = c.output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let summary = json(&o.stdout);
    let unrecorded = &summary["delivery"]["journal_unrecorded"];
    let again = unrecorded["records"].as_u64().unwrap();
    assert!(unrecorded["requests"].as_u64().unwrap() >= 1, "{summary}");
    assert!(
        err.contains("could not be recorded") && err.contains("sent again"),
        "{err}"
    );
    let first = srv.seen().len();
    // The resume (no limit now) sends what was not recorded again, and says nothing else twice.
    send_cmd(
        store.path(),
        &["--endpoint", &srv.url(), "--compression", "none", "--journal"],
    )
    .arg(&journal)
    .timeout(HANG)
    .assert()
    .success();
    let seen = srv.seen();
    assert!(seen.len() > first);
    let all = records_seen(&seen, |_| true);
    assert_eq!(
        count(&all),
        count(&want) + again,
        "duplicates are exactly those reported"
    );
}

// ---- 9. bounded time ----------------------------------------------------------

#[test]
fn the_whole_send_stops_when_nothing_was_acknowledged_for_max_elapsed() {
    let (store, _) = real_mix_store("200KB", &[]);
    let srv = Scripted::start(vec![reply(503, "{}")]);
    let started = Instant::now();
    let o = send_cmd(
        store.path(),
        &["--endpoint", &srv.url(), "--max-request-bytes", "16KiB"],
    )
    .args(["--concurrency", "1", "--max-elapsed", "2"])
    .timeout(HANG)
    .assert()
    .code(1);
    let summary = json(&o.get_output().stdout);
    let d = &summary["delivery"];
    assert!(d["stopped"].as_str().unwrap().contains("--max-elapsed"), "{summary}");
    // One request tried (and retried) until the time ran out, not each in turn.
    assert_eq!(total(&summary, "failed_requests"), 1, "{summary}");
    let paths: std::collections::BTreeSet<String> = srv.seen().iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
}

#[test]
fn a_silent_receiver_costs_max_elapsed_not_one_timeout_more() {
    let s = one_log_store();
    // Accepts, reads, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let conns = Arc::new(AtomicUsize::new(0));
    let n = Arc::clone(&conns);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming() {
            let Ok(mut c) = c else { break };
            n.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = c.read(&mut buf);
            held.push(c);
        }
    });
    let started = Instant::now();
    let o = send_cmd(s.path(), &["--endpoint", &format!("http://127.0.0.1:{port}")])
        .args(["--timeout", "30", "--max-elapsed", "2"])
        .timeout(HANG)
        .assert()
        .code(1);
    let took = started.elapsed();
    // The old sender waited out one --timeout (30 s) past --max-elapsed.
    assert!(took < Duration::from_secs(25), "{took:?}");
    assert!(conns.load(Ordering::SeqCst) >= 1);
    assert_eq!(per_signal(&json(&o.get_output().stdout), "failed_requests"), [1, 0, 0]);
}

#[test]
fn a_tls_failure_fails_at_once_in_words() {
    let s = one_log_store();
    // A plain TCP server: the TLS handshake cannot succeed.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let conns = Arc::new(AtomicUsize::new(0));
    let n = Arc::clone(&conns);
    std::thread::spawn(move || {
        for c in listener.incoming() {
            let Ok(mut c) = c else { break };
            n.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = std::io::Write::write_all(&mut c, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let o = send_cmd(s.path(), &["--endpoint", &format!("https://127.0.0.1:{port}")])
        .timeout(HANG)
        .assert()
        .code(1);
    let err = text(&o.get_output().stderr);
    assert!(err.contains("TLS"), "{err}");
    assert!(
        !err.contains("Other(") && !err.contains("Error {"),
        "no debug dump: {err}"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 1, "not retried");
}

#[test]
fn otel_exporter_otlp_timeout_is_capped_as_the_flag_is() {
    let s = one_log_store();
    let o = send_cmd(s.path(), &["--dry-run"])
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "999999999999")
        .assert()
        .success();
    let err = text(&o.get_output().stderr);
    assert!(
        err.contains("OTEL_EXPORTER_OTLP_TIMEOUT") && err.contains("86400"),
        "{err}"
    );
}

// ---- 10. rejections ---------------------------------------------------------

#[test]
fn rejected_records_without_a_message_are_reported_even_when_quiet() {
    let s = one_log_store();
    let srv = Scripted::start(vec![reply(200, r#"{"partialSuccess":{"rejectedLogRecords":"1"}}"#)]);
    let o = send_cmd(s.path(), &["--endpoint", &srv.url()])
        .timeout(HANG)
        .assert()
        .success();
    let err = text(&o.get_output().stderr);
    assert!(err.contains("logs: 1 records were rejected"), "{err}");
    assert_eq!(per_signal(&json(&o.get_output().stdout), "rejected"), [1, 0, 0]);
}

// ---- 11. the smaller ones -----------------------------------------------------

#[test]
fn an_empty_journal_file_is_a_new_journal() {
    let s = one_log_store();
    let srv = Scripted::start(vec![reply(200, "{}")]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    std::fs::write(&journal, "").unwrap();
    send_cmd(s.path(), &["--endpoint", &srv.url(), "--journal"])
        .arg(&journal)
        .timeout(HANG)
        .assert()
        .success();
    assert_eq!(journal_lines(&journal).len(), 1);
}

#[test]
fn a_damaged_journal_line_costs_only_its_records_and_the_run_says_so() {
    let (store, _) = real_mix_store("100KB", &[]);
    let srv = Scripted::start(vec![reply(200, "{}")]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    send_cmd(store.path(), &["--endpoint", &srv.url(), "--compression", "none"])
        .args(["--protocol", "http/json", "--max-request-bytes", "16KiB", "--journal"])
        .arg(&journal)
        .timeout(HANG)
        .assert()
        .success();
    let first = srv.seen().len();
    let text_before = std::fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<String> = text_before.lines().map(str::to_string).collect();
    assert!(lines.len() > 4);
    let lost: u64 = serde_json::from_str::<Value>(&lines[2]).unwrap()["records"]
        .as_u64()
        .unwrap();
    lines[2] = "{\"signal\":\"logs\",garbage".to_string();
    lines.insert(3, "not json at all".to_string());
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();
    let o = send_cmd(
        store.path(),
        &["--endpoint", &srv.url(), "--compression", "none", "--journal"],
    )
    .arg(&journal)
    .timeout(HANG)
    .assert()
    .success();
    let summary = json(&o.get_output().stdout);
    assert_eq!(summary["delivery"]["journal_damaged_lines"], json!(2), "{summary}");
    assert_eq!(
        total(&summary, "records"),
        lost,
        "only the damaged line's records: {summary}"
    );
    let again = records_seen(&srv.seen()[first..], |_| true);
    assert_eq!(count(&again), lost);
}

#[test]
fn only_a_logs_endpoint_variable_names_the_traces_and_metrics_ones() {
    let s = one_log_store();
    let o = send_cmd(s.path(), &[])
        .env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://127.0.0.1:9/v1/logs")
        .assert()
        .code(2);
    let err = text(&o.get_output().stderr);
    assert!(
        err.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") && err.contains("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
        "{err}"
    );
    assert!(err.contains("traces, metrics") && !err.contains("for logs"), "{err}");
}

#[test]
fn a_base_endpoint_ending_in_a_signal_path_is_a_usage_error_with_the_fix() {
    let s = one_log_store();
    let o = send_cmd(s.path(), &["--endpoint", "http://127.0.0.1:4318/v1/logs"])
        .assert()
        .code(2);
    let err = text(&o.get_output().stderr);
    assert!(err.contains("drop the /v1/logs"), "{err}");
}

#[test]
fn sigterm_prints_one_line_even_with_many_requests_queued_and_quiet() {
    let (store, _) = real_mix_store("300KB", &[]);
    // Every request is answered 503 (retry in a second) until the signal:
    // all of them wait to be retried, the reading is done, and the send
    // winds down on its own, reporting what it left (it once printed one
    // "interrupted" failure per request, even with --quiet).
    let fast = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let quick = Arc::clone(&fast);
    let srv = Scripted::with(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        Box::new(move |_, _| {
            if quick.load(Ordering::SeqCst) {
                return reply(200, "{}");
            }
            let mut r = reply(503, "{}");
            r.headers.push(("Retry-After", "1".to_string()));
            r
        }),
        usize::MAX,
    );
    let child = send_process(store.path(), &["--max-request-bytes", "16KiB", "--concurrency", "64"])
        .args(["--endpoint", &srv.url()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while srv.seen().len() < 20 {
        assert!(started.elapsed() < HANG, "nothing was sent");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    fast.store(true, Ordering::SeqCst);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    let err = text(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("interrupted"), "{err}");
}
