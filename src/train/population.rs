//! The population trainer (docs/architecture.md): `P` DAGs of one space trained from
//! their own weights in lockstep on one dataset, with one budget, batch size and
//! schedule. Each member has its own weights, optimiser state, gradient clipping (its
//! own norm), data order (a stream of its seed, so members of one seed read the same
//! batches) and divergence state: a member whose loss or update is not finite stops as
//! failed, the others go on. `P = 1` is one network: every training from scratch goes
//! through here.
//!
//! In an untyped space whose width is a multiple of 16 the members are stacked tensors
//! ([`StackedNet`]): one batched product per seed group for the input terms and one per
//! (edge, op) pair over the members that have it. In a typed space (convolutions,
//! pooling) and at other widths each member runs its own forward and backward pass.
//! Either way a member's result does not depend on which other members share its
//! population.

use std::sync::atomic::{AtomicBool, Ordering};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use crate::data::SplitTensors;
use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::network::{forward_dag, DagWeights, Network, Normalization};
use crate::model::space::Space;
use crate::train::optim::{clipping_scale, Optimizer};
use crate::util::format::number;
use super::loss::cross_entropy;
use super::stacked::StackedNet;
use super::trainer::TrainConfig;

/// The RNG stream (of a member's seed) its data order is drawn from: the same for every
/// DAG, so members with one seed read the same batches.
pub const DATA_ORDER_STREAM: u64 = 0x6461_7461;

/// A ChaCha8 seed (32 bytes).
pub type Seed = <ChaCha8Rng as SeedableRng>::Seed;

/// Where a member's first weights come from.
pub enum MemberInit {
    /// Fresh weights ([`DagWeights::init`]) drawn from this generator.
    Draw(ChaCha8Rng),
    /// These weights (copied; their shapes are checked).
    Weights(DagWeights),
}

/// One network of a population.
pub struct Member {
    /// Its DAG (of the population's space).
    pub dag: Dag,
    /// The seed of its data order (stream [`DATA_ORDER_STREAM`]).
    pub seed: Seed,
    /// Its first weights.
    pub init: MemberInit,
}

impl Member {
    /// `dag` with fresh weights from stream `weight_stream` of `seed` and its data order
    /// from stream [`DATA_ORDER_STREAM`] of `seed`.
    pub fn seeded(dag: Dag, seed: u64, weight_stream: u64) -> Member {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let seed = rng.get_seed();
        rng.set_stream(weight_stream);
        Member { dag, seed, init: MemberInit::Draw(rng) }
    }
}

/// What all members share: the space, input normalisation, data, budget and tensors.
pub struct PopulationJob<'a> {
    /// The members' space.
    pub space: &'a Space,
    /// The input normalisation of every member.
    pub normalization: &'a Normalization,
    /// The training data.
    pub data: &'a SplitTensors,
    /// Budget, batch size, optimiser, schedule and clipping.
    pub config: &'a TrainConfig,
    /// Tensor precision.
    pub kind: Kind,
    /// Device.
    pub device: Device,
}

/// How a member ended.
pub enum MemberResult {
    /// Trained for the whole budget.
    Trained(Network),
    /// Stopped at a non-finite loss or update; the reason names the step.
    Failed(String),
}

/// How the members are computed.
enum Engine {
    /// Stacked tensors (untyped spaces of aligned widths, [`StackedNet::covers`]).
    Stacked(StackedNet),
    /// Each member's own weights and pass (typed spaces, other widths).
    Separate(Vec<DagWeights>),
}

/// One member's training state besides its weights.
struct State {
    opt: Optimizer,
    params: Vec<Tensor>,
    failed: Option<String>,
    loss_sum: f64,
}

/// Trains `members` on `job.data`, checking `stop` before every step (`None` when it
/// was set). `on_epoch(epoch, losses)` gets each member's mean loss of the epoch
/// (`None` for a failed member). Results are in the members' order.
pub fn train_population(
    job: &PopulationJob<'_>,
    members: Vec<Member>,
    on_epoch: &mut dyn FnMut(usize, &[Option<f64>]),
    stop: &AtomicBool,
) -> Result<Option<Vec<MemberResult>>> {
    job.config.validate()?;
    if members.is_empty() {
        return Err(Error::Input("a population needs at least one member".into()));
    }
    for (m, member) in members.iter().enumerate() {
        member.dag.mask(job.space).map_err(|e| Error::Input(format!("member {m}: {e}")))?;
    }
    let groups = seed_groups(&members);
    let (engine, dags, seeds) = build_engine(job, members, &groups)?;
    let mut states = member_states(job, &engine)?;
    let mut orders: Vec<ChaCha8Rng> = seeds.iter().map(|s| order_rng(s)).collect();
    let n = job.data.len() as usize;
    let cfg = job.config;
    let total = n.div_ceil(cfg.batch_size) * cfg.epochs;
    let mut step = 0;
    'epochs: for epoch in 0..cfg.epochs {
        let batches = epoch_orders(&mut orders, n);
        for start in (0..n).step_by(cfg.batch_size) {
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let lr = cfg.schedule.lr(cfg.optimizer.lr, step, total);
            let chunks: Vec<&[i64]> = batches.iter().map(|o| &o[start..(start + cfg.batch_size).min(n)]).collect();
            let at = Where { epoch, step, lr };
            train_step(job, &engine, &dags, &mut states, &groups, &chunks, &at)?;
            step += 1;
            if states.iter().all(|s| s.failed.is_some()) {
                break 'epochs;
            }
        }
        let losses: Vec<Option<f64>> = states.iter_mut().map(|s| {
            let mean = s.loss_sum / n as f64;
            s.loss_sum = 0.0;
            s.failed.is_none().then_some(mean)
        }).collect();
        on_epoch(epoch, &losses);
    }
    finish(job, &engine, states, dags).map(Some)
}

