//! `densenas_session`: a search session driven step by step from C.

use std::ffi::c_char;
use std::path::Path;
use std::sync::Mutex;

use tch::Tensor;

use super::boundary::{copy_out, not_null, slice_arg, str_arg, write_out};
use super::dataset::densenas_dataset;
use super::densenas_status;
use super::space::densenas_space;
use super::string::to_c_string;
use crate::error::{Error, Result};
use crate::io::export::onnx::{self, ExportMetadata};
use crate::model::network::Normalization;
use crate::search::session::{raw_batch, Session, SessionOptions};

/// A search session (opaque): `k` blocks over shared weights, `alpha`, the strategy,
/// the DAG density and the history. Calls on one session are serialised by an internal
/// lock, so a session may be used from several threads, one call at a time; different
/// sessions run independently (and give the results they give alone).
pub struct densenas_session {
    inner: Mutex<Session>,
}

impl densenas_session {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Session>> {
        self.inner.lock().map_err(|_| Error::Internal("the session was poisoned by an earlier panic".into()))
    }
}

/// The session behind a handle.
///
/// # Safety
/// `s` must be NULL or a live session.
unsafe fn session<'a>(s: *const densenas_session) -> Result<&'a densenas_session> {
    not_null(s, "session")?;
    // SAFETY: per the contract.
    Ok(unsafe { &*s })
}

/// Checked tensors of a raw batch.
///
/// # Safety
/// `x` must hold `x_len` floats and `y` `batch` labels (or be NULL).
unsafe fn batch(session: &Session, x: *const f32, x_len: usize, y: *const i64, batch: usize) -> Result<(Tensor, Tensor)> {
    // SAFETY: per the contract.
    let xs = unsafe { slice_arg(x, x_len, "x") }?;
    let ys = unsafe { slice_arg(y, batch, "y") }?;
    raw_batch(session.space(), xs, ys, batch)
}

/// One step (`which`) on a raw batch; the loss goes to `loss_out` on success.
///
/// # Safety
/// As for the step exports.
unsafe fn step(
    s: *mut densenas_session,
    x: *const f32,
    x_len: usize,
    y: *const i64,
    batch_size: usize,
    loss_out: *mut f32,
    which: fn(&mut Session, &Tensor, &Tensor) -> Result<f64>,
) -> Result<()> {
    let handle = unsafe { session(s) }?;
    not_null(loss_out, "loss_out")?;
    let mut session = handle.lock()?;
    let (xt, yt) = unsafe { batch(&session, x, x_len, y, batch_size) }?;
    let loss = which(&mut session, &xt, &yt)?;
    unsafe { write_out(loss_out, loss as f32) };
    Ok(())
}

/// Makes a session and hands it to `out`.
///
/// # Safety
/// The pointers must be NULL or valid per the exports' contracts.
unsafe fn new_session(
    space: *const densenas_space,
    options_json: *const c_char,
    normalization: impl FnOnce(&crate::model::space::Space) -> Result<Normalization>,
    out: *mut *mut densenas_session,
) -> Result<()> {
    not_null(space, "space")?;
    not_null(out, "out")?;
    // SAFETY: per the contract.
    let json = unsafe { str_arg(options_json, "options_json") }?;
    let options = SessionOptions::from_json(json)?;
    let space = unsafe { &(*space).inner };
    let session = Session::new(space, options, normalization(space)?)?;
    let handle = Box::new(densenas_session { inner: Mutex::new(session) });
    unsafe { write_out(out, Box::into_raw(handle)) };
    Ok(())
}

/// Makes a session over `space` with options JSON (`strategy`, `seed`, optimisers,
/// `density`, `precision`, `device`, `deterministic`; `"{}"` for the defaults; unknown
/// keys refused). The network's input normalisation is the identity (see
/// `densenas_session_new_for_dataset`). The session copies what it needs of the space,
/// which may then be freed.
///
/// On success `*out` receives a new session that the caller owns and must free with
/// `densenas_session_free`. On failure `*out` is left unchanged.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_new(
    space: *const densenas_space,
    options_json: *const c_char,
    out: *mut *mut densenas_session,
) -> densenas_status {
    ffi_boundary!({ unsafe { new_session(space, options_json, |s| Ok(Normalization::identity(s.features())), out) } })
}

/// As `densenas_session_new`, with the network's input normalisation (per-feature mean
/// and standard deviation) taken from the training file of `dataset`, as a search on it
/// does. The dataset's features must match the space's.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_new_for_dataset(
    space: *const densenas_space,
    options_json: *const c_char,
    dataset: *const densenas_dataset,
    out: *mut *mut densenas_session,
) -> densenas_status {
    ffi_boundary!({
        not_null(dataset, "dataset")?;
        // SAFETY: per the contract.
        let train = unsafe { (*dataset).train() };
        unsafe { new_session(space, options_json, |s| {
            if train.features != s.features() {
                return Err(Error::Input(format!(
                    "the dataset has {} features, the space {}",
                    train.features,
                    s.features()
                )));
            }
            Normalization::from_data(&train.x, train.features)
        }, out) }
    })
}

