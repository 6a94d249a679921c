//! The DAG density: the exact feedback update with its clamp, constrained draws that
//! honour the edge counts exactly and follow the conditional law, distinct draws, and
//! the error for a constrained space too small for `k` distinct DAGs.

use std::collections::{HashMap, HashSet};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use densenas::model::density::clamp_categorical;
use densenas::model::ops::Op;
use densenas::{Dag, DagDensity, Space, SpaceConfig};

fn space(layers: usize, min_edges: Option<usize>, max_edges: Option<usize>) -> Space {
    let mut c = SpaceConfig::new(4, 2, layers, 8);
    c.min_edges = min_edges;
    c.max_edges = max_edges;
    Space::new(c).unwrap()
}

#[test]
fn one_update_gives_exactly_the_expected_probabilities_clamp_included() {
    // L = 3: edges (0,1), (0,2), (1,2) in the space's order (by target, then source).
    let sp = space(3, None, None);
    assert_eq!(sp.edges(), &[(0, 1), (0, 2), (1, 2)]);
    let mut density = DagDensity::new(&sp, 0.5, 0.3).unwrap();
    let a = Dag::new(3, vec![(0, 1)]).unwrap();
    let b = Dag::new(3, vec![(0, 1), (1, 2)]).unwrap();
    density.update(&[a.clone(), b.clone()], &[0.25, 0.75], 0.5).unwrap();
    // (0,1): 0.5*0.5 + 0.5*1 = 0.75 -> clamped to 1 - 0.3; (0,2): 0.25 -> clamped to 0.3;
    // (1,2): 0.25 + 0.375 = 0.625.
    assert_eq!(density.probabilities(), &[1.0 - 0.3, 0.3, 0.625]);
    let mut loose = DagDensity::new(&sp, 0.5, 0.1).unwrap();
    loose.update(&[a.clone(), b.clone()], &[0.25, 0.75], 0.5).unwrap();
    assert_eq!(loose.probabilities(), &[0.75, 0.25, 0.625]);
    // eta = 1 puts p on the weighted edges; the clamp keeps it in [0.3, 0.7].
    density.update(&[a, b], &[1.0, 0.0], 1.0).unwrap();
    assert_eq!(density.probabilities(), &[1.0 - 0.3, 0.3, 0.3]);
    // Entropy: 3 Bernoulli edges of p in {0.7, 0.3}.
    let h = -(0.7f64 * 0.7f64.log2() + 0.3 * 0.3f64.log2());
    assert!((density.entropy_bits() - 3.0 * h).abs() < 1e-12);
}

#[test]
fn bad_update_weights_are_refused_and_leave_the_density_intact() {
    let sp = space(3, None, None);
    let mut density = DagDensity::new(&sp, 0.5, 0.05).unwrap();
    let a = Dag::new(3, vec![(0, 1)]).unwrap();
    for r in [vec![0.5], vec![-0.5, 1.5], vec![f64::NAN, 1.0]] {
        let dags = vec![a.clone(); r.len().max(1)];
        let err = density.update(&dags, &r, 0.5).unwrap_err().to_string();
        assert!(err.contains("sum to 1") || err.contains("one weight per DAG"), "{err}");
    }
    assert!(density.update(&[a.clone(), a], &[0.5], 0.5).is_err());
    assert_eq!(density.probabilities(), &[0.5, 0.5, 0.5]);
}

#[test]
fn constrained_draws_honour_the_edge_counts_and_are_distinct() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // Enumerated path (L = 6: 15 edges, 3..=5 edges: 3,458 DAGs) and the large-space
    // path (L = 12: 66 edges, 10..=12 edges), with a skewed density.
    for (layers, lo, hi) in [(6, 3, 5), (12, 10, 12), (12, 0, 66)] {
        let sp = space(layers, Some(lo), Some(hi));
        let mut density = DagDensity::new(&sp, 0.5, 0.01).unwrap();
        let all = Dag::full(&sp);
        density.update(&[all], &[1.0], 0.9).unwrap(); // p = 0.95 everywhere
        for _ in 0..20 {
            let dags = density.draw(40, &[], &mut rng).unwrap();
            assert_eq!(dags.len(), 40);
            let distinct: HashSet<_> = dags.iter().collect();
            assert_eq!(distinct.len(), 40, "draws are not distinct");
            for d in &dags {
                let n = d.edges().len();
                assert!((lo..=hi).contains(&n), "a DAG with {n} edges, outside {lo}..={hi}");
                d.mask(&sp).unwrap();
            }
        }
    }
}

