//! Building a report (docs/experiments.md) from an experiment folder's finished units:
//! per dataset, the tables of research questions 1 to 4, and across datasets that of
//! question 5. Everything is recomputed from the experiment and the unit results, in a
//! fixed order, so a rerun of the same experiment gives the same report (apart from
//! its timing and memory figures).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::answers;
use super::contrasts::{rq1_tests, rq3_tests, SeedResults};
use super::resolution::{disattenuated, resolution, Resolution};
use super::rq6::{self, Rq6Row, Rq6Test};
use super::stats::{
    benjamini_hochberg, bootstrap, describe, holm, kendall, kendall_null_sd, paired_t, permutation_p, rank_key, spearman,
    Correlation, Described, Paired,
};
use super::verdict::{tost, verdict, Tost, Verdict, ALPHA};
use crate::error::Result;
use crate::experiment::file::{Baseline, DatasetEntry, Experiment, Group, RandomDags, ReportOptions};
use crate::experiment::plan::{
    full_dag, known_units_of, random_dags, search_spec, shape_for, space_size, standalone_spec, top_blocks,
};
use crate::experiment::unit::{NetworkShape, SearchResult, StandaloneResult, UnitResult};
use crate::experiment::ExperimentDir;
use crate::model::dag::{Dag, DagMetrics};
use crate::search::strategy::StrategyKind;
use crate::search::SpaceOptions;

/// The DAG metrics the report correlates with accuracy, by name.
pub const METRICS: [&str; 9] = crate::model::dag::METRIC_NAMES;

/// A metric's value by name.
pub fn metric(m: &DagMetrics, name: &str) -> f64 {
    m.get(name)
}

/// A space as the report names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpaceLabel {
    /// The group's name (or its index).
    pub group: String,
    /// `L`.
    pub layers: usize,
    /// `D`.
    pub width: usize,
    /// `k`.
    pub blocks: usize,
    /// Allowed edges `|A|`.
    pub allowed_edges: usize,
    /// log2 of the number of DAGs.
    pub log2_dags: f64,
    /// The longest skip `S` (`L - 1` when the space does not restrict it).
    #[serde(default)]
    pub max_skip: usize,
    /// A typed space's ops, maps and stem (for example `ops dense,conv3x3 maps
    /// 16x7x7 conv stem`); absent in untyped spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typed: Option<String>,
}

impl SpaceLabel {
    /// True when `self` and `other` differ at most in their group.
    pub fn same_space(&self, other: &SpaceLabel) -> bool {
        SpaceLabel { group: String::new(), ..self.clone() } == SpaceLabel { group: String::new(), ..other.clone() }
    }
}

/// True when `s` has ops on edges or a convolutional stem.
fn is_typed(s: &SpaceOptions) -> bool {
    !crate::model::space::is_dense_only(&s.ops) || s.stem != crate::model::ops::Stem::Dense
}

fn typed_label(s: &SpaceOptions) -> Option<String> {
    is_typed(s).then(|| {
        let ops: Vec<&str> = s.ops.iter().map(|o| o.name()).collect();
        let mut t = format!("ops {}", ops.join(","));
        if let Some([c, h, w]) = s.shape {
            t += &format!(" maps {c}x{h}x{w}");
        }
        if s.stem == crate::model::ops::Stem::Conv {
            t += " conv stem";
        }
        t
    })
}

/// RQ1: one strategy on one space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrategyRow {
    /// The space.
    pub space: SpaceLabel,
    /// The strategy.
    pub strategy: String,
    /// Seeds with a finished search.
    pub seeds: usize,
    /// Retrained test accuracy of the best DAG.
    pub test_accuracy: Option<Described>,
    /// Seconds of search.
    pub search_seconds: Option<Described>,
    /// Samples through weight and architecture steps per second.
    pub samples_per_second: Option<Described>,
    /// Distinct best DAGs over the seeds.
    pub distinct_best_dags: usize,
    /// Kendall tau between inherited (validation) and standalone (test) accuracy of the
    /// last phase's blocks trained alone (all `k` when `standalone.last_blocks` is `k`),
    /// over seeds.
    pub kendall_tau_inherited_standalone: Option<Described>,
    /// The blocks that tau ranks (the fewest over the seeds).
    #[serde(default)]
    pub kendall_tau_blocks: usize,
    /// Kendall tau's standard deviation under independence at that many blocks.
    #[serde(default)]
    pub kendall_tau_null_sd: Option<f64>,
    /// Where the whole space was trained: the found DAG's rank percentile among all
    /// DAGs by their mean over the ground truth's seeds (100: the best) and its gap to
    /// the best DAG's mean, over the searches' seeds.
    pub rank_percentile: Option<Described>,
    /// See `rank_percentile`.
    pub gap_to_best: Option<Described>,
}

