"""`search`: a whole search (`densenas_search_run`), with a progress callback."""
import ctypes
import dataclasses
import enum
import json
import warnings

from . import _ffi
from ._handle import path_arg, to_json


class ProgressKind(enum.IntEnum):
    """`densenas_progress_kind`: what a progress report is about."""

    #: An epoch of a search phase ended.
    EPOCH = 0
    #: A search phase ended (its blocks were judged).
    PHASE = 1
    #: An epoch of retraining (the best DAG, then the chain baseline) ended.
    RETRAIN = 2
    #: A step of a search phase ended (only with ``step_reports=True``): ``epoch`` is
    #: the step within the phase, ``epochs`` the phase's steps, and the losses are
    #: that step's batch losses.
    STEP = 3
    #: An epoch of `densenas.train` ended (``loss``: the mean over the members still
    #: training).
    TRAIN = 4


@dataclasses.dataclass(frozen=True)
class Progress:
    """A progress report (`densenas_progress`); NaN marks a figure that does not apply."""

    #: What the report is about (a `ProgressKind`, or an int for a newer kind).
    kind: int
    #: Phase (from 0); for retraining, 0 for the best DAG and 1 for the baseline.
    phase: int
    #: Epoch (from 0) within the phase or the retraining; a step report's step.
    epoch: int
    #: Epochs in the phase or the retraining; a step report's steps in the phase.
    epochs: int
    #: Mean weight-step (or training) loss of the epoch (a step report's batch loss);
    #: NaN after a phase.
    loss: float
    #: Mean architecture-step loss of the epoch; NaN otherwise.
    arch_loss: float
    #: Best validation accuracy so far (after a phase); NaN otherwise.
    best_val_accuracy: float

    @classmethod
    def _from_c(cls, p):
        try:
            kind = ProgressKind(p.kind)
        except ValueError:
            kind = p.kind
        return cls(kind, p.phase, p.epoch, p.epochs, p.loss, p.arch_loss, p.best_val_accuracy)


def progress_callback(progress, raised):
    """The C callback that calls `progress` (None: a NULL callback) with a `Progress`;
    an exception it raises is appended to `raised` (to re-raise once the library has
    returned) and stops the run."""
    if progress is None:
        return _ffi.ProgressCallback()

    def trampoline(report, _user_data):
        # Nothing may propagate into the library: remember it, stop, re-raise later.
        if raised:
            return 1
        try:
            return 1 if progress(Progress._from_c(report.contents)) else 0
        except BaseException as e:  # noqa: BLE001 (KeyboardInterrupt stops it too)
            raised.append(e)
            return 1

    return _ffi.ProgressCallback(trampoline)


def search(
    config=None, out_dir=None, progress=None, *, resume=False, keep_checkpoints=False, step_reports=False, overwrite=False
):
    """Runs a whole search and returns its summary (`summary.json`'s content) as a dict.

    `config` is a dict or JSON string with the keys of a run folder's `config.json`
    (None: the defaults, a search on the embedded digits). With `out_dir`, the run
    folder (summary, history, `best.onnx`, ...) is written there, with a checkpoint
    after every complete phase (removed when the search finishes, unless
    `keep_checkpoints`). `progress`, when given, is called with a `Progress` after each
    epoch, phase and retraining epoch (and each step with `step_reports=True`), on the
    calling thread; a truthy return value stops the search (it finishes the current
    step and reports a summary with `"interrupted": True`) and `progress` is not called
    again. An exception raised by `progress` stops the search too, and is re-raised
    here.

    The configuration and the dataset are checked before `out_dir` is created (a
    refused input leaves no folder). An `out_dir` that holds a finished run (a
    `summary.json` not marked interrupted) is refused with `InvalidStateError` unless
    `overwrite=True`, which replaces that run's files; one that holds an unfinished
    search (checkpoints) is refused either way: resume it, or remove it.

    `resume=True` continues the search in `out_dir` from its latest checkpoint; the
    configuration is the checkpoint's (`config`, when given, must equal it). The
    finished run equals an uninterrupted one.

    When ONNX Runtime cannot be loaded, `best.onnx` is written unchecked and a
    `UserWarning` says so, why, and how to install it (`summary["onnx"]["skipped"]`).

    Blocking; independent searches may run on different threads at once (ctypes
    releases the GIL during the call).
    """
    raised = []
    callback = progress_callback(progress, raised)
    options = {
        "resume": bool(resume),
        "keep_checkpoints": bool(keep_checkpoints),
        "step_reports": bool(step_reports),
        "overwrite": bool(overwrite),
    }
    out = ctypes.c_void_p()
    try:
        _ffi.lib.densenas_search_run_with_options(
            None if (resume and config is None) else to_json(config),
            None if out_dir is None else path_arg(out_dir),
            json.dumps(options).encode(),
            callback,
            None,
            ctypes.byref(out),
        )
    except Exception:
        if raised:
            raise raised[0]
        raise
    if raised:
        raise raised[0]
    summary = json.loads(_ffi.take_string(out))
    _warn_if_onnx_skipped(summary)
    return summary


def _warn_if_onnx_skipped(summary):
    """Warns, with the command line's line, when the ONNX Runtime check of the exported
    model was skipped (`summary["onnx"]["skipped"]`: why, and the remedy)."""
    check = summary.get("onnx") or {}
    if "skipped" in check:
        warnings.warn(f"{check['path']} is exported but was not checked in ONNX Runtime: {check['skipped']}",
                      stacklevel=3)


def resume(out_dir, progress=None, *, keep_checkpoints=False, step_reports=False):
    """Continues the search in the run folder `out_dir` from its latest checkpoint (as
    `search(out_dir=out_dir, resume=True)`) and returns its summary."""
    return search(None, out_dir, progress, resume=True, keep_checkpoints=keep_checkpoints, step_reports=step_reports)
