//! `densenas bench --suite compare`: DARTS weight steps of the engine (its grouped path,
//! and its batched path as it was before the grouped one existed) beside the same
//! supernet written in plain PyTorch the way a PyTorch user would (all blocks batched,
//! masks multiplied in; `scripts/supernet_reference.py`), timed in one run on the same
//! space, block masks, batch and thread count.
//!
//! The reference needs a Python that can `import torch`; the project's own `.venv`
//! holds the slim libtorch, whose Python module cannot be imported, so the comparison
//! uses `.venv-ref` (the full `torch` wheel), made by `scripts/setup-reference.sh` the
//! first time a comparison is asked for, never by the test suite.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::supernet::{matmul_gflops, useful_flops, BenchBatch, SupernetBenchConfig};
use crate::data::DataSplits;
use crate::model::device::Precision;
use crate::error::{Error, Result};
use crate::model::supernet::SupernetPath;
use crate::search::session::Session;

/// What to compare: the supernet benchmark's sizes (`k`, `D`, `L`, batch, steps,
/// threads, seed; blocks drawn uniformly) and the reference's Python.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareConfig {
    /// The sizes (default: `k` 1, 8, 32; `D` 256, 512; batch 256).
    pub sizes: SupernetBenchConfig,
    /// The Python that runs the reference (`None`: `.venv-ref/bin/python` of the
    /// checkout, set up on first use).
    pub python: Option<PathBuf>,
}

impl Default for CompareConfig {
    fn default() -> Self {
        let sizes = SupernetBenchConfig { widths: vec![256, 512], batch_size: 256, ..SupernetBenchConfig::default() };
        CompareConfig { sizes, python: None }
    }
}

/// One (`k`, `D`) comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    /// Blocks.
    pub blocks: usize,
    /// Width.
    pub width: usize,
    /// The engine's samples/s (grouped path, the default).
    pub samples_per_second: f64,
    /// The engine's samples/s on the batched path (what it did before the grouped one).
    pub batched_samples_per_second: f64,
    /// The PyTorch reference's samples/s.
    pub pytorch_samples_per_second: f64,
    /// `samples_per_second / pytorch_samples_per_second`.
    pub ratio: f64,
    /// `batched_samples_per_second / pytorch_samples_per_second`.
    pub batched_ratio: f64,
    /// The share of the batched path's matrix products the grouped path computes.
    pub work_fraction: f64,
    /// FLOPs of a per-block implementation that skips absent edges, per second of the
    /// engine's step (GFLOP/s).
    pub useful_gflops: f64,
    /// The 1024^3 float32 matrix-multiply rate in the same run (GFLOP/s).
    pub matmul_gflops: f64,
    /// The reference's torch version.
    pub torch: String,
}

pub(super) fn checkout() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The reference's Python (`python`, else `.venv-ref/bin/python` of the checkout, set
/// up when missing).
pub(super) fn reference_python(python: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = python {
        return Ok(p.to_path_buf());
    }
    let python = checkout().join(".venv-ref/bin/python");
    let script = checkout().join("scripts/setup-reference.sh");
    let status = Command::new("bash").arg(&script).status().map_err(|e| Error::io(&script, e))?;
    if !status.success() || !python.exists() {
        return Err(Error::data(&script, format!("{} failed: the PyTorch reference needs the full torch wheel in .venv-ref", script.display())));
    }
    Ok(python)
}

/// Seconds per weight step of `session` on `(x, y)` (one warm-up step, then `steps`).
fn time_steps(session: &mut Session, x: &Tensor, y: &Tensor, steps: usize) -> Result<f64> {
    session.step_weights(x, y)?;
    let t = Instant::now();
    for _ in 0..steps {
        session.step_weights(x, y)?;
    }
    Ok(t.elapsed().as_secs_f64() / steps as f64)
}

/// Runs the reference on the session's masks and the normalised batch.
fn run_reference(python: &Path, dir: &Path, config: &SupernetBenchConfig, session: &Session, xn: &Tensor, y: &Tensor) -> Result<(f64, String)> {
    let space = session.space();
    let masks: Vec<Vec<u8>> = session.dags().iter().map(|d| Ok(d.mask(space)?.iter().map(|&b| b as u8).collect())).collect::<Result<_>>()?;
    let (xp, yp, cp) = (dir.join("x.f32"), dir.join("y.i64"), dir.join("config.json"));
    let xv = Vec::<f32>::try_from(&xn.f_contiguous()?.f_view([-1])?)?;
    let yv = Vec::<i64>::try_from(y)?;
    std::fs::write(&xp, xv.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).map_err(|e| Error::io(&xp, e))?;
    std::fs::write(&yp, yv.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).map_err(|e| Error::io(&yp, e))?;
    let doc = serde_json::json!({
        "layers": space.layers(), "width": space.width(), "features": space.features(), "classes": space.classes(),
        "batch": config.batch_size, "steps": config.steps, "threads": config.threads,
        "masks": masks, "edges": space.edges(), "x": xp, "y": yp,
    });
    std::fs::write(&cp, doc.to_string()).map_err(|e| Error::io(&cp, e))?;
    let script = checkout().join("scripts/supernet_reference.py");
    let out = Command::new(python).arg(&script).arg(&cp).env("OMP_NUM_THREADS", config.threads.to_string()).output().map_err(|e| Error::io(python, e))?;
    if !out.status.success() {
        return Err(Error::data(&script, format!("the PyTorch reference failed: {}", String::from_utf8_lossy(&out.stderr))));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::data(&script, format!("the PyTorch reference printed no result ({e}): {}", String::from_utf8_lossy(&out.stdout))))?;
    let sps = v["samples_per_second"].as_f64().ok_or_else(|| Error::data(&script, "the reference's result has no samples_per_second"))?;
    Ok((sps, v["torch"].as_str().unwrap_or("?").to_string()))
}

/// Runs the comparison on `data`'s weight split; `on_row` sees each row.
pub fn run_compare(compare: &CompareConfig, data: &DataSplits, on_row: &mut dyn FnMut(&CompareRow)) -> Result<Vec<CompareRow>> {
    let config = &compare.sizes;
    if config.device != "cpu" || config.precision != Precision::Float32 {
        return Err(Error::config("bench", "the comparison with PyTorch runs on the CPU in float32"));
    }
    let BenchBatch { normalization, x, y } = config.prepare(data)?;
    let python = reference_python(compare.python.as_deref())?;
    let dir = std::env::temp_dir().join(format!("densenas-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let xn = normalization.apply(&x)?;
    let mut rows = Vec::new();
    for &width in &config.widths {
        let matmul = matmul_gflops(1024, 5)?;
        for &k in &config.blocks {
            let (space, mut session) = config.session(data, &normalization, k, width)?;
            let grouped = time_steps(&mut session, &x, &y, config.steps)?;
            session.set_supernet_path(SupernetPath::Batched);
            let batched = time_steps(&mut session, &x, &y, config.steps)?;
            let (reference, torch) = run_reference(&python, &dir, config, &session, &xn, &y)?;
            let b = config.batch_size as f64;
            let useful = useful_flops(&space, session.dags(), config.batch_size);
            let row = CompareRow {
                blocks: k,
                width,
                samples_per_second: b / grouped,
                batched_samples_per_second: b / batched,
                pytorch_samples_per_second: reference,
                ratio: b / grouped / reference,
                batched_ratio: b / batched / reference,
                work_fraction: session.grouped_work_fraction(),
                useful_gflops: useful / grouped / 1e9,
                matmul_gflops: matmul,
                torch,
            };
            on_row(&row);
            rows.push(row);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rows)
}
