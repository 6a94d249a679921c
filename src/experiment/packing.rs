//! Packing standalone units into populations (docs/experiments.md): the local
//! executor hands a worker several queued standalone units at once when they differ
//! only in their DAG and seed (the same dataset, subsample, space, budget, device and
//! precision), and the worker trains them as one population
//! ([`crate::train::train_standalone`]). On the CPU a member's result does not depend on
//! its company, so each is still recorded as its own unit, and a packed run's results
//! equal those of units run one at a time. On CUDA stacked members differ from their
//! runs alone in the last bits (measured on an H200; most likely cuBLAS's choice of
//! kernels by the batch of products), so
//! units that ask for deterministic algorithms are not packed by default there: their
//! results stay those of the unit alone, whatever ran before a resume.

use std::collections::VecDeque;

use serde_json::Value;

use super::unit::UnitSpec;
use crate::model::device::Precision;

/// The memory one population may hold (estimated, [`member_bytes`]): the default cap
/// on its size is this over one member's estimate.
pub const POPULATION_MEMORY_BYTES: usize = 1 << 30;

/// The largest population the default cap gives (larger ones gain little).
pub const MAX_POPULATION: usize = 64;

/// What standalone units must share to train as one population: their definition
/// without the DAG and seed (`None` for a search).
pub fn population_key(spec: &UnitSpec) -> Option<Value> {
    let UnitSpec::Standalone { .. } = spec else { return None };
    let mut v = serde_json::to_value(spec).ok()?;
    let m = v.as_object_mut()?;
    m.remove("dag");
    m.remove("seed");
    Some(v)
}

/// An estimate of one member's memory in bytes: its weights with their gradients,
/// optimiser state and update (4 copies of every edge a DAG of the space may have, and
/// of an input layer of up to 3,072 features), and 4 copies of its activations (every
/// vertex of a batch); MLP-sized, which typed spaces' maps roughly match.
pub fn member_bytes(spec: &UnitSpec) -> usize {
    let UnitSpec::Standalone { shape, train, precision, .. } = spec else { return POPULATION_MEMORY_BYTES };
    let (l, d, b) = (shape.layers, shape.width, train.batch_size);
    let scalar = if *precision == Precision::Float64 { 8 } else { 4 };
    let params = l * (l + 1) / 2 * d * d + 3072 * d;
    let activations = b * (l + 1) * d;
    scalar * 4 * (params + activations)
}

/// The default cap on a population of units like `spec`: as many members as
/// [`POPULATION_MEMORY_BYTES`] holds by [`member_bytes`], 1 to [`MAX_POPULATION`];
/// 1 for deterministic units on a GPU, where company changes a member's last bits.
pub fn default_cap(spec: &UnitSpec) -> usize {
    if let UnitSpec::Standalone { device, deterministic: true, .. } = spec {
        if device != "cpu" {
            return 1;
        }
    }
    (POPULATION_MEMORY_BYTES / member_bytes(spec).max(1)).clamp(1, MAX_POPULATION)
}

/// The units waiting to run, in order, with the keys they pack by.
#[derive(Default)]
pub struct UnitQueue {
    units: VecDeque<(String, Option<Value>, usize)>,
}

impl UnitQueue {
    /// Queues unit `id` defined by `spec`.
    pub fn push(&mut self, id: String, spec: &UnitSpec) {
        self.units.push_back((id, population_key(spec), default_cap(spec)));
    }

    /// Queues unit `id` defined by `spec` before every waiting unit (a stage-2 unit:
    /// it completes its group's comparisons before later groups start).
    pub fn push_front(&mut self, id: String, spec: &UnitSpec) {
        self.units.push_front((id, population_key(spec), default_cap(spec)));
    }

    /// Units waiting.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Whether none is waiting.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Drops every waiting unit.
    pub fn clear(&mut self) {
        self.units.clear();
    }

