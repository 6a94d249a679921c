//! The report's statistics against values computed independently: scipy (paired
//! t-test, t quantiles, confidence intervals, Spearman's rho, Kendall's tau-b with
//! ties, ties that differ in the last bit, the bootstrap's undefined resamples and
//! interval, permutation p-values, TOST, the ICCs of a DAG ranking, split-half
//! Spearman-Brown, the detectable difference, Benjamini-Hochberg, Kendall tau's null
//! spread, the seeds a test needs at a corrected level) on random and tied data, and
//! hand-worked cases (Holm's correction, the bootstrap's behaviour, verdicts within a
//! family).

use std::io::Write;
use std::process::{Command, Stdio};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use densenas::experiment::file::ReportOptions;
use densenas::report::{judge, Comparison, SpaceLabel};
use densenas::report::resolution::{disattenuated, resolution};
use densenas::report::stats::{
    benjamini_hochberg, bootstrap, bootstrap_indices, describe, holm, kendall, kendall_null_sd, paired_t, permutation_p,
    seeds_for_power, seeds_for_power_at, spearman, spearman_gain, t_quantile, BOOTSTRAP_MIN_N, PERMUTATIONS,
};
use densenas::report::verdict::{tost, verdict, Verdict};

fn scipy(cases: &serde_json::Value) -> Vec<serde_json::Value> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new(format!("{root}/.venv/bin/python"))
        .arg(format!("{root}/tests/python/stats_reference.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the .venv Python (scripts/setup.sh installs scipy)");
    child.stdin.take().unwrap().write_all(cases.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "scipy failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{what}: {a} vs scipy's {b}");
}

#[test]
fn statistics_match_scipy() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut cases = Vec::new();
    for n in [3usize, 5, 8, 12, 30] {
        let a: Vec<f64> = (0..n).map(|_| rng.gen_range(0.5..0.99)).collect();
        let b: Vec<f64> = a.iter().map(|x| x - 0.02 + rng.gen_range(-0.05..0.05)).collect();
        cases.push((a, b));
    }
    // Ties on both sides (rank correlations must average tied ranks; tau-b corrects).
    cases.push((vec![1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 5.0], vec![0.3, 0.1, 0.1, 0.5, 0.4, 0.9, 0.4, 0.8]));
    let json = serde_json::json!(cases.iter().map(|(a, b)| serde_json::json!({"a": a, "b": b})).collect::<Vec<_>>());
    let expected = scipy(&json);
    for ((a, b), e) in cases.iter().zip(&expected) {
        let p = paired_t(a, b);
        close(p.t.unwrap(), e["t"].as_f64().unwrap(), "t");
        close(p.p.unwrap(), e["p"].as_f64().unwrap(), "p");
        close(p.mean_difference, e["mean_difference"].as_f64().unwrap(), "mean difference");
        close(p.ci95.unwrap()[0], e["ci95"][0].as_f64().unwrap(), "ci low");
        close(p.ci95.unwrap()[1], e["ci95"][1].as_f64().unwrap(), "ci high");
        let d = describe(a).unwrap();
        close(d.mean, e["describe_a"]["mean"].as_f64().unwrap(), "mean");
        close(d.sd.unwrap(), e["describe_a"]["sd"].as_f64().unwrap(), "sd");
        close(d.ci95.unwrap()[0], e["describe_a"]["ci95"][0].as_f64().unwrap(), "mean ci low");
        close(spearman(a, b).unwrap(), e["spearman"].as_f64().unwrap(), "Spearman rho");
        close(kendall(a, b).unwrap(), e["kendall_b"].as_f64().unwrap(), "Kendall tau-b");
    }
    let q = &expected[0]["t_quantiles"];
    for (i, (qq, df)) in [(0.975, 1.0), (0.975, 2.0), (0.8, 4.0), (0.025, 9.0)].iter().enumerate() {
        close(t_quantile(*qq, *df), q[i].as_f64().unwrap(), "t quantile");
    }
}

