//! Operations on edges (docs/configuration.md, typed spaces): a vertex's `D` numbers seen as a
//! `C x H x W` map, so that an edge may carry a convolution, a locally connected layer,
//! a pooling or the identity instead of a dense matrix, and the convolutional stem that
//! feeds a source vertex from an image input.
//!
//! Every function here works on tensors whose last dimension is the flat map (`[..., D]`,
//! channel-major), so the same code serves one network (`[B, D]`) and the supernet's
//! blocks (`[k, B, D]`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// An operation an edge may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Op {
    /// The dense `D x D` matrix `W_ij` (the only op of an untyped space).
    Dense,
    /// 3x3 convolution `C -> C`, stride 1, zero padding 1, no bias.
    Conv3x3,
    /// 5x5 convolution `C -> C`, stride 1, zero padding 2, no bias.
    Conv5x5,
    /// Locally connected: the dense matrix masked to 3x3 spatial neighbourhoods (all
    /// channels), untied.
    Local3x3,
    /// 3x3 average pooling per channel, stride 1, padding 1, padded cells not counted.
    Avgpool3x3,
    /// 3x3 max pooling per channel, stride 1, padding 1 (padding never wins).
    Maxpool3x3,
    /// The identity.
    Identity,
}

impl Op {
    /// Every op, in a fixed order.
    pub const ALL: [Op; 7] = [Op::Dense, Op::Conv3x3, Op::Conv5x5, Op::Local3x3, Op::Avgpool3x3, Op::Maxpool3x3, Op::Identity];

    /// The op's name in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Op::Dense => "dense",
            Op::Conv3x3 => "conv3x3",
            Op::Conv5x5 => "conv5x5",
            Op::Local3x3 => "local3x3",
            Op::Avgpool3x3 => "avgpool3x3",
            Op::Maxpool3x3 => "maxpool3x3",
            Op::Identity => "identity",
        }
    }

    /// True when the op needs the vertices' `shape`.
    pub fn needs_shape(self) -> bool {
        !matches!(self, Op::Dense | Op::Identity)
    }

    /// True when the op has its own (trained) weights per edge.
    pub fn has_weights(self) -> bool {
        matches!(self, Op::Dense | Op::Conv3x3 | Op::Conv5x5 | Op::Local3x3)
    }

    /// The convolution kernel size, for the two convolutions.
    pub fn conv_kernel(self) -> Option<i64> {
        match self {
            Op::Conv3x3 => Some(3),
            Op::Conv5x5 => Some(5),
            _ => None,
        }
    }

    /// The names of every op, comma-separated (for errors and help).
    pub fn names() -> String {
        Op::ALL.iter().map(|o| o.name()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Op {
    type Err = Error;
    fn from_str(s: &str) -> Result<Op> {
        Op::ALL.iter().copied().find(|o| o.name() == s).ok_or_else(|| {
            Error::config("ops", format!("unknown op {s:?}: known ops are {}", Op::names()))
        })
    }
}

impl From<Op> for String {
    fn from(o: Op) -> String {
        o.name().to_string()
    }
}

impl TryFrom<String> for Op {
    type Error = Error;
    fn try_from(s: String) -> Result<Op> {
        s.parse()
    }
}

/// How a source vertex receives the input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stem {
    /// A dense matrix `U_j` (the default).
    #[default]
    Dense,
    /// A convolution `C_in -> C` with stride `H_in / H` (kernel 3 and padding 1 at
    /// stride 1, else a patchify convolution with kernel = stride and no padding).
    Conv,
}

impl Stem {
    /// True for the default.
    pub fn is_dense(&self) -> bool {
        *self == Stem::Dense
    }
}

/// A `[C, H, W]` map shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapShape {
    /// Channels.
    pub c: i64,
    /// Height.
    pub h: i64,
    /// Width.
    pub w: i64,
}

impl MapShape {
    /// From the JSON form `[C, H, W]`.
    pub fn from_array(s: [usize; 3]) -> MapShape {
        MapShape { c: s[0] as i64, h: s[1] as i64, w: s[2] as i64 }
    }
    /// `C * H * W`.
    pub fn size(&self) -> i64 {
        self.c * self.h * self.w
    }
    /// Number of positions `H * W`.
    pub fn positions(&self) -> i64 {
        self.h * self.w
    }
}

/// The convolutional stem's geometry: kernel, stride and padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StemGeometry {
    /// The input map shape `[C_in, H_in, W_in]`.
    pub input: MapShape,
    /// Kernel size.
    pub kernel: i64,
    /// Stride `H_in / H`.
    pub stride: i64,
    /// Zero padding.
    pub padding: i64,
}

impl StemGeometry {
    /// The stem from `input` to maps of `shape` (the stride must be whole; the caller
    /// has checked it).
    pub fn new(input: MapShape, shape: MapShape) -> StemGeometry {
        let stride = input.h / shape.h;
        if stride == 1 {
            StemGeometry { input, kernel: 3, stride, padding: 1 }
        } else {
            StemGeometry { input, kernel: stride, stride, padding: 0 }
        }
    }
}

/// Reshapes `[..., D]` into `[N, C, H, W]` (`N` the product of the leading dimensions).
fn to_maps(h: &Tensor, s: MapShape) -> Result<Tensor> {
    Ok(h.f_reshape([-1, s.c, s.h, s.w])?)
}

