//! Accuracy and mean cross-entropy of a forward function on a labelled set, in chunks
//! of rows so that a whole split never has to be in one forward pass.

use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use super::loss::cross_entropy;

/// Rows per chunk when evaluating on a whole split.
pub const EVAL_CHUNK: i64 = 4096;

/// Accuracy and mean cross-entropy of `forward` on `(x, y)`, in chunks, without grad;
/// the labels follow the logits to their device.
pub fn evaluate(forward: impl Fn(&Tensor) -> Result<Tensor>, x: &Tensor, y: &Tensor) -> Result<(f64, f64)> {
    let _guard = tch::no_grad_guard();
    let n = x.size()[0];
    let (mut correct, mut loss_sum) = (0i64, 0f64);
    let mut start = 0;
    while start < n {
        let len = EVAL_CHUNK.min(n - start);
        let (xb, yb) = (x.f_narrow(0, start, len)?, y.f_narrow(0, start, len)?);
        let logits = forward(&xb)?;
        // The forward function may move the rows to its network's device.
        let yb = yb.f_to_device(logits.device())?;
        correct += logits.f_argmax(1, false)?.f_eq_tensor(&yb)?.f_sum(Kind::Int64)?.f_int64_value(&[])?;
        loss_sum += cross_entropy(&logits, &yb)?.f_double_value(&[])? * len as f64;
        start += len;
    }
    if n == 0 {
        return Err(Error::Input("evaluation on 0 samples".into()));
    }
    Ok((correct as f64 / n as f64, loss_sum / n as f64))
}
