//! Phase options for the research questions: first-phase DAGs used exactly as given,
//! the architecture split, and Kendall's tau between alpha and accuracy ranks.

use std::sync::atomic::AtomicBool;

use densenas::data::{self, Dataset};
use densenas::search::first_dags::DagSpec;
use densenas::search::{kendall_tau, run_search_on_splits, ArchSplit, SearchConfig};
use densenas::Dag;

fn small() -> SearchConfig {
    let mut c = SearchConfig::default();
    c.space.layers = 4;
    c.space.width = 24;
    c.space.blocks = 4;
    c.phases = 2;
    c.epochs = 2;
    c.retrain.epochs = 0;
    c.session.seed = 2;
    c
}

#[test]
fn first_phase_dags_are_used_exactly_as_given() {
    let mut c = small();
    c.first_dags = Some(vec![
        DagSpec::Named("chain".into()),
        DagSpec::Named("full".into()),
        DagSpec::Edges(vec![(0, 3), (1, 2)]),
        DagSpec::Random { random: 2 },
    ]);
    let data = data::load("digits").unwrap();
    let outcome = densenas::run_search(&c, &data, &mut |_| {}).unwrap();
    let phase0: Vec<&Dag> = outcome.history.iter().filter(|r| r.phase == 0).map(|r| &r.dag).collect();
    assert_eq!(phase0.len(), 4);
    assert_eq!(*phase0[0], Dag::chain(4));
    assert_eq!(phase0[1].edges().len(), 6);
    assert_eq!(phase0[2].edges(), &[(0, 3), (1, 2)]);
    assert_eq!(phase0[3].edges().len(), 2);
    // Phase 1 is drawn from the density as usual.
    assert_eq!(outcome.history.iter().filter(|r| r.phase == 1).count(), 4);
    // Wrong counts and unknown names are configuration errors.
    c.first_dags = Some(vec![DagSpec::Named("chain".into())]);
    let e = densenas::run_search(&c, &data, &mut |_| {}).err().unwrap().to_string();
    assert!(e.contains("first_dags") && e.contains("1 DAGs given for a space of 4 blocks"), "{e}");
    c.first_dags = Some(vec![DagSpec::Named("star".into()); 4]);
    let e = densenas::run_search(&c, &data, &mut |_| {}).err().unwrap().to_string();
    assert!(e.contains("unknown DAG \"star\""), "{e}");
    c.first_dags = Some(vec![DagSpec::Edges(vec![(2, 1)]); 4]);
    assert!(densenas::run_search(&c, &data, &mut |_| {}).is_err());
}

/// The validation split with its labels rotated (so any use of it changes results).
fn scrambled(v: &Dataset) -> Dataset {
    let mut s = v.clone();
    s.y.iter_mut().for_each(|l| *l = (*l + 3) % 10);
    s
}

#[test]
fn with_the_weight_split_as_architecture_split_validation_only_judges_blocks() {
    let data = data::load("digits").unwrap();
    let (w, v) = data.weight_val(0.5, 2).unwrap();
    let stop = AtomicBool::new(false);
    let run = |arch_split: ArchSplit, val: &Dataset| {
        let mut c = small();
        c.phases = 1;
        c.arch_split = arch_split;
        run_search_on_splits(&c, &data, &w, val, &mut |_| {}, &stop).unwrap()
    };
    let a = run(ArchSplit::Weight, &v);
    let b = run(ArchSplit::Weight, &scrambled(&v));
    // The whole phase (weight and architecture steps) is blind to the validation split...
    assert_eq!(a.alpha_trace, b.alpha_trace);
    // ...which still judges the blocks.
    let acc = |o: &densenas::search::SearchOutcome| o.history.iter().map(|r| r.val_accuracy).collect::<Vec<_>>();
    assert_ne!(acc(&a), acc(&b));
    // Control: with the validation split as architecture split, the steps see it.
    let c = run(ArchSplit::Validation, &v);
    let d = run(ArchSplit::Validation, &scrambled(&v));
    assert_ne!(c.alpha_trace, d.alpha_trace);
}

