//! The search layer (DESIGN.md sections 3 and 4): the [`strategy`]s, the [`session`]
//! that alternates weight and architecture steps and resamples blocks between phases,
//! the first phase's given DAGs, and a whole search with retraining and its summary.

pub mod first_dags;
mod run;
pub mod session;
pub mod strategy;
pub mod summary;

pub use run::*;
