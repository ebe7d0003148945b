//! The output side: envelope writers per layout ([`layout`]), where their
//! bytes go ([`sink`]: folder or zip), the manifest, and atomic staging of
//! the target ([`atomic`]).

pub mod atomic;
pub mod layout;
pub mod manifest;
pub mod sink;
