//! Retraining at the end of a search (docs/architecture.md): the best DAG and the chain
//! baseline trained from fresh weights on the whole training file with the same
//! budget, each from its own RNG stream of the run's seed (one population when they
//! share a space), then tested.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind};

use crate::data::SplitTensors;
use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::network::{Network, Normalization};
use crate::model::space::Space;
use crate::search::config::SearchConfig;
use crate::search::events::{Control, Event};
use crate::model::ops::Op;
use crate::train::{evaluate_network, train_dag_until, train_population, Member, MemberResult, PopulationJob, RETRAIN_BASELINE_STREAM, RETRAIN_BEST_STREAM, RETRAIN_CNN_STREAM};

/// The retrained networks and their test accuracies.
pub(super) struct Retrained {
    pub best: Network,
    pub baseline: Network,
    pub best_test: f64,
    pub baseline_test: f64,
    /// The plain CNN of a typed space and its test accuracy.
    pub cnn: Option<(Network, f64)>,
}

/// What retraining needs of the search.
pub(super) struct RetrainInputs<'a> {
    pub config: &'a SearchConfig,
    pub space: &'a Space,
    pub normalization: &'a Normalization,
    pub train: &'a SplitTensors,
    pub test: &'a SplitTensors,
    pub kind: Kind,
    pub device: Device,
}

/// Retrains `best_dag`, the chain (the plain MLP) and, in a typed space, the plain
/// CNN; `None` when a stop request cut it short. In an untyped space the best DAG and
/// the chain share the space and train as one population (members of one seed: the
/// same batches); a typed space's baselines live in other spaces and train alone.
pub(super) fn retrain(inputs: &RetrainInputs<'_>, best_dag: &Dag, control: &mut Control<'_>) -> Result<Option<Retrained>> {
    let mlp_space = inputs.space.plain_mlp_space()?;
    let chain = Dag::chain(inputs.space.layers());
    let pair = if mlp_space == *inputs.space {
        train_pair(inputs, best_dag, &chain, control)?
    } else {
        match train_one(inputs, inputs.space, best_dag, "best", RETRAIN_BEST_STREAM, control)? {
            None => None,
            Some(best) => train_one(inputs, &mlp_space, &chain, "baseline", RETRAIN_BASELINE_STREAM, control)?.map(|b| (best, b)),
        }
    };
    let Some((best, baseline)) = pair else { return Ok(None) };
    let cnn = match inputs.space.plain_cnn_space() {
        Some(cnn_space) => {
            let dag = Dag::chain_of(inputs.space.layers(), Op::Conv3x3);
            let Some(net) = train_one(inputs, &cnn_space, &dag, "baseline_cnn", RETRAIN_CNN_STREAM, control)? else { return Ok(None) };
            let (acc, _) = evaluate_network(&net, inputs.test, inputs.kind)?;
            Some((net, acc))
        }
        None => None,
    };
    let (best_test, _) = evaluate_network(&best, inputs.test, inputs.kind)?;
    let (baseline_test, _) = evaluate_network(&baseline, inputs.test, inputs.kind)?;
    Ok(Some(Retrained { best, baseline, best_test, baseline_test, cnn }))
}

/// The best DAG and the chain of one space as a population of two (weights from their
/// own streams of the run's seed, as [`train_one`] draws them). The best's epochs are
/// reported as they end, the baseline's after the population ends, so that the events
/// come in the order of one-at-a-time retraining.
fn train_pair(inputs: &RetrainInputs<'_>, best: &Dag, chain: &Dag, control: &mut Control<'_>) -> Result<Option<(Network, Network)>> {
    let seed = inputs.config.session.seed;
    let members = vec![Member::seeded(best.clone(), seed, RETRAIN_BEST_STREAM), Member::seeded(chain.clone(), seed, RETRAIN_BASELINE_STREAM)];
    let job = PopulationJob {
        space: inputs.space,
        normalization: inputs.normalization,
        data: inputs.train,
        config: &inputs.config.retrain,
        kind: inputs.kind,
        device: inputs.device,
    };
    let epochs = inputs.config.retrain.epochs;
    let stop = control.stop;
    let on_event = &mut *control.on_event;
    let mut baseline_losses = Vec::new();
    let results = train_population(&job, members, &mut |epoch, losses| {
        if let Some(loss) = losses[0] {
            on_event(Event::Retrain { which: "best", epoch, epochs, loss });
        }
        baseline_losses.push((epoch, losses[1]));
    }, stop)?;
    let Some(mut results) = results else { return Ok(None) };
    let baseline = network(results.pop().expect("two members"))?;
    let best = network(results.pop().expect("two members"))?;
    for (epoch, loss) in baseline_losses {
        on_event(Event::Retrain { which: "baseline", epoch, epochs, loss: loss.unwrap_or(f64::NAN) });
    }
    Ok(Some((best, baseline)))
}

/// A trained member's network; a failed member's reason as an error.
fn network(result: MemberResult) -> Result<Network> {
    match result {
        MemberResult::Trained(net) => Ok(net),
        MemberResult::Failed(reason) => Err(Error::Diverged(reason)),
    }
}

fn train_one(
    inputs: &RetrainInputs<'_>,
    space: &Space,
    dag: &Dag,
    which: &'static str,
    stream: u64,
    control: &mut Control<'_>,
) -> Result<Option<Network>> {
    let mut rng = ChaCha8Rng::seed_from_u64(inputs.config.session.seed);
    rng.set_stream(stream);
    let epochs = inputs.config.retrain.epochs;
    let stop = control.stop;
    let on_event = &mut *control.on_event;
    train_dag_until(
        space,
        dag,
        inputs.normalization,
        inputs.train,
        &inputs.config.retrain,
        (inputs.kind, inputs.device),
        &mut rng,
        &mut |epoch, loss| on_event(Event::Retrain { which, epoch, epochs, loss }),
        stop,
    )
}
