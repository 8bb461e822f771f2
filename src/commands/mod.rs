//! One module per subcommand: each wires the floors beneath it and returns an exit code.

pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod digest;
pub(crate) mod hash;
pub(crate) mod merge;
