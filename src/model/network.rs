//! One DAG as a standalone network (docs/architecture.md): the input normalisation, the
//! weights the DAG uses, and its forward pass. The supernet's "chosen blocks" path, the
//! inherited snapshot, retraining and (later) the ONNX export all go through here.

use rand::Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::model::dag::Dag;
use crate::error::{Error, Result};
use crate::model::ops::{self, Op};
use crate::model::space::{Activation, Aggregation, Norm, Space};

/// LayerNorm's epsilon (PyTorch's default).
pub const LAYER_NORM_EPS: f64 = 1e-5;

/// The fixed per-feature affine normalisation `x = (raw - mean) / std` at the start of
/// every network; `std` is 1 where the data's standard deviation is 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Per-feature mean.
    pub mean: Vec<f64>,
    /// Per-feature standard deviation (never 0).
    pub std: Vec<f64>,
}

impl Normalization {
    /// The identity on `features` features.
    pub fn identity(features: usize) -> Normalization {
        Normalization { mean: vec![0.0; features], std: vec![1.0; features] }
    }

    /// Per-feature mean and (population) standard deviation of row-major `x`
    /// (`[n, features]`), as scikit-learn's StandardScaler computes them.
    pub fn from_data(x: &[f32], features: usize) -> Result<Normalization> {
        if features == 0 || x.is_empty() || x.len() % features != 0 {
            return Err(Error::Input(format!(
                "normalisation needs a non-empty [n, {features}] array, got {} values",
                x.len()
            )));
        }
        let n = (x.len() / features) as f64;
        let mut mean = vec![0.0f64; features];
        for row in x.chunks_exact(features) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; features];
        for row in x.chunks_exact(features) {
            for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (v as f64 - m).powi(2);
            }
        }
        let std = var
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 0.0 && sd.is_finite() {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Normalization { mean, std })
    }

    /// Number of features.
    pub fn features(&self) -> usize {
        self.mean.len()
    }

    /// `(raw - mean) / std` as tensors.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let kind = x.kind();
        let device = x.device();
        let mean = Tensor::f_from_slice(&self.mean)?.f_to_kind(kind)?.f_to_device(device)?;
        let std = Tensor::f_from_slice(&self.std)?.f_to_kind(kind)?.f_to_device(device)?;
        Ok(x.f_sub(&mean)?.f_div(&std)?)
    }
}

/// A tensor of `shape` with entries uniform in `[-bound, bound)`, drawn from `rng`.
pub(crate) fn uniform<R: Rng>(rng: &mut R, shape: &[i64], bound: f64, kind: Kind, device: Device) -> Result<Tensor> {
    let n: i64 = shape.iter().product();
    let data: Vec<f64> = (0..n).map(|_| rng.gen_range(-bound..bound)).collect();
    Ok(Tensor::f_from_slice(&data)?.f_view(shape)?.f_to_kind(kind)?.f_to_device(device)?)
}

/// Applies the space's activation.
pub(crate) fn activate(x: &Tensor, act: Activation) -> Result<Tensor> {
    Ok(match act {
        Activation::Relu => x.f_relu()?,
        Activation::Gelu => x.f_gelu("none")?,
        Activation::Tanh => x.f_tanh()?,
        Activation::Sigmoid => x.f_sigmoid()?,
    })
}

/// One edge's weights: its op and, for ops that have them, the tensor (`[D, D]` for
/// dense and locally connected edges, applied as `h W`; `[C, C, K, K]` for convolutions).
pub struct EdgeWeight {
    /// The edge `(i, j)`.
    pub edge: (usize, usize),
    /// Its op.
    pub op: Op,
    /// Its weight tensor (`None` for pooling and identity).
    pub weight: Option<Tensor>,
}

/// The weights one DAG uses. In a supernet's view they are slices of the shared
/// tensors (so gradients reach them); in a snapshot or a retrained network they own
/// their storage.
pub struct DagWeights {
    /// `(j, U_j)` for every source `j`: `U_j: [F, D]` (dense stem) or the stem kernel
    /// `[C, C_in, K, K]` (convolutional stem).
    pub input: Vec<(usize, Tensor)>,
    /// Every edge's op and weight.
    pub edges: Vec<EdgeWeight>,
    /// `b_j: [D]` for every vertex.
    pub bias: Vec<Tensor>,
    /// LayerNorm `(scale, bias)`, each `[D]`, for every vertex (when the space has it).
    pub layer_norm: Option<Vec<(Tensor, Tensor)>>,
    /// `(j, V_j)`, `V_j: [D, C]`, for every sink `j`.
    pub output: Vec<(usize, Tensor)>,
    /// `c: [C]`.
    pub output_bias: Tensor,
    /// The locally connected edges' fixed 0/1 mask `[D, D]` (not a parameter), when
    /// the space has `local3x3`.
    pub local_mask: Option<Tensor>,
}

