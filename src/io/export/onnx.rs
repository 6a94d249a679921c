//! The ONNX writer (the README's ONNX export): any DAG of the space as a standalone ONNX
//! model, opset 17, default-domain operators only, with the input normalisation inside.
//!
//! Graph: `input [N, F]` (raw features) -> `Sub mean`, `Div std` -> per vertex the
//! `MatMul`s of its terms, `Sum` (and `Div` for mean aggregation), `Add b_j`, an optional
//! `LayerNormalization`, the activation -> the sinks' `MatMul`s, `Sum`, `Add c` ->
//! outputs `logits [N, C]` and `probabilities = Softmax(logits) [N, C]`. GELU, which
//! has no operator before opset 20, is written as `0.5 x (1 + Erf(x / sqrt 2))`.
//!
//! Typed spaces (docs/configuration.md, typed spaces): a convolutional stem is a `Reshape` of the
//! input to `[N, C_in, H_in, W_in]` and a `Conv` per source; a convolution or pooling
//! edge reshapes its source to `[N, C, H, W]` (once per vertex), applies `Conv`,
//! `AveragePool` (`count_include_pad = 0`) or `MaxPool`, and reshapes back to `[N, D]`;
//! a locally connected edge is a `MatMul` with its masked matrix; identity passes the
//! source on.

use std::path::Path;

use prost::Message;
use tch::{Kind, Tensor};

use super::proto::*;
use crate::error::{Error, Result};
use crate::model::network::{EdgeWeight, Network, LAYER_NORM_EPS};
use crate::model::ops::Op;
use crate::model::space::{Activation, Aggregation};

/// The opset the exported graphs use.
pub const OPSET_VERSION: i64 = 17;
/// The IR version written (ONNX 1.12+, accepted by ONNX Runtime 1.30).
pub const IR_VERSION: i64 = 8;

/// Optional descriptions stored in the model's metadata.
#[derive(Clone, Debug, Default)]
pub struct ExportMetadata {
    /// Class names in label order (default: "0", "1", ...).
    pub class_names: Option<Vec<String>>,
    /// The shape of one sample (for example `[C, H, W]` for images), when known.
    pub input_shape: Option<Vec<usize>>,
}

struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    counter: usize,
}

impl GraphBuilder {
    fn fresh(&mut self, stem: &str) -> String {
        self.counter += 1;
        format!("{stem}_{}", self.counter)
    }

    fn initializer(&mut self, name: &str, dims: &[i64], values: Vec<f32>) -> String {
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            dims: dims.to_vec(),
            data_type: data_type::TENSOR_FLOAT,
            name: name.to_string(),
            raw_data,
        });
        name.to_string()
    }

    fn tensor(&mut self, name: &str, t: &Tensor) -> Result<String> {
        let dims = t.size();
        let values = Vec::<f32>::try_from(&t.f_detach()?.f_to_kind(Kind::Float)?.f_contiguous()?.f_view([-1])?)?;
        Ok(self.initializer(name, &dims, values))
    }

    fn scalar(&mut self, stem: &str, v: f32) -> String {
        let name = self.fresh(stem);
        self.initializer(&name, &[], vec![v])
    }

    fn node(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_named(op, inputs, attributes, &out);
        out
    }

    fn node_named(&mut self, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>, out: &str) {
        let name = format!("{op}_{}", self.nodes.len());
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_string()],
            name,
            op_type: op.to_string(),
            domain: String::new(),
            attribute,
            doc_string: String::new(),
        });
    }

    /// `Sum` of several terms (the term itself when there is one).
    fn sum(&mut self, terms: &[String]) -> String {
        if terms.len() == 1 {
            return terms[0].clone();
        }
        let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
        self.node("Sum", &refs, vec![])
    }

    fn activation(&mut self, x: &str, act: Activation) -> String {
        match act {
            Activation::Relu => self.node("Relu", &[x], vec![]),
            Activation::Tanh => self.node("Tanh", &[x], vec![]),
            Activation::Sigmoid => self.node("Sigmoid", &[x], vec![]),
            Activation::Gelu => {
                let sqrt2 = self.scalar("sqrt2", std::f32::consts::SQRT_2);
                let one = self.scalar("one", 1.0);
                let half = self.scalar("half", 0.5);
                let scaled = self.node("Div", &[x, &sqrt2], vec![]);
                let erf = self.node("Erf", &[&scaled], vec![]);
                let shifted = self.node("Add", &[&erf, &one], vec![]);
                let gated = self.node("Mul", &[x, &shifted], vec![]);
                self.node("Mul", &[&gated, &half], vec![])
            }
        }
    }
}

/// The `[N, C, H, W]` views already made (the input's, and each vertex's by name).
#[derive(Default)]
struct MapCache {
    input: Option<String>,
    vertex: std::collections::HashMap<String, String>,
}

