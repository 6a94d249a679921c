//! The work plan of the grouped supernet path: for every vertex, the blocks whose
//! ancestor sub-DAG of that vertex (edges, ops and source status) is the same share one
//! computed row, and every (edge, op) pair lists the rows that have it, so that only
//! useful products are computed. Built once per set of blocks (a phase), on the host;
//! a pure function of the blocks' DAGs.

use std::collections::HashMap;

use tch::{Device, Kind, Tensor};

use crate::error::Result;
use crate::model::dag::Dag;
use crate::model::space::Space;

/// Below this share of present (row, predecessor) pairs a vertex is computed edge by
/// edge; at or above it, in one batched product over its rows (a fixed rule, so a
/// run's results never depend on timings).
pub const GROUPED_BELOW: f64 = 0.7;

/// One (edge, op) pair into a vertex and the rows that have it.
pub struct EdgeGroup {
    /// The predecessor `i`.
    pub pred: usize,
    /// Its position among the vertex's allowed predecessors.
    pub pos: usize,
    /// The op's index in the space's ops.
    pub op: usize,
    /// `[n]` int64: the vertex's rows that have the edge with this op.
    pub rows: Tensor,
    /// `[n]` int64: the predecessor's row feeding each of them.
    pub from: Tensor,
    /// True when `rows` is every row of the vertex in order (no scatter needed).
    pub all_rows: bool,
    /// True when `from` is every row of the predecessor in order (no gather needed).
    pub all_from: bool,
}

/// One vertex's plan.
pub struct VertexPlan {
    /// Distinct rows (blocks with the same ancestor sub-DAG share one).
    pub unique: usize,
    /// `[u, 1, 1]`: 1 where the row's vertex is a source.
    pub source: Tensor,
    /// `[u, 1, 1]`: number of aggregated terms (for mean aggregation).
    pub count: Tensor,
    /// True when the vertex is computed in one batched product per op over its rows.
    pub batched: bool,
    /// Edge by edge: the (edge, op) pairs present in some row.
    pub groups: Vec<EdgeGroup>,
    /// Batched: per allowed predecessor, `[u]` int64, the predecessor's row of each
    /// row (`None` when that is every row of the predecessor in order).
    pub pred_rows: Vec<Option<Tensor>>,
    /// Batched: per op, per allowed predecessor, `[u, 1, 1]`: 1 where the row has the
    /// edge with that op.
    pub pred_masks: Vec<Vec<Tensor>>,
}

/// The plan of `k` blocks.
pub struct BlockPlan {
    /// Per vertex.
    pub vertices: Vec<VertexPlan>,
    /// Per vertex, when it is a sink of some block: the blocks (`[n]` int64) and the
    /// vertex's row of each; `None` in place of either when it is the identity.
    pub sinks: Vec<Option<(Option<Tensor>, Option<Tensor>)>>,
    /// Work done by the plan relative to one row per block and every allowed edge
    /// multiplied (for reports): products computed / products of the batched path.
    pub work_fraction: f64,
}

fn index(v: &[i64], device: Device) -> Result<Tensor> {
    Ok(Tensor::f_from_slice(v)?.f_to_device(device)?)
}

/// True when `v` is `0, 1, ..., n - 1`.
fn is_identity(v: &[i64], n: usize) -> bool {
    v.len() == n && v.iter().enumerate().all(|(i, &x)| x == i as i64)
}

/// The index tensor of `v`, or `None` when it is the identity on `n` rows.
fn index_unless_identity(v: &[i64], n: usize, device: Device) -> Result<Option<Tensor>> {
    if is_identity(v, n) {
        Ok(None)
    } else {
        Ok(Some(index(v, device)?))
    }
}

fn column(v: &[f64], kind: Kind, device: Device) -> Result<Tensor> {
    Ok(Tensor::f_from_slice(v)?.f_view([v.len() as i64, 1, 1])?.f_to_kind(kind)?.f_to_device(device)?)
}

