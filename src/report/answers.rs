//! The generated sentences of a report: each research question's answer in the words
//! of [`super::verdict`] ("better", "equivalent", "can't tell", ...), with the
//! resolution the design has where nothing is settled. The tables beside them hold
//! every number the sentences quote.

use super::build::{Comparison, CrossDataset, SpaceResolution, StrategyRow};
use super::markdown::space;
use super::stats::{BOOTSTRAP_MIN_N, SEEDS_CAP};
use super::verdict::Verdict;

const ORDER: [Verdict; 6] =
    [Verdict::Better, Verdict::BetterWithinMargin, Verdict::Equivalent, Verdict::CantTell, Verdict::WorseWithinMargin, Verdict::Worse];

/// "2 better, 1 can't tell": the verdicts of `cs` counted, in a fixed order.
fn tally(cs: &[&Comparison]) -> String {
    let parts: Vec<String> = ORDER
        .iter()
        .filter_map(|&v| {
            let k = cs.iter().filter(|c| c.verdict == v).count();
            (k > 0).then(|| format!("{k} {}", v.words()))
        })
        .collect();
    parts.join(", ")
}

/// A family's overall answer: some comparison better, all equivalent (or within the
/// margin), some worse and none undecided, or can't tell.
#[derive(Clone, Copy, PartialEq)]
enum Overall {
    Ahead,
    Equivalent,
    Behind,
    CantTell,
}

fn overall(cs: &[&Comparison]) -> Overall {
    if cs.iter().any(|c| c.verdict == Verdict::Better) {
        Overall::Ahead
    } else if cs.iter().all(|c| matches!(c.verdict, Verdict::Equivalent | Verdict::BetterWithinMargin | Verdict::WorseWithinMargin)) {
        Overall::Equivalent
    } else if cs.iter().any(|c| c.verdict == Verdict::Worse) && !cs.iter().any(|c| c.verdict == Verdict::CantTell) {
        Overall::Behind
    } else {
        Overall::CantTell
    }
}

/// The comparison of verdict `v` with the largest mean difference.
fn largest<'a>(cs: &[&'a Comparison], v: Verdict) -> Option<&'a Comparison> {
    cs.iter().copied().filter(|c| c.verdict == v).max_by(|a, b| a.test.mean_difference.total_cmp(&b.test.mean_difference))
}

/// "darts on L=4 S=3 D=128: equivalent (+0.05 points)".
fn one(c: &Comparison) -> String {
    format!("{} on {}: {} ({:+.2} points, {} seeds)", c.strategy, space(&c.space), c.verdict.words(), 100.0 * c.test.mean_difference, c.test.n)
}

fn seeds_needed(c: &Comparison) -> String {
    c.test.seeds_needed.map_or("an unknown number of".to_string(), |s| if s >= SEEDS_CAP { format!("more than {s}") } else { s.to_string() })
}

/// The finest detectable difference of the dataset's spaces, as a sentence.
fn resolution_clause(resolution: &[SpaceResolution]) -> String {
    match resolution.iter().filter_map(|r| r.resolution.detectable_difference).reduce(f64::min) {
        Some(r) => format!(" The design detects differences between two DAGs of {:.2} points or more (see Resolution).", 100.0 * r),
        None => String::new(),
    }
}

/// Koo and Li's bands of an intraclass correlation.
fn band(icc: f64) -> &'static str {
    match icc {
        x if x < 0.5 => "poor",
        x if x < 0.75 => "moderate",
        x if x < 0.9 => "good",
        _ => "excellent",
    }
}

/// One sentence per space of a dataset's resolution.
pub fn resolution_answers(resolution: &[SpaceResolution]) -> Vec<String> {
    resolution
        .iter()
        .map(|r| {
            let q = &r.resolution;
            let d = q.detectable_difference.map_or(String::new(), |d| format!(" Two DAGs closer than {:.2} points cannot be told apart.", 100.0 * d));
            match q.icc_seed_mean {
                Some(icc) if icc > 0.0 => format!(
                    "- {}: the {}-seed mean ranks its {} DAGs with {} reliability (ICC(1,k) = {:.2}; one seed: {:.2}).{d}",
                    space(&r.space),
                    q.seeds,
                    q.dags,
                    band(icc),
                    icc,
                    q.icc_one_seed.unwrap_or(f64::NAN)
                ),
                _ => format!(
                    "- {}: can't tell its {} DAGs apart: their spread is no larger than the noise between seeds (ICC(1,k) {}).{d}",
                    space(&r.space),
                    q.dags,
                    q.icc_seed_mean.map_or("undefined".into(), |v| format!("= {v:.2}"))
                ),
            }
        })
        .collect()
}

