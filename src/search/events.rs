//! What a running search tells its caller ([`Event`]s, for progress displays and
//! callbacks) and how the caller steers it ([`Control`]: a stop flag).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::search::session::PhaseReport;

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

/// How a caller follows and steers a running search: `on_event` hears every
/// [`Event`]; setting `stop` (from a signal handler, another thread or `on_event`
/// itself) ends the search at the next step: the phase under way is judged where it
/// stands (and not checkpointed), retraining is skipped or cut short, and the summary
/// is marked `interrupted`.
pub struct Control<'a> {
    /// Hears every event.
    pub on_event: &'a mut dyn FnMut(Event<'_>),
    /// The stop request.
    pub stop: &'a AtomicBool,
}

impl Control<'_> {
    /// Whether a stop was requested.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Tells the caller.
    pub fn emit(&mut self, event: Event<'_>) {
        (self.on_event)(event)
    }
}
