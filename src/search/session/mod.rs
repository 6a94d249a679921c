//! A search session (docs/architecture.md): `k` blocks over shared weights, the
//! architecture parameters `alpha`, the strategy, the DAG density, the history of every
//! evaluated block and the best architecture with its inherited snapshot.
//!
//! All randomness comes from the session's own seeded RNG, so two sessions with the
//! same seed give the same results, also when they run side by side.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::model::dag::Dag;
use crate::model::density::{DagDensity, DensityConfig, Feedback};
use crate::model::device::{check_precision, configure_numerics, parse_device, Precision};
use crate::error::{Error, Result};
use crate::model::network::{Network, Normalization};
use crate::train::optim::{clipping_scale, Optimizer, OptimizerConfig, OptimizerKind};
use crate::train::evaluate;
use crate::model::space::Space;
mod file;
mod history;

pub use history::{BestArchitecture, HistoryRecord, PhaseReport};

use crate::search::strategy::{beta_regularise, cross_entropy, identity_edges, rank_weights, EarlyStop, StepContext, StepKind, Strategy, StrategyKind, StrategyOptions};
use crate::model::supernet::{BlockMasks, Supernet, SupernetPath};

/// A session's options (the C ABI's `options_json`; unknown keys refused).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionOptions {
    /// The strategy: `darts` (default), `darts2`, `snas`, `gdas`, `proxyless`, `drnas`
    /// or `random`.
    pub strategy: StrategyKind,
    /// The strategies' hyper-parameters (each section optional; see
    /// [`StrategyOptions`]); only the chosen strategy's section is used.
    pub strategy_options: StrategyOptions,
    /// Seed of the session's RNG.
    pub seed: u64,
    /// Optimiser of the shared weights (default SGD, lr 0.05, momentum 0.9, weight
    /// decay 3e-4).
    pub weight_optimizer: OptimizerConfig,
    /// Optimiser of `alpha` (default Adam, betas (0.5, 0.999), weight decay 1e-3 as in
    /// DARTS, but lr 0.05 instead of DARTS' 3e-4: a phase here lasts tens to hundreds
    /// of steps, not DARTS' 20,000, and `alpha` must move within it).
    pub arch_optimizer: OptimizerConfig,
    /// Clip the weight gradient's L2 norm to this (DARTS: 5); `None` disables.
    pub grad_clip: Option<f64>,
    /// The DAG density and its update.
    pub density: DensityConfig,
    /// Tensor precision: `float32` (default), `float64`, or `tf32` (float32 tensors,
    /// TF32 matrix products; CUDA only).
    pub precision: Precision,
    /// `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// libtorch's deterministic algorithms (and cuDNN's deterministic mode, and
    /// `CUBLAS_WORKSPACE_CONFIG=:4096:8` on CUDA when unset): bit-reproducible runs on
    /// CUDA, where scatter/index_add and some cuBLAS/cuDNN kernels otherwise are not.
    /// The CPU path is deterministic either way. A process-wide libtorch setting,
    /// applied when the session is made or restored.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deterministic: bool,
    /// Beta regularisation (beta-DARTS): the architecture loss plus `lambda(t)` times
    /// the log-sum-exp of `alpha`, `lambda` rising linearly from 0 to this maximum over
    /// each phase. For `darts`, `darts2`, `snas`, `darts-plus` and `pdarts`; `null`: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta_reg: Option<f64>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            strategy: StrategyKind::Darts,
            strategy_options: StrategyOptions::default(),
            seed: 0,
            weight_optimizer: OptimizerConfig {
                kind: OptimizerKind::Sgd,
                lr: 0.05,
                momentum: 0.9,
                betas: (0.9, 0.999),
                weight_decay: 3e-4,
            },
            arch_optimizer: OptimizerConfig {
                kind: OptimizerKind::Adam,
                lr: 0.05,
                momentum: 0.0,
                betas: (0.5, 0.999),
                weight_decay: 1e-3,
            },
            grad_clip: Some(5.0),
            density: DensityConfig::default(),
            precision: Precision::Float32,
            device: "cpu".to_string(),
            deterministic: false,
            beta_reg: None,
        }
    }
}

