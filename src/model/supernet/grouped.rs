//! The grouped forward pass of the supernet: only useful work. A vertex is computed
//! once per distinct ancestor sub-DAG (its rows, see [`BlockPlan`]), and each (edge,
//! op) pair multiplies only the rows that have it (`index_select` of the predecessor's
//! rows, the op, `index_add` into the vertex's rows); a vertex whose rows have most of
//! their edges is computed in one batched product per op over its rows instead. Which
//! of the two a vertex takes is a fixed function of the masks
//! ([`super::plan::GROUPED_BELOW`]).

use tch::Tensor;

use super::plan::BlockPlan;
use super::{BlockMasks, Supernet};
use crate::error::Result;
use crate::model::network::{activate, stem_term, LAYER_NORM_EPS};
use crate::model::ops::{self, Op};
use crate::model::space::Aggregation;

impl Supernet {
    /// Logits of every block, `[k, B, C]`, by the grouped path.
    pub(super) fn forward_grouped(&self, x: &Tensor, masks: &BlockMasks) -> Result<Tensor> {
        let space = &self.space;
        let plan: &BlockPlan = &masks.plan;
        let (l, d) = (space.layers(), space.width() as i64);
        let xn = self.normalize(x)?;
        let batch = xn.size()[0];
        let ux = stem_term(space, &xn, &self.u)?.f_view([batch, l as i64, d])?;
        let mut h: Vec<Tensor> = Vec::with_capacity(l);
        // Pooled (or identity) outputs of a vertex's rows, computed once per op.
        let mut pooled: Vec<Vec<Option<Tensor>>> = (0..l).map(|_| space.ops().iter().map(|_| None).collect()).collect();
        for j in 0..l {
            let vp = &plan.vertices[j];
            let mut pre = ux.f_select(1, j as i64)?.f_unsqueeze(0)?.f_mul(&vp.source)?;
            let preds = space.predecessors(j);
            for (o, &op) in space.ops().iter().enumerate() {
                if preds.is_empty() {
                    break;
                }
                let wj = self.op_weights(op, j);
                if wj.is_none() {
                    for &i in &preds {
                        if pooled[i][o].is_none() {
                            pooled[i][o] = Some(ops::apply_op(op, &h[i], None, space.shape(), None)?);
                        }
                    }
                }
                let input = |i: usize| -> &Tensor { if wj.is_some() { &h[i] } else { pooled[i][o].as_ref().expect("pooled above") } };
                if vp.batched {
                    let parts = preds
                        .iter()
                        .enumerate()
                        .map(|(p, &i)| Ok(input(i).f_index_select(0, &vp.pred_rows[p])?.f_mul(&vp.pred_masks[o][p])?))
                        .collect::<Result<Vec<_>>>()?;
                    let term = match wj {
                        Some(w) => self.batched_op(op, &Tensor::f_cat(&parts, 2)?, w, preds.len() as i64)?,
                        None => parts.into_iter().reduce(|a, b| a + b).expect("predecessors"),
                    };
                    pre = pre.f_add(&term)?;
                    continue;
                }
                for g in vp.groups.iter().filter(|g| g.op == o) {
                    let hi = input(g.pred).f_index_select(0, &g.from)?;
                    let term = match wj {
                        Some(w) => self.edge_op(op, &hi, w, g.pos as i64)?,
                        None => hi,
                    };
                    pre = pre.f_index_add(0, &g.rows, &term)?;
                }
            }
            if space.aggregation() == Aggregation::Mean {
                pre = pre.f_div(&vp.count)?;
            }
            pre = pre.f_add(&self.b.f_select(0, j as i64)?)?;
            if let Some((g, bt)) = &self.layer_norm {
                pre = pre.f_layer_norm([d], Some(&g.f_select(0, j as i64)?), Some(&bt.f_select(0, j as i64)?), LAYER_NORM_EPS, false)?;
            }
            h.push(activate(&pre, space.activation())?);
        }
        let classes = space.classes() as i64;
        let mut out = Tensor::f_zeros([masks.k as i64, batch, classes], (self.kind, self.device))?;
        for (j, sink) in plan.sinks.iter().enumerate() {
            if let Some((blocks, rows)) = sink {
                let logits = h[j].f_index_select(0, rows)?.f_matmul(&self.v.f_narrow(0, j as i64 * d, d)?)?;
                out = out.f_index_add(0, blocks, &logits)?;
            }
        }
        Ok(out.f_add(&self.c)?)
    }

    /// One edge's op with weights on its source rows `h: [n, B, D]`, the edge at
    /// position `pos` among its target's allowed predecessors.
    fn edge_op(&self, op: Op, h: &Tensor, wj: &Tensor, pos: i64) -> Result<Tensor> {
        let d = self.space.width() as i64;
        match (op.conv_kernel(), self.space.shape()) {
            (Some(_), Some(m)) => ops::apply_op(op, h, Some(&wj.f_narrow(1, pos * m.c, m.c)?), Some(m), None),
            _ => ops::apply_op(op, h, Some(&wj.f_narrow(0, pos * d, d)?), self.space.shape(), self.local_mask.as_ref()),
        }
    }
}