    /// The next units to run together: the first waiting one, and when it is
    /// standalone the next waiting ones with its key, up to `size` in all (its default
    /// cap when `None`), in queue order.
    pub fn next_population(&mut self, size: Option<usize>) -> Vec<String> {
        let Some((id, key, cap)) = self.units.pop_front() else { return Vec::new() };
        let mut ids = vec![id];
        let Some(key) = key else { return ids };
        let cap = size.unwrap_or(cap).max(1);
        let mut i = 0;
        while ids.len() < cap && i < self.units.len() {
            if self.units[i].1.as_ref() == Some(&key) {
                let (id, _, _) = self.units.remove(i).expect("in range");
                ids.push(id);
            } else {
                i += 1;
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::unit::NetworkShape;
    use crate::model::dag::Dag;
    use crate::model::space::{Activation, Aggregation, Norm};
    use crate::train::TrainConfig;

    fn unit(width: usize, seed: u64, edges: Vec<(usize, usize)>) -> UnitSpec {
        let shape = NetworkShape {
            layers: 3,
            width,
            activation: Activation::Relu,
            aggregation: Aggregation::Sum,
            norm: Norm::None,
            ops: crate::model::space::default_ops(),
            shape: None,
            input_shape: None,
            stem: Default::default(),
        };
        UnitSpec::Standalone {
            data: "digits".into(),
            train_subsample: None,
            shape,
            dag: Dag::new(3, edges).unwrap(),
            train: TrainConfig::default(),
            seed,
            device: "cpu".into(),
            precision: Precision::Float32,
            deterministic: false,
        }
    }

    #[test]
    fn units_pack_by_everything_but_dag_and_seed_up_to_the_cap() {
        let mut q = UnitQueue::default();
        for (i, (width, seed)) in [(16, 0), (32, 0), (16, 1), (16, 2), (32, 1), (16, 3)].into_iter().enumerate() {
            q.push(format!("u{i}"), &unit(width, seed, vec![(0, 1)]));
        }
        assert_eq!(q.next_population(Some(3)), ["u0", "u2", "u3"]);
        assert_eq!(q.next_population(Some(3)), ["u1", "u4"]);
        assert_eq!(q.next_population(Some(3)), ["u5"]);
        assert!(q.is_empty() && q.next_population(None).is_empty());
        q.push("a".into(), &unit(16, 0, vec![]));
        q.push("b".into(), &unit(16, 0, vec![(1, 2)]));
        assert_eq!(q.next_population(Some(1)), ["a"], "1: one at a time");
        assert_eq!(q.len(), 1);
        // A stage-2 unit goes first, and packs with the waiting units like it.
        q.push("c".into(), &unit(32, 0, vec![]));
        q.push_front("d".into(), &unit(16, 1, vec![]));
        assert_eq!(q.next_population(None), ["d", "b"]);
        assert_eq!(q.next_population(None), ["c"]);
    }

    #[test]
    fn the_default_cap_follows_the_memory_estimate() {
        // L = 3, D = 16, batch 64: 4 bytes x 4 x (6 x 256 + 3072 x 16 + 64 x 4 x 16) per member.
        let small = unit(16, 0, vec![]);
        assert_eq!(member_bytes(&small), 16 * (6 * 256 + 3072 * 16 + 64 * 4 * 16));
        assert_eq!(default_cap(&small), MAX_POPULATION);
        // D = 4096: 16 x (6 x 4096^2 + 3072 x 4096 + 64 x 4 x 4096) bytes, about 1.8 GB: alone.
        assert_eq!(default_cap(&unit(4096, 0, vec![])), 1);
        // D = 512: 16 x (6 x 512^2 + 3072 x 512 + 64 x 4 x 512) = 52,428,800 bytes each, 20 to a GiB.
        let mid = unit(512, 0, vec![]);
        assert_eq!(default_cap(&mid), POPULATION_MEMORY_BYTES / member_bytes(&mid));
        assert_eq!((member_bytes(&mid), default_cap(&mid)), (52_428_800, 20));
    }

    /// [`unit`] of width 16 on `device`, deterministic or not.
    fn unit_on(device: &str, deterministic: bool, seed: u64) -> UnitSpec {
        let mut spec = unit(16, seed, vec![]);
        if let UnitSpec::Standalone { device: d, deterministic: det, .. } = &mut spec {
            (*d, *det) = (device.to_string(), deterministic);
        }
        spec
    }

    #[test]
    fn deterministic_units_on_a_gpu_are_not_packed_by_default() {
        assert_eq!(default_cap(&unit_on("cuda", true, 0)), 1);
        assert_eq!(default_cap(&unit_on("cuda:1", true, 0)), 1);
        assert_eq!(default_cap(&unit_on("cuda", false, 0)), MAX_POPULATION, "not reproducible bit for bit anyway");
        assert_eq!(default_cap(&unit_on("cpu", true, 0)), MAX_POPULATION, "the CPU keeps company independence");
        // An explicit size still packs them.
        let mut q = UnitQueue::default();
        for seed in 0..3 {
            q.push(format!("u{seed}"), &unit_on("cuda", true, seed));
        }
        assert_eq!(q.next_population(None), ["u0"]);
        assert_eq!(q.next_population(Some(2)), ["u1", "u2"]);
    }
}
