//! A unit of an experiment (docs/experiments.md): a whole search, a random search
//! without weight sharing, one DAG trained alone from fresh weights, or one DAG's
//! training-free proxies. A unit is defined by everything that changes its
//! result, and its id is the SHA-256 of that definition's canonical JSON (with the
//! densenas version), so identical units run once and a changed option re-runs only
//! the units it changes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::model::dag::{Dag, DagMetrics};
use crate::model::device::Precision;
use crate::model::ops::{Op, Stem};
use crate::model::proxies::ProxyScores;
use crate::model::space::{default_ops, is_dense_only, Activation, Aggregation, Norm, Space, SpaceConfig};
use crate::search::random_standalone::{RandomStandaloneBudget, RandomStandaloneOutcome};
use crate::search::summary::Summary;
use crate::search::SearchConfig;
use crate::train::TrainConfig;

/// The version of how a unit's result follows from its definition: bumped whenever
/// the same definition gives another result or the id is computed another way, so an
/// experiment never reuses a stale result. 2: ids name the data by name and content,
/// and standalone and retraining results changed (the data order has its own stream).
pub const UNIT_ID_VERSION: u32 = 2;

/// The layers of a standalone network (what of a space a single DAG's network needs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkShape {
    /// Hidden layers `L`.
    pub layers: usize,
    /// Width `D`.
    pub width: usize,
    /// Activation.
    pub activation: Activation,
    /// Aggregation.
    pub aggregation: Aggregation,
    /// Normalisation.
    pub norm: Norm,
    /// The ops of a typed space (left out when only `dense`).
    #[serde(default = "default_ops", skip_serializing_if = "is_dense_only")]
    pub ops: Vec<Op>,
    /// The vertices' maps `[C, H, W]` of a typed space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<[usize; 3]>,
    /// The input's shape, when set explicitly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<[usize; 3]>,
    /// The stem.
    #[serde(default, skip_serializing_if = "Stem::is_dense")]
    pub stem: Stem,
}

impl NetworkShape {
    /// The space (one block, every forward edge allowed) for data of `features` and
    /// `classes` whose samples have the shape `data_shape` where known.
    pub fn space(&self, features: usize, classes: usize, data_shape: Option<[usize; 3]>) -> Result<Space> {
        let mut c = SpaceConfig::new(features, classes, self.layers, self.width);
        c.blocks = 1;
        c.activation = self.activation;
        c.aggregation = self.aggregation;
        c.norm = self.norm;
        c.ops = self.ops.clone();
        c.shape = self.shape;
        c.stem = self.stem;
        c.input_shape = self.input_shape.or(if self.stem == Stem::Conv { data_shape } else { None });
        Space::new(c)
    }

    /// The plain MLP's shape beside this one (dense edges and stem).
    pub fn plain_mlp(&self) -> NetworkShape {
        NetworkShape { ops: default_ops(), shape: None, input_shape: None, stem: Stem::Dense, ..self.clone() }
    }

    /// The plain CNN's shape beside a typed one (`conv3x3` edges, `conv` stem).
    pub fn plain_cnn(&self) -> NetworkShape {
        NetworkShape { ops: vec![Op::Conv3x3], stem: Stem::Conv, ..self.clone() }
    }
}

/// What a unit computes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum UnitSpec {
    /// A whole search, written as a run folder.
    Search {
        /// Its full configuration (data, subsample, space, strategy, seed, budgets).
        config: Box<SearchConfig>,
    },
    /// One DAG trained from fresh weights on the whole training file, then tested.
    Standalone {
        /// The `--data` spec.
        data: String,
        /// The training file's subsample.
        train_subsample: Option<usize>,
        /// The network's layers.
        shape: NetworkShape,
        /// The DAG.
        dag: Dag,
        /// The training budget and optimiser.
        train: TrainConfig,
        /// The seed (its retraining stream, as a search retrains its best).
        seed: u64,
        /// `cpu`, `cuda` or `cuda:N`.
        device: String,
        /// Tensor precision.
        precision: Precision,
        /// libtorch's deterministic algorithms (the search configuration's
        /// `session.deterministic`; left out when off, as definitions written before
        /// it existed).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        deterministic: bool,
    },
    /// Random search without weight sharing: the budget's DAGs trained alone on the
    /// weight split, the best by validation accuracy retrained and tested.
    RandomStandalone {
        /// The data, space, seed, split, batch size, optimiser and retraining (its
        /// strategy is not used and left at the default).
        config: Box<SearchConfig>,
        /// DAGs and epochs of each.
        budget: RandomStandaloneBudget,
    },
    /// The training-free proxies of one DAG at the weights its standalone training
    /// (the same data, shape, seed, device and precision) starts from, on the first
    /// samples of that training's data order.
    Proxies {
        /// The `--data` spec.
        data: String,
        /// The training file's subsample.
        train_subsample: Option<usize>,
        /// The network's layers (a ReLU space).
        shape: NetworkShape,
        /// The DAG.
        dag: Dag,
        /// The seed (the standalone training's).
        seed: u64,
        /// `cpu`, `cuda` or `cuda:N`.
        device: String,
        /// Tensor precision.
        precision: Precision,
    },
}

