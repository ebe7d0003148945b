//! The data that crosses stages, shared by all of them and depending on
//! none: numbers as read ([`Num`]), validated trace and span ids
//! ([`SpanIds`]), event counts ([`Counts`]), problems ([`Problem`]) and their
//! tally by reason ([`Tally`]), the
//! encoded output of one chunk of a file on its way from a worker to the
//! ordered writers ([`OtlpBatch`] and its segments), the buffers that
//! travel back to be reused ([`Pools`]), and the signals ([`Signal`]), and what a send delivered
//! ([`DeliverySummary`]).
//!
//! Keeping them here lets every module import only from stages before it
//! (select -> parse -> route -> encode -> order -> write/package) and from
//! this one.

mod batch;
mod counts;
mod delivery;
mod format;
mod ids;
mod num;
mod origin;
mod pool;
mod problem;
mod signal;

pub use batch::{BlockHead, BlockKey, MetricKind, MetricSegment, OtlpBatch, PointRec, PointValue, Segment, SeriesDef};
pub use counts::{Counts, FileCounts};
pub use delivery::{DeliverySummary, Failure, SignalStats, Unrecorded};
pub use format::Format;
pub use ids::{HexId, SpanIds};
pub use num::Num;
pub use origin::{Delivered, Origins, RecordId, Tracker};
pub use pool::Pools;
pub use problem::{FileProblems, Problem, ReasonCount, Tally};
pub use signal::Signal;
