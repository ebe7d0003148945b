//! The real mix: stores shaped like the ones the Coder VS Code extension's
//! own sink writes (`testdata/REAL-WRITER.md`).
//!
//! Each VS Code window is a session simulated in time: its start-up spans
//! and logs (activation, `cli.resolve`, `remote.setup` and its phases, all
//! written children first), then a `http.requests` row per active route
//! and 60 s window (78% of a real store), an `ssh.network.sampled` row every
//! half minute or so (18%), and now and then a token refresh, a dropped
//! connection (the one error log, `read ECONNRESET`), a lost SSH process,
//! an intercepted 401 (the one span-attached log), a command. Some sessions
//! sleep for hours: the window after the sleep spans it, and what was
//! buffered before it is flushed on waking.
//!
//! The sink is modelled too: events are buffered and flushed every 15 s
//! into the file of the flush's UTC day, so a session that crosses midnight
//! leaves its last events in the next day's file; a file past `--rotate`
//! (5 MiB, as the extension rotates) continues in part `.1`, `.2`, ... with
//! the same header; files are named by the first 8 hex digits of the
//! session id. Only v1 rows with snake_case keys and string property
//! values, as the extension writes; now and then a NaN measurement written
//! as `null` and a lone surrogate, as JavaScript's `JSON.stringify` does.
//!
//! Every session is generated from its own seeded random stream, so the
//! store depends only on the flags, whatever the thread count.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::{civil, push_str, push_u64, Rng, Tally};

/// One session to simulate.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub seed: u64,
    /// Which machine (user) it runs on.
    pub machine: u64,
    /// Start, in ms since the epoch.
    pub start_ms: i64,
    /// Bytes of rows to write before the window is closed.
    pub budget: u64,
    pub rotate: u64,
    /// A busy window (many workspaces and ports watched): twice the
    /// routes, enough to rotate its files at 5 MiB.
    pub busy: bool,
}

const ROUTES: [(&str, u32); 8] = [
    ("/api/v2/workspaceagents/{id}/containers", 20),
    ("/api/v2/buildinfo", 20),
    ("/api/v2/workspaces/{id}", 20),
    ("/api/v2/workspaceagents/{id}/listening-ports", 19),
    ("/api/v2/notifications/{*}", 10),
    ("/api/v2/workspaces", 10),
    ("/api/v2/templates/{id}", 10),
    ("/api/v2/users/{name}", 10),
];
/// Routes only busy windows poll.
const BUSY_ROUTES: [&str; 7] = [
    "/api/v2/workspaces/{id}/builds",
    "/api/v2/workspaceagents/{id}/logs",
    "/api/v2/workspaceagents/{id}/watch-metadata",
    "/api/v2/workspaces/{id}/watch",
    "/api/v2/users/{name}/workspace/{name}",
    "/api/v2/deployment/ssh",
    "/api/v2/appearance",
];
const DERPS: [&str; 6] = [
    "Frankfurt",
    "New York City",
    "San Francisco",
    "Singapore",
    "London",
    "Tokyo",
];
const DEPLOYMENTS: [&str; 2] = ["https://coder.example.com", "https://coder.internal.example.org"];
const OSES: [(&str, &str, &str); 3] = [
    ("linux", "6.18.44-fc-v669", "x64"),
    ("darwin", "24.6.0", "arm64"),
    ("win32", "10.0.26100", "x64"),
];

/// The sink: buffers rows, flushes every 15 s into the file of the flush day.
struct Sink<'a> {
    dir: &'a Path,
    name8: String,
    header: Vec<u8>,
    rotate: u64,
    buffered: Vec<u8>,
    buffered_events: u64,
    file: Option<(i64, u32, BufWriter<File>, u64)>,
    tally: Tally,
}

