"""`train`: DAGs trained from fresh weights as one population (`densenas_train`)."""
import ctypes
import json

from . import _ffi
from .search import progress_callback


def train(dags, seeds=(0,), progress=None, **request):
    """Trains every DAG of `dags` with every seed of `seeds` as one population and
    returns the result as a dict: ``{"members": [...], "train_seconds", "interrupted"}``,
    one member per DAG and seed (DAG-major: member ``i`` is DAG ``i // len(seeds)``
    with seed ``seeds[i % len(seeds)]``) with ``params``, ``flops``,
    ``train_accuracy``, ``test_accuracy`` and ``test_loss``, or ``failed`` (why) for a
    member whose loss or update became non-finite.

    `dags` are dicts ``{"layers": L, "edges": [[i, j], ...]}`` (with ``"ops"`` in a
    typed space), all with the same ``L``. Further keys of the request: ``data`` (a
    ``--data`` spec, default ``"digits"``), ``train_subsample``, ``space`` (a search's
    space options: ``width``, ``activation``, ...), ``train`` (a search's ``retrain``
    options: ``epochs``, ``batch_size``, ``optimizer``, ...), ``device``,
    ``precision``, ``deterministic``. A member's result does not depend on the other
    members: it is the same as its DAG and seed trained alone.

    `progress`, when given, is called with a `Progress` of kind ``ProgressKind.TRAIN``
    after every epoch (``loss``: the members' mean); a truthy return stops the training
    (the result is then marked ``"interrupted": True`` and lists no member). An
    exception raised by `progress` stops it too and is re-raised here. Blocking (ctypes
    releases the GIL during the call).
    """
    raised = []
    callback = progress_callback(progress, raised)
    body = dict(request, dags=list(dags), seeds=[int(s) for s in seeds])
    out = ctypes.c_void_p()
    try:
        _ffi.lib.densenas_train(json.dumps(body).encode(), callback, None, ctypes.byref(out))
    except Exception:
        if raised:
            raise raised[0]
        raise
    if raised:
        raise raised[0]
    return json.loads(_ffi.take_string(out))
