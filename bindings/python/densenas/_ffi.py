"""The C ABI of libdensenas.so through ctypes: finding and loading the library, and the
`restype`/`argtypes` of every function of include/densenas.h.

Every function returning a `densenas_status` gets an `errcheck` that turns a non-OK
status into a `DensenasError` carrying the calling thread's last error message, so a
failed call raises before its (unwritten) outputs can be read.
"""
import ctypes
import ctypes.util
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path

from .errors import error_for_status

#: The environment variable that names the library file to load, before any search.
LIBRARY_ENV = "DENSENAS_LIBRARY"
_LIBRARY_NAME = "libdensenas.so"
#: What a wheel built by `make wheel` carries beside its library: the torch version it
#: was linked against and the torch libraries it needs.
_BUILD_INFO = "_build.json"
_PACKAGE = Path(__file__).resolve().parent


def library_candidates():
    """Where the library is looked for, in order: `$DENSENAS_LIBRARY`, a
    libdensenas.so next to the package (a wheel's), `$CARGO_TARGET_DIR/release`, the
    checkout's `target/release` (for a package used from the repository), then the
    system's search path (`ctypes.util.find_library`)."""
    candidates = []
    if os.environ.get(LIBRARY_ENV):
        candidates.append(os.environ[LIBRARY_ENV])
    candidates.append(str(_PACKAGE / _LIBRARY_NAME))
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(str(Path(os.environ["CARGO_TARGET_DIR"]) / "release" / _LIBRARY_NAME))
    # bindings/python/densenas/_ffi.py -> the repository root is three levels up.
    candidates.append(str(_PACKAGE.parents[2] / "target" / "release" / _LIBRARY_NAME))
    found = ctypes.util.find_library("densenas")
    if found:
        candidates.append(found)
    return candidates


def _package_dir(name):
    """The folder of an installed package, found without importing it (`import torch`
    needs all of torch's CUDA dependencies, which the slim install leaves out)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def preload_torch(build):
    """Loads the torch libraries a wheel's libdensenas.so needs from the installed
    `torch` package, so that the dynamic loader finds them already loaded (the wheel's
    library has no RUNPATH). `build` is the wheel's `_build.json`. Returns the folder."""
    wanted = build["torch"]
    install = f"pip install torch=={wanted} (or, small and CPU only: pip install --no-deps torch=={wanted} " \
        "and the CUDA runtime and CUPTI wheels it links; see the README)"
    torch_dir = _package_dir("torch")
    if torch_dir is None:
        raise ImportError(f"densenas needs the torch package, version {wanted}: {install}")
    try:
        installed = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    # A local label (2.11.0+cu130) is another build of the same version.
    if installed is not None and installed.split("+")[0] != wanted:
        raise ImportError(f"densenas was built against torch {wanted}, but torch {installed} is installed in "
                          f"{torch_dir}: {install}")
    for name in build["torch_libraries"]:
        path = torch_dir / "lib" / name
        try:
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            raise ImportError(f"densenas could not load {path} from the installed torch ({e}): {install}") from e
    return torch_dir / "lib"


def _point_at_onnxruntime():
    """Unless ORT_DYLIB_PATH is set, points it at the library of the installed
    `onnxruntime` package (`pip install densenas[onnx]`), which the library then loads
    to check exported networks. Without it those checks are reported as skipped."""
    if os.environ.get("ORT_DYLIB_PATH"):
        return
    ort_dir = _package_dir("onnxruntime")
    if ort_dir is None:
        return
    libraries = sorted((ort_dir / "capi").glob("libonnxruntime.so*"))
    if libraries:
        os.environ["ORT_DYLIB_PATH"] = str(libraries[0])


def _load():
    _point_at_onnxruntime()
    explicit = os.environ.get(LIBRARY_ENV)
    if explicit:
        # An explicit choice is never silently replaced by another copy.
        return ctypes.CDLL(explicit), explicit
    tried = []
    for path in library_candidates():
        # A bare name from find_library is resolved by the dynamic loader.
        if os.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        build = Path(path).with_name(_BUILD_INFO)
        if build.exists():
            preload_torch(json.loads(build.read_text()))
        return ctypes.CDLL(path), path
    raise ImportError(
        "libdensenas.so not found (build it with `cargo build --release`, or set "
        f"{LIBRARY_ENV} to its path); looked in: " + ", ".join(tried)
    )


class DatasetHandle(ctypes.Structure):
    """`densenas_dataset` (opaque)."""


class ExperimentLockHandle(ctypes.Structure):
    """`densenas_experiment_lock` (opaque)."""


class SessionHandle(ctypes.Structure):
    """`densenas_session` (opaque)."""


class SpaceHandle(ctypes.Structure):
    """`densenas_space` (opaque)."""


class Progress(ctypes.Structure):
    """`struct densenas_progress`."""

    _fields_ = [
        ("kind", ctypes.c_uint32),
        ("phase", ctypes.c_size_t),
        ("epoch", ctypes.c_size_t),
        ("epochs", ctypes.c_size_t),
        ("loss", ctypes.c_double),
        ("arch_loss", ctypes.c_double),
        ("best_val_accuracy", ctypes.c_double),
    ]


#: `densenas_progress_callback`.
ProgressCallback = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.POINTER(Progress), ctypes.c_void_p)

P = ctypes.POINTER
c_char_p, c_void_p = ctypes.c_char_p, ctypes.c_void_p
c_size_t, c_double, c_float = ctypes.c_size_t, ctypes.c_double, ctypes.c_float
c_int64, c_uint32, c_uint64 = ctypes.c_int64, ctypes.c_uint32, ctypes.c_uint64
STATUS = ctypes.c_uint32  # densenas_status

