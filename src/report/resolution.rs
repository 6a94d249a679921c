//! How finely a design ranks DAGs (docs/reliability.md): from a table of accuracies
//! `a(d, s)` of `g` DAGs over the same `n` seeds, a one-way analysis of variance over
//! DAGs gives the reliability of one seed's ranking (ICC(1)) and of the `n`-seed mean's
//! (ICC(1,k)), a split-half Spearman correlation stepped up by Spearman-Brown as a check
//! (even `n`), and the smallest difference between two DAGs the design detects.

use serde::{Deserialize, Serialize};

use super::stats::{spearman, t_quantile};

/// The resolution of one space's DAG ranking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    /// DAGs `g`.
    pub dags: usize,
    /// Seeds per DAG `n`.
    pub seeds: usize,
    /// Mean square between DAGs.
    pub ms_between: f64,
    /// Mean square within DAGs (over seeds).
    pub ms_within: f64,
    /// ICC(1) = (MSB - MSW) / (MSB + (n - 1) MSW): the reliability of one seed.
    pub icc_one_seed: Option<f64>,
    /// ICC(1,k) = (MSB - MSW) / MSB: the reliability of the `n`-seed mean.
    pub icc_seed_mean: Option<f64>,
    /// Spearman's rho between the means of the first and the second half of the seeds
    /// (even `n` only).
    pub split_half_rho: Option<f64>,
    /// Spearman-Brown's step-up of it to all `n` seeds, 2r / (1 + r).
    pub spearman_brown: Option<f64>,
    /// The two-sided level the detectable difference is computed at.
    pub alpha: f64,
    /// The smallest difference in accuracy between two DAGs that a paired test over
    /// the `n` seeds detects with 80% power at `alpha`: (t(1 - alpha/2, n-1) + t(0.8,
    /// n-1)) sqrt(2 MSW / n).
    pub detectable_difference: Option<f64>,
}

/// The resolution of `table` (one row of `n >= 2` seeds' accuracies per DAG, at least
/// two DAGs, rows of equal length; `None` otherwise) at the two-sided level `alpha`.
pub fn resolution(table: &[Vec<f64>], alpha: f64) -> Option<Resolution> {
    let g = table.len();
    let n = table.first()?.len();
    if g < 2 || n < 2 || table.iter().any(|r| r.len() != n) {
        return None;
    }
    let means: Vec<f64> = table.iter().map(|r| mean(r)).collect();
    let grand = mean(&means);
    let msb = n as f64 * means.iter().map(|m| (m - grand).powi(2)).sum::<f64>() / (g - 1) as f64;
    let ssw: f64 = table.iter().zip(&means).map(|(r, m)| r.iter().map(|x| (x - m).powi(2)).sum::<f64>()).sum();
    let msw = ssw / (g * (n - 1)) as f64;
    let icc_one_seed = (msb + (n - 1) as f64 * msw > 0.0).then(|| (msb - msw) / (msb + (n - 1) as f64 * msw));
    let icc_seed_mean = (msb > 0.0).then(|| (msb - msw) / msb);
    let split_half_rho = (n % 2 == 0).then(|| split_half(table)).flatten();
    let df = (n - 1) as f64;
    let detectable = (t_quantile(1.0 - alpha / 2.0, df) + t_quantile(0.8, df)) * (2.0 * msw / n as f64).sqrt();
    Some(Resolution {
        dags: g,
        seeds: n,
        ms_between: msb,
        ms_within: msw,
        icc_one_seed,
        icc_seed_mean,
        split_half_rho,
        spearman_brown: split_half_rho.map(spearman_brown),
        alpha,
        detectable_difference: Some(detectable),
    })
}

/// Spearman's rho between the DAGs' means over the first and the second half of the
/// seeds.
fn split_half(table: &[Vec<f64>]) -> Option<f64> {
    let half = table[0].len() / 2;
    let first: Vec<f64> = table.iter().map(|r| mean(&r[..half])).collect();
    let second: Vec<f64> = table.iter().map(|r| mean(&r[half..])).collect();
    spearman(&first, &second)
}

/// Spearman-Brown's prophecy for a test twice as long: 2r / (1 + r).
pub fn spearman_brown(r: f64) -> f64 {
    2.0 * r / (1.0 + r)
}

/// A correlation between two rankings corrected for their reliabilities `rx` and `ry`:
/// `r / sqrt(rx ry)`, capped at 1 in size (`None` unless both are positive).
pub fn disattenuated(r: f64, rx: f64, ry: f64) -> Option<f64> {
    (rx > 0.0 && ry > 0.0).then(|| (r / (rx * ry).sqrt()).clamp(-1.0, 1.0))
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}
