//! Checkpoints of a search (docs/reliability.md). After every complete phase the
//! search writes `checkpoints/phase-N/` (N phases done):
//!
//! - `session.safetensors`: the whole session (weights, optimiser moments, `alpha`,
//!   the best snapshot, RNG state, density, blocks, history), as
//!   [`Session::save`] writes it;
//! - `search.json`: the resolved configuration, the data's fingerprint and the search
//!   loop's state ([`LoopState`]);
//! - `manifest.json`, written last: the densenas version and each file's size and
//!   SHA-256, so a truncated or damaged checkpoint is recognised as such.
//!
//! The folder is written under a temporary name, flushed, renamed into place, then
//! `checkpoints/latest` (a small file naming it) is replaced atomically and older
//! checkpoints are removed. A phase cut short by a stop or a kill writes none, so
//! resuming restarts from the last complete phase.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::search::config::SearchConfig;
use crate::search::session::Session;
use crate::search::state::LoopState;
use crate::util::atomic::{install_dir, sync_dir, temporary_beside, write_atomic};

/// The file naming the newest checkpoint.
pub const LATEST: &str = "latest";
const SESSION_FILE: &str = "session.safetensors";
const SEARCH_FILE: &str = "search.json";
const MANIFEST_FILE: &str = "manifest.json";
const FORMAT: &str = "densenas-checkpoint";

/// `manifest.json`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    densenas_version: String,
    phases_done: usize,
    files: Vec<FileEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    name: String,
    bytes: u64,
    sha256: String,
}

/// `search.json`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchFile {
    config: SearchConfig,
    data_fingerprint: String,
    state: LoopState,
}

/// A checkpoint read back.
pub struct Checkpoint {
    /// Its folder.
    pub path: PathBuf,
    /// The configuration of the search that wrote it.
    pub config: SearchConfig,
    /// The fingerprint of the data it was trained on ([`crate::data::DataSplits::fingerprint`]).
    pub data_fingerprint: String,
    /// The session after the last complete phase.
    pub session: Session,
    /// The search loop's state then.
    pub state: LoopState,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The folder name of the checkpoint after `phases_done` phases.
pub fn folder_name(phases_done: usize) -> String {
    format!("phase-{phases_done}")
}

/// Writes the checkpoint of `session` and `state` into `dir` (the `checkpoints`
/// folder, created if needed) and makes it the latest; returns its folder.
pub fn write(dir: &Path, config: &SearchConfig, data_fingerprint: &str, session: &Session, state: &LoopState) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = folder_name(state.phases_done);
    let dest = dir.join(&name);
    let tmp = temporary_beside(&dest);
    let result = write_files(&tmp, config, data_fingerprint, session, state).and_then(|()| install_dir(&tmp, &dest));
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    write_atomic(&dir.join(LATEST), format!("{name}\n").as_bytes())?;
    remove_others(dir, &name);
    Ok(dest)
}

fn write_files(tmp: &Path, config: &SearchConfig, data_fingerprint: &str, session: &Session, state: &LoopState) -> Result<()> {
    fs::create_dir(tmp).map_err(|e| Error::io(tmp, e))?;
    let search = SearchFile { config: config.clone(), data_fingerprint: data_fingerprint.to_string(), state: state.clone() };
    let files = [
        (SESSION_FILE, session.to_bytes()?),
        (SEARCH_FILE, serde_json::to_vec(&search)?),
    ];
    let mut entries = Vec::new();
    for (name, bytes) in &files {
        write_atomic(&tmp.join(name), bytes)?;
        entries.push(FileEntry { name: name.to_string(), bytes: bytes.len() as u64, sha256: sha256_hex(bytes) });
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        densenas_version: crate::VERSION.into(),
        phases_done: state.phases_done,
        files: entries,
    };
    write_atomic(&tmp.join(MANIFEST_FILE), &serde_json::to_vec_pretty(&manifest)?)?;
    sync_dir(tmp);
    Ok(())
}

/// Removes every entry of `dir` but `keep` and `latest` (older checkpoints and the
/// temporary folders of killed writers); best effort.
fn remove_others(dir: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == keep || name == LATEST {
            continue;
        }
        let path = entry.path();
        let _ = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
    }
}

