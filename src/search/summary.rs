//! `summary.json` of a run folder (the README's run-folder table).

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::model::dag::DagMetrics;
use crate::model::ops::{Op, Stem};
use crate::model::space::{default_ops, is_dense_only, Activation, Aggregation, Norm, Space};
use crate::search::hessian::HessianPoint;
use crate::search::stages::StageSummary;
use crate::search::strategy::EarlyStop;

/// The dataset and its split sizes. The training file is split into the weight split
/// (weight steps) and the validation split (architecture steps, judging blocks);
/// `train` and `val` are the older names of `weight` and `validation`, kept for
/// existing readers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// Dataset name.
    pub name: String,
    /// The `--data` spec.
    pub spec: String,
    /// Samples in the training file (`weight` + `validation`; retraining uses them all).
    #[serde(default)]
    pub train_file: usize,
    /// Samples in the weight split.
    #[serde(default)]
    pub weight: usize,
    /// Samples in the validation split.
    #[serde(default)]
    pub validation: usize,
    /// Samples in the test split.
    pub test: usize,
    /// Features `F`.
    pub features: usize,
    /// Classes `C`.
    pub classes: usize,
    /// Samples in the weight split (the older name of `weight`).
    pub train: usize,
    /// Samples in the validation split (the older name of `validation`).
    pub val: usize,
}

impl DatasetSummary {
    /// The sizes of a search's data: the training file `train`, its weight and
    /// validation splits, and the test split; `spec` is the `--data` spec.
    pub fn of(spec: &str, train: &Dataset, weight: &Dataset, val: &Dataset, test: &Dataset) -> DatasetSummary {
        DatasetSummary {
            name: train.name.clone(),
            spec: spec.to_string(),
            train_file: train.len(),
            weight: weight.len(),
            validation: val.len(),
            test: test.len(),
            features: train.features,
            classes: train.classes,
            train: weight.len(),
            val: val.len(),
        }
    }
}

/// The space searched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpaceSummary {
    /// `L`.
    pub layers: usize,
    /// `D`.
    pub width: usize,
    /// `k`.
    pub blocks: usize,
    /// `S`.
    pub max_skip: usize,
    /// `|A|`.
    pub allowed_edges: usize,
    /// Activation.
    pub activation: Activation,
    /// Aggregation.
    pub aggregation: Aggregation,
    /// Normalisation.
    pub norm: Norm,
    /// The ops an edge may carry (left out when only `dense`).
    #[serde(default = "default_ops", skip_serializing_if = "is_dense_only")]
    pub ops: Vec<Op>,
    /// The map keys of a typed space.
    #[serde(flatten)]
    pub maps: MapKeys,
}

/// The keys that, with a DAG's ops, rebuild a typed network (left out when unset).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MapKeys {
    /// The vertices' maps `[C, H, W]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<[usize; 3]>,
    /// The input's shape `[C_in, H_in, W_in]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<[usize; 3]>,
    /// The stem.
    #[serde(default, skip_serializing_if = "Stem::is_dense")]
    pub stem: Stem,
}

impl MapKeys {
    /// The keys of `space`.
    pub fn of(space: &Space) -> MapKeys {
        let c = space.config();
        MapKeys { shape: c.shape, input_shape: c.input_shape, stem: c.stem }
    }
}

fn all_dense(ops: &[Op]) -> bool {
    ops.iter().all(|&o| o == Op::Dense)
}

/// The best architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestSummary {
    /// Its edges.
    pub edges: Vec<(usize, usize)>,
    /// Each edge's op, parallel to `edges` (left out when every edge is dense).
    #[serde(default, skip_serializing_if = "all_dense")]
    pub ops: Vec<Op>,
    /// The map keys of its space (typed spaces), so that it can be rebuilt.
    #[serde(flatten)]
    pub maps: MapKeys,
    /// Vertices on its longest path.
    pub depth: usize,
    /// Its edge count.
    pub num_edges: usize,
    /// Parameters.
    pub params: usize,
    /// Forward FLOPs per sample.
    pub flops: usize,
    /// The phase it was found in.
    pub phase: usize,
    /// Its block index in that phase.
    pub block: usize,
    /// Inherited validation accuracy (what it was chosen by).
    pub val_accuracy: f64,
    /// Test accuracy of the inherited snapshot.
    pub inherited_test_accuracy: f64,
    /// Test accuracy of the retrained network, or the inherited one without retraining.
    pub test_accuracy: f64,
    /// Whether it was retrained.
    pub retrained: bool,
    /// All its metrics.
    pub metrics: DagMetrics,
}

/// The chain baseline (a plain MLP of the same depth).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineSummary {
    /// The chain's edges.
    pub edges: Vec<(usize, usize)>,
    /// Each edge's op (left out when dense: the plain MLP).
    #[serde(default, skip_serializing_if = "all_dense")]
    pub ops: Vec<Op>,
    /// Parameters.
    pub params: usize,
    /// Forward FLOPs per sample.
    pub flops: usize,
    /// Test accuracy after training with the best's budget (`null` without retraining).
    pub test_accuracy: Option<f64>,
}

