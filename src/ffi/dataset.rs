//! `densenas_dataset`: a dataset loaded from a `--data` spec, with its split roles.

use std::ffi::c_char;

use super::boundary::{not_null, str_arg, write_out};
use super::densenas_status;
use crate::data::{self, Dataset};
use crate::error::{Error, Result};

/// The splits of a dataset (passed to `densenas_dataset_split` as a `uint32_t`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum densenas_split {
    /// The whole training file.
    DENSENAS_SPLIT_TRAIN = 0,
    /// The weight split of the training file (weight steps).
    DENSENAS_SPLIT_WEIGHT = 1,
    /// The validation split of the training file (architecture steps, judging blocks).
    DENSENAS_SPLIT_VALIDATION = 2,
    /// The test file (or the fixed test split of a dataset without one).
    DENSENAS_SPLIT_TEST = 3,
}

/// A loaded dataset with its splits (opaque). Immutable once loaded: may be read from
/// several threads at once.
pub struct densenas_dataset {
    train: Dataset,
    weight: Dataset,
    validation: Dataset,
    test: Dataset,
}

impl densenas_dataset {
    /// The whole training file.
    pub(crate) fn train(&self) -> &Dataset {
        &self.train
    }

    fn split(&self, which: u32) -> Result<&Dataset> {
        use densenas_split::*;
        let split = [DENSENAS_SPLIT_TRAIN, DENSENAS_SPLIT_WEIGHT, DENSENAS_SPLIT_VALIDATION, DENSENAS_SPLIT_TEST]
            .into_iter()
            .find(|s| *s as u32 == which)
            .ok_or_else(|| Error::Input(format!("unknown split {which}: use DENSENAS_SPLIT_TRAIN..DENSENAS_SPLIT_TEST")))?;
        Ok(match split {
            DENSENAS_SPLIT_TRAIN => &self.train,
            DENSENAS_SPLIT_WEIGHT => &self.weight,
            DENSENAS_SPLIT_VALIDATION => &self.validation,
            DENSENAS_SPLIT_TEST => &self.test,
        })
    }
}

/// Loads a dataset from a spec as `densenas search --data` takes it (`digits`,
/// `idx:DIR`, `cifar:DIR`, `images:PATH`, `csv:TRAIN[,TEST]`) and splits its training
/// file into weight and validation splits as a search with `seed` and `val_fraction`
/// (in (0, 1); 0.5 by default in searches) would.
///
/// On success `*out` receives a dataset the caller owns and must free with
/// `densenas_dataset_free`; on failure it is left unchanged.
#[no_mangle]
pub unsafe extern "C" fn densenas_dataset_load(
    spec: *const c_char,
    val_fraction: f64,
    seed: u64,
    out: *mut *mut densenas_dataset,
) -> densenas_status {
    ffi_boundary!({
        not_null(out, "out")?;
        // SAFETY: per the contract.
        let spec = unsafe { str_arg(spec, "spec") }?;
        let splits = data::load(spec)?;
        let (weight, validation) = splits.weight_val(val_fraction, seed)?;
        let handle = densenas_dataset { train: splits.train, weight, validation, test: splits.test };
        unsafe { write_out(out, Box::into_raw(Box::new(handle))) };
        Ok(())
    })
}

/// Frees a dataset (and invalidates the arrays `densenas_dataset_split` lent out).
/// Calling with NULL is a no-op. Must not be called twice on the same dataset.
#[no_mangle]
pub unsafe extern "C" fn densenas_dataset_free(dataset: *mut densenas_dataset) {
    ffi_boundary_void!({
        if !dataset.is_null() {
            // SAFETY: `dataset` came from densenas_dataset_load.
            drop(unsafe { Box::from_raw(dataset) });
        }
    })
}

/// The dataset's features `F` and classes `C`, in `*features_out` and `*classes_out`.
#[no_mangle]
pub unsafe extern "C" fn densenas_dataset_shape(
    dataset: *const densenas_dataset,
    features_out: *mut usize,
    classes_out: *mut usize,
) -> densenas_status {
    ffi_boundary!({
        not_null(dataset, "dataset")?;
        not_null(features_out, "features_out")?;
        not_null(classes_out, "classes_out")?;
        let d = unsafe { &*dataset };
        unsafe {
            write_out(features_out, d.train.features);
            write_out(classes_out, d.train.classes);
        }
        Ok(())
    })
}

/// Lends one split (a `densenas_split` value): `*x_out` receives its `n * F` raw features
/// (row-major), `*y_out` its `n` labels and `*n_out` its size `n`. The arrays belong to
/// the dataset and stay valid until it is freed; the caller must not free or modify
/// them.
#[no_mangle]
pub unsafe extern "C" fn densenas_dataset_split(
    dataset: *const densenas_dataset,
    which: u32,
    x_out: *mut *const f32,
    y_out: *mut *const i64,
    n_out: *mut usize,
) -> densenas_status {
    ffi_boundary!({
        not_null(dataset, "dataset")?;
        not_null(x_out, "x_out")?;
        not_null(y_out, "y_out")?;
        not_null(n_out, "n_out")?;
        let split = unsafe { &*dataset }.split(which)?;
        unsafe {
            write_out(x_out, split.x.as_ptr());
            write_out(y_out, split.y.as_ptr());
            write_out(n_out, split.len());
        }
        Ok(())
    })
}