/// RQ1 against compute: a strategy's best inherited validation accuracy so far at the
/// end of each phase against the seconds spent, averaged over seeds phase by phase,
/// and its retrained test accuracy as the last point (at search plus retraining
/// seconds). The test split never chooses: it is only the last point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComputeCurve {
    /// The space.
    pub space: SpaceLabel,
    /// The strategy (or arm).
    pub strategy: String,
    /// Seconds of search at each phase's end (mean over the seeds that reached it).
    pub phase_end_seconds: Vec<f64>,
    /// Best inherited validation accuracy so far at each phase's end (mean over the
    /// same seeds).
    pub best_val_accuracy: Vec<f64>,
    /// Search and retraining seconds (mean over seeds): where the last point lies.
    pub retrained_at_seconds: Option<f64>,
    /// Retrained test accuracy (mean over seeds).
    pub retrained_test_accuracy: Option<f64>,
}

/// The compute curve of a strategy's searches `runs` on `space`.
pub fn compute_curve(space: &SpaceLabel, strategy: &str, runs: &[&SearchResult]) -> ComputeCurve {
    let phases = runs.iter().map(|x| x.summary.phases.len().min(x.summary.timing.phase_end_seconds.len())).max().unwrap_or(0);
    let (mut seconds, mut accuracy) = (Vec::new(), Vec::new());
    for i in 0..phases {
        let at: Vec<(f64, f64)> = runs
            .iter()
            .filter(|x| x.summary.phases.len() > i && x.summary.timing.phase_end_seconds.len() > i)
            .map(|x| {
                let best = x.summary.phases[..=i].iter().map(|p| p.best_val_accuracy).fold(f64::NEG_INFINITY, f64::max);
                (x.summary.timing.phase_end_seconds[i], best)
            })
            .collect();
        seconds.push(at.iter().map(|p| p.0).sum::<f64>() / at.len() as f64);
        accuracy.push(at.iter().map(|p| p.1).sum::<f64>() / at.len() as f64);
    }
    let retrained: Vec<&&SearchResult> = runs.iter().filter(|x| x.summary.best.retrained).collect();
    let mean = |f: &dyn Fn(&SearchResult) -> f64| (!retrained.is_empty()).then(|| retrained.iter().map(|x| f(x)).sum::<f64>() / retrained.len() as f64);
    ComputeCurve {
        space: space.clone(),
        strategy: strategy.to_string(),
        phase_end_seconds: seconds,
        best_val_accuracy: accuracy,
        retrained_at_seconds: mean(&|x| x.summary.timing.search_seconds + x.summary.timing.retrain_seconds),
        retrained_test_accuracy: mean(&|x| x.summary.best.test_accuracy),
    }
}

/// RQ2: a search's best against a baseline, paired by seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The space.
    pub space: SpaceLabel,
    /// The strategy.
    pub strategy: String,
    /// `chain`, `chain_matched`, `random_mean`, `full` or `random_standalone`.
    pub against: String,
    /// The paired test of best minus baseline test accuracy (`p_holm`: within the
    /// dataset's primary comparisons).
    pub test: Paired,
    /// Whether the experiment names it a primary comparison (else exploratory, judged
    /// at the uncorrected 5% level).
    #[serde(default)]
    pub primary: bool,
    /// TOST at the experiment's margin (uncorrected).
    #[serde(default)]
    pub tost: Option<Tost>,
    /// The verdict.
    #[serde(default = "cant_tell")]
    pub verdict: Verdict,
}

fn cant_tell() -> Verdict {
    Verdict::CantTell
}

impl Comparison {
    /// A comparison of `strategy`'s found networks against `against` on `space`
    /// (primary or not and the verdict are set with the others of its dataset by
    /// [`judge`]).
    pub fn new(space: SpaceLabel, strategy: &str, against: &str, test: Paired) -> Comparison {
        Comparison { space, strategy: strategy.into(), against: against.into(), test, primary: false, tost: None, verdict: Verdict::CantTell }
    }
}

/// Sets primary (the experiment's RQ2 family), Holm's p, seeds needed, TOST and the
/// verdict of each of a dataset's RQ2 comparisons; returns the level the family's
/// verdicts use (5% over its size, Bonferroni's bound for Holm's strictest step).
pub fn judge(rq2: &mut [Comparison], options: &ReportOptions) -> f64 {
    judge_family(rq2, &|c| options.primary.rq2.contains(&c.against), options.margin_points / 100.0)
}