/// Each member's seed group (members with equal seeds share one, numbered in order of
/// first appearance).
fn seed_groups(members: &[Member]) -> Vec<usize> {
    let mut seen: Vec<Seed> = Vec::new();
    members
        .iter()
        .map(|m| match seen.iter().position(|s| *s == m.seed) {
            Some(g) => g,
            None => {
                seen.push(m.seed);
                seen.len() - 1
            }
        })
        .collect()
}

/// The data-order generator of `seed`.
fn order_rng(seed: &Seed) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::from_seed(*seed);
    rng.set_stream(DATA_ORDER_STREAM);
    rng
}

/// The order of the `n` samples in the first epoch of a member with `seed` (the
/// training-free proxies read the first samples of it).
pub fn first_epoch_order(seed: &Seed, n: usize) -> Vec<i64> {
    epoch_orders(&mut [order_rng(seed)], n).remove(0)
}

/// Each seed group's order of the `n` samples for one epoch.
fn epoch_orders(orders: &mut [ChaCha8Rng], n: usize) -> Vec<Vec<i64>> {
    orders
        .iter_mut()
        .map(|rng| {
            let mut order: Vec<i64> = (0..n as i64).collect();
            order.shuffle(rng);
            order
        })
        .collect()
}

/// The engine with every member's first weights, the DAGs, and the groups' seeds.
fn build_engine(job: &PopulationJob<'_>, members: Vec<Member>, groups: &[usize]) -> Result<(Engine, Vec<Dag>, Vec<Seed>)> {
    let mut seeds: Vec<Seed> = Vec::new();
    for (m, member) in members.iter().enumerate() {
        if groups[m] == seeds.len() {
            seeds.push(member.seed);
        }
    }
    let mut weights = Vec::new();
    let mut dags = Vec::new();
    for member in members {
        let w = match member.init {
            MemberInit::Draw(mut rng) => DagWeights::init(job.space, &member.dag, job.kind, job.device, &mut rng)?,
            MemberInit::Weights(w) => w,
        };
        weights.push(w);
        dags.push(member.dag);
    }
    let engine = if !StackedNet::covers(job.space) {
        let own = weights
            .iter()
            .zip(&dags)
            .map(|(w, dag)| own_weights(job, dag, w))
            .collect::<Result<Vec<_>>>()?;
        Engine::Separate(own)
    } else {
        let refs: Vec<&Dag> = dags.iter().collect();
        let net = StackedNet::new(job.space, &refs, groups, job.kind, job.device)?;
        for (m, w) in weights.iter().enumerate() {
            net.set_member(m, w)?;
        }
        Engine::Stacked(net)
    };
    Ok((engine, dags, seeds))
}

/// A copy of `w` (checked against `dag`) as leaves that require grad, in `job`'s
/// precision and device.
fn own_weights(job: &PopulationJob<'_>, dag: &Dag, w: &DagWeights) -> Result<DagWeights> {
    let tensors = w
        .tensors()
        .iter()
        .map(|t| Ok(t.f_to_kind(job.kind)?.f_to_device(job.device)?.f_detach_copy()?.set_requires_grad(true)))
        .collect::<Result<Vec<_>>>()?;
    DagWeights::from_tensors(job.space, dag, tensors)
}

fn member_states(job: &PopulationJob<'_>, engine: &Engine) -> Result<Vec<State>> {
    let params: Vec<Vec<Tensor>> = match engine {
        Engine::Stacked(net) => (0..net_members(engine)).map(|m| net.member_params(m)).collect::<Result<_>>()?,
        Engine::Separate(ws) => ws.iter().map(|w| w.tensors()).collect(),
    };
    Ok(params
        .into_iter()
        .map(|params| State { opt: Optimizer::new(job.config.optimizer.clone()), params, failed: None, loss_sum: 0.0 })
        .collect())
}

