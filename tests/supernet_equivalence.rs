//! The batched k-block supernet against an independent, naive per-edge implementation
//! in float64: outputs, weight and alpha gradients, finite differences, exact zero
//! gradients on masked-off edges, the chain as a plain MLP, and the chosen-blocks path.

mod common;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use densenas::model::network::Normalization;
use densenas::model::space::{Activation, Aggregation, Norm};
use densenas::search::strategy::{cross_entropy, mix};
use densenas::model::supernet::{BlockMasks, Supernet};
use densenas::{Dag, Space, SpaceConfig};

const F: usize = 5;
const C: usize = 3;
const L: usize = 5;
const D: usize = 4;
const B: i64 = 6;

fn space(act: Activation, agg: Aggregation, norm: Norm, blocks: usize) -> Space {
    let mut c = SpaceConfig::new(F, C, L, D);
    c.blocks = blocks;
    c.activation = act;
    c.aggregation = agg;
    c.norm = norm;
    Space::new(c).unwrap()
}

/// Blocks covering isolated vertices, several sources and sinks, skips longer than
/// one, the empty DAG, the chain and the full DAG.
fn test_dags(space: &Space) -> Vec<Dag> {
    let d = |e: &[(usize, usize)]| Dag::new(L, e.to_vec()).unwrap();
    vec![
        d(&[(0, 2), (1, 4)]),                 // 3 isolated; sources 0,1,3; sinks 2,3,4
        d(&[(0, 4)]),                         // 1,2,3 isolated; skip of 4
        d(&[]),                               // every vertex isolated
        Dag::chain(L),                        // plain MLP
        Dag::full(space),                     // every edge
        d(&[(0, 1), (0, 3), (1, 2), (2, 4), (3, 4), (1, 4)]), // skips 1..3
    ]
}

/// A mild normalisation so that it is exercised too.
fn normalization() -> Normalization {
    Normalization { mean: vec![0.5, -0.25, 1.0, 0.0, 2.0], std: vec![2.0, 1.0, 0.5, 1.0, 4.0] }
}

fn input(rng_seed: i64) -> (Tensor, Tensor) {
    tch::manual_seed(rng_seed);
    let x = Tensor::randn([B, F as i64], (Kind::Double, common::test_device())) * 3.0;
    let y = Tensor::from_slice(&[0i64, 1, 2, 1, 0, 2]).to_device(common::test_device());
    (x, y)
}

/// The supernet's parameters by role, following its documented layout.
struct Params {
    u: Tensor,
    w: Vec<Option<Tensor>>,
    b: Tensor,
    ln: Option<(Tensor, Tensor)>,
    v: Tensor,
    c: Tensor,
}

fn params(net: &Supernet, space: &Space) -> Params {
    let mut p = net.parameters().into_iter();
    let u = p.next().unwrap();
    let w = (0..L).map(|j| if space.predecessors(j).is_empty() { None } else { p.next() }).collect();
    let b = p.next().unwrap();
    let ln = if space.norm() == Norm::Layernorm { Some((p.next().unwrap(), p.next().unwrap())) } else { None };
    Params { u, w, b, ln, v: p.next().unwrap(), c: p.next().unwrap() }
}

fn act(x: &Tensor, a: Activation) -> Tensor {
    match a {
        Activation::Relu => x.relu(),
        Activation::Gelu => x.gelu("none"),
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => x.sigmoid(),
    }
}