# Strings the library allocates (`char *`, `char **`) are kept as raw pointers
# (c_void_p) so that they can be handed back to densenas_string_free.
#: name -> (restype, argtypes), in the order of the header.
SIGNATURES = {
    "densenas_version": (c_char_p, []),
    "densenas_dataset_load": (STATUS, [c_char_p, c_double, c_uint64, P(P(DatasetHandle))]),
    "densenas_dataset_free": (None, [P(DatasetHandle)]),
    "densenas_dataset_shape": (STATUS, [P(DatasetHandle), P(c_size_t), P(c_size_t)]),
    "densenas_dataset_split": (STATUS, [P(DatasetHandle), c_uint32, P(P(c_float)), P(P(c_int64)), P(c_size_t)]),
    "densenas_experiment_import_unit": (STATUS, [c_char_p, c_char_p, c_char_p]),
    "densenas_experiment_list_units": (STATUS, [c_char_p, c_char_p, P(c_void_p)]),
    "densenas_experiment_lock_free": (None, [P(ExperimentLockHandle)]),
    "densenas_experiment_lock_new": (STATUS, [c_char_p, P(P(ExperimentLockHandle))]),
    "densenas_experiment_record_failure": (STATUS, [c_char_p, c_char_p, c_char_p, c_char_p]),
    "densenas_experiment_run_unit": (STATUS, [c_char_p, c_char_p, c_char_p]),
    "densenas_experiment_run_unit_spec": (STATUS, [c_char_p, c_char_p, c_char_p]),
    "densenas_last_error_message": (c_size_t, [P(ctypes.c_char), c_size_t]),
    "densenas_status_name": (c_char_p, [c_uint32]),
    "densenas_report_write": (STATUS, [c_char_p, P(c_void_p)]),
    "densenas_search_run": (STATUS, [c_char_p, c_char_p, ProgressCallback, c_void_p, P(c_void_p)]),
    "densenas_search_run_with_options": (
        STATUS,
        [c_char_p, c_char_p, c_char_p, ProgressCallback, c_void_p, P(c_void_p)],
    ),
    "densenas_session_new": (STATUS, [P(SpaceHandle), c_char_p, P(P(SessionHandle))]),
    "densenas_session_new_for_dataset": (
        STATUS,
        [P(SpaceHandle), c_char_p, P(DatasetHandle), P(P(SessionHandle))],
    ),
    "densenas_session_free": (None, [P(SessionHandle)]),
    "densenas_session_step_weights": (
        STATUS,
        [P(SessionHandle), P(c_float), c_size_t, P(c_int64), c_size_t, P(c_float)],
    ),
    "densenas_session_step_architecture": (
        STATUS,
        [P(SessionHandle), P(c_float), c_size_t, P(c_int64), c_size_t, P(c_float)],
    ),
    "densenas_session_end_phase": (
        STATUS,
        [P(SessionHandle), P(c_float), c_size_t, P(c_int64), c_size_t, P(c_double)],
    ),
    "densenas_session_evaluate": (
        STATUS,
        [P(SessionHandle), P(c_float), c_size_t, P(c_int64), c_size_t, P(c_double), P(c_double)],
    ),
    "densenas_session_predict": (
        STATUS,
        [P(SessionHandle), P(c_float), c_size_t, c_size_t, P(c_float), c_size_t],
    ),
    "densenas_session_blocks": (STATUS, [P(SessionHandle), P(c_size_t)]),
    "densenas_session_alpha": (STATUS, [P(SessionHandle), P(c_double), c_size_t]),
    "densenas_session_best_dag_json": (STATUS, [P(SessionHandle), P(c_void_p)]),
    "densenas_session_export_onnx": (STATUS, [P(SessionHandle), c_char_p]),
    "densenas_session_set_progress": (STATUS, [P(SessionHandle), c_double]),
    "densenas_session_set_learning_rate": (STATUS, [P(SessionHandle), c_double]),
    "densenas_session_save": (STATUS, [P(SessionHandle), c_char_p]),
    "densenas_session_load": (STATUS, [c_char_p, P(P(SessionHandle))]),
    "densenas_session_shape": (STATUS, [P(SessionHandle), P(c_size_t), P(c_size_t)]),
    "densenas_space_new": (STATUS, [c_char_p, P(P(SpaceHandle))]),
    "densenas_space_free": (None, [P(SpaceHandle)]),
    "densenas_space_features": (STATUS, [P(SpaceHandle), P(c_size_t)]),
    "densenas_space_classes": (STATUS, [P(SpaceHandle), P(c_size_t)]),
    "densenas_string_free": (None, [c_void_p]),
    "densenas_train": (STATUS, [c_char_p, ProgressCallback, c_void_p, P(c_void_p)]),
}


def last_error_message():
    """The calling thread's last error message ("" if none)."""
    n = lib.densenas_last_error_message(None, 0)
    buf = ctypes.create_string_buffer(n + 1)
    lib.densenas_last_error_message(buf, n + 1)
    return buf.value.decode("utf-8", errors="replace")


def status_name(status):
    """The name of a status code ("DENSENAS_STATUS_UNKNOWN" if it is none)."""
    return lib.densenas_status_name(status).decode("ascii")


def _check(status, func, _args):
    # Runs on the calling thread right after the call, so the message is this call's.
    if status != 0:
        raise error_for_status(status, status_name(status), last_error_message())
    return status


def _declare(library):
    for name, (restype, argtypes) in SIGNATURES.items():
        func = getattr(library, name)
        func.restype = restype
        func.argtypes = argtypes
        if restype is STATUS:
            func.errcheck = _check


lib, library_path = _load()
_declare(lib)


def take_string(ptr):
    """Copies a string the library allocated into a `str` and frees it."""
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        lib.densenas_string_free(ptr)
