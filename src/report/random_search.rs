//! Random search without weight sharing as an arm of RQ1 and RQ2 (docs/experiments.md):
//! its row beside the strategies (`random_standalone`; where every DAG of the space was
//! trained, its best DAG's rank and gap on the seed-mean ground truth), its retrained
//! best against the baselines, and every strategy's retrained best against it, paired
//! by seed.

use super::build::{Comparison, SpaceLabel, StrategyRow};
use super::stats::{describe, paired_t};
use crate::error::Result;
use crate::experiment::file::{Baseline, DatasetEntry, Group, RandomDags, ALL_DAGS_LIMIT};
use crate::experiment::plan::{full_dag, random_dags, random_standalone_spec, search_spec, shape_for, space_size, standalone_spec};
use crate::experiment::unit::{RandomStandaloneResult, UnitResult};
use crate::model::dag::Dag;
use crate::search::SpaceOptions;

/// The arm's name in the report.
pub const ARM: &str = "random_standalone";

/// A group's dataset and space, whose units the arm's rows read.
pub struct ArmSource<'a> {
    /// The group.
    pub group: &'a Group,
    /// The dataset.
    pub data: &'a DatasetEntry,
    /// The space.
    pub space: &'a SpaceOptions,
}

/// A finished unit's result by id.
pub type Lookup<'a> = dyn Fn(&str) -> Option<UnitResult> + 'a;

impl ArmSource<'_> {
    /// The arm's result for `seed`, when finished.
    pub fn outcome(&self, seed: u64, result: &Lookup<'_>) -> Result<Option<RandomStandaloneResult>> {
        let Some(spec) = random_standalone_spec(self.group, self.data, self.space, seed)? else { return Ok(None) };
        Ok(match result(&spec.id()?) {
            Some(UnitResult::RandomStandalone(r)) => Some(r),
            _ => None,
        })
    }

    /// The standalone test accuracy of `dag` with `seed`, when finished.
    fn standalone(&self, dag: &Dag, seed: u64, result: &Lookup<'_>) -> Result<Option<f64>> {
        let spec = standalone_spec(self.group, self.data, shape_for(self.space, dag), dag.clone(), seed)?;
        Ok(match result(&spec.id()?) {
            Some(UnitResult::Standalone(r)) => Some(r.test_accuracy),
            _ => None,
        })
    }
}

/// RQ1's row of the arm on this space (`None` when the group has no such arm).
pub fn rq1_row(src: &ArmSource<'_>, label: &SpaceLabel, result: &Lookup<'_>) -> Result<Option<StrategyRow>> {
    if src.group.random_standalone.is_none() {
        return Ok(None);
    }
    let mut runs = Vec::new();
    for &seed in &src.group.seeds {
        runs.extend(src.outcome(seed, result)?);
    }
    let values = |f: &dyn Fn(&RandomStandaloneResult) -> Option<f64>| describe(&runs.iter().filter_map(f).collect::<Vec<_>>());
    let mut best: Vec<&[(usize, usize)]> = runs.iter().map(|r| r.outcome.best.edges()).collect();
    best.sort();
    best.dedup();
    let (percentiles, gaps) = ground_truth(src, &runs, result)?;
    Ok(Some(StrategyRow {
        space: label.clone(),
        strategy: ARM.to_string(),
        seeds: runs.len(),
        test_accuracy: values(&|r| Some(r.outcome.test_accuracy)),
        search_seconds: values(&|r| Some(r.outcome.search_seconds)),
        samples_per_second: None,
        distinct_best_dags: best.len(),
        kendall_tau_inherited_standalone: None,
        kendall_tau_blocks: 0,
        kendall_tau_null_sd: None,
        rank_percentile: describe(&percentiles),
        gap_to_best: describe(&gaps),
    }))
}

