//! GDAS (Dong & Yang 2019, "Searching for a robust neural architecture in four GPU
//! hours"): a hard one-hot sample of the blocks by the Gumbel-max trick, so a step
//! computes only the sampled block, and a straight-through gradient for `alpha`.
//!
//! Per step: Gumbel noise `g_b` (from the session's RNG), `h = (log softmax(alpha) +
//! g) / tau`, the sampled block `s = argmax h` (drawn with probability
//! `softmax(alpha)_s`, whatever `tau`), soft weights `soft = softmax(h)` and hard ones
//! `w = onehot(s) - detach(soft) + soft`: `w` is exactly one-hot in value while its
//! gradient is that of `soft`. The output is `w_s logits_s`, so only block `s` runs and
//! `alpha` gets the gradient `dL/dw_s d soft_s / d alpha`. Weight steps use
//! `logits_s` alone.
//!
//! The temperature falls linearly from `tau_max` to `tau_min` over each phase (`alpha`
//! restarts at 0 every phase), as GDAS anneals it from 10 to 0.1 over its search.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::{
    argmax, check_range, gumbel_noise, log_softmax_f64, softmax_weights, tensor_like, StepContext, StepKind, Strategy, StrategyKind,
};
use crate::error::{Error, Result};

/// GDAS hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GdasConfig {
    /// Temperature at the start of a phase (default 10, as in GDAS).
    pub tau_max: f64,
    /// Temperature at the end of a phase (default 0.1, as in GDAS).
    pub tau_min: f64,
}

impl Default for GdasConfig {
    fn default() -> Self {
        GdasConfig { tau_max: 10.0, tau_min: 0.1 }
    }
}

impl GdasConfig {
    /// Checks the ranges: `0 < tau_min <= tau_max <= 1000`.
    pub fn validate(&self) -> Result<()> {
        check_range("strategy_options.gdas.tau_max", self.tau_max, 1e-6, 1000.0)?;
        check_range("strategy_options.gdas.tau_min", self.tau_min, 1e-6, 1000.0)?;
        if self.tau_min > self.tau_max {
            return Err(Error::config(
                "strategy_options.gdas.tau_min",
                format!("{} is above tau_max {}", self.tau_min, self.tau_max),
            ));
        }
        Ok(())
    }
}

/// GDAS.
#[derive(Clone, Debug, Default)]
pub struct Gdas {
    config: GdasConfig,
    last: Option<usize>,
}

impl Gdas {
    /// GDAS with the given hyper-parameters.
    pub fn new(config: GdasConfig) -> Gdas {
        Gdas { config, last: None }
    }

    /// The temperature at `progress` (fraction of the phase done, clamped to `[0, 1]`):
    /// `(1 - progress) tau_max + progress tau_min`.
    pub fn tau(&self, progress: f64) -> f64 {
        let t = progress.clamp(0.0, 1.0);
        (1.0 - t) * self.config.tau_max + t * self.config.tau_min
    }

    /// The block sampled by the last forward pass.
    pub fn last_sample(&self) -> Option<usize> {
        self.last
    }
}

impl Strategy for Gdas {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Gdas
    }

    fn forward(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, step: StepKind) -> Result<Tensor> {
        let k = ctx.k();
        let g = gumbel_noise(k, ctx.rng);
        let log_p = log_softmax_f64(&ctx.alpha_values()?);
        let h: Vec<f64> = log_p.iter().zip(&g).map(|(a, b)| a + b).collect();
        let s = argmax(&h);
        self.last = Some(s);
        let logits = ctx.logits_block(x, s, step)?;
        match step {
            StepKind::Weights => Ok(logits),
            StepKind::Architecture => {
                let tau = self.tau(ctx.progress);
                let noise = tensor_like(&g, ctx.alpha)?;
                let soft = ctx
                    .alpha
                    .f_log_softmax(0, ctx.alpha.kind())?
                    .f_add(&noise)?
                    .f_div_scalar(tau)?
                    .f_softmax(0, ctx.alpha.kind())?;
                let soft_s = soft.f_select(0, s as i64)?;
                // Straight through: value 1, gradient of soft_s.
                let w_s = soft_s.f_detach()?.f_neg()?.f_add_scalar(1.0)?.f_add(&soft_s)?;
                Ok(logits.f_mul(&w_s)?)
            }
        }
    }

    fn block_weights(&self, alpha: &Tensor) -> Result<Vec<f64>> {
        softmax_weights(alpha)
    }

    fn temperature(&self, progress: f64) -> Option<f64> {
        Some(self.tau(progress))
    }
}