impl SessionOptions {
    /// Parses options from JSON (unknown keys refused; missing keys take defaults) and
    /// checks every value that does not depend on a space ([`SessionOptions::validate`]
    /// checks the rest when a session is made): what the C ABI and Python refuse, this
    /// refuses with the same error.
    pub fn from_json(json: &str) -> Result<SessionOptions> {
        let options: SessionOptions = crate::util::json::from_json_object(json, "session options")?;
        options.validate_alone()?;
        Ok(options)
    }

    /// Checks every value against `space`.
    pub fn validate(&self, space: &Space) -> Result<()> {
        self.validate_alone()?;
        parse_device(&self.device)?;
        self.density.validate(space.blocks())
    }

    /// Checks every value that does not depend on the space or the machine: the
    /// optimisers, the strategy's options, the gradient clip, the device's name and the
    /// precision for it.
    pub(crate) fn validate_alone(&self) -> Result<()> {
        self.weight_optimizer.validate("weight_optimizer")?;
        self.arch_optimizer.validate("arch_optimizer")?;
        self.strategy_options.validate()?;
        if let Some(c) = self.grad_clip {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::config("grad_clip", format!("{c} is out of range: allowed > 0")));
            }
        }
        self.validate_beta_reg()?;
        match parse_device(&self.device) {
            Ok(device) => check_precision(device, self.precision),
            // A device this machine lacks is refused when a session is made on it, not
            // here: an experiment's driver may list units for other machines.
            Err(Error::Device(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl SessionOptions {
    /// Checks `beta_reg`: a finite maximum in `(0, 1e6]`, for a strategy that takes it.
    pub fn validate_beta_reg(&self) -> Result<()> {
        let Some(max) = self.beta_reg else { return Ok(()) };
        if !(max.is_finite() && max > 0.0 && max <= 1e6) {
            return Err(Error::config("beta_reg", format!("{max} is out of range: allowed (0, 1e6]")));
        }
        let strategy = self.strategy;
        if !strategy.takes_beta_regularisation() {
            let why = if strategy == StrategyKind::Drnas {
                "its alpha is a Dirichlet concentration, not softmax logits"
            } else {
                "a sampling strategy has no softmax over all blocks"
            };
            return Err(Error::config(
                "beta_reg",
                format!("beta regularisation is not for strategy {}: {why}; it applies to darts, darts2, snas, darts-plus and pdarts", strategy.name()),
            ));
        }
        Ok(())
    }
}

/// A search session.
pub struct Session {
    space: Space,
    options: SessionOptions,
    rng: ChaCha8Rng,
    device: Device,
    kind: Kind,
    supernet: Supernet,
    weights: Vec<Tensor>,
    alpha: Tensor,
    weight_opt: Optimizer,
    arch_opt: Optimizer,
    weight_lr: f64,
    strategy: Box<dyn Strategy>,
    /// Fraction of the current phase done (temperature schedules).
    progress: f64,
    /// The last weight-step batch (second-order DARTS' unrolled step).
    last_train: Option<(Tensor, Tensor)>,
    density: DagDensity,
    dags: Vec<Dag>,
    masks: BlockMasks,
    phase: usize,
    history: Vec<HistoryRecord>,
    best: Option<BestArchitecture>,
    /// Weight steps taken (for messages and checkpoints).
    weight_steps: usize,
    /// The identity op's dropout rate in weight steps at the phase's start and end
    /// (`pdarts`; linear in between by the phase progress). Set by the search loop
    /// before each phase, not saved.
    identity_dropout: (f64, f64),
}

impl Session {
    /// A session over `space` with fresh shared weights and `k` distinct DAGs drawn
    /// from the initial density; `normalization` becomes part of every network.
    pub fn new(space: &Space, options: SessionOptions, normalization: Normalization) -> Result<Session> {
        options.validate(space)?;
        let device = parse_device(&options.device)?;
        configure_numerics(device, options.precision, options.deterministic)?;
        let kind = options.precision.kind();
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let density = DagDensity::new(space, options.density.p0, options.density.p_min)?;
        let dags = density.draw(space.blocks(), &[], &mut rng)?;
        Self::with_dags(space, options, normalization, density, dags, rng, device, kind)
    }

    #[allow(clippy::too_many_arguments)]
    fn with_dags(
        space: &Space,
        options: SessionOptions,
        normalization: Normalization,
        density: DagDensity,
        dags: Vec<Dag>,
        mut rng: ChaCha8Rng,
        device: Device,
        kind: Kind,
    ) -> Result<Session> {
        let supernet = Supernet::new(space, normalization, kind, device, &mut rng)?;
        let weights = supernet.parameters();
        let masks = BlockMasks::new(space, &dags, kind, device)?;
        let alpha = Tensor::f_zeros([dags.len() as i64], (kind, device))?.set_requires_grad(true);
        Ok(Session {
            space: space.clone(),
            weight_lr: options.weight_optimizer.lr,
            weight_opt: Optimizer::new(options.weight_optimizer.clone()),
            arch_opt: Optimizer::new(options.arch_optimizer.clone()),
            strategy: options.strategy.build_with(&options.strategy_options),
            progress: 0.0,
            last_train: None,
            options,
            rng,
            device,
            kind,
            supernet,
            weights,
            alpha,
            density,
            dags,
            masks,
            phase: 0,
            history: Vec::new(),
            best: None,
            weight_steps: 0,
            identity_dropout: (0.0, 0.0),
        })
    }

    /// Replaces the current blocks by `dags` (distinct, `k` of them, in the space);
    /// `alpha` restarts at 0. For the first phase's given DAGs and for tests.
    pub fn set_blocks(&mut self, dags: Vec<Dag>) -> Result<()> {
        if dags.len() != self.space.blocks() {
            return Err(Error::Input(format!("{} DAGs given, the space has {} blocks", dags.len(), self.space.blocks())));
        }
        let mut masks = BlockMasks::new(&self.space, &dags, self.kind, self.device)?;
        masks.path = self.masks.path;
        self.dags = dags;
        self.masks = masks;
        self.reset_alpha()
    }

    /// Chooses how all blocks are computed together (the grouped path by default; the
    /// batched one is kept for benchmarks and tests). Both compute the same function;
    /// their floating-point rounding differs.
    pub fn set_supernet_path(&mut self, path: SupernetPath) {
        self.masks.path = path;
    }

    /// The share of the batched path's matrix products the grouped path computes for
    /// the current blocks.
    pub fn grouped_work_fraction(&self) -> f64 {
        self.masks.plan.work_fraction
    }

    fn reset_alpha(&mut self) -> Result<()> {
        self.alpha = Tensor::f_zeros([self.dags.len() as i64], (self.kind, self.device))?.set_requires_grad(true);
        self.arch_opt.reset();
        Ok(())
    }

    /// The space.
    pub fn space(&self) -> &Space {
        &self.space
    }
    /// The options.
    pub fn options(&self) -> &SessionOptions {
        &self.options
    }
    /// The device the tensors live on.
    pub fn device(&self) -> Device {
        self.device
    }
    /// The tensors' kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }
    /// The shared weights.
    pub fn supernet(&self) -> &Supernet {
        &self.supernet
    }
    /// The current blocks' DAGs.
    pub fn dags(&self) -> &[Dag] {
        &self.dags
    }
    /// The current phase (from 0).
    pub fn phase(&self) -> usize {
        self.phase
    }
    /// The best DAG so far as JSON (`layers`, `edges`, `ops` when typed, the space's map
    /// keys, `phase`, `block`, `val_accuracy`, `metrics`), or before any phase has
    /// ended the block with the largest architecture weight (`phase` and
    /// `val_accuracy` null).
    pub fn best_dag_json(&self) -> Result<serde_json::Value> {
        let (dag, extra) = match self.best() {
            Some(best) => (
                &best.record.dag,
                serde_json::json!({
                    "phase": best.record.phase,
                    "block": best.record.block,
                    "val_accuracy": best.record.val_accuracy,
                    "metrics": best.record.metrics,
                }),
            ),
            None => {
                let b = self.leading_block()?;
                let dag = &self.dags()[b];
                (dag, serde_json::json!({ "phase": null, "block": b, "val_accuracy": null, "metrics": dag.metrics() }))
            }
        };
        let mut value = serde_json::to_value(dag)?;
        for part in [serde_json::to_value(crate::search::summary::MapKeys::of(&self.space))?, extra] {
            if let (Some(v), serde_json::Value::Object(m)) = (value.as_object_mut(), part) {
                v.extend(m);
            }
        }
        Ok(value)
    }

    /// The density.
    pub fn density(&self) -> &DagDensity {
        &self.density
    }
    /// Every evaluated block so far.
    pub fn history(&self) -> &[HistoryRecord] {
        &self.history
    }
    /// The best architecture so far (after at least one phase).
    pub fn best(&self) -> Option<&BestArchitecture> {
        self.best.as_ref()
    }
    /// The architecture parameters as numbers.
    pub fn alpha(&self) -> Result<Vec<f64>> {
        Ok(Vec::<f64>::try_from(&self.alpha.f_detach()?.f_to_kind(Kind::Double)?)?)
    }
    /// The alpha tensor (a leaf requiring grad).
    pub fn alpha_tensor(&self) -> &Tensor {
        &self.alpha
    }
    /// The strategy's block weights `w`.
    pub fn block_weights(&self) -> Result<Vec<f64>> {
        self.strategy.block_weights(&self.alpha)
    }
    /// The session's RNG (batch order is drawn from it).
    pub fn rng_mut(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }
    /// Sets the shared weights' learning rate for the next steps (schedules). `lr` must
    /// be finite and non-negative; anything else is refused ([`Error::Input`]) and the
    /// session keeps its learning rate.
    pub fn set_weight_lr(&mut self, lr: f64) -> Result<()> {
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(Error::Input(format!("learning rate is {lr}: it must be finite and non-negative")));
        }
        self.weight_lr = lr;
        Ok(())
    }
    /// Tells the session how far the current phase is, as a fraction in `[0, 1]`: the
    /// strategies' temperature schedules (`gdas`, `snas`) follow it. A fraction outside
    /// `[0, 1]` (or NaN) is refused ([`Error::Input`]) and the session keeps its
    /// progress. A session that is never told stays at 0, the schedules' start.
    /// [`crate::search::run_search`] sets it before every step.
    pub fn set_progress(&mut self, fraction: f64) -> Result<()> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(Error::Input(format!("fraction is {fraction}, outside [0, 1]")));
        }
        self.progress = fraction;
        Ok(())
    }
    /// The fraction of the current phase done, as last set.
    pub fn progress(&self) -> f64 {
        self.progress
    }
    /// The strategy's temperature now (`gdas`, `snas`), `None` for strategies without
    /// one.
    pub fn temperature(&self) -> Option<f64> {
        self.strategy.temperature(self.progress)
    }
    /// The strategy.
    pub fn strategy(&self) -> &dyn Strategy {
        self.strategy.as_ref()
    }

    /// Checks a batch: `x: [B, F]` floating, `y: [B]` int64, `B > 0`, and moves both to
    /// the session's kind and device.
    fn batch(&self, x: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
        let (xs, ys) = (x.size(), y.size());
        let f = self.space.features() as i64;
        if xs.len() != 2 || xs[1] != f || ys.len() != 1 || ys[0] != xs[0] {
            return Err(Error::Input(format!("expected x [B, {f}] and y [B], got x {xs:?} and y {ys:?}")));
        }
        if xs[0] == 0 {
            return Err(Error::Input("batch of 0 samples".into()));
        }
        Ok((x.f_to_device(self.device)?, y.f_to_kind(Kind::Int64)?.f_to_device(self.device)?))
    }

    /// Checks raw row-major data (`x_len == batch * F`, finite features, labels in
    /// `0..C`, `batch > 0`) and makes tensors of it.
    pub fn tensors_from_raw(&self, x: &[f32], y: &[i64], batch: usize) -> Result<(Tensor, Tensor)> {
        raw_batch(&self.space, x, y, batch)
    }

    /// One weight step on a batch of the weight split; returns the loss before the
    /// update. The step is a transaction: random numbers, the strategy's state, the
    /// weights and the optimiser change only when it succeeds, so any error (a
    /// non-finite loss or updated weight, a libtorch failure) leaves the session as it
    /// was.
    pub fn step_weights(&mut self, x: &Tensor, y: &Tensor) -> Result<f64> {
        let (x, y) = self.batch(x, y)?;
        let mut rng = self.rng.clone();
        let mut strategy = self.strategy.clone_box();
        let mut ctx = self.context(&mut rng, false);
        let logits = strategy.forward(&mut ctx, &x, StepKind::Weights)?;
        let loss = cross_entropy(&logits, &y)?;
        let value = loss.f_double_value(&[])?;
        if !value.is_finite() {
            return Err(self.diverged(format!("the weight-step loss is {value}")));
        }
        let grads = Tensor::f_run_backward(&[&loss], &self.weights, false, false)?;
        drop((logits, loss));
        // A sampled block leaves some tensors out of the graph: their gradient is 0.
        let grads = grads
            .into_iter()
            .zip(&self.weights)
            .map(|(g, p)| if g.defined() { Ok(g) } else { Ok(p.f_zeros_like()?) })
            .collect::<Result<Vec<_>>>()?;
        let scale = clipping_scale(&grads, self.options.grad_clip)?;
        let update = self.weight_opt.prepare_scaled(&self.weights, &grads, scale, self.weight_lr)?;
        if !update.is_finite()? {
            return Err(self.diverged(format!("the loss was {value}, but the update made weights non-finite")));
        }
        // Commit.
        self.weight_opt.commit(&self.weights, update)?;
        self.rng = rng;
        self.strategy = strategy;
        self.last_train = Some((x, y));
        self.weight_steps += 1;
        Ok(value)
    }

    /// What a strategy sees during a step, drawing from `rng` (a copy of the session's
    /// generator, kept only if the step succeeds); `with_train_batch` lends the last
    /// weight-step batch (second-order DARTS' unrolled step).
    fn context<'a>(&'a self, rng: &'a mut ChaCha8Rng, with_train_batch: bool) -> StepContext<'a> {
        StepContext {
            supernet: &self.supernet,
            dags: &self.dags,
            masks: &self.masks,
            alpha: &self.alpha,
            rng,
            progress: self.progress,
            weight_lr: self.weight_lr,
            train_batch: if with_train_batch { self.last_train.as_ref().map(|(x, y)| (x, y)) } else { None },
            identity_dropout: self.identity_dropout.0 + (self.identity_dropout.1 - self.identity_dropout.0) * self.progress,
        }
    }

    /// The error of a diverged step, with where it happened and what to do.
    fn diverged(&self, what: String) -> Error {
        Error::Diverged(format!(
            "{what} at weight step {} (phase {}, learning rate {}); the session is unchanged. \
             Lower the learning rate or clip the gradient norm (grad_clip)",
            self.weight_steps + 1,
            self.phase + 1,
            crate::util::format::number(self.weight_lr)
        ))
    }

    /// One architecture step on a batch of the architecture split; returns the loss
    /// before the update. Strategies without `alpha` report the loss and change nothing.
    /// A transaction as [`Session::step_weights`] is: on error nothing has changed.
    pub fn step_architecture(&mut self, x: &Tensor, y: &Tensor) -> Result<f64> {
        let (x, y) = self.batch(x, y)?;
        let mut rng = self.rng.clone();
        let mut strategy = self.strategy.clone_box();
        let mut ctx = self.context(&mut rng, true);
        if !strategy.trains_alpha() {
            let _guard = tch::no_grad_guard();
            let logits = strategy.forward(&mut ctx, &x, StepKind::Architecture)?;
            let value = cross_entropy(&logits, &y)?.f_double_value(&[])?;
            self.rng = rng;
            self.strategy = strategy;
            return Ok(value);
        }
        let (mut value, mut grad) = strategy.architecture_gradient(&mut ctx, &x, &y)?;
        if let Some(max) = self.options.beta_reg {
            (value, grad) = beta_regularise(value, &grad, &self.alpha, max * self.progress)?;
        }
        if !value.is_finite() {
            return Err(self.diverged(format!("the architecture-step loss is {value}")));
        }
        // alpha is updated on a copy, which replaces it only when everything succeeded.
        let alpha = self.alpha.f_detach_copy()?.set_requires_grad(true);
        let mut arch_opt = Optimizer::new(self.arch_opt.config().clone());
        arch_opt.set_state(self.arch_opt.state(), std::slice::from_ref(&alpha))?;
        let update = arch_opt.prepare(std::slice::from_ref(&alpha), &[grad], arch_opt.config().lr)?;
        if !update.is_finite()? {
            return Err(self.diverged(format!("the architecture-step loss was {value}, but the update made alpha non-finite")));
        }
        arch_opt.commit(std::slice::from_ref(&alpha), update)?;
        strategy.after_architecture_step(&alpha)?;
        self.alpha = alpha;
        self.arch_opt = arch_opt;
        self.rng = rng;
        self.strategy = strategy;
        Ok(value)
    }

    /// Inherited accuracy and mean cross-entropy of `dag` with the shared weights on
    /// `(x, y)`, computing only its edges.
    pub fn evaluate_dag(&self, dag: &Dag, x: &Tensor, y: &Tensor) -> Result<(f64, f64)> {
        let (x, y) = self.batch(x, y)?;
        evaluate(|xb| self.supernet.forward_dag(xb, dag), &x, &y)
    }

    /// Ends the phase: judges every block on the validation data `(x, y)` as a
    /// discrete network, records the history, snapshots a new best, updates the
    /// density with the feedback weights (by default the strategy's: its block weights,
    /// or for `random` rank-based weights of the validation accuracies; with
    /// `density.feedback = "rank"` rank-based weights for every strategy), keeps the elite
    /// blocks, draws the others anew, and restarts `alpha` at 0 and the phase progress
    /// at 0. On error nothing has changed.
    pub fn end_phase(&mut self, x: &Tensor, y: &Tensor) -> Result<PhaseReport> {
        let (x, y) = self.batch(x, y)?;
        let alpha = self.alpha()?;
        let weights = self.block_weights()?;
        let entropy = self.density.entropy_bits();
        let mut records = Vec::with_capacity(self.dags.len());
        for (b, dag) in self.dags.iter().enumerate() {
            let (acc, loss) = evaluate(|xb| self.supernet.forward_dag(xb, dag), &x, &y)?;
            records.push(HistoryRecord {
                phase: self.phase,
                block: b,
                dag: dag.clone(),
                metrics: dag.metrics(),
                alpha: alpha[b],
                weight: weights[b],
                val_accuracy: acc,
                val_loss: loss,
                rank_by_alpha: 1 + alpha.iter().filter(|&&a| a > alpha[b]).count(),
                rank_by_accuracy: 0,
                feedback: 0.0,
                density_entropy_bits: entropy,
                early_stop: None,
                hessian_eigenvalue: None,
            });
        }
        // Blocks from best to worst: highest accuracy, then lowest loss, then lowest index.
        let mut order: Vec<usize> = (0..records.len()).collect();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (&records[a], &records[b]);
            rb.val_accuracy.total_cmp(&ra.val_accuracy).then(ra.val_loss.total_cmp(&rb.val_loss)).then(a.cmp(&b))
        });
        for (rank, &b) in order.iter().enumerate() {
            records[b].rank_by_accuracy = rank + 1;
        }
        // The best block: the most accurate, among those within P-DARTS' identity limit
        // when any is (a block within it beats every block beyond it).
        let within = |r: &HistoryRecord| self.identity_limit().map_or(true, |n| identity_edges(&r.dag) <= n);
        let top = order.iter().copied().find(|&b| within(&records[b])).unwrap_or(order[0]);
        let key = |r: &HistoryRecord| (within(r), r.val_accuracy);
        let new_best = self.best.as_ref().map_or(true, |best| {
            let (a, b) = (key(&records[top]), key(&best.record));
            a.0 > b.0 || (a.0 == b.0 && a.1 > b.1)
        });
        let snapshot = if new_best { Some(self.supernet.snapshot(&records[top].dag)?) } else { None };

        // The next phase's blocks.
        let mut density = self.density.clone();
        let feedback = match self.options.density.feedback {
            Feedback::Strategy => self.strategy.feedback(&self.alpha, &order)?,
            Feedback::Rank => rank_weights(&order),
        };
        density.update(&self.dags, &feedback, self.options.density.eta)?;
        for (r, f) in records.iter_mut().zip(&feedback) {
            r.feedback = *f;
        }
        let keep = self.options.density.elitism.min(self.dags.len() - 1);
        let elites: Vec<Dag> = order.iter().take(keep).map(|&b| self.dags[b].clone()).collect();
        let mut rng = self.rng.clone();
        let fresh = density.draw(self.dags.len() - elites.len(), &elites, &mut rng)?;
        let mut dags = elites;
        dags.extend(fresh);
        let mut masks = BlockMasks::new(&self.space, &dags, self.kind, self.device)?;
        masks.path = self.masks.path;
        let alpha = Tensor::f_zeros([dags.len() as i64], (self.kind, self.device))?.set_requires_grad(true);
        let history: Vec<HistoryRecord> = records.iter().cloned().collect();

        // Commit (nothing below can fail).
        if let Some(network) = snapshot {
            self.best = Some(BestArchitecture { record: records[top].clone(), network });
        }
        self.rng = rng;
        self.density = density;
        self.dags = dags;
        self.masks = masks;
        self.history.extend(history);
        self.alpha = alpha;
        self.arch_opt.reset();
        self.progress = 0.0;
        let report = PhaseReport {
            phase: self.phase,
            records,
            new_best,
            best_val_accuracy: self.best.as_ref().map_or(0.0, |b| b.record.val_accuracy),
            density_entropy_bits: self.density.entropy_bits(),
        };
        self.phase += 1;
        Ok(report)
    }

    /// The identity op's dropout rate in this phase's weight steps, `start` at its start
    /// and `end` at its end, linear in between (P-DARTS' decay over a stage); both in
    /// `[0, 1)`. Only `pdarts` applies it.
    pub fn set_identity_dropout(&mut self, start: f64, end: f64) -> Result<()> {
        for v in [start, end] {
            if !(v.is_finite() && (0.0..1.0).contains(&v)) {
                return Err(Error::config("identity_dropout", format!("{v} is out of range: allowed [0, 1)")));
            }
        }
        self.identity_dropout = (start, end);
        Ok(())
    }

    /// P-DARTS' limit on the identity edges of the best block (`None` for the other
    /// strategies).
    fn identity_limit(&self) -> Option<usize> {
        (self.options.strategy == StrategyKind::Pdarts).then_some(self.options.strategy_options.pdarts.max_identity)
    }

    /// P-DARTS' stage switch: the session moves to `space` (the next stage's depth) with
    /// `density` (carried over from the previous stage): `k` blocks drawn from it, fresh
    /// shared weights and optimisers (drawn from the session's own RNG, after the
    /// blocks), `alpha` at 0, no best block yet (the best is the current stage's). The
    /// history, the phase count and the step counters go on. On error nothing has
    /// changed.
    pub fn restage(&mut self, space: &Space, density: DagDensity) -> Result<()> {
        self.options.validate(space)?;
        let mut rng = self.rng.clone();
        let dags = density.draw(space.blocks(), &[], &mut rng)?;
        let supernet = Supernet::new(space, self.supernet.normalization().clone(), self.kind, self.device, &mut rng)?;
        let mut masks = BlockMasks::new(space, &dags, self.kind, self.device)?;
        masks.path = self.masks.path;
        let alpha = Tensor::f_zeros([dags.len() as i64], (self.kind, self.device))?.set_requires_grad(true);
        // Commit (nothing below can fail).
        self.weights = supernet.parameters();
        self.supernet = supernet;
        self.space = space.clone();
        self.rng = rng;
        self.density = density;
        self.dags = dags;
        self.masks = masks;
        self.alpha = alpha;
        self.weight_opt = Optimizer::new(self.options.weight_optimizer.clone());
        self.arch_opt = Optimizer::new(self.options.arch_optimizer.clone());
        self.last_train = None;
        self.progress = 0.0;
        self.best = None;
        Ok(())
    }

    /// The exact `k x k` Hessian of the `softmax(alpha)`-weighted loss on `(x, y)` with
    /// respect to `alpha` (see [`crate::search::hessian`]): the blocks' logits with the
    /// shared weights fixed, then `k` Hessian-vector products by double backward. Reads
    /// the session only: no random numbers, no state changes.
    pub fn alpha_hessian(&self, x: &Tensor, y: &Tensor) -> Result<Vec<Vec<f64>>> {
        let (x, y) = self.batch(x, y)?;
        let logits = {
            let _guard = tch::no_grad_guard();
            self.supernet.forward_all(&x, &self.masks)?
        };
        crate::search::hessian::loss_hessian(&logits, &y, &self.alpha()?)
    }

    /// Adds what the search loop learned about phase `phase` (an early stop, the last
    /// Hessian eigenvalue) to its history records.
    pub fn note_phase(&mut self, phase: usize, early_stop: Option<EarlyStop>, hessian_eigenvalue: Option<f64>) {
        for r in self.history.iter_mut().filter(|r| r.phase == phase) {
            r.early_stop = early_stop;
            r.hessian_eigenvalue = hessian_eigenvalue;
        }
    }

    /// The block with the largest weight now (before any phase has ended, the best
    /// architecture is this one).
    pub fn leading_block(&self) -> Result<usize> {
        let w = self.block_weights()?;
        Ok((0..w.len()).max_by(|&a, &b| w[a].total_cmp(&w[b]).then(b.cmp(&a))).unwrap_or(0))
    }

    /// The network the session stands for now: the best architecture's inherited
    /// snapshot, or the block with the largest weight before any phase has ended (a
    /// gradient-free copy).
    pub fn current_network(&self) -> Result<Network> {
        match self.best() {
            Some(best) => best.network.detached_copy(),
            None => self.supernet().snapshot(&self.dags()[self.leading_block()?]),
        }
    }

    /// Accuracy and mean cross-entropy of the current network
    /// ([`Session::current_network`]) on the labelled batch `x`, `y` (checked and
    /// moved to the session's device like a step's).
    pub fn evaluate_current(&self, x: &Tensor, y: &Tensor) -> Result<(f64, f64)> {
        let (x, y) = self.batch(x, y)?;
        let net = self.current_network()?;
        evaluate(|xb| net.forward(&xb.f_to_kind(self.kind)?), &x, &y)
    }

    /// Logits `[batch, C]` (row-major, float32) of the current network
    /// ([`Session::current_network`]) for `batch` samples of raw features `x`
    /// (`x.len() == batch * F`, finite).
    pub fn predict(&self, x: &[f32], batch: usize) -> Result<Vec<f32>> {
        let xt = raw_features(self.space(), x, batch)?;
        let net = self.current_network()?;
        let logits = tch::no_grad(|| net.forward(&xt.f_to_kind(self.kind)?.f_to_device(self.device)?))?;
        Ok(Vec::<f32>::try_from(&logits.f_to_kind(Kind::Float)?.f_contiguous()?.f_view([-1])?)?)
    }

    /// A shuffled permutation of `0..n` from the session's RNG.
    pub fn shuffled(&mut self, n: usize) -> Vec<i64> {
        let mut idx: Vec<i64> = (0..n as i64).collect();
        idx.shuffle(&mut self.rng);
        idx
    }
}

