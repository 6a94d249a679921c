//! The supernet's grouped path (each vertex once per distinct ancestor sub-DAG, each
//! edge only for the blocks that have it) against its batched path (every allowed
//! edge of every block), in float64: equal logits and equal gradients for every
//! option, in dense and typed spaces, for block sets that share prefixes, repeat DAGs,
//! or are dense enough that vertices take the batched product; the work it saves.

mod common;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use densenas::model::network::Normalization;
use densenas::model::ops::{Op, Stem};
use densenas::model::space::{Activation, Aggregation, Norm};
use densenas::model::supernet::{BlockMasks, Supernet, SupernetPath};
use densenas::{Dag, Space, SpaceConfig};

fn random_dags(space: &Space, k: usize, p: f64, seed: u64) -> Vec<Dag> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ops = space.ops().to_vec();
    let mut out: Vec<Dag> = Vec::new();
    while out.len() < k {
        // Every third block repeats an earlier one's lower vertices.
        let (mut edges, mut chosen) = (Vec::new(), Vec::new());
        for &e in space.edges() {
            if rng.gen_bool(p) {
                edges.push(e);
                chosen.push(ops[rng.gen_range(0..ops.len())]);
            }
        }
        if out.len() % 3 == 2 {
            let prev = &out[out.len() - 1];
            for (&e, &o) in prev.edges().iter().zip(prev.ops()) {
                if e.1 < 3 && !edges.contains(&e) {
                    edges.push(e);
                    chosen.push(o);
                }
            }
            let keep: Vec<usize> = (0..edges.len()).filter(|&n| edges[n].1 >= 3 || prev.edges().contains(&edges[n])).collect();
            edges = keep.iter().map(|&n| edges[n]).collect();
            chosen = keep.iter().map(|&n| chosen[n]).collect();
        }
        out.push(Dag::with_ops(space.layers(), edges, chosen).unwrap());
    }
    out
}

/// Logits and every parameter's gradient of `sum(logits * r)` on `path`.
fn run(net: &Supernet, masks: &mut BlockMasks, path: SupernetPath, x: &Tensor, r: &Tensor) -> (Tensor, Vec<Tensor>) {
    masks.path = path;
    let params = net.parameters();
    let out = net.forward_all(x, masks).unwrap();
    let loss = (&out * r).sum(Kind::Double);
    // A weight a path does not touch has no gradient: zero, as the session takes it.
    let grads = Tensor::run_backward(&[&loss], &params, false, false)
        .into_iter()
        .zip(&params)
        .map(|(g, p)| if g.defined() { g } else { p.zeros_like() })
        .collect();
    (out.detach(), grads)
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn check(space: &Space, dags: &[Dag], seed: i64) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed as u64);
    let net = Supernet::new(space, Normalization::identity(space.features()), Kind::Double, common::test_device(), &mut rng).unwrap();
    let mut masks = BlockMasks::new(space, dags, Kind::Double, common::test_device()).unwrap();
    tch::manual_seed(seed);
    let x = Tensor::randn([5, space.features() as i64], (Kind::Double, common::test_device()));
    let r = Tensor::randn([dags.len() as i64, 5, space.classes() as i64], (Kind::Double, common::test_device()));
    let (a, ga) = run(&net, &mut masks, SupernetPath::Grouped, &x, &r);
    let (b, gb) = run(&net, &mut masks, SupernetPath::Batched, &x, &r);
    assert!(max_diff(&a, &b) < 1e-10, "logits differ by {}", max_diff(&a, &b));
    for (i, (p, q)) in ga.iter().zip(&gb).enumerate() {
        assert!(max_diff(p, q) < 1e-10, "gradient of parameter {i} differs by {}", max_diff(p, q));
    }
    masks.plan.work_fraction
}

#[test]
fn grouped_and_batched_paths_agree_for_every_option() {
    let mut seed = 0;
    for act in [Activation::Relu, Activation::Gelu, Activation::Tanh, Activation::Sigmoid] {
        for agg in [Aggregation::Sum, Aggregation::Mean] {
            for norm in [Norm::None, Norm::Layernorm] {
                seed += 1;
                let mut c = SpaceConfig::new(7, 3, 6, 5);
                c.activation = act;
                c.aggregation = agg;
                c.norm = norm;
                c.blocks = 9;
                let space = Space::new(c).unwrap();
                // Sparse blocks (edge by edge) and dense ones (batched vertices).
                for p in [0.3, 0.9] {
                    let work = check(&space, &random_dags(&space, 9, p, seed), seed as i64);
                    assert!(work < 1.0, "{act:?} {agg:?} {norm:?} p={p}: work fraction {work}");
                }
            }
        }
    }
}

#[test]
fn grouped_and_batched_paths_agree_in_typed_spaces() {
    for (n, stem) in [Stem::Conv, Stem::Dense].into_iter().enumerate() {
        let mut c = SpaceConfig::new(36, 3, 5, 18);
        c.shape = Some([2, 3, 3]);
        c.input_shape = Some([1, 6, 6]);
        c.stem = stem;
        c.ops = Op::ALL.to_vec();
        c.activation = Activation::Tanh;
        c.blocks = 8;
        let space = Space::new(c).unwrap();
        for p in [0.4, 0.95] {
            check(&space, &random_dags(&space, 8, p, 30 + n as u64), 7 + n as i64);
        }
    }
}

#[test]
fn identical_blocks_share_their_rows_and_absent_edges_cost_nothing() {
    let mut c = SpaceConfig::new(7, 3, 6, 5);
    c.blocks = 8;
    let space = Space::new(c).unwrap();
    // Eight copies of the full DAG: every vertex computed once, 1/8 of the products.
    let full = vec![Dag::full(&space); 8];
    let work = check(&space, &full, 3);
    assert!((work - 1.0 / 8.0).abs() < 1e-12, "{work}");
    // Eight empty DAGs: no edge product at all.
    let empty = vec![Dag::new(6, vec![]).unwrap(); 8];
    assert_eq!(check(&space, &empty, 4), 0.0);
    // The chain and the empty DAG four times each: vertex j's rows are two, and only
    // the chain's rows have an edge.
    let mut mixed = Vec::new();
    for _ in 0..4 {
        mixed.push(Dag::chain(6));
        mixed.push(Dag::new(6, vec![]).unwrap());
    }
    let work = check(&space, &mixed, 5);
    assert!((work - 5.0 / (8.0 * 15.0)).abs() < 1e-12, "{work}");
}
