//! The strategies' gradients on tiny float64 spaces: in GDAS and ProxylessNAS steps the
//! edges used only by unsampled blocks get exactly zero gradient; ProxylessNAS'
//! architecture gradient equals the paper's estimator computed by hand (two paths and
//! one); GDAS' equals the straight-through gradient computed by hand; second-order
//! DARTS' equals the exact hypergradient through the unrolled step; DARTS+ takes
//! DARTS' gradient; beta regularisation adds the gradient of `lambda logsumexp(alpha)`
//! (finite differences); the architecture Hessian equals finite differences of the
//! gradient.

mod common;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use densenas::model::space::Activation;
use densenas::search::hessian::{largest_eigenvalue, loss_gradient, loss_hessian};
use densenas::search::strategy::{
    beta_regularise, cross_entropy, gumbel_noise, mix, softmax_f64, Darts, Darts2, Darts2Config, DartsPlus,
    DartsPlusConfig, Gdas, Pdarts, GdasConfig, Proxyless, ProxylessConfig, StepContext, StepKind, Strategy,
};
use densenas::model::supernet::{BlockMasks, Supernet};
use densenas::{Dag, Normalization, Space, SpaceConfig};

const F: usize = 5;
const C: usize = 3;
const L: usize = 4;
const D: i64 = 4;
const B: i64 = 6;

struct Tiny {
    space: Space,
    dags: Vec<Dag>,
    net: Supernet,
    masks: BlockMasks,
}

/// A tiny float64 space (tanh, so that no used edge has a zero gradient by accident)
/// with blocks whose edge sets differ.
fn tiny(seed: u64) -> Tiny {
    let mut c = SpaceConfig::new(F, C, L, D as usize);
    c.blocks = 4;
    c.activation = Activation::Tanh;
    let space = Space::new(c).unwrap();
    let d = |e: &[(usize, usize)]| Dag::new(L, e.to_vec()).unwrap();
    let dags = vec![Dag::chain(L), d(&[(0, 2), (2, 3)]), d(&[(0, 3), (1, 2)]), d(&[(0, 1), (1, 3), (0, 2)])];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let net = Supernet::new(&space, Normalization::identity(F), Kind::Double, common::test_device(), &mut rng).unwrap();
    let masks = BlockMasks::new(&space, &dags, Kind::Double, common::test_device()).unwrap();
    Tiny { space, dags, net, masks }
}

/// A batch of `B` rows from a seeded RNG (not libtorch's global generator).
fn batch(seed: u64) -> (Tensor, Tensor) {
    use rand::Rng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f64> = (0..B as usize * F).map(|_| rng.gen_range(-2.0..2.0)).collect();
    let y: Vec<i64> = (0..B).map(|_| rng.gen_range(0..C as i64)).collect();
    (Tensor::from_slice(&x).to_device(common::test_device()).view([B, F as i64]), Tensor::from_slice(&y).to_device(common::test_device()))
}

/// For each allowed edge, whether its weight block `W_ij` has a non-zero gradient.
fn edges_with_gradient(t: &Tiny, grads: &[Tensor]) -> Vec<(usize, usize)> {
    // Layout of Supernet::parameters: U, then W_j for every vertex with predecessors.
    let mut out = Vec::new();
    let mut wi = 1;
    for j in 0..L {
        let preds = t.space.predecessors(j);
        if preds.is_empty() {
            continue;
        }
        let g = &grads[wi];
        wi += 1;
        for (pos, &i) in preds.iter().enumerate() {
            if g.defined() && g.narrow(0, pos as i64 * D, D).ne(0.0).any().int64_value(&[]) != 0 {
                out.push((i, j));
            }
        }
    }
    out
}

/// Weight-step gradients of every shared tensor for the strategy's forward pass.
fn weight_grads(strategy: &mut dyn Strategy, t: &Tiny, alpha: &Tensor, rng: &mut ChaCha8Rng, x: &Tensor, y: &Tensor) -> Vec<Tensor> {
    let mut ctx = StepContext::new(&t.net, &t.dags, &t.masks, alpha, rng);
    let loss = cross_entropy(&strategy.forward(&mut ctx, x, StepKind::Weights).unwrap(), y).unwrap();
    Tensor::run_backward(&[&loss], &t.net.parameters(), false, false)
}

