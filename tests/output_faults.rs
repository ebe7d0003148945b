//! Faults on the output side (SPEC §8.1, §8.2): a missing or unwritable
//! target folder, a full disk, and Ctrl-C in the middle all end with a clear
//! message, the right exit code, and nothing partial or temporary left.

mod common;

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
