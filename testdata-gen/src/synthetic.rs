//! The synthetic mix: testdata-gen's broad catalogue, for coverage rather
//! than realism. Many sessions a day, the extension's event families in
//! both measurement-key styles, non-ASCII and escaped strings, all three
//! wire formats (v1, v0 with inline context, camelCase), rotated parts, and
//! with `--faults`, planted bad lines of every kind an exporter reports.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::{civil, push_str, push_u64, Rng, Tally, Wire, FAULTS};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    V1,
    V0,
    Camel,
}

/// Key names in one wire style.
struct Keys {
    event_id: &'static str,
    event_name: &'static str,
    event_sequence: &'static str,
    trace_id: &'static str,
    parent_event_id: &'static str,
    deployment_url: &'static str,
    ctx: [&'static str; 8],
}

const SNAKE: Keys = Keys {
    event_id: "event_id",
    event_name: "event_name",
    event_sequence: "event_sequence",
    trace_id: "trace_id",
    parent_event_id: "parent_event_id",
    deployment_url: "deployment_url",
    ctx: [
        "extension_version",
        "machine_id",
        "session_id",
        "os_type",
        "os_version",
        "host_arch",
        "platform_name",
        "platform_version",
    ],
};
const CAMEL: Keys = Keys {
    event_id: "eventId",
    event_name: "eventName",
    event_sequence: "eventSequence",
    trace_id: "traceId",
    parent_event_id: "parentEventId",
    deployment_url: "deploymentUrl",
    ctx: [
        "extensionVersion",
        "machineId",
        "sessionId",
        "osType",
        "osVersion",
        "hostArch",
        "platformName",
        "platformVersion",
    ],
};

struct Session<'a> {
    rng: Rng,
    style: Style,
    keys: &'a Keys,
    id: String,
    ctx: [String; 8],
    deployment: &'static str,
    seq: u64,
}

