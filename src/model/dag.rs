//! A DAG over the space's hidden vertices (one building block's topology) and the
//! metrics of DESIGN.md section 4 that the research questions correlate with accuracy.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::space::Space;

/// A set of edges `(i, j)`, `i < j < layers`, kept sorted and free of duplicates.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "DagJson")]
pub struct Dag {
    layers: usize,
    edges: Vec<(usize, usize)>,
}

/// The JSON form of a DAG (`{"layers": L, "edges": [[i, j], ...]}`), checked on the way
/// in; other keys (metrics, accuracies in `best.json`) are ignored.
#[derive(Deserialize)]
struct DagJson {
    layers: usize,
    edges: Vec<(usize, usize)>,
}

impl TryFrom<DagJson> for Dag {
    type Error = Error;
    fn try_from(d: DagJson) -> Result<Dag> {
        Dag::new(d.layers, d.edges)
    }
}

/// The metrics of one DAG (DESIGN.md section 4).
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
    /// The metric called `name` (one of [`METRIC_NAMES`]) as a number; NaN for an
    /// unknown name.
    pub fn get(&self, name: &str) -> f64 {
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
        Ok(Dag { layers, edges })
    }

    /// The chain `0 -> 1 -> ... -> L-1`: a plain MLP with `L` hidden layers.
    pub fn chain(layers: usize) -> Dag {
        Dag { layers, edges: (1..layers).map(|j| (j - 1, j)).collect() }
    }

    /// Every allowed edge of `space`.
    pub fn full(space: &Space) -> Dag {
        Dag::from_mask(space, &vec![true; space.num_edges()])
    }

    /// The DAG whose edges are the allowed edges of `space` selected by `mask`.
    pub fn from_mask(space: &Space, mask: &[bool]) -> Dag {
        let edges = space.edges().iter().zip(mask).filter(|(_, &m)| m).map(|(&e, _)| e).collect();
        Dag::new(space.layers(), edges).expect("allowed edges are forward edges")
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

    /// Parameters of the network this DAG defines in a space of `features` inputs,
    /// `width` units and `classes` outputs: `U_j` for sources, `W_ij` per edge, `b_j`
    /// for every vertex, `V_j` for sinks, `c`, plus LayerNorm's scale and bias.
    pub fn params(&self, features: usize, width: usize, classes: usize, layer_norm: bool) -> usize {
        let (s, t) = (self.sources().len(), self.sinks().len());
        s * features * width
            + self.edges.len() * width * width
            + self.layers * width
            + t * width * classes
            + classes
            + if layer_norm { 2 * self.layers * width } else { 0 }
    }

    /// Forward FLOPs per sample (2 per multiply-add of the matrix products:
    /// `2 (|sources| F D + |G| D^2 + |sinks| D C)`).
    pub fn flops(&self, features: usize, width: usize, classes: usize) -> usize {
        let (s, t) = (self.sources().len(), self.sinks().len());
        2 * (s * features * width + self.edges.len() * width * width + t * width * classes)
    }

    /// The metrics of DESIGN.md section 4.
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
        }
    }
}
