//! Standalone trainings (docs/architecture.md): networks of one space, each a DAG and a
//! seed, trained from fresh weights as one population and then scored on the training
//! and test data. `densenas train` (one DAG or many), the experiment's standalone units
//! and the C ABI's `densenas_train` all come here. A member's weights are drawn from
//! stream [`RETRAIN_BEST_STREAM`] of its seed, as a search retrains its best DAG, so a
//! run's best DAG with the run's seed and budget repeats the run's retrained accuracy.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use tch::Device;

use crate::data::SplitTensors;
use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::device::{configure_numerics, Precision};
use crate::model::network::{Network, Normalization};
use crate::model::space::Space;
use super::population::{train_population, Member, MemberResult, PopulationJob};
use super::trainer::{evaluate_network, TrainConfig, RETRAIN_BEST_STREAM};

/// What the members of a standalone population share.
pub struct StandaloneJob<'a> {
    /// The members' space.
    pub space: &'a Space,
    /// The input normalisation (of the training data).
    pub normalization: &'a Normalization,
    /// The training data.
    pub train: &'a SplitTensors,
    /// The test data.
    pub test: &'a SplitTensors,
    /// Budget, batch size, optimiser, schedule and clipping.
    pub config: &'a TrainConfig,
    /// Tensor precision.
    pub precision: Precision,
    /// libtorch's deterministic algorithms.
    pub deterministic: bool,
    /// Device.
    pub device: Device,
}

/// One trained member and its scores.
pub struct TrainedMember {
    /// The trained network.
    pub network: Network,
    /// Accuracy on the training data.
    pub train_accuracy: f64,
    /// Accuracy on the test data.
    pub test_accuracy: f64,
    /// Mean cross-entropy on the test data.
    pub test_loss: f64,
}

/// The members' results (in their order; `Err` holds a failed member's reason) and the
/// population's wall-clock seconds of training.
pub struct StandaloneOutcome {
    /// Each member's result.
    pub members: Vec<std::result::Result<TrainedMember, String>>,
    /// Seconds the population trained (all members together, scoring excluded).
    pub train_seconds: f64,
}

/// Trains `members` (DAG, seed) as one population after setting `job`'s numerics
/// ([`configure_numerics`]); `on_epoch(epoch, losses)` gets every member's mean loss
/// (`None` for a failed one). `None` when `stop` was set.
pub fn train_standalone(
    job: &StandaloneJob<'_>,
    members: &[(Dag, u64)],
    on_epoch: &mut dyn FnMut(usize, &[Option<f64>]),
    stop: &AtomicBool,
) -> Result<Option<StandaloneOutcome>> {
    configure_numerics(job.device, job.precision, job.deterministic)?;
    for (m, (dag, _)) in members.iter().enumerate() {
        dag.codes(job.space).map_err(|e| match members.len() {
            1 => e,
            _ => Error::Input(format!("member {m}: {e}")),
        })?;
    }
    let kind = job.precision.kind();
    let population = PopulationJob {
        space: job.space,
        normalization: job.normalization,
        data: job.train,
        config: job.config,
        kind,
        device: job.device,
    };
    let seeded = members.iter().map(|(dag, seed)| Member::seeded(dag.clone(), *seed, RETRAIN_BEST_STREAM)).collect();
    let start = Instant::now();
    let Some(results) = train_population(&population, seeded, on_epoch, stop)? else { return Ok(None) };
    let train_seconds = start.elapsed().as_secs_f64();
    let members = results
        .into_iter()
        .map(|r| match r {
            MemberResult::Trained(network) => score(network, job, kind).map(Ok),
            MemberResult::Failed(reason) => Ok(Err(reason)),
        })
        .collect::<Result<_>>()?;
    Ok(Some(StandaloneOutcome { members, train_seconds }))
}

fn score(network: Network, job: &StandaloneJob<'_>, kind: tch::Kind) -> Result<TrainedMember> {
    let (train_accuracy, _) = evaluate_network(&network, job.train, kind)?;
    let (test_accuracy, test_loss) = evaluate_network(&network, job.test, kind)?;
    Ok(TrainedMember { network, train_accuracy, test_accuracy, test_loss })
}
