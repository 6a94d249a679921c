//! Search strategies (docs/architecture.md): how the block weights `w` are derived from
//! `alpha` for a forward pass, and how the architecture gradient is computed.
//!
//! | name | file | forward pass | blocks computed per step |
//! |---|---|---|---|
//! | `darts` | [`darts`](Darts) | `softmax(alpha)`, first order | all `k` |
//! | `darts-plus` | [`darts_plus`](DartsPlus) | as `darts`, with early stopping rules | all `k` |
//! | `pdarts` | [`pdarts`](Pdarts) | as `darts`, in stages of rising depth with pruning | all `k` |
//! | `darts2` | [`darts2`](Darts2) | as `darts`, gradient through one unrolled SGD step | all `k` (about 3x `darts`) |
//! | `snas` | [`snas`](Snas) | relaxed Gumbel-softmax sample, annealed temperature | all `k` |
//! | `gdas` | [`gdas`](Gdas) | hard Gumbel sample, straight-through gradient | one |
//! | `proxyless` | [`proxyless`](Proxyless) | sampled binary gates, BinaryConnect gradient | one or two |
//! | `drnas` | [`drnas`](Drnas) | Dirichlet sample, concentration `elu(alpha) + 1` | all `k` |
//! | `random` | [`random`](RandomSampling) | uniform one-block sampling, no `alpha` | one |
//!
//! A strategy sees the supernet, the blocks and `alpha` through a [`StepContext`];
//! all its randomness comes from the session's RNG in the context. Hyper-parameters
//! live in [`StrategyOptions`] (the session options' `strategy_options` key).

mod darts;
mod darts2;
mod darts_plus;
mod pdarts;
mod drnas;
mod gdas;
mod proxyless;
mod random;
mod snas;

pub use darts::Darts;
pub use darts2::{Darts2, Darts2Config};
pub use pdarts::{Pdarts, PdartsConfig};
pub use darts_plus::{alpha_order, identity_edges, strict_leader, DartsPlus, DartsPlusConfig, EarlyStop, StopMonitor, StopRule};
pub use drnas::{concentration, dirichlet_sample, gamma_noise, kl_dirichlet, Drnas, DrnasConfig};
pub use gdas::{Gdas, GdasConfig};
pub use proxyless::{Proxyless, ProxylessConfig, ProxylessSample};
pub use random::RandomSampling;
pub use snas::{relaxed_sample, Snas, SnasConfig};

use rand::distributions::Open01;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::model::dag::Dag;
use crate::error::{Error, Result};
pub use crate::train::cross_entropy;
use crate::model::supernet::{BlockMasks, Supernet};

/// The strategies by their CLI/API names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyKind {
    /// First-order DARTS: `w = softmax(alpha)`, all blocks every step.
    #[default]
    Darts,
    /// Second-order DARTS: the architecture gradient through one unrolled plain-SGD
    /// weight step, its Hessian-vector product by finite differences.
    Darts2,
    /// DARTS+: first-order DARTS whose phases stop early (ranking, skip and Hessian
    /// rules).
    #[serde(rename = "darts-plus")]
    DartsPlus,
    /// P-DARTS: first-order DARTS in stages of rising depth that prune the density's
    /// candidates.
    Pdarts,
    /// SNAS: a relaxed Gumbel-softmax sample of `w`, temperature annealed.
    Snas,
    /// GDAS: a hard Gumbel-max sample (one block per step), straight-through gradient.
    Gdas,
    /// ProxylessNAS: sampled binary gates (one or two paths per step), BinaryConnect
    /// gradient for `alpha`.
    Proxyless,
    /// DrNAS: a Dirichlet sample with concentration `elu(alpha) + 1`, reparameterised,
    /// with a KL regulariser towards an anchor Dirichlet.
    Drnas,
    /// Random sampling: one uniform block per weight step, no `alpha`; blocks ranked by
    /// validation accuracy.
    Random,
}

