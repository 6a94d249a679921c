//! The weight-sharing supernet (DESIGN.md section 2): shared tensors `U, W, b, V, c`
//! (and LayerNorm's), every block a 0/1 mask over the allowed edges, all `k` blocks
//! computed at once in batched tensor operations, plus a path that computes only chosen
//! blocks (cost independent of `k`).

use rand::Rng;
use tch::{Device, Kind, Tensor};

use crate::model::dag::Dag;
use crate::error::{Error, Result};
use crate::model::network::{activate, forward_dag, uniform, DagWeights, Network, Normalization, LAYER_NORM_EPS};
use crate::model::space::{Aggregation, Norm, Space};

/// The masks of `k` blocks as tensors of the supernet's kind and device.
pub struct BlockMasks {
    /// `[k, |A|]`: 1 where the block has the edge.
    pub edge: Tensor,
    /// `[k, L]`: 1 where the vertex is a source in the block.
    pub source: Tensor,
    /// `[k, L]`: 1 where the vertex is a sink in the block.
    pub sink: Tensor,
    /// `[k, L]`: number of aggregated terms (input term included).
    pub count: Tensor,
    /// Number of blocks.
    pub k: usize,
}

impl BlockMasks {
    /// The masks of `dags`, which must all belong to `space`.
    pub fn new(space: &Space, dags: &[Dag], kind: Kind, device: Device) -> Result<BlockMasks> {
        let (l, a) = (space.layers(), space.num_edges());
        let k = dags.len();
        let mut edge = Vec::with_capacity(k * a);
        let (mut source, mut sink, mut count) = (Vec::new(), Vec::new(), Vec::new());
        for dag in dags {
            let mask = dag.mask(space)?;
            edge.extend(mask.iter().map(|&b| b as u8 as f64));
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
        Ok(BlockMasks { edge: t(edge, a)?, source: t(source, l)?, sink: t(sink, l)?, count: t(count, l)?, k })
    }
}

/// The shared weights of all blocks.
pub struct Supernet {
    space: Space,
    normalization: Normalization,
    kind: Kind,
    device: Device,
    /// `[F, L*D]`: `U_j` is columns `j*D..(j+1)*D`.
    u: Tensor,
    /// Per vertex `j`: `[|P(j)|*D, D]`, the `W_ij` of its allowed predecessors stacked
    /// in edge order (`None` for vertex 0).
    w: Vec<Option<Tensor>>,
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
        let bf = 1.0 / (f as f64).sqrt();
        let bd = 1.0 / (d as f64).sqrt();
        let u = uniform(rng, &[f, l * d], bf, kind, device)?;
        let mut w = Vec::new();
        for j in 0..space.layers() {
            let p = space.predecessors(j).len() as i64;
            w.push(if p == 0 { None } else { Some(uniform(rng, &[p * d, d], bd, kind, device)?) });
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
        let net = Supernet { space: space.clone(), normalization, kind, device, u, w, b, layer_norm, v, c };
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
        out.extend(self.w.iter().flatten().map(|t| t.shallow_clone()));
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
        let w = self.w.iter().map(|t| t.as_ref().map(|_| next())).collect();
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

    /// Logits of every block, `[k, B, C]`, for raw features `x: [B, F]`, computed in
    /// batched operations: per vertex one matrix product over the masked inputs of all
    /// its allowed predecessors, for all blocks at once.
    pub fn forward_all(&self, x: &Tensor, masks: &BlockMasks) -> Result<Tensor> {
        let space = &self.space;
        let (l, d) = (space.layers(), space.width() as i64);
        let k = masks.k as i64;
        let xn = self.normalize(x)?;
        let batch = xn.size()[0];
        let ux = xn.f_matmul(&self.u)?.f_view([batch, l as i64, d])?;
        let col = |m: &Tensor, idx: usize| -> Result<Tensor> { Ok(m.f_select(1, idx as i64)?.f_view([k, 1, 1])?) };
        let mut h: Vec<Tensor> = Vec::with_capacity(l);
        for j in 0..l {
            // [k, B, D]: the input term where j is a source.
            let mut pre = ux.f_select(1, j as i64)?.f_unsqueeze(0)?.f_mul(&col(&masks.source, j)?)?;
            if let Some(wj) = &self.w[j] {
                let parts = space
                    .predecessors(j)
                    .iter()
                    .map(|&i| Ok(h[i].f_mul(&col(&masks.edge, space.edge_index(i, j).expect("allowed"))?)?))
                    .collect::<Result<Vec<_>>>()?;
                pre = pre.f_add(&Tensor::f_cat(&parts, 2)?.f_matmul(wj)?)?;
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

    /// The weights `dag` uses, as views into the shared tensors (gradients flow back).
    pub fn dag_weights(&self, dag: &Dag) -> Result<DagWeights> {
        let space = &self.space;
        dag.mask(space)?;
        let d = space.width() as i64;
        let input = dag
            .sources()
            .into_iter()
            .map(|j| Ok((j, self.u.f_narrow(1, j as i64 * d, d)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut edges = Vec::new();
        for &(i, j) in dag.edges() {
            let first = space.predecessors(j)[0];
            let pos = (i - first) as i64;
            let wj = self.w[j].as_ref().expect("vertex with an allowed edge has weights");
            edges.push(((i, j), wj.f_narrow(0, pos * d, d)?));
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
        Ok(DagWeights { input, edges, bias, layer_norm, output, output_bias: self.c.shallow_clone() })
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
