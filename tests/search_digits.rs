//! A small whole search on the embedded digits: the history holds P x k records, the
//! retrained best and the chain baseline reach a real accuracy, and the run folder
//! holds what the README's run-folder table lists.

use densenas::search::{run_search, SearchConfig};
use densenas::data;
use densenas::io::run_folder;
use densenas::search::summary::OnnxCheck;

fn small_config() -> SearchConfig {
    let mut c = SearchConfig::default();
    c.space.layers = 3;
    c.space.width = 64;
    c.space.blocks = 4;
    c.phases = 3;
    c.epochs = 4;
    c.retrain.epochs = 20;
    c.session.seed = 3;
    c
}

#[test]
fn small_search_on_digits_reaches_real_accuracy_and_writes_the_run_folder() {
    let config = small_config();
    let data = data::load("digits").unwrap();
    assert_eq!((data.train.len(), data.test.len()), (1438, 359));
    let mut phases_seen = 0;
    let mut outcome = run_search(&config, &data, &mut |e| {
        if let densenas::search::Event::Phase(_) = e {
            phases_seen += 1
        }
    })
    .unwrap();
    assert_eq!(phases_seen, 3);
    assert_eq!(outcome.history.len(), 3 * 4);
    let s = &outcome.summary;
    assert_eq!((s.dataset.train + s.dataset.val, s.dataset.test), (1438, 359));
    assert!(s.best.test_accuracy >= 0.93, "retrained best: {}", s.best.test_accuracy);
    assert!(s.baseline.test_accuracy.unwrap() >= 0.93, "baseline: {:?}", s.baseline.test_accuracy);
    assert!(s.best.inherited_test_accuracy >= 0.85, "inherited: {}", s.best.inherited_test_accuracy);
    // The best is the history's top block.
    let top = outcome.history.iter().map(|r| r.val_accuracy).fold(0.0, f64::max);
    assert_eq!(s.best.val_accuracy, top);
    // The density moved between phases.
    assert_eq!(outcome.density.len(), 4);
    assert_ne!(outcome.density[0], outcome.density[3]);
    assert!(s.phases[2].density_entropy_bits < s.phases[0].density_entropy_bits + 1e-9);

    let dir = std::env::temp_dir().join(format!("densenas-test-run-{}", std::process::id()));
    let written = run_folder::write_run_folder(&dir, &config, &mut outcome, &data.test).unwrap();
    assert!(written.onnx_error.is_none(), "{:?}", written.onnx_error);
    // best.onnx is the retrained best, and ONNX Runtime agrees with the engine on it.
    let Some(OnnxCheck::Checked(onnx)) = outcome.summary.onnx.as_ref() else {
        panic!("the ONNX check did not run: {:?}", outcome.summary.onnx)
    };
    assert_eq!(onnx.path, "best.onnx");
    assert!(onnx.max_abs_diff < 1e-4, "{onnx:?}");
    assert!((onnx.test_accuracy - outcome.summary.best.test_accuracy).abs() <= 2.0 / 359.0, "{onnx:?}");
    assert!(dir.join("best.onnx").exists());
    let s = &outcome.summary;
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    for key in ["densenas_version", "strategy", "seed", "dataset", "space", "best", "baseline", "onnx", "timing"] {
        assert!(summary.get(key).is_some(), "summary.json lacks {key}");
    }
    assert_eq!(summary["best"]["edges"], serde_json::to_value(&s.best.edges).unwrap());
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 12);
    for line in history.lines() {
        let r: densenas::search::session::HistoryRecord = serde_json::from_str(line).unwrap();
        assert!(r.val_accuracy > 0.0);
    }
    let best: densenas::Dag = serde_json::from_str(&std::fs::read_to_string(dir.join("best.json")).unwrap()).unwrap();
    assert_eq!(best.edges(), &s.best.edges[..]);
    let config_back: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config_back["space"]["layers"], 3);
    assert!(config_back["git_commit"].is_string());
    std::fs::remove_dir_all(&dir).unwrap();
}