impl Sink<'_> {
    /// Writes what is buffered into the file of the UTC day of `at_ms`.
    fn flush(&mut self, at_ms: i64) -> std::io::Result<()> {
        if self.buffered.is_empty() {
            return Ok(());
        }
        let day = at_ms.div_euclid(86_400_000);
        let rotate_now = matches!(&self.file, Some((d, _, _, bytes)) if *d == day && *bytes >= self.rotate);
        let new_day = !matches!(&self.file, Some((d, _, _, _)) if *d == day);
        if new_day || rotate_now {
            let part = match &self.file {
                Some((d, p, _, _)) if *d == day => p + 1,
                _ => 0,
            };
            if let Some((_, _, mut w, _)) = self.file.take() {
                w.flush()?;
            }
            let (y, m, dd) = civil(day);
            let name = if part == 0 {
                format!("telemetry-{y:04}-{m:02}-{dd:02}-{}.jsonl", self.name8)
            } else {
                format!("telemetry-{y:04}-{m:02}-{dd:02}-{}.{part}.jsonl", self.name8)
            };
            let mut w = BufWriter::with_capacity(256 << 10, File::create(self.dir.join(name))?);
            w.write_all(&self.header)?;
            self.tally.files += 1;
            self.tally.bytes += self.header.len() as u64;
            self.file = Some((day, part, w, self.header.len() as u64));
        }
        if let Some((_, _, w, bytes)) = &mut self.file {
            w.write_all(&self.buffered)?;
            *bytes += self.buffered.len() as u64;
        }
        self.tally.bytes += self.buffered.len() as u64;
        self.tally.events += self.buffered_events;
        self.buffered.clear();
        self.buffered_events = 0;
        Ok(())
    }

    fn close(mut self, at_ms: i64) -> std::io::Result<Tally> {
        self.flush(at_ms)?;
        if let Some((_, _, mut w, _)) = self.file.take() {
            w.flush()?;
        }
        Ok(self.tally)
    }
}

/// A session being simulated.
struct Session<'a> {
    rng: Rng,
    sink: Sink<'a>,
    seq: u64,
    deployment: &'static str,
    /// Bytes of rows written so far (buffered or flushed).
    written: u64,
    /// The next flush, ms.
    next_flush: i64,
}

fn push_ts(out: &mut Vec<u8>, ms: i64) {
    let day = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil(day);
    let s = in_day / 1000;
    let text = format!(
        "\"{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z\"",
        s / 3600,
        s / 60 % 60,
        s % 60,
        in_day % 1000
    );
    out.extend_from_slice(text.as_bytes());
}

/// A double as JavaScript writes it (Rust's shortest form agrees for the
/// magnitudes written here).
fn push_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(format!("{v}").as_bytes());
}

/// A measurement value: usually `v`, now and then JavaScript's `null` for NaN.
enum M {
    F(f64),
    I(u64),
    Null,
}

