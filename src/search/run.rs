//! A whole search (DESIGN.md sections 3-4): `P` phases of alternating weight and
//! architecture steps over the weight and validation splits, the density resampling
//! between phases, then the retraining of the best DAG and of the chain baseline with
//! the same budget, and the test accuracies.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::model::dag::Dag;
use crate::search::first_dags::{resolve, DagSpec};
use crate::data::{DataSplits, Dataset, SplitTensors};
use crate::error::{Error, Result};
use crate::model::network::{Network, Normalization};
use crate::train::optim::LrSchedule;
use crate::search::session::{HistoryRecord, PhaseReport, Session, SessionOptions};
use crate::model::space::{Activation, Aggregation, Norm, Space, SpaceConfig};
use crate::search::summary::{BaselineSummary, BestSummary, DatasetSummary, PhaseSummary, SpaceSummary, Summary, Timing};
use crate::train::{evaluate_network, train_dag, TrainConfig, RETRAIN_BASELINE_STREAM, RETRAIN_BEST_STREAM};

/// The space options of a search (features and classes come from the data).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpaceOptions {
    /// Hidden layers `L`.
    pub layers: usize,
    /// Width `D`.
    pub width: usize,
    /// Blocks `k`.
    pub blocks: usize,
    /// Longest skip `S` (default `L - 1`).
    pub max_skip: Option<usize>,
    /// Activation.
    pub activation: Activation,
    /// Aggregation.
    pub aggregation: Aggregation,
    /// Normalisation.
    pub norm: Norm,
    /// Fewest edges per drawn DAG.
    pub min_edges: Option<usize>,
    /// Most edges per drawn DAG.
    pub max_edges: Option<usize>,
}

impl Default for SpaceOptions {
    fn default() -> Self {
        SpaceOptions {
            layers: 6,
            width: 256,
            blocks: 8,
            max_skip: None,
            activation: Activation::Relu,
            aggregation: Aggregation::Sum,
            norm: Norm::None,
            min_edges: None,
            max_edges: None,
        }
    }
}

impl SpaceOptions {
    /// The validated space for data with `features` and `classes`.
    pub fn space(&self, features: usize, classes: usize) -> Result<Space> {
        Space::new(SpaceConfig {
            features,
            classes,
            layers: self.layers,
            width: self.width,
            blocks: self.blocks,
            max_skip: self.max_skip,
            activation: self.activation,
            aggregation: self.aggregation,
            norm: self.norm,
            min_edges: self.min_edges,
            max_edges: self.max_edges,
        })
    }
}

/// The full configuration of a search (`config.json` of a run folder).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// The `--data` spec.
    pub data: String,
    /// The space.
    pub space: SpaceOptions,
    /// Phases `P`.
    pub phases: usize,
    /// Epochs of alternating steps per phase.
    pub epochs: usize,
    /// Weight-only epochs at the start of each phase.
    pub warmup_epochs: usize,
    /// Batch size of weight and architecture steps.
    pub batch_size: usize,
    /// Fraction of the training file in the validation split.
    pub val_fraction: f64,
    /// Weight learning-rate schedule over the whole search.
    pub schedule: LrSchedule,
    /// The session (strategy, seed, optimisers, density, device).
    pub session: SessionOptions,
    /// Retraining of the best DAG and the chain baseline (`epochs` 0: none).
    pub retrain: TrainConfig,
    /// libtorch threads.
    pub threads: usize,
    /// The first phase's `k` blocks, given instead of drawn (`null`: drawn).
    pub first_dags: Option<Vec<DagSpec>>,
    /// The data of architecture steps: the validation split (default, as in DARTS) or
    /// the weight split; blocks are always judged on the validation split.
    pub arch_split: ArchSplit,
}

/// Which split architecture steps use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchSplit {
    /// The validation split (bi-level, as in DARTS).
    #[default]
    Validation,
    /// The weight split (single-level); the validation split then only judges blocks.
    Weight,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            data: "digits".into(),
            space: SpaceOptions::default(),
            phases: 5,
            epochs: 10,
            warmup_epochs: 0,
            batch_size: 64,
            val_fraction: 0.5,
            schedule: LrSchedule::Cosine,
            session: SessionOptions::default(),
            retrain: TrainConfig::default(),
            threads: 1,
            first_dags: None,
            arch_split: ArchSplit::Validation,
        }
    }
}

