//! `densenas_space`: a validated search space.

use std::ffi::c_char;

use super::boundary::{not_null, str_arg, write_out};
use super::densenas_status;
use crate::model::space::{Space, SpaceConfig};

/// A validated search space (opaque). Immutable once made: may be shared between
/// threads and used by several sessions at once.
pub struct densenas_space {
    pub(crate) inner: Space,
}

/// Makes a space from its JSON configuration (`features`, `classes`, `layers`,
/// `width`, `blocks`, `max_skip`, optional `activation`, `aggregation`, `norm`,
/// `min_edges`, `max_edges`, and for a typed space `shape` `[C, H, W]`, `ops` (from
/// `dense`, `conv3x3`, `conv5x5`, `local3x3`, `avgpool3x3`, `maxpool3x3`, `identity`),
/// `input_shape` and `stem` (`dense` or `conv`); unknown keys are refused).
///
/// On success `*out` receives a new space: the caller owns it and must free it with
/// `densenas_space_free`. On failure `*out` is left unchanged.
#[no_mangle]
pub unsafe extern "C" fn densenas_space_new(config_json: *const c_char, out: *mut *mut densenas_space) -> densenas_status {
    ffi_boundary!({
        not_null(out, "out")?;
        // SAFETY: the caller passes a NUL-terminated string.
        let json = unsafe { str_arg(config_json, "config_json") }?;
        let space = SpaceConfig::from_json(json)?;
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { write_out(out, Box::into_raw(Box::new(densenas_space { inner: space }))) };
        Ok(())
    })
}

/// Frees a space. Calling with NULL is a no-op. Sessions made from it keep what they
/// need, so it may be freed before them. Must not be called twice on the same space.
#[no_mangle]
pub unsafe extern "C" fn densenas_space_free(space: *mut densenas_space) {
    ffi_boundary_void!({
        if !space.is_null() {
            // SAFETY: `space` came from densenas_space_new.
            drop(unsafe { Box::from_raw(space) });
        }
    })
}

/// The number of input features `F` of a space, in `*out`.
#[no_mangle]
pub unsafe extern "C" fn densenas_space_features(space: *const densenas_space, out: *mut usize) -> densenas_status {
    ffi_boundary!({
        not_null(space, "space")?;
        not_null(out, "out")?;
        // SAFETY: non-NULL pointers per the contract.
        unsafe { write_out(out, (*space).inner.features()) };
        Ok(())
    })
}

/// The number of classes `C` of a space, in `*out`.
#[no_mangle]
pub unsafe extern "C" fn densenas_space_classes(space: *const densenas_space, out: *mut usize) -> densenas_status {
    ffi_boundary!({
        not_null(space, "space")?;
        not_null(out, "out")?;
        // SAFETY: non-NULL pointers per the contract.
        unsafe { write_out(out, (*space).inner.classes()) };
        Ok(())
    })
}
