//! Wiring the tool into a kernel source tree that carries the `CONFIG_KALLSYMS_LINEINFO`
//! series, and undoing it exactly.
//!
//! [`install`] rewrites the series' hooks ([`hooks`]) to call kbuild-lineinfo, keeping the
//! originals and a [`manifest`]; [`uninstall`] puts the originals back byte for byte. Installing
//! twice is installing once: the rewrite always starts from the kept originals. A tree without
//! the series is refused with what is missing and the offline path ([`OFFLINE`]).

pub mod hooks;
pub mod manifest;
pub mod tree;

use camino::Utf8Path;
use std::fmt::Write as _;
use std::fs;

use anyhow::{bail, Context, Result};
use kbuild_lineinfo::Layout;

use hooks::{Invocation, HOOKS, SERIES_FILES};
use manifest::{FileRecord, Manifest};

/// What a tree without the series can do instead.
pub const OFFLINE: &str = "\
Without the series, build as usual and run the step afterwards (make/lineinfo.mk does this):
  make O=OBJ vmlinux modules
  kbuild-lineinfo modules --objtree OBJ --vmlinux OBJ/vmlinux -o OBJ/lineinfo.o --force
This embeds .mod_lineinfo in every module and writes the vmlinux table object; check them with
  kbuild-lineinfo lookup --module OBJ/fs/isofs/isofs.ko .text+0x10
  kbuild-lineinfo lookup --vmlinux OBJ/lineinfo.o OFFSET_FROM__text";

/// What an installation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub layout: Layout,
    /// Files rewritten, relative to the source tree.
    pub files: Vec<String>,
    /// True when the tree was already installed exactly so (nothing written).
    pub unchanged: bool,
}

/// The layout the tree's kernel reads, told by its module header.
pub fn tree_layout(srctree: &Utf8Path) -> Option<Layout> {
    tree::header_layout(srctree)
}

/// Rewrites the hooks of `srctree` to call `tool` (absolute, plain characters) with `layout`.
pub fn install(srctree: &Utf8Path, tool: &str, layout: Option<Layout>) -> Result<Installed> {
    if !hooks::is_plain_path(tool) {
        bail!("tool path `{tool}` must be made of letters, digits and / . _ + - , = @ only (it is written unquoted into shell and make code)");
    }
    let previous = manifest::read(srctree)?;
    let originals = read_originals(srctree, previous.as_ref())?;
    check_series(srctree, &originals)?;
    let layout = layout
        .or_else(|| tree_layout(srctree))
        .unwrap_or(Layout::V1);
    let invocation = Invocation {
        tool: tool.to_string(),
        layout,
    };
    let mut rewritten = Vec::new();
    for (hook, original) in HOOKS.iter().zip(&originals) {
        let Some(original) = original else { continue };
        if let Some(new) = hook.rewrite(original, &invocation) {
            rewritten.push((hook.path, original, new));
        }
    }
    if let Some(prev) = &previous {
        check_untouched(srctree, prev)?;
    }
    let manifest = Manifest {
        tool: tool.to_string(),
        layout: layout.name().to_string(),
        files: rewritten
            .iter()
            .map(|(path, _, new)| record(srctree, previous.as_ref(), path, new))
            .collect::<Result<_>>()?,
    };
    let files = rewritten.iter().map(|(p, _, _)| p.to_string()).collect();
    if previous.as_ref() == Some(&manifest) {
        return Ok(Installed {
            layout,
            files,
            unchanged: true,
        });
    }
    write_install(srctree, previous.as_ref(), &manifest, &rewritten)?;
    Ok(Installed {
        layout,
        files,
        unchanged: false,
    })
}

/// The record of `path` rewritten to `new`; the mode is the original's (kept by an earlier
/// installation, else read from the file).
fn record(
    srctree: &Utf8Path,
    previous: Option<&Manifest>,
    path: &str,
    new: &str,
) -> Result<FileRecord> {
    let mode = match previous.and_then(|p| p.files.iter().find(|f| f.path == path)) {
        Some(f) => f.mode,
        None => manifest::mode_of(&srctree.join(path))?,
    };
    Ok(FileRecord {
        path: path.to_string(),
        mode,
        installed: manifest::digest(new.as_bytes()),
    })
}

