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
    /// A call that is not valid in the session's current state.
    #[error("invalid state: {0}")]
    State(String),
    /// The requested device is not available.
    #[error("device unavailable: {0}")]
    Device(String),
    /// The training diverged (a loss became NaN or infinite).
    #[error("training diverged: {0}")]
    Diverged(String),
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

    /// A data-file error on `path`.
    pub fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Data { path: path.into(), message: message.into() }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
