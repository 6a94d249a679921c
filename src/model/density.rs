//! The DAG density (docs/architecture.md): independent edges over the allowed
//! edges, each absent or present with one of the space's ops (a Bernoulli `p_ij` in an
//! untyped space, a categorical over `{absent} + ops` in a typed one), draws of distinct
//! DAGs that honour the edge-count constraints exactly, and the feedback update
//! `p <- (1 - eta) p + eta sum_b r_b onehot_b`, clamped.

use std::collections::HashSet;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::model::dag::Dag;
use crate::error::{Error, Result};
use crate::model::space::Space;

/// Constrained spaces up to this size are enumerated, so that distinct draws are exact
/// (sampling without replacement) however concentrated the density is.
const ENUMERATE_LIMIT: f64 = 65_536.0;

/// Hyper-parameters of the density and its update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DensityConfig {
    /// Initial edge probability `p0` (0.5: uniform over the space).
    pub p0: f64,
    /// Step size `eta` of the feedback update, in `[0, 1]`.
    pub eta: f64,
    /// Clamp `p` into `[p_min, 1 - p_min]` after each update; in `[0, 0.5)`.
    pub p_min: f64,
    /// Blocks with the best validation accuracy kept into the next phase (at most
    /// `k - 1`; with a single block none is kept).
    pub elitism: usize,
    /// The feedback weights `r` of the update.
    pub feedback: Feedback,
}

/// Where the density update's weights `r` come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Feedback {
    /// The strategy's block weights (`softmax(alpha)` for DARTS; rank-based for
    /// `random`, which has no `alpha`).
    #[default]
    Strategy,
    /// Rank-based weights of the validation accuracies (the better half of the blocks,
    /// weights `log((k+1)/2) - log(rank)` normalised, as CMA-ES does).
    Rank,
}

impl Default for DensityConfig {
    fn default() -> Self {
        DensityConfig { p0: 0.5, eta: 0.5, p_min: 0.05, elitism: 1, feedback: Feedback::Strategy }
    }
}

impl DensityConfig {
    /// Checks every value's range, naming the field.
    pub fn validate(&self, blocks: usize) -> Result<()> {
        let unit = |field: &str, v: f64, lo: f64, hi: f64, open_hi: bool| {
            let ok = v.is_finite() && v >= lo && if open_hi { v < hi } else { v <= hi };
            if ok {
                Ok(())
            } else {
                let bracket = if open_hi { ")" } else { "]" };
                Err(Error::config(field, format!("{v} is out of range: allowed [{lo}, {hi}{bracket}")))
            }
        };
        unit("density.p0", self.p0, 0.0, 1.0, false)?;
        unit("density.eta", self.eta, 0.0, 1.0, false)?;
        unit("density.p_min", self.p_min, 0.0, 0.5, true)?;
        // With one block nothing can be kept (the next phase must draw a new DAG).
        if blocks > 1 && self.elitism >= blocks {
            return Err(Error::config(
                "density.elitism",
                format!("{} is out of range: allowed 0..={} (fewer than the {blocks} blocks)", self.elitism, blocks - 1),
            ));
        }
        Ok(())
    }
}

/// A product of independent edges over the allowed edges of a space, with edge-count
/// constraints `[min_edges, max_edges]` applied to draws. Edge `e` is present with
/// probability `p[e]` and then carries op `o` with probability `op_p[e][o]` (so the
/// categorical entry of `o` is `p[e] op_p[e][o]`); in an untyped space `op_p[e] = [1]`.
///
/// Candidates may be *pruned* ([`DagDensity::prune`], P-DARTS): a pruned edge is fixed
/// absent, a pruned op fixed at probability 0; both stay outside the clamp, the update
/// and the draws, and the edge-count bounds apply to the unpruned edges.
#[derive(Clone, Debug, PartialEq)]
pub struct DagDensity {
    space: Space,
    p: Vec<f64>,
    op_p: Vec<Vec<f64>>,
    p_min: f64,
    pruned: Pruned,
}

/// The pruned candidates of a density: per edge, whether the edge is fixed absent, and
/// per edge and op, whether the op is fixed at 0.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pruned {
    /// Per edge (the space's edge order): fixed absent.
    pub edges: Vec<bool>,
    /// Per edge, per op of the space: fixed at probability 0.
    pub ops: Vec<Vec<bool>>,
}

