//! libtorch's process-wide numerics as session options: `deterministic` turns
//! libtorch's deterministic algorithms on and off (the CPU results stay the same bits:
//! every operation the engine uses has a deterministic implementation there),
//! `precision: tf32` is refused on the CPU and leaves the settings as they were, and
//! on CUDA (`DENSENAS_TEST_DEVICE=cuda`) switches TF32 matrix products. Neither key is
//! written when it has its default, so the ids of experiment units defined before they
//! existed stay the same. One test function: the settings are global to the process.

mod common;

use std::process::Command;

use tch::Tensor;

use densenas::data::{self, SplitTensors};
use densenas::model::device::{cuda_tf32, deterministic_algorithms, Precision};
use densenas::search::SearchConfig;
use densenas::{Normalization, Session, SessionOptions, Space, SpaceConfig, StrategyKind};

fn digits() -> (Space, SplitTensors, Normalization) {
    let splits = data::load("digits").unwrap();
    let mut c = SpaceConfig::new(64, 10, 4, 16);
    c.blocks = 4;
    let space = Space::new(c).unwrap();
    let norm = Normalization::from_data(&splits.train.x, 64).unwrap();
    (space, SplitTensors::new(&splits.train, common::test_device()).unwrap(), norm)
}

/// A few weight and architecture steps and a phase end; the fingerprint.
fn run(options: SessionOptions) -> common::Trace {
    let (space, w, norm) = digits();
    let mut s = Session::new(&space, options.clone(), norm).unwrap();
    assert_eq!(deterministic_algorithms(), options.deterministic, "the session did not set deterministic algorithms");
    let mut losses = Vec::new();
    for _ in 0..3 {
        let order = s.shuffled(w.len() as usize);
        let (x, y) = w.rows(&Tensor::from_slice(&order[..32]).to_device(w.x.device())).unwrap();
        losses.push(s.step_weights(&x, &y).unwrap());
        losses.push(s.step_architecture(&x, &y).unwrap());
    }
    s.end_phase(&w.x, &w.y).unwrap();
    common::Trace::of(&s, losses)
}

#[test]
fn deterministic_and_tf32_are_session_options_with_process_wide_effect() {
    tch::set_num_threads(1);
    let device = common::test_device_name();
    let cuda = device != "cpu";

    // Defaults are not written (unit ids of older definitions stay the same).
    let json = serde_json::to_string(&SearchConfig::default()).unwrap();
    assert!(!json.contains("deterministic"), "{json}");
    let o = SessionOptions::from_json(r#"{"deterministic": true, "precision": "float64"}"#).unwrap();
    assert!(o.deterministic && o.precision == Precision::Float64);
    // TF32 is for CUDA: refused on the CPU by the options themselves, as a session
    // (and the C ABI) refuses it.
    let e = SessionOptions::from_json(r#"{"precision": "tf32"}"#).unwrap_err().to_string();
    assert!(e.contains("precision") && e.contains("tf32 is a CUDA"), "{e}");
    assert!(serde_json::to_string(&o).unwrap().contains(r#""deterministic":true"#));
    let e = SessionOptions::from_json(r#"{"precision": "bf17"}"#).unwrap_err().to_string();
    assert!(e.contains("bf17") && e.contains("tf32"), "{e}");

    // On and off again; the same bits either way on the CPU (on CUDA, deterministic
    // mode makes two runs equal).
    for strategy in [StrategyKind::Darts, StrategyKind::Gdas] {
        let base = SessionOptions { strategy, seed: 3, device: device.clone(), ..SessionOptions::default() };
        let on = run(SessionOptions { deterministic: true, ..base.clone() });
        assert!(on.losses.iter().all(|l| l.is_finite()));
        if cuda {
            assert_eq!(on, run(SessionOptions { deterministic: true, ..base.clone() }), "{strategy:?}: deterministic CUDA runs differ");
            assert!(std::env::var("CUBLAS_WORKSPACE_CONFIG").is_ok(), "CUBLAS_WORKSPACE_CONFIG not set");
            assert!(deterministic_algorithms(), "a deterministic session's setting holds until the next session");
            // The next session sets its own (off): the setting is the last session's.
            assert!(run(base.clone()).losses.iter().all(|l| l.is_finite()));
        } else {
            assert_eq!(on, run(base.clone()), "{strategy:?}: deterministic mode changed the CPU results");
        }
    }
    assert!(!deterministic_algorithms());

    // tf32 on the CPU: refused before anything changes.
    let (space, _, norm) = digits();
    let refused = SessionOptions { precision: Precision::Tf32, deterministic: true, ..SessionOptions::default() };
    let e = Session::new(&space, refused, norm.clone()).err().expect("tf32 on the CPU").to_string();
    assert!(e.contains("tf32") && e.contains("CPU"), "{e}");
    assert!(!deterministic_algorithms() && !cuda_tf32(), "a refused session changed the settings");
    if cuda {
        let tf32 = SessionOptions { precision: Precision::Tf32, device: device.clone(), ..SessionOptions::default() };
        let s = Session::new(&space, tf32, norm.clone()).unwrap();
        assert!(cuda_tf32());
        drop(s);
        let plain = SessionOptions { device: device.clone(), ..SessionOptions::default() };
        let _s = Session::new(&space, plain, norm).unwrap();
        assert!(!cuda_tf32());
    }

    // The command line.
    let bin = env!("CARGO_BIN_EXE_densenas");
    let out = Command::new(bin).args(["search", "--deterministic", "--precision", "float64", "--print-config"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!((v["session"]["deterministic"].as_bool(), v["session"]["precision"].as_str()), (Some(true), Some("float64")), "{text}");
    if !cuda {
        let out = Command::new(bin).args(["search", "--precision", "tf32", "--retrain-epochs", "0", "--out"]).arg(common::temp_dir("tf32")).output().unwrap();
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && e.contains("tf32") && e.lines().count() == 1, "{e}");
    }
}
