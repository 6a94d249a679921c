//! The statistics of a report: summaries over seeds with t-based 95% confidence
//! intervals, paired t-tests with Holm's correction, the seeds a paired test would need,
//! rank correlations (Spearman's rho, Kendall's tau-b) on values rounded to
//! [`RANK_DIGITS`] significant digits, seeded percentile-bootstrap intervals that count
//! their undefined resamples, seeded permutation p-values and the Benjamini-Hochberg
//! correction. The distributions come from `statrs`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean, standard deviation and 95% confidence interval of a sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Described {
    /// Sample size.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Standard deviation (n - 1 in the denominator; `null` for one value).
    pub sd: Option<f64>,
    /// The t-based 95% confidence interval of the mean (`null` for one value).
    pub ci95: Option<[f64; 2]>,
}

/// The `q` quantile of Student's t with `df` degrees of freedom.
pub fn t_quantile(q: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).expect("df > 0").inverse_cdf(q)
}

/// Mean, standard deviation and t-based 95% interval of `v` (`None` when empty).
pub fn describe(v: &[f64]) -> Option<Described> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some(Described { n, mean, sd: None, ci95: None });
    }
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let half = t_quantile(0.975, (n - 1) as f64) * sd / (n as f64).sqrt();
    Some(Described { n, mean, sd: Some(sd), ci95: Some([mean - half, mean + half]) })
}

/// A paired comparison `a - b` over seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// Pairs.
    pub n: usize,
    /// Mean difference.
    pub mean_difference: f64,
    /// Its t-based 95% interval (`null` with fewer than two pairs).
    pub ci95: Option<[f64; 2]>,
    /// The standard deviation of the differences (`null` with fewer than two pairs).
    #[serde(default)]
    pub sd: Option<f64>,
    /// The t statistic (`null` when undefined: fewer than two pairs, or no spread).
    pub t: Option<f64>,
    /// Two-sided p-value of the paired t-test (`null` when `t` is).
    pub p: Option<f64>,
    /// Holm-corrected p-value among the comparisons it was corrected with.
    pub p_holm: Option<f64>,
    /// A rough guide: seeds a paired t-test would need to find this mean difference at
    /// the observed spread (two-sided, at the level its verdict uses, 80% power; `null`
    /// when there is no difference or no spread to judge by).
    pub seeds_needed: Option<usize>,
}

/// The paired t-test of `a[i] - b[i]` (its seeds needed at the two-sided 5% level;
/// [`Paired::seeds_needed_at`] recomputes them at another).
pub fn paired_t(a: &[f64], b: &[f64]) -> Paired {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len();
    let desc = describe(&d);
    let mean = desc.as_ref().map_or(f64::NAN, |s| s.mean);
    let sd = desc.as_ref().and_then(|s| s.sd);
    let t = sd.filter(|&s| s > 0.0).map(|s| mean / (s / (n as f64).sqrt()));
    let p = t.map(|t| 2.0 * StudentsT::new(0.0, 1.0, (n - 1) as f64).expect("n > 1").sf(t.abs()));
    let mut out = Paired { n, mean_difference: mean, ci95: desc.and_then(|s| s.ci95), sd, t, p, p_holm: None, seeds_needed: None };
    out.seeds_needed_at(0.05);
    out
}

impl Paired {
    /// Sets `seeds_needed` for a two-sided test at level `alpha`.
    pub fn seeds_needed_at(&mut self, alpha: f64) {
        self.seeds_needed = self
            .sd
            .filter(|&s| s > 0.0 && self.mean_difference != 0.0)
            .map(|s| seeds_for_power_at(self.mean_difference.abs() / s, alpha));
    }
}

/// The most seeds [`seeds_for_power`] reports.
pub const SEEDS_CAP: usize = 10_000;

/// The smallest number of pairs `n >= 2` at which a two-sided paired t-test at the 5%
/// level has at least 80% power against a true mean difference of `effect` standard
/// deviations (see [`seeds_for_power_at`]).
pub fn seeds_for_power(effect: f64) -> usize {
    seeds_for_power_at(effect, 0.05)
}

/// The smallest number of pairs `n >= 2` at which a two-sided paired t-test at level
/// `alpha` has at least 80% power against a true mean difference of `effect` standard
/// deviations, with the usual t approximation `n = ((t(1 - alpha/2, n-1) + t(0.8,
/// n-1)) / effect)^2` iterated to its fixed point, capped at [`SEEDS_CAP`] (which then
/// means "at least that many"). A rough guide: the spread it is given is itself an
/// estimate.
pub fn seeds_for_power_at(effect: f64, alpha: f64) -> usize {
    if !(effect > 0.0) {
        return SEEDS_CAP;
    }
    let mut n = 2usize;
    while n < SEEDS_CAP {
        let df = (n - 1) as f64;
        let need = ((t_quantile(1.0 - alpha / 2.0, df) + t_quantile(0.8, df)) / effect).powi(2);
        if (n as f64) >= need {
            return n;
        }
        n += 1;
    }
    n
}

