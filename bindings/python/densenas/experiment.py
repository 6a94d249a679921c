"""Experiments: list an experiment's units, run one unit (as a scheduler's task does),
and write the report of an experiment folder."""
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


def report(out_dir):
    """Writes `report.md`, `report.json` and `plots/` of the experiment folder from its
    finished units and returns the report as a dict."""
    out = ctypes.c_void_p()
    _ffi.lib.densenas_report_write(path_arg(out_dir), ctypes.byref(out))
    return json.loads(_ffi.take_string(out))
