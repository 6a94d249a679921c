//! Named tensors with a JSON document beside them in one safetensors file (the format
//! of checkpoints and saved sessions). The tensors are stored as their exact bytes, so
//! a round trip is bit for bit; the document rides in the header's `__metadata__`
//! under the key `densenas`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::util::atomic::write_atomic;

/// The metadata key that holds the JSON document.
const DOCUMENT_KEY: &str = "densenas";

/// The tensors and the document of a tensor file.
pub struct TensorFile {
    /// The JSON document.
    pub document: serde_json::Value,
    /// The tensors by name (on the CPU).
    pub tensors: BTreeMap<String, Tensor>,
}

impl TensorFile {
    /// Takes the tensor `name`, or errors naming `what` was being read.
    pub fn take(&mut self, name: &str, what: &str) -> Result<Tensor> {
        self.tensors.remove(name).ok_or_else(|| Error::Input(format!("{what}: tensor {name:?} is missing")))
    }
}

fn dtype_of(kind: Kind) -> Result<Dtype> {
    Ok(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Int64 => Dtype::I64,
        other => return Err(Error::Internal(format!("tensor kind {other:?} cannot be stored"))),
    })
}

fn kind_of(dtype: Dtype) -> Option<Kind> {
    match dtype {
        Dtype::F32 => Some(Kind::Float),
        Dtype::F64 => Some(Kind::Double),
        Dtype::I64 => Some(Kind::Int64),
        _ => None,
    }
}

/// The bytes of a safetensors file holding `tensors` and `document`.
pub fn encode(tensors: &[(String, Tensor)], document: &serde_json::Value) -> Result<Vec<u8>> {
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let t = t.f_detach()?.f_to_device(Device::Cpu)?.f_contiguous()?;
        let dtype = dtype_of(t.kind())?;
        let numel = t.numel();
        let mut bytes = vec![0u8; numel * t.kind().elt_size_in_bytes()];
        t.f_copy_data_u8(&mut bytes, numel)?;
        let shape = t.size().iter().map(|&d| d as usize).collect();
        owned.push((name.clone(), dtype, shape, bytes));
    }
    let views = owned
        .iter()
        .map(|(name, dtype, shape, bytes)| Ok((name.as_str(), TensorView::new(*dtype, shape.clone(), bytes)?)))
        .collect::<std::result::Result<Vec<_>, safetensors::SafeTensorError>>()
        .map_err(|e| Error::Internal(format!("tensor file: {e}")))?;
    let metadata = HashMap::from([(DOCUMENT_KEY.to_string(), serde_json::to_string(document)?)]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| Error::Internal(format!("tensor file: {e}")))
}

/// Writes `tensors` and `document` to `path` atomically.
pub fn write(path: &Path, tensors: &[(String, Tensor)], document: &serde_json::Value) -> Result<()> {
    write_atomic(path, &encode(tensors, document)?)
}

/// Parses the bytes of a tensor file; `what` names it in errors (a truncated or
/// corrupted file is refused, never read past its end).
pub fn decode(bytes: &[u8], what: &str) -> Result<TensorFile> {
    let bad = |m: String| Error::Input(format!("{what}: {m}"));
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
    let text = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(DOCUMENT_KEY))
        .ok_or_else(|| bad("it carries no densenas document (not written by densenas)".into()))?;
    let document: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("its densenas document is not JSON ({e})")))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        let kind = kind_of(view.dtype()).ok_or_else(|| bad(format!("tensor {name:?} has the unsupported type {:?}", view.dtype())))?;
        let mut shape = Vec::with_capacity(view.shape().len());
        let mut numel: usize = 1;
        for &d in view.shape() {
            numel = numel.checked_mul(d).ok_or_else(|| bad(format!("tensor {name:?} has an impossible shape")))?;
            shape.push(i64::try_from(d).map_err(|_| bad(format!("tensor {name:?} has an impossible shape")))?);
        }
        if numel.checked_mul(kind.elt_size_in_bytes()) != Some(view.data().len()) {
            return Err(bad(format!("tensor {name:?}: its data does not match its shape")));
        }
        tensors.insert(name, Tensor::f_from_data_size(view.data(), &shape, kind)?);
    }
    Ok(TensorFile { document, tensors })
}

/// Reads the tensor file at `path`.
pub fn read(path: &Path) -> Result<TensorFile> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes, &path.display().to_string())
}
