//! A standalone training described as one JSON document (the C ABI's `densenas_train`
//! and Python's `densenas.train`): the data, the space, the DAGs, the seeds and the
//! budget in, every member's scores out. The DAGs are trained with every seed as one
//! population ([`train_standalone`]), DAG-major.

use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::data::{self, SplitTensors};
use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::device::{parse_device, Precision};
use crate::model::network::Normalization;
use crate::search::SpaceOptions;
use super::standalone::{train_standalone, StandaloneJob};
use super::trainer::TrainConfig;

/// What to train (unknown keys are refused).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// The `--data` spec (default `digits`).
    #[serde(default = "digits")]
    pub data: String,
    /// Train on a stratified subsample of this many training samples.
    #[serde(default)]
    pub train_subsample: Option<usize>,
    /// The space's options as a search takes them (`width`, `activation`, `ops`, ...);
    /// `layers` defaults to the DAGs' and must agree with them; `blocks` does not apply.
    #[serde(default)]
    pub space: serde_json::Map<String, serde_json::Value>,
    /// The DAGs (`{"layers", "edges"}`, with `ops` in a typed space), all of one space.
    pub dags: Vec<Dag>,
    /// The seeds: every DAG is trained with each (default `[0]`).
    #[serde(default = "seed_zero")]
    pub seeds: Vec<u64>,
    /// Budget, batch size, optimiser, schedule and clipping (a search's `retrain`).
    #[serde(default)]
    pub train: TrainConfig,
    /// `cpu`, `cuda` or `cuda:N`.
    #[serde(default = "cpu")]
    pub device: String,
    /// Tensor precision.
    #[serde(default)]
    pub precision: Precision,
    /// libtorch's deterministic algorithms.
    #[serde(default)]
    pub deterministic: bool,
}

fn digits() -> String {
    "digits".into()
}

fn seed_zero() -> Vec<u64> {
    vec![0]
}

fn cpu() -> String {
    "cpu".into()
}

/// One member's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct MemberReport {
    /// Its index (DAG-major: DAG `member / seeds`, seed `member % seeds`).
    pub member: usize,
    /// Its DAG.
    pub dag: Dag,
    /// Its seed.
    pub seed: u64,
    /// Parameters (a trained member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<usize>,
    /// Forward FLOPs per sample (a trained member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flops: Option<usize>,
    /// Accuracy on the training data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_accuracy: Option<f64>,
    /// Accuracy on the test data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Mean cross-entropy on the test data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_loss: Option<f64>,
    /// Why it failed (a non-finite loss or update), for a failed member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// What a training request gave.
#[derive(Clone, Debug, Serialize)]
pub struct TrainResponse {
    /// Every member, in order (empty when interrupted).
    pub members: Vec<MemberReport>,
    /// Seconds the population trained (0 when interrupted).
    pub train_seconds: f64,
    /// Whether a stop request ended it before the budget was spent.
    pub interrupted: bool,
}

impl TrainRequest {
    /// Reads a request from a JSON object (errors name the key path).
    pub fn from_json(text: &str) -> Result<TrainRequest> {
        crate::util::json::from_json_object(text, "training request")
    }

    /// The space options: `space` with `layers` from the DAGs and one block.
    fn space_options(&self) -> Result<SpaceOptions> {
        let layers = self.dags.first().map(Dag::layers).ok_or_else(|| Error::config("dags", "lists no DAG: give at least one"))?;
        if let Some((i, d)) = self.dags.iter().enumerate().find(|(_, d)| d.layers() != layers) {
            return Err(Error::config(format!("dags[{i}]"), format!("has {} layers, dags[0] has {layers}: one population is one space", d.layers())));
        }
        let mut space = self.space.clone();
        match space.get("layers").map(|v| v.as_u64()) {
            Some(Some(l)) if l as usize != layers => {
                return Err(Error::config("space.layers", format!("{l} disagrees with the DAGs' {layers} layers")))
            }
            _ => {}
        }
        space.insert("layers".into(), layers.into());
        space.insert("blocks".into(), 1.into());
        crate::util::json::from_value(serde_json::Value::Object(space), "space")
    }

    /// Trains every DAG with every seed as one population; `on_epoch(epoch, losses)`
    /// gets each member's mean loss of the epoch (`None` for a failed one). When `stop`
    /// is set the response is marked interrupted and has no members.
    pub fn run(&self, on_epoch: &mut dyn FnMut(usize, &[Option<f64>]), stop: &AtomicBool) -> Result<TrainResponse> {
        let options = self.space_options()?;
        if self.seeds.is_empty() {
            return Err(Error::config("seeds", "lists no seed: give at least one"));
        }
        self.train.validate()?;
        let device = parse_device(&self.device)?;
        let splits = data::load_subsampled(&self.data, self.train_subsample)?;
        let (train, test) = (&splits.train, &splits.test);
        let space = options.space(train.features, train.classes, train.shape)?;
        let members: Vec<(Dag, u64)> = self.dags.iter().flat_map(|d| self.seeds.iter().map(move |&s| (d.clone(), s))).collect();
        let normalization = Normalization::from_data(&train.x, train.features)?;
        let (train_t, test_t) = (SplitTensors::new(train, device)?, SplitTensors::new(test, device)?);
        let job = StandaloneJob {
            space: &space,
            normalization: &normalization,
            train: &train_t,
            test: &test_t,
            config: &self.train,
            precision: self.precision,
            deterministic: self.deterministic,
            device,
        };
        let Some(outcome) = train_standalone(&job, &members, on_epoch, stop)? else {
            return Ok(TrainResponse { members: Vec::new(), train_seconds: 0.0, interrupted: true });
        };
        let reports = members
            .into_iter()
            .zip(outcome.members)
            .enumerate()
            .map(|(member, ((dag, seed), result))| {
                let mut r = MemberReport {
                    member,
                    dag,
                    seed,
                    params: None,
                    flops: None,
                    train_accuracy: None,
                    test_accuracy: None,
                    test_loss: None,
                    failed: None,
                };
                match result {
                    Ok(t) => {
                        r.params = Some(t.network.params());
                        r.flops = Some(t.network.flops());
                        r.train_accuracy = Some(t.train_accuracy);
                        r.test_accuracy = Some(t.test_accuracy);
                        r.test_loss = Some(t.test_loss);
                    }
                    Err(reason) => r.failed = Some(reason),
                }
                r
            })
            .collect();
        Ok(TrainResponse { members: reports, train_seconds: outcome.train_seconds, interrupted: false })
    }
}
