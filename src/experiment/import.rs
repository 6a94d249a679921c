//! Taking an experiment folder for a whole run, and recording there the units that ran
//! elsewhere (a cluster's workers, which send their unit folders back): the one lock
//! and the one atomic replacement of a unit's folder that every executor uses, the
//! local one (`densenas experiment`) and the Ray driver (through the C ABI) alike.
//!
//! A unit's folder is replaced as one whole: the files are copied and synced into a
//! sibling folder `units/.ID.incoming-PID`, which then takes the unit folder's place by
//! rename, so that `result.json` (which marks a unit finished) arrives with the rest or
//! not at all. An interrupted replacement leaves only sibling folders, which the next
//! [`ExperimentLock::acquire`] removes.

use std::path::{Path, PathBuf};

use super::store::ExperimentDir;
use super::unit::UnitSpec;
use crate::error::{Error, Result};
use crate::util::atomic::sync_dir;
use crate::util::lock::{FolderLock, LOCK_FILE};

/// Name parts of the sibling folders a replacement stages a unit's files in.
const INCOMING: &str = ".incoming-";
const OUTGOING: &str = ".outgoing-";

/// An experiment folder taken for a whole run: one executor works on a folder at a
/// time. Released when dropped.
pub struct ExperimentLock {
    _lock: FolderLock,
}

impl ExperimentLock {
    /// Takes the folder `root` (created if needed) for a whole run, and removes what an
    /// interrupted replacement of a unit's folder left there. A folder another process
    /// holds is refused ([`Error::Folder`]).
    pub fn acquire(root: &Path) -> Result<ExperimentLock> {
        std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let lock = FolderLock::acquire(root, "an experiment")?;
        remove_strays(&root.join("units"))?;
        Ok(ExperimentLock { _lock: lock })
    }
}

fn remove_strays(units: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(units) else { return Ok(()) };
    for entry in entries {
        let path = entry.map_err(|e| Error::io(units, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') && (name.contains(INCOMING) || name.contains(OUTGOING)) {
            std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

/// A unit id as the executors make them: letters, digits, `-` and `_` only (so that
/// it names a folder in `units/` and nothing else).
fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(Error::Input(format!("{id:?} is not a unit id (letters, digits, '-' and '_')")));
    }
    Ok(())
}

/// Replaces the folder of unit `id` in `dir` by the files of the folder `files` (what
/// a worker ran the unit into), as one whole (see the module's documentation). Lock
/// files are not copied; `files` is left as it is.
pub fn import_unit(dir: &ExperimentDir, id: &str, files: &Path) -> Result<()> {
    check_id(id)?;
    if !files.is_dir() {
        return Err(Error::Input(format!("{} is not a folder of a unit's files", files.display())));
    }
    let units = dir.root().join("units");
    let pid = std::process::id();
    let incoming = units.join(format!(".{id}{INCOMING}{pid}"));
    let outgoing = units.join(format!(".{id}{OUTGOING}{pid}"));
    for stale in [&incoming, &outgoing] {
        if stale.exists() {
            std::fs::remove_dir_all(stale).map_err(|e| Error::io(stale, e))?;
        }
    }
    copy_synced(files, &incoming)?;
    let unit = dir.unit_dir(id);
    if unit.exists() {
        std::fs::rename(&unit, &outgoing).map_err(|e| Error::io(&unit, e))?;
    }
    std::fs::rename(&incoming, &unit).map_err(|e| Error::io(&unit, e))?;
    sync_dir(&units);
    if outgoing.exists() {
        std::fs::remove_dir_all(&outgoing).map_err(|e| Error::io(&outgoing, e))?;
    }
    Ok(())
}

/// Copies the folder `from` to `to` (created), every file synced to disk.
fn copy_synced(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let (src, dst): (PathBuf, PathBuf) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| Error::io(&src, e))?;
        if kind.is_dir() {
            copy_synced(&src, &dst)?;
        } else if kind.is_file() && entry.file_name() != LOCK_FILE {
            std::fs::copy(&src, &dst).map_err(|e| Error::io(&src, e))?;
            std::fs::File::open(&dst).and_then(|f| f.sync_all()).map_err(|e| Error::io(&dst, e))?;
        }
    }
    sync_dir(to);
    Ok(())
}

/// Records a unit that could not run at all (its worker could not start it, a device
/// the cluster lacks): its folder as a failed unit's (`unit.json`, `error.txt`),
/// replaced as one whole.
pub fn record_failure(dir: &ExperimentDir, id: &str, spec: &UnitSpec, message: &str) -> Result<()> {
    check_id(id)?;
    let staging = dir.root().join("units").join(format!(".{id}{INCOMING}{}-failure", std::process::id()));
    let scratch = ExperimentDir::create(&staging)?;
    scratch.write_spec(id, spec)?;
    scratch.write_error(id, message)?;
    let result = import_unit(dir, id, &scratch.unit_dir(id));
    let _ = std::fs::remove_dir_all(&staging);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("densenas-import-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_unit_folder_is_replaced_whole_and_strays_go_with_the_next_lock() {
        let root = scratch("replace");
        let dir = ExperimentDir::create(&root).unwrap();
        let worker = scratch("worker");
        std::fs::create_dir_all(worker.join("run")).unwrap();
        std::fs::write(worker.join("result.json"), "{}").unwrap();
        std::fs::write(worker.join("run/summary.json"), "[1]").unwrap();
        std::fs::write(worker.join(LOCK_FILE), "").unwrap();
        std::fs::create_dir_all(dir.unit_dir("abc123")).unwrap();
        std::fs::write(dir.unit_dir("abc123").join("error.txt"), "old failure\n").unwrap();
        import_unit(&dir, "abc123", &worker).unwrap();
        let unit = dir.unit_dir("abc123");
        assert_eq!(std::fs::read_to_string(unit.join("run/summary.json")).unwrap(), "[1]");
        assert!(unit.join("result.json").exists() && !unit.join("error.txt").exists() && !unit.join(LOCK_FILE).exists());
        assert_eq!(std::fs::read_dir(root.join("units")).unwrap().count(), 1, "no sibling folder left");
        assert!(worker.join("result.json").exists(), "the worker's files are left as they are");

        for bad in ["../escape", "", "a/b"] {
            let e = import_unit(&dir, bad, &worker).unwrap_err().to_string();
            assert!(e.contains("is not a unit id"), "{e}");
        }
        std::fs::create_dir_all(root.join("units/.abc123.incoming-1")).unwrap();
        let lock = ExperimentLock::acquire(&root).unwrap();
        assert!(!root.join("units/.abc123.incoming-1").exists() && unit.exists());
        let e = ExperimentLock::acquire(&root).err().expect("held").to_string();
        assert!(e.contains("in use") && e.contains("an experiment"), "{e}");
        drop(lock);
        std::fs::remove_dir_all(&root).unwrap();
        std::fs::remove_dir_all(&worker).unwrap();
    }
}
