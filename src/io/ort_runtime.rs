//! ONNX Runtime, loaded at run time (`ort` with `load-dynamic`): finding the library and
//! running exported models.
//!
//! The library is looked up, in order, at `ORT_DYLIB_PATH`, beside the running binary,
//! beside `libdensenas.so` (when densenas is used as a shared library), in the runtime
//! folder of an installed prefix (`<prefix>/lib/densenas/`, found from the binary in
//! `<prefix>/bin` or the library in `<prefix>/lib`), and last by its bare name through
//! the dynamic loader, which searches the RUNPATH of the binary or library (in the
//! checkout that holds the `.venv` of `scripts/setup.sh`), `LD_LIBRARY_PATH` and the
//! system's folders. No path is compiled in, so an installed copy never looks into the
//! checkout it was built in. Failure to find or load it is an error of one sentence
//! ([`Unavailable::reason`]) with the remedy that fits how densenas is used, never a
//! panic.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::Session as OrtSession;
use ort::value::Tensor as OrtTensor;

use crate::error::{Error, Result};

const LIBRARY_NAME: &str = "libonnxruntime.so";

/// The directory holding the shared object that contains this function (the binary,
/// or `libdensenas.so`).
fn own_object_dir() -> Option<PathBuf> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let addr = own_object_dir as *const libc::c_void;
    // SAFETY: dladdr only reads the loader's tables; `info` is a valid out-pointer.
    if unsafe { libc::dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the loader.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(name.to_string_lossy().into_owned());
    std::fs::canonicalize(path).ok()?.parent().map(Path::to_path_buf)
}

/// The runtime folder of an installed prefix, relative to the folder of an installed
/// binary (`bin/`) or library (`lib/`): where `make install` puts libtorch and ONNX
/// Runtime.
const INSTALLED_RUNTIME_DIRS: [&str; 2] = ["densenas", "../lib/densenas"];

/// The places looked at, in order. The last one is the bare library name, resolved by
/// the dynamic loader.
pub fn library_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        out.push(PathBuf::from(p));
    }
    let exe_dir = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf));
    let dirs: Vec<PathBuf> = exe_dir.into_iter().chain(own_object_dir()).collect();
    out.extend(dirs.iter().map(|d| d.join(LIBRARY_NAME)));
    for dir in &dirs {
        out.extend(INSTALLED_RUNTIME_DIRS.iter().map(|r| dir.join(r).join(LIBRARY_NAME)));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out.push(PathBuf::from(LIBRARY_NAME));
    out
}

/// Why ONNX Runtime is unavailable: the one library that was tried and failed to load,
/// if any (ORT_DYLIB_PATH when set, else the first candidate that exists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable {
    /// The library that failed to load and why, or `None` when none was found.
    pub failed: Option<(PathBuf, String)>,
    /// Whether the failed library was ORT_DYLIB_PATH's.
    pub explicit: bool,
    /// Whether densenas runs inside Python (its Python package), which finds ONNX
    /// Runtime in the `onnxruntime` package.
    pub python: bool,
}

impl Unavailable {
    /// One sentence: what failed and the remedy that fits how densenas is used: `pip
    /// install 'densenas[onnx]'` from Python, else setting ORT_DYLIB_PATH to ONNX
    /// Runtime 1.[`ort::MINOR_VERSION`] or newer (the C API version `ort` is built for).
    pub fn reason(&self) -> String {
        let version = format!("ONNX Runtime 1.{} or newer", ort::MINOR_VERSION);
        let what = match (&self.failed, self.explicit) {
            (None, _) if self.python => "ONNX Runtime is not installed".to_string(),
            (None, _) => "ONNX Runtime was not found".to_string(),
            (Some((path, why)), true) => {
                format!("ONNX Runtime could not be loaded from ORT_DYLIB_PATH={} ({why})", path.display())
            }
            (Some((path, why)), false) => format!("ONNX Runtime at {} could not be loaded ({why})", path.display()),
        };
        let remedy = match (self.python, &self.failed) {
            (true, None) => "install it with `pip install 'densenas[onnx]'`".to_string(),
            (true, Some(_)) => format!("install {version} with `pip install -U 'densenas[onnx]'` or point ORT_DYLIB_PATH at one"),
            (false, _) => format!("set ORT_DYLIB_PATH to the libonnxruntime.so of {version}"),
        };
        format!("{what}; {remedy}")
    }
}

/// Whether this process is a Python interpreter (densenas loaded by its Python
/// package): the interpreter's C API is among the process's global symbols.
fn hosted_by_python() -> bool {
    // SAFETY: dlsym only reads the loader's tables; the name is NUL-terminated.
    !unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"Py_IsInitialized".as_ptr()) }.is_null()
}

