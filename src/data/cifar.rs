//! CIFAR-10 binary batches (`cifar:DIR` or `cifar:FILE.bin`): records of one label byte
//! (0..9) then 1024 red, 1024 green and 1024 blue bytes of a 32x32 image, already in
//! the channel-major order every loader gives. A folder holds `data_batch_1.bin` to
//! `data_batch_5.bin` (the training file) and `test_batch.bin` (the test file); a single
//! file has no test file, so the fixed test split is set aside from it.

use std::path::Path;

use super::file::{open, read_full};
use super::split::FIXED_TEST_FRACTION;
use super::{DataSplits, Dataset};
use crate::error::{Error, Result};

/// Bytes of a record: the label, then 3 x 32 x 32 pixels.
pub const RECORD_BYTES: usize = 1 + PIXELS;
/// Features per image (3 x 32 x 32).
pub const PIXELS: usize = 3 * 32 * 32;
/// The shape of one image, channel-major.
pub const SHAPE: [usize; 3] = [3, 32, 32];
/// CIFAR-10's classes.
pub const CLASSES: usize = 10;

const NOT_FOUND: &str = "not found: a cifar: folder holds data_batch_1.bin .. data_batch_5.bin and test_batch.bin";

/// Appends the records of one batch file (raw or gzip) to `x` and `y`.
fn read_batch(path: &Path, x: &mut Vec<f32>, y: &mut Vec<i64>) -> Result<()> {
    let mut file = open(path)?;
    if let Some(len) = file.raw_len {
        if len % RECORD_BYTES as u64 != 0 {
            return Err(Error::data(
                path,
                format!(
                    "{len} bytes is not a whole number of {RECORD_BYTES}-byte CIFAR-10 records (the last one is truncated)"
                ),
            ));
        }
        let n = (len / RECORD_BYTES as u64) as usize;
        x.try_reserve(n * PIXELS).map_err(|_| Error::data(path, "too large to hold in memory"))?;
        y.reserve(n);
    }
    let start = y.len();
    let mut record = vec![0u8; RECORD_BYTES];
    loop {
        let got = read_full(&mut file.reader, &mut record, path)?;
        if got == 0 {
            break;
        }
        let index = y.len() - start;
        if got < RECORD_BYTES {
            return Err(Error::data(
                path,
                format!("truncated: record {index} has {got} of its {RECORD_BYTES} bytes"),
            ));
        }
        let label = record[0] as usize;
        if label >= CLASSES {
            return Err(Error::data(
                path,
                format!("record {index}: label {label} is at or above the class count {CLASSES}"),
            ));
        }
        y.push(label as i64);
        x.extend(record[1..].iter().map(|&b| b as f32));
    }
    if y.len() == start {
        return Err(Error::data(path, "holds no records"));
    }
    Ok(())
}

/// Reads one CIFAR-10 binary file as a dataset named `name`.
pub fn read_cifar_file(path: &Path, name: &str) -> Result<Dataset> {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    read_batch(path, &mut x, &mut y)?;
    Ok(Dataset { name: name.to_string(), features: PIXELS, classes: CLASSES, x, y, shape: Some(SHAPE) })
}

/// Loads `cifar:PATH`: a folder of the six batch files, or one `.bin` file.
pub fn load_cifar(path: &Path) -> Result<DataSplits> {
    let name = super::file::short_name(path);
    if !path.is_dir() {
        return DataSplits::with_fixed_test(read_cifar_file(path, &name)?, FIXED_TEST_FRACTION);
    }
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for b in 1..=5 {
        let file = path.join(format!("data_batch_{b}.bin"));
        if !file.is_file() {
            return Err(Error::data(file, NOT_FOUND));
        }
        read_batch(&file, &mut x, &mut y)?;
    }
    let train = Dataset { name: name.clone(), features: PIXELS, classes: CLASSES, x, y, shape: Some(SHAPE) };
    let test_file = path.join("test_batch.bin");
    if !test_file.is_file() {
        return Err(Error::data(test_file, NOT_FOUND));
    }
    let test = read_cifar_file(&test_file, &name)?;
    Ok(DataSplits { train, test })
}
