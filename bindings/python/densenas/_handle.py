"""What every handle shares: ownership of one library object, `close()`, context-manager
support and `__del__`, and the conversion of numpy inputs for the C calls."""
import ctypes
import json
import os

import numpy as np


class Handle:
    """Owns one object of the library, freed by `close()`, on leaving a `with` block, or
    when garbage-collected, whichever comes first (closing twice is a no-op).

    A handle may be used from several threads as the C API allows (see the
    subclasses), but must not be closed while another thread uses it.
    """

    _ptr = None  # so that __del__ works when __init__ failed before owning anything
    _kind = "handle"

    def _own(self, ptr, free):
        self._ptr = ptr
        # Kept on the instance: module globals may be gone when __del__ runs at exit.
        self._free = free

    @property
    def closed(self):
        """Whether the handle was closed (its library object freed)."""
        return self._ptr is None

    def close(self):
        """Frees the library object now. Calling it again is a no-op."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            self._free(ptr)

    def _handle(self):
        if self._ptr is None:
            raise ValueError(f"the {self._kind} is closed")
        return self._ptr

    def __enter__(self):
        self._handle()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # at interpreter exit the library may already be unloaded
            pass


def to_json(value):
    """A configuration as the C API takes it: a JSON string, or anything `json.dumps`
    serialises (None: "{}", the defaults)."""
    if value is None:
        return b"{}"
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        value = json.dumps(value)
    return value.encode("utf-8")


def features_arg(x):
    """Raw features as a C-contiguous float32 array, its pointer and its size (the
    `x_len` the library checks against `batch * F`)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x, x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), x.size


def labels_arg(y):
    """Labels as a C-contiguous int64 array, its pointer and its size (the batch)."""
    y = np.asarray(y)
    if y.size and y.dtype.kind not in "iu":  # (an empty batch is the library's to refuse)
        raise TypeError(f"labels must be integers, not {y.dtype}")
    y = np.ascontiguousarray(y, dtype=np.int64)
    return y, y.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), y.size


def path_arg(path):
    """A file-system path as the C API takes it (NUL-terminated bytes)."""
    return os.fsencode(path)