#[test]
fn gdas_and_proxyless_weight_steps_give_unsampled_edges_exactly_zero_gradient() {
    let t = tiny(3);
    let alpha = Tensor::from_slice(&[0.2, -0.1, 0.3, 0.0]).to_device(common::test_device()).set_requires_grad(true);
    let mut gdas = Gdas::new(GdasConfig::default());
    let mut proxyless = Proxyless::new(ProxylessConfig::default());
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut seen = [[false; 4]; 2];
    for step in 0..40 {
        let (x, y) = batch(step);
        for (which, seen_by) in seen.iter_mut().enumerate() {
            let (grads, s) = if which == 0 {
                let g = weight_grads(&mut gdas, &t, &alpha, &mut rng, &x, &y);
                (g, gdas.last_sample().unwrap())
            } else {
                let g = weight_grads(&mut proxyless, &t, &alpha, &mut rng, &x, &y);
                (g, proxyless.last_weight_sample().unwrap())
            };
            seen_by[s] = true;
            let mut expected = t.dags[s].edges().to_vec();
            expected.sort();
            let mut got = edges_with_gradient(&t, &grads);
            got.sort();
            assert_eq!(got, expected, "strategy {which}, step {step}: sampled block {s}");
            // U_j and V_j: non-zero exactly for the sampled block's sources and sinks.
            for j in 0..L {
                let nz = |g: &Tensor, dim: i64| {
                    g.defined() && g.narrow(dim, j as i64 * D, D).ne(0.0).any().int64_value(&[]) != 0
                };
                assert_eq!(nz(&grads[0], 1), t.dags[s].is_source(j), "U_{j}, block {s}");
                assert_eq!(nz(&grads[grads.len() - 2], 0), t.dags[s].is_sink(j), "V_{j}, block {s}");
            }
        }
    }
    assert_eq!(seen, [[true; 4]; 2], "every block was sampled by both strategies");
}

/// `dL/dz` of the mean cross-entropy for logits `z: [B, C]`, by hand.
fn dloss_dlogits(z: &Tensor, y: &Tensor) -> Tensor {
    let p = z.softmax(1, Kind::Double);
    (p - y.one_hot(C as i64).to_kind(Kind::Double)) / B as f64
}

/// Mean cross-entropy by hand (log-sum-exp).
fn ce_by_hand(z: &Tensor, y: &Tensor) -> f64 {
    let z: Vec<f64> = Vec::try_from(&z.view([-1])).unwrap();
    let y: Vec<i64> = Vec::try_from(y).unwrap();
    let mut total = 0.0;
    for (r, &label) in y.iter().enumerate() {
        let row = &z[r * C..(r + 1) * C];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        total += lse - row[label as usize];
    }
    total / y.len() as f64
}

#[test]
fn proxyless_architecture_gradient_equals_the_papers_estimator_by_hand() {
    let t = tiny(4);
    let alpha_v = [0.3, -0.2, 0.8, 0.0];
    let alpha = Tensor::from_slice(&alpha_v).to_device(common::test_device()).set_requires_grad(true);
    for paths in [2usize, 1] {
        let mut proxyless = Proxyless::new(ProxylessConfig { paths });
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mut actives = std::collections::HashSet::new();
        for step in 0..24 {
            let (x, y) = batch(100 + step);
            let mut ctx = StepContext::new(&t.net, &t.dags, &t.masks, &alpha, &mut rng);
            let (loss, grad) = proxyless.architecture_gradient(&mut ctx, &x, &y).unwrap();
            let grad: Vec<f64> = Vec::try_from(&grad).unwrap();
            let sample = proxyless.last_sample().unwrap().clone();
            assert_eq!(sample.paths.len(), paths);
            assert!(sample.paths.contains(&sample.active));
            actives.insert(sample.active);

            // By hand: the sampled blocks' outputs o_j, z = o_active, dL/dg_j = <dL/dz, o_j>.
            let o: Vec<Tensor> = sample.paths.iter().map(|&j| t.net.forward_dag(&x, &t.dags[j]).unwrap()).collect();
            let pos = sample.paths.iter().position(|&j| j == sample.active).unwrap();
            let dz = dloss_dlogits(&o[pos], &y);
            let dg: Vec<f64> = o.iter().map(|oj| (&dz * oj).sum(Kind::Double).double_value(&[])).collect();
            assert!((loss - ce_by_hand(&o[pos], &y)).abs() < 1e-12);
            let p = softmax_f64(&alpha_v);
            let mut expected = vec![0.0; 4];
            if paths == 2 {
                assert_ne!(sample.paths[0], sample.paths[1]);
                let (a, b) = (sample.paths[0], sample.paths[1]);
                let ea = alpha_v[a].exp();
                let eb = alpha_v[b].exp();
                let q = [ea / (ea + eb), eb / (ea + eb)];
                for ii in 0..2 {
                    for jj in 0..2 {
                        let delta = if ii == jj { 1.0 } else { 0.0 };
                        expected[sample.paths[ii]] += dg[jj] * q[jj] * (delta - q[ii]);
                    }
                }
            } else {
                let s = sample.active;
                for i in 0..4 {
                    let delta = if i == s { 1.0 } else { 0.0 };
                    expected[i] = dg[0] * p[s] * (delta - p[i]);
                }
            }
            for i in 0..4 {
                assert!(
                    (grad[i] - expected[i]).abs() < 1e-12,
                    "paths {paths}, step {step}, sample {sample:?}: gradient {grad:?}, by hand {expected:?}"
                );
            }
            assert!(grad.iter().any(|g| g.abs() > 1e-6), "trivial gradient {grad:?}");
        }
        assert!(actives.len() >= 3, "paths {paths}: only blocks {actives:?} were active");
    }
}

