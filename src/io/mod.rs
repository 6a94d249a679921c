//! The input/output layer above the search: the run folder a search writes (and a
//! search that lives in one, with checkpoints and resumption), the folder of one
//! trained network (`densenas train --out`), ONNX [`export`] and its check in ONNX
//! Runtime, SVG [`plot`]s, and classification figures of an exported model.

pub mod classification;
pub mod export;
pub mod folder_search;
pub(crate) mod network_file;
pub mod ort_runtime;
pub(crate) mod plot;
pub mod run_folder;
pub mod trained_folder;
