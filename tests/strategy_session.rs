//! Every strategy through the session and the command line: selectable by name (Rust,
//! options JSON, CLI) with validated hyper-parameters; seeded determinism, also beside
//! another session; learning on the digits; `random` never changes `alpha` and feeds
//! the density rank-based weights; ProxylessNAS' rescaling leaves the unsampled
//! blocks' probabilities alone; the temperature follows the phase progress;
//! second-order DARTS needs a weight step first.

mod common;

use common::Trace;

use std::process::Command;

use tch::{Kind, Tensor};

use densenas::data::{self, SplitTensors};
use densenas::model::density::DagDensity;
use densenas::model::device::Precision;
use densenas::search::strategy::{rank_weights, StrategyKind};
use densenas::{Normalization, Session, SessionOptions, Space, SpaceConfig};

fn digits(layers: usize, width: usize, blocks: usize) -> (Space, SplitTensors, SplitTensors, Normalization) {
    let splits = data::load("digits").unwrap();
    let (w, v) = splits.weight_val(0.5, 0).unwrap();
    let mut c = SpaceConfig::new(64, 10, layers, width);
    c.blocks = blocks;
    let space = Space::new(c).unwrap();
    let norm = Normalization::from_data(&splits.train.x, 64).unwrap();
    let dev = common::test_device();
    (space, SplitTensors::new(&w, dev).unwrap(), SplitTensors::new(&v, dev).unwrap(), norm)
}

/// On `DENSENAS_TEST_DEVICE` (cpu by default), deterministic on CUDA, where libtorch's
/// index_add and cuBLAS are otherwise not bit-reproducible.
fn options(strategy: StrategyKind, seed: u64) -> SessionOptions {
    let device = common::test_device_name();
    let deterministic = device != "cpu";
    SessionOptions { strategy, seed, device, deterministic, ..SessionOptions::default() }
}

/// `steps` alternating weight and architecture steps on batches of 32, the phase
/// progress told before each; returns the losses.
fn steps(s: &mut Session, w: &SplitTensors, v: &SplitTensors, steps: usize) -> Vec<f64> {
    let mut losses = Vec::new();
    for i in 0..steps {
        s.set_progress(i as f64 / steps as f64).unwrap();
        let order = s.shuffled(w.len() as usize);
        let (x, y) = w.rows(&Tensor::from_slice(&order[..32]).to_device(w.x.device())).unwrap();
        losses.push(s.step_weights(&x, &y).unwrap());
        let order = s.shuffled(v.len() as usize);
        let (x, y) = v.rows(&Tensor::from_slice(&order[..32]).to_device(v.x.device())).unwrap();
        losses.push(s.step_architecture(&x, &y).unwrap());
    }
    losses
}


fn run(strategy: StrategyKind, seed: u64) -> Trace {
    let (space, w, v, norm) = digits(4, 16, 4);
    let mut s = Session::new(&space, options(strategy, seed), norm).unwrap();
    let mut losses = Vec::new();
    for _ in 0..2 {
        losses.extend(steps(&mut s, &w, &v, 4));
        s.end_phase(&v.x, &v.y).unwrap();
    }
    losses.extend(steps(&mut s, &w, &v, 2));
    Trace::of(&s, losses)
}

#[test]
fn every_strategy_is_deterministic_also_beside_another_session() {
    tch::set_num_threads(1);
    for &kind in StrategyKind::ALL {
        let alone = run(kind, 42);
        let (a, b) = std::thread::scope(|sc| {
            let t1 = sc.spawn(|| run(kind, 42));
            let t2 = sc.spawn(|| run(kind, 7));
            (t1.join().unwrap(), t2.join().unwrap())
        });
        assert_eq!(alone, a, "{}: a session beside another one gave other results", kind.name());
        assert_ne!(alone.losses, b.losses, "{}: another seed gave the same losses", kind.name());
        assert!(alone.losses.iter().all(|l| l.is_finite()));
    }
}

