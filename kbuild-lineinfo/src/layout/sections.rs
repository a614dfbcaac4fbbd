//! Which code sections of a module each layout covers: in which blob (v7, docs/format.md §4.3), and
//! at which offset of the module's text memory (v1, docs/format.md §4.2 and §6), by the loader's
//! rules of [`crate::loader`].

use object::elf::Machine;

use crate::error::{ErrorKind, Result};
use crate::extract::{Module, SectionTable};
use crate::loader::{is_init_layout_section, text_memory, Blocker, LoaderConfig};
use crate::table::{self, Entry, LineTable};

/// The two v7 blobs (docs/format.md §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blob {
    /// `.mod_lineinfo`: persistent text.
    Persistent,
    /// `.init.mod_lineinfo`: init text, freed with it.
    Init,
}

impl Blob {
    pub const fn section_name(self) -> &'static str {
        match self {
            Blob::Persistent => ".mod_lineinfo",
            Blob::Init => ".init.mod_lineinfo",
        }
    }
}

/// Code the alternatives patcher copies into `.text`: it never runs in place.
pub const NEVER_RUNS_IN_PLACE: [&str; 1] = [".altinstr_replacement"];

/// The v7 blob that covers code section `name`, `None` when no blob does.
pub fn v7_blob(name: &str, e_machine: Machine, config: LoaderConfig) -> Option<Blob> {
    if NEVER_RUNS_IN_PLACE.contains(&name) {
        return None;
    }
    Some(if is_init_layout_section(name, e_machine, config) {
        Blob::Init
    } else {
        Blob::Persistent
    })
}

/// The sections of `module` (with entries) that v7 blob `blob` covers, in descriptor order:
/// `.text` first, then section-header order (docs/format.md §4.3).
pub fn v7_sections(module: &Module, blob: Blob, config: LoaderConfig) -> Vec<&SectionTable> {
    let e_machine = module.e_machine;
    let mut out: Vec<&SectionTable> = module
        .sections
        .iter()
        .filter(|s| v7_blob(&s.section.name, e_machine, config) == Some(blob))
        .collect();
    // A stable sort: `.text` to the front, the rest keeps header order.
    out.sort_by_key(|s| s.section.name != ".text");
    out
}

/// The v1 table of a module: its code sections of core text memory, placed as the loader
/// places them (docs/format.md §4.2, §6).
#[derive(Debug)]
pub struct V1Plan<'a> {
    /// Sections with entries and their text-memory offsets, in address order.
    pub placed: Vec<(&'a SectionTable, u64)>,
    /// Sections with entries of core text memory left out because a section whose size only
    /// the loader knows precedes them, and that section.
    pub left_out: Vec<&'a SectionTable>,
    pub blocker: Option<Blocker>,
}

impl V1Plan<'_> {
    /// One line for the user when sections with lines are left out, naming the blocker.
    pub fn warning(&self) -> Option<String> {
        let blocker = self.blocker.as_ref()?;
        let first = self.left_out.first()?;
        let more = match self.left_out.len() {
            1 => String::new(),
            n => format!(" and {} more code sections", n - 1),
        };
        Some(format!(
            "layout v1: {} is sized by the module loader at load time and comes before `{}`{more} \
             in text memory, so their lines cannot be placed and are left out; layout v7 has no \
             such limit",
            blocker.what, first.section.name
        ))
    }
}

/// Which sections of `module` a v1 table covers and where (see [`text_memory`]).
pub fn v1_sections(module: &Module, config: LoaderConfig) -> V1Plan<'_> {
    let memory = text_memory(
        &module.load_sections,
        module.e_machine,
        config,
        module.loader_prefix.as_deref(),
    );
    let mut placed: Vec<(&SectionTable, u64)> = Vec::new();
    let mut left_out = Vec::new();
    for s in &module.sections {
        if NEVER_RUNS_IN_PLACE.contains(&s.section.name.as_str())
            || is_init_layout_section(&s.section.name, module.e_machine, config)
        {
            continue;
        }
        match memory.offset_of(s.section.index) {
            Some(offset) => placed.push((s, offset)),
            None if memory.blocker.is_some() => left_out.push(s),
            None => {}
        }
    }
    placed.sort_by_key(|&(_, offset)| offset);
    V1Plan {
        placed,
        left_out,
        blocker: memory.blocker,
    }
}

/// The one v1 table over `plan`'s sections: each section's entries moved to its text-memory
/// offset, one file table (ids by first use in address order). `None` when no entry is left;
/// an error when an offset does not fit in u32 or there are too many names.
pub fn v1_table(plan: &V1Plan<'_>) -> Result<Option<LineTable>> {
    let tables: Vec<&LineTable> = plan.placed.iter().map(|(s, _)| &s.table).collect();
    if tables.iter().all(|t| t.entries.is_empty()) {
        return Ok(None);
    }
    let shared = table::share_files(&tables)?;
    let mut out = LineTable::default();
    out.entries
        .reserve(shared.iter().map(|t| t.entries.len()).sum::<usize>());
    for ((section, base), table) in plan.placed.iter().zip(shared) {
        for e in table.entries {
            let offset = u64::from(e.offset) + base;
            let offset = u32::try_from(offset).map_err(|_| {
                ErrorKind::Invalid(format!(
                    "`{}` at text-memory offset {base:#x}: entry offset {offset:#x} does not fit                      in u32",
                    section.section.name
                ))
            })?;
            // Sections never overlap, and `placed` is in address order.
            if out.entries.last().is_some_and(|l| l.offset >= offset) {
                continue;
            }
            out.entries.push(Entry { offset, ..e });
        }
        out.files = table.files;
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::elf::*;

    #[test]
    fn init_and_exit_follow_the_loader() {
        let unload = LoaderConfig::default();
        let no_unload = LoaderConfig {
            module_unload: false,
        };
        let x86 = EM_X86_64;
        assert_eq!(v7_blob(".text", x86, unload), Some(Blob::Persistent));
        assert_eq!(
            v7_blob(".text.unlikely", x86, unload),
            Some(Blob::Persistent)
        );
        assert_eq!(v7_blob(".init.text", x86, unload), Some(Blob::Init));
        assert_eq!(
            v7_blob(".init.text.ftrace_trampoline", x86, unload),
            Some(Blob::Init)
        );
        assert_eq!(v7_blob(".exit.text", x86, unload), Some(Blob::Persistent));
        assert_eq!(v7_blob(".exit.text", x86, no_unload), Some(Blob::Init));
        assert_eq!(v7_blob(".altinstr_replacement", x86, unload), None);
        assert_eq!(
            v7_blob(".init.text", EM_PPC64, unload),
            Some(Blob::Persistent)
        );
        assert_eq!(
            v7_blob(".ARM.exidx.exit.text", EM_ARM, no_unload),
            Some(Blob::Init)
        );
        assert_eq!(
            v7_blob(".ARM.exidx.exit.text", x86, no_unload),
            Some(Blob::Persistent)
        );
    }
}
