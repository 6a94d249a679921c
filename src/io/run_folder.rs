//! Writing a search's run folder: `summary.json`, `config.json`, `best.json`,
//! `history.jsonl` (one record per evaluated block), `density.json`, `alpha.json`
//! (alpha per step), the charts in `plots/`, and `best.onnx` checked in ONNX Runtime on
//! the test split (when that check fails, `best.network` too: the network itself, so
//! that the check can run again without searching again).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::io::export::onnx::{self, ExportMetadata};
use crate::io::export::verify::check;
use crate::io::network_file;
use crate::model::network::Network;
use crate::search::summary::OnnxCheck;
use crate::search::{SearchConfig, SearchOutcome};
use crate::util::atomic::write_atomic;

/// `config.json`: the full resolved configuration with the version and commit.
#[derive(Serialize)]
struct ConfigFile<'a> {
    densenas_version: &'a str,
    git_commit: &'a str,
    #[serde(flatten)]
    config: &'a SearchConfig,
}

/// `best.json`: the best DAG with its metrics and accuracies.
#[derive(Serialize)]
struct BestFile<'a> {
    layers: usize,
    edges: &'a [(usize, usize)],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    ops: &'a [crate::model::ops::Op],
    #[serde(flatten)]
    maps: &'a crate::search::summary::MapKeys,
    metrics: &'a crate::model::dag::DagMetrics,
    val_accuracy: f64,
    inherited_test_accuracy: f64,
    test_accuracy: f64,
    params: usize,
    flops: usize,
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_atomic(path, (text + "\n").as_bytes())
}

/// Writes `config.json` (the full resolved configuration with the version and commit)
/// into the run folder `dir`.
pub fn write_config(dir: &Path, config: &SearchConfig) -> Result<PathBuf> {
    let path = dir.join("config.json");
    write_json(&path, &ConfigFile { densenas_version: crate::VERSION, git_commit: crate::GIT_COMMIT, config })?;
    Ok(path)
}

/// What [`write_run_folder`] wrote.
pub struct Written {
    /// The files written.
    pub paths: Vec<PathBuf>,
    /// Why the ONNX Runtime check of `best.onnx` failed, if it did (everything else is
    /// written all the same, and `summary.json`'s `onnx` entry says `"failed"` and why).
    /// When ONNX Runtime cannot be loaded at all, the check is not a failure: the entry
    /// says it was skipped and why.
    pub onnx_error: Option<Error>,
}

/// Writes the run folder `dir` (created if needed): the JSON files, then `best.onnx`,
/// then its check in ONNX Runtime on `test`, and `summary.json` last with the check's
/// figures in `outcome.summary.onnx`.
pub fn write_run_folder(dir: &Path, config: &SearchConfig, outcome: &mut SearchOutcome, test: &Dataset) -> Result<Written> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut written = vec![write_config(dir, config)?];

    let s = &outcome.summary.best;
    let best_path = dir.join("best.json");
    write_json(
        &best_path,
        &BestFile {
            layers: outcome.summary.space.layers,
            edges: &s.edges,
            ops: if s.ops.iter().all(|&o| o == crate::model::ops::Op::Dense) { &[] } else { &s.ops },
            maps: &s.maps,
            metrics: &s.metrics,
            val_accuracy: s.val_accuracy,
            inherited_test_accuracy: s.inherited_test_accuracy,
            test_accuracy: s.test_accuracy,
            params: s.params,
            flops: s.flops,
        },
    )?;
    written.push(best_path);

    let history_path = dir.join("history.jsonl");
    let mut text = Vec::new();
    for record in &outcome.history {
        serde_json::to_writer(&mut text, record)?;
        text.write_all(b"\n").map_err(|e| Error::io(&history_path, e))?;
    }
    write_atomic(&history_path, &text)?;
    written.push(history_path);

    let density_path = dir.join("density.json");
    write_json(&density_path, &outcome.density)?;
    written.push(density_path);

    let alpha_path = dir.join("alpha.json");
    write_json(&alpha_path, &outcome.alpha_trace)?;
    written.push(alpha_path);
    written.extend(crate::io::plot::write_plots(dir, outcome, outcome.best_network.space.edges())?);

    let (onnx_path, check) = export_best(&outcome.best_network, dir, test)?;
    written.push(onnx_path);
    let (onnx, onnx_error) = recorded(check);
    outcome.summary.onnx = Some(onnx);
    if onnx_error.is_some() {
        // Kept so that the check can run again without searching again.
        let path = dir.join(network_file::NETWORK_FILE);
        network_file::write(&path, &outcome.best_network)?;
        written.push(path);
    }

    let summary_path = dir.join("summary.json");
    write_json(&summary_path, &outcome.summary)?;
    written.push(summary_path);
    Ok(Written { paths: written, onnx_error })
}

/// Writes `network` to `dir/best.onnx` and checks it in ONNX Runtime on `test`: the
/// check's figures, or why it was skipped (ONNX Runtime cannot be loaded: not a
/// failure), or the [`Error::Check`] of a check that failed. Only a failed export (or a
/// failure of the engine's own computation) is an `Err`.
pub fn export_best(network: &Network, dir: &Path, test: &Dataset) -> Result<(PathBuf, Result<OnnxCheck>)> {
    let onnx_path = dir.join("best.onnx");
    onnx::write(network, &onnx_path, &ExportMetadata::default())?;
    let check = match check(network, &onnx_path, "best.onnx", test) {
        Err(e) if !matches!(e, Error::Check { .. }) => return Err(e),
        verdict => verdict,
    };
    Ok((onnx_path, check))
}

/// The `onnx` entry a summary records for a verdict, and the error of a failed check.
pub fn recorded(check: Result<OnnxCheck>) -> (OnnxCheck, Option<Error>) {
    match check {
        Ok(onnx) => (onnx, None),
        Err(e) => {
            let failed = match &e {
                Error::Check { message, .. } => message.clone(),
                other => other.to_string(),
            };
            (OnnxCheck::Failed { path: "best.onnx".into(), failed }, Some(e))
        }
    }
}