impl StrategyKind {
    /// Every strategy this build implements.
    pub const ALL: &'static [StrategyKind] = &[
        StrategyKind::Darts,
        StrategyKind::Darts2,
        StrategyKind::DartsPlus,
        StrategyKind::Pdarts,
        StrategyKind::Snas,
        StrategyKind::Gdas,
        StrategyKind::Proxyless,
        StrategyKind::Drnas,
        StrategyKind::Random,
    ];

    /// The CLI/API name.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Darts => "darts",
            StrategyKind::Darts2 => "darts2",
            StrategyKind::DartsPlus => "darts-plus",
            StrategyKind::Pdarts => "pdarts",
            StrategyKind::Snas => "snas",
            StrategyKind::Gdas => "gdas",
            StrategyKind::Proxyless => "proxyless",
            StrategyKind::Drnas => "drnas",
            StrategyKind::Random => "random",
        }
    }

    /// Parses a CLI/API name; the error lists the known names.
    pub fn parse(name: &str) -> Result<StrategyKind> {
        StrategyKind::ALL.iter().copied().find(|s| s.name() == name).ok_or_else(|| {
            let known: Vec<_> = StrategyKind::ALL.iter().map(|s| s.name()).collect();
            Error::config("strategy", format!("unknown strategy {name:?}: known strategies are {}", known.join(", ")))
        })
    }

    /// Whether a step computes only the sampled block(s), so that its cost does not
    /// grow with `k`.
    pub fn is_sampling(self) -> bool {
        matches!(self, StrategyKind::Gdas | StrategyKind::Proxyless | StrategyKind::Random)
    }

    /// Whether beta regularisation applies: strategies whose block weights are a
    /// softmax of `alpha` over all blocks (not `drnas`, whose `alpha` is a Dirichlet
    /// concentration, nor the sampling strategies).
    pub fn takes_beta_regularisation(self) -> bool {
        matches!(self, StrategyKind::Darts | StrategyKind::Darts2 | StrategyKind::Snas | StrategyKind::DartsPlus | StrategyKind::Pdarts)
    }

    /// A fresh strategy object with default hyper-parameters.
    pub fn build(self) -> Box<dyn Strategy> {
        self.build_with(&StrategyOptions::default())
    }

    /// A fresh strategy object with the hyper-parameters of `options`.
    pub fn build_with(self, options: &StrategyOptions) -> Box<dyn Strategy> {
        match self {
            StrategyKind::Darts => Box::new(Darts),
            StrategyKind::Darts2 => Box::new(Darts2::new(options.darts2.clone())),
            StrategyKind::DartsPlus => Box::new(DartsPlus::new(options.darts_plus.clone())),
            StrategyKind::Pdarts => Box::new(Pdarts),
            StrategyKind::Snas => Box::new(Snas::new(options.snas.clone())),
            StrategyKind::Gdas => Box::new(Gdas::new(options.gdas.clone())),
            StrategyKind::Proxyless => Box::new(Proxyless::new(options.proxyless.clone())),
            StrategyKind::Drnas => Box::new(Drnas::new(options.drnas.clone())),
            StrategyKind::Random => Box::new(RandomSampling::default()),
        }
    }
}

impl std::str::FromStr for StrategyKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        StrategyKind::parse(s)
    }
}

/// The strategies' hyper-parameters, one section per strategy that has any (`darts`
/// and `random` have none). Every key is optional; unknown keys are refused. In the
/// session options JSON: `"strategy_options": {"gdas": {"tau_max": 5}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyOptions {
    /// Second-order DARTS.
    pub darts2: Darts2Config,
    /// DARTS+ (left out of serialisations while at its defaults, so that the
    /// configurations and unit ids of earlier versions stay as they were).
    #[serde(skip_serializing_if = "is_default")]
    pub darts_plus: DartsPlusConfig,
    /// P-DARTS (left out of serialisations while at its defaults).
    #[serde(skip_serializing_if = "is_default")]
    pub pdarts: PdartsConfig,
    /// SNAS.
    pub snas: SnasConfig,
    /// GDAS.
    pub gdas: GdasConfig,
    /// ProxylessNAS.
    pub proxyless: ProxylessConfig,
    /// DrNAS.
    pub drnas: DrnasConfig,
}

impl StrategyOptions {
    /// Checks every value's range, naming the field.
    pub fn validate(&self) -> Result<()> {
        self.darts2.validate()?;
        self.darts_plus.validate()?;
        self.pdarts.validate()?;
        self.snas.validate()?;
        self.gdas.validate()?;
        self.proxyless.validate()?;
        self.drnas.validate()
    }
}

/// Whether `v` is its type's default (serialisations leave such sections out).
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Checks that `v` is finite and in `[lo, hi]`, naming `field` otherwise.
pub(crate) fn check_range(field: &str, v: f64, lo: f64, hi: f64) -> Result<()> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(Error::config(field, format!("{v} is out of range: allowed [{lo}, {hi}]")))
    }
}

/// Which half of the bi-level optimisation a forward pass serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// A weight step (`alpha` fixed).
    Weights,
    /// An architecture step (weights fixed).
    Architecture,
}

/// What a strategy may use during a step.
pub struct StepContext<'a> {
    /// The shared weights.
    pub supernet: &'a Supernet,
    /// The blocks' DAGs.
    pub dags: &'a [Dag],
    /// The blocks' masks.
    pub masks: &'a BlockMasks,
    /// The architecture parameters `[k]` (a leaf that requires grad).
    pub alpha: &'a Tensor,
    /// The session's RNG.
    pub rng: &'a mut ChaCha8Rng,
    /// Fraction of the current phase done, in `[0, 1]` (temperature schedules).
    pub progress: f64,
    /// The shared weights' current learning rate (`darts2`'s unrolled step).
    pub weight_lr: f64,
    /// The last weight-split batch `(x, y)` (`darts2`'s unrolled step), on the
    /// session's device.
    pub train_batch: Option<(&'a Tensor, &'a Tensor)>,
    /// The identity op's dropout rate in weight steps (`pdarts`; 0: none).
    pub identity_dropout: f64,
}

