//! The data folder (docs/data.md): one folder holding every dataset known by name, a
//! subfolder each (`mnist/`, `cifar10/`, ...). It is `$DENSENAS_DATA` when set; else,
//! for a program or library running from a densenas checkout, the checkout's
//! `datasets/`; else the user's data folder (`$XDG_DATA_HOME/densenas/datasets`,
//! `~/.local/share/densenas/datasets`). No path is compiled in: the checkout is found
//! from where the running code lies.
//!
//! Before a dataset's files are read for the first time they are checked against the
//! registry's sizes and SHA-256 digests; a `.verified` file records what was checked
//! (names, sizes, modification times), so later loads only compare those.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::registry::{self, KnownDataset, Layout};
use crate::error::{Error, Result};

/// The environment variable that names the data folder.
pub const DATA_ENV: &str = "DENSENAS_DATA";
/// The file in a dataset's folder that records its checked files.
const VERIFIED: &str = ".verified";

/// The data folder and how it was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataFolder {
    /// The folder (it may not exist yet).
    pub path: PathBuf,
    /// How it was chosen, for messages: `$DENSENAS_DATA`, `the checkout's datasets/` or
    /// `the user data folder`.
    pub chosen_by: &'static str,
}

impl DataFolder {
    /// The data folder of this process (see the module's documentation).
    pub fn locate() -> DataFolder {
        if let Some(p) = std::env::var_os(DATA_ENV).filter(|p| !p.is_empty()) {
            return DataFolder { path: PathBuf::from(p), chosen_by: "$DENSENAS_DATA" };
        }
        if let Some(checkout) = code_location().and_then(|p| checkout_above(&p)) {
            return DataFolder { path: checkout.join("datasets"), chosen_by: "the checkout's datasets/" };
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        DataFolder { path: base.join("densenas").join("datasets"), chosen_by: "the user data folder" }
    }

    /// The folder of the dataset `name`.
    pub fn dataset_dir(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// What the folder holds of `dataset`.
    pub fn status(&self, dataset: &KnownDataset) -> Status {
        let dir = self.dataset_dir(dataset.name);
        let required = dataset.required_files();
        let present = required.iter().filter(|f| dir.join(f).is_file()).count();
        match present {
            0 => Status::Missing,
            n if n == required.len() => Status::Present,
            _ => Status::Partial,
        }
    }

    /// The loader spec of the known dataset `name`, after checking that its folder is
    /// complete and its files are the published ones; an absent dataset is an error
    /// that says how to get it.
    pub fn resolve(&self, dataset: &KnownDataset) -> Result<String> {
        let dir = self.dataset_dir(dataset.name);
        if self.status(dataset) != Status::Present {
            return Err(Error::Input(missing_message(dataset, self)));
        }
        verify_once(dataset, &dir)?;
        Ok(dataset.spec(&dir))
    }
}

/// What the data folder holds of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every file it needs.
    Present,
    /// Some of them.
    Partial,
    /// None.
    Missing,
}

impl Status {
    /// A word for listings.
    pub fn word(self) -> &'static str {
        match self {
            Status::Present => "present",
            Status::Partial => "incomplete",
            Status::Missing => "missing",
        }
    }
}

/// The one-line message for a dataset that the data folder lacks.
pub fn missing_message(dataset: &KnownDataset, folder: &DataFolder) -> String {
    let how = if dataset.sources.is_empty() {
        format!("`densenas data fetch {} --from DIR` (a folder holding its files: it has no public source)", dataset.name)
    } else {
        format!("`densenas data fetch {}`", dataset.name)
    };
    format!(
        "dataset {} is not in the data folder {} ({}): get it with {how}, or set {DATA_ENV} to a folder that has it",
        dataset.name,
        folder.path.display(),
        folder.chosen_by
    )
}

/// Resolves a `--data` spec that names a known dataset to its loader spec; any other
/// spec is returned as it is.
pub fn resolve_spec(spec: &str) -> Result<String> {
    match registry::known(spec) {
        Some(d) => DataFolder::locate().resolve(d),
        None => Ok(spec.to_string()),
    }
}

/// The SHA-256 (hex) of the file `path`, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(registry::hex(&h.finalize()))
}

/// Checks `path` against a known file's size and digest.
pub fn check_file(path: &Path, file: &registry::KnownFile) -> Result<()> {
    let len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    if len != file.bytes {
        return Err(Error::data(path, format!("holds {len} bytes, the published file has {}", file.bytes)));
    }
    let digest = sha256_file(path)?;
    if digest != file.sha256 {
        return Err(Error::data(path, format!("SHA-256 {digest} differs from the published {}", file.sha256)));
    }
    Ok(())
}

/// What `.verified` records of each checked file: name, size, modification time.
fn stamp_of(dir: &Path, names: &[&str]) -> Result<String> {
    let mut out = String::new();
    for name in names {
        let path = dir.join(name);
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        let nanos = modified.map_or(0, |d| d.as_nanos());
        out.push_str(&format!("{name} {} {nanos}\n", meta.len()));
    }
    Ok(out)
}

/// Checks a dataset folder's files against the registry unless `.verified` says they
/// were checked as they are now; then records them.
pub fn verify_once(dataset: &KnownDataset, dir: &Path) -> Result<()> {
    let names = dataset.required_files();
    let stamp = stamp_of(dir, &names)?;
    if std::fs::read_to_string(dir.join(VERIFIED)).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(());
    }
    if dataset.layout != Layout::CifarArchive {
        for f in dataset.files {
            check_file(&dir.join(f.name), f).map_err(|e| corrupt(dataset, e))?;
        }
    }
    // The CIFAR batches were unpacked from an archive checked when it was fetched.
    // Recording is best effort: a read-only data folder is checked on every load.
    let _ = crate::util::atomic::write_atomic(&dir.join(VERIFIED), stamp.as_bytes());
    Ok(())
}

fn corrupt(dataset: &KnownDataset, e: Error) -> Error {
    Error::Input(format!(
        "dataset {} in the data folder is not the published data: {e}; fetch it again with `densenas data fetch {} --force`",
        dataset.name, dataset.name
    ))
}

/// Where the running code lies: the shared library holding this crate (through
/// `dladdr`), or the executable it is linked into.
fn code_location() -> Option<PathBuf> {
    // SAFETY: dladdr only reads the loader's tables; `info` is written by it on success
    // and dli_fname then points at a NUL-terminated path owned by the loader.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(code_location as *const libc::c_void, &mut info) != 0 && !info.dli_fname.is_null() {
            let name = std::ffi::CStr::from_ptr(info.dli_fname).to_string_lossy().into_owned();
            let path = PathBuf::from(name);
            if path.is_absolute() {
                return Some(path);
            }
        }
    }
    std::env::current_exe().ok()
}

/// The densenas checkout that `path` (a file in its `target/` tree) lies in: the
/// nearest of its first five ancestors that holds a `Cargo.toml` naming the package
/// `densenas`.
fn checkout_above(path: &Path) -> Option<PathBuf> {
    let path = path.canonicalize().ok()?;
    path.ancestors().skip(1).take(5).find(|dir| is_checkout(dir)).map(Path::to_path_buf)
}

fn is_checkout(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .map(|t| t.lines().any(|l| l.trim() == "name = \"densenas\""))
        .unwrap_or(false)
}
