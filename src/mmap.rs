//! Opening input files: the one place that does, with a person's words for what is wrong with
//! one (`is a directory`, `is empty`, `is not an ELF file`), and the one place with `unsafe` for
//! I/O (read-only memory maps).

use std::fs::{File, Metadata};
use std::path::Path;

use anyhow::Result;
use memmap2::Mmap;

/// Maps the ELF file at `path` read-only; every error is an [`InputError`] naming it.
pub fn map(path: &Path) -> Result<Mmap> {
    open(path).map(|(_, map)| map)
}

/// [`map`], with what `stat` said of the file when it was opened.
pub fn open(path: &Path) -> Result<(Metadata, Mmap)> {
    let (file, meta) = open_file(path)?;
    let map = map_elf(path, &file, &meta)?;
    Ok((meta, map))
}

/// Opens the regular file at `path` for reading; a directory, a device or a missing file is an
/// [`InputError`] in a person's words.
pub fn open_file(path: &Path) -> Result<(File, Metadata)> {
    let fault = |what: String| InputError::new(path, what);
    let file = File::open(path).map_err(|e| fault(plain(&e)))?;
    let meta = file.metadata().map_err(|e| fault(plain(&e)))?;
    if meta.is_dir() {
        return Err(fault("is a directory".into()).into());
    }
    if !meta.is_file() {
        return Err(fault("is not a regular file".into()).into());
    }
    Ok((file, meta))
}

/// Maps `file` (opened from `path`, `meta` its `stat`) read-only; an empty file or one that is
/// not ELF is an [`InputError`].
pub fn map_elf(path: &Path, file: &File, meta: &Metadata) -> Result<Mmap> {
    let fault = |what: String| InputError::new(path, what);
    if meta.len() == 0 {
        return Err(fault("is empty".into()).into());
    }
    let map = map_file(file).map_err(|e| fault(format!("cannot map: {}", plain(&e))))?;
    if !map.starts_with(b"\x7fELF") {
        return Err(fault("is not an ELF file".into()).into());
    }
    Ok(map)
}

/// The system's words for `e`, without Rust's ` (os error N)`.
fn plain(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// An input that cannot be used, in a person's words, naming the file.
#[derive(Debug)]
pub struct InputError {
    pub path: std::path::PathBuf,
    pub what: String,
}

impl InputError {
    /// `path` at fault for `what`.
    pub fn new(path: &Path, what: impl std::fmt::Display) -> InputError {
        InputError {
            path: path.to_path_buf(),
            what: what.to_string(),
        }
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.what)
    }
}

impl std::error::Error for InputError {}

pub fn map_file(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the map is read-only and private to this process. Kbuild does not rewrite an input
    // while a later step reads it, and a module this tool updates in place is mapped only under
    // its lock (`modules::embed::open_locked`), so another run of the tool waits until the map is
    // gone before it writes; if some other process truncated the file anyway, reads past the new
    // end would fault, which is the documented hazard of file maps. Every output is written to a
    // new file (or appended past the mapped length after the map is dropped), never through it.
    unsafe { Mmap::map(file) }
}
