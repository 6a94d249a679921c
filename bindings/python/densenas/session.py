"""`Session`: a search session (`densenas_session`)."""
import collections
import ctypes
import json

import numpy as np

from . import _ffi
from ._handle import Handle, features_arg, labels_arg, path_arg, to_json

#: What `Session.evaluate` returns.
Evaluation = collections.namedtuple("Evaluation", ["accuracy", "loss"])


class Session(Handle):
    """A search session over `space`: `k` blocks over shared weights, their
    architecture weights `alpha`, the strategy, the DAG density and the history.

    `options` is a dict or JSON string (`strategy`, `seed`, optimisers, `density`,
    `precision`, `device`, `deterministic`; None for the defaults). With `dataset`, the
    network normalises its raw inputs with the statistics of the dataset's training file, as a
    search on it does; without, the normalisation is the identity.

    Features `x` are raw, `[batch, F]` (any array-like; converted to C-contiguous
    float32), labels `y` integers in `0..C` (converted to int64). Sizes are checked by
    the library, whose message arrives in an `InvalidInputError`: `x` must hold
    `len(y) * F` values. A failed call leaves the session unchanged.

    Calls on one session are serialised by the library, so a session may be used from
    several threads, one call at a time.
    """

    _kind = "session"

    def __init__(self, space, options=None, dataset=None):
        out = ctypes.POINTER(_ffi.SessionHandle)()
        if dataset is None:
            _ffi.lib.densenas_session_new(space._handle(), to_json(options), ctypes.byref(out))
        else:
            _ffi.lib.densenas_session_new_for_dataset(
                space._handle(), to_json(options), dataset._handle(), ctypes.byref(out)
            )
        self._own(out, _ffi.lib.densenas_session_free)
        # The C API does not report these for a session; the space's are the session's.
        self.features = space.features
        self.classes = space.classes

    @classmethod
    def load(cls, path):
        """A session saved with `save` (`densenas_session_load`); it continues with
        exactly the losses the saved one would have had. A missing, truncated or
        damaged file, or one of another densenas version, raises a `DensenasError`."""
        out = ctypes.POINTER(_ffi.SessionHandle)()
        _ffi.lib.densenas_session_load(path_arg(path), ctypes.byref(out))
        session = cls.__new__(cls)
        session._own(out, _ffi.lib.densenas_session_free)
        features, classes = ctypes.c_size_t(), ctypes.c_size_t()
        _ffi.lib.densenas_session_shape(session._handle(), ctypes.byref(features), ctypes.byref(classes))
        session.features, session.classes = features.value, classes.value
        return session

    def save(self, path):
        """Saves the whole session (weights, optimiser states, alpha, blocks, density,
        RNG state, history, best snapshot) to one file at `path`."""
        _ffi.lib.densenas_session_save(self._handle(), path_arg(path))

    def _step(self, func, x, y):
        x, xp, x_len = features_arg(x)
        y, yp, batch = labels_arg(y)
        loss = ctypes.c_float()
        func(self._handle(), xp, x_len, yp, batch, ctypes.byref(loss))
        return loss.value

    def step_weights(self, x, y):
        """One weight step on a batch of the weight split; the batch's loss before the
        update."""
        return self._step(_ffi.lib.densenas_session_step_weights, x, y)

    def step_architecture(self, x, y):
        """One architecture step on a batch of the validation split; the loss before
        the update."""
        return self._step(_ffi.lib.densenas_session_step_architecture, x, y)

    def set_progress(self, fraction):
        """Tells the session how far into the current phase it is (`fraction` in
        [0, 1]; it restarts at 0 when a phase ends). The annealed temperatures of `gdas`
        and `snas` follow it: when stepping by hand, set it before each step, as
        `densenas.search` does."""
        _ffi.lib.densenas_session_set_progress(self._handle(), float(fraction))

    def set_learning_rate(self, lr):
        """Sets the learning rate of the shared weights for the next weight steps (when
        stepping by hand, apply your schedule with it; `densenas.search` applies the
        configured one)."""
        _ffi.lib.densenas_session_set_learning_rate(self._handle(), float(lr))

    def end_phase(self, x, y):
        """Ends the phase: judges every block on the validation data `x`, `y`, records
        the history, updates the density and draws the next blocks. Returns the best
        validation accuracy so far."""
        x, xp, x_len = features_arg(x)
        y, yp, batch = labels_arg(y)
        best = ctypes.c_double()
        _ffi.lib.densenas_session_end_phase(self._handle(), xp, x_len, yp, batch, ctypes.byref(best))
        return best.value

    def evaluate(self, x, y):
        """`Evaluation(accuracy, loss)` on labelled data of the network the session
        stands for: the best architecture so far (its inherited snapshot), or the block
        with the largest weight before any phase has ended."""
        x, xp, x_len = features_arg(x)
        y, yp, batch = labels_arg(y)
        accuracy, loss = ctypes.c_double(), ctypes.c_double()
        _ffi.lib.densenas_session_evaluate(
            self._handle(), xp, x_len, yp, batch, ctypes.byref(accuracy), ctypes.byref(loss)
        )
        return Evaluation(accuracy.value, loss.value)

    def predict(self, x):
        """Logits, float32 `[batch, C]`, of the network the session stands for (as in
        `evaluate`). `x` is `[batch, F]` (or `[batch, ...]` holding F values a row, or one
        sample `[F]`)."""
        x, xp, x_len = features_arg(x)
        batch = x.shape[0] if x.ndim >= 2 else 1
        logits = np.empty((batch, self.classes), dtype=np.float32)
        _ffi.lib.densenas_session_predict(
            self._handle(), xp, x_len, batch, logits.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), logits.size
        )
        return logits

    @property
    def blocks(self):
        """The number of blocks k."""
        out = ctypes.c_size_t()
        _ffi.lib.densenas_session_blocks(self._handle(), ctypes.byref(out))
        return out.value

    def alpha(self):
        """The architecture weights of the current blocks, float64 `[k]`."""
        out = np.empty(self.blocks, dtype=np.float64)
        _ffi.lib.densenas_session_alpha(self._handle(), out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), out.size)
        return out

    def best_dag(self):
        """The best architecture so far: `{"layers", "edges", "phase", "block",
        "val_accuracy", "metrics"}` (before any phase has ended, the block with the
        largest weight, with `"phase": None`)."""
        out = ctypes.c_void_p()
        _ffi.lib.densenas_session_best_dag_json(self._handle(), ctypes.byref(out))
        return json.loads(_ffi.take_string(out))

    def export_onnx(self, path):
        """Exports the network the session stands for (as in `evaluate`) to an ONNX file
        at `path`, written whole or not at all."""
        _ffi.lib.densenas_session_export_onnx(self._handle(), path_arg(path))

    def __repr__(self):
        if self.closed:
            return "<densenas.Session (closed)>"
        return f"<densenas.Session features={self.features} classes={self.classes} blocks={self.blocks}>"
