//! A whole search from C, with a progress callback that can stop it.

use std::ffi::{c_char, c_void};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::boundary::{not_null, str_arg, write_out};
use super::densenas_status;
use super::string::to_c_string;
use crate::data;
use crate::io::run_folder::write_run_folder;
use crate::search::{run_search_until, Event, SearchConfig};

/// What a progress report is about (`densenas_progress.kind`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum densenas_progress_kind {
    /// An epoch of a search phase ended.
    DENSENAS_PROGRESS_EPOCH = 0,
    /// A search phase ended (its blocks were judged).
    DENSENAS_PROGRESS_PHASE = 1,
    /// An epoch of retraining (the best DAG, then the chain baseline) ended.
    DENSENAS_PROGRESS_RETRAIN = 2,
}

/// What a progress callback is told.
#[repr(C)]
pub struct densenas_progress {
    /// A `densenas_progress_kind` value.
    pub kind: u32,
    /// Phase (from 0); for retraining, 0 for the best DAG and 1 for the baseline.
    pub phase: usize,
    /// Epoch (from 0) within the phase or the retraining.
    pub epoch: usize,
    /// Epochs in the phase or the retraining.
    pub epochs: usize,
    /// Mean weight-step (or training) loss of the epoch; NaN after a phase.
    pub loss: f64,
    /// Mean architecture-step loss of the epoch; NaN otherwise.
    pub arch_loss: f64,
    /// Best validation accuracy so far (after a phase); NaN otherwise.
    pub best_val_accuracy: f64,
}

/// A progress callback: called on the thread that runs the search, with a pointer
/// valid only during the call and the caller's `user_data`. Return 0 to go on, or
/// non-zero to stop the search: it finishes the current step, ends the phase there,
/// skips retraining and reports a summary marked `"interrupted": true`.
pub type densenas_progress_callback =
    Option<unsafe extern "C" fn(progress: *const densenas_progress, user_data: *mut c_void) -> i32>;

/// Runs a whole search: `config_json` has the keys of a run folder's `config.json`
/// (`"{}"` for the defaults: a search on the embedded digits). When `out_dir` is not
/// NULL the run folder (summary, history, `best.onnx`, ...) is written there.
/// `callback` may be NULL. On success `*summary_json_out` receives `summary.json`'s
/// content, a string the caller owns and must free with `densenas_string_free`.
/// Blocking; independent searches may run on different threads at once.
#[no_mangle]
pub unsafe extern "C" fn densenas_search_run(
    config_json: *const c_char,
    out_dir: *const c_char,
    callback: densenas_progress_callback,
    user_data: *mut c_void,
    summary_json_out: *mut *mut c_char,
) -> densenas_status {
    ffi_boundary!({
        not_null(summary_json_out, "summary_json_out")?;
        // SAFETY: per the contract.
        let config = SearchConfig::from_json(unsafe { str_arg(config_json, "config_json") }?)?;
        let out_dir = if out_dir.is_null() { None } else { Some(unsafe { str_arg(out_dir, "out_dir") }?) };
        let splits = data::load(&config.data)?;
        let stop = AtomicBool::new(false);
        let mut best = f64::NAN;
        let mut on_event = |event: Event<'_>| {
            let Some(cb) = callback else { return };
            let p = match event {
                Event::Step { .. } => return,
                Event::Epoch { phase, epoch, epochs, weight_loss, arch_loss, .. } => densenas_progress {
                    kind: densenas_progress_kind::DENSENAS_PROGRESS_EPOCH as u32,
                    phase,
                    epoch,
                    epochs,
                    loss: weight_loss,
                    arch_loss,
                    best_val_accuracy: best,
                },
                Event::Phase(report) => {
                    best = report.best_val_accuracy;
                    densenas_progress {
                        kind: densenas_progress_kind::DENSENAS_PROGRESS_PHASE as u32,
                        phase: report.phase,
                        epoch: 0,
                        epochs: 0,
                        loss: f64::NAN,
                        arch_loss: f64::NAN,
                        best_val_accuracy: best,
                    }
                }
                Event::Retrain { which, epoch, epochs, loss } => densenas_progress {
                    kind: densenas_progress_kind::DENSENAS_PROGRESS_RETRAIN as u32,
                    phase: usize::from(which != "best"),
                    epoch,
                    epochs,
                    loss,
                    arch_loss: f64::NAN,
                    best_val_accuracy: best,
                },
            };
            // SAFETY: a C callback given by the caller; `p` outlives the call.
            if unsafe { cb(&p, user_data) } != 0 {
                stop.store(true, Ordering::Relaxed);
            }
        };
        let mut outcome = run_search_until(&config, &splits, &mut on_event, &stop)?;
        if let Some(dir) = out_dir {
            let written = write_run_folder(Path::new(dir), &config, &mut outcome, &splits.test)?;
            if let Some(e) = written.onnx_error {
                return Err(e);
            }
        }
        let json = to_c_string(serde_json::to_string_pretty(&outcome.summary)?)?;
        unsafe { write_out(summary_json_out, json) };
        Ok(())
    })
}
