//! SNAS (Xie, Zheng, Liu & Lin 2019, "Stochastic neural architecture search"): the
//! block weights are a relaxed Gumbel-softmax sample
//! `w = softmax((log softmax(alpha) + g) / tau)` with fresh Gumbel noise `g` each step
//! (from the session's RNG), over all blocks; the architecture gradient goes through
//! the sample (reparameterisation), weight steps use the sample as constants.
//!
//! The temperature is annealed exponentially, as SNAS decays it by a constant factor
//! per epoch: `tau = tau_start (tau_end / tau_start)^progress` over each phase (`alpha`
//! restarts at 0 every phase), from 1 to 0.1 by default. The argmax of the sample is
//! block `b` with probability `softmax(alpha)_b` at any temperature.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::{check_range, gumbel_noise, mix, softmax_weights, tensor_like, StepContext, StepKind, Strategy, StrategyKind};
use crate::error::{Error, Result};

/// SNAS hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnasConfig {
    /// Temperature at the start of a phase (default 1).
    pub tau_start: f64,
    /// Temperature at the end of a phase (default 0.1).
    pub tau_end: f64,
}

impl Default for SnasConfig {
    fn default() -> Self {
        SnasConfig { tau_start: 1.0, tau_end: 0.1 }
    }
}

impl SnasConfig {
    /// Checks the ranges: `0 < tau_end <= tau_start <= 1000`.
    pub fn validate(&self) -> Result<()> {
        check_range("strategy_options.snas.tau_start", self.tau_start, 1e-6, 1000.0)?;
        check_range("strategy_options.snas.tau_end", self.tau_end, 1e-6, 1000.0)?;
        if self.tau_end > self.tau_start {
            return Err(Error::config(
                "strategy_options.snas.tau_end",
                format!("{} is above tau_start {}", self.tau_end, self.tau_start),
            ));
        }
        Ok(())
    }
}

/// `softmax((log softmax(alpha) + g) / tau)` for Gumbel noise `g` (differentiable in
/// `alpha`).
pub fn relaxed_sample(alpha: &Tensor, gumbel: &[f64], tau: f64) -> Result<Tensor> {
    let g = tensor_like(gumbel, alpha)?;
    Ok(alpha.f_log_softmax(0, alpha.kind())?.f_add(&g)?.f_div_scalar(tau)?.f_softmax(0, alpha.kind())?)
}

/// SNAS.
#[derive(Clone, Debug, Default)]
pub struct Snas {
    config: SnasConfig,
    last: Option<Vec<f64>>,
}

impl Snas {
    /// SNAS with the given hyper-parameters.
    pub fn new(config: SnasConfig) -> Snas {
        Snas { config, last: None }
    }

    /// The temperature at `progress` (fraction of the phase done, clamped to `[0, 1]`).
    pub fn tau(&self, progress: f64) -> f64 {
        let t = progress.clamp(0.0, 1.0);
        self.config.tau_start * (self.config.tau_end / self.config.tau_start).powf(t)
    }

    /// The relaxed sample `w` of the last forward pass.
    pub fn last_sample(&self) -> Option<&[f64]> {
        self.last.as_deref()
    }
}

impl Strategy for Snas {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Snas
    }

    fn forward(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, step: StepKind) -> Result<Tensor> {
        let g = gumbel_noise(ctx.k(), ctx.rng);
        let alpha = match step {
            StepKind::Weights => ctx.alpha.f_detach()?,
            StepKind::Architecture => ctx.alpha.shallow_clone(),
        };
        let w = relaxed_sample(&alpha, &g, self.tau(ctx.progress))?;
        self.last = Some(Vec::<f64>::try_from(&w.f_detach()?.f_to_kind(tch::Kind::Double)?)?);
        mix(&w, &ctx.logits_all(x, step)?)
    }

    fn block_weights(&self, alpha: &Tensor) -> Result<Vec<f64>> {
        softmax_weights(alpha)
    }

    fn temperature(&self, progress: f64) -> Option<f64> {
        Some(self.tau(progress))
    }
}
