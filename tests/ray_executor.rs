//! The Ray executor (`python -m densenas.ray_experiment`, docs/experiments.md "Scaling
//! out") on a two-node Ray cluster on the loopback address, one CPU per node, started
//! and stopped by tests/python/ray_cluster.py (only its own nodes, also on failure):
//! the tiny study of the experiment tests, with one unit's worker killed mid-unit
//! (Ray runs the unit again) and the driver interrupted with Ctrl-C, then run again,
//! leaves the same unit files and the same report.json as `densenas experiment --jobs
//! 2` (apart from timing and memory); without an address the driver starts a Ray
//! instance of its own instead of attaching to the running cluster; bad input gets a
//! clear error before any cluster is touched. Ray comes from scripts/setup.sh.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{comparable, counts};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> Command {
    let mut c = Command::new(root().join(".venv/bin/python"));
    let library = Path::new(env!("CARGO_BIN_EXE_densenas")).with_file_name("libdensenas.so");
    c.env("DENSENAS_LIBRARY", library)
        .env("OMP_NUM_THREADS", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("RAY_USAGE_STATS_ENABLED", "0")
        .env_remove("RAY_ADDRESS");
    c
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every file under `dir/units`, by path relative to `dir`, but the lock files.
fn unit_files(dir: &Path) -> BTreeMap<PathBuf, PathBuf> {
    fn walk(base: &Path, at: &Path, out: &mut BTreeMap<PathBuf, PathBuf>) {
        for entry in std::fs::read_dir(at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if path.file_name().unwrap() != ".densenas.lock" {
                out.insert(path.strip_prefix(base).unwrap().to_path_buf(), path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &dir.join("units"), &mut out);
    out
}

fn lines(step: &Value) -> Vec<String> {
    step["stderr"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect()
}

/// `(worker pid, node)` of a progress line `... done  ID in S s (worker P on node N) ...`.
fn worker_of(line: &str) -> (u64, String) {
    let at = line.split("(worker ").nth(1).unwrap_or_else(|| panic!("no worker in {line}"));
    let mut words = at.split([' ', ')']);
    let pid = words.next().unwrap().parse().unwrap();
    let node = at.split(" on node ").nth(1).unwrap().split(')').next().unwrap().to_string();
    (pid, node)
}

#[test]
fn a_two_node_ray_cluster_gives_the_local_report_despite_a_killed_worker_and_ctrl_c() {
    let dir = common::temp_dir("ray");
    let file = write(&dir, "tiny.json", common::TINY_EXPERIMENT);
    // A small study whose second dataset cannot be read: its two units fail.
    write(&dir, "bad.csv", "1,2,x\n");
    let one = write(
        &dir,
        "one.json",
        r#"{"datasets": ["digits", "csv:bad.csv"], "spaces": [{"layers": 2, "width": 8, "blocks": 2}],
            "strategies": ["darts"], "seeds": [0], "search": {"phases": 1, "epochs": 1}, "retrain_epochs": 1,
            "baselines": ["chain"]}"#,
    );

    // The local executor's result, to compare with.
    let local = dir.join("local");
    let o = Command::new(env!("CARGO_BIN_EXE_densenas"))
        .env("OMP_NUM_THREADS", "1")
        .arg("experiment")
        .arg(&file)
        .arg("--out")
        .arg(&local)
        .args(["--jobs", "2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let ray = dir.join("ray");
    // From another folder than the checkout: the package comes from .venv.
    let o: Output = python()
        .current_dir(&dir)
        .arg(root().join("tests/python/ray_cluster.py"))
        .args([&file, &ray, &one, &dir.join("own")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "the cluster script failed:\n{stderr}\n{stdout}");
    let r: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}:\n{stdout}\n{stderr}"));
    let address = r["address"].as_str().unwrap();
    let (first, second, own) = (lines(&r["first"]), lines(&r["second"]), lines(&r["own"]));
    let all = |l: &[String]| l.join("\n");

    // First run: both nodes, a worker killed, its unit run again by another worker
    // before the driver was interrupted.
    let connected = |l: &[String]| l.iter().any(|l| l.starts_with(&format!("connected to {address}: 2 nodes, 2 CPUs")));
    assert!(connected(&first), "{}", all(&first));
    assert_eq!(r["first"]["rc"], 130, "{}", all(&first));
    assert!(first.iter().any(|l| l.starts_with("interrupted: ")), "{}", all(&first));
    let killed = &r["first"]["killed"];
    let (pid, unit) = (killed["pid"].as_u64().expect("no worker was killed"), killed["unit"].as_str().unwrap());
    let redone: Vec<&String> = first.iter().filter(|l| l.contains(&format!(" done  {unit} "))).collect();
    assert_eq!(redone.len(), 1, "unit {unit} (worker {pid} killed):\n{}", all(&first));
    assert_ne!(worker_of(redone[0]).0, pid);
    assert!(!first.iter().any(|l| l.contains("FAILED")), "{}", all(&first));

    // Second run (the cluster named by RAY_ADDRESS): goes on from there and finishes.
    assert_eq!(r["second"]["rc"], 0, "{}", all(&second));
    assert!(connected(&second), "{}", all(&second));
    let summary = second.last().unwrap();
    let (ran, skipped) = counts(summary);
    // The units the first run reported done (one more may have been written just
    // before Ctrl-C came, without its line).
    let done_before = first.iter().filter(|l| l.contains(" done  ")).count();
    assert!(summary.starts_with("48 units: ") && summary.contains(" 0 failed"), "{summary}");
    assert!(ran + skipped == 48 && (done_before..=done_before + 1).contains(&skipped), "{done_before} done before; {summary}");
    assert!(done_before >= 12 && ran >= 1, "{summary}");
    let nodes: BTreeSet<String> =
        first.iter().chain(&second).filter(|l| l.contains(" done  ")).map(|l| worker_of(l).1).collect();
    assert_eq!(nodes.len(), 2, "units ran on {nodes:?}");

    // The same files as the local executor's, byte for byte apart from timing and
    // memory (result.json, a search's summary.json), and the same report.
    let (got, want) = (unit_files(&ray), unit_files(&local));
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (rel, path) in &got {
        let name = rel.file_name().unwrap();
        if name == "result.json" || name == "summary.json" {
            assert_eq!(comparable(json(path)), comparable(json(&want[rel])), "{}", rel.display());
        } else {
            assert!(std::fs::read(path).unwrap() == std::fs::read(&want[rel]).unwrap(), "{} differs", rel.display());
        }
    }
    assert_eq!(comparable(json(&ray.join("report.json"))), comparable(json(&local.join("report.json"))));

    // Without an address: a Ray instance of its own, the test cluster left running. A
    // unit's own error is a failure, recorded, the others finished.
    let started = own.iter().find(|l| l.starts_with("started a local Ray instance at ")).expect("no local instance");
    assert!(!started.contains(address), "{started} attached to the test cluster {address}");
    assert_eq!(r["cluster_alive_after"], true);
    assert_eq!(r["own"]["rc"], 1, "{}", all(&own));
    assert!(own.iter().any(|l| l.starts_with("4 units: 2 run now, 0 already finished, 2 failed")), "{}", all(&own));
    assert_eq!(own.last().unwrap(), "error: 2 units failed; a rerun retries them");
    let units = dir.join("own/units");
    let errors: Vec<String> = std::fs::read_dir(&units)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path().join("error.txt")).ok())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(|e| e.contains("bad.csv")), "{errors:?}");
    assert_eq!(std::fs::read_dir(&units).unwrap().filter(|e| e.as_ref().unwrap().path().join("result.json").exists()).count(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_gets_a_clear_error_before_any_cluster_is_touched() {
    let dir = common::temp_dir("ray-errors");
    let good = write(&dir, "good.json", r#"{"datasets": ["digits"], "spaces": [{"layers": 2}], "strategies": ["darts"], "seeds": [0]}"#);
    let bad = write(&dir, "bad.json", r#"{"datasets": ["digits"], "spaces": [{"layers": 2}], "seeds": [0], "colour": 1}"#);
    let busy = dir.join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    let lock = densenas::internal::util::lock::FolderLock::acquire(&busy, "an experiment").unwrap();
    let a_file = write(&dir, "a-file", "");
    let cases: [(&Path, &Path, &[&str], &str); 7] = [
        (&dir.join("missing.json"), &dir.join("a"), &[], "missing.json: No such file"),
        (&bad, &dir.join("b"), &[], "colour"),
        (&good, &busy, &[], ": in use: another densenas process is running an experiment in it"),
        // Nothing listens on port 1: a clear error at once, not Ray's endless retries.
        (&good, &dir.join("c"), &["--address", "127.0.0.1:1"], "cannot reach the Ray cluster at 127.0.0.1:1"),
        (&good, &dir.join("d"), &["--max-retries", "-1"], "--max-retries must be at least 0"),
        (&good, &dir.join("e"), &["--address", "127.0.0.1:1", "--num-cpus", "2"], "does not go with a cluster address"),
        (&good, &a_file, &[], "File exists"),
    ];
    for (file, out, extra, expected) in cases {
        let o = python().args(["-m", "densenas.ray_experiment"]).arg(file).arg("--out").arg(out).args(extra).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && e.contains(expected), "{extra:?}: wanted {expected:?} in\n{e}");
        assert!(!e.contains("Traceback"), "{e}");
    }
    // The locked folder is left as it was: no unit run, no report.
    assert!(!busy.join("report.json").exists() && !busy.join("units").exists());
    drop(lock);
    std::fs::remove_dir_all(&dir).unwrap();
}