impl BlockPlan {
    /// The plan of `dags` (each checked to belong to `space`, `codes` their per-edge
    /// codes as [`Dag::codes`] gives them).
    pub fn new(space: &Space, dags: &[Dag], codes: &[Vec<u8>], kind: Kind, device: Device) -> Result<BlockPlan> {
        let (l, k, n_ops) = (space.layers(), dags.len(), space.ops().len());
        // uid[j][b]: block b's row at vertex j; rep[j][u]: a block of row u.
        let mut uid: Vec<Vec<usize>> = Vec::with_capacity(l);
        let mut rep: Vec<Vec<usize>> = Vec::with_capacity(l);
        let mut vertices = Vec::with_capacity(l);
        let (mut done, mut full) = (0usize, 0usize);
        for j in 0..l {
            let preds = space.predecessors(j);
            let mut seen: HashMap<(bool, Vec<(usize, u8, usize)>), usize> = HashMap::new();
            let (mut ids, mut reps) = (Vec::with_capacity(k), Vec::new());
            for (b, dag) in dags.iter().enumerate() {
                let key: Vec<(usize, u8, usize)> = preds
                    .iter()
                    .filter_map(|&i| {
                        let c = codes[b][space.edge_index(i, j).expect("allowed")];
                        (c > 0).then(|| (i, c, uid[i][b]))
                    })
                    .collect();
                let next = seen.len();
                let id = *seen.entry((dag.is_source(j), key)).or_insert(next);
                if id == reps.len() {
                    reps.push(b);
                }
                ids.push(id);
            }
            let u = reps.len();
            let code = |row: usize, i: usize| codes[reps[row]][space.edge_index(i, j).expect("allowed")];
            let present = (0..u).map(|r| preds.iter().filter(|&&i| code(r, i) > 0).count()).sum::<usize>();
            let batched = !preds.is_empty() && present as f64 >= GROUPED_BELOW * (u * preds.len()) as f64;
            done += if batched { u * preds.len() } else { present };
            full += k * preds.len();
            let source: Vec<f64> = reps.iter().map(|&b| dags[b].is_source(j) as u8 as f64).collect();
            let count: Vec<f64> = (0..u).map(|r| (preds.iter().filter(|&&i| code(r, i) > 0).count() as f64 + source[r]).max(1.0)).collect();
            let mut groups = Vec::new();
            let mut pred_rows = Vec::new();
            let mut pred_masks: Vec<Vec<Tensor>> = (0..n_ops).map(|_| Vec::new()).collect();
            for (pos, &i) in preds.iter().enumerate() {
                let from_all: Vec<i64> = reps.iter().map(|&b| uid[i][b] as i64).collect();
                if batched {
                    pred_rows.push(index_unless_identity(&from_all, uid_count(&rep, i), device)?);
                    for (o, masks) in pred_masks.iter_mut().enumerate() {
                        let m: Vec<f64> = (0..u).map(|r| (code(r, i) as usize == o + 1) as u8 as f64).collect();
                        masks.push(column(&m, kind, device)?);
                    }
                    continue;
                }
                for o in 0..n_ops {
                    let rows: Vec<i64> = (0..u).filter(|&r| code(r, i) as usize == o + 1).map(|r| r as i64).collect();
                    if rows.is_empty() {
                        continue;
                    }
                    let from: Vec<i64> = rows.iter().map(|&r| from_all[r as usize]).collect();
                    groups.push(EdgeGroup {
                        pred: i,
                        pos,
                        op: o,
                        all_rows: is_identity(&rows, u),
                        all_from: is_identity(&from, uid_count(&rep, i)),
                        rows: index(&rows, device)?,
                        from: index(&from, device)?,
                    });
                }
            }
            vertices.push(VertexPlan {
                unique: u,
                source: column(&source, kind, device)?,
                count: column(&count, kind, device)?,
                batched,
                groups,
                pred_rows,
                pred_masks,
            });
            uid.push(ids);
            rep.push(reps);
        }
        let mut sinks = Vec::with_capacity(l);
        for j in 0..l {
            let blocks: Vec<i64> = (0..k).filter(|&b| dags[b].is_sink(j)).map(|b| b as i64).collect();
            sinks.push(if blocks.is_empty() {
                None
            } else {
                let rows: Vec<i64> = blocks.iter().map(|&b| uid[j][b as usize] as i64).collect();
                Some((index_unless_identity(&blocks, k, device)?, index_unless_identity(&rows, rep[j].len(), device)?))
            });
        }
        let work_fraction = if full == 0 { 1.0 } else { done as f64 / full as f64 };
        Ok(BlockPlan { vertices, sinks, work_fraction })
    }
}

/// Number of rows of vertex `i` (its distinct ancestor sub-DAGs).
fn uid_count(rep: &[Vec<usize>], i: usize) -> usize {
    rep[i].len()
}
