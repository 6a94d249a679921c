//! `densenas_status`, the thread-local last-error message and its accessors.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_char;

use crate::error::{Error, ErrorKind};

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
    /// The requested device (CUDA) is unavailable. (Earlier releases also reported a
    /// missing ONNX Runtime so; that is now `DENSENAS_STATUS_RUNTIME_MISSING`.)
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
    /// ONNX Runtime cannot be loaded (not installed, too old, or a bad ORT_DYLIB_PATH);
    /// the message says which and the remedy.
    DENSENAS_STATUS_RUNTIME_MISSING = 12,
    /// An exported model failed its ONNX Runtime check (ONNX Runtime could not run it,
    /// or its logits differ from the engine's by more than the stated tolerance). The
    /// run folder is written all the same.
    DENSENAS_STATUS_CHECK_FAILED = 13,
    /// A stop request cut the call short before it produced a result.
    DENSENAS_STATUS_STOPPED = 14,
    /// A broken invariant inside the library, or a process resource that failed under
    /// it (a bug: please report it).
    DENSENAS_STATUS_INTERNAL = 15,
}

/// Every status with its name: the one table from which `densenas_status_name` and
/// the mapping of errors to codes follow.
const STATUSES: [(densenas_status, &str); 16] = {
    use densenas_status::*;
    [
        (DENSENAS_STATUS_OK, "DENSENAS_STATUS_OK\0"),
        (DENSENAS_STATUS_NULL_PARAMETER, "DENSENAS_STATUS_NULL_PARAMETER\0"),
        (DENSENAS_STATUS_INVALID_CONFIG, "DENSENAS_STATUS_INVALID_CONFIG\0"),
        (DENSENAS_STATUS_INVALID_INPUT, "DENSENAS_STATUS_INVALID_INPUT\0"),
        (DENSENAS_STATUS_INVALID_DATA, "DENSENAS_STATUS_INVALID_DATA\0"),
        (DENSENAS_STATUS_INVALID_STATE, "DENSENAS_STATUS_INVALID_STATE\0"),
        (DENSENAS_STATUS_UNAVAILABLE, "DENSENAS_STATUS_UNAVAILABLE\0"),
        (DENSENAS_STATUS_DIVERGED, "DENSENAS_STATUS_DIVERGED\0"),
        (DENSENAS_STATUS_IO, "DENSENAS_STATUS_IO\0"),
        (DENSENAS_STATUS_INVALID_DAG, "DENSENAS_STATUS_INVALID_DAG\0"),
        (DENSENAS_STATUS_TORCH, "DENSENAS_STATUS_TORCH\0"),
        (DENSENAS_STATUS_PANIC, "DENSENAS_STATUS_PANIC\0"),
        (DENSENAS_STATUS_RUNTIME_MISSING, "DENSENAS_STATUS_RUNTIME_MISSING\0"),
        (DENSENAS_STATUS_CHECK_FAILED, "DENSENAS_STATUS_CHECK_FAILED\0"),
        (DENSENAS_STATUS_STOPPED, "DENSENAS_STATUS_STOPPED\0"),
        (DENSENAS_STATUS_INTERNAL, "DENSENAS_STATUS_INTERNAL\0"),
    ]
};

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The status code of an error: its [`ErrorKind`], one code per kind.
pub(crate) fn status_of(e: &Error) -> densenas_status {
    use densenas_status::*;
    match e.kind() {
        ErrorKind::NullPointer => DENSENAS_STATUS_NULL_PARAMETER,
        ErrorKind::Config => DENSENAS_STATUS_INVALID_CONFIG,
        ErrorKind::Input => DENSENAS_STATUS_INVALID_INPUT,
        ErrorKind::Data => DENSENAS_STATUS_INVALID_DATA,
        ErrorKind::Dag => DENSENAS_STATUS_INVALID_DAG,
        ErrorKind::State => DENSENAS_STATUS_INVALID_STATE,
        ErrorKind::Device => DENSENAS_STATUS_UNAVAILABLE,
        ErrorKind::RuntimeMissing => DENSENAS_STATUS_RUNTIME_MISSING,
        ErrorKind::Check => DENSENAS_STATUS_CHECK_FAILED,
        ErrorKind::Numerics => DENSENAS_STATUS_DIVERGED,
        ErrorKind::Stopped => DENSENAS_STATUS_STOPPED,
        ErrorKind::Io => DENSENAS_STATUS_IO,
        ErrorKind::Torch => DENSENAS_STATUS_TORCH,
        ErrorKind::Internal => DENSENAS_STATUS_INTERNAL,
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
    let name = STATUSES.iter().find(|(code, _)| *code as u32 == status).map_or("DENSENAS_STATUS_UNKNOWN\0", |(_, name)| name);
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_status_once_in_order_with_its_own_name() {
        for (i, (code, name)) in STATUSES.iter().enumerate() {
            assert_eq!(*code as usize, i, "{name}");
            assert_eq!(name.trim_end_matches('\0'), format!("{code:?}"));
        }
    }

    #[test]
    fn each_kind_has_its_own_code() {
        let errors = [
            Error::NullPointer("p".into()),
            Error::config("width", "bad"),
            Error::Input("x".into()),
            Error::data("f", "bad"),
            Error::Dag("d".into()),
            Error::State("s".into()),
            Error::Device("cuda".into()),
            Error::RuntimeMissing("ort".into()),
            Error::Check { path: "best.onnx".into(), message: "m".into() },
            Error::Diverged("nan".into()),
            Error::Stopped("stop".into()),
            Error::io("f", std::io::Error::other("x")),
            Error::Internal("bug".into()),
        ];
        let codes: std::collections::HashSet<u32> = errors.iter().map(|e| status_of(e) as u32).collect();
        assert_eq!(codes.len(), errors.len());
        assert!(!codes.contains(&0) && !codes.contains(&(densenas_status::DENSENAS_STATUS_PANIC as u32)));
        assert_eq!(status_of(&Error::folder("d", "in use")), densenas_status::DENSENAS_STATUS_INVALID_STATE);
    }
}
