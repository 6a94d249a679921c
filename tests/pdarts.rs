//! P-DARTS (`pdarts`): the stage depths and the split of the phases over the stages,
//! the density carried by vertex from one stage's space to the next, the pruning rule,
//! pruned candidates held at 0 by the density's update and never drawn, and options
//! refused with errors naming the key.

use std::collections::HashSet;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use densenas::model::density::Pruned;
use densenas::model::ops::Op;
use densenas::search::stages::{carry_over, identity_dropout_rate, min_depth, prune_mask, stage_depths, stage_of, stage_phases, stage_space};
use densenas::search::strategy::PdartsConfig;
use densenas::{Dag, DagDensity, Space, SpaceConfig};

fn dense(layers: usize, blocks: usize) -> Space {
    let mut c = SpaceConfig::new(4, 2, layers, 8);
    c.blocks = blocks;
    Space::new(c).unwrap()
}

fn typed(layers: usize, blocks: usize) -> Space {
    let mut c = SpaceConfig::new(4, 2, layers, 8);
    c.blocks = blocks;
    c.ops = vec![Op::Dense, Op::Conv3x3, Op::Identity];
    c.shape = Some([2, 2, 2]);
    Space::new(c).unwrap()
}

fn err_text<T: std::fmt::Debug>(r: densenas::Result<T>) -> String {
    r.expect_err("an error was expected").to_string()
}

#[test]
fn phases_split_over_stages_and_too_few_are_refused() {
    assert_eq!(stage_phases(6, 3).unwrap(), vec![2, 2, 2]);
    assert_eq!(stage_phases(7, 3).unwrap(), vec![3, 2, 2]);
    assert_eq!(stage_phases(8, 3).unwrap(), vec![3, 3, 2]);
    assert!(err_text(stage_phases(2, 3)).contains("phases"));
    let per = [3, 2, 2];
    let got: Vec<(usize, bool)> = (0..7).map(|p| stage_of(p, &per)).collect();
    assert_eq!(got, vec![(0, true), (0, false), (0, false), (1, true), (1, false), (2, true), (2, false)]);
}

#[test]
fn the_first_depth_is_the_smallest_holding_k_distinct_dags() {
    // A dense space of depth d holds 2^(d(d-1)/2) DAGs; a typed one with 3 ops 4^(...).
    let smallest = |holds: &dyn Fn(usize) -> f64, k: usize| (1..).find(|&d| holds(d) >= k as f64).unwrap();
    for k in [1, 2, 3, 8, 9, 64, 65] {
        let expect = smallest(&|d| 2f64.powi((d * (d - 1) / 2) as i32), k);
        assert_eq!(min_depth(&dense(6, k), 0.05).unwrap(), expect, "dense, k = {k}");
        let expect = smallest(&|d| 4f64.powi((d * (d - 1) / 2) as i32), k);
        assert_eq!(min_depth(&typed(5, k), 0.05).unwrap(), expect, "typed, k = {k}");
    }
    // A stage space clips the longest skip and the edge bounds to its depth.
    let mut c = SpaceConfig::new(4, 2, 6, 8);
    (c.max_skip, c.max_edges) = (Some(4), Some(9));
    let s = stage_space(&Space::new(c).unwrap(), 3).unwrap();
    assert_eq!((s.layers(), s.max_skip(), s.max_edges(), s.num_edges()), (3, 2, 3, 3));
}

#[test]
fn default_depths_rise_evenly_from_the_smallest_to_l() {
    let config = PdartsConfig::default();
    // k = 8: depth 3 is the smallest; ceil(6 / 3) = 2 is below it.
    assert_eq!(stage_depths(&config, &dense(6, 8), 0.05).unwrap(), vec![3, 5, 6]);
    // k = 2: depth 2 holds 2 DAGs; ceil(8 / 3) = 3 is above it.
    assert_eq!(stage_depths(&config, &dense(8, 2), 0.05).unwrap(), vec![3, 6, 8]);
    let two = PdartsConfig { stages: 2, ..PdartsConfig::default() };
    assert_eq!(stage_depths(&two, &dense(4, 4), 0.05).unwrap(), vec![3, 4]);
    let one = PdartsConfig { stages: 1, ..PdartsConfig::default() };
    assert_eq!(stage_depths(&one, &dense(4, 4), 0.05).unwrap(), vec![4]);
    // Five stages cannot rise strictly from 3 to 6.
    let five = PdartsConfig { stages: 5, ..PdartsConfig::default() };
    assert!(err_text(stage_depths(&five, &dense(6, 8), 0.05)).contains("strategy_options.pdarts.stages"));
}

