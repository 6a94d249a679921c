//! The CSV loader (`csv:TRAIN[,TEST]`): optdigits end to end (its known 1-nearest-
//! neighbour count of 1,761), the embedded digits equal to optdigits' test half, and
//! errors naming the file and the line for ragged and non-numeric rows and bad labels.

mod common;

use common::{assert_data_error, temp_dir};

use std::io::Write;
use std::path::Path;

use densenas::data::{self, csv};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const EMBEDDED_DIGITS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz");



#[test]
fn optdigits_one_nearest_neighbour_gets_1761_of_1797() {
    let d = data::load(&format!("csv:{FIXTURES}/optdigits/optdigits.tra.gz,{FIXTURES}/optdigits/optdigits.tes.gz")).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (3823, 1797));
    assert_eq!((d.train.features, d.train.classes, d.test.classes), (64, 10, 10));
    assert_eq!(d.train.name, "optdigits");
    let f = d.train.features;
    let mut correct = 0;
    for (t, &label) in d.test.x.chunks_exact(f).zip(&d.test.y) {
        let mut best = (f32::INFINITY, 0);
        for (r, &l) in d.train.x.chunks_exact(f).zip(&d.train.y) {
            let dist: f32 = t.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).sum();
            if dist < best.0 {
                best = (dist, l);
            }
        }
        correct += (best.1 == label) as usize;
    }
    assert_eq!(correct, 1761);
}

#[test]
fn the_embedded_digits_are_optdigits_test_half_row_for_row() {
    let tes = csv::read_csv_file(Path::new(&format!("{FIXTURES}/optdigits/optdigits.tes.gz")), "tes").unwrap();
    let shared = csv::read_csv_file(Path::new(EMBEDDED_DIGITS), "digits").unwrap();
    let embedded = data::digits().unwrap();
    assert_eq!(tes.len(), 1797);
    assert_eq!((&embedded.x, &embedded.y), (&tes.x, &tes.y));
    assert_eq!((&shared.x, &shared.y), (&tes.x, &tes.y));
}

#[test]
fn one_file_gets_the_fixed_test_split_and_a_header_is_skipped() {
    let dir = temp_dir("one");
    let mut text = String::from("a,b,label\n");
    for i in 0..50 {
        text.push_str(&format!("{}, {}.5 ,{}\n", i, i * 2, i % 2));
    }
    text.push('\n');
    let raw = dir.join("t.csv");
    std::fs::write(&raw, &text).unwrap();
    let gz = dir.join("t.csv.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    std::fs::write(&gz, e.finish().unwrap()).unwrap();
    let a = data::load(&format!("csv:{}", raw.display())).unwrap();
    let b = data::load(&format!("csv:{}", gz.display())).unwrap();
    assert_eq!((a.train.len(), a.test.len()), (40, 10));
    assert_eq!(a.test.class_counts(), [5, 5]);
    assert_eq!((a.train.x.clone(), a.test.y.clone()), (b.train.x, b.test.y));
    assert_eq!((a.train.features, a.train.classes), (2, 2));
    assert!(a.train.x.chunks(2).all(|r| r[1] == r[0] * 2.0 + 0.5));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_rows_are_named_with_file_and_line() {
    let dir = temp_dir("bad");
    let path = dir.join("bad.csv");
    let cases: [(&str, &[&str]); 7] = [
        ("1,2,0\n3,4,1\n5,6,7,1\n", &["line 3", "ragged", "4 columns", "have 3"]),
        ("1,2,0\n3,4\n", &["line 2", "ragged"]),
        ("1,2,0\n3,x,1\n", &["line 2", "\"x\" is not a number"]),
        ("1,2,0\n3,4,1.5\n", &["line 2", "label 1.5"]),
        ("1,2,0\n3,4,-1\n", &["line 2", "label -1"]),
        ("1,inf,0\n", &["line 1", "not finite"]),
        ("header\n\n", &["no data rows"]),
    ];
    for (text, words) in cases {
        std::fs::write(&path, text).unwrap();
        assert_data_error(data::load(&format!("csv:{}", path.display())), &path, words);
    }
    std::fs::write(&path, b"1,2,0\n\xff\xfe,1\n").unwrap();
    assert_data_error(csv::read_csv_file(&path, "x"), &path, &["line 2", "UTF-8"]);

    // The test file: its labels must lie below the training file's class count, and
    // its rows must have the training file's width.
    let train = dir.join("train.csv");
    let test = dir.join("test.csv");
    std::fs::write(&train, "1,2,0\n3,4,2\n5,6,1\n").unwrap();
    std::fs::write(&test, "1,2,1\n3,4,3\n").unwrap();
    let spec = format!("csv:{},{}", train.display(), test.display());
    assert_data_error(data::load(&spec), &test, &["data row 2", "label 3", "class count 3"]);
    std::fs::write(&test, "1,2,9,1\n").unwrap();
    assert_data_error(data::load(&spec), &test, &["3 features", "have 2"]);
    std::fs::write(&test, "1,2,2\n").unwrap();
    let d = data::load(&spec).unwrap();
    assert_eq!((d.train.classes, d.test.classes, d.test.y.clone()), (3, 3, vec![2]));
    // A missing file is named.
    let missing = dir.join("missing.csv");
    let e = data::load(&format!("csv:{}", missing.display())).unwrap_err().to_string();
    assert!(e.contains("missing.csv"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
