//! Running one unit: a search into its run folder (continuing from its checkpoint when
//! an earlier attempt was interrupted; a run folder that holds the finished run, when
//! an earlier attempt ended before recording it, is read back rather than searched
//! again; a search whose `best.onnx` fails its ONNX Runtime check is a failed unit
//! that keeps its run folder, and the next attempt runs the check again on the kept
//! network, without searching again), a random search without weight sharing, a
//! standalone training, or a DAG's training-free proxies; the result is written as the
//! unit's last act. Standalone units that share everything but their DAG and seed may
//! run as one population ([`execute_population`]; each member is recorded as its own
//! unit when the population ends). Datasets are loaded once per process and kept for
//! the next units.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;


use super::run_proxies::{proxies, ProxiesJob};
use super::store::ExperimentDir;
use super::unit::{LastBlock, NetworkShape, RandomStandaloneResult, SearchResult, StandaloneResult, UnitResult, UnitSpec};
use crate::search::random_standalone::random_standalone;
use crate::data::{self, DataSplits, SplitTensors};
use crate::error::{Error, Result};
use crate::io::folder_search::{read_finished, recheck_finished, run_in_folder};
use crate::model::dag::Dag;
use crate::model::device::{parse_device, Precision};
use crate::model::network::Normalization;
use crate::search::session::HistoryRecord;
use crate::search::{Control, SearchConfig};
use crate::train::{train_standalone, StandaloneJob, TrainConfig};
use crate::util::memory;

/// Datasets loaded so far, by spec and subsample.
#[derive(Default)]
pub struct DataCache {
    entries: HashMap<(String, Option<usize>), DataSplits>,
}

impl DataCache {
    /// The dataset, loaded on first use.
    pub fn get(&mut self, spec: &str, subsample: Option<usize>) -> Result<&DataSplits> {
        let key = (spec.to_string(), subsample);
        if !self.entries.contains_key(&key) {
            let splits = data::load_subsampled(spec, subsample)?;
            self.entries.insert(key.clone(), splits);
        }
        Ok(&self.entries[&key])
    }
}

/// How running a unit ended.
#[derive(Clone, Debug, PartialEq)]
pub enum UnitOutcome {
    /// Its result is written.
    Finished,
    /// It failed; the error is recorded.
    Failed(String),
    /// A stop request cut it short: nothing is recorded (a search keeps its checkpoint).
    Abandoned,
}

/// Runs unit `id` (its definition recorded in `dir`) and records its result or error.
pub fn execute(dir: &ExperimentDir, id: &str, cache: &mut DataCache, stop: &AtomicBool) -> UnitOutcome {
    let outcome = dir.read_spec(id).and_then(|spec| compute(dir, id, &spec, cache, stop));
    match outcome {
        Ok(Some(result)) => match dir.write_result(id, &result) {
            Ok(()) => UnitOutcome::Finished,
            Err(e) => fail(dir, id, e.to_string()),
        },
        Ok(None) => UnitOutcome::Abandoned,
        Err(e) => fail(dir, id, e.to_string()),
    }
}

fn fail(dir: &ExperimentDir, id: &str, message: String) -> UnitOutcome {
    let _ = dir.write_error(id, &message);
    UnitOutcome::Failed(message)
}

