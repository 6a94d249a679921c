//! The `densenas` command line: a tiny search end to end, and clear errors.

use std::process::Command;

fn densenas(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_densenas")).args(args).env("OMP_NUM_THREADS", "1").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn tiny_search_writes_a_run_folder_and_a_summary_table() {
    let dir = std::env::temp_dir().join(format!("densenas-cli-{}", std::process::id()));
    let dir_s = dir.to_str().unwrap();
    let (ok, stdout, stderr) = densenas(&[
        "search", "--layers", "3", "--width", "32", "--blocks", "3", "--phases", "2", "--epochs", "2",
        "--retrain-epochs", "3", "--seed", "1", "--out", dir_s,
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("best") && stdout.contains("chain") && stdout.contains("test acc"), "{stdout}");
    assert!(stderr.contains("phase 2 done"), "{stderr}");
    for f in ["summary.json", "config.json", "best.json", "history.jsonl", "density.json"] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 2 * 3);
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["space"]["blocks"], 3);
    assert_eq!(s["strategy"], "darts");
    assert!(s["best"]["test_accuracy"].as_f64().unwrap() > 0.5);
    std::fs::remove_dir_all(&dir).unwrap();

    // --quiet prints no progress.
    let (ok, _, stderr) = densenas(&[
        "search", "--layers", "2", "--width", "8", "--blocks", "2", "--phases", "1", "--epochs", "1",
        "--retrain-epochs", "0", "--quiet", "--out", dir_s,
    ]);
    assert!(ok && stderr.is_empty(), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_options_get_clear_errors() {
    let (ok, _, e) = densenas(&["search", "--layers", "0"]);
    assert!(!ok && e.contains("layers") && e.contains("1..=64"), "{e}");
    let (ok, _, e) = densenas(&["search", "--device", "cuda", "--retrain-epochs", "0"]);
    assert!(!ok && e.contains("cuda") && (e.contains("CUDA") || e.contains("no CUDA support")), "{e}");
    let (ok, _, e) = densenas(&["search", "--strategy", "evolution"]);
    assert!(!ok && e.contains("evolution") && e.contains("darts"), "{e}");
    let (ok, _, e) = densenas(&["search", "--data", "nowhere"]);
    assert!(!ok && e.contains("nowhere"), "{e}");
    let (ok, _, e) = densenas(&["search", "--layers", "3", "--blocks", "9", "--max-edges", "1"]);
    assert!(!ok && e.contains("holds only 4"), "{e}");
    let (ok, _, e) = densenas(&["search", "--val-fraction", "1.5"]);
    assert!(!ok && e.contains("val_fraction"), "{e}");
}