/// Sets primary (where `primary` says so), Holm's p (within the primary ones), seeds
/// needed, TOST at `margin` (accuracy) and the verdict of each comparison; returns the
/// level the primary family's verdicts use.
pub fn judge_family(cs: &mut [Comparison], primary: &dyn Fn(&Comparison) -> bool, margin: f64) -> f64 {
    for c in cs.iter_mut() {
        c.primary = primary(c);
    }
    let p: Vec<Option<f64>> = cs.iter().map(|c| if c.primary { c.test.p } else { None }).collect();
    let corrected = holm(&p);
    let family = cs.iter().filter(|c| c.primary && c.test.p.is_some()).count().max(1);
    let level = ALPHA / family as f64;
    for (c, p_holm) in cs.iter_mut().zip(corrected) {
        c.test.p_holm = p_holm;
        let p_family = if c.primary { p_holm } else { c.test.p };
        c.test.seeds_needed_at(if c.primary { level } else { ALPHA });
        c.tost = tost(&c.test, margin);
        c.verdict = verdict(&c.test, p_family, margin);
    }
    level
}

/// RQ3: accuracy against the space's size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SizeRow {
    /// The space.
    pub space: SpaceLabel,
    /// The strategy.
    pub strategy: String,
    /// Retrained test accuracy of the best DAG.
    pub test_accuracy: Option<Described>,
}

/// RQ4: one metric against standalone accuracy on one space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    /// The space.
    pub space: SpaceLabel,
    /// The metric (or predictor).
    pub metric: String,
    /// Spearman rho with its bootstrap interval.
    pub spearman_rho: Correlation,
    /// Kendall tau with its bootstrap interval.
    pub kendall_tau: Correlation,
    /// The permutation p-value of Spearman's rho.
    #[serde(default)]
    pub permutation_p: Option<f64>,
    /// Benjamini-Hochberg's q-value among the rows of the same space and dataset.
    #[serde(default)]
    pub q_bh: Option<f64>,
    /// A training-free proxy's or a DAG metric's gain over the parameter count: |rho|
    /// of it minus |rho| of `params`, over the same DAGs (those with proxies units) and
    /// bootstrap resamples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain_over_params: Option<Correlation>,
}

/// RQ4's row of a named per-DAG predictor: `values[i]` of DAG `i` against its
/// accuracy `accuracy[i]` (the ground truth's mean over seeds), with bootstrap
/// intervals and a permutation p-value seeded by `seed`. [`correct_rq4`] sets `q_bh`
/// once all rows of the dataset are in.
pub fn predictor_row(space: &SpaceLabel, name: &str, values: &[f64], accuracy: &[f64], seed: u64) -> MetricRow {
    MetricRow {
        space: space.clone(),
        metric: name.to_string(),
        spearman_rho: bootstrap(values, accuracy, spearman, seed),
        kendall_tau: bootstrap(values, accuracy, kendall, seed + 500),
        permutation_p: permutation_p(values, accuracy, seed + 250),
        q_bh: None,
        gain_over_params: None,
    }
}

/// Benjamini-Hochberg over the permutation p-values of each space's rows of RQ4 (the
/// metrics and any predictors added beside them).
pub fn correct_rq4(rows: &mut [MetricRow]) {
    let mut spaces: Vec<SpaceLabel> = Vec::new();
    for r in rows.iter() {
        if !spaces.contains(&r.space) {
            spaces.push(r.space.clone());
        }
    }
    for space in spaces {
        let idx: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].space == space).collect();
        let q = benjamini_hochberg(&idx.iter().map(|&i| rows[i].permutation_p).collect::<Vec<_>>());
        for (&i, q) in idx.iter().zip(q) {
            rows[i].q_bh = q;
        }
    }
}

/// What one dataset's units say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetReport {
    /// A short name.
    pub dataset: String,
    /// The spec.
    pub data: String,
    /// The training subsample.
    pub train_subsample: Option<usize>,
    /// RQ1.
    pub rq1: Vec<StrategyRow>,
    /// RQ1: each strategy against random sampling with weight sharing on its space,
    /// paired by seed (one Holm family).
    #[serde(default)]
    pub rq1_tests: Vec<Comparison>,
    /// RQ1's answer.
    #[serde(default)]
    pub rq1_answer: String,
    /// RQ1 against compute, per strategy and space.
    #[serde(default)]
    pub rq1_compute: Vec<ComputeCurve>,
    /// The resolution of each space whose DAGs were trained with at least two seeds.
    #[serde(default)]
    pub resolution: Vec<SpaceResolution>,
    /// The two-sided level the verdicts of RQ2's primary family use.
    #[serde(default)]
    pub family_alpha: f64,
    /// RQ2: the comparisons (the primary ones Holm-corrected together) and the answer.
    pub rq2: Vec<Comparison>,
    /// RQ2's answer.
    pub rq2_answer: String,
    /// RQ3.
    pub rq3: Vec<SizeRow>,
    /// RQ3: each space against the largest its strategy searched at its width, paired
    /// by seed (one Holm family).
    #[serde(default)]
    pub rq3_tests: Vec<Comparison>,
    /// RQ3's answer.
    #[serde(default)]
    pub rq3_answer: String,
    /// RQ4.
    pub rq4: Vec<MetricRow>,
    /// The standalone DAGs per space (for RQ4's and RQ5's plots): DAG, metrics, mean
    /// test accuracy over seeds.
    pub standalone: Vec<SpaceDags>,
    /// RQ6: the searches of groups with a typed space.
    #[serde(default)]
    pub rq6: Vec<Rq6Row>,
    /// RQ6's paired tests.
    #[serde(default)]
    pub rq6_tests: Vec<Rq6Test>,
}