/// Reshapes `[N, C, H, W]` back to the leading dimensions of `like` and a flat last one.
fn from_maps(m: &Tensor, like: &Tensor) -> Result<Tensor> {
    let mut dims = like.size();
    let last = dims.len() - 1;
    dims[last] = -1;
    Ok(m.f_reshape(dims.as_slice())?)
}

/// The 0/1 matrix `[D, D]` of a locally connected 3x3 layer: entry `(in, out)` is 1
/// when the input position lies in the 3x3 neighbourhood of the output position (any
/// channels), as the dense edge's `h W` orientation has it.
pub fn local_mask(s: MapShape, kind: Kind, device: tch::Device) -> Result<Tensor> {
    let d = s.size() as usize;
    let mut m = vec![0f32; d * d];
    let pos = |i: usize| {
        let p = i as i64 % s.positions();
        (p / s.w, p % s.w)
    };
    for i in 0..d {
        let (yi, xi) = pos(i);
        for o in 0..d {
            let (yo, xo) = pos(o);
            if (yi - yo).abs() <= 1 && (xi - xo).abs() <= 1 {
                m[i * d + o] = 1.0;
            }
        }
    }
    Ok(Tensor::f_from_slice(&m)?.f_view([d as i64, d as i64])?.f_to_kind(kind)?.f_to_device(device)?)
}

/// Number of entries of the locally connected mask (the op's parameter count).
pub fn local_params(s: MapShape) -> i64 {
    let span = |n: i64| (0..n).map(|p| (p + 1).min(n - 1) - (p - 1).max(0) + 1).sum::<i64>();
    // Each output position connects to the product of its row and column spans, times
    // C input channels, for each of C output channels.
    s.c * s.c * span(s.h) * span(s.w)
}

/// The shape of an edge's weight tensor for `op` (`None` for ops without weights).
pub fn weight_shape(op: Op, shape: Option<MapShape>, d: i64) -> Option<Vec<i64>> {
    match (op, op.conv_kernel(), shape) {
        (Op::Dense | Op::Local3x3, _, _) => Some(vec![d, d]),
        (_, Some(k), Some(s)) => Some(vec![s.c, s.c, k, k]),
        _ => None,
    }
}

/// Trained parameters of one edge with `op`.
pub fn edge_params(op: Op, shape: Option<MapShape>, d: i64) -> i64 {
    match (op, op.conv_kernel(), shape) {
        (Op::Dense, _, _) => d * d,
        (Op::Local3x3, _, Some(s)) => local_params(s),
        (_, Some(k), Some(s)) => s.c * s.c * k * k,
        _ => 0,
    }
}

/// Forward FLOPs per sample of one edge with `op` (2 per multiply-add; pooling counts
/// one per window element, identity none).
pub fn edge_flops(op: Op, shape: Option<MapShape>, d: i64) -> i64 {
    match (op, shape) {
        (Op::Dense, _) => 2 * d * d,
        (Op::Local3x3, Some(s)) => 2 * local_params(s),
        (Op::Conv3x3 | Op::Conv5x5, Some(s)) => 2 * edge_params(op, shape, d) * s.positions(),
        (Op::Avgpool3x3 | Op::Maxpool3x3, _) => 9 * d,
        _ => 0,
    }
}

/// Applies `op` to `h: [..., D]` with the edge's weight (`[D, D]` for dense and local,
/// the local one unmasked with `local` its mask; `[C, C, K, K]` for convolutions).
pub fn apply_op(op: Op, h: &Tensor, weight: Option<&Tensor>, shape: Option<MapShape>, local: Option<&Tensor>) -> Result<Tensor> {
    let need = |what: &str| Error::Input(format!("the {op} edge needs {what}"));
    match op {
        Op::Dense => Ok(h.f_matmul(weight.ok_or_else(|| need("a weight"))?)?),
        Op::Local3x3 => {
            let w = weight.ok_or_else(|| need("a weight"))?;
            let m = local.ok_or_else(|| need("its neighbourhood mask"))?;
            Ok(h.f_matmul(&w.f_mul(m)?)?)
        }
        Op::Identity => Ok(h.shallow_clone()),
        _ => {
            let s = shape.ok_or_else(|| need("the vertices' shape"))?;
            let maps = to_maps(h, s)?;
            let out = match op {
                Op::Conv3x3 | Op::Conv5x5 => {
                    let w = weight.ok_or_else(|| need("a kernel"))?;
                    conv(&maps, w, 1, w.size()[3] / 2)?
                }
                Op::Avgpool3x3 => maps.f_avg_pool2d([3, 3], [1, 1], [1, 1], false, false, None::<i64>)?,
                _ => maps.f_max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false)?,
            };
            from_maps(&out, h)
        }
    }
}

/// A 2-D convolution without bias.
pub fn conv(maps: &Tensor, w: &Tensor, stride: i64, padding: i64) -> Result<Tensor> {
    Ok(maps.f_conv2d(&w.f_contiguous()?, None::<&Tensor>, [stride, stride], [padding, padding], [1, 1], 1)?)
}

/// The convolutional stem: normalised input `xn: [B, F]` through `kernel:
/// [n*C, C_in, K, K]` (the kernels of `n` vertices stacked), giving `[B, n*D]`.
pub fn apply_stem(xn: &Tensor, kernel: &Tensor, g: &StemGeometry) -> Result<Tensor> {
    let maps = xn.f_reshape([-1, g.input.c, g.input.h, g.input.w])?;
    let out = conv(&maps, kernel, g.stride, g.padding)?;
    Ok(out.f_reshape([xn.size()[0], -1])?)
}
