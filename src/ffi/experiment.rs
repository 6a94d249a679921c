//! Experiments from C (docs/experiments.md): list an experiment's units, run one unit
//! by id (so that any scheduler can spread them), and write the report.

use std::ffi::c_char;
use std::path::Path;

use super::boundary::{not_null, str_arg, write_out};
use super::densenas_status;
use super::string::to_c_string;
use crate::experiment::executor::{find_unit, list_units, prepare, run_unit, run_unit_spec};
use crate::experiment::{import_unit, record_failure, ExperimentDir, ExperimentLock, UnitSpec};

/// An experiment folder taken for a whole run (opaque): what `densenas experiment`
/// holds while it runs, so that one executor works on a folder at a time.
pub struct densenas_experiment_lock {
    _lock: ExperimentLock,
}

/// Takes the experiment folder `out_dir` (created if needed) for a whole run, as
/// `densenas experiment` does, and removes what an interrupted
/// `densenas_experiment_import_unit` left there. A folder another process (or handle)
/// holds is refused with `DENSENAS_STATUS_INVALID_STATE`. On success `*out` receives a
/// handle the caller owns; freeing it with `densenas_experiment_lock_free` releases
/// the folder.
#[no_mangle]
pub unsafe extern "C" fn densenas_experiment_lock_new(out_dir: *const c_char, out: *mut *mut densenas_experiment_lock) -> densenas_status {
    ffi_boundary!({
        not_null(out, "out")?;
        // SAFETY: per the contract.
        let dir = unsafe { str_arg(out_dir, "out_dir") }?;
        let handle = Box::new(densenas_experiment_lock { _lock: ExperimentLock::acquire(Path::new(dir))? });
        unsafe { write_out(out, Box::into_raw(handle)) };
        Ok(())
    })
}

/// Releases an experiment folder taken with `densenas_experiment_lock_new` (NULL is
/// ignored).
#[no_mangle]
pub unsafe extern "C" fn densenas_experiment_lock_free(lock: *mut densenas_experiment_lock) {
    if !lock.is_null() {
        // SAFETY: a handle from densenas_experiment_lock_new, freed once.
        let _ = std::panic::catch_unwind(|| drop(unsafe { Box::from_raw(lock) }));
    }
}

/// Records the unit `unit_id` in the experiment folder `out_dir` from the folder
/// `files_dir` that a worker ran it into (`unit.json`, `result.json` or `error.txt`, a
/// search's `run/`): its folder in `out_dir/units/` is replaced by those files as one
/// whole (copied and synced beside it, then renamed into place), so that `result.json`
/// arrives with the rest or not at all. `files_dir` is left as it is.
#[no_mangle]
pub unsafe extern "C" fn densenas_experiment_import_unit(
    out_dir: *const c_char,
    unit_id: *const c_char,
    files_dir: *const c_char,
) -> densenas_status {
    ffi_boundary!({
        // SAFETY: per the contract.
        let (out_dir, id, files) =
            unsafe { (str_arg(out_dir, "out_dir")?, str_arg(unit_id, "unit_id")?, str_arg(files_dir, "files_dir")?) };
        import_unit(&ExperimentDir::create(Path::new(out_dir))?, id, Path::new(files))
    })
}

/// Records that the unit `unit_id` (defined by `unit_json`, its listing's `spec`)
/// could not run at all, with `message` as its error: its folder in `out_dir/units/`
/// becomes a failed unit's (`unit.json`, `error.txt`), which the next run retries.
#[no_mangle]
pub unsafe extern "C" fn densenas_experiment_record_failure(
    out_dir: *const c_char,
    unit_id: *const c_char,
    unit_json: *const c_char,
    message: *const c_char,
) -> densenas_status {
    ffi_boundary!({
        // SAFETY: per the contract.
        let (out_dir, id, json, message) = unsafe {
            (str_arg(out_dir, "out_dir")?, str_arg(unit_id, "unit_id")?, str_arg(unit_json, "unit_json")?, str_arg(message, "message")?)
        };
        let spec = unit_spec(json)?;
        record_failure(&ExperimentDir::create(Path::new(out_dir))?, id, &spec, message)
    })
}

/// A unit definition from its JSON.
fn unit_spec(json: &str) -> crate::Result<UnitSpec> {
    serde_json::from_str(json).map_err(|e| crate::error::Error::ConfigParse(format!("unit_json is not a unit definition: {e}")))
}

