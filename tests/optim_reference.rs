//! The optimisers, gradient clipping and the cosine schedule equal PyTorch's on a few
//! hand-sized float64 steps. The expected values were recorded with the full torch
//! wheel by `scripts/optim_reference.py` into `tests/data/optim_reference.json`.

use serde_json::Value;
use tch::{Kind, Tensor};

use densenas::train::optim::{clip_grad_norm, clip_scale, grad_norm, LrSchedule, Optimizer, OptimizerConfig, OptimizerKind};

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/optim_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A float64 tensor of a nested JSON array.
fn tensor(v: &Value) -> Tensor {
    fn walk(v: &Value, shape: &mut Vec<i64>, depth: usize, out: &mut Vec<f64>) {
        match v {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len() as i64);
                }
                for item in items {
                    walk(item, shape, depth + 1, out);
                }
            }
            other => out.push(other.as_f64().unwrap()),
        }
    }
    let (mut shape, mut values) = (Vec::new(), Vec::new());
    walk(v, &mut shape, 0, &mut values);
    Tensor::from_slice(&values).view(shape.as_slice())
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(&t.flatten(0, -1)).unwrap()
}

fn assert_close(actual: &[f64], expected: &Value, what: &str) {
    let expected: Vec<f64> = expected.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(actual.len(), expected.len(), "{what}");
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        assert!((a - e).abs() <= 1e-12 * e.abs().max(1.0), "{what}, value {i}: {a} vs PyTorch's {e}");
    }
}

#[test]
fn optimisers_match_pytorch_step_by_step() {
    let r = reference();
    let cases = r["optimizers"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let betas = case["betas"].as_array().unwrap();
        let config = OptimizerConfig {
            kind: if case["kind"] == "adam" { OptimizerKind::Adam } else { OptimizerKind::Sgd },
            lr: case["lr"].as_f64().unwrap(),
            momentum: case["momentum"].as_f64().unwrap(),
            betas: (betas[0].as_f64().unwrap(), betas[1].as_f64().unwrap()),
            weight_decay: case["weight_decay"].as_f64().unwrap(),
        };
        let params: Vec<Tensor> = case["params"].as_array().unwrap().iter().map(tensor).collect();
        let mut opt = Optimizer::new(config.clone());
        for (step, (grads, expected)) in
            case["grads"].as_array().unwrap().iter().zip(case["expected"].as_array().unwrap()).enumerate()
        {
            let grads: Vec<Tensor> = grads.as_array().unwrap().iter().map(tensor).collect();
            opt.step(&params, &grads, config.lr).unwrap();
            for (i, p) in params.iter().enumerate() {
                assert_close(&values(p), &expected[i], &format!("{name}, step {}, parameter {i}", step + 1));
            }
        }
    }
}

#[test]
fn gradient_clipping_matches_pytorch() {
    let r = reference();
    for case in r["clip_grad_norm"].as_array().unwrap() {
        let max = case["max_norm"].as_f64().unwrap();
        let mut grads: Vec<Tensor> = case["grads"].as_array().unwrap().iter().map(tensor).collect();
        let norm = clip_grad_norm(&mut grads, max).unwrap();
        let expected_norm = case["norm"].as_f64().unwrap();
        assert!((norm - expected_norm).abs() < 1e-12, "max {max}: norm {norm} vs {expected_norm}");
        for (i, g) in grads.iter().enumerate() {
            assert_close(&values(g), &case["expected"][i], &format!("clip to {max}, gradient {i}"));
        }
        assert_eq!(grads[0].kind(), Kind::Double);
    }
}

#[test]
fn the_cosine_schedule_matches_pytorch() {
    let r = reference();
    for case in r["cosine_schedule"].as_array().unwrap() {
        let (base, total) = (case["base"].as_f64().unwrap(), case["total"].as_u64().unwrap() as usize);
        let lrs: Vec<f64> = (0..=total).map(|step| LrSchedule::Cosine.lr(base, step, total)).collect();
        assert_close(&lrs, &case["expected"], &format!("cosine from {base} over {total} steps"));
    }
}