/// Holm's step-down correction of `p` (`None` entries are left out and stay `None`).
pub fn holm(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_some()).collect();
    idx.sort_by(|&a, &b| p[a].unwrap().total_cmp(&p[b].unwrap()).then(a.cmp(&b)));
    let m = idx.len();
    let mut out = vec![None; p.len()];
    let mut running = 0.0f64;
    for (rank, &i) in idx.iter().enumerate() {
        let adjusted = ((m - rank) as f64 * p[i].unwrap()).min(1.0);
        running = running.max(adjusted);
        out[i] = Some(running);
    }
    out
}

/// Benjamini and Hochberg's false discovery rate adjustment of `p` (the q-values):
/// sorted ascending, `q_(i) = p_(i) m / i`, then the running minimum from the largest
/// down, capped at 1; `None` entries are left out and stay `None`.
pub fn benjamini_hochberg(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_some()).collect();
    idx.sort_by(|&a, &b| p[a].unwrap().total_cmp(&p[b].unwrap()).then(a.cmp(&b)));
    let m = idx.len();
    let mut out = vec![None; p.len()];
    let mut running = 1.0f64;
    for (rank, &i) in idx.iter().enumerate().rev() {
        running = running.min(p[i].unwrap() * m as f64 / (rank + 1) as f64);
        out[i] = Some(running);
    }
    out
}

pub use crate::search::stats::{rank_key, RANK_DIGITS};

/// Ranks from 1 of the values rounded by [`rank_key`], ties sharing their average rank.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let v: Vec<f64> = v.iter().map(|&x| rank_key(x)).collect();
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            out[k] = avg;
        }
        i = j + 1;
    }
    out
}

/// Pearson's correlation (`None` when either side is constant).
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// Spearman's rho: Pearson's correlation of the (average) ranks.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    pearson(&ranks(a), &ranks(b))
}

/// Kendall's tau-b (ties handled, values rounded by [`rank_key`]).
pub fn kendall(a: &[f64], b: &[f64]) -> Option<f64> {
    crate::search::stats::kendall_tau(a, b)
}

/// The standard deviation of Kendall's tau between `n` untied values under
/// independence, `sqrt(2 (2n + 5) / (9 n (n - 1)))`: what a tau over few items can
/// show (`None` below two items).
pub fn kendall_null_sd(n: usize) -> Option<f64> {
    (n >= 2).then(|| {
        let n = n as f64;
        (2.0 * (2.0 * n + 5.0) / (9.0 * n * (n - 1.0))).sqrt()
    })
}

/// A correlation with its bootstrap interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    /// Pairs.
    pub n: usize,
    /// The statistic (`null` when a side is constant).
    pub value: Option<f64>,
    /// The 95% percentile-bootstrap interval (`null` when undefined, and below
    /// [`BOOTSTRAP_MIN_N`] pairs: too few to resample).
    pub ci95: Option<[f64; 2]>,
    /// Resamples in which the statistic was undefined (a side constant), left out of
    /// the interval (`null` when there was no bootstrap).
    #[serde(default)]
    pub undefined_resamples: Option<usize>,
}

/// Resamples of the bootstrap.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// The fewest pairs a bootstrap interval is given for (below, the report says "too few
/// DAGs": resamples of four or five pairs give intervals such as [-1, estimate]).
pub const BOOTSTRAP_MIN_N: usize = 10;

/// The resamples of [`bootstrap`]: [`BOOTSTRAP_RESAMPLES`] lists of `n` indices drawn
/// with replacement from a generator seeded with `seed`.
pub fn bootstrap_indices(n: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..BOOTSTRAP_RESAMPLES).map(|_| (0..n).map(|_| rng.gen_range(0..n)).collect()).collect()
}

/// `stat(a, b)` with a 95% percentile-bootstrap interval over the resampled pairs of
/// [`bootstrap_indices`] (resamples where `stat` is undefined are left out and counted;
/// no interval below [`BOOTSTRAP_MIN_N`] pairs).
pub fn bootstrap(a: &[f64], b: &[f64], stat: fn(&[f64], &[f64]) -> Option<f64>, seed: u64) -> Correlation {
    let n = a.len().min(b.len());
    let value = if n >= 2 { stat(a, b) } else { None };
    let (mut ra, mut rb) = (vec![0.0; n], vec![0.0; n]);
    bootstrap_by(n, value, seed, &mut |resample| {
        for (i, &k) in resample.iter().enumerate() {
            ra[i] = a[k];
            rb[i] = b[k];
        }
        stat(&ra, &rb)
    })
}

