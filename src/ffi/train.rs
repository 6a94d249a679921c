//! Standalone training from C: a list of DAGs trained with a list of seeds as one
//! population (JSON in, JSON out), with the progress callback and stop of a search.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

use super::boundary::{not_null, str_arg, write_out};
use super::densenas_status;
use super::search::{densenas_progress, densenas_progress_callback, densenas_progress_kind};
use super::string::to_c_string;
use crate::train::TrainRequest;

/// An epoch's report for `callback`: the mean loss over the members still training
/// (NaN when none is). Once the callback asks to stop, sets `stop` and calls it no more.
fn epoch_reporter<'a>(
    callback: densenas_progress_callback,
    user_data: *mut c_void,
    epochs: usize,
    stop: &'a AtomicBool,
) -> impl FnMut(usize, &[Option<f64>]) + 'a {
    move |epoch, losses| {
        let Some(cb) = callback else { return };
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let alive: Vec<f64> = losses.iter().flatten().copied().collect();
        let loss = if alive.is_empty() { f64::NAN } else { alive.iter().sum::<f64>() / alive.len() as f64 };
        let p = densenas_progress {
            kind: densenas_progress_kind::DENSENAS_PROGRESS_TRAIN as u32,
            phase: 0,
            epoch,
            epochs,
            loss,
            arch_loss: f64::NAN,
            best_val_accuracy: f64::NAN,
        };
        // SAFETY: a C callback given by the caller; `p` outlives the call.
        if unsafe { cb(&p, user_data) } != 0 {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Trains DAGs from fresh weights as one population. `request_json` is an object:
///
/// - `"dags"` (required): a list of DAGs, `{"layers": L, "edges": [[i, j], ...]}` (with
///   `"ops"` in a typed space), all with the same `L`;
/// - `"seeds"`: every DAG is trained with each (default `[0]`); members are DAG-major;
/// - `"data"` (default `"digits"`), `"train_subsample"`;
/// - `"space"`: a search's space options (`width`, `activation`, `aggregation`,
///   `norm`, `max_skip`, `ops`, `shape`, ...); `layers` is the DAGs';
/// - `"train"`: a search's `retrain` object (epochs, batch size, optimiser, schedule,
///   clipping);
/// - `"device"`, `"precision"`, `"deterministic"` as in a search's session options.
///
/// A member's weights and data order come from its seed as in a search's retraining of
/// its best DAG, and its result does not depend on the other members. `callback` (may
/// be NULL) gets a `DENSENAS_PROGRESS_TRAIN` report after every epoch (`loss`: the mean
/// over the members still training); returning non-zero stops the training at the next
/// step, and the result is `{"members": [], "interrupted": true, ...}`. On success
/// `*result_json_out` receives `{"members": [{"member", "dag", "seed", "params",
/// "flops", "train_accuracy", "test_accuracy", "test_loss"} or {"member", "dag", "seed",
/// "failed": REASON} for a member whose loss or update became non-finite], "train_seconds",
/// "interrupted"}`, a string the caller owns and must free with `densenas_string_free`.
/// Sets libtorch's numerics (deterministic algorithms, TF32) as a search does; not its
/// thread count. Blocking.
#[no_mangle]
pub unsafe extern "C" fn densenas_train(
    request_json: *const c_char,
    callback: densenas_progress_callback,
    user_data: *mut c_void,
    result_json_out: *mut *mut c_char,
) -> densenas_status {
    ffi_boundary!({
        not_null(result_json_out, "result_json_out")?;
        // SAFETY: per the contract.
        let request = TrainRequest::from_json(unsafe { str_arg(request_json, "request_json") }?)?;
        let stop = AtomicBool::new(false);
        let mut on_epoch = epoch_reporter(callback, user_data, request.train.epochs, &stop);
        let response = request.run(&mut on_epoch, &stop)?;
        let json = to_c_string(serde_json::to_string(&response)?)?;
        unsafe { write_out(result_json_out, json) };
        Ok(())
    })
}