/// Chi-square statistic of observed counts against equal expected counts.
fn chi_square_uniform(counts: &[usize]) -> f64 {
    let n: usize = counts.iter().sum();
    let e = n as f64 / counts.len() as f64;
    counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum()
}

#[test]
fn constrained_draws_follow_the_conditional_law() {
    // L = 4 (6 edges), exactly 2 edges, p uniform: each of the C(6,2) = 15 DAGs has
    // probability 1/15. 15,000 single draws; chi-square with 14 degrees of freedom:
    // the 0.999 quantile is 36.12.
    let sp = space(4, Some(2), Some(2));
    let density = DagDensity::new(&sp, 0.3, 0.05).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut counts: HashMap<Dag, usize> = HashMap::new();
    for _ in 0..15_000 {
        *counts.entry(density.draw(1, &[], &mut rng).unwrap().remove(0)).or_default() += 1;
    }
    assert_eq!(counts.len(), 15);
    let stat = chi_square_uniform(&counts.values().copied().collect::<Vec<_>>());
    assert!(stat < 36.12, "chi-square {stat} over 14 dof (p < 0.001)");

    // Large-space path: L = 10 (45 edges), exactly 9 edges, p uniform: each edge is in
    // a draw with probability 9/45 = 0.2. 4,000 DAGs (40 draws of 100): per-edge
    // frequency within 5 standard errors.
    let sp = space(10, Some(9), Some(9));
    let density = DagDensity::new(&sp, 0.8, 0.05).unwrap();
    let mut freq = vec![0usize; sp.num_edges()];
    for _ in 0..40 {
        for d in density.draw(100, &[], &mut rng).unwrap() {
            for (e, m) in d.mask(&sp).unwrap().iter().enumerate() {
                freq[e] += *m as usize;
            }
        }
    }
    let se = (0.2f64 * 0.8 / 4000.0).sqrt();
    for (e, &f) in freq.iter().enumerate() {
        let p = f as f64 / 4000.0;
        assert!((p - 0.2).abs() < 5.0 * se, "edge {e}: frequency {p}, expected 0.2");
    }
}

/// The probability of a mask under independent edges `p`.
fn mask_probability(mask: &[bool], p: &[f64]) -> f64 {
    mask.iter().zip(p).map(|(&m, &q)| if m { q } else { 1.0 - q }).product()
}

