//! The training loss.

use tch::Tensor;

use crate::error::Result;

/// Mean cross-entropy of `logits: [B, C]` against labels `y: [B]`.
pub fn cross_entropy(logits: &Tensor, y: &Tensor) -> Result<Tensor> {
    Ok(logits.f_cross_entropy_loss::<Tensor>(y, None, tch::Reduction::Mean, -100, 0.0)?)
}
