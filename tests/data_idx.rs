//! The IDX loader (`idx:DIR`): MNIST's known label counts, exact values of small
//! hand-written files (raw and gzip), and an error naming the file and the fault for
//! every malformed input: each prefix of a header, bad magic numbers, counts that
//! disagree, labels at or above the class count.

mod common;

use common::{assert_data_error, temp_dir};

use std::io::Write;
use std::path::Path;

use densenas::data::{self, idx};
use densenas::Error;



fn images_file(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for w in [idx::IMAGES_MAGIC, count, rows, cols] {
        b.extend_from_slice(&w.to_be_bytes());
    }
    b.extend_from_slice(pixels);
    b
}

fn labels_file(labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for w in [idx::LABELS_MAGIC, labels.len() as u32] {
        b.extend_from_slice(&w.to_be_bytes());
    }
    b.extend_from_slice(labels);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A small valid dataset: 3 training images of 2x3 (labels 0, 2, 1), 2 test images.
fn write_small(dir: &Path, gz: bool) {
    let train_px: Vec<u8> = (0..18).map(|v| (v * 14) as u8).collect();
    let test_px: Vec<u8> = (0..12).map(|v| 255 - v as u8).collect();
    let files = [
        ("train-images-idx3-ubyte", images_file(3, 2, 3, &train_px)),
        ("train-labels-idx1-ubyte", labels_file(&[0, 2, 1])),
        ("t10k-images-idx3-ubyte", images_file(2, 2, 3, &test_px)),
        ("t10k-labels-idx1-ubyte", labels_file(&[1, 1])),
    ];
    for (name, bytes) in files {
        if gz {
            std::fs::write(dir.join(format!("{name}.gz")), gzip(&bytes)).unwrap();
        } else {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}


#[test]
fn mnist_has_the_known_label_counts_and_raw_pixels() {
    let d = data::load(&common::dataset_spec("mnist")).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    assert_eq!((d.train.features, d.train.classes, d.test.classes), (784, 10, 10));
    assert_eq!(d.train.name, "mnist");
    assert_eq!(d.train.class_counts(), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert_eq!(d.test.class_counts(), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // Raw byte values 0..255, not scaled: the network normalises.
    for x in [&d.train.x, &d.test.x] {
        assert!(x.iter().all(|&v| (0.0..=255.0).contains(&v) && v.fract() == 0.0));
        assert_eq!(x.iter().cloned().fold(0.0, f32::max), 255.0);
    }
}

#[test]
fn small_files_load_exactly_raw_and_gzip() {
    for gz in [false, true] {
        let dir = temp_dir(if gz { "small-gz" } else { "small-raw" });
        write_small(&dir, gz);
        let d = data::load(&format!("idx:{}", dir.display())).unwrap();
        assert_eq!((d.train.features, d.train.classes), (6, 3), "classes = largest training label + 1");
        assert_eq!(d.train.y, [0, 2, 1]);
        assert_eq!(d.test.y, [1, 1]);
        let expect: Vec<f32> = (0..18).map(|v| (v * 14) as f32).collect();
        assert_eq!(d.train.x, expect);
        assert_eq!(d.test.x, (0..12).map(|v| 255.0 - v as f32).collect::<Vec<_>>());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn every_prefix_of_a_header_is_a_truncation_error() {
    let dir = temp_dir("prefix");
    let images = images_file(3, 2, 3, &[7; 18]);
    let labels = labels_file(&[0, 1, 1]);
    let path = dir.join("images");
    for len in 0..16 {
        std::fs::write(&path, &images[..len]).unwrap();
        assert_data_error(idx::read_images(&path), &path, &["truncated IDX header", &format!("after {len} of")]);
        std::fs::write(&path, gzip(&images[..len])).unwrap();
        assert_data_error(idx::read_images(&path), &path, &["truncated IDX header"]);
    }
    // Truncated pixel data, raw and gzip: the header's count disagrees with the data.
    for len in 16..images.len() {
        std::fs::write(&path, &images[..len]).unwrap();
        assert_data_error(idx::read_images(&path), &path, &["truncated", "3 images of 2x3"]);
        std::fs::write(&path, gzip(&images[..len])).unwrap();
        assert_data_error(idx::read_images(&path), &path, &["truncated", "3 images of 2x3"]);
    }
    let path = dir.join("labels");
    for len in 0..8 {
        std::fs::write(&path, &labels[..len]).unwrap();
        assert_data_error(idx::read_labels(&path), &path, &["truncated IDX header"]);
    }
    for len in 8..labels.len() {
        std::fs::write(&path, &labels[..len]).unwrap();
        assert_data_error(idx::read_labels(&path), &path, &["truncated", "3 labels"]);
    }
    // A gzip stream cut short is an error on the file too, not a panic.
    let gz = gzip(&images);
    for len in [2, 10, gz.len() / 2, gz.len() - 4] {
        std::fs::write(&path, &gz[..len]).unwrap();
        match idx::read_images(&path) {
            Err(Error::Data { path: p, .. }) => assert_eq!(p, path),
            other => panic!("cut gzip at {len}: {other:?}"),
        }
    }
    // Through `data::load`, the error names the truncated file of the folder.
    write_small(&dir, false);
    let bad = dir.join("t10k-labels-idx1-ubyte");
    std::fs::write(&bad, &labels_file(&[1, 1])[..5]).unwrap();
    let e = data::load(&format!("idx:{}", dir.display())).unwrap_err().to_string();
    assert!(e.contains("t10k-labels-idx1-ubyte") && e.contains("truncated"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_magic_numbers_are_named() {
    let dir = temp_dir("magic");
    let path = dir.join("f");
    std::fs::write(&path, labels_file(&[1, 2])).unwrap();
    assert_data_error(idx::read_images(&path), &path, &["bad magic number 2049", "expected 2051", "label file"]);
    std::fs::write(&path, images_file(1, 1, 1, &[0])).unwrap();
    assert_data_error(idx::read_labels(&path), &path, &["bad magic number 2051", "expected 2049"]);
    let mut junk = images_file(1, 1, 1, &[0]);
    junk[..4].copy_from_slice(b"\x89PNG");
    std::fs::write(&path, &junk).unwrap();
    assert_data_error(idx::read_images(&path), &path, &["bad magic number", "0x89504e47"]);
    // Too short for the whole header but long enough for a wrong magic number.
    std::fs::write(&path, [0u8, 0, 8, 1, 0]).unwrap();
    assert_data_error(idx::read_images(&path), &path, &["bad magic number 2049"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn counts_that_disagree_are_named() {
    let dir = temp_dir("counts");
    write_small(&dir, false);
    // Two labels for three images.
    let labels = dir.join("train-labels-idx1-ubyte");
    std::fs::write(&labels, labels_file(&[0, 1])).unwrap();
    let r = data::load(&format!("idx:{}", dir.display()));
    assert_data_error(r, &labels, &["holds 2 labels", "3 images", "train-images-idx3-ubyte"]);
    // Bytes beyond what the header declares, raw and gzip.
    write_small(&dir, false);
    let images = dir.join("train-images-idx3-ubyte");
    let mut long = images_file(3, 2, 3, &[1; 18]);
    long.extend_from_slice(&[9; 6]);
    std::fs::write(&images, &long).unwrap();
    assert_data_error(idx::read_images(&images), &images, &["6 bytes after", "disagree"]);
    std::fs::write(&images, gzip(&long)).unwrap();
    assert_data_error(idx::read_images(&images), &images, &["after the data", "disagree"]);
    // Test images of another size than the training images.
    write_small(&dir, false);
    let test_images = dir.join("t10k-images-idx3-ubyte");
    std::fs::write(&test_images, images_file(2, 3, 2, &[0; 12])).unwrap();
    assert_data_error(data::load(&format!("idx:{}", dir.display())), &test_images, &["3x2", "2x3"]);
    // Zero images declared.
    std::fs::write(&images, images_file(0, 2, 3, &[])).unwrap();
    assert_data_error(idx::read_images(&images), &images, &["0 images"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_test_label_at_or_above_the_class_count_is_named() {
    let dir = temp_dir("labels");
    write_small(&dir, true);
    // The training labels are 0..=2, so there are 3 classes; a test label 3 is out.
    let test_labels = dir.join("t10k-labels-idx1-ubyte.gz");
    std::fs::write(&test_labels, gzip(&labels_file(&[1, 3]))).unwrap();
    let r = data::load(&format!("idx:{}", dir.display()));
    assert_data_error(r, &test_labels, &["label 3 of item 1", "class count 3"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_file_is_named() {
    let dir = temp_dir("missing");
    write_small(&dir, false);
    std::fs::remove_file(dir.join("t10k-images-idx3-ubyte")).unwrap();
    let r = data::load(&format!("idx:{}", dir.display()));
    assert_data_error(r, &dir.join("t10k-images-idx3-ubyte"), &["not found", ".gz"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