/// The unit's result, or `None` when stopped.
fn compute(dir: &ExperimentDir, id: &str, spec: &UnitSpec, cache: &mut DataCache, stop: &AtomicBool) -> Result<Option<UnitResult>> {
    memory::reset_peak();
    let start = Instant::now();
    let result = match spec {
        UnitSpec::Search { config } => {
            search(&dir.unit_dir(id).join("run"), config, cache, stop, start)?.map(|r| UnitResult::Search(Box::new(r)))
        }
        UnitSpec::Standalone { .. } => {
            let job = Standalone::of(spec)?;
            let splits = cache.get(job.data, job.train_subsample)?;
            match standalone(splits, &job, &[(job.dag.clone(), job.seed)], stop)? {
                Some(mut results) => {
                    let mut r = results.remove(0).map_err(Error::Diverged)?;
                    r.seconds = start.elapsed().as_secs_f64();
                    r.peak_memory_bytes = memory::peak_bytes();
                    Some(UnitResult::Standalone(r))
                }
                None => None,
            }
        }
        UnitSpec::RandomStandalone { config, budget } => {
            let splits = cache.get(&config.data, config.train_subsample)?;
            random_standalone(config, budget, splits, stop)?.map(|outcome| {
                UnitResult::RandomStandalone(RandomStandaloneResult {
                    outcome,
                    seconds: start.elapsed().as_secs_f64(),
                    peak_memory_bytes: memory::peak_bytes(),
                })
            })
        }
        UnitSpec::Proxies { data, train_subsample, shape, dag, seed, device, precision } => {
            let splits = cache.get(data, *train_subsample)?;
            let job = ProxiesJob { shape, dag, seed: *seed, device, precision: *precision };
            let mut r = proxies(splits, &job)?;
            r.seconds = start.elapsed().as_secs_f64();
            Some(UnitResult::Proxies(r))
        }
    };
    Ok(result)
}

/// Runs the standalone units `ids` (their definitions recorded in `dir`, alike but for
/// their DAGs and seeds, [`super::packing::population_key`]) as one population and
/// records each one's result or error when it ends; one outcome per unit, in order.
/// Each unit's `seconds` is its share of the population's time (the whole time over
/// the members); its peak memory is the population's. Units that are not alike run one
/// by one.
pub fn execute_population(dir: &ExperimentDir, ids: &[String], cache: &mut DataCache, stop: &AtomicBool) -> Vec<UnitOutcome> {
    let specs: Vec<UnitSpec> = match ids.iter().map(|id| dir.read_spec(id)).collect::<Result<_>>() {
        Ok(specs) => specs,
        Err(e) => return ids.iter().map(|id| fail(dir, id, e.to_string())).collect(),
    };
    let key = specs.first().and_then(super::packing::population_key);
    if ids.len() == 1 || key.is_none() || specs.iter().any(|s| super::packing::population_key(s) != key) {
        return ids.iter().map(|id| execute(dir, id, cache, stop)).collect();
    }
    memory::reset_peak();
    let start = Instant::now();
    let results = Standalone::of(&specs[0]).and_then(|job| {
        let members: Vec<(Dag, u64)> =
            specs.iter().map(|s| Standalone::of(s).map(|j| (j.dag.clone(), j.seed))).collect::<Result<_>>()?;
        let splits = cache.get(job.data, job.train_subsample)?;
        standalone(splits, &job, &members, stop)
    });
    let share = start.elapsed().as_secs_f64() / ids.len() as f64;
    match results {
        Ok(Some(results)) => ids.iter().zip(results).map(|(id, r)| record(dir, id, r, share)).collect(),
        Ok(None) => ids.iter().map(|_| UnitOutcome::Abandoned).collect(),
        Err(e) => ids.iter().map(|id| fail(dir, id, e.to_string())).collect(),
    }
}

/// Records a population member's result (with `seconds`) or its failure.
fn record(dir: &ExperimentDir, id: &str, result: std::result::Result<StandaloneResult, String>, seconds: f64) -> UnitOutcome {
    match result {
        Ok(mut r) => {
            r.seconds = seconds;
            r.peak_memory_bytes = memory::peak_bytes();
            match dir.write_result(id, &UnitResult::Standalone(r)) {
                Ok(()) => UnitOutcome::Finished,
                Err(e) => fail(dir, id, e.to_string()),
            }
        }
        Err(reason) => fail(dir, id, Error::Diverged(reason).to_string()),
    }
}