/// Frees a session. Calling with NULL is a no-op. Must not be called twice on the same
/// session, nor while another thread uses it.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_free(session: *mut densenas_session) {
    ffi_boundary_void!({
        if !session.is_null() {
            // SAFETY: `session` came from densenas_session_new.
            drop(unsafe { Box::from_raw(session) });
        }
    })
}

/// One weight step on a batch of the weight split: `x` holds `batch * F` raw features
/// (row-major; `x_len` must equal `batch * F`), `y` holds `batch` labels in `0..C`.
/// Non-finite features and `batch == 0` are refused. On success `*loss_out` receives
/// the batch's loss before the update; on failure the session is unchanged.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_step_weights(
    s: *mut densenas_session,
    x: *const f32,
    x_len: usize,
    y: *const i64,
    batch_size: usize,
    loss_out: *mut f32,
) -> densenas_status {
    ffi_boundary!({ unsafe { step(s, x, x_len, y, batch_size, loss_out, Session::step_weights) } })
}

/// One architecture step on a batch of the architecture split (arguments as for
/// `densenas_session_step_weights`). On success `*loss_out` receives the loss before
/// the update; on failure the session is unchanged.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_step_architecture(
    s: *mut densenas_session,
    x: *const f32,
    x_len: usize,
    y: *const i64,
    batch_size: usize,
    loss_out: *mut f32,
) -> densenas_status {
    ffi_boundary!({ unsafe { step(s, x, x_len, y, batch_size, loss_out, Session::step_architecture) } })
}

/// Ends the phase: judges every block on the validation data (`x`, `y` as for the
/// steps), records the history, updates the density and draws the next blocks. On
/// success `*best_val_accuracy_out` receives the best validation accuracy so far; on
/// failure the session is unchanged.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_end_phase(
    s: *mut densenas_session,
    x: *const f32,
    x_len: usize,
    y: *const i64,
    batch_size: usize,
    best_val_accuracy_out: *mut f64,
) -> densenas_status {
    ffi_boundary!({
        let handle = unsafe { session(s) }?;
        not_null(best_val_accuracy_out, "best_val_accuracy_out")?;
        let mut session = handle.lock()?;
        let (xt, yt) = unsafe { batch(&session, x, x_len, y, batch_size) }?;
        let report = session.end_phase(&xt, &yt)?;
        unsafe { write_out(best_val_accuracy_out, report.best_val_accuracy) };
        Ok(())
    })
}

/// Accuracy and mean cross-entropy on labelled data (arguments as for the steps) of the
/// network the session stands for: the best architecture so far (its inherited
/// snapshot), or the block with the largest weight before any phase has ended.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_evaluate(
    s: *const densenas_session,
    x: *const f32,
    x_len: usize,
    y: *const i64,
    batch_size: usize,
    accuracy_out: *mut f64,
    loss_out: *mut f64,
) -> densenas_status {
    ffi_boundary!({
        let handle = unsafe { session(s) }?;
        not_null(accuracy_out, "accuracy_out")?;
        not_null(loss_out, "loss_out")?;
        let session = handle.lock()?;
        let (xt, yt) = unsafe { batch(&session, x, x_len, y, batch_size) }?;
        let (acc, loss) = session.evaluate_current(&xt, &yt)?;
        unsafe {
            write_out(accuracy_out, acc);
            write_out(loss_out, loss);
        }
        Ok(())
    })
}

/// Logits of the network the session stands for (as in `densenas_session_evaluate`)
/// for `batch` samples of raw features `x` (`x_len == batch * F`). `logits_out` must
/// have room for `logits_len == batch * C` floats; it is written only on success.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_predict(
    s: *const densenas_session,
    x: *const f32,
    x_len: usize,
    batch_size: usize,
    logits_out: *mut f32,
    logits_len: usize,
) -> densenas_status {
    ffi_boundary!({
        let handle = unsafe { session(s) }?;
        not_null(logits_out, "logits_out")?;
        let session = handle.lock()?;
        // Every length is checked before anything is read or allocated.
        let (classes, features) = (session.space().classes(), session.space().features());
        if batch_size == 0 {
            return Err(Error::Input("batch of 0 samples".into()));
        }
        if batch_size.checked_mul(classes) != Some(logits_len) {
            return Err(Error::Input(format!(
                "logits_len is {logits_len} but batch * classes = {batch_size} * {classes}"
            )));
        }
        if batch_size.checked_mul(features) != Some(x_len) {
            return Err(Error::Input(format!("x_len is {x_len} but batch * features = {batch_size} * {features}")));
        }
        let xs = unsafe { slice_arg(x, x_len, "x") }?;
        let values = session.predict(xs, batch_size)?;
        // SAFETY: `logits_out` has room for `logits_len` floats per the contract.
        unsafe { copy_out(&values, logits_out, logits_len, "logits_out") }
    })
}

/// The number of blocks `k`, in `*out`.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_blocks(s: *const densenas_session, out: *mut usize) -> densenas_status {
    ffi_boundary!({
        let handle = unsafe { session(s) }?;
        not_null(out, "out")?;
        let n = handle.lock()?.dags().len();
        unsafe { write_out(out, n) };
        Ok(())
    })
}

