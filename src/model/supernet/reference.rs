//! The batched reference path of the supernet ([`SupernetPath::Batched`]): every
//! allowed edge of every block multiplied, masked-off ones included, in one operation
//! per vertex and op for all blocks at once. It is simple enough to be obviously right,
//! so the grouped path (the one searches take) is tested against it, and `densenas
//! bench --suite compare` times it beside the same computation in PyTorch. It is a
//! reference, not an optimisation: nothing chooses it unless asked to.
//!
//! [`SupernetPath::Batched`]: super::SupernetPath::Batched

use tch::Tensor;

use super::{BlockMasks, Supernet};
use crate::error::Result;
use crate::model::network::{activate, stem_term, LAYER_NORM_EPS};
use crate::model::ops;
use crate::model::space::Aggregation;

impl Supernet {
    /// Logits of every block, `[k, B, C]`, computed in batched operations: per vertex
    /// and op one operation over the masked inputs of all its allowed predecessors, for
    /// all blocks at once (masked-off edges multiplied too). The reference, not the
    /// path searches take.
    pub fn forward_batched(&self, x: &Tensor, masks: &BlockMasks) -> Result<Tensor> {
        let space = &self.space;
        let (l, d) = (space.layers(), space.width() as i64);
        let k = masks.k as i64;
        let xn = self.normalize(x)?;
        let batch = xn.size()[0];
        let ux = stem_term(space, &xn, &self.u)?.f_view([batch, l as i64, d])?;
        let col = |m: &Tensor, idx: usize| -> Result<Tensor> { Ok(m.f_select(1, idx as i64)?.f_view([k, 1, 1])?) };
        let mut h: Vec<Tensor> = Vec::with_capacity(l);
        let mut pooled: Vec<Vec<Option<Tensor>>> = (0..l).map(|_| space.ops().iter().map(|_| None).collect()).collect();
        for j in 0..l {
            // [k, B, D]: the input term where j is a source.
            let mut pre = ux.f_select(1, j as i64)?.f_unsqueeze(0)?.f_mul(&col(&masks.source, j)?)?;
            for (o, &op) in space.ops().iter().enumerate() {
                let preds = space.predecessors(j);
                if preds.is_empty() {
                    continue;
                }
                let mask = |i: usize| col(&masks.op_edge[o], space.edge_index(i, j).expect("allowed"));
                let term = match self.op_weights(op, j) {
                    Some(wj) => {
                        let parts = preds.iter().map(|&i| Ok(h[i].f_mul(&mask(i)?)?)).collect::<Result<Vec<_>>>()?;
                        self.batched_op(op, &Tensor::f_cat(&parts, 2)?, wj, preds.len() as i64)?
                    }
                    None => {
                        let mut sum: Option<Tensor> = None;
                        for &i in &preds {
                            if pooled[i][o].is_none() {
                                pooled[i][o] = Some(ops::apply_op(op, &h[i], None, space.shape(), None)?);
                            }
                            let t = pooled[i][o].as_ref().expect("set above").f_mul(&mask(i)?)?;
                            sum = Some(match sum {
                                None => t,
                                Some(s) => s.f_add(&t)?,
                            });
                        }
                        sum.expect("a vertex with predecessors")
                    }
                };
                pre = pre.f_add(&term)?;
            }
            if space.aggregation() == Aggregation::Mean {
                pre = pre.f_div(&col(&masks.count, j)?)?;
            }
            pre = pre.f_add(&self.b.f_select(0, j as i64)?)?;
            if let Some((g, bt)) = &self.layer_norm {
                pre = pre.f_layer_norm(
                    [d],
                    Some(&g.f_select(0, j as i64)?),
                    Some(&bt.f_select(0, j as i64)?),
                    LAYER_NORM_EPS,
                    false,
                )?;
            }
            h.push(activate(&pre, space.activation())?);
        }
        let sinks = (0..l).map(|j| Ok(h[j].f_mul(&col(&masks.sink, j)?)?)).collect::<Result<Vec<_>>>()?;
        Ok(Tensor::f_cat(&sinks, 2)?.f_matmul(&self.v)?.f_add(&self.c)?)
    }
}
