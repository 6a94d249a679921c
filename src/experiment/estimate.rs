//! Predicting what an experiment still costs before anything runs (`densenas experiment
//! FILE --estimate`, docs/experiments.md): for every unit without a result, its steps
//! times the seconds of one step of its kind, timed here on the unit's own data, space,
//! batch size and precision, one libtorch thread (as a worker runs a unit), so seconds
//! are core-seconds.
//!
//! A step is timed as the difference between a run of [`LONG_STEPS`] and one of
//! [`SHORT_STEPS`] steps divided by their difference, so that what a run sets up once
//! cancels out; each run is the fastest of [`REPEATS`]. Trainings are timed for two
//! DAGs of a shape, with the long run stretched to at least [`MIN_LONG_SECONDS`] (more
//! epochs over the same rows), and interpolated linearly in FLOPs: for standalone
//! units the DAGs with the fewest and the most FLOPs among those still to run, for a
//! search's retraining the chain and the full DAG. Searches are timed with one phase
//! of one epoch on slices of the weight and validation splits; proxies units whole,
//! once per dataset and shape. Not counted: loading a dataset (once per worker) and
//! evaluation passes. A random search without weight sharing counts as its DAGs
//! trained one by one, which its population trainer beats. Stage-2 units of searches
//! not finished yet are predicted as trainings of a DAG halfway between the chain and
//! the full DAG in FLOPs.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use tch::{Device, Kind};

use super::file::{Baseline, Experiment, Group, RandomDags};
use super::plan::{shape_of, stage1, stage2};
use super::run_proxies::{proxies, ProxiesJob};
use super::run_unit::DataCache;
use super::unit::{NetworkShape, UnitResult, UnitSpec};
use crate::data::{DataSplits, Dataset, SplitTensors};
use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::device::{parse_device, Precision};
use crate::model::network::Normalization;
use crate::model::space::Space;
use crate::search::{run_search_on_splits, SearchConfig};
use crate::train::{train_population, Member, PopulationJob, TrainConfig};

/// Steps of the short timing run.
pub const SHORT_STEPS: usize = 8;
/// Steps of the long timing run.
pub const LONG_STEPS: usize = 40;
/// A training's long timing run is stretched (more epochs over the same rows) to last
/// at least this long, so that a fast step is not timed from a run of a few
/// milliseconds, which other work on the machine makes unsteady.
pub const MIN_LONG_SECONDS: f64 = 0.25;
/// The most steps a stretched run takes.
pub const MAX_LONG_STEPS: usize = 2_000;
/// Each timing run is repeated this often and the fastest kept (other processes on the
/// machine only ever slow a run down).
pub const REPEATS: usize = 3;

/// The predicted cost of one kind of unit in a group.
#[derive(Clone, Debug, PartialEq)]
pub struct KindEstimate {
    /// `search`, `random_standalone`, `standalone`, `proxies` or `standalone (stage 2)`.
    pub kind: &'static str,
    /// Units still to run.
    pub units: usize,
    /// Their predicted core-minutes.
    pub core_minutes: f64,
}

/// A group's prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupEstimate {
    /// The group's name (or `group N`).
    pub group: String,
    /// Per kind of unit, in the order met.
    pub kinds: Vec<KindEstimate>,
    /// Units with a result already (not counted).
    pub finished: usize,
}

impl GroupEstimate {
    /// The group's predicted core-minutes.
    pub fn core_minutes(&self) -> f64 {
        self.kinds.iter().fold(0.0, |s, k| s + k.core_minutes)
    }
}

/// The whole prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Per group, in the file's order (a unit shared by groups counts in the first).
    pub groups: Vec<GroupEstimate>,
    /// Seconds the timings took.
    pub timing_seconds: f64,
}

impl Estimate {
    /// The predicted core-minutes of everything still to run.
    pub fn core_minutes(&self) -> f64 {
        self.groups.iter().fold(0.0, |s, g| s + g.core_minutes())
    }
}

