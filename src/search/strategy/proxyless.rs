//! ProxylessNAS (Cai, Zhu & Han 2019): binary gates sampled from `p = softmax(alpha)`,
//! so a step computes only the sampled path(s), and a BinaryConnect-style gradient for
//! `alpha`.
//!
//! - Weight steps: one block `s ~ p`; the output is `logits_s` (gate `g_s = 1`).
//! - Architecture steps with `paths = 2` (the paper's memory-saving variant, the
//!   default): two distinct blocks `S = {a, b}` drawn from `p` without replacement,
//!   their probabilities renormalised, `q = softmax(alpha_a, alpha_b)`; the active gate
//!   is drawn from `q`, and the output is `z = sum_{j in S} g_j o_j` with `g` one-hot
//!   on it. Only `o_a` and `o_b` are computed. The gradient is
//!   `dL/dalpha_i = sum_{j in S} dL/dg_j q_j (delta_ij - q_i)` for `i` in `S`, 0 for the
//!   others, and after the optimiser's update the two parameters are shifted by a
//!   common offset so that `exp(alpha_a) + exp(alpha_b)` is what it was: the
//!   unsampled blocks' probabilities do not change (the paper's rescaling).
//! - Architecture steps with `paths = 1`: one block `s ~ p`, output `o_s`, and the
//!   BinaryConnect sum restricted to the gate that was computed:
//!   `dL/dalpha_i = dL/dg_s p_s (delta_is - p_i)` for every `i` (the full sum would
//!   need every block's output, which is what this strategy avoids).
//!
//! `dL/dg_j = <dL/dz, o_j>` is obtained by differentiating the loss with respect to the
//! gates; the supernet itself runs without a graph in architecture steps.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::{
    categorical, cross_entropy, mix, softmax_f64, softmax_weights, tensor_like, StepContext, StepKind, Strategy,
    StrategyKind,
};
use crate::model::dag::Dag;
use crate::error::{Error, Result};

/// ProxylessNAS hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxylessConfig {
    /// Paths sampled in an architecture step: 2 (default, as the paper trains its
    /// architecture parameters) or 1. Weight steps always sample one path.
    pub paths: usize,
}

impl Default for ProxylessConfig {
    fn default() -> Self {
        ProxylessConfig { paths: 2 }
    }
}

impl ProxylessConfig {
    /// Checks that `paths` is 1 or 2.
    pub fn validate(&self) -> Result<()> {
        if self.paths == 1 || self.paths == 2 {
            Ok(())
        } else {
            Err(Error::config("strategy_options.proxyless.paths", format!("{} is out of range: allowed 1 or 2", self.paths)))
        }
    }
}

/// What the last architecture step sampled.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxylessSample {
    /// The sampled blocks (one or two, in draw order).
    pub paths: Vec<usize>,
    /// The block whose gate was open.
    pub active: usize,
}

/// ProxylessNAS.
#[derive(Clone, Debug, Default)]
pub struct Proxyless {
    config: ProxylessConfig,
    last_weight_sample: Option<usize>,
    last: Option<ProxylessSample>,
    /// The two sampled blocks and their parameters before the update, to rescale.
    pending: Option<(Vec<usize>, Vec<f64>)>,
}

impl Proxyless {
    /// ProxylessNAS with the given hyper-parameters.
    pub fn new(config: ProxylessConfig) -> Proxyless {
        Proxyless { config, ..Proxyless::default() }
    }

    /// The block the last weight step sampled.
    pub fn last_weight_sample(&self) -> Option<usize> {
        self.last_weight_sample
    }

    /// What the last architecture step sampled.
    pub fn last_sample(&self) -> Option<&ProxylessSample> {
        self.last.as_ref()
    }
}

impl Strategy for Proxyless {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Proxyless
    }

    fn forward(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, step: StepKind) -> Result<Tensor> {
        let p = softmax_f64(&ctx.alpha_values()?);
        let s = categorical(&p, ctx.rng);
        if step == StepKind::Weights {
            self.last_weight_sample = Some(s);
        }
        ctx.logits_block(x, s, step)
    }

    fn block_weights(&self, alpha: &Tensor) -> Result<Vec<f64>> {
        softmax_weights(alpha)
    }

    fn architecture_gradient(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, y: &Tensor) -> Result<(f64, Tensor)> {
        let alpha = ctx.alpha_values()?;
        let k = alpha.len();
        let p = softmax_f64(&alpha);
        let a = categorical(&p, ctx.rng);
        let two = self.config.paths == 2 && k >= 2;
        let (paths, q) = if two {
            let rest: Vec<f64> = p.iter().enumerate().map(|(i, &v)| if i == a { 0.0 } else { v }).collect();
            let b = categorical(&rest, ctx.rng);
            (vec![a, b], softmax_f64(&[alpha[a], alpha[b]]))
        } else {
            (vec![a], vec![1.0])
        };
        let active_pos = if two { categorical(&q, ctx.rng) } else { 0 };
        let active = paths[active_pos];

        // The sampled blocks' outputs, without a graph; the gates are the leaves.
        let outputs = {
            let _guard = tch::no_grad_guard();
            let dags: Vec<&Dag> = paths.iter().map(|&i| &ctx.dags[i]).collect();
            ctx.supernet.forward_blocks(x, &dags)?
        };
        let gates_v: Vec<f64> = (0..paths.len()).map(|j| if j == active_pos { 1.0 } else { 0.0 }).collect();
        let gates = tensor_like(&gates_v, &outputs)?.set_requires_grad(true);
        let loss = cross_entropy(&mix(&gates, &outputs)?, y)?;
        let value = loss.f_double_value(&[])?;
        let dgates = Tensor::f_run_backward(&[&loss], &[&gates], false, false)?.remove(0);
        let dg: Vec<f64> = Vec::<f64>::try_from(&dgates.f_to_kind(Kind::Double)?)?;

        let mut grad = vec![0.0; k];
        if two {
            for (ii, &i) in paths.iter().enumerate() {
                for (jj, _) in paths.iter().enumerate() {
                    let delta = if ii == jj { 1.0 } else { 0.0 };
                    grad[i] += dg[jj] * q[jj] * (delta - q[ii]);
                }
            }
            self.pending = Some((paths.clone(), paths.iter().map(|&i| alpha[i]).collect()));
        } else {
            for (i, g) in grad.iter_mut().enumerate() {
                let delta = if i == a { 1.0 } else { 0.0 };
                *g = dg[0] * p[a] * (delta - p[i]);
            }
            self.pending = None;
        }
        self.last = Some(ProxylessSample { paths, active });
        Ok((value, tensor_like(&grad, ctx.alpha)?))
    }

    fn after_architecture_step(&mut self, alpha: &Tensor) -> Result<()> {
        let Some((paths, old)) = self.pending.take() else { return Ok(()) };
        let _guard = tch::no_grad_guard();
        let new: Vec<f64> = paths
            .iter()
            .map(|&i| alpha.f_double_value(&[i as i64]))
            .collect::<std::result::Result<_, _>>()?;
        let lse = |v: &[f64]| {
            let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            m + v.iter().map(|a| (a - m).exp()).sum::<f64>().ln()
        };
        let offset = lse(&new) - lse(&old);
        for &i in &paths {
            let mut entry = alpha.f_select(0, i as i64)?;
            let _ = entry.f_sub_scalar_(offset)?;
        }
        Ok(())
    }
}