/// Naive per-edge forward of one DAG: loops over vertices and edges, one matrix
/// product per term, using the DAG's own edge list.
fn naive_block(space: &Space, p: &Params, dag: &Dag, x: &Tensor) -> Tensor {
    let norm = normalization();
    let mean = Tensor::from_slice(&norm.mean).to_device(common::test_device());
    let std = Tensor::from_slice(&norm.std).to_device(common::test_device());
    let xn = (x - mean) / std;
    let d = D as i64;
    let mut h: Vec<Tensor> = Vec::new();
    for j in 0..L {
        let mut terms = Vec::new();
        let preds: Vec<usize> = dag.edges().iter().filter(|e| e.1 == j).map(|e| e.0).collect();
        if preds.is_empty() {
            terms.push(xn.matmul(&p.u.narrow(1, j as i64 * d, d)));
        }
        for &i in &preds {
            let pos = space.predecessors(j).iter().position(|&q| q == i).unwrap() as i64;
            let wij = p.w[j].as_ref().unwrap().narrow(0, pos * d, d);
            terms.push(h[i].matmul(&wij));
        }
        let n = terms.len() as f64;
        let mut pre = terms.iter().fold(Tensor::zeros([B, d], (Kind::Double, common::test_device())), |a, t| a + t);
        if space.aggregation() == Aggregation::Mean {
            pre = pre / n;
        }
        pre = pre + p.b.get(j as i64);
        if let Some((g, bt)) = &p.ln {
            let mu = pre.mean_dim(-1, true, Kind::Double);
            let var = (&pre - &mu).square().mean_dim(-1, true, Kind::Double);
            pre = (&pre - mu) / (var + 1e-5).sqrt() * g.get(j as i64) + bt.get(j as i64);
        }
        h.push(act(&pre, space.activation()));
    }
    let mut logits = p.c.shallow_clone();
    for j in 0..L {
        if !dag.edges().iter().any(|e| e.0 == j) {
            logits = logits + h[j].matmul(&p.v.narrow(0, j as i64 * d, d));
        }
    }
    logits
}

