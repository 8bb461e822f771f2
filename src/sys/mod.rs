//! The floor of system calls: every libc call and unsafe block lives here (the one other is
//! `main`'s probe of fd 1, which must run before std's start-up), behind safe,
//! documented functions, so the rest of the crate reads as plain Rust.

#![allow(unsafe_code)]

pub mod alloc;
pub mod cancel;
pub mod clock;
pub mod copy;
pub mod evict;
pub(crate) mod fsinfo;
pub mod limits;
pub(crate) mod mapguard;
pub mod open;
pub mod owners;
pub(crate) mod resolve;
pub mod roots;
pub mod stdio;
