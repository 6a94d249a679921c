//! densenas: differentiable neural architecture search over spaces of densely
//! connected layers (see `DESIGN.md` in the project's shared documents).
//!
//! A [`Space`] of `L` dense layers; [`Dag`]s over them; a [`DagDensity`] to draw them;
//! a [`Supernet`] of `k` blocks sharing weights, mixed by `alpha` according to a
//! [`strategy`]; a [`Session`] that alternates weight and architecture steps and
//! resamples blocks between phases; [`search::run_search`] for a whole search with
//! retraining of the best DAG and of the chain baseline.

pub mod bench;
pub mod dag;
pub mod data;
pub mod density;
pub mod device;
pub mod error;
pub mod export;
pub mod ffi;
pub mod first_dags;
pub mod json;
pub mod network;
pub mod optim;
pub mod plot;
pub mod ort_runtime;
pub mod report;
pub mod run_folder;
pub mod search;
pub mod session;
pub mod space;
pub mod strategy;
pub mod summary;
pub mod supernet;
pub mod train;

pub use dag::{Dag, DagMetrics};
pub use density::{DagDensity, DensityConfig};
pub use error::{Error, Result};
pub use network::{Network, Normalization};
pub use search::{run_search, SearchConfig};
pub use session::{Session, SessionOptions};
pub use space::{Space, SpaceConfig};
pub use strategy::StrategyKind;
pub use supernet::Supernet;

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the library was built from (`unknown` outside a git checkout).
pub const GIT_COMMIT: &str = env!("DENSENAS_GIT_COMMIT");