/// Predicts the core-minutes of `experiment`'s units that have no result (`result(id)`
/// gives a finished unit's), by group and kind. Runs no unit and writes nothing.
pub fn estimate(experiment: &Experiment, result: &dyn Fn(&str) -> Option<UnitResult>) -> Result<Estimate> {
    let start = Instant::now();
    tch::set_num_threads(1);
    let mut timer = Timer::default();
    let mut seen = HashSet::new();
    let mut groups = Vec::new();
    let mut planned = Vec::new();
    for g in &experiment.groups {
        let single = Experiment { name: experiment.name.clone(), groups: vec![g.clone()], report: experiment.report.clone() };
        let mut units = stage1(&single)?;
        units.extend(stage2(&single, &units, result)?);
        planned.push(units);
    }
    for u in planned.iter().flatten().filter(|u| result(&u.id).is_none()) {
        timer.note_standalone(&u.spec)?;
    }
    for ((gi, g), units) in experiment.groups.iter().enumerate().zip(&planned) {
        let mut kinds: Vec<KindEstimate> = Vec::new();
        let mut finished = 0;
        for u in units {
            if !seen.insert(u.id.clone()) {
                continue;
            }
            if result(&u.id).is_some() {
                finished += 1;
                continue;
            }
            add(&mut kinds, kind_name(&u.spec), 1, timer.unit_seconds(&u.spec)?);
            if let UnitSpec::Search { config } = &u.spec {
                let n = stage2_per_search(g);
                if n > 0 {
                    let each = timer.stage2_seconds(config)?;
                    add(&mut kinds, "standalone (stage 2)", n, n as f64 * each);
                }
            }
        }
        groups.push(GroupEstimate { group: g.name.clone().unwrap_or_else(|| format!("group {}", gi + 1)), kinds, finished });
    }
    Ok(Estimate { groups, timing_seconds: start.elapsed().as_secs_f64() })
}

fn add(kinds: &mut Vec<KindEstimate>, kind: &'static str, units: usize, seconds: f64) {
    match kinds.iter_mut().find(|k| k.kind == kind) {
        Some(k) => {
            k.units += units;
            k.core_minutes += seconds / 60.0;
        }
        None => kinds.push(KindEstimate { kind, units, core_minutes: seconds / 60.0 }),
    }
}

fn kind_name(spec: &UnitSpec) -> &'static str {
    match spec {
        UnitSpec::Search { .. } => "search",
        UnitSpec::RandomStandalone { .. } => "random_standalone",
        UnitSpec::Standalone { .. } => "standalone",
        UnitSpec::Proxies { .. } => "proxies",
    }
}

/// The stage-2 trainings one search of `g` brings: its matched chain, and its last
/// blocks unless the group trains every DAG of its spaces anyway (then they are
/// stage-1 units already).
fn stage2_per_search(g: &Group) -> usize {
    let blocks = if matches!(g.standalone.random_dags, RandomDags::All) { 0 } else { g.standalone.last_blocks };
    blocks + g.baselines.contains(&Baseline::ChainMatched) as usize
}

/// FLOPs and seconds per step of two DAGs of a shape, the first with fewer FLOPs.
#[derive(Clone, Copy)]
struct StepLine {
    low: (f64, f64),
    high: (f64, f64),
}

impl StepLine {
    /// Seconds per step of a DAG of `flops`.
    fn at(&self, flops: f64) -> f64 {
        let ((f0, s0), (f1, s1)) = (self.low, self.high);
        if f1 <= f0 {
            return s0;
        }
        (s0 + (s1 - s0) * (flops - f0) / (f1 - f0)).max(0.0)
    }

    /// Halfway between the two DAGs.
    fn mid(&self) -> f64 {
        self.at(0.5 * (self.low.0 + self.high.0))
    }
}

/// The DAGs with the fewest and the most FLOPs of a set, with their FLOPs.
#[derive(Clone)]
struct FlopsRange {
    low: (usize, Dag),
    high: (usize, Dag),
}

impl FlopsRange {
    fn widen(&mut self, flops: usize, dag: &Dag) {
        if flops < self.low.0 {
            self.low = (flops, dag.clone());
        }
        if flops > self.high.0 {
            self.high = (flops, dag.clone());
        }
    }
}

/// Timings made so far, by what they depend on.
#[derive(Default)]
struct Timer {
    cache: DataCache,
    /// Per training key, the FLOPs range of the standalone units still to run.
    ranges: HashMap<String, FlopsRange>,
    lines: HashMap<String, StepLine>,
    searches: HashMap<String, f64>,
    proxies: HashMap<String, f64>,
}

/// What a training's step time depends on.
struct TrainKey<'a> {
    data: &'a str,
    subsample: Option<usize>,
    shape: &'a NetworkShape,
    batch: usize,
    precision: Precision,
    device: &'a str,
}

