//! The experiment folder:
//!
//! ```text
//! DIR/experiment.json          the experiment as resolved (absolute data paths)
//! DIR/units/ID/unit.json       a unit's definition
//! DIR/units/ID/result.json     its result, written atomically as its last act
//! DIR/units/ID/error.txt       why it failed (removed when it is retried)
//! DIR/units/ID/run/            a search unit's run folder
//! DIR/report.md, report.json, plots/
//! ```
//!
//! A unit is finished when its `result.json` exists; a rerun skips finished units and
//! retries failed and unfinished ones.

use std::path::{Path, PathBuf};

use super::unit::{UnitResult, UnitSpec};
use crate::error::{Error, Result};
use crate::util::atomic::write_atomic;

/// An experiment folder.
#[derive(Clone, Debug)]
pub struct ExperimentDir {
    root: PathBuf,
}

impl ExperimentDir {
    /// The folder at `root` (created if needed).
    pub fn create(root: &Path) -> Result<ExperimentDir> {
        std::fs::create_dir_all(root.join("units")).map_err(|e| Error::io(root, e))?;
        Ok(ExperimentDir { root: root.to_path_buf() })
    }

    /// An existing folder.
    pub fn open(root: &Path) -> Result<ExperimentDir> {
        if !root.join("experiment.json").is_file() {
            return Err(Error::folder(root, "not an experiment folder (no experiment.json)"));
        }
        Ok(ExperimentDir { root: root.to_path_buf() })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A unit's folder.
    pub fn unit_dir(&self, id: &str) -> PathBuf {
        self.root.join("units").join(id)
    }

    /// Records a unit's definition (before it runs).
    pub fn write_spec(&self, id: &str, spec: &UnitSpec) -> Result<()> {
        let dir = self.unit_dir(id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        write_atomic(&dir.join("unit.json"), serde_json::to_string_pretty(spec)?.as_bytes())
    }

    /// A unit's recorded definition.
    pub fn read_spec(&self, id: &str) -> Result<UnitSpec> {
        let path = self.unit_dir(id).join("unit.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::data(&path, format!("not a unit definition ({e})")))
    }

    /// A finished unit's result (`None` when unfinished).
    pub fn result(&self, id: &str) -> Option<UnitResult> {
        let text = std::fs::read_to_string(self.unit_dir(id).join("result.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Records a unit's result: its last act, atomic.
    pub fn write_result(&self, id: &str, result: &UnitResult) -> Result<()> {
        let _ = std::fs::remove_file(self.unit_dir(id).join("error.txt"));
        write_atomic(&self.unit_dir(id).join("result.json"), serde_json::to_string_pretty(result)?.as_bytes())
    }

    /// Records why a unit failed.
    pub fn write_error(&self, id: &str, message: &str) -> Result<()> {
        write_atomic(&self.unit_dir(id).join("error.txt"), format!("{message}\n").as_bytes())
    }

    /// Why a unit failed, if it did (and has not succeeded since).
    pub fn error(&self, id: &str) -> Option<String> {
        std::fs::read_to_string(self.unit_dir(id).join("error.txt")).ok().map(|s| s.trim_end().to_string())
    }
}
