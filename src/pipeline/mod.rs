//! The bounded, ordered pipeline: a source pushes jobs onto the queue, workers hand batches
//! to the blocking pool, the gather stage restores canonical order. `engine::run` wires it.

pub(crate) mod engine;
pub(crate) mod gate;
pub(crate) mod gather;
pub(crate) mod job;
pub(crate) mod pace;
pub(crate) mod queue;
pub(crate) mod rt;
pub(crate) mod workers;
