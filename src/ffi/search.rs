//! A whole search from C, with a progress callback that can stop it, checkpoints in
//! the run folder and resumption from them.

use std::ffi::{c_char, c_void};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;

use super::boundary::{not_null, str_arg, write_out};
use super::densenas_status;
use super::string::to_c_string;
use crate::data;
use crate::error::{Error, Result};
use crate::io::folder_search::{resume_in_folder, search_in_folder};
use crate::search::summary::Summary;
use crate::search::{run_search_with, Control, Event, Persistence, SearchConfig};

/// What a progress report is about (`densenas_progress.kind`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum densenas_progress_kind {
    /// An epoch of a search phase ended (`loss`, `arch_loss`: the epoch's means).
    DENSENAS_PROGRESS_EPOCH = 0,
    /// A search phase ended (its blocks were judged); `best_val_accuracy` is set.
    DENSENAS_PROGRESS_PHASE = 1,
    /// An epoch of retraining (the best DAG, then the chain baseline) ended (`loss`:
    /// the epoch's mean training loss).
    DENSENAS_PROGRESS_RETRAIN = 2,
    /// A step of a search phase ended (`epoch` holds the step within the phase and
    /// `epochs` the phase's steps; `loss` and `arch_loss` are that step's batch
    /// losses, not epoch means). Sent only when the run options ask for
    /// `"step_reports": true`.
    DENSENAS_PROGRESS_STEP = 3,
    /// An epoch of `densenas_train` ended (`loss`: the mean over the members still
    /// training of their epoch's mean loss; `phase` 0).
    DENSENAS_PROGRESS_TRAIN = 4,
}

/// What a progress callback is told.
#[repr(C)]
pub struct densenas_progress {
    /// A `densenas_progress_kind` value.
    pub kind: u32,
    /// Phase (from 0); for retraining, 0 for the best DAG and 1 for the baseline.
    pub phase: usize,
    /// Epoch (from 0) within the phase or the retraining; for a step report, the step
    /// within the phase.
    pub epoch: usize,
    /// Epochs in the phase or the retraining; for a step report, steps in the phase.
    pub epochs: usize,
    /// Mean weight-step (or training) loss of the epoch, or the step's loss; NaN after
    /// a phase.
    pub loss: f64,
    /// Mean architecture-step loss of the epoch, or the step's; NaN otherwise.
    pub arch_loss: f64,
    /// Best validation accuracy so far (after a phase); NaN otherwise.
    pub best_val_accuracy: f64,
}

/// A progress callback: called on the thread that runs the search, with a pointer
/// valid only during the call and the caller's `user_data`. Return 0 to go on, or
/// non-zero to stop the search: it finishes the current step, judges the phase under
/// way there (not checkpointed), skips or ends retraining, and reports a summary marked
/// `"interrupted": true`; the callback is not called again after it asked to stop.
///
/// The callback must return normally: it must not unwind (throw a C++ exception) or
/// `longjmp` out of the library. It may call densenas functions on other objects, but
/// must not free anything the running search uses.
pub type densenas_progress_callback =
    Option<unsafe extern "C" fn(progress: *const densenas_progress, user_data: *mut c_void) -> i32>;

/// The run options of `densenas_search_run_with_options` (JSON; unknown keys refused).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RunOptions {
    /// Continue the search in `out_dir` from its latest checkpoint.
    resume: bool,
    /// Keep `out_dir/checkpoints` when the search finishes.
    keep_checkpoints: bool,
    /// Replace a finished run in `out_dir` (refused otherwise).
    overwrite: bool,
    /// Send `DENSENAS_PROGRESS_STEP` reports.
    step_reports: bool,
}