/// How much better `a` ranks `y` than `b` does: |Spearman rho(a, y)| - |rho(b, y)|, with
/// a 95% percentile-bootstrap interval over the same resamples of the triples (as
/// [`bootstrap`]: undefined resamples counted, no interval below [`BOOTSTRAP_MIN_N`]).
/// RQ4 uses it for a proxy's gain over the parameter count.
pub fn spearman_gain(a: &[f64], b: &[f64], y: &[f64], seed: u64) -> Correlation {
    let n = a.len().min(b.len()).min(y.len());
    let gain = |a: &[f64], b: &[f64], y: &[f64]| Some(spearman(a, y)?.abs() - spearman(b, y)?.abs());
    let value = if n >= 2 { gain(&a[..n], &b[..n], &y[..n]) } else { None };
    let (mut ra, mut rb, mut ry) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    bootstrap_by(n, value, seed, &mut |resample| {
        for (i, &k) in resample.iter().enumerate() {
            ra[i] = a[k];
            rb[i] = b[k];
            ry[i] = y[k];
        }
        gain(&ra, &rb, &ry)
    })
}

/// The percentile interval of `stat` over [`bootstrap_indices`]`(n, seed)`, around
/// `value` (its value on the sample).
fn bootstrap_by(n: usize, value: Option<f64>, seed: u64, stat: &mut dyn FnMut(&[usize]) -> Option<f64>) -> Correlation {
    if value.is_none() || n < BOOTSTRAP_MIN_N {
        return Correlation { n, value, ci95: None, undefined_resamples: None };
    }
    let mut draws: Vec<f64> = bootstrap_indices(n, seed).iter().filter_map(|r| stat(r)).collect();
    draws.sort_by(f64::total_cmp);
    let undefined = BOOTSTRAP_RESAMPLES - draws.len();
    let ci95 = (draws.len() >= 20).then(|| [quantile(&draws, 0.025), quantile(&draws, 0.975)]);
    Correlation { n, value, ci95, undefined_resamples: Some(undefined) }
}

/// Shuffles of a permutation test.
pub const PERMUTATIONS: usize = 2000;

/// The two-sided permutation p-value of Spearman's rho between `x` and `y`: the share
/// of rearrangements of `y` whose |rho| is at least the observed one (within a relative
/// 1e-12, so ties of the statistic count). Exact over all `n!` rearrangements when
/// there are at most [`PERMUTATIONS`] of them (the observed one among them); else
/// `(1 + hits) / (1 + PERMUTATIONS)` over seeded shuffles. `None` when rho is undefined.
pub fn permutation_p(x: &[f64], y: &[f64], seed: u64) -> Option<f64> {
    let n = x.len().min(y.len());
    let observed = spearman(&x[..n], &y[..n])?.abs();
    let (rx, ry) = (ranks(&x[..n]), ranks(&y[..n]));
    let at_least = |perm: &[usize]| {
        let shuffled: Vec<f64> = perm.iter().map(|&i| ry[i]).collect();
        pearson(&rx, &shuffled).is_some_and(|r| r.abs() >= observed * (1.0 - 1e-12))
    };
    let mut perm: Vec<usize> = (0..n).collect();
    if let Some(total) = factorial_at_most(n, PERMUTATIONS) {
        let mut hits = 0usize;
        loop {
            hits += at_least(&perm) as usize;
            if !next_permutation(&mut perm) {
                break;
            }
        }
        return Some(hits as f64 / total as f64);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut hits = 0usize;
    for _ in 0..PERMUTATIONS {
        rand::seq::SliceRandom::shuffle(&mut perm[..], &mut rng);
        hits += at_least(&perm) as usize;
    }
    Some((1 + hits) as f64 / (1 + PERMUTATIONS) as f64)
}

/// `n!` when it is at most `cap`.
fn factorial_at_most(n: usize, cap: usize) -> Option<usize> {
    (1..=n).try_fold(1usize, |acc, k| acc.checked_mul(k).filter(|&v| v <= cap))
}

/// The next permutation in lexicographic order (false after the last).
fn next_permutation(p: &mut [usize]) -> bool {
    let Some(i) = (1..p.len()).rev().find(|&i| p[i - 1] < p[i]) else { return false };
    let j = (i..p.len()).rev().find(|&j| p[j] > p[i - 1]).expect("p[i] is larger");
    p.swap(i - 1, j);
    p[i..].reverse();
    true
}

/// The `q` quantile of sorted `v`, linearly interpolated (numpy's default).
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}
