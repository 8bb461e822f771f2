//! The floor of system calls: every libc call and unsafe block lives here, behind safe,
//! documented functions, so the rest of the crate reads as plain Rust.

pub mod cancel;
pub mod evict;
pub(crate) mod fsinfo;
pub mod limits;
pub(crate) mod mapguard;
pub mod open;
pub(crate) mod resolve;
pub mod roots;
pub mod stdio;