/// A space's resolution on one dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpaceResolution {
    /// The space.
    pub space: SpaceLabel,
    /// Its figures.
    pub resolution: Resolution,
}

/// A space's standalone DAGs on one dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpaceDags {
    /// The space.
    pub space: SpaceLabel,
    /// The DAGs in the plan's order, with their metrics and mean test accuracy.
    pub dags: Vec<DagAccuracy>,
}

/// A DAG's mean standalone accuracy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DagAccuracy {
    /// Its edges.
    pub edges: Vec<(usize, usize)>,
    /// Its metrics.
    pub metrics: DagMetrics,
    /// Mean test accuracy over the seeds.
    pub test_accuracy: f64,
    /// Test accuracy per seed, in the group's seed order.
    #[serde(default)]
    pub seed_accuracies: Vec<f64>,
}

/// RQ5: the same random DAGs ranked on two datasets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrossDataset {
    /// The space.
    pub space: SpaceLabel,
    /// The two datasets.
    pub datasets: [String; 2],
    /// Spearman rho of the DAGs' mean accuracies.
    pub spearman_rho: Correlation,
    /// Kendall tau of the same.
    pub kendall_tau: Correlation,
    /// Each dataset's reliability of the DAGs' seed mean (ICC(1,k)), where known.
    #[serde(default)]
    pub reliability: [Option<f64>; 2],
    /// Spearman's rho corrected for both reliabilities (capped at 1; only where both
    /// are positive).
    #[serde(default)]
    pub spearman_rho_corrected: Option<f64>,
}

/// The units' state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitCounts {
    /// Units known.
    pub total: usize,
    /// Finished.
    pub finished: usize,
    /// Failed (and not finished since).
    pub failed: usize,
}

/// One group's units: complete when every unit known now is finished.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupCounts {
    /// The group's name (or its index).
    pub group: String,
    /// Its units (shared ones counted in every group that has them).
    pub units: UnitCounts,
}

/// `report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The experiment's name.
    pub experiment: String,
    /// The densenas version.
    pub densenas_version: String,
    /// The units.
    pub units: UnitCounts,
    /// Per group: whether it is complete.
    #[serde(default)]
    pub groups: Vec<GroupCounts>,
    /// Per dataset.
    pub datasets: Vec<DatasetReport>,
    /// RQ5.
    pub rq5: Vec<CrossDataset>,
}

/// Finished results by unit id.
struct Results {
    map: HashMap<String, UnitResult>,
}

impl Results {
    fn search(&self, id: &str) -> Option<&SearchResult> {
        match self.map.get(id) {
            Some(UnitResult::Search(r)) => Some(r),
            _ => None,
        }
    }
    fn standalone(&self, id: &str) -> Option<&StandaloneResult> {
        match self.map.get(id) {
            Some(UnitResult::Standalone(r)) => Some(r),
            _ => None,
        }
    }
}

/// One group's dataset, space and its searches' results per strategy and seed.
struct Cell<'a> {
    group: &'a Group,
    data: &'a DatasetEntry,
    space: &'a SpaceOptions,
    label: SpaceLabel,
}

impl Cell<'_> {
    fn search(&self, r: &Results, strategy: StrategyKind, seed: u64) -> Option<SearchResult> {
        let id = search_spec(self.group, self.data, self.space, strategy, seed).ok()?.id().ok()?;
        r.search(&id).cloned()
    }
    fn standalone(&self, r: &Results, shape: NetworkShape, dag: &Dag, seed: u64) -> Option<f64> {
        let id = standalone_spec(self.group, self.data, shape, dag.clone(), seed).ok()?.id().ok()?;
        r.standalone(&id).map(|s| s.test_accuracy)
    }
    fn standalone_same(&self, r: &Results, dag: &Dag, seed: u64) -> Option<f64> {
        self.standalone(r, shape_for(self.space, dag), dag, seed)
    }
}

