//! densenas: differentiable neural architecture search over spaces of densely
//! connected layers (see docs/architecture.md).
//!
//! A [`Space`] of `L` dense layers; [`Dag`]s over them; a [`DagDensity`] to draw them;
//! a [`Supernet`] of `k` blocks sharing weights, mixed by `alpha` according to a
//! [`strategy`]; a [`Session`] that alternates weight and architecture steps and
//! resamples blocks between phases; [`search::run_search`] for a whole search with
//! retraining of the best DAG and of the chain baseline.

//!
//! The public API is what this page lists: the modules of the engine's layers (`model`,
//! `data`, `train`, `search`, `io`, `experiment`, `report`) and, flat here, what a Rust
//! user needs most. The C ABI (`include/densenas.h`), the benchmarks and the helpers
//! are not Rust API; [`internal`] lends them to the command line, the fuzz targets and
//! the tests only.

mod bench;
pub mod data;
mod error;
pub mod experiment;
mod ffi;
pub mod io;
pub mod model;
pub mod report;
pub mod search;
pub mod train;
mod util;

pub use error::{Error, ErrorKind, Result};
pub use io::export::verify::{OnnxCheck, OnnxSummary};
pub use io::folder_search::{resume_in_folder, search_in_folder, FolderSearch};
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

/// Not API: what the `densenas` command line, the fuzz targets and the tests use beyond
/// the public API (the C ABI's Rust side, the benchmarks, folder locks and atomic
/// writes). It may change in any release without notice.
#[doc(hidden)]
pub mod internal {
    /// The C ABI's exports, for tests that call them from Rust.
    pub mod ffi {
        pub use crate::ffi::{dataset, densenas_progress_kind, densenas_split, densenas_status, densenas_version, error, experiment, search, session, space, string, train};
    }
    /// The benchmarks behind `densenas bench`.
    pub mod bench {
        pub use crate::bench::*;
    }
    /// An experiment's proxies unit, for tests that compare it with its parts.
    pub mod experiment {
        pub use crate::experiment::run_proxies::{proxies, ProxiesJob};
        pub use crate::experiment::unit::NetworkShape;
    }
    /// Folder locks and atomic writes.
    pub mod util {
        pub use crate::util::{atomic, lock};
    }
}
