//! Operations on edges and the convolutional stem (typed spaces), in float64 against
//! independent implementations written here with loops: each op equals a dense edge
//! with its equivalent matrix (Toeplitz expansion of the kernel, masked weights,
//! averaging matrix; max pooling against a direct loop); the batched typed supernet
//! equals a naive per-edge implementation for random typed DAGs with isolated vertices
//! and several sources and sinks; gradients equal finite differences.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use densenas::model::network::Normalization;
use densenas::model::ops::{self, apply_op, apply_stem, MapShape, Op, Stem, StemGeometry};
use densenas::model::space::{Activation, Aggregation};
use densenas::model::supernet::{BlockMasks, Supernet};
use densenas::{Dag, Space, SpaceConfig};

const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(&t.to_kind(Kind::Double).contiguous().view([-1])).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

fn random(shape: &[i64], seed: i64) -> Tensor {
    tch::manual_seed(seed);
    Tensor::randn(shape, F64)
}

/// Flat index of `(c, y, x)` in a channel-major map.
fn at(s: MapShape, c: i64, y: i64, x: i64) -> usize {
    ((c * s.h + y) * s.w + x) as usize
}

/// The `[D_in, D_out]` matrix of a convolution `kernel: [C_out, C_in, K, K]` from maps
/// `input` to maps `output` with `stride` and `padding` (`h W` orientation): entry
/// `(in, out)` is the kernel tap that connects them, 0 elsewhere.
fn conv_matrix(kernel: &Tensor, input: MapShape, output: MapShape, stride: i64, padding: i64) -> Tensor {
    let k = kernel.size()[3];
    let kv = values(kernel);
    let tap = |co: i64, ci: i64, dy: i64, dx: i64| kv[(((co * input.c + ci) * k + dy) * k + dx) as usize];
    let (din, dout) = (input.size() as usize, output.size() as usize);
    let mut m = vec![0f64; din * dout];
    for co in 0..output.c {
        for yo in 0..output.h {
            for xo in 0..output.w {
                for ci in 0..input.c {
                    for dy in 0..k {
                        for dx in 0..k {
                            let (yi, xi) = (yo * stride + dy - padding, xo * stride + dx - padding);
                            if (0..input.h).contains(&yi) && (0..input.w).contains(&xi) {
                                m[at(input, ci, yi, xi) * dout + at(output, co, yo, xo)] += tap(co, ci, dy, dx);
                            }
                        }
                    }
                }
            }
        }
    }
    Tensor::from_slice(&m).view([din as i64, dout as i64])
}

/// The 0/1 neighbourhood mask of a locally connected 3x3 layer, by its definition.
fn neighbourhood_mask(s: MapShape) -> Tensor {
    let d = s.size() as usize;
    let mut m = vec![0f64; d * d];
    for ci in 0..s.c {
        for yi in 0..s.h {
            for xi in 0..s.w {
                for co in 0..s.c {
                    for yo in 0..s.h {
                        for xo in 0..s.w {
                            if (yi - yo).abs() <= 1 && (xi - xo).abs() <= 1 {
                                m[at(s, ci, yi, xi) * d + at(s, co, yo, xo)] = 1.0;
                            }
                        }
                    }
                }
            }
        }
    }
    Tensor::from_slice(&m).view([d as i64, d as i64])
}

/// The averaging matrix of 3x3 average pooling (stride 1, padding 1, padded cells not
/// counted), per channel.
fn averaging_matrix(s: MapShape) -> Tensor {
    let d = s.size() as usize;
    let mut m = vec![0f64; d * d];
    for c in 0..s.c {
        for yo in 0..s.h {
            for xo in 0..s.w {
                let cells: Vec<(i64, i64)> = (yo - 1..=yo + 1)
                    .flat_map(|y| (xo - 1..=xo + 1).map(move |x| (y, x)))
                    .filter(|&(y, x)| (0..s.h).contains(&y) && (0..s.w).contains(&x))
                    .collect();
                for &(y, x) in &cells {
                    m[at(s, c, y, x) * d + at(s, c, yo, xo)] = 1.0 / cells.len() as f64;
                }
            }
        }
    }
    Tensor::from_slice(&m).view([d as i64, d as i64])
}

/// 3x3 max pooling (stride 1, padding 1 that never wins) by a direct loop over `[B, D]`.
fn max_pool_loop(h: &Tensor, s: MapShape) -> Tensor {
    let v = values(h);
    let (b, d) = (h.size()[0] as usize, s.size() as usize);
    let mut out = vec![f64::NEG_INFINITY; b * d];
    for n in 0..b {
        for c in 0..s.c {
            for yo in 0..s.h {
                for xo in 0..s.w {
                    let o = n * d + at(s, c, yo, xo);
                    for y in (yo - 1).max(0)..=(yo + 1).min(s.h - 1) {
                        for x in (xo - 1).max(0)..=(xo + 1).min(s.w - 1) {
                            out[o] = out[o].max(v[n * d + at(s, c, y, x)]);
                        }
                    }
                }
            }
        }
    }
    Tensor::from_slice(&out).view([b as i64, d as i64])
}

