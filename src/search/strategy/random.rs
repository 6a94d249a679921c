//! Random sampling with weight sharing (Li & Talwalkar 2019, "Random search and
//! reproducibility for neural architecture search"): every weight step trains one
//! block drawn uniformly, so a step computes only that block; there is no `alpha`
//! (architecture steps only report the validation loss of a uniformly drawn block and
//! change nothing). At the end of a phase the blocks are ranked by validation accuracy,
//! and the density's feedback is the rank-based weighting of
//! [`rank_weights`](super::rank_weights). No hyper-parameters.

use rand::Rng;
use tch::Tensor;

use super::{rank_weights, StepContext, StepKind, Strategy, StrategyKind};
use crate::error::Result;

/// Random sampling.
#[derive(Clone, Debug, Default)]
pub struct RandomSampling {
    last: Option<usize>,
}

impl RandomSampling {
    /// The block sampled by the last forward pass.
    pub fn last_sample(&self) -> Option<usize> {
        self.last
    }
}

impl Strategy for RandomSampling {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Random
    }

    fn forward(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, step: StepKind) -> Result<Tensor> {
        let s = ctx.rng.gen_range(0..ctx.k());
        self.last = Some(s);
        ctx.logits_block(x, s, step)
    }

    /// The sampling probabilities: uniform.
    fn block_weights(&self, alpha: &Tensor) -> Result<Vec<f64>> {
        let k = alpha.size()[0] as usize;
        Ok(vec![1.0 / k as f64; k])
    }

    fn feedback(&self, _alpha: &Tensor, ranking: &[usize]) -> Result<Vec<f64>> {
        Ok(rank_weights(ranking))
    }

    fn trains_alpha(&self) -> bool {
        false
    }
}
