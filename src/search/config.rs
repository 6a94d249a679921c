//! The configuration of a whole search (`config.json` of a run folder): the space
//! options, phases and epochs, batch size, splits, schedule, the session's options,
//! retraining, threads and the research options.

use serde::{Deserialize, Serialize};

use crate::data::DataSplits;
use crate::error::{Error, Result};
use crate::model::ops::{Op, Stem};
use crate::model::space::{default_ops, is_dense_only, Activation, Aggregation, Norm, Space, SpaceConfig};
use crate::search::first_dags::DagSpec;
use crate::search::session::SessionOptions;
use crate::search::strategy::StrategyKind;
use crate::train::optim::LrSchedule;
use crate::train::TrainConfig;

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
    /// The vertices' maps `[C, H, W]` (typed spaces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<[usize; 3]>,
    /// The ops an edge may carry (default `["dense"]`).
    #[serde(skip_serializing_if = "is_dense_only")]
    pub ops: Vec<Op>,
    /// The input's shape `[C_in, H_in, W_in]` (default: what the data's loader knows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<[usize; 3]>,
    /// How sources receive the input (default `dense`).
    #[serde(skip_serializing_if = "Stem::is_dense")]
    pub stem: Stem,
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
            shape: None,
            ops: default_ops(),
            input_shape: None,
            stem: Stem::Dense,
        }
    }
}

impl SpaceOptions {
    /// The validated space for data with `features` and `classes` whose samples have
    /// the shape `data_shape` when the loader knows it (the default `input_shape`).
    pub fn space(&self, features: usize, classes: usize, data_shape: Option<[usize; 3]>) -> Result<Space> {
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
            shape: self.shape,
            ops: self.ops.clone(),
            input_shape: self.input_shape.or(if self.stem == Stem::Conv { data_shape } else { None }),
            stem: self.stem,
        })
    }
}