/// One phase's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// Phase (from 0).
    pub phase: usize,
    /// Best inherited validation accuracy among its blocks.
    pub best_val_accuracy: f64,
    /// Mean inherited validation accuracy of its blocks.
    pub mean_val_accuracy: f64,
    /// Entropy of the density after the phase's update, in bits.
    pub density_entropy_bits: f64,
    /// Kendall's tau-b between the blocks' ranks by `alpha` and by validation accuracy
    /// (`null` when `alpha` is constant, as with `random`).
    pub kendall_tau: Option<f64>,
    /// The early stop that ended the phase (`darts-plus`), if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<EarlyStop>,
    /// The last largest Hessian eigenvalue measured in the phase (`hessian_every`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hessian_eigenvalue: Option<f64>,
}

/// How a resumed search started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resumed {
    /// The phases the checkpoint it started from had done.
    pub from_phase: usize,
}

/// The check of an exported model in ONNX Runtime on the test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnnxSummary {
    /// The model file, relative to the run folder.
    pub path: String,
    /// Test accuracy that ONNX Runtime gets from the model.
    pub test_accuracy: f64,
    /// Largest absolute difference between ONNX Runtime's and the engine's logits.
    pub max_abs_diff: f64,
    /// The largest `max_abs_diff` the check accepts (the stated tolerance, see
    /// `io::export::verify`); a larger one fails the check. `null` in summaries written
    /// before the limit was enforced.
    #[serde(default)]
    pub max_abs_diff_allowed: Option<f64>,
    /// Test samples on which the two predict different classes.
    pub prediction_mismatches: usize,
}

/// The `onnx` entry of `summary.json`: the check's figures, or why it was skipped
/// (ONNX Runtime could not be loaded; the model is exported all the same).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OnnxCheck {
    /// The check ran.
    Checked(OnnxSummary),
    /// The check could not run: ONNX Runtime cannot be loaded.
    Skipped {
        /// The model file, relative to the run folder.
        path: String,
        /// Why, with the remedy.
        skipped: String,
    },
    /// The check failed: ONNX Runtime could not run the model, or its logits differ
    /// from the engine's by more than the tolerance. A folder holding such a summary is
    /// written in full, but the job that wrote it ended in an error.
    Failed {
        /// The model file, relative to the run folder.
        path: String,
        /// What went wrong.
        failed: String,
    },
}

impl OnnxCheck {
    /// The one-line notice of a skipped check (`None` when it ran): the model is
    /// exported but not checked, why, and the remedy.
    pub fn skip_notice(&self) -> Option<String> {
        match self {
            OnnxCheck::Checked(_) | OnnxCheck::Failed { .. } => None,
            OnnxCheck::Skipped { path, skipped } => {
                Some(format!("{path} is exported but was not checked in ONNX Runtime: {skipped}"))
            }
        }
    }
}

/// Timings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Wall-clock seconds of the search phases.
    pub search_seconds: f64,
    /// Wall-clock seconds of retraining (best and baseline).
    pub retrain_seconds: f64,
    /// Samples through weight and architecture steps per second of search.
    pub samples_per_second: f64,
    /// Seconds of search at the end of each phase (the phases' order; the compute
    /// curves of a report).
    #[serde(default)]
    pub phase_end_seconds: Vec<f64>,
}

/// `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Crate version.
    pub densenas_version: String,
    /// The git commit the binary was built from.
    pub git_commit: String,
    /// Strategy name.
    pub strategy: String,
    /// Session seed.
    pub seed: u64,
    /// Dataset.
    pub dataset: DatasetSummary,
    /// Space.
    pub space: SpaceSummary,
    /// Best architecture.
    pub best: BestSummary,
    /// Chain baseline (the plain MLP).
    pub baseline: BaselineSummary,
    /// The plain CNN baseline of a typed space (every chain edge `conv3x3`, `conv`
    /// stem); absent in untyped spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_cnn: Option<BaselineSummary>,
    /// Whether the search was stopped early (Ctrl-C or a progress callback): the
    /// phases done are in, the last one possibly shortened, and nothing was retrained.
    pub interrupted: bool,
    /// The exported `best.onnx` as ONNX Runtime runs it (`null` until exported).
    pub onnx: Option<OnnxCheck>,
    /// Set when the search was resumed from a checkpoint (`null` otherwise).
    #[serde(default)]
    pub resumed: Option<Resumed>,
    /// Per-phase figures.
    pub phases: Vec<PhaseSummary>,
    /// The early stops of `darts-plus` (phase, step within the phase, rule).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub early_stops: Vec<EarlyStop>,
    /// The Hessian monitor's trace: the largest eigenvalue every `hessian_every`
    /// epochs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hessian: Vec<HessianPoint>,
    /// P-DARTS' stages: depth, phases, and what each pruned at its end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageSummary>,
    /// Timings.
    pub timing: Timing,
}