/// The same values as `t`, as a strided (non-contiguous) view, which the optimiser's
/// fused CPU loops do not cover: it takes the tensor-operation path for it.
fn strided(t: &Tensor) -> Tensor {
    let s = Tensor::stack(&[t.shallow_clone(), t.zeros_like()], -1).select(-1, 0);
    assert!(!s.is_contiguous());
    s
}

fn bits(t: &Tensor) -> Vec<u32> {
    Vec::<f32>::try_from(&t.flatten(0, -1)).unwrap().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn the_fused_sgd_loop_equals_tensor_operations_bit_for_bit() {
    // Float32, several steps, with and without momentum, weight decay and clipping: the
    // fused loop (contiguous CPU tensors), the same loop writing in place
    // (`step_in_place`, a population's path) and the tensor-operation path (the same
    // gradients as strided views) give identical parameters and momentum buffers.
    tch::manual_seed(7);
    let shapes: [&[i64]; 3] = [&[64, 33], &[7], &[5, 5]];
    for (momentum, weight_decay, clip) in [(0.9, 1e-3, Some(0.5)), (0.0, 0.0, None), (0.9, 0.0, None), (0.0, 5e-4, Some(10.0)), (0.9, 1e-3, None), (0.0, 0.0, Some(0.5))] {
        let config = OptimizerConfig { kind: OptimizerKind::Sgd, lr: 0.05, momentum, betas: (0.9, 0.999), weight_decay };
        let init: Vec<Tensor> = shapes.iter().map(|s| Tensor::randn(*s, (Kind::Float, tch::Device::Cpu))).collect();
        let fused: Vec<Tensor> = init.iter().map(|t| t.copy()).collect();
        let plain: Vec<Tensor> = init.iter().map(|t| t.copy()).collect();
        let in_place: Vec<Tensor> = init.iter().map(|t| t.copy()).collect();
        let (mut opt_fused, mut opt_plain) = (Optimizer::new(config.clone()), Optimizer::new(config.clone()));
        let mut opt_in_place = Optimizer::new(config.clone());
        for step in 0..4 {
            let grads: Vec<Tensor> = shapes.iter().map(|s| Tensor::randn(*s, (Kind::Float, tch::Device::Cpu)) * 3.0).collect();
            let strided_grads: Vec<Tensor> = grads.iter().map(strided).collect();
            let scale = clip.and_then(|max| clip_scale(grad_norm(&grads).unwrap(), max));
            assert_eq!(grad_norm(&grads).unwrap(), grad_norm(&grads).unwrap());
            let norm_gap = (grad_norm(&grads).unwrap() - grad_norm(&strided_grads).unwrap()).abs();
            assert!(norm_gap < 1e-9, "the norm of strided gradients differs by {norm_gap}");
            let (a, b) = (opt_fused.prepare_scaled(&fused, &grads, scale, 0.05).unwrap(), opt_plain.prepare_scaled(&plain, &strided_grads, scale, 0.05).unwrap());
            assert!(a.is_finite().unwrap() && b.is_finite().unwrap());
            opt_fused.commit(&fused, a).unwrap();
            opt_plain.commit(&plain, b).unwrap();
            assert!(opt_in_place.step_in_place(&in_place, &grads, scale, 0.05).unwrap());
            let what = format!("momentum {momentum}, decay {weight_decay}, clip {clip:?}, step {}", step + 1);
            for i in 0..shapes.len() {
                assert_eq!(bits(&fused[i]), bits(&plain[i]), "{what}: parameter {i}");
                assert_eq!(bits(&opt_fused.state().first[i]), bits(&opt_plain.state().first[i]), "{what}: buffer {i}");
                assert_eq!(bits(&in_place[i]), bits(&plain[i]), "{what}: parameter {i} in place");
                assert_eq!(bits(&opt_in_place.state().first[i]), bits(&opt_plain.state().first[i]), "{what}: buffer {i} in place");
            }
            assert!(fused[0].not_equal_tensor(&init[0]).any().int64_value(&[]) != 0, "{what}: nothing changed");
        }
    }
}

#[test]
fn an_update_is_finite_exactly_when_every_new_value_is() {
    // Plain SGD with lr 1: the new values are p - g. Float32 and float64, through the
    // fused loop (contiguous tensors, checked value by value) and the tensor-operation
    // path (strided gradients: float32 checked through a float64 sum, float64 element
    // by element), with the largest finite values, whose float32 sum would overflow
    // float32 but not the float64 check.
    let opt = Optimizer::new(OptimizerConfig { kind: OptimizerKind::Sgd, lr: 1.0, momentum: 0.0, betas: (0.9, 0.999), weight_decay: 0.0 });
    for (kind, layout) in [Kind::Float, Kind::Double].into_iter().flat_map(|k| [(k, "fused"), (k, "strided")]) {
        let kind_name = format!("{kind:?}, {layout}");
        let kind_name = kind_name.as_str();
        let lay = |t: Tensor| if layout == "strided" { strided(&t) } else { t };
        let big = if kind == Kind::Float { f32::MAX as f64 } else { f64::MAX };
        let p = Tensor::from_slice(&[big, big, -big, 1.0]).to_kind(kind);
        let zero = lay(p.zeros_like());
        let finite = opt.prepare(&[p.shallow_clone()], &[zero.shallow_clone()], 1.0).unwrap();
        assert!(finite.is_finite().unwrap(), "{kind_name}: finite values judged non-finite");
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let g = lay(Tensor::from_slice(&[0.0, 0.0, 0.0, -bad]).to_kind(kind));
            let update = opt.prepare(&[p.shallow_clone()], &[g], 1.0).unwrap();
            assert!(!update.is_finite().unwrap(), "{kind_name}: {bad} judged finite");
        }
        // +inf and -inf in one tensor (their sum is NaN, not a finite value).
        let g = lay(Tensor::from_slice(&[-big, big, 0.0, 0.0]).to_kind(kind));
        let update = opt.prepare(&[p.shallow_clone()], &[g], 1.0).unwrap();
        assert!(!update.is_finite().unwrap(), "{kind_name}: big - (-big) overflows to inf");
    }
}