/// The architecture weights `alpha` of the current blocks: `out` must have room for
/// `len == k` doubles (see `densenas_session_blocks`); written only on success.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_alpha(s: *const densenas_session, out: *mut f64, len: usize) -> densenas_status {
    ffi_boundary!({
        let handle = unsafe { session(s) }?;
        not_null(out, "out")?;
        let alpha = handle.lock()?.alpha()?;
        if alpha.len() != len {
            return Err(Error::Input(format!("len is {len} but the session has {} blocks", alpha.len())));
        }
        // SAFETY: `out` has room for `len` doubles per the contract.
        unsafe { copy_out(&alpha, out, len, "out") }
    })
}

/// The best architecture so far as JSON: `{"layers", "edges", "phase", "block",
/// "val_accuracy", "metrics"}` (before any phase has ended: the block with the largest
/// weight, with `"phase": null`). On success `*json_out` receives a string the caller
/// owns and must free with `densenas_string_free`.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_best_dag_json(s: *const densenas_session, json_out: *mut *mut c_char) -> densenas_status {
    ffi_boundary!({
        let handle = unsafe { session(s) }?;
        not_null(json_out, "json_out")?;
        let session = handle.lock()?;
        let value = session.best_dag_json()?;
        let s = to_c_string(serde_json::to_string(&value)?)?;
        unsafe { write_out(json_out, s) };
        Ok(())
    })
}

/// Exports the network the session stands for (the best architecture's inherited
/// snapshot, or the block with the largest weight before any phase has ended) to an
/// ONNX file at `path` (written whole or not at all).
#[no_mangle]
pub unsafe extern "C" fn densenas_session_export_onnx(s: *const densenas_session, path: *const c_char) -> densenas_status {
    ffi_boundary!({
        let handle = unsafe { session(s) }?;
        let path = unsafe { str_arg(path, "path") }?;
        let net = handle.lock()?.current_network()?;
        onnx::write(&net, Path::new(path), &ExportMetadata::default())
    })
}

/// Tells the session how far into the current phase it is (`fraction` in [0, 1]; it
/// restarts at 0 when a phase ends). Strategies with an annealed temperature (`gdas`,
/// `snas`) follow it; `densenas_search_run` sets it itself, a caller stepping a session
/// by hand sets it before each step.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_set_progress(s: *mut densenas_session, fraction: f64) -> densenas_status {
    ffi_boundary!({
        let handle = unsafe { session(s) }?;
        handle.lock()?.set_progress(fraction)
    })
}

/// Sets the learning rate of the shared weights for the next weight steps (a caller
/// stepping a session by hand applies its own schedule with it; `densenas_search_run`
/// applies the configured one). `lr` must be finite and non-negative.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_set_learning_rate(s: *mut densenas_session, lr: f64) -> densenas_status {
    ffi_boundary!({
        let handle = unsafe { session(s) }?;
        handle.lock()?.set_weight_lr(lr)
    })
}

/// Saves the whole session to one file at `path` (safetensors with a JSON document:
/// weights, optimiser states, `alpha`, blocks, density, RNG state, history, the best
/// snapshot), written atomically. `densenas_session_load` continues from it exactly:
/// the same losses, bit for bit, on the same device with one thread.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_save(s: *const densenas_session, path: *const c_char) -> densenas_status {
    ffi_boundary!({
        let handle = unsafe { session(s) }?;
        let path = unsafe { str_arg(path, "path") }?;
        handle.lock()?.save(Path::new(path))
    })
}

/// Loads a session saved with `densenas_session_save`. A file of another densenas
/// version, a truncated or damaged one, or a missing one gets a clear error. On
/// success `*out` receives a new session that the caller owns and must free with
/// `densenas_session_free`; on failure it is left unchanged.
#[no_mangle]
pub unsafe extern "C" fn densenas_session_load(path: *const c_char, out: *mut *mut densenas_session) -> densenas_status {
    ffi_boundary!({
        not_null(out, "out")?;
        let path = unsafe { str_arg(path, "path") }?;
        let session = Session::load(Path::new(path))?;
        let handle = Box::new(densenas_session { inner: Mutex::new(session) });
        unsafe { write_out(out, Box::into_raw(handle)) };
        Ok(())
    })
}

/// The session's input features `F` and classes `C`, in `*features_out` and
/// `*classes_out` (for a session made by `densenas_session_load`, whose space the
/// caller does not hold).
#[no_mangle]
pub unsafe extern "C" fn densenas_session_shape(
    s: *const densenas_session,
    features_out: *mut usize,
    classes_out: *mut usize,
) -> densenas_status {
    ffi_boundary!({
        let handle = unsafe { session(s) }?;
        not_null(features_out, "features_out")?;
        not_null(classes_out, "classes_out")?;
        let session = handle.lock()?;
        unsafe {
            write_out(features_out, session.space().features());
            write_out(classes_out, session.space().classes());
        }
        Ok(())
    })
}
