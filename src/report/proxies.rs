//! RQ4's training-free predictors (docs/experiments.md): for a space whose group
//! computes proxies, each DAG's parameters, FLOPs, `nwot`, `synflow` and `jacob_cov`
//! (the proxies averaged over the seeds), rank-correlated with the DAG's standalone test
//! accuracy averaged over the same seeds, beside the DAG metrics. Parameters and FLOPs
//! are the baselines a proxy must beat to be of interest.

use super::build::{metric, predictor_row, DagAccuracy, MetricRow, SpaceDags, SpaceLabel, METRICS};
use super::stats::{spearman_gain, Correlation};
use crate::error::Result;
use crate::experiment::file::{DatasetEntry, Group};
use crate::experiment::plan::{proxies_spec, shape_of};
use crate::experiment::unit::{ProxiesResult, UnitResult};
use crate::model::dag::Dag;
use crate::model::proxies::PROXY_NAMES;
use crate::search::SpaceOptions;

/// The predictors, in the report's order: the two baselines, then the proxies.
pub const PREDICTORS: [&str; 5] = ["params", "flops", PROXY_NAMES[0], PROXY_NAMES[1], PROXY_NAMES[2]];

/// Where a space's proxies come from: its group, dataset and space.
pub struct ProxySource<'a> {
    /// The group (its seeds and `standalone.proxies`).
    pub group: &'a Group,
    /// The dataset.
    pub data: &'a DatasetEntry,
    /// The space.
    pub space: &'a SpaceOptions,
}

/// A predictor's value for one DAG: the mean over `runs` (the DAG's proxies units, one
/// per seed); `None` when a seed's score is missing.
pub fn predictor(runs: &[&ProxiesResult], name: &str) -> Option<f64> {
    let values: Option<Vec<f64>> = runs
        .iter()
        .map(|r| match name {
            "params" => Some(r.params as f64),
            "flops" => Some(r.flops as f64),
            proxy => r.scores.get(proxy),
        })
        .collect();
    let values = values.filter(|v| !v.is_empty())?;
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// The DAGs of `dags` that have a proxies unit for every seed of the group: each one's
/// metrics, accuracy and proxies results (none when the group computes no proxies).
fn proxied_dags<'d>(
    src: &ProxySource<'_>,
    dags: &'d SpaceDags,
    result: &dyn Fn(&str) -> Option<UnitResult>,
) -> Result<Vec<(&'d DagAccuracy, Vec<ProxiesResult>)>> {
    let mut per_dag = Vec::new();
    if !src.group.standalone.proxies {
        return Ok(per_dag);
    }
    for d in &dags.dags {
        let dag = Dag::new(src.space.layers, d.edges.clone())?;
        let mut runs = Vec::new();
        for &seed in &src.group.seeds {
            let id = proxies_spec(src.group, src.data, shape_of(src.space), dag.clone(), seed)?.id()?;
            if let Some(UnitResult::Proxies(p)) = result(&id) {
                runs.push(p);
            }
        }
        if runs.len() == src.group.seeds.len() {
            per_dag.push((d, runs));
        }
    }
    Ok(per_dag)
}

/// Each DAG metric's gain over the parameter count ([`spearman_gain`]: |rho| of the
/// metric minus |rho| of `params` against the seed-mean accuracy, on the same
/// resamples), over the DAGs with proxies units (which carry the parameter count); empty
/// when the group computes no proxies.
pub fn metric_gains(
    src: &ProxySource<'_>,
    dags: &SpaceDags,
    result: &dyn Fn(&str) -> Option<UnitResult>,
    salt: u64,
) -> Result<Vec<(&'static str, Correlation)>> {
    let per_dag = proxied_dags(src, dags, result)?;
    if per_dag.len() < 3 {
        return Ok(Vec::new());
    }
    let acc: Vec<f64> = per_dag.iter().map(|(d, _)| d.test_accuracy).collect();
    let params: Option<Vec<f64>> = per_dag.iter().map(|(_, runs)| predictor(&runs.iter().collect::<Vec<_>>(), "params")).collect();
    let Some(params) = params else { return Ok(Vec::new()) };
    Ok(METRICS
        .iter()
        .enumerate()
        .map(|(i, &name)| {
            let x: Vec<f64> = per_dag.iter().map(|(d, _)| metric(&d.metrics, name)).collect();
            (name, spearman_gain(&x, &params, &acc, 1000 * salt + 300 + i as u64))
        })
        .collect())
}

/// RQ4's rows of the predictors for the DAGs of `dags` (those with a proxies unit for
/// every seed), or none when the group computes no proxies. `result(id)` gives a
/// finished unit's result; `salt` seeds the bootstrap.
pub fn rq4_rows(
    src: &ProxySource<'_>,
    label: &SpaceLabel,
    dags: &SpaceDags,
    result: &dyn Fn(&str) -> Option<UnitResult>,
    salt: u64,
) -> Result<Vec<MetricRow>> {
    let per_dag: Vec<(f64, Vec<ProxiesResult>)> =
        proxied_dags(src, dags, result)?.into_iter().map(|(d, runs)| (d.test_accuracy, runs)).collect();
    let mut rows = Vec::new();
    for (i, name) in PREDICTORS.iter().enumerate() {
        // The DAGs with this predictor, with their accuracy and parameter count.
        let (mut x, mut acc, mut params) = (Vec::new(), Vec::new(), Vec::new());
        for (a, runs) in &per_dag {
            let refs: Vec<&ProxiesResult> = runs.iter().collect();
            if let (Some(v), Some(p)) = (predictor(&refs, name), predictor(&refs, "params")) {
                x.push(v);
                acc.push(*a);
                params.push(p);
            }
        }
        if x.len() < 3 {
            continue;
        }
        let seed = 1000 * salt + 100 + i as u64;
        let mut row = predictor_row(label, name, &x, &acc, seed);
        if PROXY_NAMES.contains(name) {
            row.gain_over_params = Some(spearman_gain(&x, &params, &acc, seed + 750));
        }
        rows.push(row);
    }
    Ok(rows)
}
