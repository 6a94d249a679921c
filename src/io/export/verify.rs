//! Checking an exported model against the engine: run it through ONNX Runtime on the
//! test split and compare with the engine's own logits, held to a stated tolerance.
//!
//! The verdict is one of three, the same behind every door (CLI, C ABI, Python,
//! experiments): checked (the figures, within the tolerance), skipped (ONNX Runtime
//! cannot be loaded: the reason and its remedy; not a failure), or failed
//! ([`Error::Check`]: ONNX Runtime could not run the model, or a logit differs by more
//! than the tolerance).

use std::path::Path;

use tch::{Kind, Tensor};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::io::classification::ClassificationReport;
use crate::io::ort_runtime::OnnxModel;
use crate::model::network::Network;
pub use crate::search::summary::{OnnxCheck, OnnxSummary};

/// Rows per ONNX Runtime call.
const CHUNK: usize = 1024;

/// The tolerance of a network computed on the CPU: ONNX Runtime's logits may differ
/// from the engine's by at most this times the largest absolute engine logit (at least
/// 1), enough for float32 sums taken in another order, far below any real mistake.
pub const TOLERANCE_CPU: f64 = 1e-3;
/// The tolerance of a network computed on CUDA (whose matrix products may use TF32).
pub const TOLERANCE_CUDA: f64 = 1e-2;
/// The environment variable that replaces the tolerance (a number >= 0; 0 asks for
/// the same logits to the bit).
pub const TOLERANCE_VARIABLE: &str = "DENSENAS_ONNX_TOLERANCE";

/// The tolerance in force: [`TOLERANCE_VARIABLE`] when set, else the default of the
/// device the network computes on.
pub fn tolerance(cuda: bool) -> Result<f64> {
    match std::env::var(TOLERANCE_VARIABLE) {
        Err(std::env::VarError::NotPresent) => Ok(if cuda { TOLERANCE_CUDA } else { TOLERANCE_CPU }),
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
            _ => Err(Error::config(TOLERANCE_VARIABLE, format!("{text:?} is not a number >= 0"))),
        },
        Err(e) => Err(Error::config(TOLERANCE_VARIABLE, e.to_string())),
    }
}

/// The largest absolute logit difference accepted between the engine's `engine`
/// logits and ONNX Runtime's: `tolerance * max(1, max |engine|)`.
pub fn max_abs_diff_allowed(engine: &[f32], tolerance: f64) -> f64 {
    tolerance * engine.iter().fold(1.0f64, |m, v| m.max(v.abs() as f64))
}

/// The verdict on the model at `model_path` (exported from `network`, named
/// `relative_path` in the summary): checked or skipped as an `Ok`, a failed check as
/// [`Error::Check`]. Errors of the engine's own computation are returned as they are.
pub fn check(network: &Network, model_path: &Path, relative_path: &str, test: &Dataset) -> Result<OnnxCheck> {
    match verify(network, model_path, relative_path, test) {
        Ok(summary) => Ok(OnnxCheck::Checked(summary)),
        Err(Error::RuntimeMissing(reason)) => Ok(OnnxCheck::Skipped { path: relative_path.into(), skipped: reason }),
        Err(e) => Err(e),
    }
}

/// Runs the model at `model_path` (exported from `network`) and the engine on `test`,
/// and holds the difference of their logits to the tolerance. A missing ONNX Runtime
/// is [`Error::RuntimeMissing`]; a model ONNX Runtime cannot run, or logits out of
/// tolerance, [`Error::Check`].
pub fn verify(network: &Network, model_path: &Path, relative_path: &str, test: &Dataset) -> Result<OnnxSummary> {
    let failed = |message: String| Error::Check { path: model_path.to_path_buf(), message };
    let tolerance = tolerance(network.weights.output_bias.device().is_cuda())?;
    let ort = OnnxModel::load(model_path).and_then(|m| m.logits_all(&test.x, CHUNK)).map_err(|e| match e {
        Error::RuntimeMissing(_) => e,
        other => failed(other.to_string()),
    })?;
    let classes = network.space.classes();
    let engine = engine_logits(network, test)?;
    if engine.len() != ort.len() {
        return Err(failed(format!("ONNX Runtime gave {} logits, the engine {}", ort.len(), engine.len())));
    }
    let report = ClassificationReport::from_logits(&ort, &test.y, classes)?;
    let max_abs_diff = engine.iter().zip(&ort).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
    let allowed = max_abs_diff_allowed(&engine, tolerance);
    if !(max_abs_diff <= allowed) {
        return Err(failed(format!(
            "its logits differ from the engine's by up to {max_abs_diff:.3e}, more than the {allowed:.3e} allowed \
             ({tolerance:e} of the largest logit, at least 1)"
        )));
    }
    let prediction_mismatches = engine
        .chunks(classes)
        .zip(ort.chunks(classes))
        .filter(|(a, b)| crate::io::classification::argmax(a) != crate::io::classification::argmax(b))
        .count();
    Ok(OnnxSummary {
        path: relative_path.to_string(),
        test_accuracy: report.accuracy,
        max_abs_diff,
        max_abs_diff_allowed: Some(allowed),
        prediction_mismatches,
    })
}

/// The engine's logits of `test`, row-major `[n, C]` as float32.
fn engine_logits(network: &Network, test: &Dataset) -> Result<Vec<f32>> {
    let mut engine = Vec::with_capacity(test.x.len() / test.features.max(1) * network.space.classes());
    let _guard = tch::no_grad_guard();
    let f = test.features;
    let kind = network.weights.output_bias.kind();
    for part in test.x.chunks(CHUNK * f) {
        let x = Tensor::f_from_slice(part)?.f_view([(part.len() / f) as i64, f as i64])?;
        let logits = network.forward(&x.f_to_kind(kind)?)?.f_to_kind(Kind::Float)?.f_contiguous()?.f_view([-1])?;
        engine.extend(Vec::<f32>::try_from(&logits)?);
    }
    Ok(engine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowed_difference_scales_with_the_largest_logit_but_never_below_the_tolerance() {
        assert_eq!(max_abs_diff_allowed(&[0.1, -0.5], 1e-3), 1e-3);
        assert_eq!(max_abs_diff_allowed(&[3.0, -40.0, 2.0], 1e-3), 40.0 * 1e-3);
        assert_eq!(max_abs_diff_allowed(&[], 1e-2), 1e-2);
    }
}