#[test]
fn holm_correction_by_hand() {
    // p = (0.01, 0.04, 0.03, 0.005), m = 4: sorted 0.005, 0.01, 0.03, 0.04 get
    // 4 x 0.005 = 0.02, 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, max(0.06, 1 x 0.04) = 0.06.
    let adjusted = holm(&[Some(0.01), Some(0.04), Some(0.03), Some(0.005), None]);
    let expected = [Some(0.03), Some(0.06), Some(0.06), Some(0.02), None];
    for (a, e) in adjusted.iter().zip(expected) {
        match (a, e) {
            (Some(a), Some(e)) => assert!((a - e).abs() < 1e-12, "{adjusted:?}"),
            (None, None) => {}
            _ => panic!("{adjusted:?}"),
        }
    }
    // Capped at 1.
    assert_eq!(holm(&[Some(0.6), Some(0.7)]), vec![Some(1.0), Some(1.0)]);
}

#[test]
fn seeds_needed_by_hand() {
    // A paired t-test at the two-sided 5% level with 80% power: an effect of one
    // standard deviation needs 10 pairs (t(0.975, 9) + t(0.8, 9) = 2.262 + 0.883 =
    // 3.145, squared 9.89 <= 10, while 9 pairs need 10.1); half a standard deviation
    // needs 34.
    assert_eq!(seeds_for_power(1.0), 10);
    assert_eq!(seeds_for_power(0.5), 34);
    // Three standard deviations: 3 pairs need ((4.303 + 1.061) / 3)^2 = 3.20 > 3, 4
    // pairs need ((3.182 + 0.978) / 3)^2 = 1.92.
    assert_eq!(seeds_for_power(3.0), 4);
    // A paired comparison reports it from its own spread.
    let p = paired_t(&[0.80, 0.82, 0.84], &[0.79, 0.80, 0.84]);
    assert_eq!(p.seeds_needed, Some(seeds_for_power(p.mean_difference / 0.01)));
}

#[test]
fn the_bootstrap_is_seeded_and_brackets_its_statistic() {
    let a: Vec<f64> = (0..20).map(|i| i as f64).collect();
    let b: Vec<f64> = a.iter().map(|x| (x * 0.7).sin() + x / 10.0).collect();
    let one = bootstrap(&a, &b, spearman, 3);
    assert_eq!(one, bootstrap(&a, &b, spearman, 3), "the same seed gives the same interval");
    assert_ne!(one.ci95, bootstrap(&a, &b, spearman, 4).ci95);
    let [lo, hi] = one.ci95.unwrap();
    assert!(lo <= one.value.unwrap() && one.value.unwrap() <= hi && lo < hi);
    // A perfectly monotone relation: every resample says 1.
    let m = bootstrap(&a, &a.iter().map(|x| x * x).collect::<Vec<_>>(), kendall, 1);
    assert_eq!((m.value, m.ci95), (Some(1.0), Some([1.0, 1.0])));
    // Constant data: undefined, said so.
    assert_eq!(bootstrap(&a, &vec![0.5; 20], spearman, 1).value, None);
}

/// Means of the same counts summed in another order: equal as rationals, unequal in
/// the last bit.
fn noisy(values: &[[f64; 3]]) -> (Vec<f64>, Vec<f64>) {
    let exact = values.iter().map(|v| (v[0] + v[1] + v[2]) / 3.0).collect();
    let reordered = values.iter().map(|v| (v[2] + v[1] + v[0]) / 3.0).collect();
    (exact, reordered)
}