impl GraphBuilder {
    /// `Reshape` to fixed dimensions (`-1` for the batch).
    fn reshape(&mut self, x: &str, dims: &[i64]) -> String {
        let name = self.fresh("shape");
        self.initializers.push(TensorProto {
            dims: vec![dims.len() as i64],
            data_type: data_type::TENSOR_INT64,
            name: name.clone(),
            raw_data: dims.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        self.node("Reshape", &[x, &name], vec![])
    }
}

fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::ATTRIBUTE_INTS, ints: ints.to_vec(), ..Default::default() }
}

/// Attributes of a square 2-D `Conv` or pooling window.
fn conv_attributes(kernel: i64, stride: i64, padding: i64) -> Vec<AttributeProto> {
    vec![
        attr_ints("kernel_shape", &[kernel, kernel]),
        attr_ints("strides", &[stride, stride]),
        attr_ints("pads", &[padding; 4]),
    ]
}

/// The term one edge sends into its target: its op applied to `h` (the source's
/// output, `[N, D]`), as ONNX nodes.
fn edge_term(g: &mut GraphBuilder, maps: &mut MapCache, network: &Network, e: &EdgeWeight, h: &str) -> Result<String> {
    let (i, j) = e.edge;
    let space = &network.space;
    let d = space.width() as i64;
    let weight = |g: &mut GraphBuilder, t: &Tensor| g.tensor(&format!("W_{i}_{j}_{}", e.op), t);
    let need = || Error::Input(format!("edge ({i}, {j}) carries {} without its weight", e.op));
    match e.op {
        Op::Identity => return Ok(h.to_string()),
        Op::Dense => {
            let name = weight(g, e.weight.as_ref().ok_or_else(need)?)?;
            return Ok(g.node("MatMul", &[h, &name], vec![]));
        }
        Op::Local3x3 => {
            let mask = network.weights.local_mask.as_ref().ok_or_else(need)?;
            let name = weight(g, &e.weight.as_ref().ok_or_else(need)?.f_mul(mask)?)?;
            return Ok(g.node("MatMul", &[h, &name], vec![]));
        }
        _ => {}
    }
    let s = space.shape().ok_or_else(|| Error::Input(format!("the {} edge needs the vertices' shape", e.op)))?;
    let input = match maps.vertex.get(h) {
        Some(m) => m.clone(),
        None => {
            let m = g.reshape(h, &[-1, s.c, s.h, s.w]);
            maps.vertex.insert(h.to_string(), m.clone());
            m
        }
    };
    let out = match e.op {
        Op::Conv3x3 | Op::Conv5x5 => {
            let k = e.op.conv_kernel().expect("a convolution");
            let name = weight(g, e.weight.as_ref().ok_or_else(need)?)?;
            g.node("Conv", &[&input, &name], conv_attributes(k, 1, k / 2))
        }
        Op::Avgpool3x3 => {
            let mut attributes = conv_attributes(3, 1, 1);
            attributes.push(attr_int("count_include_pad", 0));
            g.node("AveragePool", &[&input], attributes)
        }
        _ => g.node("MaxPool", &[&input], conv_attributes(3, 1, 1)),
    };
    Ok(g.reshape(&out, &[-1, d]))
}

fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::ATTRIBUTE_INT, i, ..Default::default() }
}

fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attribute_type::ATTRIBUTE_FLOAT, f, ..Default::default() }
}

fn tensor_type(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(v) => DimensionValue::DimValue(*v),
                None => DimensionValue::DimParam("N".into()),
            }),
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor { elem_type: data_type::TENSOR_FLOAT, shape: Some(TensorShapeProto { dim }) }),
        }),
    }
}

