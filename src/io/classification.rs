//! Classification figures from logits: accuracy, per-class accuracy and the confusion
//! matrix (for `densenas eval` and the ONNX check of a run).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a classifier got right and wrong on a labelled set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Samples evaluated.
    pub samples: usize,
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// Per class: the fraction of its samples classified correctly (`null` for a class
    /// with no sample).
    pub per_class_accuracy: Vec<Option<f64>>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

/// The index of the largest value (the first of equal ones).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

impl ClassificationReport {
    /// The report for row-major `logits: [n, classes]` against `labels: [n]`.
    pub fn from_logits(logits: &[f32], labels: &[i64], classes: usize) -> Result<ClassificationReport> {
        if classes == 0 || logits.len() != labels.len() * classes {
            return Err(Error::Input(format!(
                "{} logits for {} labels and {classes} classes",
                logits.len(),
                labels.len()
            )));
        }
        let mut confusion = vec![vec![0usize; classes]; classes];
        for (row, &y) in logits.chunks(classes).zip(labels) {
            if y < 0 || y as usize >= classes {
                return Err(Error::Input(format!("label {y} outside 0..{classes}")));
            }
            confusion[y as usize][argmax(row)] += 1;
        }
        let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
        let per_class_accuracy = confusion
            .iter()
            .enumerate()
            .map(|(c, row)| {
                let n: usize = row.iter().sum();
                (n > 0).then(|| row[c] as f64 / n as f64)
            })
            .collect();
        Ok(ClassificationReport {
            samples: labels.len(),
            accuracy: if labels.is_empty() { 0.0 } else { correct as f64 / labels.len() as f64 },
            per_class_accuracy,
            confusion,
        })
    }
}
