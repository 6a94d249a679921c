//! The supernet benchmark: DARTS weight steps for several `k` and widths `D`, their
//! samples/s and achieved GFLOP/s, beside the matrix-multiply rate libtorch reaches on
//! the same device and precision in the same run (CPU or CUDA; float32, float64 or
//! TF32).
//!
//! `gflops` counts what the batched path would execute (the masked-off edges of a block
//! multiplied too): forward `2 B (F L D) + 2 k B (|A| D^2 + L D C)` (the input products
//! are shared by all blocks), three times that with the backward pass; `useful_gflops`
//! counts only what a per-block implementation that skips absent edges needs. The
//! session runs its default (grouped) path. Elementwise work is not counted.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::data::{DataSplits, SplitTensors};
use crate::error::{Error, Result};
use crate::model::device::{configure_numerics, parse_device, Precision};
use crate::model::network::Normalization;
use crate::search::session::{Session, SessionOptions};
use crate::model::space::{Space, SpaceConfig};

/// What to benchmark.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupernetBenchConfig {
    /// Numbers of blocks `k` (default 1, 8, 32).
    pub blocks: Vec<usize>,
    /// Widths `D` (default 128, 512).
    pub widths: Vec<usize>,
    /// Hidden layers `L` (default 6: 15 allowed edges).
    pub layers: usize,
    /// Batch size (default 64).
    pub batch_size: usize,
    /// Timed weight steps per row, after one untimed warm-up step (default 5).
    pub steps: usize,
    /// libtorch threads (default 1).
    pub threads: usize,
    /// Seed.
    pub seed: u64,
    /// `cpu` (default), `cuda` or `cuda:N`.
    pub device: String,
    /// Tensor precision (default float32; `tf32` on CUDA).
    pub precision: Precision,
}

impl Default for SupernetBenchConfig {
    fn default() -> Self {
        SupernetBenchConfig {
            blocks: vec![1, 8, 32],
            widths: vec![128, 512],
            layers: 6,
            batch_size: 64,
            steps: 5,
            threads: 1,
            seed: 0,
            device: "cpu".into(),
            precision: Precision::Float32,
        }
    }
}

/// One measured (`k`, `D`) pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SupernetRow {
    /// Blocks.
    pub blocks: usize,
    /// Width.
    pub width: usize,
    /// Mean seconds per weight step.
    pub step_seconds: f64,
    /// Samples per second of weight steps.
    pub samples_per_second: f64,
    /// FLOPs a weight step executes (forward and backward).
    pub flops_per_step: f64,
    /// Achieved GFLOP/s.
    pub gflops: f64,
    /// The matrix-multiply rate measured in the same run, GFLOP/s: `[n, n] x [n, n]`
    /// products on the device in the run's precision, n = 1024 on the CPU and 8192 on
    /// CUDA.
    pub matmul_gflops: f64,
    /// `gflops / matmul_gflops`.
    pub fraction_of_matmul: f64,
    /// FLOPs of a per-block implementation that skips absent edges, `6 B (L D F + sum
    /// over blocks of (|G_b| D^2 + |sinks_b| D C))` per weight step, over the step time
    /// (GFLOP/s).
    pub useful_gflops: f64,
    /// The share of the batched path's matrix products the grouped path computes.
    pub work_fraction: f64,
}

/// The useful FLOPs of one weight step (forward and backward) of `dags` in `space` on
/// a batch of `batch`: `6 B (L D F + sum over blocks of (|G_b| D^2 + |sinks_b| D C))`.
pub fn useful_flops(space: &Space, dags: &[crate::model::dag::Dag], batch: usize) -> f64 {
    let (l, d, f, c) = (space.layers() as f64, space.width() as f64, space.features() as f64, space.classes() as f64);
    let per_block: f64 = dags.iter().map(|g| g.edges().len() as f64 * d * d + g.sinks().len() as f64 * d * c).sum();
    6.0 * batch as f64 * (l * d * f + per_block)
}

/// The float32 matrix-multiply rate (GFLOP/s) of `[n, n] x [n, n]` products on the CPU
/// with the current libtorch thread count: the best of `reps` timed products.
pub fn matmul_gflops(n: i64, reps: usize) -> Result<f64> {
    matmul_gflops_on(n, reps, Kind::Float, Device::Cpu)
}

