//! Optimisers over explicit parameter and gradient lists (SGD with momentum, Adam),
//! with PyTorch's update rules, plus gradient-norm clipping.
//!
//! Gradients come from `Tensor::run_backward` rather than accumulated `.grad()`
//! buffers, so weight and architecture steps never touch each other's parameters.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::error::{Error, Result};

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

    /// One update of `params` (leaf tensors) with `grads`, at learning rate `lr`.
    pub fn step(&mut self, params: &[Tensor], grads: &[Tensor], lr: f64) -> Result<()> {
        if params.len() != grads.len() {
            return Err(Error::State("optimizer: parameter and gradient counts differ".into()));
        }
        let c = &self.config;
        self.step += 1;
        let _guard = tch::no_grad_guard();
        if self.first.is_empty() {
            for p in params {
                self.first.push(p.f_zeros_like()?);
                if c.kind == OptimizerKind::Adam {
                    self.second.push(p.f_zeros_like()?);
                }
            }
        }
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            let mut g = g.shallow_clone();
            if c.weight_decay > 0.0 {
                g = g.f_add(&p.f_mul_scalar(c.weight_decay)?)?;
            }
            let mut p = p.shallow_clone();
            match c.kind {
                OptimizerKind::Sgd => {
                    let update = if c.momentum > 0.0 {
                        let buf = &mut self.first[i];
                        if self.step == 1 {
                            buf.f_copy_(&g)?;
                        } else {
                            let _ = buf.f_mul_scalar_(c.momentum)?;
                            let _ = buf.f_add_(&g)?;
                        }
                        buf.shallow_clone()
                    } else {
                        g
                    };
                    let _ = p.f_sub_(&update.f_mul_scalar(lr)?)?;
                }
                OptimizerKind::Adam => {
                    let (b1, b2) = c.betas;
                    let m = &mut self.first[i];
                    let _ = m.f_mul_scalar_(b1)?;
                    let _ = m.f_add_(&g.f_mul_scalar(1.0 - b1)?)?;
                    let v = &mut self.second[i];
                    let _ = v.f_mul_scalar_(b2)?;
                    let _ = v.f_add_(&g.f_mul(&g)?.f_mul_scalar(1.0 - b2)?)?;
                    let bc1 = 1.0 - b1.powi(self.step);
                    let bc2 = 1.0 - b2.powi(self.step);
                    let denom = v.f_div_scalar(bc2)?.f_sqrt()?.f_add_scalar(1e-8)?;
                    let _ = p.f_sub_(&m.f_div(&denom)?.f_mul_scalar(lr / bc1)?)?;
                }
            }
        }
        Ok(())
    }
}

/// Scales `grads` in place so that their joint L2 norm is at most `max_norm`; returns
/// the norm before clipping.
pub fn clip_grad_norm(grads: &mut [Tensor], max_norm: f64) -> Result<f64> {
    let _guard = tch::no_grad_guard();
    let mut total = 0.0;
    for g in grads.iter() {
        total += g.f_square()?.f_sum(tch::Kind::Double)?.f_double_value(&[])?;
    }
    let norm = total.sqrt();
    if norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
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
