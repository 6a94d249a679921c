//! `densenas_status`, the thread-local last-error message and its accessors.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_char;

use crate::error::Error;

/// The result of every fallible function. Codes are append-only and never reused.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum densenas_status {
    /// Success.
    DENSENAS_STATUS_OK = 0,
    /// A required pointer argument was NULL.
    DENSENAS_STATUS_NULL_PARAMETER = 1,
    /// A configuration (JSON) was malformed, had an unknown key or a value out of range.
    DENSENAS_STATUS_INVALID_CONFIG = 2,
    /// Input data (sizes, labels, non-finite features, strings) was unusable.
    DENSENAS_STATUS_INVALID_INPUT = 3,
    /// A data file was malformed.
    DENSENAS_STATUS_INVALID_DATA = 4,
    /// The call is not valid in the object's current state.
    DENSENAS_STATUS_INVALID_STATE = 5,
    /// The requested device (CUDA) or ONNX Runtime is unavailable.
    DENSENAS_STATUS_UNAVAILABLE = 6,
    /// Training diverged (a loss became NaN or infinite).
    DENSENAS_STATUS_DIVERGED = 7,
    /// A file could not be read or written.
    DENSENAS_STATUS_IO = 8,
    /// The requested DAGs cannot be drawn from the space.
    DENSENAS_STATUS_INVALID_DAG = 9,
    /// libtorch reported an error.
    DENSENAS_STATUS_TORCH = 10,
    /// A panic was caught at the boundary (a bug: please report it).
    DENSENAS_STATUS_PANIC = 11,
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn status_of(e: &Error) -> densenas_status {
    use densenas_status::*;
    match e {
        Error::NullPointer(_) => DENSENAS_STATUS_NULL_PARAMETER,
        Error::Config { .. } | Error::ConfigParse(_) | Error::Json(_) => DENSENAS_STATUS_INVALID_CONFIG,
        Error::Input(_) => DENSENAS_STATUS_INVALID_INPUT,
        Error::Data { .. } => DENSENAS_STATUS_INVALID_DATA,
        Error::Density(_) | Error::Dag(_) => DENSENAS_STATUS_INVALID_DAG,
        Error::State(_) => DENSENAS_STATUS_INVALID_STATE,
        Error::Device(_) => DENSENAS_STATUS_UNAVAILABLE,
        Error::Diverged(_) => DENSENAS_STATUS_DIVERGED,
        Error::Io { .. } => DENSENAS_STATUS_IO,
        Error::Torch(_) => DENSENAS_STATUS_TORCH,
    }
}

/// Records the calling thread's last error message. Never panics: during thread
/// teardown (the thread-local already destroyed) or a re-entrant call the message is
/// dropped instead.
pub(crate) fn set_last_error(message: String) {
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut slot) = e.try_borrow_mut() {
            *slot = message;
        }
    });
}

/// Drops `value` without letting a panic of its destructor escape (a panic payload
/// whose own destructor panics is leaked rather than aborting the host).
fn drop_quietly<T>(value: T) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(value))) {
        std::mem::forget(payload);
    }
}

/// `f()`, or `fallback` if it panics.
fn or_fallback(f: impl FnOnce() -> String, fallback: &str) -> String {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        std::mem::forget(payload);
        fallback.to_string()
    })
}

/// The status of a call's outcome, recording the message of a failure. Nothing here
/// can panic out of an export: formatting and dropping run under their own guards.
pub(crate) fn finish(result: std::thread::Result<crate::Result<()>>) -> densenas_status {
    match result {
        Ok(Ok(())) => densenas_status::DENSENAS_STATUS_OK,
        Ok(Err(e)) => {
            let status = status_of(&e);
            let message = or_fallback(|| e.to_string(), "error (its message could not be formatted)");
            drop_quietly(e);
            set_last_error(message);
            status
        }
        Err(panic) => {
            let message = or_fallback(|| panic_message(&panic), "unknown panic");
            drop_quietly(panic);
            set_last_error(format!("internal error (panic): {message}"));
            densenas_status::DENSENAS_STATUS_PANIC
        }
    }
}

fn panic_message(panic: &Box<dyn Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// Copies the calling thread's last error message into `buf`, like `snprintf`: writes
/// at most `len` bytes including a terminating NUL, and returns the message's length
/// without the NUL (so a return value `>= len` means it was truncated). `buf` may be
/// NULL when `len` is 0, to ask for the length. The message is the one of the last
/// failed call on this thread ("" if none). Thread-safe (the message is per thread).
#[no_mangle]
pub unsafe extern "C" fn densenas_last_error_message(buf: *mut c_char, len: usize) -> usize {
    let result = std::panic::catch_unwind(|| {
        LAST_ERROR.try_with(|e| {
            let Ok(msg) = e.try_borrow() else { return 0 };
            let bytes = msg.as_bytes();
            if !buf.is_null() && len > 0 {
                let n = bytes.len().min(len - 1);
                // SAFETY: the caller gives `len` writable bytes at `buf`.
                unsafe {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
                    *buf.add(n) = 0;
                }
            }
            bytes.len()
        })
        .unwrap_or(0)
    });
    result.unwrap_or_else(|payload| {
        std::mem::forget(payload);
        0
    })
}

/// The name of a status code as a static NUL-terminated string (for example
/// "DENSENAS_STATUS_OK"; "DENSENAS_STATUS_UNKNOWN" for a value that is not a status).
/// Never NULL; the caller must not free it. Thread-safe.
#[no_mangle]
pub extern "C" fn densenas_status_name(status: u32) -> *const c_char {
    let name: &'static str = match status {
        0 => "DENSENAS_STATUS_OK\0",
        1 => "DENSENAS_STATUS_NULL_PARAMETER\0",
        2 => "DENSENAS_STATUS_INVALID_CONFIG\0",
        3 => "DENSENAS_STATUS_INVALID_INPUT\0",
        4 => "DENSENAS_STATUS_INVALID_DATA\0",
        5 => "DENSENAS_STATUS_INVALID_STATE\0",
        6 => "DENSENAS_STATUS_UNAVAILABLE\0",
        7 => "DENSENAS_STATUS_DIVERGED\0",
        8 => "DENSENAS_STATUS_IO\0",
        9 => "DENSENAS_STATUS_INVALID_DAG\0",
        10 => "DENSENAS_STATUS_TORCH\0",
        11 => "DENSENAS_STATUS_PANIC\0",
        _ => "DENSENAS_STATUS_UNKNOWN\0",
    };
    name.as_ptr().cast()
}
