//! Optimisers over explicit parameter and gradient lists (SGD with momentum, Adam),
//! with PyTorch's update rules, plus gradient-norm clipping.
//!
//! Gradients come from `Tensor::run_backward` rather than accumulated `.grad()`
//! buffers, so weight and architecture steps never touch each other's parameters.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::error::{Error, Result};
use crate::train::fused;

/// Which update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with (heavy-ball) momentum, as `torch.optim.SGD`.
    Sgd,
    /// Adam, as `torch.optim.Adam` (weight decay added to the gradient).
    Adam,
}

/// An optimiser's hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Update rule.
    pub kind: OptimizerKind,
    /// Learning rate.
    pub lr: f64,
    /// SGD momentum (ignored by Adam).
    #[serde(default)]
    pub momentum: f64,
    /// Adam's beta1 and beta2 (ignored by SGD).
    #[serde(default = "default_betas")]
    pub betas: (f64, f64),
    /// L2 weight decay, added to the gradient.
    #[serde(default)]
    pub weight_decay: f64,
}

fn default_betas() -> (f64, f64) {
    (0.9, 0.999)
}

impl OptimizerConfig {
    /// Checks the ranges, naming fields under `prefix`.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let check = |name: &str, v: f64, lo: f64, hi: f64| {
            if v.is_finite() && v >= lo && v <= hi {
                Ok(())
            } else {
                Err(Error::config(format!("{prefix}.{name}"), format!("{v} is out of range: allowed [{lo}, {hi}]")))
            }
        };
        check("lr", self.lr, 0.0, 100.0)?;
        check("momentum", self.momentum, 0.0, 0.999_999)?;
        check("betas[0]", self.betas.0, 0.0, 0.999_999)?;
        check("betas[1]", self.betas.1, 0.0, 0.999_999_999)?;
        check("weight_decay", self.weight_decay, 0.0, 1.0)
    }
}

/// An optimiser's state for one parameter list.
pub struct Optimizer {
    config: OptimizerConfig,
    step: i32,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
}

/// An optimiser's moments and step count, for checkpoints (`first`: SGD's momentum
/// buffers or Adam's first moments; `second`: Adam's second moments; both empty before
/// the first step).
pub struct OptimizerState {
    /// Steps taken.
    pub step: i32,
    /// First moments (or momentum buffers), one per parameter.
    pub first: Vec<Tensor>,
    /// Second moments (Adam), one per parameter.
    pub second: Vec<Tensor>,
}

/// The outcome of [`Optimizer::prepare`]: the new parameter values and moments, not yet
/// written anywhere.
pub struct PendingUpdate {
    /// Per parameter: its new value, or `None` where the fused SGD loop computed (and
    /// checked) it without storing it: `p - lr * first[i]`, written at commit.
    params: Vec<Option<Tensor>>,
    lr: f64,
    /// Whether every value the fused loop computed is finite.
    fused_finite: bool,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
}