/// Writes `2026-11-24T05:35:24.123Z` (millisecond precision, like the extension).
fn push_ts(out: &mut Vec<u8>, day: i64, ms_of_day: u64) {
    let ms_of_day = ms_of_day.min(86_399_999);
    let (y, m, d) = civil(day);
    let s = ms_of_day / 1000;
    let ms = ms_of_day % 1000;
    let text = format!(
        "\"{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z\"",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
    out.extend_from_slice(text.as_bytes());
}

const WORKSPACES: [&str; 8] = [
    "dev",
    "backend-api",
    "ml-training",
    "frontend\\monorepo",
    "ünïcödé-ws",
    "日本語ワークスペース",
    "team \"alpha\"",
    "data\tpipeline",
];
const ROUTES: [&str; 5] = [
    "/api/v2/users/me",
    "/api/v2/workspaces",
    "/api/v2/workspaceagents/me/manifest",
    "/api/v2/buildinfo",
    "/api/v2/workspacebuilds/{id}/logs",
];
const ERRORS: [(&str, &str, &str); 4] = [
    ("connect ECONNREFUSED 10.0.0.1:443", "Error", "ECONNREFUSED"),
    ("Request failed with status code 401", "AxiosError", "ERR_BAD_REQUEST"),
    ("getaddrinfo ENOTFOUND coder.internal", "Error", "ENOTFOUND"),
    (
        "workspace build failed: \"terraform apply\" exited 1",
        "BuildError",
        "BUILD_FAILED",
    ),
];

impl Session<'_> {
    /// Starts a row: `{"event_id":..,"event_name":..,"timestamp":..,"event_sequence":..`
    fn open(&mut self, out: &mut Vec<u8>, name: &str, day: i64, ms: u64, id: Option<&[u8]>) {
        let k = self.keys;
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(k.event_id.as_bytes());
        out.extend_from_slice(b"\":\"");
        match id {
            Some(id) => out.extend_from_slice(id),
            None => self.rng.hex(out, 16),
        }
        out.extend_from_slice(b"\",\"");
        out.extend_from_slice(k.event_name.as_bytes());
        out.extend_from_slice(b"\":");
        push_str(out, name);
        out.extend_from_slice(b",\"timestamp\":");
        push_ts(out, day, ms);
        out.extend_from_slice(b",\"");
        out.extend_from_slice(k.event_sequence.as_bytes());
        out.extend_from_slice(b"\":");
        self.seq += 1;
        push_u64(out, self.seq);
    }

    /// Ends a row with deployment and (v0) context, and a newline.
    fn close(&mut self, out: &mut Vec<u8>) {
        let k = self.keys;
        if self.style == Style::V0 {
            out.extend_from_slice(b",\"context\":{");
            for (i, key) in k.ctx.iter().enumerate() {
                out.push(b'"');
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
                push_str(out, &self.ctx[i]);
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(k.deployment_url.as_bytes());
            out.extend_from_slice(b"\":");
            push_str(out, self.deployment);
            out.extend_from_slice(b"}}\n");
        } else {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(k.deployment_url.as_bytes());
            out.extend_from_slice(b"\":");
            push_str(out, self.deployment);
            out.extend_from_slice(b"}\n");
        }
    }

    fn header(&self, out: &mut Vec<u8>, day: i64) {
        let camel = self.style == Style::Camel;
        out.extend_from_slice(if camel {
            b"{\"kind\":\"header\",\"schemaVersion\":1,\"timestamp\":"
        } else {
            b"{\"kind\":\"header\",\"schema_version\":1,\"timestamp\":"
        });
        push_ts(out, day, 0);
        out.extend_from_slice(b",\"context\":{");
        for (i, key) in self.keys.ctx.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            push_str(out, &self.ctx[i]);
        }
        out.extend_from_slice(b"}}\n");
    }

    /// Writes one "moment" of activity (one to a dozen rows); returns the events written.
    fn activity(&mut self, out: &mut Vec<u8>, day: i64, ms: u64, tally: &mut Tally) -> u64 {
        let k = self.keys;
        match self.rng.below(100) {
            // A remote.setup span family: phases, span logs, the root last.
            0..=24 => {
                let mut trace = Vec::with_capacity(32);
                self.rng.hex(&mut trace, 32);
                let mut root = Vec::with_capacity(16);
                self.rng.hex(&mut root, 16);
                let mut t = ms;
                let mut n = 0;
                let fail = self.rng.chance(0.1);
                for phase in ["resolve", "download", "connect", "workspace_start"] {
                    let dur = 20 + self.rng.below(4000);
                    t += dur;
                    // A span log inside the phase.
                    if self.rng.chance(0.5) {
                        self.open(out, "remote.setup.log", day, t - dur / 2, None);
                        out.extend_from_slice(b",\"properties\":{\"message\":");
                        push_str(out, "retrying after \"timeout\" – attempt 2");
                        out.extend_from_slice(b",\"phase\":");
                        push_str(out, phase);
                        out.extend_from_slice(b"},\"measurements\":{},\"");
                        span_ids(out, k, &trace, Some(&root));
                        self.close(out);
                        n += 1;
                    }
                    self.open(out, &format!("remote.setup.phase.{phase}"), day, t, None);
                    let failed = fail && phase == "connect";
                    out.extend_from_slice(b",\"properties\":{\"result\":");
                    push_str(out, if failed { "error" } else { "success" });
                    out.extend_from_slice(b",\"workspace\":");
                    push_str(out, WORKSPACES[self.rng.below(WORKSPACES.len() as u64) as usize]);
                    out.extend_from_slice(b"},\"measurements\":{\"durationMs\":");
                    push_u64(out, dur);
                    out.extend_from_slice(b"},\"");
                    span_ids(out, k, &trace, Some(&root));
                    if failed {
                        let (m, ty, code) = ERRORS[self.rng.below(ERRORS.len() as u64) as usize];
                        error_obj(out, m, ty, code);
                    }
                    self.close(out);
                    n += 1;
                    if failed {
                        break;
                    }
                }
                self.open(out, "remote.setup", day, t, Some(&root));
                out.extend_from_slice(b",\"properties\":{\"result\":");
                push_str(
                    out,
                    if fail {
                        "error"
                    } else if self.rng.chance(0.05) {
                        "aborted"
                    } else {
                        "success"
                    },
                );
                out.extend_from_slice(b",\"trigger\":\"open-workspace\"},\"measurements\":{\"durationMs\":");
                push_u64(out, t - ms);
                out.extend_from_slice(b".5},\"");
                span_ids(out, k, &trace, None);
                self.close(out);
                n + 1
            }
            // http.requests rollup, alternating measurement-key styles.
            25..=49 => {
                let route = ROUTES[self.rng.below(ROUTES.len() as u64) as usize];
                self.open(out, "http.requests", day, ms, None);
                out.extend_from_slice(b",\"properties\":{\"route\":");
                push_str(out, route);
                out.extend_from_slice(b",\"method\":\"GET\"},\"measurements\":{");
                let ok = self.rng.below(400);
                let p95 = self.rng.below(90_000) as f64 / 100.0;
                let m = if self.rng.chance(0.5) {
                    format!(
                        "\"window_seconds\":60,\"count_2xx\":{ok},\"count_4xx\":{},\"count_5xx\":{},\"latency_p50_ms\":{},\"latency_p95_ms\":{p95}",
                        self.rng.below(5),
                        self.rng.below(3),
                        self.rng.below(200)
                    )
                } else {
                    format!(
                        "\"windowSeconds\":60,\"count.success\":{ok},\"count.failure\":{},\"latencyP50Ms\":{},\"latencyP95Ms\":{p95},\"responseBytes\":{}",
                        self.rng.below(5),
                        self.rng.below(200),
                        self.rng.below(2_000_000)
                    )
                };
                out.extend_from_slice(m.as_bytes());
                out.extend_from_slice(b"}");
                self.close(out);
                1
            }
            50..=69 => {
                self.open(out, "ssh.network.sampled", day, ms, None);
                let m = format!(
                    ",\"properties\":{{\"p2p\":{}}},\"measurements\":{{\"latencyMs\":{},\"downloadMbits\":{},\"uploadMbits\":{}}}",
                    self.rng.chance(0.7),
                    self.rng.below(300),
                    self.rng.below(10_000) as f64 / 10.0,
                    self.rng.below(5_000) as f64 / 10.0
                );
                out.extend_from_slice(m.as_bytes());
                self.close(out);
                1
            }
            70..=74 => {
                self.open(out, "ssh.network.info", day, ms, None);
                let m = format!(
                    ",\"properties\":{{\"transport\":\"{}\"}},\"measurements\":{{\"window_seconds\":300,\"count_reconnects\":{},\"preferred_derp_latency_ms\":{}}}",
                    ["direct", "derp"][self.rng.below(2) as usize],
                    self.rng.below(3),
                    self.rng.below(120)
                );
                out.extend_from_slice(m.as_bytes());
                self.close(out);
                1
            }
            75..=84 => {
                let name = ["extension.command", "settings.changed", "workspace.opened"][self.rng.below(3) as usize];
                self.open(out, name, day, ms, None);
                out.extend_from_slice(b",\"properties\":{\"command\":");
                push_str(out, "coder.open");
                out.extend_from_slice(b",\"workspace\":");
                if self.rng.chance(0.02) {
                    // The extension's JavaScript writer can emit a lone surrogate.
                    out.extend_from_slice(b"\"broken \\ud83d emoji\"");
                    tally.lone_surrogates += 1;
                } else {
                    push_str(out, WORKSPACES[self.rng.below(WORKSPACES.len() as u64) as usize]);
                }
                out.extend_from_slice(b",\"remote\":true},\"measurements\":{\"elapsedMs\":");
                push_u64(out, self.rng.below(5000));
                out.extend_from_slice(b"}");
                self.close(out);
                1
            }
            _ => {
                self.open(out, "auth.token_refresh", day, ms, None);
                out.extend_from_slice(b",\"properties\":{\"source\":\"keychain\"},\"measurements\":{}");
                if self.rng.chance(0.5) {
                    let (m, ty, code) = ERRORS[self.rng.below(ERRORS.len() as u64) as usize];
                    out.extend_from_slice(b",");
                    error_obj_bare(out, m, ty, code);
                }
                self.close(out);
                1
            }
        }
    }

    /// A bad line of kind `f` (see [`FAULTS`]).
    fn fault(&mut self, out: &mut Vec<u8>, f: usize, day: i64, ms: u64) {
        let k = self.keys;
        match f {
            0 => out.extend_from_slice(b"{\"event_name\": oops, this is not json}\n"),
            1 => {
                self.open(out, "cut.short", day, ms, None);
                out.extend_from_slice(b",\"properties\":{\"a\":\"b\n");
            }
            2 => out.extend_from_slice(b"[\"an\",\"array\"]\n"),
            3 => {
                out.extend_from_slice(b"{\"timestamp\":");
                push_ts(out, day, ms);
                self.close(out);
            }
            4 => {
                // A local time instead of RFC 3339.
                out.extend_from_slice(b"{\"");
                out.extend_from_slice(k.event_name.as_bytes());
                out.extend_from_slice(b"\":\"bad.time\",\"timestamp\":\"24/11/2026 05:35\"");
                self.close(out);
            }
            5 => {
                self.open(out, "wrong.type", day, ms, None);
                out.extend_from_slice(b",\"measurements\":{\"durationMs\":\"fast\"}");
                self.close(out);
            }
            6 => {
                self.open(out, "remote.setup.phase.bad", day, ms, None);
                out.extend_from_slice(b",\"properties\":{\"result\":\"success\"},\"measurements\":{},\"");
                out.extend_from_slice(k.trace_id.as_bytes());
                out.extend_from_slice(b"\":\"not-a-trace-id\"");
                self.close(out);
            }
            7 if self.style != Style::V0 => self.header(out, day),
            7 => out.extend_from_slice(b"{\"kind\":\"header\",\"schema_version\":1,\"context\":{}}\n"),
            _ => {
                out.extend_from_slice(b"{\"kind\":\"footer\",\"");
                out.extend_from_slice(k.event_name.as_bytes());
                out.extend_from_slice(b"\":\"x\",\"timestamp\":");
                push_ts(out, day, ms);
                out.extend_from_slice(b"}\n");
            }
        }
    }
}

