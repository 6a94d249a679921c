//! The C side: the checked-in header is what cbindgen generates now and carries the
//! crate's version; the C example builds with -Wall -Wextra -Wpedantic -Werror, runs a
//! whole search and export, and runs clean under AddressSanitizer and UBSan.
//!
//! Needs `libdensenas.so` built (`make test` builds it first).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn libdir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_densenas")).parent().unwrap().to_path_buf()
}

#[test]
fn header_is_fresh_and_carries_the_crate_version() {
    let header = std::fs::read_to_string(root().join("include/densenas.h")).unwrap();
    let define = |name: &str| {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("{name} missing from the header"))
            .trim()
            .to_string()
    };
    assert_eq!(define("DENSENAS_VERSION"), format!("\"{}\"", env!("CARGO_PKG_VERSION")));
    assert_eq!(define("DENSENAS_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(define("DENSENAS_VERSION_MINOR"), env!("CARGO_PKG_VERSION_MINOR"));
    assert_eq!(define("DENSENAS_VERSION_PATCH"), env!("CARGO_PKG_VERSION_PATCH"));
    for f in ["densenas_space_new", "densenas_session_step_weights", "densenas_last_error_message", "densenas_version"] {
        assert!(header.contains(&format!("{f}(")), "{f} missing from the header");
    }
    let cbindgen = root().join(".venv/tools/bin/cbindgen");
    assert!(cbindgen.exists(), "cbindgen is not installed: run scripts/setup.sh");
    let out = Command::new(cbindgen)
        .current_dir(root())
        .args(["--config", "cbindgen.toml", "--output", "include/densenas.h", "--verify"])
        .output()
        .unwrap();
    assert!(out.status.success(), "include/densenas.h is stale: run `make header`\n{}", String::from_utf8_lossy(&out.stderr));
}

fn build_examples(dir: &Path) {
    let out = Command::new("make")
        .current_dir(root())
        .args(["-s", "c-examples"])
        .arg(format!("LIBDIR={}", libdir().display()))
        .arg(format!("C_BUILD={}", dir.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "building the C examples failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

fn run_example(exe: &Path, model: &Path, sanitized: bool) -> String {
    let mut cmd = Command::new(exe);
    cmd.arg(model).env("OMP_NUM_THREADS", "1");
    if sanitized {
        cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            .env("LSAN_OPTIONS", format!("suppressions={}", root().join("tests/c/lsan.supp").display()))
            .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{} failed:\n{stderr}", exe.display());
    assert!(!stderr.contains("Sanitizer") && !stderr.contains("runtime error"), "{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn c_example_searches_exports_and_runs_clean_under_sanitizers() {
    let dir = std::env::temp_dir().join(format!("densenas-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    build_examples(&dir);
    for (exe, sanitized) in [("search_digits", false), ("search_digits_asan", true)] {
        let model = dir.join(format!("{exe}.onnx"));
        let stdout = run_example(&dir.join(exe), &model, sanitized);
        let acc: f64 = stdout
            .lines()
            .find_map(|l| l.strip_prefix("test accuracy "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no test accuracy in\n{stdout}"))
            .parse()
            .unwrap();
        assert!(acc >= 0.9, "{exe}: test accuracy {acc}");
        assert_eq!(stdout.matches("best validation accuracy").count(), 3);
        // The exported network gives the same test accuracy in ONNX Runtime.
        let data = densenas::data::load("digits").unwrap();
        let m = densenas::io::ort_runtime::OnnxModel::load(&model).unwrap();
        let logits = m.logits_all(&data.test.x, 512).unwrap();
        let r = densenas::io::classification::ClassificationReport::from_logits(&logits, &data.test.y, 10).unwrap();
        assert!((r.accuracy - acc).abs() < 1e-3, "{exe}: ONNX Runtime {} vs session {acc}", r.accuracy);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn c_reliability_test_passes_plain_and_under_sanitizers() {
    let dir = std::env::temp_dir().join(format!("densenas-c-rel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("make")
        .current_dir(root())
        .args(["-s", "c-tests"])
        .arg(format!("LIBDIR={}", libdir().display()))
        .arg(format!("C_BUILD={}", dir.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "building the C test failed:\n{}", String::from_utf8_lossy(&out.stderr));
    for (exe, sanitized) in [("reliability", false), ("reliability_asan", true)] {
        let work = dir.join(format!("{exe}-work"));
        std::fs::create_dir_all(&work).unwrap();
        let stdout = run_example(&dir.join(exe), &work, sanitized);
        assert!(stdout.contains("all ok"), "{exe}:\n{stdout}");
        let train = dir.join(exe.replace("reliability", "train"));
        let trained = run_example(&train, &work, sanitized);
        for line in ["ok population of 4", "member 3 equals its DAG and seed alone", "ok stop on a training report", "ok bad requests", "all ok"] {
            assert!(trained.contains(line), "{}: no {line:?} in\n{trained}", train.display());
        }
        for line in ["save/load round trip (darts2)", "save/load round trip (gdas)", "bad session files", "divergence", "stop on a phase report", "stop on an epoch report", "stop on a step report", "stop on a retraining report", "ok experiment"] {
            assert!(stdout.contains(line), "{exe}: no {line:?} in\n{stdout}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
