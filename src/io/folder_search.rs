//! A search that lives in a run folder (docs/reliability.md): the folder is locked
//! for its duration, `config.json` is written first (so even a killed search leaves
//! its configuration), a checkpoint goes to `checkpoints/` after every complete phase,
//! the run folder is written at the end, and the checkpoints are removed once the
//! search has finished (kept when it was interrupted, or when asked to).
//!
//! [`resume_in_folder`] continues a search from its folder's latest checkpoint, with
//! the configuration the checkpoint holds; the finished run equals an uninterrupted
//! one.

use std::path::{Path, PathBuf};

use crate::data::{self, DataSplits};
use crate::error::{Error, Result};
use crate::io::run_folder::{write_config, write_run_folder, Written};
use crate::search::checkpoint::{self, LATEST};
use crate::search::summary::Summary;
use crate::search::{run_search_with, Control, Persistence, SearchConfig, SearchOutcome};
use crate::util::lock::FolderLock;

/// The checkpoints' folder inside a run folder.
pub const CHECKPOINTS: &str = "checkpoints";

/// What a search in a run folder produced.
pub struct FolderSearch {
    /// The configuration it ran with.
    pub config: SearchConfig,
    /// The search's outcome (its summary carries the ONNX check).
    pub outcome: SearchOutcome,
    /// The files written.
    pub written: Written,
}

/// Runs a fresh search with `config` into the run folder `dir` (created if needed).
/// A folder holding the checkpoints of an unfinished search is refused, so that no
/// resumable work is overwritten.
pub fn search_in_folder(dir: &Path, config: &SearchConfig, control: &mut Control<'_>, keep_checkpoints: bool) -> Result<FolderSearch> {
    config.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let _lock = FolderLock::acquire(dir, "a search")?;
    let checkpoints = dir.join(CHECKPOINTS);
    if checkpoints.join(LATEST).exists() {
        return Err(Error::State(format!(
            "{} holds an unfinished search (checkpoints in {}): continue it with `densenas search --resume {}`, or \
             remove that folder (or choose another run folder) to start afresh",
            dir.display(),
            checkpoints.display(),
            dir.display()
        )));
    }
    write_config(dir, config)?;
    let data = data::load_subsampled(&config.data, config.train_subsample)?;
    let persistence = Persistence { checkpoints: Some(checkpoints), resume: None };
    let outcome = run_search_with(config, &data, control, persistence)?;
    finish(dir, config.clone(), &data, outcome, keep_checkpoints)
}

/// Continues the search in the run folder `dir` from its latest checkpoint. `config`,
/// when given, must equal the checkpoint's (the error lists what differs); without it
/// the checkpoint's is used.
pub fn resume_in_folder(dir: &Path, config: Option<&SearchConfig>, control: &mut Control<'_>, keep_checkpoints: bool) -> Result<FolderSearch> {
    if !dir.is_dir() {
        return Err(Error::State(format!("cannot resume: {} is not a run folder", dir.display())));
    }
    let _lock = FolderLock::acquire(dir, "a search")?;
    refuse_finished(dir)?;
    let checkpoints = dir.join(CHECKPOINTS);
    let checkpoint = checkpoint::read_latest(&checkpoints)?;
    let config_path = dir.join("config.json");
    if config_path.exists() {
        let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let folder_config = SearchConfig::from_json(&text).map_err(|e| Error::data(&config_path, e.to_string()))?;
        let differences = checkpoint.config.differences(&folder_config);
        if !differences.is_empty() {
            return Err(Error::State(format!(
                "the checkpoint {} belongs to another configuration than {} ({}: the checkpoint's value first)",
                checkpoint.path.display(),
                config_path.display(),
                differences.join("; ")
            )));
        }
    }
    let config = config.cloned().unwrap_or_else(|| checkpoint.config.clone());
    let data = data::load_subsampled(&config.data, config.train_subsample)?;
    let persistence = Persistence { checkpoints: Some(checkpoints), resume: Some(checkpoint) };
    let outcome = run_search_with(&config, &data, control, persistence)?;
    finish(dir, config, &data, outcome, keep_checkpoints)
}

/// Runs the search of `config` in the run folder `dir` on `data` (loaded by the
/// caller), continuing from the folder's latest checkpoint when it has one (an
/// experiment's unit that was interrupted), else from the start; checkpoints are
/// removed when it finishes.
pub fn run_in_folder(dir: &Path, config: &SearchConfig, data: &DataSplits, control: &mut Control<'_>) -> Result<FolderSearch> {
    config.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let _lock = FolderLock::acquire(dir, "a search")?;
    let checkpoints = dir.join(CHECKPOINTS);
    let resume = if checkpoints.join(LATEST).exists() { Some(checkpoint::read_latest(&checkpoints)?) } else { None };
    write_config(dir, config)?;
    let persistence = Persistence { checkpoints: Some(checkpoints), resume };
    let outcome = run_search_with(config, data, control, persistence)?;
    finish(dir, config.clone(), data, outcome, false)
}

/// A run folder whose summary says the search finished has nothing to resume.
fn refuse_finished(dir: &Path) -> Result<()> {
    let path = dir.join("summary.json");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    match serde_json::from_str::<Summary>(&text) {
        Ok(s) if !s.interrupted => Err(Error::State(format!(
            "the search in {} has finished ({} is not marked interrupted): nothing to resume",
            dir.display(),
            path.display()
        ))),
        _ => Ok(()),
    }
}

fn finish(dir: &Path, config: SearchConfig, data: &DataSplits, mut outcome: SearchOutcome, keep_checkpoints: bool) -> Result<FolderSearch> {
    let written = write_run_folder(dir, &config, &mut outcome, &data.test)?;
    if !outcome.summary.interrupted && !keep_checkpoints {
        checkpoint::remove_all(&dir.join(CHECKPOINTS))?;
    }
    Ok(FolderSearch { config, outcome, written })
}

/// The checkpoints' folder of the run folder `dir`.
pub fn checkpoints_of(dir: &Path) -> PathBuf {
    dir.join(CHECKPOINTS)
}
