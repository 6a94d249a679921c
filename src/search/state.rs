//! What the search loop carries from phase to phase beside the session: the position
//! of the learning-rate schedule, the validation rows still to be used by architecture
//! steps, and the records the run folder reports. A checkpoint stores it with the
//! session, so a resumed search goes on exactly where the original was.

use serde::{Deserialize, Serialize};

use crate::search::hessian::HessianPoint;
use crate::search::stages::StageSummary;
use crate::search::strategy::EarlyStop;
use crate::search::summary::PhaseSummary;

/// The search loop's state between phases.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopState {
    /// Phases run to their end.
    pub phases_done: usize,
    /// Weight steps over the whole search (the learning-rate schedule's position).
    pub step: usize,
    /// Samples through weight and architecture steps.
    pub samples: usize,
    /// Rows of the architecture split not yet used by architecture steps (a fresh
    /// permutation is drawn when fewer than a batch are left).
    pub val_order: Vec<i64>,
    /// The density's edge probabilities: the initial ones, then after each phase.
    pub density: Vec<Vec<f64>>,
    /// Per-phase figures.
    pub phases: Vec<PhaseSummary>,
    /// `alpha` after every step: per phase, per step, per block.
    pub alpha_trace: Vec<Vec<Vec<f64>>>,
    /// Seconds of search spent by earlier processes (a resumed search adds its own).
    pub search_seconds: f64,
    /// The early stops of `darts-plus`, one per phase that stopped early.
    #[serde(default)]
    pub early_stops: Vec<EarlyStop>,
    /// The Hessian monitor's measurements (`hessian_every`).
    #[serde(default)]
    pub hessian: Vec<HessianPoint>,
    /// P-DARTS' stages that have ended (with what they pruned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageSummary>,
    /// Seconds of search at the end of each phase, from the search's start (over
    /// resumes).
    #[serde(default)]
    pub phase_end_seconds: Vec<f64>,
}
