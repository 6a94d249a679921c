//! Helpers shared by the data tests (each test file is its own process, so the process
//! id keeps their temporary folders apart).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use densenas::Error;

/// The tiny study of the experiment tests (tests/experiment.rs, tests/ray_executor.rs):
/// digits, two spaces, two strategies, two seeds, a few random DAGs, small budgets; 48
/// units in two stages.
pub const TINY_EXPERIMENT: &str = r#"{"name": "tiny", "groups": [
 {"name": "strategies", "datasets": ["digits"],
  "spaces": [{"layers": 3, "width": 16, "blocks": 3}, {"layers": 4, "width": 16, "blocks": 3}],
  "strategies": ["darts", "gdas"], "seeds": [0, 1],
  "search": {"phases": 2, "epochs": 1}, "retrain_epochs": 2,
  "standalone": {"random_dags": 4, "last_blocks": 2},
  "baselines": ["chain", "chain_matched", "full"]},
 {"name": "ground truth", "datasets": ["digits"],
  "spaces": [{"layers": 3, "width": 16, "blocks": 2}],
  "strategies": ["darts"], "seeds": [0, 1],
  "search": {"phases": 2, "epochs": 1}, "retrain_epochs": 2,
  "standalone": {"random_dags": "all"}, "baselines": ["chain"]}]}"#;

/// An experiment's JSON (report, unit result, summary) without the fields a rerun may
/// change: `*seconds*`, `*per_second*`, `*memory*` (docs/experiments.md).
pub fn comparable(mut v: serde_json::Value) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.retain(|k, _| !(k.contains("seconds") || k.contains("per_second") || k.contains("memory")));
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

/// "N run now, M already finished" of an experiment run's closing line, found in its
/// output `e` (the local executor's and the Ray driver's say it alike).
pub fn counts(e: &str) -> (usize, usize) {
    let line = e.lines().find(|l| l.contains(" run now, ")).unwrap_or_else(|| panic!("no summary line in\n{e}"));
    let num = |after: &str| -> usize {
        let head = line.split(after).next().unwrap();
        head.rsplit(|c: char| !c.is_ascii_digit()).find(|s| !s.is_empty()).unwrap().parse().unwrap()
    };
    (num(" run now"), num(" already finished"))
}

/// A fresh, empty temporary folder for this test process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("densenas-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The error must be a data error on `path` whose message contains every word.
#[track_caller]
pub fn assert_data_error<T: std::fmt::Debug>(result: densenas::Result<T>, path: &Path, words: &[&str]) {
    match result {
        Err(Error::Data { path: p, message }) => {
            assert_eq!(p, path, "wrong file named: {message}");
            for w in words {
                assert!(message.contains(w), "{message:?} lacks {w:?}");
            }
        }
        other => panic!("expected a data error on {}, got {other:?}", path.display()),
    }
}

/// A fingerprint of a session after some steps: every loss, `alpha`, the history and
/// the sum of each shared tensor (for determinism checks).
#[derive(Debug, PartialEq)]
pub struct Trace {
    pub losses: Vec<f64>,
    pub alpha: Vec<f64>,
    pub history: String,
    pub weights: Vec<f64>,
}

impl Trace {
    /// The fingerprint of `session` with the `losses` its steps returned.
    pub fn of(session: &densenas::Session, losses: Vec<f64>) -> Trace {
        use tch::Kind;
        let weights = session
            .supernet()
            .parameters()
            .iter()
            .map(|t| t.to_kind(Kind::Double).sum(Kind::Double).double_value(&[]))
            .collect();
        Trace {
            losses,
            alpha: session.alpha().unwrap(),
            history: serde_json::to_string(session.history()).unwrap(),
            weights,
        }
    }
}

/// The device of the device-parametrised tests (the float64 equivalence, gradient and
/// determinism tests): `DENSENAS_TEST_DEVICE`, `cpu` by default; scripts/gpu-check.sh
/// runs them with `cuda` on a CUDA build.
pub fn test_device_name() -> String {
    std::env::var("DENSENAS_TEST_DEVICE").unwrap_or_else(|_| "cpu".to_string())
}

/// [`test_device_name`] as a device (a CUDA device that is not there fails the test).
pub fn test_device() -> tch::Device {
    let name = test_device_name();
    densenas::model::device::parse_device(&name).unwrap_or_else(|e| panic!("DENSENAS_TEST_DEVICE={name}: {e}"))
}

/// The folder of the dataset `name` in the data folder (docs/data.md:
/// `$DENSENAS_DATA`, else the checkout's `datasets/`), its files checked against the
/// published digests. A dataset that is not there fails the test with one line saying
/// how to get it (`densenas data fetch NAME`).
pub fn dataset_dir(name: &str) -> PathBuf {
    dataset_spec(name);
    densenas::data::folder::DataFolder::locate().dataset_dir(name)
}

/// The loader spec of the dataset `name` of the data folder (see [`dataset_dir`]).
pub fn dataset_spec(name: &str) -> String {
    let known = densenas::data::registry::known(name).unwrap_or_else(|| panic!("{name} is not a known dataset"));
    densenas::data::folder::DataFolder::locate().resolve(known).unwrap_or_else(|e| panic!("{e}"))
}

/// A small file of `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The standard output of a finished command, after asserting that it succeeded (its
/// output and error output are shown when it did not).
pub fn stdout_of(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed ({}):\n{stdout}\n{stderr}", out.status);
    stdout
}

/// Runs `cmd` to the end; its standard output (see [`stdout_of`]).
pub fn run(what: &str, cmd: &mut Command) -> String {
    stdout_of(what, &cmd.output().unwrap_or_else(|e| panic!("{what}: {e}")))
}

/// A command with nothing of this process's environment but a plain PATH.
pub fn bare(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().env("PATH", "/usr/bin:/bin").env("OMP_NUM_THREADS", "1");
    cmd
}

/// `cmd` without the variables cargo sets for a test process (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`, `OUT_DIR`, ...), for a test that runs cargo itself: some build
/// scripts (ring's) rerun when one of them differs from the build that made
/// `target/`, which would rebuild the library from a shell's `make build` again.
pub fn without_cargo_env(cmd: &mut Command) -> &mut Command {
    const SET_BY_CARGO: [&str; 9] = ["OUT_DIR", "DEBUG", "OPT_LEVEL", "TARGET", "HOST", "PROFILE", "RUSTC", "RUSTDOC", "NUM_JOBS"];
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if (name.starts_with("CARGO_") && name != "CARGO_HOME") || SET_BY_CARGO.contains(&name.as_str()) {
            cmd.env_remove(&name);
        }
    }
    cmd
}
