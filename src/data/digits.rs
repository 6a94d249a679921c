//! The embedded UCI 8x8 digits (1,797 samples, pixel values 0..16; see
//! `data/README.md` for the attribution).

use std::io::Read;
use std::path::Path;

use super::{parse_csv, Dataset};
use crate::error::{Error, Result};

const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// The embedded digits dataset: 1,797 samples, 64 features (0..16), 10 classes.
pub fn digits() -> Result<Dataset> {
    let path = Path::new("<embedded digits.csv.gz>");
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut text)
        .map_err(|e| Error::data(path, format!("cannot decompress: {e}")))?;
    let mut d = parse_csv(&text, path, "digits")?;
    d.classes = 10;
    Ok(d)
}