#[test]
fn constrained_draws_follow_the_conditional_law_with_unequal_edge_probabilities() {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    // Enumerated path: L = 4 (6 edges), 2 or 3 edges, each edge with its own p. A DAG's
    // probability is the product of its edges' p and its absent edges' 1 - p,
    // renormalised over the 35 allowed DAGs (swapping p and 1 - p changes it).
    let sp = space(4, Some(2), Some(3));
    let p = vec![0.1, 0.3, 0.5, 0.7, 0.9, 0.2];
    let density = DagDensity::from_probabilities(&sp, p.clone(), None, 0.05).unwrap();
    let allowed: Vec<Vec<bool>> = (0u32..64)
        .map(|bits| (0..6).map(|e| bits >> e & 1 == 1).collect::<Vec<bool>>())
        .filter(|m| (2..=3).contains(&m.iter().filter(|&&b| b).count()))
        .collect();
    assert_eq!(allowed.len(), 35);
    let total: f64 = allowed.iter().map(|m| mask_probability(m, &p)).sum();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 40_000;
    let mut counts: HashMap<Vec<bool>, usize> = HashMap::new();
    for _ in 0..n {
        let dag = density.draw(1, &[], &mut rng).unwrap().remove(0);
        *counts.entry(dag.mask(&sp).unwrap()).or_default() += 1;
    }
    let stat: f64 = allowed
        .iter()
        .map(|m| {
            let expected = n as f64 * mask_probability(m, &p) / total;
            let observed = *counts.get(m).unwrap_or(&0) as f64;
            (observed - expected).powi(2) / expected
        })
        .sum();
    assert_eq!(counts.len(), 35, "a DAG outside the constraints, or one never drawn");
    let critical = ChiSquared::new(34.0).unwrap().inverse_cdf(0.999);
    assert!(stat < critical, "chi-square {stat} over 34 dof, critical value {critical} (p < 0.001)");

    // Large-space path: L = 10 (45 edges), exactly 9 edges, unequal p. Each edge's
    // inclusion probability given 9 edges, computed independently with the
    // Poisson-binomial recursion: P(e | 9) = p_e P(8 among the others) / P(9 among all).
    let sp = space(10, Some(9), Some(9));
    let p: Vec<f64> = (0..sp.num_edges()).map(|e| 0.05 + 0.9 * ((e * 7) % 45) as f64 / 44.0).collect();
    let density = DagDensity::from_probabilities(&sp, p.clone(), None, 0.05).unwrap();
    let count_law = |skip: Option<usize>| {
        let mut dist = vec![1.0f64];
        for (e, &q) in p.iter().enumerate() {
            if Some(e) == skip {
                continue;
            }
            let mut next = vec![0.0; dist.len() + 1];
            for (k, &v) in dist.iter().enumerate() {
                next[k] += v * (1.0 - q);
                next[k + 1] += v * q;
            }
            dist = next;
        }
        dist
    };
    let all = count_law(None)[9];
    let mut freq = vec![0usize; sp.num_edges()];
    let draws = 4000;
    for _ in 0..draws / 100 {
        for d in density.draw(100, &[], &mut rng).unwrap() {
            let mask = d.mask(&sp).unwrap();
            assert_eq!(mask.iter().filter(|&&b| b).count(), 9);
            for (e, m) in mask.iter().enumerate() {
                freq[e] += *m as usize;
            }
        }
    }
    for (e, &f) in freq.iter().enumerate() {
        let expected = p[e] * count_law(Some(e))[8] / all;
        let se = (expected * (1.0 - expected) / draws as f64).sqrt();
        let observed = f as f64 / draws as f64;
        assert!((observed - expected).abs() < 5.0 * se, "edge {e}: frequency {observed}, expected {expected}");
    }
}

#[test]
fn unconstrained_draws_follow_the_edge_probabilities() {
    // L = 12, no constraints: the large-space path; each edge with its own p.
    let sp = space(12, None, None);
    let mut density = DagDensity::new(&sp, 0.5, 0.1).unwrap();
    let half = Dag::from_mask(&sp, &(0..sp.num_edges()).map(|e| e % 2 == 0).collect::<Vec<_>>());
    density.update(&[half], &[1.0], 0.6).unwrap(); // p = 0.8 on even edges, 0.2 on odd
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut freq = vec![0usize; sp.num_edges()];
    let n = 3000;
    for _ in 0..n / 100 {
        for d in density.draw(100, &[], &mut rng).unwrap() {
            for (e, m) in d.mask(&sp).unwrap().iter().enumerate() {
                freq[e] += *m as usize;
            }
        }
    }
    for (e, &f) in freq.iter().enumerate() {
        let p = density.probabilities()[e];
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!(((f as f64 / n as f64) - p).abs() < 5.0 * se, "edge {e}");
    }
}

#[test]
fn too_small_constrained_space_is_a_clear_error() {
    // L = 3, at most 1 edge: 4 DAGs.
    let sp = space(3, None, Some(1));
    let density = DagDensity::new(&sp, 0.5, 0.05).unwrap();
    assert_eq!(density.constrained_size().round(), 4.0);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let err = density.draw(5, &[], &mut rng).unwrap_err().to_string();
    assert!(err.contains("asked for 5 distinct DAGs") && err.contains("holds only 4"), "{err}");
    // Exactly the whole space works, and excluding one of it leaves 3.
    let all = density.draw(4, &[], &mut rng).unwrap();
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 4);
    let kept = vec![Dag::new(3, vec![]).unwrap()];
    let rest = density.draw(3, &kept, &mut rng).unwrap();
    assert!(!rest.contains(&kept[0]));
    assert!(density.draw(4, &kept, &mut rng).unwrap_err().to_string().contains("after excluding 1"));
}

