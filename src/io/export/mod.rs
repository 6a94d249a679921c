//! Exporting found networks so that they run anywhere (DESIGN.md section 6).

pub mod onnx;
pub mod proto;
pub mod verify;
