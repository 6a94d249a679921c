//! The population benchmark (`densenas bench --suite population`): `P` DAGs of an `L`
//! vertex space (drawn with edge probability `p0`) trained in lockstep by the
//! population trainer, beside the same members trained one at a time in the same run,
//! and the matrix-multiply rate of the same run. Members take seeds `0, 1, 2` in turn
//! (three seed groups, as three seeds of an experiment's DAGs), so a step gathers three
//! batches.
//!
//! `member_samples_per_second` is `P B` over the step time; `useful_gflops` counts `3 x
//! Dag::flops` of each member per sample (forward and backward of the products a
//! member needs; elementwise work not counted).

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::data::{DataSplits, SplitTensors};
use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::network::Normalization;
use crate::model::space::{Space, SpaceConfig};
use crate::train::{train_population, Member, PopulationJob, TrainConfig};
use super::strategies::measure_peak;
use super::supernet::matmul_gflops_on;
use crate::model::device::{configure_numerics, parse_device, Precision};

/// What to benchmark.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PopulationBenchConfig {
    /// Population sizes `P` (default 1, 8, 64).
    pub populations: Vec<usize>,
    /// Widths `D` (default 128, 512).
    pub widths: Vec<usize>,
    /// Batch sizes (default 64, 256).
    pub batch_sizes: Vec<usize>,
    /// Hidden layers `L` (default 4).
    pub layers: usize,
    /// Edge probability of the drawn DAGs (default 0.5).
    pub p0: f64,
    /// Timed steps per row, after one untimed warm-up step (default 5).
    pub steps: usize,
    /// libtorch threads (default 1).
    pub threads: usize,
    /// Seed of the DAG draws.
    pub seed: u64,
    /// Device: `cpu` (the default), `cuda` or `cuda:N`.
    pub device: String,
    /// Tensor precision (default float32; `tf32` on CUDA).
    pub precision: Precision,
}

impl Default for PopulationBenchConfig {
    fn default() -> Self {
        PopulationBenchConfig {
            populations: vec![1, 8, 64],
            widths: vec![128, 512],
            batch_sizes: vec![64, 256],
            layers: 4,
            p0: 0.5,
            steps: 5,
            threads: 1,
            seed: 0,
            device: "cpu".into(),
            precision: Precision::Float32,
        }
    }
}

/// One measured (`P`, `D`, batch) row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopulationRow {
    /// Members `P`.
    pub population: usize,
    /// Width `D`.
    pub width: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Member-samples per second of the population (`P B` per step).
    pub member_samples_per_second: f64,
    /// Member-samples per second of the same members trained one at a time.
    pub alone_member_samples_per_second: f64,
    /// `3 x Dag::flops` of each member per sample over the population's step time.
    pub useful_gflops: f64,
    /// The `[n, n] x [n, n]` rate of the same run on the device in the precision
    /// (`n` = 1024 on the CPU, 8192 on CUDA), GFLOP/s.
    pub matmul_gflops: f64,
    /// Peak resident memory the population's training added, MiB (`None` where the
    /// platform does not tell).
    pub peak_rss_mb: Option<f64>,
}

/// The benchmark's data: `data`'s training split, or random MNIST-shaped data (784
/// features, 10 classes) when there is none.
pub enum BenchData<'a> {
    /// A loaded dataset.
    Loaded(&'a DataSplits),
    /// Random data of `(features, classes)`.
    Random(usize, usize),
}

