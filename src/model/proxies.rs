//! Training-free proxies (docs/experiments.md, RQ4): scores of a network at its
//! initialisation that are meant to predict how well it trains, read beside the DAG
//! metrics and against the baselines every proxy must beat (parameters and FLOPs).
//!
//! - `nwot` (Mellor et al., "Neural architecture search without training"): the binary
//!   codes `c_i` of all ReLU units (pre-activation > 0) for each sample `i` of a batch;
//!   `K_ij = N - Hamming(c_i, c_j)`; the score is `log |det K|` (slogdet).
//! - `synflow` (Tanaka et al.): every weight and bias replaced by its absolute value, the
//!   normalised input all ones (one sample), `R` the sum of the logits; the score is the
//!   sum over all parameters of `|theta * dR/dtheta|`. Computed in float64 (never
//!   rescaled): the products of absolute weights grow with depth, and float64 keeps them
//!   finite for every space the engine allows at the study's sizes.
//! - `jacob_cov` (Mellor et al., first version): `J` the per-sample derivative of the sum
//!   of the logits with respect to the normalised input, `C` the correlation matrix of
//!   the rows of `J`, `v` its eigenvalues (symmetric solver); the score is
//!   `-sum(log(v + 1e-5) + 1 / (v + 1e-5))`.
//!
//! All three assume ReLU units; other activations are refused. A score that comes out
//! non-finite (for example `jacob_cov` when a sample's derivative is constant) is
//! reported as missing.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::model::network::{forward_dag, forward_dag_observed, DagWeights, Network};
use crate::model::space::{Activation, Space};

/// Samples of the batch `nwot` and `jacob_cov` read (the first of the data order).
pub const PROXY_BATCH: usize = 128;

/// The proxies' names, in the report's order.
pub const PROXY_NAMES: [&str; 3] = ["nwot", "synflow", "jacob_cov"];

/// `jacob_cov`'s regulariser of the eigenvalues.
const JACOB_COV_EPS: f64 = 1e-5;

/// The proxies of one network on one batch (`None`: the score is not finite).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProxyScores {
    /// `log |det K|` of the ReLU-code kernel.
    pub nwot: Option<f64>,
    /// Sum of `|theta * dR/dtheta|` of the absolute network on an all-ones input.
    pub synflow: Option<f64>,
    /// The eigenvalue score of the input Jacobians' correlation matrix.
    pub jacob_cov: Option<f64>,
}

impl ProxyScores {
    /// The score called `name` (one of [`PROXY_NAMES`]).
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "nwot" => self.nwot,
            "synflow" => self.synflow,
            "jacob_cov" => self.jacob_cov,
            _ => None,
        }
    }
}

/// Refuses a space the proxies are not defined for (they read ReLU codes and assume a
/// piecewise-linear network); `field` names the setting in the caller's terms.
pub fn check_space(space: &Space, field: &str) -> Result<()> {
    match space.activation() {
        Activation::Relu => Ok(()),
        other => Err(Error::config(
            field,
            format!(
                "the training-free proxies (nwot, synflow, jacob_cov) are defined for ReLU networks only (they read the \
                 units' on/off codes); this space's activation is {}",
                serde_json::to_value(other).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
            ),
        )),
    }
}

/// The proxies of `net` (at its current weights) on the raw batch `x: [B, F]`, which
/// goes through the network's input normalisation first.
pub fn proxy_scores(net: &Network, x: &Tensor) -> Result<ProxyScores> {
    check_space(&net.space, "space.activation")?;
    let kind = net.weights.output_bias.kind();
    let xn = net.normalization.apply(&x.f_to_kind(kind)?)?.f_detach()?;
    Ok(ProxyScores { nwot: finite(nwot(net, &xn)?), synflow: finite(synflow(net)?), jacob_cov: finite(jacob_cov(net, &xn)?) })
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// `log |det K|`, `K = c c^T + (1 - c)(1 - c)^T` over the codes of every ReLU unit.
fn nwot(net: &Network, xn: &Tensor) -> Result<f64> {
    let _no_grad = tch::no_grad_guard();
    let mut pre: Vec<Tensor> = Vec::new();
    let _ = forward_dag_observed(&net.space, &net.dag, &net.weights, xn, &mut |_, p| pre.push(p.shallow_clone()))?;
    let codes = pre
        .iter()
        .map(|p| Ok(p.f_flatten(1, -1)?.f_gt(0.0)?.f_to_kind(Kind::Double)?))
        .collect::<Result<Vec<_>>>()?;
    let c = Tensor::f_cat(&codes, 1)?;
    let off = c.f_neg()?.f_add_scalar(1.0)?;
    let k = c.f_matmul(&c.f_tr()?)?.f_add(&off.f_matmul(&off.f_tr()?)?)?;
    let (_, log_abs_det) = Tensor::f_linalg_slogdet(&k)?;
    Ok(log_abs_det.f_double_value(&[])?)
}

/// The synflow score in float64.
fn synflow(net: &Network) -> Result<f64> {
    let tensors = net
        .weights
        .tensors()
        .iter()
        .map(|t| Ok(t.f_detach()?.f_abs()?.f_to_kind(Kind::Double)?.set_requires_grad(true)))
        .collect::<Result<Vec<_>>>()?;
    let w = DagWeights::from_tensors(&net.space, &net.dag, tensors)?;
    let device = w.output_bias.device();
    let ones = Tensor::f_ones([1, net.space.features() as i64], (Kind::Double, device))?;
    let r = forward_dag(&net.space, &net.dag, &w, &ones)?.f_sum(Kind::Double)?;
    let params = w.tensors();
    let grads = Tensor::f_run_backward(&[&r], &params, false, false)?;
    let mut total = 0.0;
    for (p, g) in params.iter().zip(&grads) {
        total += p.f_detach()?.f_mul(g)?.f_abs()?.f_sum(Kind::Double)?.f_double_value(&[])?;
    }
    Ok(total)
}

/// The jacob_cov score: the per-sample input derivative of the summed logits (samples
/// do not interact, so one backward pass gives every row).
fn jacob_cov(net: &Network, xn: &Tensor) -> Result<f64> {
    let x = xn.f_detach_copy()?.set_requires_grad(true);
    let y = forward_dag(&net.space, &net.dag, &net.weights, &x)?;
    let total = y.f_sum(y.kind())?;
    let grads = Tensor::f_run_backward(&[&total], &[&x], false, false)?;
    let j = grads[0].f_flatten(1, -1)?.f_to_kind(Kind::Double)?;
    let _no_grad = tch::no_grad_guard();
    let v = j.f_corrcoef()?.f_linalg_eigvalsh("L")?.f_add_scalar(JACOB_COV_EPS)?;
    let score = v.f_log()?.f_add(&v.f_reciprocal()?)?.f_sum(Kind::Double)?.f_neg()?;
    Ok(score.f_double_value(&[])?)
}
