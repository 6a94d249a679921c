//! Paired comparisons between the searches of one dataset, beside RQ2's comparisons
//! with baselines: RQ1's strategies against random sampling with weight sharing (the
//! `random` strategy) on the same space, and RQ3's spaces against the largest space
//! that the same strategy searched. Each is paired by seed on the retrained test
//! accuracy, and each question's comparisons are one Holm family, judged with the
//! verdicts of [`super::verdict`].

use std::collections::BTreeMap;

use super::build::{judge_family, Comparison, SpaceLabel};
use super::stats::paired_t;

/// One strategy's searches on one space: retrained test accuracy by seed.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedResults {
    /// The space.
    pub space: SpaceLabel,
    /// The strategy.
    pub strategy: String,
    /// Retrained test accuracy of the best DAG, by seed.
    pub test_accuracy: BTreeMap<u64, f64>,
}

/// `a - b` over the seeds both have (`None` when they share none).
fn pair(a: &SeedResults, b: &SeedResults, space: &SpaceLabel, against: &str) -> Option<Comparison> {
    let (x, y): (Vec<f64>, Vec<f64>) = a.test_accuracy.iter().filter_map(|(s, &v)| b.test_accuracy.get(s).map(|&w| (v, w))).unzip();
    (!x.is_empty()).then(|| Comparison::new(space.clone(), &a.strategy, against, paired_t(&x, &y)))
}

/// The runs that speak for their strategy and space (groups apart): of several groups
/// that searched one space with one strategy (the same units, seeds overlapping), the
/// one with the most seeds, the first on a tie.
fn widest(runs: &[SeedResults]) -> Vec<&SeedResults> {
    let mut out: Vec<&SeedResults> = Vec::new();
    for r in runs {
        match out.iter_mut().find(|o| o.strategy == r.strategy && o.space.same_space(&r.space)) {
            Some(o) if o.test_accuracy.len() < r.test_accuracy.len() => *o = r,
            Some(_) => {}
            None => out.push(r),
        }
    }
    out
}

/// RQ1: every strategy but `random` against `random` on the same space (groups
/// apart; each strategy and space once, by its widest run), judged as one family at
/// `margin` (accuracy). Positive: the strategy is ahead.
pub fn rq1_tests(runs: &[SeedResults], margin: f64) -> Vec<Comparison> {
    let runs = widest(runs);
    let mut out = Vec::new();
    for a in runs.iter().filter(|a| a.strategy != "random") {
        let Some(b) = runs.iter().find(|b| b.strategy == "random" && b.space.same_space(&a.space)) else { continue };
        out.extend(pair(a, b, &a.space, "random"));
    }
    judge_family(&mut out, &|_| true, margin);
    out
}

/// The space's name in a comparison's `against`: depth and longest skip.
fn size_name(s: &SpaceLabel) -> String {
    format!("L={} S={} D={}", s.layers, s.max_skip, s.width)
}

/// RQ3: per strategy, every untyped space it searched against the largest of them (the
/// most DAGs; the first such on a tie) of the same width, judged as one family at
/// `margin`. Positive: the smaller space is ahead.
pub fn rq3_tests(runs: &[SeedResults], margin: f64) -> Vec<Comparison> {
    let mut out = Vec::new();
    let untyped: Vec<&SeedResults> = widest(runs).into_iter().filter(|r| r.space.typed.is_none()).collect();
    for a in &untyped {
        let peers = untyped.iter().filter(|b| b.strategy == a.strategy && b.space.width == a.space.width);
        let Some(largest) = peers.max_by(|x, y| x.space.log2_dags.total_cmp(&y.space.log2_dags).then(std::cmp::Ordering::Greater)) else {
            continue;
        };
        if largest.space.same_space(&a.space) {
            continue;
        }
        out.extend(pair(a, largest, &a.space, &size_name(&largest.space)));
    }
    judge_family(&mut out, &|_| true, margin);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::verdict::Verdict;

    fn label(group: &str, layers: usize, max_skip: usize, log2_dags: f64) -> SpaceLabel {
        SpaceLabel {
            group: group.into(),
            layers,
            width: 128,
            blocks: 8,
            allowed_edges: 0,
            log2_dags,
            max_skip,
            typed: None,
        }
    }

    fn runs(space: SpaceLabel, strategy: &str, acc: &[f64]) -> SeedResults {
        SeedResults { space, strategy: strategy.into(), test_accuracy: acc.iter().enumerate().map(|(i, &a)| (i as u64, a)).collect() }
    }

    #[test]
    fn strategies_pair_with_random_on_the_same_space_across_groups() {
        let a = label("ground truth", 4, 3, 6.0);
        let b = label("rq1 extra", 4, 3, 6.0);
        let rs = vec![
            runs(a.clone(), "random", &[0.90, 0.91, 0.92, 0.93, 0.94]),
            runs(a.clone(), "darts", &[0.95, 0.96]),
            runs(b.clone(), "darts", &[0.95, 0.96, 0.97, 0.98, 0.995]),
            runs(label("other", 5, 4, 10.0), "gdas", &[0.9; 5]),
        ];
        let t = rq1_tests(&rs, 0.003);
        assert_eq!(t.len(), 1, "darts once (its widest run); gdas has no random run on its space");
        assert_eq!((t[0].strategy.as_str(), t[0].against.as_str(), t[0].test.n), ("darts", "random", 5));
        assert!((t[0].test.mean_difference - 0.051).abs() < 1e-12);
        assert!(t[0].primary && t[0].test.p_holm.is_some());
        assert_eq!(t[0].verdict, Verdict::Better);
    }

    #[test]
    fn spaces_pair_with_the_largest_of_their_strategy_and_width() {
        let rs = vec![
            runs(label("g", 8, 1, 7.0), "darts", &[0.90, 0.91, 0.90, 0.92]),
            runs(label("g", 8, 7, 28.0), "darts", &[0.90, 0.91, 0.90, 0.92]),
            runs(label("g", 8, 4, 22.0), "darts", &[0.91, 0.90, 0.92, 0.90]),
        ];
        let t = rq3_tests(&rs, 0.003);
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|c| c.against == "L=8 S=7 D=128"));
        // Identical accuracies: no spread, no test, can't tell.
        assert_eq!(t[0].test.mean_difference, 0.0);
        assert_eq!(t[0].verdict, Verdict::CantTell);
    }
}
