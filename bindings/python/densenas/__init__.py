"""densenas: differentiable neural architecture search over spaces of densely connected
layers, from Python.

A thin binding (ctypes) over the C ABI of libdensenas.so (include/densenas.h)::

    import densenas
    with densenas.Dataset("digits") as data, densenas.Space(
        {"features": data.features, "classes": data.classes, "layers": 3, "width": 32, "blocks": 3}
    ) as space, densenas.Session(space, {"strategy": "darts", "seed": 0}, dataset=data) as session:
        x, y = data.split("weight")
        loss = session.step_weights(x[:64], y[:64])

or a whole search: ``summary = densenas.search({"phases": 2}, out_dir="runs/py")``,
continued after a crash with ``densenas.resume("runs/py")``; or DAGs trained with
several seeds as one population: ``densenas.train(dags, seeds=range(10))``.

Every failed call raises a `DensenasError` (a subclass per status) carrying the
library's status and message. Every handle has `close()`, works as a context manager,
and is freed when garbage-collected.

The library is loaded from `$DENSENAS_LIBRARY`, a libdensenas.so next to this package
(a wheel's: its libtorch is then loaded first from the installed `torch` package),
`$CARGO_TARGET_DIR/release`, the checkout's `target/release`, or the system's search
path, in that order (`densenas.library_path` says which). When the `onnxruntime`
package is installed (`pip install densenas[onnx]`) and `ORT_DYLIB_PATH` is not set,
it is pointed at that package's library, which checks exported networks.
"""
from . import _ffi
from . import experiment
from .dataset import Dataset, Split
from .errors import (
    CheckFailedError,
    DensenasError,
    DivergedError,
    InvalidConfigError,
    InvalidDagError,
    InvalidDataError,
    InvalidInputError,
    InvalidStateError,
    InternalError,
    IoError,
    NullParameterError,
    PanicError,
    RuntimeMissingError,
    Status,
    StoppedError,
    TorchError,
    UnavailableError,
)
from .search import Progress, ProgressKind, resume, search
from ._enum import print_names
from .session import Evaluation, Session
from .space import Space
from .train import train

# search.py defines ProgressKind as a plain IntEnum: it too prints its members' names.
print_names(ProgressKind)

#: This package's version: the loaded library's (both are built from one Cargo.toml;
#: the package's metadata carries the same version).
__version__ = _ffi.lib.densenas_version().decode("ascii")

#: The path of the loaded libdensenas.so.
library_path = _ffi.library_path


def library_version():
    """The loaded library's version (`densenas_version()`)."""
    return _ffi.lib.densenas_version().decode("ascii")


def last_error_message():
    """The calling thread's last error message from the library ("" if none)."""
    return _ffi.last_error_message()


__all__ = [
    "CheckFailedError",
    "Dataset",
    "DensenasError",
    "DivergedError",
    "Evaluation",
    "InvalidConfigError",
    "InvalidDagError",
    "InvalidDataError",
    "InvalidInputError",
    "InvalidStateError",
    "InternalError",
    "IoError",
    "NullParameterError",
    "PanicError",
    "Progress",
    "ProgressKind",
    "RuntimeMissingError",
    "Session",
    "Space",
    "Split",
    "Status",
    "StoppedError",
    "experiment",
    "TorchError",
    "UnavailableError",
    "last_error_message",
    "library_path",
    "library_version",
    "resume",
    "search",
    "train",
]