/// The full configuration of a search (`config.json` of a run folder).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// The `--data` spec.
    pub data: String,
    /// Train on a fixed stratified subset of this many samples of the training file
    /// (`null`: all of it); the test file stays whole.
    pub train_subsample: Option<usize>,
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
    /// libtorch's thread count, which is process-wide: set by the search when given;
    /// `null` (the library's default) leaves it as the process has it. The command line
    /// sets 1 unless told otherwise.
    pub threads: Option<usize>,
    /// The first phase's `k` blocks, given instead of drawn (`null`: drawn).
    pub first_dags: Option<Vec<DagSpec>>,
    /// The data of architecture steps: the validation split (default, as in DARTS) or
    /// the weight split; blocks are always judged on the validation split.
    pub arch_split: ArchSplit,
    /// Measure the largest eigenvalue of the architecture Hessian every this many epochs
    /// of a phase (`null`: never; not for the sampling strategies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hessian_every: Option<usize>,
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
            train_subsample: None,
            space: SpaceOptions::default(),
            phases: 5,
            epochs: 10,
            warmup_epochs: 0,
            batch_size: 64,
            val_fraction: 0.5,
            schedule: LrSchedule::Cosine,
            session: SessionOptions::default(),
            retrain: TrainConfig::default(),
            threads: None,
            first_dags: None,
            arch_split: ArchSplit::Validation,
            hessian_every: None,
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
        let config: SearchConfig = crate::util::json::from_value(value, "search configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks everything that can be checked before a search starts on `data`: what
    /// [`SearchConfig::validate`] checks, the space for the data's features and
    /// classes, and the session's options (device and precision included). Returns
    /// the space.
    pub fn validate_for(&self, data: &DataSplits) -> Result<Space> {
        self.validate()?;
        let space = self.space.space(data.train.features, data.train.classes, data.train.shape)?;
        self.session.validate(&space)?;
        crate::search::stages::StagePlan::of(self, &space)?;
        Ok(space)
    }

    /// Sets the count `field` to `value`, a signed number from a caller that takes
    /// `--width -5` so as to say what is wrong with it (the command line); `set` puts a
    /// count in place. A negative value is refused as out of range, with the least
    /// value this configuration's own validation accepts there (see
    /// [`least_count`]).
    pub fn set_count(&mut self, field: &str, value: i64, set: impl Fn(&mut SearchConfig, usize)) -> Result<()> {
        let count = signed_count(field, value, |v| {
            let mut probe = self.clone();
            set(&mut probe, v);
            probe.validate()?;
            // Features and classes do not bound the space's counts: the least data.
            probe.space.space(1, 2, None).map(|_| ())
        })?;
        set(self, count);
        Ok(())
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
        if self.session.strategy == StrategyKind::Pdarts {
            crate::search::stages::stage_phases(self.phases, self.session.strategy_options.pdarts.stages)?;
        }
        range("epochs", self.epochs, 1, 100_000)?;
        range("warmup_epochs", self.warmup_epochs, 0, 100_000)?;
        range("batch_size", self.batch_size, 1, 1 << 20)?;
        if let Some(threads) = self.threads {
            range("threads", threads, 1, 1024)?;
        }
        if !(self.val_fraction > 0.0 && self.val_fraction < 1.0) {
            return Err(Error::config("val_fraction", format!("{} is out of range: allowed (0, 1)", self.val_fraction)));
        }
        self.validate_monitor()?;
        self.session.validate_alone().map_err(|e| match e {
            Error::Config { field, message } => Error::config(format!("session.{field}"), message),
            other => other,
        })?;
        self.retrain.validate()
    }

    /// Checks `hessian_every` (a positive count, not for the sampling strategies) and
    /// that DARTS+'s Hessian rule has measurements to work on.
    fn validate_monitor(&self) -> Result<()> {
        let strategy = self.session.strategy;
        if let Some(n) = self.hessian_every {
            if n == 0 {
                return Err(Error::config("hessian_every", "0 is out of range: at least 1"));
            }
            if strategy.is_sampling() {
                return Err(Error::config(
                    "hessian_every",
                    format!("the Hessian monitor is not for the sampling strategy {}: its loss mixes all blocks by softmax(alpha)", strategy.name()),
                ));
            }
        }
        let rise = self.session.strategy_options.darts_plus.hessian_rise;
        if strategy == StrategyKind::DartsPlus && rise.is_some() && self.hessian_every.is_none() {
            return Err(Error::config(
                "session.strategy_options.darts_plus.hessian_rise",
                "the Hessian rule needs measurements: set hessian_every (--hessian-every N)",
            ));
        }
        Ok(())
    }

    /// The keys (dotted paths) whose values differ between `self` and `other`, to say
    /// why a checkpoint does not belong to a configuration.
    pub fn differences(&self, other: &SearchConfig) -> Vec<String> {
        fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
            match (a, b) {
                (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                    let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                    keys.sort();
                    keys.dedup();
                    for k in keys {
                        let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                        let null = serde_json::Value::Null;
                        walk(&p, x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null), out);
                    }
                }
                _ if a != b => out.push(format!("{path}: {a} here, {b} there")),
                _ => {}
            }
        }
        let (a, b) = (serde_json::to_value(self), serde_json::to_value(other));
        let mut out = Vec::new();
        if let (Ok(a), Ok(b)) = (a, b) {
            walk("", &a, &b, &mut out);
        }
        out
    }
}

/// `value`, a signed number given for the count `field`, as a count; a negative one is
/// refused as out of range (`width: -5 is out of range: at least 1`), with the least
/// value `check` accepts (see [`least_count`]).
pub fn signed_count(field: &str, value: i64, check: impl Fn(usize) -> Result<()>) -> Result<usize> {
    usize::try_from(value)
        .map_err(|_| Error::config(field, format!("{value} is out of range: at least {}", least_count(field, check))))
}

/// The least count the engine's validation `check` (run with a candidate count in
/// place) accepts for `field`: 1 when it refuses 0 naming `field`, else 0. No range
/// is written twice: the validation that refuses 0 is the one that says so.
pub fn least_count(field: &str, check: impl Fn(usize) -> Result<()>) -> usize {
    match check(0) {
        Err(Error::Config { field: f, .. }) if f == field => 1,
        _ => 0,
    }
}
