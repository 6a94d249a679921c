//! Datasets (DESIGN.md sections 3 and 5): `F` float features per sample in
//! channel-major order and an integer label in `0..C`, the loaders behind `--data`, and
//! the split roles (test, weight and validation splits).

mod csv;
mod digits;
mod split;

pub use csv::parse_csv;
pub use digits::digits;
pub use split::{stratified_split, DataSplits, SplitTensors};

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

/// Loads the dataset named by a `--data` spec. Known specs: `digits` (the embedded
/// UCI digits).
pub fn load(spec: &str) -> Result<DataSplits> {
    match spec {
        "digits" => DataSplits::with_fixed_test(digits()?, split::FIXED_TEST_FRACTION),
        other => Err(Error::config("data", format!("unknown dataset spec {other:?}: known specs are: digits"))),
    }
}
