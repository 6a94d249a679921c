//! Checking an exported model against the engine: run it through ONNX Runtime on the
//! test split and compare with the engine's own logits.

use std::path::Path;

use tch::{Kind, Tensor};

use crate::data::Dataset;
use crate::error::Result;
use crate::model::network::Network;
use crate::io::ort_runtime::OnnxModel;
use crate::io::classification::ClassificationReport;
pub use crate::search::summary::OnnxSummary;

/// Rows per ONNX Runtime call.
const CHUNK: usize = 1024;

/// Runs the model at `model_path` (exported from `network`) and the engine on `test`.
pub fn verify(network: &Network, model_path: &Path, relative_path: &str, test: &Dataset) -> Result<OnnxSummary> {
    let model = OnnxModel::load(model_path)?;
    let ort = model.logits_all(&test.x, CHUNK)?;
    let classes = network.space.classes();
    let report = ClassificationReport::from_logits(&ort, &test.y, classes)?;
    let mut engine = Vec::with_capacity(ort.len());
    let _guard = tch::no_grad_guard();
    let f = test.features;
    let kind = network.weights.output_bias.kind();
    for part in test.x.chunks(CHUNK * f) {
        let x = Tensor::f_from_slice(part)?.f_view([(part.len() / f) as i64, f as i64])?;
        let logits = network.forward(&x.f_to_kind(kind)?)?.f_to_kind(Kind::Float)?.f_contiguous()?.f_view([-1])?;
        engine.extend(Vec::<f32>::try_from(&logits)?);
    }
    let max_abs_diff = engine.iter().zip(&ort).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
    let prediction_mismatches = engine
        .chunks(classes)
        .zip(ort.chunks(classes))
        .filter(|(a, b)| crate::io::classification::argmax(a) != crate::io::classification::argmax(b))
        .count();
    Ok(OnnxSummary {
        path: relative_path.to_string(),
        test_accuracy: report.accuracy,
        max_abs_diff,
        prediction_mismatches,
    })
}
