//! What the search loop watches during a phase: DARTS+'s stopping rules (a check every
//! tenth of an epoch, see [`crate::search::strategy::StopMonitor`]) and the Hessian
//! monitor (every `hessian_every` epochs, see [`crate::search::hessian`]). Both only read
//! the session, so a search watched by them takes the same steps as one that is not
//! until a rule fires.

use tch::Tensor;

use crate::data::SplitTensors;
use crate::error::Result;
use crate::model::ops::Op;
use crate::search::config::SearchConfig;
use crate::search::hessian::{largest_eigenvalue, HESSIAN_SAMPLES};
use crate::search::session::Session;
use crate::search::strategy::{StopMonitor, StopRule};

/// The watch over one phase.
pub(super) struct Watch {
    monitor: Option<StopMonitor>,
    /// Steps between two checks of the rules.
    interval: usize,
    identity_in_space: bool,
    hessian_every: Option<usize>,
    /// The monitor's fixed validation subset.
    hessian_data: Option<(Tensor, Tensor)>,
}

impl Watch {
    /// The watch of a phase of `config` over `session`, with `steps_per_epoch` steps in
    /// an epoch and `val` the validation split.
    pub fn new(config: &SearchConfig, session: &Session, steps_per_epoch: usize, val: &SplitTensors) -> Result<Watch> {
        let hessian_data = match config.hessian_every {
            Some(_) => {
                let n = val.len().min(HESSIAN_SAMPLES as i64);
                Some((val.x.f_narrow(0, 0, n)?, val.y.f_narrow(0, 0, n)?))
            }
            None => None,
        };
        Ok(Watch {
            monitor: session.strategy().stopping_rules().map(|rules| StopMonitor::new(rules.clone())),
            interval: steps_per_epoch.div_ceil(10).max(1),
            identity_in_space: session.space().ops().contains(&Op::Identity),
            hessian_every: config.hessian_every,
            hessian_data,
        })
    }

    /// After step `i` of an epoch (from 0) with architecture steps: checks the ranking
    /// and skip rules every tenth of an epoch.
    pub fn after_step(&mut self, session: &Session, i: usize) -> Result<Option<StopRule>> {
        let Some(monitor) = self.monitor.as_mut() else { return Ok(None) };
        if (i + 1) % self.interval != 0 {
            return Ok(None);
        }
        Ok(monitor.check(&session.alpha()?, session.dags(), self.identity_in_space))
    }

    /// After epoch `epoch` (from 0): the Hessian's largest eigenvalue when it is due,
    /// with the Hessian rule's verdict on it.
    pub fn after_epoch(&mut self, session: &Session, epoch: usize) -> Result<Option<(f64, Option<StopRule>)>> {
        let (Some(n), Some((x, y))) = (self.hessian_every, &self.hessian_data) else { return Ok(None) };
        if (epoch + 1) % n != 0 {
            return Ok(None);
        }
        let eigenvalue = largest_eigenvalue(&session.alpha_hessian(x, y)?)?;
        let rule = self.monitor.as_mut().and_then(|m| m.check_eigenvalue(eigenvalue));
        Ok(Some((eigenvalue, rule)))
    }
}
