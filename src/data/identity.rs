//! A dataset's identity for experiment unit ids (docs/experiments.md): its name and a
//! fingerprint of its content, never its path, so the same study run from another
//! folder or machine finds its finished units.
//!
//! - `digits`: the SHA-256 of the embedded file;
//! - a dataset known by name (`mnist`, ...): the registry's fingerprint of the
//!   published files, which the data folder's copies are checked against;
//! - a spec with paths (`idx:DIR`, `csv:A,B`, ...): the SHA-256 of every file it names
//!   (a folder's files recursively, in name order, with their relative paths).
//!
//! Fingerprints are computed once per process, spec and state of its files.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::registry;
use crate::error::{Error, Result};

/// What identifies a dataset's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataIdentity {
    /// A short name (`mnist`, `idx:my-digits`).
    pub name: String,
    /// The SHA-256 (hex) of its content, as described in the module documentation.
    pub fingerprint: String,
}

static CACHE: Mutex<Option<HashMap<String, DataIdentity>>> = Mutex::new(None);

/// The identity of the `--data` spec `spec`.
pub fn identity(spec: &str) -> Result<DataIdentity> {
    // Cached per spec and the named paths' sizes and modification times, so a file
    // changed while the process runs gets a new fingerprint.
    let key = format!("{spec}\n{}", stamp(spec)?);
    if let Some(found) = CACHE.lock().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(|c| c.get(&key)) {
        return Ok(found.clone());
    }
    let id = compute(spec)?;
    CACHE.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(HashMap::new).insert(key, id.clone());
    Ok(id)
}

/// The sizes and modification times of the paths a spec names (empty for a name).
fn stamp(spec: &str) -> Result<String> {
    let Some((_, rest)) = spec.split_once(':') else { return Ok(String::new()) };
    let mut out = String::new();
    for part in rest.split(',') {
        let meta = std::fs::metadata(part).map_err(|e| Error::io(part, e))?;
        let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        out.push_str(&format!("{} {}\n", meta.len(), modified.map_or(0, |d| d.as_nanos())));
    }
    Ok(out)
}

fn compute(spec: &str) -> Result<DataIdentity> {
    if spec == "digits" {
        return Ok(DataIdentity { name: "digits".into(), fingerprint: registry::hex(&Sha256::digest(super::digits::DIGITS_CSV_GZ)) });
    }
    if let Some(known) = registry::known(spec) {
        return Ok(DataIdentity { name: known.name.into(), fingerprint: known.fingerprint() });
    }
    let Some((kind, rest)) = spec.split_once(':') else {
        return Err(Error::config("data", format!("unknown dataset spec {spec:?}: known specs are {}", super::SPECS)));
    };
    let mut h = Sha256::new();
    let mut names = Vec::new();
    for part in rest.split(',') {
        let path = Path::new(part);
        names.push(super::file::short_name(path));
        h.update(format!("{kind}:{}\n", names.len()).as_bytes());
        hash_path(path, path, &mut h)?;
    }
    Ok(DataIdentity { name: format!("{kind}:{}", names.join(",")), fingerprint: registry::hex(&h.finalize()) })
}

fn hash_path(root: &Path, path: &Path, h: &mut Sha256) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .map(|e| e.map(|e| e.path()).map_err(|err| Error::io(path, err)))
            .collect::<Result<_>>()?;
        entries.sort();
        for entry in entries {
            hash_path(root, &entry, h)?;
        }
    } else {
        let relative = path.strip_prefix(root).unwrap_or(path).display().to_string();
        let digest = super::folder::sha256_file(path)?;
        h.update(format!("{relative} {digest}\n").as_bytes());
    }
    Ok(())
}