#[test]
fn values_equal_but_for_the_last_bit_tie_as_in_scipy() {
    // Accuracies as means of per-seed shares: (0.1 + 0.2 + 0.3) / 3 and (0.3 + 0.2 +
    // 0.1) / 3 differ in the last bit; scipy is given the clean values, which tie.
    let triples = [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0.5, 0.25, 0.75], [0.1, 0.2, 0.3], [0.7, 0.1, 0.4], [0.1, 0.3, 0.2]];
    let (_, first) = noisy(&triples[..3]);
    let (second, _) = noisy(&triples[3..]);
    let acc: Vec<f64> = first.into_iter().chain(second).collect();
    assert_ne!(acc[0], acc[1], "the test needs values that differ in the last bit");
    assert_ne!(acc[0], acc[5]);
    let clean = [0.2, 0.2, 0.5, 0.2, 0.4, 0.2];
    let metric = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0];
    let e = scipy(&serde_json::json!([{"a": clean, "b": metric}]));
    close(spearman(&acc, &metric).unwrap(), e[0]["spearman"].as_f64().unwrap(), "Spearman rho with last-bit ties");
    close(kendall(&acc, &metric).unwrap(), e[0]["kendall_b"].as_f64().unwrap(), "Kendall tau-b with last-bit ties");
    assert_eq!(densenas::search::stats::kendall_tau(&acc, &metric), kendall(&clean, &metric));
}

#[test]
fn the_bootstrap_counts_its_undefined_resamples_as_scipy_does_and_refuses_few_pairs() {
    // A two-valued metric with two ones in twelve: a resample without a one (or with
    // ones only) makes the correlation undefined.
    let metric = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
    let acc = [0.91, 0.93, 0.95, 0.90, 0.92, 0.94, 0.89, 0.93, 0.96, 0.90, 0.91, 0.92];
    let b = bootstrap(&metric, &acc, spearman, 11);
    let indices = bootstrap_indices(metric.len(), 11);
    let e = &scipy(&serde_json::json!([{"kind": "bootstrap", "a": metric, "b": acc, "indices": indices}]))[0];
    let undefined = b.undefined_resamples.unwrap();
    assert_eq!(undefined as u64, e["undefined"].as_u64().unwrap());
    assert!(undefined > 100, "the case must have undefined resamples ({undefined})");
    let [lo, hi] = b.ci95.unwrap();
    close(lo, e["ci95"][0].as_f64().unwrap(), "bootstrap low");
    close(hi, e["ci95"][1].as_f64().unwrap(), "bootstrap high");
    // Below ten pairs: a value, no interval, no resamples.
    let few = bootstrap(&acc[..BOOTSTRAP_MIN_N - 1], &metric[..BOOTSTRAP_MIN_N - 1].iter().enumerate().map(|(i, m)| m + i as f64).collect::<Vec<_>>(), spearman, 1);
    assert!(few.value.is_some() && few.ci95.is_none() && few.undefined_resamples.is_none(), "{few:?}");
}

#[test]
fn a_proxys_gain_over_the_parameter_count_matches_scipy_on_the_same_resamples() {
    // A proxy that tracks accuracy closely, a parameter count that tracks it loosely,
    // with ties in the parameter count.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let acc: Vec<f64> = (0..40).map(|_| rng.gen_range(0.9..0.99)).collect();
    let proxy: Vec<f64> = acc.iter().map(|a| a + rng.gen_range(-0.01..0.01)).collect();
    let params: Vec<f64> = acc.iter().map(|a| ((a + rng.gen_range(-0.05..0.05)) * 50.0).round()).collect();
    let g = spearman_gain(&proxy, &params, &acc, 21);
    let e = &scipy(&serde_json::json!([{"kind": "spearman_gain", "a": proxy, "b": params, "y": acc, "indices": bootstrap_indices(40, 21)}]))[0];
    close(g.value.unwrap(), e["value"].as_f64().unwrap(), "gain");
    assert_eq!(g.undefined_resamples.unwrap() as u64, e["undefined"].as_u64().unwrap());
    let [lo, hi] = g.ci95.unwrap();
    close(lo, e["ci95"][0].as_f64().unwrap(), "gain low");
    close(hi, e["ci95"][1].as_f64().unwrap(), "gain high");
    assert!(lo > 0.0, "the close proxy ranks better than the loose count: [{lo}, {hi}]");
    // Against itself: no gain on any resample.
    let same = spearman_gain(&proxy, &proxy, &acc, 3);
    assert_eq!((same.value, same.ci95), (Some(0.0), Some([0.0, 0.0])));
}

