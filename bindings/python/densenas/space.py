"""`Space`: a validated search space (`densenas_space`)."""
import ctypes

from . import _ffi
from ._handle import Handle, to_json


class Space(Handle):
    """A search space, from its configuration: a dict or a JSON string with the keys
    `features` (F), `classes` (C), `layers` (L), `width` (D), `blocks` (k), `max_skip`
    (S) and the optional `activation`, `aggregation`, `norm`, `min_edges`,
    `max_edges`; a typed space adds `shape` ([C, H, W]), `ops` (dense, conv3x3,
    conv5x5, local3x3, avgpool3x3, maxpool3x3, identity), `input_shape` and `stem`
    (dense or conv). Unknown keys and values out of range raise `InvalidConfigError`
    with the library's message.

    Immutable once made: may be shared between threads and used by several sessions.
    Sessions keep what they need of it, so it may be closed before them.
    """

    _kind = "space"

    def __init__(self, config):
        out = ctypes.POINTER(_ffi.SpaceHandle)()
        _ffi.lib.densenas_space_new(to_json(config), ctypes.byref(out))
        self._own(out, _ffi.lib.densenas_space_free)

    @classmethod
    def from_json(cls, text):
        """The space of a JSON configuration (the same as `Space(text)`)."""
        return cls(text)

    @property
    def features(self):
        """The number of input features F."""
        out = ctypes.c_size_t()
        _ffi.lib.densenas_space_features(self._handle(), ctypes.byref(out))
        return out.value

    @property
    def classes(self):
        """The number of classes C."""
        out = ctypes.c_size_t()
        _ffi.lib.densenas_space_classes(self._handle(), ctypes.byref(out))
        return out.value

    def __repr__(self):
        if self.closed:
            return "<densenas.Space (closed)>"
        return f"<densenas.Space features={self.features} classes={self.classes}>"
