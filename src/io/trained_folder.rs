//! The folder `densenas train --out DIR` writes: `best.onnx`, the trained network
//! exported and checked in ONNX Runtime on the test split as a search exports its best,
//! and `summary.json` (the DAG, its metrics, parameters, FLOPs, accuracies, the training
//! configuration, the seed and the densenas version). The folder is locked while in
//! use, and a folder that holds a finished run is refused unless it may be overwritten.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::dag::{Dag, DagMetrics};
use crate::model::network::Network;
use crate::model::ops::Op;
use crate::model::space::{Activation, Aggregation, Norm};
use crate::search::summary::{MapKeys, OnnxCheck};
use crate::train::TrainConfig;
use crate::util::atomic::write_atomic;
use crate::util::lock::FolderLock;

/// The summary's file name.
const SUMMARY: &str = "summary.json";

/// The dataset a network was trained on, with its split sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainedDataset {
    /// Dataset name.
    pub name: String,
    /// The `--data` spec.
    pub spec: String,
    /// Samples in the training file (all of them train the network).
    pub train: usize,
    /// Samples in the test split.
    pub test: usize,
    /// Features `F`.
    pub features: usize,
    /// Classes `C`.
    pub classes: usize,
}

/// The space the DAG was trained in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainedSpace {
    /// `L`.
    pub layers: usize,
    /// `D`.
    pub width: usize,
    /// `S`.
    pub max_skip: usize,
    /// Activation.
    pub activation: Activation,
    /// Aggregation.
    pub aggregation: Aggregation,
    /// Normalisation.
    pub norm: Norm,
    /// The ops an edge may carry.
    pub ops: Vec<Op>,
    /// The map keys of a typed space (left out when unset).
    #[serde(flatten)]
    pub maps: MapKeys,
}

/// `summary.json` of a trained network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainedSummary {
    /// Crate version.
    pub densenas_version: String,
    /// The git commit the binary was built from.
    pub git_commit: String,
    /// Dataset.
    pub dataset: TrainedDataset,
    /// The DAG (`{"layers", "edges"}`, with `ops` in a typed space).
    pub dag: Dag,
    /// Its metrics.
    pub metrics: DagMetrics,
    /// The space.
    pub space: TrainedSpace,
    /// The training configuration (epochs, batch size, optimiser, schedule, clipping).
    pub train: TrainConfig,
    /// Seed of the initialisation and the batch order.
    pub seed: u64,
    /// The device it was trained on.
    pub device: String,
    /// Parameters.
    pub params: usize,
    /// Forward FLOPs per sample.
    pub flops: usize,
    /// Accuracy on the training file.
    pub train_accuracy: f64,
    /// Accuracy on the test split.
    pub test_accuracy: f64,
    /// Mean cross-entropy on the test split.
    pub test_loss: f64,
    /// Wall-clock seconds of training.
    pub train_seconds: f64,
    /// `best.onnx` as ONNX Runtime runs it, or why the check was skipped (`null` when
    /// the check failed).
    pub onnx: Option<OnnxCheck>,
}

/// A trained network and what it was trained with, as [`TrainedFolder::write`] records it.
pub struct TrainedRun<'a> {
    /// The network.
    pub network: &'a Network,
    /// The `--data` spec.
    pub data_spec: &'a str,
    /// The training file.
    pub train: &'a Dataset,
    /// The test split (the ONNX Runtime check runs on it).
    pub test: &'a Dataset,
    /// The training configuration.
    pub config: &'a TrainConfig,
    /// The seed.
    pub seed: u64,
    /// The device, as given.
    pub device: &'a str,
    /// Accuracy on the training file.
    pub train_accuracy: f64,
    /// Accuracy on the test split.
    pub test_accuracy: f64,
    /// Mean cross-entropy on the test split.
    pub test_loss: f64,
    /// Wall-clock seconds of training.
    pub train_seconds: f64,
}

impl TrainedRun<'_> {
    /// The summary, without its `onnx` entry.
    fn summary(&self) -> TrainedSummary {
        let (net, space) = (self.network, &self.network.space);
        TrainedSummary {
            densenas_version: crate::VERSION.to_string(),
            git_commit: crate::GIT_COMMIT.to_string(),
            dataset: TrainedDataset {
                name: self.train.name.clone(),
                spec: self.data_spec.to_string(),
                train: self.train.len(),
                test: self.test.len(),
                features: self.train.features,
                classes: self.train.classes,
            },
            dag: net.dag.clone(),
            metrics: net.dag.metrics(),
            space: TrainedSpace {
                layers: space.layers(),
                width: space.width(),
                max_skip: space.max_skip(),
                activation: space.activation(),
                aggregation: space.aggregation(),
                norm: space.norm(),
                ops: space.ops().to_vec(),
                maps: MapKeys::of(space),
            },
            train: self.config.clone(),
            seed: self.seed,
            device: self.device.to_string(),
            params: net.params(),
            flops: net.flops(),
            train_accuracy: self.train_accuracy,
            test_accuracy: self.test_accuracy,
            test_loss: self.test_loss,
            train_seconds: self.train_seconds,
            onnx: None,
        }
    }
}

/// What [`TrainedFolder::write`] wrote.
pub struct TrainedWritten {
    /// The summary as written.
    pub summary: TrainedSummary,
    /// The files written (`best.onnx`, `summary.json`).
    pub paths: Vec<PathBuf>,
    /// Why the ONNX Runtime check of `best.onnx` failed, if it did (the summary's `onnx`
    /// entry then says `"failed"`; both files are
    /// written all the same; a check skipped for want of ONNX Runtime is no failure).
    pub onnx_error: Option<Error>,
}

/// A folder opened for a trained network: created, locked, and checked to hold no
/// finished run (before the training, so that no training is wasted on a refusal).
pub struct TrainedFolder {
    dir: PathBuf,
    _lock: FolderLock,
}

impl TrainedFolder {
    /// Opens `dir` (created if needed). A folder holding a finished run (a
    /// `summary.json`) or a search's checkpoints is refused unless `overwrite`.
    pub fn open(dir: &Path, overwrite: bool) -> Result<TrainedFolder> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock = FolderLock::acquire(dir, "a run")?;
        let checkpoints = crate::io::folder_search::checkpoints_of(dir);
        let held = [dir.join(SUMMARY), checkpoints].into_iter().find(|p| p.exists());
        if let (Some(held), false) = (held, overwrite) {
            let what = if held.ends_with(SUMMARY) { "a finished run" } else { "the checkpoints of a search" };
            return Err(Error::folder(dir, format!("holds {what} ({}): give another folder, or --overwrite to replace it", held.display())));
        }
        Ok(TrainedFolder { dir: dir.to_path_buf(), _lock: lock })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `best.onnx`, checks it in ONNX Runtime on the test split, and writes
    /// `summary.json` last (an older one is removed first, so that no summary ever
    /// stands beside a network it does not describe).
    pub fn write(&self, run: &TrainedRun<'_>) -> Result<TrainedWritten> {
        let summary_path = self.dir.join(SUMMARY);
        match std::fs::remove_file(&summary_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&summary_path, e)),
            _ => {}
        }
        let mut summary = run.summary();
        let (onnx_path, check) = crate::io::run_folder::export_best(run.network, &self.dir, run.test)?;
        let (onnx, onnx_error) = crate::io::run_folder::recorded(check);
        summary.onnx = Some(onnx);
        let text = serde_json::to_string_pretty(&summary)? + "\n";
        write_atomic(&summary_path, text.as_bytes())?;
        Ok(TrainedWritten { summary, paths: vec![onnx_path, summary_path], onnx_error })
    }
}
