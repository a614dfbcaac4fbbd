//! The tables a built image carries, read back for lookups the way the kernel reads them:
//! a vmlinux's linked tables (or a table object from [`crate::emit`]), and a module's
//! `.mod_lineinfo` / `.init.mod_lineinfo` with each v7 descriptor tied to the section its anchor
//! relocation names (what the module loader fills in at run time).
//!
//! Lookups here are in section terms (section index, offset in it), so they need no load
//! address; the kernel's rules of docs/format.md §5 (descriptor ranges, the symbol-start guard)
//! are applied on those offsets. Pure: bytes in, answers out.

use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};

use crate::decode::{Found, TableView};
use crate::emit::ko::NewSection;
use crate::error::{Error, ErrorKind, Result};
use crate::input::Input;
use crate::layout::sections::Blob;
use crate::layout::{self, v7};
use crate::loader::{is_init_layout_section, LoaderConfig, TextMemory};
use crate::vocab::{Endian, Layout};

/// The vmlinux tables of `file` (an image or a table object), whichever layout they are in.
/// `None` when the symbols are missing or inconsistent.
pub fn vmlinux_view<'a>(file: &object::File<'a>) -> Option<TableView<'a>> {
    let endian = if file.is_little_endian() {
        Endian::Little
    } else {
        Endian::Big
    };
    // Every name either layout reads, found in one walk of the symbol table.
    let names = vmlinux_names();
    let data = crate::image::symbols_data(file, &names);
    let get = |name: &str| names.iter().position(|&n| n == name).and_then(|i| data[i]);
    vmlinux_view_at(get, endian)
}

/// The names of the symbols the vmlinux tables of either layout are read through, each once.
pub(crate) fn vmlinux_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = layout::v7::VMLINUX_SYMBOLS
        .iter()
        .chain(&layout::v1::VMLINUX_SYMBOLS)
        .copied()
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The vmlinux tables whose `lineinfo_*` symbols `get` finds (the bytes from the symbol to the
/// end of what holds it: a section, or an image's loaded range), whichever layout they are in
/// (v7 has `lineinfo_data_size`). `None` when the symbols are missing or inconsistent.
pub fn vmlinux_view_at<'a>(
    get: impl Fn(&str) -> Option<&'a [u8]>,
    endian: Endian,
) -> Option<TableView<'a>> {
    if get("lineinfo_data_size").is_some() {
        layout::v7::vmlinux_view(get, endian)
    } else {
        layout::v1::vmlinux_view(get, endian)
    }
}

/// The lineinfo tables of one module.
#[derive(Debug)]
pub enum ModuleTables<'a> {
    /// v1: one table over the module's text memory; `text` holds (section index, offset in
    /// text memory) of every section the loader puts there at a known offset, `init` the
    /// indices of the sections it puts in init memory instead.
    V1 {
        text: TextMemory,
        init: Vec<usize>,
        view: TableView<'a>,
    },
    /// v7: the descriptors of `.mod_lineinfo`, then of `.init.mod_lineinfo`, in blob order.
    V7(Vec<SectionTable<'a>>),
}

/// Why a module's tables do not cover a place in one of its code sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uncovered {
    /// v1: the loader puts the section in init memory; v1 tables cover core text memory only.
    InitMemory,
    /// v1: the section comes after one whose size only the loader knows (`what`), so its
    /// offset in text memory is unknown at build time.
    AfterBlocker(String),
    /// v1: the loader does not put the section in text memory.
    NotInTextMemory,
    /// v7: no descriptor names the section (it had no rows when the tables were made).
    NoDescriptor,
    /// v7: the offset lies past the size of the section's descriptor.
    PastDescriptor { size: u32 },
}

/// One v7 descriptor.
#[derive(Debug)]
pub struct SectionTable<'a> {
    /// The section the anchor relocation names; `None` when it has none (the kernel sees an
    /// anchor of 0 and skips the descriptor).
    pub section: Option<usize>,
    /// The descriptor's size: offsets at or past it are not covered.
    pub size: u32,
    /// The sub-table, `None` when it fails the kernel's checks.
    pub table: Option<TableView<'a>>,
}

