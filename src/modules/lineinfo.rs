//! The work for one module: extract its tables, lay out its sections, embed them in place.

use std::path::Path;

use anyhow::{Context, Result};
use kbuild_lineinfo::emit::ko::NewSection;
use kbuild_lineinfo::extract::{self, Module, Stats};
use kbuild_lineinfo::{encode, layout, Layout};

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

/// The sections of `layout` for a module's tables (FORMAT.md §4.2, §4.3).
pub fn sections_for(module: &Module, layout: Layout) -> Result<Vec<NewSection>> {
    let flags = u64::from(object::elf::SHF_ALLOC.0 as u32);
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
                flags,
                relocations: Vec::new(),
            }])
        }
        Layout::V7 => anyhow::bail!("layout v7 for modules is not supported yet"),
    }
}

/// Extracts, encodes and embeds the tables of the module at `path`, in place.
pub fn process(path: &Path, options: &extract::Options, layout: Layout) -> Result<Done> {
    let (sections, stats) = {
        let data = crate::mmap::map(path)?;
        let module = extract::module(&data, options).with_context(|| path.display().to_string())?;
        let Some(module) = module else {
            return Ok(Done::NoDebugInfo);
        };
        let sections = sections_for(&module, layout).with_context(|| path.display().to_string())?;
        (sections, module.stats)
    };
    match embed::embed_file(path, &sections, &OWNED_SECTIONS)? {
        Outcome::Unchanged => Ok(Done::Unchanged(stats)),
        Outcome::Updated => Ok(Done::Updated(stats)),
    }
}