fn group_name(g: &Group, i: usize) -> String {
    g.name.clone().unwrap_or_else(|| format!("group {}", i + 1))
}

fn space_label(g: &Group, gi: usize, s: &SpaceOptions) -> Result<SpaceLabel> {
    let size = space_size(s)?;
    let allowed = {
        let mut c = crate::model::space::SpaceConfig::new(1, 2, s.layers, 1);
        c.max_skip = s.max_skip;
        crate::model::space::Space::new(c)?.num_edges()
    };
    Ok(SpaceLabel {
        group: group_name(g, gi),
        layers: s.layers,
        width: s.width,
        blocks: s.blocks,
        allowed_edges: allowed,
        log2_dags: size.log2(),
        max_skip: s.max_skip.unwrap_or(s.layers.saturating_sub(1)).min(s.layers.saturating_sub(1)),
        typed: typed_label(s),
    })
}

/// The dataset's short name.
pub fn dataset_label(d: &DatasetEntry) -> String {
    let (kind, rest) = d.data.split_once(':').unwrap_or((d.data.as_str(), ""));
    let file = rest.split(',').next().unwrap_or("").trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let mut name = file;
    for ext in [".gz", ".tgz", ".tar", ".bin", ".csv"] {
        name = name.strip_suffix(ext).unwrap_or(name);
    }
    let base = if name.is_empty() { kind.to_string() } else { format!("{kind}:{name}") };
    match d.train_subsample {
        Some(n) => format!("{base} (n={n})"),
        None => base,
    }
}

/// Builds the report of the experiment in `dir`.
pub fn build(experiment: &Experiment, dir: &ExperimentDir) -> Result<Report> {
    experiment.report.check()?;
    let units = known_units_of(experiment, dir)?;
    let mut map = HashMap::new();
    let mut failed = 0;
    for u in &units {
        match dir.result(&u.id) {
            Some(r) => {
                map.insert(u.id.clone(), r);
            }
            None if dir.error(&u.id).is_some() => failed += 1,
            None => {}
        }
    }
    let results = Results { map };
    let counts = UnitCounts { total: units.len(), finished: results.map.len(), failed };
    // The datasets in order of first appearance.
    let mut datasets: Vec<DatasetEntry> = Vec::new();
    for g in &experiment.groups {
        for d in &g.datasets {
            if !datasets.contains(d) {
                datasets.push(d.clone());
            }
        }
    }
    let mut reports = Vec::new();
    for d in &datasets {
        reports.push(dataset_report(experiment, d, &results)?);
    }
    let rq5 = cross_dataset(&reports);
    Ok(Report {
        experiment: experiment.name.clone(),
        densenas_version: crate::VERSION.to_string(),
        units: counts,
        groups: group_counts(experiment, dir, &results)?,
        datasets: reports,
        rq5,
    })
}

/// Each group's units, finished and failed.
fn group_counts(experiment: &Experiment, dir: &ExperimentDir, results: &Results) -> Result<Vec<GroupCounts>> {
    let mut out = Vec::new();
    for (gi, g) in experiment.groups.iter().enumerate() {
        let alone = Experiment { name: experiment.name.clone(), groups: vec![g.clone()], report: experiment.report.clone() };
        let units = known_units_of(&alone, dir)?;
        let finished = units.iter().filter(|u| results.map.contains_key(&u.id)).count();
        let failed = units.iter().filter(|u| !results.map.contains_key(&u.id) && dir.error(&u.id).is_some()).count();
        out.push(GroupCounts { group: group_name(g, gi), units: UnitCounts { total: units.len(), finished, failed } });
    }
    Ok(out)
}

fn cells<'a>(experiment: &'a Experiment, d: &DatasetEntry) -> Result<Vec<Cell<'a>>> {
    let mut out = Vec::new();
    for (gi, g) in experiment.groups.iter().enumerate() {
        let Some(data) = g.datasets.iter().find(|x| *x == d) else { continue };
        for space in &g.spaces {
            out.push(Cell { group: g, data, space, label: space_label(g, gi, space)? });
        }
    }
    Ok(out)
}

