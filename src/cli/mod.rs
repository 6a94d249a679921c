//! The subcommands of the `densenas` binary, one file each.

pub mod args;
pub mod eval;
pub mod experiment;
pub mod progress;
pub mod bench;
pub mod data;
pub mod search;
pub mod serve;
pub mod train;