impl Pruned {
    /// Nothing pruned, for `edges` edges of `ops` ops each.
    pub fn none(edges: usize, ops: usize) -> Pruned {
        Pruned { edges: vec![false; edges], ops: vec![vec![false; ops]; edges] }
    }

    /// Whether anything is pruned.
    pub fn any(&self) -> bool {
        self.edges.iter().any(|&b| b) || self.ops.iter().flatten().any(|&b| b)
    }

    /// The edges that can still be drawn.
    pub fn live_edges(&self) -> Vec<usize> {
        (0..self.edges.len()).filter(|&e| !self.edges[e]).collect()
    }

    /// The ops of edge `e` that can still be drawn.
    pub fn live_ops(&self, e: usize) -> Vec<usize> {
        (0..self.ops[e].len()).filter(|&o| !self.ops[e][o]).collect()
    }
}

/// Raises the entries of a categorical below `p_min` to `p_min` and scales the others
/// down in proportion so the sum stays 1, repeated until none is below (needs
/// `q.len() * p_min < 1`; docs/configuration.md, typed spaces). With two entries this is the clamp into
/// `[p_min, 1 - p_min]`.
pub fn clamp_categorical(q: &mut [f64], p_min: f64) {
    let mut fixed = vec![false; q.len()];
    loop {
        let low: Vec<usize> = (0..q.len()).filter(|&i| !fixed[i] && q[i] < p_min).collect();
        if low.is_empty() {
            return;
        }
        for &i in &low {
            fixed[i] = true;
            q[i] = p_min;
        }
        let n_fixed = fixed.iter().filter(|&&f| f).count() as f64;
        let free: f64 = (0..q.len()).filter(|&i| !fixed[i]).map(|i| q[i]).sum();
        let scale = (1.0 - n_fixed * p_min) / free;
        for i in 0..q.len() {
            if !fixed[i] {
                q[i] *= scale;
            }
        }
    }
}

fn entropy_of(q: &[f64]) -> f64 {
    -q.iter().filter(|&&v| v > 0.0).map(|&v| v * v.log2()).sum::<f64>()
}

fn ln_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

fn ln_binomial(n: usize, k: usize) -> f64 {
    (1..=k).map(|i| ((n - k + i) as f64).ln() - (i as f64).ln()).sum()
}

fn bits(p: f64) -> f64 {
    if p <= 0.0 || p >= 1.0 {
        0.0
    } else {
        -(p * p.log2() + (1.0 - p) * (1.0 - p).log2())
    }
}

impl DagDensity {
    /// The initial density on every allowed edge of `space`: present with probability
    /// `p0`, split evenly over the space's ops. `m p_min < 1` is required (`m = 1 +
    /// |ops|`).
    pub fn new(space: &Space, p0: f64, p_min: f64) -> Result<DagDensity> {
        let config = DensityConfig { p0, p_min, elitism: 0, ..DensityConfig::default() };
        config.validate(0)?;
        let m = space.ops().len() + 1;
        if m as f64 * p_min >= 1.0 {
            return Err(Error::config(
                "density.p_min",
                format!("{p_min} is too large for {} ops: (1 + ops) * p_min = {} must be below 1", m - 1, m as f64 * p_min),
            ));
        }
        let ops = space.ops().len();
        let op_p = vec![vec![1.0 / ops as f64; ops]; space.num_edges()];
        let pruned = Pruned::none(space.num_edges(), ops);
        Ok(DagDensity { space: space.clone(), p: vec![p0; space.num_edges()], op_p, p_min, pruned })
    }

    /// A density with the given presence probabilities (in the space's edge order,
    /// each in `[0, 1]`) and, in a typed space, the conditional op probabilities of
    /// each edge, as a checkpoint restores it.
    pub fn from_probabilities(space: &Space, p: Vec<f64>, op_p: Option<Vec<Vec<f64>>>, p_min: f64) -> Result<DagDensity> {
        let mut density = DagDensity::new(space, 0.5, p_min)?;
        let unit = |v: &f64| (0.0..=1.0).contains(v);
        if p.len() != space.num_edges() || !p.iter().all(unit) {
            return Err(Error::Input(format!(
                "a density over {} edges needs as many probabilities in [0, 1]; got {} values",
                space.num_edges(),
                p.len()
            )));
        }
        if let Some(op_p) = op_p {
            let ops = space.ops().len();
            let row_ok = |r: &Vec<f64>| r.len() == ops && r.iter().all(unit) && (r.iter().sum::<f64>() - 1.0).abs() < 1e-9;
            if op_p.len() != space.num_edges() || !op_p.iter().all(row_ok) {
                return Err(Error::Input(format!(
                    "a typed density needs, per edge, {ops} op probabilities in [0, 1] summing to 1"
                )));
            }
            density.op_p = op_p;
        }
        density.p = p;
        Ok(density)
    }