/// Turns search events into C progress reports for `callback`; once the callback asks
/// to stop, sets `stop` and calls it no more.
fn reporter<'a>(
    callback: densenas_progress_callback,
    user_data: *mut c_void,
    step_reports: bool,
    stop: &'a AtomicBool,
) -> impl FnMut(Event<'_>) + 'a {
    let mut best = f64::NAN;
    move |event: Event<'_>| {
        let Some(cb) = callback else { return };
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let report = |kind: densenas_progress_kind, phase, epoch, epochs, loss, arch_loss, best| densenas_progress {
            kind: kind as u32,
            phase,
            epoch,
            epochs,
            loss,
            arch_loss,
            best_val_accuracy: best,
        };
        use densenas_progress_kind::*;
        let p = match event {
            Event::Step { .. } if !step_reports => return,
            Event::Step { phase, step, steps, weight_loss, arch_loss } => {
                report(DENSENAS_PROGRESS_STEP, phase, step, steps, weight_loss, arch_loss, best)
            }
            Event::Epoch { phase, epoch, epochs, weight_loss, arch_loss, .. } => {
                report(DENSENAS_PROGRESS_EPOCH, phase, epoch, epochs, weight_loss, arch_loss, best)
            }
            Event::Phase(r) => {
                best = r.best_val_accuracy;
                report(DENSENAS_PROGRESS_PHASE, r.phase, 0, 0, f64::NAN, f64::NAN, best)
            }
            Event::Retrain { which, epoch, epochs, loss } => {
                report(DENSENAS_PROGRESS_RETRAIN, usize::from(which != "best"), epoch, epochs, loss, f64::NAN, best)
            }
        };
        // SAFETY: a C callback given by the caller; `p` outlives the call.
        if unsafe { cb(&p, user_data) } != 0 {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// The search behind both exports.
fn run(config: Option<SearchConfig>, out_dir: Option<&str>, options: &RunOptions, control: &mut Control<'_>) -> Result<Summary> {
    if options.resume {
        let dir = out_dir.ok_or_else(|| Error::Input("resume needs out_dir: the run folder to continue".into()))?;
        return Ok(resume_in_folder(Path::new(dir), config.as_ref(), control, options.keep_checkpoints)?.outcome.summary);
    }
    let config = config.unwrap_or_default();
    let Some(dir) = out_dir else {
        let splits = data::load_subsampled(&config.data, config.train_subsample)?;
        return Ok(run_search_with(&config, &splits, control, Persistence::default())?.summary);
    };
    Ok(search_in_folder(Path::new(dir), &config, control, options.keep_checkpoints, options.overwrite)?.outcome.summary)
}

/// Runs a whole search: `config_json` has the keys of a run folder's `config.json`
/// (`"{}"` for the defaults: a search on the embedded digits). When `out_dir` is not
/// NULL the run folder (summary, history, `best.onnx`, ...) is written there, with a
/// checkpoint after every complete phase (removed when the search finishes). The
/// configuration and the dataset are checked before `out_dir` is created, so a refused
/// input leaves no folder. A folder that holds a finished run (a `summary.json` not
/// marked interrupted) is refused with `DENSENAS_STATUS_INVALID_STATE`; to replace it,
/// call `densenas_search_run_with_options` with the run option `"overwrite": true`.
/// `callback` may be NULL. On success `*summary_json_out` receives `summary.json`'s
/// content, a string the caller owns and must free with `densenas_string_free`. If ONNX
/// Runtime cannot be loaded, the summary's `onnx` entry says the check was skipped and
/// why; if `best.onnx` fails its check (ONNX Runtime cannot run it, or its logits are
/// out of tolerance) the call fails with `DENSENAS_STATUS_CHECK_FAILED`, the run folder
/// written all the same (on a fresh search and on a resumed one alike).
/// The search does not change libtorch's process-wide thread count unless
/// `config_json` sets `"threads"`. Blocking; independent searches may run on different
/// threads at once (into different run folders: a run folder is locked while in use).
#[no_mangle]
pub unsafe extern "C" fn densenas_search_run(
    config_json: *const c_char,
    out_dir: *const c_char,
    callback: densenas_progress_callback,
    user_data: *mut c_void,
    summary_json_out: *mut *mut c_char,
) -> densenas_status {
    // SAFETY: the same contract.
    unsafe { densenas_search_run_with_options(config_json, out_dir, std::ptr::null(), callback, user_data, summary_json_out) }
}

/// `densenas_search_run` with run options, a JSON object (NULL or `"{}"` for the
/// defaults; unknown keys refused):
///
/// - `"resume": true` continues the search in `out_dir` (required) from its latest
///   checkpoint; `config_json` may then be NULL (the checkpoint's configuration is
///   used) or must equal the checkpoint's. The finished run equals an uninterrupted
///   one, and the summary gets a `"resumed"` entry.
/// - `"keep_checkpoints": true` keeps `out_dir/checkpoints` when the search finishes.
/// - `"overwrite": true` lets a fresh search replace a finished run in `out_dir` (its
///   run files are removed first; other files there stay); without it such a folder is
///   refused. A folder holding an unfinished search (checkpoints) is refused either
///   way: resume it, or remove it.
/// - `"step_reports": true` sends a `DENSENAS_PROGRESS_STEP` report after every step.
#[no_mangle]
pub unsafe extern "C" fn densenas_search_run_with_options(
    config_json: *const c_char,
    out_dir: *const c_char,
    run_options_json: *const c_char,
    callback: densenas_progress_callback,
    user_data: *mut c_void,
    summary_json_out: *mut *mut c_char,
) -> densenas_status {
    ffi_boundary!({
        not_null(summary_json_out, "summary_json_out")?;
        // SAFETY: per the contract.
        let options: RunOptions = if run_options_json.is_null() {
            RunOptions::default()
        } else {
            crate::util::json::from_json_object(unsafe { str_arg(run_options_json, "run_options_json") }?, "run options")?
        };
        let config = if config_json.is_null() {
            if !options.resume {
                return Err(Error::NullPointer("config_json".into()));
            }
            None
        } else {
            Some(SearchConfig::from_json(unsafe { str_arg(config_json, "config_json") }?)?)
        };
        let out_dir = if out_dir.is_null() { None } else { Some(unsafe { str_arg(out_dir, "out_dir") }?) };
        let stop = AtomicBool::new(false);
        let mut on_event = reporter(callback, user_data, options.step_reports, &stop);
        let summary = run(config, out_dir, &options, &mut Control { on_event: &mut on_event, stop: &stop })?;
        let json = to_c_string(serde_json::to_string_pretty(&summary)?)?;
        unsafe { write_out(summary_json_out, json) };
        Ok(())
    })
}