/// The search unit's result: its run folder's when that holds the finished run (an
/// earlier attempt ended before recording it), else the result of searching there.
fn search(run: &Path, config: &SearchConfig, cache: &mut DataCache, stop: &AtomicBool, start: Instant) -> Result<Option<SearchResult>> {
    if let Some(mut done) = read_finished(run, config)? {
        // A run whose ONNX Runtime check failed is checked again, not searched again.
        recheck_finished(run, &mut done, &cache.get(&config.data, config.train_subsample)?.test)?;
        // Its own timings; the memory it held is not known any more.
        let seconds = done.summary.timing.search_seconds + done.summary.timing.retrain_seconds;
        return Ok(Some(SearchResult { last_phase: last_phase(&done.history), summary: done.summary, seconds, peak_memory_bytes: None }));
    }
    let splits = cache.get(&config.data, config.train_subsample)?;
    let mut quiet = |_: crate::search::Event<'_>| {};
    let done = run_in_folder(run, config, splits, &mut Control { on_event: &mut quiet, stop })?;
    if done.outcome.summary.interrupted {
        return Ok(None);
    }
    Ok(Some(SearchResult {
        last_phase: last_phase(&done.outcome.history),
        summary: done.outcome.summary,
        seconds: start.elapsed().as_secs_f64(),
        peak_memory_bytes: memory::peak_bytes(),
    }))
}

/// The blocks of the history's last phase.
fn last_phase(history: &[HistoryRecord]) -> Vec<LastBlock> {
    let last = history.iter().map(|r| r.phase).max().unwrap_or(0);
    history
        .iter()
        .filter(|r| r.phase == last)
        .map(|r| LastBlock { dag: r.dag.clone(), alpha: r.alpha, val_accuracy: r.val_accuracy })
        .collect()
}

/// A standalone training's definition.
struct Standalone<'a> {
    data: &'a str,
    train_subsample: Option<usize>,
    shape: &'a NetworkShape,
    dag: &'a Dag,
    train: &'a TrainConfig,
    seed: u64,
    device: &'a str,
    precision: Precision,
    deterministic: bool,
}

impl<'a> Standalone<'a> {
    /// The definition of a standalone unit (a search is refused).
    fn of(spec: &'a UnitSpec) -> Result<Standalone<'a>> {
        match spec {
            UnitSpec::Standalone { data, train_subsample, shape, dag, train, seed, device, precision, deterministic } => {
                Ok(Standalone {
                    data,
                    train_subsample: *train_subsample,
                    shape,
                    dag,
                    train,
                    seed: *seed,
                    device,
                    precision: *precision,
                    deterministic: *deterministic,
                })
            }
            _ => Err(Error::Input("only a standalone unit is a standalone training".into())),
        }
    }
}

/// Trains `members` (DAG, seed) with `job`'s shape, budget and device as one
/// population; each member's result (its timing left to the caller) or its failure.
fn standalone(
    splits: &DataSplits,
    job: &Standalone<'_>,
    members: &[(Dag, u64)],
    stop: &AtomicBool,
) -> Result<Option<Vec<std::result::Result<StandaloneResult, String>>>> {
    let (f, c) = (splits.train.features, splits.train.classes);
    let space = job.shape.space(f, c, splits.train.shape)?;
    let device = parse_device(job.device)?;
    let normalization = Normalization::from_data(&splits.train.x, f)?;
    let train_t = SplitTensors::new(&splits.train, device)?;
    let test_t = SplitTensors::new(&splits.test, device)?;
    let standalone = StandaloneJob {
        space: &space,
        normalization: &normalization,
        train: &train_t,
        test: &test_t,
        config: job.train,
        precision: job.precision,
        deterministic: job.deterministic,
        device,
    };
    let Some(outcome) = train_standalone(&standalone, members, &mut |_, _| {}, stop)? else { return Ok(None) };
    let results = members
        .iter()
        .zip(outcome.members)
        .map(|((dag, _), r)| {
            r.map(|t| StandaloneResult {
                dag: dag.clone(),
                metrics: dag.metrics(),
                params: dag.params(&space),
                flops: dag.flops(&space),
                test_accuracy: t.test_accuracy,
                seconds: 0.0,
                peak_memory_bytes: None,
            })
        })
        .collect();
    Ok(Some(results))
}
