//! The C ABI (the README's run-folder table): a thin layer over the Rust API with opaque
//! handles, `densenas_status` results, outputs written only on success, a thread-local
//! last-error message, a panic boundary at every export and a NULL check on every
//! pointer. `include/densenas.h` is generated from these files by cbindgen.
//!
//! Conventions: functions are `densenas_<type>_<verb>`; `_new` / `_free` pairs;
//! `_free(NULL)` is a no-op; what the library allocates (handles, strings), only the
//! library frees.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

#[macro_use]
mod boundary;
pub mod dataset;
pub mod error;
pub mod experiment;
pub mod search;
pub mod session;
pub mod space;
pub mod string;
pub mod train;

pub use dataset::densenas_split;
pub use error::densenas_status;
pub use search::densenas_progress_kind;

/// The library's version as a static NUL-terminated string (for example "0.1.0").
/// Never NULL; the caller must not free it. Thread-safe.
#[no_mangle]
pub extern "C" fn densenas_version() -> *const std::ffi::c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}
