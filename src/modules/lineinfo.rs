//! The work for one module: extract its tables, have the library lay them out, embed them in
//! place.

use std::path::Path;

use anyhow::{Context, Result};
use kbuild_lineinfo::extract::{self, Stats};
use kbuild_lineinfo::layout::{self, ModuleSections};
use kbuild_lineinfo::loader::LoaderConfig;
use kbuild_lineinfo::Layout;

use super::embed::{self, Outcome};

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

/// Extracts, encodes and embeds the tables of the module at `path`, in place; also returns what
/// the user should be told about it.
pub fn process(
    path: &Path,
    options: &extract::Options,
    layout: Layout,
    config: LoaderConfig,
) -> Result<(Done, Vec<String>)> {
    let ModuleSections {
        sections,
        stats,
        warnings,
    } = {
        let data = crate::mmap::map(path)?;
        let module = extract::module(&data, options).with_context(|| path.display().to_string())?;
        let Some(module) = module else {
            return Ok((Done::NoDebugInfo, Vec::new()));
        };
        layout::module_sections(&module, layout, config)
            .with_context(|| path.display().to_string())?
    };
    let done = match embed::embed_file(path, &sections, &layout::MODULE_SECTIONS)? {
        Outcome::Unchanged => Done::Unchanged(stats),
        Outcome::Updated => Done::Updated(stats),
    };
    Ok((done, warnings))
}
