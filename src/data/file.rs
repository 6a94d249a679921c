//! Opening data files: gzip is detected by its magic bytes (whatever the file is
//! called) and decompressed as a stream, so a loader never holds the compressed and the
//! decompressed file at once; read errors name the file.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::Path;

use crate::error::{Error, Result};

/// Buffer size of the readers (decompressed data is read in chunks of this size).
pub(crate) const CHUNK: usize = 1 << 16;

/// An open data file.
pub(crate) struct DataFile {
    /// The (decompressed) contents.
    pub reader: Box<dyn BufRead>,
    /// The file's size on disk when it is not compressed (then it is the size of the
    /// contents, which lets a loader check a header's counts before reading on).
    pub raw_len: Option<u64>,
}

/// Opens `path`, decompressing it on the fly when it starts with gzip's magic bytes.
pub(crate) fn open(path: &Path) -> Result<DataFile> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::data(path, "is a directory, expected a file"));
    }
    let len = meta.len();
    let mut buffered = BufReader::with_capacity(CHUNK, file);
    let head = buffered.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        let gz = flate2::bufread::MultiGzDecoder::new(buffered);
        Ok(DataFile { reader: Box::new(BufReader::with_capacity(CHUNK, gz)), raw_len: None })
    } else {
        Ok(DataFile { reader: Box::new(buffered), raw_len: Some(len) })
    }
}

/// The whole contents of the data file `path`, decompressed when it is gzip (a
/// truncated or corrupt stream is an error naming the file).
pub fn read_decompressed(path: &Path) -> Result<Vec<u8>> {
    let mut file = open(path)?;
    let mut out = Vec::new();
    file.reader.read_to_end(&mut out).map_err(|e| read_error(path, e))?;
    Ok(out)
}

/// Reads until `buf` is full or the data ends; returns the number of bytes read. A
/// failing read (for example corrupt gzip data) is an error naming `path`.
pub(crate) fn read_full(reader: &mut dyn Read, buf: &mut [u8], path: &Path) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(path, e)),
        }
    }
    Ok(got)
}

/// True when `reader` holds no more data.
pub(crate) fn at_end(reader: &mut dyn BufRead, path: &Path) -> Result<bool> {
    loop {
        match reader.fill_buf() {
            Ok(b) => return Ok(b.is_empty()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(path, e)),
        }
    }
}

/// A read failure on `path` as a data error (a truncated or corrupt gzip stream shows
/// up here).
pub(crate) fn read_error(path: &Path, e: std::io::Error) -> Error {
    Error::data(path, format!("cannot read the data: {e} (truncated or corrupt file?)"))
}

/// The last component of `path` without the extensions a loader understands, for
/// dataset names (`mnist`, `cifar10_train_jpeg_q75`).
pub(crate) fn short_name(path: &Path) -> String {
    let name = path
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| path.display().to_string());
    let mut name = name.as_str();
    for ext in [".gz", ".tgz", ".tar", ".bin", ".csv", ".tra", ".tes"] {
        name = name.strip_suffix(ext).unwrap_or(name);
    }
    name.to_string()
}
