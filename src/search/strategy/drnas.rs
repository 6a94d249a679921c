//! DrNAS (Chen, Wang, Cheng, Tang & Hsieh 2021, "DrNAS: Dirichlet neural architecture
//! search"): the block weights are a sample `w ~ Dir(beta)` with concentration
//! `beta = elu(alpha) + 1`, fresh every step, over all blocks.
//!
//! The sample is built as normalised Gamma samples, `w_b = z_b / sum z`,
//! `z_b ~ Gamma(beta_b, 1)`, with the Gamma noise drawn in Rust from the session's RNG
//! (libtorch's generator is process-wide). The architecture gradient goes through the
//! sample by implicit reparameterisation: `dz/dbeta = -(dF/dbeta) / (dF/dz)` with `F`
//! the Gamma CDF, as libtorch's `_standard_gamma_grad` computes it (what PyTorch's
//! `Dirichlet.rsample` does), applied as `z + dz/dbeta (beta - detach(beta))`.
//!
//! The architecture loss adds the paper's regulariser
//! `kl_weight * KL(Dir(beta) || Dir(anchor 1))`, pulling the concentration towards the
//! anchor (defaults: `kl_weight` 1e-3, `anchor` 1, the uniform Dirichlet, as in the
//! DrNAS code). The reported architecture loss is the cross-entropy alone. The block
//! weights reported and fed back to the density are the Dirichlet mean
//! `beta / sum(beta)`.

use rand::Rng;
use rand_distr::{Distribution, Gamma};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::{check_range, cross_entropy, mix, StepContext, StepKind, Strategy, StrategyKind};
use crate::error::{Error, Result};

/// Smallest Gamma sample kept: tiny concentrations give samples that underflow, and a
/// zero would make the normalisation and the implicit gradient undefined.
const MIN_GAMMA: f64 = 1e-30;

/// DrNAS hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrnasConfig {
    /// Weight of the KL regulariser (default 1e-3); 0 disables it.
    pub kl_weight: f64,
    /// Concentration of the anchor Dirichlet, the same for every block (default 1).
    pub anchor: f64,
}

impl Default for DrnasConfig {
    fn default() -> Self {
        DrnasConfig { kl_weight: 1e-3, anchor: 1.0 }
    }
}

impl DrnasConfig {
    /// Checks the ranges: `kl_weight` in `[0, 100]`, `anchor` in `(0, 1000]`.
    pub fn validate(&self) -> Result<()> {
        check_range("strategy_options.drnas.kl_weight", self.kl_weight, 0.0, 100.0)?;
        check_range("strategy_options.drnas.anchor", self.anchor, 1e-6, 1000.0)
    }
}

/// The Dirichlet concentration `elu(alpha) + 1` (positive).
pub fn concentration(alpha: &Tensor) -> Result<Tensor> {
    Ok(alpha.f_elu()?.f_add_scalar(1.0)?)
}

