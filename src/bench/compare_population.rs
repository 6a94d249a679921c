//! `densenas bench --suite compare-population`: the population benchmark's rows with
//! PyTorch's way of training an ensemble measured in the same run on the same DAGs,
//! data, batch and thread count (`scripts/population_reference.py`: the members'
//! parameters stacked with `torch.func.stack_module_state`, the loss through
//! `torch.vmap`, every allowed edge computed with the member's mask multiplied in), and
//! the same PyTorch members trained one at a time. The reference's Python is the one
//! `bench --suite compare` uses (`.venv-ref`, or `python`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::compare::{checkout, reference_python};
use crate::model::device::Precision;
use super::population::{bench_data, draw_dags, run_population_bench, BenchData, PopulationBenchConfig, PopulationRow};
use crate::error::{Error, Result};
use crate::model::space::{Space, SpaceConfig};

/// What to compare.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComparePopulationConfig {
    /// The population benchmark's sizes.
    pub sizes: PopulationBenchConfig,
    /// The Python that runs the reference (`None`: `.venv-ref/bin/python`).
    pub python: Option<PathBuf>,
}

/// A population row with PyTorch's ensemble beside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparePopulationRow {
    /// The engine's row.
    #[serde(flatten)]
    pub row: PopulationRow,
    /// Member-samples/s of PyTorch's vmap ensemble.
    pub pytorch_member_samples_per_second: f64,
    /// Member-samples/s of the same PyTorch members trained one at a time.
    pub pytorch_alone_member_samples_per_second: f64,
    /// `member_samples_per_second / pytorch_member_samples_per_second`.
    pub ratio: f64,
    /// The reference's torch version.
    pub torch: String,
}

/// Runs the population benchmark and the reference for each of its rows; `on_row` sees
/// each row.
pub fn run_compare_population(
    config: &ComparePopulationConfig,
    data: BenchData<'_>,
    on_row: &mut dyn FnMut(&ComparePopulationRow),
) -> Result<Vec<ComparePopulationRow>> {
    if config.sizes.device != "cpu" || config.sizes.precision != Precision::Float32 {
        return Err(Error::config("bench", "the comparison with PyTorch's ensemble runs on the CPU in float32"));
    }
    let python = reference_python(config.python.as_deref())?;
    let dir = std::env::temp_dir().join(format!("densenas-compare-population-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let sizes = &config.sizes;
    let (features, classes) = match &data {
        BenchData::Loaded(d) => (d.train.features, d.train.classes),
        BenchData::Random(f, c) => (*f, *c),
    };
    let mut rows = Vec::new();
    let mut failure = None;
    run_population_bench(sizes, data_again(&data), &mut |row: &PopulationRow| {
        if failure.is_some() {
            return;
        }
        let reference = Space::new(SpaceConfig::new(features, classes, sizes.layers, row.width))
            .and_then(|space| run_reference(&python, &dir, sizes, &space, &data, row));
        match reference {
            Ok((sps, alone, torch)) => {
                let r = ComparePopulationRow {
                    ratio: row.member_samples_per_second / sps,
                    row: row.clone(),
                    pytorch_member_samples_per_second: sps,
                    pytorch_alone_member_samples_per_second: alone,
                    torch,
                };
                on_row(&r);
                rows.push(r);
            }
            Err(e) => failure = Some(e),
        }
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    match failure {
        Some(e) => Err(e),
        None => Ok(rows),
    }
}

fn data_again<'a>(data: &BenchData<'a>) -> BenchData<'a> {
    match data {
        BenchData::Loaded(d) => BenchData::Loaded(d),
        BenchData::Random(f, c) => BenchData::Random(*f, *c),
    }
}

/// The reference on `row`'s members (the bench's DAG draws; member `k` in seed group
/// `k % 3`, each group a batch of its own): (member-samples/s, alone, torch version).
fn run_reference(
    python: &Path,
    dir: &Path,
    sizes: &PopulationBenchConfig,
    space: &Space,
    data: &BenchData<'_>,
    row: &PopulationRow,
) -> Result<(f64, f64, String)> {
    let (b, groups) = (row.batch_size, 3.min(row.population));
    let (train, normalization) = bench_data(data, b * sizes.steps.max(1), sizes.seed)?;
    let idx: Vec<i64> = (0..(groups * b) as i64).map(|i| i % train.len()).collect();
    let (x, y) = train.rows(&Tensor::f_from_slice(&idx)?)?;
    let xn = normalization.apply(&x)?;
    let dags = draw_dags(space, row.population, sizes.p0, sizes.seed);
    let masks: Vec<Vec<u8>> = dags.iter().map(|d| Ok(d.mask(space)?.iter().map(|&m| m as u8).collect())).collect::<Result<_>>()?;
    let (xp, yp, cp) = (dir.join("x.f32"), dir.join("y.i64"), dir.join("config.json"));
    let xv = Vec::<f32>::try_from(&xn.f_contiguous()?.f_view([-1])?)?;
    let yv = Vec::<i64>::try_from(&y)?;
    std::fs::write(&xp, xv.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).map_err(|e| Error::io(&xp, e))?;
    std::fs::write(&yp, yv.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).map_err(|e| Error::io(&yp, e))?;
    let doc = serde_json::json!({
        "layers": space.layers(), "width": space.width(), "features": space.features(), "classes": space.classes(),
        "batch": b, "steps": sizes.steps, "threads": sizes.threads, "masks": masks, "edges": space.edges(),
        "groups": (0..row.population).map(|k| k % groups).collect::<Vec<_>>(), "x": xp, "y": yp,
    });
    std::fs::write(&cp, doc.to_string()).map_err(|e| Error::io(&cp, e))?;
    let script = checkout().join("scripts/population_reference.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(&cp)
        .env("OMP_NUM_THREADS", sizes.threads.to_string())
        .output()
        .map_err(|e| Error::io(python, e))?;
    let failed = |what: String| Error::Input(format!("the PyTorch ensemble reference ({}) {what}", python.display()));
    if !out.status.success() {
        return Err(failed(format!("failed: {}", String::from_utf8_lossy(&out.stderr))));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| failed(format!("printed no result ({e}): {}", String::from_utf8_lossy(&out.stdout))))?;
    let number = |key: &str| v[key].as_f64().ok_or_else(|| failed(format!("gave no {key}")));
    Ok((number("member_samples_per_second")?, number("alone_member_samples_per_second")?, v["torch"].as_str().unwrap_or("?").to_string()))
}
