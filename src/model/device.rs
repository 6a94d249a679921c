//! Device and precision selection (`cpu`, `cuda`, `cuda:N`; float32, float64, or
//! float32 tensors with TF32 matrix products on CUDA) and libtorch's process-wide
//! numerics (deterministic algorithms, TF32), which tch does not expose: they are set
//! through a small C++ shim (csrc/torch_context.cpp) compiled by build.rs.

use std::ffi::{c_char, c_int, CStr};

use serde::{Deserialize, Serialize};
use tch::{Device, Kind};

use crate::error::{Error, Result};

/// Parses a device name; `cuda` is refused with a clear message when unavailable.
pub fn parse_device(name: &str) -> Result<Device> {
    let cuda_index = match name {
        "cpu" => return Ok(Device::Cpu),
        "cuda" => 0,
        other => match other.strip_prefix("cuda:").and_then(|n| n.parse::<usize>().ok()) {
            Some(i) => i,
            None => {
                return Err(Error::config("device", format!("unknown device {name:?}: use cpu, cuda or cuda:N")))
            }
        },
    };
    if !cfg!(feature = "cuda") {
        return Err(Error::Device(format!(
            "{name}: this build of densenas has no CUDA support; rebuild with `make build CUDA=1`"
        )));
    }
    let count = tch::Cuda::device_count() as usize;
    if !tch::Cuda::is_available() || cuda_index >= count {
        return Err(Error::Device(format!("{name}: CUDA is not available ({count} CUDA devices visible)")));
    }
    Ok(Device::Cuda(cuda_index))
}

/// The floating-point precision of a session's tensors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats (the default).
    #[default]
    Float32,
    /// 64-bit floats (for gradient checks).
    Float64,
    /// 32-bit float tensors whose matrix products and convolutions run in TF32 on CUDA
    /// tensor cores (10-bit mantissa inputs, float32 accumulation); CUDA only.
    Tf32,
}

impl Precision {
    /// The libtorch kind of the tensors.
    pub fn kind(self) -> Kind {
        match self {
            Precision::Float32 | Precision::Tf32 => Kind::Float,
            Precision::Float64 => Kind::Double,
        }
    }
}

/// Refuses a precision the device does not have (`tf32` on the CPU).
pub fn check_precision(device: Device, precision: Precision) -> Result<()> {
    if precision == Precision::Tf32 && device == Device::Cpu {
        return Err(Error::config("precision", "tf32 is a CUDA tensor-core format: use float32 (or float64) on the CPU"));
    }
    Ok(())
}

extern "C" {
    fn densenas_torch_set_deterministic(on: c_int, err: *mut c_char, len: usize) -> c_int;
    fn densenas_torch_deterministic() -> c_int;
    fn densenas_torch_set_cuda_tf32(on: c_int, err: *mut c_char, len: usize) -> c_int;
    fn densenas_torch_cuda_tf32() -> c_int;
}

/// Runs a shim setter, turning its error text into an error.
fn shim(what: &str, call: impl FnOnce(*mut c_char, usize) -> c_int) -> Result<()> {
    let mut buf = [0 as c_char; 512];
    if call(buf.as_mut_ptr(), buf.len()) == 0 {
        return Ok(());
    }
    // SAFETY: the shim NUL-terminates what it writes within the buffer's length.
    let message = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
    Err(Error::Device(format!("{what}: {message}")))
}

/// The value CUBLAS_WORKSPACE_CONFIG takes for deterministic cuBLAS when it is unset.
pub const CUBLAS_WORKSPACE: &str = ":4096:8";

/// Sets libtorch's process-wide numerics for work on `device` in `precision`:
/// TF32 CUDA matrix products exactly when `precision` is `tf32` (refused on the CPU),
/// and deterministic algorithms (with cuDNN's deterministic mode, and for CUDA
/// `CUBLAS_WORKSPACE_CONFIG=:4096:8` when the environment does not set it) exactly when
/// `deterministic`. Every session and training applies its own settings when it
/// starts; they hold for the whole process until the next one does.
pub fn configure_numerics(device: Device, precision: Precision, deterministic: bool) -> Result<()> {
    check_precision(device, precision)?;
    if deterministic && device != Device::Cpu && std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
        // Read by libtorch when it allocates cuBLAS workspaces and checked before each
        // cuBLAS call in deterministic mode. Setting the environment races with other
        // threads reading it: a multi-threaded host sets it before starting.
        std::env::set_var("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE);
    }
    // SAFETY: the shim's functions catch every C++ exception and write at most `len`
    // bytes into the buffer they are given.
    shim("deterministic algorithms", |e, n| unsafe { densenas_torch_set_deterministic(c_int::from(deterministic), e, n) })?;
    shim("TF32", |e, n| unsafe { densenas_torch_set_cuda_tf32(c_int::from(precision == Precision::Tf32), e, n) })
}

/// Whether libtorch's deterministic algorithms are on in this process.
pub fn deterministic_algorithms() -> bool {
    // SAFETY: no arguments; the shim catches every exception.
    unsafe { densenas_torch_deterministic() == 1 }
}

/// Whether CUDA matrix products run in TF32 in this process.
pub fn cuda_tf32() -> bool {
    // SAFETY: as above.
    unsafe { densenas_torch_cuda_tf32() == 1 }
}
