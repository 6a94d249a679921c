//! Small statistics the search reports: entropy of block weights and Kendall's tau-b
//! (on values rounded to [`RANK_DIGITS`] significant digits, as the report ranks).

/// Entropy in nats of a discrete distribution.
pub fn entropy(w: &[f64]) -> f64 {
    -w.iter().filter(|&&p| p > 0.0).map(|&p| p * p.ln()).sum::<f64>()
}

/// The significant digits values are rounded to before they are ranked: means of
/// accuracy counts summed in another order differ in the last bits only, and must tie.
pub const RANK_DIGITS: usize = 12;

/// `x` rounded to [`RANK_DIGITS`] significant digits (what ranks compare).
pub fn rank_key(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{:.*e}", RANK_DIGITS - 1, x).parse().unwrap_or(x)
}

/// Kendall's tau-b between two rankings of the same items (ties handled: values are
/// compared rounded to [`RANK_DIGITS`] significant digits, so
/// equal accuracies summed in another order tie), or `None` when one of them is
/// constant (for example `alpha` of a strategy without `alpha`).
pub fn kendall_tau(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    let (a, b): (Vec<f64>, Vec<f64>) = (a[..n].iter().map(|&x| rank_key(x)).collect(), b[..n].iter().map(|&x| rank_key(x)).collect());
    let (mut concordant, mut discordant, mut ties_a, mut ties_b) = (0f64, 0f64, 0f64, 0f64);
    for i in 0..n {
        for j in i + 1..n {
            let (da, db) = (a[i] - a[j], b[i] - b[j]);
            if da == 0.0 && db == 0.0 {
                continue;
            } else if da == 0.0 {
                ties_a += 1.0;
            } else if db == 0.0 {
                ties_b += 1.0;
            } else if (da > 0.0) == (db > 0.0) {
                concordant += 1.0;
            } else {
                discordant += 1.0;
            }
        }
    }
    let denom = ((concordant + discordant + ties_a) * (concordant + discordant + ties_b)).sqrt();
    (denom > 0.0).then(|| (concordant - discordant) / denom)
}
