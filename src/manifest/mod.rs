//! Manifests: reading lines (b3sum and GNU conventions) and writing them.

pub mod line;
pub mod mtree;
pub mod mtree_keys;
pub mod mtree_set;
pub mod mtree_values;
pub mod mtree_write;
pub mod read;
pub mod write;
