//! The search space (docs/architecture.md): `L` dense layers of width `D` over `F` input
//! features and `C` classes, the allowed edges `A = {(i,j) : i < j, j - i <= S}`, and
//! the layer options (activation, aggregation, normalisation).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::ops::{self, MapShape, Op, Stem, StemGeometry};

/// Largest number of layers a space may have.
pub const MAX_LAYERS: usize = 64;
/// Largest layer width.
pub const MAX_WIDTH: usize = 1 << 16;
/// Largest number of input features.
pub const MAX_FEATURES: usize = 1 << 24;
/// Largest number of classes.
pub const MAX_CLASSES: usize = 1 << 20;
/// Largest number of blocks `k`.
pub const MAX_BLOCKS: usize = 4096;
/// Largest number of shared parameters a supernet may hold (about 8 GB of float32).
pub const MAX_PARAMETERS: u64 = 2_000_000_000;

/// The non-linearity applied after each layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(0, x)` (the default).
    #[default]
    Relu,
    /// The exact (erf) GELU.
    Gelu,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
}

/// How a layer combines its incoming terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// The sum of the terms (the default).
    #[default]
    Sum,
    /// The average of the terms present, the input term counting as one.
    Mean,
}

/// The normalisation applied to a layer's pre-activation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// No normalisation (the default).
    #[default]
    None,
    /// LayerNorm over the layer's width with learned scale and bias (epsilon 1e-5).
    Layernorm,
}

/// The JSON form of a space, as users write it (`features`, `classes`, `layers`,
/// `width`, `blocks`, `max_skip` and optional layer options). Unknown keys are refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceConfig {
    /// Input features `F`.
    pub features: usize,
    /// Classes `C`.
    pub classes: usize,
    /// Hidden layers (vertices) `L`.
    pub layers: usize,
    /// Width `D` of every layer.
    pub width: usize,
    /// Number of blocks `k` in the supernet (default 8).
    #[serde(default = "default_blocks")]
    pub blocks: usize,
    /// Longest allowed skip `S` (default `L - 1`: every forward edge allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_skip: Option<usize>,
    /// Activation (default `relu`).
    #[serde(default)]
    pub activation: Activation,
    /// Aggregation (default `sum`).
    #[serde(default)]
    pub aggregation: Aggregation,
    /// Normalisation (default `none`).
    #[serde(default)]
    pub norm: Norm,
    /// Fewest edges a drawn DAG may have (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_edges: Option<usize>,
    /// Most edges a drawn DAG may have (default `|A|`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_edges: Option<usize>,
    /// The vertices' maps `[C, H, W]`, `C * H * W = width` (needed by every op but
    /// `dense` and `identity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<[usize; 3]>,
    /// The operations an edge may carry (default `["dense"]`).
    #[serde(default = "default_ops", skip_serializing_if = "is_dense_only")]
    pub ops: Vec<Op>,
    /// The input's shape `[C_in, H_in, W_in]`, product `features` (by default what the
    /// loader knows; needed by the convolutional stem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<[usize; 3]>,
    /// How sources receive the input (default `dense`).
    #[serde(default, skip_serializing_if = "Stem::is_dense")]
    pub stem: Stem,
}

fn default_blocks() -> usize {
    8
}

/// `["dense"]`.
pub fn default_ops() -> Vec<Op> {
    vec![Op::Dense]
}

/// True for `["dense"]`.
pub fn is_dense_only(ops: &[Op]) -> bool {
    ops == [Op::Dense]
}

impl SpaceConfig {
    /// A configuration with the given sizes and every option at its default.
    pub fn new(features: usize, classes: usize, layers: usize, width: usize) -> Self {
        SpaceConfig {
            features,
            classes,
            layers,
            width,
            blocks: default_blocks(),
            max_skip: None,
            activation: Activation::default(),
            aggregation: Aggregation::default(),
            norm: Norm::default(),
            min_edges: None,
            max_edges: None,
            shape: None,
            ops: default_ops(),
            input_shape: None,
            stem: Stem::Dense,
        }
    }

    /// Parses a configuration from JSON (unknown keys refused) and validates it.
    pub fn from_json(json: &str) -> Result<Space> {
        let config: SpaceConfig = crate::util::json::from_json_object(json, "space")?;
        Space::new(config)
    }
}

/// A validated space with its allowed-edge list `A`.
///
/// Edges are indexed in the order "by target vertex `j`, then by source `i`", so the
/// edges into one vertex are contiguous (the supernet relies on it).
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    config: SpaceConfig,
    max_skip: usize,
    min_edges: usize,
    max_edges: usize,
    edges: Vec<(usize, usize)>,
    /// `edge_index[i * L + j]` is the index of `(i, j)` in `edges`, if allowed.
    edge_index: Vec<Option<usize>>,
    /// The convolutional stem's geometry, when the stem is `conv`.
    stem: Option<StemGeometry>,
}