#[test]
fn explicit_depths_are_checked_naming_the_key() {
    let with = |d: Vec<usize>| PdartsConfig { stages: d.len(), depths: Some(d), ..PdartsConfig::default() };
    let space = dense(6, 8);
    assert_eq!(stage_depths(&with(vec![3, 4, 6]), &space, 0.05).unwrap(), vec![3, 4, 6]);
    for bad in [vec![2, 4, 6], vec![3, 3, 6], vec![3, 5, 5], vec![4, 5, 7]] {
        let text = err_text(stage_depths(&with(bad.clone()), &space, 0.05));
        assert!(text.contains("strategy_options.pdarts.depths"), "{bad:?}: {text}");
    }
    let mismatched = PdartsConfig { stages: 3, depths: Some(vec![3, 6]), ..PdartsConfig::default() };
    assert!(err_text(mismatched.validate()).contains("strategy_options.pdarts.depths"));
}

#[test]
fn options_out_of_range_are_refused_naming_the_key() {
    let d = PdartsConfig::default;
    let cases = [
        (PdartsConfig { stages: 0, ..d() }, "stages"),
        (PdartsConfig { prune_below: 0.6, ..d() }, "prune_below"),
        (PdartsConfig { prune_below: f64::NAN, ..d() }, "prune_below"),
        (PdartsConfig { top_ops: Some(0), ..d() }, "top_ops"),
        (PdartsConfig { identity_dropout: 1.0, ..d() }, "identity_dropout"),
        (PdartsConfig { identity_dropout: -0.1, ..d() }, "identity_dropout"),
    ];
    for (config, key) in cases {
        let text = err_text(config.validate());
        assert!(text.contains(&format!("strategy_options.pdarts.{key}")), "{key}: {text}");
    }
    assert!(d().validate().is_ok());
    // Unknown keys are refused too.
    assert!(serde_json::from_str::<PdartsConfig>(r#"{"stage": 2}"#).is_err());
}

#[test]
fn the_density_carries_over_by_vertex_and_new_edges_start_from_the_prior() {
    let (old_space, new_space) = (typed(3, 4), typed(5, 4));
    let mut old = DagDensity::new(&old_space, 0.5, 0.05).unwrap();
    let dags = [
        Dag::with_ops(3, vec![(0, 1), (1, 2)], vec![Op::Conv3x3, Op::Identity]).unwrap(),
        Dag::with_ops(3, vec![(0, 2)], vec![Op::Dense]).unwrap(),
    ];
    old.update(&dags, &[0.7, 0.3], 0.5).unwrap();
    let mut mask = Pruned::none(3, 3);
    mask.ops[0][2] = true;
    old.prune(&mask).unwrap();
    let new = carry_over(&old, &old_space, &new_space, 0.3, 0.05).unwrap();
    for (e, &(i, j)) in new_space.edges().iter().enumerate() {
        match old_space.edge_index(i, j) {
            Some(o) => {
                assert_eq!(new.probabilities()[e], old.probabilities()[o], "edge ({i}, {j})");
                assert_eq!(new.op_probabilities()[e], old.op_probabilities()[o], "edge ({i}, {j})");
                assert_eq!(new.pruned().ops[e], old.pruned().ops[o], "edge ({i}, {j})");
            }
            None => {
                assert_eq!(new.probabilities()[e], 0.3, "edge ({i}, {j})");
                assert_eq!(new.op_probabilities()[e], vec![1.0 / 3.0; 3], "edge ({i}, {j})");
                assert!(!new.pruned().edges[e] && new.pruned().ops[e].iter().all(|&b| !b));
            }
        }
    }
}

#[test]
fn the_rule_prunes_rare_edges_and_ops_outside_the_top_n() {
    let space = typed(3, 4);
    let p = vec![0.05, 0.5, 0.9];
    let op_p = vec![vec![0.2, 0.3, 0.5], vec![0.4, 0.4, 0.2], vec![0.1, 0.6, 0.3]];
    let density = DagDensity::from_probabilities(&space, p, Some(op_p), 0.0).unwrap();
    let mask = prune_mask(&density, 0.1, Some(2));
    assert_eq!(mask.edges, vec![true, false, false]);
    assert_eq!(mask.ops, vec![vec![true, false, false], vec![false, false, true], vec![true, false, false]]);
    let none = prune_mask(&density, 0.0, None);
    assert!(!none.any());
}

/// Every code vector of `space` within its edge bounds that avoids the pruned candidates.
fn allowed_codes(space: &Space, pruned: &Pruned) -> HashSet<Vec<u8>> {
    let (n, ops) = (space.num_edges(), space.ops().len());
    let mut out = HashSet::new();
    let mut codes = vec![0u8; n];
    loop {
        let count = codes.iter().filter(|&&c| c > 0).count();
        let ok = codes.iter().enumerate().all(|(e, &c)| c == 0 || (!pruned.edges[e] && !pruned.ops[e][c as usize - 1]));
        if ok && (space.min_edges()..=space.max_edges()).contains(&count) {
            out.insert(codes.clone());
        }
        let Some(e) = (0..n).rev().find(|&e| (codes[e] as usize) < ops) else { return out };
        codes[e] += 1;
        codes[e + 1..].iter_mut().for_each(|c| *c = 0);
    }
}

#[test]
fn pruned_candidates_stay_at_zero_and_are_never_drawn() {
    let space = typed(4, 4);
    let mut density = DagDensity::new(&space, 0.5, 0.05).unwrap();
    let mut mask = Pruned::none(space.num_edges(), 3);
    mask.edges[1] = true;
    mask.ops[0][2] = true;
    mask.ops[4] = vec![true, true, false];
    density.prune(&mask).unwrap();
    assert_eq!(density.probabilities()[1], 0.0);
    assert_eq!(density.op_probabilities()[0], vec![0.5, 0.5, 0.0]);
    assert_eq!(density.op_probabilities()[4], vec![0.0, 0.0, 1.0]);
    // An update that rewards the pruned candidates leaves them at 0; the live entries
    // stay inside the clamp.
    let rewarded = Dag::with_ops(4, vec![(0, 1), (0, 2), (1, 3)], vec![Op::Identity, Op::Dense, Op::Dense]).unwrap();
    let other = Dag::with_ops(4, vec![(1, 2)], vec![Op::Conv3x3]).unwrap();
    for _ in 0..20 {
        density.update(&[rewarded.clone(), other.clone()], &[0.9, 0.1], 0.8).unwrap();
    }
    assert_eq!(density.probabilities()[1], 0.0);
    assert_eq!(density.op_probabilities()[0][2], 0.0);
    assert_eq!(&density.op_probabilities()[4][..2], &[0.0, 0.0]);
    for (e, q) in density.categorical().iter().enumerate() {
        for (c, &v) in q.iter().enumerate() {
            let pruned = c > 0 && (mask.edges[e] || mask.ops[e][c - 1]);
            assert!(if pruned { v == 0.0 } else { v >= 0.05 - 1e-12 }, "edge {e}, entry {c}: {v}");
        }
    }
    // The constrained size counts exactly the DAGs that avoid the pruned candidates, and
    // drawing all of them yields exactly those.
    let allowed = allowed_codes(&space, density.pruned());
    assert_eq!(density.constrained_size(), allowed.len() as f64);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let drawn = density.draw(allowed.len(), &[], &mut rng).unwrap();
    let got: HashSet<Vec<u8>> = drawn.iter().map(|d| d.codes(&space).unwrap()).collect();
    assert_eq!(got, allowed);
    assert!(density.draw(allowed.len() + 1, &[], &mut rng).is_err());
}

#[test]
fn large_spaces_never_draw_pruned_edges_and_the_bounds_follow_the_live_edges() {
    // 28 edges: drawn by the count table, not enumerated.
    let mut c = SpaceConfig::new(4, 2, 8, 8);
    c.min_edges = Some(2);
    let space = Space::new(c).unwrap();
    let mut density = DagDensity::new(&space, 0.5, 0.05).unwrap();
    let mut mask = Pruned::none(28, 1);
    (0..28).filter(|e| e % 3 != 0).for_each(|e| mask.edges[e] = true);
    density.prune(&mask).unwrap();
    let live: Vec<usize> = (0..28).filter(|e| e % 3 == 0).collect();
    assert_eq!(density.edge_bounds().unwrap(), (2, live.len()));
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for dag in density.draw(200, &[], &mut rng).unwrap() {
        let codes = dag.codes(&space).unwrap();
        assert!(codes.iter().enumerate().all(|(e, &c)| c == 0 || e % 3 == 0), "{codes:?}");
        assert!(dag.edges().len() >= 2);
    }
    // Pruning all but one edge leaves fewer edges than min_edges = 2: a clear error.
    let mut all_but_one = Pruned::none(28, 1);
    (1..28).for_each(|e| all_but_one.edges[e] = true);
    density.prune(&all_but_one).unwrap();
    let text = density.draw(1, &[], &mut rng).unwrap_err().to_string();
    assert!(text.contains("min_edges") && text.contains("unpruned"), "{text}");
}

#[test]
fn identity_dropout_decays_linearly_over_a_stage() {
    assert_eq!(identity_dropout_rate(0.4, 0.0), 0.4);
    assert_eq!(identity_dropout_rate(0.4, 0.5), 0.2);
    assert_eq!(identity_dropout_rate(0.4, 1.0), 0.0);
}