#[test]
fn session_refuses_more_blocks_than_the_constrained_space_holds() {
    let mut c = SpaceConfig::new(4, 2, 3, 8);
    c.blocks = 5;
    c.max_edges = Some(1);
    let sp = Space::new(c).unwrap();
    let err = densenas::Session::new(&sp, Default::default(), densenas::Normalization::identity(4))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("holds only 4"), "{err}");
}

// ---- Typed spaces: a categorical per edge over {absent} + ops (docs/configuration.md, typed spaces).

fn typed_space(layers: usize, ops: &[Op], min_edges: Option<usize>, max_edges: Option<usize>) -> Space {
    let mut c = SpaceConfig::new(4, 2, layers, 8);
    c.ops = ops.to_vec();
    c.shape = Some([2, 2, 2]);
    c.min_edges = min_edges;
    c.max_edges = max_edges;
    Space::new(c).unwrap()
}

#[test]
fn the_categorical_clamp_raises_low_entries_and_rescales_the_others_until_none_is_low() {
    // Worked by hand: 0.035 is raised to 0.11, the others scaled by 0.89 / 0.965, which
    // takes 0.115 to 0.10606 < 0.11: it is raised too, and 0.85 takes the rest, 0.78.
    let mut q = vec![0.115, 0.85, 0.035];
    clamp_categorical(&mut q, 0.11);
    for (a, b) in q.iter().zip([0.11, 0.78, 0.11]) {
        assert!((a - b).abs() < 1e-12, "{q:?}");
    }
    // One round: 0.05 -> 0.1, the others times 0.9 / 0.95.
    let mut q = vec![0.2, 0.75, 0.05];
    clamp_categorical(&mut q, 0.1);
    for (a, b) in q.iter().zip([0.2 * 0.9 / 0.95, 0.75 * 0.9 / 0.95, 0.1]) {
        assert!((a - b).abs() < 1e-12, "{q:?}");
    }
    // Two entries: exactly the Bernoulli clamp into [p_min, 1 - p_min].
    for p in [0.0, 0.01, 0.3, 0.97, 1.0] {
        let mut q = vec![1.0 - p, p];
        clamp_categorical(&mut q, 0.05);
        assert!((q[1] - f64::clamp(p, 0.05, 0.95)).abs() < 1e-12 && (q[0] + q[1] - 1.0).abs() < 1e-12);
    }
}

#[test]
fn the_typed_update_moves_each_edge_categorical_towards_the_blocks_ops() {
    // One edge (L = 2), ops dense and identity: start p0 = 0.6 split evenly, so the
    // categorical over (absent, dense, identity) is (0.4, 0.3, 0.3).
    let sp = typed_space(2, &[Op::Dense, Op::Identity], None, None);
    let mut density = DagDensity::new(&sp, 0.6, 0.05).unwrap();
    for (a, b) in density.categorical()[0].iter().zip([0.4, 0.3, 0.3]) {
        assert!((a - b).abs() < 1e-12);
    }
    let dense = Dag::with_ops(2, vec![(0, 1)], vec![Op::Dense]).unwrap();
    let empty = Dag::new(2, vec![]).unwrap();
    // r = (0.7, 0.3), eta = 0.5: target (0.3, 0.7, 0), result (0.35, 0.5, 0.15).
    density.update(&[dense.clone(), empty.clone()], &[0.7, 0.3], 0.5).unwrap();
    let want = [0.35, 0.5, 0.15];
    for (a, b) in density.categorical()[0].iter().zip(want) {
        assert!((a - b).abs() < 1e-12, "{:?}", density.categorical());
    }
    let entropy: f64 = -want.iter().map(|p| p * p.log2()).sum::<f64>();
    assert!((density.entropy_bits() - entropy).abs() < 1e-12);
    // r = (1, 0), eta = 0.9: (0.035, 0.95, 0.015); both low entries go to 0.05.
    density.update(&[dense, empty], &[1.0, 0.0], 0.9).unwrap();
    for (a, b) in density.categorical()[0].iter().zip([0.05, 0.9, 0.05]) {
        assert!((a - b).abs() < 1e-12, "{:?}", density.categorical());
    }
    // m p_min >= 1 is refused, naming the field.
    let e = DagDensity::new(&sp, 0.5, 0.34).unwrap_err().to_string();
    assert!(e.contains("density.p_min"), "{e}");
}

