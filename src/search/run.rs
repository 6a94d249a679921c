//! A whole search (docs/architecture.md): `P` phases of alternating weight
//! and architecture steps over the weight and validation splits, with the density's
//! resampling between phases and a checkpoint after each, then the retraining of the
//! best DAG and of the chain baseline with the same budget, and the summary.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::data::{DataSplits, Dataset, SplitTensors};
use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::network::{Network, Normalization};
use crate::model::ops::Op;
use crate::model::space::Space;
use crate::search::checkpoint::{self, Checkpoint};
use crate::search::config::{ArchSplit, SearchConfig};
use crate::search::events::{Control, Event};
use crate::search::first_dags::resolve;
use crate::search::phases::{run_phase, PhaseData};
use crate::search::retrain::{retrain, RetrainInputs, Retrained};
use crate::search::session::{HistoryRecord, Session};
use crate::search::stages::{carry_over, over_full_space, prune_mask, stage_of, StagePlan, StageSummary};
use crate::search::state::LoopState;
use crate::search::summary::{
    BaselineSummary, BestSummary, DatasetSummary, MapKeys, Resumed, SpaceSummary, Summary, Timing,
};
use crate::train::evaluate_network;

/// Everything a search produced.
pub struct SearchOutcome {
    /// The summary (the README's run-folder table).
    pub summary: Summary,
    /// Every evaluated block.
    pub history: Vec<HistoryRecord>,
    /// Edge probabilities of the density: the initial one, then after each phase.
    pub density: Vec<Vec<f64>>,
    /// The deployed network: the retrained best, or the inherited snapshot.
    pub best_network: Network,
    /// The chain baseline, when retrained.
    pub baseline_network: Option<Network>,
    /// `alpha` after every step: per phase, per step, per block.
    pub alpha_trace: Vec<Vec<Vec<f64>>>,
}

/// Where a search keeps checkpoints and where it starts.
#[derive(Default)]
pub struct Persistence {
    /// Write a checkpoint after every complete phase into this folder (a run folder's
    /// `checkpoints`).
    pub checkpoints: Option<PathBuf>,
    /// Continue from this checkpoint (which must belong to the configuration and the
    /// data) instead of starting afresh.
    pub resume: Option<Checkpoint>,
}

