//! Experiments (docs/experiments.md): an experiment file's groups expanded into
//! units (searches and standalone trainings), each identified by the hash of what
//! defines it, run by a local pool of worker processes (or one at a time by any
//! scheduler), with results kept in an experiment folder so that a rerun does only
//! what is missing.

pub mod estimate;
pub mod executor;
pub mod file;
pub(crate) mod import;
pub(crate) mod packing;
pub mod plan;
pub(crate) mod run_proxies;
pub(crate) mod run_unit;
pub(crate) mod store;
pub(crate) mod unit;

pub use import::{import_unit, record_failure, ExperimentLock};
pub use file::{Baseline, DatasetEntry, Experiment, Group, RandomDags, Standalone};
pub use plan::PlannedUnit;
pub use store::ExperimentDir;
pub use unit::{UnitResult, UnitSpec};
