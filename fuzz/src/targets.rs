//! The fuzz targets: each takes arbitrary bytes and feeds them to one of densenas's
//! input parsers the way a user's file or string would reach it. A target may return
//! any error (that is the point: bad input gets a clear error); it must never panic,
//! abort, hang or exhaust memory. The AFL++ binaries in `fuzz/src/bin` and the replay
//! test `tests/fuzz_replay.rs` share this file.

use std::path::PathBuf;

/// The targets by name, as `fuzz/corpus/<name>` and the binaries call them.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("idx", idx),
    ("cifar", cifar),
    ("images", images),
    ("csv", csv),
    ("gzip", gzip),
    ("space_json", space_json),
    ("options_json", options_json),
    ("session_load", session_load),
];

/// Loaders read files: the input goes to a file of this process's own (in `$TMPDIR`,
/// a RAM disk when fuzzing), named so that the loader sees the extension it expects.
fn as_file(name: &str, data: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("densenas-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&path, data).expect("the fuzz scratch file can be written");
    path
}

/// IDX files: the first byte chooses an image file (even) or a label file (odd).
pub fn idx(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    let path = as_file("idx", rest);
    if which % 2 == 0 {
        let _ = densenas::data::idx::read_images(&path);
    } else {
        let _ = densenas::data::idx::read_labels(&path);
    }
}

/// A CIFAR-10 binary file.
pub fn cifar(data: &[u8]) {
    let path = as_file("cifar.bin", data);
    let _ = densenas::data::cifar::read_cifar_file(&path, "fuzz");
}

/// An image-folder archive (`.tar`, gzip-compressed or not) as `images:PATH` loads it.
pub fn images(data: &[u8]) {
    let path = as_file("images.tar", data);
    let _ = densenas::data::images::load_images(&path, None);
}

/// A CSV file (raw or gzip), the label last.
pub fn csv(data: &[u8]) {
    let path = as_file("data.csv", data);
    let _ = densenas::data::csv::read_csv_file(&path, "fuzz");
}

/// Any file through the gzip detection and decompression every loader uses.
pub fn gzip(data: &[u8]) {
    let path = as_file("data.gz", data);
    let _ = densenas::data::read_decompressed(&path);
}

/// A space's JSON, as `densenas_space_new` and a run's `space` take it; a valid space
/// also builds its density and draws a DAG.
pub fn space_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(space) = densenas::SpaceConfig::from_json(text) else { return };
    if space.num_edges() <= 64 {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        if let Ok(density) = densenas::DagDensity::new(&space, 0.5, 0.05) {
            if let Ok(dags) = density.draw(1, &[], &mut rng) {
                let _ = dags[0].metrics();
            }
        }
    }
}

/// A session's options JSON (checked against a small space) or a search's
/// configuration (`config.json`, `--config`): the first byte chooses.
pub fn options_json(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    if which % 2 == 0 {
        let space = densenas::Space::new(densenas::SpaceConfig::new(4, 3, 3, 8)).expect("a valid space");
        if let Ok(options) = densenas::SessionOptions::from_json(text) {
            let _ = options.validate(&space);
        }
    } else if let Ok(config) = densenas::SearchConfig::from_json(text) {
        let _ = config.space.space(4, 3, Some([1, 2, 2]));
    }
}

/// A saved session (`densenas_session_load`).
pub fn session_load(data: &[u8]) {
    let _ = densenas::Session::from_bytes(data, "fuzz input");
}
