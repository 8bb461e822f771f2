//! The integration suite, one test binary with a module per part of what README promises
//! (as ripgrep and fd have it): the crate is linked once, and `tests/common` compiled once.
//! The hazard tables of docs/hazards.md have a module each: `hazards_files` (rows H: odd
//! files, names and inputs), `hazards_races` (rows R: confinement, swaps, `-o` targets,
//! signals), `hazards_resources` (rows T: closed stderr, memory, journals, mounts).

mod common;

mod bench;
mod check;
mod ci_templates;
mod diff;
mod digest;
mod dropin;
mod hash;
mod hazards_files;
mod hazards_hostile;
mod hazards_races;
mod hazards_resources;
mod junit;
mod layout;
mod links;
mod messages;
mod mtree;
mod outboard;
mod progress;
mod props;
mod release;
mod rot;
mod rotation;
mod signatures;
mod slurm;
mod update;
mod workflows;