impl UnitSpec {
    /// The unit's id: the SHA-256 (hex) of the canonical JSON (sorted keys) of the
    /// definition, the densenas version and [`UNIT_ID_VERSION`], with the `--data` spec
    /// replaced by the dataset's name and content fingerprint
    /// ([`crate::data::identity`]): a study finds its finished units from any folder or
    /// machine, and reruns them when the data changed.
    pub fn id(&self) -> Result<String> {
        let mut unit = serde_json::to_value(self)?;
        let data = match self {
            UnitSpec::Search { config } | UnitSpec::RandomStandalone { config, .. } => &config.data,
            UnitSpec::Standalone { data, .. } | UnitSpec::Proxies { data, .. } => data,
        };
        let identity = serde_json::to_value(crate::data::identity::identity(data)?)?;
        // The object that holds the spec: the search's configuration, or the unit itself.
        let holder = match self {
            UnitSpec::Search { .. } | UnitSpec::RandomStandalone { .. } => unit.get_mut("config"),
            UnitSpec::Standalone { .. } | UnitSpec::Proxies { .. } => Some(&mut unit),
        };
        if let Some(serde_json::Value::Object(m)) = holder {
            m.insert("data".into(), identity);
        }
        let canonical = serde_json::json!({
            "densenas_version": crate::VERSION,
            "unit_id_version": UNIT_ID_VERSION,
            "unit": unit,
        })
        .to_string();
        Ok(Sha256::digest(canonical.as_bytes()).iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A short description for progress lines.
    pub fn describe(&self) -> String {
        match self {
            UnitSpec::Search { config } => format!(
                "search {} on {} L={} D={} k={} seed {}",
                config.session.strategy.name(),
                short_data(&config.data),
                config.space.layers,
                config.space.width,
                config.space.blocks,
                config.session.seed
            ),
            UnitSpec::Standalone { data, shape, dag, seed, .. } => format!(
                "train {} edges on {} L={} D={} seed {seed}",
                dag.edges().len(),
                short_data(data),
                shape.layers,
                shape.width
            ),
            UnitSpec::RandomStandalone { config, budget } => format!(
                "random search without weight sharing ({} DAGs x {} epochs) on {} L={} D={} seed {}",
                budget.dags,
                budget.epochs,
                short_data(&config.data),
                config.space.layers,
                config.space.width,
                config.session.seed
            ),
            UnitSpec::Proxies { data, shape, dag, seed, .. } => format!(
                "proxies of {} edges on {} L={} D={} seed {seed}",
                dag.edges().len(),
                short_data(data),
                shape.layers,
                shape.width
            ),
        }
    }
}

fn short_data(spec: &str) -> String {
    let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let first = rest.split(',').next().unwrap_or(rest);
    let last = first.rsplit('/').find(|s| !s.is_empty()).unwrap_or(first);
    if rest.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}:{last}")
    }
}

/// A block of a search's last phase (for its stage-2 standalone trainings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastBlock {
    /// Its DAG.
    pub dag: Dag,
    /// Its `alpha` at the phase's end.
    pub alpha: f64,
    /// Its inherited validation accuracy.
    pub val_accuracy: f64,
}

/// What a search unit produced (its run folder holds the rest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// `summary.json`.
    pub summary: Summary,
    /// The last phase's blocks, in block order.
    pub last_phase: Vec<LastBlock>,
    /// Wall-clock seconds of the unit.
    pub seconds: f64,
    /// The process's peak resident memory during the unit (bytes), where known.
    pub peak_memory_bytes: Option<u64>,
}

/// What a standalone unit produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StandaloneResult {
    /// The DAG.
    pub dag: Dag,
    /// Its metrics.
    pub metrics: DagMetrics,
    /// Parameters.
    pub params: usize,
    /// Forward FLOPs per sample.
    pub flops: usize,
    /// Test accuracy after training.
    pub test_accuracy: f64,
    /// Wall-clock seconds of the unit.
    pub seconds: f64,
    /// The process's peak resident memory during the unit (bytes), where known.
    pub peak_memory_bytes: Option<u64>,
}

/// What a random search without weight sharing produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomStandaloneResult {
    /// The candidates, the best, its retrained test accuracy and the timings.
    pub outcome: RandomStandaloneOutcome,
    /// Wall-clock seconds of the unit.
    pub seconds: f64,
    /// The process's peak resident memory during the unit (bytes), where known.
    pub peak_memory_bytes: Option<u64>,
}

/// What a proxies unit produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProxiesResult {
    /// The DAG.
    pub dag: Dag,
    /// Parameters (a baseline the proxies must beat).
    pub params: usize,
    /// Forward FLOPs per sample (the other baseline).
    pub flops: usize,
    /// The proxies' scores.
    pub scores: ProxyScores,
    /// Wall-clock seconds of the unit.
    pub seconds: f64,
}

/// A finished unit's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UnitResult {
    /// A search's.
    Search(Box<SearchResult>),
    /// A standalone training's.
    Standalone(StandaloneResult),
    /// A random search without weight sharing's.
    RandomStandalone(RandomStandaloneResult),
    /// A DAG's training-free proxies.
    Proxies(ProxiesResult),
}
