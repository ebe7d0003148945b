//! coder-telemetry: export the Coder VS Code extension's local telemetry store
//! as a JSON array or as OTLP logs, traces and metrics, to files or straight
//! to an OTLP receiver.
//!
//! The data flows through the modules in this order, and every import
//! points back up it (a module uses those before it, never one after;
//! `scripts/check-imports.py` checks it):
//!
//! ```text
//! model, heap         the data every stage shares; allocator tuning
//! timestamp           RFC 3339
//! range, store        select: which window, which files of which stores
//! tape, row           parse: one line -> a tape (plain lines in one pass) -> a borrowed row
//! route               route: log, span or metric
//! encode              encode: record bytes (JSON element, OTLP/JSON, OTLP/protobuf)
//! report              problems and the summary
//! engine              order: chunks on workers, in the order a consumer needs
//! write               envelope layouts, metric series, entry sinks
//! output              atomic staging, --force rules, the manifest
//! config              the validated description of a run
//! deliver             the send layers: journal, retry, split, compress, HTTP or gRPC
//! destination         where records go: one trait, three destinations
//! export              one run into a destination: `export` and `send`
//! ```
//!
//! The public face is [`export::export`], [`export::send`], [`config`],
//! [`deliver::Settings`], the summary and the errors; the stages are
//! public only with the `internals` feature, for the benches, the fuzz
//! target and the tests.

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
    mod destination;
    mod encode;
    mod engine;
    mod model;
    mod route;
    mod row;
    mod tape;
    mod timestamp;
    mod write;
}

/// One line through every stage, for the fuzz target and the property tests.
#[cfg(feature = "internals")]
pub mod harness;