fn net_members(engine: &Engine) -> usize {
    match engine {
        Engine::Stacked(net) => net.members(),
        Engine::Separate(ws) => ws.len(),
    }
}

/// Where in the run a step is (for failure reasons).
struct Where {
    epoch: usize,
    step: usize,
    lr: f64,
}

/// One step's normalised inputs and labels, per seed group.
struct Batch {
    xs: Vec<Tensor>,
    ys: Vec<Tensor>,
}

/// One step of every member still training; `chunks[g]` are seed group `g`'s sample
/// indices.
fn train_step(job: &PopulationJob<'_>, engine: &Engine, dags: &[Dag], states: &mut [State], groups: &[usize], chunks: &[&[i64]], at: &Where) -> Result<()> {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for chunk in chunks {
        let idx = Tensor::f_from_slice(chunk)?.f_to_device(job.device)?;
        let (x, y) = job.data.rows(&idx)?;
        xs.push(job.normalization.apply(&x.f_to_kind(job.kind)?)?);
        ys.push(y);
    }
    let batch = Batch { xs, ys };
    let (losses, grads) = losses_and_grads(job, engine, dags, states, groups, &batch)?;
    let rows = chunks[0].len() as f64;
    for (m, state) in states.iter_mut().enumerate() {
        if state.failed.is_some() {
            continue;
        }
        let value = losses[m];
        if !value.is_finite() {
            state.failed = Some(format!(
                "the training loss is {value} in epoch {} (step {}, learning rate {}): lower the learning rate or clip \
                 the gradient norm (grad_clip)",
                at.epoch + 1,
                at.step + 1,
                number(at.lr)
            ));
            continue;
        }
        let g = &grads[m];
        let scale = clipping_scale(g, job.config.grad_clip)?;
        if !state.opt.step_in_place(&state.params, g, scale, at.lr)? {
            state.failed = Some(format!(
                "the update of step {} (epoch {}, learning rate {}) makes a weight non-finite: lower the learning rate \
                 or clip the gradient norm (grad_clip)",
                at.step + 1,
                at.epoch + 1,
                number(at.lr)
            ));
            continue;
        }
        state.loss_sum += value * rows;
    }
    Ok(())
}

/// Every member's loss on its group's batch and its gradients (empty for a failed
/// member of a typed space).
fn losses_and_grads(job: &PopulationJob<'_>, engine: &Engine, dags: &[Dag], states: &[State], groups: &[usize], batch: &Batch) -> Result<(Vec<f64>, Vec<Vec<Tensor>>)> {
    match engine {
        Engine::Stacked(net) => {
            let leaves = net.grad_leaves()?;
            let labels: Vec<&Tensor> = groups.iter().map(|&g| &batch.ys[g]).collect();
            let losses = net.losses(&leaves, &batch.xs, &Tensor::f_stack(&labels, 0)?)?;
            let values = Vec::<f64>::try_from(losses.f_to_kind(Kind::Double)?.f_to_device(Device::Cpu)?)?;
            let leaf_grads = Tensor::f_run_backward(&[losses.f_sum(losses.kind())?], &leaves, false, false)?;
            let grads = (0..net.members()).map(|m| net.member_views(&leaf_grads, m)).collect::<Result<_>>()?;
            Ok((values, grads))
        }
        Engine::Separate(ws) => {
            let (mut values, mut grads) = (Vec::new(), Vec::new());
            for (m, w) in ws.iter().enumerate() {
                if states[m].failed.is_some() {
                    values.push(f64::NAN);
                    grads.push(Vec::new());
                    continue;
                }
                let g = groups[m];
                let loss = cross_entropy(&forward_dag(job.space, &dags[m], w, &batch.xs[g])?, &batch.ys[g])?;
                values.push(loss.f_double_value(&[])?);
                grads.push(Tensor::f_run_backward(&[&loss], &states[m].params, false, false)?);
            }
            Ok((values, grads))
        }
    }
}

/// Every member's result.
fn finish(job: &PopulationJob<'_>, engine: &Engine, states: Vec<State>, dags: Vec<Dag>) -> Result<Vec<MemberResult>> {
    let mut out = Vec::new();
    for (m, (state, dag)) in states.into_iter().zip(dags).enumerate() {
        if let Some(reason) = state.failed {
            out.push(MemberResult::Failed(reason));
            continue;
        }
        let weights = match engine {
            Engine::Stacked(net) => net.member_weights(m, &dag)?,
            Engine::Separate(ws) => ws[m].detached_copy()?,
        };
        let network = Network { space: job.space.clone(), dag, normalization: job.normalization.clone(), weights };
        out.push(MemberResult::Trained(network));
    }
    Ok(out)
}