/// The ONNX model of `network`.
pub fn model(network: &Network, metadata: &ExportMetadata) -> Result<ModelProto> {
    let space = &network.space;
    let dag = &network.dag;
    let (f, c) = (space.features() as i64, space.classes() as i64);
    let w = &network.weights;
    let mut g = GraphBuilder { nodes: Vec::new(), initializers: Vec::new(), counter: 0 };

    let norm = &network.normalization;
    let mean = g.initializer("norm_mean", &[f], norm.mean.iter().map(|&v| v as f32).collect());
    let std = g.initializer("norm_std", &[f], norm.std.iter().map(|&v| v as f32).collect());
    let centred = g.node("Sub", &["input", &mean], vec![]);
    let xn = g.node("Div", &[&centred, &std], vec![]);

    let mut h: Vec<String> = Vec::with_capacity(dag.layers());
    let mut maps = MapCache::default();
    for j in 0..dag.layers() {
        let mut terms = Vec::new();
        if let Some((_, u)) = w.input.iter().find(|(s, _)| *s == j) {
            let name = g.tensor(&format!("U_{j}"), u)?;
            terms.push(match space.stem_geometry() {
                None => g.node("MatMul", &[&xn, &name], vec![]),
                Some(st) => {
                    let input = maps.input.get_or_insert_with(|| g.reshape(&xn, &[-1, st.input.c, st.input.h, st.input.w])).clone();
                    let k = st.kernel;
                    let conv = g.node("Conv", &[&input, &name], conv_attributes(k, st.stride, st.padding));
                    g.reshape(&conv, &[-1, space.width() as i64])
                }
            });
        }
        for e in w.edges.iter().filter(|e| e.edge.1 == j) {
            let i = e.edge.0;
            terms.push(edge_term(&mut g, &mut maps, network, e, &h[i])?);
        }
        let n_terms = terms.len();
        let mut pre = g.sum(&terms);
        if space.aggregation() == Aggregation::Mean && n_terms > 1 {
            let n = g.scalar("count", n_terms as f32);
            pre = g.node("Div", &[&pre, &n], vec![]);
        }
        let b = g.tensor(&format!("b_{j}"), &w.bias[j])?;
        pre = g.node("Add", &[&pre, &b], vec![]);
        if let Some(ln) = &w.layer_norm {
            let scale = g.tensor(&format!("ln_scale_{j}"), &ln[j].0)?;
            let bias = g.tensor(&format!("ln_bias_{j}"), &ln[j].1)?;
            pre = g.node(
                "LayerNormalization",
                &[&pre, &scale, &bias],
                vec![attr_int("axis", -1), attr_float("epsilon", LAYER_NORM_EPS as f32)],
            );
        }
        h.push(g.activation(&pre, space.activation()));
    }
    let mut outs = Vec::new();
    for (j, v) in &w.output {
        let name = g.tensor(&format!("V_{j}"), v)?;
        outs.push(g.node("MatMul", &[&h[*j], &name], vec![]));
    }
    let summed = g.sum(&outs);
    let cb = g.tensor("c", &w.output_bias)?;
    g.node_named("Add", &[&summed, &cb], vec![], "logits");
    g.node_named("Softmax", &["logits"], vec![attr_int("axis", -1)], "probabilities");

    let class_names = metadata
        .class_names
        .clone()
        .unwrap_or_else(|| (0..space.classes()).map(|i| i.to_string()).collect());
    if class_names.len() != space.classes() {
        return Err(Error::Input(format!(
            "{} class names for a space of {} classes",
            class_names.len(),
            space.classes()
        )));
    }
    let mut props = vec![
        ("densenas.dag", serde_json::to_string(dag)?),
        ("densenas.space", serde_json::to_string(&space.config())?),
        ("densenas.classes", serde_json::to_string(&class_names)?),
        ("densenas.version", crate::VERSION.to_string()),
    ];
    if let Some(shape) = &metadata.input_shape {
        props.push(("densenas.input_shape", serde_json::to_string(shape)?));
    }
    let graph = GraphProto {
        node: g.nodes,
        name: "densenas".into(),
        initializer: g.initializers,
        doc_string: format!("densenas {} network, DAG edges {:?}", crate::VERSION, dag.edges()),
        input: vec![tensor_type("input", &[None, Some(f)])],
        output: vec![tensor_type("logits", &[None, Some(c)]), tensor_type("probabilities", &[None, Some(c)])],
        value_info: vec![],
    };
    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET_VERSION }],
        producer_name: "densenas".into(),
        producer_version: crate::VERSION.into(),
        domain: String::new(),
        model_version: 1,
        doc_string: String::new(),
        graph: Some(graph),
        metadata_props: props
            .into_iter()
            .map(|(k, v)| StringStringEntryProto { key: k.into(), value: v })
            .collect(),
    })
}

/// The serialised ONNX model of `network`.
pub fn to_bytes(network: &Network, metadata: &ExportMetadata) -> Result<Vec<u8>> {
    Ok(model(network, metadata)?.encode_to_vec())
}

/// Writes the ONNX model of `network` to `path` atomically: through a temporary file
/// of a unique name in the same folder, flushed and renamed into place, so a failed
/// export leaves neither a partial file nor a stray temporary.
pub fn write(network: &Network, path: &Path, metadata: &ExportMetadata) -> Result<()> {
    crate::util::atomic::write_atomic(path, &to_bytes(network, metadata)?)
}

/// Parses a file as an ONNX model, with a clear error when it is not one.
pub fn read_model(path: &Path) -> Result<ModelProto> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let model = ModelProto::decode(bytes.as_slice())
        .map_err(|e| Error::data(path, format!("not an ONNX model (protobuf decoding failed: {e})")))?;
    match &model.graph {
        Some(g) if model.ir_version > 0 && !g.node.is_empty() => Ok(model),
        _ => Err(Error::data(path, "not an ONNX model (no IR version or no graph)")),
    }
}
