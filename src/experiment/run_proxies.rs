//! Running a proxies unit: the DAG's weights exactly as its standalone training draws
//! them (the seed's retraining stream), the first [`PROXY_BATCH`] samples of that
//! training's first epoch (the seed's data-order stream) and the input normalisation of
//! its training file, then the training-free proxies on them (docs/experiments.md).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

use super::unit::{NetworkShape, ProxiesResult};
use crate::data::DataSplits;
use crate::error::Result;
use crate::model::dag::Dag;
use crate::model::device::{configure_numerics, parse_device, Precision};
use crate::model::network::{DagWeights, Network, Normalization};
use crate::model::proxies::{check_space, proxy_scores, PROXY_BATCH};
use crate::train::{first_epoch_order, RETRAIN_BEST_STREAM};

/// A proxies unit's definition.
pub struct ProxiesJob<'a> {
    /// The network's layers.
    pub shape: &'a NetworkShape,
    /// The DAG.
    pub dag: &'a Dag,
    /// The standalone training's seed.
    pub seed: u64,
    /// `cpu`, `cuda` or `cuda:N`.
    pub device: &'a str,
    /// Tensor precision.
    pub precision: Precision,
}

/// The proxies of `job.dag` on `splits`' training file (its `seconds` are left 0).
pub fn proxies(splits: &DataSplits, job: &ProxiesJob<'_>) -> Result<ProxiesResult> {
    let train = &splits.train;
    let (f, c) = (train.features, train.classes);
    let space = job.shape.space(f, c, train.shape)?;
    check_space(&space, "shape.activation")?;
    let device = parse_device(job.device)?;
    configure_numerics(device, job.precision, false)?;
    let kind = job.precision.kind();
    // As the standalone unit: weights from the retraining stream of the seed, the data
    // order from the data-order stream of the same seed.
    let mut rng = ChaCha8Rng::seed_from_u64(job.seed);
    rng.set_stream(RETRAIN_BEST_STREAM);
    let weights = DagWeights::init(&space, job.dag, kind, device, &mut rng)?;
    let n = train.y.len();
    let order = first_epoch_order(&rng.get_seed(), n);
    let rows = &order[..PROXY_BATCH.min(n)];
    let mut x = Vec::with_capacity(rows.len() * f);
    for &r in rows {
        x.extend_from_slice(&train.x[r as usize * f..(r as usize + 1) * f]);
    }
    let x = Tensor::f_from_slice(&x)?.f_view([rows.len() as i64, f as i64])?.f_to_device(device)?;
    let normalization = Normalization::from_data(&train.x, f)?;
    let net = Network { space, dag: job.dag.clone(), normalization, weights };
    Ok(ProxiesResult {
        dag: job.dag.clone(),
        params: net.params(),
        flops: net.flops(),
        scores: proxy_scores(&net, &x)?,
        seconds: 0.0,
    })
}
