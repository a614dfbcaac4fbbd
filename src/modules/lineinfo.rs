//! The work for one module: extract its tables, lay out its sections, embed them in place.

use std::path::Path;

use anyhow::{Context, Result};
use kbuild_lineinfo::emit::ko::{AnchorReloc, NewSection};
use kbuild_lineinfo::extract::{self, Module, SectionTable, Stats};
use kbuild_lineinfo::layout::v7::{self, CoveredSection};
use kbuild_lineinfo::{encode, layout, table, Layout};

use super::embed::{self, Outcome};

/// Sections this tool owns in a `.ko`: any of them is replaced, never duplicated.
pub const OWNED_SECTIONS: [&str; 2] = [".mod_lineinfo", ".init.mod_lineinfo"];

/// What happened to one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// The module has no DWARF line information: left alone.
    NoDebugInfo,
    /// The module already carried exactly these sections: not rewritten.
    Unchanged(Stats),
    /// The module was rewritten with new sections.
    Updated(Stats),
}

/// The code sections `layout` covers in a module (FORMAT.md §4.2, §4.3).
pub fn covered(layout: Layout) -> &'static [&'static str] {
    match layout {
        Layout::V1 => &[".text"],
        Layout::V7 => &v7::COVERED,
    }
}

/// The sections of `layout` for a module's tables, and the module's figures with
/// `uncovered_entries` set (entries of code sections the layout leaves out).
pub fn prepare(module: &Module, layout: Layout) -> Result<(Vec<NewSection>, Stats)> {
    let sections = sections_for(module, layout)?;
    let covered = covered(layout);
    let uncovered = module
        .sections
        .iter()
        .filter(|s| !covered.contains(&s.section.name.as_str()))
        .map(|s| s.table.entries.len() as u64)
        .sum();
    Ok((
        sections,
        Stats {
            uncovered_entries: uncovered,
            ..module.stats
        },
    ))
}

/// The sections of `layout` for a module's tables (FORMAT.md §4.2, §4.3).
pub fn sections_for(module: &Module, layout: Layout) -> Result<Vec<NewSection>> {
    match layout {
        Layout::V1 => {
            let Some(text) = module.section(".text") else {
                return Ok(Vec::new());
            };
            let encoded = encode::encode(&text.table, Layout::V1);
            Ok(vec![NewSection {
                name: ".mod_lineinfo".into(),
                data: layout::v1::module_blob(&encoded, module.endian),
                align: 8,
                flags: alloc_flags(),
                relocations: Vec::new(),
            }])
        }
        Layout::V7 => {
            let persistent = v7_blob(module, ".mod_lineinfo", &v7::COVERED_PERSISTENT)?;
            let init = v7_blob(module, ".init.mod_lineinfo", &v7::COVERED_INIT)?;
            Ok(persistent.into_iter().chain(init).collect())
        }
    }
}

fn alloc_flags() -> u64 {
    u64::from(object::elf::SHF_ALLOC.0 as u32)
}

/// The v7 blob `name` over the sections `covered` (in blob order) that have entries, with one
/// file table shared by its sub-tables; `None` when none of them has entries.
fn v7_blob(module: &Module, name: &str, covered: &[&str]) -> Result<Option<NewSection>> {
    let present: Vec<&SectionTable> = covered.iter().filter_map(|n| module.section(n)).collect();
    if present.is_empty() {
        return Ok(None);
    }
    let tables: Vec<_> = present.iter().map(|s| &s.table).collect();
    let shared = table::share_files(&tables).with_context(|| name.to_string())?;
    let encoded: Vec<_> = shared
        .iter()
        .map(|t| encode::encode(t, Layout::V7))
        .collect();
    let mut sections = Vec::with_capacity(present.len());
    for (s, table) in present.iter().zip(&encoded) {
        let size = u32::try_from(s.section.size).with_context(|| {
            format!(
                "{}: {} bytes do not fit a v7 descriptor (u32)",
                s.section.name, s.section.size
            )
        })?;
        sections.push(CoveredSection {
            name: &s.section.name,
            size,
            table,
        });
    }
    let Some(blob) = v7::module_blob(&sections, module.endian, module.is_64) else {
        anyhow::bail!("{name}: the blob would exceed 4 GiB");
    };
    let relocations = blob
        .anchors
        .into_iter()
        .map(|a| AnchorReloc {
            offset: a.offset,
            size: a.size,
            target_section: a.section,
        })
        .collect();
    Ok(Some(NewSection {
        name: name.into(),
        data: blob.bytes,
        align: 8,
        flags: alloc_flags(),
        relocations,
    }))
}

/// Extracts, encodes and embeds the tables of the module at `path`, in place.
pub fn process(path: &Path, options: &extract::Options, layout: Layout) -> Result<Done> {
    let (sections, stats) = {
        let data = crate::mmap::map(path)?;
        let module = extract::module(&data, options).with_context(|| path.display().to_string())?;
        let Some(module) = module else {
            return Ok(Done::NoDebugInfo);
        };
        prepare(&module, layout).with_context(|| path.display().to_string())?
    };
    match embed::embed_file(path, &sections, &OWNED_SECTIONS)? {
        Outcome::Unchanged => Ok(Done::Unchanged(stats)),
        Outcome::Updated => Ok(Done::Updated(stats)),
    }
}
