//! The C++ and Python bindings over the C ABI (bindings/): the C++ test, built from two
//! translation units that include `bindings/cpp/densenas.hpp`, passes plain and under
//! AddressSanitizer and UBSan; the C++ and Python examples search the digits, export
//! networks that ONNX Runtime scores as they say, and agree with each other (the same
//! seed gives the same search through either binding); the pytest suite passes; and
//! the Python package installs with pip from the repository, its library built into it.
//!
//! Needs `libdensenas.so` built (`make test` builds it first) and the `.venv` of
//! scripts/setup.sh.

mod common;

use common::stdout_of;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn libdir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_densenas")).parent().unwrap().to_path_buf()
}

fn library() -> PathBuf {
    libdir().join("libdensenas.so")
}

fn python() -> PathBuf {
    root().join(".venv/bin/python")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("densenas-bindings-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}


/// The C++ programs, built once by `make cpp-examples` for every test here.
fn cpp_build() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bindings-cpp");
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("make")
            .current_dir(root())
            .args(["-s", "cpp-examples"])
            .arg(format!("LIBDIR={}", libdir().display()))
            .arg(format!("CPP_BUILD={}", dir.display()))
            .output()
            .unwrap();
        stdout_of("building the C++ test and example (make cpp-examples)", &out);
        dir
    })
}

/// The value after `prefix` on the line that starts with it.
fn value_after(stdout: &str, prefix: &str) -> f64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {prefix:?} in\n{stdout}"))
        .trim_end_matches(',')
        .parse()
        .unwrap()
}

/// The values after `needle`, on every line holding it.
fn values_in(stdout: &str, needle: &str) -> Vec<f64> {
    stdout.lines().filter_map(|l| l.find(needle).map(|i| value_after(&l[i..], needle))).collect()
}

/// The test accuracy ONNX Runtime gets from an exported model on the digits.
fn onnx_test_accuracy(model: &Path) -> f64 {
    let data = densenas::data::load("digits").unwrap();
    let m = densenas::io::ort_runtime::OnnxModel::load(model).unwrap();
    let logits = m.logits_all(&data.test.x, 512).unwrap();
    densenas::io::classification::ClassificationReport::from_logits(&logits, &data.test.y, 10).unwrap().accuracy
}

