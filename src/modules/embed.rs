//! Putting new sections into a `.ko` on disk, so that a crash or `kill -9` at any moment leaves
//! either the old module or the new one, and an up-to-date module is not touched at all.
//!
//! The bytes come from [`kbuild_lineinfo::emit::ko::embed_sections`]; this file owns the file
//! handling and applies the library's [`Patch`] in place: write the tail into bytes the current
//! ELF header does not refer to, then commit by rewriting the ELF header (one write inside the
//! first page, which a signal cannot split), then truncate. Killed before the commit, the module
//! is the old one as every ELF reader sees it (at most with unreferenced bytes, which the next run
//! cuts); killed after, it is the new one. Mode, owner, links and inode stay as they are, and no
//! byte of the module's kept sections is rewritten.
use anyhow::{anyhow, bail, Context, Result};
use kbuild_lineinfo::emit::ko::{embed_sections, Embedded, NewSection, Patch};
use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

/// What [`embed_file`] did to the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The module already held exactly these sections; the file was not opened for writing.
    Unchanged,
    /// The module was changed.
    Updated,
}

/// Adds `new` to the module at `path`, dropping sections named in `remove` or `new`; see
/// [`kbuild_lineinfo::emit::ko::embed_sections`]. Every error names the file.
pub fn embed_file(path: &Path, new: &[NewSection], remove: &[&str]) -> Result<Outcome> {
    let (meta, map) = open_mapped(path)?;
    embed_mapped(path, &meta, map, new, remove)
}

/// The module at `path`, mapped read-only, with what `stat` said of it when it was opened (the
/// map can be read first and then handed to [`embed_mapped`], so a module is opened once).
pub fn open_mapped(path: &Path) -> Result<(Metadata, memmap2::Mmap)> {
    crate::mmap::open(path)
}

/// [`embed_file`] on a module opened by [`open_mapped`].
pub fn embed_mapped(
    path: &Path,
    meta: &Metadata,
    map: memmap2::Mmap,
    new: &[NewSection],
    remove: &[&str],
) -> Result<Outcome> {
    let name = path.display();
    let embedded = embed_sections(&map, new, remove).map_err(|e| anyhow!("{name}: {e}"))?;
    let patch = match embedded {
        Embedded::UpToDate { len } if len == meta.len() => return Ok(Outcome::Unchanged),
        Embedded::UpToDate { len } => {
            drop(map);
            cut_leftovers(path, meta, len)?;
            return Ok(Outcome::Updated);
        }
        Embedded::Update(patch) => patch,
    };
    drop(map);
    apply_in_place(path, meta, &patch)?;
    Ok(Outcome::Updated)
}

/// Opens the module for writing after checking it may be written and is still the same file.
fn open_for_write(path: &Path, meta: &Metadata) -> Result<File> {
    let name = path.display();
    if meta.permissions().readonly() {
        bail!(
            "{name}: file is read-only (mode {:o}), not modified",
            meta.mode() & 0o7777
        );
    }
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("{name}: cannot open for writing"))?;
    let now = file
        .metadata()
        .with_context(|| format!("{name}: cannot stat"))?;
    if (now.dev(), now.ino(), now.len()) != (meta.dev(), meta.ino(), meta.len()) {
        bail!("{name}: file changed while it was being read, not modified");
    }
    Ok(file)
}

/// Truncates bytes an interrupted update left after the module's referenced end.
fn cut_leftovers(path: &Path, meta: &Metadata, len: u64) -> Result<()> {
    let file = open_for_write(path, meta)?;
    let name = path.display();
    file.set_len(len)
        .with_context(|| format!("{name}: cannot truncate to {len} bytes"))
}

/// Tail, then the header (the commit), then the length. On a failed tail write the file is
/// cut back to its old length, so a full disk leaves the old module.
fn apply_in_place(path: &Path, meta: &Metadata, patch: &Patch) -> Result<()> {
    let name = path.display();
    let file = open_for_write(path, meta)?;
    if let Err(e) = file.write_all_at(&patch.tail, patch.tail_offset) {
        let restored = match file.metadata() {
            Ok(m) if m.len() > meta.len() => file.set_len(meta.len()).is_ok(),
            Ok(_) => true,
            Err(_) => false,
        };
        let state = if restored {
            "module left unchanged"
        } else {
            "module unchanged as ELF"
        };
        return Err(e).with_context(|| {
            let n = patch.tail.len();
            format!(
                "{name}: cannot write {n} bytes at offset {:#x} ({state})",
                patch.tail_offset
            )
        });
    }
    file.write_all_at(&patch.header, 0).with_context(|| {
        format!("{name}: cannot write the ELF header (module unchanged as ELF)")
    })?;
    if patch.len() != file.metadata().map(|m| m.len()).unwrap_or(0) {
        let len = patch.len();
        file.set_len(len)
            .with_context(|| format!("{name}: updated, but cannot truncate to {len} bytes"))?;
    }
    Ok(())
}