    /// The edges' presence probabilities, in the space's edge order.
    pub fn probabilities(&self) -> &[f64] {
        &self.p
    }

    /// Per edge, the probability of each of the space's ops given that the edge is
    /// present (`[1]` per edge in an untyped space).
    pub fn op_probabilities(&self) -> &[Vec<f64>] {
        &self.op_p
    }

    /// Per edge, the categorical over `{absent} + ops`.
    pub fn categorical(&self) -> Vec<Vec<f64>> {
        self.p
            .iter()
            .zip(&self.op_p)
            .map(|(&p, ops)| std::iter::once(1.0 - p).chain(ops.iter().map(|&o| p * o)).collect())
            .collect()
    }

    /// The entropy of the (unconstrained) density in bits: the sum of the edges'
    /// entropies (presence, plus the op's given presence).
    pub fn entropy_bits(&self) -> f64 {
        self.p.iter().zip(&self.op_p).map(|(&p, ops)| bits(p) + p * entropy_of(ops)).sum()
    }

    /// Number of DAGs that satisfy the edge-count constraints (as a float: it can be
    /// `(1 + |ops|)^|A|`).
    pub fn constrained_size(&self) -> f64 {
        if self.pruned.any() {
            return self.pruned_size();
        }
        let n = self.p.len();
        let ln_ops = (self.space.ops().len() as f64).ln();
        (self.space.min_edges()..=self.space.max_edges()).map(|m| (ln_binomial(n, m) + m as f64 * ln_ops).exp()).sum()
    }

    /// The feedback update `p <- (1 - eta) p + eta sum_b r_b onehot_b` per edge over
    /// `{absent} + ops`, then the clamp ([`clamp_categorical`]; in an untyped space the
    /// clamp into `[p_min, 1 - p_min]`). `r` must be non-negative, finite, and sum to 1
    /// (within 1e-6).
    pub fn update(&mut self, dags: &[Dag], r: &[f64], eta: f64) -> Result<()> {
        if dags.len() != r.len() || dags.is_empty() {
            return Err(Error::Input(format!(
                "density update needs one weight per DAG: {} DAGs, {} weights",
                dags.len(),
                r.len()
            )));
        }
        if r.iter().any(|&x| !x.is_finite() || x < 0.0) || (r.iter().sum::<f64>() - 1.0).abs() > 1e-6 {
            return Err(Error::Input(format!("density weights must be non-negative and sum to 1: {r:?}")));
        }
        if !(0.0..=1.0).contains(&eta) {
            return Err(Error::config("density.eta", format!("{eta} is out of range: allowed [0, 1]")));
        }
        let codes = dags.iter().map(|d| d.codes(&self.space)).collect::<Result<Vec<_>>>()?;
        if self.space.ops().len() == 1 {
            for (e, p) in self.p.iter_mut().enumerate() {
                if self.pruned.edges[e] {
                    continue;
                }
                let target: f64 = codes.iter().zip(r).filter(|(c, _)| c[e] > 0).map(|(_, &w)| w).sum();
                *p = ((1.0 - eta) * *p + eta * target).clamp(self.p_min, 1.0 - self.p_min);
            }
            return Ok(());
        }
        let mut table = self.categorical();
        for (e, q) in table.iter_mut().enumerate() {
            for (c, v) in q.iter_mut().enumerate() {
                let target: f64 = codes.iter().zip(r).filter(|(b, _)| b[e] as usize == c).map(|(_, &w)| w).sum();
                *v = (1.0 - eta) * *v + eta * target;
            }
            if self.pruned.edges[e] {
                continue;
            }
            self.clamp_live(e, q);
            let present: f64 = q[1..].iter().sum();
            self.p[e] = present;
            self.op_p[e] = q[1..].iter().map(|&v| v / present).collect();
        }
        Ok(())
    }

