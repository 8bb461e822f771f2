//! Manifests, in the two formats b3tree reads and writes: digest lines as b3sum and GNU
//! coreutils write them (`line`: one line's form and escapes; `read`: manifests opened and
//! read line by line; `write`: lines written), and tree specs (`mtree/`: mtree(5) as
//! NetBSD's mtree, bsdtar and go-mtree write and read it).

pub mod line;
pub mod mtree;
pub mod read;
pub mod write;