fn build(space: &Space, seed: u64) -> Supernet {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Supernet::new(space, normalization(), Kind::Double, common::test_device(), &mut rng).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

fn all_options() -> Vec<(Activation, Aggregation, Norm)> {
    let mut v = Vec::new();
    for a in [Activation::Relu, Activation::Gelu, Activation::Tanh, Activation::Sigmoid] {
        for g in [Aggregation::Sum, Aggregation::Mean] {
            for n in [Norm::None, Norm::Layernorm] {
                v.push((a, g, n));
            }
        }
    }
    v
}

#[test]
fn batched_forward_and_gradients_equal_naive_per_edge_implementation() {
    for (i, (a, g, n)) in all_options().into_iter().enumerate() {
        let dags0 = test_dags(&space(a, g, n, 1));
        let sp = space(a, g, n, dags0.len());
        let dags = test_dags(&sp);
        let net = build(&sp, i as u64);
        let p = params(&net, &sp);
        let masks = BlockMasks::new(&sp, &dags, Kind::Double, common::test_device()).unwrap();
        let (x, y) = input(i as i64);
        let alpha = Tensor::from_slice(&[0.3, -0.2, 0.5, 0.0, -1.0, 0.7]).to_device(common::test_device()).set_requires_grad(true);

        let batched = net.forward_all(&x, &masks).unwrap();
        let naive = Tensor::stack(&dags.iter().map(|dag| naive_block(&sp, &p, dag, &x)).collect::<Vec<_>>(), 0);
        let diff = max_diff(&batched, &naive);
        assert!(diff < 1e-12, "{a:?} {g:?} {n:?}: forward differs by {diff}");

        // Chosen-blocks path.
        let refs: Vec<&Dag> = dags.iter().collect();
        let chosen = net.forward_blocks(&x, &refs).unwrap();
        assert!(max_diff(&chosen, &naive) < 1e-12);

        // Gradients of the DARTS loss with respect to every weight and alpha.
        let mut inputs = net.parameters();
        inputs.push(alpha.shallow_clone());
        let loss_b = cross_entropy(&mix(&alpha.softmax(0, Kind::Double), &batched).unwrap(), &y).unwrap();
        let loss_n = cross_entropy(&mix(&alpha.softmax(0, Kind::Double), &naive).unwrap(), &y).unwrap();
        assert!((loss_b.double_value(&[]) - loss_n.double_value(&[])).abs() < 1e-12);
        let gb = Tensor::run_backward(&[&loss_b], &inputs, false, false);
        let gn = Tensor::run_backward(&[&loss_n], &inputs, false, false);
        for (t, (u, v)) in gb.iter().zip(&gn).enumerate() {
            let d = max_diff(u, v);
            assert!(d < 1e-12, "{a:?} {g:?} {n:?}: gradient of input {t} differs by {d}");
        }
        // The alpha gradient is not trivially zero.
        assert!(gb.last().unwrap().abs().sum(Kind::Double).double_value(&[]) > 1e-6);
    }
}

#[test]
fn weight_gradients_equal_finite_differences() {
    for (a, g, n) in [
        (Activation::Tanh, Aggregation::Sum, Norm::None),
        (Activation::Relu, Aggregation::Mean, Norm::Layernorm),
        (Activation::Gelu, Aggregation::Sum, Norm::Layernorm),
    ] {
        let sp = space(a, g, n, 6);
        let dags = test_dags(&sp);
        let net = build(&sp, 7);
        let masks = BlockMasks::new(&sp, &dags, Kind::Double, common::test_device()).unwrap();
        let (x, y) = input(3);
        let alpha = Tensor::from_slice(&[0.1, 0.2, -0.3, 0.4, 0.0, -0.1]).to_device(common::test_device()).set_requires_grad(true);
        let loss = || {
            cross_entropy(&mix(&alpha.softmax(0, Kind::Double), &net.forward_all(&x, &masks).unwrap()).unwrap(), &y)
                .unwrap()
        };
        let mut inputs = net.parameters();
        inputs.push(alpha.shallow_clone());
        let grads = Tensor::run_backward(&[&loss()], &inputs, false, false);
        let eps = 1e-6;
        let mut checked = 0;
        for (t, (param, grad)) in inputs.iter().zip(&grads).enumerate() {
            let flat = param.view([-1]);
            let gflat = grad.view([-1]);
            let n_el = flat.size()[0];
            // A spread of entries of every tensor.
            for idx in (0..n_el).step_by(((n_el / 7).max(1)) as usize) {
                let orig = flat.double_value(&[idx]);
                let set = |v: f64| tch::no_grad(|| {
                    let _ = flat.get(idx).fill_(v);
                });
                set(orig + eps);
                let up = loss().double_value(&[]);
                set(orig - eps);
                let down = loss().double_value(&[]);
                set(orig);
                let fd = (up - down) / (2.0 * eps);
                let an = gflat.double_value(&[idx]);
                assert!(
                    (fd - an).abs() <= 1e-6 * (1.0 + an.abs()),
                    "{a:?} {g:?} {n:?}: tensor {t} entry {idx}: autograd {an} vs finite difference {fd}"
                );
                checked += 1;
            }
        }
        assert!(checked > 50);
    }
}

#[test]
fn masked_off_edges_and_unused_inputs_outputs_get_exactly_zero_gradient() {
    let sp = space(Activation::Relu, Aggregation::Sum, Norm::None, 2);
    let d = |e: &[(usize, usize)]| Dag::new(L, e.to_vec()).unwrap();
    // Neither block uses (0,1), (1,2), (2,3), (0,3), ...; only (0,2), (1,4), (2,4).
    let dags = vec![d(&[(0, 2), (1, 4)]), d(&[(0, 2), (2, 4), (1, 4)])];
    let net = build(&sp, 11);
    let p = params(&net, &sp);
    let masks = BlockMasks::new(&sp, &dags, Kind::Double, common::test_device()).unwrap();
    let (x, y) = input(5);
    let alpha = Tensor::from_slice(&[0.2, -0.4]).to_device(common::test_device()).set_requires_grad(true);
    let loss = cross_entropy(&mix(&alpha.softmax(0, Kind::Double), &net.forward_all(&x, &masks).unwrap()).unwrap(), &y)
        .unwrap();
    let inputs = [p.u.shallow_clone()]
        .into_iter()
        .chain(p.w.iter().flatten().map(|t| t.shallow_clone()))
        .chain([p.v.shallow_clone()])
        .collect::<Vec<_>>();
    // A weight no block uses is not touched at all (no gradient): zero, as the session
    // takes it.
    let grads: Vec<Tensor> = Tensor::run_backward(&[&loss], &inputs, false, false)
        .into_iter()
        .zip(&inputs)
        .map(|(g, p)| if g.defined() { g } else { p.zeros_like() })
        .collect();
    let gu = &grads[0];
    let gv = grads.last().unwrap();
    let dd = D as i64;
    let used: Vec<(usize, usize)> = vec![(0, 2), (1, 4), (2, 4)];
    let mut wi = 1;
    for j in 0..L {
        let preds = sp.predecessors(j);
        if preds.is_empty() {
            continue;
        }
        let gw = &grads[wi];
        wi += 1;
        for (pos, &i) in preds.iter().enumerate() {
            let block = gw.narrow(0, pos as i64 * dd, dd);
            let nonzero = block.ne(0.0).sum(Kind::Int64).int64_value(&[]);
            if used.contains(&(i, j)) {
                assert!(nonzero > 0, "used edge ({i},{j}) has a zero gradient");
            } else {
                assert_eq!(nonzero, 0, "masked-off edge ({i},{j}) has a non-zero gradient");
            }
        }
    }
    // Sources in some block: 0, 1, 3 (block 0) and 0, 1, 3 (block 1); vertex 2 and 4 never.
    for j in 0..L {
        let nz = gu.narrow(1, j as i64 * dd, dd).ne(0.0).sum(Kind::Int64).int64_value(&[]);
        let is_source = dags.iter().any(|g| g.is_source(j));
        assert_eq!(nz > 0, is_source, "U_{j}: source in some block = {is_source}, non-zero gradient entries {nz}");
        let nz = gv.narrow(0, j as i64 * dd, dd).ne(0.0).sum(Kind::Int64).int64_value(&[]);
        let is_sink = dags.iter().any(|g| g.is_sink(j));
        assert_eq!(nz > 0, is_sink, "V_{j}: sink in some block = {is_sink}, non-zero gradient entries {nz}");
    }
}

#[test]
fn chain_dag_equals_plain_mlp_with_the_same_weights() {
    let sp = space(Activation::Relu, Aggregation::Sum, Norm::None, 1);
    let net = build(&sp, 13);
    let p = params(&net, &sp);
    let chain = Dag::chain(L);
    let masks = BlockMasks::new(&sp, std::slice::from_ref(&chain), Kind::Double, common::test_device()).unwrap();
    let (x, _) = input(9);
    // The plain MLP: h0 = relu(xn U0 + b0), h_j = relu(h_{j-1} W_{j-1,j} + b_j), V_{L-1}.
    let dd = D as i64;
    let norm = normalization();
    let xn = (&x - Tensor::from_slice(&norm.mean).to_device(common::test_device())) / Tensor::from_slice(&norm.std).to_device(common::test_device());
    let mut h = (xn.matmul(&p.u.narrow(1, 0, dd)) + p.b.get(0)).relu();
    for j in 1..L {
        let pos = sp.predecessors(j).iter().position(|&i| i == j - 1).unwrap() as i64;
        h = (h.matmul(&p.w[j].as_ref().unwrap().narrow(0, pos * dd, dd)) + p.b.get(j as i64)).relu();
    }
    let mlp = h.matmul(&p.v.narrow(0, (L as i64 - 1) * dd, dd)) + &p.c;
    let batched = net.forward_all(&x, &masks).unwrap().get(0);
    assert!(max_diff(&batched, &mlp) < 1e-12);
    let sparse = net.forward_dag(&x, &chain).unwrap();
    assert!(max_diff(&sparse, &mlp) < 1e-12);
    // And the inherited snapshot reproduces it from its own copy of the weights.
    let snap = net.snapshot(&chain).unwrap();
    assert!(max_diff(&snap.forward(&x).unwrap(), &mlp) < 1e-12);
    assert_eq!(snap.params(), F * D + (L - 1) * D * D + L * D + D * C + C);
}
