//! `report.md`: the report's tables under the headings "RQ1" to "RQ5", with names in
//! plain ASCII ("Kendall tau", "Spearman rho").

use std::fmt::Write;

use super::build::{Report, SpaceLabel};
use super::stats::{Correlation, Described};

pub(super) fn space(s: &SpaceLabel) -> String {
    // The longest skip is named only where it restricts the space.
    let skip = if s.max_skip + 1 < s.layers { format!(" S={}", s.max_skip) } else { String::new() };
    match &s.typed {
        None => format!("{}: L={}{skip} D={} k={}", s.group, s.layers, s.width, s.blocks),
        Some(t) => format!("{}: L={}{skip} D={} k={} {t}", s.group, s.layers, s.width, s.blocks),
    }
}

fn pct(d: &Option<Described>) -> String {
    match d {
        None => "-".into(),
        Some(d) => match (d.sd, d.ci95) {
            (Some(sd), Some([lo, hi])) => {
                format!("{:.2} +- {:.2} [{:.2}, {:.2}]", 100.0 * d.mean, 100.0 * sd, 100.0 * lo, 100.0 * hi)
            }
            _ => format!("{:.2}", 100.0 * d.mean),
        },
    }
}

fn plain(d: &Option<Described>, digits: usize) -> String {
    match d {
        None => "-".into(),
        Some(d) => match d.sd {
            Some(sd) => format!("{:.*} +- {:.*}", digits, d.mean, digits, sd),
            None => format!("{:.*}", digits, d.mean),
        },
    }
}

fn corr(c: &Correlation) -> String {
    match (c.value, c.ci95) {
        (Some(v), Some([lo, hi])) => format!("{v:+.3} [{lo:+.3}, {hi:+.3}]"),
        (Some(v), None) => format!("{v:+.3}"),
        _ => "-".into(),
    }
}

fn p_value(p: Option<f64>) -> String {
    p.map_or("-".into(), |p| if p < 0.001 { "<0.001".into() } else { format!("{p:.3}") })
}

/// The report as Markdown.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Report: {}\n", r.experiment);
    let _ = writeln!(
        s,
        "densenas {}; {} units, {} finished, {} failed. Accuracies are test accuracies in percent, as mean +- \
         standard deviation [95% confidence interval] over seeds; differences are in percentage points. \
         Plots are in `plots/`.\n",
        r.densenas_version, r.units.total, r.units.finished, r.units.failed
    );
    rq1(&mut s, r);
    rq2(&mut s, r);
    rq3(&mut s, r);
    rq4(&mut s, r);
    rq5(&mut s, r);
    if r.datasets.iter().any(|d| !d.rq6.is_empty()) {
        let _ = writeln!(s, "## RQ6: can the space hold well-known structures such as filters and pooling?\n");
        for d in &r.datasets {
            super::rq6::render(&mut s, &d.dataset, &d.rq6, &d.rq6_tests);
        }
    }
    s
}

fn rq1(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## RQ1: which way of searching is efficient and stable?\n");
    for d in &r.datasets {
        if d.rq1.is_empty() {
            continue;
        }
        let _ = writeln!(s, "### {}\n", d.dataset);
        let _ = writeln!(s, "| space | strategy | seeds | best retrained test acc | search seconds | samples/s | peak memory (MB) | distinct best DAGs | Kendall tau inherited vs standalone | rank percentile among all DAGs | gap to the best DAG |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
        for row in &d.rq1 {
            let mem = row.peak_memory_bytes.as_ref().map(|m| Described {
                n: m.n,
                mean: m.mean / 1e6,
                sd: m.sd.map(|v| v / 1e6),
                ci95: None,
            });
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                space(&row.space),
                row.strategy,
                row.seeds,
                pct(&row.test_accuracy),
                plain(&row.search_seconds, 1),
                plain(&row.samples_per_second, 0),
                plain(&mem, 0),
                row.distinct_best_dags,
                plain(&row.kendall_tau_inherited_standalone, 2),
                plain(&row.rank_percentile, 1),
                row.gap_to_best.as_ref().map_or("-".into(), |g| format!("{:.2} points", 100.0 * g.mean)),
            );
        }
        let _ = writeln!(s, "\n![RQ1 {}](plots/{})\n", d.dataset, super::plots::rq1_name(&d.dataset));
    }
}