#[test]
fn every_strategy_is_selectable_with_validated_hyper_parameters() {
    let names: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names, ["darts", "darts2", "darts-plus", "pdarts", "snas", "gdas", "proxyless", "drnas", "random"]);
    for &kind in StrategyKind::ALL {
        assert_eq!(StrategyKind::parse(kind.name()).unwrap(), kind);
        assert_eq!(kind.name().parse::<StrategyKind>().unwrap(), kind);
        let o = SessionOptions::from_json(&format!(r#"{{"strategy": "{}", "seed": 3}}"#, kind.name())).unwrap();
        assert_eq!((o.strategy, o.seed), (kind, 3));
        assert_eq!(kind.build().kind(), kind);
        assert_eq!(kind.is_sampling(), matches!(kind.name(), "gdas" | "proxyless" | "random"));
    }
    let e = StrategyKind::parse("evolution").unwrap_err().to_string();
    assert!(names.iter().all(|n| e.contains(n)), "{e}");

    // Hyper-parameters: defaults, JSON, unknown keys and ranges refused.
    let o = SessionOptions::from_json(
        r#"{"strategy": "proxyless", "strategy_options": {"proxyless": {"paths": 1}, "gdas": {"tau_max": 5}}}"#,
    )
    .unwrap();
    assert_eq!(o.strategy_options.proxyless.paths, 1);
    assert_eq!((o.strategy_options.gdas.tau_max, o.strategy_options.gdas.tau_min), (5.0, 0.1));
    let d = SessionOptions::default().strategy_options;
    assert_eq!((d.snas.tau_start, d.snas.tau_end), (1.0, 0.1));
    assert_eq!((d.drnas.kl_weight, d.drnas.anchor), (1e-3, 1.0));
    assert_eq!((d.darts2.xi, d.darts2.epsilon), (None, 0.01));
    assert_eq!(d.proxyless.paths, 2);
    let e = SessionOptions::from_json(r#"{"strategy_options": {"gdas": {"tau": 1}}}"#).unwrap_err().to_string();
    assert!(e.contains("tau"), "{e}");
    // Refused by the options themselves, with the same error a session gives.
    let (space, _, _, norm) = digits(3, 8, 3);
    for (json, field) in [
        (r#"{"strategy_options": {"proxyless": {"paths": 3}}}"#, "proxyless.paths"),
        (r#"{"strategy_options": {"gdas": {"tau_min": 20}}}"#, "gdas.tau_min"),
        (r#"{"strategy_options": {"snas": {"tau_end": 0}}}"#, "snas.tau_end"),
        (r#"{"strategy_options": {"drnas": {"kl_weight": -1}}}"#, "drnas.kl_weight"),
        (r#"{"strategy_options": {"darts2": {"epsilon": 0}}}"#, "darts2.epsilon"),
        (r#"{"strategy_options": {"darts_plus": {"top_n": 0}}}"#, "darts_plus.top_n"),
        (r#"{"strategy_options": {"darts_plus": {"hessian_rise": 0.5}}}"#, "darts_plus.hessian_rise"),
        (r#"{"strategy": "drnas", "beta_reg": 1}"#, "beta_reg"),
        (r#"{"strategy": "proxyless", "beta_reg": 1}"#, "beta_reg"),
        (r#"{"strategy": "darts", "beta_reg": 0}"#, "beta_reg"),
    ] {
        let e = SessionOptions::from_json(json).err().expect(json).to_string();
        assert!(e.contains(field), "{json}: {e}");
        let o: SessionOptions = serde_json::from_str(json).unwrap();
        assert_eq!(Session::new(&space, o, norm.clone()).err().expect(json).to_string(), e);
    }

    // The command line.
    let dir = std::env::temp_dir().join(format!("densenas-strategy-cli-{}", std::process::id()));
    for name in ["proxyless", "snas", "darts-plus"] {
        let out = Command::new(env!("CARGO_BIN_EXE_densenas"))
            .args(["search", "--strategy", name, "--layers", "3", "--width", "8", "--blocks", "3", "--phases", "1"])
            .args(["--epochs", "1", "--retrain-epochs", "0", "--quiet", "--out", dir.to_str().unwrap()])
            .env("OMP_NUM_THREADS", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        assert_eq!(s["strategy"], name);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_densenas")).args(["search", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(names.iter().all(|n| help.contains(n)), "--help does not list every strategy: {help}");
}

#[test]
fn every_strategy_learns_on_the_digits() {
    tch::set_num_threads(1);
    let (space, w, v, norm) = digits(3, 32, 4);
    for &kind in StrategyKind::ALL {
        let mut s = Session::new(&space, options(kind, 1), norm.clone()).unwrap();
        steps(&mut s, &w, &v, 80);
        let report = s.end_phase(&v.x, &v.y).unwrap();
        let best = report.best_val_accuracy;
        eprintln!("{}: best inherited validation accuracy after 80 step pairs {best:.4}", kind.name());
        assert!(best >= 0.9, "{}: best inherited validation accuracy {best}", kind.name());
        let sum: f64 = report.records.iter().map(|r| r.weight).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{}: block weights sum to {sum}", kind.name());
    }
}

#[test]
fn random_never_changes_alpha_and_feeds_back_rank_weights() {
    let (space, w, v, norm) = digits(4, 16, 4);
    let mut s = Session::new(&space, options(StrategyKind::Random, 5), norm).unwrap();
    let before: Vec<f64> = s.supernet().parameters().iter().map(|t| t.sum(Kind::Double).double_value(&[])).collect();
    let p0 = s.density().probabilities().to_vec();
    let dags = s.dags().to_vec();
    steps(&mut s, &w, &v, 15);
    assert_eq!(s.alpha().unwrap(), vec![0.0; 4]);
    assert_eq!(s.block_weights().unwrap(), vec![0.25; 4]);
    let after: Vec<f64> = s.supernet().parameters().iter().map(|t| t.sum(Kind::Double).double_value(&[])).collect();
    assert_ne!(before, after, "the shared weights did not train");
    let report = s.end_phase(&v.x, &v.y).unwrap();
    assert_eq!(s.alpha().unwrap(), vec![0.0; 4]);
    // The density moved by exactly the update rule with rank-based weights.
    let mut order: Vec<usize> = (0..4).collect();
    let r = &report.records;
    order.sort_by(|&a, &b| {
        r[b].val_accuracy.total_cmp(&r[a].val_accuracy).then(r[a].val_loss.total_cmp(&r[b].val_loss)).then(a.cmp(&b))
    });
    let weights = rank_weights(&order);
    assert!(weights[order[0]] > weights[order[1]] && weights[order[1]] > 0.0 && weights[order[3]] == 0.0);
    let mut expected = DagDensity::new(&space, 0.5, 0.05).unwrap();
    expected.update(&dags, &weights, s.options().density.eta).unwrap();
    for (e, (p, q)) in s.density().probabilities().iter().zip(expected.probabilities()).enumerate() {
        assert!((p - q).abs() < 1e-12, "edge {e}: {p} vs {q} (p0 {})", p0[e]);
    }
    // Rank weights: CMA-ES style for k = 4: ln 2.5 - ln 1, ln 2.5 - ln 2, normalised.
    let (a, b) = (2.5f64.ln(), 2.5f64.ln() - 2f64.ln());
    let rw = rank_weights(&[2, 0, 3, 1]);
    assert!((rw[2] - a / (a + b)).abs() < 1e-12 && (rw[0] - b / (a + b)).abs() < 1e-12);
    assert_eq!((rw[3], rw[1]), (0.0, 0.0));
}

#[test]
fn proxyless_rescaling_leaves_unsampled_probabilities_unchanged() {
    let (space, w, v, norm) = digits(3, 16, 6);
    let mut o = options(StrategyKind::Proxyless, 2);
    o.precision = Precision::Float64;
    let mut s = Session::new(&space, o, norm).unwrap();
    for phase in 0..3 {
        // The first architecture step of a phase: Adam has no momentum yet, so only
        // the two sampled parameters move, and their shift keeps their total mass.
        steps(&mut s, &w, &v, 1);
        let alpha = s.alpha().unwrap();
        let moved: Vec<usize> = (0..6).filter(|&i| alpha[i] != 0.0).collect();
        assert_eq!(moved.len(), 2, "phase {phase}: alpha {alpha:?}");
        let mass: f64 = moved.iter().map(|&i| alpha[i].exp()).sum();
        assert!((mass - 2.0).abs() < 1e-12, "phase {phase}: exp-mass of the sampled pair {mass}");
        assert!(alpha[moved[0]] * alpha[moved[1]] < 0.0, "one goes up, the other down: {alpha:?}");
        let p = s.block_weights().unwrap();
        for i in (0..6).filter(|i| !moved.contains(i)) {
            assert!((p[i] - 1.0 / 6.0).abs() < 1e-12, "phase {phase}: unsampled block {i} has probability {}", p[i]);
        }
        s.end_phase(&v.x, &v.y).unwrap();
    }
}

#[test]
fn temperature_follows_the_phase_progress_and_darts2_needs_a_weight_step() {
    let (space, w, v, norm) = digits(3, 8, 3);
    let mut g = Session::new(&space, options(StrategyKind::Gdas, 0), norm.clone()).unwrap();
    assert_eq!(g.temperature(), Some(10.0));
    g.set_progress(0.5).unwrap();
    assert!((g.temperature().unwrap() - 5.05).abs() < 1e-12);
    for bad in [7.0, -0.1, f64::NAN] {
        let e = g.set_progress(bad).unwrap_err();
        assert!(matches!(e, densenas::Error::Input(_)) && e.to_string().contains("outside [0, 1]"), "{e}");
        assert_eq!(g.progress(), 0.5, "a refused fraction leaves the progress as it was");
    }
    g.set_progress(1.0).unwrap();
    assert_eq!((g.progress(), g.temperature()), (1.0, Some(0.1)));
    g.end_phase(&v.x, &v.y).unwrap();
    assert_eq!((g.progress(), g.temperature()), (0.0, Some(10.0)));
    let mut sn = Session::new(&space, options(StrategyKind::Snas, 0), norm.clone()).unwrap();
    sn.set_progress(0.5).unwrap();
    assert!((sn.temperature().unwrap() - 0.1f64.sqrt()).abs() < 1e-12);
    assert_eq!(Session::new(&space, options(StrategyKind::Darts, 0), norm.clone()).unwrap().temperature(), None);

    let mut d2 = Session::new(&space, options(StrategyKind::Darts2, 0), norm).unwrap();
    let (x, y) = v.rows(&Tensor::from_slice(&(0..32i64).collect::<Vec<_>>())).unwrap();
    let e = d2.step_architecture(&x, &y).unwrap_err().to_string();
    assert!(e.contains("weight step"), "{e}");
    assert_eq!(d2.alpha().unwrap(), vec![0.0; 3]);
    steps(&mut d2, &w, &v, 2);
    assert!(d2.alpha().unwrap().iter().any(|a| a.abs() > 1e-4));
}
