//! A search that lives in a run folder (docs/reliability.md). The configuration is
//! validated and the data loaded before the folder is touched, so refused input leaves
//! no folder (and an existing one as it was). The folder is then locked for the
//! search's duration, `config.json` is written first (so even a killed search leaves
//! its configuration), a checkpoint goes to `checkpoints/` after every complete phase,
//! the run folder is written at the end, and the checkpoints are removed once the
//! search has finished (kept when it was interrupted, or when asked to).
//!
//! A fresh search never silently replaces a finished run (a `summary.json` not marked
//! interrupted): it is refused unless asked to overwrite it, and a folder holding the
//! checkpoints of an unfinished search is always refused.
//!
//! [`resume_in_folder`] continues a search from its folder's latest checkpoint, with
//! the configuration the checkpoint holds; the finished run equals an uninterrupted
//! one.

use std::path::{Path, PathBuf};

use crate::data::{self, DataSplits, Dataset};
use crate::error::{Error, Result};
use crate::io::export::verify;
use crate::io::network_file::{self, NETWORK_FILE};
use crate::io::run_folder::{recorded, write_config, write_run_folder, Written};
use crate::search::checkpoint::{self, LATEST};
use crate::search::session::HistoryRecord;
use crate::search::summary::{OnnxCheck, Summary};
use crate::search::{run_search_with, Control, Persistence, SearchConfig, SearchOutcome};
use crate::util::atomic::write_atomic;
use crate::util::lock::FolderLock;

/// The checkpoints' folder inside a run folder.
pub const CHECKPOINTS: &str = "checkpoints";

/// What a search in a run folder produced. A search whose `best.onnx` failed its ONNX
/// Runtime check ends in [`Error::Check`] instead; a skipped check (ONNX Runtime
/// missing) is in `outcome.summary.onnx` with its reason.
pub struct FolderSearch {
    /// The configuration it ran with.
    pub config: SearchConfig,
    /// The search's outcome (its summary carries the ONNX check).
    pub outcome: SearchOutcome,
    /// The files written.
    pub written: Written,
}

/// Runs a fresh search with `config` into the run folder `dir` (created if needed).
/// The configuration and the data are checked first: refused input leaves no folder
/// behind. A folder holding a finished run is refused unless `overwrite` (its run
/// files are then removed before the search starts); one holding the checkpoints of an
/// unfinished search is refused, so that no resumable work is overwritten.
pub fn search_in_folder(
    dir: &Path,
    config: &SearchConfig,
    control: &mut Control<'_>,
    keep_checkpoints: bool,
    overwrite: bool,
) -> Result<FolderSearch> {
    config.validate()?;
    let data = data::load_subsampled(&config.data, config.train_subsample)?;
    config.validate_for(&data)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let _lock = FolderLock::acquire(dir, "a search")?;
    make_room(dir, overwrite)?;
    let checkpoints = dir.join(CHECKPOINTS);
    write_config(dir, config)?;
    let persistence = Persistence { checkpoints: Some(checkpoints), resume: None };
    let outcome = run_search_with(config, &data, control, persistence)?;
    finish(dir, config.clone(), &data, outcome, keep_checkpoints)
}

/// Refuses a fresh search into `dir` when it holds a finished run (unless
/// `overwrite`: the old run's files are then removed) or an unfinished one.
fn make_room(dir: &Path, overwrite: bool) -> Result<()> {
    if let Some(summary) = finished_summary(dir) {
        if !overwrite {
            return Err(Error::folder(dir, format!(
                "holds a finished run ({} is not marked interrupted): pass --overwrite (the run option \
                 \"overwrite\": true; overwrite=True in Python) to replace it, or choose another run folder",
                summary.display()
            )));
        }
        remove_run(dir)?;
    }
    let checkpoints = dir.join(CHECKPOINTS);
    if checkpoints.join(LATEST).exists() {
        return Err(Error::folder(dir, format!(
            "holds an unfinished search (checkpoints in {}): continue it with `densenas search --resume {}`, or \
             remove that folder (or choose another run folder) to start afresh",
            checkpoints.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// The files and folders a run writes into its run folder, `summary.json` first: an
/// overwritten run stops counting as finished before anything else of it goes.
const RUN_FILES: [&str; 10] = [
    "summary.json",
    "config.json",
    "best.json",
    "best.onnx",
    NETWORK_FILE,
    "history.jsonl",
    "density.json",
    "alpha.json",
    "plots",
    CHECKPOINTS,
];

/// Removes a finished run's files from `dir` (anything else there stays).
fn remove_run(dir: &Path) -> Result<()> {
    for name in RUN_FILES {
        let path = dir.join(name);
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&path, e)),
            _ => {}
        }
    }
    Ok(())
}

/// `dir/summary.json` when it says the search there finished: it exists and is not
/// marked `"interrupted": true`.
pub fn finished_summary(dir: &Path) -> Option<PathBuf> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).ok()?;
    let interrupted = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v.get("interrupted")?.as_bool());
    (interrupted != Some(true)).then_some(path)
}

