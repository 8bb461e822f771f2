//! Names as bytes: escaping for manifests and terminals, and sets of names.

pub mod escape;
pub(crate) mod nameset;
pub(crate) mod temp;