#[test]
fn gdas_architecture_gradient_is_the_straight_through_gradient() {
    let t = tiny(5);
    let alpha_v = [0.5, -0.3, 0.1, 0.2];
    let alpha = Tensor::from_slice(&alpha_v).to_device(common::test_device()).set_requires_grad(true);
    let mut gdas = Gdas::new(GdasConfig::default());
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for (step, progress) in [0.0, 0.5, 0.95].into_iter().enumerate() {
        let (x, y) = batch(200 + step as u64);
        let mut twin = rng.clone();
        let g = gumbel_noise(4, &mut twin);
        let mut ctx = StepContext::new(&t.net, &t.dags, &t.masks, &alpha, &mut rng);
        ctx.progress = progress;
        let (loss, grad) = gdas.architecture_gradient(&mut ctx, &x, &y).unwrap();
        let grad: Vec<f64> = Vec::try_from(&grad).unwrap();
        let s = gdas.last_sample().unwrap();
        // By hand: soft = softmax((log p + g) / tau), d soft_s / d alpha_i =
        // soft_s (delta_si - soft_i) / tau (through log softmax, whose Jacobian
        // rows sum the same way), times dL/dw_s = <dL/dz, o_s>.
        let tau = gdas.tau(progress);
        let logp: Vec<f64> = softmax_f64(&alpha_v).iter().map(|p| p.ln()).collect();
        let h: Vec<f64> = logp.iter().zip(&g).map(|(a, b)| (a + b) / tau).collect();
        let soft = softmax_f64(&h);
        let argmax = (0..4).max_by(|&a, &b| h[a].total_cmp(&h[b])).unwrap();
        assert_eq!(s, argmax);
        let o = t.net.forward_dag(&x, &t.dags[s]).unwrap();
        assert!((loss - ce_by_hand(&o, &y)).abs() < 1e-12);
        let dw = (dloss_dlogits(&o, &y) * &o).sum(Kind::Double).double_value(&[]);
        let p = softmax_f64(&alpha_v);
        for i in 0..4 {
            // d soft_s / d alpha_i = sum_m soft_s (delta_sm - soft_m) / tau * (delta_mi - p_i)
            let mut ds = 0.0;
            for m in 0..4 {
                let dsm = soft[s] * (if s == m { 1.0 } else { 0.0 } - soft[m]) / tau;
                ds += dsm * (if m == i { 1.0 } else { 0.0 } - p[i]);
            }
            let expected = dw * ds;
            assert!((grad[i] - expected).abs() < 1e-12, "step {step}: {grad:?} vs by hand at {i}: {expected}");
        }
    }
}

/// The DARTS mixed loss of a supernet at `alpha`.
fn mixed_loss(net: &Supernet, masks: &BlockMasks, alpha: &Tensor, x: &Tensor, y: &Tensor) -> Tensor {
    cross_entropy(&mix(&alpha.softmax(0, Kind::Double), &net.forward_all(x, masks).unwrap()).unwrap(), y).unwrap()
}