/// Checks raw row-major data against `space` and makes CPU tensors of it.
pub fn raw_batch(space: &Space, x: &[f32], y: &[i64], batch: usize) -> Result<(Tensor, Tensor)> {
    let c = space.classes();
    if y.len() != batch {
        return Err(Error::Input(format!("{} labels for a batch of {batch}", y.len())));
    }
    let xt = raw_features(space, x, batch)?;
    if let Some(i) = y.iter().position(|&l| l < 0 || l as u64 >= c as u64) {
        return Err(Error::Input(format!("label of sample {i} is {}, outside 0..{c}", y[i])));
    }
    Ok((xt, Tensor::f_from_slice(y)?))
}

/// Checks raw row-major features against `space` (`x.len() == batch * F`, finite,
/// `batch > 0`) and makes a CPU tensor `[batch, F]` of them.
pub fn raw_features(space: &Space, x: &[f32], batch: usize) -> Result<Tensor> {
    let f = space.features();
    if batch == 0 {
        return Err(Error::Input("batch of 0 samples".into()));
    }
    if batch.checked_mul(f) != Some(x.len()) {
        return Err(Error::Input(format!("x_len is {} but batch * features = {batch} * {f}", x.len())));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::Input(format!("feature {} of sample {} is {} (features must be finite)", i % f, i / f, x[i])));
    }
    Ok(Tensor::f_from_slice(x)?.f_view([batch as i64, f as i64])?)
}