fn dataset_report(experiment: &Experiment, d: &DatasetEntry, r: &Results) -> Result<DatasetReport> {
    let cells = cells(experiment, d)?;
    let (mut rq1, mut rq2, mut rq3, mut rq4, mut standalone) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut rq1_compute = Vec::new();
    let mut rq6 = Vec::new();
    let mut seed_results = Vec::new();
    // Groups may share searches (the same units): each is reported once, under the
    // first group that has it; a comparison is kept once per baseline.
    let mut seen_searches = std::collections::HashSet::new();
    let mut seen_comparisons = std::collections::HashSet::new();
    for (ci, cell) in cells.iter().enumerate() {
        let dags = standalone_dags(cell, r)?;
        for &strategy in &cell.group.strategies {
            let ids = cell.group.seeds.iter().map(|&s| search_spec(cell.group, cell.data, cell.space, strategy, s)?.id()).collect::<Result<Vec<_>>>()?;
            let first = seen_searches.insert(ids.clone());
            if cell.group.spaces.iter().any(is_typed) {
                let runs: Vec<(u64, SearchResult)> =
                    cell.group.seeds.iter().filter_map(|&s| cell.search(r, strategy, s).map(|x| (s, x))).collect();
                rq6.push(rq6::row(cell.label.clone(), is_typed(cell.space), strategy.name(), &runs));
            }
            if first {
                let runs: Vec<SearchResult> = cell.group.seeds.iter().filter_map(|&s| cell.search(r, strategy, s)).collect();
                if !runs.is_empty() {
                    rq1_compute.push(compute_curve(&cell.label, strategy.name(), &runs.iter().collect::<Vec<_>>()));
                }
                let row = strategy_row(cell, strategy, r)?;
                seed_results.push(SeedResults {
                    space: cell.label.clone(),
                    strategy: strategy.name().to_string(),
                    test_accuracy: cell.group.seeds.iter().filter_map(|&s| cell.search(r, strategy, s).map(|x| (s, x.summary.best.test_accuracy))).collect(),
                });
                rq3.push(SizeRow { space: cell.label.clone(), strategy: row.strategy.clone(), test_accuracy: row.test_accuracy.clone() });
                rq1.push(row);
            }
            for c in comparisons(cell, strategy, r)? {
                let key = (ids.clone(), c.against.clone(), serde_json::to_string(&c.test).unwrap_or_default());
                if seen_comparisons.insert(key) {
                    rq2.push(c);
                }
            }
        }
        let lookup = |id: &str| r.map.get(id).cloned();
        let arm = super::random_search::ArmSource { group: cell.group, data: cell.data, space: cell.space };
        rq1.extend(super::random_search::rq1_row(&arm, &cell.label, &lookup)?);
        rq2.extend(super::random_search::comparisons(&arm, &cell.label, &lookup)?);
        if dags.dags.len() >= 3 {
            let src = super::proxies::ProxySource { group: cell.group, data: cell.data, space: cell.space };
            let mut rows = metric_rows(cell, &dags, ci as u64);
            for (name, gain) in super::proxies::metric_gains(&src, &dags, &lookup, ci as u64)? {
                if let Some(row) = rows.iter_mut().find(|m| m.metric == name) {
                    row.gain_over_params = Some(gain);
                }
            }
            rq4.extend(rows);
            rq4.extend(super::proxies::rq4_rows(&src, &cell.label, &dags, &lookup, ci as u64)?);
        }
        if !dags.dags.is_empty() {
            standalone.push(dags);
        }
    }
    let family_alpha = judge(&mut rq2, &experiment.report);
    let resolution: Vec<SpaceResolution> = standalone
        .iter()
        .filter_map(|sd: &SpaceDags| {
            let table: Vec<Vec<f64>> = sd.dags.iter().map(|d| d.seed_accuracies.clone()).collect();
            resolution(&table, family_alpha).map(|r| SpaceResolution { space: sd.space.clone(), resolution: r })
        })
        .collect();
    correct_rq4(&mut rq4);
    // Per strategy, the spaces of one depth together (a depth's longest skips in order).
    rq3.sort_by(|a, b| {
        a.strategy.cmp(&b.strategy).then(a.space.layers.cmp(&b.space.layers)).then(a.space.allowed_edges.cmp(&b.space.allowed_edges))
    });
    let label = dataset_label(d);
    let margin = experiment.report.margin_points / 100.0;
    let (rq1_tests, rq3_tests) = (rq1_tests(&seed_results, margin), rq3_tests(&seed_results, margin));
    let rq1_answer = answers::rq1_answer(&label, &rq1, &rq1_tests, &resolution);
    let rq3_answer = answers::rq3_answer(&label, &rq3_tests);
    let rq2_answer = answers::rq2_answer(&label, &rq2, &resolution);
    Ok(DatasetReport {
        dataset: label,
        data: d.data.clone(),
        train_subsample: d.train_subsample,
        resolution,
        family_alpha,
        rq1,
        rq1_tests,
        rq1_answer,
        rq1_compute,
        rq2,
        rq2_answer,
        rq3,
        rq3_tests,
        rq3_answer,
        rq4,
        standalone,
        rq6_tests: rq6::tests(&rq6, experiment.report.margin_points / 100.0),
        rq6,
    })
}

