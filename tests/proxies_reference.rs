//! The training-free proxies (nwot, synflow, jacob_cov) equal PyTorch's on the same
//! weights and batch. The expected values were recorded with the full torch wheel by
//! `scripts/proxies_reference.py` into `tests/data/proxies_reference.json`, from a
//! network written there from its definition.

use serde_json::Value;
use tch::{Kind, Tensor};

use densenas::model::dag::Dag;
use densenas::model::network::{DagWeights, Network, Normalization};
use densenas::model::proxies::{proxy_scores, PROXY_NAMES};
use densenas::model::space::{Activation, Space, SpaceConfig};

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/proxies_reference.json");
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

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn space(r: &Value, activation: Activation) -> Space {
    let n = |k: &str| r[k].as_u64().unwrap() as usize;
    let mut c = SpaceConfig::new(n("features"), n("classes"), n("layers"), n("width"));
    c.activation = activation;
    Space::new(c).unwrap()
}

/// The reference case's network, its tensors in `kind`.
fn network(r: &Value, case: &Value, kind: Kind, activation: Activation) -> Network {
    let space = space(r, activation);
    let edges: Vec<(usize, usize)> = case["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e[0].as_u64().unwrap() as usize, e[1].as_u64().unwrap() as usize))
        .collect();
    let dag = Dag::new(space.layers(), edges).unwrap();
    let tensors = case["tensors"].as_array().unwrap().iter().map(|t| tensor(t).to_kind(kind)).collect();
    let weights = DagWeights::from_tensors(&space, &dag, tensors).unwrap();
    let normalization = Normalization { mean: floats(&r["mean"]), std: floats(&r["std"]) };
    Network { space, dag, normalization, weights }
}

fn check(kind: Kind, tolerance: &[f64; 3]) {
    let r = reference();
    let x = tensor(&r["x"]);
    for case in r["cases"].as_array().unwrap() {
        let net = network(&r, case, kind, Activation::Relu);
        let scores = proxy_scores(&net, &x).unwrap();
        for (name, tol) in PROXY_NAMES.iter().zip(tolerance) {
            let expected = case[*name].as_f64().unwrap();
            let actual = scores.get(name).unwrap_or_else(|| panic!("{name} is missing for {}", case["edges"]));
            assert!(
                (actual - expected).abs() <= tol * expected.abs().max(1.0),
                "{kind:?} {name} of {}: {actual} vs PyTorch's {expected}",
                case["edges"]
            );
        }
    }
}

#[test]
fn proxies_match_pytorch_in_float64() {
    check(Kind::Double, &[1e-10, 1e-10, 1e-8]);
}

#[test]
fn proxies_of_float32_weights_stay_close_to_pytorch() {
    // The same weights rounded to float32 (the study's precision): the codes and the
    // float64 synflow barely move.
    check(Kind::Float, &[1e-6, 1e-5, 1e-3]);
}

#[test]
fn the_cases_differ_so_the_comparison_can_fail() {
    // A proxy that ignored the DAG would still have to match three different values.
    let r = reference();
    for name in PROXY_NAMES {
        let values: Vec<f64> = r["cases"].as_array().unwrap().iter().map(|c| c[name].as_f64().unwrap()).collect();
        assert!(values.windows(2).all(|w| (w[0] - w[1]).abs() > 1e-3 * w[0].abs()), "{name}: {values:?}");
    }
}

#[test]
fn other_activations_are_refused_with_the_reason() {
    let r = reference();
    let net = network(&r, &r["cases"][0], Kind::Double, Activation::Tanh);
    let err = proxy_scores(&net, &tensor(&r["x"])).unwrap_err().to_string();
    assert!(err.contains("space.activation") && err.contains("ReLU") && err.contains("tanh"), "{err}");
}
