//! `report.md`: the setup, each dataset's resolution, then the report's tables under
//! the headings "RQ1" to "RQ5", with names in plain ASCII ("Kendall tau", "Spearman
//! rho") and every comparison's verdict in words.

use std::fmt::Write;

use super::build::{Report, SpaceLabel};
use super::setup::Setup;
use super::stats::{Correlation, Described, BOOTSTRAP_MIN_N};

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
        (Some(v), Some([lo, hi])) => match c.undefined_resamples {
            Some(u) if u > 0 => format!("{v:+.3} [{lo:+.3}, {hi:+.3}] ({u} undefined resamples)"),
            _ => format!("{v:+.3} [{lo:+.3}, {hi:+.3}]"),
        },
        (Some(v), None) if c.n < BOOTSTRAP_MIN_N => format!("{v:+.3} (too few DAGs for an interval)"),
        (Some(v), None) => format!("{v:+.3}"),
        _ => "-".into(),
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

fn p_value(p: Option<f64>) -> String {
    p.map_or("-".into(), |p| if p < 0.001 { "<0.001".into() } else { format!("{p:.3}") })
}

/// The report as Markdown, with a "Setup" section when `setup` is given.
pub fn render_with_setup(r: &Report, setup: Option<&Setup>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Report: {}\n", r.experiment);
    let _ = writeln!(
        s,
        "densenas {}; {} units, {} finished, {} failed. Accuracies are test accuracies in percent, as mean +- \
         standard deviation [95% confidence interval] over seeds; differences are in percentage points. \
         Plots are in `plots/`.\n",
        r.densenas_version, r.units.total, r.units.finished, r.units.failed
    );
    groups(&mut s, r);
    if let Some(setup) = setup {
        setup_section(&mut s, setup);
    }
    resolution(&mut s, r);
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

/// The groups not complete, named before any figure: their rows below are partial.
fn groups(s: &mut String, r: &Report) {
    let open: Vec<String> = r
        .groups
        .iter()
        .filter(|g| g.units.finished < g.units.total)
        .map(|g| format!("- *{}*: {} of {} units finished, {} failed", g.group, g.units.finished, g.units.total, g.units.failed))
        .collect();
    if open.is_empty() {
        return;
    }
    let _ = writeln!(s, "**Not complete**: these groups' figures below are partial (a rerun of the experiment goes on):\n");
    let _ = writeln!(s, "{}\n", open.join("\n"));
}

fn setup_section(s: &mut String, u: &Setup) {
    let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    let count = |v: Option<usize>| v.map_or("unknown".into(), |n| n.to_string());
    let _ = writeln!(s, "## Setup\n");
    let _ = writeln!(s, "- CPU: {}, {} cores, {} threads", or(&u.cpu_model), count(u.cores), count(u.threads));
    let _ = writeln!(s, "- libtorch {}; ONNX Runtime {}; densenas {}", or(&u.libtorch), u.onnx_runtime, u.densenas);
    let _ = writeln!(
        s,
        "- unit time: {:.1} minutes (summed over the finished units); wall time: {} (first unit's start to the last one's end)\n",
        u.unit_seconds / 60.0,
        u.wall_seconds.map_or("unknown".into(), |w| format!("{:.1} minutes", w / 60.0))
    );
}

fn resolution(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## Resolution\n");
    let _ = writeln!(
        s,
        "How finely each space's trained DAGs are ranked: the reliability of one seed's ranking (ICC(1)) and of the \
         mean over the seeds that the rankings use (ICC(1,k)); for an even number of seeds, Spearman rho between \
         the two halves' means and its Spearman-Brown step-up (a check on ICC(1,k)); and the smallest difference \
         between two DAGs that a paired test over the seeds detects with 80% power at the level of the dataset's \
         verdicts (5% over the primary comparisons, Bonferroni).\n"
    );
    for d in &r.datasets {
        let _ = writeln!(s, "### {}\n", d.dataset);
        if d.resolution.is_empty() {
            let _ = writeln!(s, "No space has its DAGs trained with at least two seeds: the resolution is unknown.\n");
            continue;
        }
        let _ = writeln!(s, "| space | DAGs | seeds | ICC(1) one seed | ICC(1,k) seed mean | split-half Spearman rho | Spearman-Brown | level | detectable difference (points) |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
        for x in &d.resolution {
            let q = &x.resolution;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {:.4} | {} |",
                space(&x.space),
                q.dags,
                q.seeds,
                opt(q.icc_one_seed, 3),
                opt(q.icc_seed_mean, 3),
                opt(q.split_half_rho, 3),
                opt(q.spearman_brown, 3),
                q.alpha,
                opt(q.detectable_difference.map(|v| 100.0 * v), 2),
            );
        }
        let _ = writeln!(s);
        for line in super::answers::resolution_answers(&d.resolution) {
            let _ = writeln!(s, "{line}");
        }
        let _ = writeln!(s);
    }
}

fn rq1(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## RQ1: which way of searching is efficient and stable?\n");
    for d in &r.datasets {
        if d.rq1.is_empty() {
            continue;
        }
        let _ = writeln!(s, "### {}\n\n{}\n", d.dataset, d.rq1_answer);
        let _ = writeln!(s, "| space | strategy | seeds | best retrained test acc | search seconds | samples/s | distinct best DAGs | Kendall tau inherited vs standalone (blocks; sd under independence) | rank percentile among all DAGs | gap to the best DAG |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
        for row in &d.rq1 {
            let tau = match (&row.kendall_tau_inherited_standalone, row.kendall_tau_null_sd) {
                (Some(_), Some(sd)) => format!("{} ({} blocks; {:.2})", plain(&row.kendall_tau_inherited_standalone, 2), row.kendall_tau_blocks, sd),
                _ => plain(&row.kendall_tau_inherited_standalone, 2),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                space(&row.space),
                row.strategy,
                row.seeds,
                pct(&row.test_accuracy),
                plain(&row.search_seconds, 1),
                plain(&row.samples_per_second, 0),
                row.distinct_best_dags,
                tau,
                plain(&row.rank_percentile, 1),
                row.gap_to_best.as_ref().map_or("-".into(), |g| format!("{:.2} points", 100.0 * g.mean)),
            );
        }
        let _ = writeln!(
            s,
            "\nThe rank percentile and the gap are read against the mean over the ground truth's seeds of every DAG of the space.\n"
        );
        contrast_table(s, &d.rq1_tests, "strategy", "RQ1's comparisons with random sampling (with weight sharing)");
        let _ = writeln!(s, "![RQ1 {}](plots/{})\n", d.dataset, super::plots::rq1_name(&d.dataset));
        if d.rq1_compute.iter().any(|c| !c.phase_end_seconds.is_empty()) {
            let _ = writeln!(
                s,
                "Against compute: each strategy's best inherited validation accuracy so far at the end of each phase \
                 against the seconds spent (mean over seeds), and its retrained test accuracy as the last point.\n\n\
                 ![RQ1 {} against compute](plots/{})\n",
                d.dataset,
                super::plots::rq1_compute_name(&d.dataset)
            );
        }
    }
}

fn rq2(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## RQ2: is a found network better than the plain MLP?\n");
    for d in &r.datasets {
        let _ = writeln!(s, "### {}\n\n{}\n", d.dataset, d.rq2_answer);
        if d.rq2.is_empty() {
            continue;
        }
        let margin = d.rq2.iter().find_map(|c| c.tost.as_ref().map(|t| t.margin));
        let _ = writeln!(
            s,
            "Primary comparisons are Holm-corrected together and judged at corrected p < 0.05; exploratory ones at \
             the uncorrected 5% level. Equivalent: both one-sided tests (TOST) reject at 5% with the margin +-{} \
             points (uncorrected). Seeds needed: a rough guide, at the level the verdict uses and the observed \
             spread, for 80% power.\n",
            margin.map_or("-".into(), |m| format!("{:.2}", 100.0 * m))
        );
        let _ = writeln!(s, "| space | strategy | against | family | seeds | mean difference | 95% CI | 90% CI | t | p | Holm p | TOST p | verdict | seeds needed |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for c in &d.rq2 {
            let t = &c.test;
            let interval = |ci: Option<[f64; 2]>| ci.map_or("-".into(), |[lo, hi]| format!("[{:+.2}, {:+.2}]", 100.0 * lo, 100.0 * hi));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:+.2} | {} | {} | {} | {} | {} | {} | {} | {} |",
                space(&c.space),
                c.strategy,
                c.against,
                if c.primary { "primary" } else { "exploratory" },
                t.n,
                100.0 * t.mean_difference,
                interval(t.ci95),
                interval(c.tost.as_ref().map(|x| x.ci90)),
                t.t.map_or("-".into(), |v| format!("{v:.2}")),
                p_value(t.p),
                p_value(t.p_holm),
                p_value(c.tost.as_ref().map(|x| x.p)),
                c.verdict.words(),
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
        let _ = writeln!(s, "### {}\n\n{}\n", d.dataset, d.rq3_answer);
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
        let _ = writeln!(s);
        contrast_table(s, &d.rq3_tests, "strategy", "RQ3's comparisons with the largest space");
        let _ = writeln!(s, "![RQ3 {}](plots/{})\n", d.dataset, super::plots::rq3_name(&d.dataset));
    }
}

fn rq4(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## RQ4: which DAG properties go with accuracy?\n");
    let _ = writeln!(
        s,
        "Rank correlations between each DAG metric and the standalone test accuracy (mean over seeds) of the \
         random DAGs of a space, with 95% bootstrap intervals ({} resamples, seeded; resamples where a \
         correlation is undefined are left out and counted; no interval below {} DAGs). p: the permutation \
         p-value of Spearman rho ({} seeded shuffles, or every rearrangement when there are fewer); q: \
         Benjamini-Hochberg over the rows of the same space.\n",
        super::stats::BOOTSTRAP_RESAMPLES,
        BOOTSTRAP_MIN_N,
        super::stats::PERMUTATIONS
    );
    for d in &r.datasets {
        if d.rq4.is_empty() {
            continue;
        }
        let _ = writeln!(s, "### {}\n", d.dataset);
        let _ = writeln!(s, "| space | metric | DAGs | Spearman rho [95% CI] | Kendall tau [95% CI] | permutation p | BH q |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for m in &d.rq4 {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                space(&m.space),
                m.metric,
                m.spearman_rho.n,
                corr(&m.spearman_rho),
                corr(&m.kendall_tau),
                p_value(m.permutation_p),
                p_value(m.q_bh)
            );
        }
        let _ = writeln!(s);
        for line in rq4_answers(d) {
            let _ = writeln!(s, "{line}");
        }
        for sd in &d.standalone {
            let _ = writeln!(s, "\n![RQ4 {} {}](plots/{})", d.dataset, space(&sd.space), super::plots::rq4_name(&d.dataset, &sd.space));
        }
        let _ = writeln!(s);
    }
}

/// One line per space of RQ4: the rows whose Benjamini-Hochberg q is below 0.05, or
/// "can't tell" when none is (with "too few DAGs" below the bootstrap's minimum).
fn rq4_answers(d: &super::build::DatasetReport) -> Vec<String> {
    let mut spaces: Vec<&SpaceLabel> = Vec::new();
    for m in &d.rq4 {
        if !spaces.contains(&&m.space) {
            spaces.push(&m.space);
        }
    }
    spaces
        .into_iter()
        .map(|sp| {
            let rows: Vec<_> = d.rq4.iter().filter(|m| &m.space == sp).collect();
            let found: Vec<String> = rows
                .iter()
                .filter(|m| m.q_bh.is_some_and(|q| q < 0.05))
                .map(|m| format!("{} (rho {:+.2})", m.metric, m.spearman_rho.value.unwrap_or(f64::NAN)))
                .collect();
            let n = rows.first().map_or(0, |m| m.spearman_rho.n);
            let line = if !found.is_empty() {
                format!("- {}: goes with accuracy at BH q < 0.05: {}.", space(sp), found.join(", "))
            } else if n < BOOTSTRAP_MIN_N {
                format!("- {}: can't tell (too few DAGs: {n}).", space(sp))
            } else {
                format!("- {}: can't tell: no row survives BH q < 0.05 over {n} DAGs.", space(sp))
            };
            line + &gains(&rows)
        })
        .collect()
}

/// The DAG metrics' and proxies' gains over the parameter count, as a sentence (empty
/// without proxies, which carry the parameter count).
fn gains(rows: &[&super::build::MetricRow]) -> String {
    let parts: Vec<String> = rows
        .iter()
        .filter_map(|m| {
            let g = m.gain_over_params.as_ref()?;
            let words = match g.ci95 {
                Some([lo, _]) if lo > 0.0 => "ranks better than the parameter count",
                Some([_, hi]) if hi < 0.0 => "ranks worse than the parameter count",
                Some(_) => "can't tell from the parameter count",
                None => "can't tell (no interval)",
            };
            Some(format!("{} {} ({})", m.metric, corr(g), words))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" Against the parameter count (|rho| of the metric or proxy minus |rho| of params, same resamples): {}.", parts.join("; "))
    }
}

fn rq5(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## RQ5: does it hold across datasets?\n");
    let _ = writeln!(s, "RQ4's tables side by side are above, one per dataset. The same random DAGs ranked on two datasets:\n");
    if r.rq5.is_empty() {
        let _ = writeln!(s, "No space has standalone DAGs on two datasets.\n");
        return;
    }
    let _ = writeln!(
        s,
        "Each dataset's reliability is its ICC(1,k) (see Resolution); the correlation of two rankings can be at most \
         the square root of their product, and the corrected rho divides by it (capped at 1; only where both are \
         positive).\n"
    );
    for line in super::answers::rq5_answers(&r.rq5) {
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "| space | datasets | DAGs | Spearman rho [95% CI] | Kendall tau [95% CI] | reliabilities | corrected Spearman rho |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for c in &r.rq5 {
        let _ = writeln!(
            s,
            "| {} | {} vs {} | {} | {} | {} | {} / {} | {} |",
            space(&c.space),
            c.datasets[0],
            c.datasets[1],
            c.spearman_rho.n,
            corr(&c.spearman_rho),
            corr(&c.kendall_tau),
            opt(c.reliability[0], 3),
            opt(c.reliability[1], 3),
            c.spearman_rho_corrected.map_or("-".into(), |v| format!("{v:+.3}"))
        );
    }
    let _ = writeln!(s);
}

/// A table of paired comparisons (RQ1's and RQ3's), Holm-corrected together.
fn contrast_table(s: &mut String, cs: &[super::build::Comparison], who: &str, title: &str) {
    if cs.is_empty() {
        return;
    }
    let _ = writeln!(s, "{title}, paired by seed (Holm over the table; differences in points):\n");
    let _ = writeln!(s, "| space | {who} | against | seeds | mean difference | 95% CI | Holm p | TOST p | verdict |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for c in cs {
        let t = &c.test;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:+.2} | {} | {} | {} | {} |",
            space(&c.space),
            c.strategy,
            c.against,
            t.n,
            100.0 * t.mean_difference,
            t.ci95.map_or("-".into(), |[lo, hi]| format!("[{:+.2}, {:+.2}]", 100.0 * lo, 100.0 * hi)),
            p_value(t.p_holm),
            p_value(c.tost.as_ref().map(|x| x.p)),
            c.verdict.words()
        );
    }
    let _ = writeln!(s);
}
