//! The subcommands of the `densenas` binary, one file each.

pub mod search;
