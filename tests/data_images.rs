//! The image-folder loader (`images:PATH[,TEST]`): the CIFAR-10 JPEG archives (50,000 +
//! 10,000 images of 3x32x32, matching the lossless binary records), exact channel-major
//! values from PNG trees given as a directory, a `.tar` and a `.tar.gz`, and errors naming
//! the file for mixed sizes, non-image files, empty class folders and bad layouts.

mod common;

use common::{assert_data_error, temp_dir};

use std::path::Path;

use densenas::data::{self, DataSplits};




/// A known pixel value for (sample tag, channel, row, column).
fn value(tag: u32, c: u32, y: u32, x: u32) -> u8 {
    ((tag * 37 + c * 71 + y * 13 + x * 5) % 256) as u8
}

/// Writes an RGB PNG of `w` x `h` with the known values of `tag`.
fn rgb_png(path: &Path, tag: u32, w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([value(tag, 0, y, x), value(tag, 1, y, x), value(tag, 2, y, x)]))
        .save(path)
        .unwrap();
}

fn gray_png(path: &Path, tag: u32, w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::GrayImage::from_fn(w, h, |x, y| image::Luma([value(tag, 0, y, x)])).save(path).unwrap();
}

/// The channel-major features of `tag`'s image.
fn features(tag: u32, channels: u32, w: u32, h: u32) -> Vec<f32> {
    let mut v = Vec::new();
    for c in 0..channels {
        for y in 0..h {
            for x in 0..w {
                v.push(value(tag, c, y, x) as f32);
            }
        }
    }
    v
}

/// Packs `dir` as `name` (`.tar` or `.tar.gz`), under a top folder `top`.
fn pack(dir: &Path, archive: &Path, top: &str) {
    let file = std::fs::File::create(archive).unwrap();
    if archive.extension().is_some_and(|e| e == "gz") {
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        b.append_dir_all(top, dir).unwrap();
        b.into_inner().unwrap().finish().unwrap();
    } else {
        let mut b = tar::Builder::new(file);
        b.append_dir_all(top, dir).unwrap();
        b.finish().unwrap();
    }
}

fn load(spec: &Path) -> densenas::Result<DataSplits> {
    data::load(&format!("images:{}", spec.display()))
}

#[test]
fn cifar10_jpeg_archives_load_as_50000_and_10000_images_matching_the_binary_records() {
    common::dataset_spec("cifar10-jpeg-q75");
    let d = data::load("cifar10-jpeg-q75").unwrap();
    assert_eq!((d.train.len(), d.test.len()), (50_000, 10_000));
    assert_eq!((d.train.features, d.train.classes, d.test.classes), (3 * 32 * 32, 10, 10));
    assert_eq!(d.train.class_counts(), [5000; 10]);
    assert_eq!(d.test.class_counts(), [1000; 10]);
    assert_eq!(d.train.name, "cifar10-jpeg-q75");
    assert!(d.train.x.iter().all(|&v| (0.0..=255.0).contains(&v) && v.fract() == 0.0));
    // Each of the 20 lossless test records has a JPEG copy among the test images: the
    // nearest one is close (quality-75 JPEG error) and has the record's label. With the
    // channels interleaved (H x W x C) instead of channel-major, nothing would be close.
    let records = std::fs::read(common::fixture("cifar10_test_first20.bin")).unwrap();
    let f = 3072;
    for rec in records.chunks(f + 1) {
        let target: Vec<f32> = rec[1..].iter().map(|&b| b as f32).collect();
        let (mut best, mut second, mut label) = (f32::INFINITY, f32::INFINITY, -1);
        for (row, &l) in d.test.x.chunks_exact(f).zip(&d.test.y) {
            let dist: f32 = row.iter().zip(&target).map(|(a, b)| (a - b).abs()).sum();
            if dist < best {
                second = best;
                (best, label) = (dist, l);
            } else if dist < second {
                second = dist;
            }
        }
        let (near, next) = (best / f as f32, second / f as f32);
        assert!(near < 12.0 && near < next / 3.0, "mean absolute differences: nearest {near}, next {next}");
        assert_eq!(label, rec[0] as i64);
    }
}