/// Each hook file as it was before any installation: the kept copy when installed, else the
/// file itself; `None` for a file the tree does not have.
fn read_originals(srctree: &Utf8Path, previous: Option<&Manifest>) -> Result<Vec<Option<String>>> {
    HOOKS
        .iter()
        .map(|hook| {
            let kept = previous.is_some_and(|m| m.files.iter().any(|f| f.path == hook.path));
            let path = if kept {
                manifest::backup_path(srctree, hook.path)
            } else {
                srctree.join(hook.path)
            };
            match fs::read(&path) {
                Ok(bytes) => String::from_utf8(bytes)
                    .map(Some)
                    .with_context(|| format!("{}: not UTF-8 text", path)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !kept => Ok(None),
                Err(e) => Err(e).with_context(|| format!("{}: cannot read", path)),
            }
        })
        .collect()
}

/// Fails, naming everything missing, unless the tree carries the series and its hooks.
fn check_series(srctree: &Utf8Path, originals: &[Option<String>]) -> Result<()> {
    if !srctree.join("Makefile").is_file() || !srctree.join("scripts").is_dir() {
        bail!(
            "{}: not a kernel source tree (no Makefile and scripts/)",
            srctree
        );
    }
    let probe = Invocation {
        tool: "/t".into(),
        layout: Layout::V1,
    };
    let mut missing: Vec<String> = SERIES_FILES
        .iter()
        .filter(|f| !srctree.join(f).is_file())
        .map(|f| f.to_string())
        .collect();
    for (hook, original) in HOOKS.iter().zip(originals) {
        match original {
            None if hook.required => missing.push(hook.path.to_string()),
            Some(text) if hook.required && hook.rewrite(text, &probe).is_none() => {
                missing.push(format!("{} in {}", hook.what, hook.path))
            }
            _ => {}
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "{}: this tree does not carry the CONFIG_KALLSYMS_LINEINFO series; missing:\n",
        srctree
    );
    for m in &missing {
        let _ = writeln!(msg, "  {m}");
    }
    msg.push_str(OFFLINE);
    bail!(msg)
}

/// Fails when a file this tool wrote has been changed since (its copy would be stale).
fn check_untouched(srctree: &Utf8Path, m: &Manifest) -> Result<()> {
    let changed = changed_files(srctree, m)?;
    if changed.is_empty() {
        return Ok(());
    }
    bail!(
        "{}: changed since kbuild-lineinfo was installed: {}; `kbuild-lineinfo kbuild uninstall --force` restores the originals",
        srctree,
        changed.join(", ")
    )
}

fn changed_files(srctree: &Utf8Path, m: &Manifest) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    for f in &m.files {
        let path = srctree.join(&f.path);
        let bytes = fs::read(&path).with_context(|| format!("{}: cannot read", path))?;
        if manifest::digest(&bytes) != f.installed {
            changed.push(f.path.clone());
        }
    }
    Ok(changed)
}

/// Copies first, then the manifest, then the rewritten files: a crash at any point leaves a
/// tree that `uninstall` restores.
fn write_install(
    srctree: &Utf8Path,
    previous: Option<&Manifest>,
    manifest: &Manifest,
    rewritten: &[(&str, &String, String)],
) -> Result<()> {
    for (path, original, _) in rewritten {
        let backup = manifest::backup_path(srctree, path);
        if !backup.exists() {
            let mode = manifest
                .files
                .iter()
                .find(|f| f.path == *path)
                .map_or(0o644, |f| f.mode);
            manifest::write_file(&backup, original.as_bytes(), mode)?;
        }
    }
    let mut merged = manifest.clone();
    // A file an earlier installation rewrote stays recorded until uninstall restores it.
    for old in previous.map(|p| p.files.as_slice()).unwrap_or_default() {
        if !merged.files.iter().any(|f| f.path == old.path) {
            merged.files.push(old.clone());
        }
    }
    manifest::write_file(
        &manifest::manifest_path(srctree),
        manifest::render(&merged).as_bytes(),
        0o644,
    )?;
    for (path, _, new) in rewritten {
        let mode = manifest
            .files
            .iter()
            .find(|f| f.path == *path)
            .map_or(0o644, |f| f.mode);
        manifest::write_file(&srctree.join(path), new.as_bytes(), mode)?;
    }
    Ok(())
}

/// What an uninstallation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uninstalled {
    NotInstalled,
    Restored(Vec<String>),
}

/// Puts back every file an installation rewrote, byte for byte with its mode, and removes the
/// record. Refuses when a rewritten file has changed since, unless `force`.
pub fn uninstall(srctree: &Utf8Path, force: bool) -> Result<Uninstalled> {
    let Some(m) = manifest::read(srctree)? else {
        return Ok(Uninstalled::NotInstalled);
    };
    if !force {
        check_untouched(srctree, &m)?;
    }
    let mut restored = Vec::new();
    for f in &m.files {
        let backup = manifest::backup_path(srctree, &f.path);
        let bytes = fs::read(&backup)
            .with_context(|| format!("{}: cannot read the kept original", backup))?;
        manifest::write_file(&srctree.join(&f.path), &bytes, f.mode)?;
        restored.push(f.path.clone());
    }
    let dir = srctree.join(manifest::DIR);
    fs::remove_dir_all(&dir).with_context(|| format!("{}: cannot remove", dir))?;
    Ok(Uninstalled::Restored(restored))
}
