//! Training one DAG from fresh weights (the retraining of a search's best architecture
//! and of the chain baseline, with the same budget; docs/architecture.md): the budget's
//! configuration and the population trainer with one member.

use std::sync::atomic::AtomicBool;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind};

use crate::model::dag::Dag;
use crate::data::SplitTensors;
use crate::error::{Error, Result};
use crate::model::network::{DagWeights, Network, Normalization};
use crate::train::optim::{LrSchedule, OptimizerConfig, OptimizerKind};
use super::evaluate::evaluate;
use super::population::{train_population, Member, MemberInit, MemberResult, PopulationJob};
use crate::model::space::Space;

/// The RNG stream (of the run's seed) that retraining the best DAG draws from, so that
/// `densenas train --dag RUN/best.json` with the run's seed repeats the run's retraining.
pub const RETRAIN_BEST_STREAM: u64 = 1;
/// The RNG stream of the chain baseline's retraining.
pub const RETRAIN_BASELINE_STREAM: u64 = 2;
/// The RNG stream the plain CNN baseline of a typed space is retrained with.
pub const RETRAIN_CNN_STREAM: u64 = 3;

/// The budget and optimiser of a training from scratch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Epochs over the training data (0: no retraining).
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Optimiser (default SGD, lr 0.05, momentum 0.9, weight decay 3e-4).
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule over all steps (default cosine).
    pub schedule: LrSchedule,
    /// Gradient-norm clipping (default 5).
    pub grad_clip: Option<f64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 40,
            batch_size: 64,
            optimizer: OptimizerConfig {
                kind: OptimizerKind::Sgd,
                lr: 0.05,
                momentum: 0.9,
                betas: (0.9, 0.999),
                weight_decay: 3e-4,
            },
            schedule: LrSchedule::Cosine,
            grad_clip: Some(5.0),
        }
    }
}

impl TrainConfig {
    /// Checks the ranges, naming fields under `retrain.`.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 || self.batch_size > 1 << 20 {
            return Err(Error::config("retrain.batch_size", format!("{} is out of range: allowed 1..=1048576", self.batch_size)));
        }
        if self.epochs > 100_000 {
            return Err(Error::config("retrain.epochs", format!("{} is out of range: allowed 0..=100000", self.epochs)));
        }
        if let Some(c) = self.grad_clip {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::config("retrain.grad_clip", format!("{c} is out of range: allowed > 0")));
            }
        }
        self.optimizer.validate("retrain.optimizer")
    }
}

/// Trains `dag` from fresh weights (drawn from `rng`) on `data`, reporting each
/// epoch's mean loss to `on_epoch(epoch, loss)`.
#[allow(clippy::too_many_arguments)]
pub fn train_dag(
    space: &Space,
    dag: &Dag,
    normalization: &Normalization,
    data: &SplitTensors,
    config: &TrainConfig,
    kind: Kind,
    device: Device,
    rng: &mut ChaCha8Rng,
    on_epoch: &mut dyn FnMut(usize, f64),
) -> Result<Network> {
    let never = AtomicBool::new(false);
    let net = train_dag_until(space, dag, normalization, data, config, (kind, device), rng, on_epoch, &never)?;
    net.ok_or_else(|| Error::Internal("training stopped without a stop request".into()))
}

/// [`train_dag`] that checks `stop` before every step: when it is set, training ends
/// there and `None` is returned (no partial epoch is reported). The weights are drawn
/// from `rng`; the data order from stream [`DATA_ORDER_STREAM`](crate::train::DATA_ORDER_STREAM) of `rng`'s seed (the
/// same for every DAG). This is the population trainer with one member; a non-finite
/// loss or update is an [`Error::Diverged`].
#[allow(clippy::too_many_arguments)]
pub fn train_dag_until(
    space: &Space,
    dag: &Dag,
    normalization: &Normalization,
    data: &SplitTensors,
    config: &TrainConfig,
    (kind, device): (Kind, Device),
    rng: &mut ChaCha8Rng,
    on_epoch: &mut dyn FnMut(usize, f64),
    stop: &AtomicBool,
) -> Result<Option<Network>> {
    config.validate()?;
    dag.mask(space)?;
    let weights = DagWeights::init(space, dag, kind, device, rng)?;
    let member = Member { dag: dag.clone(), seed: rng.get_seed(), init: MemberInit::Weights(weights) };
    let job = PopulationJob { space, normalization, data, config, kind, device };
    let results = train_population(&job, vec![member], &mut |epoch, losses| on_epoch(epoch, losses[0].unwrap_or(f64::NAN)), stop)?;
    match results.map(|mut r| r.remove(0)) {
        None => Ok(None),
        Some(MemberResult::Trained(net)) => Ok(Some(net)),
        Some(MemberResult::Failed(reason)) => Err(Error::Diverged(reason)),
    }
}

/// Accuracy and mean cross-entropy of `network` on `data`.
pub fn evaluate_network(network: &Network, data: &SplitTensors, kind: Kind) -> Result<(f64, f64)> {
    evaluate(|x| network.forward(&x.f_to_kind(kind)?), &data.x, &data.y)
}