#[test]
fn png_trees_load_channel_major_from_a_folder_a_tar_and_a_tar_gz() {
    let dir = temp_dir("tree");
    let tree = dir.join("tree");
    // train/ and test/ with classes cat and ant (sorted: ant = 0, cat = 1).
    let (w, h) = (5, 3);
    rgb_png(&tree.join("train/cat/b.png"), 1, w, h);
    rgb_png(&tree.join("train/cat/a.png"), 2, w, h);
    rgb_png(&tree.join("train/ant/z.png"), 3, w, h);
    rgb_png(&tree.join("test/cat/x.png"), 4, w, h);
    // Ignored: files beside the class folders and hidden files.
    std::fs::write(tree.join("train/README.txt"), "not an image").unwrap();
    std::fs::write(tree.join("train/cat/.DS_Store"), "junk").unwrap();
    let expect_train: Vec<f32> = [3, 2, 1].iter().flat_map(|&t| features(t, 3, w, h)).collect();

    let check = |d: DataSplits| {
        assert_eq!((d.train.features, d.train.classes, d.test.classes), (3 * 5 * 3, 2, 2));
        assert_eq!(d.train.y, [0, 1, 1], "ordered by class, then file name");
        assert_eq!(d.train.x, expect_train);
        assert_eq!((d.test.y.clone(), d.test.x.clone()), (vec![1], features(4, 3, w, h)));
    };
    check(load(&tree).unwrap());
    // Archives of the tree, with a top folder that is unwrapped.
    let tar = dir.join("tree.tar");
    pack(&tree, &tar, "dataset");
    check(load(&tar).unwrap());
    let tgz = dir.join("tree.tar.gz");
    pack(&tree, &tgz, ".");
    check(load(&tgz).unwrap());

    // A training tree and a separate test tree (as the CIFAR JPEG archives are).
    let spec = format!("images:{},{}", tree.join("train").display(), tree.join("test").display());
    check(data::load(&spec).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grayscale_images_give_one_channel_and_a_plain_tree_a_fixed_test_split() {
    let dir = temp_dir("gray");
    for class in 0..2u32 {
        for i in 0..10u32 {
            gray_png(&dir.join(format!("digit{class}/{i:02}.png")), class * 100 + i, 4, 6);
        }
    }
    let d = load(&dir).unwrap();
    assert_eq!((d.train.features, d.train.classes), (24, 2));
    assert_eq!((d.train.len(), d.test.len()), (16, 4));
    assert_eq!(d.test.class_counts(), [2, 2]);
    // Every sample is one of the written images, with its class.
    for s in [&d.train, &d.test] {
        for (row, &l) in s.x.chunks(24).zip(&s.y) {
            assert!((0..10).any(|i| row == features(l as u32 * 100 + i, 1, 4, 6)));
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_trees_are_named() {
    let dir = temp_dir("bad");
    let tree = dir.join("t");
    let fresh = || {
        let _ = std::fs::remove_dir_all(&tree);
        for i in 1..=5 {
            rgb_png(&tree.join(format!("a/{i}.png")), i, 4, 4);
            rgb_png(&tree.join(format!("b/{i}.png")), 10 + i, 4, 4);
        }
    };
    fresh();
    let d = load(&tree).unwrap();
    assert_eq!((d.train.features, d.train.len(), d.test.len()), (48, 8, 2));

    // Mixed image sizes (and mixed channel counts).
    rgb_png(&tree.join("b/6.png"), 4, 5, 4);
    assert_data_error(load(&tree), &tree.join("b/6.png"), &["mixed image sizes", "3x4x5", "3x4x4", "a/1.png"]);
    fresh();
    gray_png(&tree.join("b/6.png"), 4, 4, 4);
    assert_data_error(load(&tree), &tree.join("b/6.png"), &["mixed image sizes", "1x4x4"]);

    // A file that is not an image, in a class folder; also inside an archive.
    fresh();
    std::fs::write(tree.join("b/notes.txt"), "hello").unwrap();
    assert_data_error(load(&tree), &tree.join("b/notes.txt"), &["not a PNG or JPEG image"]);
    let tar = dir.join("t.tar");
    pack(&tree, &tar, "top");
    assert_data_error(load(&tar), &tar.join("top/b/notes.txt"), &["not a PNG or JPEG image"]);
    std::fs::write(tree.join("b/notes.txt"), b"\x89PNG\r\n\x1a\n broken").unwrap();
    assert_data_error(load(&tree), &tree.join("b/notes.txt"), &["not a PNG or JPEG image"]);

    // An empty class folder, in a folder and in an archive.
    fresh();
    std::fs::create_dir_all(tree.join("c")).unwrap();
    assert_data_error(load(&tree), &tree.join("c"), &["empty class folder"]);
    let tgz = dir.join("t.tar.gz");
    pack(&tree, &tgz, "top");
    assert_data_error(load(&tgz), &tgz.join("top/c"), &["empty class folder"]);

    // A folder inside a class folder.
    fresh();
    rgb_png(&tree.join("b/deeper/1.png"), 5, 4, 4);
    assert_data_error(load(&tree), &tree.join("b/deeper"), &["inside a class folder"]);

    // A single class; no class at all.
    fresh();
    std::fs::remove_dir_all(tree.join("b")).unwrap();
    std::fs::create_dir_all(tree.join("x")).unwrap();
    std::fs::write(tree.join("x/readme"), "x").unwrap();
    assert!(load(&tree).is_err());
    let lone = dir.join("lone");
    rgb_png(&lone.join("only/1.png"), 1, 4, 4);
    assert_data_error(load(&lone), &lone, &["found 1 class folder", "at least two"]);
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_data_error(load(&empty), &empty, &["no class folders"]);

    // A test class that the training tree lacks; train/ and test/ beside other folders.
    fresh();
    let split = dir.join("split");
    rgb_png(&split.join("train/a/1.png"), 1, 4, 4);
    rgb_png(&split.join("train/b/1.png"), 2, 4, 4);
    rgb_png(&split.join("test/z/1.png"), 3, 4, 4);
    assert_data_error(load(&split), &split.join("test/z"), &["not one of the training classes", "a, b"]);
    std::fs::remove_dir_all(split.join("test/z")).unwrap();
    rgb_png(&split.join("test/a/1.png"), 3, 4, 4);
    assert_eq!(load(&split).unwrap().test.y, [0]);
    rgb_png(&split.join("val/a/1.png"), 3, 4, 4);
    assert_data_error(load(&split), &split, &["beside other folders (val)"]);

    // A file that is neither a folder nor a tar archive.
    let png = dir.join("single.png");
    rgb_png(&png, 1, 4, 4);
    assert_data_error(load(&png), &png, &["not a readable tar archive"]);
    // A missing path is named.
    let e = load(&dir.join("nowhere")).unwrap_err().to_string();
    assert!(e.contains("nowhere"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
