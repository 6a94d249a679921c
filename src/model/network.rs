//! One DAG as a standalone network (DESIGN.md section 1): the input normalisation, the
//! weights the DAG uses, and its forward pass. The supernet's "chosen blocks" path, the
//! inherited snapshot, retraining and (later) the ONNX export all go through here.

use rand::Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::model::dag::Dag;
use crate::error::{Error, Result};
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

/// The weights one DAG uses. In a supernet's view they are slices of the shared
/// tensors (so gradients reach them); in a snapshot or a retrained network they own
/// their storage.
pub struct DagWeights {
    /// `(j, U_j)`, `U_j: [F, D]`, for every source `j`.
    pub input: Vec<(usize, Tensor)>,
    /// `((i, j), W_ij)`, `W_ij: [D, D]`, for every edge (applied as `h_i W_ij`).
    pub edges: Vec<((usize, usize), Tensor)>,
    /// `b_j: [D]` for every vertex.
    pub bias: Vec<Tensor>,
    /// LayerNorm `(scale, bias)`, each `[D]`, for every vertex (when the space has it).
    pub layer_norm: Option<Vec<(Tensor, Tensor)>>,
    /// `(j, V_j)`, `V_j: [D, C]`, for every sink `j`.
    pub output: Vec<(usize, Tensor)>,
    /// `c: [C]`.
    pub output_bias: Tensor,
}

impl DagWeights {
    /// Fresh weights for `dag` (retraining from scratch), drawn from `rng`; every tensor
    /// requires grad. He-style uniform initialisation that knows the DAG: a term into
    /// vertex `j` from a layer of width `n` gets the bound `gain * sqrt(3 s / n)`, with
    /// `s = 1 / terms_j` for sum aggregation and `s = terms_j` for mean aggregation, so
    /// that every pre-activation starts with about unit variance whatever the vertex's
    /// in-degree and the depth (`gain`: sqrt 2 for relu and gelu, 5/3 for tanh, 1 for
    /// sigmoid). Biases start at 0; the output `V_j` gets `1 / sqrt(D * sinks)`.
    pub fn init<R: Rng>(space: &Space, dag: &Dag, kind: Kind, device: Device, rng: &mut R) -> Result<DagWeights> {
        let (f, d, c) = (space.features() as i64, space.width() as i64, space.classes() as i64);
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
        let mut input = Vec::new();
        for j in dag.sources() {
            input.push((j, uniform(rng, &[f, d], bound(f, j), kind, device)?));
        }
        let mut edges = Vec::new();
        for &(i, j) in dag.edges() {
            edges.push(((i, j), uniform(rng, &[d, d], bound(d, j), kind, device)?));
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
        let w = DagWeights { input, edges, bias, layer_norm, output, output_bias };
        for t in w.tensors() {
            let _ = t.set_requires_grad(true);
        }
        Ok(w)
    }

    /// Every tensor, in a fixed order (shallow clones).
    pub fn tensors(&self) -> Vec<Tensor> {
        let mut out: Vec<Tensor> = self.input.iter().map(|(_, t)| t.shallow_clone()).collect();
        out.extend(self.edges.iter().map(|(_, t)| t.shallow_clone()));
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
        dag.mask(space)?;
        let (f, d, c) = (space.features() as i64, space.width() as i64, space.classes() as i64);
        let (sources, sinks, l) = (dag.sources(), dag.sinks(), dag.layers());
        let ln = space.norm() == Norm::Layernorm;
        let expected = sources.len() + dag.edges().len() + l * (1 + 2 * ln as usize) + sinks.len() + 1;
        if tensors.len() != expected {
            return Err(Error::Input(format!("{} weight tensors for a DAG that has {expected}", tensors.len())));
        }
        let mut it = tensors.into_iter().enumerate();
        let mut next = |shape: &[i64]| -> Result<Tensor> {
            let (i, t) = it.next().expect("counted above");
            if t.size() != shape {
                return Err(Error::Input(format!("weight tensor {i} has shape {:?}, expected {shape:?}", t.size())));
            }
            Ok(t)
        };
        let input = sources.iter().map(|&j| Ok((j, next(&[f, d])?))).collect::<Result<_>>()?;
        let edges = dag.edges().iter().map(|&e| Ok((e, next(&[d, d])?))).collect::<Result<_>>()?;
        let bias = (0..l).map(|_| next(&[d])).collect::<Result<_>>()?;
        let layer_norm = if ln { Some((0..l).map(|_| Ok((next(&[d])?, next(&[d])?))).collect::<Result<_>>()?) } else { None };
        let output = sinks.iter().map(|&j| Ok((j, next(&[d, c])?))).collect::<Result<_>>()?;
        let output_bias = next(&[c])?;
        Ok(DagWeights { input, edges, bias, layer_norm, output, output_bias })
    }

    /// A deep copy that owns its storage and tracks no gradient.
    pub fn detached_copy(&self) -> Result<DagWeights> {
        let cp = |t: &Tensor| -> Result<Tensor> { Ok(t.f_detach_copy()?) };
        Ok(DagWeights {
            input: self.input.iter().map(|(j, t)| Ok((*j, cp(t)?))).collect::<Result<_>>()?,
            edges: self.edges.iter().map(|(e, t)| Ok((*e, cp(t)?))).collect::<Result<_>>()?,
            bias: self.bias.iter().map(cp).collect::<Result<_>>()?,
            layer_norm: match &self.layer_norm {
                None => None,
                Some(v) => Some(v.iter().map(|(g, b)| Ok((cp(g)?, cp(b)?))).collect::<Result<_>>()?),
            },
            output: self.output.iter().map(|(j, t)| Ok((*j, cp(t)?))).collect::<Result<_>>()?,
            output_bias: cp(&self.output_bias)?,
        })
    }
}

/// The forward pass of one DAG on normalised inputs `xn: [B, F]`, giving `[B, C]`:
/// `pre_j = agg(x U_j [source], h_i W_ij for i in in(j)) + b_j`, `h_j = act(norm(pre_j))`,
/// `logits = sum over sinks of h_j V_j + c`.
pub fn forward_dag(space: &Space, dag: &Dag, w: &DagWeights, xn: &Tensor) -> Result<Tensor> {
    let l = dag.layers();
    let d = space.width() as i64;
    let mut h: Vec<Tensor> = Vec::with_capacity(l);
    for j in 0..l {
        let mut terms: Vec<Tensor> = Vec::new();
        if let Some((_, u)) = w.input.iter().find(|(s, _)| *s == j) {
            terms.push(xn.f_matmul(u)?);
        }
        for ((i, _), wt) in w.edges.iter().filter(|((_, t), _)| *t == j) {
            terms.push(h[*i].f_matmul(wt)?);
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
    /// Logits `[B, C]` for raw features `x: [B, F]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let xn = self.normalization.apply(x)?;
        forward_dag(&self.space, &self.dag, &self.weights, &xn)
    }

    /// Parameter count.
    pub fn params(&self) -> usize {
        self.dag.params(
            self.space.features(),
            self.space.width(),
            self.space.classes(),
            self.space.norm() == Norm::Layernorm,
        )
    }

    /// Forward FLOPs per sample.
    pub fn flops(&self) -> usize {
        self.dag.flops(self.space.features(), self.space.width(), self.space.classes())
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