#[test]
fn darts2_gradient_equals_the_exact_unrolled_hypergradient() {
    for (seed, act) in [(6u64, Activation::Tanh), (7, Activation::Gelu)] {
        let mut c = SpaceConfig::new(F, C, L, D as usize);
        c.blocks = 3;
        c.activation = act;
        let space = Space::new(c).unwrap();
        let dags = vec![Dag::chain(L), Dag::full(&space), Dag::new(L, vec![(0, 2), (1, 3)]).unwrap()];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let net = Supernet::new(&space, Normalization::identity(F), Kind::Double, common::test_device(), &mut rng).unwrap();
        let masks = BlockMasks::new(&space, &dags, Kind::Double, common::test_device()).unwrap();
        let alpha = Tensor::from_slice(&[0.2, -0.1, 0.4]).to_device(common::test_device()).set_requires_grad(true);
        let (xt, yt) = batch(300 + seed);
        let (xv, yv) = batch(400 + seed);
        let xi = 0.5;

        // Exact: d/d alpha L_val(w - xi grad_w L_train(w, alpha), alpha), differentiating
        // through the unrolled step (create_graph).
        let params = net.parameters();
        let g = Tensor::run_backward(&[mixed_loss(&net, &masks, &alpha, &xt, &yt)], &params, true, true);
        let unrolled: Vec<Tensor> = params.iter().zip(&g).map(|(p, g)| p - g * xi).collect();
        let net_u = net.with_parameters(&unrolled).unwrap();
        let exact_loss = mixed_loss(&net_u, &masks, &alpha, &xv, &yv);
        let exact = Tensor::run_backward(&[&exact_loss], &[&alpha], false, false).remove(0);

        // The strategy, with xi = the weight learning rate (its default).
        let mut darts2 = Darts2::new(Darts2Config::default());
        let mut srng = ChaCha8Rng::seed_from_u64(0);
        let mut ctx = StepContext::new(&net, &dags, &masks, &alpha, &mut srng);
        ctx.weight_lr = xi;
        assert!(darts2.architecture_gradient(&mut ctx, &xv, &yv).unwrap_err().to_string().contains("weight step"));
        ctx.train_batch = Some((&xt, &yt));
        let (loss, grad) = darts2.architecture_gradient(&mut ctx, &xv, &yv).unwrap();
        assert!((loss - exact_loss.double_value(&[])).abs() < 1e-12);
        let (_, first) = Darts.architecture_gradient(&mut ctx, &xv, &yv).unwrap();

        let err = (&grad - &exact).abs().max().double_value(&[]);
        let second_order = (&first - &exact).abs().max().double_value(&[]);
        let scale = exact.abs().max().double_value(&[]);
        eprintln!("{act:?}: exact {exact:?}\n  darts2 {grad:?}\n  |darts2 - exact| = {err:.3e}, |first order - exact| = {second_order:.3e}");
        // Central differences with a perturbation of norm 0.01: error O(1e-4) relative.
        assert!(err < 1e-4 * scale, "darts2 differs from the exact hypergradient by {err} (scale {scale})");
        // The second-order term is far above that tolerance: the check is meaningful.
        assert!(second_order > 100.0 * 1e-4 * scale, "second-order term only {second_order}");
    }
}

/// `f(alpha)` at `alpha + h e_j` for each sign, as a central difference.
fn central_difference(f: impl Fn(&[f64]) -> f64, alpha: &[f64], j: usize, h: f64) -> f64 {
    let mut up = alpha.to_vec();
    let mut down = alpha.to_vec();
    up[j] += h;
    down[j] -= h;
    (f(&up) - f(&down)) / (2.0 * h)
}

