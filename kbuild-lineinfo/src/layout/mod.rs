//! Byte layouts of the tables (docs/format.md §4): where the arrays of an
//! [`EncodedTable`] go, for vmlinux and for modules.
//!
//! Each layout file holds both directions for its posting: writers that produce bytes and
//! symbol lists, and readers that find the arrays again and hand them to
//! [`crate::decode::TableView`]. Writers give the emitters [`Item`]s; both directions use the
//! byte-order helpers of the private `bytes` module, which never panic (readers return `None`
//! past the end of a slice).
//!
//! The functions here are the one place that dispatches on [`Layout`]: what a vmlinux and a
//! module carry in each layout ([`vmlinux_tables`], [`module_sections`]) and which sections of a
//! module any layout owns ([`MODULE_SECTIONS`]). A caller chooses a layout and never needs to
//! know what it means.

pub(crate) mod sections;
pub mod v1;
pub mod v7;

use crate::emit::ko::NewSection;
pub use crate::emit::Item;
use crate::emit::Target;
use crate::encode::{encode, EncodedTable};
use crate::error::{ErrorKind, Result};
use crate::extract::{Module, SectionTable, Stats, Vmlinux};
use crate::loader::LoaderConfig;
use crate::vocab::{Endian, Layout};
use sections::Blob;

/// Every section a layout writes into a module (v1's blob has the name of v7's persistent
/// one): embedding replaces any of them, never duplicates one, so a module rebuilt with v1
/// after v7 loses its init blob.
pub const MODULE_SECTIONS: [&str; 2] = [Blob::Persistent.section_name(), Blob::Init.section_name()];

/// The vmlinux symbols of `layout` for `encoded` (encoded with the same layout), in `.rodata`
/// order.
pub fn vmlinux_items(encoded: &EncodedTable, layout: Layout, endian: Endian) -> Vec<Item> {
    match layout {
        Layout::V1 => v1::vmlinux_items(encoded, endian),
        Layout::V7 => v7::vmlinux_items(encoded, endian),
    }
}

/// What a vmlinux carries in one layout: the module pipeline's shape ([`module_sections`]) for
/// the image.
#[derive(Debug, Clone)]
pub struct VmlinuxTables {
    /// The symbols to emit, in `.rodata` order.
    pub items: Vec<Item>,
    /// The ELF identity an object of them copies from the image.
    pub target: Target,
    /// The image's figures.
    pub stats: Stats,
    /// What the user should be told (rows the table cannot hold), one line each.
    pub warnings: Vec<String>,
}

impl VmlinuxTables {
    /// The bytes of the tables.
    pub fn bytes(&self) -> usize {
        self.items.iter().map(|i| i.bytes.len()).sum()
    }
}

/// The tables `layout` puts in the vmlinux `image` (docs/format.md §4.1): encoded, laid out as
/// its symbols, with the target an object of them copies.
pub fn vmlinux_tables(image: &Vmlinux, layout: Layout) -> VmlinuxTables {
    let encoded = encode(&image.table, layout);
    let s = &image.stats;
    let warnings = (s.offset_overflow > 0)
        .then(|| {
            format!(
                "{} rows lie 4 GiB or more past _text and were skipped",
                s.offset_overflow
            )
        })
        .into_iter()
        .collect();
    VmlinuxTables {
        items: vmlinux_items(&encoded, layout, image.endian),
        target: image.target,
        stats: image.stats,
        warnings,
    }
}

/// The layout a kernel's `include/linux/mod_lineinfo.h` describes: v7's declares per-section
/// descriptors (with an anchor) and the init blob; v1's has neither.
pub fn of_module_header(header: &str) -> Layout {
    let init = Blob::Init.section_name().trim_start_matches('.');
    if header.contains("anchor") || header.contains(init) {
        Layout::V7
    } else {
        Layout::V1
    }
}

/// What a module carries in one layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSections {
    /// The sections to embed (none when no covered section has entries).
    pub sections: Vec<NewSection>,
    /// The module's figures, with the code and covered section figures and
    /// `uncovered_entries` set.
    pub stats: Stats,
    /// What the user should be told (lines a layout cannot place), one line each.
    pub warnings: Vec<String>,
}

