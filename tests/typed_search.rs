//! Searches in a typed space (ops on edges, convolutional stem) on the digits through
//! the command line, with every strategy: the found network's ops come from the space,
//! the plain MLP and the plain CNN are retrained beside it, ONNX Runtime agrees with the
//! engine, and `densenas train --dag best.json` rebuilds the network from the file's
//! keys and repeats its retrained accuracy.

use std::path::Path;
use std::process::Command;

mod common;

fn densenas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_densenas"));
    c.env("OMP_NUM_THREADS", "1");
    c
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const OPS: [&str; 7] = ["dense", "conv3x3", "conv5x5", "local3x3", "avgpool3x3", "maxpool3x3", "identity"];

#[test]
fn every_strategy_searches_a_typed_space_and_deploys_what_it_found() {
    let root = common::temp_dir("typed-search");
    for strategy in ["darts", "darts2", "snas", "gdas", "proxyless", "drnas", "random"] {
        let dir = root.join(strategy);
        let out = densenas()
            .args(["search", "--layers", "4", "--width", "32", "--blocks", "4", "--phases", "2", "--epochs", "2"])
            .args(["--retrain-epochs", "4", "--seed", "1", "--strategy", strategy, "--quiet"])
            .args(["--shape", "2,4,4", "--stem", "conv", "--ops", &OPS.join(",")])
            .arg("--out")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{strategy}: {}", String::from_utf8_lossy(&out.stderr));
        let s = json(&dir.join("summary.json"));
        assert_eq!(s["space"]["ops"].as_array().unwrap().len(), 7, "{strategy}");
        assert_eq!(s["space"]["stem"], "conv");
        let best = &s["best"];
        let (edges, ops) = (best["edges"].as_array().unwrap(), best["ops"].as_array().cloned().unwrap_or_default());
        assert!(ops.is_empty() || ops.len() == edges.len(), "{strategy}: ops parallel to edges");
        assert!(ops.iter().all(|o| OPS.contains(&o.as_str().unwrap())));
        // The digits reach well above chance (10%) with every retrained network.
        for acc in [&best["test_accuracy"], &s["baseline"]["test_accuracy"], &s["baseline_cnn"]["test_accuracy"]] {
            assert!(acc.as_f64().unwrap() > 0.6, "{strategy}: {acc} in {s}");
        }
        assert_eq!(s["baseline_cnn"]["ops"], serde_json::json!(["conv3x3", "conv3x3", "conv3x3"]));
        let onnx = &s["onnx"];
        assert!(onnx["max_abs_diff"].as_f64().unwrap() < 1e-4, "{strategy}: {onnx}");
        assert_eq!(onnx["test_accuracy"], best["test_accuracy"]);
        // best.json carries the map keys, so `train --dag` rebuilds the same network.
        let b = json(&dir.join("best.json"));
        assert_eq!((b["shape"].clone(), b["stem"].clone()), (serde_json::json!([2, 4, 4]), serde_json::json!("conv")));
        if strategy == "darts" {
            let t = densenas()
                .args(["train", "--width", "32", "--epochs", "4", "--seed", "1", "--json", "--quiet", "--dag"])
                .arg(dir.join("best.json"))
                .output()
                .unwrap();
            assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
            let r: serde_json::Value = serde_json::from_slice(&t.stdout).unwrap();
            assert_eq!(r["test_accuracy"], best["test_accuracy"], "train --dag best.json repeats the retraining");
            assert_eq!(r["params"], best["params"]);
        }
    }
}