/// `n` rows of independent `Gamma(beta_b, 1)` samples, row-major `[n, k]`, drawn from
/// `rng` and clamped below at 1e-30.
pub fn gamma_noise<R: Rng>(beta: &[f64], n: usize, rng: &mut R) -> Result<Vec<f64>> {
    let dists = beta
        .iter()
        .map(|&b| Gamma::new(b, 1.0).map_err(|e| Error::Internal(format!("Gamma({b}, 1): {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(n * beta.len());
    for _ in 0..n {
        for d in &dists {
            out.push(d.sample(rng).max(MIN_GAMMA));
        }
    }
    Ok(out)
}

/// Dirichlet samples `z / sum(z)` (along the last dimension) from Gamma samples
/// `gamma` of `Gamma(beta)` (`[k]` or `[n, k]`, the kind of `beta`), differentiable in
/// `beta` by implicit reparameterisation.
pub fn dirichlet_sample(beta: &Tensor, gamma: &Tensor) -> Result<Tensor> {
    let b = beta.f_expand_as(gamma)?;
    let dz = b.f_detach()?.f_internal_standard_gamma_grad(gamma)?;
    let z = gamma.f_add(&dz.f_mul(&b.f_sub(&b.f_detach()?)?)?)?;
    Ok(z.f_div(&z.f_sum_dim_intlist(-1, true, None::<Kind>)?)?)
}

/// `KL(Dir(beta) || Dir(anchor))` for concentrations of the same shape `[k]`.
pub fn kl_dirichlet(beta: &Tensor, anchor: &Tensor) -> Result<Tensor> {
    let a0 = beta.f_sum(beta.kind())?;
    let b0 = anchor.f_sum(anchor.kind())?;
    let sum = |t: Tensor| t.f_sum(beta.kind());
    let cross = beta.f_sub(anchor)?.f_mul(&beta.f_digamma()?.f_sub(&a0.f_digamma()?)?)?;
    Ok(a0
        .f_lgamma()?
        .f_sub(&sum(beta.f_lgamma()?)?)?
        .f_sub(&b0.f_lgamma()?)?
        .f_add(&sum(anchor.f_lgamma()?)?)?
        .f_add(&sum(cross)?)?)
}

/// DrNAS.
#[derive(Clone, Debug, Default)]
pub struct Drnas {
    config: DrnasConfig,
    last: Option<Vec<f64>>,
}

impl Drnas {
    /// DrNAS with the given hyper-parameters.
    pub fn new(config: DrnasConfig) -> Drnas {
        Drnas { config, last: None }
    }

    /// The sample `w` of the last forward pass.
    pub fn last_sample(&self) -> Option<&[f64]> {
        self.last.as_deref()
    }
}

impl Strategy for Drnas {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Drnas
    }

    fn forward(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, step: StepKind) -> Result<Tensor> {
        let alpha = match step {
            StepKind::Weights => ctx.alpha.f_detach()?,
            StepKind::Architecture => ctx.alpha.shallow_clone(),
        };
        // The sample in float64 whatever the session's precision.
        let beta = concentration(&alpha.f_to_kind(Kind::Double)?)?;
        let beta_v = Vec::<f64>::try_from(&beta.f_detach()?.f_to_device(tch::Device::Cpu)?)?;
        let noise = gamma_noise(&beta_v, 1, ctx.rng)?;
        let gamma = Tensor::f_from_slice(&noise)?.f_to_device(alpha.device())?;
        let w = dirichlet_sample(&beta, &gamma)?;
        self.last = Some(Vec::<f64>::try_from(&w.f_detach()?.f_to_device(tch::Device::Cpu)?)?);
        mix(&w.f_to_kind(alpha.kind())?, &ctx.logits_all(x, step)?)
    }

    /// The Dirichlet mean `beta / sum(beta)`.
    fn block_weights(&self, alpha: &Tensor) -> Result<Vec<f64>> {
        let beta = concentration(&alpha.f_detach()?.f_to_kind(Kind::Double)?)?;
        let mean = beta.f_div(&beta.f_sum(Kind::Double)?)?;
        Ok(Vec::<f64>::try_from(&mean.f_to_device(tch::Device::Cpu)?)?)
    }

    fn architecture_gradient(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, y: &Tensor) -> Result<(f64, Tensor)> {
        let logits = self.forward(ctx, x, StepKind::Architecture)?;
        let ce = cross_entropy(&logits, y)?;
        let value = ce.f_double_value(&[])?;
        let mut loss = ce;
        if self.config.kl_weight > 0.0 {
            let beta = concentration(ctx.alpha)?;
            let anchor = beta.f_detach()?.f_ones_like()?.f_mul_scalar(self.config.anchor)?;
            loss = loss.f_add(&kl_dirichlet(&beta, &anchor)?.f_mul_scalar(self.config.kl_weight)?)?;
        }
        let mut grads = Tensor::f_run_backward(&[&loss], &[ctx.alpha], false, false)?;
        Ok((value, grads.remove(0)))
    }
}