/// The space's random (or all) DAGs with their mean standalone accuracy over the
/// seeds that have one for every DAG.
fn standalone_dags(cell: &Cell<'_>, r: &Results) -> Result<SpaceDags> {
    let mut dags = Vec::new();
    for dag in random_dags(cell.space, &cell.group.standalone.random_dags)? {
        let accs: Vec<f64> = cell.group.seeds.iter().filter_map(|&s| cell.standalone_same(r, &dag, s)).collect();
        if accs.len() == cell.group.seeds.len() {
            let mean = accs.iter().sum::<f64>() / accs.len() as f64;
            dags.push(DagAccuracy { edges: dag.edges().to_vec(), metrics: dag.metrics(), test_accuracy: mean, seed_accuracies: accs });
        }
    }
    Ok(SpaceDags { space: cell.label.clone(), dags })
}

fn strategy_row(cell: &Cell<'_>, strategy: StrategyKind, r: &Results) -> Result<StrategyRow> {
    let runs: Vec<(u64, SearchResult)> =
        cell.group.seeds.iter().filter_map(|&s| cell.search(r, strategy, s).map(|x| (s, x))).collect();
    let values = |f: &dyn Fn(&SearchResult) -> Option<f64>| describe(&runs.iter().filter_map(|(_, x)| f(x)).collect::<Vec<_>>());
    let mut best: Vec<&Vec<(usize, usize)>> = runs.iter().map(|(_, x)| &x.summary.best.edges).collect();
    best.sort();
    best.dedup();
    let mut blocks = usize::MAX;
    let taus: Vec<f64> = runs
        .iter()
        .filter_map(|(seed, x)| {
            let top = top_blocks(x, cell.group.standalone.last_blocks);
            let pairs: Vec<(f64, f64)> =
                top.iter().filter_map(|b| cell.standalone_same(r, &b.dag, *seed).map(|s| (b.val_accuracy, s))).collect();
            (pairs.len() == top.len() && pairs.len() >= 2).then(|| {
                blocks = blocks.min(pairs.len());
                let (a, b): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
                kendall(&a, &b)
            })?
        })
        .collect();
    let blocks = if taus.is_empty() { 0 } else { blocks };
    let (percentiles, gaps) = ground_truth(cell, r, &runs)?;
    Ok(StrategyRow {
        space: cell.label.clone(),
        strategy: strategy.name().to_string(),
        seeds: runs.len(),
        test_accuracy: values(&|x| Some(x.summary.best.test_accuracy)),
        search_seconds: values(&|x| Some(x.summary.timing.search_seconds)),
        samples_per_second: values(&|x| Some(x.summary.timing.samples_per_second)),
        distinct_best_dags: best.len(),
        kendall_tau_inherited_standalone: describe(&taus),
        kendall_tau_blocks: blocks,
        kendall_tau_null_sd: kendall_null_sd(blocks),
        rank_percentile: describe(&percentiles),
        gap_to_best: describe(&gaps),
    })
}

/// Where every DAG of the space has a standalone accuracy for every seed of the group
/// (the ground truth): per search seed, the found DAG's rank percentile (the share of
/// DAGs its mean over the ground truth's seeds matches or beats, compared after
/// rounding to [`super::stats::RANK_DIGITS`] digits, in percent) and its gap to the
/// best DAG's mean.
fn ground_truth(cell: &Cell<'_>, r: &Results, runs: &[(u64, SearchResult)]) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut percentiles, mut gaps) = (Vec::new(), Vec::new());
    if space_size(cell.space)? > crate::experiment::file::ALL_DAGS_LIMIT as f64 {
        return Ok((percentiles, gaps));
    }
    let all = random_dags(cell.space, &RandomDags::All)?;
    let means: Option<Vec<f64>> = all
        .iter()
        .map(|d| {
            let accs: Option<Vec<f64>> = cell.group.seeds.iter().map(|&s| cell.standalone_same(r, d, s)).collect();
            accs.map(|a| a.iter().sum::<f64>() / a.len() as f64)
        })
        .collect();
    let Some(means) = means else { return Ok((percentiles, gaps)) };
    let best = means.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    for (_, x) in runs {
        let found = Dag::new(cell.space.layers, x.summary.best.edges.clone())?;
        let Some(pos) = all.iter().position(|d| *d == found) else { continue };
        let own = rank_key(means[pos]);
        percentiles.push(100.0 * means.iter().filter(|&&a| rank_key(a) <= own).count() as f64 / means.len() as f64);
        gaps.push(best - means[pos]);
    }
    Ok((percentiles, gaps))
}