#[test]
fn an_in_place_step_reports_a_non_finite_value() {
    // After a first step (which creates the momentum buffer), `step_in_place` writes in
    // place; it says whether every new value is finite, in float32 and float64.
    for kind in [Kind::Float, Kind::Double] {
        let config = OptimizerConfig { kind: OptimizerKind::Sgd, lr: 1.0, momentum: 0.5, betas: (0.9, 0.999), weight_decay: 0.0 };
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let p = Tensor::from_slice(&[1.0, 2.0, 3.0, 4.0]).to_kind(kind);
            let mut opt = Optimizer::new(config.clone());
            assert!(opt.step_in_place(&[p.shallow_clone()], &[p.ones_like()], None, 0.1).unwrap(), "{kind:?}: a finite step");
            let g = Tensor::from_slice(&[0.0, bad, 0.0, 0.0]).to_kind(kind);
            assert!(!opt.step_in_place(&[p.shallow_clone()], &[g], None, 0.1).unwrap(), "{kind:?}: {bad} judged finite");
        }
        let big = if kind == Kind::Float { f32::MAX as f64 } else { f64::MAX };
        let p = Tensor::from_slice(&[big, 0.0]).to_kind(kind);
        let mut opt = Optimizer::new(config.clone());
        assert!(opt.step_in_place(&[p.shallow_clone()], &[p.zeros_like()], None, 1.0).unwrap());
        let g = Tensor::from_slice(&[-big, 0.0]).to_kind(kind);
        assert!(!opt.step_in_place(&[p.shallow_clone()], &[g], None, 1.0).unwrap(), "{kind:?}: big - (-big) overflows to inf");
    }
}
