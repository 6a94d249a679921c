"""Experiments: list an experiment's units, run one unit (as a scheduler's task does),
and write the report of an experiment folder. `densenas.ray_experiment` runs a whole
experiment on a Ray cluster with these."""
import ctypes
import json

from . import _ffi
from ._handle import path_arg


def list_units(file, out_dir):
    """The units of the experiment file `file` known now in the folder `out_dir` (stage 1,
    and stage 2 of the searches finished there), in a stable order: dicts with `id`,
    `stage`, `state` ("finished", "failed", "pending"), `what` and `spec`."""
    out = ctypes.c_void_p()
    _ffi.lib.densenas_experiment_list_units(path_arg(file), path_arg(out_dir), ctypes.byref(out))
    return json.loads(_ffi.take_string(out))


def run_unit(file, out_dir, unit_id):
    """Runs one unit (by id, or an unambiguous prefix of at least 8 characters) in this
    process and records its result in `out_dir`; a failing unit raises (its error is
    recorded too). Blocking; ctypes releases the GIL."""
    _ffi.lib.densenas_experiment_run_unit(path_arg(file), path_arg(out_dir), unit_id.encode())


def run_unit_spec(out_dir, unit_id, spec):
    """Runs the unit defined by `spec` (the `spec` of a unit from `list_units`, a dict)
    under its listed id `unit_id` in the folder `out_dir`, which need not hold the
    experiment: what a cluster worker does with a unit it was sent. The unit's files
    land in `out_dir/units/ID/`; a failing unit raises (its error is recorded in
    `error.txt` there). A definition whose id here is not `unit_id` (another densenas
    version) is refused before it runs."""
    _ffi.lib.densenas_experiment_run_unit_spec(path_arg(out_dir), unit_id.encode(), json.dumps(spec).encode())


class lock:
    """The experiment folder `out_dir` (created if needed) taken for a whole run, as
    `densenas experiment` takes it (`with experiment.lock(out): ...`): one executor works
    on a folder at a time, and what an interrupted `import_unit` left there is removed.
    A folder another process holds raises `InvalidStateError`."""

    def __init__(self, out_dir):
        self._out_dir = out_dir
        self._ptr = None

    def __enter__(self):
        ptr = ctypes.POINTER(_ffi.ExperimentLockHandle)()
        _ffi.lib.densenas_experiment_lock_new(path_arg(self._out_dir), ctypes.byref(ptr))
        self._ptr = ptr
        return self

    def __exit__(self, *exc):
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            _ffi.lib.densenas_experiment_lock_free(ptr)


def import_unit(out_dir, unit_id, files_dir):
    """Records the unit `unit_id` in `out_dir` from the folder `files_dir` a worker ran it
    into: its folder in `out_dir/units/` is replaced by those files as one whole, so that
    `result.json` arrives with the rest or not at all."""
    _ffi.lib.densenas_experiment_import_unit(path_arg(out_dir), unit_id.encode(), path_arg(files_dir))


def record_failure(out_dir, unit_id, spec, message):
    """Records that the unit `unit_id` (defined by `spec`, a dict) could not run at all,
    with `message` as its error: its folder becomes a failed unit's, which the next run
    retries."""
    _ffi.lib.densenas_experiment_record_failure(
        path_arg(out_dir), unit_id.encode(), json.dumps(spec).encode(), message.encode()
    )


def report(out_dir):
    """Writes `report.md`, `report.json` and `plots/` of the experiment folder from its
    finished units and returns the report as a dict."""
    out = ctypes.c_void_p()
    _ffi.lib.densenas_report_write(path_arg(out_dir), ctypes.byref(out))
    return json.loads(_ffi.take_string(out))
