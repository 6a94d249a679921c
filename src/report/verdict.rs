//! The words every answer of a report uses for a paired comparison (docs/reliability.md),
//! in this order: better or worse when the two-sided paired test rejects at the level
//! of its family (Holm-corrected among the primary comparisons, uncorrected 5% for
//! exploratory ones), "within the margin" when the 90% interval lies inside +-margin;
//! else equivalent when both one-sided tests of TOST reject at 5% (uncorrected); else
//! can't tell.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::stats::{t_quantile, Paired};

/// The default equivalence margin, in accuracy (0.3 percentage points).
pub const DEFAULT_MARGIN: f64 = 0.003;

/// The level a verdict's test rejects at.
pub const ALPHA: f64 = 0.05;

/// A comparison's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly better, by more than the margin could hold.
    Better,
    /// Significantly better, but the 90% interval lies inside the margin.
    BetterWithinMargin,
    /// Significantly worse.
    Worse,
    /// Significantly worse, but the 90% interval lies inside the margin.
    WorseWithinMargin,
    /// Not significantly different, and TOST shows the difference inside the margin.
    Equivalent,
    /// Neither.
    CantTell,
}

impl Verdict {
    /// The words the report prints.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::BetterWithinMargin => "better, within the margin",
            Verdict::Worse => "worse",
            Verdict::WorseWithinMargin => "worse, within the margin",
            Verdict::Equivalent => "equivalent",
            Verdict::CantTell => "can't tell",
        }
    }
}

/// Two one-sided tests of a paired difference against `margin`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tost {
    /// The margin (accuracy).
    pub margin: f64,
    /// p of the test of mean > -margin (null: mean <= -margin).
    pub p_lower: f64,
    /// p of the test of mean < +margin (null: mean >= +margin).
    pub p_upper: f64,
    /// The larger of the two: equivalence at level alpha when below it.
    pub p: f64,
    /// The 90% t interval of the mean difference.
    pub ci90: [f64; 2],
}

/// TOST of the paired comparison `c` at `margin` (`None` with fewer than two pairs or
/// no spread).
pub fn tost(c: &Paired, margin: f64) -> Option<Tost> {
    let sd = c.sd.filter(|&s| s > 0.0)?;
    let df = (c.n - 1) as f64;
    let se = sd / (c.n as f64).sqrt();
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    let p_lower = t.sf((c.mean_difference + margin) / se);
    let p_upper = t.cdf((c.mean_difference - margin) / se);
    let half = t_quantile(0.95, df) * se;
    Some(Tost { margin, p_lower, p_upper, p: p_lower.max(p_upper), ci90: [c.mean_difference - half, c.mean_difference + half] })
}

/// The verdict on `c`, whose p-value at its family's level is `p_family` (Holm's for a
/// primary comparison, the plain p for an exploratory one), with equivalence `margin`.
pub fn verdict(c: &Paired, p_family: Option<f64>, margin: f64) -> Verdict {
    let test = tost(c, margin);
    let within = test.as_ref().is_some_and(|t| t.ci90[0] > -margin && t.ci90[1] < margin);
    if p_family.is_some_and(|p| p < ALPHA) {
        return match (c.mean_difference > 0.0, within) {
            (true, false) => Verdict::Better,
            (true, true) => Verdict::BetterWithinMargin,
            (false, false) => Verdict::Worse,
            (false, true) => Verdict::WorseWithinMargin,
        };
    }
    if test.is_some_and(|t| t.p < ALPHA) {
        Verdict::Equivalent
    } else {
        Verdict::CantTell
    }
}
