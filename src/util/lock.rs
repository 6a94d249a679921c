//! An exclusive lock on a folder, so that two processes never write into the same run
//! or experiment folder at once. It is an advisory lock on a file in the folder, held
//! for the life of the [`FolderLock`].
//!
//! The lock file exists only while the lock is held: dropping the lock (a normal end,
//! an error, a stop on Ctrl-C) removes the file while still holding the lock, then
//! releases it. A process killed outright (SIGKILL) leaves the file behind, but not the
//! lock: the operating system releases that when the process ends, and the next
//! acquirer takes the stale file over. Since a holder may remove the file between
//! another process's opening it and locking it, acquiring checks after locking that
//! the locked file is still the one at the path (same device and inode) and starts
//! again otherwise: two processes never both believe they hold the lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The lock file's name inside a locked folder.
pub const LOCK_FILE: &str = ".densenas.lock";

/// How often acquiring starts again when the lock file was removed or replaced under
/// it (each time, another process released the lock in between).
const ATTEMPTS: usize = 100;

/// A held lock on a folder (released, and its file removed, on drop).
#[derive(Debug)]
pub struct FolderLock {
    file: File,
    path: PathBuf,
}

impl FolderLock {
    /// Takes the lock of `dir` (which must exist) without waiting; `what` names the
    /// kind of work for the error ("a search", "an experiment").
    pub fn acquire(dir: &Path, what: &str) -> Result<FolderLock> {
        let path = dir.join(LOCK_FILE);
        for _ in 0..ATTEMPTS {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::folder(dir, format!("in use: another densenas process is running {what} in it")))
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
            if is_at(&file, &path)? {
                return Ok(FolderLock { file, path });
            }
            // The previous holder removed the file after we opened it: the lock we got
            // is on a file no one else will open. Start again with the path's file.
        }
        Err(Error::folder(&path, format!("the lock file was removed or replaced {ATTEMPTS} times while taking it")))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether `file` is the file at `path` (same device and inode); `false` when there is
/// none any more.
fn is_at(file: &File, path: &Path) -> Result<bool> {
    let held = file.metadata().map_err(|e| Error::io(path, e))?;
    match std::fs::metadata(path) {
        Ok(there) => Ok(there.dev() == held.dev() && there.ino() == held.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        // Removed while the lock is still held (the file closes after this, releasing
        // it): whoever opened the old file meanwhile finds it gone and starts again.
        // Only our own file: one that replaced it (the file removed by hand, then
        // taken by another process) is that process's. A failure leaves a file that
        // the next acquirer takes over.
        if matches!(is_at(&self.file, &self.path), Ok(true)) {
            let _ = std::fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}