#[test]
fn permutation_p_values_match_scipys_permutation_test() {
    // Six pairs: all 720 rearrangements, exactly as scipy enumerates them.
    let x = [0.3, 1.2, 0.7, 2.2, 1.9, 0.1];
    let y = [0.91, 0.93, 0.92, 0.97, 0.93, 0.90];
    // Twelve pairs: 2000 seeded shuffles against scipy's 100,000 (Monte Carlo error
    // of ours about 0.011 at most).
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x12: Vec<f64> = (0..12).map(|_| rng.gen_range(0.0..1.0)).collect();
    let y12: Vec<f64> = x12.iter().map(|v| v * 0.3 + rng.gen_range(0.0..1.0)).collect();
    let e = scipy(&serde_json::json!([
        {"kind": "permutation", "x": x, "y": y, "resamples": 1_000_000},
        {"kind": "permutation", "x": x12, "y": y12, "resamples": 100_000}]));
    close(permutation_p(&x, &y, 1).unwrap(), e[0]["p"].as_f64().unwrap(), "exact permutation p");
    let p = permutation_p(&x12, &y12, 1).unwrap();
    let reference = e[1]["p"].as_f64().unwrap();
    assert!((p - reference).abs() < 0.035, "permutation p {p} vs scipy's {reference}");
    assert!(p >= 1.0 / (1 + PERMUTATIONS) as f64 && reference > 0.05 && reference < 0.95, "a case between the tails: {reference}");
    assert_eq!(permutation_p(&x12, &y12, 1), permutation_p(&x12, &y12, 1), "seeded");
    assert_eq!(permutation_p(&x, &[0.5; 6], 1), None, "undefined for a constant side");
}

