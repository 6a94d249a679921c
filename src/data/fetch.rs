//! Filling the data folder (`densenas data fetch`, docs/data.md): each file of a known
//! dataset is downloaded from its sources in order (or copied from a local folder),
//! hashed while it is written under a temporary name, and moved into place only when
//! its size and SHA-256 digest are the published ones; a source that fails or serves
//! other bytes is reported and the next one tried. Nothing partial is left behind.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::folder::{check_file, verify_once, DataFolder};
use super::registry::{self, KnownDataset, KnownFile, Layout, CIFAR_BATCHES};
use crate::error::{Error, Result};
use crate::util::atomic::temporary_beside;

/// Where a fetch takes its files from.
#[derive(Clone, Debug, Default)]
pub struct FetchOptions {
    /// Base URLs to try instead of the dataset's own sources (each followed by a file's
    /// name).
    pub sources: Vec<String>,
    /// A local folder holding the files (copied and checked; no download).
    pub from: Option<PathBuf>,
    /// Fetch again even when the folder already holds the checked files.
    pub force: bool,
}

/// What a fetch reports while it works.
#[derive(Debug)]
pub enum FetchEvent<'a> {
    /// A file's transfer starts from `source` (`total` bytes expected).
    Start { file: &'a str, source: &'a str, total: u64 },
    /// `done` bytes of the current file have arrived.
    Progress { done: u64 },
    /// The transfer from `source` failed: the next source is tried.
    Failed { file: &'a str, source: &'a str, reason: &'a str },
    /// The file is in place, checked.
    Done { file: &'a str },
    /// The file was already there, checked.
    Kept { file: &'a str },
    /// The archive is being unpacked.
    Unpacking { file: &'a str },
}

/// Fetches the known dataset `name` into `folder`; returns its folder.
pub fn fetch(name: &str, folder: &DataFolder, options: &FetchOptions, on: &mut dyn FnMut(FetchEvent<'_>)) -> Result<PathBuf> {
    let dataset = registry::known(name).ok_or_else(|| {
        Error::Input(format!("no dataset is called {name:?}: known datasets are {}", registry::known_names()))
    })?;
    let sources = sources_of(dataset, options)?;
    let dir = folder.dataset_dir(dataset.name);
    let existed = dir.is_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let result = fetch_into(dataset, &dir, &sources, options, on);
    if result.is_err() && !existed {
        // Only an empty folder goes: what was fetched and checked stays.
        let _ = std::fs::remove_dir(&dir);
    }
    result.map(|()| dir)
}

fn fetch_into(
    dataset: &KnownDataset,
    dir: &Path,
    sources: &[Source],
    options: &FetchOptions,
    on: &mut dyn FnMut(FetchEvent<'_>),
) -> Result<()> {
    for file in dataset.files {
        let path = dir.join(file.name);
        let unpacked = dataset.layout == Layout::CifarArchive && CIFAR_BATCHES.iter().all(|b| dir.join(b).is_file());
        if !options.force && path.is_file() && check_file(&path, file).is_ok() {
            on(FetchEvent::Kept { file: file.name });
        } else {
            fetch_file(file, &path, sources, on)?;
            on(FetchEvent::Done { file: file.name });
        }
        if dataset.layout == Layout::CifarArchive && (options.force || !unpacked) {
            on(FetchEvent::Unpacking { file: file.name });
            unpack_cifar(&path, dir)?;
        }
    }
    let _ = std::fs::remove_file(dir.join(".verified"));
    verify_once(dataset, dir)
}

/// One source: a base URL or a local folder.
enum Source {
    Url(String),
    Folder(PathBuf),
}

impl Source {
    fn describe(&self, file: &str) -> String {
        match self {
            Source::Url(base) => format!("{base}{file}"),
            Source::Folder(dir) => dir.join(file).display().to_string(),
        }
    }
}

fn sources_of(dataset: &KnownDataset, options: &FetchOptions) -> Result<Vec<Source>> {
    if let Some(dir) = &options.from {
        if !dir.is_dir() {
            return Err(Error::Input(format!("--from {}: not a folder", dir.display())));
        }
        return Ok(vec![Source::Folder(dir.clone())]);
    }
    let bases: Vec<String> = if options.sources.is_empty() {
        dataset.sources.iter().map(|s| s.to_string()).collect()
    } else {
        options.sources.clone()
    };
    if bases.is_empty() {
        return Err(Error::Input(format!(
            "dataset {} has no public source: copy its files with `densenas data fetch {} --from DIR`",
            dataset.name, dataset.name
        )));
    }
    Ok(bases.into_iter().map(|b| Source::Url(if b.ends_with('/') { b } else { b + "/" })).collect())
}

/// Fetches one file from the first source that serves the published bytes.
fn fetch_file(file: &KnownFile, path: &Path, sources: &[Source], on: &mut dyn FnMut(FetchEvent<'_>)) -> Result<()> {
    let mut failures = Vec::new();
    for source in sources {
        let origin = source.describe(file.name);
        on(FetchEvent::Start { file: file.name, source: &origin, total: file.bytes });
        match transfer(source, file, path, on) {
            Ok(()) => return Ok(()),
            Err(reason) => {
                on(FetchEvent::Failed { file: file.name, source: &origin, reason: &reason });
                failures.push(format!("{origin}: {reason}"));
            }
        }
    }
    Err(Error::Input(format!("could not fetch {}: every source failed ({})", file.name, failures.join("; "))))
}

/// Copies one source's bytes to a temporary beside `path`, hashing them, and moves
/// it into place when size and digest match; the reason of a failure otherwise.
fn transfer(source: &Source, file: &KnownFile, path: &Path, on: &mut dyn FnMut(FetchEvent<'_>)) -> std::result::Result<(), String> {
    let tmp = temporary_beside(path);
    let result = (|| {
        let mut reader = open(source, file.name)?;
        let mut out = File::create(&tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        let (bytes, digest) = copy_hashing(&mut reader, &mut out, file.bytes, on)?;
        if bytes != file.bytes {
            return Err(format!("served {bytes} bytes, the published file has {}", file.bytes));
        }
        if digest != file.sha256 {
            return Err(format!("SHA-256 {digest} differs from the published {}", file.sha256));
        }
        out.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot move it to {}: {e}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn open(source: &Source, name: &str) -> std::result::Result<Box<dyn Read>, String> {
    match source {
        Source::Folder(dir) => {
            let path = dir.join(name);
            File::open(&path).map(|f| Box::new(f) as Box<dyn Read>).map_err(|e| e.to_string())
        }
        Source::Url(base) => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_connect(Some(Duration::from_secs(20)))
                .timeout_recv_response(Some(Duration::from_secs(60)))
                .timeout_per_read(Some(Duration::from_secs(60)))
                .build()
                .into();
            let response = agent.get(format!("{base}{name}")).call().map_err(|e| e.to_string())?;
            Ok(Box::new(response.into_body().into_reader()))
        }
    }
}

/// Copies `reader` to `out` (at most one byte more than `expected`, so an oversized
/// answer is caught without reading it whole), hashing and reporting progress.
fn copy_hashing(
    reader: &mut dyn Read,
    out: &mut File,
    expected: u64,
    on: &mut dyn FnMut(FetchEvent<'_>),
) -> std::result::Result<(u64, String), String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    let mut limited = reader.take(expected + 1);
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("transfer broke off after {done} bytes: {e}")),
        };
        h.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| format!("cannot write: {e}"))?;
        done += n as u64;
        on(FetchEvent::Progress { done });
    }
    Ok((done, registry::hex(&h.finalize())))
}

/// Unpacks CIFAR-10's binary archive: its six batch files go into `dir` (each written
/// under a temporary name, then moved into place).
pub fn unpack_cifar(archive: &Path, dir: &Path) -> Result<()> {
    let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let mut found = Vec::new();
    let entries = tar.entries().map_err(|e| Error::data(archive, format!("not a tar.gz archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::data(archive, format!("cannot read the archive: {e}")))?;
        let entry_path = entry.path().map_err(|e| Error::data(archive, e.to_string()))?.into_owned();
        let Some(name) = entry_path.file_name().and_then(|n| n.to_str()).filter(|n| CIFAR_BATCHES.contains(n)) else {
            continue;
        };
        let dest = dir.join(name);
        let tmp = temporary_beside(&dest);
        let result = (|| -> std::io::Result<()> {
            let mut out = File::create(&tmp)?;
            std::io::copy(&mut entry, &mut out)?;
            out.sync_all()?;
            std::fs::rename(&tmp, &dest)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(&dest, e));
        }
        found.push(name.to_string());
    }
    let missing: Vec<&str> = CIFAR_BATCHES.iter().copied().filter(|b| !found.iter().any(|f| f == b)).collect();
    if !missing.is_empty() {
        return Err(Error::data(archive, format!("the archive lacks {}", missing.join(", "))));
    }
    Ok(())
}
