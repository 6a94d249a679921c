//! The repository stands alone: no tracked file but the set-up script names the folder
//! outside the repository that developers' machines keep data in, and a clone of it in
//! another folder builds and passes the data tests with its data coming only through
//! `$DENSENAS_DATA` (docs/data.md).
//!
//! The clone lives in `target/fresh-clone/checkout` (recloned each run, nothing beside
//! it) and builds into `target/fresh-clone/target`, seeded from this build's
//! `target/release` the first time, with this checkout's libtorch: only densenas itself
//! is compiled again. It runs a few test binaries, not `make test` inside `make test`.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::run;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");


/// Copies the folder `from` to `to` with `cp -a`: modification times kept, so cargo
/// sees the copied build as up to date.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    run("cp -a", Command::new("cp").arg("-a").arg(from).arg(to));
}

#[test]
fn no_tracked_file_but_the_set_up_names_the_folder_outside_the_repository() {
    let outside = concat!("..", "/shared");
    let out = Command::new("git").args(["grep", "-l", "-F", outside]).current_dir(ROOT).output().unwrap();
    let files: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(files, ["scripts/setup.sh"], "tracked files naming {outside}");
}

#[test]
fn a_clone_elsewhere_builds_and_passes_the_data_tests_with_data_through_densenas_data() {
    let base = Path::new(ROOT).join("target/fresh-clone");
    let checkout = base.join("checkout");
    let target = base.join("target");
    if checkout.exists() {
        std::fs::remove_dir_all(&checkout).unwrap();
    }
    std::fs::create_dir_all(&base).unwrap();
    run("git clone", Command::new("git").args(["clone", "--quiet", "--no-hardlinks", ROOT]).arg(&checkout));
    std::os::unix::fs::symlink(Path::new(ROOT).join(".venv"), checkout.join(".venv")).unwrap();
    if !target.join("release").exists() {
        copy_tree(&Path::new(ROOT).join("target/release"), &target.join("release"));
    }
    let data: PathBuf = densenas::data::folder::DataFolder::locate().path;
    common::dataset_dir("mnist");
    let out = run(
        "cargo test in the clone",
        common::without_cargo_env(&mut Command::new("cargo"))
            .args(["test", "--release", "--locked"])
            .args(["--test", "data_idx", "--test", "data_csv", "--test", "data_cifar", "--test", "data_folder"])
            .current_dir(&checkout)
            .env("CARGO_TARGET_DIR", &target)
            .env("LIBTORCH", Path::new(ROOT).join(".venv/libtorch"))
            .env("DENSENAS_DATA", &data)
            .env("OMP_NUM_THREADS", "1"),
    );
    let passed: usize = out
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .map(|l| l.split(' ').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert!(passed >= 20 && !out.contains("FAILED"), "the clone's tests:\n{out}");
    println!("the clone at {} passed {passed} tests", checkout.display());
}