/// The fixed mask of `space`'s locally connected edges, if it has them.
pub(crate) fn space_local_mask(space: &Space, kind: Kind, device: Device) -> Result<Option<Tensor>> {
    match (space.op_index(Op::Local3x3), space.shape()) {
        (Some(_), Some(s)) => Ok(Some(ops::local_mask(s, kind, device)?)),
        _ => Ok(None),
    }
}

/// The shape of source `j`'s input weight in `space`.
fn input_shape_of(space: &Space) -> Vec<i64> {
    match (space.stem_geometry(), space.shape()) {
        (Some(g), Some(m)) => vec![m.c, g.input.c, g.kernel, g.kernel],
        _ => vec![space.features() as i64, space.width() as i64],
    }
}

/// The fan-in of one output unit of a term: the input weight's, or an edge op's.
fn fan_in(shape: &[i64]) -> i64 {
    if shape.len() == 4 {
        shape[1] * shape[2] * shape[3]
    } else {
        shape[0]
    }
}

impl DagWeights {
    /// Fresh weights for `dag` (retraining from scratch), drawn from `rng`; every tensor
    /// requires grad. He-style uniform initialisation that knows the DAG: a term into
    /// vertex `j` with fan-in `n` (`F` or `D` for matrices, `C K K` for kernels; 9 C for
    /// locally connected edges) gets the bound `gain * sqrt(3 s / n)`, with `s = 1 /
    /// terms_j` for sum aggregation and `s = terms_j` for mean aggregation, so that every
    /// pre-activation starts with about unit variance whatever the vertex's in-degree and
    /// the depth (`gain`: sqrt 2 for relu and gelu, 5/3 for tanh, 1 for sigmoid). Biases
    /// start at 0; the output `V_j` gets `1 / sqrt(D * sinks)`.
    pub fn init<R: Rng>(space: &Space, dag: &Dag, kind: Kind, device: Device, rng: &mut R) -> Result<DagWeights> {
        let (d, c) = (space.width() as i64, space.classes() as i64);
        let gain = match space.activation() {
            Activation::Relu | Activation::Gelu => 2f64.sqrt(),
            Activation::Tanh => 5.0 / 3.0,
            Activation::Sigmoid => 1.0,
        };
        let bound = |fan_in: i64, j: usize| {
            let terms = (dag.in_edges(j).len() + dag.is_source(j) as usize) as f64;
            let s = match space.aggregation() {
                Aggregation::Sum => 1.0 / terms,
                Aggregation::Mean => terms,
            };
            gain * (3.0 * s / fan_in as f64).sqrt()
        };
        let in_shape = input_shape_of(space);
        let mut input = Vec::new();
        for j in dag.sources() {
            input.push((j, uniform(rng, &in_shape, bound(fan_in(&in_shape), j), kind, device)?));
        }
        let mut edges = Vec::new();
        for (&(i, j), &op) in dag.edges().iter().zip(dag.ops()) {
            let weight = match ops::weight_shape(op, space.shape(), d) {
                Some(shape) => {
                    let n = match (op, space.shape()) {
                        (Op::Local3x3, Some(m)) => 9 * m.c,
                        _ => fan_in(&shape),
                    };
                    Some(uniform(rng, &shape, bound(n, j), kind, device)?)
                }
                None => None,
            };
            edges.push(EdgeWeight { edge: (i, j), op, weight });
        }
        let mut bias = Vec::new();
        for _ in 0..dag.layers() {
            bias.push(Tensor::f_zeros([d], (kind, device))?);
        }
        let layer_norm = match space.norm() {
            Norm::None => None,
            Norm::Layernorm => Some(
                (0..dag.layers())
                    .map(|_| -> Result<_> {
                        Ok((
                            Tensor::f_ones([d], (kind, device))?,
                            Tensor::f_zeros([d], (kind, device))?,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        let mut output = Vec::new();
        let sinks = dag.sinks();
        let bv = 1.0 / ((d as usize * sinks.len()) as f64).sqrt();
        for &j in &sinks {
            output.push((j, uniform(rng, &[d, c], bv, kind, device)?));
        }
        let output_bias = Tensor::f_zeros([c], (kind, device))?;
        let local_mask = space_local_mask(space, kind, device)?;
        let w = DagWeights { input, edges, bias, layer_norm, output, output_bias, local_mask };
        for t in w.tensors() {
            let _ = t.set_requires_grad(true);
        }
        Ok(w)
    }

    /// Every tensor, in a fixed order (shallow clones).
    pub fn tensors(&self) -> Vec<Tensor> {
        let mut out: Vec<Tensor> = self.input.iter().map(|(_, t)| t.shallow_clone()).collect();
        out.extend(self.edges.iter().filter_map(|e| e.weight.as_ref().map(|t| t.shallow_clone())));
        out.extend(self.bias.iter().map(|t| t.shallow_clone()));
        if let Some(ln) = &self.layer_norm {
            for (g, b) in ln {
                out.push(g.shallow_clone());
                out.push(b.shallow_clone());
            }
        }
        out.extend(self.output.iter().map(|(_, t)| t.shallow_clone()));
        out.push(self.output_bias.shallow_clone());
        out
    }

    /// The weights of `dag` made of `tensors` in the order of [`DagWeights::tensors`]
    /// (as a checkpoint stores them), each checked for its shape; they are used as
    /// given.
    pub fn from_tensors(space: &Space, dag: &Dag, tensors: Vec<Tensor>) -> Result<DagWeights> {
        dag.codes(space)?;
        let (d, c) = (space.width() as i64, space.classes() as i64);
        let (sources, sinks, l) = (dag.sources(), dag.sinks(), dag.layers());
        let ln = space.norm() == Norm::Layernorm;
        let weighted = dag.ops().iter().filter(|o| o.has_weights()).count();
        let expected = sources.len() + weighted + l * (1 + 2 * ln as usize) + sinks.len() + 1;
        if tensors.len() != expected {
            return Err(Error::Input(format!("{} weight tensors for a DAG that has {expected}", tensors.len())));
        }
        let kind = tensors[0].kind();
        let device = tensors[0].device();
        let mut it = tensors.into_iter().enumerate();
        let mut next = |shape: &[i64]| -> Result<Tensor> {
            let (i, t) = it.next().expect("counted above");
            if t.size() != shape {
                return Err(Error::Input(format!("weight tensor {i} has shape {:?}, expected {shape:?}", t.size())));
            }
            Ok(t)
        };
        let in_shape = input_shape_of(space);
        let input = sources.iter().map(|&j| Ok((j, next(&in_shape)?))).collect::<Result<_>>()?;
        let mut edges = Vec::new();
        for (&edge, &op) in dag.edges().iter().zip(dag.ops()) {
            let weight = match ops::weight_shape(op, space.shape(), d) {
                Some(shape) => Some(next(&shape)?),
                None => None,
            };
            edges.push(EdgeWeight { edge, op, weight });
        }
        let bias = (0..l).map(|_| next(&[d])).collect::<Result<_>>()?;
        let layer_norm = if ln { Some((0..l).map(|_| Ok((next(&[d])?, next(&[d])?))).collect::<Result<_>>()?) } else { None };
        let output = sinks.iter().map(|&j| Ok((j, next(&[d, c])?))).collect::<Result<_>>()?;
        let output_bias = next(&[c])?;
        let local_mask = space_local_mask(space, kind, device)?;
        Ok(DagWeights { input, edges, bias, layer_norm, output, output_bias, local_mask })
    }

    /// A deep copy that owns its storage and tracks no gradient.
    pub fn detached_copy(&self) -> Result<DagWeights> {
        let cp = |t: &Tensor| -> Result<Tensor> { Ok(t.f_detach_copy()?) };
        Ok(DagWeights {
            input: self.input.iter().map(|(j, t)| Ok((*j, cp(t)?))).collect::<Result<_>>()?,
            edges: self
                .edges
                .iter()
                .map(|e| Ok(EdgeWeight { edge: e.edge, op: e.op, weight: e.weight.as_ref().map(cp).transpose()? }))
                .collect::<Result<_>>()?,
            bias: self.bias.iter().map(cp).collect::<Result<_>>()?,
            layer_norm: match &self.layer_norm {
                None => None,
                Some(v) => Some(v.iter().map(|(g, b)| Ok((cp(g)?, cp(b)?))).collect::<Result<_>>()?),
            },
            output: self.output.iter().map(|(j, t)| Ok((*j, cp(t)?))).collect::<Result<_>>()?,
            output_bias: cp(&self.output_bias)?,
            local_mask: self.local_mask.as_ref().map(|m| m.shallow_clone()),
        })
    }
}

/// The input term of source `j`: `xn U_j`, or the stem convolution of the input maps.
pub(crate) fn stem_term(space: &Space, xn: &Tensor, u: &Tensor) -> Result<Tensor> {
    match space.stem_geometry() {
        Some(g) => ops::apply_stem(xn, u, &g),
        None => Ok(xn.f_matmul(u)?),
    }
}

/// The forward pass of one DAG on normalised inputs `xn: [B, F]`, giving `[B, C]`:
/// `pre_j = agg(stem_j(x) [source], op_ij(h_i) for i in in(j)) + b_j`, `h_j =
/// act(norm(pre_j))`, `logits = sum over sinks of h_j V_j + c`.
pub fn forward_dag(space: &Space, dag: &Dag, w: &DagWeights, xn: &Tensor) -> Result<Tensor> {
    forward_dag_observed(space, dag, w, xn, &mut |_, _| {})
}

/// [`forward_dag`] that shows `observe(j, pre)` every vertex's input to its activation
/// (after the norm), in vertex order (the training-free proxies read the ReLU codes).
pub fn forward_dag_observed(
    space: &Space,
    dag: &Dag,
    w: &DagWeights,
    xn: &Tensor,
    observe: &mut dyn FnMut(usize, &Tensor),
) -> Result<Tensor> {
    let l = dag.layers();
    let d = space.width() as i64;
    let mut h: Vec<Tensor> = Vec::with_capacity(l);
    for j in 0..l {
        let mut terms: Vec<Tensor> = Vec::new();
        if let Some((_, u)) = w.input.iter().find(|(s, _)| *s == j) {
            terms.push(stem_term(space, xn, u)?);
        }
        for e in w.edges.iter().filter(|e| e.edge.1 == j) {
            terms.push(ops::apply_op(e.op, &h[e.edge.0], e.weight.as_ref(), space.shape(), w.local_mask.as_ref())?);
        }
        let n_terms = terms.len();
        let mut pre = terms.into_iter().reduce(|a, b| a + b).expect("a vertex has a source term or an edge");
        if space.aggregation() == Aggregation::Mean && n_terms > 1 {
            pre = pre.f_div_scalar(n_terms as f64)?;
        }
        pre = pre.f_add(&w.bias[j])?;
        if let Some(ln) = &w.layer_norm {
            pre = pre.f_layer_norm([d], Some(&ln[j].0), Some(&ln[j].1), LAYER_NORM_EPS, false)?;
        }
        observe(j, &pre);
        h.push(activate(&pre, space.activation())?);
    }
    let mut logits = w.output_bias.shallow_clone();
    for (j, v) in &w.output {
        logits = h[*j].f_matmul(v)?.f_add(&logits)?;
    }
    Ok(logits)
}

/// A standalone network: a DAG of a space, its weights and its input normalisation.
pub struct Network {
    /// The space the DAG belongs to.
    pub space: Space,
    /// The topology.
    pub dag: Dag,
    /// The input normalisation (part of the network).
    pub normalization: Normalization,
    /// The weights.
    pub weights: DagWeights,
}

impl Network {
    /// Logits `[B, C]` for raw features `x: [B, F]`, on any device (moved to the
    /// weights' device first).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let xn = self.normalization.apply(&x.f_to_device(self.weights.output_bias.device())?)?;
        forward_dag(&self.space, &self.dag, &self.weights, &xn)
    }

    /// Parameter count.
    pub fn params(&self) -> usize {
        self.dag.params(&self.space)
    }

    /// Forward FLOPs per sample.
    pub fn flops(&self) -> usize {
        self.dag.flops(&self.space)
    }

    /// A deep, gradient-free copy.
    pub fn detached_copy(&self) -> Result<Network> {
        Ok(Network {
            space: self.space.clone(),
            dag: self.dag.clone(),
            normalization: self.normalization.clone(),
            weights: self.weights.detached_copy()?,
        })
    }
}
