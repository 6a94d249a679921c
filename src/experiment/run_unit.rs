//! Running one unit: a search into its run folder (continuing from its checkpoint when
//! an earlier attempt was interrupted; a run folder that holds the finished run, when
//! an earlier attempt ended before recording it, is read back rather than searched
//! again). A search whose `best.onnx` fails its ONNX Runtime check is a failed unit
//! that keeps its run folder; the next attempt runs the check again on the kept
//! network, without searching again. Or a standalone training; the result is written as the unit's last act. Datasets are loaded once per process and kept for
//! the next units.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::store::ExperimentDir;
use super::unit::{LastBlock, NetworkShape, SearchResult, StandaloneResult, UnitResult, UnitSpec};
use crate::data::{self, DataSplits, SplitTensors};
use crate::error::Result;
use crate::io::folder_search::{read_finished, recheck_finished, run_in_folder};
use crate::model::dag::Dag;
use crate::model::device::{configure_numerics, parse_device, Precision};
use crate::model::network::Normalization;
use crate::search::session::HistoryRecord;
use crate::search::{Control, SearchConfig};
use crate::train::{evaluate_network, train_dag_until, TrainConfig, RETRAIN_BEST_STREAM};
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
        UnitSpec::Standalone { data, train_subsample, shape, dag, train, seed, device, precision, deterministic } => {
            let splits = cache.get(data, *train_subsample)?;
            let job = Standalone { shape, dag, train, seed: *seed, device, precision: *precision, deterministic: *deterministic };
            standalone(splits, &job, stop)?.map(|mut r| {
                r.seconds = start.elapsed().as_secs_f64();
                r.peak_memory_bytes = memory::peak_bytes();
                UnitResult::Standalone(r)
            })
        }
    };
    Ok(result)
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
    shape: &'a NetworkShape,
    dag: &'a Dag,
    train: &'a TrainConfig,
    seed: u64,
    device: &'a str,
    precision: Precision,
    deterministic: bool,
}

fn standalone(splits: &DataSplits, job: &Standalone<'_>, stop: &AtomicBool) -> Result<Option<StandaloneResult>> {
    let (f, c) = (splits.train.features, splits.train.classes);
    let space = job.shape.space(f, c, splits.train.shape)?;
    let device = parse_device(job.device)?;
    configure_numerics(device, job.precision, job.deterministic)?;
    let kind = job.precision.kind();
    let normalization = Normalization::from_data(&splits.train.x, f)?;
    let train_t = SplitTensors::new(&splits.train, device)?;
    let test_t = SplitTensors::new(&splits.test, device)?;
    // The stream a search retrains its best with: the same DAG, seed and budget give
    // the search's retrained accuracy.
    let mut rng = ChaCha8Rng::seed_from_u64(job.seed);
    rng.set_stream(RETRAIN_BEST_STREAM);
    let trained =
        train_dag_until(&space, job.dag, &normalization, &train_t, job.train, (kind, device), &mut rng, &mut |_, _| {}, stop)?;
    let Some(network) = trained else { return Ok(None) };
    let (test_accuracy, _) = evaluate_network(&network, &test_t, kind)?;
    Ok(Some(StandaloneResult {
        dag: job.dag.clone(),
        metrics: job.dag.metrics(),
        params: job.dag.params(&space),
        flops: job.dag.flops(&space),
        test_accuracy,
        seconds: 0.0,
        peak_memory_bytes: None,
    }))
}