#[test]
fn tost_resolution_bh_kendall_null_and_seeds_match_scipy() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let a: Vec<f64> = (0..8).map(|_| rng.gen_range(0.90..0.95)).collect();
    let b: Vec<f64> = a.iter().map(|x| x - 0.001 + rng.gen_range(-0.002..0.002)).collect();
    // Eight DAGs over six seeds, DAG effects beside seed noise; and five seeds (odd).
    let table = |seeds: usize, rng: &mut ChaCha8Rng| -> Vec<Vec<f64>> {
        (0..8).map(|d| (0..seeds).map(|_| 0.9 + 0.002 * d as f64 + rng.gen_range(-0.004..0.004)).collect()).collect()
    };
    let (even, odd) = (table(6, &mut rng), table(5, &mut rng));
    let p = [0.01, 0.04, 0.03, 0.005, 0.5, 0.2];
    let e = scipy(&serde_json::json!([
        {"kind": "tost", "a": a, "b": b, "margin": 0.003},
        {"kind": "resolution", "table": even, "alpha": 0.025},
        {"kind": "resolution", "table": odd, "alpha": 0.05},
        {"kind": "bh", "p": p},
        {"kind": "kendall_null", "n": 6},
        {"kind": "kendall_null", "n": 7},
        {"kind": "seeds", "effect": 0.8, "alpha": 0.05 / 3.0}]));
    let t = tost(&paired_t(&a, &b), 0.003).unwrap();
    close(t.p_lower, e[0]["p_lower"].as_f64().unwrap(), "TOST lower");
    close(t.p_upper, e[0]["p_upper"].as_f64().unwrap(), "TOST upper");
    close(t.ci90[0], e[0]["ci90"][0].as_f64().unwrap(), "90% low");
    close(t.ci90[1], e[0]["ci90"][1].as_f64().unwrap(), "90% high");
    assert_eq!(t.p, t.p_lower.max(t.p_upper));
    for (tab, alpha, e) in [(&even, 0.025, &e[1]), (&odd, 0.05, &e[2])] {
        let r = resolution(tab, alpha).unwrap();
        close(r.ms_between, e["ms_between"].as_f64().unwrap(), "MSB");
        close(r.ms_within, e["ms_within"].as_f64().unwrap(), "MSW");
        close(r.icc_one_seed.unwrap(), e["icc_one_seed"].as_f64().unwrap(), "ICC(1)");
        close(r.icc_seed_mean.unwrap(), e["icc_seed_mean"].as_f64().unwrap(), "ICC(1,k)");
        close(r.icc_seed_mean.unwrap(), e["icc_seed_mean_from_f"].as_f64().unwrap(), "ICC(1,k) = 1 - 1/F");
        close(r.detectable_difference.unwrap(), e["detectable"].as_f64().unwrap(), "detectable difference");
        match e.get("split_half") {
            Some(sh) => {
                close(r.split_half_rho.unwrap(), sh.as_f64().unwrap(), "split-half rho");
                close(r.spearman_brown.unwrap(), e["spearman_brown"].as_f64().unwrap(), "Spearman-Brown");
            }
            None => assert!(r.split_half_rho.is_none() && r.spearman_brown.is_none(), "odd seeds: no split half"),
        }
    }
    assert!(resolution(&[vec![0.9, 0.91]], 0.05).is_none(), "one DAG has no ranking");
    assert!(resolution(&[vec![0.9], vec![0.8]], 0.05).is_none(), "one seed has no spread");
    let q = benjamini_hochberg(&p.iter().map(|&v| Some(v)).chain([None]).collect::<Vec<_>>());
    for (i, qq) in e[3]["q"].as_array().unwrap().iter().enumerate() {
        close(q[i].unwrap(), qq.as_f64().unwrap(), "BH q");
    }
    assert_eq!(q[6], None);
    close(kendall_null_sd(6).unwrap(), e[4]["sd"].as_f64().unwrap(), "Kendall null sd, n = 6");
    close(kendall_null_sd(7).unwrap(), e[5]["sd"].as_f64().unwrap(), "Kendall null sd, n = 7");
    assert_eq!(seeds_for_power_at(0.8, 0.05 / 3.0) as u64, e[6]["n"].as_u64().unwrap());
    assert!(seeds_for_power_at(0.8, 0.05 / 3.0) > seeds_for_power(0.8), "a stricter level needs more seeds");
    // RQ5's ceiling: 0.5 / sqrt(0.81 x 0.64) = 0.5 / 0.72; capped; refused without
    // positive reliabilities.
    close(disattenuated(0.5, 0.81, 0.64).unwrap(), 0.5 / 0.72, "corrected rho");
    assert_eq!(disattenuated(0.9, 0.5, 0.5), Some(1.0));
    assert_eq!(disattenuated(0.5, -0.1, 0.64), None);
}

fn label() -> SpaceLabel {
    SpaceLabel { group: "g".into(), layers: 4, width: 32, blocks: 4, allowed_edges: 6, log2_dags: 6.0, max_skip: 3, typed: None }
}

