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
    /// `identity_dropout`, when given, is applied to each vertex's identity output once
    /// it is computed (see [`Supernet::forward_all_with_identity_dropout`]).
    pub(super) fn forward_grouped(
        &self,
        x: &Tensor,
        masks: &BlockMasks,
        mut identity_dropout: Option<&mut dyn FnMut(Tensor) -> Result<Tensor>>,
    ) -> Result<Tensor> {
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
                            let out = ops::apply_op(op, &h[i], None, space.shape(), None)?;
                            let out = match (&mut identity_dropout, op) {
                                (Some(drop), Op::Identity) => drop(out)?,
                                _ => out,
                            };
                            pooled[i][o] = Some(out);
                        }
                    }
                }
                let input = |i: usize| -> &Tensor { if wj.is_some() { &h[i] } else { pooled[i][o].as_ref().expect("pooled above") } };
                if vp.batched {
                    let parts = preds
                        .iter()
                        .enumerate()
                        .map(|(p, &i)| {
                            let rows = match &vp.pred_rows[p] {
                                Some(idx) => input(i).f_index_select(0, idx)?,
                                None => input(i).shallow_clone(),
                            };
                            Ok(rows.f_mul(&vp.pred_masks[o][p])?)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let term = match wj {
                        Some(w) => self.batched_op(op, &Tensor::f_cat(&parts, 2)?, w, preds.len() as i64)?,
                        None => parts.into_iter().reduce(|a, b| a + b).expect("predecessors"),
                    };
                    let _ = pre.f_add_(&term)?;
                    continue;
                }
                // Each predecessor's weight once (one split: its backward assembles the
                // stacked gradient once, where a narrow per edge would fill it per edge).
                let parts = match wj {
                    Some(w) => Some(self.split_per_predecessor(op, w)?),
                    None => None,
                };
                for g in vp.groups.iter().filter(|g| g.op == o) {
                    let hi = if g.all_from { input(g.pred).shallow_clone() } else { input(g.pred).f_index_select(0, &g.from)? };
                    let term = match &parts {
                        Some(p) => ops::apply_op(op, &hi, Some(&p[g.pos]), space.shape(), self.local_mask.as_ref())?,
                        None => hi,
                    };
                    // In place: `pre` is this function's own sum, saved by no
                    // operation's backward, and a copy of it per group is what the
                    // out-of-place forms would cost.
                    if g.all_rows {
                        let _ = pre.f_add_(&term)?;
                    } else {
                        let _ = pre.f_index_add_(0, &g.rows, &term)?;
                    }
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
        let v = self.v.f_split(d, 0)?;
        for (j, sink) in plan.sinks.iter().enumerate() {
            if let Some((blocks, rows)) = sink {
                let hs = match rows {
                    Some(r) => h[j].f_index_select(0, r)?,
                    None => h[j].shallow_clone(),
                };
                let logits = hs.f_matmul(&v[j])?;
                let _ = match blocks {
                    Some(b) => out.f_index_add_(0, b, &logits)?,
                    None => out.f_add_(&logits)?,
                };
            }
        }
        Ok(out.f_add(&self.c)?)
    }

    /// The stacked weights of `op` into a vertex, split per allowed predecessor
    /// (`[D, D]` matrices, or `[C, C, K, K]` kernels).
    fn split_per_predecessor(&self, op: Op, wj: &Tensor) -> Result<Vec<Tensor>> {
        match (op.conv_kernel(), self.space.shape()) {
            (Some(_), Some(m)) => Ok(wj.f_split(m.c, 1)?),
            _ => Ok(wj.f_split(self.space.width() as i64, 0)?),
        }
    }
}
