//! The strategy benchmark (`densenas bench`): per strategy and number of blocks `k`,
//! the throughput of alternating weight and architecture steps (samples/s) and the
//! memory a step holds, measured.
//!
//! The memory is the peak resident set size during one step minus the resident set
//! size just before it (Linux: `/proc/self/clear_refs` resets the peak, `VmHWM` and
//! `VmRSS` in `/proc/self/status` read it; glibc's `malloc_trim` first returns freed
//! heap pages to the system, so that a step that reuses them is still charged for
//! them). On CPU that is what the step allocates and touches: the activations kept for
//! the backward pass, the gradients and the temporaries. On CUDA it is host memory
//! only. Where `/proc` is unavailable the memory is not reported.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::data::{DataSplits, SplitTensors};
use crate::error::{Error, Result};
use crate::model::network::Normalization;
use crate::search::session::{Session, SessionOptions};
use crate::model::space::{Space, SpaceConfig};
use crate::search::strategy::StrategyKind;

/// Step pairs measured for memory after the timed ones.
const MEMORY_PAIRS: usize = 3;

/// What to benchmark.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BenchConfig {
    /// Strategies (default: all).
    pub strategies: Vec<StrategyKind>,
    /// Numbers of blocks `k` (default 4, 16, 64).
    pub blocks: Vec<usize>,
    /// Hidden layers `L` (default 6).
    pub layers: usize,
    /// Width `D` (default 256).
    pub width: usize,
    /// Batch size of both steps (default 64).
    pub batch_size: usize,
    /// Timed step pairs (weight step + architecture step) per row, after one untimed
    /// warm-up pair (default 5).
    pub steps: usize,
    /// Seed of the sessions.
    pub seed: u64,
    /// libtorch threads (default 1).
    pub threads: usize,
    /// `cpu`, `cuda` or `cuda:N`.
    pub device: String,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            strategies: StrategyKind::ALL.to_vec(),
            blocks: vec![4, 16, 64],
            layers: 6,
            width: 256,
            batch_size: 64,
            steps: 5,
            seed: 0,
            threads: 1,
            device: "cpu".into(),
        }
    }
}

/// One measured (strategy, `k`) pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// Strategy name.
    pub strategy: String,
    /// Number of blocks.
    pub blocks: usize,
    /// Mean seconds per weight step.
    pub weight_step_seconds: f64,
    /// Mean seconds per architecture step.
    pub arch_step_seconds: f64,
    /// Samples per second over the timed pairs (both steps' batches counted, as the
    /// search's `samples_per_second` counts them).
    pub samples_per_second: f64,
    /// Peak resident memory added during one weight step (the largest of three), in
    /// bytes.
    pub weight_step_bytes: Option<u64>,
    /// Peak resident memory added during one architecture step (the largest of
    /// three), in bytes.
    pub arch_step_bytes: Option<u64>,
}

/// A `key:` line of `/proc/self/status`, in bytes.
fn proc_status(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_heap() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    }
    // SAFETY: glibc's malloc_trim only returns free memory to the system.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_heap() {}

/// Runs `f` and returns its result with the peak resident memory it added (bytes),
/// when the platform lets that be measured.
pub fn measure_peak<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Option<u64>)> {
    release_free_heap();
    let before = proc_status("VmRSS:");
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let out = f()?;
    let peak = proc_status("VmHWM:");
    let added = match (reset, before, peak) {
        (true, Some(b), Some(p)) => Some(p.saturating_sub(b)),
        _ => None,
    };
    Ok((out, added))
}

/// Benchmarks every strategy and `k` of `config` on the weight and validation splits of
/// `data`; `on_row` sees each row as it is measured.
pub fn run_bench(config: &BenchConfig, data: &DataSplits, on_row: &mut dyn FnMut(&BenchRow)) -> Result<Vec<BenchRow>> {
    if config.steps == 0 || config.batch_size == 0 || config.blocks.is_empty() || config.strategies.is_empty() {
        return Err(Error::config("bench", "steps, batch size, blocks and strategies must be non-empty"));
    }
    tch::set_num_threads(config.threads.max(1) as i32);
    let (weight_split, val_split) = data.weight_val(0.5, config.seed)?;
    let normalization = Normalization::from_data(&data.train.x, data.train.features)?;
    let mut rows = Vec::new();
    for &strategy in &config.strategies {
        for &k in &config.blocks {
            let mut sc = SpaceConfig::new(data.train.features, data.train.classes, config.layers, config.width);
            sc.blocks = k;
            let space = Space::new(sc)?;
            let options =
                SessionOptions { strategy, seed: config.seed, device: config.device.clone(), ..SessionOptions::default() };
            let mut session = Session::new(&space, options, normalization.clone())?;
            let device = session.device();
            let w = SplitTensors::new(&weight_split, device)?;
            let v = SplitTensors::new(&val_split, device)?;
            let bs = config.batch_size;
            let draw = |session: &mut Session, split: &SplitTensors| -> Result<(Tensor, Tensor)> {
                let n = split.len() as usize;
                let idx: Vec<i64> = session.shuffled(n).into_iter().cycle().take(bs).collect();
                split.rows(&Tensor::f_from_slice(&idx)?.f_to_device(device)?)
            };
            session.set_progress(0.5)?;
            // Warm-up pair (first-call allocations), then the timed pairs.
            let (x, y) = draw(&mut session, &w)?;
            session.step_weights(&x, &y)?;
            let (x, y) = draw(&mut session, &v)?;
            session.step_architecture(&x, &y)?;
            let (mut tw, mut ta) = (0.0, 0.0);
            for _ in 0..config.steps {
                let (x, y) = draw(&mut session, &w)?;
                let t = Instant::now();
                session.step_weights(&x, &y)?;
                tw += t.elapsed().as_secs_f64();
                let (x, y) = draw(&mut session, &v)?;
                let t = Instant::now();
                session.step_architecture(&x, &y)?;
                ta += t.elapsed().as_secs_f64();
            }
            // Then MEMORY_PAIRS more pairs with the memory measured (sampling strategies
            // hold more or less with the block drawn): the largest is reported.
            let (mut wmem, mut amem) = (None, None);
            for _ in 0..MEMORY_PAIRS {
                let (x, y) = draw(&mut session, &w)?;
                let (_, m) = measure_peak(|| session.step_weights(&x, &y))?;
                wmem = wmem.max(m);
                let (x, y) = draw(&mut session, &v)?;
                let (_, m) = measure_peak(|| session.step_architecture(&x, &y))?;
                amem = amem.max(m);
            }
            let n = config.steps as f64;
            let row = BenchRow {
                strategy: strategy.name().to_string(),
                blocks: k,
                weight_step_seconds: tw / n,
                arch_step_seconds: ta / n,
                samples_per_second: 2.0 * bs as f64 * n / (tw + ta).max(1e-12),
                weight_step_bytes: wmem,
                arch_step_bytes: amem,
            };
            on_row(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}
