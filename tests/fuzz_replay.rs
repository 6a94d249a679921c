//! Replays every fuzz seed, every corpus entry and every crash the fuzzer ever found
//! (fuzz/seeds/<target>, fuzz/corpus/<target>.tar.gz, fuzz/crashes/<target>) through the fuzz targets with the normal
//! build: none may panic. Each crash file is a regression test. The seeds, slices of
//! real files, must load.

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::Path;

/// The files of a folder, by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// The files of a packed corpus (`.tar.gz`), by name.
fn packed(path: &Path) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let Ok(file) = std::fs::File::open(path) else { return Vec::new() };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let name = format!("{}:{}", path.display(), entry.path().unwrap().display());
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            out.push((name, data));
        }
    }
    out
}

#[test]
fn every_corpus_entry_and_every_recorded_crash_replays_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (name, target) in targets::TARGETS {
        let seeds = files(&root.join("seeds").join(name));
        assert!(!seeds.is_empty(), "fuzz/seeds/{name} is empty");
        let mut all = seeds;
        all.extend(packed(&root.join("corpus").join(format!("{name}.tar.gz"))));
        all.extend(files(&root.join("crashes").join(name)));
        for (file, data) in &all {
            let outcome = std::panic::catch_unwind(|| target(data));
            assert!(outcome.is_ok(), "{name}: {file} panics");
            replayed += 1;
        }
    }
    assert!(replayed >= 8);
}

#[test]
fn the_seeds_from_real_files_load() {
    use densenas::data;
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let dir = std::env::temp_dir().join(format!("densenas-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A seed as the file its target writes (the idx and options targets' first byte
    // chooses the parser).
    let as_file = |target: &str, seed: &str, skip: usize| {
        let path = dir.join(seed);
        std::fs::write(&path, &std::fs::read(seeds.join(target).join(seed)).unwrap()[skip..]).unwrap();
        path
    };
    for seed in ["images", "images.gz"] {
        let images = data::idx::read_images(&as_file("idx", seed, 1)).unwrap();
        assert_eq!((images.count, images.rows, images.cols), (2, 28, 28));
    }
    for seed in ["labels", "labels.gz"] {
        assert_eq!(data::idx::read_labels(&as_file("idx", seed, 1)).unwrap(), vec![5, 0], "MNIST's first labels");
    }
    for seed in ["one_record.bin", "one_record.bin.gz"] {
        let d = data::cifar::read_cifar_file(&as_file("cifar", seed, 0), "seed").unwrap();
        assert_eq!(d.y, vec![3], "CIFAR-10's first test label");
    }
    for seed in ["two_classes.tar", "two_classes.tar.gz", "train_test_png.tar"] {
        let d = data::images::load_images(&as_file("images", seed, 0), None).unwrap();
        assert_eq!(d.train.classes, 2, "{seed}");
    }
    for seed in ["digits3.csv", "digits3.csv.gz", "header.csv"] {
        let d = data::csv::read_csv_file(&as_file("csv", seed, 0), "seed").unwrap();
        assert!(d.len() >= 2 && d.features >= 2, "{seed}");
    }
    assert_eq!(data::read_decompressed(&as_file("gzip", "two_members.gz", 0)).unwrap(), b"first member\nsecond\n");
    for seed in ["space0.json", "space1.json"] {
        densenas::SpaceConfig::from_json(&std::fs::read_to_string(seeds.join("space_json").join(seed)).unwrap()).unwrap();
    }
    for seed in ["darts2.safetensors", "gdas.safetensors"] {
        densenas::Session::from_bytes(&std::fs::read(seeds.join("session_load").join(seed)).unwrap(), seed).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