/// Where every DAG of the space has a standalone accuracy for every seed: each run's
/// best DAG's rank percentile (the share of DAGs whose seed-mean accuracy it matches or
/// beats, in percent) and its gap to the best DAG, both on the means over the seeds.
fn ground_truth(src: &ArmSource<'_>, runs: &[RandomStandaloneResult], result: &Lookup<'_>) -> Result<(Vec<f64>, Vec<f64>)> {
    if space_size(src.space)? > ALL_DAGS_LIMIT as f64 {
        return Ok((Vec::new(), Vec::new()));
    }
    let all = random_dags(src.space, &RandomDags::All)?;
    let mut means = Vec::new();
    for dag in &all {
        let accs = src.group.seeds.iter().map(|&s| src.standalone(dag, s, result)).collect::<Result<Option<Vec<f64>>>>()?;
        let Some(accs) = accs else { return Ok((Vec::new(), Vec::new())) };
        means.push(accs.iter().sum::<f64>() / accs.len() as f64);
    }
    let top = means.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let (mut percentiles, mut gaps) = (Vec::new(), Vec::new());
    for r in runs {
        let Some(pos) = all.iter().position(|d| *d == r.outcome.best) else { continue };
        let own = means[pos];
        percentiles.push(100.0 * means.iter().filter(|&&m| m <= own).count() as f64 / means.len() as f64);
        gaps.push(top - own);
    }
    Ok((percentiles, gaps))
}

/// RQ2's comparisons of the arm on this space: its retrained best against the chain,
/// the random DAGs' mean and the full DAG (those the group trains), and each strategy's
/// retrained best against it; each paired by seed, where both sides are finished.
pub fn comparisons(src: &ArmSource<'_>, label: &SpaceLabel, result: &Lookup<'_>) -> Result<Vec<Comparison>> {
    let g = src.group;
    if g.random_standalone.is_none() {
        return Ok(Vec::new());
    }
    let mut arm = Vec::new();
    for &seed in &g.seeds {
        arm.push(src.outcome(seed, result)?.map(|r| r.outcome.test_accuracy));
    }
    let mut out = Vec::new();
    let mut push = |strategy: &str, against: &str, a: &[Option<f64>], b: &[Option<f64>]| {
        let (x, y): (Vec<f64>, Vec<f64>) = a.iter().zip(b).filter_map(|(a, b)| Some(((*a)?, (*b)?))).unzip();
        if !x.is_empty() {
            out.push(Comparison::new(label.clone(), strategy, against, paired_t(&x, &y)));
        }
    };
    for (name, dags) in baselines(src)? {
        let mut accs = Vec::new();
        for &seed in &g.seeds {
            let each = dags.iter().map(|d| src.standalone(d, seed, result)).collect::<Result<Option<Vec<f64>>>>()?;
            accs.push(each.filter(|v| !v.is_empty()).map(|v| v.iter().sum::<f64>() / v.len() as f64));
        }
        push(ARM, name, &arm, &accs);
    }
    for &strategy in &g.strategies {
        let mut found = Vec::new();
        for &seed in &g.seeds {
            found.push(match result(&search_spec(g, src.data, src.space, strategy, seed)?.id()?) {
                Some(UnitResult::Search(r)) => Some(r.summary.best.test_accuracy),
                _ => None,
            });
        }
        push(strategy.name(), ARM, &found, &arm);
    }
    Ok(out)
}

/// The baselines the arm is compared with: each a name and the DAGs whose mean
/// standalone accuracy it is.
fn baselines(src: &ArmSource<'_>) -> Result<Vec<(&'static str, Vec<Dag>)>> {
    let g = src.group;
    let mut out = Vec::new();
    if g.baselines.contains(&Baseline::Chain) {
        out.push(("chain", vec![Dag::chain(src.space.layers)]));
    }
    let randoms = random_dags(src.space, &g.standalone.random_dags)?;
    if !randoms.is_empty() {
        out.push(("random_mean", randoms));
    }
    if g.baselines.contains(&Baseline::Full) {
        out.push(("full", vec![full_dag(src.space)?]));
    }
    Ok(out)
}
