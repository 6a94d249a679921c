//! Comma-separated numbers (`csv:TRAIN[,TEST]`), the label in the last column, an
//! optional header line; files may be gzip-compressed. Rows are parsed one at a time
//! from a stream, so a large file is never held as text and numbers at once.
//!
//! The class count is one more than the largest training label (at least two); a test
//! label at or above it is an error, since the network could never predict it.

use std::io::BufRead;
use std::path::Path;

use super::file::{open, read_error, short_name};
use super::split::FIXED_TEST_FRACTION;
use super::{DataSplits, Dataset};
use crate::error::{Error, Result};

/// Parses CSV text: every row `F` numbers then an integer label `>= 0`. A first line
/// that does not parse as numbers is taken as a header. The class count is one more
/// than the largest label (at least two). `path` names the source in errors.
pub fn parse_csv(text: &str, path: &Path, name: &str) -> Result<Dataset> {
    read_csv(text.as_bytes(), path, name)
}

/// Parses CSV rows from `reader` as [`parse_csv`] does.
pub fn read_csv(mut reader: impl BufRead, path: &Path, name: &str) -> Result<Dataset> {
    let mut features = None;
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut line = String::new();
    let mut row: Vec<f32> = Vec::new();
    let mut lineno = 0usize;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => Error::data(path, format!("line {}: not UTF-8 text", lineno + 1)),
            _ => read_error(path, e),
        })?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        row.clear();
        let mut bad = None;
        for field in text.split(',').map(str::trim) {
            match field.parse::<f32>() {
                Ok(v) => row.push(v),
                Err(_) => {
                    bad = Some(field);
                    break;
                }
            }
        }
        if let Some(bad) = bad {
            if lineno == 1 {
                continue; // a header
            }
            return Err(Error::data(path, format!("line {lineno}: {bad:?} is not a number")));
        }
        if row.len() < 2 {
            return Err(Error::data(path, format!("line {lineno}: a row needs at least one feature and a label")));
        }
        let f = row.len() - 1;
        match features {
            None => features = Some(f),
            Some(expected) if expected != f => {
                return Err(Error::data(
                    path,
                    format!("line {lineno}: ragged row: {} columns, but earlier rows have {}", f + 1, expected + 1),
                ))
            }
            _ => {}
        }
        let label = row[f];
        if label < 0.0 || label.fract() != 0.0 || label > i32::MAX as f32 {
            return Err(Error::data(path, format!("line {lineno}: label {label} is not a class index")));
        }
        if let Some(bad) = row[..f].iter().find(|v| !v.is_finite()) {
            return Err(Error::data(path, format!("line {lineno}: feature value {bad} is not finite")));
        }
        x.extend_from_slice(&row[..f]);
        y.push(label as i64);
    }
    let features = features.ok_or_else(|| Error::data(path, "no data rows"))?;
    let classes = (y.iter().copied().max().unwrap_or(0) as usize + 1).max(2);
    Ok(Dataset { name: name.to_string(), features, classes, x, y, shape: None })
}

/// Reads a CSV file, raw or gzip-compressed.
pub fn read_csv_file(path: &Path, name: &str) -> Result<Dataset> {
    read_csv(open(path)?.reader, path, name)
}

/// Loads `csv:TRAIN[,TEST]`; without a test file the fixed test split is set aside.
pub fn load_csv(train_path: &Path, test_path: Option<&Path>) -> Result<DataSplits> {
    let name = short_name(train_path);
    let train = read_csv_file(train_path, &name)?;
    let Some(test_path) = test_path else {
        return DataSplits::with_fixed_test(train, FIXED_TEST_FRACTION);
    };
    let mut test = read_csv_file(test_path, &name)?;
    if test.features != train.features {
        return Err(Error::data(
            test_path,
            format!("rows have {} features but the training file's rows have {}", test.features, train.features),
        ));
    }
    if let Some((i, &l)) = test.y.iter().enumerate().find(|(_, &l)| l as usize >= train.classes) {
        return Err(Error::data(
            test_path,
            format!(
                "data row {}: label {l} is at or above the class count {} (one more than the largest training label)",
                i + 1,
                train.classes
            ),
        ));
    }
    test.classes = train.classes;
    Ok(DataSplits { train, test })
}
