//! First-order DARTS (Liu et al. 2019): `w = softmax(alpha)`; every step computes all
//! `k` blocks in the supernet's batched path. No hyper-parameters of its own.

use tch::Tensor;

use super::{mix, softmax_weights, StepContext, StepKind, Strategy, StrategyKind};
use crate::error::Result;

/// First-order DARTS.
#[derive(Clone, Copy, Debug, Default)]
pub struct Darts;

impl Strategy for Darts {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Darts
    }

    fn forward(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, step: StepKind) -> Result<Tensor> {
        let alpha = match step {
            // Weight steps keep alpha fixed: no graph through it.
            StepKind::Weights => ctx.alpha.f_detach()?,
            StepKind::Architecture => ctx.alpha.shallow_clone(),
        };
        let w = alpha.f_softmax(0, alpha.kind())?;
        mix(&w, &ctx.logits_all(x, step)?)
    }

    fn block_weights(&self, alpha: &Tensor) -> Result<Vec<f64>> {
        softmax_weights(alpha)
    }
}
