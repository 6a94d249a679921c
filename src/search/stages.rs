//! P-DARTS' stages (docs/architecture.md, "P-DARTS"): the depths `L_1 < ... < L_S = L`,
//! the split of the phases over the stages, the density carried from one stage's space
//! to the next by vertex, and the pruning rule at a stage's end. Pure functions; the search loop applies them.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::ops::Op;
use crate::model::density::{DagDensity, Pruned};
use crate::model::space::Space;
use crate::search::config::SearchConfig;
use crate::search::strategy::{PdartsConfig, StrategyKind};

/// The space of `depth` layers that stage searches use: `space` with `layers = depth`,
/// the longest skip clipped to `depth - 1` and the most edges to the allowed edges.
pub fn stage_space(space: &Space, depth: usize) -> Result<Space> {
    let mut c = space.config();
    c.layers = depth;
    c.max_skip = Some(space.max_skip().min(depth.saturating_sub(1)).max(usize::from(depth > 1)));
    let mut probe = c.clone();
    (probe.min_edges, probe.max_edges) = (None, None);
    let allowed = Space::new(probe)?.num_edges();
    c.max_edges = Some(space.max_edges().min(allowed));
    c.min_edges = Some(space.min_edges().min(allowed));
    Space::new(c)
}

/// The smallest depth whose stage space holds at least `space.blocks()` distinct DAGs
/// (within the edge-count bounds).
pub fn min_depth(space: &Space, p_min: f64) -> Result<usize> {
    for depth in 1..=space.layers() {
        let s = stage_space(space, depth)?;
        // The size is a sum of exponentials of logarithms: an integer up to rounding.
        let size = DagDensity::new(&s, 0.5, p_min)?.constrained_size().round();
        if s.min_edges() == space.min_edges() && size >= space.blocks() as f64 {
            return Ok(depth);
        }
    }
    Err(Error::config(
        "blocks",
        format!("{} blocks: the space of {} layers holds fewer distinct DAGs", space.blocks(), space.layers()),
    ))
}

/// The stages' depths: `config.depths` when given (strictly increasing, the last `L`,
/// the first at least [`min_depth`]), else `L_1 = max(L_min, ceil(L / S))` and evenly
/// spaced up to `L`. Too many stages for the depths available is an error naming
/// `strategy_options.pdarts.stages`.
pub fn stage_depths(config: &PdartsConfig, space: &Space, p_min: f64) -> Result<Vec<usize>> {
    let (l, s) = (space.layers(), config.stages);
    let l_min = min_depth(space, p_min)?;
    if let Some(d) = &config.depths {
        let field = "strategy_options.pdarts.depths";
        if d.len() != s {
            return Err(Error::config(field, format!("{} depths given for {s} stages: one per stage is needed", d.len())));
        }
        if d.windows(2).any(|w| w[0] >= w[1]) || d.last() != Some(&l) {
            return Err(Error::config(field, format!("{d:?}: the depths must increase strictly and end at layers = {l}")));
        }
        if d[0] < l_min {
            return Err(Error::config(
                field,
                format!("the first depth {} is below {l_min}, the smallest depth holding {} distinct DAGs", d[0], space.blocks()),
            ));
        }
        return Ok(d.clone());
    }
    if s == 1 {
        return Ok(vec![l]);
    }
    let first = l_min.max(l.div_ceil(s));
    let depths: Vec<usize> =
        (0..s).map(|i| first + ((l - first) as f64 * i as f64 / (s - 1) as f64).round() as usize).collect();
    if depths.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::config(
            "strategy_options.pdarts.stages",
            format!("{s} stages need {s} distinct depths from {first} (the smallest holding {} distinct DAGs) to layers = {l}", space.blocks()),
        ));
    }
    Ok(depths)
}

/// The phases of each stage: `phases` split over `stages`, the first `phases mod
/// stages` stages one more. Fewer phases than stages is an error naming `phases`.
pub fn stage_phases(phases: usize, stages: usize) -> Result<Vec<usize>> {
    if phases < stages {
        return Err(Error::config(
            "phases",
            format!("{phases} phases for {stages} P-DARTS stages: at least one phase per stage is needed"),
        ));
    }
    Ok((0..stages).map(|s| phases / stages + usize::from(s < phases % stages)).collect())
}

/// The stage (from 0) of phase `phase` (from 0), and whether the phase is its stage's
/// first.
pub fn stage_of(phase: usize, per_stage: &[usize]) -> (usize, bool) {
    let mut start = 0;
    for (s, &n) in per_stage.iter().enumerate() {
        if phase < start + n {
            return (s, phase == start);
        }
        start += n;
    }
    (per_stage.len() - 1, false)
}

