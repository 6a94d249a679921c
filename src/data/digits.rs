//! The embedded UCI 8x8 digits (1,797 samples, pixel values 0..16; see
//! `data/README.md` for the attribution).

use std::io::BufReader;
use std::path::Path;

use super::{read_csv, Dataset};
use crate::error::Result;

pub(crate) const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// The embedded digits dataset: 1,797 samples, 64 features (0..16), 10 classes.
pub fn digits() -> Result<Dataset> {
    let path = Path::new("<embedded digits.csv.gz>");
    let mut d = read_csv(BufReader::new(flate2::read::GzDecoder::new(DIGITS_CSV_GZ)), path, "digits")?;
    d.classes = 10;
    d.shape = Some([1, 8, 8]);
    Ok(d)
}
