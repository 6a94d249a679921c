//! The architecture Hessian as a stability monitor (Zela et al. 2020, "Understanding and
//! robustifying differentiable architecture search"): the largest eigenvalue of the
//! Hessian of the validation loss with respect to `alpha` rises when a DARTS search
//! starts to collapse. Here `alpha` has `k` entries, so the Hessian is computed exactly:
//! the loss is the cross-entropy of the `softmax(alpha)`-weighted mixture of the blocks'
//! logits (shared weights fixed), its gradient is taken with a graph (double backward),
//! and each row is one Hessian-vector product with a unit vector. The search loop
//! measures it every `hessian_every` epochs on the first [`HESSIAN_SAMPLES`] rows of the
//! validation split; nothing is drawn from the session's RNG.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::search::strategy::{cross_entropy, mix};

/// Rows of the validation split the monitor evaluates (all of it when smaller): a
/// fixed subset, so that measurements differ only by the search's progress.
pub const HESSIAN_SAMPLES: usize = 256;

/// One measurement of the monitor.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HessianPoint {
    /// The phase (from 0).
    pub phase: usize,
    /// The epoch of the phase after which it was measured (from 0).
    pub epoch: usize,
    /// Weight steps over the whole search when it was measured.
    pub step: usize,
    /// The Hessian's largest eigenvalue.
    pub eigenvalue: f64,
}

/// `alpha` as a leaf requiring grad, with `logits`' kind and device.
fn leaf(alpha: &[f64], logits: &Tensor) -> Result<Tensor> {
    let a = Tensor::f_from_slice(alpha)?.f_to_kind(logits.kind())?.f_to_device(logits.device())?;
    Ok(a.set_requires_grad(true))
}

/// The cross-entropy of `sum_b softmax(alpha)_b logits_b` (`logits: [k, B, C]`).
fn mixed_loss(logits: &Tensor, y: &Tensor, alpha: &Tensor) -> Result<Tensor> {
    cross_entropy(&mix(&alpha.f_softmax(0, alpha.kind())?, logits)?, y)
}

fn values(t: &Tensor) -> Result<Vec<f64>> {
    Ok(Vec::<f64>::try_from(&t.f_detach()?.f_to_kind(Kind::Double)?.f_to_device(tch::Device::Cpu)?)?)
}

/// The gradient of the mixed loss with respect to `alpha`.
pub fn loss_gradient(logits: &Tensor, y: &Tensor, alpha: &[f64]) -> Result<Vec<f64>> {
    let a = leaf(alpha, logits)?;
    let loss = mixed_loss(logits, y, &a)?;
    values(&Tensor::f_run_backward(&[&loss], &[&a], false, false)?.remove(0))
}

/// The exact `k x k` Hessian of the mixed loss with respect to `alpha` (row `i`: the
/// Hessian-vector product with the unit vector `e_i`, by double backward).
pub fn loss_hessian(logits: &Tensor, y: &Tensor, alpha: &[f64]) -> Result<Vec<Vec<f64>>> {
    let k = alpha.len();
    if logits.size().first() != Some(&(k as i64)) {
        return Err(Error::Input(format!("logits {:?} for {k} blocks", logits.size())));
    }
    let a = leaf(alpha, logits)?;
    let loss = mixed_loss(logits, y, &a)?;
    let grad = Tensor::f_run_backward(&[&loss], &[&a], true, true)?.remove(0);
    (0..k)
        .map(|i| {
            let gi = grad.f_select(0, i as i64)?;
            if !gi.requires_grad() {
                return Ok(vec![0.0; k]);
            }
            values(&Tensor::f_run_backward(&[&gi], &[&a], true, false)?.remove(0))
        })
        .collect()
}

/// The largest eigenvalue of the symmetric part of `h` (a symmetric eigensolver:
/// libtorch's `linalg_eigvalsh`, in float64).
pub fn largest_eigenvalue(h: &[Vec<f64>]) -> Result<f64> {
    let k = h.len();
    if k == 0 || h.iter().any(|r| r.len() != k) {
        return Err(Error::Input(format!("a Hessian must be square and not empty, got {k} rows")));
    }
    let flat: Vec<f64> = h.iter().flatten().copied().collect();
    let t = Tensor::f_from_slice(&flat)?.f_view([k as i64, k as i64])?;
    let sym = t.f_add(&t.f_transpose(0, 1)?)?.f_mul_scalar(0.5)?;
    let eig = values(&sym.f_linalg_eigvalsh("L")?)?;
    Ok(eig.into_iter().fold(f64::NEG_INFINITY, f64::max))
}