/// An edge's op as a function of `h: [B, D]`, written with the matrices above.
fn naive_op(op: Op, h: &Tensor, weight: Option<&Tensor>, s: MapShape) -> Tensor {
    match op {
        Op::Dense => h.matmul(weight.unwrap()),
        Op::Conv3x3 | Op::Conv5x5 => {
            let k = op.conv_kernel().unwrap();
            h.matmul(&conv_matrix(weight.unwrap(), s, s, 1, k / 2))
        }
        Op::Local3x3 => h.matmul(&(weight.unwrap() * neighbourhood_mask(s))),
        Op::Avgpool3x3 => h.matmul(&averaging_matrix(s)),
        Op::Maxpool3x3 => max_pool_loop(h, s),
        Op::Identity => h.shallow_clone(),
    }
}

#[test]
fn each_op_equals_a_dense_edge_with_its_equivalent_matrix() {
    // A non-square map, so that rows and columns cannot be confused.
    let s = MapShape { c: 2, h: 4, w: 5 };
    let d = s.size();
    let h = random(&[3, d], 1);
    let local_mask = ops::local_mask(s, Kind::Double, Device::Cpu).unwrap();
    assert_eq!(max_diff(&local_mask, &neighbourhood_mask(s)), 0.0);
    assert_eq!(ops::local_params(s), neighbourhood_mask(s).sum(Kind::Double).int64_value(&[]));
    for (n, op) in Op::ALL.into_iter().enumerate() {
        let weight = ops::weight_shape(op, Some(s), d).map(|shape| random(&shape, 10 + n as i64));
        let got = apply_op(op, &h, weight.as_ref(), Some(s), Some(&local_mask)).unwrap();
        let want = naive_op(op, &h, weight.as_ref(), s);
        let diff = max_diff(&got, &want);
        assert!(diff < 1e-12, "{op}: differs from its dense equivalent by {diff}");
        // The batched layout ([k, B, D]) gives the same per block.
        let h3 = h.view([1, 3, d]).repeat([2, 1, 1]);
        let got3 = apply_op(op, &h3, weight.as_ref(), Some(s), Some(&local_mask)).unwrap();
        assert!(max_diff(&got3.select(0, 1), &want) < 1e-12, "{op}: batched layout");
    }
    // Identity is exactly the input; pooling of a constant map is that constant.
    let ones = Tensor::ones([2, d], F64) * 0.75;
    for op in [Op::Avgpool3x3, Op::Maxpool3x3] {
        let out = apply_op(op, &ones, None, Some(s), None).unwrap();
        assert!(max_diff(&out, &ones) < 1e-15, "{op} of a constant map");
    }
}

#[test]
fn the_conv_stem_equals_its_toeplitz_matrix_at_stride_one_and_as_a_patchify_convolution() {
    for (input, output) in [
        (MapShape { c: 1, h: 8, w: 8 }, MapShape { c: 3, h: 8, w: 8 }),   // stride 1: 3x3, padding 1
        (MapShape { c: 1, h: 8, w: 8 }, MapShape { c: 4, h: 4, w: 4 }),   // stride 2: patchify 2x2
        (MapShape { c: 3, h: 12, w: 12 }, MapShape { c: 2, h: 3, w: 3 }), // stride 4: patchify 4x4
    ] {
        let g = StemGeometry::new(input, output);
        assert_eq!((g.kernel, g.padding), if g.stride == 1 { (3, 1) } else { (g.stride, 0) });
        let kernel = random(&[2 * output.c, input.c, g.kernel, g.kernel], 7);
        let x = random(&[5, input.size()], 8);
        let got = apply_stem(&x, &kernel, &g).unwrap();
        for v in 0..2 {
            let kv = kernel.narrow(0, v * output.c, output.c);
            let want = x.matmul(&conv_matrix(&kv, input, output, g.stride, g.padding));
            let diff = max_diff(&got.narrow(1, v * output.size(), output.size()), &want);
            assert!(diff < 1e-12, "stem {input:?} -> {output:?}, vertex {v}: {diff}");
        }
    }
}

const L: usize = 5;
const MAP: MapShape = MapShape { c: 2, h: 3, w: 3 };
const INPUT: MapShape = MapShape { c: 1, h: 6, w: 6 };
const CLASSES: usize = 3;
const BATCH: i64 = 4;

