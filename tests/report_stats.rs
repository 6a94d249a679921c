//! The report's statistics against values computed independently: scipy (paired
//! t-test, t quantiles, confidence intervals, Spearman's rho, Kendall's tau-b with
//! ties) on random and tied data, and hand-worked cases (Holm's correction, the seeds
//! a paired test needs, the bootstrap's behaviour).

use std::io::Write;
use std::process::{Command, Stdio};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use densenas::report::stats::{bootstrap, describe, holm, kendall, paired_t, seeds_for_power, spearman, t_quantile};

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
