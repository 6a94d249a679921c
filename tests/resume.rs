//! Checkpoints and resume through the command line (docs/reliability.md): a search
//! killed with SIGKILL during phase 3, or stopped with Ctrl-C in phase 2 or in
//! retraining, and resumed with `--resume DIR` ends with the same `summary.json`
//! (apart from `timing` and `resumed`), `history.jsonl` and `best.onnx`, byte for
//! byte, as an uninterrupted run; bad checkpoints get clear errors.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

mod common;

fn exe() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_densenas"));
    cmd.env("OMP_NUM_THREADS", "1");
    cmd
}

/// The search options of these tests: phases long enough that a signal sent at the
/// start of phase 3 (or of retraining) lands before it ends.
fn search_args(strategy: &str, out: &Path) -> Vec<String> {
    let args = format!(
        "search --layers 3 --width 32 --blocks 3 --phases 4 --epochs 40 --retrain-epochs 60 --seed 3 \
         --strategy {strategy} --threads 1 --out {}",
        out.display()
    );
    args.split_whitespace().map(String::from).collect()
}

fn run_ok(args: &[String]) -> String {
    let out = exe().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "densenas {args:?} failed:\n{stderr}");
    stderr
}

/// Starts a search printing progress lines, and sends `signal` when a line starting
/// with `trigger` appears; returns the child once it has exited, with what it printed.
fn interrupt(args: &[String], trigger: &str, signals: &[i32]) -> (std::process::ExitStatus, String) {
    let mut child: Child = exe()
        .args(args)
        .args(["--progress", "lines"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut printed = String::new();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with(trigger) {
            for (i, &s) in signals.iter().enumerate() {
                if i > 0 {
                    wait_until_sigint_uncaught(child.id());
                }
                // SAFETY: signalling our own child process.
                unsafe { libc::kill(child.id() as i32, s) };
            }
            break;
        }
    }
    for line in lines {
        printed.push_str(&line.unwrap());
        printed.push('\n');
    }
    (child.wait().unwrap(), printed)
}

/// Waits until process `pid` no longer catches SIGINT (its handler of the first
/// Ctrl-C restores the default action), so that a second SIGINT is not merged with the
/// first one still pending.
fn wait_until_sigint_uncaught(pid: u32) {
    let start = std::time::Instant::now();
    while start.elapsed().as_secs() < 5 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0);
        if caught & (1 << (libc::SIGINT - 1)) == 0 {
            return;
        }
        std::thread::yield_now();
    }
    panic!("the first Ctrl-C was not handled within 5 s");
}

fn summary_without_timing(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    let mut s: serde_json::Value = serde_json::from_str(&text).unwrap();
    let map = s.as_object_mut().unwrap();
    map.remove("timing").expect("summary has timing");
    map.remove("resumed").expect("summary has a resumed key");
    s
}

/// The run folders `a` and `b` hold the same results, byte for byte.
fn assert_same_run(a: &Path, b: &Path) {
    assert_eq!(summary_without_timing(a), summary_without_timing(b), "summary.json differs");
    // The seconds at each phase's end run on over the resume, one per phase.
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(b.join("summary.json")).unwrap()).unwrap();
    let ends: Vec<f64> = s["timing"]["phase_end_seconds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(ends.len(), s["phases"].as_array().unwrap().len(), "{ends:?}");
    assert!(ends.windows(2).all(|w| w[0] <= w[1]) && ends[0] > 0.0, "{ends:?}");
    assert!(*ends.last().unwrap() <= s["timing"]["search_seconds"].as_f64().unwrap() + 1e-9, "{ends:?}");
    for f in ["history.jsonl", "best.onnx", "best.json", "density.json", "alpha.json"] {
        let (x, y) = (std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap());
        assert!(x == y, "{f} differs between {} and {}", a.display(), b.display());
    }
}

fn latest(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("checkpoints/latest")).unwrap().trim().to_string()
}

fn resumed_from(dir: &Path) -> u64 {
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    s["resumed"]["from_phase"].as_u64().unwrap()
}

fn reference(strategy: &str, root: &Path) -> PathBuf {
    let dir = root.join(format!("{strategy}-uninterrupted"));
    let stderr = run_ok(&[search_args(strategy, &dir), vec!["--progress".into(), "lines".into()]].concat());
    // --progress lines prints per-epoch phase and retraining lines.
    assert!(stderr.contains("phase 4 epoch  40/40") && stderr.contains("retrain"), "{stderr}");
    assert!(!dir.join("checkpoints").exists(), "a finished run removes its checkpoints");
    dir
}