fn typed_space(stem: Stem, aggregation: Aggregation, activation: Activation, blocks: usize) -> Space {
    let mut c = SpaceConfig::new(INPUT.size() as usize, CLASSES, L, MAP.size() as usize);
    c.shape = Some([2, 3, 3]);
    c.input_shape = Some([1, 6, 6]);
    c.stem = stem;
    c.ops = Op::ALL.to_vec();
    c.aggregation = aggregation;
    c.activation = activation;
    c.blocks = blocks;
    Space::new(c).unwrap()
}

/// Random typed DAGs: isolated vertices, several sources and sinks, the empty DAG,
/// every op on some edge.
fn typed_dags(space: &Space, n: usize, seed: u64) -> Vec<Dag> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = vec![
        Dag::new(L, vec![]).unwrap(),
        Dag::with_ops(L, vec![(0, 2), (1, 4)], vec![Op::Conv5x5, Op::Maxpool3x3]).unwrap(),
        Dag::chain_of(L, Op::Conv3x3),
    ];
    while out.len() < n {
        let (mut edges, mut ops) = (Vec::new(), Vec::new());
        for &e in space.edges() {
            if rng.gen_bool(0.55) {
                edges.push(e);
                ops.push(Op::ALL[rng.gen_range(0..Op::ALL.len())]);
            }
        }
        out.push(Dag::with_ops(L, edges, ops).unwrap());
    }
    out
}

fn activate(x: &Tensor, a: Activation) -> Tensor {
    match a {
        Activation::Relu => x.relu(),
        Activation::Tanh => x.tanh(),
        _ => unreachable!("not used here"),
    }
}

/// The supernet's parameters by role, following its documented layout.
struct Params {
    u: Tensor,
    /// Per op with weights (in the space's op order), per vertex.
    w: Vec<(Op, Vec<Option<Tensor>>)>,
    b: Tensor,
    v: Tensor,
    c: Tensor,
}

fn params(net: &Supernet, space: &Space) -> Params {
    let mut p = net.parameters().into_iter();
    let u = p.next().unwrap();
    let w = space
        .ops()
        .iter()
        .filter(|o| o.has_weights())
        .map(|&o| (o, (0..L).map(|j| if j == 0 { None } else { p.next() }).collect()))
        .collect();
    let b = p.next().unwrap();
    Params { u, w, b, v: p.next().unwrap(), c: p.next().unwrap() }
}

/// One block's logits, computed edge by edge with the dense-equivalent matrices.
fn naive_block(space: &Space, p: &Params, dag: &Dag, xn: &Tensor) -> Tensor {
    let d = MAP.size();
    let mut h: Vec<Tensor> = Vec::new();
    for j in 0..L {
        let mut terms = Vec::new();
        if dag.is_source(j) {
            terms.push(match space.stem() {
                Stem::Dense => xn.matmul(&p.u.narrow(1, j as i64 * d, d)),
                Stem::Conv => {
                    let g = space.stem_geometry().unwrap();
                    let kj = p.u.narrow(0, j as i64 * MAP.c, MAP.c);
                    xn.matmul(&conv_matrix(&kj, INPUT, MAP, g.stride, g.padding))
                }
            });
        }
        for (i, op) in dag.in_edges_typed(j) {
            let weight = p.w.iter().find(|(o, _)| *o == op).map(|(_, per)| {
                let wj = per[j].as_ref().unwrap();
                match op.conv_kernel() {
                    Some(_) => wj.narrow(1, i as i64 * MAP.c, MAP.c),
                    None => wj.narrow(0, i as i64 * d, d),
                }
            });
            terms.push(naive_op(op, &h[i], weight.as_ref(), MAP));
        }
        let n = terms.len() as f64;
        let mut pre = terms.into_iter().reduce(|a, b| a + b).unwrap();
        if space.aggregation() == Aggregation::Mean {
            pre = pre / n;
        }
        h.push(activate(&(pre + p.b.get(j as i64)), space.activation()));
    }
    let mut logits = p.c.shallow_clone();
    for j in dag.sinks() {
        logits = logits + h[j].matmul(&p.v.narrow(0, j as i64 * d, d));
    }
    logits
}

