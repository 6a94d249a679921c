//! The members of a population in an untyped (dense) space as stacked tensors
//! (docs/architecture.md): one batched product per seed group for the input terms (the
//! group's batch, shared, times every (member, source) weight of the group), and per
//! (edge, op) pair and per sink one batched product over the members that have it
//! (absent edges cost nothing). Every member owns rows of the stacked tensors; its
//! parameters are views of those rows, in the order of [`DagWeights::tensors`].
//!
//! A member's result does not depend on its company: each of its rows goes through the
//! same operations in the same order whichever other rows a tensor holds (a batched
//! product gives every slice the bits of the slice's own product when the slices are
//! aligned as tensors of their own are, see [`ALIGNED_WIDTH`]; rows of other members
//! are exact zeros where terms are added), and autograd adds the gradient terms of a
//! vertex in the (fixed) order the forward pass created them.

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::network::{activate, DagWeights, LAYER_NORM_EPS};
use crate::model::space::{Activation, Aggregation, Norm, Space};

/// A number of values that fills whole vectors (and pairs of them, as libtorch's loops
/// take them) of every CPU instruction set libtorch uses, in float32 and float64.
const VECTOR_MULTIPLE: i64 = 64;

/// The rows (in dim 0) of one stacked tensor a member owns.
#[derive(Clone, Copy)]
struct Row {
    leaf: usize,
    row: i64,
}

/// One input term of a vertex: rows of a group's input product, added to members' rows.
struct SourceTerm {
    group: usize,
    rows: Tensor,
    members: Tensor,
}

/// An (edge, op) pair or a sink's output product over the members that have it.
struct Product {
    from: usize,
    leaf: usize,
    members: Tensor,
}

/// How vertex `j` is computed.
struct VertexPlan {
    sources: Vec<SourceTerm>,
    edges: Vec<Product>,
    /// Per member the number of terms (`[P, 1, 1]`), with mean aggregation.
    divisor: Option<Tensor>,
    bias: usize,
    layer_norm: Option<(usize, usize)>,
}

/// The stacked weights of a population and the plan of its forward pass.
pub(super) struct StackedNet {
    members: usize,
    width: i64,
    space: Space,
    /// The stacked tensors (plain storage; every step differentiates aliases of them).
    leaves: Vec<Tensor>,
    /// The shape of one member's row of each leaf (its tensor in [`DagWeights`]).
    row_shapes: Vec<Vec<i64>>,
    /// Per member, its rows in the order of [`DagWeights::tensors`].
    owners: Vec<Vec<Row>>,
    /// Per seed group, the leaf of its input weights `[n_g, F, D]`.
    inputs: Vec<usize>,
    vertices: Vec<VertexPlan>,
    heads: Vec<Product>,
    output_bias: usize,
}

/// Builds leaves while recording which member owns which row.
struct Builder {
    leaves: Vec<Tensor>,
    row_shapes: Vec<Vec<i64>>,
    owners: Vec<Vec<Row>>,
    kind: Kind,
    device: Device,
}

impl Builder {
    /// A zero leaf of `rows` rows of `shape`, returning its index.
    fn leaf(&mut self, rows: usize, shape: &[i64]) -> Result<usize> {
        let mut full = vec![rows as i64];
        full.extend_from_slice(shape);
        self.leaves.push(Tensor::f_zeros(full, (self.kind, self.device))?);
        self.row_shapes.push(shape.to_vec());
        Ok(self.leaves.len() - 1)
    }

    fn own(&mut self, member: usize, leaf: usize, row: usize) {
        self.owners[member].push(Row { leaf, row: row as i64 });
    }
}

fn index(values: &[usize], device: Device) -> Result<Tensor> {
    let v: Vec<i64> = values.iter().map(|&x| x as i64).collect();
    Ok(Tensor::f_from_slice(&v)?.f_to_device(device)?)
}

/// The widths whose members' slices of every stacked tensor start on a 64-byte boundary
/// in float32 (a multiple of 16 values), as a tensor of their own does: the matrix
/// products of libtorch's BLAS may round differently for differently aligned inputs
/// (observed: `[13, B] x [B, 10]` slices of a batched product at offsets that are not
/// multiples of 64 bytes), so only these widths are stacked.
pub(super) const ALIGNED_WIDTH: usize = 16;