/// The density of the next stage's `space`: edge `(i, j)` keeps its presence and op
/// probabilities and its pruning from `old` when `(i, j)` is an edge of `old`'s space
/// (vertex `i` of a shallower stage is vertex `i` of the next); a new edge starts from
/// the prior (`p0`, its ops uniform).
pub fn carry_over(old: &DagDensity, old_space: &Space, space: &Space, p0: f64, p_min: f64) -> Result<DagDensity> {
    let prior = DagDensity::new(space, p0, p_min)?;
    let mut p = prior.probabilities().to_vec();
    let mut op_p = prior.op_probabilities().to_vec();
    let mut pruned = Pruned::none(space.num_edges(), space.ops().len());
    for (e, &(i, j)) in space.edges().iter().enumerate() {
        if let Some(o) = old_space.edge_index(i, j) {
            p[e] = old.probabilities()[o];
            op_p[e] = old.op_probabilities()[o].clone();
            pruned.edges[e] = old.pruned().edges[o];
            pruned.ops[e] = old.pruned().ops[o].clone();
        }
    }
    let mut density = DagDensity::from_probabilities(space, p, Some(op_p), p_min)?;
    density.restore_pruned(pruned)?;
    Ok(density)
}

/// P-DARTS' pruning rule on `density`: an edge whose presence probability is below
/// `prune_below` is pruned; in a typed space, the ops of an edge outside its `top_ops`
/// most probable (ties: the op listed first in the space wins) are pruned.
pub fn prune_mask(density: &DagDensity, prune_below: f64, top_ops: Option<usize>) -> Pruned {
    let p = density.probabilities();
    let ops = density.op_probabilities();
    let mut pruned = Pruned::none(p.len(), ops.first().map_or(1, Vec::len));
    for e in 0..p.len() {
        pruned.edges[e] = p[e] < prune_below;
        if let Some(n) = top_ops.filter(|&n| n < ops[e].len()) {
            let mut order: Vec<usize> = (0..ops[e].len()).collect();
            order.sort_by(|&a, &b| ops[e][b].total_cmp(&ops[e][a]).then(a.cmp(&b)));
            for &o in &order[n..] {
                pruned.ops[e][o] = true;
            }
        }
    }
    pruned
}

/// The stages of a `pdarts` search over `space`: each stage's depth and phases.
#[derive(Clone, Debug, PartialEq)]
pub struct StagePlan {
    /// `L_1 < ... < L_S = L`.
    pub depths: Vec<usize>,
    /// The phases of each stage.
    pub phases: Vec<usize>,
}

impl StagePlan {
    /// The plan of `config`'s search over `space` (`None` unless the strategy is
    /// `pdarts`); errors name the configuration key (`session.strategy_options.pdarts.*`,
    /// `phases`, `first_dags`).
    pub fn of(config: &SearchConfig, space: &Space) -> Result<Option<StagePlan>> {
        if config.session.strategy != StrategyKind::Pdarts {
            return Ok(None);
        }
        if config.first_dags.is_some() {
            return Err(Error::config(
                "first_dags",
                "pdarts draws every stage's blocks from the density at the stage's depth: given first DAGs are not for it",
            ));
        }
        let options = &config.session.strategy_options.pdarts;
        let phases = stage_phases(config.phases, options.stages)?;
        let depths = stage_depths(options, space, config.session.density.p_min).map_err(|e| match e {
            Error::Config { field, message } if field.starts_with("strategy_options") => Error::config(format!("session.{field}"), message),
            other => other,
        })?;
        Ok(Some(StagePlan { depths, phases }))
    }

    /// The space of stage `stage` (from 0).
    pub fn space(&self, space: &Space, stage: usize) -> Result<Space> {
        stage_space(space, self.depths[stage])
    }
}

/// Edge probabilities `p` over the edges of `stage` written over the edges of `space`
/// (the full depth), as `density.json` reports every phase: an edge beyond the stage's
/// depth cannot be drawn, probability 0.
pub fn over_full_space(p: &[f64], stage: &Space, space: &Space) -> Vec<f64> {
    space.edges().iter().map(|&(i, j)| stage.edge_index(i, j).map_or(0.0, |e| p[e])).collect()
}

/// One P-DARTS stage as `summary.json` reports it: its depth, its phases, and what was
/// pruned at its end (nothing for the last stage).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSummary {
    /// The stage (from 0).
    pub stage: usize,
    /// Its depth `L_s`.
    pub depth: usize,
    /// Its first phase (from 0).
    pub first_phase: usize,
    /// Its number of phases.
    pub phases: usize,
    /// The edges `(i, j)` fixed absent at its end (those pruned earlier included).
    pub pruned_edges: Vec<(usize, usize)>,
    /// The (edge, op) pairs fixed at 0 at its end, on edges not pruned whole.
    pub pruned_ops: Vec<((usize, usize), Op)>,
}

impl StagePlan {
    /// The summary of stage `stage` whose density at its end is `density` over
    /// `stage_space` (`None`: the last stage, nothing pruned).
    pub fn summary(&self, stage: usize, density: Option<(&DagDensity, &Space)>) -> StageSummary {
        let (mut pruned_edges, mut pruned_ops) = (Vec::new(), Vec::new());
        if let Some((density, space)) = density {
            let pruned = density.pruned();
            for (e, &edge) in space.edges().iter().enumerate() {
                if pruned.edges[e] {
                    pruned_edges.push(edge);
                } else if space.is_typed() {
                    pruned_ops.extend(pruned.ops[e].iter().zip(space.ops()).filter(|(p, _)| **p).map(|(_, &op)| (edge, op)));
                }
            }
        }
        StageSummary {
            stage,
            depth: self.depths[stage],
            first_phase: self.phases[..stage].iter().sum(),
            phases: self.phases[stage],
            pruned_edges,
            pruned_ops,
        }
    }
}