    /// Draws `k` distinct DAGs that satisfy the edge-count constraints and differ from
    /// every DAG in `exclude`. Each is a draw from the density conditioned on the
    /// constraints; the `k` are a sample without replacement.
    pub fn draw<R: Rng>(&self, k: usize, exclude: &[Dag], rng: &mut R) -> Result<Vec<Dag>> {
        let (lo, hi) = self.edge_bounds()?;
        let excluded: HashSet<Vec<u8>> = exclude
            .iter()
            .map(|d| d.codes(&self.space))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|m| (lo..=hi).contains(&m.iter().filter(|&&b| b > 0).count()))
            .collect();
        let size = self.constrained_size();
        let available = size - excluded.len() as f64;
        if (k as f64) > available + 0.5 {
            return Err(Error::Density(format!(
                "asked for {k} distinct DAGs but the space with {} allowed edges and {lo}..={hi} edges per DAG holds only {} (after excluding {} kept DAGs)",
                self.p.len(),
                size.round(),
                excluded.len()
            )));
        }
        if k == 0 {
            return Ok(Vec::new());
        }
        let masks = if size <= ENUMERATE_LIMIT {
            self.draw_enumerated(k, (lo, hi), &excluded, rng)?
        } else {
            self.draw_rejecting_duplicates(k, &excluded, rng)?
        };
        Ok(masks.iter().map(|m| Dag::from_codes(&self.space, m)).collect())
    }

    /// Exact sampling without replacement over an enumerated constrained space
    /// (Gumbel top-k on the log-probabilities).
    fn draw_enumerated<R: Rng>(
        &self,
        k: usize,
        (lo, hi): (usize, usize),
        excluded: &HashSet<Vec<u8>>,
        rng: &mut R,
    ) -> Result<Vec<Vec<u8>>> {
        let n_all = self.p.len();
        let ops = self.space.ops().len();
        // Only unpruned edges and ops are enumerated (all of them when nothing is pruned).
        let live = self.pruned.live_edges();
        let n = live.len();
        let mut scored: Vec<(f64, Vec<u8>)> = Vec::new();
        for m in lo..=hi {
            let mut combo: Vec<usize> = (0..m).collect();
            loop {
                let presence: f64 = (0..n)
                    .map(|c| if combo.contains(&c) { self.p[live[c]].ln() } else { (1.0 - self.p[live[c]]).ln() })
                    .sum();
                // Every assignment of ops to the present edges (one when the space has one op).
                let live_ops: Vec<Vec<usize>> = combo.iter().map(|&c| self.pruned.live_ops(live[c])).collect();
                let mut choice = vec![0usize; m];
                loop {
                    let mut codes = vec![0u8; n_all];
                    let mut logp = presence;
                    for ((&c, &o), opts) in combo.iter().zip(&choice).zip(&live_ops) {
                        let (e, o) = (live[c], opts[o]);
                        codes[e] = o as u8 + 1;
                        if ops > 1 {
                            logp += self.op_p[e][o].ln();
                        }
                    }
                    if !excluded.contains(&codes) {
                        let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
                        scored.push((logp - (-u.ln()).ln(), codes));
                    }
                    if !next_choice(&mut choice, &live_ops) {
                        break;
                    }
                }
                // Next combination of m out of n, in lexicographic order.
                let mut i = m;
                while i > 0 && combo[i - 1] == n - m + i - 1 {
                    i -= 1;
                }
                if i == 0 {
                    break;
                }
                combo[i - 1] += 1;
                for t in i..m {
                    combo[t] = combo[t - 1] + 1;
                }
            }
        }
        // Impossible masks (probability 0 when p_min = 0) score -inf and must not be drawn.
        scored.retain(|(s, _)| s.is_finite());
        if scored.len() < k {
            return Err(Error::Density(format!(
                "only {} distinct DAGs have non-zero probability under the density, {k} asked for (raise p_min)",
                scored.len()
            )));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(scored.into_iter().take(k).map(|(_, m)| m).collect())
    }

    /// For large spaces: draw the edge count from its conditional law, then the edges
    /// given the count, and retry duplicates (rare at this size), with a bounded number
    /// of attempts.
    fn draw_rejecting_duplicates<R: Rng>(&self, k: usize, excluded: &HashSet<Vec<u8>>, rng: &mut R) -> Result<Vec<Vec<u8>>> {
        let (lo, hi) = self.edge_bounds()?;
        let table = CountTable::new(&self.p, hi);
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(k);
        let max_attempts = 1000 + 100 * k;
        for _ in 0..max_attempts {
            let mask = self.draw_ops(&table.draw(&self.p, lo, hi, rng)?, rng);
            if !excluded.contains(&mask) && seen.insert(mask.clone()) {
                out.push(mask);
                if out.len() == k {
                    return Ok(out);
                }
            }
        }
        Err(Error::Density(format!(
            "drew only {} distinct DAGs of {k} in {max_attempts} attempts: the density is too concentrated (raise density.p_min or lower the block count)",
            out.len()
        )))
    }
}

