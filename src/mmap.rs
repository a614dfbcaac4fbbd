//! Read-only memory maps of input files: the one place with `unsafe` for I/O.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};
use memmap2::Mmap;

/// Maps `path` read-only. An empty file maps to an empty slice.
pub fn map(path: &Path) -> Result<Mmap> {
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    map_file(&file).with_context(|| format!("{}: cannot map", path.display()))
}

pub fn map_file(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the map is read-only and private to this process. Kbuild does not rewrite an input
    // while a later step reads it, and a module this tool updates in place is mapped only under
    // its lock (`modules::embed::open_locked`), so another run of the tool waits until the map is
    // gone before it writes; if some other process truncated the file anyway, reads past the new
    // end would fault, which is the documented hazard of file maps. Every output is written to a
    // new file (or appended past the mapped length after the map is dropped), never through it.
    unsafe { Mmap::map(file) }
}
