//! Expanding an experiment into units (docs/experiments.md), in a stable order.
//!
//! Stage 1, known up front: per group, dataset, space and seed, one search per
//! strategy and the random search without weight sharing (when asked), then the standalone trainings of the chain, the full DAG and the random
//! DAGs (the same DAGs on every dataset: drawn uniformly from the space with a seed
//! fixed per space), or of every DAG of a small space, and (with `standalone.proxies`)
//! the random DAGs' training-free proxies. Stage 2, once a search is done:
//! its `chain_matched` (the chain whose whole-number width gives the parameter count
//! closest to the search's retrained best) and its last phase's `last_blocks` blocks
//! with the largest `alpha`. Standalone trainings use the searches' seeds, so every
//! comparison is paired by seed. Identical units (the same id) appear once.

use std::collections::HashSet;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::file::{base_config, Baseline, DatasetEntry, Experiment, Group, RandomDags, ALL_DAGS_LIMIT};
use super::unit::{NetworkShape, SearchResult, UnitResult, UnitSpec};
use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::density::DagDensity;
use crate::model::ops::{Op, Stem};
use crate::model::space::{is_dense_only, Norm, Space, SpaceConfig};
use crate::search::strategy::StrategyKind;
use crate::search::{SearchConfig, SpaceOptions};

/// A unit with its id and stage.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedUnit {
    /// The unit's id ([`UnitSpec::id`]).
    pub id: String,
    /// 1 (known up front) or 2 (derived from a finished search).
    pub stage: u8,
    /// What it computes.
    pub spec: UnitSpec,
}

/// The network shape of a space's DAGs.
pub fn shape_of(space: &SpaceOptions) -> NetworkShape {
    NetworkShape {
        layers: space.layers,
        width: space.width,
        activation: space.activation,
        aggregation: space.aggregation,
        norm: space.norm,
        ops: space.ops.clone(),
        shape: space.shape,
        input_shape: space.input_shape,
        stem: space.stem,
    }
}

/// The search unit of a group's dataset, space, strategy and seed.
pub fn search_spec(group: &Group, data: &DatasetEntry, space: &SpaceOptions, strategy: StrategyKind, seed: u64) -> Result<UnitSpec> {
    Ok(UnitSpec::Search { config: Box::new(unit_config(group, data, space, strategy, seed)?) })
}

/// The search configuration of a group's dataset, space, strategy and seed.
fn unit_config(group: &Group, data: &DatasetEntry, space: &SpaceOptions, strategy: StrategyKind, seed: u64) -> Result<SearchConfig> {
    let mut config = base_config(group)?;
    config.data = data.data.clone();
    config.train_subsample = data.train_subsample;
    config.space = space.clone();
    config.session.strategy = strategy;
    config.session.seed = seed;
    // One libtorch thread per unit: results do not depend on the worker.
    config.threads = Some(1);
    config.validate()?;
    Ok(config)
}

/// The standalone training of `dag` with `shape` on a group's dataset and seed, with
/// the group's retraining budget.
pub fn standalone_spec(group: &Group, data: &DatasetEntry, shape: NetworkShape, dag: Dag, seed: u64) -> Result<UnitSpec> {
    let config = base_config(group)?;
    Ok(UnitSpec::Standalone {
        data: data.data.clone(),
        train_subsample: data.train_subsample,
        shape,
        dag,
        train: config.retrain,
        seed,
        device: config.session.device,
        precision: config.session.precision,
        deterministic: config.session.deterministic,
    })
}

/// The random search without weight sharing of a group's dataset, space and seed
/// (its configuration that of the group's searches, with the default strategy), when
/// the group has that arm.
pub fn random_standalone_spec(group: &Group, data: &DatasetEntry, space: &SpaceOptions, seed: u64) -> Result<Option<UnitSpec>> {
    let Some(arm) = &group.random_standalone else { return Ok(None) };
    let config = unit_config(group, data, space, StrategyKind::default(), seed)?;
    let budget = arm.budget(&config);
    Ok(Some(UnitSpec::RandomStandalone { config: Box::new(config), budget }))
}

/// The proxies unit of `dag` with `shape` on a group's dataset and seed: the same
/// initialisation and data order as its standalone training.
pub fn proxies_spec(group: &Group, data: &DatasetEntry, shape: NetworkShape, dag: Dag, seed: u64) -> Result<UnitSpec> {
    let config = base_config(group)?;
    Ok(UnitSpec::Proxies {
        data: data.data.clone(),
        train_subsample: data.train_subsample,
        shape,
        dag,
        seed,
        device: config.session.device,
        precision: config.session.precision,
    })
}

