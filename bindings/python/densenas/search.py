"""`search`: a whole search (`densenas_search_run`), with a progress callback."""
import ctypes
import dataclasses
import enum
import json

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


@dataclasses.dataclass(frozen=True)
class Progress:
    """A progress report (`densenas_progress`); NaN marks a figure that does not apply."""

    #: What the report is about (a `ProgressKind`, or an int for a newer kind).
    kind: int
    #: Phase (from 0); for retraining, 0 for the best DAG and 1 for the baseline.
    phase: int
    #: Epoch (from 0) within the phase or the retraining.
    epoch: int
    #: Epochs in the phase or the retraining.
    epochs: int
    #: Mean weight-step (or training) loss of the epoch; NaN after a phase.
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


def search(config=None, out_dir=None, progress=None):
    """Runs a whole search and returns its summary (`summary.json`'s content) as a dict.

    `config` is a dict or JSON string with the keys of a run folder's `config.json`
    (None: the defaults, a search on the embedded digits). With `out_dir`, the run
    folder (summary, history, `best.onnx`, ...) is written there. `progress`, when
    given, is called with a `Progress` after each epoch, phase and retraining epoch, on
    the calling thread; a truthy return value stops the search (it finishes the current
    step and reports a summary with `"interrupted": True`). An exception raised by
    `progress` stops the search too, and is re-raised here.

    Blocking; independent searches may run on different threads at once (ctypes
    releases the GIL during the call).
    """
    raised = []

    def trampoline(report, _user_data):
        # Nothing may propagate into the library: remember it, stop, re-raise below.
        # The search may report once more while it stops; the caller hears no more.
        if raised:
            return 1
        try:
            return 1 if progress(Progress._from_c(report.contents)) else 0
        except BaseException as e:  # noqa: BLE001 (KeyboardInterrupt stops it too)
            raised.append(e)
            return 1

    callback = _ffi.ProgressCallback(trampoline) if progress is not None else _ffi.ProgressCallback()
    out = ctypes.c_void_p()
    try:
        _ffi.lib.densenas_search_run(
            to_json(config),
            None if out_dir is None else path_arg(out_dir),
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
    return json.loads(_ffi.take_string(out))