/// RQ1: the strategies against random sampling with weight sharing, and where the
/// whole space was trained, how far the found DAGs lie from the best one against the
/// design's resolution.
pub fn rq1_answer(dataset: &str, rows: &[StrategyRow], tests: &[Comparison], resolution: &[SpaceResolution]) -> String {
    let mut text = if tests.is_empty() {
        format!("{dataset}: no strategy has searches paired by seed with random sampling on its space yet.")
    } else {
        let all: Vec<&Comparison> = tests.iter().collect();
        let answer = match overall(&all) {
            Overall::Ahead => "a strategy beats random sampling",
            Overall::Equivalent => "no strategy beats random sampling (equivalent within the margin)",
            Overall::Behind => "no strategy beats random sampling (worse)",
            Overall::CantTell => "can't tell whether any strategy beats random sampling",
        };
        let each: Vec<String> = tests.iter().map(one).collect();
        format!(
            "{dataset}: {answer}. Each strategy's retrained test accuracy against random sampling with weight sharing on the same space, paired by seed and Holm-corrected over the {} comparisons: {} ({}).",
            tests.len(),
            each.join("; "),
            tally(&all)
        )
    };
    for row in rows {
        let Some(gap) = &row.gap_to_best else { continue };
        let Some(res) = resolution.iter().find(|r| r.space.same_space(&row.space)).and_then(|r| r.resolution.detectable_difference) else {
            continue;
        };
        let seen = if gap.mean < res { "can't tell them from the best at this resolution" } else { "they are measurably below the best" };
        text += &format!(
            " {} on {}: its found DAGs lie {:.2} points below the space's best DAG on average (ground truth, seed means), and the design resolves {:.2} points: {seen}.",
            row.strategy,
            space(&row.space),
            100.0 * gap.mean,
            100.0 * res
        );
    }
    text
}

/// RQ2's answer of a dataset: the primary family's verdicts counted, the clearest of
/// them named, and where nothing is settled, what resolution the design has and the
/// seeds that would settle the largest advantage (a rough guide).
pub fn rq2_answer(dataset: &str, rq2: &[Comparison], resolution: &[SpaceResolution]) -> String {
    if rq2.is_empty() {
        return format!("{dataset}: no comparison has results yet.");
    }
    let primary: Vec<&Comparison> = rq2.iter().filter(|c| c.primary).collect();
    let (judged, family) = if primary.is_empty() { (rq2.iter().collect::<Vec<_>>(), "exploratory") } else { (primary, "primary") };
    let n = judged.iter().map(|c| c.test.n).max().unwrap_or(0);
    let settled = overall(&judged);
    let answer = match settled {
        Overall::Ahead => "yes",
        Overall::Equivalent => "no (equivalent within the margin)",
        Overall::Behind => "no (worse)",
        Overall::CantTell => "can't tell",
    };
    let mut text = format!("{dataset}: {answer}. Over the {} {family} comparisons with up to {n} seeds: {}.", judged.len(), tally(&judged));
    if let Some(c) = largest(&judged, Verdict::Better) {
        text += &format!(
            " The largest: {} on L={} against {}, {:+.2} points (Holm p = {}).",
            c.strategy,
            c.space.layers,
            c.against,
            100.0 * c.test.mean_difference,
            c.test.p_holm.map_or("-".into(), |p| format!("{p:.3}"))
        );
    }
    if settled == Overall::CantTell {
        if let Some(c) = largest(&judged, Verdict::CantTell).filter(|c| c.test.mean_difference > 0.0) {
            text += &format!(
                " The largest undecided advantage, {} on L={} against {} ({:+.2} points), would need about {} seeds at the observed spread (a rough guide).",
                c.strategy,
                c.space.layers,
                c.against,
                100.0 * c.test.mean_difference,
                seeds_needed(c)
            );
        }
        text += &resolution_clause(resolution);
    }
    text
}

/// RQ3: smaller spaces against the largest one their strategy searched.
pub fn rq3_answer(dataset: &str, tests: &[Comparison]) -> String {
    if tests.is_empty() {
        return format!("{dataset}: no strategy searched two spaces of one width with seeds in common.");
    }
    let all: Vec<&Comparison> = tests.iter().collect();
    let answer = if all.iter().any(|c| matches!(c.verdict, Verdict::Worse)) {
        "size matters: a smaller space is worse than the largest"
    } else if all.iter().all(|c| matches!(c.verdict, Verdict::Equivalent | Verdict::BetterWithinMargin | Verdict::WorseWithinMargin | Verdict::Better)) {
        "the smallest space searched is enough: no smaller space is worse than the largest beyond the margin"
    } else {
        "can't tell how big the space must be"
    };
    let each: Vec<String> = tests.iter().map(|c| format!("{} against {}", one(c), c.against)).collect();
    format!(
        "{dataset}: {answer}. Each space's retrained test accuracy against the largest space its strategy searched, paired by seed and Holm-corrected over the {} comparisons: {} ({}).",
        tests.len(),
        each.join("; "),
        tally(&all)
    )
}