impl TrainKey<'_> {
    /// The key of a standalone unit's training (`None` for other units).
    fn of_standalone(spec: &UnitSpec) -> Option<TrainKey<'_>> {
        match spec {
            UnitSpec::Standalone { data, train_subsample, shape, train, device, precision, .. } => {
                Some(TrainKey { data, subsample: *train_subsample, shape, batch: train.batch_size, precision: *precision, device })
            }
            _ => None,
        }
    }

    fn key(&self) -> String {
        serde_json::json!([self.data, self.subsample, self.shape, self.batch, self.precision, self.device]).to_string()
    }
}

impl Timer {
    fn splits(&mut self, data: &str, subsample: Option<usize>) -> Result<&DataSplits> {
        self.cache.get(data, subsample)
    }

    fn unit_seconds(&mut self, spec: &UnitSpec) -> Result<f64> {
        match spec {
            UnitSpec::Standalone { data, train_subsample, dag, train, .. } => {
                let key = TrainKey::of_standalone(spec).ok_or_else(|| Error::Internal("a standalone unit without a key".into()))?;
                // `estimate` notes every unit still to run first; noting this one again
                // changes nothing then, and gives a range of its own otherwise.
                self.note_standalone(spec)?;
                let range = self.ranges[&key.key()].clone();
                let line = self.line(&key, &range.low.1, &range.high.1)?;
                let n = self.splits(data, *train_subsample)?.train.len();
                let space = self.space(&key)?;
                Ok(line.at(dag.flops(&space) as f64) * (n.div_ceil(train.batch_size) * train.epochs) as f64)
            }
            UnitSpec::Search { config } => {
                let step = self.search_step(config)?;
                let steps = config.phases * (config.epochs + config.warmup_epochs) * self.weight_steps(config)?;
                Ok(step * steps as f64 + self.retrain_seconds(config, 2.0)?)
            }
            UnitSpec::RandomStandalone { config, budget } => {
                let key = self.search_train_key(config);
                let line = self.chain_full_line(&key.as_key())?;
                let steps = budget.dags * budget.epochs * self.weight_steps(config)?;
                Ok(line.mid() * steps as f64 + self.retrain_seconds(config, 1.0)?)
            }
            UnitSpec::Proxies { data, train_subsample, shape, dag: _, seed, device, precision } => {
                let key = TrainKey { data, subsample: *train_subsample, shape, batch: 0, precision: *precision, device }.key();
                if let Some(&s) = self.proxies.get(&key) {
                    return Ok(s);
                }
                let full = Dag::full(&self.space(&TrainKey { data, subsample: *train_subsample, shape, batch: 0, precision: *precision, device })?);
                let job = ProxiesJob { shape, dag: &full, seed: *seed, device, precision: *precision };
                let t = Instant::now();
                proxies(self.splits(data, *train_subsample)?, &job)?;
                let s = t.elapsed().as_secs_f64();
                self.proxies.insert(key, s);
                Ok(s)
            }
        }
    }

    /// A stage-2 training of a search's space (halfway between chain and full).
    fn stage2_seconds(&mut self, config: &SearchConfig) -> Result<f64> {
        self.retrain_seconds(config, 1.0)
    }

    /// `members` trainings halfway between chain and full, with the retraining budget.
    fn retrain_seconds(&mut self, config: &SearchConfig, members: f64) -> Result<f64> {
        let key = self.search_train_key(config);
        let line = self.chain_full_line(&key.as_key())?;
        let n = self.splits(&config.data, config.train_subsample)?.train.len();
        Ok(members * line.mid() * (n.div_ceil(config.retrain.batch_size) * config.retrain.epochs) as f64)
    }

    fn search_train_key(&self, config: &SearchConfig) -> OwnedTrainKey {
        OwnedTrainKey {
            data: config.data.clone(),
            subsample: config.train_subsample,
            shape: shape_of(&config.space),
            batch: config.retrain.batch_size,
            precision: config.session.precision,
            device: config.session.device.clone(),
        }
    }

    fn weight_steps(&mut self, config: &SearchConfig) -> Result<usize> {
        let n = self.splits(&config.data, config.train_subsample)?.train.len() as f64;
        Ok(((n * (1.0 - config.val_fraction)).round() as usize).max(1).div_ceil(config.batch_size))
    }

    fn space(&mut self, key: &TrainKey<'_>) -> Result<Space> {
        let t = &self.splits(key.data, key.subsample)?.train;
        key.shape.space(t.features, t.classes, t.shape)
    }

