//! Sessions: seeded determinism (also beside another session), bad input refused with
//! the state intact, and what ending a phase does.

mod common;

use common::Trace;

use tch::Tensor;

use densenas::data::{self, SplitTensors};
use densenas::{Dag, Normalization, Session, SessionOptions, Space, SpaceConfig};

fn digits() -> (Space, SplitTensors, SplitTensors, Normalization) {
    let splits = data::load("digits").unwrap();
    let (w, v) = splits.weight_val(0.5, 0).unwrap();
    let mut c = SpaceConfig::new(64, 10, 4, 32);
    c.blocks = 4;
    let space = Space::new(c).unwrap();
    let norm = Normalization::from_data(&splits.train.x, 64).unwrap();
    let dev = tch::Device::Cpu;
    (space, SplitTensors::new(&w, dev).unwrap(), SplitTensors::new(&v, dev).unwrap(), norm)
}


fn run(seed: u64, phases: usize) -> Trace {
    let (space, w, v, norm) = digits();
    let options = SessionOptions { seed, ..SessionOptions::default() };
    let mut s = Session::new(&space, options, norm).unwrap();
    let mut losses = Vec::new();
    for _ in 0..phases {
        for _ in 0..6 {
            let order = s.shuffled(w.len() as usize);
            let idx = Tensor::from_slice(&order[..32]);
            let (x, y) = w.rows(&idx).unwrap();
            losses.push(s.step_weights(&x, &y).unwrap());
            let order = s.shuffled(v.len() as usize);
            let (x, y) = v.rows(&Tensor::from_slice(&order[..32])).unwrap();
            losses.push(s.step_architecture(&x, &y).unwrap());
        }
        s.end_phase(&v.x, &v.y).unwrap();
    }
    Trace::of(&s, losses)
}

#[test]
fn same_seed_same_results_also_beside_another_session() {
    let alone = run(42, 2);
    let (a, b) = std::thread::scope(|sc| {
        let t1 = sc.spawn(|| run(42, 2));
        let t2 = sc.spawn(|| run(42, 2));
        (t1.join().unwrap(), t2.join().unwrap())
    });
    assert_eq!(alone, a);
    assert_eq!(alone, b);
    // A session with another seed running beside one does not disturb it either.
    let (c, d) = std::thread::scope(|sc| {
        let t1 = sc.spawn(|| run(42, 2));
        let t2 = sc.spawn(|| run(7, 2));
        (t1.join().unwrap(), t2.join().unwrap())
    });
    assert_eq!(alone, c);
    assert_ne!(alone.losses, d.losses);
}

#[test]
fn bad_batches_are_refused_and_leave_the_session_intact() {
    let (space, w, v, norm) = digits();
    let mut s = Session::new(&space, SessionOptions::default(), norm.clone()).unwrap();
    let mut twin = Session::new(&space, SessionOptions::default(), norm).unwrap();
    let idx = Tensor::from_slice(&(0..16i64).collect::<Vec<_>>());
    let (x, y) = w.rows(&idx).unwrap();
    let e = s.step_weights(&x.narrow(1, 0, 63), &y).unwrap_err().to_string();
    assert!(e.contains("expected x [B, 64]"), "{e}");
    let e = s.step_architecture(&x, &y.narrow(0, 0, 15)).unwrap_err().to_string();
    assert!(e.contains("expected x [B, 64]"), "{e}");
    let e = s.step_weights(&x.narrow(0, 0, 0), &y.narrow(0, 0, 0)).unwrap_err().to_string();
    assert!(e.contains("batch of 0"), "{e}");
    // Raw data checks.
    let raw: Vec<f32> = Vec::<f32>::try_from(&x.view([-1])).unwrap();
    let labels: Vec<i64> = Vec::<i64>::try_from(&y).unwrap();
    assert!(s.tensors_from_raw(&raw[1..], &labels, 16).unwrap_err().to_string().contains("x_len"));
    let mut bad = raw.clone();
    bad[70] = f32::NAN;
    assert!(s.tensors_from_raw(&bad, &labels, 16).unwrap_err().to_string().contains("sample 1"));
    let mut bad_y = labels.clone();
    bad_y[3] = 10;
    assert!(s.tensors_from_raw(&raw, &bad_y, 16).unwrap_err().to_string().contains("outside 0..10"));
    bad_y[3] = -1;
    assert!(s.tensors_from_raw(&raw, &bad_y, 16).is_err());
    // The next steps equal those of a twin that never saw the bad calls.
    for _ in 0..3 {
        assert_eq!(s.step_weights(&x, &y).unwrap(), twin.step_weights(&x, &y).unwrap());
        assert_eq!(s.step_architecture(&x, &y).unwrap(), twin.step_architecture(&x, &y).unwrap());
    }
    assert_eq!(s.end_phase(&v.x, &v.y).unwrap().records.len(), 4);
}

