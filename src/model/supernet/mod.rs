//! The weight-sharing supernet (docs/architecture.md): shared tensors `U, W, b,
//! V, c` (and LayerNorm's, and in a typed space one weight per (edge, op) pair that has
//! one), every block a 0/1 mask over the allowed (edge, op) pairs, all `k` blocks
//! computed together, plus a path that computes only chosen blocks (cost independent
//! of `k`). All blocks together: by default the grouped path ([`grouped`]: each vertex
//! once per distinct ancestor sub-DAG, each edge only for the blocks that have it, see
//! [`plan`]), or the batched reference path (`reference.rs`: per vertex and op one
//! operation over the masked inputs of all allowed predecessors, for all blocks at
//! once, masked-off edges included).

use rand::Rng;
use tch::{Device, Kind, Tensor};

use crate::model::dag::Dag;
use crate::error::{Error, Result};
use crate::model::network::{forward_dag, space_local_mask, uniform, DagWeights, EdgeWeight, Network, Normalization};
use crate::model::ops::{self, Op};
use crate::model::space::{Norm, Space};

mod grouped;
pub(crate) mod plan;
mod reference;

pub use plan::BlockPlan;

/// Which computation of all blocks [`Supernet::forward_all`] uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SupernetPath {
    /// The grouped path: each vertex once per distinct ancestor sub-DAG, each (edge,
    /// op) pair only for the rows that have it, or a batched product per op for a
    /// vertex whose rows have most of their edges (the default).
    #[default]
    Grouped,
    /// The reference: every allowed edge of every block multiplied, masked-off ones
    /// included (the simple batched path of `supernet/reference.rs`). Not for searches:
    /// kept as what the grouped path is tested against and what `densenas bench --suite
    /// compare` times beside PyTorch.
    Batched,
}

/// The masks of `k` blocks as tensors of the supernet's kind and device.
pub struct BlockMasks {
    /// `[k, |A|]`: 1 where the block has the edge.
    pub edge: Tensor,
    /// Per op of the space, `[k, |A|]`: 1 where the block has the edge with that op.
    pub op_edge: Vec<Tensor>,
    /// `[k, L]`: 1 where the vertex is a source in the block.
    pub source: Tensor,
    /// `[k, L]`: 1 where the vertex is a sink in the block.
    pub sink: Tensor,
    /// `[k, L]`: number of aggregated terms (input term included).
    pub count: Tensor,
    /// Number of blocks.
    pub k: usize,
    /// The grouped path's plan.
    pub plan: BlockPlan,
    /// The path [`Supernet::forward_all`] takes.
    pub path: SupernetPath,
}

impl BlockMasks {
    /// The masks of `dags`, which must all belong to `space`.
    pub fn new(space: &Space, dags: &[Dag], kind: Kind, device: Device) -> Result<BlockMasks> {
        let (l, a) = (space.layers(), space.num_edges());
        let k = dags.len();
        let n_ops = space.ops().len();
        let mut edge = Vec::with_capacity(k * a);
        let mut op_edge = vec![Vec::with_capacity(k * a); n_ops];
        let (mut source, mut sink, mut count) = (Vec::new(), Vec::new(), Vec::new());
        let all_codes = dags.iter().map(|d| d.codes(space)).collect::<Result<Vec<_>>>()?;
        for (dag, codes) in dags.iter().zip(&all_codes) {
            edge.extend(codes.iter().map(|&c| (c > 0) as u8 as f64));
            for (o, rows) in op_edge.iter_mut().enumerate() {
                rows.extend(codes.iter().map(|&c| (c as usize == o + 1) as u8 as f64));
            }
            for j in 0..l {
                let src = dag.is_source(j);
                source.push(src as u8 as f64);
                sink.push(dag.is_sink(j) as u8 as f64);
                count.push((dag.in_edges(j).len() + src as usize) as f64);
            }
        }
        let t = |v: Vec<f64>, cols: usize| -> Result<Tensor> {
            Ok(Tensor::f_from_slice(&v)?.f_view([k as i64, cols as i64])?.f_to_kind(kind)?.f_to_device(device)?)
        };
        let op_edge = op_edge.into_iter().map(|v| t(v, a)).collect::<Result<Vec<_>>>()?;
        let plan = BlockPlan::new(space, dags, &all_codes, kind, device)?;
        Ok(BlockMasks {
            edge: t(edge, a)?,
            op_edge,
            source: t(source, l)?,
            sink: t(sink, l)?,
            count: t(count, l)?,
            k,
            plan,
            path: SupernetPath::default(),
        })
    }
}

