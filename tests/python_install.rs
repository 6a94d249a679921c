//! The Python package installed from source (`pip install ./bindings/python`), outside
//! the checkout (docs/install.md, "The Python package from source"): pip runs the
//! package's build hook, which builds the library with cargo (reusing this build's
//! target folder, so nothing recompiles) and stages it as `make wheel` does. The result
//! is a platform wheel whose package carries `libdensenas.so` without a RUNPATH and
//! requires the torch it was built against; `import densenas` from a folder outside
//! the checkout, in a bare environment, loads that library and libtorch from the
//! environment's own torch and runs a search on the embedded digits.
//!
//! The fresh environment is a plain `python -m venv` (no system site packages) filled
//! offline from `.venv/wheelhouse` as the set-up fills `.venv`. Needs `make build`.

mod common;

use common::{bare, run};

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// libtorch as this build saw it (exported, or from .cargo/config.toml): the hook's
/// cargo gets the same, so that torch-sys does not rebuild.
const LIBTORCH: &str = env!("LIBTORCH");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The target folder this test was built in (`target/release/densenas` -> `target`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_densenas")).parent().unwrap().parent().unwrap().to_path_buf()
}

/// A scratch folder outside the checkout, named after the checkout, emptied first.
fn scratch() -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    root().hash(&mut h);
    let dir = std::path::absolute(std::env::temp_dir().join(format!("densenas-python-install-{:016x}", h.finish()))).unwrap();
    assert!(!dir.starts_with(root()), "the scratch folder {} is inside the checkout", dir.display());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}




/// `pip install` into `python`'s environment, offline from the set-up's wheelhouse;
/// no byte-compiling (torch has thousands of modules).
fn pip_install(python: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile", "--no-index", "--find-links"])
        .arg(root().join(".venv/wheelhouse"))
        .args(args)
        .env_remove("PYTHONPATH")
        .env_remove("VIRTUAL_ENV")
        .env_remove("DENSENAS_LIBRARY");
    cmd
}

/// `readelf -d` entries of one kind.
fn dynamic(file: &Path, kind: &str) -> Vec<String> {
    let out = run("readelf -d", Command::new("readelf").arg("-d").arg(file));
    out.lines().filter(|l| l.contains(&format!("({kind})"))).map(str::to_string).collect()
}


const SCRIPT: &str = r#"
import json, sys
import densenas
summary = densenas.search({"phases": 1, "epochs": 2, "retrain": {"epochs": 3}, "threads": 1,
                           "space": {"layers": 3, "width": 32, "blocks": 3}})
maps = sorted({l.split()[-1] for l in open("/proc/self/maps") if "/" in l and ".so" in l})
print(json.dumps({
    "package": densenas.__file__, "library": densenas.library_path, "version": densenas.__version__,
    "test_accuracy": summary["best"]["test_accuracy"],
    "libtorch_cpu": [m for m in maps if m.endswith("/libtorch_cpu.so")],
    "from_checkout": [m for m in maps if m.startswith(sys.argv[1] + "/")],
}))
"#;

#[test]
fn pip_install_from_source_builds_the_library_into_the_package() {
    let dir = scratch();
    let venv = dir.join("venv");
    run("python -m venv", Command::new(root().join(".venv/bin/python")).arg("-m").arg("venv").arg(&venv));
    let python = venv.join("bin/python");
    run("pip install hatchling numpy", &mut pip_install(&python, &["hatchling", "numpy"]));
    // The source install, from the checkout, building into this build's target folder.
    let source_install = || {
        let mut cmd = pip_install(&python, &["--no-build-isolation", "--no-deps"]);
        common::without_cargo_env(&mut cmd);
        cmd.arg(root().join("bindings/python")).env("CARGO_TARGET_DIR", target_dir()).env("LIBTORCH", LIBTORCH);
        cmd
    };
    // Without torch, and then without cargo: one line saying what is missing, nothing installed.
    let refused = |cmd: &mut Command, says: &str| {
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "pip install succeeded without what it needs");
        let line = format!("densenas: building the Python package failed: {says}");
        assert!(stderr.lines().any(|l| l.trim().starts_with(&line)), "no {line:?} in\n{stderr}");
        assert!(!venv.join("lib").read_dir().unwrap().any(|d| d.unwrap().path().join("site-packages/densenas").exists()));
    };
    refused(&mut source_install(), &format!("the torch package is not installed for {}", python.display()));
    // torch the set-up's slim way (without its CUDA dependencies).
    let torch = root().join(".venv/wheelhouse/requirements-torch.txt");
    run("pip install torch", &mut pip_install(&python, &["--no-deps", "-r", torch.to_str().unwrap()]));
    let mut no_cargo = source_install();
    // A PATH without cargo (an empty folder: pip runs the build with its own python).
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    no_cargo.env("PATH", &empty).env("HOME", &dir).env_remove("CARGO");
    refused(&mut no_cargo, "cargo not found: install Rust");

    // The install reuses target/ (cargo decides what is stale: under `make test` some
    // build scripts see the test's environment and may rebuild the library once).
    run("pip install ./bindings/python", &mut source_install());

    let site = run("site-packages", bare(&python).args(["-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"]));
    let site = PathBuf::from(site.trim());
    let package = site.join("densenas");
    let installed = package.join("libdensenas.so");
    assert!(installed.is_file(), "{} not installed", installed.display());
    assert_eq!(dynamic(&installed, "RUNPATH"), Vec::<String>::new());
    assert_eq!(dynamic(&installed, "RPATH"), Vec::<String>::new());
    let build: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(package.join("_build.json")).unwrap()).unwrap();
    let torch_version = run(
        "torch version",
        bare(&python).args(["-c", "import importlib.metadata as m; print(m.version('torch').split('+')[0])"]),
    );
    assert_eq!(build["torch"], torch_version.trim(), "{build}");
    assert!(build["torch_libraries"].as_array().unwrap().contains(&"libtorch_cpu.so".into()), "{build}");
    let dist_info = site.join(format!("densenas-{VERSION}.dist-info"));
    let metadata = std::fs::read_to_string(dist_info.join("METADATA")).unwrap();
    assert!(metadata.lines().any(|l| l == format!("Requires-Dist: torch=={}", torch_version.trim())), "{metadata}");
    let wheel = std::fs::read_to_string(dist_info.join("WHEEL")).unwrap();
    assert!(wheel.lines().any(|l| l.starts_with("Tag: py3-none-linux_")), "{wheel}");
    assert!(wheel.contains("Root-Is-Purelib: false"), "{wheel}");

    // From a folder outside the checkout, with a bare environment.
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let out = run("import densenas; densenas.search", bare(&python).current_dir(&work).args(["-c", SCRIPT]).arg(root()));
    let seen: serde_json::Value = serde_json::from_str(out.trim().lines().last().unwrap()).unwrap();
    assert_eq!(seen["package"], package.join("__init__.py").to_str().unwrap(), "{seen}");
    assert_eq!(seen["library"], installed.to_str().unwrap(), "{seen}");
    assert_eq!(seen["version"], VERSION);
    assert_eq!(seen["libtorch_cpu"], serde_json::json!([site.join("torch/lib/libtorch_cpu.so")]), "{seen}");
    assert_eq!(seen["from_checkout"], serde_json::json!([]), "{seen}");
    let accuracy = seen["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.5, "test accuracy {accuracy} after retraining on the digits");
    std::fs::remove_dir_all(&dir).unwrap();
}