impl Session<'_> {
    fn hex(&mut self, digits: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(digits);
        self.rng.hex(&mut v, digits);
        v
    }

    /// Flushes every 15 s up to `t`, as the sink's timer does while awake.
    fn tick_to(&mut self, t: i64) -> std::io::Result<()> {
        while self.next_flush <= t {
            self.sink.flush(self.next_flush)?;
            self.next_flush += 15_000;
        }
        Ok(())
    }

    /// One row. `ids`: (trace id, parent event id) for spans and span logs;
    /// `id` is the event id to use (a span's children name it as parent).
    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        t: i64,
        name: &str,
        props: &[(&str, &str)],
        measures: &[(&str, M)],
        trace: Option<&[u8]>,
        parent: Option<&[u8]>,
        id: Option<&[u8]>,
        error: Option<(&str, Option<&str>)>,
    ) {
        let out = &mut self.sink.buffered;
        let before = out.len();
        out.extend_from_slice(b"{\"event_id\":\"");
        match id {
            Some(id) => out.extend_from_slice(id),
            None => self.rng.hex(out, 16),
        }
        out.extend_from_slice(b"\",\"event_name\":");
        push_str(out, name);
        out.extend_from_slice(b",\"timestamp\":");
        push_ts(out, t);
        out.extend_from_slice(b",\"event_sequence\":");
        push_u64(out, self.seq);
        self.seq += 1;
        out.extend_from_slice(b",\"properties\":{");
        for (i, (k, v)) in props.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_str(out, k);
            out.push(b':');
            push_str(out, v);
        }
        out.extend_from_slice(b"},\"measurements\":{");
        for (i, (k, v)) in measures.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_str(out, k);
            out.push(b':');
            match v {
                M::F(f) => push_f64(out, *f),
                M::I(n) => push_u64(out, *n),
                M::Null => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'}');
        if let Some(tr) = trace {
            out.extend_from_slice(b",\"trace_id\":\"");
            out.extend_from_slice(tr);
            out.push(b'"');
        }
        if let Some(p) = parent {
            out.extend_from_slice(b",\"parent_event_id\":\"");
            out.extend_from_slice(p);
            out.push(b'"');
        }
        if let Some((message, code)) = error {
            out.extend_from_slice(b",\"error\":{\"message\":");
            push_str(out, message);
            if let Some(c) = code {
                out.extend_from_slice(b",\"code\":");
                push_str(out, c);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b",\"deployment_url\":");
        push_str(out, self.deployment);
        out.extend_from_slice(b"}\n");
        self.written += (out.len() - before) as u64;
        self.sink.buffered_events += 1;
    }

    /// A root span of its own trace.
    fn span(&mut self, t: i64, name: &str, props: &[(&str, &str)], ms: f64) {
        let trace = self.hex(32);
        let mut m = vec![("durationMs", M::F(ms))];
        if name == "cli.download" {
            m.insert(0, ("downloaded_bytes", M::I(48_213_944)));
        }
        self.row(t, name, props, &m, Some(&trace), None, None, None);
    }

    fn log(&mut self, t: i64, name: &str, props: &[(&str, &str)], measures: &[(&str, M)]) {
        self.row(t, name, props, measures, None, None, None, None);
    }

    /// A duration in ms with a double's digits, as performance.now() deltas are.
    fn dur(&mut self, lo: u64, hi: u64) -> f64 {
        lo as f64 + self.rng.below(hi - lo) as f64 + self.rng.below(1 << 40) as f64 / (1u64 << 40) as f64
    }

    /// The start-up of a window: activation, connection, and, for a remote
    /// window, the CLI and the `remote.setup` tree, children before parents.
    fn start_up(&mut self, t0: i64, remote: bool) -> i64 {
        let mut t = t0 + 207;
        let d = self.dur(80, 400);
        self.span(
            t,
            "activation.deployment_init",
            &[("auth_state", "valid_token"), ("result", "success")],
            d,
        );
        t += 70;
        let d = self.dur(150, 600);
        self.span(t, "activation", &[("auth_state", "stored"), ("result", "success")], d);
        self.log(
            t,
            "connection.state_transitioned",
            &[("from", "idle"), ("to", "connecting"), ("reason", "initial_connect")],
            &[],
        );
        t += 117;
        let d = self.dur(60, 300);
        self.log(
            t,
            "connection.opened",
            &[("route", "/api/v2/notifications/{*}")],
            &[("connect_duration_ms", M::F(d))],
        );
        self.log(
            t,
            "connection.state_transitioned",
            &[("from", "connecting"), ("to", "connected"), ("reason", "opened")],
            &[],
        );
        if !remote {
            return t;
        }
        t += 58_000 + self.rng.below(5000) as i64;
        self.log(
            t,
            "workspace.picker.prompted",
            &[
                ("source", "workspace_open"),
                ("workspace_status", "running"),
                ("workspace_outdated", "false"),
                ("result", "success"),
            ],
            &[("workspace.count", M::I(3)), ("agent.count", M::I(1))],
        );
        let d = self.dur(2000, 9000);
        self.span(
            t,
            "command.invoked",
            &[("command_id", "coder.open"), ("result", "success")],
            d,
        );
        let d = self.dur(10, 40);
        self.span(t, "auth.session_lookup", &[("result", "success")], d);
        // cli.resolve: its children first, then the root.
        let (cli_trace, cli_id) = (self.hex(32), self.hex(16));
        let mut ct = t;
        for (phase, props) in [
            (
                "cli.resolve.cache_lookup",
                &[("source", "file_path"), ("result", "success")][..],
            ),
            (
                "cli.resolve.version_check",
                &[("outcome", "match"), ("result", "success")][..],
            ),
            (
                "cli.resolve.lock_wait",
                &[("waited", "false"), ("result", "success")][..],
            ),
        ] {
            let d = self.dur(1, 40);
            ct += d as i64;
            self.row(
                ct,
                phase,
                props,
                &[("durationMs", M::F(d))],
                Some(&cli_trace),
                Some(&cli_id),
                None,
                None,
            );
        }
        if self.rng.chance(0.3) {
            let (dl_trace, dl_id) = (self.hex(32), self.hex(16));
            let v = self.dur(200, 600);
            ct += 6000;
            self.row(
                ct,
                "cli.download.verify",
                &[("outcome", "verified"), ("result", "success")],
                &[("durationMs", M::F(v))],
                Some(&dl_trace),
                Some(&dl_id),
                None,
                None,
            );
            let d = self.dur(3000, 9000);
            self.row(
                ct,
                "cli.download",
                &[("reason", "version_mismatch"), ("result", "success")],
                &[("downloaded_bytes", M::I(48_213_944)), ("durationMs", M::F(d))],
                Some(&dl_trace),
                None,
                Some(&dl_id),
                None,
            );
        }
        let d = (ct - t) as f64 + 0.25;
        self.row(
            ct,
            "cli.resolve",
            &[
                ("cache_source", "file_path"),
                ("version_check", "match"),
                ("outcome", "cached"),
                ("result", "success"),
            ],
            &[("durationMs", M::F(d))],
            Some(&cli_trace),
            None,
            Some(&cli_id),
            None,
        );
        // remote.setup: its phases first, then the root.
        let (trace, root) = (self.hex(32), self.hex(16));
        let mut rt = ct;
        for phase in [
            "remote.setup.cli_resolve",
            "remote.setup.compatibility_check",
            "remote.setup.cli_configure",
            "remote.setup.workspace_lookup",
            "remote.setup.workspace_monitor_setup",
            "remote.setup.workspace_ready",
            "remote.setup.agent_resolve",
            "remote.setup.ssh_config_write",
            "remote.setup.ssh_monitor_setup",
            "remote.setup.connection_handoff",
        ] {
            let d = match phase {
                "remote.setup.workspace_ready" => self.dur(5_000, 70_000),
                "remote.setup.ssh_monitor_setup" => self.dur(1_000, 6_000),
                _ => self.dur(10, 300),
            };
            rt += d as i64;
            match phase {
                "remote.setup.cli_configure" => self.span(
                    rt,
                    "cli.configure",
                    &[
                        ("silent", "true"),
                        ("credential_source", "session_token"),
                        ("result", "success"),
                    ],
                    d,
                ),
                "remote.setup.workspace_monitor_setup" => self.log(
                    rt,
                    "workspace.state_transitioned",
                    &[("workspace_name", "dev"), ("from", "none"), ("to", "running")],
                    &[],
                ),
                "remote.setup.workspace_ready" => self.log(
                    rt - 2000,
                    "workspace.agent.state_transitioned",
                    &[
                        ("workspace_name", "dev"),
                        ("agent_name", "main"),
                        ("status.from", "connecting"),
                        ("status.to", "connected"),
                    ],
                    &[],
                ),
                "remote.setup.ssh_monitor_setup" => {
                    let trace = self.hex(32);
                    self.row(
                        rt,
                        "ssh.process.discovered",
                        &[("found", "true"), ("result", "success")],
                        &[("attempts", M::I(4)), ("durationMs", M::F(d))],
                        Some(&trace),
                        None,
                        None,
                        None,
                    )
                }
                _ => {}
            }
            self.row(
                rt,
                phase,
                &[("result", "success")],
                &[("durationMs", M::F(d))],
                Some(&trace),
                Some(&root),
                None,
                None,
            );
        }
        let d = (rt - ct) as f64 + 0.77;
        self.row(
            rt,
            "remote.setup",
            &[("result", "success")],
            &[("durationMs", M::F(d))],
            Some(&trace),
            None,
            Some(&root),
            None,
        );
        rt
    }

    /// Something other than the rollups, now and then: logs and spans at
    /// about the rates the sample store shows.
    fn now_and_then(&mut self, t: i64) {
        match self.rng.below(16) {
            0..=4 => {
                let d = self.dur(150, 700);
                self.span(
                    t,
                    "auth.token_refresh.completed",
                    &[("trigger", "background"), ("result", "success")],
                    d,
                );
            }
            5 => self.log(t, "auth.token_refresh.deduped", &[("trigger", "reactive")], &[]),
            6..=7 => {
                let d = self.dur(500, 30_000_000);
                if self.rng.chance(0.3) {
                    self.row(
                        t,
                        "connection.dropped",
                        &[("cause", "error")],
                        &[("connection_duration_ms", M::F(d))],
                        None,
                        None,
                        None,
                        Some(("read ECONNRESET", Some("ECONNRESET"))),
                    );
                } else {
                    self.log(
                        t,
                        "connection.dropped",
                        &[("cause", "unexpected_close"), ("close_code", "1006")],
                        &[("connection_duration_ms", M::F(d))],
                    );
                }
                let r = self.dur(1000, 3000);
                self.log(
                    t + r as i64,
                    "connection.reconnect_resolved",
                    &[("outcome", "success"), ("reason", "unexpected_close")],
                    &[
                        ("attempts", M::I(1)),
                        ("max_backoff_ms", M::I(1000)),
                        ("total_duration_ms", M::F(r)),
                    ],
                );
            }
            8..=9 => {
                let up = self.dur(60_000, 9_000_000);
                self.log(
                    t,
                    "ssh.process.lost",
                    &[("cause", "stale_network_info")],
                    &[("uptime_ms", M::F(up))],
                );
                let lost = self.dur(15_000, 25_000);
                self.log(
                    t + lost as i64,
                    "ssh.process.replaced",
                    &[("was_lost", "true")],
                    &[
                        ("previous_uptime_ms", M::F(up + lost)),
                        ("lost_duration_ms", M::F(lost)),
                    ],
                );
                if self.rng.chance(0.5) {
                    let r = self.dur(15_000, 25_000);
                    self.log(
                        t + (lost + r) as i64,
                        "ssh.process.recovered",
                        &[],
                        &[("recovery_duration_ms", M::F(r))],
                    );
                }
            }
            10..=11 => {
                let d = self.dur(100, 6000);
                let cmd = [
                    "coder.open",
                    "coder.workspace.update",
                    "coder.viewLogs",
                    "coder.refreshWorkspaces",
                ][self.rng.below(4) as usize];
                self.span(t, "command.invoked", &[("command_id", cmd), ("result", "success")], d);
            }
            12 => {
                // The span-attached log is written before its span.
                let (trace, id) = (self.hex(32), self.hex(16));
                self.row(
                    t,
                    "auth.unauthorized_intercepted.received",
                    &[],
                    &[],
                    Some(&trace),
                    Some(&id),
                    None,
                    None,
                );
                let d = self.dur(200, 900);
                self.row(
                    t + d as i64,
                    "auth.unauthorized_intercepted",
                    &[
                        ("recovery", "refresh_success"),
                        ("refresh_attempted", "true"),
                        ("result", "success"),
                    ],
                    &[("durationMs", M::F(d))],
                    Some(&trace),
                    None,
                    Some(&id),
                    None,
                );
            }
            13 => {
                // A workspace name the JavaScript writer cut inside an emoji: a lone surrogate.
                let lone = self.rng.chance(0.05);
                self.sink.tally.lone_surrogates += u64::from(lone);
                let name = if lone { "dev \\ud83d" } else { "dev" };
                let out = &mut self.sink.buffered;
                let before = out.len();
                out.extend_from_slice(b"{\"event_id\":\"");
                self.rng.hex(out, 16);
                out.extend_from_slice(b"\",\"event_name\":\"workspace.state_transitioned\",\"timestamp\":");
                push_ts(out, t);
                out.extend_from_slice(b",\"event_sequence\":");
                push_u64(out, self.seq);
                self.seq += 1;
                out.extend_from_slice(b",\"properties\":{\"workspace_name\":\"");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(
                    b"\",\"from\":\"running\",\"to\":\"stopping\"},\"measurements\":{},\"deployment_url\":",
                );
                push_str(out, self.deployment);
                out.extend_from_slice(b"}\n");
                self.written += (out.len() - before) as u64;
                self.sink.buffered_events += 1;
            }
            14 => {
                let (d, trace) = (self.dur(300, 900), self.hex(32));
                self.row(
                    t,
                    "workspace.update.triggered",
                    &[("workspace_name", "dev"), ("result", "error")],
                    &[("durationMs", M::F(d))],
                    Some(&trace),
                    None,
                    None,
                    Some(("Request failed with status code 400", None)),
                );
            }
            _ => {
                let d = self.dur(100, 400);
                self.span(
                    t,
                    "auth.credential.store",
                    &[
                        ("keyring_enabled", "false"),
                        ("category", "file"),
                        ("error.type", "cli"),
                        ("result", "error"),
                    ],
                    d,
                );
            }
        }
    }
}

