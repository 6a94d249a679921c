//! MNIST-layout IDX files (`idx:DIR`): `train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each
//! raw or gzip-compressed (`NAME` or `NAME.gz`).
//!
//! An IDX file is a big-endian header (magic number 2051 for unsigned-byte images with
//! three dimensions `count, rows, cols`; 2049 for unsigned-byte labels with one
//! dimension `count`) followed by the bytes. Pixels become raw `f32` values 0..255
//! (the network normalises them itself). The files carry no class count, so the rule
//! is: the classes are `0..=m` where `m` is the largest training label (at least two
//! classes), and a test label at or above that count is an error, since the network
//! could never predict it.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::file::{at_end, open, read_full, CHUNK};
use super::{DataSplits, Dataset};
use crate::error::{Error, Result};

/// Magic number of an IDX file of unsigned-byte images (`0x00000803`).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of an IDX file of unsigned-byte labels (`0x00000801`).
pub const LABELS_MAGIC: u32 = 2049;

/// The images of one IDX file.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `[count, rows * cols]` row-major raw pixel values 0..255.
    pub pixels: Vec<f32>,
}

/// Reads the header of an IDX file: the magic number, then `dims` big-endian `u32`
/// sizes. `what` names the expected contents in errors.
fn read_header(reader: &mut dyn BufRead, path: &Path, magic: u32, dims: usize, what: &str) -> Result<Vec<usize>> {
    let len = 4 + 4 * dims;
    let mut header = vec![0u8; len];
    let got = read_full(reader, &mut header, path)?;
    let word = |k: usize| u32::from_be_bytes([header[4 * k], header[4 * k + 1], header[4 * k + 2], header[4 * k + 3]]);
    if got >= 4 && word(0) != magic {
        let found = word(0);
        let hint = match found {
            IMAGES_MAGIC => " (this is an IDX image file)",
            LABELS_MAGIC => " (this is an IDX label file)",
            _ => "",
        };
        return Err(Error::data(
            path,
            format!("bad magic number {found} (0x{found:08x}){hint}: expected {magic} (0x{magic:08x}, IDX {what})"),
        ));
    }
    if got < len {
        return Err(Error::data(
            path,
            format!("truncated IDX header: the file ends after {got} of the header's {len} bytes"),
        ));
    }
    Ok((1..=dims).map(|k| word(k) as usize).collect())
}

/// Reads exactly `total` payload bytes after a header of `header_len` bytes, handing
/// them to `sink` chunk by chunk, and checks that nothing follows them. `items`
/// describes what the header declares, for errors.
fn read_payload(
    file: &mut super::file::DataFile,
    path: &Path,
    header_len: usize,
    total: usize,
    items: &str,
    sink: &mut dyn FnMut(&[u8]),
) -> Result<()> {
    let truncated = |got: u64| {
        Error::data(path, format!("truncated: the header declares {items} ({total} bytes) but the file holds {got} of them"))
    };
    let trailing = |extra: String| {
        let message = format!("{extra} bytes after the data the header declares ({items}): the counts disagree with the file size");
        Error::data(path, message)
    };
    if let Some(len) = file.raw_len {
        let body = len.saturating_sub(header_len as u64);
        if body < total as u64 {
            return Err(truncated(body));
        }
        if body > total as u64 {
            return Err(trailing((body - total as u64).to_string()));
        }
    }
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0usize;
    while done < total {
        let want = CHUNK.min(total - done);
        let got = read_full(&mut file.reader, &mut buf[..want], path)?;
        sink(&buf[..got]);
        done += got;
        if got < want {
            return Err(truncated(done as u64));
        }
    }
    if !at_end(&mut file.reader, path)? {
        return Err(trailing("more".into()));
    }
    Ok(())
}

