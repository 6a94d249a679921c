//! A trained network in one file (`best.network` in a run folder whose `best.onnx`
//! failed its ONNX Runtime check): the space, the DAG, the input normalisation and the
//! weights, bit for bit, so that the check can be run again later without searching
//! again.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::network::{DagWeights, Network, Normalization};
use crate::model::space::{Space, SpaceConfig};
use crate::util::tensor_file;

/// The file's name in a run folder.
pub const NETWORK_FILE: &str = "best.network";

const FORMAT: &str = "densenas-network";

#[derive(Serialize, Deserialize)]
struct Document {
    format: String,
    space: SpaceConfig,
    dag: Dag,
    normalization: Normalization,
}

/// Writes `network` to `path` (atomically).
pub fn write(path: &Path, network: &Network) -> Result<()> {
    let document = Document {
        format: FORMAT.into(),
        space: network.space.config(),
        dag: network.dag.clone(),
        normalization: network.normalization.clone(),
    };
    let tensors: Vec<(String, tch::Tensor)> =
        network.weights.tensors().into_iter().enumerate().map(|(i, t)| (format!("weights.{i}"), t)).collect();
    tensor_file::write(path, &tensors, &serde_json::to_value(&document)?)
}

/// Reads the network written to `path` by [`write`], on the CPU; a file of another
/// format, or one whose parts do not fit together, is an error naming the file.
pub fn read(path: &Path) -> Result<Network> {
    let mut file = tensor_file::read(path)?;
    let bad = |m: String| Error::data(path, m);
    let document: Document = serde_json::from_value(file.document.clone()).map_err(|e| bad(format!("not a saved network ({e})")))?;
    if document.format != FORMAT {
        return Err(bad(format!("not a saved network (format {:?})", document.format)));
    }
    let space = Space::new(document.space)?;
    let count = file.tensors.len();
    let tensors = (0..count).map(|i| file.take(&format!("weights.{i}"), "saved network")).collect::<Result<Vec<_>>>()?;
    let weights = DagWeights::from_tensors(&space, &document.dag, tensors).map_err(|e| bad(e.to_string()))?;
    Ok(Network { space, dag: document.dag, normalization: document.normalization, weights })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_network_reads_back_bit_for_bit_and_a_foreign_file_is_refused() {
        let space = Space::new(SpaceConfig::new(5, 3, 3, 4)).unwrap();
        let dag = Dag::chain(3);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let weights = DagWeights::init(&space, &dag, tch::Kind::Float, tch::Device::Cpu, &mut rng).unwrap();
        let normalization = Normalization { mean: vec![0.5; 5], std: vec![2.0; 5] };
        let network = Network { space, dag, normalization, weights };
        let dir = std::env::temp_dir().join(format!("densenas-network-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(NETWORK_FILE);
        write(&path, &network).unwrap();
        let back = read(&path).unwrap();
        assert_eq!((back.space.config(), &back.dag, &back.normalization), (network.space.config(), &network.dag, &network.normalization));
        let x = tch::Tensor::from_slice(&[0.1f32, -2.0, 3.0, 0.0, 1.5]).view([1, 5]);
        assert!(back.forward(&x).unwrap().equal(&network.forward(&x).unwrap()));
        let other = dir.join("other");
        tensor_file::write(&other, &[], &serde_json::json!({"format": "something else"})).unwrap();
        let e = read(&other).err().expect("a foreign file is refused").to_string();
        assert!(e.contains("not a saved network") && e.contains("other"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
