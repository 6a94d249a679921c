//! The CIFAR-10 binary loader (`cifar:DIR`, `cifar:FILE.bin`): the 20 known labels of
//! the fixture, pixels kept in the file's channel-major order, a folder of batches, and
//! errors naming the file for truncated records, bad labels and missing batches.

mod common;

use common::{assert_data_error, temp_dir};

use std::path::Path;

use densenas::data::{self, cifar};

const FIRST20: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cifar10_test_first20.bin");
const LABELS: [i64; 20] = [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6];



#[test]
fn the_first_20_test_records_have_the_known_labels_and_channel_major_pixels() {
    let bytes = std::fs::read(FIRST20).unwrap();
    let d = cifar::read_cifar_file(Path::new(FIRST20), "first20").unwrap();
    assert_eq!(d.y, LABELS);
    assert_eq!((d.features, d.classes), (3 * 32 * 32, 10));
    // Features are the record's bytes in file order: 1024 red, 1024 green, 1024 blue.
    for (i, rec) in bytes.chunks(cifar::RECORD_BYTES).enumerate() {
        let row: Vec<f32> = rec[1..].iter().map(|&b| b as f32).collect();
        assert_eq!(&d.x[i * 3072..(i + 1) * 3072], &row[..]);
    }
    // One file: no test file, so the fixed stratified test split is set aside.
    let s = data::load(&format!("cifar:{FIRST20}")).unwrap();
    assert_eq!(s.train.len() + s.test.len(), 20);
    assert!(!s.test.is_empty());
    assert_eq!((s.train.classes, s.train.features), (10, 3072));
    assert_eq!(s.train.name, "cifar10_test_first20");
    let mut all: Vec<i64> = s.train.y.iter().chain(&s.test.y).copied().collect();
    let mut known = LABELS.to_vec();
    all.sort();
    known.sort();
    assert_eq!(all, known);
}

#[test]
fn a_folder_of_batches_gives_the_training_and_test_files() {
    let dir = temp_dir("folder");
    let bytes = std::fs::read(FIRST20).unwrap();
    for b in 1..=5 {
        std::fs::write(dir.join(format!("data_batch_{b}.bin")), &bytes).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), &bytes[..4 * cifar::RECORD_BYTES]).unwrap();
    let s = data::load(&format!("cifar:{}", dir.display())).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (100, 4));
    assert_eq!(&s.train.y[80..], &LABELS[..]);
    assert_eq!(s.test.y, &LABELS[..4]);
    // A missing batch is named.
    std::fs::remove_file(dir.join("data_batch_4.bin")).unwrap();
    assert_data_error(data::load(&format!("cifar:{}", dir.display())), &dir.join("data_batch_4.bin"), &["not found"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_batches_are_named() {
    let dir = temp_dir("bad");
    let bytes = std::fs::read(FIRST20).unwrap();
    let path = dir.join("batch.bin");
    // A truncated last record, raw and gzip.
    std::fs::write(&path, &bytes[..3 * cifar::RECORD_BYTES - 5]).unwrap();
    assert_data_error(cifar::read_cifar_file(&path, "x"), &path, &["not a whole number", "3073"]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &bytes[..3 * cifar::RECORD_BYTES - 5]).unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    assert_data_error(cifar::read_cifar_file(&path, "x"), &path, &["truncated", "record 2", "3068 of"]);
    // A label outside CIFAR-10's 10 classes.
    let mut bad = bytes[..2 * cifar::RECORD_BYTES].to_vec();
    bad[cifar::RECORD_BYTES] = 10;
    std::fs::write(&path, &bad).unwrap();
    assert_data_error(cifar::read_cifar_file(&path, "x"), &path, &["record 1", "label 10", "class count 10"]);
    // An empty file.
    std::fs::write(&path, b"").unwrap();
    assert_data_error(cifar::read_cifar_file(&path, "x"), &path, &["no records"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