/// A space over no data (for its DAG set: edges, and ops in a typed space).
fn dag_space(space: &SpaceOptions) -> Result<Space> {
    let width = space.shape.map_or(1, |s| s.iter().product());
    let mut c = SpaceConfig::new(1, 2, space.layers, width);
    c.blocks = 1;
    c.max_skip = space.max_skip;
    c.min_edges = space.min_edges;
    c.max_edges = space.max_edges;
    c.ops = space.ops.clone();
    c.shape = space.shape;
    Space::new(c)
}

/// The network shape a standalone DAG of `space` trains in: the plain MLP's for the
/// dense chain and the plain CNN's for the `conv3x3` chain of a typed space (the
/// baselines), else the space's own.
pub fn shape_for(space: &SpaceOptions, dag: &Dag) -> NetworkShape {
    let own = shape_of(space);
    let typed = !is_dense_only(&space.ops) || space.stem != Stem::Dense;
    if typed && *dag == Dag::chain(space.layers) {
        own.plain_mlp()
    } else if typed && *dag == Dag::chain_of(space.layers, Op::Conv3x3) {
        own.plain_cnn()
    } else {
        own
    }
}

/// The number of DAGs of a space (honouring its edge-count bounds), as a float.
pub fn space_size(space: &SpaceOptions) -> Result<f64> {
    Ok(DagDensity::new(&dag_space(space)?, 0.5, 0.0)?.constrained_size())
}