#[test]
fn batched_typed_supernet_equals_a_naive_per_edge_implementation() {
    let mut seed = 0;
    for stem in [Stem::Conv, Stem::Dense] {
        for agg in [Aggregation::Sum, Aggregation::Mean] {
            seed += 1;
            let space = typed_space(stem, agg, Activation::Relu, 8);
            let dags = typed_dags(&space, 8, seed);
            let norm = Normalization::identity(INPUT.size() as usize);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let net = Supernet::new(&space, norm, Kind::Double, Device::Cpu, &mut rng).unwrap();
            let masks = BlockMasks::new(&space, &dags, Kind::Double, Device::Cpu).unwrap();
            let x = random(&[BATCH, INPUT.size()], seed as i64);
            let all = tch::no_grad(|| net.forward_all(&x, &masks)).unwrap();
            let p = params(&net, &space);
            for (b, dag) in dags.iter().enumerate() {
                let want = tch::no_grad(|| naive_block(&space, &p, dag, &x));
                let diff = max_diff(&all.get(b as i64), &want);
                assert!(diff < 1e-10, "{stem:?} {agg:?} block {b} {dag:?}: batched and naive differ by {diff}");
                // The chosen-block path and the snapshot compute the same network.
                let one = tch::no_grad(|| net.forward_dag(&x, dag)).unwrap();
                assert!(max_diff(&one, &want) < 1e-10, "forward_dag of block {b}");
                let snap = net.snapshot(dag).unwrap();
                assert!(max_diff(&tch::no_grad(|| snap.forward(&x)).unwrap(), &want) < 1e-10, "snapshot of block {b}");
            }
        }
    }
}

#[test]
fn typed_supernet_gradients_equal_finite_differences() {
    // tanh keeps the pooled values free of ties (relu's zeros would tie in max pooling).
    let space = typed_space(Stem::Conv, Aggregation::Sum, Activation::Tanh, 6);
    let dags = typed_dags(&space, 6, 99);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let net = Supernet::new(&space, Normalization::identity(INPUT.size() as usize), Kind::Double, Device::Cpu, &mut rng).unwrap();
    let masks = BlockMasks::new(&space, &dags, Kind::Double, Device::Cpu).unwrap();
    let x = random(&[BATCH, INPUT.size()], 3);
    let r = random(&[6, BATCH, CLASSES as i64], 4);
    let loss = |n: &Supernet| (n.forward_all(&x, &masks).unwrap() * &r).sum(Kind::Double);
    let params = net.parameters();
    loss(&net).backward();
    let eps = 1e-6;
    let mut checked = 0;
    for (pi, t) in params.iter().enumerate() {
        // A weight no block uses gets no gradient at all: zero.
        let grad = if t.grad().defined() { t.grad() } else { t.zeros_like() };
        let n = t.numel() as i64;
        for _ in 0..6 {
            let idx = rng.gen_range(0..n);
            let flat = t.view([-1]);
            let orig = flat.double_value(&[idx]);
            let at_value = |v: f64| {
                tch::no_grad(|| {
                    let _ = flat.get(idx).fill_(v);
                });
                tch::no_grad(|| loss(&net).double_value(&[]))
            };
            let (up, down) = (at_value(orig + eps), at_value(orig - eps));
            at_value(orig);
            let fd = (up - down) / (2.0 * eps);
            let an = grad.view([-1]).double_value(&[idx]);
            assert!((fd - an).abs() <= 1e-6 * (1.0 + an.abs()), "parameter {pi} entry {idx}: autograd {an}, finite difference {fd}");
            checked += 1;
        }
    }
    assert!(checked >= 6 * params.len());
}

#[test]
fn parameter_and_flop_counts_follow_the_ops() {
    let space = typed_space(Stem::Conv, Aggregation::Sum, Activation::Relu, 2);
    let d = MAP.size() as usize;
    for dag in typed_dags(&space, 10, 7) {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let net = DagWeightsCount::of(&space, &dag, &mut rng);
        assert_eq!(dag.params(&space), net, "{dag:?}");
    }
    // By hand: the chain of conv3x3 with the conv stem (stride 2, patchify 2x2 kernels).
    let cnn = Dag::chain_of(L, Op::Conv3x3);
    let stem = 2 * 2 * 2; // C * C_in * K * K per source
    let want = stem + 4 * (2 * 2 * 9) + L * d + d * CLASSES + CLASSES;
    assert_eq!(cnn.params(&space), want);
    let flops = 2 * stem * 9 + 4 * 2 * (2 * 2 * 9) * 9 + 2 * d * CLASSES;
    assert_eq!(cnn.flops(&space), flops);
}

/// The trained parameter count of a freshly initialised network of `dag`: every
/// tensor's size, with locally connected matrices counted by their mask's entries.
struct DagWeightsCount;
impl DagWeightsCount {
    fn of(space: &Space, dag: &Dag, rng: &mut ChaCha8Rng) -> usize {
        let w = densenas::model::network::DagWeights::init(space, dag, Kind::Double, Device::Cpu, rng).unwrap();
        let local = ops::local_params(MAP) as usize;
        let d = MAP.size() as usize;
        let all: usize = w.tensors().iter().map(|t| t.numel()).sum();
        let locals = dag.ops().iter().filter(|&&o| o == Op::Local3x3).count();
        all - locals * d * d + locals * local
    }
}