impl SearchConfig {
    /// Parses a configuration in the form of a run folder's `config.json` (missing keys
    /// take their defaults, unknown keys are refused; the informative
    /// `densenas_version` and `git_commit` keys are skipped) and validates it.
    pub fn from_json(text: &str) -> Result<SearchConfig> {
        let mut value: serde_json::Value = crate::util::json::from_json_object(text, "search configuration")?;
        if let Some(map) = value.as_object_mut() {
            map.remove("densenas_version");
            map.remove("git_commit");
        }
        let config: SearchConfig = serde_json::from_value(value).map_err(|e| Error::ConfigParse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what the space and session do not check themselves.
    pub fn validate(&self) -> Result<()> {
        let range = |field: &str, v: usize, lo: usize, hi: usize| {
            if v < lo || v > hi {
                Err(Error::config(field, format!("{v} is out of range: allowed {lo}..={hi}")))
            } else {
                Ok(())
            }
        };
        range("phases", self.phases, 1, 10_000)?;
        range("epochs", self.epochs, 1, 100_000)?;
        range("warmup_epochs", self.warmup_epochs, 0, 100_000)?;
        range("batch_size", self.batch_size, 1, 1 << 20)?;
        range("threads", self.threads, 1, 1024)?;
        if !(self.val_fraction > 0.0 && self.val_fraction < 1.0) {
            return Err(Error::config("val_fraction", format!("{} is out of range: allowed (0, 1)", self.val_fraction)));
        }
        self.retrain.validate()
    }
}

/// Progress of a search, for display.
#[derive(Clone, Debug)]
pub enum Event<'a> {
    /// An epoch of a phase ended.
    Epoch {
        /// Phase (from 0).
        phase: usize,
        /// Epoch within the phase (warm-up included, from 0).
        epoch: usize,
        /// Epochs in the phase.
        epochs: usize,
        /// Mean weight-step loss.
        weight_loss: f64,
        /// Mean architecture-step loss (NaN in warm-up).
        arch_loss: f64,
        /// Entropy (nats) of the block weights now.
        weight_entropy: f64,
    },
    /// A weight step (and its architecture step, after warm-up) ended.
    Step {
        /// Phase (from 0).
        phase: usize,
        /// Step within the phase (from 0).
        step: usize,
        /// Steps in the phase.
        steps: usize,
        /// The weight step's loss.
        weight_loss: f64,
        /// The architecture step's loss (NaN in warm-up).
        arch_loss: f64,
    },
    /// A phase ended.
    Phase(&'a PhaseReport),
    /// A retraining epoch ended.
    Retrain {
        /// `best` or `baseline`.
        which: &'static str,
        /// Epoch (from 0).
        epoch: usize,
        /// Epochs in all.
        epochs: usize,
        /// Mean training loss.
        loss: f64,
    },
}

/// Everything a search produced.
pub struct SearchOutcome {
    /// The summary (DESIGN.md section 7).
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

fn entropy(w: &[f64]) -> f64 {
    -w.iter().filter(|&&p| p > 0.0).map(|&p| p * p.ln()).sum::<f64>()
}

/// Runs a whole search on `data` and returns its outcome.
pub fn run_search(config: &SearchConfig, data: &DataSplits, on_event: &mut dyn FnMut(Event<'_>)) -> Result<SearchOutcome> {
    run_search_until(config, data, on_event, &AtomicBool::new(false))
}

/// Runs a whole search that stops early when `stop` becomes true: the current step
/// finishes, the current phase ends there (its blocks are judged), retraining is
/// skipped, and the summary is marked `interrupted`.
pub fn run_search_until(
    config: &SearchConfig,
    data: &DataSplits,
    on_event: &mut dyn FnMut(Event<'_>),
    stop: &AtomicBool,
) -> Result<SearchOutcome> {
    config.validate()?;
    let (weight_split, val_split) = data.weight_val(config.val_fraction, config.session.seed)?;
    run_search_on_splits(config, data, &weight_split, &val_split, on_event, stop)
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
    config.validate()?;
    tch::set_num_threads(config.threads as i32);
    let space = config.space.space(data.train.features, data.train.classes)?;
    let normalization = Normalization::from_data(&data.train.x, data.train.features)?;
    let mut session = Session::new(&space, config.session.clone(), normalization.clone())?;
    if let Some(specs) = &config.first_dags {
        let dags = resolve(specs, &space, session.rng_mut())?;
        session.set_blocks(dags)?;
    }
    let device = session.device();
    let weight_t = SplitTensors::new(weight_split, device)?;
    let val_t = SplitTensors::new(val_split, device)?;
    // The data of architecture steps.
    let (arch_t, n_arch_split) = match config.arch_split {
        ArchSplit::Validation => (&val_t, val_split.len()),
        ArchSplit::Weight => (&weight_t, weight_split.len()),
    };

    let start = Instant::now();
    let mut samples = 0usize;
    let n_w = weight_split.len();
    let steps_per_epoch = n_w.div_ceil(config.batch_size);
    let epochs_per_phase = config.warmup_epochs + config.epochs;
    let total_steps = steps_per_epoch * epochs_per_phase * config.phases;
    let base_lr = config.session.weight_optimizer.lr;
    let mut step = 0usize;
    let mut density = vec![session.density().probabilities().to_vec()];
    let mut phases = Vec::new();
    let mut val_order: Vec<i64> = Vec::new();
    let mut interrupted = false;
    let mut alpha_trace = Vec::new();
    for phase in 0..config.phases {
        alpha_trace.push(Vec::new());
        let mut phase_step = 0;
        for epoch in 0..epochs_per_phase {
            if interrupted {
                break;
            }
            let warmup = epoch < config.warmup_epochs;
            let order = session.shuffled(n_w);
            let (mut wl, mut al, mut n_arch) = (0.0, 0.0, 0usize);
            for chunk in order.chunks(config.batch_size) {
                if stop.load(Ordering::Relaxed) {
                    interrupted = true;
                    break;
                }
                session.set_weight_lr(config.schedule.lr(base_lr, step, total_steps));
                // Fraction of this phase done: the strategies' temperature schedules.
                let phase_steps = steps_per_epoch * epochs_per_phase;
                session.set_progress((step % phase_steps) as f64 / phase_steps as f64);
                let (x, y) = weight_t.rows(&Tensor::f_from_slice(chunk)?.f_to_device(device)?)?;
                let weight_loss = session.step_weights(&x, &y)?;
                wl += weight_loss * chunk.len() as f64;
                samples += chunk.len();
                step += 1;
                let mut arch_loss = f64::NAN;
                if !warmup {
                    if val_order.len() < config.batch_size.min(n_arch_split) {
                        val_order = session.shuffled(n_arch_split);
                    }
                    let take: Vec<i64> = val_order.drain(..config.batch_size.min(val_order.len())).collect();
                    let (xv, yv) = arch_t.rows(&Tensor::f_from_slice(&take)?.f_to_device(device)?)?;
                    arch_loss = session.step_architecture(&xv, &yv)?;
                    al += arch_loss * take.len() as f64;
                    n_arch += take.len();
                    samples += take.len();
                }
                alpha_trace[phase].push(session.alpha()?);
                on_event(Event::Step {
                    phase,
                    step: phase_step,
                    steps: steps_per_epoch * epochs_per_phase,
                    weight_loss,
                    arch_loss,
                });
                phase_step += 1;
            }
            on_event(Event::Epoch {
                phase,
                epoch,
                epochs: epochs_per_phase,
                weight_loss: wl / n_w as f64,
                arch_loss: if n_arch > 0 { al / n_arch as f64 } else { f64::NAN },
                weight_entropy: entropy(&session.block_weights()?),
            });
        }
        let report = session.end_phase(&val_t.x, &val_t.y)?;
        density.push(session.density().probabilities().to_vec());
        let accs: Vec<f64> = report.records.iter().map(|r| r.val_accuracy).collect();
        phases.push(PhaseSummary {
            phase,
            best_val_accuracy: accs.iter().cloned().fold(0.0, f64::max),
            mean_val_accuracy: accs.iter().sum::<f64>() / accs.len() as f64,
            density_entropy_bits: report.density_entropy_bits,
            kendall_tau: kendall_tau(
                &report.records.iter().map(|r| r.alpha).collect::<Vec<_>>(),
                &accs,
            ),
        });
        on_event(Event::Phase(&report));
        if interrupted || stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
    }
    let search_seconds = start.elapsed().as_secs_f64();
    let best = session.best().ok_or_else(|| Error::State("no phase ended".into()))?;
    let test_t = SplitTensors::new(&data.test, device)?;
    let kind = session.kind();
    let (inherited_test, _) = evaluate_network(&best.network, &test_t, kind)?;

    // Retraining from scratch on the whole training file, best and baseline alike.
    let retrain_start = Instant::now();
    let (best_network, baseline_network, best_test, baseline_test) = if config.retrain.epochs > 0 && !interrupted {
        let train_t = SplitTensors::new(&data.train, device)?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.session.seed);
        rng.set_stream(RETRAIN_BEST_STREAM);
        let retrain = |dag: &Dag, which: &'static str, rng: &mut ChaCha8Rng, on_event: &mut dyn FnMut(Event<'_>)| {
            let epochs = config.retrain.epochs;
            train_dag(&space, dag, &normalization, &train_t, &config.retrain, kind, device, rng, &mut |epoch, loss| {
                on_event(Event::Retrain { which, epoch, epochs, loss })
            })
        };
        let net = retrain(&best.record.dag, "best", &mut rng, on_event)?;
        let mut rng_base = ChaCha8Rng::seed_from_u64(config.session.seed);
        rng_base.set_stream(RETRAIN_BASELINE_STREAM);
        let base = retrain(&Dag::chain(space.layers()), "baseline", &mut rng_base, on_event)?;
        let (bt, _) = evaluate_network(&net, &test_t, kind)?;
        let (ct, _) = evaluate_network(&base, &test_t, kind)?;
        (net, Some(base), bt, Some(ct))
    } else {
        (best.network.detached_copy()?, None, inherited_test, None)
    };
    let retrain_seconds = retrain_start.elapsed().as_secs_f64();

    let chain = Dag::chain(space.layers());
    let layer_norm = space.norm() == Norm::Layernorm;
    let (f, d, c) = (space.features(), space.width(), space.classes());
    let best_dag = &best.record.dag;
    let summary = Summary {
        densenas_version: crate::VERSION.to_string(),
        git_commit: crate::GIT_COMMIT.to_string(),
        strategy: config.session.strategy.name().to_string(),
        seed: config.session.seed,
        dataset: dataset_summary(&data.train, weight_split, val_split, &data.test, &config.data),
        space: SpaceSummary {
            layers: space.layers(),
            width: d,
            blocks: space.blocks(),
            max_skip: space.max_skip(),
            allowed_edges: space.num_edges(),
            activation: space.activation(),
            aggregation: space.aggregation(),
            norm: space.norm(),
        },
        best: BestSummary {
            edges: best_dag.edges().to_vec(),
            depth: best.record.metrics.depth,
            num_edges: best_dag.edges().len(),
            params: best_dag.params(f, d, c, layer_norm),
            flops: best_dag.flops(f, d, c),
            phase: best.record.phase,
            block: best.record.block,
            val_accuracy: best.record.val_accuracy,
            inherited_test_accuracy: inherited_test,
            test_accuracy: best_test,
            retrained: config.retrain.epochs > 0 && !interrupted,
            metrics: best.record.metrics.clone(),
        },
        baseline: BaselineSummary {
            edges: chain.edges().to_vec(),
            params: chain.params(f, d, c, layer_norm),
            flops: chain.flops(f, d, c),
            test_accuracy: baseline_test,
        },
        onnx: None,
        interrupted,
        phases,
        timing: Timing {
            search_seconds,
            retrain_seconds,
            samples_per_second: samples as f64 / search_seconds.max(1e-9),
        },
    };
    Ok(SearchOutcome {
        summary,
        history: session.history().to_vec(),
        density,
        best_network,
        baseline_network,
        alpha_trace,
    })
}

/// Kendall's tau-b between two rankings of the same items (ties handled), or `None`
/// when one of them is constant (for example `alpha` of a strategy without `alpha`).
pub fn kendall_tau(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    let (mut concordant, mut discordant, mut ties_a, mut ties_b) = (0f64, 0f64, 0f64, 0f64);
    for i in 0..n {
        for j in i + 1..n {
            let (da, db) = (a[i] - a[j], b[i] - b[j]);
            if da == 0.0 && db == 0.0 {
                continue;
            } else if da == 0.0 {
                ties_a += 1.0;
            } else if db == 0.0 {
                ties_b += 1.0;
            } else if (da > 0.0) == (db > 0.0) {
                concordant += 1.0;
            } else {
                discordant += 1.0;
            }
        }
    }
    let denom = ((concordant + discordant + ties_a) * (concordant + discordant + ties_b)).sqrt();
    (denom > 0.0).then(|| (concordant - discordant) / denom)
}

fn dataset_summary(train: &Dataset, weight: &Dataset, val: &Dataset, test: &Dataset, spec: &str) -> DatasetSummary {
    DatasetSummary {
        name: train.name.clone(),
        spec: spec.to_string(),
        train: weight.len(),
        val: val.len(),
        test: test.len(),
        features: train.features,
        classes: train.classes,
    }
}