#[test]
fn verdicts_follow_the_family_and_the_margin() {
    let base = [0.900, 0.910, 0.905, 0.920, 0.915, 0.908, 0.912, 0.903, 0.918, 0.907];
    let shifted = |d: &[f64]| -> Vec<f64> { base.iter().zip(d).map(|(b, x)| b + x).collect() };
    // A clear gain of about 1 point; a consistent gain of 0.1 point (significant, the
    // interval inside +-0.3); no difference with small noise; a noisy one.
    let gain = shifted(&[0.010, 0.012, 0.009, 0.011, 0.010, 0.008, 0.012, 0.010, 0.011, 0.009]);
    let small = shifted(&[0.0010, 0.0012, 0.0009, 0.0011, 0.0010, 0.0008, 0.0012, 0.0010, 0.0011, 0.0009]);
    let same = shifted(&[0.0005, -0.0004, 0.0002, -0.0003, 0.0001, -0.0002, 0.0004, -0.0005, 0.0003, -0.0001]);
    let noisy = shifted(&[0.02, -0.03, 0.01, 0.04, -0.02, 0.03, -0.01, 0.02, -0.04, 0.01]);
    let loss: Vec<f64> = base.iter().zip(&gain).map(|(b, g)| 2.0 * b - g).collect();
    let mut rq2 = vec![
        Comparison::new(label(), "darts", "chain_matched", paired_t(&gain, &base)),
        Comparison::new(label(), "gdas", "chain_matched", paired_t(&small, &base)),
        Comparison::new(label(), "darts", "random_standalone", paired_t(&same, &base)),
        Comparison::new(label(), "gdas", "random_standalone", paired_t(&noisy, &base)),
        Comparison::new(label(), "random", "random_standalone", paired_t(&loss, &base)),
        Comparison::new(label(), "darts", "full", paired_t(&noisy, &base)),
    ];
    let level = judge(&mut rq2, &ReportOptions::default());
    assert_eq!(level, 0.05 / 5.0, "five primary comparisons with a p-value");
    let words: Vec<&str> = rq2.iter().map(|c| c.verdict.words()).collect();
    assert_eq!(words, ["better", "better, within the margin", "equivalent", "can't tell", "worse", "can't tell"]);
    // Holm within the primary five; the exploratory one keeps its plain p only.
    let primary: Vec<Option<f64>> = rq2[..5].iter().map(|c| c.test.p).collect();
    let expected = holm(&primary);
    for (c, e) in rq2.iter().zip(&expected) {
        assert!(c.primary);
        assert_eq!(c.test.p_holm, *e);
    }
    assert!(!rq2[5].primary && rq2[5].test.p_holm.is_none());
    // Seeds needed at the family's level for primary comparisons, 5% for the rest.
    let sd = rq2[3].test.sd.unwrap();
    assert_eq!(rq2[3].test.seeds_needed, Some(seeds_for_power_at(rq2[3].test.mean_difference.abs() / sd, 0.01)));
    assert_eq!(rq2[5].test.seeds_needed, Some(seeds_for_power_at(rq2[5].test.mean_difference.abs() / sd, 0.05)));
    // A narrower margin (0.05 points) leaves the small gain's interval outside it:
    // plain "better".
    let narrow = ReportOptions { margin_points: 0.05, ..ReportOptions::default() };
    assert_eq!(verdict(&rq2[1].test, rq2[1].test.p_holm, narrow.margin_points / 100.0), Verdict::Better);
}

#[test]
fn the_report_options_of_an_experiment_file_are_read_and_checked() {
    use densenas::experiment::file::Experiment;
    let group = r#""datasets": ["digits"], "spaces": [{"layers": 3, "width": 8, "blocks": 2}], "seeds": [0]"#;
    let base = std::path::Path::new("/");
    let study = |report: &str| Experiment::parse(&format!(r#"{{"name": "x", "report": {report}, "groups": [{{{group}}}]}}"#), base, "x");
    let e = study(r#"{"margin_points": 0.5, "primary": {"rq2": ["chain", "full"]}}"#).unwrap();
    assert_eq!((e.report.margin_points, e.report.primary.rq2.clone()), (0.5, vec!["chain".to_string(), "full".to_string()]));
    // The single-group form takes it too; without it, the defaults.
    let single = Experiment::parse(&format!(r#"{{"report": {{"margin_points": 0.2}}, {group}}}"#), base, "x").unwrap();
    assert_eq!(single.report.margin_points, 0.2);
    assert_eq!(single.report.primary, ReportOptions::default().primary);
    let plain = Experiment::parse(&format!("{{{group}}}"), base, "x").unwrap();
    assert_eq!(plain.report, ReportOptions::default());
    assert_eq!(plain.report.primary.rq2, ["chain_matched", "random_standalone"]);
    for (report, names) in [
        (r#"{"margin_points": -1}"#, "report.margin_points"),
        (r#"{"margin_points": "wide"}"#, "report.margin_points"),
        (r#"{"primary": {"rq2": ["chain", "nope"]}}"#, "report.primary.rq2[1]"),
        (r#"{"primary": {"rq3": []}}"#, "rq3"),
    ] {
        let err = study(report).unwrap_err().to_string();
        assert!(err.contains(names), "{report}: {err}");
    }
}