    /// Widens the FLOPs range of `spec`'s training key by its DAG, if it is a
    /// standalone unit.
    fn note_standalone(&mut self, spec: &UnitSpec) -> Result<()> {
        if let (Some(key), UnitSpec::Standalone { dag, .. }) = (TrainKey::of_standalone(spec), spec) {
            let flops = dag.flops(&self.space(&key)?);
            self.ranges
                .entry(key.key())
                .or_insert_with(|| FlopsRange { low: (flops, dag.clone()), high: (flops, dag.clone()) })
                .widen(flops, dag);
        }
        Ok(())
    }

    /// The chain's and the full DAG's seconds per step for `key` (a found DAG's FLOPs
    /// are unknown; the estimate takes the middle).
    fn chain_full_line(&mut self, key: &TrainKey<'_>) -> Result<StepLine> {
        let space = self.space(key)?;
        self.line(key, &Dag::chain(space.layers()), &Dag::full(&space))
    }

    /// Seconds per step for `key` at two DAGs, `low` and `high`, to interpolate between:
    /// the standalone units' extremes in FLOPs, so that no unit is extrapolated (in a
    /// space whose stem dominates, the chain and the full DAG differ by a tenth in
    /// FLOPs while the DAG without edges has three times theirs, and extrapolating the
    /// difference of two noisy timings that far made the estimate unsteady).
    fn line(&mut self, key: &TrainKey<'_>, low: &Dag, high: &Dag) -> Result<StepLine> {
        let k = format!("{}{low:?}{high:?}", key.key());
        if let Some(&l) = self.lines.get(&k) {
            return Ok(l);
        }
        let space = self.space(key)?;
        let device = parse_device(key.device)?;
        let kind = key.precision.kind();
        let train = &self.splits(key.data, key.subsample)?.train;
        let point = |dag: Dag| -> Result<(f64, f64)> {
            let step = per_step(|steps| time_training(&space, &dag, train, key.batch, steps, (kind, device)), true)?;
            Ok((dag.flops(&space) as f64, step))
        };
        let line = StepLine { low: point(low.clone())?, high: point(high.clone())? };
        self.lines.insert(k, line);
        Ok(line)
    }

    /// Seconds per step (weight and architecture) of `config`'s search.
    fn search_step(&mut self, config: &SearchConfig) -> Result<f64> {
        let mut probe = config.clone();
        probe.session.seed = 0;
        let k = serde_json::to_string(&probe)?;
        if let Some(&s) = self.searches.get(&k) {
            return Ok(s);
        }
        let splits = self.splits(&config.data, config.train_subsample)?;
        let (weight, val) = splits.weight_val(config.val_fraction, config.session.seed)?;
        let ratio = val.len() as f64 / weight.len() as f64;
        let s = per_step(|steps| {
            let mut c = config.clone();
            c.phases = 1;
            // P-DARTS times one stage at the full depth: its earlier, shallower stages
            // cost less, so the estimate errs high.
            c.session.strategy_options.pdarts.stages = 1;
            c.session.strategy_options.pdarts.depths = None;
            c.epochs = 1;
            c.warmup_epochs = 0;
            c.retrain.epochs = 0;
            let rows = steps * c.batch_size;
            let w = cycle(&weight, rows);
            let v = cycle(&val, ((rows as f64 * ratio).round() as usize).max(1));
            // The training and test files cut to the slices: what a search does with
            // them once (the normalisation, the final test) stays out of the timing.
            let small = DataSplits { train: w.clone(), test: v.clone() };
            let t = Instant::now();
            run_search_on_splits(&c, &small, &w, &v, &mut |_| {}, &AtomicBool::new(false))?;
            Ok(t.elapsed().as_secs_f64())
        }, false)?;
        self.searches.insert(k, s);
        Ok(s)
    }
}

/// [`TrainKey`] that owns its parts.
struct OwnedTrainKey {
    data: String,
    subsample: Option<usize>,
    shape: NetworkShape,
    batch: usize,
    precision: Precision,
    device: String,
}

impl OwnedTrainKey {
    fn as_key(&self) -> TrainKey<'_> {
        TrainKey { data: &self.data, subsample: self.subsample, shape: &self.shape, batch: self.batch, precision: self.precision, device: &self.device }
    }
}

