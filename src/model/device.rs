//! Device and precision selection (`cpu`, `cuda`, `cuda:N`; float32 or float64).

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
}

impl Precision {
    /// The libtorch kind.
    pub fn kind(self) -> Kind {
        match self {
            Precision::Float32 => Kind::Float,
            Precision::Float64 => Kind::Double,
        }
    }
}
