//! `densenas train`: the chain trained on the digits reaches a real accuracy and reports
//! parameters and FLOPs; a search's best.json retrains to exactly the search's own
//! retrained accuracy (the same code and random stream), and the search's summary
//! gives the sizes of its data splits; `--out DIR` writes a best.onnx that ONNX Runtime
//! scores as the summary says, refuses a finished run unless `--overwrite`, and notes a
//! skipped ONNX Runtime check; bad input gets a clear error and a non-zero exit.

use std::process::Command;

use densenas::Dag;

fn densenas(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_densenas")).args(args).env("OMP_NUM_THREADS", "1").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn the_chain_trains_on_the_digits() {
    let (ok, out, err) = densenas(&[
        "train", "--data", "digits", "--edges", "chain", "--layers", "3", "--width", "64", "--epochs", "20", "--json",
        "--quiet",
    ]);
    assert!(ok, "{err}");
    assert!(err.is_empty(), "--quiet: {err}");
    let r = json(&out);
    let acc = r["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.9, "test accuracy {acc}");
    assert_eq!(r["dataset"]["test"], 359);
    assert_eq!(r["dag"]["edges"], serde_json::json!([[0, 1], [1, 2]]));
    let chain = Dag::chain(3);
    let space = densenas::Space::new(densenas::SpaceConfig::new(64, 10, 3, 64)).unwrap();
    assert_eq!(r["params"].as_u64().unwrap() as usize, chain.params(&space));
    assert_eq!(r["flops"].as_u64().unwrap() as usize, chain.flops(&space));
    assert_eq!(r["params"], 64 * 64 + 64 + 2 * (64 * 64 + 64) + 64 * 10 + 10);

    // The same DAG written as edges gives the same network, and the text report says
    // what it found.
    let (ok, out, err) = densenas(&["train", "--edges", "0-1, 1-2", "--layers", "3", "--width", "64", "--epochs", "20"]);
    assert!(ok, "{err}");
    assert!(err.contains("epoch   20/20"), "{err}");
    let pct = format!("{:.2}%", 100.0 * acc);
    assert!(out.contains("test accuracy") && out.contains(&pct), "{out}");
    assert!(out.contains("parameters") && out.contains("FLOPs"), "{out}");
}

#[test]
fn a_search_best_json_retrains_to_the_search_retrained_accuracy() {
    let dir = std::env::temp_dir().join(format!("densenas-train-cli-{}", std::process::id()));
    let dir_s = dir.to_str().unwrap();
    let (ok, out, err) = densenas(&[
        "search", "--layers", "3", "--width", "32", "--blocks", "3", "--phases", "1", "--epochs", "1",
        "--retrain-epochs", "4", "--seed", "5", "--quiet", "--out", dir_s,
    ]);
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    // The data's sizes: the training file (digits: 1,438 of 1,797 beside the fixed 20%
    // test split) is the weight split plus the validation split; `train` and `val` are
    // their older names.
    let n = |key: &str| summary["dataset"][key].as_u64().unwrap_or_else(|| panic!("dataset.{key}: {summary}"));
    assert_eq!((n("weight") + n("validation"), n("train_file"), n("test")), (1438, 1438, 359));
    assert_eq!((n("weight"), n("validation")), (n("train"), n("val")));
    let line = format!("1438 training samples: {} weight + {} validation; 359 test", n("weight"), n("validation"));
    assert!(out.contains(&line), "{out}");
    let best = dir.join("best.json");
    let (ok, out, err) = densenas(&[
        "train", "--dag", best.to_str().unwrap(), "--width", "32", "--epochs", "4", "--seed", "5", "--json", "--quiet",
    ]);
    assert!(ok, "{err}");
    let r = json(&out);
    assert_eq!(r["dag"]["edges"], summary["best"]["edges"]);
    assert_eq!(r["test_accuracy"], summary["best"]["test_accuracy"]);
    assert_eq!(r["params"], summary["best"]["params"]);
    assert_eq!(r["flops"], summary["best"]["flops"]);
    // --layers must agree with the file.
    let (ok, _, err) = densenas(&["train", "--dag", best.to_str().unwrap(), "--layers", "4", "--epochs", "1"]);
    assert!(!ok && err.contains("--layers 4") && err.contains("best.json"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_gets_clear_errors() {
    let dir = std::env::temp_dir().join(format!("densenas-train-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("no-such-dag.json");
    let (ok, _, err) = densenas(&["train", "--dag", missing.to_str().unwrap()]);
    assert!(!ok && err.contains("no-such-dag.json") && err.contains("No such file"), "{err}");
    let garbled = dir.join("garbled.json");
    std::fs::write(&garbled, r#"{"layers": 3, "edges": [[2, 1]]}"#).unwrap();
    let (ok, _, err) = densenas(&["train", "--dag", garbled.to_str().unwrap()]);
    assert!(!ok && err.contains("garbled.json") && err.contains("(2, 1)"), "{err}");
    // Edges outside the space: past the last layer, or longer than --max-skip.
    let (ok, _, err) = densenas(&["train", "--edges", "0-1,0-3", "--layers", "3", "--epochs", "1"]);
    assert!(!ok && err.contains("(0, 3)") && err.contains("0..3"), "{err}");
    let (ok, _, err) = densenas(&["train", "--edges", "0-2", "--layers", "3", "--max-skip", "1", "--epochs", "1"]);
    assert!(!ok && err.contains("(0, 2)") && err.contains("max_skip = 1"), "{err}");
    let (ok, _, err) = densenas(&["train", "--edges", "0-1,1_2", "--layers", "3"]);
    assert!(!ok && err.contains("\"1_2\" is not an edge"), "{err}");
    // Neither --dag nor --edges; --edges without --layers; a bad dataset spec.
    let (ok, _, err) = densenas(&["train"]);
    assert!(!ok && err.contains("--dag") && err.contains("--edges"), "{err}");
    let (ok, _, err) = densenas(&["train", "--edges", "chain"]);
    assert!(!ok && err.contains("--layers"), "{err}");
    let (ok, _, err) = densenas(&["train", "--edges", "chain", "--layers", "2", "--data", "idx:/nowhere"]);
    assert!(!ok && err.contains("/nowhere"), "{err}");
    let (ok, _, err) = densenas(&["train", "--edges", "chain", "--layers", "2", "--batch-size", "0"]);
    assert!(!ok && err.contains("batch_size"), "{err}");
    // --out naming a file, not a folder: refused, the file left as it was.
    let (ok, _, err) = densenas(&["train", "--edges", "chain", "--layers", "2", "--epochs", "1", "--out", garbled.to_str().unwrap()]);
    assert!(!ok && err.contains("garbled.json"), "{err}");
    assert_eq!(std::fs::read_to_string(&garbled).unwrap(), r#"{"layers": 3, "edges": [[2, 1]]}"#);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    json(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// `densenas train` of the chain (3 layers of width 32, 8 epochs on the digits) into
/// `dir`, with `extra` arguments.
fn train_into(dir: &std::path::Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["train", "--edges", "chain", "--layers", "3", "--width", "32", "--epochs", "8", "--quiet"];
    args.extend(["--out", dir.to_str().unwrap()]);
    args.extend(extra);
    densenas(&args)
}

#[test]
fn train_out_writes_a_network_onnx_runtime_scores_as_the_summary_says() {
    let dir = std::env::temp_dir().join(format!("densenas-train-cli-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (ok, out, err) = train_into(&dir, &["--json", "--seed", "3"]);
    assert!(ok, "{err}");
    assert!(err.is_empty(), "--quiet, ONNX Runtime present: {err}");
    let printed = json(&out);
    let summary = read_json(&dir.join("summary.json"));
    // The summary: what was trained, how, and how well.
    assert_eq!(summary["densenas_version"], densenas::VERSION);
    assert_eq!(summary["dag"], serde_json::json!({"layers": 3, "edges": [[0, 1], [1, 2]]}));
    assert_eq!(summary["metrics"], printed["metrics"]);
    for key in ["params", "flops", "test_accuracy", "test_loss", "train_accuracy"] {
        assert_eq!(summary[key], printed[key], "{key}");
    }
    assert_eq!((summary["seed"].as_u64(), summary["train"]["epochs"].as_u64()), (Some(3), Some(8)));
    assert_eq!(summary["train"]["batch_size"], printed["train"]["batch_size"]);
    assert_eq!((summary["dataset"]["train"].as_u64(), summary["dataset"]["test"].as_u64()), (Some(1438), Some(359)));
    let acc = summary["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.8, "test accuracy {acc}");
    // The summary's ONNX Runtime check, and `densenas eval` on best.onnx, get the
    // engine's accuracy.
    let onnx = &summary["onnx"];
    assert_eq!((onnx["path"].as_str(), onnx["test_accuracy"].as_f64()), (Some("best.onnx"), Some(acc)), "{onnx}");
    assert_eq!(onnx["prediction_mismatches"], 0);
    let model = dir.join("best.onnx");
    let (ok, out, err) = densenas(&["eval", "--model", model.to_str().unwrap(), "--data", "digits", "--json"]);
    assert!(ok, "{err}");
    let eval = json(&out);
    assert_eq!((eval["accuracy"].as_f64(), eval["samples"].as_u64()), (Some(acc), Some(359)));

    // A finished run is refused, before any training, and left as it was.
    let before = (std::fs::read(&model).unwrap(), std::fs::read(dir.join("summary.json")).unwrap());
    let (ok, _, err) = train_into(&dir, &["--seed", "4"]);
    assert!(!ok && err.contains("summary.json") && err.contains("--overwrite") && err.contains("another folder"), "{err}");
    assert!(!err.contains("epoch"), "trained before refusing: {err}");
    assert_eq!((std::fs::read(&model).unwrap(), std::fs::read(dir.join("summary.json")).unwrap()), before);
    // --overwrite replaces it; the text report says where it went.
    let (ok, out, err) = train_into(&dir, &["--seed", "4", "--overwrite"]);
    assert!(ok, "{err}");
    assert!(out.contains("written") && out.contains(dir.to_str().unwrap()) && out.contains("ONNX Runtime"), "{out}");
    let replaced = read_json(&dir.join("summary.json"));
    assert_eq!(replaced["seed"], 4);
    assert_ne!(std::fs::read(&model).unwrap(), before.0);
    // --overwrite means nothing without --out.
    let (ok, _, err) = densenas(&["train", "--edges", "chain", "--layers", "3", "--overwrite"]);
    assert!(!ok && err.contains("--out"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn train_out_without_onnx_runtime_writes_the_network_and_says_once_why_it_is_unchecked() {
    let dir = std::env::temp_dir().join(format!("densenas-train-cli-no-ort-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_densenas"))
        .args(["train", "--edges", "chain", "--layers", "2", "--width", "16", "--epochs", "2", "--quiet", "--out"])
        .arg(&dir)
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let summary = read_json(&dir.join("summary.json"));
    let reason = summary["onnx"]["skipped"].as_str().unwrap_or_else(|| panic!("{summary}"));
    assert!(reason.contains("ORT_DYLIB_PATH") && reason.contains("or newer"), "{reason}");
    let line = format!("densenas: warning: best.onnx is exported but was not checked in ONNX Runtime: {reason}");
    assert_eq!(err.lines().collect::<Vec<_>>(), [line.as_str()]);
    assert!(dir.join("best.onnx").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes `text` into a fresh file of the test's temporary folder.
fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("densenas-train-cli-pop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn several_dags_and_seeds_train_as_one_population_each_as_if_alone() {
    let dags = r#"[{"layers": 3, "edges": [[0, 1], [1, 2]]}, {"layers": 3, "edges": [[0, 1], [0, 2], [1, 2]]}]"#;
    let list = temp_file("dags.json", dags);
    let common = ["--width", "32", "--epochs", "3", "--json", "--quiet"];
    let mut args = vec!["train", "--dags", list.to_str().unwrap(), "--seeds", "4-5"];
    args.extend(common);
    let (ok, out, err) = densenas(&args);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(json).collect();
    assert_eq!(lines.len(), 4, "{out}");
    let items: Vec<serde_json::Value> = serde_json::from_str(dags).unwrap();
    for (m, line) in lines.iter().enumerate() {
        // DAG-major: member m is DAG m / 2 with seed 4 + m % 2.
        let (item, seed) = (&items[m / 2], 4 + m % 2);
        assert_eq!((line["member"].as_u64(), line["train"]["seed"].as_u64()), (Some(m as u64), Some(seed as u64)));
        assert_eq!(line["dag"]["edges"], item["edges"]);
        // The same DAG and seed trained alone: the same bits.
        let one = temp_file(&format!("dag{m}.json"), &item.to_string());
        let seed = seed.to_string();
        let mut args = vec!["train", "--dag", one.to_str().unwrap(), "--seed", seed.as_str()];
        args.extend(common);
        let (ok, out, err) = densenas(&args);
        assert!(ok, "{err}");
        let alone = json(&out);
        assert!(alone.get("member").is_none(), "one DAG, one seed: today's single object");
        for key in ["test_accuracy", "test_loss", "train_accuracy", "params", "flops"] {
            assert_eq!(line[key], alone[key], "member {m}: {key}");
        }
    }
    // Two seeds with one DAG give two networks that differ.
    assert_ne!(lines[0]["test_loss"], lines[1]["test_loss"]);
    // A comma list of seeds works too, and the text report has one line per member.
    let (ok, out, err) = densenas(&["train", "--edges", "chain", "--layers", "2", "--width", "16", "--epochs", "1", "--seeds", "1,7", "--quiet"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("member")).count(), 2, "{out}");
    assert!(out.contains("seed    7") && out.contains("for 2 networks"), "{out}");
}

#[test]
fn population_flags_refuse_bad_input() {
    let run = |extra: &[&str]| {
        let mut args = vec!["train", "--edges", "chain", "--layers", "2", "--width", "16", "--epochs", "1", "--quiet"];
        args.extend(extra);
        densenas(&args)
    };
    for bad in ["3-1", "x", "1,,2", "0-99999999"] {
        let (ok, _, err) = run(&["--seeds", bad]);
        assert!(!ok && err.contains("seeds"), "{bad}: {err}");
    }
    let (ok, _, err) = run(&["--seeds", "1-2", "--seed", "3"]);
    assert!(!ok && err.contains("--seed"), "{err}");
    let dir = std::env::temp_dir().join(format!("densenas-train-cli-pop-out-{}", std::process::id()));
    let (ok, _, err) = run(&["--seeds", "1-2", "--out", dir.to_str().unwrap()]);
    assert!(!ok && err.contains("out") && err.contains("one DAG and one seed"), "{err}");
    assert!(!dir.exists(), "refused before writing");
    // Lists: not a list, empty, DAGs of different depths, an edge outside the space.
    let cases = [
        ("notalist.json", r#"{"layers": 2, "edges": []}"#, "not a JSON list"),
        ("empty.json", "[]", "lists no DAG"),
        ("depths.json", r#"[{"layers": 2, "edges": []}, {"layers": 3, "edges": []}]"#, "item 1 has 3 layers"),
        ("backward.json", r#"[{"layers": 2, "edges": []}, {"layers": 2, "edges": [[0, 2]]}]"#, "item 1 is not a DAG"),
    ];
    for (name, text, says) in cases {
        let path = temp_file(name, text);
        let (ok, _, err) = densenas(&["train", "--dags", path.to_str().unwrap(), "--epochs", "1", "--quiet"]);
        assert!(!ok && err.contains(says) && err.contains(name), "{name}: {err}");
    }
    // A skip longer than --max-skip: the DAG is named by its place in the list.
    let path = temp_file("skip.json", r#"[{"layers": 3, "edges": [[0, 1]]}, {"layers": 3, "edges": [[0, 2]]}]"#);
    let (ok, _, err) = densenas(&["train", "--dags", path.to_str().unwrap(), "--max-skip", "1", "--epochs", "1"]);
    assert!(!ok && err.contains("DAG 1") && err.contains("(0, 2)") && err.contains("max_skip = 1"), "{err}");
}