#[test]
fn a_search_killed_in_phase_3_resumes_to_the_uninterrupted_result() {
    let root = common::temp_dir("resume-kill");
    for strategy in ["darts", "gdas"] {
        let expected = reference(strategy, &root);
        let dir = root.join(format!("{strategy}-killed"));
        let (status, _) = interrupt(&search_args(strategy, &dir), "phase 3 epoch", &[libc::SIGKILL]);
        assert!(!status.success());
        assert_eq!(latest(&dir), "phase-2", "the kill did not land in phase 3");
        assert!(!dir.join("summary.json").exists() && dir.join("config.json").exists());
        let stderr = run_ok(&["search".into(), "--resume".into(), dir.display().to_string(), "--quiet".into()]);
        assert!(stderr.is_empty(), "{stderr}");
        assert_eq!(resumed_from(&dir), 2);
        assert_same_run(&expected, &dir);
        assert!(!dir.join("checkpoints").exists(), "a finished resumed run removes its checkpoints");
    }
}

#[test]
fn ctrl_c_in_phase_2_or_in_retraining_resumes_to_the_uninterrupted_result() {
    let root = common::temp_dir("resume-int");
    let expected = reference("darts", &root);

    let dir = root.join("ctrl-c-phase-2");
    let (status, printed) = interrupt(&search_args("darts", &dir), "phase 2 epoch", &[libc::SIGINT]);
    assert_eq!(status.code(), Some(1), "{printed}");
    assert!(printed.contains("interrupted") && printed.contains("--resume"), "{printed}");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["interrupted"], true);
    assert_eq!(latest(&dir), "phase-1", "the stopped phase must not be checkpointed");
    run_ok(&["search".into(), "--resume".into(), dir.display().to_string(), "--quiet".into()]);
    assert_eq!(resumed_from(&dir), 1);
    assert_same_run(&expected, &dir);

    // Ctrl-C in retraining ends retraining: the inherited snapshot is deployed.
    let dir = root.join("ctrl-c-retraining");
    let (status, printed) = interrupt(&search_args("darts", &dir), "retrain best", &[libc::SIGINT]);
    assert_eq!(status.code(), Some(1), "{printed}");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["interrupted"], true);
    assert_eq!(s["best"]["retrained"], false);
    assert!(s["baseline"]["test_accuracy"].is_null());
    assert_eq!(s["best"]["test_accuracy"], s["best"]["inherited_test_accuracy"]);
    assert_eq!(s["onnx"]["test_accuracy"], s["best"]["inherited_test_accuracy"], "best.onnx is not the snapshot");
    assert_eq!(s["phases"].as_array().unwrap().len(), 4);
    assert_eq!(latest(&dir), "phase-4");
    run_ok(&["search".into(), "--resume".into(), dir.display().to_string(), "--quiet".into()]);
    assert_eq!(resumed_from(&dir), 4);
    assert_same_run(&expected, &dir);
}

#[test]
fn a_second_ctrl_c_ends_the_process_at_once() {
    use std::os::unix::process::ExitStatusExt;
    let root = common::temp_dir("resume-twice");
    let dir = root.join("run");
    let (status, printed) = interrupt(&search_args("darts", &dir), "retrain best", &[libc::SIGINT, libc::SIGINT]);
    assert_eq!(status.signal(), Some(libc::SIGINT), "{printed}");
}

