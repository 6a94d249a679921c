//! Training one DAG from fresh weights (the retraining of a search's best, docs/architecture.md
//! architecture and of the chain baseline, with the same budget).

use std::sync::atomic::{AtomicBool, Ordering};

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::model::dag::Dag;
use crate::data::SplitTensors;
use crate::error::{Error, Result};
use crate::model::network::{forward_dag, DagWeights, Network, Normalization};
use crate::train::optim::{clipping_scale, LrSchedule, Optimizer, OptimizerConfig, OptimizerKind};
use super::evaluate::evaluate;
use crate::model::space::Space;
use super::loss::cross_entropy;

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
    net.ok_or_else(|| Error::State("training stopped without a stop request".into()))
}

/// [`train_dag`] that checks `stop` before every step: when it is set, training ends
/// there and `None` is returned (no partial epoch is reported).
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
    let params = weights.tensors();
    let mut opt = Optimizer::new(config.optimizer.clone());
    let n = data.len() as usize;
    let steps_per_epoch = n.div_ceil(config.batch_size);
    let total = steps_per_epoch * config.epochs;
    let mut net = Network { space: space.clone(), dag: dag.clone(), normalization: normalization.clone(), weights };
    let mut step = 0;
    for epoch in 0..config.epochs {
        let mut order: Vec<i64> = (0..n as i64).collect();
        order.shuffle(rng);
        let mut loss_sum = 0.0;
        for chunk in order.chunks(config.batch_size) {
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let idx = Tensor::f_from_slice(chunk)?.f_to_device(device)?;
            let (x, y) = data.rows(&idx)?;
            let xn = net.normalization.apply(&x.f_to_kind(kind)?)?;
            let loss = cross_entropy(&forward_dag(space, dag, &net.weights, &xn)?, &y)?;
            let value = loss.f_double_value(&[])?;
            let lr = config.schedule.lr(config.optimizer.lr, step, total);
            if !value.is_finite() {
                return Err(Error::Diverged(format!(
                    "the training loss is {value} in epoch {} (step {}, learning rate {}): lower the learning rate \
                     or clip the gradient norm (grad_clip)",
                    epoch + 1,
                    step + 1,
                    crate::util::format::number(lr)
                )));
            }
            let grads = Tensor::f_run_backward(&[&loss], &params, false, false)?;
            let scale = clipping_scale(&grads, config.grad_clip)?;
            let update = opt.prepare_scaled(&params, &grads, scale, lr)?;
            opt.commit(&params, update)?;
            loss_sum += value * chunk.len() as f64;
            step += 1;
        }
        on_epoch(epoch, loss_sum / n as f64);
    }
    net.weights = net.weights.detached_copy()?;
    Ok(Some(net))
}

/// Accuracy and mean cross-entropy of `network` on `data`.
pub fn evaluate_network(network: &Network, data: &SplitTensors, kind: Kind) -> Result<(f64, f64)> {
    evaluate(|x| network.forward(&x.f_to_kind(kind)?), &data.x, &data.y)
}