impl StackedNet {
    /// Whether `space`'s members can be stacked: untyped, of a width that is a multiple
    /// of [`ALIGNED_WIDTH`].
    pub(super) fn covers(space: &Space) -> bool {
        !space.is_typed() && space.width() % ALIGNED_WIDTH == 0
    }

    /// The plan for `dags` (member `m` in seed group `groups[m]`, groups numbered from
    /// 0), with zero weights ([`StackedNet::set_member`] fills them).
    pub(super) fn new(space: &Space, dags: &[&Dag], groups: &[usize], kind: Kind, device: Device) -> Result<StackedNet> {
        if !StackedNet::covers(space) {
            return Err(Error::Internal("stacked population: typed spaces and unaligned widths train member by member".into()));
        }
        let (p, l) = (dags.len(), space.layers());
        let (f, d, c) = (space.features() as i64, space.width() as i64, space.classes() as i64);
        let mut b = Builder { leaves: Vec::new(), row_shapes: Vec::new(), owners: vec![Vec::new(); p], kind, device };
        let n_groups = groups.iter().max().map_or(0, |g| g + 1);
        // Input weights: per group, one row per (member, source), members in order.
        let mut input_rows: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n_groups];
        for (m, dag) in dags.iter().enumerate() {
            for j in dag.sources() {
                input_rows[groups[m]].push((m, j));
            }
        }
        let mut inputs = Vec::new();
        for rows in &input_rows {
            inputs.push(b.leaf(rows.len(), &[f, d])?);
        }
        // Owners in DagWeights order: inputs first.
        for (m, dag) in dags.iter().enumerate() {
            for j in dag.sources() {
                let g = groups[m];
                let row = input_rows[g].iter().position(|&r| r == (m, j)).expect("listed above");
                b.own(m, inputs[g], row);
            }
        }
        // Edges in the space's order of (j, i), members that have them.
        let mut edge_slots: Vec<((usize, usize), usize, Vec<usize>)> = Vec::new();
        for &(i, j) in space.edges() {
            let have: Vec<usize> = (0..p).filter(|&m| dags[m].edges().contains(&(i, j))).collect();
            if !have.is_empty() {
                let leaf = b.leaf(have.len(), &[d, d])?;
                edge_slots.push(((i, j), leaf, have));
            }
        }
        for (m, dag) in dags.iter().enumerate() {
            for e in dag.edges() {
                let (_, leaf, have) = edge_slots.iter().find(|(x, _, _)| x == e).expect("an edge of the space");
                b.own(m, *leaf, have.iter().position(|&x| x == m).expect("listed"));
            }
        }
        let bias: Vec<usize> = (0..l).map(|_| b.leaf(p, &[d])).collect::<Result<_>>()?;
        for m in 0..p {
            for &leaf in &bias {
                b.own(m, leaf, m);
            }
        }
        let layer_norm: Option<Vec<(usize, usize)>> = match space.norm() {
            Norm::None => None,
            Norm::Layernorm => Some((0..l).map(|_| Ok((b.leaf(p, &[d])?, b.leaf(p, &[d])?))).collect::<Result<_>>()?),
        };
        if let Some(ln) = &layer_norm {
            for m in 0..p {
                for &(g, bb) in ln {
                    b.own(m, g, m);
                    b.own(m, bb, m);
                }
            }
        }
        let mut heads = Vec::new();
        let mut head_members = Vec::new();
        for j in 0..l {
            let have: Vec<usize> = (0..p).filter(|&m| dags[m].is_sink(j)).collect();
            if !have.is_empty() {
                heads.push(Product { from: j, leaf: b.leaf(have.len(), &[d, c])?, members: index(&have, device)? });
                head_members.push(have);
            }
        }
        for (m, dag) in dags.iter().enumerate() {
            for j in dag.sinks() {
                let k = heads.iter().position(|h| h.from == j).expect("a sink has a head");
                b.own(m, heads[k].leaf, head_members[k].iter().position(|&x| x == m).expect("listed"));
            }
        }
        let output_bias = b.leaf(p, &[c])?;
        for m in 0..p {
            b.own(m, output_bias, m);
        }
        let mut vertices = Vec::new();
        for j in 0..l {
            let mut sources = Vec::new();
            for (g, rows) in input_rows.iter().enumerate() {
                let here: Vec<(usize, usize)> = rows.iter().enumerate().filter(|(_, r)| r.1 == j).map(|(k, r)| (k, r.0)).collect();
                if !here.is_empty() {
                    let rows: Vec<usize> = here.iter().map(|x| x.0).collect();
                    let members: Vec<usize> = here.iter().map(|x| x.1).collect();
                    sources.push(SourceTerm { group: g, rows: index(&rows, device)?, members: index(&members, device)? });
                }
            }
            let mut edges = Vec::new();
            for ((i, to), leaf, have) in &edge_slots {
                if *to == j {
                    edges.push(Product { from: *i, leaf: *leaf, members: index(have, device)? });
                }
            }
            let divisor = match space.aggregation() {
                Aggregation::Sum => None,
                Aggregation::Mean => {
                    let terms: Vec<f64> = dags.iter().map(|g| (g.in_edges(j).len() + g.is_source(j) as usize) as f64).collect();
                    Some(Tensor::f_from_slice(&terms)?.f_view([p as i64, 1, 1])?.f_to_kind(kind)?.f_to_device(device)?)
                }
            };
            vertices.push(VertexPlan { sources, edges, divisor, bias: bias[j], layer_norm: layer_norm.as_ref().map(|v| v[j]) });
        }
        Ok(StackedNet {
            members: p,
            width: d,
            space: space.clone(),
            leaves: b.leaves,
            row_shapes: b.row_shapes,
            owners: b.owners,
            inputs,
            vertices,
            heads,
            output_bias,
        })
    }

    /// The number of members.
    pub(super) fn members(&self) -> usize {
        self.members
    }

    /// Member `m`'s parameters: views of its rows, shaped and ordered as
    /// [`DagWeights::tensors`].
    pub(super) fn member_params(&self, m: usize) -> Result<Vec<Tensor>> {
        self.member_views(&self.leaves, m)
    }

    /// Member `m`'s rows of `tensors` (one per leaf, such as the leaves' gradients).
    pub(super) fn member_views(&self, tensors: &[Tensor], m: usize) -> Result<Vec<Tensor>> {
        self.owners[m]
            .iter()
            .map(|r| Ok(tensors[r.leaf].f_select(0, r.row)?.f_view(self.row_shapes[r.leaf].as_slice())?))
            .collect()
    }

    /// Writes member `m`'s weights (in the order of [`DagWeights::tensors`]).
    pub(super) fn set_member(&self, m: usize, weights: &DagWeights) -> Result<()> {
        let _guard = tch::no_grad_guard();
        let given = weights.tensors();
        let views = self.member_params(m)?;
        if given.len() != views.len() {
            return Err(Error::Input(format!("member {m}: {} weight tensors for a DAG that has {}", given.len(), views.len())));
        }
        for (k, (mut v, t)) in views.into_iter().zip(given).enumerate() {
            if v.size() != t.size() {
                return Err(Error::Input(format!("member {m}: weight tensor {k} has shape {:?}, expected {:?}", t.size(), v.size())));
            }
            v.f_copy_(&t)?;
        }
        Ok(())
    }

    /// Aliases of the leaves that require grad (the tensors a step differentiates).
    pub(super) fn grad_leaves(&self) -> Result<Vec<Tensor>> {
        self.leaves.iter().map(|t| Ok(t.f_detach()?.set_requires_grad(true))).collect()
    }

    /// Per member the mean cross-entropy (`[P]`) of the forward pass on `leaves`
    /// ([`StackedNet::grad_leaves`]), with `xs[g]: [B, F]` the normalised batch of seed
    /// group `g` and `ys: [P, B]` every member's labels.
    pub(super) fn losses(&self, leaves: &[Tensor], xs: &[Tensor], ys: &Tensor) -> Result<Tensor> {
        let logits = self.forward(leaves, xs)?;
        let (p, b, c) = (self.members as i64, ys.size()[1], self.space.classes() as i64);
        let ce = logits.f_view([p * b, c])?.f_cross_entropy_loss::<Tensor>(&ys.f_view([p * b])?, None, tch::Reduction::None, -100, 0.0)?;
        Ok(ce.f_view([p, b])?.f_mean_dim(1, false, None)?)
    }

    /// Logits `[P, B, C]`: every member's forward pass, as `forward_dag` computes it.
    fn forward(&self, leaves: &[Tensor], xs: &[Tensor]) -> Result<Tensor> {
        let (p, d) = (self.members as i64, self.width);
        let b = xs[0].size()[0];
        let f = self.space.features() as i64;
        let input_terms: Vec<Tensor> = self
            .inputs
            .iter()
            .zip(xs)
            .map(|(&leaf, x)| {
                let u = &leaves[leaf];
                Ok(x.f_unsqueeze(0)?.f_expand([u.size()[0], b, f], false)?.f_bmm(u)?)
            })
            .collect::<Result<_>>()?;
        let mut h: Vec<Tensor> = Vec::with_capacity(self.vertices.len());
        for v in &self.vertices {
            let mut pre = Tensor::f_zeros([p, b, d], (xs[0].kind(), xs[0].device()))?;
            for s in &v.sources {
                pre = pre.f_index_add(0, &s.members, &input_terms[s.group].f_index_select(0, &s.rows)?)?;
            }
            for e in &v.edges {
                let term = h[e.from].f_index_select(0, &e.members)?.f_bmm(&leaves[e.leaf])?;
                pre = pre.f_index_add(0, &e.members, &term)?;
            }
            if let Some(div) = &v.divisor {
                pre = pre.f_div(div)?;
            }
            pre = pre.f_add(&leaves[v.bias].f_unsqueeze(1)?)?;
            if let Some((g, beta)) = v.layer_norm {
                pre = pre.f_layer_norm([d], None::<&Tensor>, None::<&Tensor>, LAYER_NORM_EPS, false)?;
                pre = pre.f_mul(&leaves[g].f_unsqueeze(1)?)?.f_add(&leaves[beta].f_unsqueeze(1)?)?;
            }
            h.push(self.activate(&pre)?);
        }
        let c = self.space.classes() as i64;
        let mut logits = leaves[self.output_bias].f_unsqueeze(1)?.f_expand([p, b, c], false)?.f_contiguous()?;
        for head in &self.heads {
            let term = h[head.from].f_index_select(0, &head.members)?.f_bmm(&leaves[head.leaf])?;
            logits = logits.f_index_add(0, &head.members, &term)?;
        }
        Ok(logits)
    }

    /// The activation of `pre: [P, B, D]`. libtorch computes tanh, sigmoid and GELU
    /// (and GELU's gradient) with vector instructions, and the last elements of a
    /// tensor that do not fill a vector with scalar code, whose results may differ in
    /// the last bit; so when a member's `B D` values are not a whole number of vectors
    /// (of up to 64 values), each member's rows are activated on their own, as alone.
    fn activate(&self, pre: &Tensor) -> Result<Tensor> {
        let act = self.space.activation();
        let per_member = pre.size()[1] * self.width;
        if act == Activation::Relu || per_member % VECTOR_MULTIPLE == 0 || self.members == 1 {
            return activate(pre, act);
        }
        let rows = pre.f_split(1, 0)?.iter().map(|r| activate(r, act)).collect::<Result<Vec<_>>>()?;
        Ok(Tensor::f_cat(&rows, 0)?)
    }

    /// Member `m`'s weights as its own tensors (a detached copy).
    pub(super) fn member_weights(&self, m: usize, dag: &Dag) -> Result<DagWeights> {
        let tensors = self.member_params(m)?.iter().map(|t| Ok(t.f_detach_copy()?)).collect::<Result<Vec<_>>>()?;
        DagWeights::from_tensors(&self.space, dag, tensors)
    }
}