impl DagDensity {
    /// Each present edge's op from its conditional categorical (no draw in an untyped
    /// space), as codes.
    fn draw_ops<R: Rng>(&self, mask: &[bool], rng: &mut R) -> Vec<u8> {
        let ops = self.space.ops().len();
        mask.iter()
            .enumerate()
            .map(|(e, &present)| {
                if !present {
                    return 0;
                }
                if ops == 1 {
                    return 1;
                }
                let mut u = rng.gen::<f64>();
                for (o, &q) in self.op_p[e].iter().enumerate() {
                    u -= q;
                    if u < 0.0 {
                        return o as u8 + 1;
                    }
                }
                // Rounding left u at or above 0: the last op that can be drawn.
                let last = (0..ops).rev().find(|&o| self.op_p[e][o] > 0.0).unwrap_or(ops - 1);
                last as u8 + 1
            })
            .collect()
    }

    /// The pruned candidates.
    pub fn pruned(&self) -> &Pruned {
        &self.pruned
    }

    /// Prunes the candidates marked in `pruned` (in addition to those pruned already):
    /// a pruned edge is fixed absent, a pruned op at probability 0 with the edge's other
    /// ops scaled up to sum to 1. An edge whose ops are all pruned is pruned. The shapes
    /// must match the space (edges, ops per edge).
    pub fn prune(&mut self, pruned: &Pruned) -> Result<()> {
        let ops = self.space.ops().len();
        if pruned.edges.len() != self.p.len() || pruned.ops.len() != self.p.len() || pruned.ops.iter().any(|r| r.len() != ops) {
            return Err(Error::Input(format!(
                "a pruning mask of this space needs {} edges of {ops} ops each; got {} edges",
                self.p.len(),
                pruned.edges.len()
            )));
        }
        for e in 0..self.p.len() {
            for o in 0..ops {
                self.pruned.ops[e][o] |= pruned.ops[e][o];
            }
            let live_mass: f64 = (0..ops).filter(|&o| !self.pruned.ops[e][o]).map(|o| self.op_p[e][o]).sum();
            self.pruned.edges[e] |= pruned.edges[e] || live_mass <= 0.0;
            if self.pruned.edges[e] {
                self.p[e] = 0.0;
                continue;
            }
            for o in 0..ops {
                self.op_p[e][o] = if self.pruned.ops[e][o] { 0.0 } else { self.op_p[e][o] / live_mass };
            }
        }
        Ok(())
    }

    /// Restores a pruning mask as a checkpoint recorded it, with the probabilities
    /// unchanged: every pruned candidate must already be at probability 0.
    pub fn restore_pruned(&mut self, pruned: Pruned) -> Result<()> {
        let ops = self.space.ops().len();
        let shape_ok = pruned.edges.len() == self.p.len() && pruned.ops.len() == self.p.len() && pruned.ops.iter().all(|r| r.len() == ops);
        let zero_ok = shape_ok
            && (0..self.p.len()).all(|e| (!pruned.edges[e] || self.p[e] == 0.0) && (0..ops).all(|o| !pruned.ops[e][o] || self.op_p[e][o] == 0.0));
        if !zero_ok {
            return Err(Error::Input(format!(
                "a pruning mask over {} edges of {ops} ops whose pruned candidates are at probability 0 was expected",
                self.p.len()
            )));
        }
        self.pruned = pruned;
        Ok(())
    }

    /// The edge-count bounds of a draw: the space's, with the maximum capped at the
    /// number of unpruned edges; an error when the minimum exceeds that number.
    pub fn edge_bounds(&self) -> Result<(usize, usize)> {
        let live = self.pruned.live_edges().len();
        let (lo, hi) = (self.space.min_edges(), self.space.max_edges().min(live));
        if lo > hi {
            return Err(Error::Density(format!(
                "space.min_edges = {lo} but only {live} edges are left unpruned: no DAG can be drawn"
            )));
        }
        Ok((lo, hi))
    }

