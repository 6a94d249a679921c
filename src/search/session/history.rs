//! What a session records: the history of evaluated blocks, the best architecture with
//! its inherited snapshot, and the report of a phase's end.

use serde::{Deserialize, Serialize};

use crate::model::dag::{Dag, DagMetrics};
use crate::model::network::Network;
use crate::search::strategy::EarlyStop;

/// One evaluated block: a line of the search history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// Phase (from 0).
    pub phase: usize,
    /// Block index within the phase.
    pub block: usize,
    /// The block's DAG.
    pub dag: Dag,
    /// Its metrics.
    pub metrics: DagMetrics,
    /// Its architecture parameter at the end of the phase.
    pub alpha: f64,
    /// Its block weight `w` at the end of the phase.
    pub weight: f64,
    /// Inherited accuracy on the validation split (shared weights, `w` one-hot).
    pub val_accuracy: f64,
    /// Inherited mean cross-entropy on the validation split.
    pub val_loss: f64,
    /// Its rank among the phase's blocks by `alpha` (1 = largest; equal values share
    /// the best rank).
    pub rank_by_alpha: usize,
    /// Its rank among the phase's blocks by validation accuracy (1 = best; ties broken
    /// by loss, then block index).
    pub rank_by_accuracy: usize,
    /// The feedback weight `r_b` it got in the density update.
    pub feedback: f64,
    /// Entropy in bits of the density the phase's blocks were drawn from.
    pub density_entropy_bits: f64,
    /// The early stop that ended the phase (`darts-plus`), if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<EarlyStop>,
    /// The last largest eigenvalue of the architecture Hessian measured in the phase
    /// (`hessian_every`), if any was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hessian_eigenvalue: Option<f64>,
}

/// The best block of the whole history with its inherited snapshot.
pub struct BestArchitecture {
    /// Its history record.
    pub record: HistoryRecord,
    /// The network with the shared weights as they were when it was judged.
    pub network: Network,
}

/// What [`Session::end_phase`] found.
#[derive(Clone, Debug)]
pub struct PhaseReport {
    /// The phase that ended.
    pub phase: usize,
    /// Its blocks' records.
    pub records: Vec<HistoryRecord>,
    /// Whether a block of this phase became the best so far.
    pub new_best: bool,
    /// Best validation accuracy so far.
    pub best_val_accuracy: f64,
    /// Density entropy (bits) after the update.
    pub density_entropy_bits: f64,
}