/// RQ2's comparisons of one strategy on one space, those whose baseline exists.
fn comparisons(cell: &Cell<'_>, strategy: StrategyKind, r: &Results) -> Result<Vec<Comparison>> {
    let g = cell.group;
    let mut against: Vec<(&str, Box<dyn Fn(u64, &SearchResult) -> Option<f64> + '_>)> = Vec::new();
    if g.baselines.contains(&Baseline::Chain) {
        let chain = Dag::chain(cell.space.layers);
        against.push(("chain", Box::new(move |s, _| cell.standalone_same(r, &chain, s))));
    }
    if g.baselines.contains(&Baseline::ChainMatched) {
        against.push((
            "chain_matched",
            Box::new(move |s, x| {
                let specs = crate::experiment::plan::stage2_of(g, cell.data, cell.space, s, x).ok()?;
                let id = specs.first()?.id().ok()?;
                r.standalone(&id).map(|u| u.test_accuracy)
            }),
        ));
    }
    let randoms = random_dags(cell.space, &g.standalone.random_dags)?;
    if !randoms.is_empty() {
        against.push((
            "random_mean",
            Box::new(move |s, _| {
                let accs: Option<Vec<f64>> = randoms.iter().map(|d| cell.standalone_same(r, d, s)).collect();
                accs.map(|a| a.iter().sum::<f64>() / a.len() as f64)
            }),
        ));
    }
    if g.baselines.contains(&Baseline::Full) {
        let full = full_dag(cell.space)?;
        against.push(("full", Box::new(move |s, _| cell.standalone_same(r, &full, s))));
    }
    let mut out = Vec::new();
    for (name, baseline) in against {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for &seed in &g.seeds {
            let Some(x) = cell.search(r, strategy, seed) else { continue };
            let Some(base) = baseline(seed, &x) else { continue };
            a.push(x.summary.best.test_accuracy);
            b.push(base);
        }
        if !a.is_empty() {
            out.push(Comparison::new(cell.label.clone(), strategy.name(), name, paired_t(&a, &b)));
        }
    }
    Ok(out)
}

fn metric_rows(cell: &Cell<'_>, dags: &SpaceDags, salt: u64) -> Vec<MetricRow> {
    let acc: Vec<f64> = dags.dags.iter().map(|d| d.test_accuracy).collect();
    METRICS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let x: Vec<f64> = dags.dags.iter().map(|d| metric(&d.metrics, name)).collect();
            predictor_row(&cell.label, name, &x, &acc, 1000 * salt + i as u64)
        })
        .collect()
}

/// RQ5: for every space with standalone DAGs on two datasets, the rank correlation of
/// the same DAGs' accuracies.
fn cross_dataset(reports: &[DatasetReport]) -> Vec<CrossDataset> {
    let mut out = Vec::new();
    for (i, a) in reports.iter().enumerate() {
        for b in &reports[i + 1..] {
            for sa in &a.standalone {
                let Some(sb) = b.standalone.iter().find(|s| s.space.same_space(&sa.space)) else { continue };
                let by_edges: BTreeMap<&Vec<(usize, usize)>, f64> = sb.dags.iter().map(|d| (&d.edges, d.test_accuracy)).collect();
                let (mut x, mut y) = (Vec::new(), Vec::new());
                for d in &sa.dags {
                    if let Some(&v) = by_edges.get(&d.edges) {
                        x.push(d.test_accuracy);
                        y.push(v);
                    }
                }
                if x.len() >= 3 {
                    let seed = 77 + out.len() as u64;
                    let reliability = [reliability_of(a, &sa.space), reliability_of(b, &sb.space)];
                    let spearman_rho = bootstrap(&x, &y, spearman, seed);
                    let spearman_rho_corrected = match (spearman_rho.value, reliability) {
                        (Some(r), [Some(rx), Some(ry)]) => disattenuated(r, rx, ry),
                        _ => None,
                    };
                    out.push(CrossDataset {
                        space: sa.space.clone(),
                        datasets: [a.dataset.clone(), b.dataset.clone()],
                        spearman_rho,
                        kendall_tau: bootstrap(&x, &y, kendall, seed + 500),
                        reliability,
                        spearman_rho_corrected,
                    });
                }
            }
        }
    }
    out
}

/// The reliability of a space's seed-mean ranking on a dataset (ICC(1,k)).
fn reliability_of(d: &DatasetReport, space: &SpaceLabel) -> Option<f64> {
    d.resolution.iter().find(|r| r.space.same_space(space)).and_then(|r| r.resolution.icc_seed_mean)
}
