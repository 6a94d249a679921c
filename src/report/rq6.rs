//! Research question 6 (can the space hold filters and pooling?): for every group that
//! searches a typed space, each of its spaces' searches with the found network's test
//! accuracy, the plain MLP and (in typed spaces) the plain CNN retrained beside it with
//! the same budget, wall times, parameter counts and the ops the found networks use;
//! and paired t-tests (over seeds, Holm-corrected together) of the typed space's found
//! networks against the dense space's, the plain MLP and the plain CNN.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::build::SpaceLabel;
use super::stats::{describe, holm, paired_t, Described, Paired};
use super::verdict::{verdict, Verdict, ALPHA};
use crate::experiment::unit::SearchResult;

/// One space's searches with one strategy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rq6Row {
    /// The space.
    pub space: SpaceLabel,
    /// Whether it is typed (ops on edges or a convolutional stem).
    pub typed: bool,
    /// The strategy.
    pub strategy: String,
    /// Per seed: the found network's, the plain MLP's and the plain CNN's test
    /// accuracy (the CNN only in typed spaces), in seed order.
    pub seeds: Vec<SeedFigures>,
    /// The found network's test accuracy over seeds.
    pub test_accuracy: Option<Described>,
    /// The plain MLP's.
    pub mlp_accuracy: Option<Described>,
    /// The plain CNN's (typed spaces).
    pub cnn_accuracy: Option<Described>,
    /// Search wall time (seconds).
    pub search_seconds: Option<Described>,
    /// Retraining wall time (seconds: the found network and the baselines).
    pub retrain_seconds: Option<Described>,
    /// The found network's parameters.
    pub params: Option<Described>,
    /// The plain MLP's parameters.
    pub mlp_params: Option<usize>,
    /// The plain CNN's parameters.
    pub cnn_params: Option<usize>,
    /// Edges per op over the found networks of all seeds.
    pub op_counts: BTreeMap<String, usize>,
}

/// One seed's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedFigures {
    /// The seed.
    pub seed: u64,
    /// The found network's test accuracy.
    pub found: f64,
    /// The plain MLP's (`null` without retraining).
    pub mlp: Option<f64>,
    /// The plain CNN's.
    pub cnn: Option<f64>,
}

/// A paired comparison of RQ6.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rq6Test {
    /// The typed space.
    pub space: SpaceLabel,
    /// The strategy.
    pub strategy: String,
    /// `dense space`, `plain MLP` or `plain CNN`.
    pub against: String,
    /// Found (typed) minus the other, over seeds.
    pub test: Paired,
    /// The verdict at Holm-corrected p < 0.05 within the dataset, with TOST at the
    /// experiment's margin.
    #[serde(default = "cant_tell")]
    pub verdict: Verdict,
}

fn cant_tell() -> Verdict {
    Verdict::CantTell
}

/// The row of one space's searches (`runs`: seed and result).
pub fn row(space: SpaceLabel, typed: bool, strategy: &str, runs: &[(u64, SearchResult)]) -> Rq6Row {
    let seeds: Vec<SeedFigures> = runs
        .iter()
        .map(|(seed, x)| SeedFigures {
            seed: *seed,
            found: x.summary.best.test_accuracy,
            mlp: x.summary.baseline.test_accuracy,
            cnn: x.summary.baseline_cnn.as_ref().and_then(|c| c.test_accuracy),
        })
        .collect();
    let over = |f: &dyn Fn(&SearchResult) -> Option<f64>| describe(&runs.iter().filter_map(|(_, x)| f(x)).collect::<Vec<_>>());
    let mut op_counts = BTreeMap::new();
    for (_, x) in runs {
        for op in &x.summary.best.ops {
            *op_counts.entry(op.name().to_string()).or_insert(0) += 1;
        }
        if x.summary.best.ops.is_empty() && !x.summary.best.edges.is_empty() {
            *op_counts.entry("dense".to_string()).or_insert(0) += x.summary.best.edges.len();
        }
    }
    let first = runs.first().map(|(_, x)| &x.summary);
    Rq6Row {
        space,
        typed,
        strategy: strategy.to_string(),
        test_accuracy: over(&|x| Some(x.summary.best.test_accuracy)),
        mlp_accuracy: over(&|x| x.summary.baseline.test_accuracy),
        cnn_accuracy: over(&|x| x.summary.baseline_cnn.as_ref().and_then(|c| c.test_accuracy)),
        search_seconds: over(&|x| Some(x.summary.timing.search_seconds)),
        retrain_seconds: over(&|x| Some(x.summary.timing.retrain_seconds)),
        params: over(&|x| Some(x.summary.best.params as f64)),
        mlp_params: first.map(|s| s.baseline.params),
        cnn_params: first.and_then(|s| s.baseline_cnn.as_ref().map(|c| c.params)),
        op_counts,
        seeds,
    }
}