/// The product of a shape's entries (`usize::MAX` when it overflows).
fn checked_product(s: &[usize; 3]) -> usize {
    s.iter().try_fold(1usize, |a, &b| a.checked_mul(b)).unwrap_or(usize::MAX)
}

/// The typed keys' rules: known, distinct ops; `shape` given with the right product
/// when an op needs it.
fn check_ops(config: &SpaceConfig) -> Result<()> {
    if config.ops.is_empty() {
        return Err(Error::config("ops", format!("at least one op is needed: known ops are {}", Op::names())));
    }
    for (i, o) in config.ops.iter().enumerate() {
        if config.ops[..i].contains(o) {
            return Err(Error::config("ops", format!("{o} is listed twice")));
        }
    }
    if let Some(s) = config.shape {
        let product = checked_product(&s);
        if s.contains(&0) || product != config.width {
            return Err(Error::config(
                "shape",
                format!("{s:?} holds {product} numbers but the width is {}: C * H * W must equal the width", config.width),
            ));
        }
    }
    let needs_shape: Vec<&str> = config.ops.iter().filter(|o| o.needs_shape()).map(|o| o.name()).collect();
    if config.shape.is_none() && !needs_shape.is_empty() {
        return Err(Error::config(
            "ops",
            format!("{} need the vertices' `shape` [C, H, W], which is not set", needs_shape.join(", ")),
        ));
    }
    Ok(())
}

/// The stem's rules: `input_shape` with the product `features`; a `conv` stem needs
/// `shape` and `input_shape` and a whole stride, the same for height and width.
fn check_stem(config: &SpaceConfig) -> Result<Option<StemGeometry>> {
    if let Some(s) = config.input_shape {
        let product = checked_product(&s);
        if s.contains(&0) || product != config.features {
            return Err(Error::config(
                "input_shape",
                format!("{s:?} holds {product} numbers but the data has {} features", config.features),
            ));
        }
    }
    if config.stem == Stem::Dense {
        return Ok(None);
    }
    let Some(shape) = config.shape else {
        return Err(Error::config("shape", "the conv stem needs the vertices' `shape` [C, H, W]"));
    };
    let Some(input) = config.input_shape else {
        return Err(Error::config("input_shape", "the conv stem needs the input's shape [C_in, H_in, W_in] (the data's loader does not know it)"));
    };
    let (hi, wi, h, w) = (input[1], input[2], shape[1], shape[2]);
    if hi % h != 0 || wi % w != 0 || hi / h != wi / w {
        return Err(Error::config(
            "stem",
            format!("the conv stem's stride is input height / height = {hi}/{h} and input width / width = {wi}/{w}: both must be the same whole number"),
        ));
    }
    Ok(Some(StemGeometry::new(MapShape::from_array(input), MapShape::from_array(shape))))
}

fn check_range(field: &str, value: usize, lo: usize, hi: usize) -> Result<()> {
    if value < lo || value > hi {
        return Err(Error::config(field, format!("{value} is out of range: allowed {lo}..={hi}")));
    }
    Ok(())
}

impl Space {
    /// Validates `config`: every value outside its range is an error naming the field.
    pub fn new(config: SpaceConfig) -> Result<Space> {
        check_range("features", config.features, 1, MAX_FEATURES)?;
        check_range("classes", config.classes, 2, MAX_CLASSES)?;
        check_range("layers", config.layers, 1, MAX_LAYERS)?;
        check_range("width", config.width, 1, MAX_WIDTH)?;
        check_range("blocks", config.blocks, 1, MAX_BLOCKS)?;
        let l = config.layers;
        let max_skip = config.max_skip.unwrap_or(l - 1);
        check_range("max_skip", max_skip, if l == 1 { 0 } else { 1 }, l - 1)?;
        let mut edges = Vec::new();
        let mut edge_index = vec![None; l * l];
        for j in 0..l {
            for i in j.saturating_sub(max_skip)..j {
                edge_index[i * l + j] = Some(edges.len());
                edges.push((i, j));
            }
        }
        let n = edges.len();
        let max_edges = config.max_edges.unwrap_or(n);
        check_range("max_edges", max_edges, 0, n)?;
        let min_edges = config.min_edges.unwrap_or(0);
        check_range("min_edges", min_edges, 0, max_edges)?;
        check_ops(&config)?;
        let stem = check_stem(&config)?;
        let (f, c, d) = (config.features as u64, config.classes as u64, config.width as u64);
        let shape = config.shape.map(MapShape::from_array);
        // What the supernet stores per edge (a locally connected edge keeps its whole
        // masked matrix).
        let per_edge: u64 = config
            .ops
            .iter()
            .map(|&o| if o == Op::Local3x3 { d * d } else { ops::edge_params(o, shape, d as i64) as u64 })
            .sum();
        let stem_params = match stem {
            Some(g) => (g.input.c * g.kernel * g.kernel * shape.map_or(0, |s| s.c)) as u64,
            None => f * d,
        };
        let params = stem_params * l as u64 + per_edge * n as u64 + d * c * l as u64;
        if params > MAX_PARAMETERS {
            return Err(Error::config(
                "width",
                format!("the supernet would hold {params} parameters, more than the limit of {MAX_PARAMETERS}"),
            ));
        }
        Ok(Space { config, max_skip, min_edges, max_edges, edges, edge_index, stem })
    }

