//! Search strategies (DESIGN.md section 3): how the block weights `w` are derived from
//! `alpha` for a forward pass, and how the architecture gradient is computed.
//!
//! A strategy sees the supernet, the blocks and `alpha` through a [`StepContext`];
//! all its randomness comes from the session's RNG in the context.

mod darts;

pub use darts::Darts;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::dag::Dag;
use crate::error::{Error, Result};
use crate::supernet::{BlockMasks, Supernet};

/// The strategies by their CLI/API names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyKind {
    /// First-order DARTS: `w = softmax(alpha)`, all blocks every step.
    #[default]
    Darts,
}

impl StrategyKind {
    /// Every strategy this build implements.
    pub const ALL: &'static [StrategyKind] = &[StrategyKind::Darts];

    /// The CLI/API name.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Darts => "darts",
        }
    }

    /// Parses a CLI/API name; the error lists the known names.
    pub fn parse(name: &str) -> Result<StrategyKind> {
        StrategyKind::ALL.iter().copied().find(|s| s.name() == name).ok_or_else(|| {
            let known: Vec<_> = StrategyKind::ALL.iter().map(|s| s.name()).collect();
            Error::config("strategy", format!("unknown strategy {name:?}: known strategies are {}", known.join(", ")))
        })
    }

    /// A fresh strategy object.
    pub fn build(self) -> Box<dyn Strategy> {
        match self {
            StrategyKind::Darts => Box::new(Darts),
        }
    }
}

impl std::str::FromStr for StrategyKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        StrategyKind::parse(s)
    }
}

/// Which half of the bi-level optimisation a forward pass serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// A weight step (`alpha` fixed).
    Weights,
    /// An architecture step (weights fixed).
    Architecture,
}

/// What a strategy may use during a step.
pub struct StepContext<'a> {
    /// The shared weights.
    pub supernet: &'a Supernet,
    /// The blocks' DAGs.
    pub dags: &'a [Dag],
    /// The blocks' masks.
    pub masks: &'a BlockMasks,
    /// The architecture parameters `[k]` (a leaf that requires grad).
    pub alpha: &'a Tensor,
    /// The session's RNG.
    pub rng: &'a mut ChaCha8Rng,
}

/// A search strategy.
pub trait Strategy: Send {
    /// The CLI/API name.
    fn kind(&self) -> StrategyKind;

    /// The supernet's logits `[B, C]` for raw features `x` in a step of kind `step`.
    fn forward(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, step: StepKind) -> Result<Tensor>;

    /// The block weights `w` implied by `alpha` (non-negative, summing to 1): reported
    /// in the history and used as the density's feedback.
    fn block_weights(&self, alpha: &Tensor) -> Result<Vec<f64>>;

    /// Whether architecture steps change `alpha`.
    fn trains_alpha(&self) -> bool {
        true
    }

    /// The architecture step's loss and its gradient with respect to `alpha`.
    /// The default: cross-entropy of [`Strategy::forward`], differentiated through
    /// `alpha` only.
    fn architecture_gradient(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, y: &Tensor) -> Result<(f64, Tensor)> {
        let logits = self.forward(ctx, x, StepKind::Architecture)?;
        let loss = cross_entropy(&logits, y)?;
        let value = loss.f_double_value(&[])?;
        let mut grads = Tensor::f_run_backward(&[&loss], &[ctx.alpha], false, false)?;
        Ok((value, grads.remove(0)))
    }
}

/// Mean cross-entropy of `logits: [B, C]` against labels `y: [B]`.
pub fn cross_entropy(logits: &Tensor, y: &Tensor) -> Result<Tensor> {
    Ok(logits.f_cross_entropy_loss::<Tensor>(y, None, tch::Reduction::Mean, -100, 0.0)?)
}

/// `softmax(alpha)` as plain numbers.
pub fn softmax_weights(alpha: &Tensor) -> Result<Vec<f64>> {
    let w = alpha.f_detach()?.f_softmax(0, Kind::Double)?;
    Ok(Vec::<f64>::try_from(&w)?)
}

/// `sum_b w_b logits_b` for `w: [k]`, `logits: [k, B, C]`.
pub fn mix(w: &Tensor, logits: &Tensor) -> Result<Tensor> {
    let k = w.size()[0];
    Ok(logits.f_mul(&w.f_view([k, 1, 1])?)?.f_sum_dim_intlist(0, false, None::<Kind>)?)
}
