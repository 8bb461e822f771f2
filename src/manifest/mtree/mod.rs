//! The second manifest format: mtree tree specs (mtree(5)) — every entry with its type,
//! mode, link target, size and digest, as NetBSD's mtree, bsdtar and go-mtree read them.
//! `read` turns any spec (b3tree's, bsdtar's, NetBSD's full-path or hierarchical form) into
//! a stream of entries, with `set` holding the `/set` defaults; `values` parses and checks
//! keyword values; `keys` compares an entry's keywords with what stands in the tree (each `difference`
//! worded as check reports it); `write`
//! makes the lines `hash --format mtree` writes.

pub mod difference;
pub mod keys;
pub mod read;
pub mod set;
pub mod values;
pub mod write;