impl<'a> ModuleTables<'a> {
    /// The tables of a module; `Ok(None)` when it carries none. v7 when there is an init blob
    /// or the blob has relocations (its anchors), else v1, whose offsets count from the start
    /// of the module's text memory as the loader lays it out under `config`
    /// ([`crate::loader::module_text_memory`]).
    ///
    /// Each v7 anchor relocation is checked as it is applied: one that lies outside a
    /// descriptor's anchor field, or names no section, is an error naming the blob and the
    /// relocation, as is a v1 blob the v1 kernel would reject.
    pub fn read(input: &Input<'a>, config: LoaderConfig) -> Result<Option<ModuleTables<'a>>> {
        let file = input.file();
        let endian = input.endian();
        let blobs: Vec<_> = layout::MODULE_SECTIONS
            .iter()
            .filter_map(|n| file.section_by_name(n))
            .collect();
        let Some(first) = blobs.first() else {
            return Ok(None);
        };
        let v7 = blobs.len() > 1
            || first.name() == Ok(Blob::Init.section_name())
            || first.relocations().next().is_some();
        if !v7 {
            let name = layout::v1::MODULE_SECTION;
            if file.section_by_name(".text").is_none() {
                return Err(ErrorKind::Elf(format!("a v1 {name} but no .text")).into());
            }
            let view = layout::v1::parse_module_blob(first.data()?, endian).ok_or_else(|| {
                Error::from(ErrorKind::Invalid("not a valid v1 blob".into())).at(name)
            })?;
            let init = crate::loader::load_sections(input)
                .into_iter()
                .filter(|s| is_init_layout_section(&s.name, input.e_machine(), config))
                .map(|s| s.index)
                .collect();
            return Ok(Some(ModuleTables::V1 {
                text: crate::loader::module_text_memory(input, config),
                init,
                view,
            }));
        }
        let mut tables = Vec::new();
        for blob in blobs {
            let name = blob.name().unwrap_or("?");
            let bytes = blob.data().map_err(|e| Error::from(e).at(name))?;
            let descriptors = v7::parse_module_blob(bytes, endian);
            let anchors = anchor_sections(file, &blob, bytes.len(), descriptors.len())
                .map_err(|e| e.at(name))?;
            tie(descriptors, &anchors, &mut tables);
        }
        Ok(Some(ModuleTables::V7(tables)))
    }

    /// The v7 tables of `built`, the sections [`layout::module_sections`] made for the module
    /// `input` and that were not embedded (tables built in memory): each anchor is tied to the
    /// section of `input` it names, checked as [`read`](Self::read) checks an embedded blob's
    /// relocations. `Ok(None)` when `built` holds no blob.
    pub fn built(input: &Input<'a>, built: &'a [NewSection]) -> Result<Option<ModuleTables<'a>>> {
        let invalid = |m: String| Error::from(ErrorKind::Invalid(m));
        let mut tables = Vec::new();
        let blobs = built
            .iter()
            .filter(|s| layout::MODULE_SECTIONS.contains(&&*s.name));
        for blob in blobs {
            let descriptors = v7::parse_module_blob(&blob.data, input.endian());
            let anchors = blob
                .relocations
                .iter()
                .map(|r| {
                    let (len, count) = (blob.data.len(), descriptors.len());
                    let index = v7::anchor_descriptor(r.offset, u64::from(r.size), len, count)
                        .map_err(invalid)?;
                    let mut named = input
                        .file()
                        .sections()
                        .filter(|s| s.name_bytes() == Ok(r.target_section.as_bytes()));
                    match (named.next(), named.next()) {
                        (Some(s), None) => Ok((index, s.index().0)),
                        _ => Err(invalid(format!(
                            "the anchor at {:#x} names {}, not one section of the module",
                            r.offset, r.target_section
                        ))),
                    }
                })
                .collect::<Result<Vec<_>>>()
                .map_err(|e| e.at(blob.name.clone()))?;
            tie(descriptors, &anchors, &mut tables);
        }
        Ok((!tables.is_empty()).then_some(ModuleTables::V7(tables)))
    }

    pub fn layout(&self) -> Layout {
        match self {
            ModuleTables::V1 { .. } => Layout::V1,
            ModuleTables::V7(_) => Layout::V7,
        }
    }

    /// Whether the tables hold no entry at all (all counts 0).
    pub fn is_empty(&self) -> bool {
        match self {
            ModuleTables::V1 { view, .. } => view.num_entries == 0,
            ModuleTables::V7(tables) => tables
                .iter()
                .all(|t| t.table.is_none_or(|t| t.num_entries == 0)),
        }
    }