/// Seconds per step from runs of [`SHORT_STEPS`] and [`LONG_STEPS`] steps (`run(steps)`
/// gives a run's seconds; the fastest of [`REPEATS`] each), the long run stretched to
/// [`MIN_LONG_SECONDS`] with `stretch` (a multiple of [`SHORT_STEPS`] steps, at most
/// [`MAX_LONG_STEPS`]); at least a quarter of the long run's mean, should timing noise
/// make the difference smaller.
fn per_step(mut run: impl FnMut(usize) -> Result<f64>, stretch: bool) -> Result<f64> {
    let mut fastest = |steps: usize| -> Result<f64> {
        let mut best = f64::INFINITY;
        for _ in 0..REPEATS {
            best = best.min(run(steps)?);
        }
        Ok(best)
    };
    let short = fastest(SHORT_STEPS)?;
    let (mut steps, mut long) = (LONG_STEPS, fastest(LONG_STEPS)?);
    if stretch && long < MIN_LONG_SECONDS {
        let factor = (MIN_LONG_SECONDS / long.max(1e-6)).ceil() as usize;
        steps = (LONG_STEPS * factor).min(MAX_LONG_STEPS) / SHORT_STEPS * SHORT_STEPS;
        long = fastest(steps)?;
    }
    let diff = (long - short) / (steps - SHORT_STEPS) as f64;
    Ok(diff.max(0.25 * long / steps as f64))
}

/// The first `rows` samples of `d`, starting over when it has fewer.
fn cycle(d: &Dataset, rows: usize) -> Dataset {
    let idx: Vec<usize> = (0..rows).map(|i| i % d.len().max(1)).collect();
    d.subset(&idx)
}

/// Seconds of training `dag` for `steps` steps of `batch` samples of `train`: epochs of
/// [`SHORT_STEPS`] steps over as many rows (`steps` is a multiple of it), so that a
/// stretched run holds no more data than a short one.
fn time_training(space: &Space, dag: &Dag, train: &Dataset, batch: usize, steps: usize, (kind, device): (Kind, Device)) -> Result<f64> {
    let data = SplitTensors::new(&cycle(train, SHORT_STEPS * batch), device)?;
    let normalization = Normalization::identity(train.features);
    let config = TrainConfig { epochs: steps.div_ceil(SHORT_STEPS), batch_size: batch, ..TrainConfig::default() };
    let job = PopulationJob { space, normalization: &normalization, data: &data, config: &config, kind, device };
    let member = Member::seeded(dag.clone(), 0, 1);
    let t = Instant::now();
    train_population(&job, vec![member], &mut |_, _| {}, &AtomicBool::new(false))?;
    Ok(t.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn standalone_units_are_timed_at_their_extremes_in_flops_not_extrapolated() {
        let text = r#"{"datasets": ["digits"], "spaces": [{"layers": 3, "width": 16}], "seeds": [0, 1],
                       "standalone": {"random_dags": "all"}}"#;
        let e = Experiment::parse(text, Path::new("/"), "x").unwrap();
        let units = stage1(&e).unwrap();
        let mut timer = Timer::default();
        for u in &units {
            timer.note_standalone(&u.spec).unwrap();
        }
        assert_eq!(timer.ranges.len(), 1, "one training key");
        let range = timer.ranges.values().next().unwrap().clone();
        let space = timer.space(&TrainKey::of_standalone(&units[0].spec).expect("a standalone unit")).unwrap();
        let flops: Vec<usize> = units
            .iter()
            .filter_map(|u| match &u.spec {
                UnitSpec::Standalone { dag, .. } => Some(dag.flops(&space)),
                _ => None,
            })
            .collect();
        assert_eq!(flops.len(), 16);
        assert_eq!(range.low.0, *flops.iter().min().unwrap());
        assert_eq!(range.high.0, *flops.iter().max().unwrap());
        assert_eq!((range.low.1.flops(&space), range.high.1.flops(&space)), (range.low.0, range.high.0));
        // What the chain and the full DAG span is a small part of that range here: the
        // DAG without edges reads the input three times.
        let chain_full = [Dag::chain(3).flops(&space), Dag::full(&space).flops(&space)];
        assert!(range.high.0 > 3 * chain_full.iter().max().unwrap() / 2, "{range:?} vs {chain_full:?}", range = (range.low.0, range.high.0));
    }

    #[test]
    fn a_step_line_interpolates_and_holds_a_single_point() {
        let line = StepLine { low: (100.0, 1.0), high: (300.0, 3.0) };
        assert_eq!((line.at(100.0), line.at(200.0), line.at(300.0), line.mid()), (1.0, 2.0, 3.0, 2.0));
        let point = StepLine { low: (100.0, 1.5), high: (100.0, 1.5) };
        assert_eq!((point.at(100.0), point.mid()), (1.5, 1.5));
    }
}
