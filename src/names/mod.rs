//! Names as bytes: escaping for manifests and terminals, canonical order, and sets of names.

pub mod entry;
pub mod escape;
pub(crate) mod nameset;
pub(crate) mod order;
pub(crate) mod relist;
pub(crate) mod temp;
pub mod vis;
