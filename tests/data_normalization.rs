//! The network's input normalisation on real data (docs/architecture.md): computed from
//! the training file only, per feature; the always-zero features (digits columns 0, 32
//! and 39; MNIST's 67 always-zero training pixels) get std 1 and mean 0, and a network
//! gives finite outputs on the training and test files.

mod common;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind};

use densenas::data::{self, DataSplits, SplitTensors};
use densenas::model::network::{DagWeights, Network};
use densenas::search::SpaceOptions;
use densenas::{Dag, Normalization};


/// Columns of row-major `x` whose values are all equal.
fn constant_columns(x: &[f32], features: usize) -> Vec<usize> {
    (0..features).filter(|&j| x.chunks_exact(features).all(|r| r[j] == x[j])).collect()
}

/// Checks the normalisation of `data` and that a network on it gives finite logits.
fn check(data: &DataSplits, zero: &[usize]) {
    let f = data.train.features;
    let norm = Normalization::from_data(&data.train.x, f).unwrap();
    for &j in zero {
        assert_eq!((norm.mean[j], norm.std[j]), (0.0, 1.0), "feature {j}");
    }
    assert!(norm.std.iter().all(|&s| s.is_finite() && s > 0.0));
    tch::set_num_threads(1);
    let space = SpaceOptions { layers: 2, width: 16, blocks: 1, ..SpaceOptions::default() }
        .space(f, data.train.classes, data.train.shape)
        .unwrap();
    let dag = Dag::chain(2);
    let weights = DagWeights::init(&space, &dag, Kind::Float, Device::Cpu, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    let net = Network { space, dag, normalization: norm.clone(), weights };
    for split in [&data.train, &data.test] {
        let t = SplitTensors::new(split, Device::Cpu).unwrap();
        let xn = norm.apply(&t.x).unwrap();
        assert!(bool::try_from(xn.isfinite().all()).unwrap());
        let logits = tch::no_grad(|| net.forward(&t.x)).unwrap();
        assert_eq!(logits.size(), [split.len() as i64, split.classes as i64]);
        assert!(bool::try_from(logits.isfinite().all()).unwrap());
    }
}

#[test]
fn digits_columns_0_32_39_are_always_zero_and_get_std_1() {
    let all = data::digits().unwrap();
    assert_eq!(constant_columns(&all.x, 64), [0, 32, 39]);
    assert!([0, 32, 39].iter().all(|&j| all.x[j] == 0.0));
    let d = data::load("digits").unwrap();
    let zero = constant_columns(&d.train.x, 64);
    assert!(zero.starts_with(&[0]) && zero.contains(&32) && zero.contains(&39), "{zero:?}");
    check(&d, &[0, 32, 39]);
}

#[test]
fn mnist_has_67_always_zero_training_pixels_that_get_std_1() {
    let d = data::load(&common::dataset_spec("mnist")).unwrap();
    let zero = constant_columns(&d.train.x, 784);
    assert_eq!(zero.len(), 67);
    assert!(zero.iter().all(|&j| d.train.x[j] == 0.0));
    // Some of them are not zero in the test file: the statistics come from training only.
    let norm = Normalization::from_data(&d.train.x, 784).unwrap();
    let test_norm = Normalization::from_data(&d.test.x, 784).unwrap();
    assert!(zero.iter().any(|&j| test_norm.std[j] != 1.0));
    assert!(norm.mean.iter().zip(&test_norm.mean).any(|(a, b)| a != b));
    check(&d, &zero);
}
