//! The interactive prompts (SPEC §8.5), driven through a real pseudo
//! terminal: what is asked when the range, format or output is missing, how
//! a bad answer is asked again, how Esc and Ctrl-C cancel with the terminal
//! restored, and how an existing output name is handled (a yes to replace
//! it does not extend to an existing `--manifest`).

mod common;

use std::path::Path;

use common::*;
use rexpect::session::{spawn_command, PtySession};
use serde_json::json;

const ENTER: &str = "\r";
const DOWN: &str = "\x1b[B";
const ESC: &str = "\x1b";

/// A store with one event on each of 2026-11-20 and 2026-11-21.
fn store() -> Store {
    let s = Store::new();
    for day in [20, 21] {
        s.file(
            &format!("telemetry-2026-11-{day}-s{day}.jsonl"),
            &[
                header(&format!("s{day}")),
                row("a.log", &format!("2026-11-{day}T10:00:00Z"), json!({})),
            ],
        );
    }
    s
}

/// `coder-telemetry export STORE ARGS` in a terminal, in folder `cwd`.
fn spawn(store: &Path, cwd: &Path, args: &[&str]) -> PtySession {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("coder-telemetry"));
    cmd.arg("export")
        .arg(store)
        .args(["--now", NOW])
        .args(args)
        .current_dir(cwd)
        .env("TERM", "xterm")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES");
    spawn_command(cmd, Some(15_000)).expect("spawn in a pty")
}

/// Types `keys` (flushed: the pty is buffered).
fn keys(p: &mut PtySession, keys: &str) {
    p.send(keys).expect("send keys");
    p.flush().expect("flush keys");
}

fn exit_code(p: &mut PtySession) -> i32 {
    match p.process_mut().wait().expect("wait") {
        rexpect::process::WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}"),
    }
}

#[test]
fn custom_range_asks_again_for_bad_and_reversed_days_and_ignores_spaces() {
    let s = store();
    let cwd = tempfile::tempdir().unwrap();
    let mut p = spawn(s.path(), cwd.path(), &[]);
    p.exp_string("Date range").unwrap();
    keys(&mut p, &format!("{DOWN}{DOWN}{DOWN}{ENTER}"));
    p.exp_string("First day").unwrap();
    keys(&mut p, &format!("2026-02-30{ENTER}"));
    p.exp_string("is not a calendar day").unwrap();
    keys(&mut p, &format!("{}  2026-11-21 {ENTER}", "\x7f".repeat(10)));
    p.exp_string("Last day").unwrap();
    keys(&mut p, &format!("2026-11-20{ENTER}"));
    p.exp_string("cannot be before the first day, 2026-11-21").unwrap();
    keys(&mut p, &format!("{}2026-11-21{ENTER}", "\x7f".repeat(10)));
    p.exp_string("Format").unwrap();
    keys(&mut p, ENTER);
    p.exp_string("coder-telemetry-2026-11-21-to-2026-11-21.json").unwrap();
    keys(&mut p, ENTER);
    p.exp_string("exported 1 event ").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);
    let out = std::fs::read(cwd.path().join("coder-telemetry-2026-11-21-to-2026-11-21.json")).unwrap();
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
}

