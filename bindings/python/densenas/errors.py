"""The library's status codes and the exceptions that carry them."""
from ._enum import NamedIntEnum


class Status(NamedIntEnum):
    """`densenas_status`: the result of every fallible call (append-only codes)."""

    OK = 0
    NULL_PARAMETER = 1
    INVALID_CONFIG = 2
    INVALID_INPUT = 3
    INVALID_DATA = 4
    INVALID_STATE = 5
    UNAVAILABLE = 6
    DIVERGED = 7
    IO = 8
    INVALID_DAG = 9
    TORCH = 10
    PANIC = 11
    RUNTIME_MISSING = 12
    CHECK_FAILED = 13
    STOPPED = 14
    INTERNAL = 15


class DensenasError(Exception):
    """A call into libdensenas failed.

    `status` is the library's status code (a `Status`, or a plain int for a code this
    package does not know), `status_name` its name (for example
    "DENSENAS_STATUS_INVALID_INPUT") and `message` the library's message, word for word.
    """

    def __init__(self, status, status_name, message):
        super().__init__(status, status_name, message)
        try:
            self.status = Status(status)
        except ValueError:
            self.status = int(status)
        self.status_name = status_name
        self.message = message

    def __str__(self):
        return f"{self.status_name}: {self.message}"


class NullParameterError(DensenasError):
    """DENSENAS_STATUS_NULL_PARAMETER (a bug in the binding if it ever reaches you)."""


class InvalidConfigError(DensenasError, ValueError):
    """DENSENAS_STATUS_INVALID_CONFIG: a malformed configuration, an unknown key or a
    value out of range."""


class InvalidInputError(DensenasError, ValueError):
    """DENSENAS_STATUS_INVALID_INPUT: unusable data (sizes, labels, non-finite
    features, strings)."""


class InvalidDataError(DensenasError):
    """DENSENAS_STATUS_INVALID_DATA: a malformed data file."""


class InvalidStateError(DensenasError):
    """DENSENAS_STATUS_INVALID_STATE: the call is not valid in the object's state."""


class UnavailableError(DensenasError):
    """DENSENAS_STATUS_UNAVAILABLE: the device (CUDA) is unavailable."""


class RuntimeMissingError(DensenasError):
    """DENSENAS_STATUS_RUNTIME_MISSING: ONNX Runtime cannot be loaded (the message says
    why and the remedy)."""


class CheckFailedError(DensenasError):
    """DENSENAS_STATUS_CHECK_FAILED: an exported model failed its ONNX Runtime check
    (the run folder is written all the same)."""


class StoppedError(DensenasError):
    """DENSENAS_STATUS_STOPPED: a stop request cut the call short before a result."""


class InternalError(DensenasError):
    """DENSENAS_STATUS_INTERNAL: a broken invariant in the library (please report it)."""


class DivergedError(DensenasError):
    """DENSENAS_STATUS_DIVERGED: a loss became NaN or infinite."""


class IoError(DensenasError):
    """DENSENAS_STATUS_IO: a file could not be read or written."""


class InvalidDagError(DensenasError):
    """DENSENAS_STATUS_INVALID_DAG: the requested DAGs cannot be drawn from the space."""


class TorchError(DensenasError):
    """DENSENAS_STATUS_TORCH: libtorch reported an error."""


class PanicError(DensenasError):
    """DENSENAS_STATUS_PANIC: a panic was caught in the library (please report it)."""


_BY_STATUS = {
    Status.NULL_PARAMETER: NullParameterError,
    Status.INVALID_CONFIG: InvalidConfigError,
    Status.INVALID_INPUT: InvalidInputError,
    Status.INVALID_DATA: InvalidDataError,
    Status.INVALID_STATE: InvalidStateError,
    Status.UNAVAILABLE: UnavailableError,
    Status.DIVERGED: DivergedError,
    Status.IO: IoError,
    Status.INVALID_DAG: InvalidDagError,
    Status.TORCH: TorchError,
    Status.PANIC: PanicError,
    Status.RUNTIME_MISSING: RuntimeMissingError,
    Status.CHECK_FAILED: CheckFailedError,
    Status.STOPPED: StoppedError,
    Status.INTERNAL: InternalError,
}


def error_for_status(status, status_name, message):
    """The exception for a failed call: the subclass of its status, else DensenasError."""
    return _BY_STATUS.get(status, DensenasError)(status, status_name, message)
