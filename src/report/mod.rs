//! What the user reads on stderr, and the totals of a run.

pub(crate) mod github;
pub(crate) mod inert;
pub(crate) mod junit;
pub(crate) mod progress;
pub(crate) mod stderr;
pub(crate) mod summary;