#[test]
fn esc_and_ctrl_c_cancel_at_any_prompt_and_restore_the_cursor() {
    let s = store();
    let cwd = tempfile::tempdir().unwrap();
    for (typed, at) in [
        (vec![ESC], "Date range"),
        (vec![ENTER, ESC], "Format"),
        (vec![ENTER, ENTER, "\x03"], "Output"),
        (vec![&format!("{DOWN}{DOWN}{DOWN}{ENTER}") as &str, "\x03"], "First day"),
    ] {
        let mut p = spawn(s.path(), cwd.path(), &[]);
        p.exp_string("Date range").unwrap();
        for k in &typed[..typed.len() - 1] {
            keys(&mut p, k);
        }
        if at != "Date range" {
            p.exp_string(at).unwrap();
        }
        keys(&mut p, typed[typed.len() - 1]);
        let rest = p.exp_eof().unwrap();
        assert!(rest.contains("cancelled; nothing was written"), "{at}: {rest}");
        // If the cursor was hidden, it is shown again before the end.
        if let Some(hidden) = rest.rfind("\x1b[?25l") {
            assert!(rest[hidden..].contains("\x1b[?25h"), "{at}: cursor left hidden");
        }
        assert_eq!(exit_code(&mut p), 130, "{at}");
    }
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn an_existing_output_asks_to_replace_it_or_for_another_name() {
    let s = store();
    let cwd = tempfile::tempdir().unwrap();
    let name = "coder-telemetry-all-time-2026-11-24.json";
    std::fs::write(cwd.path().join(name), "mine").unwrap();
    let mut p = spawn(s.path(), cwd.path(), &["--range", "all-time"]);
    p.exp_string("Format").unwrap();
    keys(&mut p, ENTER);
    p.exp_string("Output").unwrap();
    keys(&mut p, ENTER);
    p.exp_string("exists. Replace it?").unwrap();
    keys(&mut p, &format!("n{ENTER}"));
    p.exp_string("Output").unwrap();
    keys(&mut p, &format!("{}other.json{ENTER}", "\x7f".repeat(60)));
    p.exp_string("exported 2 events").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(std::fs::read_to_string(cwd.path().join(name)).unwrap(), "mine");
    assert!(cwd.path().join("other.json").is_file());

    // Yes replaces it.
    let mut p = spawn(s.path(), cwd.path(), &["--range", "all-time"]);
    p.exp_string("Format").unwrap();
    keys(&mut p, ENTER);
    p.exp_string("Output").unwrap();
    keys(&mut p, ENTER);
    p.exp_string("Replace it?").unwrap();
    keys(&mut p, &format!("y{ENTER}"));
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(
        json(&std::fs::read(cwd.path().join(name)).unwrap())
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn an_output_that_force_could_not_replace_is_refused_at_the_prompt() {
    let s = store();
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("mine")).unwrap();
    std::fs::write(cwd.path().join("mine/notes.txt"), "keep").unwrap();
    let mut p = spawn(s.path(), cwd.path(), &["--range", "all-time", "--format", "otlp"]);
    p.exp_string("Output").unwrap();
    keys(&mut p, &format!("{}mine/{ENTER}", "\x7f".repeat(60)));
    p.exp_string("refusing to replace").unwrap();
    p.exp_string("Output").unwrap();
    keys(&mut p, &format!("{}fresh.zip{ENTER}", "\x7f".repeat(60)));
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(
        std::fs::read_to_string(cwd.path().join("mine/notes.txt")).unwrap(),
        "keep"
    );
    assert!(cwd.path().join("fresh.zip").is_file());
}

#[test]
fn a_name_the_format_does_not_fit_is_asked_again() {
    let s = store();
    let cwd = tempfile::tempdir().unwrap();
    let mut p = spawn(s.path(), cwd.path(), &["--range", "all-time"]);
    p.exp_string("Format").unwrap();
    keys(&mut p, ENTER); // JSON
    p.exp_string("Output").unwrap();
    keys(&mut p, &format!("{}week.zip{ENTER}", "\x7f".repeat(60)));
    p.exp_string("a JSON export cannot go to").unwrap();
    keys(&mut p, &format!("{}week.json{ENTER}", "\x7f".repeat(10)));
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert!(cwd.path().join("week.json").is_file());
}

#[test]
fn a_format_inferred_from_the_output_name_is_not_asked() {
    let s = store();
    let cwd = tempfile::tempdir().unwrap();
    // README example 1: no format menu, a JSON file.
    let mut p = spawn(s.path(), cwd.path(), &["--range", "all-time", "-o", "week.json"]);
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert!(cwd.path().join("week.json").is_file());
    let mut p = spawn(s.path(), cwd.path(), &["--range", "all-time", "-o", "week.zip"]);
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(read_output(&cwd.path().join("week.zip")).len(), 4);
}

#[test]
fn a_yes_to_replace_the_output_does_not_replace_an_existing_manifest() {
    let s = store();
    let cwd = tempfile::tempdir().unwrap();
    let name = "coder-telemetry-all-time-2026-11-24.json";
    std::fs::write(cwd.path().join(name), "mine").unwrap();
    std::fs::write(cwd.path().join("m.json"), "my notes").unwrap();
    let mut p = spawn(s.path(), cwd.path(), &["--range", "all-time", "--manifest", "m.json"]);
    p.exp_string("Format").unwrap();
    keys(&mut p, ENTER);
    p.exp_string("Output").unwrap();
    keys(&mut p, ENTER);
    p.exp_string("Replace it?").unwrap();
    keys(&mut p, &format!("y{ENTER}"));
    p.exp_string("m.json already exists (use --force to overwrite it)")
        .unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 1);
    assert_eq!(std::fs::read_to_string(cwd.path().join(name)).unwrap(), "mine");
    assert_eq!(std::fs::read_to_string(cwd.path().join("m.json")).unwrap(), "my notes");
}
