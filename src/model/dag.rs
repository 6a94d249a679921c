//! A DAG over the space's hidden vertices (one building block's topology), the op each
//! edge carries in a typed space (docs/configuration.md, typed spaces), and the metrics
//! (docs/architecture.md) that the research questions correlate with accuracy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::ops::{self, Op};
use crate::model::space::Space;

/// A set of edges `(i, j)`, `i < j < layers`, kept sorted and free of duplicates, each
/// with the op it carries (`dense` in an untyped space).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "DagJson")]
pub struct Dag {
    layers: usize,
    edges: Vec<(usize, usize)>,
    /// Parallel to `edges`; left out of the JSON when every edge is dense.
    #[serde(skip_serializing_if = "all_dense")]
    ops: Vec<Op>,
}

fn all_dense(ops: &[Op]) -> bool {
    ops.iter().all(|&o| o == Op::Dense)
}

/// The JSON form of a DAG (`{"layers": L, "edges": [[i, j], ...], "ops": [...]}`, `ops`
/// optional), checked on the way in; other keys (metrics, accuracies in `best.json`)
/// are ignored.
#[derive(Deserialize)]
struct DagJson {
    layers: usize,
    edges: Vec<(usize, usize)>,
    #[serde(default)]
    ops: Option<Vec<Op>>,
}

impl TryFrom<DagJson> for Dag {
    type Error = Error;
    fn try_from(d: DagJson) -> Result<Dag> {
        match d.ops {
            Some(ops) => Dag::with_ops(d.layers, d.edges, ops),
            None => Dag::new(d.layers, d.edges),
        }
    }
}

/// The metrics of one DAG (docs/architecture.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DagMetrics {
    /// Number of edges.
    pub num_edges: usize,
    /// Vertices on the longest source-to-sink path.
    pub depth: usize,
    /// Vertices with no incoming edge (isolated ones included).
    pub num_sources: usize,
    /// Vertices with no outgoing edge (isolated ones included).
    pub num_sinks: usize,
    /// Mean of `j - i` over the edges (0 when there are none).
    pub mean_skip: f64,
    /// Number of source-to-sink paths (an isolated vertex is one path).
    pub num_paths: f64,
    /// Average local clustering coefficient of the undirected graph (vertices of
    /// degree below 2 count as 0, as networkx's `average_clustering` does).
    pub clustering: f64,
    /// Average shortest-path length over connected pairs of the undirected graph
    /// (0 when no pair is connected).
    pub avg_path_length: f64,
    /// Fraction of unordered vertex pairs that are not connected (0 for one vertex).
    pub disconnected_fraction: f64,
    /// Edges per op, for a DAG with any edge that is not dense (empty otherwise).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub op_counts: BTreeMap<String, usize>,
}

/// The metrics' names, in a fixed order (the fields of [`DagMetrics`]).
pub const METRIC_NAMES: [&str; 9] = [
    "num_edges",
    "depth",
    "num_sources",
    "num_sinks",
    "mean_skip",
    "num_paths",
    "clustering",
    "avg_path_length",
    "disconnected_fraction",
];

impl DagMetrics {
    /// The metric called `name` (one of [`METRIC_NAMES`], or `count_OP` for an op's
    /// edge count) as a number; NaN for an unknown name.
    pub fn get(&self, name: &str) -> f64 {
        if let Some(op) = name.strip_prefix("count_") {
            return match op.parse::<Op>() {
                Ok(_) => self.op_counts.get(op).copied().unwrap_or(0) as f64,
                Err(_) => f64::NAN,
            };
        }
        match name {
            "num_edges" => self.num_edges as f64,
            "depth" => self.depth as f64,
            "num_sources" => self.num_sources as f64,
            "num_sinks" => self.num_sinks as f64,
            "mean_skip" => self.mean_skip,
            "num_paths" => self.num_paths,
            "clustering" => self.clustering,
            "avg_path_length" => self.avg_path_length,
            "disconnected_fraction" => self.disconnected_fraction,
            _ => f64::NAN,
        }
    }
}

