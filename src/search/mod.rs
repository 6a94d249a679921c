//! The search layer (docs/architecture.md): the [`strategy`]s, the
//! [`session`] that alternates weight and architecture steps and resamples blocks
//! between phases, the first phase's given DAGs, and a whole search: its
//! [`config`]uration, phases, retraining, [`summary`], events and [`checkpoint`]s,
//! the architecture Hessian monitor ([`hessian`]) and [`random_standalone`], random
//! search without weight sharing.

pub mod checkpoint;
pub mod config;
pub(crate) mod events;
pub mod first_dags;
pub mod hessian;
mod phases;
pub mod random_standalone;
mod retrain;
mod run;
pub mod session;
pub mod stages;
pub(crate) mod state;
pub mod stats;
pub mod strategy;
pub mod summary;
mod watch;

pub use checkpoint::Checkpoint;
pub use config::{ArchSplit, SearchConfig, SpaceOptions};
pub use events::{Control, Event};
pub use run::{run_search, run_search_on_splits, run_search_until, run_search_with, Persistence, SearchOutcome};
pub use state::LoopState;
pub use stats::kendall_tau;
