//! Comma-separated numbers, the label in the last column, an optional header line.

use std::path::Path;

use super::Dataset;
use crate::error::{Error, Result};

/// Parses CSV text: every row `F` numbers then an integer label `>= 0`. A first line
/// that does not parse as numbers is taken as a header. The class count is one more
/// than the largest label. `path` names the source in errors.
pub fn parse_csv(text: &str, path: &Path, name: &str) -> Result<Dataset> {
    let mut features = None;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Result<Vec<f32>, _> = fields.iter().map(|f| f.parse::<f32>()).collect();
        let values = match parsed {
            Ok(v) => v,
            Err(_) if lineno == 0 => continue, // header
            Err(_) => {
                let bad = fields.iter().find(|f| f.parse::<f32>().is_err()).unwrap_or(&"");
                return Err(Error::data(path, format!("line {}: {bad:?} is not a number", lineno + 1)));
            }
        };
        if values.len() < 2 {
            return Err(Error::data(path, format!("line {}: a row needs at least one feature and a label", lineno + 1)));
        }
        let f = values.len() - 1;
        match features {
            None => features = Some(f),
            Some(expected) if expected != f => {
                return Err(Error::data(
                    path,
                    format!("line {}: {} columns, but earlier rows have {}", lineno + 1, f + 1, expected + 1),
                ))
            }
            _ => {}
        }
        let label = values[f];
        if label < 0.0 || label.fract() != 0.0 || label > i32::MAX as f32 {
            return Err(Error::data(path, format!("line {}: label {label} is not a class index", lineno + 1)));
        }
        if let Some(bad) = values[..f].iter().find(|v| !v.is_finite()) {
            return Err(Error::data(path, format!("line {}: feature value {bad} is not finite", lineno + 1)));
        }
        x.extend_from_slice(&values[..f]);
        y.push(label as i64);
    }
    let features = features.ok_or_else(|| Error::data(path, "no data rows"))?;
    let classes = (*y.iter().max().expect("rows exist") as usize + 1).max(2);
    Ok(Dataset { name: name.to_string(), features, classes, x, y })
}