/// Why `path` failed to load, in a few words: no such file, or the first line of the
/// loader's message (a bare name is the dynamic loader's to resolve).
fn short_error(e: &ort::LoadDynamicError, path: &Path, bare: bool) -> String {
    if !bare && !path.exists() {
        return "no such file".to_string();
    }
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// Loads ONNX Runtime from the first candidate that exists (ORT_DYLIB_PATH, when set,
/// strictly), falling back to the dynamic loader's search by name.
fn load() -> std::result::Result<ort::environment::Environment, String> {
    let candidates = library_candidates();
    let explicit = std::env::var_os("ORT_DYLIB_PATH").is_some();
    let mut failed = None;
    for (i, path) in candidates.iter().enumerate() {
        // ORT_DYLIB_PATH, when set, is the only choice the user made: honour it strictly.
        // The bare name (the last candidate) is for the dynamic loader to resolve.
        let bare = i + 1 == candidates.len() && path.parent() == Some(Path::new(""));
        let chosen = explicit && i == 0;
        if !bare && !chosen && !path.exists() {
            continue;
        }
        match ort::init_from(path) {
            Ok(builder) => {
                return builder.with_name("densenas").build().map_err(|e| format!("ONNX Runtime: {e}"));
            }
            // The dynamic loader not finding the bare name is "not found"; a library it
            // found but cannot use (too old, say) is a failed library.
            Err(ort::LoadDynamicError::Dlopen { .. }) if bare => {}
            Err(e) => {
                failed.get_or_insert_with(|| (path.clone(), short_error(&e, path, bare)));
                if chosen {
                    break;
                }
            }
        }
    }
    Err(Unavailable { failed, explicit, python: hosted_by_python() }.reason())
}

fn environment() -> Result<&'static ort::environment::Environment> {
    static ENV: OnceLock<std::result::Result<ort::environment::Environment, String>> = OnceLock::new();
    ENV.get_or_init(load).as_ref().map_err(|e| Error::RuntimeMissing(e.clone()))
}

/// The path of the ONNX Runtime library in use, loading it if needed.
pub fn check_available() -> Result<()> {
    environment().map(|_| ())
}

/// An exported model loaded in ONNX Runtime.
pub struct OnnxModel {
    session: Mutex<OrtSession>,
    features: usize,
    classes: usize,
}

fn ort_err(path: &Path) -> impl Fn(ort::Error) -> Error + '_ {
    move |e| Error::data(path, format!("ONNX Runtime: {e}"))
}

impl OnnxModel {
    /// Loads `path` (checked to be an ONNX model first), on one intra-op thread.
    pub fn load(path: &Path) -> Result<OnnxModel> {
        let model = crate::io::export::onnx::read_model(path)?;
        let env = environment()?;
        let session = OrtSession::builder(env)
            .map_err(ort_err(path))?
            .with_intra_threads(1)
            .map_err(|e| Error::data(path, format!("ONNX Runtime: {e}")))?
            .commit_from_file(path)
            .map_err(ort_err(path))?;
        let dim = |vi: Option<&crate::io::export::proto::ValueInfoProto>| -> Option<usize> {
            let shape = vi?.r#type.as_ref()?.tensor_type.as_ref()?.shape.as_ref()?;
            match shape.dim.get(1)?.value.as_ref()? {
                crate::io::export::proto::DimensionValue::DimValue(v) if *v > 0 => Some(*v as usize),
                _ => None,
            }
        };
        let graph = model.graph.as_ref().expect("read_model checked the graph");
        let features = dim(graph.input.first())
            .ok_or_else(|| Error::data(path, "the model's input is not a [N, F] tensor with a fixed F"))?;
        let classes = dim(graph.output.first())
            .ok_or_else(|| Error::data(path, "the model's first output is not a [N, C] tensor with a fixed C"))?;
        Ok(OnnxModel { session: Mutex::new(session), features, classes })
    }

    /// Input width `F`.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Output width `C`.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Logits `[batch, C]` (row-major) for raw features `x: [batch, F]`.
    pub fn logits(&self, x: &[f32], batch: usize) -> Result<Vec<f32>> {
        if batch == 0 || batch.checked_mul(self.features) != Some(x.len()) {
            return Err(Error::Input(format!(
                "x has {} values, not batch * features = {batch} * {}",
                x.len(),
                self.features
            )));
        }
        let input = OrtTensor::from_array(([batch, self.features], x.to_vec()))
            .map_err(|e| Error::Input(format!("ONNX Runtime input: {e}")))?;
        let mut session = self.session.lock().map_err(|_| Error::Internal("ONNX Runtime session poisoned".into()))?;
        let outputs = session
            .run(ort::inputs!["input" => input])
            .map_err(|e| Error::Input(format!("ONNX Runtime run: {e}")))?;
        let (_, logits) = outputs["logits"]
            .try_extract_tensor::<f32>()
            .map_err(|e| Error::Input(format!("ONNX Runtime output: {e}")))?;
        Ok(logits.to_vec())
    }

    /// Logits for a whole dataset, in batches of `chunk` rows.
    pub fn logits_all(&self, x: &[f32], chunk: usize) -> Result<Vec<f32>> {
        let rows = x.len() / self.features.max(1);
        let mut out = Vec::with_capacity(rows * self.classes);
        for part in x.chunks(chunk.max(1) * self.features) {
            out.extend(self.logits(part, part.len() / self.features)?);
        }
        Ok(out)
    }
}