fn rq2(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## RQ2: is a found network better than the plain MLP?\n");
    for d in &r.datasets {
        let _ = writeln!(s, "### {}\n\n{}\n", d.dataset, d.rq2_answer);
        if d.rq2.is_empty() {
            continue;
        }
        let _ = writeln!(s, "| space | strategy | against | seeds | mean difference | 95% CI | t | p | Holm p | seeds needed |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
        for c in &d.rq2 {
            let t = &c.test;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:+.2} | {} | {} | {} | {} | {} |",
                space(&c.space),
                c.strategy,
                c.against,
                t.n,
                100.0 * t.mean_difference,
                t.ci95.map_or("-".into(), |[lo, hi]| format!("[{:+.2}, {:+.2}]", 100.0 * lo, 100.0 * hi)),
                t.t.map_or("-".into(), |v| format!("{v:.2}")),
                p_value(t.p),
                p_value(t.p_holm),
                t.seeds_needed.map_or("-".into(), |n| if n >= super::stats::SEEDS_CAP { format!("> {n}") } else { n.to_string() }),
            );
        }
        let _ = writeln!(s);
    }
}

fn rq3(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## RQ3: how big must the space be?\n");
    for d in &r.datasets {
        if d.rq3.is_empty() {
            continue;
        }
        let _ = writeln!(s, "### {}\n", d.dataset);
        let _ = writeln!(s, "| strategy | space | allowed edges | log2 DAGs | best retrained test acc |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for row in &d.rq3 {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.1} | {} |",
                row.strategy,
                space(&row.space),
                row.space.allowed_edges,
                row.space.log2_dags,
                pct(&row.test_accuracy)
            );
        }
        let _ = writeln!(s, "\n![RQ3 {}](plots/{})\n", d.dataset, super::plots::rq3_name(&d.dataset));
    }
}

fn rq4(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## RQ4: which DAG properties go with accuracy?\n");
    let _ = writeln!(
        s,
        "Rank correlations between each DAG metric and the standalone test accuracy (mean over seeds) of the \
         random DAGs of a space, with 95% bootstrap intervals ({} resamples, seeded).\n",
        super::stats::BOOTSTRAP_RESAMPLES
    );
    for d in &r.datasets {
        if d.rq4.is_empty() {
            continue;
        }
        let _ = writeln!(s, "### {}\n", d.dataset);
        let _ = writeln!(s, "| space | metric | DAGs | Spearman rho [95% CI] | Kendall tau [95% CI] |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for m in &d.rq4 {
            let _ = writeln!(s, "| {} | {} | {} | {} | {} |", space(&m.space), m.metric, m.spearman_rho.n, corr(&m.spearman_rho), corr(&m.kendall_tau));
        }
        for sd in &d.standalone {
            let _ = writeln!(s, "\n![RQ4 {} {}](plots/{})", d.dataset, space(&sd.space), super::plots::rq4_name(&d.dataset, &sd.space));
        }
        let _ = writeln!(s);
    }
}

fn rq5(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## RQ5: does it hold across datasets?\n");
    let _ = writeln!(s, "RQ4's tables side by side are above, one per dataset. The same random DAGs ranked on two datasets:\n");
    if r.rq5.is_empty() {
        let _ = writeln!(s, "No space has standalone DAGs on two datasets.\n");
        return;
    }
    let _ = writeln!(s, "| space | datasets | DAGs | Spearman rho [95% CI] | Kendall tau [95% CI] |");
    let _ = writeln!(s, "|---|---|---|---|---|");
    for c in &r.rq5 {
        let _ = writeln!(
            s,
            "| {} | {} vs {} | {} | {} | {} |",
            space(&c.space),
            c.datasets[0],
            c.datasets[1],
            c.spearman_rho.n,
            corr(&c.spearman_rho),
            corr(&c.kendall_tau)
        );
    }
    let _ = writeln!(s);
}
