//! Writing a dataset's split as CSV (`densenas data export`): one row per sample, the
//! features as the loader gives them (raw values, shortest exact form) and the label
//! last, no header: the form the `csv:` loader reads back, and what the Node example
//! classifies. A `.gz` name writes gzip.

use std::io::Write;
use std::path::Path;

use super::Dataset;
use crate::error::{Error, Result};
use crate::util::atomic::write_atomic;

/// Which split of a dataset to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The training file (before the weight/validation split).
    Train,
    /// The test file (or split).
    Test,
}

/// The CSV text of `dataset`.
pub fn to_csv(dataset: &Dataset) -> String {
    let mut out = String::with_capacity(dataset.x.len() * 4);
    for (row, label) in dataset.x.chunks(dataset.features).zip(&dataset.y) {
        for v in row {
            // f32's Display is the shortest string that reads back to the same value.
            out.push_str(&v.to_string());
            out.push(',');
        }
        out.push_str(&label.to_string());
        out.push('\n');
    }
    out
}

/// Writes `dataset` as CSV to `path` (gzip when the name ends in `.gz`), atomically.
pub fn write_csv(dataset: &Dataset, path: &Path) -> Result<()> {
    let text = to_csv(dataset);
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).and_then(|()| gz.finish()).map_err(|e| Error::io(path, e))?
    } else {
        text.into_bytes()
    };
    write_atomic(path, &bytes)
}