    /// The configuration, with `max_skip` resolved.
    pub fn config(&self) -> SpaceConfig {
        let mut c = self.config.clone();
        c.max_skip = Some(self.max_skip);
        c
    }
    /// Input features `F`.
    pub fn features(&self) -> usize {
        self.config.features
    }
    /// Classes `C`.
    pub fn classes(&self) -> usize {
        self.config.classes
    }
    /// Layers `L`.
    pub fn layers(&self) -> usize {
        self.config.layers
    }
    /// Width `D`.
    pub fn width(&self) -> usize {
        self.config.width
    }
    /// Blocks `k`.
    pub fn blocks(&self) -> usize {
        self.config.blocks
    }
    /// Longest allowed skip `S`.
    pub fn max_skip(&self) -> usize {
        self.max_skip
    }
    /// Activation.
    pub fn activation(&self) -> Activation {
        self.config.activation
    }
    /// Aggregation.
    pub fn aggregation(&self) -> Aggregation {
        self.config.aggregation
    }
    /// Normalisation.
    pub fn norm(&self) -> Norm {
        self.config.norm
    }
    /// Fewest edges of a drawn DAG.
    pub fn min_edges(&self) -> usize {
        self.min_edges
    }
    /// Most edges of a drawn DAG.
    pub fn max_edges(&self) -> usize {
        self.max_edges
    }
    /// The allowed edges `A`, grouped by target vertex.
    pub fn edges(&self) -> &[(usize, usize)] {
        &self.edges
    }
    /// `|A|`.
    pub fn num_edges(&self) -> usize {
        self.edges.len()
    }
    /// The index of edge `(i, j)` in [`Space::edges`], if it is allowed.
    pub fn edge_index(&self, i: usize, j: usize) -> Option<usize> {
        let l = self.layers();
        if i >= l || j >= l {
            return None;
        }
        self.edge_index[i * l + j]
    }
    /// The allowed predecessors of vertex `j`, in edge-index order.
    pub fn predecessors(&self, j: usize) -> Vec<usize> {
        (j.saturating_sub(self.max_skip)..j).collect()
    }
    /// The operations an edge may carry.
    pub fn ops(&self) -> &[Op] {
        &self.config.ops
    }
    /// The index of `op` in [`Space::ops`].
    pub fn op_index(&self, op: Op) -> Option<usize> {
        self.config.ops.iter().position(|&o| o == op)
    }
    /// True when edges carry anything but the dense matrix or the stem is a convolution.
    pub fn is_typed(&self) -> bool {
        !is_dense_only(&self.config.ops) || self.config.stem != Stem::Dense
    }
    /// The vertices' map shape.
    pub fn shape(&self) -> Option<MapShape> {
        self.config.shape.map(MapShape::from_array)
    }
    /// The stem.
    pub fn stem(&self) -> Stem {
        self.config.stem
    }
    /// The convolutional stem's geometry (`None` for the dense stem).
    pub fn stem_geometry(&self) -> Option<StemGeometry> {
        self.stem
    }
    /// The space of the plain MLP baseline beside this one: dense edges only, dense
    /// stem, the other options kept (the space itself when it is untyped).
    pub fn plain_mlp_space(&self) -> Result<Space> {
        let mut c = self.config();
        c.ops = default_ops();
        c.stem = Stem::Dense;
        c.shape = None;
        Space::new(c)
    }
    /// The space of the plain CNN baseline beside a typed space: every edge `conv3x3`,
    /// `conv` stem (`None` when the space is untyped or lacks the shapes it needs).
    pub fn plain_cnn_space(&self) -> Option<Space> {
        if !self.is_typed() {
            return None;
        }
        let mut c = self.config();
        c.ops = vec![Op::Conv3x3];
        c.stem = Stem::Conv;
        Space::new(c).ok()
    }
    /// Returns a copy with another block count (validated).
    pub fn with_blocks(&self, blocks: usize) -> Result<Space> {
        let mut c = self.config();
        c.blocks = blocks;
        Space::new(c)
    }
}
