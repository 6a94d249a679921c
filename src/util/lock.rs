//! An exclusive lock on a folder, so that two processes never write into the same run
//! or experiment folder at once. It is an advisory lock on a file in the folder, held
//! for the life of the [`FolderLock`] and released by the operating system when the
//! process ends, however it ends: a killed process leaves no stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The lock file's name inside a locked folder.
pub const LOCK_FILE: &str = ".densenas.lock";

/// A held lock on a folder (released on drop).
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    path: PathBuf,
}

impl FolderLock {
    /// Takes the lock of `dir` (which must exist) without waiting; `what` names the
    /// kind of work for the error ("a search", "an experiment").
    pub fn acquire(dir: &Path, what: &str) -> Result<FolderLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(FolderLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(Error::State(format!(
                "{} is in use: another densenas process is running {what} in it",
                dir.display()
            ))),
            Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