/// The paired tests of every typed row: against the dense row of the same group and
/// strategy (matched by seed), the plain MLP and the plain CNN; Holm-corrected together.
pub fn tests(rows: &[Rq6Row], margin: f64) -> Vec<Rq6Test> {
    let mut out = Vec::new();
    for t in rows.iter().filter(|r| r.typed) {
        let dense = rows.iter().find(|d| !d.typed && d.space.group == t.space.group && d.strategy == t.strategy);
        let mut push = |against: &str, other: &dyn Fn(&SeedFigures) -> Option<f64>| {
            let (a, b): (Vec<f64>, Vec<f64>) = t.seeds.iter().filter_map(|s| other(s).map(|o| (s.found, o))).unzip();
            if !a.is_empty() {
                out.push(Rq6Test {
                    space: t.space.clone(),
                    strategy: t.strategy.clone(),
                    against: against.into(),
                    test: paired_t(&a, &b),
                    verdict: Verdict::CantTell,
                });
            }
        };
        if let Some(d) = dense {
            push("dense space", &|s| d.seeds.iter().find(|x| x.seed == s.seed).map(|x| x.found));
        }
        push("plain MLP", &|s| s.mlp);
        push("plain CNN", &|s| s.cnn);
    }
    let corrected = holm(&out.iter().map(|c| c.test.p).collect::<Vec<_>>());
    let level = ALPHA / out.iter().filter(|c| c.test.p.is_some()).count().max(1) as f64;
    for (c, p) in out.iter_mut().zip(corrected) {
        c.test.p_holm = p;
        c.test.seeds_needed_at(level);
        c.verdict = verdict(&c.test, p, margin);
    }
    out
}

fn pct(d: &Option<Described>) -> String {
    match d {
        None => "-".into(),
        Some(d) => match d.ci95 {
            Some([lo, hi]) => format!("{:.2} [{:.2}, {:.2}]", 100.0 * d.mean, 100.0 * lo, 100.0 * hi),
            None => format!("{:.2}", 100.0 * d.mean),
        },
    }
}

fn mean(d: &Option<Described>, digits: usize) -> String {
    d.as_ref().map_or("-".into(), |d| format!("{:.*}", digits, d.mean))
}

/// The RQ6 tables of one dataset.
pub fn render(s: &mut String, dataset: &str, rows: &[Rq6Row], tests: &[Rq6Test]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(s, "### {dataset}\n");
    let _ = writeln!(s, "| space | strategy | seeds | found test acc | plain MLP | plain CNN | search s | retrain s | found params | MLP params | CNN params | ops of the found networks (edges, all seeds) |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let ops: Vec<String> = r.op_counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            super::markdown::space(&r.space),
            r.strategy,
            r.seeds.len(),
            pct(&r.test_accuracy),
            pct(&r.mlp_accuracy),
            pct(&r.cnn_accuracy),
            mean(&r.search_seconds, 0),
            mean(&r.retrain_seconds, 0),
            mean(&r.params, 0),
            r.mlp_params.map_or("-".into(), |p| p.to_string()),
            r.cnn_params.map_or("-".into(), |p| p.to_string()),
            if ops.is_empty() { "-".into() } else { ops.join(", ") },
        );
    }
    if !tests.is_empty() {
        let _ = writeln!(s, "\nPaired over seeds (typed found network minus the other; Holm-corrected within this dataset):\n");
        let _ = writeln!(s, "| typed space | strategy | against | seeds | mean difference | 95% CI | p | Holm p | verdict |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
        for t in tests {
            let p = |v: Option<f64>| v.map_or("-".into(), |p| if p < 0.001 { "<0.001".into() } else { format!("{p:.3}") });
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:+.2} | {} | {} | {} | {} |",
                super::markdown::space(&t.space),
                t.strategy,
                t.against,
                t.test.n,
                100.0 * t.test.mean_difference,
                t.test.ci95.map_or("-".into(), |[lo, hi]| format!("[{:+.2}, {:+.2}]", 100.0 * lo, 100.0 * hi)),
                p(t.test.p),
                p(t.test.p_holm),
                t.verdict.words(),
            );
        }
    }
    let _ = writeln!(s);
}