/// The seed of a space's random DAGs: fixed by what defines its DAG set.
fn space_seed(space: &SpaceOptions) -> u64 {
    let mut key = serde_json::json!([space.layers, space.max_skip, space.min_edges, space.max_edges]);
    if !is_dense_only(&space.ops) {
        key.as_array_mut().expect("an array").push(serde_json::json!(space.ops));
    }
    let key = key.to_string();
    let digest = Sha256::digest(key.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// The random DAGs of a space (uniform over it, distinct), or all of its DAGs; a count
/// of at least the space's size means all of them.
pub fn random_dags(space: &SpaceOptions, which: &RandomDags) -> Result<Vec<Dag>> {
    let s = dag_space(space)?;
    let which = match which {
        RandomDags::Count(n) if *n as f64 >= space_size(space)? => &RandomDags::All,
        other => other,
    };
    match which {
        RandomDags::Count(0) => Ok(Vec::new()),
        RandomDags::Count(n) => {
            let density = DagDensity::new(&s, 0.5, 0.0)?;
            density.draw(*n, &[], &mut ChaCha8Rng::seed_from_u64(space_seed(space)))
        }
        RandomDags::All => {
            let a = s.num_edges();
            let size = space_size(space)?;
            if a > 20 || size > ALL_DAGS_LIMIT as f64 {
                return Err(Error::config(
                    "standalone.random_dags",
                    format!("\"all\" is refused for a space of {size} DAGs (at most {ALL_DAGS_LIMIT})"),
                ));
            }
            let (lo, hi) = (s.min_edges(), s.max_edges());
            // Every code vector (0 absent, o + 1 op o), edge 0 the fastest digit.
            let base = s.ops().len() as u64 + 1;
            Ok((0..base.pow(a as u32))
                .map(|n| (0..a).map(|e| (n / base.pow(e as u32) % base) as u8).collect::<Vec<u8>>())
                .filter(|c| (lo..=hi).contains(&c.iter().filter(|&&v| v > 0).count()))
                .map(|c| Dag::from_codes(&s, &c))
                .collect())
        }
    }
}

/// The DAG with every allowed edge.
pub fn full_dag(space: &SpaceOptions) -> Result<Dag> {
    Ok(Dag::full(&dag_space(space)?))
}

/// The standalone DAGs of stage 1 for a space: chain, full and random, as the group
/// asks.
pub fn stage1_dags(group: &Group, space: &SpaceOptions) -> Result<Vec<Dag>> {
    let mut dags = Vec::new();
    if group.baselines.contains(&Baseline::Chain) {
        dags.push(Dag::chain(space.layers));
    }
    if group.baselines.contains(&Baseline::Full) {
        dags.push(full_dag(space)?);
    }
    // The plain CNN belongs to the typed spaces of the group (those with maps).
    if group.baselines.contains(&Baseline::Cnn) && space.shape.is_some() {
        dags.push(Dag::chain_of(space.layers, Op::Conv3x3));
    }
    dags.extend(random_dags(space, &group.standalone.random_dags)?);
    Ok(dags)
}

/// Every stage-1 unit, in a stable order (groups, datasets, spaces, seeds; searches
/// first), each once.
pub fn stage1(experiment: &Experiment) -> Result<Vec<PlannedUnit>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for group in &experiment.groups {
        for data in &group.datasets {
            for space in &group.spaces {
                let dags = stage1_dags(group, space)?;
                let proxied = if group.standalone.proxies { random_dags(space, &group.standalone.random_dags)? } else { Vec::new() };
                for &seed in &group.seeds {
                    for &strategy in &group.strategies {
                        push(&mut out, &mut seen, 1, search_spec(group, data, space, strategy, seed)?)?;
                    }
                    if let Some(spec) = random_standalone_spec(group, data, space, seed)? {
                        push(&mut out, &mut seen, 1, spec)?;
                    }
                    for dag in &dags {
                        push(&mut out, &mut seen, 1, standalone_spec(group, data, shape_for(space, dag), dag.clone(), seed)?)?;
                    }
                    for dag in &proxied {
                        push(&mut out, &mut seen, 1, proxies_spec(group, data, shape_of(space), dag.clone(), seed)?)?;
                    }
                }
            }
        }
    }
    Ok(out)
}

fn push(out: &mut Vec<PlannedUnit>, seen: &mut HashSet<String>, stage: u8, spec: UnitSpec) -> Result<()> {
    let id = spec.id()?;
    if seen.insert(id.clone()) {
        out.push(PlannedUnit { id, stage, spec });
    }
    Ok(())
}

/// The whole-number width of the chain whose parameter count is closest to `target`
/// (the smaller width on a tie), for data of `features` and `classes`.
pub fn matched_width(layers: usize, norm: Norm, features: usize, classes: usize, target: usize) -> usize {
    let chain = Dag::chain(layers);
    let params = |w: usize| {
        let mut c = crate::model::space::SpaceConfig::new(features, classes, layers, w);
        c.norm = norm;
        Space::new(c).map_or(usize::MAX, |s| chain.params(&s))
    };
    let mut w = 1;
    while params(w + 1) <= target && w < 1 << 20 {
        w += 1;
    }
    // params(w) <= target < params(w + 1), or w = 1 above the target.
    if params(w) < target && params(w + 1).abs_diff(target) < target.abs_diff(params(w)) {
        w + 1
    } else {
        w
    }
}

/// The stage-2 units of one finished search of `group` on `data` and `space` with
/// `seed`: its matched chain and its last phase's top blocks by `alpha`.
pub fn stage2_of(group: &Group, data: &DatasetEntry, space: &SpaceOptions, seed: u64, result: &SearchResult) -> Result<Vec<UnitSpec>> {
    let mut out = Vec::new();
    if group.baselines.contains(&Baseline::ChainMatched) {
        let s = &result.summary;
        let width = matched_width(space.layers, space.norm, s.dataset.features, s.dataset.classes, s.best.params);
        let shape = NetworkShape { width, ..shape_of(space) };
        out.push(standalone_spec(group, data, shape, Dag::chain(space.layers), seed)?);
    }
    for block in top_blocks(result, group.standalone.last_blocks) {
        out.push(standalone_spec(group, data, shape_of(space), block.dag.clone(), seed)?);
    }
    Ok(out)
}

/// The last phase's `n` blocks with the largest `alpha` (the lower block index first on
/// ties).
pub fn top_blocks(result: &SearchResult, n: usize) -> Vec<&super::unit::LastBlock> {
    let mut blocks: Vec<(usize, &super::unit::LastBlock)> = result.last_phase.iter().enumerate().collect();
    blocks.sort_by(|a, b| b.1.alpha.total_cmp(&a.1.alpha).then(a.0.cmp(&b.0)));
    blocks.into_iter().take(n).map(|(_, b)| b).collect()
}

/// Every stage-2 unit that the finished searches make known, in a stable order, each
/// once and none that stage 1 already holds. `result(id)` gives a finished unit's result.
pub fn stage2(experiment: &Experiment, stage1: &[PlannedUnit], result: &dyn Fn(&str) -> Option<UnitResult>) -> Result<Vec<PlannedUnit>> {
    let mut seen: HashSet<String> = stage1.iter().map(|u| u.id.clone()).collect();
    let mut out = Vec::new();
    for group in &experiment.groups {
        for data in &group.datasets {
            for space in &group.spaces {
                for &seed in &group.seeds {
                    for &strategy in &group.strategies {
                        let id = search_spec(group, data, space, strategy, seed)?.id()?;
                        if let Some(UnitResult::Search(r)) = result(&id) {
                            for spec in stage2_of(group, data, space, seed, &r)? {
                                push(&mut out, &mut seen, 2, spec)?;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The units known now: stage 1, and stage 2 of the searches finished in `dir`.
pub fn known_units_of(experiment: &Experiment, dir: &super::store::ExperimentDir) -> Result<Vec<PlannedUnit>> {
    let mut units = stage1(experiment)?;
    let more = stage2(experiment, &units, &|id| dir.result(id))?;
    units.extend(more);
    Ok(units)
}
