//! Datasets (the README's datasets): `F` float features per sample in
//! channel-major order and an integer label in `0..C`, the loaders behind `--data`, and
//! the split roles (test, weight and validation splits).
//!
//! Loaders, one file each: [`digits`] (embedded), [`idx`] (MNIST layout), [`cifar`]
//! (CIFAR-10 binary), [`images`] (image-folder trees, directories or tar archives) and
//! [`csv`]. Every malformed file gives an [`Error::Data`] naming the file and the fault.
//!
//! Datasets known by name (`mnist`, `fashion-mnist`, `cifar10`, `cifar10-jpeg-q75`:
//! [`registry`]) live in the data folder ([`folder`], `$DENSENAS_DATA`), which
//! [`fetch`] fills; [`identity`] names a dataset's content for experiment unit ids.

pub mod cifar;
pub mod csv;
mod digits;
pub mod export;
pub mod fetch;
mod file;
pub mod folder;
pub(crate) mod identity;
pub mod idx;
pub mod images;
pub mod registry;
mod split;

pub use csv::{parse_csv, read_csv};
pub use file::read_decompressed;
pub use digits::digits;
pub use split::{stratified_split, stratified_subset, DataSplits, SplitTensors, FIXED_TEST_FRACTION, FIXED_TEST_SEED};

use std::path::Path;

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// A labelled dataset held in memory, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// A short name for reports.
    pub name: String,
    /// Features per sample `F`.
    pub features: usize,
    /// Number of classes `C` (labels lie in `0..C`).
    pub classes: usize,
    /// `[n, F]` row-major features.
    pub x: Vec<f32>,
    /// `[n]` labels.
    pub y: Vec<i64>,
    /// The shape `[C, H, W]` of one sample, when the loader knows it (images).
    pub shape: Option<[usize; 3]>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True when the dataset holds no sample.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let f = self.features;
        let mut x = Vec::with_capacity(indices.len() * f);
        for &i in indices {
            x.extend_from_slice(&self.x[i * f..(i + 1) * f]);
        }
        Dataset {
            name: self.name.clone(),
            features: f,
            classes: self.classes,
            x,
            y: indices.iter().map(|&i| self.y[i]).collect(),
            shape: self.shape,
        }
    }

    /// Number of samples of each class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.y {
            counts[l as usize] += 1;
        }
        counts
    }

    /// The features (float32) and labels (int64) as tensors on `device`.
    pub fn tensors(&self, device: Device) -> Result<(Tensor, Tensor)> {
        let x = Tensor::f_from_slice(&self.x)?
            .f_view([self.len() as i64, self.features as i64])?
            .f_to_kind(Kind::Float)?
            .f_to_device(device)?;
        let y = Tensor::f_from_slice(&self.y)?.f_to_device(device)?;
        Ok((x, y))
    }
}

/// The `--data` specs, for help texts and errors.
pub const SPECS: &str =
    "digits, a dataset of the data folder (mnist, fashion-mnist, cifar10, cifar10-jpeg-q75), idx:DIR, cifar:DIR, cifar:FILE.bin, images:PATH[,TEST], csv:TRAIN[,TEST]";

/// Loads the dataset named by a `--data` spec:
///
/// - `digits`: the embedded UCI 8x8 digits (fixed test split);
/// - a dataset known by name (`mnist`, `fashion-mnist`, `cifar10`,
///   `cifar10-jpeg-q75`): its folder in the data folder ([`folder`]), checked against
///   the published digests before its first use; absent, an error says how to fetch it;
/// - `idx:DIR`: MNIST-layout IDX files, raw or `.gz` ([`idx::load_idx`]);
/// - `cifar:DIR` (the six CIFAR-10 binary batches) or `cifar:FILE.bin` (one file, fixed
///   test split) ([`cifar::load_cifar`]);
/// - `images:PATH[,TEST]`: an image-folder tree, a directory or a `.tar`/`.tar.gz`
///   archive, with `train/` and `test/` folders or a separate test tree, else a fixed
///   test split ([`images::load_images`]);
/// - `csv:TRAIN[,TEST]`: CSV files, raw or gzip, the label last; without a test file,
///   a fixed test split ([`csv::load_csv`]).
pub fn load(spec: &str) -> Result<DataSplits> {
    let pair = |rest: &str| -> (String, Option<String>) {
        match rest.split_once(',') {
            Some((a, b)) => (a.to_string(), Some(b.to_string())),
            None => (rest.to_string(), None),
        }
    };
    if let Some(known) = registry::known(spec) {
        let mut splits = load(&folder::DataFolder::locate().resolve(known)?)?;
        splits.train.name = known.name.to_string();
        splits.test.name = known.name.to_string();
        return Ok(splits);
    }
    let splits = if spec == "digits" {
        DataSplits::with_fixed_test(digits()?, split::FIXED_TEST_FRACTION)?
    } else if let Some(dir) = spec.strip_prefix("idx:") {
        idx::load_idx(Path::new(dir))?
    } else if let Some(path) = spec.strip_prefix("cifar:") {
        cifar::load_cifar(Path::new(path))?
    } else if let Some(rest) = spec.strip_prefix("images:") {
        let (train, test) = pair(rest);
        images::load_images(Path::new(&train), test.as_deref().map(Path::new))?
    } else if let Some(rest) = spec.strip_prefix("csv:") {
        let (train, test) = pair(rest);
        csv::load_csv(Path::new(&train), test.as_deref().map(Path::new))?
    } else {
        return Err(Error::config("data", format!("unknown dataset spec {spec:?}: known specs are {SPECS}")));
    };
    check_splits(spec, &splits)?;
    Ok(splits)
}

/// Loads `spec` and, with `train_subsample`, cuts the training file to that many
/// samples (a fixed stratified subset; the test file stays whole).
pub fn load_subsampled(spec: &str, train_subsample: Option<usize>) -> Result<DataSplits> {
    let splits = load(spec)?;
    match train_subsample {
        Some(n) => splits.with_train_subsample(n),
        None => Ok(splits),
    }
}

/// What every loader guarantees: non-empty files of the same width, labels in range.
fn check_splits(spec: &str, s: &DataSplits) -> Result<()> {
    let bad = |m: String| Err(Error::Input(format!("dataset {spec:?}: {m}")));
    if s.train.is_empty() || s.test.is_empty() {
        return bad(format!("{} training and {} test samples: both must be non-empty", s.train.len(), s.test.len()));
    }
    if s.train.features != s.test.features || s.train.classes != s.test.classes {
        return bad("the training and test files differ in features or classes".into());
    }
    for d in [&s.train, &s.test] {
        if d.x.len() != d.len() * d.features || d.y.iter().any(|&l| l < 0 || l as usize >= d.classes) {
            return bad("inconsistent features or labels".into());
        }
    }
    Ok(())
}
