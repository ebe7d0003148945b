//! coder-telemetry: export the Coder VS Code extension's local telemetry store
//! as a JSON array or as OTLP/JSON logs, traces and metrics.
//!
//! The data flows through the modules in this order:
//! [`store`] (which files) -> [`row`] (parse a line) -> [`route`] (which
//! signal) -> [`encode`] (record bytes) -> [`pipeline`] (parallel, ordered)
//! -> [`output`] (layout, packaging, atomic rename). [`export`] runs one
//! export end to end from a validated [`config::Config`]; the command line
//! lives in the binary and is the only user of clap. [`heap`] tunes the
//! allocator for long runs.

pub mod config;
pub mod encode;
pub mod export;
pub mod heap;
pub mod output;
pub mod pipeline;
pub mod range;
pub mod report;
pub mod route;
pub mod row;
pub mod store;
pub mod timestamp;
