//! One phase of a search (docs/architecture.md): epochs of a weight step followed by an
//! architecture step (weight steps only in warm-up epochs), watched by DARTS+'s rules
//! and the Hessian monitor when configured, then the blocks are judged on the
//! validation split and the next blocks drawn.

use tch::Tensor;

use crate::data::SplitTensors;
use crate::error::Result;
use crate::search::config::SearchConfig;
use crate::search::events::{Control, Event};
use crate::search::session::{PhaseReport, Session};
use crate::search::state::LoopState;
use crate::search::stats::{entropy, kendall_tau};
use crate::search::summary::PhaseSummary;
use crate::search::hessian::HessianPoint;
use crate::search::strategy::EarlyStop;
use crate::search::watch::Watch;

/// The splits a phase steps through, on the session's device.
pub(super) struct PhaseData<'a> {
    /// The weight split.
    pub weight: &'a SplitTensors,
    /// The validation split (blocks are judged on it).
    pub val: &'a SplitTensors,
    /// The architecture steps' split (validation or weight).
    pub arch: &'a SplitTensors,
}

/// A phase's outcome: its report, and whether it ran to its end (a stop cuts it short;
/// its blocks are judged all the same, but it is not counted as done).
pub(super) struct PhaseOutcome {
    pub report: PhaseReport,
    pub complete: bool,
}

/// Sums over an epoch's steps.
#[derive(Default)]
struct EpochSums {
    weight: f64,
    weight_samples: usize,
    arch: f64,
    arch_samples: usize,
}

/// Runs phase `state.phases_done` (from 0) and judges its blocks.
pub(super) fn run_phase(
    config: &SearchConfig,
    session: &mut Session,
    data: &PhaseData<'_>,
    state: &mut LoopState,
    control: &mut Control<'_>,
) -> Result<PhaseOutcome> {
    let phase = state.phases_done;
    let epochs = config.warmup_epochs + config.epochs;
    let n_weight = data.weight.len() as usize;
    let steps_per_epoch = n_weight.div_ceil(config.batch_size);
    let phase_steps = steps_per_epoch * epochs;
    state.alpha_trace.push(Vec::new());
    let mut watch = Watch::new(config, session, steps_per_epoch, data.val)?;
    let (mut early_stop, mut eigenvalue) = (None, None);
    let mut complete = true;
    'epochs: for epoch in 0..epochs {
        let warmup = epoch < config.warmup_epochs;
        let order = session.shuffled(n_weight);
        let mut sums = EpochSums::default();
        for (i, chunk) in order.chunks(config.batch_size).enumerate() {
            if control.stopped() {
                complete = false;
                break 'epochs;
            }
            let (weight_loss, arch_loss) = step(config, session, data, state, chunk, warmup, &mut sums)?;
            let step = epoch * steps_per_epoch + i;
            control.emit(Event::Step { phase, step, steps: phase_steps, weight_loss, arch_loss });
            if let Some(rule) = if warmup { None } else { watch.after_step(session, i)? } {
                early_stop = Some(EarlyStop { phase, step, rule });
                break 'epochs;
            }
        }
        // Only whole epochs are reported: a stop in mid-epoch leaves no partial figure.
        control.emit(Event::Epoch {
            phase,
            epoch,
            epochs,
            weight_loss: sums.weight / sums.weight_samples as f64,
            arch_loss: if sums.arch_samples > 0 { sums.arch / sums.arch_samples as f64 } else { f64::NAN },
            weight_entropy: entropy(&session.block_weights()?),
        });
        if let Some((value, rule)) = watch.after_epoch(session, epoch)? {
            state.hessian.push(HessianPoint { phase, epoch, step: state.step, eigenvalue: value });
            eigenvalue = Some(value);
            if let Some(rule) = rule {
                early_stop = Some(EarlyStop { phase, step: (epoch + 1) * steps_per_epoch - 1, rule });
                break 'epochs;
            }
        }
    }
    if early_stop.is_some() {
        // The schedule goes on where the phase would have ended.
        state.step = (phase + 1) * phase_steps;
        state.early_stops.extend(early_stop);
    }
    let mut report = session.end_phase(&data.val.x, &data.val.y)?;
    session.note_phase(phase, early_stop, eigenvalue);
    for r in &mut report.records {
        (r.early_stop, r.hessian_eigenvalue) = (early_stop, eigenvalue);
    }
    state.density.push(session.density().probabilities().to_vec());
    let mut summary = phase_summary(&report);
    (summary.early_stop, summary.hessian_eigenvalue) = (early_stop, eigenvalue);
    state.phases.push(summary);
    if complete {
        state.phases_done += 1;
    }
    Ok(PhaseOutcome { report, complete })
}

/// One weight step on `rows` of the weight split and, after warm-up, one architecture
/// step on the next rows of the architecture split; returns both losses (NaN for the
/// architecture loss in warm-up).
fn step(
    config: &SearchConfig,
    session: &mut Session,
    data: &PhaseData<'_>,
    state: &mut LoopState,
    rows: &[i64],
    warmup: bool,
    sums: &mut EpochSums,
) -> Result<(f64, f64)> {
    let device = session.device();
    let steps_per_epoch = (data.weight.len() as usize).div_ceil(config.batch_size);
    let phase_steps = steps_per_epoch * (config.warmup_epochs + config.epochs);
    let total_steps = phase_steps * config.phases;
    let base_lr = config.session.weight_optimizer.lr;
    session.set_weight_lr(config.schedule.lr(base_lr, state.step, total_steps))?;
    // The fraction of this phase done: the strategies' temperature schedules.
    session.set_progress((state.step % phase_steps) as f64 / phase_steps as f64)?;
    let (x, y) = data.weight.rows(&Tensor::f_from_slice(rows)?.f_to_device(device)?)?;
    let weight_loss = session.step_weights(&x, &y)?;
    sums.weight += weight_loss * rows.len() as f64;
    sums.weight_samples += rows.len();
    state.samples += rows.len();
    state.step += 1;
    let mut arch_loss = f64::NAN;
    if !warmup {
        let n_arch = data.arch.len() as usize;
        let batch = config.batch_size.min(n_arch);
        if state.val_order.len() < batch {
            state.val_order = session.shuffled(n_arch);
        }
        let take: Vec<i64> = state.val_order.drain(..batch).collect();
        let (xv, yv) = data.arch.rows(&Tensor::f_from_slice(&take)?.f_to_device(device)?)?;
        arch_loss = session.step_architecture(&xv, &yv)?;
        sums.arch += arch_loss * take.len() as f64;
        sums.arch_samples += take.len();
        state.samples += take.len();
    }
    let phase = state.alpha_trace.len() - 1;
    state.alpha_trace[phase].push(session.alpha()?);
    Ok((weight_loss, arch_loss))
}

fn phase_summary(report: &PhaseReport) -> PhaseSummary {
    let accs: Vec<f64> = report.records.iter().map(|r| r.val_accuracy).collect();
    let alpha: Vec<f64> = report.records.iter().map(|r| r.alpha).collect();
    PhaseSummary {
        phase: report.phase,
        best_val_accuracy: accs.iter().cloned().fold(0.0, f64::max),
        mean_val_accuracy: accs.iter().sum::<f64>() / accs.len() as f64,
        density_entropy_bits: report.density_entropy_bits,
        kendall_tau: kendall_tau(&alpha, &accs),
        early_stop: None,
        hessian_eigenvalue: None,
    }
}
