"""`Dataset`: a loaded dataset and its splits (`densenas_dataset`)."""
import ctypes

import numpy as np

from . import _ffi
from ._enum import NamedIntEnum
from ._handle import Handle


class Split(NamedIntEnum):
    """`densenas_split`: the splits of a dataset."""

    #: The whole training file.
    TRAIN = 0
    #: The weight split of the training file (weight steps).
    WEIGHT = 1
    #: The validation split of the training file (architecture steps, judging blocks).
    VALIDATION = 2
    #: The test file (or the fixed test split of a dataset without one).
    TEST = 3


class Dataset(Handle):
    """A dataset loaded from a spec as `densenas search --data` takes it (`digits`,
    `idx:DIR`, `cifar:DIR`, `images:PATH`, `csv:TRAIN[,TEST]`), its training file split
    into weight and validation splits as a search with `seed` and `val_fraction` would.

    Immutable once loaded: may be read from several threads at once.
    """

    _kind = "dataset"

    def __init__(self, spec="digits", val_fraction=0.5, seed=0):
        out = ctypes.POINTER(_ffi.DatasetHandle)()
        _ffi.lib.densenas_dataset_load(str(spec).encode("utf-8"), float(val_fraction), int(seed), ctypes.byref(out))
        self._own(out, _ffi.lib.densenas_dataset_free)

    @classmethod
    def load(cls, spec="digits", val_fraction=0.5, seed=0):
        """The same as `Dataset(spec, val_fraction, seed)`."""
        return cls(spec, val_fraction, seed)

    @property
    def shape(self):
        """(features F, classes C)."""
        f, c = ctypes.c_size_t(), ctypes.c_size_t()
        _ffi.lib.densenas_dataset_shape(self._handle(), ctypes.byref(f), ctypes.byref(c))
        return f.value, c.value

    @property
    def features(self):
        """The number of input features F."""
        return self.shape[0]

    @property
    def classes(self):
        """The number of classes C."""
        return self.shape[1]

    def split(self, which):
        """One split (a `Split` or its name, "train", "weight", "validation", "test") as
        `(x, y)`: raw features float32 `[n, F]` and labels int64 `[n]`. Both are copies,
        so they outlive the dataset."""
        if isinstance(which, str):
            which = Split[which.upper()]
        x = ctypes.POINTER(ctypes.c_float)()
        y = ctypes.POINTER(ctypes.c_int64)()
        n = ctypes.c_size_t()
        _ffi.lib.densenas_dataset_split(self._handle(), int(which), ctypes.byref(x), ctypes.byref(y), ctypes.byref(n))
        features = self.features
        if n.value == 0:
            return np.empty((0, features), np.float32), np.empty(0, np.int64)
        xs = np.ctypeslib.as_array(x, shape=(n.value * features,)).reshape(n.value, features).copy()
        ys = np.ctypeslib.as_array(y, shape=(n.value,)).copy()
        return xs, ys

    def __repr__(self):
        if self.closed:
            return "<densenas.Dataset (closed)>"
        f, c = self.shape
        return f"<densenas.Dataset features={f} classes={c}>"
