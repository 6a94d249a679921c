//! P-DARTS (Chen et al. 2019, "Progressive differentiable architecture search"): the
//! search deepens in stages while it prunes its candidates. Its forward pass and
//! gradient are first-order DARTS'; the stages, the pruning, the identity dropout and
//! the final pick are the search loop's ([`crate::search::stages`]). This file holds
//! its options (`strategy_options.pdarts`).

use serde::{Deserialize, Serialize};

use super::check_range;
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
    /// The identity op's dropout rate at a stage's start, decaying linearly to 0 at its
    /// end (default 0: off).
    pub identity_dropout: f64,
    /// The final pick's limit on identity edges (default 2).
    pub max_identity: usize,
}

impl Default for PdartsConfig {
    fn default() -> Self {
        PdartsConfig { stages: 3, depths: None, prune_below: 0.1, top_ops: None, identity_dropout: 0.0, max_identity: 2 }
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
}
