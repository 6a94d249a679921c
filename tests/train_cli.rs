//! `densenas train`: the chain trained on the digits reaches a real accuracy and reports
//! parameters and FLOPs; a search's best.json retrains to exactly the search's own
//! retrained accuracy (the same code and random stream); bad input gets a clear error
//! and a non-zero exit.

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
    let (ok, _, err) = densenas(&[
        "search", "--layers", "3", "--width", "32", "--blocks", "3", "--phases", "1", "--epochs", "1",
        "--retrain-epochs", "4", "--seed", "5", "--quiet", "--out", dir_s,
    ]);
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
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
    std::fs::remove_dir_all(&dir).unwrap();
}
