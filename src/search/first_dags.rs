//! The first phase's blocks given rather than drawn (docs/architecture.md, the
//! proposal's first step): explicit edge lists, or generators (the chain, the full DAG,
//! random DAGs with a given edge count).

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::model::dag::Dag;
use crate::error::{Error, Result};
use crate::model::space::Space;

/// One block of the first phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DagSpec {
    /// Explicit edges `[[i, j], ...]`.
    Edges(Vec<(usize, usize)>),
    /// `"chain"` (the plain MLP) or `"full"` (every allowed edge).
    Named(String),
    /// `{"random": m}`: a DAG with `m` edges drawn uniformly from the space's allowed
    /// edges (distinct from the other random ones).
    Random {
        /// Its edge count.
        random: usize,
    },
}

/// The DAGs of `specs` in `space`, random ones drawn from `rng`. Explicit and named
/// DAGs are used exactly as given.
pub fn resolve<R: Rng>(specs: &[DagSpec], space: &Space, rng: &mut R) -> Result<Vec<Dag>> {
    if specs.len() != space.blocks() {
        return Err(Error::config(
            "first_dags",
            format!("{} DAGs given for a space of {} blocks", specs.len(), space.blocks()),
        ));
    }
    let mut drawn = HashSet::new();
    let mut out = Vec::with_capacity(specs.len());
    for (b, spec) in specs.iter().enumerate() {
        let dag = match spec {
            DagSpec::Edges(edges) => Dag::new(space.layers(), edges.clone())?,
            DagSpec::Named(name) if name == "chain" => Dag::chain(space.layers()),
            DagSpec::Named(name) if name == "full" => Dag::full(space),
            DagSpec::Named(other) => {
                return Err(Error::config(
                    format!("first_dags[{b}]"),
                    format!("unknown DAG {other:?}: use an edge list, \"chain\", \"full\" or {{\"random\": m}}"),
                ))
            }
            DagSpec::Random { random } => {
                let n = space.num_edges();
                if *random > n {
                    return Err(Error::config(
                        format!("first_dags[{b}].random"),
                        format!("{random} is out of range: allowed 0..={n}"),
                    ));
                }
                let mut attempts = 0;
                loop {
                    let mut idx: Vec<usize> = (0..n).collect();
                    idx.shuffle(rng);
                    let mut mask = vec![false; n];
                    idx[..*random].iter().for_each(|&e| mask[e] = true);
                    let dag = Dag::from_mask(space, &mask);
                    attempts += 1;
                    if drawn.insert(dag.clone()) || attempts > 1000 {
                        break dag;
                    }
                }
            }
        };
        dag.mask(space).map_err(|e| Error::config(format!("first_dags[{b}]"), e.to_string()))?;
        out.push(dag);
    }
    Ok(out)
}