/// Simulates one session and writes its files; returns what it wrote.
pub fn session(dir: &Path, plan: Plan) -> std::io::Result<Tally> {
    let mut rng = Rng::new(plan.seed);
    let mut sid = Vec::with_capacity(32);
    rng.hex(&mut sid, 32);
    let sid = String::from_utf8_lossy(&sid).into_owned();
    let mut machine = Vec::new();
    let mut mrng = Rng::new(plan.machine.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x51);
    // Rng::hex draws two words: 32 digits at a time.
    mrng.hex(&mut machine, 32);
    mrng.hex(&mut machine, 32);
    let (os, os_version, arch) = OSES[mrng.below(OSES.len() as u64) as usize];
    let mut header = Vec::with_capacity(512);
    header.extend_from_slice(b"{\"kind\":\"header\",\"schema_version\":1,\"timestamp\":");
    push_ts(&mut header, plan.start_ms);
    header.extend_from_slice(b",\"context\":{\"extension_version\":\"1.15.1\",\"machine_id\":\"");
    header.extend_from_slice(&machine);
    header.extend_from_slice(b"\",\"session_id\":");
    push_str(&mut header, &sid);
    header.extend_from_slice(b",\"os_type\":");
    push_str(&mut header, os);
    header.extend_from_slice(b",\"os_version\":");
    push_str(&mut header, os_version);
    header.extend_from_slice(b",\"host_arch\":");
    push_str(&mut header, arch);
    header.extend_from_slice(b",\"platform_name\":\"Visual Studio Code\",\"platform_version\":\"1.105.1\"}}\n");
    let remote = rng.chance(0.6);
    let sleeps = rng.chance(0.25);
    let mut s = Session {
        sink: Sink {
            dir,
            name8: sid[..8].to_string(),
            header,
            rotate: plan.rotate,
            buffered: Vec::with_capacity(64 << 10),
            buffered_events: 0,
            file: None,
            tally: Tally::default(),
        },
        deployment: DEPLOYMENTS[usize::from(rng.chance(0.1))],
        seq: 0,
        written: 0,
        next_flush: plan.start_ms + 15_000,
        rng,
    };
    let mut t = s.start_up(plan.start_ms, remote);
    s.tick_to(t)?;
    // Steady state: a window of rollups every 60 s, network samples, the odd other event.
    let mut window_start = t - t.rem_euclid(60_000);
    let mut next_sample = t + 3000;
    let mut next_other = t + 120_000 + s.rng.below(282_000) as i64;
    let mut sleep_at = sleeps.then(|| s.written + plan.budget / 3 + s.rng.below(plan.budget / 3 + 1));
    let routes_total: u32 = ROUTES.iter().map(|r| r.1).sum();
    while s.written < plan.budget {
        let window_end = window_start + 60_000;
        // Samples and other events inside the window.
        while next_sample < window_end {
            let p2p = if s.rng.chance(0.8) { "true" } else { "false" };
            let derp = DERPS[s.rng.below(DERPS.len() as u64) as usize];
            let latency = if s.rng.chance(0.001) {
                M::Null
            } else {
                M::F(s.dur(8, 120))
            };
            let down = s.rng.below(90_000_000) as f64 / 1e6;
            let up = s.rng.below(20_000_000) as f64 / 1e6;
            s.tick_to(next_sample)?;
            s.log(
                next_sample,
                "ssh.network.sampled",
                &[("p2p", p2p), ("preferred_derp", derp)],
                &[
                    ("latency_ms", latency),
                    ("download_mbits", M::F(down)),
                    ("upload_mbits", M::F(up)),
                ],
            );
            // A busy window watches two connections: twice the samples.
            let every = if plan.busy { 14_000 } else { 28_000 };
            next_sample += every + s.rng.below(every as u64) as i64;
        }
        if next_other < window_end {
            s.tick_to(next_other)?;
            s.now_and_then(next_other);
            next_other += 120_000 + s.rng.below(282_000) as i64;
        }
        // The window's rollups, one per route that saw requests.
        let mut elapsed = 60_000;
        if sleep_at.is_some_and(|at| s.written >= at) {
            // The laptop sleeps: nothing is flushed until it wakes, and the
            // first window after it spans the whole sleep.
            sleep_at = None;
            let gap = 3_600_000 + s.rng.below(6 * 3_600_000) as i64;
            elapsed += gap;
            s.next_flush = window_end + gap + 15_000;
        }
        let end = window_start + elapsed;
        s.tick_to(end)?;
        let busy = BUSY_ROUTES.iter().filter(|_| plan.busy).map(|r| (*r, 20));
        for (route, weight) in ROUTES.into_iter().chain(busy) {
            if s.rng.below(u64::from(routes_total)) >= u64::from(weight) * 7 {
                continue;
            }
            let ok = 1 + s.rng.below(6);
            let mut m = vec![("window_seconds", M::I(((elapsed + 500) / 1000).max(1) as u64))];
            if !s.rng.chance(0.04) {
                m.push(("count.2xx", M::I(ok)));
            }
            if s.rng.chance(0.015) {
                m.push(("count.3xx", M::I(1)));
            }
            if s.rng.chance(0.06) {
                m.push(("count.4xx", M::I(1 + s.rng.below(2))));
            }
            if s.rng.chance(0.035) {
                m.push(("count.5xx", M::I(1)));
            }
            if s.rng.chance(0.015) {
                m.push(("count.network_error", M::I(1)));
            }
            let p50 = 20 + s.rng.below(200);
            let p95 = p50 + s.rng.below(300);
            let p99 = p95 + s.rng.below(500);
            m.extend([
                ("duration.p50_ms", M::I(p50)),
                ("duration.p95_ms", M::I(p95)),
                ("duration.p99_ms", M::I(p99)),
            ]);
            s.log(end, "http.requests", &[("method", "GET"), ("route", route)], &m);
        }
        if elapsed > 60_000 {
            // Samples resume after the sleep.
            next_sample = end + 3000;
            next_other = next_other.max(end + 60_000);
        }
        window_start = end;
        t = end;
    }
    // The window closes: the last partial window, then disposal.
    t += 1000 + s.rng.below(58_000) as i64;
    let up = (t - plan.start_ms) as f64 + 0.46;
    s.log(
        t,
        "ssh.process.disposed",
        &[("was_lost", "false")],
        &[("uptime_ms", M::F(up))],
    );
    s.sink.close(t + 15_000 - (t - plan.start_ms).rem_euclid(15_000))
}