fn span_ids(out: &mut Vec<u8>, k: &Keys, trace: &[u8], parent: Option<&[u8]>) {
    out.extend_from_slice(k.trace_id.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.extend_from_slice(trace);
    out.push(b'"');
    if let Some(p) = parent {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(k.parent_event_id.as_bytes());
        out.extend_from_slice(b"\":\"");
        out.extend_from_slice(p);
        out.push(b'"');
    }
}

fn error_obj(out: &mut Vec<u8>, m: &str, ty: &str, code: &str) {
    out.push(b',');
    error_obj_bare(out, m, ty, code);
}

fn error_obj_bare(out: &mut Vec<u8>, m: &str, ty: &str, code: &str) {
    out.extend_from_slice(b"\"error\":{\"message\":");
    push_str(out, m);
    out.extend_from_slice(b",\"type\":");
    push_str(out, ty);
    out.extend_from_slice(b",\"code\":");
    push_str(out, code);
    out.push(b'}');
}

/// Writes one session's file(s) for one day.
#[allow(clippy::too_many_arguments)]
pub fn write_session_day(
    dir: &Path,
    seed: u64,
    day: i64,
    s_index: u32,
    budget: u64,
    rotate: u64,
    wire: Wire,
    faults: f64,
) -> std::io::Result<Tally> {
    let mut rng = Rng::new(seed.wrapping_mul(1_000_003) ^ (day as u64).wrapping_mul(7919) ^ u64::from(s_index));
    let style = match wire {
        Wire::V1 => Style::V1,
        Wire::V0 => Style::V0,
        Wire::Camel => Style::Camel,
        Wire::Mixed => match rng.below(10) {
            0..=6 => Style::V1,
            7..=8 => Style::V0,
            _ => Style::Camel,
        },
        Wire::Each => {
            [Style::V1, Style::V0, Style::Camel][((day as u64).wrapping_add(u64::from(s_index)) % 3) as usize]
        }
    };
    let mut id = Vec::new();
    rng.hex(&mut id, 8);
    let id = format!("{}-{s_index:04}", String::from_utf8_lossy(&id));
    let machine = format!("machine-{}", rng.below(50));
    let os = [
        ("linux", "6.8.0-45-generic"),
        ("darwin", "24.1.0"),
        ("win32", "10.0.22631"),
    ][rng.below(3) as usize];
    let platform = [
        ("Visual Studio Code", "1.95.3"),
        ("Cursor", "0.42.4"),
        ("VSCodium", "1.95.2"),
    ][rng.below(3) as usize];
    let mut session = Session {
        keys: if style == Style::Camel { &CAMEL } else { &SNAKE },
        style,
        ctx: [
            format!("1.{}.{}", 3 + rng.below(3), rng.below(10)),
            machine,
            id.clone(),
            os.0.to_string(),
            os.1.to_string(),
            ["x64", "arm64"][rng.below(2) as usize].to_string(),
            platform.0.to_string(),
            platform.1.to_string(),
        ],
        deployment: ["https://coder.example.com", "https://dev.coder.example.com"][rng.below(2) as usize],
        id,
        seq: 0,
        rng,
    };
    let (y, m, d) = civil(day);
    let mut tally = Tally::default();
    let mut part = 0;
    let mut written = 0u64;
    // Spread activity over ~80% of the day (span families run on past their
    // start): about one moment per ~900 bytes of budget.
    let moments = (budget / 900).max(1);
    let step = (69_000_000 / moments).max(1);
    let mut ms = session.rng.below(step);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    while written < budget {
        let name = if part == 0 {
            format!("telemetry-{y:04}-{m:02}-{d:02}-{}.jsonl", session.id)
        } else {
            format!("telemetry-{y:04}-{m:02}-{d:02}-{}.{part}.jsonl", session.id)
        };
        let mut file = BufWriter::with_capacity(1 << 20, File::create(dir.join(name))?);
        tally.files += 1;
        let mut in_file = 0u64;
        buf.clear();
        if style != Style::V0 {
            session.header(&mut buf, day);
        }
        while written + in_file + (buf.len() as u64) < budget && in_file + (buf.len() as u64) < rotate {
            if faults > 0.0 && session.rng.chance(faults) {
                let mut f = session.rng.below(FAULTS.len() as u64) as usize;
                // A header as the first line of a v0 file would be its header, not a fault.
                if f == 7 && style == Style::V0 && in_file == 0 && buf.is_empty() {
                    f = 0;
                }
                session.fault(&mut buf, f, day, ms.min(86_399_999));
                tally.faults[f] += 1;
            } else {
                tally.events += session.activity(&mut buf, day, ms.min(86_399_999), &mut tally);
            }
            ms += 1 + session.rng.below(2 * step);
            if buf.len() > 1 << 20 {
                file.write_all(&buf)?;
                in_file += buf.len() as u64;
                buf.clear();
            }
        }
        file.write_all(&buf)?;
        in_file += buf.len() as u64;
        buf.clear();
        file.flush()?;
        written += in_file;
        part += 1;
    }
    tally.bytes = written;
    Ok(tally)
}
