//! Byte layouts of the tables (FORMAT.md §4): where the arrays of an
//! [`EncodedTable`] go, for vmlinux and for modules.
//!
//! Each layout file holds both directions for its posting: writers that produce bytes and
//! symbol lists, and readers that find the arrays again and hand them to
//! [`crate::decode::TableView`]. They share only the definitions here: [`Item`] and the
//! byte-order helpers, which never panic (readers return `None` past the end of a slice).
//!
//! The functions here are the one place that dispatches on [`Layout`]: what a vmlinux and a
//! module carry in each layout ([`vmlinux_items`], [`module_sections`]) and which sections of a
//! module any layout owns ([`MODULE_SECTIONS`]). A caller chooses a layout and never needs to
//! know what it means.

pub mod sections;
pub mod v1;
pub mod v7;

use crate::emit::ko::NewSection;
use crate::encode::{encode, EncodedTable};
use crate::error::{ErrorKind, Result};
use crate::extract::{Module, SectionTable, Stats};
use crate::{Endian, Layout};
use sections::{Blob, LoaderConfig};

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
/// (FORMAT.md §4.2, §4.3, §6). Errors name the blob or section that does not fit.
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

/// One global symbol of the vmlinux tables, in `.rodata` link order.
///
/// `align` is the alignment the symbol needs (4 for u32 values and arrays, 1 for byte arrays);
/// `bytes` are in the target's byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub symbol: &'static str,
    pub align: u32,
    pub bytes: Vec<u8>,
}

impl Item {
    /// A single u32 value, aligned 4.
    pub(crate) fn u32(symbol: &'static str, v: u32, endian: Endian) -> Item {
        Item {
            symbol,
            align: 4,
            bytes: u32_bytes(v, endian).to_vec(),
        }
    }

    /// An array of u32, aligned 4.
    pub(crate) fn u32s(symbol: &'static str, vs: &[u32], endian: Endian) -> Item {
        let mut bytes = Vec::with_capacity(4 * vs.len());
        put_u32s(&mut bytes, vs, endian);
        Item {
            symbol,
            align: 4,
            bytes,
        }
    }

    /// A byte array, not aligned.
    pub(crate) fn bytes(symbol: &'static str, bytes: &[u8]) -> Item {
        Item {
            symbol,
            align: 1,
            bytes: bytes.to_vec(),
        }
    }
}

/// `v` in the target's byte order.
pub(crate) fn u32_bytes(v: u32, endian: Endian) -> [u8; 4] {
    if endian == Endian::Big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// Appends `v` in the target's byte order.
pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32, endian: Endian) {
    out.extend_from_slice(&u32_bytes(v, endian));
}

/// Appends every value of `vs` in the target's byte order.
pub(crate) fn put_u32s(out: &mut Vec<u8>, vs: &[u32], endian: Endian) {
    out.reserve(4 * vs.len());
    for &v in vs {
        put_u32(out, v, endian);
    }
}

/// Appends zero bytes until `out.len()` is a multiple of 4.
pub(crate) fn pad_to_4(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}

/// The u32 at byte offset `at` of `bytes`, or `None` if it does not fit.
pub(crate) fn read_u32(bytes: &[u8], at: usize, endian: Endian) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if endian == Endian::Big {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    })
}

/// The u64 at byte offset `at` of `bytes`, or `None` if it does not fit.
pub(crate) fn read_u64(bytes: &[u8], at: usize, endian: Endian) -> Option<u64> {
    let raw: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if endian == Endian::Big {
        u64::from_be_bytes(raw)
    } else {
        u64::from_le_bytes(raw)
    })
}

/// `len` bytes of `bytes` from `at`, or `None` if they do not fit (any `u32` inputs accepted).
pub(crate) fn slice(bytes: &[u8], at: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(at).ok()?;
    let end = usize::try_from(at.checked_add(len)?).ok()?;
    bytes.get(start..end)
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
    fn byte_order() {
        assert_eq!(u32_bytes(0x0102_0304, Endian::Little), [4, 3, 2, 1]);
        assert_eq!(u32_bytes(0x0102_0304, Endian::Big), [1, 2, 3, 4]);
        let bytes = [9, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(read_u32(&bytes, 1, Endian::Big), Some(0x0102_0304));
        assert_eq!(read_u32(&bytes, 1, Endian::Little), Some(0x0403_0201));
        assert_eq!(
            read_u64(&bytes, 1, Endian::Big),
            Some(0x0102_0304_0506_0708)
        );
        assert_eq!(
            read_u64(&bytes, 1, Endian::Little),
            Some(0x0807_0605_0403_0201)
        );
    }

    #[test]
    fn reads_past_the_end_miss() {
        let bytes = [0u8; 8];
        assert_eq!(read_u32(&bytes, 5, Endian::Little), None);
        assert_eq!(read_u32(&bytes, usize::MAX - 1, Endian::Little), None);
        assert_eq!(read_u64(&bytes, 1, Endian::Little), None);
        assert_eq!(slice(&bytes, 4, 5), None);
        assert_eq!(slice(&bytes, u64::MAX, 2), None);
        assert_eq!(slice(&bytes, 8, 0), Some(&[][..]));
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

    #[test]
    fn padding() {
        let mut out = vec![1, 2, 3, 4, 5];
        pad_to_4(&mut out);
        assert_eq!(out, [1, 2, 3, 4, 5, 0, 0, 0]);
        pad_to_4(&mut out);
        assert_eq!(out.len(), 8, "aligned stays put");
    }
}
