//! The crate's one error type and its `Result` alias.

use std::path::PathBuf;

/// Everything that can go wrong in densenas.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required pointer argument of the C ABI was NULL.
    #[error("{0} is NULL")]
    NullPointer(String),
    /// A configuration value is missing, unknown or out of its allowed range.
    #[error("invalid configuration: {field}: {message}")]
    Config {
        /// The offending key (for example `width`).
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A configuration document could not be parsed (malformed JSON, not an object, a
    /// wrong key at its top level). The message never repeats "invalid configuration":
    /// add context with [`Error::in_context`], not by wrapping a displayed error.
    #[error("invalid configuration: {0}")]
    ConfigParse(String),
    /// Input data (features, labels, shapes) is unusable.
    #[error("invalid input: {0}")]
    Input(String),
    /// A data file is malformed.
    #[error("{path}: {message}")]
    Data {
        /// The file that is malformed.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The requested DAGs cannot be drawn (for example more distinct DAGs than exist).
    #[error("cannot draw DAGs: {0}")]
    Density(String),
    /// A DAG does not belong to the space.
    #[error("invalid DAG: {0}")]
    Dag(String),
    /// A call that is not valid in the current state of an object (an architecture
    /// step of second-order DARTS before any weight step, a failed unit of an
    /// experiment). Kept for such order-of-calls errors only.
    #[error("invalid state: {0}")]
    State(String),
    /// A run or experiment folder is in a state that refuses the call: it is in use by
    /// another process, holds a finished run, holds an unfinished search, has no
    /// checkpoint, or holds another configuration.
    #[error("{path}: {message}")]
    Folder {
        /// The folder (or the file in it) concerned.
        path: PathBuf,
        /// What is wrong and how to go on.
        message: String,
    },
    /// The requested device is not available (CUDA).
    #[error("device unavailable: {0}")]
    Device(String),
    /// ONNX Runtime cannot be loaded (not installed, too old, or a bad
    /// `ORT_DYLIB_PATH`): the sentence says what failed and the remedy.
    #[error("{0}")]
    RuntimeMissing(String),
    /// An exported model failed its check in ONNX Runtime: ONNX Runtime could not run
    /// it, or its logits differ from the engine's by more than the tolerance.
    #[error("the ONNX Runtime check of {path} failed: {message}")]
    Check {
        /// The model file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The training diverged (a loss became NaN or infinite).
    #[error("training diverged: {0}")]
    Diverged(String),
    /// A stop request cut the job short before it produced a result.
    #[error("stopped: {0}")]
    Stopped(String),
    /// A broken invariant inside densenas (a bug: please report it), or a resource of
    /// the process (a worker's pipe, a poisoned lock) that failed under it.
    #[error("internal error: {0}")]
    Internal(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// JSON (de)serialisation failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

impl Error {
    /// A configuration error naming `field`.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config { field: field.into(), message: message.into() }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// The same error with `context` (a file, a section of a document) before what it
    /// names: a configuration error's field becomes `context: field`, a parse error's
    /// message `context: message`, so that "invalid configuration" is still said once.
    /// Other errors are returned unchanged.
    pub fn in_context(self, context: impl std::fmt::Display) -> Self {
        match self {
            Error::Config { field, message } => Error::Config { field: format!("{context}: {field}"), message },
            Error::ConfigParse(message) => Error::ConfigParse(format!("{context}: {message}")),
            other => other,
        }
    }

    /// A folder-state error on `path` (see [`Error::Folder`]).
    pub fn folder(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Folder { path: path.into(), message: message.into() }
    }

    /// What kind of failure this is: the one classification from which the C status
    /// codes, the Python exceptions and the CLI's wording follow.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NullPointer(_) => ErrorKind::NullPointer,
            Error::Config { .. } | Error::ConfigParse(_) | Error::Json(_) => ErrorKind::Config,
            Error::Input(_) => ErrorKind::Input,
            Error::Data { .. } => ErrorKind::Data,
            Error::Density(_) | Error::Dag(_) => ErrorKind::Dag,
            Error::State(_) | Error::Folder { .. } => ErrorKind::State,
            Error::Device(_) => ErrorKind::Device,
            Error::RuntimeMissing(_) => ErrorKind::RuntimeMissing,
            Error::Check { .. } => ErrorKind::Check,
            Error::Diverged(_) => ErrorKind::Numerics,
            Error::Stopped(_) => ErrorKind::Stopped,
            Error::Io { .. } => ErrorKind::Io,
            Error::Torch(_) => ErrorKind::Torch,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// A data-file error on `path`.
    pub fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Data { path: path.into(), message: message.into() }
    }
}

/// The kinds of [`Error`], one per C status code (`densenas_status`, whose numbers are
/// these discriminants plus the codes for success and a caught panic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A required pointer was NULL.
    NullPointer,
    /// Bad configuration: a key with a value out of range, unknown or malformed.
    Config,
    /// Unusable input data or arguments.
    Input,
    /// A malformed data file.
    Data,
    /// DAGs that do not belong to the space or cannot be drawn.
    Dag,
    /// A call that the state of an object or folder refuses.
    State,
    /// The device (CUDA) is unavailable.
    Device,
    /// ONNX Runtime cannot be loaded.
    RuntimeMissing,
    /// An exported model failed its ONNX Runtime check.
    Check,
    /// A loss or value became NaN or infinite.
    Numerics,
    /// Stopped by a stop request before a result.
    Stopped,
    /// A file could not be read or written.
    Io,
    /// libtorch reported an error.
    Torch,
    /// A bug or a failed process resource.
    Internal,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