impl<'a> StepContext<'a> {
    /// A context at progress 0, weight learning rate 0.05, no training batch and no
    /// identity dropout.
    pub fn new(
        supernet: &'a Supernet,
        dags: &'a [Dag],
        masks: &'a BlockMasks,
        alpha: &'a Tensor,
        rng: &'a mut ChaCha8Rng,
    ) -> StepContext<'a> {
        StepContext { supernet, dags, masks, alpha, rng, progress: 0.0, weight_lr: 0.05, train_batch: None, identity_dropout: 0.0 }
    }

    /// Number of blocks.
    pub fn k(&self) -> usize {
        self.dags.len()
    }

    /// `alpha` as plain numbers.
    pub fn alpha_values(&self) -> Result<Vec<f64>> {
        Ok(Vec::<f64>::try_from(&self.alpha.f_detach()?.f_to_kind(Kind::Double)?)?)
    }

    /// Logits `[k, B, C]` of every block. In an architecture step only `alpha` is
    /// differentiated, so the supernet runs without a graph (no activations kept).
    pub fn logits_all(&self, x: &Tensor, step: StepKind) -> Result<Tensor> {
        match step {
            StepKind::Weights => self.supernet.forward_all(x, self.masks),
            StepKind::Architecture => {
                let _guard = tch::no_grad_guard();
                self.supernet.forward_all(x, self.masks)
            }
        }
    }

    /// Logits `[k, B, C]` of every block for a weight step with the identity op's
    /// output dropped at rate `identity_dropout` (drawn from the session's RNG).
    pub fn logits_all_dropping_identity(&mut self, x: &Tensor) -> Result<Tensor> {
        self.supernet.forward_all_with_identity_dropout(x, self.masks, self.identity_dropout, self.rng)
    }

    /// Logits `[B, C]` of block `b` alone (graph kept only in weight steps).
    pub fn logits_block(&self, x: &Tensor, b: usize, step: StepKind) -> Result<Tensor> {
        match step {
            StepKind::Weights => self.supernet.forward_dag(x, &self.dags[b]),
            StepKind::Architecture => {
                let _guard = tch::no_grad_guard();
                self.supernet.forward_dag(x, &self.dags[b])
            }
        }
    }
}

/// Cloning a boxed strategy (a session copies its strategy before a step and keeps
/// the copy only when the step succeeds, so a failed step changes nothing).
pub trait StrategyClone {
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn Strategy>;
}

impl<T: Strategy + Clone + 'static> StrategyClone for T {
    fn clone_box(&self) -> Box<dyn Strategy> {
        Box::new(self.clone())
    }
}

/// A search strategy.
pub trait Strategy: Send + StrategyClone {
    /// The CLI/API name.
    fn kind(&self) -> StrategyKind;

    /// The supernet's logits `[B, C]` for raw features `x` in a step of kind `step`.
    fn forward(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, step: StepKind) -> Result<Tensor>;

    /// The block weights `w` implied by `alpha` (non-negative, summing to 1): reported
    /// in the history and, unless [`Strategy::feedback`] says otherwise, used as the
    /// density's feedback.
    fn block_weights(&self, alpha: &Tensor) -> Result<Vec<f64>>;

    /// The density's feedback weights `r` at the end of a phase (non-negative, summing
    /// to 1). `ranking` lists the blocks from best to worst validation accuracy. The
    /// default: [`Strategy::block_weights`].
    fn feedback(&self, alpha: &Tensor, ranking: &[usize]) -> Result<Vec<f64>> {
        let _ = ranking;
        self.block_weights(alpha)
    }

    /// Whether architecture steps change `alpha`.
    fn trains_alpha(&self) -> bool {
        true
    }

    /// The temperature of the strategy's relaxation at `progress` (fraction of the
    /// phase done), for strategies that have one.
    fn temperature(&self, progress: f64) -> Option<f64> {
        let _ = progress;
        None
    }

    /// The architecture step's loss and its gradient with respect to `alpha`.
    /// The default: cross-entropy of [`Strategy::forward`], differentiated through
    /// `alpha` only.
    fn architecture_gradient(&mut self, ctx: &mut StepContext<'_>, x: &Tensor, y: &Tensor) -> Result<(f64, Tensor)> {
        let logits = self.forward(ctx, x, StepKind::Architecture)?;
        let loss = cross_entropy(&logits, y)?;
        let value = loss.f_double_value(&[])?;
        let mut grads = Tensor::f_run_backward(&[&loss], &[ctx.alpha], false, false)?;
        Ok((value, grads.remove(0)))
    }

