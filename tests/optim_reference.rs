//! The optimisers, gradient clipping and the cosine schedule equal PyTorch's on a few
//! hand-sized float64 steps. The expected values were recorded with the full torch
//! wheel by `scripts/optim_reference.py` into `tests/data/optim_reference.json`.

use serde_json::Value;
use tch::{Kind, Tensor};

use densenas::train::optim::{clip_grad_norm, LrSchedule, Optimizer, OptimizerConfig, OptimizerKind};

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

#[test]
fn an_update_is_finite_exactly_when_every_new_value_is() {
    // Plain SGD with lr 1: the new values are p - g. Float32 (checked through a float64
    // sum) and float64 (checked element by element), with the largest finite values,
    // whose float32 sum would overflow float32 but not the float64 check.
    let opt = Optimizer::new(OptimizerConfig { kind: OptimizerKind::Sgd, lr: 1.0, momentum: 0.0, betas: (0.9, 0.999), weight_decay: 0.0 });
    for kind in [Kind::Float, Kind::Double] {
        let big = if kind == Kind::Float { f32::MAX as f64 } else { f64::MAX };
        let p = Tensor::from_slice(&[big, big, -big, 1.0]).to_kind(kind);
        let zero = p.zeros_like();
        let finite = opt.prepare(&[p.shallow_clone()], &[zero.shallow_clone()], 1.0).unwrap();
        assert!(finite.is_finite().unwrap(), "{kind:?}: finite values judged non-finite");
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let g = Tensor::from_slice(&[0.0, 0.0, 0.0, -bad]).to_kind(kind);
            let update = opt.prepare(&[p.shallow_clone()], &[g], 1.0).unwrap();
            assert!(!update.is_finite().unwrap(), "{kind:?}: {bad} judged finite");
        }
        // +inf and -inf in one tensor (their sum is NaN, not a finite value).
        let g = Tensor::from_slice(&[-big, big, 0.0, 0.0]).to_kind(kind);
        let update = opt.prepare(&[p.shallow_clone()], &[g], 1.0).unwrap();
        assert!(!update.is_finite().unwrap(), "{kind:?}: big - (-big) overflows to inf");
    }
}