fn code_probability(codes: &[u8], p: &[f64], op_p: &[Vec<f64>]) -> f64 {
    codes
        .iter()
        .enumerate()
        .map(|(e, &c)| if c == 0 { 1.0 - p[e] } else { p[e] * op_p[e][c as usize - 1] })
        .product()
}

#[test]
fn typed_constrained_draws_follow_the_conditional_law_with_unequal_probabilities() {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    // L = 3 (3 edges), ops dense, conv3x3, identity, 1 or 2 edges: 3*3 + 3*9 = 36 DAGs.
    let ops = [Op::Dense, Op::Conv3x3, Op::Identity];
    let sp = typed_space(3, &ops, Some(1), Some(2));
    let p = vec![0.2, 0.6, 0.85];
    let op_p = vec![vec![0.6, 0.3, 0.1], vec![0.1, 0.2, 0.7], vec![0.25, 0.5, 0.25]];
    let density = DagDensity::from_probabilities(&sp, p.clone(), Some(op_p.clone()), 0.01).unwrap();
    let allowed: Vec<Vec<u8>> = (0..64u32)
        .map(|n| (0..3).map(|e| (n >> (2 * e) & 3) as u8).collect::<Vec<u8>>())
        .filter(|c| (1..=2).contains(&c.iter().filter(|&&v| v > 0).count()))
        .collect();
    assert_eq!(allowed.len(), 36);
    let total: f64 = allowed.iter().map(|c| code_probability(c, &p, &op_p)).sum();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 40_000;
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for _ in 0..n {
        let dag = density.draw(1, &[], &mut rng).unwrap().remove(0);
        *counts.entry(dag.codes(&sp).unwrap()).or_default() += 1;
    }
    assert_eq!(counts.len(), 36, "a DAG outside the constraints, or one never drawn");
    let stat: f64 = allowed
        .iter()
        .map(|c| {
            let expected = n as f64 * code_probability(c, &p, &op_p) / total;
            (*counts.get(c).unwrap_or(&0) as f64 - expected).powi(2) / expected
        })
        .sum();
    let critical = ChiSquared::new(35.0).unwrap().inverse_cdf(0.999);
    assert!(stat < critical, "chi-square {stat} over 35 dof, critical value {critical}");

    // Large-space path (L = 9: 36 edges, (1 + 3)^36 DAGs): each present edge's op
    // follows its conditional categorical.
    let sp = typed_space(9, &ops, Some(10), Some(20));
    let edges = sp.num_edges();
    let op_p: Vec<Vec<f64>> = (0..edges).map(|e| if e % 2 == 0 { vec![0.7, 0.2, 0.1] } else { vec![0.1, 0.3, 0.6] }).collect();
    let density = DagDensity::from_probabilities(&sp, vec![0.4; edges], Some(op_p.clone()), 0.01).unwrap();
    let mut by_parity = [[0usize; 3]; 2];
    for dag in density.draw(3000, &[], &mut rng).unwrap() {
        let codes = dag.codes(&sp).unwrap();
        assert!((10..=20).contains(&dag.edges().len()));
        for (e, &c) in codes.iter().enumerate() {
            if c > 0 {
                by_parity[e % 2][c as usize - 1] += 1;
            }
        }
    }
    for (parity, observed) in by_parity.iter().enumerate() {
        let total: usize = observed.iter().sum();
        let stat: f64 = observed
            .iter()
            .zip(&op_p[parity])
            .map(|(&o, &q)| (o as f64 - total as f64 * q).powi(2) / (total as f64 * q))
            .sum();
        let critical = ChiSquared::new(2.0).unwrap().inverse_cdf(0.999);
        assert!(stat < critical, "edges of parity {parity}: ops {observed:?}, chi-square {stat}");
    }
}