#[test]
fn cpp_test_from_two_translation_units_passes_plain_and_under_sanitizers() {
    let dir = scratch("cpp-test");
    for (exe, sanitized) in [("binding_test", false), ("binding_test_asan", true)] {
        let model = dir.join(format!("{exe}.onnx"));
        let run_dir = dir.join(format!("{exe}-run"));
        let mut cmd = Command::new(cpp_build().join(exe));
        cmd.arg(&model).arg(&run_dir).env("OMP_NUM_THREADS", "1");
        if sanitized {
            cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
                .env("LSAN_OPTIONS", format!("suppressions={}", root().join("tests/c/lsan.supp").display()))
                .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
        }
        let out = cmd.output().unwrap();
        let stdout = stdout_of(exe, &out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("Sanitizer") && !stderr.contains("runtime error"), "{exe}:\n{stderr}");
        let checks = value_after(&stdout, "all ");
        assert!(checks >= 70.0 && stdout.contains(" checks passed"), "{exe}: only {checks} checks ran\n{stdout}");
        assert!(stdout.contains("trained a population of 4: 4 members, 2 reports"), "{exe}: densenas::train\n{stdout}");
        // Errors arrived as densenas::Error with the library's status and message.
        for caught in [
            "caught DENSENAS_STATUS_INVALID_INPUT: invalid input: x_len is 1023 but batch * features = 16 * 64",
            "caught DENSENAS_STATUS_INVALID_INPUT: invalid input: label of sample 3 is 10, outside 0..10",
            "caught DENSENAS_STATUS_INVALID_CONFIG: invalid configuration: space: unknown field `colour`",
            "caught DENSENAS_STATUS_IO: /nonexistent-dir/x.onnx",
            "caught DENSENAS_STATUS_INVALID_INPUT: invalid input: fraction is 1.5, outside [0, 1]",
            "caught DENSENAS_STATUS_NULL_PARAMETER: session is NULL",
        ] {
            assert!(stdout.contains(caught), "{exe}: no {caught:?} in\n{stdout}");
        }
        // The session's export scores in ONNX Runtime what the session said.
        let acc = value_after(&stdout, "test accuracy ");
        assert!(acc >= 0.8, "{exe}: test accuracy {acc}");
        let ort = onnx_test_accuracy(&model);
        assert!((ort - acc).abs() < 1e-5, "{exe}: ONNX Runtime {ort} vs session {acc}");
        // The whole search through densenas::search wrote its run folder.
        assert!(run_dir.join("best.onnx").exists() && run_dir.join("summary.json").exists());
        // A stopped search resumed to the uninterrupted result; a saved session went on alike.
        assert!(stdout.contains("the same history and best.onnx"), "{exe}:\n{stdout}");
        assert!(stdout.contains("the same losses, alpha and phase results"), "{exe}:\n{stdout}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cpp_and_python_examples_search_export_and_agree() {
    let dir = scratch("examples");
    let cpp_model = dir.join("cpp.onnx");
    let out = Command::new(cpp_build().join("search_digits")).arg(&cpp_model).env("OMP_NUM_THREADS", "1").output().unwrap();
    let cpp = stdout_of("examples/cpp/search_digits", &out);
    let py_model = dir.join("python.onnx");
    let out = Command::new(python())
        .arg(root().join("examples/python/search_digits.py"))
        .arg(&py_model)
        .env("DENSENAS_LIBRARY", library())
        .env("OMP_NUM_THREADS", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let py = stdout_of("examples/python/search_digits.py", &out);
    for (name, stdout, model) in [("C++", &cpp, &cpp_model), ("Python", &py, &py_model)] {
        assert_eq!(stdout.matches("best validation accuracy").count(), 3, "{name}:\n{stdout}");
        let acc = value_after(stdout, "test accuracy ");
        assert!(acc >= 0.9, "{name} example: test accuracy {acc}");
        let ort = onnx_test_accuracy(model);
        assert!((ort - acc).abs() < 1e-3, "{name} example: ONNX Runtime {ort} vs session {acc}");
    }
    // Same dataset, space, options and batches: the same search, phase by phase.
    let best = |s: &str| values_in(s, "best validation accuracy ");
    assert_eq!(best(&cpp), best(&py), "C++:\n{cpp}\nPython:\n{py}");
    assert_eq!(value_after(&cpp, "test accuracy "), value_after(&py, "test accuracy "));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn pytest(args: &[&str]) -> String {
    let out = Command::new(python())
        .current_dir(root())
        .args(["-m", "pytest", "-p", "no:cacheprovider"])
        .args(args)
        .arg("bindings/python/tests")
        .env("DENSENAS_LIBRARY", library())
        .env("OMP_NUM_THREADS", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    stdout_of("pytest bindings/python/tests", &out)
}

#[test]
fn python_test_suite_passes() {
    // Every collected test passes: none skipped, none lost to a collection error.
    let collected = pytest(&["--collect-only", "-q"]);
    let count = collected.lines().filter(|l| l.contains("::")).count();
    assert!(count >= 50, "only {count} tests collected:\n{collected}");
    let stdout = pytest(&["-q"]);
    // "52 passed in 1.38s"
    let summary = stdout.lines().last().unwrap_or_default().trim_matches(|c: char| c == '=' || c == ' ');
    let passed: usize = summary.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert_eq!(passed, count, "{summary}: {count} were collected\n{stdout}");
    assert!(summary.contains(" passed"), "{stdout}");
    for bad in ["failed", "error", "skipped", "xfail"] {
        assert!(!summary.contains(bad), "pytest: {summary}\n{stdout}");
    }
}

#[test]
fn python_package_installs_with_pip_and_finds_its_library() {
    let target = scratch("pip");
    let out = Command::new(python())
        .current_dir(root())
        .args(["-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-cache-dir"])
        .args(["--disable-pip-version-check", "--no-index", "--target"])
        .arg(&target)
        .arg("bindings/python")
        // The build hook's cargo reuses this build (the same target folder and libtorch).
        .env("CARGO_TARGET_DIR", libdir().parent().unwrap())
        .env("LIBTORCH", env!("LIBTORCH"))
        .output()
        .unwrap();
    stdout_of("pip install bindings/python", &out);
    let import = |env: &[(&str, PathBuf)]| -> String {
        let mut cmd = Command::new(python());
        // Run from the target so that only the installed copy can be imported.
        cmd.current_dir(&target)
            .args([
                "-c",
                "import densenas; print(densenas.__file__); print(densenas.library_path); print(densenas.library_version())",
            ])
            .env("PYTHONPATH", &target)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("DENSENAS_LIBRARY")
            .env_remove("CARGO_TARGET_DIR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        stdout_of("import densenas", &cmd.output().unwrap())
    };
    let installed = target.join("densenas");
    // With DENSENAS_LIBRARY: that library.
    let stdout = import(&[("DENSENAS_LIBRARY", library())]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], installed.join("__init__.py").to_str().unwrap());
    assert_eq!(lines[1], library().to_str().unwrap());
    assert_eq!(lines[2], env!("CARGO_PKG_VERSION"));
    // Without it: the library pip built into the package (tests/python_install.rs
    // checks that build in a fresh environment).
    assert!(installed.join("_build.json").is_file());
    let stdout = import(&[]);
    assert_eq!(stdout.lines().nth(1).unwrap(), installed.join("libdensenas.so").to_str().unwrap());
    assert_eq!(stdout.lines().nth(2).unwrap(), env!("CARGO_PKG_VERSION"));
    std::fs::remove_dir_all(&target).unwrap();
}