impl Dag {
    /// A DAG on `layers` vertices; edges are sorted and deduplicated, and each must
    /// satisfy `i < j < layers`.
    pub fn new(layers: usize, mut edges: Vec<(usize, usize)>) -> Result<Dag> {
        for &(i, j) in &edges {
            if i >= j || j >= layers {
                return Err(Error::Dag(format!(
                    "edge ({i}, {j}) is not a forward edge between vertices 0..{layers}"
                )));
            }
        }
        edges.sort_unstable();
        edges.dedup();
        let ops = vec![Op::Dense; edges.len()];
        Ok(Dag { layers, edges, ops })
    }

    /// A DAG whose edges carry the given ops (`ops` parallel to `edges`); an edge given
    /// twice must carry the same op.
    pub fn with_ops(layers: usize, edges: Vec<(usize, usize)>, ops: Vec<Op>) -> Result<Dag> {
        if edges.len() != ops.len() {
            return Err(Error::Dag(format!("{} edges but {} ops: `ops` must be parallel to `edges`", edges.len(), ops.len())));
        }
        Dag::new(layers, edges.clone())?;
        let mut pairs: Vec<((usize, usize), Op)> = edges.into_iter().zip(ops).collect();
        pairs.sort_unstable();
        pairs.dedup();
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::Dag(format!("edge {:?} is given with two ops ({} and {})", w[0].0, w[0].1, w[1].1)));
        }
        let (edges, ops) = pairs.into_iter().unzip();
        Ok(Dag { layers, edges, ops })
    }

    /// The chain `0 -> 1 -> ... -> L-1`: a plain MLP with `L` hidden layers.
    pub fn chain(layers: usize) -> Dag {
        Dag::chain_of(layers, Op::Dense)
    }

    /// The chain with every edge carrying `op` (`conv3x3`: the plain CNN).
    pub fn chain_of(layers: usize, op: Op) -> Dag {
        let edges: Vec<_> = (1..layers).map(|j| (j - 1, j)).collect();
        let ops = vec![op; edges.len()];
        Dag { layers, edges, ops }
    }

    /// Every allowed edge of `space`, carrying the space's first op.
    pub fn full(space: &Space) -> Dag {
        Dag::from_codes(space, &vec![1; space.num_edges()])
    }

    /// The DAG whose edges are the allowed edges of `space` selected by `mask` (each
    /// carrying the space's first op).
    pub fn from_mask(space: &Space, mask: &[bool]) -> Dag {
        let codes: Vec<u8> = mask.iter().map(|&m| m as u8).collect();
        Dag::from_codes(space, &codes)
    }

    /// The DAG of per-edge codes over the allowed edges of `space`: 0 absent, `c > 0`
    /// the edge with op `space.ops()[c - 1]` (as the density draws them).
    pub fn from_codes(space: &Space, codes: &[u8]) -> Dag {
        let mut pairs: Vec<((usize, usize), Op)> = space
            .edges()
            .iter()
            .zip(codes)
            .filter(|(_, &c)| c > 0)
            .map(|(&e, &c)| (e, space.ops()[c as usize - 1]))
            .collect();
        pairs.sort_unstable();
        let (edges, ops) = pairs.into_iter().unzip();
        Dag { layers: space.layers(), edges, ops }
    }

    /// The per-edge codes of this DAG in `space` (see [`Dag::from_codes`]); an error
    /// when an edge carries an op the space does not have.
    pub fn codes(&self, space: &Space) -> Result<Vec<u8>> {
        let mask = self.mask(space)?;
        let mut codes: Vec<u8> = mask.iter().map(|_| 0).collect();
        for (&(i, j), &op) in self.edges.iter().zip(&self.ops) {
            let c = space.op_index(op).ok_or_else(|| {
                Error::Dag(format!("edge ({i}, {j}) carries {op}, which is not among the space's ops ({})", op_list(space.ops())))
            })?;
            codes[space.edge_index(i, j).expect("checked by mask")] = c as u8 + 1;
        }
        Ok(codes)
    }

    /// This DAG as a DAG of `space`: a DAG written without ops (every edge dense) takes
    /// the op of a space that has exactly one; then its edges and ops are checked.
    pub fn for_space(&self, space: &Space) -> Result<Dag> {
        let mut dag = self.clone();
        if let [only] = space.ops() {
            if all_dense(&dag.ops) {
                dag.ops = vec![*only; dag.edges.len()];
            }
        }
        dag.codes(space)?;
        Ok(dag)
    }

    /// The 0/1 mask of this DAG over the allowed edges of `space`; an error when the
    /// DAG has another vertex count or an edge outside `A`.
    pub fn mask(&self, space: &Space) -> Result<Vec<bool>> {
        if self.layers != space.layers() {
            return Err(Error::Dag(format!(
                "the DAG has {} vertices but the space has {} layers",
                self.layers,
                space.layers()
            )));
        }
        let mut mask = vec![false; space.num_edges()];
        for &(i, j) in &self.edges {
            let e = space.edge_index(i, j).ok_or_else(|| {
                Error::Dag(format!(
                    "edge ({i}, {j}) skips {} layers, more than max_skip = {}",
                    j - i,
                    space.max_skip()
                ))
            })?;
            mask[e] = true;
        }
        Ok(mask)
    }

    /// Number of vertices.
    pub fn layers(&self) -> usize {
        self.layers
    }
    /// The edges, sorted.
    pub fn edges(&self) -> &[(usize, usize)] {
        &self.edges
    }
    /// The op of each edge, parallel to [`Dag::edges`].
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }
    /// True when some edge carries anything but the dense matrix.
    pub fn is_typed(&self) -> bool {
        !all_dense(&self.ops)
    }
    /// The edges into `j` with their ops, by ascending source.
    pub fn in_edges_typed(&self, j: usize) -> Vec<(usize, Op)> {
        self.edges.iter().zip(&self.ops).filter(|(e, _)| e.1 == j).map(|(e, &o)| (e.0, o)).collect()
    }
    /// The sources of the edges into `j`, ascending.
    pub fn in_edges(&self, j: usize) -> Vec<usize> {
        self.edges.iter().filter(|e| e.1 == j).map(|e| e.0).collect()
    }
    /// True when no edge enters `j`.
    pub fn is_source(&self, j: usize) -> bool {
        !self.edges.iter().any(|e| e.1 == j)
    }
    /// True when no edge leaves `j`.
    pub fn is_sink(&self, j: usize) -> bool {
        !self.edges.iter().any(|e| e.0 == j)
    }
    /// The source vertices, ascending.
    pub fn sources(&self) -> Vec<usize> {
        (0..self.layers).filter(|&j| self.is_source(j)).collect()
    }
    /// The sink vertices, ascending.
    pub fn sinks(&self) -> Vec<usize> {
        (0..self.layers).filter(|&j| self.is_sink(j)).collect()
    }

    /// Parameters of the network this DAG defines in `space`: the stem of each source
    /// (`U_j` or its kernel), each edge's op, `b_j` for every vertex, `V_j` for sinks,
    /// `c`, plus LayerNorm's scale and bias.
    pub fn params(&self, space: &Space) -> usize {
        let (f, d, c) = (space.features() as i64, space.width() as i64, space.classes() as i64);
        let (s, t) = (self.sources().len() as i64, self.sinks().len() as i64);
        let stem = match (space.stem_geometry(), space.shape()) {
            (Some(g), Some(m)) => g.input.c * g.kernel * g.kernel * m.c,
            _ => f * d,
        };
        let edges: i64 = self.ops.iter().map(|&o| ops::edge_params(o, space.shape(), d)).sum();
        let ln = if space.norm() == crate::model::space::Norm::Layernorm { 2 * self.layers as i64 * d } else { 0 };
        (s * stem + edges + self.layers as i64 * d + t * d * c + c + ln) as usize
    }

    /// Forward FLOPs per sample in `space` (2 per multiply-add: the sources' stems, the
    /// edges' ops, the sinks' `V_j`; for the dense space `2 (|sources| F D + |G| D^2 +
    /// |sinks| D C)`).
    pub fn flops(&self, space: &Space) -> usize {
        let (f, d, c) = (space.features() as i64, space.width() as i64, space.classes() as i64);
        let (s, t) = (self.sources().len() as i64, self.sinks().len() as i64);
        let stem = match (space.stem_geometry(), space.shape()) {
            (Some(g), Some(m)) => 2 * g.input.c * g.kernel * g.kernel * m.c * m.positions(),
            _ => 2 * f * d,
        };
        let edges: i64 = self.ops.iter().map(|&o| ops::edge_flops(o, space.shape(), d)).sum();
        (s * stem + edges + 2 * t * d * c) as usize
    }

    /// The metrics listed in docs/architecture.md.
    pub fn metrics(&self) -> DagMetrics {
        let l = self.layers;
        let preds: Vec<Vec<usize>> = (0..l).map(|j| self.in_edges(j)).collect();
        // Edges go forward, so vertex order is a topological order.
        let mut longest = vec![1usize; l];
        let mut paths = vec![0f64; l];
        for j in 0..l {
            if preds[j].is_empty() {
                paths[j] = 1.0;
            }
            for &i in &preds[j] {
                longest[j] = longest[j].max(longest[i] + 1);
                paths[j] += paths[i];
            }
        }
        let sinks = self.sinks();
        let depth = sinks.iter().map(|&j| longest[j]).max().unwrap_or(0);
        let num_paths = sinks.iter().map(|&j| paths[j]).sum();
        let mean_skip = if self.edges.is_empty() {
            0.0
        } else {
            self.edges.iter().map(|&(i, j)| (j - i) as f64).sum::<f64>() / self.edges.len() as f64
        };

        // Undirected view.
        let mut adj = vec![vec![false; l]; l];
        for &(i, j) in &self.edges {
            adj[i][j] = true;
            adj[j][i] = true;
        }
        let neighbours: Vec<Vec<usize>> =
            (0..l).map(|v| (0..l).filter(|&u| adj[v][u]).collect()).collect();
        let mut clustering_sum = 0.0;
        for v in 0..l {
            let n = &neighbours[v];
            if n.len() < 2 {
                continue;
            }
            let mut links = 0usize;
            for a in 0..n.len() {
                for b in a + 1..n.len() {
                    if adj[n[a]][n[b]] {
                        links += 1;
                    }
                }
            }
            clustering_sum += 2.0 * links as f64 / (n.len() * (n.len() - 1)) as f64;
        }
        let clustering = if l == 0 { 0.0 } else { clustering_sum / l as f64 };

        let (mut dist_sum, mut connected, mut pairs) = (0usize, 0usize, 0usize);
        for s in 0..l {
            // Breadth-first search from s.
            let mut dist = vec![usize::MAX; l];
            dist[s] = 0;
            let mut queue = std::collections::VecDeque::from([s]);
            while let Some(v) = queue.pop_front() {
                for &u in &neighbours[v] {
                    if dist[u] == usize::MAX {
                        dist[u] = dist[v] + 1;
                        queue.push_back(u);
                    }
                }
            }
            for t in s + 1..l {
                pairs += 1;
                if dist[t] != usize::MAX {
                    connected += 1;
                    dist_sum += dist[t];
                }
            }
        }
        DagMetrics {
            num_edges: self.edges.len(),
            depth,
            num_sources: self.sources().len(),
            num_sinks: sinks.len(),
            mean_skip,
            num_paths,
            clustering,
            avg_path_length: if connected == 0 { 0.0 } else { dist_sum as f64 / connected as f64 },
            disconnected_fraction: if pairs == 0 {
                0.0
            } else {
                (pairs - connected) as f64 / pairs as f64
            },
            op_counts: self.op_counts(),
        }
    }

    fn op_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        if self.is_typed() {
            for o in &self.ops {
                *counts.entry(o.name().to_string()).or_insert(0) += 1;
            }
        }
        counts
    }
}

fn op_list(ops: &[Op]) -> String {
    ops.iter().map(|o| o.name()).collect::<Vec<_>>().join(", ")
}
