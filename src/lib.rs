//! coder-telemetry: export the Coder VS Code extension's local telemetry store
//! as a JSON array or as OTLP/JSON logs, traces and metrics.
//!
//! The data flows through the modules in this order, and every import
//! points down it (a stage uses the stages before it, and `model`, the
//! data they share):
//!
//! ```text
//! store, range        select: which files of which stores, which window
//! row, timestamp      parse: one line -> a borrowed row
//! route               route: log, span or metric
//! encode              encode: record bytes
//! engine              order: units on workers, in the order a consumer needs
//! write               write: envelope layouts, metric series, sinks, the JSON array
//! output              package: atomic staging, --force rules, the manifest
//! deliver             deliver: requests POSTed to an OTLP/HTTP endpoint (`send`)
//! export              one export from a validated [`config::Config`]
//! ```
//!
//! The public face is [`export::export`], [`config`], the summary and the
//! errors; the stages are public only with the `internals` feature, for the
//! benches, the fuzz target and the tests.

pub mod config;
pub mod deliver;
pub mod export;
pub mod heap;
pub mod output;
pub mod range;
pub mod report;
pub mod store;

macro_rules! internal {
    ($($(#[$m:meta])* mod $name:ident;)*) => {
        $(
            $(#[$m])*
            #[cfg(feature = "internals")]
            pub mod $name;
            $(#[$m])*
            #[cfg(not(feature = "internals"))]
            mod $name;
        )*
    };
}

internal! {
    mod encode;
    mod engine;
    mod model;
    mod route;
    mod row;
    mod timestamp;
    mod write;
}
