//! The work for one module: extract its tables, lay out its sections, embed them in place.

use std::path::Path;

use anyhow::{Context, Result};
use kbuild_lineinfo::emit::ko::{AnchorReloc, NewSection};
use kbuild_lineinfo::extract::{self, Module, SectionTable, Stats};
use kbuild_lineinfo::layout::sections::{self, Blob, LoaderConfig};
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

/// What to embed in a module for `layout`, the module's figures (with the section figures and
/// `uncovered_entries` set), and what to tell the user (FORMAT.md §4.2, §4.3, §6).
pub fn prepare(
    module: &Module,
    layout: Layout,
    config: LoaderConfig,
) -> Result<(Vec<NewSection>, Stats, Vec<String>)> {
    let mut stats = module.stats;
    stats.code_sections = module.sections.len() as u64;
    stats.code_bytes = module.sections.iter().map(|s| s.section.size).sum();
    let mut warnings = Vec::new();
    let (new, covered): (Vec<NewSection>, Vec<&SectionTable>) = match layout {
        Layout::V1 => {
            let plan = sections::v1_sections(module, config);
            warnings.extend(plan.warning());
            let new = match sections::v1_table(&plan)? {
                Some(table) => {
                    let encoded = encode::encode(&table, Layout::V1);
                    vec![NewSection {
                        name: ".mod_lineinfo".into(),
                        data: layout::v1::module_blob(&encoded, module.endian),
                        align: 8,
                        flags: alloc_flags(),
                        relocations: Vec::new(),
                    }]
                }
                None => Vec::new(),
            };
            (new, plan.placed.iter().map(|(s, _)| *s).collect())
        }
        Layout::V7 => {
            let mut new = Vec::new();
            let mut covered = Vec::new();
            for blob in [Blob::Persistent, Blob::Init] {
                let present = sections::v7_sections(module, blob, config);
                new.extend(v7_blob(module, blob.section_name(), &present)?);
                covered.extend(present);
            }
            (new, covered)
        }
    };
    stats.covered_sections = covered.len() as u64;
    stats.covered_bytes = covered.iter().map(|s| s.section.size).sum();
    let covered_entries: u64 = covered.iter().map(|s| s.table.entries.len() as u64).sum();
    let all_entries: u64 = module
        .sections
        .iter()
        .map(|s| s.table.entries.len() as u64)
        .sum();
    stats.uncovered_entries = all_entries - covered_entries;
    Ok((new, stats, warnings))
}

fn alloc_flags() -> u64 {
    u64::from(object::elf::SHF_ALLOC.0 as u32)
}

/// The v7 blob `name` over `present` (in descriptor order, each with entries), with one file
/// table shared by its sub-tables; `None` when there is none.
fn v7_blob(module: &Module, name: &str, present: &[&SectionTable]) -> Result<Option<NewSection>> {
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

/// Extracts, encodes and embeds the tables of the module at `path`, in place; also returns what
/// the user should be told about it.
pub fn process(
    path: &Path,
    options: &extract::Options,
    layout: Layout,
    config: LoaderConfig,
) -> Result<(Done, Vec<String>)> {
    let (sections, stats, warnings) = {
        let data = crate::mmap::map(path)?;
        let module = extract::module(&data, options).with_context(|| path.display().to_string())?;
        let Some(module) = module else {
            return Ok((Done::NoDebugInfo, Vec::new()));
        };
        prepare(&module, layout, config).with_context(|| path.display().to_string())?
    };
    let done = match embed::embed_file(path, &sections, &OWNED_SECTIONS)? {
        Outcome::Unchanged => Done::Unchanged(stats),
        Outcome::Updated => Done::Updated(stats),
    };
    Ok((done, warnings))
}
