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
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)) {
            // Leaked rather than dropped: a payload's destructor could panic again.
            std::mem::forget(payload);
        }
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
    if (ptr as usize) % std::mem::align_of::<T>() != 0 {
        return Err(Error::Input(format!("{name} is not aligned to {} bytes", std::mem::align_of::<T>())));
    }
    if len.checked_mul(std::mem::size_of::<T>()).is_none_or(|bytes| bytes > isize::MAX as usize) {
        return Err(Error::Input(format!("{name}: {len} elements is more than any array can hold")));
    }
    // SAFETY: non-NULL, aligned, of a representable size, and `len` elements per the
    // caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Writes `value` to the output pointer `out` (checked non-NULL beforehand; any
/// alignment is accepted).
///
/// # Safety
/// `out` must be a valid, writable pointer.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: per the caller's contract; unaligned writes are allowed.
    unsafe { out.write_unaligned(value) };
}

/// Copies `values` to the caller's array `out` of `len` elements, after checking that
/// the lengths agree and that `out` is non-NULL and aligned.
///
/// # Safety
/// `out` must be NULL or point to `len` writable elements.
pub(crate) unsafe fn copy_out<T: Copy>(values: &[T], out: *mut T, len: usize, name: &str) -> Result<()> {
    not_null(out, name)?;
    if (out as usize) % std::mem::align_of::<T>() != 0 {
        return Err(Error::Input(format!("{name} is not aligned to {} bytes", std::mem::align_of::<T>())));
    }
    if values.len() != len {
        return Err(Error::Input(format!("{name} has room for {len} values, the result has {}", values.len())));
    }
    // SAFETY: non-NULL, aligned, `len` elements per the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, len) };
    Ok(())
}
