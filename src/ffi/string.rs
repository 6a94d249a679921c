//! Strings the library allocates (JSON documents) and their free function.

use std::ffi::{c_char, CString};

use crate::error::{Error, Result};

/// A library-allocated copy of `s`, to be freed with `densenas_string_free`.
pub(crate) fn to_c_string(s: String) -> Result<*mut c_char> {
    Ok(CString::new(s).map_err(|_| Error::Input("string contains a NUL byte".into()))?.into_raw())
}

/// Frees a string the library returned (for example by `densenas_session_best_dag_json`).
/// Calling with NULL is a no-op. Must not be called twice with the same pointer, nor on
/// memory the library did not allocate.
#[no_mangle]
pub unsafe extern "C" fn densenas_string_free(s: *mut c_char) {
    ffi_boundary_void!({
        if !s.is_null() {
            // SAFETY: `s` came from CString::into_raw in this library.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