#[test]
fn darts_plus_pdarts_and_beta_regularised_gradients_match_finite_differences() {
    let t = tiny(11);
    let alpha_v = [0.3, -0.2, 0.1, 0.5];
    let alpha = Tensor::from_slice(&alpha_v).to_device(common::test_device()).set_requires_grad(true);
    let (x, y) = batch(500);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut ctx = StepContext::new(&t.net, &t.dags, &t.masks, &alpha, &mut rng);
    let (loss, grad) = Darts.architecture_gradient(&mut ctx, &x, &y).unwrap();
    // DARTS+ takes exactly DARTS' loss and gradient.
    let (loss_plus, grad_plus) = DartsPlus::new(DartsPlusConfig::default()).architecture_gradient(&mut ctx, &x, &y).unwrap();
    assert_eq!(loss.to_bits(), loss_plus.to_bits());
    assert_eq!(Vec::<f64>::try_from(&grad).unwrap(), Vec::<f64>::try_from(&grad_plus).unwrap());
    // So does P-DARTS (its stages are the search loop's).
    let (loss_p, grad_p) = Pdarts.architecture_gradient(&mut ctx, &x, &y).unwrap();
    assert_eq!(loss.to_bits(), loss_p.to_bits());
    assert_eq!(Vec::<f64>::try_from(&grad).unwrap(), Vec::<f64>::try_from(&grad_p).unwrap());

    let lambda = 0.7;
    let (reg_loss, reg_grad) = beta_regularise(loss, &grad, &alpha, lambda).unwrap();
    let reg_grad: Vec<f64> = Vec::try_from(&reg_grad).unwrap();
    // The regularised loss by hand: the mixed cross-entropy plus lambda log-sum-exp.
    let f = |a: &[f64]| {
        let at = Tensor::from_slice(a).to_device(common::test_device());
        let lse = a.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = lse + a.iter().map(|v| (v - lse).exp()).sum::<f64>().ln();
        mixed_loss(&t.net, &t.masks, &at, &x, &y).double_value(&[]) + lambda * lse
    };
    assert!((reg_loss - f(&alpha_v)).abs() < 1e-12, "{reg_loss} against {}", f(&alpha_v));
    for j in 0..alpha_v.len() {
        let fd = central_difference(f, &alpha_v, j, 1e-5);
        assert!((reg_grad[j] - fd).abs() < 1e-8, "beta-regularised gradient {j}: {} against {fd}", reg_grad[j]);
    }
    // lambda = 0 leaves the gradient as it was; the regulariser's own part is not small.
    let (_, same) = beta_regularise(loss, &grad, &alpha, 0.0).unwrap();
    assert_eq!(Vec::<f64>::try_from(&same).unwrap(), Vec::<f64>::try_from(&grad).unwrap());
    let plain: Vec<f64> = Vec::try_from(&grad).unwrap();
    assert!(reg_grad.iter().zip(&plain).any(|(a, b)| (a - b).abs() > 0.1));
}

#[test]
fn architecture_hessian_matches_finite_differences_of_the_gradient() {
    let t = tiny(12);
    let (x, y) = batch(600);
    let logits = t.net.forward_all(&x, &t.masks).unwrap().detach();
    let alpha = [0.4, -0.3, 0.2, -0.1];
    let loss = |a: &[f64]| {
        let at = Tensor::from_slice(a).to_device(common::test_device());
        cross_entropy(&mix(&at.softmax(0, Kind::Double), &logits).unwrap(), &y).unwrap().double_value(&[])
    };
    // The gradient against differences of the loss, the Hessian against differences of
    // the gradient.
    let g = loss_gradient(&logits, &y, &alpha).unwrap();
    for j in 0..4 {
        let fd = central_difference(loss, &alpha, j, 1e-5);
        assert!((g[j] - fd).abs() < 1e-9, "gradient {j}: {} against {fd}", g[j]);
    }
    let h = loss_hessian(&logits, &y, &alpha).unwrap();
    let scale = h.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 1e-3, "a Hessian of {scale} tests nothing");
    for j in 0..4 {
        for i in 0..4 {
            let fd = central_difference(|a| loss_gradient(&logits, &y, a).unwrap()[i], &alpha, j, 1e-5);
            assert!((h[i][j] - fd).abs() < 1e-8, "H[{i}][{j}] = {} against {fd}", h[i][j]);
        }
    }
    // The largest eigenvalue: at least every diagonal entry (Rayleigh quotient of e_i)
    // and equal to the maximum of v' H v over unit vectors, checked against a power
    // iteration on H + c I.
    let top = largest_eigenvalue(&h).unwrap();
    assert!((0..4).all(|i| top >= h[i][i] - 1e-12));
    let shift = 4.0 * scale;
    let mut v = vec![1.0, 0.7, -0.3, 0.2];
    for _ in 0..2000 {
        let w: Vec<f64> = (0..4).map(|i| (0..4).map(|j| h[i][j] * v[j]).sum::<f64>() + shift * v[i]).collect();
        let n = w.iter().map(|a| a * a).sum::<f64>().sqrt();
        v = w.iter().map(|a| a / n).collect();
    }
    let rayleigh: f64 = (0..4).map(|i| v[i] * (0..4).map(|j| h[i][j] * v[j]).sum::<f64>()).sum();
    assert!((top - rayleigh).abs() < 1e-9, "eigensolver {top}, power iteration {rayleigh}");
    assert!((largest_eigenvalue(&[vec![2.0, 1.0], vec![1.0, 2.0]]).unwrap() - 3.0).abs() < 1e-12);
}
