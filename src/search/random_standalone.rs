//! Random search without weight sharing (Li and Talwalkar's baseline; docs/experiments.md):
//! `N` DAGs drawn uniformly from the space, each trained from its own fresh weights on
//! the weight split for a fixed number of epochs (all `N` as one population), the best
//! picked by validation accuracy, retrained on the whole training file with the search's
//! retraining budget, and tested once. The `random` strategy is something else: random
//! sampling of blocks with weight sharing in a supernet.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{DataSplits, SplitTensors};
use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::density::DagDensity;
use crate::model::device::{configure_numerics, parse_device};
use crate::model::network::Normalization;
use crate::search::config::SearchConfig;
use crate::train::{evaluate_network, train_dag_until, train_population, Member, MemberResult, PopulationJob, TrainConfig, RETRAIN_BEST_STREAM};

/// The RNG stream (of the seed) the DAGs are drawn from.
pub const RANDOM_STANDALONE_DRAW_STREAM: u64 = 16;
/// Member `m`'s weights come from stream `RANDOM_STANDALONE_WEIGHT_STREAM + m` of the seed.
pub const RANDOM_STANDALONE_WEIGHT_STREAM: u64 = 1 << 20;

/// How many DAGs and how long each trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomStandaloneBudget {
    /// DAGs drawn.
    pub dags: usize,
    /// Epochs of each on the weight split.
    pub epochs: usize,
}

impl RandomStandaloneBudget {
    /// The default for a search configuration: as many epochs over the weight split as
    /// the search spends (`phases` DAGs of `epochs` epochs each, the search's per-phase
    /// epochs); the best is then retrained with the search's retraining budget.
    pub fn matching(config: &SearchConfig) -> RandomStandaloneBudget {
        RandomStandaloneBudget { dags: config.phases.max(1), epochs: config.epochs.max(1) }
    }

    /// Checks the counts, naming fields under `field`.
    pub fn validate(&self, field: &str) -> Result<()> {
        if self.dags == 0 || self.dags > 4096 {
            return Err(Error::config(format!("{field}.dags"), format!("{} is out of range: allowed 1..=4096", self.dags)));
        }
        if self.epochs == 0 || self.epochs > 100_000 {
            return Err(Error::config(format!("{field}.epochs"), format!("{} is out of range: allowed 1..=100000", self.epochs)));
        }
        Ok(())
    }
}

/// One drawn DAG and how it did on the validation split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The DAG.
    pub dag: Dag,
    /// Its validation accuracy after its training (`None`: its training diverged).
    pub val_accuracy: Option<f64>,
}

/// What a random search without weight sharing found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomStandaloneOutcome {
    /// The DAGs in the order drawn.
    pub candidates: Vec<Candidate>,
    /// The best candidate (the first of the highest validation accuracy).
    pub best: Dag,
    /// Its parameters.
    pub best_params: usize,
    /// Its test accuracy after retraining on the whole training file.
    pub test_accuracy: f64,
    /// Seconds of training and judging the candidates.
    pub search_seconds: f64,
    /// Seconds of retraining the best.
    pub retrain_seconds: f64,
}

/// Runs random search without weight sharing with `config`'s data split, space, seed,
/// batch size, optimiser and retraining; `None` when `stop` cut it short.
pub fn random_standalone(
    config: &SearchConfig,
    budget: &RandomStandaloneBudget,
    data: &DataSplits,
    stop: &AtomicBool,
) -> Result<Option<RandomStandaloneOutcome>> {
    config.validate()?;
    budget.validate("random_standalone")?;
    let space = config.validate_for(data)?;
    let device = parse_device(&config.session.device)?;
    configure_numerics(device, config.session.precision, config.session.deterministic)?;
    let kind = config.session.precision.kind();
    let seed = config.session.seed;
    let normalization = Normalization::from_data(&data.train.x, data.train.features)?;
    let (weight_split, val_split) = data.weight_val(config.val_fraction, seed)?;
    let (weight_t, val_t) = (SplitTensors::new(&weight_split, device)?, SplitTensors::new(&val_split, device)?);

    let start = Instant::now();
    let mut draw_rng = ChaCha8Rng::seed_from_u64(seed);
    draw_rng.set_stream(RANDOM_STANDALONE_DRAW_STREAM);
    let density = DagDensity::new(&space, 0.5, 0.0)?;
    let n = (budget.dags as f64).min(density.constrained_size()) as usize;
    let dags = density.draw(n, &[], &mut draw_rng)?;
    let members: Vec<Member> = dags
        .iter()
        .enumerate()
        .map(|(m, dag)| Member::seeded(dag.clone(), seed, RANDOM_STANDALONE_WEIGHT_STREAM + m as u64))
        .collect();
    let train = TrainConfig { epochs: budget.epochs, batch_size: config.batch_size, ..config.retrain.clone() };
    let job = PopulationJob { space: &space, normalization: &normalization, data: &weight_t, config: &train, kind, device };
    let Some(results) = train_population(&job, members, &mut |_, _| {}, stop)? else { return Ok(None) };
    let mut candidates = Vec::new();
    for (dag, result) in dags.into_iter().zip(results) {
        let val_accuracy = match result {
            MemberResult::Trained(net) => Some(evaluate_network(&net, &val_t, kind)?.0),
            MemberResult::Failed(_) => None,
        };
        candidates.push(Candidate { dag, val_accuracy });
    }
    let best = best_candidate(&candidates)
        .ok_or_else(|| Error::Diverged("every DAG of random search without weight sharing diverged: lower the learning rate".into()))?
        .dag
        .clone();
    let search_seconds = start.elapsed().as_secs_f64();

    // Retrained as a search retrains its best: the same stream, budget and data.
    let retrain_start = Instant::now();
    let train_t = SplitTensors::new(&data.train, device)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(RETRAIN_BEST_STREAM);
    let trained = train_dag_until(&space, &best, &normalization, &train_t, &config.retrain, (kind, device), &mut rng, &mut |_, _| {}, stop)?;
    let Some(net) = trained else { return Ok(None) };
    let test_t = SplitTensors::new(&data.test, device)?;
    let (test_accuracy, _) = evaluate_network(&net, &test_t, kind)?;
    Ok(Some(RandomStandaloneOutcome {
        best_params: best.params(&space),
        best,
        candidates,
        test_accuracy,
        search_seconds,
        retrain_seconds: retrain_start.elapsed().as_secs_f64(),
    }))
}

/// The candidate of the highest validation accuracy (the first drawn on ties); `None`
/// when every one diverged.
pub fn best_candidate(candidates: &[Candidate]) -> Option<&Candidate> {
    let mut best: Option<&Candidate> = None;
    for c in candidates {
        let Some(v) = c.val_accuracy else { continue };
        if best.and_then(|b| b.val_accuracy).is_none_or(|b| v > b) {
            best = Some(c);
        }
    }
    best
}