#[test]
fn kendall_tau_b_on_known_rankings() {
    assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
    assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
    // scipy.stats.kendalltau([1,2,3,4,5], [3,1,2,5,4]) = 0.4
    assert!((kendall_tau(&[1.0, 2.0, 3.0, 4.0, 5.0], &[3.0, 1.0, 2.0, 5.0, 4.0]).unwrap() - 0.4).abs() < 1e-12);
    // With ties: scipy.stats.kendalltau([1,1,2,3], [1,2,2,3]) = 0.8 (tau-b)
    assert!((kendall_tau(&[1.0, 1.0, 2.0, 3.0], &[1.0, 2.0, 2.0, 3.0]).unwrap() - 0.8).abs() < 1e-12);
    assert_eq!(kendall_tau(&[0.0, 0.0, 0.0], &[1.0, 2.0, 3.0]), None);
}

#[test]
fn a_rank_weighted_update_gives_exactly_the_expected_probabilities() {
    use densenas::model::density::Feedback;
    use densenas::{Normalization, Session, SessionOptions, Space, SpaceConfig};
    use tch::Tensor;
    let data = data::load("digits").unwrap();
    let (w, v) = data.weight_val(0.5, 0).unwrap();
    let (wt, vt) = (data::SplitTensors::new(&w, tch::Device::Cpu).unwrap(), data::SplitTensors::new(&v, tch::Device::Cpu).unwrap());
    let mut c = SpaceConfig::new(64, 10, 4, 16);
    c.blocks = 4;
    let space = Space::new(c).unwrap();
    let mut options = SessionOptions::default();
    options.density.feedback = Feedback::Rank;
    options.density.eta = 0.75;
    options.density.p_min = 0.01;
    let mut s = Session::new(&space, options, Normalization::from_data(&data.train.x, 64).unwrap()).unwrap();
    let dags = vec![Dag::chain(4), Dag::full(&space), Dag::new(4, vec![(0, 3)]).unwrap(), Dag::new(4, vec![(0, 1), (0, 2)]).unwrap()];
    s.set_blocks(dags.clone()).unwrap();
    for i in 0..10 {
        let idx = Tensor::from_slice(&(i * 64..(i + 1) * 64).collect::<Vec<i64>>());
        let (x, y) = wt.rows(&idx).unwrap();
        s.step_weights(&x, &y).unwrap();
        s.step_architecture(&x, &y).unwrap();
    }
    let report = s.end_phase(&vt.x, &vt.y).unwrap();
    // Rank weights by hand: k = 4, raw_r = max(0, ln(2.5) - ln(r)) for ranks 1..4.
    let raw = [2.5f64.ln(), 2.5f64.ln() - 2f64.ln(), 0.0, 0.0];
    let sum: f64 = raw.iter().sum();
    let mut r = [0.0; 4];
    for rec in &report.records {
        r[rec.block] = raw[rec.rank_by_accuracy - 1] / sum;
        assert!((rec.feedback - r[rec.block]).abs() < 1e-15);
    }
    let ranks: Vec<usize> = report.records.iter().map(|x| x.rank_by_accuracy).collect();
    let mut sorted = ranks.clone();
    sorted.sort();
    assert_eq!(sorted, vec![1, 2, 3, 4]);
    for (e, p) in s.density().probabilities().iter().enumerate() {
        let target: f64 = dags.iter().zip(&r).filter(|(d, _)| d.mask(&space).unwrap()[e]).map(|(_, w)| w).sum();
        let expected = (0.25 * 0.5 + 0.75 * target).clamp(0.01, 0.99);
        assert!((p - expected).abs() < 1e-12, "edge {e}: {p} vs {expected}");
    }
    // The records carry the entropy of the density they were drawn from (uniform: 6 bits).
    assert!(report.records.iter().all(|x| (x.density_entropy_bits - 6.0).abs() < 1e-12));
    let alpha_ranks: Vec<usize> = report.records.iter().map(|x| x.rank_by_alpha).collect();
    assert!(alpha_ranks.contains(&1) && alpha_ranks.iter().all(|&k| (1..=4).contains(&k)));
}
