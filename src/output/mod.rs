//! Packaging: atomic staging of the target and what `--force` may replace
//! ([`atomic`]), the manifest that describes an export ([`manifest`]), and
//! the writer that turns the JSON array into JSON Lines ([`stream`]).

pub mod atomic;
pub mod manifest;
pub mod stream;
