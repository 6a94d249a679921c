//! P-DARTS (Chen et al. 2019, "Progressive differentiable architecture search"): the
//! search deepens in stages while it prunes its candidates. Its forward pass and
//! gradient are first-order DARTS'; the stages, the pruning, the
//! identity dropout's schedule and the final pick are the search loop's ([`crate::search::stages`]). This file holds
//! its options (`strategy_options.pdarts`).

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::{check_range, mix, softmax_weights, StepContext, StepKind, Strategy, StrategyKind};
use crate::error::{Error, Result};

/// P-DARTS hyper-parameters (`strategy_options.pdarts`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PdartsConfig {
    /// The number of stages `S` (default 3).
    pub stages: usize,
    /// The stages' depths `L_1 < ... < L_S = L` (default: from `L_min` evenly up to `L`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depths: Option<Vec<usize>>,
    /// At a stage's end, edges whose presence probability is below this are pruned
    /// (default 0.1; 0 prunes no edge).
    pub prune_below: f64,
    /// At a stage's end, in a typed space, the ops of an edge outside its `n` most
    /// probable are pruned (default: none pruned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_ops: Option<usize>,
    /// The final pick's limit on identity edges (default 2).
    pub max_identity: usize,
    /// The identity op's dropout rate in weight steps at a stage's start, decaying
    /// linearly to 0 at its end (default 0: none).
    pub identity_dropout: f64,
}

impl Default for PdartsConfig {
    fn default() -> Self {
        PdartsConfig { stages: 3, depths: None, prune_below: 0.1, top_ops: None, max_identity: 2, identity_dropout: 0.0 }
    }
}

impl PdartsConfig {
    /// Checks the ranges that do not depend on the space, naming the field (the depths
    /// are checked against the space by [`crate::search::stages::stage_depths`]).
    pub fn validate(&self) -> Result<()> {
        let field = |f: &str| format!("strategy_options.pdarts.{f}");
        if !(1..=16).contains(&self.stages) {
            return Err(Error::config(field("stages"), format!("{} is out of range: allowed 1..=16", self.stages)));
        }
        if let Some(d) = &self.depths {
            if d.len() != self.stages {
                return Err(Error::config(
                    field("depths"),
                    format!("{} depths given for {} stages: one per stage is needed", d.len(), self.stages),
                ));
            }
        }
        check_range(&field("prune_below"), self.prune_below, 0.0, 0.5)?;
        if self.top_ops == Some(0) {
            return Err(Error::config(field("top_ops"), "0 is out of range: at least 1"));
        }
        if !(self.identity_dropout.is_finite() && (0.0..1.0).contains(&self.identity_dropout)) {
            return Err(Error::config(
                field("identity_dropout"),
                format!("{} is out of range: allowed [0, 1)", self.identity_dropout),
            ));
        }
        Ok(())
    }

    /// The identity dropout rate after `fraction` of a stage: `identity_dropout (1 -
    /// fraction)`.
    pub fn identity_dropout_at(&self, fraction: f64) -> f64 {
        self.identity_dropout * (1.0 - fraction.clamp(0.0, 1.0))
    }
}

/// P-DARTS: the forward pass and gradient of first-order DARTS; the search loop runs it
/// in stages.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pdarts;

impl Strategy for Pdarts {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Pdarts
    }

    fn forward(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, step: StepKind) -> Result<Tensor> {
        let alpha = match step {
            StepKind::Weights => ctx.alpha.f_detach()?,
            StepKind::Architecture => ctx.alpha.shallow_clone(),
        };
        let w = alpha.f_softmax(0, alpha.kind())?;
        let logits = match step {
            StepKind::Weights => ctx.logits_all_dropping_identity(x)?,
            StepKind::Architecture => ctx.logits_all(x, step)?,
        };
        mix(&w, &logits)
    }

    fn block_weights(&self, alpha: &Tensor) -> Result<Vec<f64>> {
        softmax_weights(alpha)
    }
}
