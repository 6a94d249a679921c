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


def report(out_dir):
    """Writes `report.md`, `report.json` and `plots/` of the experiment folder from its
    finished units and returns the report as a dict."""
    out = ctypes.c_void_p()
    _ffi.lib.densenas_report_write(path_arg(out_dir), ctypes.byref(out))
    return json.loads(_ffi.take_string(out))