/// Reads an IDX image file (magic 2051), raw or gzip.
pub fn read_images(path: &Path) -> Result<IdxImages> {
    let mut file = open(path)?;
    let dims = read_header(&mut file.reader, path, IMAGES_MAGIC, 3, "unsigned-byte images with 3 dimensions")?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if count == 0 || rows == 0 || cols == 0 {
        return Err(Error::data(path, format!("the header declares {count} images of {rows}x{cols} pixels: nothing to load")));
    }
    let items = format!("{count} images of {rows}x{cols}");
    let total = count
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .ok_or_else(|| Error::data(path, format!("the header declares {items}: too large")))?;
    let mut pixels: Vec<f32> = Vec::new();
    // Compressed files have no size to check first: reserve at most 1 GiB up front
    // and let a (then truncated) file fail before it grows further.
    let reserve = if file.raw_len.is_some() { total } else { total.min(1 << 28) };
    pixels
        .try_reserve_exact(reserve)
        .map_err(|_| Error::data(path, format!("the header declares {items}: too large to hold in memory")))?;
    read_payload(&mut file, path, 16, total, &items, &mut |chunk| pixels.extend(chunk.iter().map(|&b| b as f32)))?;
    Ok(IdxImages { count, rows, cols, pixels })
}

/// Reads an IDX label file (magic 2049), raw or gzip.
pub fn read_labels(path: &Path) -> Result<Vec<i64>> {
    let mut file = open(path)?;
    let dims = read_header(&mut file.reader, path, LABELS_MAGIC, 1, "unsigned-byte labels with 1 dimension")?;
    let count = dims[0];
    if count == 0 {
        return Err(Error::data(path, "the header declares 0 labels: nothing to load"));
    }
    let mut labels = Vec::new();
    labels
        .try_reserve_exact(count)
        .map_err(|_| Error::data(path, format!("the header declares {count} labels: too large to hold in memory")))?;
    read_payload(&mut file, path, 8, count, &format!("{count} labels"), &mut |chunk| {
        labels.extend(chunk.iter().map(|&b| b as i64))
    })?;
    Ok(labels)
}

/// `dir/name`, or `dir/name.gz` when only that exists.
fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(Error::data(raw, format!("not found (nor {name}.gz): an idx: folder holds the four MNIST-layout files")))
}

/// Reads an images file and its labels file, checking that their counts agree.
fn read_pair(images: &Path, labels: &Path) -> Result<(IdxImages, Vec<i64>)> {
    let im = read_images(images)?;
    let lb = read_labels(labels)?;
    if lb.len() != im.count {
        return Err(Error::data(
            labels,
            format!("holds {} labels but {} holds {} images", lb.len(), images.display(), im.count),
        ));
    }
    Ok((im, lb))
}

/// Loads the four MNIST-layout files of `dir` (the training and test files).
pub fn load_idx(dir: &Path) -> Result<DataSplits> {
    let name = super::file::short_name(dir);
    let train_images = find(dir, "train-images-idx3-ubyte")?;
    let train_labels = find(dir, "train-labels-idx1-ubyte")?;
    let test_images = find(dir, "t10k-images-idx3-ubyte")?;
    let test_labels = find(dir, "t10k-labels-idx1-ubyte")?;
    let (train, train_y) = read_pair(&train_images, &train_labels)?;
    let (test, test_y) = read_pair(&test_images, &test_labels)?;
    if (test.rows, test.cols) != (train.rows, train.cols) {
        return Err(Error::data(
            &test_images,
            format!(
                "images are {}x{} but the training images ({}) are {}x{}",
                test.rows,
                test.cols,
                train_images.display(),
                train.rows,
                train.cols
            ),
        ));
    }
    let classes = (train_y.iter().copied().max().unwrap_or(0) as usize + 1).max(2);
    if let Some((i, &l)) = test_y.iter().enumerate().find(|(_, &l)| l as usize >= classes) {
        return Err(Error::data(
            &test_labels,
            format!(
                "label {l} of item {i} is at or above the class count {classes} (one more than the largest label of {})",
                train_labels.display()
            ),
        ));
    }
    let features = train.rows * train.cols;
    let shape = Some([1, train.rows, train.cols]);
    let dataset = |im: IdxImages, y: Vec<i64>| Dataset { name: name.clone(), features, classes, x: im.pixels, y, shape };
    Ok(DataSplits { train: dataset(train, train_y), test: dataset(test, test_y) })
}
