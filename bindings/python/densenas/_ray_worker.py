"""The task a Ray worker runs for one unit of an experiment (densenas.ray_experiment).

It lives in its own module so that Ray sends the workers a reference to it rather than
its code, and so that importing it needs no Ray. The unit runs through the library
(`densenas_experiment_run_unit_spec`) in a scratch folder of the worker's machine; its
files come back to the driver as bytes (the workers need no shared file system).
"""
import os
import sys
import tempfile
import time
from pathlib import Path

#: The lock file the library leaves in a folder it worked in (never sent back).
LOCK_FILE = ".densenas.lock"


class UnitInfrastructureError(RuntimeError):
    """The worker could not run the unit at all (not the unit's own failure): for
    example a library of another version, or a scratch folder that cannot be written."""


def densenas_unit(unit_id, spec):
    """Runs the unit `unit_id` defined by `spec` (a listing's `spec`) and returns
    `{"files": {relative path: bytes}, "error": None or the unit's error, "seconds",
    "pid", "node"}`. A unit that fails is a result (its `error.txt` is among the files);
    anything else that goes wrong raises `UnitInfrastructureError`."""
    from . import experiment
    from .errors import DensenasError

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="densenas-unit-") as scratch:
        error = None
        try:
            experiment.run_unit_spec(scratch, unit_id, spec)
        except DensenasError as e:
            error = str(e)
        unit_dir = Path(scratch, "units", unit_id)
        if error is not None:
            if not (unit_dir / "error.txt").is_file():
                raise UnitInfrastructureError(error)
            error = (unit_dir / "error.txt").read_text().strip()  # as the local executor reports it
        files = {
            path.relative_to(unit_dir).as_posix(): path.read_bytes()
            for path in sorted(unit_dir.rglob("*"))
            if path.is_file() and path.name != LOCK_FILE
        }
    return {
        "files": files,
        "error": error,
        "seconds": time.monotonic() - start,
        "pid": os.getpid(),
        "node": _node_id(),
    }


def _node_id():
    ray = sys.modules.get("ray")  # a Ray worker has imported it; a direct call may not
    if ray is None or not ray.is_initialized():
        return None
    return ray.get_runtime_context().get_node_id()