#[test]
fn ending_a_phase_records_snapshots_resamples_and_resets_alpha() {
    let (space, w, v, norm) = digits();
    let mut s = Session::new(&space, SessionOptions::default(), norm).unwrap();
    let given: Vec<Dag> =
        vec![Dag::chain(4), Dag::new(4, vec![]).unwrap(), Dag::new(4, vec![(0, 3)]).unwrap(), Dag::full(&space)];
    s.set_blocks(given.clone()).unwrap();
    let p0 = s.density().probabilities().to_vec();
    for _ in 0..20 {
        let order = s.shuffled(w.len() as usize);
        let (x, y) = w.rows(&Tensor::from_slice(&order[..64])).unwrap();
        s.step_weights(&x, &y).unwrap();
        let (x, y) = v.rows(&Tensor::from_slice(&order[..64])).unwrap();
        s.step_architecture(&x, &y).unwrap();
    }
    let alpha = s.alpha().unwrap();
    assert!(alpha.iter().any(|a| a.abs() > 1e-3), "alpha did not move: {alpha:?}");
    let weights = s.block_weights().unwrap();
    let report = s.end_phase(&v.x, &v.y).unwrap();
    assert_eq!(report.records.len(), 4);
    assert_eq!(s.history().len(), 4);
    for (b, r) in report.records.iter().enumerate() {
        assert_eq!(r.dag, given[b]);
        assert_eq!(r.alpha, alpha[b]);
        assert_eq!(r.weight, weights[b]);
        // The recorded accuracy is the block's own, recomputed.
        let (acc, _) = s.evaluate_dag(&given[b], &v.x, &v.y).unwrap();
        assert!((acc - r.val_accuracy).abs() < 1e-12);
    }
    // The best is the top block, and its snapshot gives the accuracy it was judged by.
    let best = s.best().unwrap();
    let top = report.records.iter().map(|r| r.val_accuracy).fold(0.0, f64::max);
    assert_eq!(best.record.val_accuracy, top);
    let (acc, _) = densenas::train::evaluate(|x| best.network.forward(x), &v.x, &v.y).unwrap();
    assert!((acc - top).abs() < 1e-12);
    // The density moved towards the weighted blocks, by exactly the update rule.
    let eta = s.options().density.eta;
    for (e, p) in s.density().probabilities().iter().enumerate() {
        let target: f64 = given.iter().zip(&weights).filter(|(d, _)| d.mask(&space).unwrap()[e]).map(|(_, w)| w).sum();
        let expected = ((1.0 - eta) * p0[e] + eta * target).clamp(0.05, 0.95);
        assert!((p - expected).abs() < 1e-12);
    }
    // The elite (best) block is kept, the others are new and distinct; alpha is 0 again.
    assert_eq!(s.dags()[0], best.record.dag);
    let distinct: std::collections::HashSet<_> = s.dags().iter().collect();
    assert_eq!(distinct.len(), 4);
    assert_eq!(s.alpha().unwrap(), vec![0.0; 4]);
    assert_eq!(s.phase(), 1);
}