    /// DARTS+'s stopping rules, for the strategy that has them (the search loop checks
    /// them through a [`StopMonitor`]). The default: none.
    fn stopping_rules(&self) -> Option<&DartsPlusConfig> {
        None
    }

    /// Called after the optimiser has updated `alpha` with the architecture gradient
    /// (ProxylessNAS rescales the sampled paths' parameters here). The default does
    /// nothing.
    fn after_architecture_step(&mut self, alpha: &Tensor) -> Result<()> {
        let _ = alpha;
        Ok(())
    }
}


/// Beta regularisation (Ye et al. 2022, beta-DARTS): adds `lambda` times the
/// log-sum-exp of `alpha` to an architecture step's loss `value` and its gradient
/// `lambda softmax(alpha)` to `grad`.
pub fn beta_regularise(value: f64, grad: &Tensor, alpha: &Tensor, lambda: f64) -> Result<(f64, Tensor)> {
    let a = alpha.f_detach()?;
    let lse = a.f_logsumexp(&[0i64][..], false)?.f_double_value(&[])?;
    let g = grad.f_add(&a.f_softmax(0, a.kind())?.f_mul_scalar(lambda)?)?;
    Ok((value + lambda * lse, g))
}

/// `softmax(alpha)` as plain numbers.
pub fn softmax_weights(alpha: &Tensor) -> Result<Vec<f64>> {
    let w = alpha.f_detach()?.f_softmax(0, Kind::Double)?;
    Ok(Vec::<f64>::try_from(&w)?)
}

/// `softmax(v)` of plain numbers, computed stably.
pub fn softmax_f64(v: &[f64]) -> Vec<f64> {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = v.iter().map(|a| (a - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

/// `log softmax(v)` of plain numbers, computed stably.
pub fn log_softmax_f64(v: &[f64]) -> Vec<f64> {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + v.iter().map(|a| (a - m).exp()).sum::<f64>().ln();
    v.iter().map(|a| a - lse).collect()
}

/// `sum_b w_b logits_b` for `w: [k]`, `logits: [k, B, C]`.
pub fn mix(w: &Tensor, logits: &Tensor) -> Result<Tensor> {
    let k = w.size()[0];
    Ok(logits.f_mul(&w.f_view([k, 1, 1])?)?.f_sum_dim_intlist(0, false, None::<Kind>)?)
}

/// `k` independent standard Gumbel numbers `-ln(-ln u)`, `u` uniform in `(0, 1)`,
/// drawn from `rng`.
pub fn gumbel_noise<R: Rng>(k: usize, rng: &mut R) -> Vec<f64> {
    (0..k)
        .map(|_| {
            let u: f64 = rng.sample(Open01);
            -(-u.ln()).ln()
        })
        .collect()
}

/// An index drawn from the categorical distribution `p` (non-negative, summing to
/// about 1) with one uniform number from `rng`.
pub fn categorical<R: Rng>(p: &[f64], rng: &mut R) -> usize {
    let total: f64 = p.iter().sum();
    let u: f64 = rng.gen::<f64>() * total;
    let mut acc = 0.0;
    for (i, &pi) in p.iter().enumerate() {
        acc += pi;
        if u < acc {
            return i;
        }
    }
    // Rounding: the last index with a positive probability.
    p.iter().rposition(|&pi| pi > 0.0).unwrap_or(p.len() - 1)
}

/// The index of the largest value (the first one on ties).
pub fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Rank-based feedback weights for blocks listed from best to worst: the weights of
/// CMA-ES recombination, `r ∝ ln((k + 1) / 2) - ln(rank)` for the better half (ranks
/// from 1), 0 for the others; they sum to 1. A single block gets 1.
pub fn rank_weights(ranking: &[usize]) -> Vec<f64> {
    let k = ranking.len();
    let mut r = vec![0.0; k];
    if k == 0 {
        return r;
    }
    let top = ((k as f64 + 1.0) / 2.0).ln();
    let raw: Vec<f64> = (1..=k).map(|rank| (top - (rank as f64).ln()).max(0.0)).collect();
    let sum: f64 = raw.iter().sum();
    for (pos, &b) in ranking.iter().enumerate() {
        r[b] = if sum > 0.0 { raw[pos] / sum } else if pos == 0 { 1.0 } else { 0.0 };
    }
    r
}

/// A 1-D tensor of `values` with `like`'s kind and device.
pub(crate) fn tensor_like(values: &[f64], like: &Tensor) -> Result<Tensor> {
    Ok(Tensor::f_from_slice(values)?.f_to_kind(like.kind())?.f_to_device(like.device())?)
}