impl PendingUpdate {
    /// Whether every new parameter value is finite.
    pub fn is_finite(&self) -> Result<bool> {
        if !self.fused_finite {
            return Ok(false);
        }
        let _guard = tch::no_grad_guard();
        for p in self.params.iter().flatten() {
            let finite = if p.kind() == tch::Kind::Double {
                p.f_isfinite()?.f_all()?.f_int64_value(&[])? != 0
            } else {
                // One read, nothing allocated: a float64 sum of float32 (or narrower)
                // values is finite exactly when every value is (NaN and infinities
                // propagate, +inf and -inf give NaN, and no sum of finite float32
                // values overflows a float64).
                p.f_sum(tch::Kind::Double)?.f_double_value(&[])?.is_finite()
            };
            if !finite {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Optimizer {
    /// A fresh optimiser (no state yet).
    pub fn new(config: OptimizerConfig) -> Optimizer {
        Optimizer { config, step: 0, first: Vec::new(), second: Vec::new() }
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Forgets the moments (as a new optimiser would).
    pub fn reset(&mut self) {
        self.step = 0;
        self.first.clear();
        self.second.clear();
    }

    /// The moments and step count (shallow clones).
    pub fn state(&self) -> OptimizerState {
        OptimizerState {
            step: self.step,
            first: self.first.iter().map(|t| t.shallow_clone()).collect(),
            second: self.second.iter().map(|t| t.shallow_clone()).collect(),
        }
    }

    /// Restores moments and a step count taken with [`Optimizer::state`] (checked
    /// against `params`: one moment of the same shape per parameter, second moments
    /// only for Adam).
    pub fn set_state(&mut self, state: OptimizerState, params: &[Tensor]) -> Result<()> {
        let adam = self.config.kind == OptimizerKind::Adam;
        let empty = state.first.is_empty() && state.second.is_empty();
        let counts_ok = empty
            || (state.first.len() == params.len() && state.second.len() == if adam { params.len() } else { 0 });
        if !counts_ok || state.step < 0 || (empty != (state.step == 0)) {
            return Err(Error::Input(format!(
                "optimizer state: {} first and {} second moments after {} steps for {} parameters",
                state.first.len(),
                state.second.len(),
                state.step,
                params.len()
            )));
        }
        for (i, m) in state.first.iter().chain(&state.second).enumerate() {
            let p = &params[i % params.len().max(1)];
            if m.size() != p.size() {
                return Err(Error::Input(format!("optimizer state: moment {i} has shape {:?}, expected {:?}", m.size(), p.size())));
            }
        }
        self.step = state.step;
        self.first = state.first;
        self.second = state.second;
        Ok(())
    }

    /// One update of `params` (leaf tensors) with `grads`, at learning rate `lr`.
    pub fn step(&mut self, params: &[Tensor], grads: &[Tensor], lr: f64) -> Result<()> {
        let update = self.prepare(params, grads, lr)?;
        self.commit(params, update)
    }

    /// Computes an update of `params` with `grads` at learning rate `lr` without
    /// changing anything: the parameters and the optimiser's state change only in
    /// [`Optimizer::commit`], so a failure here leaves both as they were.
    pub fn prepare(&self, params: &[Tensor], grads: &[Tensor], lr: f64) -> Result<PendingUpdate> {
        self.prepare_scaled(params, grads, None, lr)
    }

    /// [`Optimizer::prepare`] with the gradients first multiplied by `grad_scale` (the
    /// factor of [`clip_scale`]), as [`clip_grad_norm`] would have scaled them, without
    /// a scaled copy of them.
    pub fn prepare_scaled(&self, params: &[Tensor], grads: &[Tensor], grad_scale: Option<f64>, lr: f64) -> Result<PendingUpdate> {
        if params.len() != grads.len() {
            return Err(Error::Internal("optimizer: parameter and gradient counts differ".into()));
        }
        let _guard = tch::no_grad_guard();
        let fresh = self.first.is_empty();
        let mut out = PendingUpdate { params: Vec::new(), lr, fused_finite: true, first: Vec::new(), second: Vec::new() };
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let first = (!fresh).then(|| &self.first[i]);
            if self.config.kind == OptimizerKind::Sgd && self.sgd_fused(p, g, first, grad_scale, lr, &mut out)? {
                continue;
            }
            let mut g = g.shallow_clone();
            if let Some(scale) = grad_scale {
                g = g.f_mul_scalar(scale)?;
            }
            self.prepare_one(i, p, &g, first, lr, &mut out)?;
        }
        Ok(out)
    }

    /// SGD's update of one parameter by the fused loop, when it covers the tensors;
    /// `false` (nothing done) otherwise.
    fn sgd_fused(&self, p: &Tensor, g: &Tensor, first: Option<&Tensor>, grad_scale: Option<f64>, lr: f64, out: &mut PendingUpdate) -> Result<bool> {
        let c = &self.config;
        let scalars = fused::SgdScalars { grad_scale, weight_decay: c.weight_decay, momentum: c.momentum, lr };
        let same = |t: &Tensor| t.size() == p.size();
        let (buf, finite) = if [Some(p), Some(g), first].iter().flatten().all(|t| fused::covers::<f32>(t) && same(t)) {
            fused::sgd_buffer::<f32>(p, g, first, &scalars)?
        } else if [Some(p), Some(g), first].iter().flatten().all(|t| fused::covers::<f64>(t) && same(t)) {
            fused::sgd_buffer::<f64>(p, g, first, &scalars)?
        } else {
            return Ok(false);
        };
        out.params.push(None);
        out.first.push(buf);
        out.fused_finite &= finite;
        Ok(true)
    }

    /// The update of parameter `i` by tensor operations (`g` already scaled).
    fn prepare_one(&self, i: usize, p: &Tensor, g: &Tensor, first: Option<&Tensor>, lr: f64, out: &mut PendingUpdate) -> Result<()> {
        let c = &self.config;
        let mut g = g.shallow_clone();
        if c.weight_decay > 0.0 {
            g = g.f_add(&p.f_mul_scalar(c.weight_decay)?)?;
        }
        match c.kind {
            OptimizerKind::Sgd => {
                // PyTorch: the buffer starts as the first gradient; with no momentum
                // the update is the gradient, which the buffer then holds.
                let buf = match first {
                    Some(f) if c.momentum > 0.0 => f.f_mul_scalar(c.momentum)?.f_add(&g)?,
                    _ => g.f_detach_copy()?,
                };
                out.params.push(Some(p.f_sub(&buf.f_mul_scalar(lr)?)?));
                out.first.push(buf);
            }
            OptimizerKind::Adam => {
                let (b1, b2) = c.betas;
                let step = self.step + 1;
                let (m0, v0) = match first {
                    None => (p.f_zeros_like()?, p.f_zeros_like()?),
                    Some(f) => (f.shallow_clone(), self.second[i].shallow_clone()),
                };
                let m = m0.f_mul_scalar(b1)?.f_add(&g.f_mul_scalar(1.0 - b1)?)?;
                let v = v0.f_mul_scalar(b2)?.f_add(&g.f_mul(&g)?.f_mul_scalar(1.0 - b2)?)?;
                let bc1 = 1.0 - b1.powi(step);
                let bc2 = 1.0 - b2.powi(step);
                let denom = v.f_div_scalar(bc2)?.f_sqrt()?.f_add_scalar(1e-8)?;
                out.params.push(Some(p.f_sub(&m.f_div(&denom)?.f_mul_scalar(lr / bc1)?)?));
                out.first.push(m);
                out.second.push(v);
            }
        }
        Ok(())
    }

    /// One update of `params` with `grads` scaled by `grad_scale` at `lr`, as
    /// [`Optimizer::prepare_scaled`] and [`Optimizer::commit`] compute it (the same
    /// bits), but written in place where it can be: SGD on the CPU after its first
    /// step, one read of each tensor and nothing allocated. Returns whether every new
    /// value is finite. Unlike `prepare`, a non-finite update may be left written, and
    /// the moments shared by [`Optimizer::state`] change with it: only for a caller that
    /// discards the parameters and the optimiser when it returns `false` (a
    /// population's failed member).
    pub fn step_in_place(&mut self, params: &[Tensor], grads: &[Tensor], grad_scale: Option<f64>, lr: f64) -> Result<bool> {
        if let Some(finite) = self.sgd_in_place(params, grads, grad_scale, lr) {
            self.step += 1;
            return Ok(finite);
        }
        let update = self.prepare_scaled(params, grads, grad_scale, lr)?;
        if !update.is_finite()? {
            return Ok(false);
        }
        self.commit(params, update)?;
        Ok(true)
    }

    /// [`Optimizer::step_in_place`]'s SGD loop, when it covers every tensor (`None`,
    /// nothing done, otherwise).
    fn sgd_in_place(&self, params: &[Tensor], grads: &[Tensor], grad_scale: Option<f64>, lr: f64) -> Option<bool> {
        let c = &self.config;
        if c.kind != OptimizerKind::Sgd || params.len() != grads.len() || self.first.len() != params.len() {
            return None;
        }
        let triples = || params.iter().zip(grads).zip(&self.first).map(|((p, g), b)| [p, g, b]);
        let fits = |t: &[&Tensor; 3], f64s: bool| {
            let covered = t.iter().all(|x| if f64s { fused::covers::<f64>(x) } else { fused::covers::<f32>(x) });
            let distinct = t[0].data_ptr() != t[1].data_ptr() && t[0].data_ptr() != t[2].data_ptr() && t[1].data_ptr() != t[2].data_ptr();
            covered && distinct && t.iter().all(|x| x.size() == t[0].size())
        };
        let f64s = params.first().is_some_and(|p| p.kind() == tch::Kind::Double);
        if !triples().all(|t| fits(&t, f64s)) {
            return None;
        }
        let _guard = tch::no_grad_guard();
        let scalars = fused::SgdScalars { grad_scale, weight_decay: c.weight_decay, momentum: c.momentum, lr };
        let mut finite = true;
        for [p, g, b] in triples() {
            finite &= if f64s { fused::sgd_in_place::<f64>(p, g, b, &scalars) } else { fused::sgd_in_place::<f32>(p, g, b, &scalars) };
        }
        Some(finite)
    }

    /// Writes a prepared update into `params` (in place) and the optimiser's state.
    pub fn commit(&mut self, params: &[Tensor], update: PendingUpdate) -> Result<()> {
        let _guard = tch::no_grad_guard();
        for ((p, new), buf) in params.iter().zip(&update.params).zip(&update.first) {
            match new {
                Some(new) => {
                    let mut p = p.shallow_clone();
                    p.f_copy_(new)?;
                }
                None if p.kind() == tch::Kind::Double => fused::sgd_apply::<f64>(p, buf, update.lr),
                None => fused::sgd_apply::<f32>(p, buf, update.lr),
            }
        }
        self.step += 1;
        self.first = update.first;
        self.second = update.second;
        Ok(())
    }
}

/// The joint L2 norm of `grads` (squares summed in float64).
pub fn grad_norm(grads: &[Tensor]) -> Result<f64> {
    let _guard = tch::no_grad_guard();
    let mut total = 0.0;
    for g in grads {
        total += if fused::covers::<f32>(g) {
            fused::square_sum::<f32>(g)
        } else if fused::covers::<f64>(g) {
            fused::square_sum::<f64>(g)
        } else {
            g.f_to_kind(tch::Kind::Double)?.f_square()?.f_sum(tch::Kind::Double)?.f_double_value(&[])?
        };
    }
    Ok(total.sqrt())
}

/// The gradient scale of clipping `grads` to `max_norm` when it is set ([`grad_norm`],
/// then [`clip_scale`]), for [`Optimizer::prepare_scaled`].
pub fn clipping_scale(grads: &[Tensor], max_norm: Option<f64>) -> Result<Option<f64>> {
    match max_norm {
        Some(max) => Ok(clip_scale(grad_norm(grads)?, max)),
        None => Ok(None),
    }
}

/// The factor by which clipping to `max_norm` scales gradients of joint norm `norm`, as
/// `torch.nn.utils.clip_grad_norm_` (`max_norm / (norm + 1e-6)` when below 1), or
/// `None` when they stay as they are.
pub fn clip_scale(norm: f64, max_norm: f64) -> Option<f64> {
    let scale = max_norm / (norm + 1e-6);
    (scale < 1.0).then_some(scale)
}

/// Scales `grads` in place so that their joint L2 norm is at most `max_norm`; returns
/// the norm before clipping.
pub fn clip_grad_norm(grads: &mut [Tensor], max_norm: f64) -> Result<f64> {
    let norm = grad_norm(grads)?;
    if let Some(scale) = clip_scale(norm, max_norm) {
        let _guard = tch::no_grad_guard();
        for g in grads.iter_mut() {
            *g = g.f_mul_scalar(scale)?;
        }
    }
    Ok(norm)
}

/// A learning-rate schedule over a run's steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The base rate throughout.
    Constant,
    /// Cosine annealing from the base rate to 0 over the run (the default).
    #[default]
    Cosine,
}

impl LrSchedule {
    /// The rate at `step` (from 0) of `total` steps.
    pub fn lr(self, base: f64, step: usize, total: usize) -> f64 {
        match self {
            LrSchedule::Constant => base,
            LrSchedule::Cosine => {
                let t = step as f64 / total.max(1) as f64;
                0.5 * base * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
            }
        }
    }
}
