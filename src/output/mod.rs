//! Packaging: atomic staging of the target and what `--force` may replace
//! ([`atomic`]), and the manifest that describes an export ([`manifest`]).

pub mod atomic;
pub mod manifest;
