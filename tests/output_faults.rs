//! Faults on the output side (SPEC §8.1, §8.2): a missing or unwritable
//! target folder, a full disk, and Ctrl-C in the middle all end with a clear
//! message, the right exit code, and nothing partial or temporary left. A
//! closed stdout (`| head`) ends `paths`, `completions` and an export to
//! stdout quietly with 0, while a named pipe's reader going away fails the
//! export; Ctrl-C during an export to stdout says how many bytes stdout got.

mod common;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use predicates::prelude::*;

fn store_of_size(size: &str) -> Store {
    generated_store(size, 2, 3, &[]).0
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn missing_target_folder() {
    let s = store_of_size("200KiB");
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("no/such/folder/out.json");
    export(s.path(), &["-o", target.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not exist"));
    assert!(entries(out.path()).is_empty());
}

#[test]
fn unwritable_target_folder() {
    let s = store_of_size("200KiB");
    // Even root cannot create files in /proc.
    for (fmt, target) in [
        ("json", "/proc/ct-out.json"),
        ("otlp", "/proc/ct-out.zip"),
        ("otlp", "/proc/ct-out"),
    ] {
        export(s.path(), &["--format", fmt, "-o", target])
            .assert()
            .code(1)
            .stderr(predicate::str::contains("cannot write in /proc"));
    }
}

/// Runs an export whose files may not grow past `limit` bytes (a full disk
/// as the process sees it: writes fail with EFBIG).
fn export_with_file_limit(store: &Path, limit: u64, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"));
    cmd.arg("export").arg(store).args(["--now", NOW]).args(args);
    unsafe {
        cmd.pre_exec(move || {
            // SAFETY: only async-signal-safe libc calls between fork and exec.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().unwrap()
}

#[test]
fn disk_full_fails_cleanly() {
    let s = store_of_size("2MiB");
    let out = tempfile::tempdir().unwrap();
    for (fmt, name) in [("json", "full.json"), ("otlp", "full.zip"), ("otlp", "full-dir")] {
        let target = out.path().join(name);
        let o = export_with_file_limit(s.path(), 64 * 1024, &["--format", fmt, "-o", target.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains("File too large") || stderr.contains("too large"),
            "{name}: {stderr}"
        );
        assert!(
            entries(out.path()).is_empty(),
            "{name}: left behind {:?}",
            entries(out.path())
        );
    }
    // The same export without the limit succeeds.
    export(s.path(), &["-o", out.path().join("ok.json").to_str().unwrap()])
        .assert()
        .success();
}

#[test]
fn ctrl_c_in_the_middle_leaves_nothing() {
    let s = store_of_size("400MiB");
    let out = tempfile::tempdir().unwrap();
    for (fmt, name) in [("json", "big.json"), ("otlp", "big.zip")] {
        let target = out.path().join(name);
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"))
            .arg("export")
            .arg(s.path())
            .args([
                "--now",
                NOW,
                "--threads",
                "1",
                "--format",
                fmt,
                "-o",
                target.to_str().unwrap(),
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the export is writing (its temporary exists), then interrupt it.
        let started = Instant::now();
        while entries(out.path()).is_empty() && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!entries(out.path()).is_empty(), "the export started writing");
        std::thread::sleep(Duration::from_millis(50));
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "{name}: {stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(
            entries(out.path()).is_empty(),
            "{name}: left behind {:?}",
            entries(out.path())
        );
    }
}

/// A named pipe stands in for `/dev/null` and friends (a test must not risk
/// the real one): an existing target that is not a regular file or folder.
fn fifo(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::FileTypeExt;
    let path = dir.join("pipe");
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a plain libc call with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    assert!(std::fs::metadata(&path).unwrap().file_type().is_fifo());
    path
}

#[test]
fn dev_null_style_target_was_replaced_by_a_regular_file() {
    use std::os::unix::fs::FileTypeExt;
    let s = store_of_size("200KiB");
    let out = tempfile::tempdir().unwrap();
    let pipe = fifo(out.path());
    let expected = export(s.path(), &["-o", "-"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    // JSON streams into the pipe, with or without --force, and the pipe stays a pipe.
    for force in [false, true] {
        let reader = {
            let pipe = pipe.clone();
            std::thread::spawn(move || std::fs::read(pipe).unwrap())
        };
        let mut args = vec!["-o", pipe.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        export(s.path(), &args).assert().success();
        assert_eq!(reader.join().unwrap(), expected, "force: {force}");
        assert!(std::fs::metadata(&pipe).unwrap().file_type().is_fifo());
    }
    // OTLP needs a folder or a zip: refused, and the pipe is left alone.
    export(s.path(), &["--format", "otlp", "--force", "-o", pipe.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a regular file or folder"));
    assert!(std::fs::metadata(&pipe).unwrap().file_type().is_fifo());
    assert_eq!(entries(out.path()), ["pipe"]);
}

/// Runs `cmd` with its stdout a pipe whose reader is already gone, as after
/// `| head -1` has exited: every write to it fails with EPIPE.
fn into_closed_pipe(mut cmd: std::process::Command) -> std::process::Output {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fresh descriptors, each then owned once.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    cmd.stdout(Stdio::from(write)).stderr(Stdio::piped());
    cmd.output().unwrap()
}

fn binary() -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"));
    c.env_remove("OTEL_RESOURCE_ATTRIBUTES");
    c
}

fn assert_quiet_success(what: &str, o: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{what}: {stderr}");
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("error"),
        "{what}: {stderr}"
    );
}

#[test]
fn a_closed_stdout_ends_paths_completions_and_an_export_to_stdout_quietly() {
    let s = store_of_size("200KiB");
    let mut paths = binary();
    paths.arg("paths");
    assert_quiet_success("paths", &into_closed_pipe(paths));
    for shell in ["bash", "zsh", "fish"] {
        let mut completions = binary();
        completions.args(["completions", shell]);
        assert_quiet_success(shell, &into_closed_pipe(completions));
    }
    for format in ["json", "jsonl"] {
        let mut e = binary();
        e.arg("export")
            .arg(s.path())
            .args(["--now", NOW, "--format", format, "-o", "-"]);
        assert_quiet_success(format, &into_closed_pipe(e));
        // With --summary-json on stdout after a file export, too.
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join(format!("out.{format}"));
        let mut e = binary();
        e.arg("export").arg(s.path()).args([
            "--now",
            NOW,
            "--summary-json",
            "--quiet",
            "-o",
            target.to_str().unwrap(),
        ]);
        assert_quiet_success("--summary-json", &into_closed_pipe(e));
        assert!(target.is_file());
    }
}

#[test]
fn head_c_100_of_an_export_to_stdout_ends_it_quietly() {
    // Megabytes of JSON: far more than a pipe holds, so the export is still
    // writing when the reader goes away.
    let s = store_of_size("4MiB");
    let mut child = binary()
        .arg("export")
        .arg(s.path())
        .args(["--now", NOW, "-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    assert_eq!(first[0], b'[');
    // The reader is dropped here, as `head -c 100` exits.
    let o = child.wait_with_output().unwrap();
    assert_quiet_success("export -o - | head -c 100", &o);
}

#[test]
fn a_named_pipe_whose_reader_goes_away_fails_the_export() {
    let s = store_of_size("4MiB");
    let out = tempfile::tempdir().unwrap();
    let pipe = fifo(out.path());
    let reader = {
        let pipe = pipe.clone();
        std::thread::spawn(move || {
            let mut first = [0u8; 100];
            std::fs::File::open(pipe).unwrap().read_exact(&mut first).unwrap();
        })
    };
    let o = export(s.path(), &["--format", "json", "-o", pipe.to_str().unwrap()])
        .output()
        .unwrap();
    reader.join().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error:") && stderr.contains("Broken pipe"), "{stderr}");
}

/// `1234567` -> `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn ctrl_c_during_an_export_to_stdout_says_how_many_bytes_stdout_got() {
    let s = store_of_size("48MiB");
    for (signal, format) in [(libc::SIGINT, "json"), (libc::SIGTERM, "jsonl")] {
        let mut child = binary()
            .arg("export")
            .arg(s.path())
            .args(["--now", NOW, "--threads", "1", "--format", format, "-o", "-"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        // Once stdout has had its first bytes, interrupt; then read the rest.
        let mut got = stdout.read(&mut buf).unwrap();
        assert!(got > 0);
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        loop {
            match stdout.read(&mut buf).unwrap() {
                0 => break,
                n => got += n,
            }
        }
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "{format}: {stderr}");
        let want = format!(
            "interrupted; the export to stdout is incomplete: {} bytes had been written to it",
            thousands(got)
        );
        assert!(stderr.contains(&want), "{format}: want {want:?} in {stderr}");
        assert!(!stderr.contains("nothing was written"), "{format}: {stderr}");
    }
}
