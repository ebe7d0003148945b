//! The JSON-array element (SPEC §5.2): a self-contained snake_case event,
//! whatever key style the input used, with its full context inside. The
//! pipeline writes the head and the context separately, to share a file's
//! context bytes; tests/end_to_end.rs checks whole elements the binary wrote.

use super::write::{write_num, write_str, write_str_lower, write_u64};
use super::{write_scalar_as_str, Event, Sep};
use crate::row::{Context, CONTEXT_KEYS};

/// Appends an element up to its context: everything but `"context":{...}}`.
pub fn write_element_head(out: &mut Vec<u8>, ev: &Event<'_>) {
    let r = &ev.row;
    out.push(b'{');
    if let Some(id) = r.event_id {
        out.extend_from_slice(b"\"event_id\":");
        write_str_lower(out, id);
        out.push(b',');
    }
    out.extend_from_slice(b"\"event_name\":");
    write_str(out, r.event_name);
    out.extend_from_slice(b",\"timestamp\":");
    write_str(out, r.timestamp);
    if let Some(n) = r.event_sequence {
        out.extend_from_slice(b",\"event_sequence\":");
        write_num(out, n);
    }
    if let Some(props) = r.properties {
        out.extend_from_slice(b",\"properties\":{");
        let mut sep = Sep::default();
        for (k, v) in props.props() {
            sep.next(out);
            write_str(out, k);
            out.push(b':');
            write_scalar_as_str(out, v);
        }
        out.push(b'}');
    }
    if let Some(m) = r.measurements {
        out.extend_from_slice(b",\"measurements\":{");
        let mut sep = Sep::default();
        for (k, v) in m.measures() {
            sep.next(out);
            write_str(out, k);
            out.push(b':');
            match v {
                Some(n) => write_num(out, n),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'}');
    }
    if let Some(t) = r.trace_id {
        out.extend_from_slice(b",\"trace_id\":");
        write_str_lower(out, t);
    }
    if let Some(p) = r.parent_event_id {
        out.extend_from_slice(b",\"parent_event_id\":");
        write_str_lower(out, p);
    }
    if let Some(e) = &r.error {
        out.extend_from_slice(b",\"error\":{");
        let mut sep = Sep::default();
        if let Some(m) = e.message {
            sep.next(out);
            out.extend_from_slice(b"\"message\":");
            write_str(out, m);
        }
        if let Some(t) = e.kind {
            sep.next(out);
            out.extend_from_slice(b"\"type\":");
            write_str(out, t);
        }
        if let Some(c) = e.code {
            sep.next(out);
            out.extend_from_slice(b"\"code\":");
            match c {
                crate::row::Scalar::Num(n) => write_num(out, n),
                other => write_scalar_as_str(out, other),
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b",\"schema_version\":");
    write_u64(out, ev.schema_version);
}

/// Appends `,"context":{...}}`, closing the element. A file's rows share
/// their header's context, so callers may cache these bytes.
pub fn write_context(out: &mut Vec<u8>, ctx: &Context<'_>) {
    out.extend_from_slice(b",\"context\":{");
    let mut sep = Sep::default();
    for (key, value) in CONTEXT_KEYS.iter().zip(ctx.fields()) {
        if let Some(v) = value {
            sep.next(out);
            write_str(out, key);
            out.push(b':');
            write_str(out, v);
        }
    }
    if let Some(d) = ctx.deployment_url {
        sep.next(out);
        out.extend_from_slice(b"\"deployment_url\":");
        write_str(out, d);
    }
    out.extend_from_slice(b"}}");
}
