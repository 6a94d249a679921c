//! densenas: differentiable neural architecture search over spaces of densely
//! connected layers (see docs/architecture.md).
//!
//! A [`Space`] of `L` dense layers; [`Dag`]s over them; a [`DagDensity`] to draw them;
//! a [`Supernet`] of `k` blocks sharing weights, mixed by `alpha` according to a
//! [`strategy`]; a [`Session`] that alternates weight and architecture steps and
//! resamples blocks between phases; [`search::run_search`] for a whole search with
//! retraining of the best DAG and of the chain baseline.

pub mod bench;
pub mod data;
pub mod error;
pub mod experiment;
pub mod ffi;
pub mod io;
pub mod model;
pub mod report;
pub mod search;
pub mod train;
pub mod util;

pub use error::{Error, Result};
pub use model::dag::{Dag, DagMetrics};
pub use model::density::{DagDensity, DensityConfig};
pub use model::network::{Network, Normalization};
pub use model::space::{Space, SpaceConfig};
pub use model::supernet::Supernet;
pub use search::session::{Session, SessionOptions};
pub use search::strategy::StrategyKind;
pub use search::{run_search, SearchConfig};

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the library was built from (`unknown` outside a git checkout).
pub const GIT_COMMIT: &str = env!("DENSENAS_GIT_COMMIT");