/// The sessions of a real-mix store: `users` machines (0: as many as the
/// size needs), each opening `sessions_per_day` windows on each of `days`
/// days ending on `end_day`, sized to add up to `size` bytes. Session
/// budgets vary (a few heavy windows, many light ones), so some files
/// rotate; starts spread over the working day, so some sessions cross
/// midnight.
pub fn plans(
    size: u64,
    days: u32,
    users: u64,
    sessions_per_day: u32,
    end_day: i64,
    seed: u64,
    rotate: u64,
) -> Vec<Plan> {
    // About 1 MB of rows per session on average, as a full working day writes.
    const TYPICAL: u64 = 1_000_000;
    let per_user_day = u64::from(sessions_per_day.max(1));
    let days = u64::from(days.max(1));
    let users = if users == 0 {
        (size / (TYPICAL * per_user_day * days)).max(1)
    } else {
        users
    };
    let n = users * days * per_user_day;
    // Weights: light, typical and heavy windows (a heavy one rotates its files).
    let weights: Vec<u64> = (0..n)
        .map(|i| match Rng::new(seed ^ i.wrapping_mul(0x9E37)).below(20) {
            0 => 30,
            1..=5 => 1,
            _ => 3,
        })
        .collect();
    let total: u64 = weights.iter().sum();
    let mut out = Vec::with_capacity(n as usize);
    let mut i = 0;
    for u in 0..users {
        for d in 0..days {
            let day = end_day - (days - 1 - d) as i64;
            for s in 0..per_user_day {
                let mut r = Rng::new(seed.wrapping_mul(0x5851_F42D) ^ (u << 20) ^ (d << 8) ^ s);
                // 06:00-20:00 UTC, later windows of a day after earlier ones.
                let hour = 6 + (s * 14 / per_user_day) + r.below(14 / per_user_day.max(1));
                let start_ms = day * 86_400_000 + (hour * 3_600_000 + r.below(3_600_000)) as i64;
                out.push(Plan {
                    seed: seed ^ 0xC0DE_0000_0000 ^ i,
                    machine: seed.wrapping_mul(31) ^ u,
                    start_ms,
                    budget: size.saturating_mul(weights[i as usize]) / total.max(1),
                    rotate,
                    busy: weights[i as usize] == 30,
                });
                i += 1;
            }
        }
    }
    out
}

/// Where a plan's files go (all in one folder: a fleet archive).
pub fn write_all(dir: &Path, plans: &[Plan], threads: usize) -> std::io::Result<Tally> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let total = Mutex::new(Tally::default());
    let error: Mutex<Option<std::io::Error>> = Mutex::new(None);
    std::thread::scope(|sc| {
        for _ in 0..threads.max(1) {
            sc.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(plan) = plans.get(i) else { break };
                match session(dir, *plan) {
                    Ok(t) => total.lock().unwrap_or_else(|p| p.into_inner()).add(&t),
                    Err(e) => {
                        *error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(total.into_inner().unwrap_or_else(|p| p.into_inner()))
}
