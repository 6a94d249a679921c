//! The panic boundary and the pointer checks every export goes through.

use std::ffi::{c_char, CStr};

use crate::error::{Error, Result};

/// Runs `$body` (a block evaluating to `Result<()>`) inside `catch_unwind`; turns an
/// error into its status and the thread's last-error message, and a panic into
/// `DENSENAS_STATUS_PANIC`.
macro_rules! ffi_boundary {
    ($body:block) => {{
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> crate::Result<()> { $body }));
        crate::ffi::error::finish(result)
    }};
}

/// For `void` exports (the `_free` functions): runs `$body`, swallowing a panic.
macro_rules! ffi_boundary_void {
    ($body:block) => {{
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body));
    }};
}

/// `Err(NullPointer)` naming `name` when `ptr` is NULL.
pub(crate) fn not_null<T>(ptr: *const T, name: &str) -> Result<()> {
    if ptr.is_null() {
        Err(Error::NullPointer(name.to_string()))
    } else {
        Ok(())
    }
}

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    not_null(ptr, name)?;
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| Error::Input(format!("{name} is not valid UTF-8")))
}

/// A borrowed array argument of `len` elements.
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable elements that outlive the call.
pub(crate) unsafe fn slice_arg<'a, T>(ptr: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    not_null(ptr, name)?;
    // SAFETY: non-NULL and `len` elements per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Writes `value` to the output pointer `out` (checked non-NULL beforehand).
///
/// # Safety
/// `out` must be a valid, writable pointer.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: per the caller's contract.
    unsafe { out.write(value) };
}