/// Runs the benchmark; `on_row` sees each row as it is measured.
pub fn run_population_bench(config: &PopulationBenchConfig, data: BenchData<'_>, on_row: &mut dyn FnMut(&PopulationRow)) -> Result<Vec<PopulationRow>> {
    if config.steps == 0 || config.populations.is_empty() || config.widths.is_empty() || config.batch_sizes.is_empty() {
        return Err(Error::config("bench", "steps, populations, widths and batch sizes must be non-empty"));
    }
    if !(0.0..=1.0).contains(&config.p0) {
        return Err(Error::config("bench.p0", format!("{} is out of range: allowed [0, 1]", config.p0)));
    }
    let device = parse_device(&config.device)?;
    configure_numerics(device, config.precision, false)?;
    tch::set_num_threads(config.threads.max(1) as i32);
    let (features, classes) = match &data {
        BenchData::Loaded(d) => (d.train.features, d.train.classes),
        BenchData::Random(f, c) => (*f, *c),
    };
    let mut rows = Vec::new();
    for &width in &config.widths {
        let space = Space::new(SpaceConfig::new(features, classes, config.layers, width))?;
        let matmul = matmul_gflops_on(if device == Device::Cpu { 1024 } else { 8192 }, 5, config.precision.kind(), device)?;
        for &batch in &config.batch_sizes {
            let (train, normalization) = bench_data(&data, batch * config.steps.max(1), config.seed)?;
            let train = SplitTensors { x: train.x.f_to_device(device)?, y: train.y.f_to_device(device)? };
            for &p in &config.populations {
                let dags = draw_dags(&space, p, config.p0, config.seed);
                let bench = Bench { space: &space, normalization: &normalization, train: &train, batch, steps: config.steps, kind: config.precision.kind(), device };
                let (step, peak) = measure_peak(|| bench.step_seconds(&dags, 0))?;
                let mut alone = 0.0;
                for (k, dag) in dags.iter().enumerate() {
                    alone += bench.step_seconds(std::slice::from_ref(dag), k)?;
                }
                let flops: f64 = dags.iter().map(|g| 3.0 * g.flops(&space) as f64 * batch as f64).sum();
                let row = PopulationRow {
                    population: p,
                    width,
                    batch_size: batch,
                    member_samples_per_second: (p * batch) as f64 / step,
                    alone_member_samples_per_second: (p * batch) as f64 / alone,
                    useful_gflops: flops / step / 1e9,
                    matmul_gflops: matmul,
                    peak_rss_mb: peak.map(|b| b as f64 / (1024.0 * 1024.0)),
                };
                on_row(&row);
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// `rows` training samples: the first of `data`'s training split (cycled), or random
/// ones; and their normalisation.
pub(super) fn bench_data(data: &BenchData<'_>, rows: usize, seed: u64) -> Result<(SplitTensors, Normalization)> {
    match data {
        BenchData::Loaded(d) => {
            let all = SplitTensors::new(&d.train, Device::Cpu)?;
            let idx: Vec<i64> = (0..rows as i64).map(|i| i % all.len()).collect();
            let (x, y) = all.rows(&Tensor::f_from_slice(&idx)?)?;
            Ok((SplitTensors { x, y }, Normalization::from_data(&d.train.x, d.train.features)?))
        }
        BenchData::Random(f, c) => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let x: Vec<f32> = (0..rows * f).map(|_| rng.gen_range(0.0..1.0)).collect();
            let y: Vec<i64> = (0..rows).map(|_| rng.gen_range(0..*c as i64)).collect();
            let normalization = Normalization::from_data(&x, *f)?;
            let x = Tensor::f_from_slice(&x)?.f_view([rows as i64, *f as i64])?;
            Ok((SplitTensors { x, y: Tensor::f_from_slice(&y)? }, normalization))
        }
    }
}

/// `p` DAGs of `space`, each allowed edge present with probability `p0`.
pub(super) fn draw_dags(space: &Space, p: usize, p0: f64, seed: u64) -> Vec<Dag> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..p)
        .map(|_| {
            let mask: Vec<bool> = (0..space.num_edges()).map(|_| rng.gen_bool(p0)).collect();
            Dag::from_mask(space, &mask)
        })
        .collect()
}

/// One measurement's fixed parts.
struct Bench<'a> {
    space: &'a Space,
    normalization: &'a Normalization,
    train: &'a SplitTensors,
    batch: usize,
    steps: usize,
    kind: Kind,
    device: Device,
}

impl Bench<'_> {
    /// Seconds per step of `dags` trained as one population (member `k` of seed `(first
    /// + k) % 3`): one epoch is `steps` steps; the first epoch is the warm-up.
    fn step_seconds(&self, dags: &[Dag], first: usize) -> Result<f64> {
        let config = TrainConfig { epochs: 2, batch_size: self.batch, ..TrainConfig::default() };
        let job = PopulationJob {
            space: self.space,
            normalization: self.normalization,
            data: self.train,
            config: &config,
            kind: self.kind,
            device: self.device,
        };
        let members = dags.iter().enumerate().map(|(k, g)| Member::seeded(g.clone(), ((first + k) % 3) as u64, 1)).collect();
        let mut ends = Vec::new();
        let never = AtomicBool::new(false);
        train_population(&job, members, &mut |_, _| ends.push(Instant::now()), &never)?;
        match ends.as_slice() {
            [warm, timed] => Ok(timed.duration_since(*warm).as_secs_f64() / self.steps as f64),
            _ => Err(Error::Diverged("population bench: a member failed".into())),
        }
    }
}
