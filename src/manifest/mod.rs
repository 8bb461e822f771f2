//! Manifests: reading lines (b3sum and GNU conventions), writing them, and the output file.

pub mod line;
pub(crate) mod output;
pub mod read;
pub mod write;