/// The sections `layout` embeds in `module`, placed by the loader's rules under `config`
/// (docs/format.md §4.2, §4.3, §6). Errors name the blob or section that does not fit.
pub fn module_sections(
    module: &Module,
    layout: Layout,
    config: LoaderConfig,
) -> Result<ModuleSections> {
    let mut stats = module.stats;
    stats.code_sections = module.sections.len() as u64;
    stats.code_bytes = module.sections.iter().map(|s| s.section.size).sum();
    let mut warnings = Vec::new();
    let (sections, covered): (Vec<NewSection>, Vec<&SectionTable>) = match layout {
        Layout::V1 => {
            let plan = sections::v1_sections(module, config);
            warnings.extend(plan.warning());
            let new = sections::v1_table(&plan)?.map(|table| NewSection {
                name: v1::MODULE_SECTION.into(),
                data: v1::module_blob(&encode(&table, Layout::V1), module.endian),
                align: 8,
                flags: alloc_flags(),
                relocations: Vec::new(),
            });
            (
                new.into_iter().collect(),
                plan.placed.iter().map(|(s, _)| *s).collect(),
            )
        }
        Layout::V7 => {
            let mut new = Vec::new();
            let mut covered = Vec::new();
            for blob in [Blob::Persistent, Blob::Init] {
                let present = sections::v7_sections(module, blob, config);
                new.extend(v7_section(module, blob.section_name(), &present)?);
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
    Ok(ModuleSections {
        sections,
        stats,
        warnings,
    })
}

/// `SHF_ALLOC`: the blobs are loaded with the module.
fn alloc_flags() -> u64 {
    u64::from(object::elf::SHF_ALLOC.0 as u32)
}

/// The v7 blob `name` over `present` (in descriptor order, each with entries), with one file
/// table shared by its sub-tables and an anchor relocation per descriptor; `None` when there
/// is none.
fn v7_section(
    module: &Module,
    name: &str,
    present: &[&SectionTable],
) -> Result<Option<NewSection>> {
    if present.is_empty() {
        return Ok(None);
    }
    let tables: Vec<_> = present.iter().map(|s| &s.table).collect();
    let shared = crate::table::share_files(&tables).map_err(|e| e.at(name))?;
    let encoded: Vec<_> = shared.iter().map(|t| encode(t, Layout::V7)).collect();
    let mut covered = Vec::with_capacity(present.len());
    for (s, table) in present.iter().zip(&encoded) {
        let size = u32::try_from(s.section.size).map_err(|_| {
            ErrorKind::Invalid(format!(
                "{}: {} bytes do not fit a v7 descriptor (u32)",
                s.section.name, s.section.size
            ))
        })?;
        covered.push(v7::CoveredSection {
            name: &s.section.name,
            size,
            table,
        });
    }
    let Some(blob) = v7::module_blob(&covered, module.endian, module.is_64) else {
        let message = format!("{name}: the blob would exceed 4 GiB");
        return Err(ErrorKind::Invalid(message).into());
    };
    let anchors = blob
        .anchors
        .into_iter()
        .map(|a| (a.offset, a.size, a.section));
    Ok(Some(NewSection::with_anchors(
        name,
        blob.bytes,
        8,
        alloc_flags(),
        anchors,
    )))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Lays `items` out as a linker would in one section, each at its alignment; returns the
    /// section and where each symbol starts.
    pub(crate) fn link(items: &[Item]) -> (Vec<u8>, impl Fn(&str) -> Option<usize>) {
        let mut section = Vec::new();
        let mut symbols = Vec::new();
        for item in items {
            section.resize(section.len().next_multiple_of(item.align as usize), 0);
            symbols.push((item.symbol, section.len()));
            section.extend_from_slice(&item.bytes);
        }
        // Something else of .rodata follows, as in a real link.
        section.extend_from_slice(b"\xaa\xbb");
        let at = move |name: &str| symbols.iter().find(|(s, _)| *s == name).map(|&(_, at)| at);
        (section, at)
    }

    /// Panics unless `items` are `expect`, `(symbol, align, bytes)` in order.
    #[track_caller]
    pub(crate) fn assert_items(items: &[Item], expect: &[(&str, u32, &[u8])]) {
        assert_eq!(items.len(), expect.len());
        for (item, &(symbol, align, bytes)) in items.iter().zip(expect) {
            assert_eq!(
                (item.symbol, item.align, &item.bytes[..]),
                (symbol, align, bytes)
            );
        }
    }

    #[test]
    fn module_names() {
        assert!(MODULE_SECTIONS.contains(&v1::MODULE_SECTION));
        assert_eq!(MODULE_SECTIONS, [".mod_lineinfo", ".init.mod_lineinfo"]);
        // The headers of the series' postings, cut to what tells them apart.
        let v1 = "struct mod_lineinfo_header { u32 num_entries; u32 num_files; };\n";
        let v7 = "struct mod_lineinfo_desc { u64 anchor; u32 size; u32 table_offset; };\n";
        assert_eq!(of_module_header(v1), Layout::V1);
        assert_eq!(of_module_header(v7), Layout::V7);
        assert_eq!(of_module_header("/* .init.mod_lineinfo */"), Layout::V7);
    }
}