/// Lists the units of the experiment file `file` with the experiment folder `out_dir`
/// (created if needed; the experiment is recorded there): the units known now (stage 1,
/// and stage 2 of the searches finished in the folder) as a JSON array of `{"id",
/// "stage", "state" ("finished", "failed" or "pending"), "what", "spec"}` in a stable
/// order. On success `*units_json_out` receives a string the caller owns and must free
/// with `densenas_string_free`.
#[no_mangle]
pub unsafe extern "C" fn densenas_experiment_list_units(
    file: *const c_char,
    out_dir: *const c_char,
    units_json_out: *mut *mut c_char,
) -> densenas_status {
    ffi_boundary!({
        not_null(units_json_out, "units_json_out")?;
        // SAFETY: per the contract.
        let (file, out_dir) = unsafe { (str_arg(file, "file")?, str_arg(out_dir, "out_dir")?) };
        let (experiment, dir) = prepare(Path::new(file), Path::new(out_dir))?;
        let json = to_c_string(serde_json::to_string(&list_units(&experiment, &dir)?)?)?;
        unsafe { write_out(units_json_out, json) };
        Ok(())
    })
}

/// Runs the unit `unit_id` (its full id, or an unambiguous prefix of at least 8
/// characters) of the experiment file `file` in the folder `out_dir`, in the calling
/// thread, and records its result there (a finished unit is left as it is). Only the
/// unit's own folder is locked, so that different units may run at once, in threads or
/// processes. A unit that fails records its error and returns its status. It sets
/// libtorch's process-wide thread count only as the unit's configuration says (a search
/// unit: one thread).
#[no_mangle]
pub unsafe extern "C" fn densenas_experiment_run_unit(
    file: *const c_char,
    out_dir: *const c_char,
    unit_id: *const c_char,
) -> densenas_status {
    ffi_boundary!({
        // SAFETY: per the contract.
        let (file, out_dir, id) =
            unsafe { (str_arg(file, "file")?, str_arg(out_dir, "out_dir")?, str_arg(unit_id, "unit_id")?) };
        let (experiment, dir) = prepare(Path::new(file), Path::new(out_dir))?;
        run_unit(&dir, &find_unit(&experiment, &dir, id)?)
    })
}

/// Runs the unit defined by `unit_json` (the `spec` of a unit in
/// `densenas_experiment_list_units`' listing) under the id `unit_id` (its `id` there)
/// in the folder `out_dir` (created if needed; it need not hold the experiment), in
/// the calling thread: what a cluster's worker does with a unit it was sent. The
/// unit's files land in `out_dir/units/ID/` (`unit.json`, then `result.json` as its
/// last act, or `error.txt` when it fails; a search's `run/` folder). A definition
/// whose id is not `unit_id` (written by another densenas version) is refused before
/// it runs. A unit that fails records its error and returns its status. Threads as
/// for `densenas_experiment_run_unit`.
#[no_mangle]
pub unsafe extern "C" fn densenas_experiment_run_unit_spec(
    out_dir: *const c_char,
    unit_id: *const c_char,
    unit_json: *const c_char,
) -> densenas_status {
    ffi_boundary!({
        // SAFETY: per the contract.
        let (out_dir, id, json) =
            unsafe { (str_arg(out_dir, "out_dir")?, str_arg(unit_id, "unit_id")?, str_arg(unit_json, "unit_json")?) };
        let spec = unit_spec(json)?;
        run_unit_spec(&ExperimentDir::create(Path::new(out_dir))?, id, spec)
    })
}

/// Writes the report of the experiment folder `dir` (`report.md`, `report.json`,
/// `plots/`) from its finished units. On success `*report_json_out` receives
/// `report.json`'s content, a string the caller owns and must free with
/// `densenas_string_free`.
#[no_mangle]
pub unsafe extern "C" fn densenas_report_write(dir: *const c_char, report_json_out: *mut *mut c_char) -> densenas_status {
    ffi_boundary!({
        not_null(report_json_out, "report_json_out")?;
        // SAFETY: per the contract.
        let dir = unsafe { str_arg(dir, "dir") }?;
        let report = crate::report::write(Path::new(dir))?;
        let json = to_c_string(serde_json::to_string_pretty(&report)?)?;
        unsafe { write_out(report_json_out, json) };
        Ok(())
    })
}