/// Waits for the work queued on `device` (a no-op on the CPU, where libtorch's calls
/// return when done).
pub fn synchronize(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// The matrix-multiply rate (GFLOP/s) of `[n, n] x [n, n]` products of `kind` on
/// `device` (in the process's current TF32 setting on CUDA): the best of `reps`.
pub fn matmul_gflops_on(n: i64, reps: usize, kind: Kind, device: Device) -> Result<f64> {
    let _guard = tch::no_grad_guard();
    let a = Tensor::f_ones([n, n], (kind, device))?.f_mul_scalar(0.5)?;
    let b = Tensor::f_ones([n, n], (kind, device))?.f_mul_scalar(0.25)?;
    let _ = a.f_matmul(&b)?; // warm-up
    synchronize(device);
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let c = a.f_matmul(&b)?;
        synchronize(device);
        let _ = c.f_double_value(&[0, 0])?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(2.0 * (n * n * n) as f64 / best / 1e9)
}

/// The fixed batch a benchmark steps on, and the data's normalisation.
pub(super) struct BenchBatch {
    pub normalization: Normalization,
    pub x: Tensor,
    pub y: Tensor,
}

impl SupernetBenchConfig {
    /// Checks the sizes, device and precision, sets the thread count and the process's
    /// numerics, and takes the first `batch_size` rows of `data`'s weight split (cycled
    /// when it is smaller).
    pub(super) fn prepare(&self, data: &DataSplits) -> Result<BenchBatch> {
        if self.steps == 0 || self.batch_size == 0 || self.blocks.is_empty() || self.widths.is_empty() {
            return Err(Error::config("bench", "steps, batch size, blocks and widths must be non-empty"));
        }
        let device = self.device()?;
        configure_numerics(device, self.precision, false)?;
        tch::set_num_threads(self.threads.max(1) as i32);
        let (weight_split, _) = data.weight_val(0.5, self.seed)?;
        let normalization = Normalization::from_data(&data.train.x, data.train.features)?;
        let w = SplitTensors::new(&weight_split, device)?;
        let idx: Vec<i64> = (0..self.batch_size as i64).map(|i| i % w.len()).collect();
        let (x, y) = w.rows(&Tensor::f_from_slice(&idx)?.f_to_device(device)?)?;
        Ok(BenchBatch { normalization, x, y })
    }

    /// The device.
    pub(super) fn device(&self) -> Result<Device> {
        parse_device(&self.device)
    }

    /// The matrix-multiply rate to compare with, on the device in the precision.
    fn matmul_rate(&self) -> Result<f64> {
        let device = self.device()?;
        let n = if device == Device::Cpu { 1024 } else { 8192 };
        matmul_gflops_on(n, 5, self.precision.kind(), device)
    }

    /// A session of `k` blocks of width `width` over all edges of `layers` vertices.
    pub(super) fn session(&self, data: &DataSplits, normalization: &Normalization, k: usize, width: usize) -> Result<(Space, Session)> {
        let mut sc = SpaceConfig::new(data.train.features, data.train.classes, self.layers, width);
        sc.blocks = k;
        let space = Space::new(sc)?;
        let options = SessionOptions {
            seed: self.seed,
            device: self.device.clone(),
            precision: self.precision,
            ..SessionOptions::default()
        };
        let session = Session::new(&space, options, normalization.clone())?;
        Ok((space, session))
    }
}

/// Runs the supernet benchmark on `data`'s weight split; `on_row` sees each row.
pub fn run_supernet_bench(
    config: &SupernetBenchConfig,
    data: &DataSplits,
    on_row: &mut dyn FnMut(&SupernetRow),
) -> Result<Vec<SupernetRow>> {
    let BenchBatch { normalization, x, y } = config.prepare(data)?;
    let (f, c, b) = (data.train.features as f64, data.train.classes as f64, config.batch_size as f64);
    let mut rows = Vec::new();
    for &width in &config.widths {
        // Measured per width, next to the rows it is compared with.
        let matmul = config.matmul_rate()?;
        for &k in &config.blocks {
            let (space, mut session) = config.session(data, &normalization, k, width)?;
            session.step_weights(&x, &y)?;
            synchronize(session.device());
            let t = Instant::now();
            for _ in 0..config.steps {
                session.step_weights(&x, &y)?;
            }
            synchronize(session.device());
            let step = t.elapsed().as_secs_f64() / config.steps as f64;
            let (l, d, a) = (config.layers as f64, width as f64, space.num_edges() as f64);
            let forward = 2.0 * b * f * l * d + 2.0 * k as f64 * b * (a * d * d + l * d * c);
            let flops = 3.0 * forward;
            let gflops = flops / step / 1e9;
            let useful = useful_flops(&space, session.dags(), config.batch_size) / step / 1e9;
            let row = SupernetRow {
                blocks: k,
                width,
                step_seconds: step,
                samples_per_second: b / step,
                flops_per_step: flops,
                gflops,
                matmul_gflops: matmul,
                fraction_of_matmul: gflops / matmul,
                useful_gflops: useful,
                work_fraction: session.grouped_work_fraction(),
            };
            on_row(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}