/// Continues the search in the run folder `dir` from its latest checkpoint. `config`,
/// when given, must equal the checkpoint's (the error lists what differs); without it
/// the checkpoint's is used.
pub fn resume_in_folder(dir: &Path, config: Option<&SearchConfig>, control: &mut Control<'_>, keep_checkpoints: bool) -> Result<FolderSearch> {
    if !dir.is_dir() {
        return Err(Error::folder(dir, "cannot resume: not a run folder"));
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
            return Err(Error::folder(&checkpoint.path, format!(
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
/// removed when it finishes. A folder holding a finished run is refused: read it with
/// [`read_finished`] instead of searching again.
pub fn run_in_folder(dir: &Path, config: &SearchConfig, data: &DataSplits, control: &mut Control<'_>) -> Result<FolderSearch> {
    config.validate_for(data)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let _lock = FolderLock::acquire(dir, "a search")?;
    if let Some(summary) = finished_summary(dir) {
        return Err(Error::folder(dir, format!("holds a finished run ({} is not marked interrupted): it is not searched again", summary.display())));
    }
    let checkpoints = dir.join(CHECKPOINTS);
    let resume = if checkpoints.join(LATEST).exists() { Some(checkpoint::read_latest(&checkpoints)?) } else { None };
    write_config(dir, config)?;
    let persistence = Persistence { checkpoints: Some(checkpoints), resume };
    let outcome = run_search_with(config, data, control, persistence)?;
    finish(dir, config.clone(), data, outcome, false)
}

/// A finished run read back from its folder.
pub struct FinishedRun {
    /// `summary.json`.
    pub summary: Summary,
    /// `history.jsonl`, one record per evaluated block.
    pub history: Vec<HistoryRecord>,
}

/// The finished run in `dir`, when the folder holds one (`None` when it holds none,
/// or an unfinished or interrupted one). Its `config.json` must equal `config`: a
/// finished run of another configuration is an error naming what differs.
pub fn read_finished(dir: &Path, config: &SearchConfig) -> Result<Option<FinishedRun>> {
    if finished_summary(dir).is_none() {
        return Ok(None);
    }
    let _lock = FolderLock::acquire(dir, "a search")?;
    let Some(summary_path) = finished_summary(dir) else { return Ok(None) };
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
    let folder_config = SearchConfig::from_json(&text).map_err(|e| Error::data(&config_path, e.to_string()))?;
    let differences = config.differences(&folder_config);
    if !differences.is_empty() {
        return Err(Error::folder(dir, format!("holds a finished run of another configuration ({}: this one's value first)", differences.join("; "))));
    }
    let text = std::fs::read_to_string(&summary_path).map_err(|e| Error::io(&summary_path, e))?;
    let summary = serde_json::from_str(&text).map_err(|e| Error::data(&summary_path, format!("not a run's summary ({e})")))?;
    let history_path = dir.join("history.jsonl");
    let text = std::fs::read_to_string(&history_path).map_err(|e| Error::io(&history_path, e))?;
    let history = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| Error::data(&history_path, format!("line {}: not a history record ({e})", i + 1)))
        })
        .collect::<Result<Vec<HistoryRecord>>>()?;
    Ok(Some(FinishedRun { summary, history }))
}

/// Runs the ONNX Runtime check of a finished run again, when its summary says the
/// check failed (its `best.network` holds the network): the run's summary is updated
/// in memory and in `dir/summary.json`, and `best.network` removed once the check
/// passes or is skipped. A run whose check did not fail is left alone. A check that
/// fails again is [`Error::Check`] (the summary then holds the new reason).
pub fn recheck_finished(dir: &Path, run: &mut FinishedRun, test: &Dataset) -> Result<()> {
    if !matches!(run.summary.onnx, Some(OnnxCheck::Failed { .. })) {
        return Ok(());
    }
    let _lock = FolderLock::acquire(dir, "a search")?;
    let network_path = dir.join(NETWORK_FILE);
    let network = network_file::read(&network_path)?;
    let check = verify::check(&network, &dir.join("best.onnx"), "best.onnx", test);
    let check = match check {
        Err(e) if !matches!(e, Error::Check { .. }) => return Err(e),
        verdict => verdict,
    };
    let (onnx, error) = recorded(check);
    run.summary.onnx = Some(onnx);
    let summary_path = dir.join("summary.json");
    write_atomic(&summary_path, (serde_json::to_string_pretty(&run.summary)? + "\n").as_bytes())?;
    match error {
        Some(e) => Err(written_anyway(e, dir)),
        None => std::fs::remove_file(&network_path).map_err(|e| Error::io(&network_path, e)),
    }
}

/// A run folder whose summary says the search finished has nothing to resume.
fn refuse_finished(dir: &Path) -> Result<()> {
    match finished_summary(dir) {
        Some(path) => Err(Error::folder(dir, format!("the search here has finished ({} is not marked interrupted): nothing to resume", path.display()))),
        None => Ok(()),
    }
}

/// Writes the run folder and ends the search: a failed ONNX Runtime check of
/// `best.onnx` is the search's error (the folder is written all the same, its summary
/// saying `"failed"`), so that every caller gives the same verdict.
fn finish(dir: &Path, config: SearchConfig, data: &DataSplits, mut outcome: SearchOutcome, keep_checkpoints: bool) -> Result<FolderSearch> {
    let mut written = write_run_folder(dir, &config, &mut outcome, &data.test)?;
    if !outcome.summary.interrupted && !keep_checkpoints {
        checkpoint::remove_all(&dir.join(CHECKPOINTS))?;
    }
    if let Some(e) = written.onnx_error.take() {
        return Err(written_anyway(e, dir));
    }
    Ok(FolderSearch { config, outcome, written })
}

/// A failed check's error saying that the run folder `dir` is written all the same.
fn written_anyway(e: Error, dir: &Path) -> Error {
    match e {
        Error::Check { path, message } => {
            Error::Check { path, message: format!("{message} (the rest of the run folder {} is written)", dir.display()) }
        }
        other => other,
    }
}

/// The checkpoints' folder of the run folder `dir`.
pub fn checkpoints_of(dir: &Path) -> PathBuf {
    dir.join(CHECKPOINTS)
}