/// The shared weights of one op with weights, per vertex `j` (`None` for vertex 0):
/// `[|P(j)|*D, D]` for dense and locally connected edges (the `W_ij` of the allowed
/// predecessors stacked in edge order), `[C, |P(j)|*C, K, K]` for convolutions (the
/// kernels stacked along the input channels).
struct OpWeights {
    op: Op,
    per_vertex: Vec<Option<Tensor>>,
}

/// The shared weights of all blocks.
pub struct Supernet {
    space: Space,
    normalization: Normalization,
    kind: Kind,
    device: Device,
    /// Dense stem `[F, L*D]`: `U_j` is columns `j*D..(j+1)*D`; convolutional stem
    /// `[L*C, C_in, K, K]`: vertex `j`'s kernel is rows `j*C..(j+1)*C`.
    u: Tensor,
    /// One entry per op of the space that has weights, in the space's op order.
    w: Vec<OpWeights>,
    /// The locally connected edges' fixed mask `[D, D]`, when the space has them.
    local_mask: Option<Tensor>,
    /// `[L, D]`.
    b: Tensor,
    /// LayerNorm scale and bias, `[L, D]` each.
    layer_norm: Option<(Tensor, Tensor)>,
    /// `[L*D, C]`: `V_j` is rows `j*D..(j+1)*D`.
    v: Tensor,
    /// `[C]`.
    c: Tensor,
}

impl Supernet {
    /// Fresh shared weights (uniform, `1/sqrt(fan_in)` bounds) drawn from `rng`.
    pub fn new<R: Rng>(
        space: &Space,
        normalization: Normalization,
        kind: Kind,
        device: Device,
        rng: &mut R,
    ) -> Result<Supernet> {
        if normalization.features() != space.features() {
            return Err(Error::Input(format!(
                "normalisation has {} features, the space {}",
                normalization.features(),
                space.features()
            )));
        }
        let (f, l, d, c) =
            (space.features() as i64, space.layers() as i64, space.width() as i64, space.classes() as i64);
        let bd = 1.0 / (d as f64).sqrt();
        let u = match (space.stem_geometry(), space.shape()) {
            (Some(g), Some(m)) => {
                let shape = [l * m.c, g.input.c, g.kernel, g.kernel];
                uniform(rng, &shape, 1.0 / ((g.input.c * g.kernel * g.kernel) as f64).sqrt(), kind, device)?
            }
            _ => uniform(rng, &[f, l * d], 1.0 / (f as f64).sqrt(), kind, device)?,
        };
        let mut w = Vec::new();
        for &op in space.ops().iter().filter(|o| o.has_weights()) {
            let mut per_vertex = Vec::new();
            for j in 0..space.layers() {
                let p = space.predecessors(j).len() as i64;
                per_vertex.push(if p == 0 { None } else { Some(op_weight(space, op, p, rng, kind, device)?) });
            }
            w.push(OpWeights { op, per_vertex });
        }
        let b = uniform(rng, &[l, d], bd, kind, device)?;
        let layer_norm = match space.norm() {
            Norm::None => None,
            Norm::Layernorm => {
                Some((Tensor::f_ones([l, d], (kind, device))?, Tensor::f_zeros([l, d], (kind, device))?))
            }
        };
        let v = uniform(rng, &[l * d, c], bd, kind, device)?;
        let c = uniform(rng, &[c], bd, kind, device)?;
        let local_mask = space_local_mask(space, kind, device)?;
        let net = Supernet { space: space.clone(), normalization, kind, device, u, w, local_mask, b, layer_norm, v, c };
        for t in net.parameters() {
            let _ = t.set_requires_grad(true);
        }
        Ok(net)
    }

    /// The space.
    pub fn space(&self) -> &Space {
        &self.space
    }
    /// The input normalisation.
    pub fn normalization(&self) -> &Normalization {
        &self.normalization
    }
    /// The tensors' kind (float32 or float64).
    pub fn kind(&self) -> Kind {
        self.kind
    }
    /// The device.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The shared parameters, in a fixed order (shallow clones).
    pub fn parameters(&self) -> Vec<Tensor> {
        let mut out = vec![self.u.shallow_clone()];
        out.extend(self.w.iter().flat_map(|o| o.per_vertex.iter().flatten()).map(|t| t.shallow_clone()));
        out.push(self.b.shallow_clone());
        if let Some((g, b)) = &self.layer_norm {
            out.push(g.shallow_clone());
            out.push(b.shallow_clone());
        }
        out.push(self.v.shallow_clone());
        out.push(self.c.shallow_clone());
        out
    }

