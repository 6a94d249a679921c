//! DARTS+ (Liang et al. 2019, "DARTS+: Improved differentiable architecture search with
//! early stopping"): first-order DARTS whose phases end early when the architecture has
//! settled or starts to collapse. The forward pass and the gradient are DARTS'; the
//! rules, each switched by option, are checked by the search loop through a
//! [`StopMonitor`]:
//!
//! - the ranking rule: the order of `alpha` over the blocks (or its top `n`) has not
//!   changed for `patience` checks, a check every tenth of an epoch;
//! - the skip rule: in a space with the identity op, the block whose `alpha` leads
//!   (strictly) has at least `max_identity` identity edges (DARTS+'s "two skip-connects in
//!   the normal cell");
//! - the Hessian rule: the largest eigenvalue of the architecture Hessian (measured
//!   every `hessian_every` epochs, see [`crate::search::hessian`]) has risen to
//!   `hessian_rise` times its first value of the phase (Zela et al. 2020).
//!
//! A rule that fires ends the phase (its blocks are judged and the density updated as
//! usual); in the last phase that ends the search.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::{check_range, softmax_weights, StepContext, StepKind, Strategy, StrategyKind};
use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::ops::Op;

/// DARTS+ hyper-parameters (`strategy_options.darts_plus`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DartsPlusConfig {
    /// The ranking rule (default on).
    pub ranking: bool,
    /// Compare only the top `n` of the ranking (default: all blocks).
    pub top_n: Option<usize>,
    /// Unchanged checks before the ranking rule fires (default 10, one epoch).
    pub patience: usize,
    /// The skip rule, in spaces with the identity op (default on).
    pub skip: bool,
    /// Identity edges of the leading block that fire the skip rule (default 2).
    pub max_identity: usize,
    /// The Hessian rule: fire when the largest eigenvalue reaches this multiple of the
    /// phase's first one (needs `hessian_every`; default off).
    pub hessian_rise: Option<f64>,
}

impl Default for DartsPlusConfig {
    fn default() -> Self {
        DartsPlusConfig { ranking: true, top_n: None, patience: 10, skip: true, max_identity: 2, hessian_rise: None }
    }
}

impl DartsPlusConfig {
    /// Checks the ranges, naming the field.
    pub fn validate(&self) -> Result<()> {
        let field = |f: &str| format!("strategy_options.darts_plus.{f}");
        if !(1..=1_000_000).contains(&self.patience) {
            return Err(Error::config(field("patience"), format!("{} is out of range: allowed 1..=1000000", self.patience)));
        }
        if self.top_n == Some(0) {
            return Err(Error::config(field("top_n"), "0 is out of range: at least 1"));
        }
        if self.max_identity == 0 {
            return Err(Error::config(field("max_identity"), "0 is out of range: at least 1"));
        }
        if let Some(r) = self.hessian_rise {
            check_range(&field("hessian_rise"), r, 1.0, 1e6)?;
        }
        Ok(())
    }
}

/// Which rule ended a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopRule {
    /// The order of `alpha` stayed unchanged for `patience` checks.
    Ranking,
    /// The leading block has `max_identity` identity edges.
    Skip,
    /// The Hessian's largest eigenvalue rose by `hessian_rise`.
    Hessian,
}

/// An early stop: the phase (from 0), the step within the phase after which it fired
/// (from 0, warm-up steps included), and the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStop {
    /// The phase.
    pub phase: usize,
    /// The step within the phase.
    pub step: usize,
    /// The rule that fired.
    pub rule: StopRule,
}

/// DARTS+: the forward pass and gradient of first-order DARTS, with stopping rules.
#[derive(Clone, Debug, Default)]
pub struct DartsPlus {
    config: DartsPlusConfig,
}

impl DartsPlus {
    /// DARTS+ with the given rules.
    pub fn new(config: DartsPlusConfig) -> DartsPlus {
        DartsPlus { config }
    }
}

impl Strategy for DartsPlus {
    fn kind(&self) -> StrategyKind {
        StrategyKind::DartsPlus
    }

    /// DARTS' own step: the rules only watch it.
    fn forward(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, step: StepKind) -> Result<Tensor> {
        super::darts::Darts.forward(ctx, x, step)
    }

    fn block_weights(&self, alpha: &Tensor) -> Result<Vec<f64>> {
        softmax_weights(alpha)
    }

    fn stopping_rules(&self) -> Option<&DartsPlusConfig> {
        Some(&self.config)
    }
}

/// The blocks ordered by `alpha`, largest first (ties: lower index first).
pub fn alpha_order(alpha: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..alpha.len()).collect();
    order.sort_by(|&a, &b| alpha[b].total_cmp(&alpha[a]).then(a.cmp(&b)));
    order
}

/// The block whose `alpha` is larger than every other's, if one is.
pub fn strict_leader(alpha: &[f64]) -> Option<usize> {
    let order = alpha_order(alpha);
    match order.as_slice() {
        [first, second, ..] if alpha[*first] > alpha[*second] => Some(*first),
        [only] => Some(*only),
        _ => None,
    }
}

/// The identity edges of `dag`.
pub fn identity_edges(dag: &Dag) -> usize {
    dag.ops().iter().filter(|&&o| o == Op::Identity).count()
}

/// The state of DARTS+'s rules within one phase (a new monitor for every phase, since
/// `alpha` restarts at 0 there).
#[derive(Clone, Debug)]
pub struct StopMonitor {
    config: DartsPlusConfig,
    last: Option<Vec<usize>>,
    unchanged: usize,
    first_eigenvalue: Option<f64>,
}

impl StopMonitor {
    /// A monitor of the rules in `config`, before any check.
    pub fn new(config: DartsPlusConfig) -> StopMonitor {
        StopMonitor { config, last: None, unchanged: 0, first_eigenvalue: None }
    }

    /// One check of the ranking and skip rules with `alpha` now over the blocks `dags`;
    /// `identity_in_space` says whether the space has the identity op (the skip rule
    /// applies only then, and only to a block whose `alpha` leads strictly: at a tie, as
    /// at the start of a phase, no block leads). Returns the rule that fired.
    pub fn check(&mut self, alpha: &[f64], dags: &[Dag], identity_in_space: bool) -> Option<StopRule> {
        if self.config.skip && identity_in_space {
            if let Some(b) = strict_leader(alpha) {
                if identity_edges(&dags[b]) >= self.config.max_identity {
                    return Some(StopRule::Skip);
                }
            }
        }
        if !self.config.ranking {
            return None;
        }
        let mut order = alpha_order(alpha);
        order.truncate(self.config.top_n.unwrap_or(order.len()));
        if self.last.as_ref() == Some(&order) {
            self.unchanged += 1;
        } else {
            self.unchanged = 0;
            self.last = Some(order);
        }
        (self.unchanged >= self.config.patience).then_some(StopRule::Ranking)
    }

    /// One measurement of the Hessian's largest eigenvalue: the Hessian rule fires when
    /// it reaches `hessian_rise` times the phase's first positive measurement (the
    /// reference; until there is one, each measurement becomes it).
    pub fn check_eigenvalue(&mut self, eigenvalue: f64) -> Option<StopRule> {
        let rise = self.config.hessian_rise?;
        match self.first_eigenvalue {
            Some(first) if first > 0.0 => (eigenvalue >= rise * first).then_some(StopRule::Hessian),
            _ => {
                self.first_eigenvalue = Some(eigenvalue);
                None
            }
        }
    }
}
