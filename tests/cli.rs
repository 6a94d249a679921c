//! The `densenas` command line: a tiny search end to end, and clear errors.

mod common;

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
        "--retrain-epochs", "3", "--seed", "1", "--progress", "lines", "--out", dir_s,
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

#[test]
fn eval_reports_what_the_search_checked_and_refuses_bad_models() {
    let dir = std::env::temp_dir().join(format!("densenas-cli-eval-{}", std::process::id()));
    let dir_s = dir.to_str().unwrap();
    let (ok, stdout, stderr) = densenas(&[
        "search", "--layers", "3", "--width", "32", "--blocks", "3", "--phases", "2", "--epochs", "2",
        "--retrain-epochs", "5", "--quiet", "--out", dir_s,
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("ONNX Runtime on best.onnx"), "{stdout}");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert!(s["onnx"]["max_abs_diff"].as_f64().unwrap() < 1e-4);
    let model = dir.join("best.onnx");
    let (ok, stdout, stderr) = densenas(&["eval", "--model", model.to_str().unwrap(), "--data", "digits", "--json"]);
    assert!(ok, "{stderr}");
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["samples"], 359);
    assert_eq!(r["accuracy"], s["onnx"]["test_accuracy"]);
    let confusion = r["confusion"].as_array().unwrap();
    assert_eq!(confusion.len(), 10);
    let total: u64 = confusion.iter().flat_map(|row| row.as_array().unwrap()).map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, 359);
    // Human-readable form.
    let (ok, stdout, _) = densenas(&["eval", "--model", model.to_str().unwrap()]);
    assert!(ok && stdout.contains("confusion matrix") && stdout.contains("per-class accuracy"), "{stdout}");
    // A model whose input width does not match the data, and a file that is not ONNX.
    common::dataset_spec("mnist");
    let (ok, _, e) = densenas(&["eval", "--model", model.to_str().unwrap(), "--data", "mnist"]);
    assert!(!ok && e.contains("64 input features") && e.contains("784"), "{e}");
    let (ok, _, e) = densenas(&["eval", "--model", dir.join("summary.json").to_str().unwrap()]);
    assert!(!ok && e.contains("not an ONNX model"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_onnx_runtime_library_is_a_clear_error_and_a_search_skips_its_check() {
    let model = std::env::temp_dir().join(format!("densenas-cli-ort-{}.onnx", std::process::id()));
    std::fs::write(&model, b"placeholder").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_densenas"))
        .args(["eval", "--model", model.to_str().unwrap()])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    // The file is checked first; a real model then needs the runtime.
    assert!(!out.status.success() && e.contains("not an ONNX model"), "{e}");
    let dir = std::env::temp_dir().join(format!("densenas-cli-ort-run-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_densenas"))
        .args(["search", "--layers", "2", "--width", "8", "--blocks", "2", "--phases", "1", "--epochs", "1"])
        .args(["--retrain-epochs", "0", "--quiet", "--out", dir.to_str().unwrap()])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    // The search's work is not lost: it succeeds, says loudly that the check was
    // skipped and why, and the summary records it.
    assert!(out.status.success(), "{e}");
    assert!(e.contains("warning") && e.contains("not checked in ONNX Runtime"), "{e}");
    assert!(e.contains("/nonexistent/libonnxruntime.so") && e.contains("ORT_DYLIB_PATH"), "{e}");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["onnx"]["path"], "best.onnx");
    assert!(s["onnx"]["skipped"].as_str().unwrap().contains("/nonexistent/libonnxruntime.so"), "{s}");
    assert!(s["onnx"]["test_accuracy"].is_null());
    assert!(dir.join("best.onnx").exists() && dir.join("history.jsonl").exists());
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_file(&model).unwrap();
}

#[test]
fn ctrl_c_leaves_a_valid_readable_run_folder_marked_interrupted() {
    use std::io::{BufRead, BufReader};
    let dir = std::env::temp_dir().join(format!("densenas-cli-int-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_densenas"))
        .args(["search", "--layers", "4", "--width", "64", "--blocks", "4", "--phases", "50", "--epochs", "5"])
        .args(["--progress", "lines", "--out", dir.to_str().unwrap()])
        .env("OMP_NUM_THREADS", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // Wait until the second phase is under way, then press Ctrl-C.
    for line in lines.by_ref() {
        if line.unwrap().starts_with("phase 2 epoch   2") {
            break;
        }
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(!status.success(), "an interrupted search must exit non-zero");
    assert!(rest.iter().any(|l| l.contains("interrupted")), "{rest:?}");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["interrupted"], true);
    assert_eq!(s["best"]["retrained"], false);
    let phases = s["phases"].as_array().unwrap().len();
    assert!((2..50).contains(&phases), "{phases} phases recorded");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), phases * 4);
    let _: densenas::Dag = serde_json::from_str(&std::fs::read_to_string(dir.join("best.json")).unwrap()).unwrap();
    assert!(s["onnx"]["max_abs_diff"].as_f64().unwrap() < 1e-4);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// summary.json without its timings.
fn summary_without_timing(dir: &std::path::Path) -> serde_json::Value {
    let mut s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    s.as_object_mut().unwrap().remove("timing");
    s
}

#[test]
fn same_seed_same_summary_and_config_json_repeats_a_run() {
    let base = std::env::temp_dir().join(format!("densenas-cli-repeat-{}", std::process::id()));
    let args = |out: &std::path::Path| -> Vec<String> {
        [
            "search", "--layers", "3", "--width", "24", "--blocks", "4", "--phases", "3", "--epochs", "2",
            "--retrain-epochs", "3", "--seed", "7", "--lr", "0.03", "--grad-clip", "2", "--warmup-epochs", "1",
            "--quiet", "--out", out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, e) = densenas(&refs);
        assert!(ok, "{e}");
    };
    let (a, b, c) = (base.join("a"), base.join("b"), base.join("c"));
    run(args(&a));
    run(args(&b));
    assert_eq!(summary_without_timing(&a), summary_without_timing(&b));
    assert_eq!(std::fs::read(a.join("history.jsonl")).unwrap(), std::fs::read(b.join("history.jsonl")).unwrap());
    // The configuration file repeats the run exactly.
    let cfg = a.join("config.json");
    run(vec!["search".into(), "--config".into(), cfg.to_str().unwrap().into(), "--quiet".into(), "--out".into(), c.to_str().unwrap().into()]);
    assert_eq!(summary_without_timing(&a), summary_without_timing(&c));
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(config["session"]["weight_optimizer"]["lr"], 0.03);
    assert_eq!(config["session"]["grad_clip"], 2.0);
    // Another seed gives another search.
    let d = base.join("d");
    let mut other = args(&d);
    let i = other.iter().position(|s| s == "7").unwrap();
    other[i] = "8".into();
    run(other);
    assert_ne!(summary_without_timing(&a)["best"], summary_without_timing(&d)["best"]);
    // A bad configuration file is refused with its name.
    std::fs::write(base.join("bad.json"), r#"{"phases": 2, "colour": "red"}"#).unwrap();
    let (ok, _, e) = densenas(&["search", "--config", base.join("bad.json").to_str().unwrap()]);
    assert!(!ok && e.contains("bad.json") && e.contains("colour"), "{e}");
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn run_folder_has_the_plots() {
    let dir = std::env::temp_dir().join(format!("densenas-cli-plots-{}", std::process::id()));
    let (ok, _, e) = densenas(&[
        "search", "--layers", "4", "--width", "16", "--blocks", "3", "--phases", "2", "--epochs", "2",
        "--retrain-epochs", "0", "--quiet", "--out", dir.to_str().unwrap(),
    ]);
    assert!(ok, "{e}");
    let alpha: Vec<Vec<Vec<f64>>> = serde_json::from_str(&std::fs::read_to_string(dir.join("alpha.json")).unwrap()).unwrap();
    assert_eq!(alpha.len(), 2);
    assert!(alpha.iter().all(|phase| !phase.is_empty() && phase.iter().all(|a| a.len() == 3)));
    for (name, needle) in [
        ("alpha.svg", "<polyline"),
        ("accuracy_vs_metrics.svg", "disconnected_fraction"),
        ("density.svg", "0→1"),
        ("best_dag.svg", "best DAG"),
    ] {
        let text = std::fs::read_to_string(dir.join("plots").join(name)).unwrap();
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>") && text.contains(needle), "{name}");
    }
    // One polyline per block and phase in the alpha chart; one circle per history record
    // in each of the 9 metric panels.
    let alpha_svg = std::fs::read_to_string(dir.join("plots/alpha.svg")).unwrap();
    assert_eq!(alpha_svg.matches("<polyline").count(), 2 * 3);
    let scatter = std::fs::read_to_string(dir.join("plots/accuracy_vs_metrics.svg")).unwrap();
    assert_eq!(scatter.matches("<circle").count(), 9 * 2 * 3);
    // Its legend: one entry per phase, "phase N" with the colour of that phase's points.
    let attr = |tag: &str, name: &str| tag.split(&format!(" {name}=\"")).nth(1).map(|v| v[..v.find('"').unwrap()].to_string());
    let entries: Vec<(String, String)> = scatter
        .split("<g class=\"legend-entry\">")
        .skip(1)
        .map(|e| {
            let text = &e[..e.find("</text>").unwrap()];
            (attr(e, "fill").unwrap(), text[text.rfind('>').unwrap() + 1..].to_string())
        })
        .collect();
    assert_eq!(entries.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(), ["phase 1", "phase 2"], "{scatter}");
    let point_colours: std::collections::BTreeSet<String> =
        scatter.split("<circle").skip(1).map(|c| attr(c, "fill").unwrap()).collect();
    let legend_colours: std::collections::BTreeSet<String> = entries.iter().map(|e| e.0.clone()).collect();
    assert_eq!((legend_colours.len(), &legend_colours), (2, &point_colours));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A tiny search (seconds on one core) into `out`; `extra` options replace its own.
fn tiny(out: &std::path::Path, extra: &[&str]) -> (bool, String, String) {
    let own = [("--layers", "2"), ("--width", "8"), ("--blocks", "2"), ("--phases", "1"), ("--epochs", "1"), ("--retrain-epochs", "0")];
    let mut args = vec!["search", "--quiet", "--out", out.to_str().unwrap()];
    for (flag, value) in own.into_iter().filter(|(flag, _)| !extra.contains(flag)) {
        args.extend([flag, value]);
    }
    args.extend(extra);
    densenas(&args)
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("densenas-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_finished_run_is_replaced_only_with_overwrite_and_leaves_no_lock_file() {
    let root = temp_dir("overwrite");
    let run = root.join("run");
    let (ok, _, e) = tiny(&run, &[]);
    assert!(ok, "{e}");
    assert!(!run.join(".densenas.lock").exists(), "the lock file outlived a normal end");
    let summary = std::fs::read(run.join("summary.json")).unwrap();
    // A second fresh search into it is refused and changes nothing.
    let (ok, _, e) = tiny(&run, &["--seed", "7"]);
    assert!(!ok && e.contains("holds a finished run") && e.contains("--overwrite") && e.contains("another run folder"), "{e}");
    assert_eq!(std::fs::read(run.join("summary.json")).unwrap(), summary);
    assert!(!run.join(".densenas.lock").exists(), "the lock file outlived an error");
    // With --overwrite it replaces the run's files and keeps the others.
    std::fs::write(run.join("notes.txt"), b"mine").unwrap();
    let (ok, _, e) = tiny(&run, &["--seed", "7", "--overwrite"]);
    assert!(ok, "{e}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["seed"], 7);
    assert_eq!(std::fs::read(run.join("notes.txt")).unwrap(), b"mine");
    assert!(!run.join(".densenas.lock").exists());
    // An unfinished run keeps its own message, --overwrite or not.
    let (ok, _, e) = tiny(&run, &["--phases", "2", "--keep-checkpoints", "--overwrite"]);
    assert!(ok, "{e}");
    let s = std::fs::read_to_string(run.join("summary.json")).unwrap().replace("\"interrupted\": false", "\"interrupted\": true");
    std::fs::write(run.join("summary.json"), s).unwrap();
    let (ok, _, e) = tiny(&run, &["--overwrite"]);
    assert!(!ok && e.contains("unfinished search") && e.contains("--resume"), "{e}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn refused_input_leaves_no_folder_and_an_existing_one_untouched() {
    let root = temp_dir("refused");
    let run = root.join("run");
    for (extra, needle) in [
        (vec!["--width", "0"], "width: 0 is out of range"),
        (vec!["--data", "csv:/nonexistent/train.csv"], "/nonexistent/train.csv"),
        (vec!["--layers", "3", "--max-skip", "5"], "max_skip"),
    ] {
        let (ok, _, e) = tiny(&run, &extra);
        assert!(!ok && e.contains(needle), "{extra:?}: {e}");
        assert!(!run.exists(), "{extra:?} left {}", run.display());
    }
    // An existing folder (a finished run) stays as it was.
    let (ok, _, e) = tiny(&run, &[]);
    assert!(ok, "{e}");
    let listing = |dir: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        names.sort();
        names
    };
    let (before, config) = (listing(&run), std::fs::read(run.join("config.json")).unwrap());
    let (ok, _, e) = tiny(&run, &["--width", "0", "--overwrite"]);
    assert!(!ok && e.contains("width"), "{e}");
    assert_eq!(listing(&run), before);
    assert_eq!(std::fs::read(run.join("config.json")).unwrap(), config);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn negative_numbers_are_refused_by_range_naming_the_key() {
    for (args, needle) in [
        (vec!["search", "--width", "-5"], "invalid configuration: width: -5 is out of range: at least 1"),
        (vec!["search", "--retrain-epochs", "-1"], "invalid configuration: retrain.epochs: -1 is out of range: at least 0"),
        (vec!["search", "--min-edges", "-2"], "invalid configuration: min_edges: -2 is out of range: at least 0"),
        (vec!["search", "--seed", "-1"], "invalid configuration: session.seed: -1 is out of range"),
        (vec!["search", "--lr", "-0.5"], "lr: -0.5 is out of range"),
        (vec!["search", "--grad-clip", "-1"], "grad_clip: -1 is out of range"),
        (vec!["train", "--edges", "chain", "--layers", "3", "--width", "-5"], "invalid configuration: width: -5 is out of range: at least 1"),
        (vec!["bench", "--blocks", "4,-2"], "invalid configuration: blocks: -2 is out of range: at least 1"),
        (vec!["bench", "--steps", "-1"], "invalid configuration: steps: -1 is out of range: at least 1"),
        (vec!["experiment", "x.json", "--out", "/nonexistent/out", "--jobs", "-2"], "invalid configuration: jobs: -2 is out of range: at least 1"),
    ] {
        let (ok, _, e) = densenas(&args);
        assert!(!ok && e.contains(needle), "{args:?}: {e}");
        assert!(!e.contains("unexpected argument"), "{args:?}: {e}");
    }
}

#[test]
fn a_configuration_error_names_its_key_path_and_says_invalid_configuration_once() {
    let root = temp_dir("config-error");
    let file = root.join("config.json");
    std::fs::write(&file, r#"{"retrain": {"epochs": "two"}}"#).unwrap();
    let (ok, _, e) = densenas(&["search", "--config", file.to_str().unwrap(), "--out", root.join("run").to_str().unwrap()]);
    assert!(!ok, "{e}");
    assert!(e.contains(r#"retrain.epochs: invalid type: string "two", expected usize"#), "{e}");
    assert!(e.contains(file.to_str().unwrap()), "the file is not named: {e}");
    assert_eq!(e.matches("invalid configuration").count(), 1, "{e}");
    assert!(!root.join("run").exists());
    // A wrong value deeper down, and a malformed file.
    std::fs::write(&file, r#"{"session": {"weight_optimizer": {"lr": "fast"}}}"#).unwrap();
    let (_, _, e) = densenas(&["search", "--config", file.to_str().unwrap(), "--print-config"]);
    assert!(e.contains("session.weight_optimizer.lr: invalid type") && e.matches("invalid configuration").count() == 1, "{e}");
    std::fs::write(&file, "{").unwrap();
    let (_, _, e) = densenas(&["search", "--config", file.to_str().unwrap(), "--print-config"]);
    assert_eq!(e.matches("invalid configuration").count(), 1, "{e}");
    std::fs::remove_dir_all(&root).unwrap();
}