    /// A supernet over the same space and normalisation whose parameters are
    /// `params`, in the order of [`Supernet::parameters`] and with the same shapes (for
    /// evaluating it at substituted weights, as second-order DARTS does). The tensors
    /// are used as given (no copy).
    pub fn with_parameters(&self, params: &[Tensor]) -> Result<Supernet> {
        let own = self.parameters();
        if params.len() != own.len() {
            return Err(Error::Input(format!("{} parameter tensors given, the supernet has {}", params.len(), own.len())));
        }
        for (i, (a, b)) in params.iter().zip(&own).enumerate() {
            if a.size() != b.size() {
                return Err(Error::Input(format!("parameter {i}: shape {:?}, expected {:?}", a.size(), b.size())));
            }
        }
        let mut it = params.iter().map(|t| t.shallow_clone());
        let mut next = || it.next().expect("counted above");
        let u = next();
        let w = self
            .w
            .iter()
            .map(|o| OpWeights { op: o.op, per_vertex: o.per_vertex.iter().map(|t| t.as_ref().map(|_| next())).collect() })
            .collect();
        let b = next();
        let layer_norm = self.layer_norm.as_ref().map(|_| (next(), next()));
        let v = next();
        let c = next();
        Ok(Supernet {
            space: self.space.clone(),
            normalization: self.normalization.clone(),
            kind: self.kind,
            device: self.device,
            u,
            w,
            local_mask: self.local_mask.as_ref().map(|m| m.shallow_clone()),
            b,
            layer_norm,
            v,
            c,
        })
    }

