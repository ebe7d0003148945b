//! coder-telemetry: export the Coder VS Code extension's local telemetry store
//! as a JSON array or as OTLP/JSON logs, traces and metrics.
//!
//! The data flows through the modules in this order:
//! [`store`] (which files) -> [`row`] (parse a line) -> [`route`] (which
//! signal) -> [`encode`] (record bytes) -> [`pipeline`] (parallel, ordered)
//! -> [`output`] (layout, packaging, atomic rename). [`config`] is the
//! validated description of one export; the command line lives in the binary.

pub mod encode;
pub mod route;
pub mod row;
pub mod timestamp;