    /// Clamps edge `e`'s categorical `q` over `{absent} + ops` on its unpruned entries
    /// only (pruned ops stay at 0).
    fn clamp_live(&self, e: usize, q: &mut [f64]) {
        let live: Vec<usize> = std::iter::once(0).chain(self.pruned.live_ops(e).into_iter().map(|o| o + 1)).collect();
        // The pruned entries are 0 (their targets are too), so the live ones sum to 1.
        let mut sub: Vec<f64> = live.iter().map(|&c| q[c]).collect();
        clamp_categorical(&mut sub, self.p_min);
        q.iter_mut().for_each(|v| *v = 0.0);
        for (&c, v) in live.iter().zip(sub) {
            q[c] = v;
        }
    }

    /// [`DagDensity::constrained_size`] with pruned candidates: the number of DAGs over
    /// the unpruned edges and ops within the edge-count bounds (an elementary symmetric
    /// sum of the edges' live op counts).
    fn pruned_size(&self) -> f64 {
        let Ok((lo, hi)) = self.edge_bounds() else { return 0.0 };
        let mut ways = vec![0.0f64; hi + 1];
        ways[0] = 1.0;
        for e in self.pruned.live_edges() {
            let c = self.pruned.live_ops(e).len() as f64;
            for m in (1..=hi).rev() {
                ways[m] += c * ways[m - 1];
            }
        }
        ways[lo..=hi].iter().sum()
    }
}

/// Advances `choice` (per present edge, an index into its live ops) to the next
/// assignment in lexicographic order; false after the last.
fn next_choice(choice: &mut [usize], live_ops: &[Vec<usize>]) -> bool {
    for (c, opts) in choice.iter_mut().zip(live_ops).rev() {
        if *c + 1 < opts.len() {
            *c += 1;
            return true;
        }
        *c = 0;
    }
    false
}

/// `ln Q[e][r]`: the log-probability that edges `e..n` hold exactly `r` present edges.
struct CountTable {
    n: usize,
    width: usize,
    ln_q: Vec<f64>,
}

impl CountTable {
    fn new(p: &[f64], max_count: usize) -> CountTable {
        let n = p.len();
        let width = max_count + 1;
        let mut ln_q = vec![f64::NEG_INFINITY; (n + 1) * width];
        ln_q[n * width] = 0.0;
        for e in (0..n).rev() {
            let (lp, lq) = (p[e].ln(), (1.0 - p[e]).ln());
            for r in 0..width.min(n - e + 1) {
                let skip = lq + ln_q[(e + 1) * width + r];
                let take = if r > 0 { lp + ln_q[(e + 1) * width + r - 1] } else { f64::NEG_INFINITY };
                ln_q[e * width + r] = ln_add(skip, take);
            }
        }
        CountTable { n, width, ln_q }
    }

    fn at(&self, e: usize, r: usize) -> f64 {
        self.ln_q[e * self.width + r]
    }

    fn draw<R: Rng>(&self, p: &[f64], lo: usize, hi: usize, rng: &mut R) -> Result<Vec<bool>> {
        // The edge count, from its law restricted to [lo, hi].
        let weights: Vec<f64> = (lo..=hi).map(|m| self.at(0, m)).collect();
        let top = weights.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if top == f64::NEG_INFINITY {
            return Err(Error::Density(format!(
                "no DAG with {lo}..={hi} edges has non-zero probability under the density (raise p_min)"
            )));
        }
        let total: f64 = weights.iter().map(|w| (w - top).exp()).sum();
        let mut u = rng.gen::<f64>() * total;
        let mut count = hi;
        for (m, w) in (lo..=hi).zip(&weights) {
            u -= (w - top).exp();
            if u < 0.0 {
                count = m;
                break;
            }
        }
        // The edges given the count, one at a time.
        let mut mask = vec![false; self.n];
        let mut r = count;
        for e in 0..self.n {
            if r == 0 {
                break;
            }
            if r == self.n - e {
                mask[e..].iter_mut().for_each(|b| *b = true);
                break;
            }
            let take = p[e].ln() + self.at(e + 1, r - 1) - self.at(e, r);
            if rng.gen::<f64>() < take.exp() {
                mask[e] = true;
                r -= 1;
            }
        }
        Ok(mask)
    }
}
