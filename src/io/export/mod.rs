//! Exporting found networks so that they run anywhere (the README's ONNX export).

pub mod onnx;
pub(crate) mod proto;
pub mod verify;
