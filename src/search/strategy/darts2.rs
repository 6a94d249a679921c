//! Second-order DARTS (Liu, Simonyan & Yang 2019): `w = softmax(alpha)` as in
//! first-order DARTS, but the architecture gradient is that of `L_val(w', alpha)` at
//! the weights after one unrolled plain-SGD step on the training loss,
//! `w' = w - xi grad_w L_train(w, alpha)`:
//!
//! `grad_alpha = grad_alpha L_val(w', alpha) - xi (grad_alpha L_train(w+, alpha) -
//! grad_alpha L_train(w-, alpha)) / (2 eps)`,
//!
//! `w+- = w +- eps grad_w' L_val(w', alpha)`, `eps = epsilon / ||grad_w' L_val||`: the
//! Hessian-vector product by central finite differences, as DARTS computes it.
//! `L_train` is evaluated on the last weight-split batch (the session remembers it),
//! so an architecture step needs a weight step before it. The reported loss is
//! `L_val(w', alpha)`. Cost: about three first-order steps.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::{check_range, cross_entropy, mix, softmax_weights, Darts, StepContext, StepKind, Strategy, StrategyKind};
use crate::error::{Error, Result};
use crate::model::supernet::Supernet;

/// Second-order DARTS hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Darts2Config {
    /// Learning rate `xi` of the unrolled step; `None` (the default): the shared
    /// weights' current learning rate, as in DARTS.
    pub xi: Option<f64>,
    /// Norm of the finite-difference perturbation of the weights (default 0.01, as in
    /// DARTS).
    pub epsilon: f64,
}

impl Default for Darts2Config {
    fn default() -> Self {
        Darts2Config { xi: None, epsilon: 0.01 }
    }
}

impl Darts2Config {
    /// Checks the ranges: `xi` in `[0, 100]`, `epsilon` in `(0, 1]`.
    pub fn validate(&self) -> Result<()> {
        if let Some(xi) = self.xi {
            check_range("strategy_options.darts2.xi", xi, 0.0, 100.0)?;
        }
        check_range("strategy_options.darts2.epsilon", self.epsilon, 1e-12, 1.0)
    }
}

/// Second-order DARTS.
#[derive(Clone, Debug, Default)]
pub struct Darts2 {
    config: Darts2Config,
}

impl Darts2 {
    /// Second-order DARTS with the given hyper-parameters.
    pub fn new(config: Darts2Config) -> Darts2 {
        Darts2 { config }
    }
}

/// The mixed loss `CE(sum_b softmax(alpha)_b logits_b)` of `net` on `(x, y)`.
fn mixed_loss(net: &Supernet, ctx: &StepContext<'_>, alpha: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let w = alpha.f_softmax(0, alpha.kind())?;
    cross_entropy(&mix(&w, &net.forward_all(x, ctx.masks)?)?, y)
}

/// Gradients of `loss` with respect to `inputs`, zeros where an input is unused.
fn grads(loss: &Tensor, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
    let g = Tensor::f_run_backward(&[loss], inputs, false, false)?;
    g.into_iter().zip(inputs).map(|(g, p)| if g.defined() { Ok(g) } else { Ok(p.f_zeros_like()?) }).collect()
}

impl Strategy for Darts2 {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Darts2
    }

    fn forward(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, step: StepKind) -> Result<Tensor> {
        Darts.forward(ctx, x, step)
    }

    fn block_weights(&self, alpha: &Tensor) -> Result<Vec<f64>> {
        softmax_weights(alpha)
    }

    fn architecture_gradient(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, y: &Tensor) -> Result<(f64, Tensor)> {
        let (xt, yt) = ctx.train_batch.ok_or_else(|| {
            Error::State("darts2 needs a weight step before an architecture step (its unrolled step uses that batch)".into())
        })?;
        let xi = self.config.xi.unwrap_or(ctx.weight_lr);
        let params = ctx.supernet.parameters();
        let alpha_fixed = ctx.alpha.f_detach()?;

        // The unrolled weights w' = w - xi grad_w L_train(w, alpha).
        let g_train = grads(&mixed_loss(ctx.supernet, ctx, &alpha_fixed, xt, yt)?, &params)?;
        let unrolled = {
            let _guard = tch::no_grad_guard();
            params
                .iter()
                .zip(&g_train)
                .map(|(p, g)| Ok(p.f_sub(&g.f_mul_scalar(xi)?)?.set_requires_grad(true)))
                .collect::<Result<Vec<_>>>()?
        };
        drop(g_train);
        let net = ctx.supernet.with_parameters(&unrolled)?;
        let val = mixed_loss(&net, ctx, ctx.alpha, x, y)?;
        let value = val.f_double_value(&[])?;
        let mut inputs = vec![ctx.alpha.shallow_clone()];
        inputs.extend(unrolled.iter().map(|t| t.shallow_clone()));
        let mut g_val = grads(&val, &inputs)?;
        drop(net);
        drop(unrolled);
        let d_alpha = g_val.remove(0);
        let mut norm_sq = 0.0;
        for g in &g_val {
            norm_sq += g.f_square()?.f_sum(Kind::Double)?.f_double_value(&[])?;
        }
        let norm = norm_sq.sqrt();
        if xi == 0.0 || norm == 0.0 || !norm.is_finite() {
            return Ok((value, d_alpha));
        }
        let eps = self.config.epsilon / norm;

        // grad_alpha L_train at w +- eps v, v = grad_w' L_val(w', alpha).
        let shifted = |sign: f64| -> Result<Tensor> {
            let moved = {
                let _guard = tch::no_grad_guard();
                params
                    .iter()
                    .zip(&g_val)
                    .map(|(p, v)| Ok(p.f_add(&v.f_mul_scalar(sign * eps)?)?))
                    .collect::<Result<Vec<_>>>()?
            };
            let net = ctx.supernet.with_parameters(&moved)?;
            let logits = {
                let _guard = tch::no_grad_guard();
                net.forward_all(xt, ctx.masks)?
            };
            let w = ctx.alpha.f_softmax(0, ctx.alpha.kind())?;
            let loss = cross_entropy(&mix(&w, &logits)?, yt)?;
            Ok(Tensor::f_run_backward(&[&loss], &[ctx.alpha], false, false)?.remove(0))
        };
        let plus = shifted(1.0)?;
        let minus = shifted(-1.0)?;
        let hvp = plus.f_sub(&minus)?.f_div_scalar(2.0 * eps)?;
        Ok((value, d_alpha.f_sub(&hvp.f_mul_scalar(xi)?)?))
    }
}