/// Reads the latest checkpoint in `dir` (a run folder's `checkpoints` folder).
pub fn read_latest(dir: &Path) -> Result<Checkpoint> {
    let latest = dir.join(LATEST);
    let name = match fs::read_to_string(&latest) {
        Ok(text) => text.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::folder(&latest, format!(
                "no checkpoint to resume from: {} is missing (a search writes its first checkpoint when its first \
                 phase is complete, and removes them when it finishes, unless --keep-checkpoints)",
                latest.display()
            )))
        }
        Err(e) => return Err(Error::io(&latest, e)),
    };
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(Error::data(&latest, format!("does not name a checkpoint folder ({name:?})")));
    }
    read(&dir.join(name))
}

/// Reads and checks the checkpoint folder `path`.
pub fn read(path: &Path) -> Result<Checkpoint> {
    let manifest_path = path.join(MANIFEST_FILE);
    let text = fs::read(&manifest_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::data(path, "incomplete checkpoint: manifest.json is missing"),
        _ => Error::io(&manifest_path, e),
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| Error::data(&manifest_path, format!("not a densenas checkpoint manifest ({e})")))?;
    if manifest.format != FORMAT {
        return Err(Error::data(&manifest_path, format!("not a densenas checkpoint (format {:?})", manifest.format)));
    }
    if manifest.densenas_version != crate::VERSION {
        return Err(Error::data(
            path,
            format!(
                "written by densenas {}; this is densenas {}, which cannot resume it: use the version that wrote it",
                manifest.densenas_version,
                crate::VERSION
            ),
        ));
    }
    let mut contents = std::collections::HashMap::new();
    for entry in &manifest.files {
        let file = path.join(&entry.name);
        let bytes = fs::read(&file).map_err(|e| Error::io(&file, e))?;
        if bytes.len() as u64 != entry.bytes {
            return Err(Error::data(
                &file,
                format!("truncated or damaged checkpoint: {} bytes, the manifest says {}", bytes.len(), entry.bytes),
            ));
        }
        if sha256_hex(&bytes) != entry.sha256 {
            return Err(Error::data(&file, "damaged checkpoint: its SHA-256 differs from the manifest's"));
        }
        contents.insert(entry.name.as_str(), bytes);
    }
    let missing = |name: &str| Error::data(path, format!("incomplete checkpoint: the manifest lists no {name}"));
    let search_bytes = contents.get(SEARCH_FILE).ok_or_else(|| missing(SEARCH_FILE))?;
    let search: SearchFile = serde_json::from_slice(search_bytes)
        .map_err(|e| Error::data(path.join(SEARCH_FILE), format!("malformed ({e})")))?;
    search.config.validate()?;
    if search.state.phases_done != manifest.phases_done {
        return Err(Error::data(path, "damaged checkpoint: search.json and the manifest disagree on the phases done"));
    }
    let session_bytes = contents.get(SESSION_FILE).ok_or_else(|| missing(SESSION_FILE))?;
    let session = Session::from_bytes(session_bytes, &path.join(SESSION_FILE).display().to_string())?;
    Ok(Checkpoint {
        path: path.to_path_buf(),
        config: search.config,
        data_fingerprint: search.data_fingerprint,
        session,
        state: search.state,
    })
}

impl Checkpoint {
    /// Checks that the checkpoint belongs to a search with `config` on data with
    /// `data_fingerprint`; the error lists what differs.
    pub fn check_matches(&self, config: &SearchConfig, data_fingerprint: &str) -> Result<()> {
        let differences = self.config.differences(config);
        if !differences.is_empty() {
            return Err(Error::folder(&self.path, format!(
                "the checkpoint {} was written by a search with another configuration ({}: the checkpoint's value \
                 first)",
                self.path.display(),
                differences.join("; ")
            )));
        }
        if self.data_fingerprint != data_fingerprint {
            return Err(Error::folder(&self.path, format!(
                "the data set {:?} differs from the one the checkpoint {} was trained on (its files changed)",
                config.data,
                self.path.display()
            )));
        }
        Ok(())
    }
}

/// Removes the `checkpoints` folder `dir` (a finished search's).
pub fn remove_all(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}