    /// Number of shared parameters.
    pub fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|t| t.numel()).sum()
    }

    /// Converts raw features to the supernet's kind and device and normalises them.
    pub fn normalize(&self, x: &Tensor) -> Result<Tensor> {
        self.normalization.apply(&x.f_to_kind(self.kind)?.f_to_device(self.device)?)
    }

    /// Logits of every block, `[k, B, C]`, for raw features `x: [B, F]`, by the path
    /// `masks.path` names (the grouped one unless set otherwise).
    pub fn forward_all(&self, x: &Tensor, masks: &BlockMasks) -> Result<Tensor> {
        match masks.path {
            SupernetPath::Grouped => self.forward_grouped(x, masks, None),
            SupernetPath::Batched => self.forward_batched(x, masks),
        }
    }

    /// [`Supernet::forward_all`] with dropout on the identity op's output (P-DARTS): each
    /// element of a vertex's identity output is zeroed with probability `rate` and the
    /// others scaled by `1 / (1 - rate)`, the draws from `rng` (the session's generator).
    /// The grouped path only; `rate` in `[0, 1)`, 0 being [`Supernet::forward_all`].
    pub fn forward_all_with_identity_dropout<R: Rng>(&self, x: &Tensor, masks: &BlockMasks, rate: f64, rng: &mut R) -> Result<Tensor> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::Input(format!("identity dropout rate {rate} is outside [0, 1)")));
        }
        if rate == 0.0 {
            return self.forward_all(x, masks);
        }
        if masks.path != SupernetPath::Grouped {
            return Err(Error::Input("identity dropout is computed by the grouped path only".into()));
        }
        let mut drop = |t: Tensor| -> Result<Tensor> {
            let keep: Vec<f64> = (0..t.numel()).map(|_| if rng.gen::<f64>() < rate { 0.0 } else { 1.0 / (1.0 - rate) }).collect();
            let mask = Tensor::f_from_slice(&keep)?.f_to_kind(self.kind)?.f_to_device(self.device)?.f_view(t.size().as_slice())?;
            Ok(t.f_mul(&mask)?)
        };
        self.forward_grouped(x, masks, Some(&mut drop))
    }

    /// The stacked weights of `op` into vertex `j` (`None` for ops without weights).
    fn op_weights(&self, op: Op, j: usize) -> Option<&Tensor> {
        self.w.iter().find(|o| o.op == op).and_then(|o| o.per_vertex[j].as_ref())
    }

    /// One op with weights over the masked inputs of `p` predecessors concatenated
    /// along the last dimension (`[k, B, p*D]`), giving `[k, B, D]`.
    fn batched_op(&self, op: Op, cat: &Tensor, wj: &Tensor, p: i64) -> Result<Tensor> {
        match (op, self.space.shape()) {
            (Op::Dense, _) => Ok(cat.f_matmul(wj)?),
            (Op::Local3x3, _) => {
                let mask = self.local_mask.as_ref().expect("the space has local3x3").f_repeat([p, 1])?;
                Ok(cat.f_matmul(&wj.f_mul(&mask)?)?)
            }
            (_, Some(s)) => {
                let size = cat.size();
                let maps = cat.f_reshape([-1, p * s.c, s.h, s.w])?;
                let out = ops::conv(&maps, wj, 1, wj.size()[3] / 2)?;
                Ok(out.f_reshape([size[0], size[1], -1])?)
            }
            _ => Err(Error::Input(format!("the {op} edges need the vertices' shape"))),
        }
    }

    /// The weights `dag` uses, as views into the shared tensors (gradients flow back).
    pub fn dag_weights(&self, dag: &Dag) -> Result<DagWeights> {
        let space = &self.space;
        dag.codes(space)?;
        let d = space.width() as i64;
        let input = dag
            .sources()
            .into_iter()
            .map(|j| {
                Ok((j, match space.shape().filter(|_| space.stem_geometry().is_some()) {
                    Some(m) => self.u.f_narrow(0, j as i64 * m.c, m.c)?,
                    None => self.u.f_narrow(1, j as i64 * d, d)?,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut edges = Vec::new();
        for (&(i, j), &op) in dag.edges().iter().zip(dag.ops()) {
            let first = space.predecessors(j)[0];
            let pos = (i - first) as i64;
            let weight = match (self.op_weights(op, j), op.conv_kernel(), space.shape()) {
                (None, _, _) => None,
                (Some(wj), Some(_), Some(m)) => Some(wj.f_narrow(1, pos * m.c, m.c)?),
                (Some(wj), _, _) => Some(wj.f_narrow(0, pos * d, d)?),
            };
            edges.push(EdgeWeight { edge: (i, j), op, weight });
        }
        let bias = (0..space.layers()).map(|j| self.b.f_select(0, j as i64)).collect::<Result<Vec<_>, _>>()?;
        let layer_norm = match &self.layer_norm {
            None => None,
            Some((g, b)) => Some(
                (0..space.layers())
                    .map(|j| Ok((g.f_select(0, j as i64)?, b.f_select(0, j as i64)?)))
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        let output = dag
            .sinks()
            .into_iter()
            .map(|j| Ok((j, self.v.f_narrow(0, j as i64 * d, d)?)))
            .collect::<Result<Vec<_>>>()?;
        let local_mask = self.local_mask.as_ref().map(|m| m.shallow_clone());
        Ok(DagWeights { input, edges, bias, layer_norm, output, output_bias: self.c.shallow_clone(), local_mask })
    }

    /// Logits `[B, C]` of one DAG with the shared weights, computing only its edges.
    pub fn forward_dag(&self, x: &Tensor, dag: &Dag) -> Result<Tensor> {
        let xn = self.normalize(x)?;
        forward_dag(&self.space, dag, &self.dag_weights(dag)?, &xn)
    }

    /// Logits `[n, B, C]` of the chosen DAGs only (cost independent of `k`).
    pub fn forward_blocks(&self, x: &Tensor, dags: &[&Dag]) -> Result<Tensor> {
        let xn = self.normalize(x)?;
        let outs = dags
            .iter()
            .map(|dag| forward_dag(&self.space, dag, &self.dag_weights(dag)?, &xn))
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::f_stack(&outs, 0)?)
    }

    /// A standalone copy of the network `dag` defines with the shared weights as they
    /// are now (the inherited snapshot).
    pub fn snapshot(&self, dag: &Dag) -> Result<Network> {
        Ok(Network {
            space: self.space.clone(),
            dag: dag.clone(),
            normalization: self.normalization.clone(),
            weights: self.dag_weights(dag)?.detached_copy()?,
        })
    }
}

/// Fresh shared weights of `op` into a vertex with `p` allowed predecessors (uniform,
/// `1/sqrt(fan_in)` bounds).
fn op_weight<R: Rng>(space: &Space, op: Op, p: i64, rng: &mut R, kind: Kind, device: Device) -> Result<Tensor> {
    let d = space.width() as i64;
    match (op.conv_kernel(), space.shape()) {
        (Some(k), Some(m)) => uniform(rng, &[m.c, p * m.c, k, k], 1.0 / ((m.c * k * k) as f64).sqrt(), kind, device),
        _ => {
            let fan_in = match (op, space.shape()) {
                (Op::Local3x3, Some(m)) => 9 * m.c,
                _ => d,
            };
            uniform(rng, &[p * d, d], 1.0 / (fan_in as f64).sqrt(), kind, device)
        }
    }
}