    /// Why [`lookup`](Self::lookup) cannot answer for `offset` in `section` whatever the
    /// entries say: the layout does not cover that place. `Ok` when it does.
    pub fn covers(&self, section: usize, offset: u64) -> std::result::Result<(), Uncovered> {
        match self {
            ModuleTables::V1 { text, init, .. } => match text.offset_of(section) {
                Some(_) => Ok(()),
                None if init.contains(&section) => Err(Uncovered::InitMemory),
                None => Err(match &text.blocker {
                    Some(b) => Uncovered::AfterBlocker(b.what.clone()),
                    None => Uncovered::NotInTextMemory,
                }),
            },
            ModuleTables::V7(tables) => {
                let mut of_section = tables.iter().filter(|t| t.section == Some(section));
                let Some(first) = of_section.next() else {
                    return Err(Uncovered::NoDescriptor);
                };
                if offset < u64::from(first.size) || of_section.any(|t| offset < u64::from(t.size))
                {
                    Ok(())
                } else {
                    Err(Uncovered::PastDescriptor { size: first.size })
                }
            }
        }
    }

    /// What the kernel finds at `offset` in `section` for a symbol starting at `guard` in the
    /// same section (the symbol-start guard; the caller passes the start the kernel compares
    /// with). v1 covers the sections placed in text memory, at their offset there; v7 takes the
    /// first descriptor of that section whose size covers `offset`.
    pub fn lookup(&self, section: usize, offset: u64, guard: u64) -> Option<Found<'a>> {
        let (view, base) = self.locate(section, offset)?;
        let at = u32::try_from(base.checked_add(offset)?).ok()?;
        // A guard past the offset guards nothing (0: the whole table).
        let min = match guard <= offset {
            true => u32::try_from(base + guard).ok()?,
            false => 0,
        };
        view.lookup_guarded(at, min)
    }

    /// [`TableView::hole_at`] for `offset` of code section `section` (unguarded; the hole's
    /// offset is in the table's terms).
    pub fn hole_at(&self, section: usize, offset: u64) -> Option<u32> {
        let (view, base) = self.locate(section, offset)?;
        view.hole_at(u32::try_from(base.checked_add(offset)?).ok()?)
    }

    /// The table that holds `offset` of `section`, and what to add to a section offset to get
    /// the table's: v1, the section's place in text memory; v7, 0 in the first descriptor of
    /// that section whose size covers `offset`.
    fn locate(&self, section: usize, offset: u64) -> Option<(&TableView<'a>, u64)> {
        match self {
            ModuleTables::V1 { text, view, .. } => Some((view, text.offset_of(section)?)),
            ModuleTables::V7(tables) => {
                let t = tables
                    .iter()
                    .find(|t| t.section == Some(section) && offset < u64::from(t.size))?;
                Some((t.table.as_ref()?, 0))
            }
        }
    }
}

/// Each of a blob's `descriptors`, tied to the section its anchor names (`anchors`:
/// descriptor index, section index), appended to `tables`.
fn tie<'a>(
    descriptors: Vec<(v7::Descriptor, Option<TableView<'a>>)>,
    anchors: &[(usize, usize)],
    tables: &mut Vec<SectionTable<'a>>,
) {
    for (i, (d, table)) in descriptors.into_iter().enumerate() {
        let section = anchors.iter().find(|(at, _)| *at == i).map(|&(_, s)| s);
        tables.push(SectionTable {
            section,
            size: d.size,
            table,
        });
    }
}

/// (descriptor index, section index) for each anchor relocation of `blob` (`len` bytes,
/// `count` descriptors): what the loader's relocation pass writes, checked as
/// [`v7::anchor_descriptor`] says.
fn anchor_sections(
    file: &object::File<'_>,
    blob: &object::Section<'_, '_>,
    len: usize,
    count: usize,
) -> Result<Vec<(usize, usize)>> {
    let invalid = |m: String| Error::from(ErrorKind::Invalid(m));
    blob.relocations()
        .map(|(offset, reloc)| {
            let width = u64::from(reloc.size() / 8).max(1);
            let index = v7::anchor_descriptor(offset, width, len, count).map_err(invalid)?;
            let section = match reloc.target() {
                RelocationTarget::Symbol(s) => file.symbol_by_index(s)?.section_index(),
                RelocationTarget::Section(s) => Some(s),
                _ => None,
            };
            let section = section
                .ok_or_else(|| invalid(format!("relocation at {offset:#x} names no section")))?;
            Ok((index, section.0))
        })
        .collect()
}
