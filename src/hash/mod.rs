//! Reading and hashing one file, trusting only what is checked around the read.

pub mod algo;
pub(crate) mod backend;
pub(crate) mod big;
pub(crate) mod biglane;
pub mod facts;
pub(crate) mod feed;
pub(crate) mod file;
pub mod groups;
pub(crate) mod links;
pub mod outboard;
pub mod outcome;
pub mod progress;
pub(crate) mod read;
pub(crate) mod stat;
pub(crate) mod tree;
pub(crate) mod whole;