/// RQ5: one sentence per pair of datasets and space.
pub fn rq5_answers(rq5: &[CrossDataset]) -> Vec<String> {
    rq5.iter()
        .map(|c| {
            let head = format!("- {}, {} vs {}", space(&c.space), c.datasets[0], c.datasets[1]);
            let rho = &c.spearman_rho;
            if rho.n < BOOTSTRAP_MIN_N {
                return format!("{head}: can't tell (too few DAGs: {}).", rho.n);
            }
            if let Some(i) = c.reliability.iter().position(|r| !r.is_some_and(|v| v > 0.0)) {
                return format!(
                    "{head}: can't tell: {}'s own ranking of these DAGs is not reliable (ICC(1,k) {}), so it cannot agree with another.",
                    c.datasets[i],
                    c.reliability[i].map_or("unknown".into(), |v| format!("= {v:.2}"))
                );
            }
            let corrected = c.spearman_rho_corrected.map_or(String::new(), |v| format!("; corrected for both reliabilities {v:+.2}"));
            match rho.ci95 {
                Some([lo, _]) if lo > 0.0 => format!("{head}: the rankings agree (Spearman rho {:+.2}, 95% CI above 0{corrected}).", rho.value.unwrap_or(f64::NAN)),
                Some([_, hi]) if hi < 0.0 => format!("{head}: the rankings disagree (Spearman rho {:+.2}, 95% CI below 0{corrected}).", rho.value.unwrap_or(f64::NAN)),
                _ => format!("{head}: can't tell: the 95% interval of Spearman rho ({:+.2}) spans 0{corrected}.", rho.value.unwrap_or(f64::NAN)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::build::SpaceLabel;
    use crate::report::resolution::Resolution;
    use crate::report::stats::Correlation;

    fn label() -> SpaceLabel {
        SpaceLabel { group: "g".into(), layers: 4, width: 128, blocks: 8, allowed_edges: 6, log2_dags: 6.0, max_skip: 3, typed: None }
    }

    fn res(icc: f64) -> SpaceResolution {
        let q = Resolution {
            dags: 64,
            seeds: 5,
            ms_between: 1.0,
            ms_within: 1.0,
            icc_one_seed: Some(icc / 2.0),
            icc_seed_mean: Some(icc),
            split_half_rho: None,
            spearman_brown: None,
            alpha: 0.0125,
            detectable_difference: Some(0.0021),
        };
        SpaceResolution { space: label(), resolution: q }
    }

    #[test]
    fn the_resolution_says_cant_tell_at_or_below_zero_and_names_its_band() {
        let lines = resolution_answers(&[res(-0.1), res(0.8)]);
        assert!(lines[0].contains("can't tell its 64 DAGs apart") && lines[0].contains("= -0.10"), "{}", lines[0]);
        assert!(lines[1].contains("good reliability") && lines[1].contains("0.21 points"), "{}", lines[1]);
    }

    #[test]
    fn rq5_agrees_only_with_an_interval_above_zero_and_reliable_rankings() {
        let row = |ci: [f64; 2], rel: [Option<f64>; 2]| CrossDataset {
            space: label(),
            datasets: ["mnist".into(), "cifar10".into()],
            spearman_rho: Correlation { n: 64, value: Some((ci[0] + ci[1]) / 2.0), ci95: Some(ci), undefined_resamples: Some(0) },
            kendall_tau: Correlation { n: 64, value: None, ci95: None, undefined_resamples: None },
            reliability: rel,
            spearman_rho_corrected: None,
        };
        let lines = rq5_answers(&[
            row([0.1, 0.5], [Some(0.8), Some(0.6)]),
            row([-0.2, 0.3], [Some(0.8), Some(0.6)]),
            row([0.1, 0.5], [Some(0.8), Some(-0.3)]),
            row([-0.6, -0.1], [Some(0.8), Some(0.6)]),
        ]);
        assert!(lines[0].contains("the rankings agree"), "{}", lines[0]);
        assert!(lines[1].contains("can't tell: the 95% interval"), "{}", lines[1]);
        assert!(lines[2].contains("cifar10's own ranking of these DAGs is not reliable"), "{}", lines[2]);
        assert!(lines[3].contains("the rankings disagree"), "{}", lines[3]);
    }
}