#[test]
fn bad_checkpoints_get_clear_errors() {
    let root = common::temp_dir("resume-bad");
    let fail = |args: &[String]| {
        let out = exe().args(args).output().unwrap();
        assert!(!out.status.success(), "densenas {args:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let resume = |dir: &Path| vec!["search".to_string(), "--resume".into(), dir.display().to_string(), "--quiet".into()];

    // Missing: no such folder; a folder without checkpoints.
    let e = fail(&resume(&root.join("nowhere")));
    assert!(e.contains("nowhere") && e.contains("not a run folder"), "{e}");
    let dir = root.join("kept");
    let args: Vec<String> = format!(
        "search --layers 3 --width 32 --blocks 3 --phases 2 --epochs 2 --retrain-epochs 0 --seed 3 \
         --keep-checkpoints --quiet --out {}",
        dir.display()
    )
    .split_whitespace()
    .map(String::from)
    .collect();
    run_ok(&args);
    assert_eq!(latest(&dir), "phase-2", "--keep-checkpoints keeps them");
    // A finished run has nothing to resume.
    let e = fail(&resume(&dir));
    assert!(e.contains("has finished") && e.contains("nothing to resume"), "{e}");
    std::fs::remove_file(dir.join("summary.json")).unwrap();
    let pristine = root.join("pristine");
    copy_dir(&dir, &pristine);

    // Options beside --resume are refused: the configuration is the checkpoint's.
    let e = fail(&[resume(&dir), vec!["--layers".into(), "4".into()]].concat());
    assert!(e.contains("--resume") && e.contains("--layers"), "{e}");

    // Another configuration: the run folder's config.json differs from the checkpoint's.
    let config = dir.join("config.json");
    let text = std::fs::read_to_string(&config).unwrap().replace("\"width\": 32", "\"width\": 48");
    std::fs::write(&config, text).unwrap();
    let e = fail(&resume(&dir));
    assert!(e.contains("another configuration") && e.contains("space.width") && e.contains("32"), "{e}");

    // Another version.
    let dir = fresh_copy(&pristine, &root.join("version"));
    let manifest = dir.join("checkpoints/phase-2/manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(env!("CARGO_PKG_VERSION"), "0.0.1");
    std::fs::write(&manifest, text).unwrap();
    let e = fail(&resume(&dir));
    assert!(e.contains("densenas 0.0.1") && e.contains(env!("CARGO_PKG_VERSION")), "{e}");

    // Truncated: the session file cut short.
    let dir = fresh_copy(&pristine, &root.join("truncated"));
    let file = dir.join("checkpoints/phase-2/session.safetensors");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let e = fail(&resume(&dir));
    assert!(e.contains("session.safetensors") && e.contains("truncated"), "{e}");

    // Damaged: one byte changed.
    let dir = fresh_copy(&pristine, &root.join("damaged"));
    let file = dir.join("checkpoints/phase-2/search.json");
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let e = fail(&resume(&dir));
    assert!(e.contains("search.json") && e.contains("SHA-256"), "{e}");

    // The latest pointer names a missing checkpoint.
    let dir = fresh_copy(&pristine, &root.join("dangling"));
    std::fs::remove_dir_all(dir.join("checkpoints/phase-2")).unwrap();
    let e = fail(&resume(&dir));
    assert!(e.contains("phase-2") && e.contains("manifest.json is missing"), "{e}");

    // A fresh search into a folder that holds an unfinished one is refused.
    let dir = fresh_copy(&pristine, &root.join("occupied"));
    let e = fail(&search_args("darts", &dir));
    assert!(e.contains("unfinished search") && e.contains("--resume"), "{e}");
    // The pristine copy still resumes.
    run_ok(&resume(&pristine));
    assert_eq!(resumed_from(&pristine), 2);
}

fn fresh_copy(from: &Path, to: &Path) -> PathBuf {
    copy_dir(from, to);
    to.to_path_buf()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn a_typed_search_stopped_in_phase_2_resumes_to_the_uninterrupted_result() {
    let root = common::temp_dir("resume-typed");
    let typed = |dir: &Path| {
        let mut args = search_args("gdas", dir);
        args.extend(["--shape", "2,4,4", "--stem", "conv", "--ops", "dense,conv3x3,maxpool3x3,identity"].map(String::from));
        args
    };
    let expected = root.join("uninterrupted");
    run_ok(&typed(&expected));
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(expected.join("summary.json")).unwrap()).unwrap();
    assert!(s["baseline_cnn"]["test_accuracy"].as_f64().unwrap() > 0.5, "{s}");
    let dir = root.join("stopped");
    let (status, printed) = interrupt(&typed(&dir), "phase 2 epoch", &[libc::SIGINT]);
    assert_eq!(status.code(), Some(1), "{printed}");
    assert_eq!(latest(&dir), "phase-1");
    run_ok(&["search".into(), "--resume".into(), dir.display().to_string(), "--quiet".into()]);
    assert_eq!(resumed_from(&dir), 1);
    assert_same_run(&expected, &dir);
}