/// Runs a whole search on `data` and returns its outcome.
pub fn run_search(config: &SearchConfig, data: &DataSplits, on_event: &mut dyn FnMut(Event<'_>)) -> Result<SearchOutcome> {
    run_search_until(config, data, on_event, &AtomicBool::new(false))
}

/// Runs a whole search that stops early when `stop` becomes true: the current step
/// finishes, the current phase ends there (its blocks are judged), retraining is
/// skipped or cut short, and the summary is marked `interrupted`.
pub fn run_search_until(
    config: &SearchConfig,
    data: &DataSplits,
    on_event: &mut dyn FnMut(Event<'_>),
    stop: &AtomicBool,
) -> Result<SearchOutcome> {
    run_search_with(config, data, &mut Control { on_event, stop }, Persistence::default())
}

/// A whole search with checkpoints and resumption as `persistence` says.
pub fn run_search_with(
    config: &SearchConfig,
    data: &DataSplits,
    control: &mut Control<'_>,
    persistence: Persistence,
) -> Result<SearchOutcome> {
    config.validate()?;
    let (weight_split, val_split) = data.weight_val(config.val_fraction, config.session.seed)?;
    search(config, data, &weight_split, &val_split, control, persistence)
}

/// [`run_search_until`] with the weight and validation splits given (the training file
/// is still `data.train`, used for the normalisation and retraining).
pub fn run_search_on_splits(
    config: &SearchConfig,
    data: &DataSplits,
    weight_split: &Dataset,
    val_split: &Dataset,
    on_event: &mut dyn FnMut(Event<'_>),
    stop: &AtomicBool,
) -> Result<SearchOutcome> {
    search(config, data, weight_split, val_split, &mut Control { on_event, stop }, Persistence::default())
}

/// The session and loop state a search starts from: fresh, or a checkpoint's.
fn start(
    config: &SearchConfig,
    space: &Space,
    plan: Option<&StagePlan>,
    normalization: Normalization,
    resume: Option<(Checkpoint, &str)>,
) -> Result<(Session, LoopState, Option<Resumed>)> {
    if let Some((checkpoint, fingerprint)) = resume {
        checkpoint.check_matches(config, fingerprint)?;
        let resumed = Resumed { from_phase: checkpoint.state.phases_done };
        return Ok((checkpoint.session, checkpoint.state, Some(resumed)));
    }
    // P-DARTS starts at its first stage's depth.
    let first_space = match plan {
        Some(plan) => plan.space(space, 0)?,
        None => space.clone(),
    };
    let mut session = Session::new(&first_space, config.session.clone(), normalization)?;
    if let Some(specs) = &config.first_dags {
        let dags = resolve(specs, space, session.rng_mut())?;
        session.set_blocks(dags)?;
    }
    let initial = over_full_space(session.density().probabilities(), session.space(), space);
    let state = LoopState { density: vec![initial], ..LoopState::default() };
    Ok((session, state, None))
}

fn search(
    config: &SearchConfig,
    data: &DataSplits,
    weight_split: &Dataset,
    val_split: &Dataset,
    control: &mut Control<'_>,
    persistence: Persistence,
) -> Result<SearchOutcome> {
    config.validate()?;
    if let Some(threads) = config.threads {
        tch::set_num_threads(threads as i32);
    }
    let space = config.space.space(data.train.features, data.train.classes, data.train.shape)?;
    let normalization = Normalization::from_data(&data.train.x, data.train.features)?;
    let fingerprint = (persistence.checkpoints.is_some() || persistence.resume.is_some()).then(|| data.fingerprint());
    let resume = persistence.resume.map(|c| (c, fingerprint.as_deref().unwrap_or_default()));
    let plan = StagePlan::of(config, &space)?;
    let (mut session, mut state, resumed) = start(config, &space, plan.as_ref(), normalization.clone(), resume)?;
    let device = session.device();
    let weight_t = SplitTensors::new(weight_split, device)?;
    let val_t = SplitTensors::new(val_split, device)?;
    let arch_t = match config.arch_split {
        ArchSplit::Validation => &val_t,
        ArchSplit::Weight => &weight_t,
    };
    let phase_data = PhaseData { weight: &weight_t, val: &val_t, arch: arch_t };

    let start = Instant::now();
    let mut interrupted = false;
    while state.phases_done < config.phases {
        if let Some(plan) = &plan {
            next_stage(config, plan, &space, &mut session, &mut state)?;
        }
        let outcome = run_phase(config, &mut session, &phase_data, &mut state, control)?;
        if let Some(p) = state.density.last_mut() {
            *p = over_full_space(p, session.space(), &space);
        }
        state.phase_end_seconds.push(state.search_seconds + start.elapsed().as_secs_f64());
        if let (true, Some(dir)) = (outcome.complete, &persistence.checkpoints) {
            let mut saved = state.clone();
            saved.search_seconds += start.elapsed().as_secs_f64();
            checkpoint::write(dir, config, fingerprint.as_deref().unwrap_or_default(), &session, &saved)?;
        }
        control.emit(Event::Phase(&outcome.report));
        if !outcome.complete || control.stopped() {
            interrupted = true;
            break;
        }
    }
    let search_seconds = state.search_seconds + start.elapsed().as_secs_f64();
    let best = session.best().ok_or_else(|| Error::Internal("no phase ended".into()))?;
    let kind = session.kind();
    let test_t = SplitTensors::new(&data.test, device)?;
    let (inherited_test, _) = evaluate_network(&best.network, &test_t, kind)?;

    let retrain_start = Instant::now();
    let retrained = if config.retrain.epochs > 0 && !interrupted {
        let train_t = SplitTensors::new(&data.train, device)?;
        let inputs = RetrainInputs { config, space: &space, normalization: &normalization, train: &train_t, test: &test_t, kind, device };
        let r = retrain(&inputs, &best.record.dag, control)?;
        interrupted |= r.is_none();
        r
    } else {
        None
    };
    let timing = Timing {
        search_seconds,
        retrain_seconds: retrain_start.elapsed().as_secs_f64(),
        samples_per_second: state.samples as f64 / search_seconds.max(1e-9),
        phase_end_seconds: state.phase_end_seconds.clone(),
    };
    let splits = DatasetSummary::of(&config.data, &data.train, weight_split, val_split, &data.test);
    let summary = summarize(config, &space, &session, splits, inherited_test, retrained.as_ref(), interrupted, &state, timing, resumed);
    let (best_network, baseline_network) = match retrained {
        Some(r) => (r.best, Some(r.baseline)),
        None => (best.network.detached_copy()?, None),
    };
    Ok(SearchOutcome {
        summary,
        history: session.history().to_vec(),
        density: state.density,
        best_network,
        baseline_network,
        alpha_trace: state.alpha_trace,
    })
}

/// P-DARTS before phase `phase`: the identity dropout of the phase, and the stage
/// switch when the phase is the first of a stage after the first: the density of the
/// stage that ended is pruned and carried over by vertex to the next stage's space, and
/// the session moves there.
fn next_stage(config: &SearchConfig, plan: &StagePlan, space: &Space, session: &mut Session, state: &mut LoopState) -> Result<()> {
    let phase = state.phases_done;
    let (stage, first) = stage_of(phase, &plan.phases);
    let options = &config.session.strategy_options.pdarts;
    // The identity dropout decays linearly over the stage, phase by phase.
    let start: usize = plan.phases[..stage].iter().sum();
    let n = plan.phases[stage] as f64;
    let at = |p: usize| options.identity_dropout_at((p - start) as f64 / n);
    session.set_identity_dropout(at(phase), at(phase + 1))?;
    if stage == 0 || !first {
        return Ok(());
    }
    let mut density = session.density().clone();
    density.prune(&prune_mask(&density, options.prune_below, options.top_ops))?;
    let next = plan.space(space, stage)?;
    let (p0, p_min) = (config.session.density.p0, config.session.density.p_min);
    let carried = carry_over(&density, session.space(), &next, p0, p_min)?;
    let ended = plan.summary(stage - 1, Some((&density, session.space())));
    session.restage(&next, carried)?;
    state.stages.push(ended);
    Ok(())
}

/// The stages of a `pdarts` search for its summary: those that ended, then the last
/// one reached (empty for the other strategies).
fn stages_summary(config: &SearchConfig, space: &Space, state: &LoopState) -> Vec<StageSummary> {
    let Ok(Some(plan)) = StagePlan::of(config, space) else { return Vec::new() };
    let mut stages = state.stages.clone();
    if stages.len() < plan.depths.len() {
        stages.push(plan.summary(stages.len(), None));
    }
    stages
}

/// `summary.json` of a search (its `onnx` entry comes with the export).
#[allow(clippy::too_many_arguments)]
fn summarize(
    config: &SearchConfig,
    space: &Space,
    session: &Session,
    dataset: DatasetSummary,
    inherited_test: f64,
    retrained: Option<&Retrained>,
    interrupted: bool,
    state: &LoopState,
    timing: Timing,
    resumed: Option<Resumed>,
) -> Summary {
    let best = session.best().expect("checked by the caller");
    let chain = Dag::chain(space.layers());
    let mlp_space = space.plain_mlp_space().expect("the plain MLP space of a valid space is valid");
    let d = space.width();
    let dag = &best.record.dag;
    let cnn = space.plain_cnn_space().map(|s| (Dag::chain_of(space.layers(), Op::Conv3x3), s));
    Summary {
        densenas_version: crate::VERSION.to_string(),
        git_commit: crate::GIT_COMMIT.to_string(),
        strategy: config.session.strategy.name().to_string(),
        seed: config.session.seed,
        dataset,
        space: SpaceSummary {
            layers: space.layers(),
            width: d,
            blocks: space.blocks(),
            max_skip: space.max_skip(),
            allowed_edges: space.num_edges(),
            activation: space.activation(),
            aggregation: space.aggregation(),
            norm: space.norm(),
            ops: space.ops().to_vec(),
            maps: MapKeys::of(space),
        },
        best: BestSummary {
            edges: dag.edges().to_vec(),
            ops: dag.ops().to_vec(),
            maps: MapKeys::of(space),
            depth: best.record.metrics.depth,
            num_edges: dag.edges().len(),
            params: dag.params(space),
            flops: dag.flops(space),
            phase: best.record.phase,
            block: best.record.block,
            val_accuracy: best.record.val_accuracy,
            inherited_test_accuracy: inherited_test,
            test_accuracy: retrained.map_or(inherited_test, |r| r.best_test),
            retrained: retrained.is_some(),
            metrics: best.record.metrics.clone(),
        },
        baseline: BaselineSummary {
            edges: chain.edges().to_vec(),
            ops: chain.ops().to_vec(),
            params: chain.params(&mlp_space),
            flops: chain.flops(&mlp_space),
            test_accuracy: retrained.map(|r| r.baseline_test),
        },
        baseline_cnn: cnn.map(|(dag, s)| BaselineSummary {
            edges: dag.edges().to_vec(),
            ops: dag.ops().to_vec(),
            params: dag.params(&s),
            flops: dag.flops(&s),
            test_accuracy: retrained.and_then(|r| r.cnn.as_ref().map(|c| c.1)),
        }),
        onnx: None,
        resumed,
        interrupted,
        phases: state.phases.clone(),
        early_stops: state.early_stops.clone(),
        stages: stages_summary(config, space, state),
        hessian: state.hessian.clone(),
        timing,
    }
}
